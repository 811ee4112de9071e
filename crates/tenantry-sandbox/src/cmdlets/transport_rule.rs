//! Transport rules: Get-, New-, Set-, Remove-, Enable- and Disable-TransportRule.

use serde_json::{Map, Value, json};

use super::args::*;
use super::convert::convert;
use super::error::*;
use super::output::{CmdletOutput, no_change};
use super::recipient::check_name;
use crate::directory::{Directory, Lookup, RULE_STATE, Ty, new_rule, refresh_rule, rule_param};

fn find_rule(dir: &Directory, identity: &str) -> Result<usize> {
    let hits: Vec<usize> = dir
        .transport_rules
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            ["Name", "Guid", "Identity", "DistinguishedName"]
                .iter()
                .any(|k| {
                    r.get(*k)
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.eq_ignore_ascii_case(identity.trim()))
                })
        })
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [one] => Ok(*one),
        [] => Err(not_found(dir, identity)),
        _ => Err(lookup_error(dir, identity, Lookup::Ambiguous)),
    }
}

pub(super) fn get_rules(dir: &Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Identity", "State", "ResultSize"])?;
    let state = enum_list(args, "State", &RULE_STATE)?.and_then(|s| s.into_iter().next());
    let rules: Vec<Value> = match args.text("Identity")? {
        Some(id) => vec![Value::Object(
            dir.transport_rules[find_rule(dir, &id)?].clone(),
        )],
        None => dir
            .transport_rules
            .iter()
            .filter(|r| {
                state.as_deref().is_none_or(|s| {
                    r.get("State")
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.eq_ignore_ascii_case(s))
                })
            })
            .map(|r| Value::Object(r.clone()))
            .collect(),
    };
    Ok(limit_rendered(rules, result_size(args)?))
}

/// Applies rule parameters to `rule`; `Priority` is returned for the caller to place the rule.
/// `new` admits the parameters only New-TransportRule takes.
fn apply_rule_params(
    dir: &Directory,
    args: &Args,
    rule: &mut Map<String, Value>,
    skip: &[&str],
    new: bool,
) -> Result<Option<usize>> {
    let mut priority = None;
    for (k, v) in args.specific() {
        if skip.iter().any(|s| s.eq_ignore_ascii_case(k)) {
            continue;
        }
        // A rule is created enabled or not; later, Enable- and Disable-TransportRule turn it
        // on and off, as Set-TransportRule has no Enabled.
        if new && k.eq_ignore_ascii_case("Enabled") {
            let enabled = convert(dir, "Enabled", Ty::Bool, v)?;
            rule.insert(
                "State".into(),
                json!(if enabled == json!(true) {
                    "Enabled"
                } else {
                    "Disabled"
                }),
            );
            continue;
        }
        if new && k.eq_ignore_ascii_case("UseLegacyRegex") {
            rule.insert(
                "UseLegacyRegex".into(),
                convert(dir, "UseLegacyRegex", Ty::Bool, v)?,
            );
            continue;
        }
        let Some(p) = rule_param(k) else {
            return Err(unknown_parameter(k));
        };
        // `$null` clears a condition, exception or action, whatever its type; a Boolean one is
        // turned off with `$false`.
        let value = if v.is_null() && p.ty != Ty::Bool {
            Value::Null
        } else {
            convert(dir, p.name, p.ty, v)?
        };
        if p.name == "Priority" {
            priority = value.as_u64().map(|n| n as usize);
            continue;
        }
        let value = match (p.ty, value) {
            // An empty list clears a condition or action, as `$null` does.
            (Ty::Texts, Value::Array(items)) if items.is_empty() => Value::Null,
            (_, value) => value,
        };
        rule.insert(p.name.into(), value);
    }
    Ok(priority)
}

pub(super) fn new_rule_cmdlet(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    let name = args.required("New-TransportRule", "Name")?;
    check_name(&name)?;
    // Bind and check everything before the clock or the GUID stream moves, so a failed call
    // leaves the directory exactly as it was.
    let mut probe = Map::new();
    let priority = apply_rule_params(dir, args, &mut probe, &["Name"], true)?;
    check_priority(priority, dir.transport_rules.len())?;
    if dir.transport_rules.iter().any(|r| {
        r.get("Name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(&name))
    }) {
        return Err(CmdletError::exchange(
            RULE_EXISTS,
            "InvalidOperation",
            &name,
            format!("Transport rule \"{name}\" already exists. Please specify a different name."),
        ));
    }
    let when = dir.tick();
    let guid = dir.new_guid();
    let mut rule = new_rule(&dir.tenant, &name, &guid, when.as_str().unwrap_or(""));
    apply_rule_params(dir, args, &mut rule, &["Name"], true)?;
    let at = priority.unwrap_or(dir.transport_rules.len());
    dir.transport_rules.insert(at, rule);
    dir.renumber_rules();
    Ok(CmdletOutput::changed(vec![Value::Object(
        dir.transport_rules[at].clone(),
    )]))
}

/// A rule Priority must name a place in the list (for a new rule, the end too).
fn check_priority(priority: Option<usize>, highest: usize) -> Result<()> {
    match priority {
        Some(p) if p > highest => Err(out_of_range(
            "Priority",
            &p.to_string(),
            "0",
            &highest.to_string(),
        )),
        _ => Ok(()),
    }
}

pub(super) fn set_rule(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    let identity = args.required("Set-TransportRule", "Identity")?;
    // Bind first: an unknown parameter is reported even for a rule that does not exist.
    let mut probe = Map::new();
    apply_rule_params(dir, args, &mut probe, &["Identity", "Name"], false)?;
    let index = find_rule(dir, &identity)?;
    let before = dir.transport_rules[index].clone();
    let mut rule = before.clone();
    let priority = apply_rule_params(dir, args, &mut rule, &["Identity", "Name"], false)?;
    check_priority(priority, dir.transport_rules.len().saturating_sub(1))?;
    if let Some(new_name) = args.text("Name")? {
        let taken = dir.transport_rules.iter().enumerate().any(|(i, r)| {
            i != index
                && r.get("Name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(&new_name))
        });
        if taken {
            return Err(CmdletError::exchange(
                RULE_EXISTS,
                "InvalidOperation",
                &new_name,
                format!(
                    "Transport rule \"{new_name}\" already exists. Please specify a different name."
                ),
            ));
        }
        check_name(&new_name)?;
        rule.insert("Name".into(), json!(new_name));
    }
    refresh_rule(&dir.tenant, &mut rule);
    let moved = priority.is_some_and(|p| p != index);
    if rule == before && !moved {
        return Ok(no_change(
            before
                .get("Name")
                .and_then(Value::as_str)
                .unwrap_or(&identity),
        ));
    }
    let when = dir.tick();
    rule.insert("WhenChanged".into(), when);
    dir.transport_rules.remove(index);
    let at = priority.unwrap_or(index).min(dir.transport_rules.len());
    dir.transport_rules.insert(at, rule);
    dir.renumber_rules();
    Ok(CmdletOutput::changed(Vec::new()))
}

pub(super) fn remove_rule(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Identity"])?;
    let identity = args.required("Remove-TransportRule", "Identity")?;
    let index = find_rule(dir, &identity)?;
    dir.transport_rules.remove(index);
    dir.renumber_rules();
    dir.tick();
    Ok(CmdletOutput::changed(Vec::new()))
}

pub(super) fn enable_rule(dir: &mut Directory, args: &Args, enable: bool) -> Result<CmdletOutput> {
    args.only(&["Identity", "Mode"])?;
    let cmdlet = if enable {
        "Enable-TransportRule"
    } else {
        "Disable-TransportRule"
    };
    let identity = args.required(cmdlet, "Identity")?;
    let index = find_rule(dir, &identity)?;
    let state = if enable { "Enabled" } else { "Disabled" };
    if dir.transport_rules[index].get("State") == Some(&json!(state)) {
        let name = dir.transport_rules[index]
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        return Ok(no_change(&name));
    }
    let when = dir.tick();
    let rule = &mut dir.transport_rules[index];
    rule.insert("State".into(), json!(state));
    rule.insert("WhenChanged".into(), when);
    Ok(CmdletOutput::changed(Vec::new()))
}

#[cfg(test)]
mod tests {
    use crate::cmdlets::testing::*;
    use crate::directory::{RULE_PARAMS, Ty};

    #[test]
    fn transport_rules_are_created_changed_ordered_and_removed() {
        let mut dir = contoso(3);
        let rule = ok(
            &mut dir,
            "New-TransportRule",
            json!({"Name": "Block exe", "AttachmentHasExecutableContent": true, "RejectMessageReasonText": "No executables", "Priority": 0}),
        );
        assert_eq!(rule.value[0]["Priority"], 0);
        let rules = ok(&mut dir, "Get-TransportRule", json!({}));
        assert_eq!(rules.value.len(), 3);
        assert_eq!(
            rules.value[1]["Priority"], 1,
            "the existing rules moved down"
        );
        assert_eq!(
            err(&mut dir, "New-TransportRule", json!({"Name": "block EXE"})).class,
            RULE_EXISTS
        );
        assert!(
            ok(
                &mut dir,
                "Set-TransportRule",
                json!({"Identity": "Block exe", "Comments": "Security asked"})
            )
            .changed
        );
        let same = ok(
            &mut dir,
            "Set-TransportRule",
            json!({"Identity": "Block exe", "Comments": "Security asked"}),
        );
        assert!(!same.changed && !same.warnings.is_empty());
        assert_eq!(
            err(
                &mut dir,
                "Set-TransportRule",
                json!({"Identity": "Block exe", "Colour": 1})
            )
            .class,
            BINDING
        );
        ok(
            &mut dir,
            "Disable-TransportRule",
            json!({"Identity": "Block exe"}),
        );
        assert_eq!(
            ok(
                &mut dir,
                "Get-TransportRule",
                json!({"Identity": "Block exe"})
            )
            .value[0]["State"],
            "Disabled"
        );
        ok(
            &mut dir,
            "Remove-TransportRule",
            json!({"Identity": "Block exe"}),
        );
        assert_eq!(ok(&mut dir, "Get-TransportRule", json!({})).value.len(), 2);
    }

    /// A value of each type to set a rule parameter to, and how Get-TransportRule shows it.
    fn sample(ty: Ty, n: usize) -> (Value, Value) {
        let word = format!("word{n}");
        match ty {
            Ty::Text => (json!(word), json!(word)),
            Ty::Texts => (json!([word, "other"]), json!([word, "other"])),
            Ty::Bool => (json!(true), json!(true)),
            Ty::DateTime => (json!("2027-01-31"), json!("2027-01-31T00:00:00+00:00")),
            Ty::Size { .. } => (json!("10 MB"), json!("10 MB (10,485,760 bytes)")),
            Ty::Int { max, .. } => (json!(max.min(5)), json!(max.min(5))),
            Ty::Enum(e) => {
                let v = e.values[n % e.values.len()];
                (json!(v.to_lowercase()), json!(v))
            }
            other => panic!("no sample for {other:?}"),
        }
    }

    #[test]
    fn a_rule_round_trips_through_new_get_set_get_remove() {
        let mut dir = contoso(3);
        let created = ok(
            &mut dir,
            "New-TransportRule",
            json!({"Name": "Quarantine partners", "SentTo": ["user001@contoso.com"], "FromAddressContainsWords": ["invoice", "payment"], "ExceptIfSentTo": "user002@contoso.com", "Quarantine": true, "Mode": "Audit", "Enabled": false}),
        );
        let got = ok(
            &mut dir,
            "Get-TransportRule",
            json!({"Identity": "quarantine partners"}),
        );
        let rule = &got.value[0];
        assert_eq!(rule, &created.value[0], "New- answers the rule Get- reads");
        assert_eq!(rule["SentTo"], json!(["user001@contoso.com"]));
        assert_eq!(
            rule["FromAddressContainsWords"],
            json!(["invoice", "payment"])
        );
        assert_eq!(rule["ExceptIfSentTo"], json!(["user002@contoso.com"]));
        assert_eq!(
            (&rule["Mode"], &rule["State"], &rule["Quarantine"]),
            (&json!("Audit"), &json!("Disabled"), &json!(true))
        );
        // Unset multi-valued conditions are null, unset Boolean ones false, as the service
        // lists every property.
        assert_eq!(
            (
                &rule["SentToMemberOf"],
                &rule["ExceptIfFrom"],
                &rule["DeleteMessage"]
            ),
            (&Value::Null, &Value::Null, &json!(false))
        );
        assert_eq!(
            rule["Exceptions"],
            json!(["Microsoft.Exchange.MessagingPolicies.Rules.Tasks.SentToPredicate"])
        );
        ok(
            &mut dir,
            "Set-TransportRule",
            json!({"Identity": "Quarantine partners", "SentTo": [], "SentToScope": "NotInOrganization", "FromAddressContainsWords": null, "RejectMessageReasonText": "Not from partners", "Quarantine": false, "Priority": 0}),
        );
        let got = ok(
            &mut dir,
            "Get-TransportRule",
            json!({"Identity": "Quarantine partners"}),
        );
        let rule = &got.value[0];
        assert_eq!(
            (&rule["SentTo"], &rule["FromAddressContainsWords"]),
            (&Value::Null, &Value::Null),
            "cleared by an empty list and by null"
        );
        assert_eq!(rule["SentToScope"], "NotInOrganization");
        assert_eq!(rule["RejectMessageReasonText"], "Not from partners");
        assert_eq!(
            (&rule["Quarantine"], &rule["Priority"]),
            (&json!(false), &json!(0))
        );
        assert!(
            rule["Description"]
                .as_str()
                .unwrap_or("")
                .contains("\tReject the message with the explanation 'Not from partners'\r\n")
        );
        ok(
            &mut dir,
            "Remove-TransportRule",
            json!({"Identity": "Quarantine partners"}),
        );
        let e = err(
            &mut dir,
            "Get-TransportRule",
            json!({"Identity": "Quarantine partners"}),
        );
        assert_eq!(
            (e.class.as_str(), e.error_id.as_str()),
            (NOT_FOUND, "Ex6F9304")
        );
        assert!(
            e.message.starts_with(
                "The operation couldn't be performed because object 'Quarantine partners' couldn't be found on '"
            ),
            "{}",
            e.message
        );
        for (cmdlet, params) in [
            (
                "Set-TransportRule",
                json!({"Identity": "Quarantine partners", "Comments": "x"}),
            ),
            (
                "Remove-TransportRule",
                json!({"Identity": "Quarantine partners"}),
            ),
            (
                "Enable-TransportRule",
                json!({"Identity": "Quarantine partners"}),
            ),
        ] {
            assert_eq!(err(&mut dir, cmdlet, params).class, NOT_FOUND, "{cmdlet}");
        }
    }

    #[test]
    fn every_rule_parameter_comes_back_from_get_under_its_own_name() {
        let mut dir = contoso(3);
        let mut new = json!({"Name": "Everything"});
        let mut set = json!({"Identity": "Everything"});
        let mut shown = Vec::new();
        for (n, p) in RULE_PARAMS.iter().enumerate() {
            if p.name == "Priority" {
                continue;
            }
            let (sent, got) = sample(p.ty, n);
            new[p.name] = sent;
            let (sent, changed) = sample(p.ty, n + 1);
            set[p.name] = sent;
            shown.push((p.name, got, changed));
        }
        ok(&mut dir, "New-TransportRule", new);
        let rule = ok(
            &mut dir,
            "Get-TransportRule",
            json!({"Identity": "Everything"}),
        )
        .value[0]
            .clone();
        for (name, got, _) in &shown {
            assert_eq!(&rule[*name], got, "{name} after New-TransportRule");
        }
        ok(&mut dir, "Set-TransportRule", set);
        let rule = ok(
            &mut dir,
            "Get-TransportRule",
            json!({"Identity": "Everything"}),
        )
        .value[0]
            .clone();
        for (name, _, changed) in &shown {
            assert_eq!(&rule[*name], changed, "{name} after Set-TransportRule");
        }
        // Each condition's exception is listed with the exceptions, each action with the
        // actions.
        for key in ["Conditions", "Exceptions", "Actions"] {
            assert!(rule[key].as_array().is_some_and(|a| a.len() > 10), "{key}");
        }
    }

    #[test]
    fn rule_parameters_the_service_refuses_are_refused() {
        let mut dir = contoso(3);
        ok(
            &mut dir,
            "New-TransportRule",
            json!({"Name": "Legacy", "UseLegacyRegex": true, "Enabled": "False"}),
        );
        let rule =
            ok(&mut dir, "Get-TransportRule", json!({"Identity": "Legacy"})).value[0].clone();
        assert_eq!(
            (&rule["UseLegacyRegex"], &rule["State"]),
            (&json!(true), &json!("Disabled"))
        );
        for params in [
            // Set-TransportRule has neither; Enable-/Disable-TransportRule turn a rule on and off.
            json!({"Identity": "Legacy", "Enabled": true}),
            json!({"Identity": "Legacy", "UseLegacyRegex": false}),
        ] {
            assert_eq!(err(&mut dir, "Set-TransportRule", params).class, BINDING);
        }
        // Exchange Online documents two scopes.
        assert_eq!(
            err(
                &mut dir,
                "Set-TransportRule",
                json!({"Identity": "Legacy", "SentToScope": "ExternalPartner"})
            )
            .class,
            TRANSFORMATION
        );
        assert_eq!(
            err(
                &mut dir,
                "Set-TransportRule",
                json!({"Identity": "Legacy", "SCLOver": 10})
            )
            .class,
            VALIDATION
        );
    }
}
