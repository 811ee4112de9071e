//! Desired state at run time: a task of a step with `ensure` or `state` reads its object,
//! decides what differs (see [`crate::state`]), sends only that, and reads the object again
//! to verify it took. In `tenantry check` the reads are sent and the writes reported as drift.

use serde_json::{Map, Value};

use super::call::{Call, Lane, Planned, fail, invoke, invoke_full};
use crate::events::{Status, TaskResult};
use crate::exchange::ExchangeError;
use crate::plan::CompiledStep;
use crate::playbook::EnsureState;
use crate::reviewed::Verdict;
use crate::state::{
    Action, Change, Named, Noun, Verb, creating, differences, has_values, identities, not_found,
    recipient_names, same_recipients,
};

/// How long verify waits, each time, for an object just created to be found.
const CREATED_WAITS: [std::time::Duration; 3] = [
    std::time::Duration::from_secs(1),
    std::time::Duration::from_secs(2),
    std::time::Duration::from_secs(4),
];

/// The error class of a write the service accepted and did not apply.
pub(crate) const NOT_APPLIED: &str = "NotApplied";
/// The error class of an `ensure` property the noun's `Get-` does not return.
pub(crate) const NOT_RETURNED: &str = "PropertyNotReturned";
/// The error class of a read that found several objects where one was meant.
pub(crate) const AMBIGUOUS: &str = "AmbiguousIdentity";
/// The error class of a change the noun's cmdlets cannot make.
pub(crate) const CANNOT_CHANGE: &str = "CannotChange";

/// Brings one object to its desired state, filling in `result`; in a check, only finds what
/// would change. Returns nothing: a desired-state step's output is not read by later steps.
/// How far desired state goes with what it finds.
pub(super) enum Mode<'p> {
    /// `run`: make each change.
    Run,
    /// `check`: report each change, make none.
    Check,
    /// `run --plan`: make each change the reviewed plan holds, unless its object changed since.
    Reviewed(&'p crate::reviewed::Reviewed),
}

pub(super) async fn ensure(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    task: &Planned,
    result: &mut TaskResult,
    mode: Mode<'_>,
) -> Vec<Value> {
    let Some(noun) = step.noun.as_deref() else {
        return Vec::new();
    };
    let empty = Map::new();
    let desired = task.ensure.as_ref().unwrap_or(&empty);
    let state = step.step.state.as_ref().map(|s| s.value);
    let named = noun.name(&task.params);
    let current = match &task.carried {
        Some(values) => Found::One(values.clone()),
        None => match read(run, step, noun, &named, result).await {
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
            result.error = Some(match &noun.create {
                Some(create) => format!(
                    "{why} (write `state: present` on the step to create it with {})",
                    create.name
                ),
                None => why.clone(),
            });
            return Vec::new();
        }
        (Found::One(_), Some(EnsureState::Absent)) => (Action::Remove, Vec::new()),
        (Found::One(object), _) => {
            let changes = match differences(noun, object, desired) {
                Ok(mut changes) => {
                    settle_recipients(run, step, noun, &mut changes, result).await;
                    changes
                }
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
    if let Mode::Reviewed(plan) = mode {
        match plan.judge(result) {
            Verdict::Send => {}
            Verdict::Leave => {}
            Verdict::Stale(why) => {
                result.status = Status::Stale;
                result.error = Some(why);
                return Vec::new();
            }
        }
    }
    if action == Action::None {
        result.status = Status::Ok;
        return Vec::new();
    }
    if matches!(mode, Mode::Check) {
        result.status = Status::Drift;
        return Vec::new();
    }
    if !write(run, step, noun, &named, task, action, result).await {
        return Vec::new();
    }
    if step.step.verify.unwrap_or(true) {
        verify(run, step, noun, &named, action, desired, result).await;
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

/// Reads the object with the noun's `Get-`, kept by the values that name it within what is
/// read; `None` when the read failed (`result` says why).
async fn read(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    noun: &Noun,
    named: &Named,
    result: &mut TaskResult,
) -> Option<Found> {
    // An empty name would read, change or remove whatever the service makes of it.
    if let Some((name, _)) = named
        .read
        .iter()
        .find(|(_, v)| v.is_null() || v.as_str().is_some_and(|t| t.trim().is_empty()))
    {
        result.status = Status::Failed;
        result.error = Some(format!(
            "`{name}` is empty, so the step names no object: check the template or data that gives it"
        ));
        return None;
    }
    let mut params = named.read.clone();
    // Members and permissions are read as a list, which the service cuts at 1000 unless told
    // otherwise: the one sought may be past it.
    if noun.get.takes("ResultSize") && !params.keys().any(|k| k.eq_ignore_ascii_case("ResultSize"))
    {
        params.insert("ResultSize".into(), Value::String("Unlimited".into()));
    }
    let call = call(&noun.get, &params, true);
    let shown = || crate::plan::powershell_call(call.cmdlet, &named.read);
    let objects = match invoke(run, step, &call, result).await {
        Ok(objects) => objects,
        Err(e) if is_not_found(&e) => {
            return Some(Found::Missing(
                e.cmdlet().map_or_else(String::new, |c| c.message.clone()),
            ));
        }
        Err(e) => {
            fail(result, &e, true, &call);
            return None;
        }
    };
    let mut objects: Vec<Map<String, Value>> = objects
        .into_iter()
        .filter_map(|o| match o {
            Value::Object(o) => Some(o),
            _ => None,
        })
        .filter(|o| has_values(o, &named.within))
        .collect();
    let within = || {
        if named.within.is_empty() {
            String::new()
        } else {
            format!(
                " with {}",
                crate::plan::powershell_call("", &named.within).trim_start()
            )
        }
    };
    match objects.len() {
        0 => Some(Found::Missing(format!(
            "{} found none{}",
            shown(),
            within()
        ))),
        1 => objects.pop().map(Found::One),
        n => {
            result.status = Status::Failed;
            result.error_class = Some(AMBIGUOUS.into());
            result.error = Some(format!(
                "{}{} found {n} objects, and desired state changes one: name it so that only one matches (`Identity` by a unique name, address or GUID)",
                shown(),
                within()
            ));
            None
        }
    }
}

/// Sends the write `action` needs; false when it failed (`result` says why).
async fn write(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    noun: &Noun,
    named: &Named,
    task: &Planned,
    action: Action,
    result: &mut TaskResult,
) -> bool {
    let cannot = |result: &mut TaskResult, why: String| {
        result.status = Status::Failed;
        result.error_class = Some(CANNOT_CHANGE.into());
        result.error = Some(why);
        false
    };
    let noun_name = noun.get.name.trim_start_matches("Get-");
    let sends: Vec<(&Verb, Map<String, Value>)> = match action {
        Action::None => return true,
        Action::Set => {
            let Some(set) = &noun.set else {
                let why = format!(
                    "{noun_name} has no Set- cmdlet to change {} on an object that exists: remove it and add it again (a `state: absent` step, then this one)",
                    names(&result.changes)
                );
                return cannot(result, why);
            };
            let only_at_creation: Vec<&str> = result
                .changes
                .iter()
                .filter(|c| !set.takes(&c.property))
                .map(|c| c.property.as_str())
                .collect();
            if !only_at_creation.is_empty() {
                let why = format!(
                    "{} {} set only when the object is created, and {} does not take {}: remove the object and create it again, or leave {} out of `ensure`",
                    only_at_creation.join(", "),
                    if only_at_creation.len() == 1 {
                        "is"
                    } else {
                        "are"
                    },
                    set.name,
                    if only_at_creation.len() == 1 {
                        "it"
                    } else {
                        "them"
                    },
                    if only_at_creation.len() == 1 {
                        "it"
                    } else {
                        "them"
                    },
                );
                return cannot(result, why);
            }
            let mut params = named.existing(set, false);
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
                return cannot(
                    result,
                    format!("{noun_name} has no New- or Add- cmdlet to create it"),
                );
            };
            let mut params = creating(create, &task.params);
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
                let mut params = named.existing(set, false);
                params.extend(rest);
                sends.push((set, params));
            }
            sends
        }
        Action::Remove => {
            let Some(remove) = &noun.remove else {
                return cannot(
                    result,
                    format!("{noun_name} has no Remove- cmdlet to remove it"),
                );
            };
            let mut params = named.existing(remove, true);
            // Without it the cmdlet asks for confirmation, and no one is there to answer.
            if remove.takes("Confirm") && !params.contains_key("Confirm") {
                params.insert("Confirm".into(), Value::Bool(false));
            }
            vec![(remove, params)]
        }
    };
    for (n, (verb, params)) in sends.iter().enumerate() {
        // Only what may be sent twice is sent again after a lost answer: a second `New-` would
        // find the object it made, a second `Remove-` nothing to remove.
        let idempotent = step
            .step
            .idempotent
            .unwrap_or_else(|| crate::playbook::verbs::is_idempotent(&verb.name));
        let call = call(verb, params, idempotent);
        let mut sent = invoke(run, step, &call, result).await;
        // The `Set-` after a `New-` may find the new object not there yet: it waits for it as
        // verify does.
        for wait in CREATED_WAITS {
            match &sent {
                Err(e) if n > 0 && is_not_found(e) => {
                    tokio::time::sleep(wait).await;
                    sent = invoke(run, step, &call, result).await;
                }
                _ => break,
            }
        }
        if let Err(e) = sent {
            fail(result, &e, false, &call);
            if n > 0 {
                result.error = result
                    .error
                    .take()
                    .map(|e| format!("created, but its other properties were not set: {e}"));
            }
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
    named: &Named,
    action: Action,
    desired: &Map<String, Value>,
    result: &mut TaskResult,
) {
    let mut found = read(run, step, noun, named, result).await;
    // A new object can take a moment to be found everywhere: it is looked for again, a few
    // seconds at most, before it is called missing.
    for wait in CREATED_WAITS {
        if action != Action::Create || !matches!(found, Some(Found::Missing(_))) {
            break;
        }
        tokio::time::sleep(wait).await;
        found = read(run, step, noun, named, result).await;
    }
    let Some(found) = found else {
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
            Ok(mut left) => {
                settle_recipients(run, step, noun, &mut left, result).await;
                (!left.is_empty()).then(|| {
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
                        "the service accepted the write but kept other values: {}; it may not allow that value here (a policy, a license or another setting can decide it): read the object with {} to see why",
                        left.join(", "),
                        noun.get.name
                    );
                    (NOT_APPLIED, why)
                })
            }
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

/// Drops the changes of recipient-valued properties that already name the desired
/// recipients: the service shows each recipient by its name (`alex`), the playbook may name it
/// otherwise (`alex@contoso.com`). Each identity is resolved with `Get-Recipient` once per
/// tenant and run.
async fn settle_recipients(
    run: &Lane<'_>,
    step: &CompiledStep<'_, '_>,
    noun: &Noun,
    changes: &mut Vec<Change>,
    result: &mut TaskResult,
) {
    let Some(get) = &noun.recipient else {
        return;
    };
    let mut wanted: Vec<String> = changes
        .iter()
        .filter(|c| noun.names_recipients(&c.property))
        .flat_map(|c| identities(&c.desired))
        .collect();
    if wanted.is_empty() {
        return;
    }
    wanted.sort();
    wanted.dedup();
    let known = |id: &str| lock(&run.recipients).contains_key(id);
    for identity in wanted.into_iter().filter(|id| !known(id)) {
        let mut params = Map::new();
        params.insert("Identity".into(), Value::String(identity.clone()));
        let call = call(get, &params, true);
        let names = match invoke(run, step, &call, result).await {
            Ok(objects) => match objects.as_slice() {
                [Value::Object(object)] => {
                    let mut names = recipient_names(object);
                    names.push(identity.clone());
                    Some(names)
                }
                _ => None,
            },
            // No such recipient: the write is left to say so.
            Err(e) if is_not_found(&e) => None,
            // Another failure is not remembered for the rest of the run: the next object
            // asks again.
            Err(_) => continue,
        };
        lock(&run.recipients).insert(identity, names);
    }
    let resolved: std::collections::HashMap<String, Vec<String>> = lock(&run.recipients)
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), v.clone()?)))
        .collect();
    changes.retain(|c| !(noun.names_recipients(&c.property) && same_recipients(c, &resolved)));
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// In `run --plan`, whether a write without `ensure` is the reviewed call; when it is not,
/// `result` says it is stale and it is not sent.
pub(super) fn reviewed_call(
    plan: &crate::reviewed::Reviewed,
    task: &Planned,
    result: &mut TaskResult,
) -> bool {
    let mut now = task.result(Status::Drift);
    now.would = Some(crate::plan::powershell_call(&task.cmdlet, &task.params));
    match plan.judge(&now) {
        Verdict::Send => true,
        // Only desired state finds nothing to do; a plain write always has its call.
        Verdict::Leave => {
            result.status = Status::Skipped;
            result.error = Some("not in the reviewed plan".into());
            false
        }
        Verdict::Stale(why) => {
            result.status = Status::Stale;
            result.error = Some(why);
            false
        }
    }
}

/// In `tenantry check`, a write without `ensure`: reported as drift with the call it would
/// send, or, with `whatif`, what the service says it would do, asked as the Exchange module
/// asks before a write (`Confirm: true`).
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
    // The module's own validation call: `Confirm: true` is answered with what the cmdlet
    // would do (`@adminapi.confirmationmessage`), and nothing done (reference section 2.4).
    // Whatever the step says of Confirm or WhatIf, this call only asks.
    params.retain(|k, _| {
        !["WhatIf", "wi", "Confirm", "cf"]
            .iter()
            .any(|n| k.eq_ignore_ascii_case(n))
    });
    params.insert("Confirm".into(), Value::Bool(true));
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
                Some(message) => format!("{shown}: {}", call.hide(message)),
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
