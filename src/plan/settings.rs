//! What the run needs of the playbook's settings, resolved once when the plan is made: each
//! tenant's connection limit, the run's in-flight limit, and each step's retries, timeout,
//! `on_error` and idempotence. The executor reads these, never the raw playbook.

use std::time::Duration;

use crate::playbook::{OnError, Playbook, Step, verbs};

/// What a step's calls are held to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StepSettings {
    /// Times a cmdlet error is retried (the client already retries what is transient).
    pub(crate) retries: u32,
    /// The bound on a whole call, throttling waits included; `None` waits throttling out.
    pub(crate) timeout: Option<Duration>,
    /// What a failure does to the rest of the run.
    pub(crate) on_error: OnError,
    /// Whether a call may be sent twice without harm: as the step says, else by its verb.
    pub(crate) idempotent: bool,
    /// Whether a later step reads this step's output (a resumed run needs it from the
    /// journal).
    pub(crate) read_later: bool,
}

impl StepSettings {
    /// The step's own settings, else the playbook's defaults, else tenantry's.
    pub(crate) fn resolve(playbook: &Playbook, step: &Step, read_later: bool) -> Self {
        let defaults = &playbook.doc.defaults;
        StepSettings {
            retries: step.retries.or(defaults.retries).unwrap_or(0),
            timeout: step
                .timeout
                .as_ref()
                .or(defaults.timeout.as_ref())
                .map(|t| t.0),
            on_error: step.on_error.or(defaults.on_error).unwrap_or_default(),
            idempotent: step
                .idempotent
                .unwrap_or_else(|| verbs::is_idempotent(&step.cmdlet.value)),
            read_later,
        }
    }
}

/// The run's limits, per tenant and in all.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Limits {
    /// Per tenant of the playbook (by index): calls at once.
    pub(crate) connections: Vec<usize>,
    /// Calls at once across all tenants.
    pub(crate) max_in_flight: usize,
    /// `limits.max_fail_percentage`: the tenant's and the run's.
    pub(crate) max_fail_percentage: (Option<f64>, Option<f64>),
}

impl Limits {
    /// Resolved from the playbook, each at least 1.
    pub(crate) fn resolve(playbook: &Playbook) -> Self {
        Limits {
            connections: playbook
                .tenants
                .iter()
                .map(|t| playbook.connections_for(t).max(1) as usize)
                .collect(),
            max_in_flight: playbook.max_in_flight().max(1) as usize,
            max_fail_percentage: playbook
                .doc
                .limits
                .max_fail_percentage
                .map_or((None, None), |m| m.limits()),
        }
    }
}
