//! One task's calls: what a tenant's calls share ([`Lane`]), a task as planned
//! ([`Planned`]), and sending one call with the step's timeout and retries. Both the executor
//! and desired state send through here.

use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use super::Target;
use crate::events::{Status, TaskResult};
use crate::exchange::ExchangeError;
use crate::plan::CompiledStep;
use crate::playbook::Tenant;

/// What a tenant's calls share.
pub(super) struct Lane<'t> {
    pub(super) target: &'t Target,
    pub(super) tenant: &'t Tenant,
    pub(super) name: String,
    /// Calls at once for this tenant.
    pub(super) width: usize,
    pub(super) limit: Semaphore,
    /// Recipients desired state has resolved in this tenant, by the identity written
    /// (lower-cased): their names, or `None` for one the service did not find.
    pub(super) recipients: std::sync::Mutex<std::collections::HashMap<String, Option<Vec<String>>>>,
}

/// A task as planned: what to call.
pub(super) struct Planned {
    pub(super) id: String,
    pub(super) tenant: String,
    pub(super) step: String,
    pub(super) cmdlet: String,
    pub(super) params: Map<String, Value>,
    /// The properties a desired-state step ensures.
    pub(super) ensure: Option<Map<String, Value>>,
    /// Their current values, when the item carried them.
    pub(super) carried: Option<Map<String, Value>>,
}

impl Planned {
    /// Its parameters and `ensure` properties together, as values templates gave.
    pub(super) fn sent(&self) -> std::borrow::Cow<'_, Map<String, Value>> {
        match &self.ensure {
            Some(ensure) if !ensure.is_empty() => {
                let mut all = self.params.clone();
                all.extend(ensure.iter().map(|(k, v)| (k.clone(), v.clone())));
                std::borrow::Cow::Owned(all)
            }
            _ => std::borrow::Cow::Borrowed(&self.params),
        }
    }

    pub(super) fn result(&self, status: Status) -> TaskResult {
        TaskResult::new(
            self.id.clone(),
            self.tenant.clone(),
            self.step.clone(),
            self.cmdlet.clone(),
            status,
        )
    }
}

/// One cmdlet call to send.
pub(super) struct Call<'a> {
    /// The cmdlet.
    pub(super) cmdlet: &'a str,
    /// Its documentation, which says how to encode each value.
    pub(super) spec: Option<&'a crate::catalog::Cmdlet>,
    /// Its parameters.
    pub(super) params: &'a Map<String, Value>,
    /// Whether sending it twice does no harm.
    pub(super) idempotent: bool,
    /// Whether it only reads.
    pub(super) read_only: bool,
}

impl<'a> Call<'a> {
    /// The call a task of `step` makes, as the step says to send it.
    pub(super) fn of(step: &'a crate::plan::CompiledStep<'_, '_>, task: &'a Planned) -> Self {
        Call {
            cmdlet: &task.cmdlet,
            spec: step.spec.as_deref(),
            params: &task.params,
            idempotent: step.settings.idempotent,
            read_only: step.read_only,
        }
    }
}

impl Call<'_> {
    /// Hides a SecureString's text, should an answer repeat it.
    pub(super) fn hide(&self, text: String) -> String {
        let secrets = crate::exchange::secure::secret_values(self.cmdlet, self.spec, self.params);
        if secrets.is_empty() {
            text
        } else {
            crate::exchange::secure::redact(&text, &secrets)
        }
    }
}

/// Records a call's failure in `result`: failed, or of unknown outcome for a write whose
/// answer was lost.
pub(super) fn fail(result: &mut TaskResult, e: &ExchangeError, read_only: bool, call: &Call<'_>) {
    // A write whose answer was lost may have been applied; a read that timed out changed
    // nothing.
    let lost = matches!(e, ExchangeError::Unconfirmed { .. }) && !read_only;
    result.status = if lost {
        Status::Unknown
    } else {
        Status::Failed
    };
    result.error_class = match e {
        // A read that got no answer changed nothing: it failed, by timing out.
        ExchangeError::Unconfirmed { .. } if !lost => Some("Timeout".to_string()),
        _ => e.cmdlet().map(|c| c.short_class().to_string()),
    };
    result.error = Some(call.hide(e.to_string()));
}

/// Sends one call, retrying its cmdlet errors as the step allows; adds its requests, retries
/// and warnings to `result`. A read's "not found" is not retried: it is an answer.
pub(super) async fn invoke(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    call: &Call<'_>,
    result: &mut TaskResult,
) -> Result<Vec<Value>, ExchangeError> {
    invoke_full(run, step, call, result)
        .await
        .map(|ok| ok.value)
}

/// [`invoke`], keeping the whole answer.
pub(super) async fn invoke_full(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    call: &Call<'_>,
    result: &mut TaskResult,
) -> Result<crate::exchange::CmdletResult, ExchangeError> {
    invoke_from(run, step, call, result, 0).await
}

/// [`invoke_full`] after `attempt` attempts already failed with a cmdlet error (in a batch).
pub(super) async fn invoke_from(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    call: &Call<'_>,
    result: &mut TaskResult,
    mut attempt: u32,
) -> Result<crate::exchange::CmdletResult, ExchangeError> {
    let settings = step.settings;
    loop {
        let sent =
            run.target
                .client
                .invoke_as(call.cmdlet, call.spec, call.params, call.idempotent);
        // A step's timeout bounds the whole call, throttling waits included; without one,
        // each request is bounded by the HTTP client (the service's 15 minutes and a margin)
        // and throttling is waited out.
        let outcome = match settings.timeout {
            Some(limit) => tokio::time::timeout(limit, sent).await.unwrap_or_else(|_| {
                Err(ExchangeError::Unconfirmed {
                    reason: format!(
                        "no answer within the step's timeout of {}s",
                        limit.as_secs()
                    ),
                })
            }),
            None => sent.await,
        };
        match outcome {
            Ok(mut ok) => {
                took(result, call, &mut ok);
                return Ok(ok);
            }
            Err(e) => {
                if !retry_cmdlet_error(step, call, &e, attempt, result) {
                    return Err(e);
                }
                attempt += 1;
            }
        }
    }
}

/// Records a call's answer in `result`: its objects, warnings (secrets hidden), retries and
/// requests.
pub(super) fn took(
    result: &mut TaskResult,
    call: &Call<'_>,
    ok: &mut crate::exchange::CmdletResult,
) {
    result.objects = ok.value.len();
    result.warnings.extend(
        std::mem::take(&mut ok.warnings)
            .into_iter()
            .map(|w| call.hide(w)),
    );
    result.retries.append(&mut ok.retries);
    result.requests += ok.requests;
    result.error = None;
    result.error_class = None;
}

/// Whether the step tries a call again after `e` on its `attempt`-th try (counted from 0),
/// recording why in `result` when it does. Only cmdlet errors are the step's to retry: the
/// client already retried everything transient; a read's "not found" is an answer.
pub(super) fn retry_cmdlet_error(
    step: &CompiledStep<'_, '_>,
    call: &Call<'_>,
    e: &ExchangeError,
    attempt: u32,
    result: &mut TaskResult,
) -> bool {
    let Some(cmdlet) = e.cmdlet() else {
        return false;
    };
    if attempt >= step.settings.retries
        || (call.read_only && crate::state::not_found(&cmdlet.class))
    {
        return false;
    }
    result
        .retries
        .push(format!("cmdlet: {}", cmdlet.short_class()));
    true
}
