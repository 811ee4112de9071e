//! `limits.max_fail_percentage`: each tenant's and the run's share of failed tasks, and
//! whether one crossed its limit.

use std::sync::atomic::{AtomicUsize, Ordering};

use crate::events::Status;

/// Tasks that must have finished before a failure percentage is judged: one failure in the
/// first two tasks is not a trend.
const MIN_FINISHED: usize = 10;

/// Whether `failed` of `finished` crosses `limit` percent, and if so, by how much.
pub(crate) fn crossed(limit: Option<f64>, failed: usize, finished: usize) -> Option<String> {
    let limit = limit?;
    (finished >= MIN_FINISHED && failed as f64 * 100.0 > limit * finished as f64).then(|| {
        format!(
            "{failed} of {finished} finished tasks failed ({:.1}%), over limits.max_fail_percentage {limit}%",
            failed as f64 * 100.0 / finished as f64
        )
    })
}

/// Finished tasks (succeeded or failed) and failed ones: a tenant's, or the whole run's.
#[derive(Debug, Default)]
pub(crate) struct FailureCount {
    ok: AtomicUsize,
    failed: AtomicUsize,
}

impl FailureCount {
    /// Counts one outcome; the reason when it makes the count cross `limit`.
    pub(crate) fn count(&self, status: Status, limit: Option<f64>) -> Option<String> {
        match status {
            // Drift (in a check) finished without failing, as `ok` did.
            Status::Ok | Status::Drift => self.ok.fetch_add(1, Ordering::SeqCst),
            s if s.is_failure() => self.failed.fetch_add(1, Ordering::SeqCst),
            _ => return None,
        };
        let failed = self.failed.load(Ordering::SeqCst);
        crossed(limit, failed, failed + self.ok.load(Ordering::SeqCst))
    }

    /// Failed tasks, and all finished ones, counted since the last reset.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let failed = self.failed.load(Ordering::SeqCst);
        (failed, failed + self.ok.load(Ordering::SeqCst))
    }

    /// Starts counting afresh: for each wave of a rollout.
    pub(crate) fn reset(&self) {
        self.ok.store(0, Ordering::SeqCst);
        self.failed.store(0, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_is_judged_only_after_ten_finished_tasks() {
        let count = FailureCount::default();
        for _ in 0..5 {
            assert_eq!(count.count(Status::Failed, Some(50.0)), None);
        }
        for _ in 0..4 {
            assert_eq!(count.count(Status::Ok, Some(50.0)), None);
        }
        assert_eq!(count.count(Status::Skipped, Some(50.0)), None);
        let why = count.count(Status::Unknown, Some(50.0)).unwrap();
        assert_eq!(
            why,
            "6 of 10 finished tasks failed (60.0%), over limits.max_fail_percentage 50%"
        );
        assert_eq!(count.count(Status::Failed, None), None);
    }
}
