//! Desired state at run time: a task of a step with `ensure` or `state` reads its object,
//! decides what differs (see [`crate::state`]), sends only that, and reads the object again
//! to verify it took. In `tenantry check` the reads are sent and the writes reported as drift.

use serde_json::{Map, Value};

use super::executor::{Call, Lane, Planned, fail, invoke, invoke_full};
use crate::events::{Status, TaskResult};
use crate::exchange::ExchangeError;
use crate::plan::CompiledStep;
use crate::playbook::EnsureState;
use crate::state::{Action, Change, Noun, Verb, differences, naming, not_found};

/// The error class of a write the service accepted and did not apply.
pub(crate) const NOT_APPLIED: &str = "NotApplied";
/// The error class of an `ensure` property the noun's `Get-` does not return.
pub(crate) const NOT_RETURNED: &str = "PropertyNotReturned";

/// Brings one object to its desired state, filling in `result`; in a check, only finds what
/// would change. Returns nothing: a desired-state step's output is not read by later steps.
pub(super) async fn ensure(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    task: &Planned,
    result: &mut TaskResult,
    check: bool,
) -> Vec<Value> {
    let Some(noun) = step.noun.as_deref() else {
        return Vec::new();
    };
    let empty = Map::new();
    let desired = task.ensure.as_ref().unwrap_or(&empty);
    let state = step.step.state.as_ref().map(|s| s.value);
    let current = match &task.carried {
        Some(values) => Found::One(values.clone()),
        None => match read(run, step, noun, task, result).await {
            Some(found) => found,
            None => return Vec::new(),
        },
    };
    let (action, changes) = match (&current, state) {
        (Found::Missing(_), Some(EnsureState::Absent)) => (Action::None, Vec::new()),
        (Found::Missing(_), Some(EnsureState::Present)) => (
            Action::Create,
            desired
                .iter()
                .map(|(k, v)| Change {
                    property: k.clone(),
                    current: Value::Null,
                    desired: v.clone(),
                })
                .collect(),
        ),
        (Found::Missing(why), None) => {
            result.status = Status::Failed;
            result.error_class = Some("ManagementObjectNotFoundException".into());
            result.error = Some(format!(
                "{why} (write `state: present` on the step to create it)"
            ));
            return Vec::new();
        }
        (Found::One(_), Some(EnsureState::Absent)) => (Action::Remove, Vec::new()),
        (Found::One(object), _) => {
            let changes = match differences(noun, object, desired) {
                Ok(changes) => changes,
                Err(why) => {
                    result.status = Status::Failed;
                    result.error_class = Some(NOT_RETURNED.into());
                    result.error = Some(why);
                    return Vec::new();
                }
            };
            let action = if changes.is_empty() {
                Action::None
            } else {
                Action::Set
            };
            (action, changes)
        }
    };
    result.action = Some(action);
    result.changes = changes;
    if action == Action::None {
        result.status = Status::Ok;
        return Vec::new();
    }
    if check {
        result.status = Status::Drift;
        return Vec::new();
    }
    if !write(run, step, noun, task, action, result).await {
        return Vec::new();
    }
    if step.step.verify.unwrap_or(true) {
        verify(run, step, noun, task, action, desired, result).await;
    } else {
        result.status = Status::Ok;
    }
    Vec::new()
}

/// What a read found.
enum Found {
    /// The object, with its properties.
    One(Map<String, Value>),
    /// No object: the service's words for it.
    Missing(String),
}

/// Reads the object with the noun's `Get-`; `None` when the read failed (`result` says why).
async fn read(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    noun: &Noun,
    task: &Planned,
    result: &mut TaskResult,
) -> Option<Found> {
    let params = naming(&noun.get, &task.params, false);
    let call = call(&noun.get, &params, true);
    match invoke(run, step, &call, result).await {
        Ok(mut objects) => match objects.len() {
            0 => Some(Found::Missing(format!(
                "{} found no object",
                crate::plan::powershell_call(call.cmdlet, &params)
            ))),
            1 => match objects.pop() {
                Some(Value::Object(object)) => Some(Found::One(object)),
                _ => {
                    result.status = Status::Failed;
                    result.error = Some(format!("{} returned no object", call.cmdlet));
                    None
                }
            },
            n => {
                result.status = Status::Failed;
                result.error = Some(format!(
                    "{} returned {n} objects; desired state needs parameters that name exactly one",
                    crate::plan::powershell_call(call.cmdlet, &params)
                ));
                None
            }
        },
        Err(e) if is_not_found(&e) => Some(Found::Missing(
            e.cmdlet().map_or_else(String::new, |c| c.message.clone()),
        )),
        Err(e) => {
            fail(result, &e, true, &call);
            None
        }
    }
}

/// Sends the write `action` needs; false when it failed (`result` says why).
async fn write(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    noun: &Noun,
    task: &Planned,
    action: Action,
    result: &mut TaskResult,
) -> bool {
    let sends: Vec<(&Verb, Map<String, Value>)> = match action {
        Action::None => return true,
        Action::Set => {
            let Some(set) = &noun.set else {
                result.status = Status::Failed;
                result.error = Some(format!(
                    "{} has no Set- cmdlet to change {}",
                    noun.get.name.trim_start_matches("Get-"),
                    names(&result.changes)
                ));
                return false;
            };
            let mut params = naming(set, &task.params, false);
            params.extend(
                result
                    .changes
                    .iter()
                    .map(|c| (c.property.clone(), c.desired.clone())),
            );
            vec![(set, params)]
        }
        Action::Create => {
            let Some(create) = &noun.create else {
                return false;
            };
            let mut params = naming(create, &task.params, true);
            let mut rest = Map::new();
            for change in &result.changes {
                let entry = (change.property.clone(), change.desired.clone());
                if create.takes(&change.property) {
                    params.insert(entry.0, entry.1);
                } else {
                    rest.insert(entry.0, entry.1);
                }
            }
            let mut sends = vec![(create, params)];
            // What the creating cmdlet does not take is set once the object exists.
            if let Some(set) = noun.set.as_ref().filter(|_| !rest.is_empty()) {
                let mut params = naming(set, &task.params, false);
                params.extend(rest);
                sends.push((set, params));
            }
            sends
        }
        Action::Remove => {
            let Some(remove) = &noun.remove else {
                return false;
            };
            let mut params = naming(remove, &task.params, false);
            // Without it the cmdlet asks for confirmation, and no one is there to answer.
            if remove.takes("Confirm") {
                params.insert("Confirm".into(), Value::Bool(false));
            }
            vec![(remove, params)]
        }
    };
    for (verb, params) in &sends {
        let call = call(verb, params, step.settings.idempotent);
        if let Err(e) = invoke(run, step, &call, result).await {
            fail(result, &e, false, &call);
            return false;
        }
    }
    true
}

/// Reads the object again after a write and fails the task when a value did not take.
async fn verify(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    noun: &Noun,
    task: &Planned,
    action: Action,
    desired: &Map<String, Value>,
    result: &mut TaskResult,
) {
    let Some(found) = read(run, step, noun, task, result).await else {
        // The write went through; only the check of it failed.
        result.error = result
            .error
            .take()
            .map(|e| format!("written, but not verified: {e}"));
        return;
    };
    let problem = match (found, action) {
        (Found::Missing(_), Action::Remove) => None,
        (Found::One(_), Action::Remove) => Some((
            NOT_APPLIED,
            "the object is still there after it was removed".to_string(),
        )),
        (Found::Missing(why), _) => Some((
            NOT_APPLIED,
            format!("the object is missing after the write: {why}"),
        )),
        (Found::One(object), _) => match differences(noun, &object, desired) {
            Err(why) => Some((NOT_RETURNED, format!("written, but not verified: {why}"))),
            Ok(left) => (!left.is_empty()).then(|| {
                let left: Vec<String> = left
                    .iter()
                    .map(|c| {
                        format!(
                            "{} is {} (wanted {})",
                            c.property,
                            crate::state::compare::show(&c.current),
                            crate::state::compare::show(&c.desired)
                        )
                    })
                    .collect();
                let why = format!(
                    "the service accepted the write but kept other values: {}",
                    left.join(", ")
                );
                (NOT_APPLIED, why)
            }),
        },
    };
    match problem {
        None => result.status = Status::Ok,
        Some((class, problem)) => {
            result.status = Status::Failed;
            result.error_class = Some(class.into());
            result.error = Some(problem);
        }
    }
}

/// In `tenantry check`, a write without `ensure`: reported as drift with the call it would
/// send, or, with `whatif`, what the service says it would do.
pub(super) async fn would(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    task: &Planned,
    result: &mut TaskResult,
) {
    let shown = crate::plan::powershell_call(&task.cmdlet, &task.params);
    if step.step.whatif != Some(true) {
        result.status = Status::Drift;
        result.would = Some(shown);
        return;
    }
    let mut params = task.params.clone();
    params.insert("WhatIf".into(), Value::Bool(true));
    let call = Call {
        cmdlet: &task.cmdlet,
        spec: step.spec.as_deref(),
        params: &params,
        idempotent: true,
        // Asked only to tell, the service changes nothing.
        read_only: true,
    };
    match invoke_full(run, step, &call, result).await {
        Ok(answer) => {
            result.status = Status::Drift;
            result.would = Some(match answer.confirmation {
                Some(message) => format!("{shown}: {message}"),
                None => shown,
            });
        }
        Err(e) => fail(result, &e, true, &call),
    }
}

fn call<'a>(verb: &'a Verb, params: &'a Map<String, Value>, idempotent: bool) -> Call<'a> {
    Call {
        cmdlet: &verb.name,
        spec: verb.spec.as_deref(),
        params,
        idempotent,
        read_only: crate::playbook::verbs::is_read_only(&verb.name),
    }
}

fn names(changes: &[Change]) -> String {
    changes
        .iter()
        .map(|c| c.property.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether an error is the service's "not found".
fn is_not_found(e: &ExchangeError) -> bool {
    e.cmdlet().is_some_and(|c| not_found(&c.class))
}
