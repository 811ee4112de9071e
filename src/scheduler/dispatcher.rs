//! The dispatcher: runs the executor until it is done or told to stop. Ctrl-C or SIGTERM
//! stops dispatching and gives calls in flight a grace period (a second signal abandons them);
//! `--deadline` stops dispatching early enough for calls in flight to finish and the report to
//! be written in time. Either way it says so on the event stream.

use std::time::{Duration, Instant};

use tenantry_common::signal::Signals;
use tokio::time::Instant as TokioInstant;

use super::{RunOptions, StopReason, Target};
use crate::events::{Event, Fanout};
use crate::plan::Planner;

/// The run's time limits.
#[derive(Clone, Copy, Debug)]
pub struct TimeLimits {
    /// When the command started: `--deadline` counts from here (waiting for the lock and
    /// signing in count too).
    pub started: Instant,
    /// How long calls in flight may finish after a stop.
    pub grace: Duration,
    /// `--deadline`: the run must be over this long after it started.
    pub deadline: Option<Duration>,
}

/// How the dispatch ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ended {
    /// Ctrl-C or SIGTERM stopped it.
    pub signalled: bool,
    /// Calls still in flight were abandoned, or a signal cut the run short: the results are
    /// partial.
    pub partial: bool,
}

/// Runs the executor over `targets` under `limits`, listening to `signals` (installed by the
/// caller before the run starts, so that none is missed).
pub async fn dispatch(
    planner: &Planner<'_, '_>,
    targets: &[Target],
    options: &RunOptions,
    events: &Fanout<'_>,
    limits: TimeLimits,
    mut signals: Signals,
) -> Ended {
    let executor = super::run(planner, targets, options, events);
    tokio::pin!(executor);
    let say = |line: String| {
        let _ = events.emit(&Event::Message(line));
    };
    let started = TokioInstant::from_std(limits.started);
    // Dispatch stops a margin before the deadline (the grace, or a tenth of the deadline when
    // that is shorter), so that calls in flight finish and the report is written in time.
    let mut last_call = limits.deadline.map(|d| {
        let margin = limits.grace.min(d / 10);
        (started + d.saturating_sub(margin), started + d, d)
    });
    // Once stopping: when calls still in flight are abandoned.
    let mut abandon_at: Option<TokioInstant> = None;
    let mut ended = Ended::default();
    loop {
        tokio::select! {
            _ = sleep_until(last_call.map(|(at, _, _)| at)) => {
                let Some((_, end, deadline)) = last_call.take() else { continue };
                options.shutdown.stop(StopReason::Deadline(deadline));
                say("stopping: the deadline is near; no new calls".into());
                abandon_at = Some(abandon_at.map_or(end, |at| at.min(end)));
            }
            _ = &mut executor => break,
            _ = signals.next() => {
                ended.signalled = true;
                ended.partial = true;
                if abandon_at.is_some() {
                    // A second signal: stop now, with what has been reported so far.
                    say("aborting: calls still in flight are abandoned".into());
                    break;
                }
                options.shutdown.stop(StopReason::Signal);
                say(format!(
                    "stopping: no new calls; waiting up to {}s for those in flight (interrupt again to abort)",
                    limits.grace.as_secs()
                ));
                abandon_at = Some(TokioInstant::now() + limits.grace);
            }
            _ = sleep_until(abandon_at) => {
                // Tasks not reported did not finish: the report is partial and says so.
                ended.partial = true;
                say("stopping: calls still in flight are abandoned".into());
                break;
            }
        }
    }
    ended
}

/// Sleeps until `at`, or forever when there is no `at`.
async fn sleep_until(at: Option<TokioInstant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
