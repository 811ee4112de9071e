//! The command line's definitions: commands, their arguments and how each is parsed.

use std::io;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::catalog::{Catalog, CatalogError};
use crate::plan::PlanOptions;

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
        /// Also save the plan's writes as a plan FILE to review and apply as it stands
        /// (`run --plan`): for playbooks whose calls are all known before the run (no step
        /// reads earlier output, none has `ensure` or `state`; for those, `check --out`).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Run a playbook: every task against its tenant, within the service's limits, reporting
    /// each outcome. Tenants on `cloud: sandbox` run against the built-in sandbox.
    Run(RunArgs),
    /// Send the playbook's reads and no write, and show per tenant, object and property what
    /// a run would change (current -> desired). Exit code 0: nothing to change; 5: changes
    /// pending, some new since the previous check; 6: changes pending, none new.
    Check(CheckArgs),
    /// Show a plan file made by `check --out`: what it was made from, and each change it
    /// makes, as text or Markdown for a pull request.
    Show {
        /// The plan file.
        plan: PathBuf,
        /// `text` or `markdown` (`jsonl` is the file itself).
        #[arg(long, value_enum, default_value_t = crate::check::Format::Text)]
        format: crate::check::Format,
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
        /// Write every HTTP request and answer to FILE as a HAR 1.2 log for support, with
        /// credentials, tokens and SecureString parameters redacted (mode 0600).
        #[arg(long, value_name = "FILE")]
        trace: Option<PathBuf>,
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
    /// results.csv, junit.xml, summary.md), or merge the reports of several shards into one
    /// set (`--merge DIR…`).
    Report {
        /// The playbook file.
        #[arg(required_unless_present = "merge")]
        playbook: Option<PathBuf>,
        /// The run's id, or `last`.
        #[arg(default_value = "last")]
        run: String,
        /// Merge these report folders (the `--report` of each shard) into `--report DIR`: the
        /// counts add up, and a tenant in two of them is an error.
        #[arg(long, value_name = "DIR", num_args = 1.., conflicts_with_all = ["playbook", "state_dir"])]
        merge: Vec<PathBuf>,
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
    /// List the cmdlets tenantry knows, or show one: its parameter sets, and each parameter
    /// with its documented type and what values it takes.
    Cmdlets(CmdletsArgs),
    /// Print the completion script of a shell: `tenantry completions bash >
    /// /etc/bash_completion.d/tenantry` (zsh: into a folder of `$fpath` as `_tenantry`; fish:
    /// `~/.config/fish/completions/tenantry.fish`; PowerShell: dot-source it from `$PROFILE`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print tenantry's man page (roff: `tenantry man | man -l -`), or write a page per command
    /// into a folder (`tenantry man --dir /usr/local/share/man/man1`).
    Man {
        /// Write tenantry.1 and one page per command (tenantry-run.1, …) into DIR.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Print a JSON Schema: of playbooks (for editors), or of `plan --format json` records.
    Schema {
        /// Which schema.
        #[arg(value_enum, default_value_t = SchemaKind::Playbook)]
        kind: SchemaKind,
        /// The cmdlet catalog the playbook schema completes cmdlets and parameters from.
        #[command(flatten)]
        catalog: CatalogArgs,
    },
}

/// The options of `tenantry run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The playbook and what to select.
    #[command(flatten)]
    pub args: PlanArgs,
    /// What a run and a check share.
    #[command(flatten)]
    pub common: SessionArgs,
    /// When another run of this playbook is in progress, wait this long for it (`10m`)
    /// instead of exiting at once with code 75.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub wait_lock: Option<std::time::Duration>,
    /// Go on with a past run (its id, or `last`): writes whose outcome it knows are not
    /// sent again; reads run again. `unfinished` goes on with the last run if it was killed
    /// or stopped by a signal, and otherwise starts a new one: for jobs that are retried.
    #[arg(long, value_name = "ID", num_args = 0..=1, default_missing_value = "last")]
    pub resume: Option<String>,
    /// Resume even though the playbook, its data or the tenants changed.
    #[arg(long, requires = "resume")]
    pub force: bool,
    /// On resume, send again the writes a killed run never heard back from, even those
    /// that are not idempotent.
    #[arg(long, requires = "resume")]
    pub retry_unknown: bool,
    /// Apply exactly the reviewed plan FILE made by `check --out`: only its writes are sent,
    /// and a write whose object changed since is reported `stale` and not sent (exit 7). A
    /// plan whose playbook, data or tenants changed, or that is too old, is refused (exit 2).
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// How old a plan given to `--plan` may be.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration_arg, requires = "plan")]
    pub max_plan_age: std::time::Duration,
}

/// The options of `tenantry check`.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// The playbook and what to select.
    #[command(flatten)]
    pub args: PlanArgs,
    /// What a run and a check share.
    #[command(flatten)]
    pub common: SessionArgs,
    /// How the result is written on standard output: `text`, `jsonl` (one record per line,
    /// schemas/check.schema.json) or `markdown` (for a pull-request comment).
    #[arg(long, value_enum, default_value_t = crate::check::Format::Text)]
    pub format: crate::check::Format,
    /// Also save the changes found as a plan FILE to review (`tenantry show FILE`) and apply
    /// as it stands (`tenantry run PLAYBOOK --plan FILE`). Written only when the check is
    /// whole and nothing failed.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// What `run` and `check` share: sessions, output, reports and limits in time.
#[derive(Debug, clap::Args)]
pub struct SessionArgs {
    /// Also write results.jsonl, summary.json, results.csv, junit.xml and summary.md here.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// After Ctrl-C or SIGTERM, how long calls in flight may finish before the report is
    /// written (a second signal stops at once).
    #[arg(long, default_value = "30s", value_parser = parse_duration_arg)]
    pub grace: std::time::Duration,
    /// The latency of `cloud: sandbox` tenants (`50ms`, `20ms..80ms`, `exp:50ms`), to
    /// rehearse a run at realistic speed.
    #[cfg(feature = "sandbox")]
    #[arg(long, default_value = "0ms", value_parser = parse_latency)]
    pub sandbox_latency: crate::builtin::Latency,
    /// Progress bars (on standard error) or a line per task. `auto` shows bars when both
    /// standard output and standard error are terminals.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,
    /// Reach the service, notification webhooks and the Pushgateway through this proxy
    /// (overrides HTTPS_PROXY).
    #[arg(long, value_name = "URL")]
    pub proxy: Option<String>,
    /// Where run journals, the playbook's lock and the last check's drift live (default:
    /// `.tenantry` beside the playbook).
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// It must be over by then (`50m`): dispatch stops early enough for calls in flight to
    /// finish and the report to be written; exit code 4.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub deadline: Option<std::time::Duration>,
    /// Write every HTTP request and answer to FILE as a HAR 1.2 log for support, with
    /// credentials, tokens and SecureString parameters redacted (mode 0600).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// `text`: a line per task for people; `json`: one JSON object per event and line (task
    /// lines with the fields of results.jsonl, plus `time`, `level` and `event`), for log
    /// pipelines. No progress bars with `json`.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// When it ends, write its metrics to FILE in Prometheus text format (for node_exporter's
    /// textfile collector), replacing the file atomically. A failure is a warning.
    #[arg(long, value_name = "FILE")]
    pub metrics_file: Option<PathBuf>,
    /// When it ends, push its metrics to the Prometheus Pushgateway at URL (https; plain http
    /// to loopback only; user info is sent as basic authentication). A failure is a warning.
    #[arg(long, value_name = "URL", env = "TENANTRY_METRICS_PUSH", hide_env_values = true, value_parser = PushUrlParser)]
    pub metrics_push: Option<String>,
    /// Webhooks told of the run's end.
    #[command(flatten)]
    pub notify: NotifyArgs,
}

/// Notifications of `run` and `check`, besides the playbook's `notify:`.
#[derive(Debug, clap::Args)]
pub struct NotifyArgs {
    /// Post the summary to a webhook when it ends (repeatable): `env:VAR` or `file:PATH`
    /// naming where the webhook URL is kept, or the URL itself (which process lists show).
    /// Added to the playbook's `notify:`. Without it, TENANTRY_NOTIFY gives one TARGET.
    #[arg(long, value_name = "TARGET")]
    pub notify: Vec<String>,
    /// The payload `--notify` posts: `json`, `slack` or `teams` (an Adaptive Card for a Teams
    /// workflow). Default: from the URL's host, else `json`.
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub notify_format: Option<crate::notify::Format>,
    /// When `--notify` posts: `finish`, `failure`, `drift` (new drift found by `check`),
    /// comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        value_name = "WHEN",
        default_value = "failure,drift"
    )]
    pub notify_on: Vec<crate::notify::When>,
    /// A link to the reports for `--notify`'s messages, such as the CI build's page; `${VAR}`
    /// is replaced by the variable's value.
    #[arg(long, value_name = "URL")]
    pub notify_report_url: Option<String>,
    /// Send no notification at all: neither the playbook's `notify:` nor `--notify`'s.
    #[arg(long)]
    pub no_notify: bool,
}

/// How `run` and `check` write what happens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people (or progress bars, with `--progress`).
    #[default]
    Text,
    /// JSON Lines: one object per event.
    Json,
}

/// Checks `--metrics-push`, with an error of its own: clap's would repeat the value, and a
/// URL's user info may hold a password.
#[derive(Clone, Copy, Debug)]
struct PushUrlParser;

impl clap::builder::TypedValueParser for PushUrlParser {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &std::ffi::OsStr,
    ) -> Result<String, clap::Error> {
        let refused = |why: String| {
            clap::Error::raw(
                clap::error::ErrorKind::ValueValidation,
                format!("--metrics-push: {why}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| refused("the URL is not UTF-8".into()))?;
        crate::report::PushUrl::parse(text)
            .map(|_| text.to_string())
            .map_err(refused)
    }
}

/// The options of `tenantry cmdlets`.
#[derive(Debug, clap::Args)]
pub struct CmdletsArgs {
    /// The cmdlet to show, in any case (`Set-Mailbox`); without it, the cmdlets are listed.
    #[arg(value_name = "CMDLET")]
    pub cmdlet: Option<String>,
    /// List only the cmdlets with this verb (`Set`), in any case.
    #[arg(long, conflicts_with = "cmdlet")]
    pub verb: Option<String>,
    /// List only the cmdlets whose noun contains this text (`Mailbox`), in any case.
    #[arg(long, conflicts_with = "cmdlet")]
    pub noun: Option<String>,
    /// Show only the parameters whose name contains this text (`Retain`), in any case.
    #[arg(long, short = 'p', value_name = "TEXT", requires = "cmdlet")]
    pub param: Option<String>,
    /// `text` for people, `json` for machines (the cmdlet, or the list, as one document).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The cmdlet catalog.
    #[command(flatten)]
    pub catalog: CatalogArgs,
}

/// Which cmdlet catalog a command reads: the built-in one, or `--catalog FILE`.
#[derive(Debug, Default, clap::Args)]
pub struct CatalogArgs {
    /// Read the cmdlet catalog from FILE (shaped like src/catalog/exo-cmdlets.json) instead of
    /// the built-in one, e.g. one made from a newer cmdlet reference.
    #[arg(long, value_name = "FILE")]
    pub catalog: Option<PathBuf>,
}

impl CatalogArgs {
    /// The catalog asked for.
    pub fn load(&self) -> Result<Catalog, CatalogError> {
        match &self.catalog {
            Some(file) => Catalog::from_file(file),
            None => Ok(Catalog::built_in()),
        }
    }
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
    /// Only shard K of N of the tenants selected (`2/4`), for spreading a playbook over N
    /// workers: each tenant is in exactly one shard, chosen by a hash of its name, and each
    /// shard keeps its own journals and lock (under `shards/shard-K-of-N` in the state folder)
    #[arg(long, value_name = "K/N", env = "TENANTRY_SHARD", value_parser = parse_shard)]
    pub shard: Option<crate::plan::shard::Shard>,
    /// N shards, this one given by `JOB_COMPLETION_INDEX` (from 0), as a Kubernetes Indexed
    /// Job sets it: `--shards 4` in the job whose index is 1 is `--shard 2/4`
    #[arg(long, value_name = "N", conflicts_with = "shard")]
    pub shards: Option<u32>,
    /// The cmdlet catalog calls are checked against.
    #[command(flatten)]
    pub catalog: CatalogArgs,
}

fn parse_shard(s: &str) -> Result<crate::plan::shard::Shard, String> {
    s.parse()
}

pub(super) fn parse_duration_arg(s: &str) -> Result<std::time::Duration, String> {
    tenantry_common::duration::parse_duration(s)
}

#[cfg(feature = "sandbox")]
pub(super) fn parse_latency(s: &str) -> Result<crate::builtin::Latency, String> {
    s.parse()
}

/// Output formats of `plan` and `cmdlets`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Readable text.
    Text,
    /// JSON: JSON Lines for `plan`, one document for `cmdlets`.
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
    /// Whether bars are drawn.
    pub(super) fn bars(self) -> bool {
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
    /// The records of `check --format jsonl`.
    Check,
    /// The lines of a plan file (`check --out`).
    ReviewedPlan,
}

pub(super) fn parse_var(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("`{s}` is not NAME=VALUE")),
    }
}

impl PlanArgs {
    /// What the planner is asked for.
    pub(super) fn options(&self) -> Result<PlanOptions, String> {
        Ok(PlanOptions {
            vars: self.vars.clone(),
            limit: self.limit.clone(),
            tags: self.tags.clone(),
            catalog: None,
            shard: self.shard()?,
        })
    }

    /// The shard asked for: `--shard`, or `--shards` with `JOB_COMPLETION_INDEX`.
    pub(super) fn shard(&self) -> Result<Option<crate::plan::shard::Shard>, String> {
        let Some(count) = self.shards else {
            return Ok(self.shard);
        };
        let index = std::env::var("JOB_COMPLETION_INDEX").map_err(|_| {
            "`--shards` takes this shard from JOB_COMPLETION_INDEX, which is not set: give `--shard K/N` instead".to_string()
        })?;
        let index: u32 = index
            .trim()
            .parse()
            .map_err(|_| format!("JOB_COMPLETION_INDEX is `{index}`, not a number from 0"))?;
        crate::plan::shard::Shard::new(index.saturating_add(1), count)
            .map(Some)
            .map_err(|e| format!("--shards {count} with JOB_COMPLETION_INDEX {index}: {e}"))
    }
}
