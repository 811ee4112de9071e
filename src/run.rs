//! `tenantry run`: resolves each tenant's endpoints and credentials (starting the built-in
//! sandbox for `cloud: sandbox` tenants), runs the scheduler, and feeds its events to the
//! reporters.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::events::{Event, Fanout, Origin, Reporter, RunStart, RunSummary};
use crate::exit;
use crate::journal::{Journal, PastRun, Prior, RunLock, StateDir};
use crate::plan::{PlanRecord, Planner, Sink};
use crate::playbook::Playbook;
use crate::report::Terminal;
use crate::scheduler::dispatcher::{Ended, TimeLimits, dispatch};
use crate::scheduler::{RunOptions, Shutdown, Target};
use crate::session::{Session, SessionOptions, Sessions};

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A tenant's session could not be opened: its credentials or endpoints are unusable,
    /// or the sandbox could not start.
    #[error(transparent)]
    Session(#[from] crate::session::SessionError),
    /// A report could not be written.
    #[error("cannot write the report in {dir}: {source}")]
    Report {
        /// The report folder.
        dir: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The plan does not expand: nothing was sent to any tenant.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// The run's state (lock, journal) is unusable, or the run to resume is.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// The reviewed plan (`--plan`) does not fit the playbook as it is now, or is too old.
    #[error(transparent)]
    Reviewed(#[from] crate::reviewed::ReviewedError),
    /// The plan file of `check --out` cannot be created.
    #[error("cannot create the plan {path}: {source}")]
    PlanFile {
        /// The plan file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

impl RunError {
    /// The code of what stopped the run from starting, or of its report failing.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Session(e) => e.exit_code(),
            RunError::Plan(e) => e.exit_code(),
            RunError::Journal(e) => e.exit_code(),
            RunError::Reviewed(e) => e.exit_code(),
            RunError::Report { .. } | RunError::PlanFile { .. } => crate::exit::TASKS_FAILED,
        }
    }
}

/// What `run` was asked to do beyond the playbook.
#[derive(Clone, Debug)]
pub(crate) struct RunSettings {
    /// `--report DIR`.
    pub report: Option<PathBuf>,
    /// How long calls in flight may finish after Ctrl-C or SIGTERM.
    pub grace: Duration,
    /// Latency of the in-process sandbox, to rehearse realistic timing.
    pub sandbox_latency: crate::builtin::Latency,
    /// Progress bars on standard error instead of a line per task.
    pub progress: bool,
    /// `--proxy URL`.
    pub proxy: Option<String>,
    /// `--state-dir DIR`: where run journals and the lock live (`.tenantry` beside the
    /// playbook by default).
    pub state_dir: Option<PathBuf>,
    /// `--wait-lock DURATION`: how long to wait for another run of the playbook to end.
    pub wait_lock: Option<Duration>,
    /// `--resume ID|last|unfinished`: go on with a past run.
    pub resume: Option<String>,
    /// `--force`: resume even though the plan changed.
    pub force: bool,
    /// `--retry-unknown`: send again the writes a killed run never heard back from.
    pub retry_unknown: bool,
    /// `--deadline`: the run must be over (report written) this long after it starts.
    pub deadline: Option<Duration>,
    /// `--trace FILE`, created already: where every request and answer is written.
    pub trace: Option<Arc<crate::trace::Trace>>,
    /// `tenantry check`: send the reads, report the writes as drift, keep no journal.
    pub check: Option<crate::check::CheckSettings>,
    /// `run --plan FILE`: the reviewed plan to apply, read already.
    pub reviewed: Option<Arc<crate::reviewed::Reviewed>>,
    /// `--max-plan-age`: how old a reviewed plan may be.
    pub max_plan_age: Duration,
    /// `--log-format`: lines for people, or JSON Lines.
    pub log_format: crate::cli::args::LogFormat,
    /// `--metrics-file`, `--metrics-push`.
    pub metrics: crate::report::MetricsSettings,
    /// The webhooks told of the run's end, their URLs read already.
    pub notify: Option<Arc<crate::notify::Notifier>>,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            report: None,
            grace: Duration::from_secs(30),
            sandbox_latency: crate::builtin::NO_LATENCY,
            progress: false,
            proxy: None,
            state_dir: None,
            wait_lock: None,
            resume: None,
            force: false,
            retry_unknown: false,
            deadline: None,
            trace: None,
            check: None,
            reviewed: None,
            max_plan_age: Duration::from_secs(24 * 3600),
            log_format: Default::default(),
            metrics: Default::default(),
            notify: None,
        }
    }
}

/// A run about to start: its lock held, its journal open, its sessions ready. A check has
/// neither lock nor journal: it writes nothing, so there is nothing to resume or to guard.
struct Prepared {
    _lock: Option<RunLock>,
    past: Option<PastRun>,
    journal: Option<Journal>,
    sessions: Sessions,
    /// The plan's fingerprint, as a journal and a reviewed plan keep it.
    fingerprint: String,
    tenant_names: Vec<String>,
}

/// Runs the planned playbook and returns the exit code.
pub(crate) async fn run(
    playbook: &Playbook,
    planner: &Planner<'_, '_>,
    settings: &RunSettings,
    out: &mut dyn std::io::Write,
) -> Result<i32, RunError> {
    let started = Instant::now();
    // The whole plan is expanded once before anything is sent, keeping only counts: a
    // template or data error in any tenant stops the run before it changes anything anywhere.
    let mut planned = PlannedTasks::default();
    planner.expand_all(&mut planned)?;
    planned.close_tenant();
    // Before any session opens: a socket per connection may pass the open-file limit.
    if let Some(warning) = crate::fdlimit::ensure(crate::fdlimit::for_run(playbook, planner)) {
        eprintln!("{warning}");
    }
    let Prepared {
        _lock,
        past,
        journal,
        sessions: Sessions { sessions, sandbox },
        fingerprint,
        tenant_names,
    } = prepare(playbook, planner, settings, &planned).await?;
    let plan_file = match settings.check.as_ref().and_then(|c| c.out.as_ref()) {
        Some(path) => {
            let header = crate::reviewed::Header {
                format: crate::reviewed::PLAN_FILE_FORMAT,
                name: playbook.doc.name.clone(),
                playbook: playbook.path.display().to_string(),
                fingerprint,
                commit: crate::reviewed::git_commit(&playbook.dir),
                created_at: std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs(),
                tenants: tenant_names,
            };
            let writer = crate::reviewed::Writer::create(path, &header).map_err(|source| {
                RunError::PlanFile {
                    path: path.clone(),
                    source,
                }
            })?;
            Some(Arc::new(Mutex::new(writer)))
        }
        None => None,
    };
    let tally = Tally::new(&playbook.doc.name);
    let memory = settings.check.as_ref().map(|_| {
        crate::check::Memory::load(&StateDir::of(&playbook.path, settings.state_dir.as_deref()))
    });
    let metrics = settings
        .metrics
        .wanted()
        .then(|| crate::report::Metrics::new(settings.metrics.clone()));
    let mut events = fanout(settings, out, journal.as_ref(), &tally, memory.as_ref())?;
    if let Some(metrics) = &metrics {
        events.add("metrics", metrics.reporter());
    }
    if let Some(writer) = &plan_file {
        events.add("plan file", writer.clone());
    }
    for warning in sessions.iter().flat_map(|s| &s.warnings) {
        say(&events, warning.clone());
    }
    let (targets, not_signed_in) = sign_in(playbook, sessions).await;
    // From here on, Ctrl-C and SIGTERM stop the run cleanly rather than kill it.
    let signals = tenantry_common::signal::Signals::install();
    let prior = past
        .as_ref()
        .map(|p| Arc::new(Prior::of(p, settings.retry_unknown)));
    let _ = events.emit(&Event::RunStarted(RunStart {
        id: journal.as_ref().map(Journal::id).unwrap_or_default(),
        journal: journal
            .as_ref()
            .map(|j| j.dir().to_path_buf())
            .unwrap_or_default(),
        planned: planned.per_tenant,
        resuming: past
            .as_ref()
            .zip(prior.as_ref())
            .map(|(past, prior)| (replayed(past).count(), prior.unknown.len())),
        check: settings.check.is_some(),
    }));
    if let Some(past) = &past {
        // The writes already done count in this run's report; reads run again.
        for result in replayed(past) {
            let _ = events.emit(&Event::TaskFinished {
                result: result.clone(),
                origin: Origin::Earlier,
            });
        }
    }
    for event in not_signed_in {
        let _ = events.emit(&event);
    }
    let options = RunOptions {
        shutdown: Default::default(),
        prior,
        check: settings.check.is_some(),
        seen_drift: memory.as_ref().map(crate::check::Memory::seen),
        reviewed: settings.reviewed.clone(),
    };
    let limits = TimeLimits {
        started,
        grace: settings.grace,
        deadline: settings.deadline,
    };
    let ended = events
        .flushing(dispatch(
            planner, &targets, &options, &events, limits, signals,
        ))
        .await;
    let mut summary = tally.take();
    summary.duration_ms = started.elapsed().as_millis() as u64;
    summary.complete = !ended.partial;
    summary.check = settings.check.is_some();
    let mut code = conclude(
        &mut summary,
        ended,
        &options.shutdown,
        journal.as_ref(),
        &events,
    );
    if let Some(memory) = &memory {
        code = memory.conclude(&mut summary, code, &events);
    }
    if let (Some(writer), Some(path)) = (
        &plan_file,
        settings.check.as_ref().and_then(|c| c.out.as_ref()),
    ) {
        let finished = writer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .finish(
                summary.complete && summary.stopped_by.is_none(),
                summary.total.failed + summary.total.unknown,
            );
        match finished {
            Ok(calls) => say(
                &events,
                format!(
                    "plan written to {}: {calls} call{}; apply it with `tenantry run {} --plan {}`",
                    path.display(),
                    crate::diagnostic::plural(calls),
                    playbook.path.display(),
                    path.display()
                ),
            ),
            Err(why) => {
                say(
                    &events,
                    format!("the plan was not written to {}: {why}", path.display()),
                );
                if code == exit::OK
                    || code == exit::CHANGES_PENDING
                    || code == exit::CHANGES_PENDING_KNOWN
                {
                    code = exit::TASKS_FAILED;
                }
                summary.exit_code = code;
            }
        }
    }
    // Calls given up when dispatch ended are in the trace by now; a trace that stopped being
    // written costs the run nothing but this warning.
    if let Some(trace) = &settings.trace
        && let Err(e) = trace.finish()
    {
        say(&events, format!("warning: {e}"));
    }
    let summary = Box::new(summary);
    let _ = events.emit(&Event::RunFinished(summary.clone()));
    let report_failed = events
        .errors()
        .into_iter()
        .find(|(name, _)| *name != TERMINAL);
    // Metrics and notifications tell the exit code the process ends with.
    let mut summary = *summary;
    if report_failed.is_some() {
        summary.exit_code = exit::TASKS_FAILED;
    }
    // After the reports. Monitoring, not the run's outcome: a metrics failure is a warning.
    if let Some(metrics) = &metrics {
        for warning in metrics.finish(summary.exit_code).await {
            say(&events, warning);
        }
    }
    // After the reports: a message's link to them is good by the time it is read.
    if let Some(notify) = &settings.notify {
        let run_id = journal.as_ref().map(Journal::id);
        notify.send(&summary, run_id.as_deref(), None).await;
    }
    if let Some((name, source)) = report_failed {
        let dir = settings.report.clone().unwrap_or_default();
        return Err(RunError::Report {
            dir,
            source: std::io::Error::new(source.kind(), format!("{name}: {source}")),
        });
    }
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    Ok(code)
}

/// `--resume unfinished`: the last run if it did not end of itself, else a new run; what a
/// retried job (a Kubernetes pod, a cron line after a reboot) runs, whether or not it was killed.
pub(crate) const UNFINISHED: &str = "unfinished";

/// The terminal's name among the reporters: its errors (a closed standard output) do not fail
/// the run.
const TERMINAL: &str = "terminal";

/// Takes the playbook's lock, checks the run to resume, opens the sessions and the journal.
async fn prepare(
    playbook: &Playbook,
    planner: &Planner<'_, '_>,
    settings: &RunSettings,
    planned: &PlannedTasks,
) -> Result<Prepared, RunError> {
    let tenant_names: Vec<String> = planner
        .tenant_indexes()
        .iter()
        .map(|&i| playbook.tenants[i].name().to_string())
        .collect();
    // The lock first: a second run of this playbook stops here, before it touches anything.
    let state = StateDir::of(&playbook.path, settings.state_dir.as_deref());
    let check = settings.check.is_some();
    let lock = if check {
        None
    } else {
        Some(state.lock(settings.wait_lock)?)
    };
    let fingerprint = planned.fingerprint();
    let past = match settings.resume.as_deref() {
        Some(UNFINISHED) => state.unfinished()?,
        Some(id) => Some(state.past(id)?),
        None => None,
    };
    if let Some(past) = &past
        && !settings.force
    {
        past.check(&fingerprint, &tenant_names)?;
    }
    let sessions = Sessions::open(
        playbook,
        planner.tenant_indexes(),
        &SessionOptions {
            sandbox_latency: Some(settings.sandbox_latency),
            proxy: settings.proxy.clone(),
            retry: None,
            trace: settings.trace.clone(),
        },
    )
    .await?;
    // Before any session opens: a plan that does not fit stops the run with nothing sent.
    if let Some(reviewed) = &settings.reviewed {
        reviewed.check(&fingerprint, &tenant_names, settings.max_plan_age)?;
    }
    let journal = match &past {
        Some(past) => Some(Journal::resume(past)?),
        None if check => None,
        None => Some(state.create(&fingerprint, tenant_names.clone())?),
    };
    Ok(Prepared {
        _lock: lock,
        past,
        journal,
        sessions,
        fingerprint,
        tenant_names,
    })
}

/// The run's consumers: the journal first (it must hold each task before it is sent), then the
/// terminal, the tally, and the files of `--report DIR`.
fn fanout<'a>(
    settings: &RunSettings,
    out: &'a mut dyn std::io::Write,
    journal: Option<&'a Journal>,
    tally: &Tally,
    memory: Option<&crate::check::Memory>,
) -> Result<Fanout<'a>, RunError> {
    let mut events = Fanout::new();
    if let Some(journal) = journal {
        events = events.with_recorder(journal);
    }
    // A check in JSON Lines or Markdown writes that on standard output: people's lines go to
    // standard error.
    let format = settings.check.as_ref().map(|c| c.format);
    let out: Box<dyn std::io::Write + 'a> = match format {
        Some(f) if f != crate::check::Format::Text => {
            events.add("check", crate::check::reporter(f, out));
            Box::new(std::io::stderr())
        }
        _ => Box::new(out),
    };
    let terminal: Box<dyn Reporter + 'a> = match settings.log_format {
        crate::cli::args::LogFormat::Json => Box::new(crate::report::JsonLog::new(out)),
        _ if settings.progress => Box::new(Terminal::with_bars(out)),
        _ => Box::new(Terminal::new(out)),
    };
    let mut events = events
        .with(TERMINAL, terminal)
        .with("summary", tally.clone());
    if let Some(memory) = memory {
        events.add("drift", memory.recorder());
    }
    if let Some(dir) = &settings.report {
        let files = crate::report::report_files(dir).map_err(|source| RunError::Report {
            dir: dir.clone(),
            source,
        })?;
        for (name, reporter) in files {
            events.add(name, reporter);
        }
    }
    Ok(events)
}

/// People sign in before the run starts, one prompt at a time, so that no prompt lands among
/// progress bars; a tenant whose sign-in fails is reported and left out.
async fn sign_in(playbook: &Playbook, sessions: Vec<Session>) -> (Vec<Target>, Vec<Event>) {
    let mut not_signed_in = Vec::new();
    let mut targets = Vec::new();
    for session in sessions {
        if session.interactive
            && let Err(e) = session.tokens.token().await
        {
            not_signed_in.push(Event::TenantFinished {
                tenant: playbook.tenants[session.tenant].name().to_string(),
                stopped: Some(format!("sign-in failed: {e}")),
                duration_ms: 0,
            });
            continue;
        }
        session.tokens.forbid_prompts();
        targets.push(Target {
            tenant: session.tenant,
            client: session.client,
        });
    }
    (targets, not_signed_in)
}

/// The writes an earlier run of a resumed journal already did, which are not sent again.
/// Failed writes are sent again, and writes of unknown outcome are reported again (or sent
/// again), so counting them here would count them twice.
fn replayed(past: &PastRun) -> impl Iterator<Item = &crate::events::TaskResult> {
    past.done.values().filter(|r| {
        r.status == crate::events::Status::Ok && !crate::playbook::verbs::is_read_only(&r.cmdlet)
    })
}

/// Settles the run's exit code and what the summary says of how it ended; records the end in
/// the journal.
fn conclude(
    summary: &mut RunSummary,
    ended: Ended,
    shutdown: &Shutdown,
    journal: Option<&Journal>,
    events: &Fanout<'_>,
) -> i32 {
    summary.exit_code = if ended.signalled {
        exit::INTERRUPTED
    } else {
        exit_code(summary)
    };
    if let Some(why) = shutdown.guardrail() {
        summary.stopped_by = Some(why);
        if !ended.signalled {
            summary.exit_code = exit::STOPPED_BY_GUARDRAIL;
        }
    }
    let Some(journal) = journal else {
        return summary.exit_code;
    };
    if let Some(why) = journal.failure() {
        summary.complete = false;
        summary.exit_code = exit::TASKS_FAILED;
        say(
            events,
            format!(
                "the run stopped: its journal could not be written ({why}); the tasks it records are the ones sent"
            ),
        );
    }
    if let Err(e) = journal.finish(summary.exit_code) {
        say(events, format!("warning: cannot record the run's end: {e}"));
    }
    summary.exit_code
}

fn say(events: &Fanout<'_>, line: String) {
    let _ = events.emit(&Event::Message(line));
}

/// The run's tally, shared between the fan-out that feeds it and the run that reads it at the
/// end.
#[derive(Clone)]
struct Tally(Arc<Mutex<RunSummary>>);

impl Tally {
    fn new(playbook: &str) -> Self {
        Tally(Arc::new(Mutex::new(RunSummary {
            playbook: playbook.to_string(),
            complete: true,
            ..RunSummary::default()
        })))
    }

    fn take(&self) -> RunSummary {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Reporter for Tally {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .record(event);
        Ok(())
    }
}

/// The fingerprint of a plan, as a journal and a reviewed plan keep it: a SHA-256 of every
/// record of the planner's expansion.
pub(crate) fn fingerprint(planner: &Planner<'_, '_>) -> Result<String, crate::plan::PlanError> {
    let mut planned = PlannedTasks::default();
    planner.expand_all(&mut planned)?;
    Ok(planned.fingerprint())
}

/// Task events planned per tenant (tasks and skips), for the progress bars. Also the plan's fingerprint: a SHA-256 of every record, for `--resume` to tell whether the
/// plan changed.
#[derive(Default)]
struct PlannedTasks {
    per_tenant: std::collections::BTreeMap<String, usize>,
    /// The tenant whose records come now, and how many it has had.
    current: Option<(String, usize)>,
    hash: sha2::Sha256,
    /// Each record's JSON, in one buffer used again for every record.
    json: Vec<u8>,
}

impl PlannedTasks {
    /// Counts the tenant whose records ended.
    fn close_tenant(&mut self) {
        if let Some((tenant, count)) = self.current.take() {
            *self.per_tenant.entry(tenant).or_default() += count;
        }
    }

    fn fingerprint(&self) -> String {
        use sha2::Digest;
        self.hash
            .clone()
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

impl Sink for PlannedTasks {
    fn record(&mut self, record: PlanRecord<'_>) -> std::io::Result<()> {
        use sha2::Digest;
        // Masked: the fingerprint is kept on disk, and a hash of a plan holding a secret would
        // let the secret be guessed. A changed secret alone does not make the plan another.
        let record = record.masked();
        self.json.clear();
        if serde_json::to_writer(&mut self.json, &record).is_ok() {
            self.hash.update(&self.json);
        }
        match record {
            PlanRecord::Tenant(t) => {
                self.close_tenant();
                self.current = Some((t.tenant.into_owned(), 0));
            }
            PlanRecord::Task(_) | PlanRecord::Skipped(_) => {
                if let Some((_, count)) = &mut self.current {
                    *count += 1;
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// 0 when nothing failed; 3 when every tenant stopped without the service answering one of its
/// calls (none could be reached or signed in to); 1 otherwise.
fn exit_code(summary: &RunSummary) -> i32 {
    let t = &summary.total;
    if t.failed == 0 && t.unknown == 0 && summary.tenants.values().all(|s| s.stopped.is_none()) {
        return if t.stale > 0 {
            exit::STALE_PLAN
        } else {
            exit::OK
        };
    }
    let none_reached = summary
        .tenants
        .values()
        .all(|s| !s.reached && s.stopped.is_some());
    if none_reached {
        exit::NO_TENANT_REACHED
    } else {
        exit::TASKS_FAILED
    }
}
