//! `tenantry cmdlets`: the catalog listed and filtered, one cmdlet shown as text and JSON, and
//! what an unknown cmdlet or a bad `--catalog` gets. Outputs are pinned under `snapshots/`.

use crate::support::{Workspace, tenantry};

const CREDIT: &str =
    "Cmdlet reference: MicrosoftDocs/office-docs-powershell (commit 93336da2bca9), CC BY 4.0";

#[test]
fn a_cmdlets_parameters_are_shown_filtered_by_name() {
    let run = tenantry(&["cmdlets", "Set-TransportRule", "-p", "Mode"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.ends_with(&format!("\n{CREDIT}\n")),
        "{}",
        run.stdout
    );
    insta::assert_snapshot!("set_transport_rule_mode", run.stdout);
}

#[test]
fn a_cmdlet_shows_its_sets_and_what_each_parameter_needs() {
    // Any case finds it; the name shown is the documented one.
    let run = tenantry(&["cmdlets", "new-mailbox"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout
            .starts_with("New-Mailbox: 42 parameters\nParameter sets: User, ")
    );
    insta::assert_snapshot!("new_mailbox", run.stdout);
}

#[test]
fn the_list_is_filtered_by_verb_and_noun() {
    let all = tenantry(&["cmdlets"]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    assert_eq!(all.stdout.lines().count(), 730);
    assert_eq!(all.stderr, format!("730 cmdlets. {CREDIT}\n"));
    let run = tenantry(&["cmdlets", "--noun", "transportrule"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!("noun_transportrule", run.stdout);
    let run = tenantry(&["cmdlets", "--verb", "SET", "--noun", "TransportRule"]);
    assert_eq!(run.stdout, "Set-TransportRule\n");
    let run = tenantry(&["cmdlets", "--verb", "Sett"]);
    assert_eq!((run.code, run.stdout.as_str()), (0, ""));
    assert!(run.stderr.starts_with("0 cmdlets. "), "{}", run.stderr);
}

#[test]
fn json_gives_the_cmdlet_or_the_list_with_its_source() {
    let run = tenantry(&[
        "cmdlets",
        "Set-TransportRule",
        "-p",
        "mode",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    insta::assert_json_snapshot!("set_transport_rule_mode_json", doc);
    let run = tenantry(&["cmdlets", "--noun", "TransportRule", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("one JSON document");
    assert_eq!(doc["cmdlets"].as_array().map(Vec::len), Some(10));
    assert_eq!(doc["source"]["commit"].as_str().map(str::len), Some(40));
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn an_unknown_cmdlet_or_parameter_exits_2_with_suggestions() {
    let run = tenantry(&["cmdlets", "Set-Mailbx"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.is_empty());
    insta::assert_snapshot!("unknown_cmdlet", run.stderr);
    let run = tenantry(&["cmdlets", "Frobnicate-Widget"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "unknown cmdlet `Frobnicate-Widget`: `tenantry cmdlets` lists the 730 it knows\n"
    );
    let run = tenantry(&["cmdlets", "Set-Mailbox", "-p", "RetainDeletedItemFor"]);
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr,
        "Set-Mailbox has no parameter whose name contains `RetainDeletedItemFor`, did you mean `RetainDeletedItemsFor`?\n"
    );
}

#[test]
fn filters_that_do_not_go_together_are_usage_errors() {
    for args in [
        &["cmdlets", "Set-Mailbox", "--verb", "Set"][..],
        &["cmdlets", "-p", "Identity"],
        &["cmdlets", "--format", "yaml"],
    ] {
        let run = tenantry(args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
}

#[test]
fn a_catalog_file_replaces_the_built_in_one_and_a_bad_one_exits_2() {
    let mine = r#"{"source": "contoso/cmdlet-docs", "commit": "0123456789abcdef", "license": "MIT",
        "cmdlets": {"Get-Widget": {"params": {"Identity": {"type": "String", "required": "True"},
        "Verbose": {"type": "SwitchParameter", "aliases": ["vb"]}}}}}"#;
    let bare = r#"{"cmdlets": {"Get-Widget": {}}}"#;
    let ws = Workspace::new(&[
        ("mine.json", mine),
        ("bare.json", bare),
        ("broken.json", "{\"cmdlets\": ["),
        ("empty.json", "{\"cmdlets\": {}}"),
    ]);
    let run = ws.run(&["cmdlets", "--catalog", "mine.json", "get-widget"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "Get-Widget: 2 parameters\n\n\
         -Identity <String>  required\n    a value\n\
         -Verbose <SwitchParameter>  alias vb\n    true or false\n\n\
         Cmdlet reference: contoso/cmdlet-docs (commit 0123456789ab), MIT\n"
    );
    let run = ws.run(&["cmdlets", "--catalog", "bare.json"]);
    assert_eq!(run.stdout, "Get-Widget\n");
    assert_eq!(run.stderr, "1 cmdlet. Cmdlet catalog: bare.json\n");
    let run = ws.run(&["cmdlets", "--catalog", "mine.json", "Get-Mailbox"]);
    assert_eq!(run.code, 2, "the built-in catalog is not consulted");
    for file in ["broken.json", "empty.json"] {
        let run = ws.run(&["cmdlets", "--catalog", file]);
        assert_eq!(run.code, 2, "{file}");
        assert!(run.stdout.is_empty(), "{file}");
        insta::assert_snapshot!(
            format!("bad_catalog_{}", file.replace(".json", "")),
            run.stderr
        );
    }
    let run = ws.run(&["cmdlets", "--catalog", "missing.json", "Get-Widget"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .starts_with("cannot read the cmdlet catalog missing.json: "),
        "{}",
        run.stderr
    );
}

#[test]
fn the_playbook_schema_can_come_from_a_catalog_file() {
    let ws = Workspace::new(&[(
        "mine.json",
        r#"{"cmdlets": {"Get-Widget": {"params": {"Count": {"type": "Int32"}}}}}"#,
    )]);
    let run = ws.run(&["schema", "playbook", "--catalog", "mine.json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let schema: serde_json::Value = serde_json::from_str(&run.stdout).expect("JSON");
    assert_eq!(
        schema["$defs"]["Get-Widget"]["properties"]["Count"]["$ref"],
        "#/$defs/ParamInt"
    );
    assert!(schema["$defs"].get("Set-Mailbox").is_none());
}

/// `validate`, `plan` and `run` check calls against `--catalog FILE` when given: a cmdlet
/// only it documents is valid there, and one it lacks is not.
#[test]
fn validate_checks_calls_against_a_catalog_file() {
    let catalog = r#"{"source":"tenant","commit":"","license":"","cmdlets":{"Get-Brandnew":{"sets":[],"params":{"Depth":{"type":"Int32"}}}}}"#;
    let playbook = |cmdlet: &str, params: &str| {
        format!(
            "version: 1\nname: Newer\ntenants:\n  - {{ name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }}\nsteps:\n  - cmdlet: {cmdlet}\n    params: {params}\n"
        )
    };
    let ws = Workspace::new(&[
        ("newer.json", catalog),
        ("new.yaml", &playbook("Get-Brandnew", "{ Depth: 2 }")),
        ("typed.yaml", &playbook("Get-Brandnew", "{ Depth: deep }")),
        ("old.yaml", &playbook("Get-Mailbox", "{ ResultSize: 5 }")),
    ]);
    let built_in = ws.run(&["validate", "new.yaml"]);
    assert_eq!(built_in.code, 2, "{}", built_in.stderr);
    assert!(
        built_in
            .stderr
            .contains("`Get-Brandnew` is not an Exchange Online cmdlet"),
        "{}",
        built_in.stderr
    );
    let newer = ws.run(&["validate", "new.yaml", "--catalog", "newer.json"]);
    assert_eq!(newer.code, 0, "{}", newer.stderr);
    let typed = ws.run(&["plan", "typed.yaml", "--catalog", "newer.json"]);
    assert_eq!(typed.code, 2, "{}", typed.stderr);
    assert!(
        typed
            .stderr
            .contains("Get-Brandnew -Depth takes a whole number, not `deep`"),
        "{}",
        typed.stderr
    );
    let old = ws.run(&["validate", "old.yaml", "--catalog", "newer.json"]);
    assert_eq!(old.code, 2, "{}", old.stderr);
    let missing = ws.run(&["validate", "new.yaml", "--catalog", "nowhere.json"]);
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("cannot read the cmdlet catalog"),
        "{}",
        missing.stderr
    );
}
