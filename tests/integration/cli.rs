//! The command line: selection, variables, tags, output formats, schemas and exit codes.

use crate::support::{Workspace, root, tenantry};

/// Three sandbox tenants and three steps: a plain Get, a CSV-driven write with a per-item
/// condition, and a step that reads the first step's output.
const PLAYBOOK: &str = r#"version: 1
name: Fixture
tenants:
  - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox, tags: [pilot, eu] }
  - { name: fabrikam, organization: fabrikam.onmicrosoft.com, cloud: sandbox, tags: [us], vars: { retention: "14.00:00:00" } }
  - { name: northwind, organization: northwind.onmicrosoft.com, cloud: sandbox, tags: [eu] }
vars:
  retention: "30.00:00:00"
steps:
  - id: mailboxes
    cmdlet: Get-Mailbox
    params: { ResultSize: Unlimited }
    tags: [read]
  - id: members
    cmdlet: Add-DistributionGroupMember
    for_each: "{{ csv('members.csv') }}"
    when: item.Tenant == tenant.name
    params:
      Identity: "{{ item.Group }}"
      Member: "{{ item.Member }}"
      Note: "retention {{ vars.retention }}"
    # `Note` is no parameter of the cmdlet: this step is sent as written.
    catalog: off
    tags: [groups]
  - name: Set retention
    cmdlet: Set-Mailbox
    for_each: "{{ steps.mailboxes.output }}"
    params: { Identity: "{{ item.UserPrincipalName }}", RetainDeletedItemsFor: "{{ vars.retention }}" }
"#;

const MEMBERS: &str = "Tenant,Group,Member\ncontoso,Sales,alex@contoso.com\nfabrikam,Sales,bo@fabrikam.com\ncontoso,Ops,cy@contoso.com\n";

fn workspace() -> Workspace {
    Workspace::new(&[("playbook.yaml", PLAYBOOK), ("members.csv", MEMBERS)])
}

fn task_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("every line is JSON"))
        .filter(|r| r["type"] == "task")
        .map(|r| r["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[test]
fn validate_reports_what_it_checked() {
    let run = workspace().run(&["validate", "playbook.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(
        run.stderr.trim(),
        "playbook.yaml is valid: 3 tenants, 3 steps, 6 tasks known now, 1 step expanding at run time"
    );
}

#[test]
fn plan_json_is_one_record_per_line_from_header_to_summary() {
    let run = workspace().run(&["plan", "playbook.yaml", "--format", "json"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let records: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert_eq!(records[0]["type"], "plan");
    assert_eq!(records[0]["format"], 1);
    let last = records.last().expect("records");
    assert_eq!(last["type"], "summary");
    assert_eq!(last["tasks"], 6);
    assert_eq!(
        last["skipped"], 6,
        "3 CSV rows × 3 tenants, 3 of them for the tenant"
    );
    assert_eq!(last["deferred"], 3);
    let known = [
        "plan", "tenant", "step", "task", "skipped", "deferred", "summary",
    ];
    assert!(
        records
            .iter()
            .all(|r| known.contains(&r["type"].as_str().unwrap_or("")))
    );
    let ids = task_ids(&run.stdout);
    assert_eq!(
        ids,
        [
            "contoso/mailboxes",
            "contoso/members/contoso,Sales,alex@contoso.com",
            "contoso/members/contoso,Ops,cy@contoso.com",
            "fabrikam/mailboxes",
            "fabrikam/members/fabrikam,Sales,bo@fabrikam.com",
            "northwind/mailboxes",
        ]
    );
}

#[test]
fn limit_selects_by_name_and_tag_with_exclusions() {
    let ws = workspace();
    let tenants = |args: &[&str]| -> Vec<String> {
        let mut full = vec!["plan", "playbook.yaml", "--format", "json"];
        full.extend_from_slice(args);
        let run = ws.run(&full);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let header: serde_json::Value =
            serde_json::from_str(run.stdout.lines().next().expect("a header")).expect("JSON");
        header["tenants"]
            .as_array()
            .expect("tenants")
            .iter()
            .map(|t| t.as_str().expect("a name").to_owned())
            .collect()
    };
    assert_eq!(tenants(&[]), ["contoso", "fabrikam", "northwind"]);
    assert_eq!(tenants(&["--limit", "fabrikam"]), ["fabrikam"]);
    assert_eq!(tenants(&["--limit", "tag:eu"]), ["contoso", "northwind"]);
    assert_eq!(tenants(&["--limit", "tag:eu,!contoso"]), ["northwind"]);
    assert_eq!(tenants(&["-l", "!tag:eu"]), ["fabrikam"]);
    assert_eq!(
        tenants(&["-l", "northwind", "-l", "contoso"]),
        ["contoso", "northwind"]
    );
}

#[test]
fn limit_refuses_unknown_tenants_and_tags() {
    let ws = workspace();
    let run = ws.run(&["plan", "playbook.yaml", "--limit", "contosso"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("no tenant is named `contosso`, did you mean `contoso`?"),
        "{}",
        run.stderr
    );
    let run = ws.run(&["plan", "playbook.yaml", "--limit", "tag:euro"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("no tenant has the tag `euro`, did you mean `eu`?"),
        "{}",
        run.stderr
    );
    let run = ws.run(&["plan", "playbook.yaml", "--limit", "contoso,!tag:pilot"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("selects no tenant"), "{}", run.stderr);
}

#[test]
fn var_overrides_playbook_and_tenant_vars() {
    let ws = workspace();
    let run = ws.run(&["plan", "playbook.yaml", "--limit", "fabrikam"]);
    assert!(
        run.stdout.contains("-Note 'retention 14.00:00:00'"),
        "tenant var wins over playbook var:\n{}",
        run.stdout
    );
    let run = ws.run(&[
        "plan",
        "playbook.yaml",
        "--limit",
        "fabrikam",
        "--var",
        "retention=7.00:00:00",
    ]);
    assert!(
        run.stdout.contains("-Note 'retention 7.00:00:00'"),
        "--var wins over both:\n{}",
        run.stdout
    );
    let run = ws.run(&["plan", "playbook.yaml", "--var", "retention"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("is not NAME=VALUE"), "{}", run.stderr);
}

#[test]
fn tags_select_steps_and_guard_their_dependencies() {
    let ws = workspace();
    let run = ws.run(&[
        "plan",
        "playbook.yaml",
        "--tags",
        "groups",
        "--format",
        "json",
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        task_ids(&run.stdout)
            .iter()
            .all(|id| id.contains("/members/"))
    );
    // Tag `Set retention` `write`: selecting `--tags write` would run it without `mailboxes`,
    // whose output it reads, and that is an error.
    let ws2 = Workspace::new(&[
        (
            "playbook.yaml",
            &PLAYBOOK.replace(
                "params: { Identity: \"{{ item.UserPrincipalName }}\"",
                "tags: [write]\n    params: { Identity: \"{{ item.UserPrincipalName }}\"",
            ),
        ),
        ("members.csv", MEMBERS),
    ]);
    let run = ws2.run(&["plan", "playbook.yaml", "--tags", "write"]);
    assert_eq!(run.code, 2, "{}", run.stdout);
    assert!(
        run.stderr.contains("`--tags` leaves step `mailboxes` out"),
        "{}",
        run.stderr
    );
    let run = ws.run(&["plan", "playbook.yaml", "--tags", "nope"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("tags in use: groups, read"),
        "{}",
        run.stderr
    );
}

#[test]
fn plans_are_deterministic() {
    let ws = workspace();
    let a = ws.run(&["plan", "playbook.yaml", "--format", "json"]);
    let b = ws.run(&["plan", "playbook.yaml", "--format", "json"]);
    assert_eq!(a.stdout, b.stdout);
}

#[test]
fn a_plan_that_fails_midway_says_so_on_stdout_too() {
    // The second tenant lacks a variable the first has, so expansion fails after output began.
    let playbook = r#"version: 1
name: Midway
tenants:
  - { name: a, organization: a.onmicrosoft.com, cloud: sandbox, vars: { group: Sales } }
  - { name: b, organization: b.onmicrosoft.com, cloud: sandbox, vars: { other: 1 } }
steps:
  - cmdlet: Get-DistributionGroup
    params: { Identity: "{{ vars.group }}" }
"#;
    let ws = Workspace::new(&[("p.yaml", playbook)]);
    let run = ws.run(&["plan", "p.yaml"]);
    assert_eq!(run.code, 2);
    assert!(run.stdout.contains("tenant a "), "{}", run.stdout);
    assert!(
        run.stdout
            .trim_end()
            .ends_with("Plan incomplete: `vars.group` is undefined (details on standard error)"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("p.yaml:8:29"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("while rendering `Identity` for tenant `b`"),
        "{}",
        run.stderr
    );
    let run = ws.run(&["plan", "p.yaml", "--format", "json"]);
    let last: serde_json::Value =
        serde_json::from_str(run.stdout.lines().last().expect("lines")).expect("JSON");
    assert_eq!(last["type"], "error");
}

#[test]
fn a_closed_pipe_is_not_an_error() {
    use std::io::Read;
    let ws = Workspace::new(&[(
        "p.yaml",
        "version: 1\nname: Many\ntenants:\n  - { name: a, organization: a.onmicrosoft.com, cloud: sandbox }\nsteps:\n  - cmdlet: Get-Mailbox\n    for_each: \"{{ range(90000) }}\"\n    params: { Identity: \"user{{ item }}\" }\n",
    )]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(["plan", "p.yaml"])
        .current_dir(ws.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = [0u8; 64];
    child
        .stdout
        .as_mut()
        .expect("stdout")
        .read_exact(&mut first)
        .expect("some output");
    drop(child.stdout.take());
    let status = child.wait().expect("exit");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("stderr");
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn committed_schemas_match_the_types() {
    for (kind, file) in [
        ("playbook", "schemas/playbook.schema.json"),
        ("plan", "schemas/plan.schema.json"),
        ("check", "schemas/check.schema.json"),
        ("reviewed-plan", "schemas/reviewed-plan.schema.json"),
    ] {
        let run = tenantry(&["schema", kind]);
        assert_eq!(run.code, 0);
        let committed = std::fs::read_to_string(root().join(file)).expect("schema file");
        assert_eq!(
            committed, run.stdout,
            "{file} is stale: regenerate it with `cargo run -- schema {kind} > {file}`"
        );
    }
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let run = tenantry(&["plan"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("<PLAYBOOK>"), "{}", run.stderr);
    let run = tenantry(&["--help"]);
    assert_eq!(run.code, 0);
    for cmd in ["validate", "plan", "schema"] {
        assert!(run.stdout.contains(cmd), "{}", run.stdout);
    }
    let run = tenantry(&["plan", "does-not-exist.yaml"]);
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("`does-not-exist.yaml` does not exist"),
        "{}",
        run.stderr
    );
}

#[test]
fn var_values_keep_their_yaml_type() {
    let playbook = r#"version: 1
name: Typed
tenants:
  - { name: a, organization: a.onmicrosoft.com, cloud: sandbox }
vars: { enabled: true, size: 10 }
steps:
  - cmdlet: Set-Mailbox
    when: "{{ vars.enabled }}"
    catalog: off
    params: { Identity: x, Size: "{{ vars.size }}", Note: "{{ vars.note | default('none') }}" }
"#;
    let ws = Workspace::new(&[("p.yaml", playbook)]);
    let params = |args: &[&str]| -> serde_json::Value {
        let mut full = vec!["plan", "p.yaml", "--format", "json"];
        full.extend_from_slice(args);
        let run = ws.run(&full);
        assert_eq!(run.code, 0, "{}", run.stderr);
        run.stdout
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON"))
            .find(|r| r["type"] == "task")
            .map_or(serde_json::Value::Null, |r| r["params"].clone())
    };
    assert_eq!(
        params(&["--var", "size=5"])["Size"],
        5,
        "a number stays a number"
    );
    assert_eq!(
        params(&["--var", "note=01234"])["Note"],
        "01234",
        "leading zeros stay text"
    );
    assert_eq!(
        params(&["--var", "note=NO"])["Note"],
        "NO",
        "NO is a country code, not false"
    );
    assert_eq!(
        params(&["--var", "enabled=false"]),
        serde_json::Value::Null,
        "false turns the step off"
    );
}

#[test]
fn an_empty_limit_selects_nothing_rather_than_everything() {
    let run = workspace().run(&["plan", "playbook.yaml", "--limit", ""]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("`--limit` is empty"), "{}", run.stderr);
}

#[test]
fn a_step_switched_off_for_a_tenant_does_not_read_its_data() {
    let playbook = r#"version: 1
name: Per-tenant data
tenants:
  - { name: a, organization: a.onmicrosoft.com, cloud: sandbox }
  - { name: b, organization: b.onmicrosoft.com, cloud: sandbox }
steps:
  - cmdlet: Add-DistributionGroupMember
    when: tenant.name == 'a'
    for_each: "{{ csv(tenant.name ~ '.csv') }}"
    params: { Identity: Sales, Member: "{{ item.Email }}" }
"#;
    let ws = Workspace::new(&[("p.yaml", playbook), ("a.csv", "Email\nx@a.com\n")]);
    let run = ws.run(&["plan", "p.yaml", "--format", "json"]);
    assert_eq!(run.code, 0, "b.csv must not be read:\n{}", run.stderr);
    assert_eq!(
        task_ids(&run.stdout),
        ["a/1-add-distributiongroupmember/x@a.com"]
    );
}

#[test]
fn invalid_input_is_reported_even_when_the_reader_has_gone() {
    let playbook = "version: 1\nname: Midway\ntenants:\n  - { name: a, organization: a.onmicrosoft.com, cloud: sandbox, vars: { g: x } }\n  - { name: b, organization: b.onmicrosoft.com, cloud: sandbox, vars: { h: x } }\nsteps:\n  - cmdlet: Get-DistributionGroup\n    params: { Identity: \"{{ vars.g }}\" }\n";
    let ws = Workspace::new(&[("p.yaml", playbook)]);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(["plan", "p.yaml"])
        .current_dir(ws.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // Close the reading end at once, as `tenantry plan p.yaml | true` does.
    let mut child = child;
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("exit");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("`vars.g` is undefined"));
}
