//! The executor: runs the planned tasks against their tenants. Per tenant the steps run in
//! order and the items of a step run concurrently, within the tenant's connection limit and
//! the run's in-flight limit; tenants are independent. A step that reads an earlier step's
//! output is expanded when that output is known. It owns the semaphores, the retries of
//! cmdlet errors and the clients; it talks to the outside world only through events, and
//! reads its stop switch, never a signal.
//!
//! Tenants run as futures on the caller's task rather than as spawned tasks: the planner
//! borrows the playbook, and the work is waiting on the network, not computing.
//!
//! A step with `batch` sends its tasks in groups, each group one `$batch` request holding one
//! of the tenant's connections (see [`super::batch`]).

use std::sync::Arc;
use std::time::Instant;

use futures_util::future::Either;
use futures_util::stream::{FuturesUnordered, StreamExt};
use minijinja::value::{Serde, Value as TemplateValue};
use serde_json::{Map, Value};
use tokio::sync::Semaphore;

use super::call::{Call, Lane, Planned, fail, invoke};
use super::guardrails::FailureCount;
use super::shutdown::{Shutdown, StopReason};
use super::{RunOptions, Target};
use crate::events::{Event, Fanout, Origin, Status, TaskResult};
use crate::journal::Decision;
use crate::plan::{CompiledStep, PlanRecord, Planner, Sink, Summary};
use crate::playbook::{OnError, Tenant};
use crate::template::TenantScope;

/// Items expanded between yields to the runtime when no call is waited on.
const YIELD_EVERY: usize = 256;

/// One run of the executor: what every tenant shares.
pub(super) struct Executor<'r, 'f, 'p, 'e, 's> {
    pub(super) planner: &'p Planner<'e, 's>,
    pub(super) options: &'r RunOptions,
    pub(super) events: &'r Fanout<'f>,
    /// The run's in-flight limit.
    pub(super) global: Semaphore,
    /// Outcomes across the run, for its failure limit.
    pub(super) run_failures: FailureCount,
    /// Outcomes in the rollout wave running, for its gate.
    pub(super) wave_failures: FailureCount,
}

/// A tenant while its steps run: what its calls share, and what they change.
struct TenantRun<'t> {
    lane: Lane<'t>,
    state: TenantState,
}

/// What a tenant's finished calls change.
#[derive(Default)]
struct TenantState {
    /// Each finished step's output, for the templates of later ones.
    outputs: Map<String, Value>,
    failures: FailureCount,
    /// Why the tenant stopped early, once it has.
    stopped: Option<String>,
}

/// A step's progress within one tenant.
#[derive(Default)]
struct StepRun {
    /// What each task returned, by the order it was dispatched in.
    outputs: Vec<(usize, Vec<Value>)>,
    failures: usize,
    dispatched: usize,
    expanding: bool,
    since_yield: usize,
    /// For a desired-state step: each object a task named so far (a hash of its naming
    /// parameters), with a hash of what was wanted of it and the task that named it first.
    /// Hashes keep this small however many objects a step names.
    objects: std::collections::HashMap<u64, (u64, String)>,
}

/// What one dispatch (a task, or a batch of them) ended with.
#[derive(Default)]
pub(super) struct Done {
    /// Each task's place in the step's output, outcome, and what it returned.
    pub(super) tasks: Vec<(usize, (TaskResult, Origin), Vec<Value>)>,
    /// The service refused a batch as a request: what it said.
    pub(super) refused: Option<String>,
}

impl Executor<'_, '_, '_, '_, '_> {
    pub(super) fn shutdown(&self) -> &Shutdown {
        &self.options.shutdown
    }

    /// Runs every target's tasks.
    pub(super) async fn run(&self, targets: &[Target]) {
        let waves = self.planner.waves();
        let Some(rollout) = self.planner.playbook().doc.rollout.as_ref() else {
            return self.run_tenants(targets.iter()).await;
        };
        let name = |t: usize| self.planner.playbook().tenants[t].name();
        if self.options.check {
            // A check writes nothing, so no gate holds a wave back: it reads every tenant,
            // and says which wave each is in.
            for wave in waves {
                let names: Vec<&str> = wave.tenants.iter().map(|&t| name(t)).collect();
                let _ = self.events.emit(&Event::Message(format!(
                    "wave {} ({}): {}",
                    wave.number,
                    wave.name,
                    if names.is_empty() {
                        "no tenant".to_string()
                    } else {
                        names.join(", ")
                    }
                )));
            }
            return self.run_tenants(targets.iter()).await;
        }
        for (i, wave) in waves.iter().enumerate() {
            if self.shutdown().is_stopping() {
                break;
            }
            let members = || targets.iter().filter(|t| wave.tenants.contains(&t.tenant));
            let _ = self.events.emit(&Event::Message(format!(
                "wave {} ({}): {} tenant{}",
                wave.number,
                wave.name,
                members().count(),
                crate::diagnostic::plural(members().count())
            )));
            self.wave_failures.reset();
            self.run_tenants(members()).await;
            let (failed, finished) = self.wave_failures.counts();
            let limit = rollout.max_fail_percentage.unwrap_or(0.0);
            // A tenant of the wave that could not be signed in has not shown the change is
            // safe: that fails the gate too.
            let absent = wave.tenants.len() - members().count();
            let failure = if absent > 0 {
                Some(format!("{absent} of its tenants could not be signed in"))
            } else if finished > 0 && failed as f64 * 100.0 > limit * finished as f64 {
                Some(format!(
                    "{failed} of {finished} finished task{} failed, over the {limit}% allowed",
                    crate::diagnostic::plural(finished)
                ))
            } else {
                None
            };
            if let Some(failure) = failure {
                let why = format!(
                    "wave {} ({}) failed its gate: {failure}; the waves after it did not start (fix the cause, then `run --resume`)",
                    wave.number, wave.name,
                );
                self.shutdown().stop(StopReason::Gate(why.clone()));
                for later in &waves[i + 1..] {
                    for target in targets.iter().filter(|t| later.tenants.contains(&t.tenant)) {
                        let _ = self.events.emit(&Event::TenantFinished {
                            tenant: name(target.tenant).to_string(),
                            stopped: Some(format!(
                                "not started: wave {} ({}) failed its gate",
                                wave.number, wave.name
                            )),
                            duration_ms: 0,
                        });
                    }
                }
                break;
            }
            if let Some(pause) = rollout.pause.filter(|_| i + 1 < waves.len()) {
                let _ = self.events.emit(&Event::Message(format!(
                    "wave {} passed its gate; waiting {pause} before the next",
                    wave.number
                )));
                tokio::time::sleep(pause.0).await;
            }
        }
    }

    /// Runs these tenants at once, until each is done.
    async fn run_tenants(&self, targets: impl Iterator<Item = &Target>) {
        // FuturesUnordered polls only the tenants that were woken, so the cost of a finished
        // call does not grow with the number of tenants.
        let mut tenants: FuturesUnordered<_> = targets.map(|t| self.run_tenant(t)).collect();
        while tenants.next().await.is_some() {}
    }

    async fn run_tenant(&self, target: &Target) {
        let playbook = self.planner.playbook();
        let tenant = &playbook.tenants[target.tenant];
        let width = self.planner.limits().connections[target.tenant];
        let mut run = TenantRun {
            lane: Lane {
                target,
                tenant,
                name: tenant.name().to_string(),
                width,
                limit: Semaphore::new(width),
                recipients: Default::default(),
            },
            state: TenantState::default(),
        };
        let started = Instant::now();
        let base = self.planner.tenant_scope(tenant);
        for step in self.planner.steps() {
            if self.shutdown().is_stopping() {
                run.state.stopped = Some("the run was stopped".to_string());
                break;
            }
            let scope = Arc::new(TenantScope {
                tenant: base.tenant.clone(),
                vars: base.vars.clone(),
                steps: TemplateValue::from(Serde(Value::Object(run.state.outputs.clone()))),
            });
            self.run_step(&mut run, &scope, step).await;
            if run.state.stopped.is_some() {
                break;
            }
        }
        let _ = self.events.emit(&Event::TenantFinished {
            tenant: run.lane.name,
            stopped: run.state.stopped,
            duration_ms: started.elapsed().as_millis() as u64,
        });
    }

    /// Runs one step's tasks for a tenant, keeping its output for later steps.
    async fn run_step(
        &self,
        run: &mut TenantRun<'_>,
        scope: &Arc<TenantScope>,
        step: &CompiledStep<'_, '_>,
    ) {
        let TenantRun { lane, state } = run;
        // A step that expands only now is expanded once in full without keeping anything,
        // so that a template error in any item stops the tenant before the step sends a call.
        // Other steps were checked when the run was planned.
        if step.is_deferred()
            && let Err(e) = check_step(self.planner, lane.tenant, scope, step).await
        {
            state.stopped = Some(format!("step {} could not be expanded: {e}", step.key));
            return;
        }
        let mut buffer = Collect::default();
        let mut summary = Summary::default();
        let mut expansion =
            match self
                .planner
                .start_step(lane.tenant, scope, step, &mut buffer, &mut summary)
            {
                Ok(expansion) => expansion,
                Err(e) => {
                    state.stopped = Some(format!("step {} could not be expanded: {e}", step.key));
                    return;
                }
            };
        let _ = self.events.emit(&Event::StepStarted {
            tenant: lane.name.clone(),
            step: step.key.to_string(),
            records: expansion.records(),
            at_run_time: step.is_deferred(),
        });
        let mut progress = StepRun {
            expanding: true,
            ..StepRun::default()
        };
        // Calls per `$batch` request, and the tenant's batches throttled so far: each one
        // throttled from now on halves it.
        let mut batch = self.batch_size(step);
        let mut throttled = lane.target.client.batches_throttled();
        let mut group: Vec<(usize, Planned)> = Vec::new();
        // Tasks are expanded as slots free up and only as many calls exist at once as the
        // tenant may make (a batch counting as one), so memory and the work per wake-up stay
        // small however long the step is.
        let mut in_flight = FuturesUnordered::new();
        loop {
            while progress.expanding && in_flight.len() < lane.width {
                if batch > 1 && group.is_empty() {
                    self.back_off(lane, step, &mut batch, &mut throttled);
                }
                if progress.since_yield == YIELD_EVERY {
                    // A long run of skipped items expands without waiting on anything: let
                    // the other tenants' calls (on this same thread) go on now and then.
                    progress.since_yield = 0;
                    tokio::task::yield_now().await;
                }
                progress.since_yield += 1;
                if buffer.tasks.is_empty() {
                    match expansion.next(&mut buffer, &mut summary) {
                        Ok(more) => progress.expanding = more,
                        Err(e) => {
                            // Only when the data changed since the run was planned.
                            state.stopped = Some(format!(
                                "step {} could not be expanded after {} task{}: {e}",
                                step.key,
                                progress.dispatched,
                                crate::diagnostic::plural(progress.dispatched)
                            ));
                            progress.expanding = false;
                        }
                    }
                }
                self.report_skipped(&mut buffer, step);
                if let Some(task) = buffer.tasks.pop()
                    && let Some(index) = self.admit(&task, step, &mut progress)
                {
                    if let Some(result) = same_object(step, &task, &mut progress.objects) {
                        self.finished(
                            lane,
                            state,
                            &mut progress,
                            index,
                            (result, Origin::NotSent),
                            Vec::new(),
                        );
                        continue;
                    }
                    if batch > 1 {
                        group.push((index, task));
                        if group.len() < batch && progress.expanding {
                            continue;
                        }
                        let tasks = std::mem::take(&mut group);
                        in_flight.push(Either::Right(Box::pin(self.run_batch(lane, step, tasks))));
                        continue;
                    }
                    // Boxed: a call's future is several kilobytes, and unboxed it would be
                    // copied whole into each wrapper on its way into `in_flight`.
                    let call = Box::pin(self.run_task(lane, step, task));
                    in_flight.push(Either::Left(async move {
                        let (result, values) = call.await;
                        Done {
                            tasks: vec![(index, result, values)],
                            ..Done::default()
                        }
                    }));
                }
            }
            // The step's last tasks, fewer than a batch: they go now. (A slot is free: none
            // was taken since the first of them was gathered.)
            if !group.is_empty() {
                let tasks = std::mem::take(&mut group);
                in_flight.push(Either::Right(Box::pin(self.run_batch(lane, step, tasks))));
            }
            let Some(done) = in_flight.next().await else {
                break;
            };
            for (index, result, values) in done.tasks {
                self.finished(lane, state, &mut progress, index, result, values);
            }
            if let Some(refusal) = done.refused.filter(|_| batch > 1) {
                batch = 1;
                let _ = self.events.emit(&Event::Message(format!(
                    "{}: step {}: the service refused a $batch request ({refusal}); the step's calls go one by one",
                    lane.name, step.key
                )));
            }
        }
        self.step_done(state, step, progress);
    }

    /// Halves a step's batch size (down to 1, plain calls) for each of the tenant's batches
    /// throttled since `seen`, saying so the first time in the step. How the service counts a
    /// batch against its limits is not public: a throttled batch says the tenant's budget is
    /// tight, and smaller ones ask less of it at once. The size does not grow back within the
    /// step, since the throttling that shrank it may well come back with it; the next step
    /// starts from its own size.
    fn back_off(
        &self,
        lane: &Lane<'_>,
        step: &CompiledStep<'_, '_>,
        batch: &mut usize,
        seen: &mut u64,
    ) {
        let now = lane.target.client.batches_throttled();
        if now == *seen {
            return;
        }
        let first = *batch == self.batch_size(step);
        let halvings = u32::try_from(now - *seen)
            .unwrap_or(u32::MAX)
            .min(usize::BITS - 1);
        *batch = (*batch >> halvings).max(1);
        *seen = now;
        if first {
            let then = if *batch > 1 {
                format!(
                    "batches of {batch} from now on in this step, halved again at each throttled batch"
                )
            } else {
                "its calls go one by one from now on".to_string()
            };
            let _ = self.events.emit(&Event::Message(format!(
                "{}: step {}: the service throttled a $batch request; {then}",
                lane.name, step.key
            )));
        }
    }

    /// Calls per `$batch` request for a step: as the playbook says, but 1 (plain calls) where
    /// a task is not one call: desired state (a read, a write, a verify) and a check's writes
    /// (none sent).
    fn batch_size(&self, step: &CompiledStep<'_, '_>) -> usize {
        if step.noun.is_some() || (self.options.check && !step.read_only) {
            return 1;
        }
        self.planner.playbook().batch_for(step.step)
    }

    /// Reports the tasks a step's condition skipped.
    fn report_skipped(&self, buffer: &mut Collect, step: &CompiledStep<'_, '_>) {
        for skipped in buffer.skipped.drain(..) {
            // A resumed run reports a write it already did once: that outcome stands even
            // when the write's condition no longer holds.
            if self.decide(&skipped.id, step) == Decision::Known {
                continue;
            }
            let _ = self.events.emit(&Event::TaskFinished {
                result: skipped,
                origin: Origin::NotSent,
            });
        }
    }

    /// What a resumed run does with a task; a new run sends everything.
    fn decide(&self, id: &str, step: &CompiledStep<'_, '_>) -> Decision {
        self.options.prior.as_ref().map_or(Decision::Send, |p| {
            p.decide(id, step.read_only, step.settings.idempotent)
        })
    }

    /// Whether to send `task`, and its place in the step's output when it is. A resumed run
    /// sends again only what it must.
    fn admit(
        &self,
        task: &Planned,
        step: &CompiledStep<'_, '_>,
        progress: &mut StepRun,
    ) -> Option<usize> {
        match self.decide(&task.id, step) {
            Decision::Send => {}
            Decision::Known => {
                // Its output, recorded when it ran, still feeds later steps.
                if let Some(values) = self
                    .options
                    .prior
                    .as_ref()
                    .and_then(|p| p.outputs.get(&task.id))
                {
                    progress.outputs.push((progress.dispatched, values.clone()));
                    progress.dispatched += 1;
                }
                return None;
            }
            Decision::Unknown => {
                let result = task.result(Status::Unknown).because("outcome unknown: a killed run sent it and never heard back; it writes and is not idempotent, so it was not sent again (check it, then `run --resume --retry-unknown`)",
                );
                let _ = self.events.emit(&Event::TaskFinished {
                    result,
                    origin: Origin::NotSent,
                });
                return None;
            }
        }
        progress.dispatched += 1;
        Some(progress.dispatched - 1)
    }

    /// Counts a finished task against the failure limits and reports it.
    fn finished(
        &self,
        lane: &Lane<'_>,
        run: &mut TenantState,
        progress: &mut StepRun,
        index: usize,
        (result, origin): (TaskResult, Origin),
        values: Vec<Value>,
    ) {
        if result.status.is_failure() {
            progress.failures += 1;
        }
        let (tenant_limit, run_limit) = self.planner.limits().max_fail_percentage;
        self.wave_failures.count(result.status, None);
        if let Some(why) = self.run_failures.count(result.status, run_limit) {
            self.shutdown().stop(StopReason::FailureLimit(why));
        }
        if let Some(why) = run.failures.count(result.status, tenant_limit)
            && run.stopped.is_none()
        {
            // The tenant's in-flight calls finish; nothing more is sent to it.
            self.shutdown()
                .note_guardrail(format!("tenant {} stopped: {why}", lane.name));
            run.stopped = Some(why);
            progress.expanding = false;
        }
        if !values.is_empty() {
            progress.outputs.push((index, values));
        }
        if let Err(e) = self.events.emit(&Event::TaskFinished { result, origin }) {
            // The outcome is known here but not on disk: stop before more go unrecorded.
            self.shutdown().stop(StopReason::Journal(e.0));
        }
    }

    /// Keeps a finished step's output and applies its `on_error`.
    fn step_done(&self, run: &mut TenantState, step: &CompiledStep<'_, '_>, progress: StepRun) {
        let mut outputs = progress.outputs;
        // The output keeps the tasks' order, not the order they finished in.
        outputs.sort_by_key(|(index, _)| *index);
        let output: Vec<Value> = outputs.into_iter().flat_map(|(_, v)| v).collect();
        let mut entry = Map::new();
        entry.insert("output".into(), Value::Array(output));
        run.outputs
            .insert(step.key.to_string(), Value::Object(entry));
        let failures = progress.failures;
        if failures == 0 {
            return;
        }
        match step.settings.on_error {
            OnError::Continue => {}
            OnError::StopTenant => {
                run.stopped.get_or_insert_with(|| {
                    format!(
                        "step {} failed ({failures} task{})",
                        step.key,
                        crate::diagnostic::plural(failures)
                    )
                });
            }
            OnError::StopRun => {
                let why = format!("step {} failed and stops the run", step.key);
                self.shutdown().stop(StopReason::StepFailed(why.clone()));
                run.stopped.get_or_insert(why);
            }
        }
    }

    /// Sends one task, retrying cmdlet errors as its step allows; its outcome, where it comes
    /// from, and what it returned.
    async fn run_task(
        &self,
        run: &Lane<'_>,
        step: &CompiledStep<'_, '_>,
        task: Planned,
    ) -> ((TaskResult, Origin), Vec<Value>) {
        // Values read from an earlier step's output are known only now: one that does not fit
        // its parameter fails its task, unsent, as the service would refuse it.
        if step.is_deferred()
            && let Err(problem) = step.check_values(self.planner.playbook(), &task.sent(), &|| {
                format!("task `{}`", task.id)
            })
        {
            let mut result = task.result(Status::Failed).because(problem.one_line());
            result.error_class = Some(crate::plan::INVALID_VALUE.to_string());
            return ((result, Origin::NotSent), Vec::new());
        }
        let mut result = task.result(Status::Skipped);
        // The tenant's slot first, then the global one: a tenant at its limit never holds a
        // global slot another tenant could use.
        let (Ok(_tenant_slot), Ok(_global_slot)) =
            (run.limit.acquire().await, self.global.acquire().await)
        else {
            result.error = Some("the run is shutting down".into());
            return ((result, Origin::NotSent), Vec::new());
        };
        if self.shutdown().is_stopping() {
            result.error = Some("the run was stopped before this task".into());
            return ((result, Origin::NotSent), Vec::new());
        }
        // On disk before the request leaves: a run killed from here on knows the task may
        // have been sent.
        if let Err(e) = self.events.emit(&Event::TaskSent {
            id: result.id.clone(),
        }) {
            self.shutdown().stop(StopReason::Journal(e.0.clone()));
            result.error = Some(format!("not sent: {}", e.0));
            return ((result, Origin::NotSent), Vec::new());
        }
        let started = Instant::now();
        let reviewed = self.options.reviewed.as_deref();
        let values = if step.noun.is_some() {
            let mode = match reviewed {
                _ if self.options.check => super::desired::Mode::Check,
                Some(plan) => super::desired::Mode::Reviewed(plan),
                None => super::desired::Mode::Run,
            };
            super::desired::ensure(run, step, &task, &mut result, mode).await
        } else if self.options.check && !step.read_only {
            super::desired::would(run, step, &task, &mut result).await;
            Vec::new()
        } else if let Some(plan) = reviewed.filter(|_| !step.read_only)
            && !super::desired::reviewed_call(plan, &task, &mut result)
        {
            Vec::new()
        } else {
            call(run, step, &task, &mut result).await
        };
        result.duration_ms = started.elapsed().as_millis() as u64;
        if result.status == Status::Drift {
            result.new = !self
                .options
                .seen_drift
                .as_ref()
                .is_some_and(|seen| seen.contains(&crate::check::DriftKey::of(&result)));
        }
        self.sent(step, result, values)
    }

    /// A sent task's outcome and what it returned. When a later step reads the step's output,
    /// the output is recorded first: a run killed between the two re-runs the task rather than
    /// resuming without what it returned.
    pub(super) fn sent(
        &self,
        step: &CompiledStep<'_, '_>,
        result: TaskResult,
        values: Vec<Value>,
    ) -> ((TaskResult, Origin), Vec<Value>) {
        if step.settings.read_later && result.status == Status::Ok {
            let output = Event::TaskOutput {
                id: result.id.clone(),
                values,
            };
            if let Err(e) = self.events.emit(&output) {
                self.shutdown().stop(StopReason::Journal(e.0));
            }
            let Event::TaskOutput { values, .. } = output else {
                unreachable!("built just above")
            };
            return ((result, Origin::Sent), values);
        }
        ((result, Origin::Sent), values)
    }
}

/// Calls the cmdlet, retrying its errors as the step allows, and fills in `result`; what it
/// returned.
async fn call(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    task: &Planned,
    result: &mut TaskResult,
) -> Vec<Value> {
    let call = Call::of(step, task);
    match invoke(run, step, &call, result).await {
        Ok(value) => {
            result.status = Status::Ok;
            value
        }
        Err(e) => {
            fail(result, &e, step.read_only, &call);
            Vec::new()
        }
    }
}

/// For a desired-state step, a task naming an object an earlier task of the step named: the
/// same change again is done once (skipped here, pointing at the first), another change of
/// the same object is a conflict in the playbook or its data, and fails rather than letting
/// two writes race and one of them seem not to take.
fn same_object(
    step: &CompiledStep<'_, '_>,
    task: &Planned,
    objects: &mut std::collections::HashMap<u64, (u64, String)>,
) -> Option<TaskResult> {
    let noun = step.noun.as_deref()?;
    let hash = |value: &Map<String, Value>| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        let mut entries: Vec<(String, String)> = value
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string().to_lowercase()))
            .collect();
        entries.sort();
        entries.hash(&mut h);
        h.finish()
    };
    let named = noun.name(&task.params);
    let mut object = named.read.clone();
    object.extend(named.within);
    let object = hash(&object);
    let wanted = task.ensure.as_ref().map_or(0, hash);
    match objects.get(&object) {
        None => {
            objects.insert(object, (wanted, task.id.clone()));
            None
        }
        Some((first_wanted, first)) if *first_wanted == wanted => {
            Some(task.result(Status::Skipped).because(format!(
                "the same object and change as task `{first}`, made there"
            )))
        }
        Some((_, first)) => {
            let mut result = task.result(Status::Failed).because(format!(
                "task `{first}` names the same object and wants other values of it: one step cannot want two values of one object (check the data for a duplicate)"
            ));
            result.error_class = Some("ConflictingItems".into());
            Some(result)
        }
    }
}

/// Expands a whole step, keeping nothing, to find a template error in any item before the
/// step sends its first call. It yields now and then: on a single-threaded runtime, the other
/// tenants' calls wait while it works.
async fn check_step(
    planner: &Planner<'_, '_>,
    tenant: &Tenant,
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
                ensure: t.ensure,
                carried: t.carried,
            }),
            PlanRecord::Skipped(s) => self.skipped.push(
                TaskResult::new(
                    s.id,
                    s.tenant.into_owned(),
                    s.step.into_owned(),
                    String::new(),
                    Status::Skipped,
                )
                .because(s.reason.into_owned()),
            ),
            _ => {}
        }
        Ok(())
    }
}
