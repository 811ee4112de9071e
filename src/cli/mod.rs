//! The command line: [`args`] holds the clap definitions, `commands` runs each command against
//! the library. Errors are printed once, here, and each knows its exit code ([`crate::exit`]).

pub mod args;
mod cmdlets;
mod commands;
mod shell;

use std::ffi::OsString;
use std::io::{self, Write};

use clap::Parser;

pub use args::{
    CatalogArgs, CheckArgs, Cli, CmdletsArgs, Command, Format, NotifyArgs, PlanArgs, ProgressMode,
    RunArgs, SchemaKind, SessionArgs,
};
pub use commands::{
    check_schema, plan_schema, playbook_schema, playbook_schema_with, reviewed_plan_schema,
};

use crate::exit;
use crate::plan::PlanError;
use crate::playbook::PlaybookError;

/// Runs tenantry with these arguments and returns the process exit code.
pub fn main(args: impl IntoIterator<Item = OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::INVALID_INPUT
            } else {
                exit::OK
            };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => report(&e),
    }
}

/// A failed command, with what decides its exit code.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The playbook could not be loaded.
    #[error(transparent)]
    Playbook(#[from] PlaybookError),
    /// The plan could not be made or written.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// Output could not be written.
    #[error("cannot write output: {0}")]
    Output(#[from] io::Error),
    /// The sandbox could not start.
    #[cfg(feature = "sandbox")]
    #[error("sandbox: {0}")]
    Sandbox(#[from] tenantry_sandbox::SandboxError),
    /// A run could not start or report.
    #[error("{0}")]
    Run(#[from] crate::run::RunError),
    /// `connect` could not open its sessions.
    #[error("{0}")]
    Session(#[from] crate::session::SessionError),
    /// The command line asks for something that cannot be done.
    #[error("{0}")]
    Usage(String),
    /// The `--trace` file cannot be created.
    #[error(transparent)]
    Trace(#[from] crate::trace::TraceError),
    /// The `--catalog` file cannot be used.
    #[error(transparent)]
    Catalog(#[from] crate::catalog::CatalogError),
    /// A notification's webhook URL cannot be read or is not usable.
    #[error(transparent)]
    Notify(#[from] crate::notify::NotifyError),
}

impl CliError {
    /// The process exit code this failure ends with.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Playbook(_)
            | CliError::Usage(_)
            | CliError::Catalog(_)
            | CliError::Notify(_) => exit::INVALID_INPUT,
            CliError::Plan(e) => e.exit_code(),
            CliError::Output(_) => exit::TASKS_FAILED,
            #[cfg(feature = "sandbox")]
            CliError::Sandbox(tenantry_sandbox::SandboxError::Config(_)) => exit::INVALID_INPUT,
            #[cfg(feature = "sandbox")]
            CliError::Sandbox(_) => exit::TASKS_FAILED,
            CliError::Run(e) => e.exit_code(),
            CliError::Session(e) => e.exit_code(),
            CliError::Trace(e) => e.exit_code(),
        }
    }

    /// `tenantry plan … | head` closes the pipe early; that is success, not an error.
    fn is_broken_pipe(&self) -> bool {
        match self {
            CliError::Output(io) | CliError::Plan(PlanError::Output(io)) => {
                io.kind() == io::ErrorKind::BrokenPipe
            }
            _ => false,
        }
    }
}

/// Prints `e` once, on standard error, and gives its exit code.
fn report(e: &CliError) -> i32 {
    if e.is_broken_pipe() {
        return exit::OK;
    }
    let text = e.to_string();
    let mut err = io::stderr().lock();
    // Located playbook problems end with their own newline; one-line errors get one.
    let _ = if text.ends_with('\n') {
        write!(err, "{text}")
    } else {
        writeln!(err, "{text}")
    };
    e.exit_code()
}

fn run(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Validate(args) => commands::validate(args),
        Command::Plan { args, format, out } => commands::plan(args, format, out.as_deref()),
        Command::Run(run) => commands::run(run),
        Command::Check(check) => commands::check(check),
        Command::Show { plan, format } => commands::show(&plan, format),
        Command::Connect {
            args,
            tenant,
            all: _,
            cmdlet,
            proxy,
            trace,
        } => commands::connect(args, tenant, cmdlet, proxy, trace),
        Command::Runs {
            playbook,
            state_dir,
        } => commands::runs(playbook, state_dir),
        Command::Report {
            playbook,
            run,
            merge,
            report,
            state_dir,
        } => match playbook {
            Some(playbook) if merge.is_empty() => {
                commands::report(playbook, run, report, state_dir.as_deref())
            }
            _ => commands::merge(&merge, &report),
        },
        Command::Logout { tenant } => commands::logout(tenant),
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => {
            tenantry_sandbox::serve::run(&args)?;
            Ok(exit::OK)
        }
        Command::Cmdlets(args) => cmdlets::cmdlets(args),
        Command::Schema { kind, catalog } => commands::schema(kind, &catalog),
        Command::Completions { shell } => shell::completions(shell),
        Command::Man { dir } => shell::man(dir.as_deref()),
    }
}
