//! Rollouts in waves: a wave starts only when the one before passed its gate; a failed gate
//! stops the run (exit 4) naming the wave, and `--resume` goes on from there once the cause
//! is fixed. What was written is read from the sandbox's write log.

use std::collections::BTreeMap;

use serde_json::Value;
use tenantry::sandbox::{Behaviour, Sandbox, SandboxConfig};

use crate::support::{Run, Workspace};

const STEPS: &str = "rollout:
  waves: [ { limit: \"tag:canary\" }, \"10%\", \"50%\", \"100%\" ]
steps:
  - cmdlet: Set-Mailbox
    params: { Identity: user001 }
    ensure: { CustomAttribute1: rolled-out }
";

/// Tenant lines for these domains, the first tagged `canary`.
fn tenants(sandbox: &Sandbox, domains: &[String]) -> String {
    domains
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let name = d.split('.').next().unwrap();
            let line = crate::support::custom_tenant(name, d, &sandbox.url(), "SECRET");
            if i == 0 {
                line.replacen(
                    &format!("name: {name}, "),
                    &format!("name: {name}, tags: [canary], "),
                    1,
                )
            } else {
                line
            }
        })
        .collect()
}

async fn tenantry(ws: &Workspace, args: &[&str]) -> Run {
    crate::support::tenantry_for_sandbox(ws, args).await
}

/// Each tenant's wave, from `plan --format json`.
async fn waves(ws: &Workspace) -> BTreeMap<String, u64> {
    let plan = tenantry(ws, &["plan", "p.yaml", "--format", "json"]).await;
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    plan.stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["type"] == "tenant")
        .map(|r| {
            (
                r["tenant"].as_str().unwrap().to_string(),
                r["wave"][0].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Four waves over 20 tenants: a canary whose write does not take fails the first gate, so
/// only the canary was written and the run exits 4 naming the wave; once the cause is fixed,
/// `--resume` completes the rest, each tenant written once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_canary_stops_the_rollout_and_resume_completes_it() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(20, 3))
        .await
        .unwrap();
    let domains: Vec<String> = sandbox.tenants().iter().map(|t| t.domain.clone()).collect();
    let canary = domains[0].clone();
    sandbox
        .set_behaviour(
            &canary,
            Behaviour {
                unapplied: vec!["CustomAttribute1".into()],
                ..Behaviour::default()
            },
        )
        .unwrap();
    let ws = Workspace::new(&[(
        "p.yaml",
        &format!(
            "version: 1\nname: Rollout\ntenants:\n{}{STEPS}",
            tenants(&sandbox, &domains)
        ),
    )]);

    // Waves are shown in the plan, the canary first.
    let plan = tenantry(&ws, &["plan", "p.yaml"]).await;
    assert!(
        plan.stdout.contains("wave 1: tag:canary"),
        "{}",
        plan.stdout
    );
    let assigned = waves(&ws).await;
    assert_eq!(assigned.len(), 20);
    assert_eq!(assigned[canary.split('.').next().unwrap()], 1);
    assert!(assigned.values().all(|w| (1..=4).contains(w)));

    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 4, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("wave 1 (tag:canary) failed its gate"),
        "{}",
        run.stdout
    );
    let writes = sandbox.stats().writes;
    assert!(
        writes.iter().all(|w| w.tenant == canary),
        "only the canary wave ran: {writes:?}"
    );
    assert_eq!(writes.len(), 1);

    sandbox
        .set_behaviour(&canary, Behaviour::default())
        .unwrap();
    let run = tenantry(&ws, &["run", "p.yaml", "--resume", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    for wave in 1..=4 {
        assert!(
            run.stdout.contains(&format!("wave {wave} (")),
            "{}",
            run.stdout
        );
    }
    let writes = sandbox.stats().writes;
    let mut per_tenant: BTreeMap<&str, usize> = BTreeMap::new();
    for w in &writes {
        *per_tenant.entry(w.tenant.as_str()).or_default() += 1;
    }
    assert_eq!(per_tenant.len(), 20, "every tenant written: {per_tenant:?}");
    assert_eq!(
        per_tenant[canary.as_str()],
        2,
        "the canary again, once fixed"
    );
    assert!(
        per_tenant
            .iter()
            .all(|(t, n)| *t == canary.as_str() || *n == 1),
        "every other tenant once: {per_tenant:?}"
    );
    sandbox.shutdown().await;
}

/// A tenant's wave depends on its name alone: adding tenants moves no other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adding_a_tenant_moves_no_other_between_waves() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(20, 1))
        .await
        .unwrap();
    let domains: Vec<String> = sandbox.tenants().iter().map(|t| t.domain.clone()).collect();
    let write = |n: usize| {
        Workspace::new(&[(
            "p.yaml",
            &format!(
                "version: 1\nname: Rollout\ntenants:\n{}{STEPS}",
                tenants(&sandbox, &domains[..n])
            ),
        )])
    };
    let fewer = waves(&write(12)).await;
    let more = waves(&write(20)).await;
    for (tenant, wave) in &fewer {
        assert_eq!(more[tenant], *wave, "{tenant} moved");
    }
    sandbox.shutdown().await;
}
