//! Why a run stops dispatching, in one place: a signal, the deadline, a failure limit, a step
//! whose `on_error` is `stop-run`, or a journal that can no longer be written. Whatever the
//! reason, the effect is the same: no new calls, calls in flight finish, tasks not yet sent
//! are skipped.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Why the run stopped dispatching.
#[derive(Clone, Debug, PartialEq)]
pub enum StopReason {
    /// Ctrl-C or SIGTERM.
    Signal,
    /// `--deadline` is near: the time left is for calls in flight and the report.
    Deadline(Duration),
    /// `limits.max_fail_percentage` for the run was crossed (the reason says by how much).
    FailureLimit(String),
    /// A step with `on_error: stop-run` failed (the reason names it).
    StepFailed(String),
    /// The journal could not be written: tasks sent from now on would go unrecorded.
    Journal(String),
    /// A rollout wave failed its gate: the waves after it do not start (the reason names it).
    Gate(String),
}

impl StopReason {
    /// The guardrail this reason is, as the summary and the reports name it.
    pub fn guardrail(&self) -> Option<String> {
        match self {
            StopReason::Deadline(d) => Some(format!("the run stopped at its --deadline of {d:?}")),
            StopReason::FailureLimit(why) => Some(format!("the run stopped: {why}")),
            StopReason::Gate(why) => Some(why.clone()),
            _ => None,
        }
    }
}

/// The run's stop switch, shared by the dispatcher and every tenant.
#[derive(Debug, Default)]
pub struct Shutdown {
    stopping: AtomicBool,
    reason: Mutex<Option<StopReason>>,
    /// The first guardrail that stopped the run or a tenant.
    guardrail: Mutex<Option<String>>,
}

impl Shutdown {
    /// A switch not yet thrown.
    pub fn new() -> Self {
        Shutdown::default()
    }

    /// Stops dispatching for `reason`; the first reason stays.
    pub fn stop(&self, reason: StopReason) {
        if let Some(why) = reason.guardrail() {
            self.note_guardrail(why);
        }
        lock(&self.reason).get_or_insert(reason);
        self.stopping.store(true, Ordering::SeqCst);
    }

    /// Whether dispatching has stopped.
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    /// Why dispatching stopped, if it did.
    pub fn reason(&self) -> Option<StopReason> {
        lock(&self.reason).clone()
    }

    /// Records a guardrail that stopped one tenant, not the run; the first stays.
    pub fn note_guardrail(&self, why: String) {
        lock(&self.guardrail).get_or_insert(why);
    }

    /// The first guardrail that stopped the run or a tenant, if one did.
    pub fn guardrail(&self) -> Option<String> {
        lock(&self.guardrail).clone()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_reason_and_the_first_guardrail_stay() {
        let s = Shutdown::new();
        assert!(!s.is_stopping());
        s.note_guardrail("tenant contoso stopped: 5 of 10 failed".into());
        assert!(
            !s.is_stopping(),
            "a tenant's guardrail does not stop the run"
        );
        s.stop(StopReason::Signal);
        s.stop(StopReason::Deadline(Duration::from_secs(60)));
        assert!(s.is_stopping());
        assert_eq!(s.reason(), Some(StopReason::Signal));
        assert_eq!(
            s.guardrail().as_deref(),
            Some("tenant contoso stopped: 5 of 10 failed")
        );
    }
}
