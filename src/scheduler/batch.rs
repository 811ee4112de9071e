//! A step's tasks sent as one `$batch` request: the group holds one of the tenant's
//! connections (and one of the run's), each task is journaled as sent before the request
//! leaves, and each gets its own outcome, as if it had been sent alone.
//!
//! Each task's `requests` count the batch's requests as its own (a batch of ten answered at
//! once shows one request in each of its ten tasks), plus those it made alone afterwards
//! (a call throttled inside the batch, its further pages, its step's `retries`).

use std::time::Instant;

use super::call::{Call, Lane, Planned, fail, invoke_from, retry_cmdlet_error, took};
use super::executor::{Done, Executor};
use super::shutdown::StopReason;
use crate::events::{Event, Origin, Status};
use crate::exchange::{BatchCall, ExchangeError};
use crate::plan::CompiledStep;

impl Executor<'_, '_, '_, '_, '_> {
    /// Sends `tasks` (each with its place in the step's output) as one batch, retrying each
    /// task's cmdlet errors alone as its step allows.
    pub(super) async fn run_batch(
        &self,
        run: &Lane<'_>,
        step: &CompiledStep<'_, '_>,
        tasks: Vec<(usize, Planned)>,
    ) -> Done {
        let mut done = Done::default();
        let unsent = |done: &mut Done, index, task: &Planned, why: String| {
            let mut result = task.result(Status::Skipped);
            result.error = Some(why);
            done.tasks
                .push((index, (result, Origin::NotSent), Vec::new()));
        };
        let mut ready = Vec::with_capacity(tasks.len());
        for (index, task) in tasks {
            // Values read from an earlier step's output are known only now: one that does not
            // fit its parameter fails its task, unsent, as the service would refuse it.
            if step.is_deferred()
                && let Err(problem) =
                    step.check_values(self.planner.playbook(), &task.sent(), &|| {
                        format!("task `{}`", task.id)
                    })
            {
                let mut result = task.result(Status::Failed).because(problem.one_line());
                result.error_class = Some(crate::plan::INVALID_VALUE.to_string());
                done.tasks
                    .push((index, (result, Origin::NotSent), Vec::new()));
                continue;
            }
            ready.push((index, task));
        }
        if ready.is_empty() {
            return done;
        }
        // The tenant's slot first, then the global one: a tenant at its limit never holds a
        // global slot another tenant could use. One of each for the whole batch.
        let (Ok(_tenant_slot), Ok(_global_slot)) =
            (run.limit.acquire().await, self.global.acquire().await)
        else {
            for (index, task) in &ready {
                unsent(&mut done, *index, task, "the run is shutting down".into());
            }
            return done;
        };
        if self.shutdown().is_stopping() {
            for (index, task) in &ready {
                let why = "the run was stopped before this task".to_string();
                unsent(&mut done, *index, task, why);
            }
            return done;
        }
        let reviewed = self.options.reviewed.as_deref();
        let mut sending = Vec::with_capacity(ready.len());
        let mut journal_failed: Option<String> = None;
        for (index, task) in ready {
            if let Some(why) = &journal_failed {
                unsent(&mut done, index, &task, format!("not sent: {why}"));
                continue;
            }
            // On disk before the request leaves: a run killed from here on knows each task
            // may have been sent.
            if let Err(e) = self.events.emit(&Event::TaskSent {
                id: task.id.clone(),
            }) {
                self.shutdown().stop(StopReason::Journal(e.0.clone()));
                unsent(&mut done, index, &task, format!("not sent: {}", e.0));
                journal_failed = Some(e.0);
                continue;
            }
            let mut result = task.result(Status::Skipped);
            if let Some(plan) = reviewed.filter(|_| !step.read_only)
                && !super::desired::reviewed_call(plan, &task, &mut result)
            {
                done.tasks.push((index, (result, Origin::Sent), Vec::new()));
                continue;
            }
            sending.push((index, task, result));
        }
        if sending.is_empty() {
            return done;
        }
        let started = Instant::now();
        let calls: Vec<BatchCall<'_>> = sending
            .iter()
            .map(|(_, task, _)| BatchCall {
                cmdlet: &task.cmdlet,
                spec: step.spec.as_deref(),
                params: &task.params,
                idempotent: step.settings.idempotent,
            })
            .collect();
        let sent = run.target.client.invoke_batch(&calls);
        // A step's timeout bounds each call; the service may run a batch's calls one after
        // another, so the batch gets that much per call it holds.
        let items = match step.settings.timeout {
            Some(limit) => {
                let limit = limit.saturating_mul(u32::try_from(calls.len()).unwrap_or(u32::MAX));
                match tokio::time::timeout(limit, sent).await {
                    Ok(outcome) => {
                        done.refused = outcome.refused;
                        outcome.items
                    }
                    Err(_) => calls
                        .iter()
                        .map(|_| {
                            Err(ExchangeError::Unconfirmed {
                                reason: format!(
                                    "no answer within the step's timeout for a batch of {} calls ({}s)",
                                    calls.len(),
                                    limit.as_secs()
                                ),
                            })
                        })
                        .collect(),
                }
            }
            None => {
                let outcome = sent.await;
                done.refused = outcome.refused;
                outcome.items
            }
        };
        drop(calls);
        for ((index, task, mut result), item) in sending.into_iter().zip(items) {
            let call = Call::of(step, &task);
            let outcome = match item {
                Ok(mut ok) => {
                    took(&mut result, &call, &mut ok);
                    Ok(ok.value)
                }
                // A cmdlet error in the batch is the task's first attempt; its step's
                // `retries` go alone.
                Err(e) if retry_cmdlet_error(step, &call, &e, 0, &mut result) => {
                    invoke_from(run, step, &call, &mut result, 1)
                        .await
                        .map(|ok| ok.value)
                }
                Err(e) => Err(e),
            };
            let values = match outcome {
                Ok(values) => {
                    result.status = Status::Ok;
                    values
                }
                Err(e) => {
                    fail(&mut result, &e, step.read_only, &call);
                    Vec::new()
                }
            };
            result.duration_ms = started.elapsed().as_millis() as u64;
            let (outcome, values) = self.sent(step, result, values);
            done.tasks.push((index, outcome, values));
        }
        done
    }
}
