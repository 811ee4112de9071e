//! `tenantry completions` and `tenantry man`: shell completion scripts and man pages, generated
//! from the clap definitions the binary parses with, so they never drift from its flags.

use std::io::{self, Write};
use std::path::Path;

use clap::CommandFactory;

use super::CliError;
use super::args::Cli;
use crate::exit;

/// `tenantry completions SHELL`: the script on standard output.
pub(super) fn completions(shell: clap_complete::Shell) -> Result<i32, CliError> {
    let mut command = Cli::command();
    // Made in memory, then written: the generator panics on a write error, and `| head`
    // closing the pipe early is not one worth a panic.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, "tenantry", &mut script);
    let mut out = io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(exit::OK)
}

/// `tenantry man [--dir DIR]`: the top page on standard output, or every page in DIR.
pub(super) fn man(dir: Option<&Path>) -> Result<i32, CliError> {
    // `help` is clap's, not a command of tenantry's: no page, and no entry on the top page.
    let command = Cli::command().disable_help_subcommand(true);
    let Some(dir) = dir else {
        let mut out = io::stdout().lock();
        clap_mangen::Man::new(command).render(&mut out)?;
        out.flush()?;
        return Ok(exit::OK);
    };
    std::fs::create_dir_all(dir).map_err(|e| {
        CliError::Output(io::Error::new(
            e.kind(),
            format!("cannot create {}: {e}", dir.display()),
        ))
    })?;
    // Not built first: a command built already would get a page per `help` entry.
    clap_mangen::generate_to(command, dir)?;
    let pages = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with("tenantry") && name.ends_with(".1")
        })
        .count();
    writeln!(
        io::stderr(),
        "{pages} man pages written to {}",
        dir.display()
    )?;
    Ok(exit::OK)
}
