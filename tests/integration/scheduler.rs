//! The scheduler against the sandbox: every task runs once, within each tenant's limit, with
//! run-time expansion from earlier output. What happened is read from the sandbox.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use tenantry::auth::{Credential, Secret, TokenProvider};
use tenantry::events::{Event, Fanout, Status, TaskResult};
use tenantry::exchange::{Client, RetryPolicy, http_client};
use tenantry::plan::{PlanOptions, Planner};
use tenantry::playbook::Playbook;
use tenantry::sandbox::{APPS, Behaviour, Sandbox, SandboxConfig};
use tenantry::scheduler::{RunOptions, Target};

/// Writes a playbook for `tenants` sandbox tenants and loads it.
fn playbook(dir: &tempfile::TempDir, tenants: &[String], steps: &str) -> Playbook {
    let list: String = tenants
        .iter()
        .map(|d| {
            let name = d.split('.').next().unwrap_or(d);
            format!("  - {{ name: {name}, organization: {d}, cloud: sandbox }}\n")
        })
        .collect();
    let path = dir.path().join("p.yaml");
    std::fs::write(
        &path,
        format!("version: 1\nname: Scheduler test\ntenants:\n{list}steps:\n{steps}"),
    )
    .unwrap();
    Playbook::load(&path).expect("a valid playbook")
}

/// A playbook over every tenant of `sandbox`, in a folder that lives as long as the result.
fn playbook_for(sandbox: &Sandbox, steps: &str) -> (tempfile::TempDir, Playbook) {
    let domains: Vec<String> = sandbox.tenants().iter().map(|t| t.domain.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    let pb = playbook(&dir, &domains, steps);
    (dir, pb)
}

/// A sandbox of `tenants` tenants with `mailboxes` mailboxes each, all behaving alike.
async fn sandbox_with(tenants: usize, mailboxes: usize, behaviour: Behaviour) -> Sandbox {
    let config = SandboxConfig::with_tenants(tenants, mailboxes)
        .each_tenant(|t| t.behaviour = behaviour.clone());
    Sandbox::start(config).await.unwrap()
}

/// A step `id` setting `attribute` on user001… user`count`.
fn set_step(id: &str, count: usize, attribute: &str) -> String {
    let users: Vec<String> = (1..=count).map(|i| format!("user{i:03}")).collect();
    format!(
        "  - id: {id}\n    cmdlet: Set-Mailbox\n    for_each: [{}]\n    params: {{ Identity: \"{{{{ item }}}}\", {attribute}: {id} }}\n",
        users.join(", ")
    )
}

fn targets(sandbox: &Sandbox, playbook: &Playbook) -> Vec<Target> {
    let http = http_client().unwrap();
    let policy = RetryPolicy {
        max_retries: 8,
        base: Duration::from_millis(20),
        max_wait: Duration::from_millis(500),
        resend_unconfirmed_writes: false,
    };
    playbook
        .tenants
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let org = t.organization.value.as_str();
            let tokens = TokenProvider::new(
                http.clone(),
                &format!("{}/{org}/oauth2/v2.0/token", sandbox.url()),
                org,
                "https://outlook.office365.com/.default",
                APPS[0].client_id,
                Credential::Secret(Secret::new(APPS[0].client_secret)),
                Duration::from_secs(300),
            )
            .unwrap();
            let client = Client::new(
                http.clone(),
                &format!("{}/adminapi/beta/{org}/InvokeCommand", sandbox.url()),
                org,
                Arc::new(tokens),
                policy.clone(),
            )
            .unwrap();
            Target {
                tenant: i,
                client: Arc::new(client),
            }
        })
        .collect()
}

async fn run(sandbox: &Sandbox, playbook: &Playbook) -> Vec<Event> {
    let env = tenantry::template::environment(&playbook.dir);
    let planner = Planner::new(&env, playbook, &PlanOptions::default()).expect("plans");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let targets = targets(sandbox, playbook);
    let events = Fanout::new().with("events", tx);
    tenantry::scheduler::run(&planner, &targets, &RunOptions::default(), &events).await;
    let mut events = Vec::new();
    while let Ok(e) = rx.try_recv() {
        events.push(e);
    }
    events
}

fn tasks(events: &[Event]) -> Vec<&TaskResult> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TaskFinished { result, .. } => Some(result),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_tenants_of_two_hundred_tasks_run_once_each_within_the_limit() {
    let behaviour = Behaviour {
        latency: "20ms".parse().unwrap(),
        ..Behaviour::default()
    };
    let sandbox = sandbox_with(20, 200, behaviour).await;
    let domains: Vec<String> = sandbox.tenants().iter().map(|t| t.domain.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    let pb = playbook(&dir, &domains, &set_step("tag", 200, "CustomAttribute7"));
    let events = run(&sandbox, &pb).await;
    let done = tasks(&events);
    assert_eq!(done.len(), 4000);
    assert!(
        done.iter().all(|t| t.status == Status::Ok),
        "{:?}",
        done.iter().find(|t| t.status != Status::Ok)
    );
    let ids: HashSet<&str> = done.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids.len(), 4000, "every id once");
    let stats = sandbox.stats();
    for domain in &domains {
        let t = stats.tenant(domain);
        assert!(
            t.peak_concurrency <= 3,
            "{domain}: peak {}",
            t.peak_concurrency
        );
        assert_eq!(t.throttled, 0, "{domain} was never over its limit");
    }
    // The service's own log agrees: 4,000 writes, each mailbox of each tenant once.
    assert_eq!(stats.writes.len(), 4000);
    let written: HashSet<(String, String)> = stats
        .writes
        .iter()
        .map(|w| {
            (
                w.tenant.clone(),
                w.parameters["Identity"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(written.len(), 4000);
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::TenantFinished { stopped: None, .. }))
            .count(),
        20
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_five_thousand_object_get_feeds_a_five_thousand_task_step() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 5000))
        .await
        .unwrap();
    let domains = vec![sandbox.tenants()[0].domain.clone()];
    let dir = tempfile::tempdir().unwrap();
    let pb = playbook(
        &dir,
        &domains,
        r#"  - id: mailboxes
    cmdlet: Get-Mailbox
    params: { RecipientTypeDetails: UserMailbox, ResultSize: Unlimited }
  - id: retention
    cmdlet: Set-Mailbox
    for_each: "{{ steps.mailboxes.output }}"
    when: item.RetainDeletedItemsFor != '30.00:00:00'
    params: { Identity: "{{ item.UserPrincipalName }}", RetainDeletedItemsFor: "30.00:00:00" }
"#,
    );
    let events = run(&sandbox, &pb).await;
    let done = tasks(&events);
    let read = done.iter().find(|t| t.step == "mailboxes").unwrap();
    assert_eq!(
        (read.objects, read.requests),
        (5000, 5),
        "5,000 objects in pages of 1,000"
    );
    let ran = done
        .iter()
        .filter(|t| t.step == "retention" && t.status == Status::Ok)
        .count();
    let skipped = done
        .iter()
        .filter(|t| t.step == "retention" && t.status == Status::Skipped)
        .count();
    assert_eq!(ran + skipped, 5000);
    assert!(
        ran > 3000 && skipped > 1000,
        "about 30% already keep 30 days: {ran} ran, {skipped} skipped"
    );
    assert_eq!(sandbox.stats().writes.len(), ran);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_step_stops_its_tenant_and_not_the_others() {
    let sandbox = sandbox_with(2, 5, Behaviour::default()).await;
    let (_dir, pb) = playbook_for(
        &sandbox,
        r#"  - id: first
    cmdlet: Set-Mailbox
    params: { Identity: "{{ 'ghost' if tenant.name == 'contoso' else 'user001' }}", CustomAttribute1: x }
  - id: second
    cmdlet: Get-AcceptedDomain
"#,
    );
    let events = run(&sandbox, &pb).await;
    let done = tasks(&events);
    let failed: Vec<_> = done.iter().filter(|t| t.status == Status::Failed).collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(
        failed[0].error_class.as_deref(),
        Some("ManagementObjectNotFoundException")
    );
    assert_eq!(
        done.iter().filter(|t| t.step == "second").count(),
        1,
        "only fabrikam reached step 2"
    );
    let contoso_stop = events.iter().find_map(|e| match e {
        Event::TenantFinished {
            tenant, stopped, ..
        } if tenant == "contoso" => Some(stopped.clone()),
        _ => None,
    });
    assert!(
        contoso_stop
            .flatten()
            .unwrap()
            .contains("step first failed")
    );
}

/// Tokens that live 3 seconds, over a 20-second run with a forced 401 in the middle: no task
/// fails, no call meets an expired token, and the renewals show in the sandbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_tokens_and_a_forced_401_do_not_fail_a_long_run() {
    let mut config = SandboxConfig::with_tenants(2, 100).each_tenant(|t| {
        t.behaviour.latency = "300ms".parse().unwrap();
    });
    config.token_ttl = Duration::from_secs(3);
    let sandbox = Arc::new(Sandbox::start(config).await.unwrap());
    let domains: Vec<String> = sandbox.tenants().iter().map(|t| t.domain.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    // 100 tasks at 3 at a time and 300 ms each: about 10 s per step, two steps.
    let steps = set_step("a", 100, "CustomAttribute8") + &set_step("b", 100, "CustomAttribute8");
    let pb = playbook(&dir, &domains, &steps);
    let revoker = {
        let sandbox = sandbox.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(8)).await;
            assert!(sandbox.revoke_tokens(CONTOSO));
        })
    };
    let started = std::time::Instant::now();
    let events = run(&sandbox, &pb).await;
    revoker.await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(15),
        "a long run: {:?}",
        started.elapsed()
    );
    let done = tasks(&events);
    assert_eq!(done.len(), 400);
    assert!(
        done.iter().all(|t| t.status == Status::Ok),
        "{:?}",
        done.iter().find(|t| t.status != Status::Ok)
    );
    let renewed_after_401 = done
        .iter()
        .filter(|t| t.retries.iter().any(|r| r == "401"))
        .count();
    assert!(
        renewed_after_401 >= 1,
        "the forced 401 was met and recovered"
    );
    let stats = sandbox.stats();
    let contoso = stats.tenant(CONTOSO);
    assert!(
        !contoso.unauthorized.contains_key("the token has expired"),
        "no call used an expired token: {:?}",
        contoso.unauthorized
    );
    assert!(
        contoso.tokens() >= 6,
        "renewed before expiry, about every 1.5 s: {}",
        contoso.tokens()
    );
}

/// 5% injected 429 and 503: every task still succeeds, and the retries are in the outcomes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_throttling_and_unavailability_are_retried_to_success() {
    let behaviour = Behaviour {
        faults: vec!["429:0.05".parse().unwrap(), "503:0.05".parse().unwrap()],
        retry_after: 0.05,
        ..Behaviour::default()
    };
    let sandbox = sandbox_with(4, 100, behaviour).await;
    let domains: Vec<String> = sandbox.tenants().iter().map(|t| t.domain.clone()).collect();
    let dir = tempfile::tempdir().unwrap();
    let pb = playbook(&dir, &domains, &set_step("tag", 100, "CustomAttribute6"));
    let events = run(&sandbox, &pb).await;
    let done = tasks(&events);
    assert_eq!(done.len(), 400);
    assert!(done.iter().all(|t| t.status == Status::Ok));
    let retried: usize = done.iter().map(|t| t.retries.len()).sum();
    let stats = sandbox.stats();
    let injected: u64 = domains
        .iter()
        .map(|d| stats.tenant(d).faults.values().sum::<u64>())
        .sum();
    assert!(injected > 10, "{injected}");
    assert_eq!(
        retried as u64, injected,
        "each fault shows as a retry of its task"
    );
    assert_eq!(stats.writes.len(), 400);
}

const CONTOSO: &str = "contoso.onmicrosoft.com";

/// A step expanded from earlier output is expanded in full before its first call: a template
/// that fails on one item (here the fifth mailbox) stops the tenant with the reason, and no
/// item of that step is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_time_step_that_fails_to_expand_sends_none_of_its_calls() {
    let sandbox = sandbox_with(2, 10, Behaviour::default()).await;
    let (_dir, pb) = playbook_for(
        &sandbox,
        r#"  - id: get
    cmdlet: Get-Mailbox
    params: { ResultSize: 10 }
  - id: set
    cmdlet: Set-Mailbox
    for_each: "{{ steps.get.output }}"
    params: { Identity: "{{ item.Alias if item.Alias != 'user005' else item.missing.deeper }}", CustomAttribute3: x }
"#,
    );
    let events = run(&sandbox, &pb).await;
    assert!(tasks(&events).iter().all(|t| t.step == "get"));
    assert!(sandbox.stats().writes.is_empty(), "no Set-Mailbox was sent");
    let stops: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::TenantFinished { stopped, .. } => stopped.clone(),
            _ => None,
        })
        .collect();
    assert_eq!(stops.len(), 2, "{events:?}");
    for why in stops {
        assert!(
            why.contains("step set could not be expanded") && why.contains("is undefined"),
            "{why}"
        );
    }
}

/// Steps announce their size before their tasks: the progress display and any other consumer
/// learn how many task events a step expanded at run time will give.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_step_announces_its_task_count_before_its_tasks() {
    let sandbox = sandbox_with(1, 20, Behaviour::default()).await;
    let (_dir, pb) = playbook_for(
        &sandbox,
        r#"  - id: get
    cmdlet: Get-Mailbox
    params: { ResultSize: 12 }
  - id: set
    cmdlet: Set-Mailbox
    for_each: "{{ steps.get.output }}"
    when: item.Alias != 'user003'
    params: { Identity: "{{ item.Alias }}", CustomAttribute3: x }
  - id: never
    cmdlet: Set-Mailbox
    when: "{{ steps.get.output | length > 100 }}"
    params: { Identity: user001, CustomAttribute4: x }
"#,
    );
    let events = run(&sandbox, &pb).await;
    let mut announced = Vec::new();
    let mut seen_per_step = std::collections::BTreeMap::<String, usize>::new();
    for e in &events {
        match e {
            Event::StepStarted {
                step,
                records,
                at_run_time,
                ..
            } => {
                assert!(
                    !seen_per_step.contains_key(step),
                    "announced before its tasks"
                );
                announced.push((step.clone(), *records, *at_run_time));
            }
            Event::TaskFinished { result: t, .. } => {
                *seen_per_step.entry(t.step.clone()).or_default() += 1
            }
            _ => {}
        }
    }
    assert_eq!(
        announced,
        vec![
            ("get".to_string(), 1, false),
            ("set".to_string(), 12, true),
            ("never".to_string(), 1, true),
        ]
    );
    assert_eq!(seen_per_step["set"], 12, "11 sent and 1 skipped");
    assert_eq!(seen_per_step["never"], 1, "skipped for the whole tenant");
    assert_eq!(sandbox.stats().writes.len(), 11);
}
