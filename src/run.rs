//! `tenantry run`: resolves each tenant's endpoints and credentials (starting the built-in
//! sandbox for `cloud: sandbox` tenants), runs the scheduler, and feeds its events to the
//! reporters.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::exit;
use crate::journal::{Journal, Prior, StateDir};
use crate::plan::{PlanRecord, Planner, Sink};
use crate::playbook::Playbook;
use crate::report::{Progress, ReportDir, Reporter, RunSummary, Terminal};
use crate::scheduler::{Event, Guardrails, RunOptions, Target};
use crate::session::{SessionOptions, Sessions};

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
    /// Anything else about starting the run.
    #[error("{0}")]
    Other(String),
}

/// What `run` was asked to do beyond the playbook.
#[derive(Clone, Debug)]
pub struct RunSettings {
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
    /// `--resume ID|last`: go on with a past run.
    pub resume: Option<String>,
    /// `--force`: resume even though the plan changed.
    pub force: bool,
    /// `--retry-unknown`: send again the writes a killed run never heard back from.
    pub retry_unknown: bool,
    /// `--deadline`: the run must be over (report written) this long after it starts.
    pub deadline: Option<Duration>,
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
        }
    }
}

/// Ctrl-C and SIGTERM, registered before the run starts so none is missed.
struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Signals { unix }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next interrupt or termination request.
    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.unix {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Runs the planned playbook and returns the exit code.
pub async fn run(
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
    let selected: Vec<usize> = planner.tenant_indexes().to_vec();
    let tenant_names: Vec<String> = selected
        .iter()
        .map(|&i| playbook.tenants[i].name().to_string())
        .collect();
    // The lock first: a second run of this playbook stops here, before it touches anything.
    let state = StateDir::of(&playbook.path, settings.state_dir.as_deref());
    let _lock = state.lock(settings.wait_lock)?;
    let fingerprint = planned.fingerprint();
    let past = match &settings.resume {
        Some(id) => {
            let past = state.past(id)?;
            if !settings.force {
                past.check(&fingerprint, &tenant_names)?;
            }
            Some(past)
        }
        None => None,
    };
    let Sessions { sessions, sandbox } = Sessions::open(
        playbook,
        &selected,
        &SessionOptions {
            sandbox_latency: Some(settings.sandbox_latency),
            proxy: settings.proxy.clone(),
            retry: None,
        },
    )
    .await?;
    let journal = match &past {
        Some(past) => Journal::resume(past)?,
        None => state.create(&fingerprint, tenant_names.clone())?,
    };
    let journal = Arc::new(journal);
    for warning in sessions.iter().flat_map(|s| &s.warnings) {
        let _ = writeln!(out, "{warning}");
    }
    // People sign in before the run starts, one prompt at a time, so that no prompt lands
    // among progress bars; a tenant whose sign-in fails is reported and left out.
    let mut not_signed_in = Vec::new();
    let mut targets = Vec::new();
    for session in sessions {
        let name = playbook.tenants[session.tenant].name().to_string();
        if session.interactive
            && let Err(e) = session.tokens.token().await
        {
            not_signed_in.push(Event::Tenant {
                tenant: name,
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
    let mut report = match &settings.report {
        Some(dir) => Some(ReportDir::create(dir).map_err(|source| RunError::Report {
            dir: dir.clone(),
            source,
        })?),
        None => None,
    };
    let mut terminal = if settings.progress {
        Terminal::with_progress(&mut *out, Progress::stderr(&planned.per_tenant))
    } else {
        Terminal::new(&mut *out)
    };
    let mut summary = RunSummary {
        playbook: playbook.doc.name.clone(),
        complete: true,
        ..RunSummary::default()
    };
    let (tenant_limit, run_limit) = playbook
        .doc
        .limits
        .max_fail_percentage
        .map_or((None, None), |m| m.limits());
    let guardrails = Arc::new(Guardrails::new(tenant_limit, run_limit));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let options = RunOptions {
        max_in_flight: playbook.max_in_flight() as usize,
        stop: stop.clone(),
        journal: Some(Arc::clone(&journal)),
        prior: past
            .as_ref()
            .map(|p| Arc::new(Prior::of(p, settings.retry_unknown))),
        guardrails: Some(Arc::clone(&guardrails)),
    };
    let mut signals = Signals::install();
    let scheduler = crate::scheduler::run(planner, playbook, &targets, &options, tx);
    tokio::pin!(scheduler);
    let mut report_error = None;
    let mut consume = |event: Event,
                       summary: &mut RunSummary,
                       terminal: &mut Terminal<&mut dyn std::io::Write>,
                       report: &mut Option<ReportDir>| {
        summary.record(&event);
        let _ = terminal.event(&event);
        if let Some(r) = report
            && let Err(e) = r.event(&event)
            && report_error.is_none()
        {
            report_error = Some(e);
        }
    };
    let _ = terminal.message(&format!(
        "run {} (journal in {})",
        journal.id(),
        journal.dir().display()
    ));
    if let Some(past) = &past {
        // The writes already done count in this run's report; reads run again.
        let mut replayed = 0;
        for result in past.done.values() {
            if !crate::playbook::verbs::is_read_only(&result.cmdlet) {
                replayed += 1;
                summary.record(&Event::Task(result.clone()));
                if let Some(r) = &mut report {
                    let _ = r.event(&Event::Task(result.clone()));
                }
            }
        }
        let _ = terminal.message(&format!(
            "resuming: {replayed} write{} already done, {} sent without an answer",
            crate::diagnostic::plural(replayed),
            past.unknown.len()
        ));
    }
    for event in not_signed_in {
        consume(event, &mut summary, &mut terminal, &mut report);
    }
    // Events are consumed as they come, so results.jsonl grows while the run goes on.
    let mut finished = false;
    let mut signalled = false;
    let mut deadline: Option<tokio::time::Instant> = None;
    // `--deadline`: dispatch stops early enough for the calls in flight to finish (the grace,
    // or a tenth of the deadline when that is shorter) and the report to be written in time.
    // From the command's start: waiting for the lock and signing in count too.
    let run_started = tokio::time::Instant::from_std(started);
    let mut last_call = settings.deadline.map(|d| {
        let margin = settings.grace.min(d / 10);
        (run_started + d.saturating_sub(margin), run_started + d)
    });
    while !finished {
        let grace = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        let last_dispatch = async {
            match last_call {
                Some((at, _)) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = last_dispatch => {
                let (_, end) = last_call.take().unwrap_or((run_started, run_started));
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
                guardrails.trip(format!(
                    "the run stopped at its --deadline of {:?}",
                    settings.deadline.unwrap_or_default()
                ));
                let _ = terminal.message("stopping: the deadline is near; no new calls");
                deadline = Some(deadline.map_or(end, |d| d.min(end)));
            }
            _ = &mut scheduler => finished = true,
            Some(event) = rx.recv() => consume(event, &mut summary, &mut terminal, &mut report),
            _ = signals.next() => {
                summary.complete = false;
                signalled = true;
                if deadline.is_some() {
                    // A second signal: stop now, with what has been reported so far.
                    let _ = terminal.message("aborting: calls still in flight are abandoned");
                    break;
                }
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = terminal.message(&format!(
                    "stopping: no new calls; waiting up to {}s for those in flight (interrupt again to abort)",
                    settings.grace.as_secs()
                ));
                deadline = Some(tokio::time::Instant::now() + settings.grace);
            }
            _ = grace => {
                // Tasks not reported did not finish: the report is partial and says so.
                summary.complete = false;
                let _ = terminal.message("stopping: calls still in flight are abandoned");
                break;
            }
        }
    }
    while let Ok(event) = rx.try_recv() {
        consume(event, &mut summary, &mut terminal, &mut report);
    }
    summary.duration_ms = started.elapsed().as_millis() as u64;
    summary.exit_code = if signalled {
        exit::INTERRUPTED
    } else {
        exit_code(&summary)
    };
    if let Some(why) = guardrails.tripped() {
        summary.stopped_by = Some(why);
        if !signalled {
            summary.exit_code = exit::STOPPED_BY_GUARDRAIL;
        }
    }
    if let Some(why) = journal.failure() {
        summary.complete = false;
        summary.exit_code = exit::TASKS_FAILED;
        let _ = terminal.message(&format!(
            "the run stopped: its journal could not be written ({why}); the tasks it records are the ones sent"
        ));
    }
    if let Err(e) = journal.finish(summary.exit_code) {
        let _ = terminal.message(&format!("warning: cannot record the run's end: {e}"));
    }
    let _ = terminal.finish(&summary);
    if let Some(mut r) = report {
        let dir = settings.report.clone().unwrap_or_default();
        if let Some(source) = report_error {
            return Err(RunError::Report { dir, source });
        }
        r.finish(&summary)
            .map_err(|source| RunError::Report { dir, source })?;
    }
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    Ok(summary.exit_code)
}

/// Task events planned per tenant (tasks and skips), for the progress bars. Also the plan's fingerprint: a SHA-256 of every record, for `--resume` to tell whether the
/// plan changed.
#[derive(Default)]
struct PlannedTasks {
    per_tenant: std::collections::BTreeMap<String, usize>,
    current: String,
    hash: sha2::Sha256,
}

impl PlannedTasks {
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
        if let Ok(json) = serde_json::to_vec(&record) {
            self.hash.update(&json);
        }
        match record {
            PlanRecord::Tenant(t) => {
                self.current = t.tenant.into_owned();
                self.per_tenant.entry(self.current.clone()).or_default();
            }
            PlanRecord::Task(_) | PlanRecord::Skipped(_) => {
                *self.per_tenant.entry(self.current.clone()).or_default() += 1;
            }
            _ => {}
        }
        Ok(())
    }
}

/// 0 when nothing failed; 3 when no tenant got a single task done and every one stopped (none
/// could be reached or signed in to); 1 otherwise.
fn exit_code(summary: &RunSummary) -> i32 {
    let t = &summary.total;
    if t.failed == 0 && t.unknown == 0 && summary.tenants.values().all(|s| s.stopped.is_none()) {
        return exit::OK;
    }
    let none_reached = summary
        .tenants
        .values()
        .all(|s| s.ok == 0 && s.stopped.is_some());
    if none_reached && t.ok == 0 {
        exit::NO_TENANT_REACHED
    } else {
        exit::TASKS_FAILED
    }
}
