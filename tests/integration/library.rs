//! The library API the run stage builds on: expanding a step once earlier steps' output is
//! known.

use std::sync::Arc;

use crate::support::Collect;
use minijinja::value::{Serde, Value};
use tenantry::plan::{PlanOptions, Planner, Summary};
use tenantry::playbook::Playbook;
use tenantry::template::TenantScope;

#[test]
fn a_step_reading_earlier_output_expands_once_that_output_is_known() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("p.yaml");
    std::fs::write(
        &path,
        r#"version: 1
name: Runtime
tenants:
  - { name: a, organization: a.onmicrosoft.com, cloud: sandbox }
steps:
  - id: rules
    cmdlet: Get-TransportRule
  - id: create
    cmdlet: New-TransportRule
    when: "{{ steps.rules.output | selectattr('Name', 'eq', 'Banner') | list | length == 0 }}"
    params: { Name: Banner }
  - id: fix
    cmdlet: Set-Mailbox
    for_each: "{{ steps.rules.output }}"
    when: item.Name != 'Banner'
    params: { Identity: "{{ item.Name }}" }
"#,
    )
    .expect("write");
    let pb = Playbook::load(&path).expect("valid");
    let env = tenantry::template::environment(&pb.dir);
    let planner = Planner::new(&env, &pb, &PlanOptions::default()).expect("compiles");
    let tenant = &pb.tenants[0];
    let with_output = |rules: serde_json::Value| {
        let base = planner.tenant_scope(tenant);
        Arc::new(TenantScope {
            tenant: base.tenant.clone(),
            vars: base.vars.clone(),
            steps: Value::from(Serde(serde_json::json!({ "rules": { "output": rules } }))),
        })
    };
    let expand = |rules: serde_json::Value, step: usize| {
        let mut sink = Collect::default();
        planner
            .expand_step(
                tenant,
                &with_output(rules),
                &planner.steps()[step],
                &mut sink,
                &mut Summary::default(),
            )
            .expect("expands");
        sink.0
            .into_iter()
            .map(|r| r["type"].as_str().unwrap_or("").to_owned())
            .collect::<Vec<_>>()
    };
    // The banner exists: `create` is skipped by its tenant-wide condition on `steps`.
    assert_eq!(
        expand(serde_json::json!([{ "Name": "Banner" }]), 1),
        ["step", "skipped"]
    );
    // It does not: `create` runs.
    assert_eq!(
        expand(serde_json::json!([{ "Name": "Other" }]), 1),
        ["step", "task"]
    );
    // Per-item conditions apply to the output's items.
    assert_eq!(
        expand(
            serde_json::json!([{ "Name": "Banner" }, { "Name": "Other" }]),
            2
        ),
        ["step", "skipped", "task"]
    );
}
