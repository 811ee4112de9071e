//! What happens in a run, as one stream of events. The executor and the dispatcher emit them;
//! every consumer (the journal, the terminal, the run's tally, each report format) takes the
//! same events through one [`Fanout`]. A resumed run replays its earlier results through the
//! same path, and `tenantry report` rebuilds reports by replaying a journal.
//!
//! The journal is the one consumer that can refuse: its record of a task being sent must be on
//! disk before the request leaves, so [`Fanout::emit`] gives it each event first and tells the
//! sender when it could not record one; a task it could not record as sent is not sent.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The cmdlet succeeded.
    Ok,
    /// The cmdlet failed: nothing was changed.
    Failed,
    /// It did not run: its condition was false, or the run stopped first.
    Skipped,
    /// It was sent and its answer was lost, so it may or may not have been applied; or a
    /// killed run sent it and a resumed run did not send it again, since it writes and is not
    /// idempotent (`run --resume --retry-unknown` sends it).
    Unknown,
    /// `tenantry check` only: the object differs from what the step ensures, or the write
    /// would be sent; nothing was written.
    Drift,
    /// `tenantry run --plan` only: the write is not the one reviewed (its object changed since
    /// the review), so it was not sent.
    Stale,
}

impl Status {
    /// Its name in reports: `ok`, `failed`, `skipped`, `unknown`, `drift`, `stale`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Unknown => "unknown",
            Status::Drift => "drift",
            Status::Stale => "stale",
        }
    }

    /// Failed, or of unknown outcome: what guardrails and `on_error` count against a step.
    pub fn is_failure(self) -> bool {
        matches!(self, Status::Failed | Status::Unknown)
    }
}

/// One task's outcome.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TaskResult {
    /// The task id.
    pub id: String,
    /// The tenant's name.
    pub tenant: String,
    /// The step's key.
    pub step: String,
    /// The cmdlet.
    pub cmdlet: String,
    /// How it ended.
    pub status: Status,
    /// Objects the cmdlet returned.
    pub objects: usize,
    /// Its warnings.
    pub warnings: Vec<String>,
    /// Why each retry happened, in order.
    pub retries: Vec<String>,
    /// HTTP requests made.
    pub requests: u32,
    /// The error, when it failed or its outcome is unknown; the reason, when it was skipped.
    pub error: Option<String>,
    /// The exception class of a cmdlet error.
    pub error_class: Option<String>,
    /// Time from dispatch to outcome.
    pub duration_ms: u64,
    /// For a step with `ensure` or `state`: what was done to the object (`none` when it was
    /// already right), or in `tenantry check` what would be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<crate::state::Action>,
    /// For a step with `ensure` or `state`: each property that differed, current -> desired.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<crate::state::Change>,
    /// In `tenantry check`, for a write without `ensure`: the call that would be sent, or
    /// with `whatif` what the service said it would do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub would: Option<String>,
    /// In `tenantry check`, for drift: the previous check of the playbook did not find it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub new: bool,
}

/// The error class earlier versions recorded for a write whose answer was lost, with the
/// status `failed`; journals written by them are still read as of unknown outcome.
const LEGACY_UNCONFIRMED: &str = "UnconfirmedOutcome";

impl TaskResult {
    /// A task that has not run yet: no requests, no output, no error.
    pub fn new(id: String, tenant: String, step: String, cmdlet: String, status: Status) -> Self {
        TaskResult {
            id,
            tenant,
            step,
            cmdlet,
            status,
            objects: 0,
            warnings: Vec::new(),
            retries: Vec::new(),
            requests: 0,
            error: None,
            error_class: None,
            duration_ms: 0,
            action: None,
            changes: Vec::new(),
            would: None,
            new: false,
        }
    }

    /// The same task, with why it ended as it did: the error, or the reason it was skipped.
    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.error = Some(reason.into());
        self
    }

    /// What desired state found or would send, on one line: `create; Mode: Audit -> Enforce`,
    /// or the call a check would send; empty for other tasks.
    pub fn describe_changes(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(action) = self.action.filter(|a| {
            matches!(
                a,
                crate::state::Action::Create | crate::state::Action::Remove
            )
        }) {
            parts.push(action.as_str().to_string());
        }
        parts.extend(self.changes.iter().map(ToString::to_string));
        if let Some(would) = &self.would {
            parts.push(format!("would send: {would}"));
        }
        parts.join("; ")
    }

    /// Whether it may have been applied without its answer arriving.
    pub fn outcome_unknown(&self) -> bool {
        self.status == Status::Unknown
            || (self.status == Status::Failed
                && self.error_class.as_deref() == Some(LEGACY_UNCONFIRMED))
    }

    /// Whether it succeeded and changed something: a write without the service's no-change
    /// warning.
    pub fn changed(&self) -> bool {
        if let Some(action) = self.action {
            return self.status == Status::Ok && action != crate::state::Action::None;
        }
        self.status == Status::Ok
            && !crate::playbook::verbs::is_read_only(&self.cmdlet)
            && !self
                .warnings
                .iter()
                .any(|w| w.contains("completed successfully but no settings"))
    }
}

/// Where a finished task's result comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A call this run sent: the journal records its outcome.
    Sent,
    /// A task this run did not send: skipped by its condition or a stop, or of unknown outcome
    /// from a killed run and not sent again.
    NotSent,
    /// A write an earlier run of the same journal did, replayed when resuming: it counts in
    /// this run's summary and reports, and is not sent again.
    Earlier,
}

/// A run beginning.
#[derive(Clone, Debug, Default)]
pub struct RunStart {
    /// The run id.
    pub id: String,
    /// The folder of its journal.
    pub journal: PathBuf,
    /// Task events planned per tenant (tasks and skips), by tenant name.
    pub planned: BTreeMap<String, usize>,
    /// When resuming: writes already done, and tasks sent without an answer.
    pub resuming: Option<(usize, usize)>,
    /// `tenantry check`: reads are sent, writes are not, and no journal is kept.
    pub check: bool,
}

/// What a run tells its consumers.
#[derive(Clone, Debug)]
pub enum Event {
    /// The run starts: tenants are signed in and the first calls are about to leave.
    RunStarted(RunStart),
    /// A line for people: a warning, a stop, what the run is waiting for.
    Message(String),
    /// A tenant began a step.
    StepStarted {
        /// The tenant's name.
        tenant: String,
        /// The step's key.
        step: String,
        /// Task events the step will give (tasks and skips), unless the tenant stops first.
        records: usize,
        /// True when the step expands only now, from earlier output: its records were not
        /// counted in the plan.
        at_run_time: bool,
    },
    /// A task is about to be sent. Once the journal has it on disk, a run killed from here on
    /// knows the task may have been sent.
    TaskSent {
        /// The task id.
        id: String,
    },
    /// What a task returned, when a later step reads its step's output: a resumed run needs
    /// it. Emitted before the task's outcome, so a run killed between the two runs the task
    /// again rather than resuming without its output.
    TaskOutput {
        /// The task id.
        id: String,
        /// The objects it returned.
        values: Vec<Value>,
    },
    /// A task finished, was skipped, or is replayed from an earlier run.
    TaskFinished {
        /// Its outcome.
        result: TaskResult,
        /// Where the outcome comes from.
        origin: Origin,
    },
    /// A tenant finished all it will do.
    TenantFinished {
        /// The tenant's name.
        tenant: String,
        /// Why it stopped early, if it did.
        stopped: Option<String>,
        /// Time from its first dispatch to its end.
        duration_ms: u64,
    },
    /// The run is over: every consumer finishes with its summary.
    RunFinished(Box<RunSummary>),
}

/// One tenant's tally.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(default)]
pub struct TenantSummary {
    /// Tasks that succeeded.
    pub ok: usize,
    /// Tasks that succeeded and changed something (writes without the no-change warning).
    pub changed: usize,
    /// Tasks that failed.
    pub failed: usize,
    /// Tasks skipped by a condition or a stop.
    pub skipped: usize,
    /// Tasks whose outcome is unknown: sent without an answer, and not sent again.
    pub unknown: usize,
    /// `tenantry check` only: objects that differ from what their step ensures, and writes
    /// that would be sent.
    #[serde(skip_serializing_if = "is_zero")]
    pub drift: usize,
    /// Of the drift, what the previous check of the playbook did not find.
    #[serde(skip_serializing_if = "is_zero")]
    pub new: usize,
    /// `tenantry run --plan` only: writes not sent, since their objects changed since the
    /// review.
    #[serde(skip_serializing_if = "is_zero")]
    pub stale: usize,
    /// Retries made, all causes.
    pub retries: usize,
    /// Why the tenant stopped early, if it did.
    pub stopped: Option<String>,
    /// Its duration.
    pub duration_ms: u64,
    /// The service answered at least one of its calls: a success, or a cmdlet's own error.
    #[serde(skip)]
    pub reached: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl TenantSummary {
    fn count(&mut self, t: &TaskResult) {
        // A cmdlet error is the service's answer; a timeout, or a value refused before it
        // was sent, is not.
        self.reached |= matches!(t.status, Status::Ok | Status::Drift | Status::Stale)
            || (t.status == Status::Failed
                && t.error_class
                    .as_deref()
                    .is_some_and(|c| c != "Timeout" && c != crate::plan::INVALID_VALUE));
        match t.status {
            Status::Ok => {
                self.ok += 1;
                if t.changed() {
                    self.changed += 1;
                }
            }
            Status::Failed => self.failed += 1,
            Status::Skipped => self.skipped += 1,
            Status::Unknown => self.unknown += 1,
            Status::Drift => {
                self.drift += 1;
                self.new += usize::from(t.new);
            }
            Status::Stale => self.stale += 1,
        }
        self.retries += t.retries.len();
    }
}

/// The run's tally, per tenant and in all.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunSummary {
    /// The playbook's name.
    pub playbook: String,
    /// Per tenant, by name.
    pub tenants: BTreeMap<String, TenantSummary>,
    /// All tenants together.
    pub total: TenantSummary,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// False when the run was interrupted and the report is partial.
    pub complete: bool,
    /// The guardrail that stopped the run or a tenant (`limits.max_fail_percentage`,
    /// `--deadline`), if one did.
    pub stopped_by: Option<String>,
    /// The process exit code.
    pub exit_code: i32,
    /// True for `tenantry check`: nothing was written, and drift is counted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub check: bool,
}

impl RunSummary {
    /// Whether it succeeded: exit code 0, or for a check also the codes of changes pending
    /// (5, 6), since the check itself went through.
    pub fn succeeded(&self) -> bool {
        self.exit_code == crate::exit::OK
            || (self.check
                && matches!(
                    self.exit_code,
                    crate::exit::CHANGES_PENDING | crate::exit::CHANGES_PENDING_KNOWN
                ))
    }

    /// Counts one event.
    pub fn record(&mut self, event: &Event) {
        match event {
            Event::TaskFinished { result, .. } => {
                self.tenants
                    .entry(result.tenant.clone())
                    .or_default()
                    .count(result);
                self.total.count(result);
            }
            Event::TenantFinished {
                tenant,
                stopped,
                duration_ms,
            } => {
                let s = self.tenants.entry(tenant.clone()).or_default();
                s.stopped = stopped.clone();
                s.duration_ms = *duration_ms;
            }
            _ => {}
        }
    }
}

/// A consumer of the event stream.
pub trait Reporter {
    /// Takes one event, as it happens.
    fn event(&mut self, event: &Event) -> io::Result<()>;

    /// Writes out what it buffered: called when the run's future yields, so that what a
    /// reporter shows is never behind by more than the events of one wake-up.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<R: Reporter + ?Sized> Reporter for Box<R> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        (**self).event(event)
    }

    fn flush(&mut self) -> io::Result<()> {
        (**self).flush()
    }
}

/// Collects events on a channel: for library users and tests that read them elsewhere.
impl Reporter for tokio::sync::mpsc::UnboundedSender<Event> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        // A receiver that has gone is no longer interested; that is not the run's failure.
        let _ = self.send(event.clone());
        Ok(())
    }
}

/// A consumer that must hold every event before the run goes on: the journal.
pub trait Recorder: Send + Sync {
    /// Records one event; `Err` with why when it could not, and the run must not send more.
    fn record(&self, event: &Event) -> Result<(), String>;

    /// Writes what it gathered; called when the run's future yields, before any request
    /// handed over meanwhile reaches the network.
    fn flush(&self) -> Result<(), String> {
        Ok(())
    }
}

/// A named reporter, and the first error it gave.
struct Slot<'a> {
    name: &'static str,
    reporter: Box<dyn Reporter + 'a>,
    error: Option<io::Error>,
}

/// Delivers each event to the recorder first, then to every reporter, in the order added.
///
/// Reporters are called synchronously, on the task that emits: a run is waiting on the
/// network, and one thread doing both saves the wake-ups a channel would cost per task. So a
/// fan-out stays on the thread that made it.
pub struct Fanout<'a> {
    recorder: Option<&'a dyn Recorder>,
    slots: RefCell<Vec<Slot<'a>>>,
}

/// The recorder could not hold an event: nothing more may be sent.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NotRecorded(pub String);

impl<'a> Fanout<'a> {
    /// A fan-out with no consumers yet.
    pub fn new() -> Self {
        Fanout {
            recorder: None,
            slots: RefCell::new(Vec::new()),
        }
    }

    /// Sets the recorder, which sees every event before the reporters do.
    pub fn with_recorder(mut self, recorder: &'a dyn Recorder) -> Self {
        self.recorder = Some(recorder);
        self
    }

    /// Adds a reporter, named for its errors.
    pub fn with(mut self, name: &'static str, reporter: impl Reporter + 'a) -> Self {
        self.add(name, reporter);
        self
    }

    /// Adds a reporter, named for its errors.
    pub fn add(&mut self, name: &'static str, reporter: impl Reporter + 'a) {
        self.slots.get_mut().push(Slot {
            name,
            reporter: Box::new(reporter),
            error: None,
        });
    }

    /// Delivers `event`, and tells the caller when the recorder could not hold it. A task the
    /// recorder could not record as sent is not sent, so no reporter hears of it; anything else
    /// did happen, and every reporter hears of it all the same. A reporter's error is kept for
    /// [`Fanout::errors`]; the others go on.
    pub fn emit(&self, event: &Event) -> Result<(), NotRecorded> {
        let recorded = match self.recorder {
            Some(recorder) => recorder.record(event).map_err(NotRecorded),
            None => Ok(()),
        };
        if recorded.is_err() && matches!(event, Event::TaskSent { .. }) {
            return recorded;
        }
        for slot in self.slots.borrow_mut().iter_mut() {
            if let Err(e) = slot.reporter.event(event)
                && slot.error.is_none()
            {
                slot.error = Some(e);
            }
        }
        recorded
    }

    /// Flushes the recorder and every reporter. An outcome the recorder cannot write stops
    /// the run as a sent line it cannot write does.
    pub fn flush(&self) -> Result<(), NotRecorded> {
        let recorded = match self.recorder {
            Some(recorder) => recorder.flush().map_err(NotRecorded),
            None => Ok(()),
        };
        for slot in self.slots.borrow_mut().iter_mut() {
            if let Err(e) = slot.reporter.flush()
                && slot.error.is_none()
            {
                slot.error = Some(e);
            }
        }
        recorded
    }

    /// Runs `future`, flushing after each time it is polled. On a single-threaded runtime
    /// the connections' tasks run only between those polls, so what the run emitted while
    /// handing requests over is written before the requests go out, in one write per wake-up
    /// rather than one per event. A failed flush is kept where [`Fanout::emit`] finds it:
    /// the recorder refuses the next task sent, which stops the run.
    pub async fn flushing<F: Future>(&self, future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        std::future::poll_fn(|cx| {
            let poll = future.as_mut().poll(cx);
            let _ = self.flush();
            poll
        })
        .await
    }

    /// The first error of each reporter that failed, by name.
    pub fn errors(&self) -> Vec<(&'static str, io::Error)> {
        self.slots
            .borrow_mut()
            .iter_mut()
            .filter_map(|s| s.error.take().map(|e| (s.name, e)))
            .collect()
    }
}

impl Default for Fanout<'_> {
    fn default() -> Self {
        Fanout::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Count(std::sync::Arc<std::sync::atomic::AtomicUsize>);
    impl Reporter for Count {
        fn event(&mut self, _: &Event) -> io::Result<()> {
            self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
    }
    struct Broken;
    impl Reporter for Broken {
        fn event(&mut self, _: &Event) -> io::Result<()> {
            Err(io::Error::other("disk full"))
        }
    }
    struct Refuses;
    impl Recorder for Refuses {
        fn record(&self, event: &Event) -> Result<(), String> {
            match event {
                Event::TaskSent { .. } => Err("cannot write journal.jsonl".into()),
                _ => Ok(()),
            }
        }
    }

    #[test]
    fn every_reporter_sees_every_event_and_a_failing_one_does_not_stop_the_others() {
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let fanout = Fanout::new()
            .with("broken", Broken)
            .with("count", Count(seen.clone()));
        for _ in 0..3 {
            fanout.emit(&Event::Message("hello".into())).unwrap();
        }
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 3);
        let errors = fanout.errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].0, "broken");
        assert_eq!(errors[0].1.to_string(), "disk full");
    }

    #[test]
    fn a_task_the_recorder_cannot_record_as_sent_reaches_no_reporter() {
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let recorder = Refuses;
        let fanout = Fanout::new()
            .with_recorder(&recorder)
            .with("count", Count(seen.clone()));
        let refused = fanout.emit(&Event::TaskSent { id: "t/1/a".into() });
        assert_eq!(refused.unwrap_err().0, "cannot write journal.jsonl");
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 0);
        fanout.emit(&Event::Message("still here".into())).unwrap();
        assert_eq!(seen.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// A recorder that can no longer write anything: the disk is full.
    struct Full;
    impl Recorder for Full {
        fn record(&self, _: &Event) -> Result<(), String> {
            Err("no space left on device".into())
        }
    }

    #[test]
    fn an_outcome_the_recorder_cannot_hold_still_reaches_every_reporter() {
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let recorder = Full;
        let fanout = Fanout::new()
            .with_recorder(&recorder)
            .with("count", Count(seen.clone()));
        let result = TaskResult::new(
            "t/1/a".into(),
            "t".into(),
            "1".into(),
            "Set-Mailbox".into(),
            Status::Ok,
        );
        let refused = fanout.emit(&Event::TaskFinished {
            result,
            origin: Origin::Sent,
        });
        assert!(refused.is_err(), "the sender learns the journal failed");
        assert_eq!(
            seen.load(std::sync::atomic::Ordering::SeqCst),
            1,
            "the write happened: the reports must show it"
        );
    }

    #[test]
    fn a_lost_answer_is_of_unknown_outcome_in_old_journals_too() {
        let task = |status| {
            TaskResult::new(
                "t/1/a".into(),
                "t".into(),
                "1".into(),
                "Set-Mailbox".into(),
                status,
            )
        };
        assert!(!task(Status::Failed).outcome_unknown());
        assert!(task(Status::Unknown).because("504").outcome_unknown());
        let mut legacy = task(Status::Failed);
        legacy.error_class = Some(LEGACY_UNCONFIRMED.into());
        assert!(legacy.outcome_unknown());
    }
}
