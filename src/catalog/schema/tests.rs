use std::collections::{HashMap, HashSet};

use serde_json::{Value, json};

use super::*;

/// The catalog's part of the schema alone: `$defs` with the shared value schemas and one
/// entry per cmdlet, and the `Step` it extends.
fn extension() -> Value {
    let mut schema =
        json!({ "$defs": { "Step": { "properties": { "cmdlet": { "type": "string" } } } } });
    extend_playbook_schema(&mut schema, &Catalog::built_in());
    schema
}

/// Values of every shape, and the texts each kind's check reads.
fn samples() -> Vec<Value> {
    let mut out = vec![
        json!(true),
        json!(false),
        json!(null),
        json!(0),
        json!(1),
        json!(-1),
        json!(30),
        json!(5.5),
        json!([]),
        json!(["a", "b"]),
        json!([1, 2]),
        json!([true]),
        json!({ "Add": ["alex@contoso.com"], "remove": "bo@contoso.com" }),
        json!({ "add": "a" }),
        json!({ "Key": "value" }),
    ];
    for text in [
        "true",
        "False",
        "$true",
        " TRUE ",
        "yes",
        "30",
        "-30",
        "+7",
        "5.5",
        ".5",
        "1.",
        "1e3",
        "Unlimited",
        "unlimited",
        "50 GB",
        "50GB",
        "1.5 MB",
        "1024 B",
        "50 GB (53,687,091,200 bytes)",
        "30.00:00:00",
        "-1.02:03:04",
        "12:30",
        "2026-12-31",
        "2026-12-31T18:00:00Z",
        "12/31/2026 6:00 PM",
        "alex@contoso.com",
        "not an address",
        "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}",
        "3f2504e0-4f89-11d3-9a0c-0305e82c3301",
        "aGVsbG8=",
        "text",
        "",
    ] {
        out.push(json!(text));
    }
    out
}

/// Values for an enumeration: its values as written, in other cases, as flags, and wrong.
fn enum_samples(values: &[String]) -> Vec<Value> {
    let first = &values[0];
    let last = &values[values.len() - 1];
    vec![
        json!(first),
        json!(first.to_ascii_lowercase()),
        json!(first.to_ascii_uppercase()),
        json!(format!(" {first} ")),
        json!(format!("{first}, {last}")),
        json!(format!("{first},{}", last.to_ascii_lowercase())),
        json!(format!("{first},")),
        json!(format!("{first}x")),
        json!([first, last]),
        json!(values.len()),
    ]
}

#[test]
fn the_schema_takes_every_value_the_check_takes() {
    let schema = extension();
    let defs = schema["$defs"].as_object().unwrap();
    let shared: Map<String, Value> = defs
        .iter()
        .filter(|(k, _)| k.starts_with(PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let catalog = Catalog::built_in();
    let mut validators: HashMap<String, jsonschema::Validator> = HashMap::new();
    let mut seen = HashSet::new();
    let mut checked = 0;
    for name in catalog.names() {
        let cmdlet = catalog.cmdlet(&name).unwrap();
        for p in &cmdlet.params {
            if !seen.insert((p.kind.scalar.name(), p.kind.many.name(), p.values.clone())) {
                continue;
            }
            let param = &defs[&cmdlet.name]["properties"][&p.name];
            let validator = validators.entry(param.to_string()).or_insert_with(|| {
                let mut root = param.as_object().unwrap().clone();
                root.insert("$defs".into(), Value::Object(shared.clone()));
                jsonschema::validator_for(&Value::Object(root)).expect("a valid schema")
            });
            let mut values = samples();
            if !p.values.is_empty() {
                values.extend(enum_samples(&p.values));
            }
            for value in values {
                if p.kind.check(&value, &p.values).is_ok() {
                    checked += 1;
                    assert!(
                        validator.is_valid(&value),
                        "{}.{} ({}) takes {value} but its schema refuses it",
                        cmdlet.name,
                        p.name,
                        p.type_name
                    );
                }
            }
            for template in ["{{ item.Identity }}", "x {% if a %}b{% endif %}", "{# n #}"] {
                assert!(
                    validator.is_valid(&json!(template)),
                    "{}.{}",
                    cmdlet.name,
                    p.name
                );
            }
        }
    }
    assert!(checked > 1000, "{checked}");
}

#[test]
fn values_of_the_wrong_type_are_flagged() {
    let schema = extension();
    let root = |cmdlet: &str, param: &str| {
        let mut root = schema["$defs"][cmdlet]["properties"][param]
            .as_object()
            .unwrap_or_else(|| panic!("{cmdlet}.{param}"))
            .clone();
        root.insert("$defs".into(), schema["$defs"].clone());
        jsonschema::validator_for(&Value::Object(root)).unwrap()
    };
    let cases = [
        (
            "Set-Mailbox",
            "HiddenFromAddressListsEnabled",
            json!("maybe"),
        ),
        ("Set-Mailbox", "IssueWarningQuota", json!("lots")),
        ("Set-Mailbox", "RetainDeletedItemsFor", json!("thirty days")),
        ("Set-Mailbox", "RetainDeletedItemsFor", json!(-3)),
        ("Set-Mailbox", "Confirm", json!(null)),
        ("Set-TransportRule", "Mode", json!("Audits")),
        (
            "Set-Mailbox",
            "EmailAddresses",
            json!({ "Replace": ["a@contoso.com"] }),
        ),
        ("New-Mailbox", "PrimarySmtpAddress", json!("alex")),
        ("Set-Mailbox", "Identity", json!({ "Name": "alex" })),
    ];
    for (cmdlet, param, value) in cases {
        assert!(
            !root(cmdlet, param).is_valid(&value),
            "{cmdlet}.{param} should refuse {value}"
        );
    }
}

#[test]
fn steps_complete_known_cmdlets_and_take_unknown_ones() {
    let schema: Value = serde_json::from_str(&crate::cli::playbook_schema()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let playbook = |step: Value| {
        json!({
            "version": 1,
            "name": "t",
            "tenants": [{ "name": "c", "organization": "c.onmicrosoft.com", "cloud": "sandbox" }],
            "steps": [step]
        })
    };
    let valid = [
        json!({ "cmdlet": "Set-Mailbox", "params": { "Identity": "a", "HiddenFromAddressListsEnabled": true, "RetainDeletedItemsFor": "30.00:00:00" } }),
        json!({ "cmdlet": "Set-Mailbox", "params": { "HiddenFromAddressListsEnabled": "{{ vars.hide }}" } }),
        // Another case and aliases are tenantry's to judge.
        json!({ "cmdlet": "Set-Mailbox", "params": { "hiddenfromaddresslistsenabled": "maybe", "cf": 3 } }),
        json!({ "cmdlet": "set-mailbox", "params": { "HiddenFromAddressListsEnabled": "maybe" } }),
        json!({ "cmdlet": "Set-TransportRule", "params": { "Identity": "r", "Mode": "audit" } }),
        json!({ "cmdlet": "Get-SomethingNew", "params": { "Anything": { "at": ["all"] } } }),
        // `catalog: off` sends the call as written: nothing about it is checked.
        json!({ "cmdlet": "Set-Mailbox", "catalog": "off", "params": { "HiddenFromAddressListsEnabled": "maybe" } }),
    ];
    for step in valid {
        let doc = playbook(step.clone());
        let errors: Vec<String> = validator.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{step}: {errors:?}");
    }
    let invalid = [
        json!({ "cmdlet": "Set-Mailbox", "params": { "HiddenFromAddressListsEnabled": "maybe" } }),
        json!({ "cmdlet": "Set-TransportRule", "params": { "Mode": "Audits" } }),
    ];
    for step in invalid {
        assert!(!validator.is_valid(&playbook(step.clone())), "{step}");
    }
    let names = schema["$defs"]["Step"]["properties"]["cmdlet"]["anyOf"]
        .as_array()
        .unwrap();
    assert_eq!(names.len(), 731, "each name, and any other");
    assert_eq!(
        schema["$comment"],
        "Cmdlets and parameters from MicrosoftDocs/office-docs-powershell (commit 93336da2bca96c31c0fc8acc52658a30ef8a6c94), CC BY 4.0"
    );
    assert_eq!(names[0]["const"], "Add-AvailabilityAddressSpace");
}

#[test]
fn the_playbook_schema_stays_small() {
    let size = crate::cli::playbook_schema().len();
    assert!(size < 2_000_000, "{size} bytes");
}

#[test]
fn any_case_spells_both_cases_and_escapes_syntax() {
    assert_eq!(any_case("Add-in"), "[Aa][Dd][Dd]-[Ii][Nn]");
    assert_eq!(any_case("a.b(1)"), r"[Aa]\.[Bb]\(1\)");
}
