//! The command line: clap definitions, and each command run against the library. Errors are
//! printed once, here, and mapped to the exit codes in [`crate::exit`].

use std::ffi::OsString;
use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::plural;
use crate::exit;
use crate::plan::{
    CountingSink, JsonSink, PlanError, PlanFailure, PlanOptions, PlanRecord, Planner, Sink,
    TextSink,
};
use crate::playbook::{Playbook, PlaybookError};

/// Run declarative YAML playbooks of Exchange Online admin cmdlets across many tenants.
#[derive(Debug, Parser)]
#[command(name = "tenantry", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// tenantry's commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check a playbook, its tenants and its templates; report every problem, or a one-line
    /// summary.
    Validate(PlanArgs),
    /// Show every cmdlet call a run would make, grouped by tenant and step.
    Plan {
        /// The playbook and what to select.
        #[command(flatten)]
        args: PlanArgs,
        /// `text` for people, `json` for machines (one record per line; see
        /// schemas/plan.schema.json).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run a playbook: every task against its tenant, within the service's limits, reporting
    /// each outcome. Tenants on `cloud: sandbox` run against the built-in sandbox.
    Run {
        /// The playbook and what to select.
        #[command(flatten)]
        args: PlanArgs,
        /// Also write results.jsonl, summary.json, results.csv, junit.xml and summary.md here.
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        /// After Ctrl-C or SIGTERM, how long calls in flight may finish before the report is
        /// written (a second signal stops at once).
        #[arg(long, default_value = "30s", value_parser = parse_duration_arg)]
        grace: std::time::Duration,
        /// The latency of `cloud: sandbox` tenants (`50ms`, `20ms..80ms`, `exp:50ms`), to
        /// rehearse a run at realistic speed.
        #[cfg(feature = "sandbox")]
        #[arg(long, default_value = "0ms", value_parser = parse_latency)]
        sandbox_latency: crate::builtin::Latency,
        /// Progress bars (on standard error) or a line per task. `auto` shows bars when both
        /// standard output and standard error are terminals.
        #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
        progress: ProgressMode,
        /// Reach the service through this proxy (overrides HTTPS_PROXY).
        #[arg(long, value_name = "URL")]
        proxy: Option<String>,
        /// Where run journals and the playbook's lock live (default: `.tenantry` beside the
        /// playbook).
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// When another run of this playbook is in progress, wait this long for it (`10m`)
        /// instead of exiting at once with code 75.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
        wait_lock: Option<std::time::Duration>,
        /// Go on with a past run (its id, or `last`): writes whose outcome it knows are not
        /// sent again; reads run again.
        #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "last")]
        resume: Option<String>,
        /// Resume even though the playbook, its data or the tenants changed.
        #[arg(long, requires = "resume")]
        force: bool,
        /// On resume, send again the writes a killed run never heard back from, even those
        /// that are not idempotent.
        #[arg(long, requires = "resume")]
        retry_unknown: bool,
        /// The run must be over by then (`50m`): dispatch stops early enough for calls in
        /// flight to finish and the report to be written; exit code 4.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
        deadline: Option<std::time::Duration>,
    },
    /// Sign in to tenants and run one read-only cmdlet: shows who is signed in, to which
    /// tenant, until when, and the round trip; or, for each failure, what to do.
    Connect {
        /// The playbook and what to select (`--limit contoso`; every tenant by default).
        #[command(flatten)]
        args: PlanArgs,
        /// One tenant to check, by name (the same as `--limit NAME`).
        #[arg(conflicts_with = "all")]
        tenant: Option<String>,
        /// Check every tenant of the playbook (the default).
        #[arg(long)]
        all: bool,
        /// The read-only cmdlet to run.
        #[arg(long, default_value = "Get-OrganizationConfig")]
        cmdlet: String,
        /// Reach the service through this proxy (overrides HTTPS_PROXY).
        #[arg(long, value_name = "URL")]
        proxy: Option<String>,
    },
    /// List a playbook's past runs, with how each ended.
    Runs {
        /// The playbook file.
        playbook: PathBuf,
        /// Where its runs are kept (default: `.tenantry` beside the playbook).
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Write the reports of a past run from its journal (results.jsonl, summary.json,
    /// results.csv, junit.xml, summary.md).
    Report {
        /// The playbook file.
        playbook: PathBuf,
        /// The run's id, or `last`.
        #[arg(default_value = "last")]
        run: String,
        /// The folder to write the reports in.
        #[arg(long, value_name = "DIR")]
        report: PathBuf,
        /// Where its runs are kept (default: `.tenantry` beside the playbook).
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
    },
    /// Forget saved sign-ins (users' refresh tokens) for one tenant, or for all.
    Logout {
        /// The tenant's organization (`contoso.onmicrosoft.com`); all tenants when left out.
        tenant: Option<String>,
    },
    /// Serve the built-in Exchange Online sandbox on loopback until stopped: the admin API and
    /// the token endpoints of N seeded tenants, with the service's limits and injectable faults.
    #[cfg(feature = "sandbox")]
    Sandbox(tenantry_sandbox::serve::ServeArgs),
    /// Print a JSON Schema: of playbooks (for editors), or of `plan --format json` records.
    Schema {
        /// Which schema.
        #[arg(value_enum, default_value_t = SchemaKind::Playbook)]
        kind: SchemaKind,
    },
}

/// The playbook and what part of it to take.
#[derive(Debug, clap::Args)]
pub struct PlanArgs {
    /// The playbook file.
    pub playbook: PathBuf,
    /// Set a variable, overriding the playbook's and the tenants' (repeatable).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Select tenants: names, `tag:TAG`, `!` to exclude; comma-separated or repeated.
    #[arg(long, short = 'l', value_name = "PATTERN")]
    pub limit: Vec<String>,
    /// Only steps with one of these tags (comma-separated or repeated).
    #[arg(long, value_name = "TAG", value_delimiter = ',')]
    pub tags: Vec<String>,
}

/// The runtime of `run` and `connect`. One thread: a run waits on the network, and keeping
/// the scheduler, the connections and the reporters on one thread saves the cross-thread
/// wake-ups that otherwise cost about half of the runner's CPU per call (`cargo bench --bench
/// run`). RSA signing and file work go to the blocking pool.
fn one_thread() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    tenantry_common::duration::parse_duration(s)
}

#[cfg(feature = "sandbox")]
fn parse_latency(s: &str) -> Result<crate::builtin::Latency, String> {
    s.parse()
}

/// Output formats of `plan`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable text.
    Text,
    /// JSON Lines.
    Json,
}

/// How `run` shows its progress.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// Bars on an interactive terminal, lines otherwise.
    Auto,
    /// Bars whenever standard error is a terminal, even with standard output redirected.
    Bars,
    /// Always a line per task: for cron, CI and logs.
    Plain,
}

impl ProgressMode {
    fn bars(self) -> bool {
        use std::io::IsTerminal;
        match self {
            // Bars drawn nowhere would swallow the failure lines printed above them.
            ProgressMode::Bars => io::stderr().is_terminal(),
            ProgressMode::Plain => false,
            ProgressMode::Auto => {
                io::stdout().is_terminal()
                    && io::stderr().is_terminal()
                    && std::env::var_os("TERM").is_none_or(|t| t != "dumb")
            }
        }
    }
}

/// The schemas `tenantry schema` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SchemaKind {
    /// The playbook language.
    Playbook,
    /// The records of `plan --format json`.
    Plan,
}

fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

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
}

fn report(e: &CliError) -> i32 {
    // `tenantry plan … | head` closes the pipe early; that is success, not an error.
    let broken_pipe = |io: &io::Error| io.kind() == io::ErrorKind::BrokenPipe;
    match e {
        CliError::Output(io) | CliError::Plan(PlanError::Output(io)) if broken_pipe(io) => {
            return exit::OK;
        }
        _ => {}
    }
    let _ = write!(io::stderr().lock(), "{e}");
    match e {
        CliError::Playbook(_)
        | CliError::Plan(PlanError::Invalid(_))
        | CliError::Run(crate::run::RunError::Plan(PlanError::Invalid(_))) => exit::INVALID_INPUT,
        #[cfg(feature = "sandbox")]
        CliError::Sandbox(tenantry_sandbox::SandboxError::Config(_)) => {
            let _ = writeln!(io::stderr());
            exit::INVALID_INPUT
        }
        CliError::Usage(_)
        | CliError::Session(
            crate::session::SessionError::Tenant { .. } | crate::session::SessionError::Http(_),
        )
        | CliError::Run(crate::run::RunError::Session(
            crate::session::SessionError::Tenant { .. } | crate::session::SessionError::Http(_),
        ))
        | CliError::Run(crate::run::RunError::Journal(
            crate::journal::JournalError::NoSuchRun(..)
            | crate::journal::JournalError::Changed { .. },
        )) => {
            let _ = writeln!(io::stderr());
            exit::INVALID_INPUT
        }
        CliError::Run(crate::run::RunError::Journal(crate::journal::JournalError::Locked {
            ..
        })) => {
            let _ = writeln!(io::stderr());
            exit::LOCKED
        }
        _ => {
            let _ = writeln!(io::stderr());
            exit::TASKS_FAILED
        }
    }
}

fn run(cli: Cli) -> Result<i32, CliError> {
    match cli.command {
        Command::Validate(args) => {
            let playbook = Playbook::parse(&args.playbook)?;
            let env = crate::template::environment(&playbook.dir);
            let planner = prepare(&env, &playbook, &args)?;
            let summary = planner.expand_all(&mut CountingSink::default())?;
            let mut err = io::stderr().lock();
            writeln!(
                err,
                "{} is valid: {} tenant{}, {} step{}, {} task{} known now{}",
                args.playbook.display(),
                summary.tenants,
                plural(summary.tenants),
                planner.steps().len(),
                plural(planner.steps().len()),
                summary.tasks,
                plural(summary.tasks),
                if summary.deferred_steps > 0 {
                    format!(
                        ", {} step{} expanding at run time",
                        summary.deferred_steps,
                        plural(summary.deferred_steps)
                    )
                } else {
                    String::new()
                }
            )?;
            Ok(exit::OK)
        }
        Command::Plan { args, format } => {
            let playbook = Playbook::parse(&args.playbook)?;
            let env = crate::template::environment(&playbook.dir);
            let planner = prepare(&env, &playbook, &args)?;
            let stdout = io::stdout().lock();
            let out = io::BufWriter::with_capacity(64 * 1024, stdout);
            match format {
                Format::Text => write_plan(&planner, TextSink::new(out), TextSink::into_inner),
                Format::Json => write_plan(&planner, JsonSink::new(out), JsonSink::into_inner),
            }
        }
        Command::Run {
            args,
            report,
            grace,
            #[cfg(feature = "sandbox")]
            sandbox_latency,
            progress,
            proxy,
            state_dir,
            wait_lock,
            resume,
            force,
            retry_unknown,
            deadline,
        } => {
            let playbook = Playbook::parse(&args.playbook)?;
            let env = crate::template::environment(&playbook.dir);
            let planner = prepare(&env, &playbook, &args)?;
            let runtime = one_thread()?;
            // Without the sandbox feature, its latency is the default.
            #[allow(clippy::needless_update)]
            let settings = crate::run::RunSettings {
                progress: progress.bars(),
                report,
                grace,
                #[cfg(feature = "sandbox")]
                sandbox_latency,
                proxy,
                state_dir,
                wait_lock,
                resume,
                force,
                retry_unknown,
                deadline,
                ..crate::run::RunSettings::default()
            };
            let mut out = io::stdout().lock();
            let code =
                runtime.block_on(crate::run::run(&playbook, &planner, &settings, &mut out))?;
            Ok(code)
        }
        Command::Connect {
            mut args,
            tenant,
            all: _,
            cmdlet,
            proxy,
        } => {
            args.limit.extend(tenant);
            if crate::playbook::verbs::is_read_only(&cmdlet) {
                let playbook = Playbook::parse(&args.playbook)?;
                let env = crate::template::environment(&playbook.dir);
                let planner = prepare(&env, &playbook, &args)?;
                let runtime = one_thread()?;
                let options = crate::connect::ConnectOptions { cmdlet, proxy };
                let mut out = io::stdout().lock();
                let code = runtime.block_on(crate::connect::connect(
                    &playbook,
                    planner.tenant_indexes(),
                    &options,
                    &mut out,
                ))?;
                Ok(code)
            } else {
                Err(CliError::Usage(format!(
                    "`connect` runs a read-only cmdlet (Get-, Test-, …), not {cmdlet}"
                )))
            }
        }
        Command::Runs {
            playbook,
            state_dir,
        } => {
            let state = crate::journal::StateDir::of(&playbook, state_dir.as_deref());
            let mut out = io::stdout().lock();
            let runs = state.runs();
            if runs.is_empty() {
                writeln!(out, "no runs of {} yet", playbook.display())?;
            }
            for meta in runs {
                let past = state.past(&meta.id).map_err(crate::run::RunError::from)?;
                writeln!(out, "{}", crate::journal::describe(&past))?;
            }
            Ok(exit::OK)
        }
        Command::Report {
            playbook,
            run,
            report,
            state_dir,
        } => {
            let state = crate::journal::StateDir::of(&playbook, state_dir.as_deref());
            let past = state.past(&run).map_err(crate::run::RunError::from)?;
            crate::report::from_journal(&past, &report).map_err(|source| {
                crate::run::RunError::Report {
                    dir: report.clone(),
                    source,
                }
            })?;
            writeln!(
                io::stdout().lock(),
                "wrote the reports of run {} in {}",
                past.meta.id,
                report.display()
            )?;
            Ok(exit::OK)
        }
        Command::Logout { tenant } => {
            let Some(dir) = crate::auth::cache::TokenCache::default_location() else {
                return Err(CliError::Usage(
                    "no cache folder: set HOME (or TENANTRY_CACHE_DIR)".into(),
                ));
            };
            let cache = crate::auth::cache::TokenCache::at(dir);
            let removed = cache.logout(tenant.as_deref())?;
            let mut out = io::stdout().lock();
            if removed.is_empty() {
                writeln!(
                    out,
                    "no saved sign-in{}",
                    tenant.map(|t| format!(" for {t}")).unwrap_or_default()
                )?;
            }
            for r in removed {
                writeln!(out, "signed out {} from {}", r.user, r.tenant)?;
            }
            Ok(exit::OK)
        }
        #[cfg(feature = "sandbox")]
        Command::Sandbox(args) => {
            tenantry_sandbox::serve::run(&args)?;
            Ok(exit::OK)
        }
        Command::Schema { kind } => {
            let schema = match kind {
                SchemaKind::Playbook => playbook_schema(),
                SchemaKind::Plan => plan_schema(),
            };
            let mut out = io::stdout().lock();
            writeln!(out, "{schema}")?;
            Ok(exit::OK)
        }
    }
}

/// Checks the playbook's structure and compiles its templates, reporting the problems of both
/// together, in file order.
fn prepare<'e, 's>(
    env: &'e minijinja::Environment<'s>,
    playbook: &'s Playbook,
    args: &PlanArgs,
) -> Result<Planner<'e, 's>, CliError> {
    let mut problems = playbook.check();
    let planner = match Planner::new(env, playbook, &args.options()) {
        Ok(p) => Some(p),
        Err(PlanError::Invalid(d)) => {
            problems.extend(d);
            None
        }
        Err(e) => return Err(e.into()),
    };
    match planner {
        Some(p) if problems.is_empty() => Ok(p),
        _ => {
            problems.sort();
            Err(PlaybookError::Invalid(problems).into())
        }
    }
}

/// Streams the plan; if expansion fails midway, the output ends with a record saying so.
fn write_plan<S: Sink, W: Write>(
    planner: &Planner<'_, '_>,
    mut sink: S,
    into_inner: impl FnOnce(S) -> W,
) -> Result<i32, CliError> {
    let result = planner.expand_all(&mut sink);
    if let Err(PlanError::Invalid(d)) = result {
        // The input is invalid whatever became of the output: report it even when the reader
        // has gone (`tenantry plan … | true`), so no pipeline mistakes this for success.
        let first = d.0.first().map_or("invalid input", |d| d.message.as_str());
        let _ = sink.record(PlanRecord::Error(PlanFailure {
            message: format!("{first} (details on standard error)").into(),
        }));
        let _ = into_inner(sink).flush();
        return Err(PlanError::Invalid(d).into());
    }
    into_inner(sink).flush()?;
    result?;
    Ok(exit::OK)
}

impl PlanArgs {
    fn options(&self) -> PlanOptions {
        PlanOptions {
            vars: self.vars.clone(),
            limit: self.limit.clone(),
            tags: self.tags.clone(),
        }
    }
}

/// The playbook JSON Schema, pretty-printed.
pub fn playbook_schema() -> String {
    let schema = schemars::schema_for!(crate::playbook::PlaybookDoc);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes")
}

/// The plan-record JSON Schema, pretty-printed.
pub fn plan_schema() -> String {
    let schema = schemars::schema_for!(PlanRecord<'static>);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes")
}
