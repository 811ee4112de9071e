//! `tenantry completions` and `tenantry man` are generated from the clap definitions the
//! binary parses with: bash completes real commands and flags, every shell gets a script, and
//! the man pages cover every command and flag and render without a roff warning.

use std::collections::BTreeSet;
use std::process::Command;

use clap::CommandFactory;
use tenantry::cli::Cli;

use crate::support::tenantry;

#[cfg(unix)]
/// What bash's completion function offers after `words` (the last one being completed).
fn bash_completes(script: &std::path::Path, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let array = words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" ");
    let program = format!(
        "source '{}'\nCOMP_WORDS=({array})\nCOMP_CWORD={}\nCOMP_LINE='{line}'\nCOMP_POINT=${{#COMP_LINE}}\n_tenantry tenantry '{}' '{}'\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n",
        script.display(),
        words.len() - 1,
        words[words.len() - 1],
        words[words.len() - 2],
    );
    let out = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &program])
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// The names of the binary's commands, from its own definitions.
fn commands() -> BTreeSet<String> {
    Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect()
}

/// Bash completes commands and flags, from a script the binary printed.
#[cfg(unix)]
#[test]
fn bash_completes_commands_and_flags() {
    let run = tenantry(&["completions", "bash"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let dir = tempfile::tempdir().expect("temp dir");
    let script = dir.path().join("tenantry.bash");
    std::fs::write(&script, &run.stdout).expect("written");

    assert_eq!(
        bash_completes(&script, &["tenantry", "ru"]),
        ["run", "runs"]
    );
    let all = bash_completes(&script, &["tenantry", ""]);
    for command in commands() {
        assert!(all.contains(&command), "{command} not offered: {all:?}");
    }
    assert_eq!(
        bash_completes(&script, &["tenantry", "run", "--sha"]),
        ["--shard", "--shards"]
    );
    assert_eq!(
        bash_completes(&script, &["tenantry", "completions", "z"]),
        ["zsh"]
    );
}

/// Every shell asked for by the issue gets its script, naming every command.
#[test]
fn every_shell_gets_a_script_naming_every_command() {
    for (shell, marker) in [
        ("bash", "complete -F _tenantry"),
        ("zsh", "#compdef tenantry"),
        ("fish", "complete -c tenantry"),
        ("powershell", "Register-ArgumentCompleter"),
    ] {
        let run = tenantry(&["completions", shell]);
        assert_eq!(run.code, 0, "{shell}: {}", run.stderr);
        assert!(run.stdout.contains(marker), "{shell}: no `{marker}`");
        for command in commands() {
            assert!(run.stdout.contains(&command), "{shell}: no {command}");
        }
    }
    let run = tenantry(&["completions", "tcsh"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("possible values"), "{}", run.stderr);
}

/// `man --dir` writes a page per command; each names every long flag of its command, and
/// groff (when the machine has it) renders them without a warning, its input decoded as `man`
/// does (`-k`: UTF-8 through preconv).
#[test]
fn man_pages_cover_every_command_and_flag() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("man1");
    let run = tenantry(&["man", "--dir", out.to_str().expect("UTF-8")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let cli = Cli::command();
    let mut pages = vec![("tenantry.1".to_owned(), cli.clone())];
    for sub in cli.get_subcommands() {
        pages.push((format!("tenantry-{}.1", sub.get_name()), sub.clone()));
    }
    assert!(
        run.stderr
            .contains(&format!("{} man pages written", pages.len())),
        "{}",
        run.stderr
    );
    for (page, command) in &pages {
        let text =
            std::fs::read_to_string(out.join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH tenantry"), "{page}: no title");
        for arg in command.get_arguments() {
            if let Some(long) = arg.get_long() {
                // roff escapes each `-` of a flag.
                let escaped = format!("\\-\\-{}", long.replace('-', "\\-"));
                assert!(text.contains(&escaped), "{page}: no --{long}");
            }
        }
        if let Ok(groff) = Command::new("groff")
            .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
            .arg(out.join(page))
            .output()
        {
            assert!(groff.status.success(), "{page}: groff failed");
            assert!(
                groff.stderr.is_empty(),
                "{page}: {}",
                String::from_utf8_lossy(&groff.stderr)
            );
        }
    }
    // The page on standard output is the top one.
    let run = tenantry(&["man"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        std::fs::read_to_string(out.join("tenantry.1")).expect("page")
    );
}
