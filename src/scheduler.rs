//! The scheduler: runs a planned playbook against its tenants. Per tenant the steps run in
//! order and the items of a step run concurrently, within the tenant's connection limit and a
//! global in-flight limit; tenants are independent. A step that reads an earlier step's output
//! is expanded when that output is known. Every task's outcome goes out as an [`Event`].
//!
//! Tenants run as futures on the caller's task rather than as spawned tasks: the planner
//! borrows the playbook, and the work is waiting on the network, not computing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::stream::{FuturesUnordered, StreamExt};
use minijinja::value::{Serde, Value as TemplateValue};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::{Semaphore, mpsc::UnboundedSender};

use crate::exchange::{Client, ExchangeError};
use crate::journal::{Decision, Journal, Prior};
use crate::plan::{CompiledStep, PlanRecord, Planner, Sink, Summary};
use crate::playbook::{OnError, Playbook};
use crate::template::TenantScope;

/// The error class of a write whose answer was lost: it may have been applied.
pub const UNCONFIRMED: &str = "UnconfirmedOutcome";

/// No step timeout: a bound no call reaches.
const NO_TIMEOUT: Duration = Duration::from_secs(365 * 24 * 3600);

/// A tenant to run, with the client that reaches it.
pub struct Target {
    /// The tenant's index in the playbook's tenant list.
    pub tenant: usize,
    /// Its admin API client.
    pub client: Arc<Client>,
}

/// How a task ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The cmdlet succeeded.
    Ok,
    /// The cmdlet failed.
    Failed,
    /// It did not run: its condition was false, or the run stopped first.
    Skipped,
    /// A killed run sent it and never learned its outcome; it writes and is not idempotent,
    /// so it was not sent again (`run --resume --retry-unknown` sends it).
    Unknown,
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
    /// The error, when it failed; the reason, when it was skipped.
    pub error: Option<String>,
    /// The exception class of a cmdlet error.
    pub error_class: Option<String>,
    /// Time from dispatch to outcome.
    pub duration_ms: u64,
}

/// What the scheduler tells its reporters.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A task finished (or was skipped).
    Task(TaskResult),
    /// A tenant began a step.
    Step {
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
    /// A tenant finished all it will do.
    Tenant {
        /// The tenant's name.
        tenant: String,
        /// Why it stopped early, if it did.
        stopped: Option<String>,
        /// Time from its first dispatch to its end.
        duration_ms: u64,
    },
}

/// Limits across the whole run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Calls in flight across all tenants.
    pub max_in_flight: usize,
    /// Set to stop dispatching: tasks not yet sent are skipped, calls in flight finish.
    pub stop: Arc<AtomicBool>,
    /// The journal each task is recorded in, before it is sent and once its outcome is known.
    pub journal: Option<Arc<Journal>>,
    /// What the run being resumed already knows.
    pub prior: Option<Arc<Prior>>,
    /// Failure limits (`limits.max_fail_percentage`).
    pub guardrails: Option<Arc<Guardrails>>,
}

/// Tasks that must have finished before a failure percentage is judged: one failure in the
/// first two tasks is not a trend.
const MIN_FINISHED: usize = 10;

/// Failure limits, each tenant's and the run's, and whether one was crossed.
#[derive(Debug, Default)]
pub struct Guardrails {
    tenant: Option<f64>,
    run: Option<f64>,
    ok: AtomicUsize,
    failed: AtomicUsize,
    tripped: std::sync::Mutex<Option<String>>,
}

impl Guardrails {
    /// Limits in percent of finished tasks (ok or failed) that failed.
    pub fn new(tenant: Option<f64>, run: Option<f64>) -> Self {
        Guardrails {
            tenant,
            run,
            ..Guardrails::default()
        }
    }

    /// Why the run was stopped by a guardrail, if it was.
    pub fn tripped(&self) -> Option<String> {
        self.tripped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Records that a guardrail stopped the run or a tenant (the first reason stays).
    pub fn trip(&self, why: String) {
        self.tripped
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get_or_insert(why);
    }

    /// Whether `failed` of `finished` crosses `limit` percent.
    fn crossed(limit: Option<f64>, failed: usize, finished: usize) -> Option<String> {
        let limit = limit?;
        (finished >= MIN_FINISHED && failed as f64 * 100.0 > limit * finished as f64).then(|| {
            format!(
                "{failed} of {finished} finished tasks failed ({:.1}%), over limits.max_fail_percentage {limit}%",
                failed as f64 * 100.0 / finished as f64
            )
        })
    }

    /// Counts one outcome of the run; the reason when it makes the run cross its limit.
    fn count(&self, status: Status) -> Option<String> {
        match status {
            Status::Ok => self.ok.fetch_add(1, Ordering::SeqCst),
            Status::Failed => self.failed.fetch_add(1, Ordering::SeqCst),
            _ => return None,
        };
        let failed = self.failed.load(Ordering::SeqCst);
        let finished = failed + self.ok.load(Ordering::SeqCst);
        Guardrails::crossed(self.run, failed, finished)
    }
}

/// Runs every target's tasks and sends their outcomes to `events`.
pub async fn run(
    planner: &Planner<'_, '_>,
    playbook: &Playbook,
    targets: &[Target],
    options: &RunOptions,
    events: UnboundedSender<Event>,
) {
    let global = Semaphore::new(options.max_in_flight.max(1));
    // FuturesUnordered polls only the tenants that were woken, so the cost of a finished call
    // does not grow with the number of tenants.
    let mut tenants: FuturesUnordered<_> = targets
        .iter()
        .map(|target| run_tenant(planner, playbook, target, &global, options, events.clone()))
        .collect();
    while tenants.next().await.is_some() {}
}

async fn run_tenant(
    planner: &Planner<'_, '_>,
    playbook: &Playbook,
    target: &Target,
    global: &Semaphore,
    options: &RunOptions,
    events: UnboundedSender<Event>,
) {
    let stop = &*options.stop;
    let tenant = &playbook.tenants[target.tenant];
    let name = tenant.name().to_string();
    let started = Instant::now();
    let limit = Semaphore::new(playbook.connections_for(tenant).max(1) as usize);
    let base = planner.tenant_scope(tenant);
    let mut outputs = Map::new();
    let mut stopped = None;
    let (mut tenant_ok, mut tenant_failed) = (0usize, 0usize);
    for step in planner.steps() {
        if stop.load(Ordering::SeqCst) {
            stopped = Some("the run was stopped".to_string());
            break;
        }
        let scope = Arc::new(TenantScope {
            tenant: base.tenant.clone(),
            vars: base.vars.clone(),
            steps: TemplateValue::from(Serde(Value::Object(outputs.clone()))),
        });
        // A step that expands only now is expanded once in full without keeping anything,
        // so that a template error in any item stops the tenant before the step sends a call.
        // Other steps were checked when the run was planned.
        if step.is_deferred()
            && let Err(e) = check_step(planner, tenant, &scope, step).await
        {
            stopped = Some(format!("step {} could not be expanded: {e}", step.key));
            break;
        }
        let mut buffer = Collect::default();
        let mut summary = Summary::default();
        let mut expansion =
            match planner.start_step(tenant, &scope, step, &mut buffer, &mut summary) {
                Ok(expansion) => expansion,
                Err(e) => {
                    stopped = Some(format!("step {} could not be expanded: {e}", step.key));
                    break;
                }
            };
        let _ = events.send(Event::Step {
            tenant: name.clone(),
            step: step.key.to_string(),
            records: expansion.records(),
            at_run_time: step.is_deferred(),
        });
        // Tasks are expanded as slots free up and only as many calls exist at once as the
        // tenant may make, so memory and the work per wake-up stay small however long the
        // step is.
        let width = playbook.connections_for(tenant).max(1) as usize;
        let idempotent = idempotent(step);
        // A later step reads this one's output: a resumed run needs it from the journal.
        let read_later = planner.steps().iter().any(|s| {
            s.depends_on
                .iter()
                .any(|d| d.as_str() == step.key || d.as_str() == "*")
        });
        let mut in_flight = FuturesUnordered::new();
        let mut outputs_by_index: Vec<(usize, Vec<Value>)> = Vec::new();
        let mut failures = 0;
        let mut dispatched = 0;
        let mut expanding = true;
        let mut since_yield = 0;
        loop {
            while expanding && in_flight.len() < width {
                // A long run of skipped items expands without waiting on anything: let the
                // other tenants' calls (on this same thread) go on now and then.
                since_yield += 1;
                if since_yield == YIELD_EVERY {
                    since_yield = 0;
                    tokio::task::yield_now().await;
                }
                if buffer.tasks.is_empty() {
                    match expansion.next(&mut buffer, &mut summary) {
                        Ok(more) => expanding = more,
                        Err(e) => {
                            // Only when the data changed since the run was planned.
                            stopped = Some(format!(
                                "step {} could not be expanded after {dispatched} task{}: {e}",
                                step.key,
                                crate::diagnostic::plural(dispatched)
                            ));
                            expanding = false;
                        }
                    }
                }
                for skipped in buffer.skipped.drain(..) {
                    // A resumed run reports a write it already did once: that outcome stands
                    // even when the write's condition no longer holds.
                    if let Some(prior) = &options.prior
                        && prior.decide(&skipped.id, step.read_only, idempotent) == Decision::Known
                    {
                        continue;
                    }
                    let _ = events.send(Event::Task(skipped));
                }
                if let Some(task) = buffer.tasks.pop() {
                    // A resumed run sends again only what it must.
                    match options.prior.as_ref().map_or(Decision::Send, |p| {
                        p.decide(&task.id, step.read_only, idempotent)
                    }) {
                        Decision::Send => {}
                        Decision::Known => {
                            // Its output, recorded when it ran, still feeds later steps.
                            if let Some(values) =
                                options.prior.as_ref().and_then(|p| p.outputs.get(&task.id))
                            {
                                outputs_by_index.push((dispatched, values.clone()));
                                dispatched += 1;
                            }
                            continue;
                        }
                        Decision::Unknown => {
                            let _ = events.send(Event::Task(unknown(task)));
                            continue;
                        }
                    }
                    let index = dispatched;
                    dispatched += 1;
                    let call = run_task(
                        playbook,
                        step,
                        target,
                        Slots {
                            tenant: &limit,
                            global,
                        },
                        options,
                        read_later,
                        task,
                    );
                    in_flight.push(async move {
                        let (result, values) = call.await;
                        (index, result, values)
                    });
                }
            }
            let Some((index, result, values)) = in_flight.next().await else {
                break;
            };
            if result.status == Status::Failed {
                failures += 1;
            }
            if let Some(guard) = &options.guardrails {
                match result.status {
                    Status::Ok => tenant_ok += 1,
                    Status::Failed => tenant_failed += 1,
                    _ => {}
                }
                if let Some(why) = guard.count(result.status) {
                    guard.trip(format!("the run stopped: {why}"));
                    stop.store(true, Ordering::SeqCst);
                }
                if stopped.is_none()
                    && let Some(why) =
                        Guardrails::crossed(guard.tenant, tenant_failed, tenant_ok + tenant_failed)
                {
                    // The tenant's in-flight calls finish; nothing more is sent to it.
                    guard.trip(format!("tenant {name} stopped: {why}"));
                    stopped = Some(why);
                    expanding = false;
                }
            }
            if !values.is_empty() {
                outputs_by_index.push((index, values));
            }
            let _ = events.send(Event::Task(result));
        }
        // The output keeps the tasks' order, not the order they finished in.
        outputs_by_index.sort_by_key(|(index, _)| *index);
        let output: Vec<Value> = outputs_by_index.into_iter().flat_map(|(_, v)| v).collect();
        let mut entry = Map::new();
        entry.insert("output".into(), Value::Array(output));
        outputs.insert(step.key.to_string(), Value::Object(entry));
        if failures > 0 {
            let on_error = step
                .step
                .on_error
                .or(playbook.doc.defaults.on_error)
                .unwrap_or_default();
            match on_error {
                OnError::Continue => {}
                OnError::StopTenant => {
                    stopped.get_or_insert_with(|| {
                        format!(
                            "step {} failed ({failures} task{})",
                            step.key,
                            crate::diagnostic::plural(failures)
                        )
                    });
                }
                OnError::StopRun => {
                    stop.store(true, Ordering::SeqCst);
                    stopped.get_or_insert_with(|| {
                        format!("step {} failed and stops the run", step.key)
                    });
                }
            }
        }
        if stopped.is_some() {
            break;
        }
    }
    let _ = events.send(Event::Tenant {
        tenant: name,
        stopped,
        duration_ms: started.elapsed().as_millis() as u64,
    });
}

/// Items expanded between yields to the runtime when no call is waited on.
const YIELD_EVERY: usize = 256;

/// Expands a whole step, keeping nothing, to find a template error in any item before the
/// step sends its first call. It yields now and then: on a single-threaded runtime, the other
/// tenants' calls wait while it works.
async fn check_step(
    planner: &Planner<'_, '_>,
    tenant: &crate::playbook::Tenant,
    scope: &Arc<TenantScope>,
    step: &CompiledStep<'_, '_>,
) -> Result<(), crate::plan::PlanError> {
    let mut sink = crate::plan::CountingSink::default();
    let mut summary = Summary::default();
    let mut expansion = planner.start_step(tenant, scope, step, &mut sink, &mut summary)?;
    let mut expanded = 0;
    while expansion.next(&mut sink, &mut summary)? {
        expanded += 1;
        if expanded % YIELD_EVERY == 0 {
            tokio::task::yield_now().await;
        }
    }
    Ok(())
}

/// The semaphores a call takes a slot of: its tenant's, then the run's.
struct Slots<'a> {
    tenant: &'a Semaphore,
    global: &'a Semaphore,
}

/// A task as planned: what to call.
struct Planned {
    id: String,
    tenant: String,
    step: String,
    cmdlet: String,
    params: Map<String, Value>,
}

async fn run_task(
    playbook: &Playbook,
    step: &CompiledStep<'_, '_>,
    target: &Target,
    slots: Slots<'_>,
    options: &RunOptions,
    read_later: bool,
    task: Planned,
) -> (TaskResult, Vec<Value>) {
    let stop = &*options.stop;
    let idempotent = idempotent(step);
    let mut result = TaskResult {
        id: task.id,
        tenant: task.tenant,
        step: task.step,
        cmdlet: task.cmdlet,
        status: Status::Skipped,
        objects: 0,
        warnings: Vec::new(),
        retries: Vec::new(),
        requests: 0,
        error: None,
        error_class: None,
        duration_ms: 0,
    };
    // The tenant's slot first, then the global one: a tenant at its limit never holds a
    // global slot another tenant could use.
    let (Ok(_tenant_slot), Ok(_global_slot)) =
        (slots.tenant.acquire().await, slots.global.acquire().await)
    else {
        result.error = Some("the run is shutting down".into());
        return (result, Vec::new());
    };
    if stop.load(Ordering::SeqCst) {
        result.error = Some("the run was stopped before this task".into());
        return (result, Vec::new());
    }
    // Recorded before the request leaves: a run killed from here on knows the task may have
    // been sent.
    if let Some(journal) = &options.journal
        && !journal.sent(&result.id)
    {
        stop.store(true, Ordering::SeqCst);
        result.error = Some(format!(
            "not sent: {}",
            journal.failure().unwrap_or_default()
        ));
        return (result, Vec::new());
    }
    let started = Instant::now();
    let defaults = &playbook.doc.defaults;
    let retries = step.step.retries.or(defaults.retries).unwrap_or(0);
    // A step's timeout bounds the whole call, throttling waits included; without one, each
    // request is bounded by the HTTP client (the service's 15 minutes and a margin) and
    // throttling is waited out.
    let timeout = step
        .step
        .timeout
        .as_ref()
        .or(defaults.timeout.as_ref())
        .map_or(NO_TIMEOUT, |t| t.0);
    let mut values = Vec::new();
    for attempt in 0..=retries {
        let call = target
            .client
            .invoke_as(&result.cmdlet, &task.params, idempotent);
        let outcome = match tokio::time::timeout(timeout, call).await {
            Ok(outcome) => outcome,
            Err(_) => Err(ExchangeError::Unconfirmed {
                reason: format!(
                    "no answer within the step's timeout of {}s",
                    timeout.as_secs()
                ),
            }),
        };
        match outcome {
            Ok(ok) => {
                result.status = Status::Ok;
                result.objects = ok.value.len();
                result.warnings = ok.warnings;
                result.retries.extend(ok.retries);
                result.requests += ok.requests;
                result.error = None;
                result.error_class = None;
                values = ok.value;
                break;
            }
            Err(e) => {
                result.status = Status::Failed;
                result.error_class = match &e {
                    // Marked, so a resumed run treats it as of unknown outcome, not as failed.
                    ExchangeError::Unconfirmed { .. } => Some(UNCONFIRMED.to_string()),
                    _ => e.cmdlet().map(|c| c.short_class().to_string()),
                };
                result.error = Some(e.to_string());
                // Only cmdlet errors are the step's to retry: the client already retried
                // everything transient.
                if e.cmdlet().is_none() || attempt == retries {
                    break;
                }
                result.retries.push(format!(
                    "cmdlet: {}",
                    result.error_class.as_deref().unwrap_or("error")
                ));
            }
        }
    }
    result.duration_ms = started.elapsed().as_millis() as u64;
    // The output before the outcome: a run killed between the two re-runs the task rather
    // than resuming without what it returned.
    if let Some(journal) = &options.journal
        && ((read_later && result.status == Status::Ok && !journal.output(&result.id, &values))
            || !journal.done(&result))
    {
        // The outcome is known here but not on disk: stop before more go unrecorded.
        stop.store(true, Ordering::SeqCst);
    }
    (result, values)
}

/// Whether a step's call may be sent twice without harm: as the step says, else by its verb.
fn idempotent(step: &CompiledStep<'_, '_>) -> bool {
    step.step
        .idempotent
        .unwrap_or_else(|| crate::playbook::verbs::is_idempotent(&step.step.cmdlet.value))
}

/// A task a killed run sent without learning its outcome, not to be sent again.
fn unknown(task: Planned) -> TaskResult {
    TaskResult {
        id: task.id,
        tenant: task.tenant,
        step: task.step,
        cmdlet: task.cmdlet,
        status: Status::Unknown,
        objects: 0,
        warnings: Vec::new(),
        retries: Vec::new(),
        requests: 0,
        error: Some(
            "outcome unknown: a killed run sent it and never heard back; it writes and is not idempotent, so it was not sent again (check it, then `run --resume --retry-unknown`)".into(),
        ),
        error_class: None,
        duration_ms: 0,
    }
}

/// Collects a step's expansion: the tasks to run and the ones skipped.
#[derive(Default)]
struct Collect {
    tasks: Vec<Planned>,
    skipped: Vec<TaskResult>,
}

impl Sink for Collect {
    fn record(&mut self, record: PlanRecord<'_>) -> std::io::Result<()> {
        match record {
            PlanRecord::Task(t) => self.tasks.push(Planned {
                id: t.id,
                tenant: t.tenant.into_owned(),
                step: t.step.into_owned(),
                cmdlet: t.cmdlet.into_owned(),
                params: t.params,
            }),
            PlanRecord::Skipped(s) => self.skipped.push(TaskResult {
                id: s.id,
                tenant: s.tenant.into_owned(),
                step: s.step.into_owned(),
                cmdlet: String::new(),
                status: Status::Skipped,
                objects: 0,
                warnings: Vec::new(),
                retries: Vec::new(),
                requests: 0,
                error: Some(s.reason.into_owned()),
                error_class: None,
                duration_ms: 0,
            }),
            _ => {}
        }
        Ok(())
    }
}
