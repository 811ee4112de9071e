//! The scheduler: the [`dispatcher`] and the executor. The executor runs the planned tasks
//! within each tenant's connection limit and the run's in-flight limit, retrying cmdlet errors
//! as each step allows; the dispatcher runs it under the run's stop conditions (Ctrl-C and
//! SIGTERM, `--deadline`, the grace for calls in flight) and says what it is doing. Both
//! speak to the outside world only through [`crate::events`], and one [`Shutdown`] switch
//! holds why the run stopped.

mod batch;
mod call;
mod desired;
pub mod dispatcher;
mod executor;
mod guardrails;
mod shutdown;

use std::sync::Arc;

pub use shutdown::{Shutdown, StopReason};

use crate::events::Fanout;
use crate::exchange::Client;
use crate::journal::Prior;
use crate::plan::Planner;

/// A tenant to run, with the client that reaches it.
pub struct Target {
    /// The tenant's index in the playbook's tenant list.
    pub tenant: usize,
    /// Its admin API client.
    pub client: Arc<Client>,
}

/// What a run shares beyond its plan.
#[derive(Debug, Default)]
pub struct RunOptions {
    /// The stop switch: once thrown, tasks not yet sent are skipped and calls in flight
    /// finish.
    pub shutdown: Arc<Shutdown>,
    /// What the run being resumed already knows.
    pub prior: Option<Arc<Prior>>,
    /// `tenantry check`: reads are sent, writes are not; what they would change is reported
    /// as drift.
    pub check: bool,
    /// In a check: the drift the previous check of the playbook found, by
    /// [`crate::check::DriftKey`], so new drift can be told from old.
    pub seen_drift: Option<Arc<std::collections::HashSet<crate::check::DriftKey>>>,
    /// `run --plan`: the reviewed plan; only its writes are sent, and only while their objects
    /// are as observed when it was made.
    pub reviewed: Option<Arc<crate::reviewed::Reviewed>>,
}

/// Runs every target's planned tasks, delivering what happens to `events`; returns when every
/// tenant is done, or stopped.
pub async fn run(
    planner: &Planner<'_, '_>,
    targets: &[Target],
    options: &RunOptions,
    events: &Fanout<'_>,
) {
    let executor = executor::Executor {
        planner,
        options,
        events,
        global: tokio::sync::Semaphore::new(planner.limits().max_in_flight),
        run_failures: Default::default(),
        wave_failures: Default::default(),
    };
    executor.run(targets).await;
}
