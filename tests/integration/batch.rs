//! `batch:`: a step's calls sent several at a time as `$batch` requests, run by the binary
//! against an in-process sandbox. What was sent is read from the sandbox's statistics and
//! write log and from the run's trace, never from tenantry's reports alone.
//!
//! The sandbox cannot yet fail one call inside a batch with 429; sending such a call again
//! alone is tested in the client's own tests (`exchange::batch`), against a small server of
//! their own.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;
use tenantry::sandbox::{Behaviour, Redirect, RedirectTo, Sandbox, SandboxConfig};

use crate::support::{Run, Workspace, json_lines};

/// A sandbox of three tenants, `mailboxes` each, all behaving alike.
async fn sandbox(mailboxes: usize, behaviour: Behaviour) -> Sandbox {
    let config =
        SandboxConfig::with_tenants(3, mailboxes).each_tenant(|t| t.behaviour = behaviour.clone());
    Sandbox::start(config).await.unwrap()
}

/// A playbook over every tenant of `sandbox`, reached through custom endpoints, with these
/// lines after its tenants (`batch:`, `limits:`, `steps:`).
fn workspace(sandbox: &Sandbox, rest: &str) -> Workspace {
    let tenants: String = sandbox
        .tenants()
        .iter()
        .map(|t| {
            let name = t.domain.split('.').next().unwrap();
            crate::support::custom_tenant(name, &t.domain, &sandbox.url(), "SECRET")
        })
        .collect();
    Workspace::new(&[(
        "p.yaml",
        &format!("version: 1\nname: Batches\ntenants:\n{tenants}{rest}"),
    )])
}

/// A `Set-Mailbox` step over `users` (names), setting CustomAttribute1 to `value`.
fn set_step(users: &[String], value: &str) -> String {
    format!(
        "  - cmdlet: Set-Mailbox\n    for_each: [{}]\n    on_error: continue\n    params: {{ Identity: \"{{{{ item }}}}\", CustomAttribute1: {value} }}\n",
        users.join(", ")
    )
}

fn users(count: usize) -> Vec<String> {
    (1..=count).map(|i| format!("user{i:03}")).collect()
}

async fn run(ws: &Workspace, args: &[&str]) -> Run {
    crate::support::tenantry_for_sandbox(ws, args).await
}

/// The run's requests to the admin API in its trace: (last path segment, status, calls in the
/// body of a `$batch`).
fn traced(ws: &Workspace) -> Vec<(String, u64, usize)> {
    let har: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("t.har")).unwrap()).unwrap();
    har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["request"]["url"].as_str().unwrap().contains("/adminapi/"))
        .map(|e| {
            let url = e["request"]["url"].as_str().unwrap();
            let last = url.split('?').next().unwrap().rsplit('/').next().unwrap();
            let calls = e["request"]["postData"]["text"]
                .as_str()
                .and_then(|t| serde_json::from_str::<Value>(t).ok())
                .and_then(|b| b["requests"].as_array().map(Vec::len))
                .unwrap_or(0);
            (
                last.to_string(),
                e["response"]["status"].as_u64().unwrap(),
                calls,
            )
        })
        .collect()
}

/// Each tenant's writes in the sandbox's log: the `Identity` of each, in order.
fn written(sandbox: &Sandbox) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for w in sandbox.stats().writes {
        out.entry(w.tenant.clone()).or_default().push(
            w.parameters["Identity"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
    }
    out
}

/// Fifty writes in each of three tenants, ten to a batch: every call reaches the service
/// exactly once, in five requests per tenant, and each task has its own outcome.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_writes_per_tenant_go_in_five_batches_each_sent_once() {
    let sandbox = sandbox(60, Behaviour::default()).await;
    let ws = workspace(
        &sandbox,
        &format!("batch: 10\nsteps:\n{}", set_step(&users(50), "batched")),
    );
    let out = run(
        &ws,
        &[
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--report",
            "out",
            "--trace",
            "t.har",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);

    let written = written(&sandbox);
    assert_eq!(written.len(), 3);
    for (tenant, identities) in &written {
        let mut sorted = identities.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            users(50),
            "{tenant}: every user written exactly once"
        );
    }
    let stats = sandbox.stats();
    for t in sandbox.tenants() {
        let s = stats.tenant(&t.domain);
        assert_eq!(
            s.requests["$batch"]["200"], 5,
            "{}: {:?}",
            t.domain, s.requests
        );
        assert_eq!(
            s.requests["Set-Mailbox"]["200"], 50,
            "the calls within them"
        );
        assert!(s.peak_concurrency <= 3, "a batch holds one connection");
    }
    let traced = traced(&ws);
    assert_eq!(traced.len(), 15, "{traced:?}");
    assert!(
        traced
            .iter()
            .all(|(last, status, calls)| last == "$batch" && *status == 200 && *calls == 10),
        "{traced:?}"
    );

    let results = json_lines(&ws.path().join("out/results.jsonl"));
    assert_eq!(results.len(), 150);
    for r in &results {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["requests"], 1, "each task counts its batch: {r}");
    }
}

/// A call that fails inside a batch fails its own task with the cmdlet's error; the others of
/// the batch succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_call_fails_only_its_own_task() {
    let sandbox = sandbox(20, Behaviour::default()).await;
    let mut names = users(10);
    names[3] = "ghost".into();
    let ws = workspace(
        &sandbox,
        &format!("batch: 10\nsteps:\n{}", set_step(&names, "batched")),
    );
    let out = run(
        &ws,
        &["run", "p.yaml", "--progress", "plain", "--report", "out"],
    )
    .await;
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let results = json_lines(&ws.path().join("out/results.jsonl"));
    assert_eq!(results.len(), 30);
    for r in &results {
        if r["id"].as_str().unwrap().ends_with("/ghost") {
            assert_eq!(r["status"], "failed", "{r}");
            assert_eq!(r["error_class"], "ManagementObjectNotFoundException", "{r}");
            assert!(r["error"].as_str().unwrap().contains("'ghost'"), "{r}");
        } else {
            assert_eq!(r["status"], "ok", "{r}");
        }
    }
    for (tenant, identities) in written(&sandbox) {
        assert_eq!(
            identities.len(),
            10,
            "{tenant}: the failed call is in the log once"
        );
    }
    let stats = sandbox.stats();
    for t in sandbox.tenants() {
        assert_eq!(stats.tenant(&t.domain).requests["$batch"]["200"], 1);
    }
}

/// A tenant whose request budget refuses batches as a whole (a burst of two requests, then
/// ten a second; three connections send three batches at once): the run halves its batches,
/// says so once, and still does every task exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_batches_shrink_and_every_task_still_runs_once() {
    let behaviour = Behaviour {
        rate: Some(10.0),
        burst: 2.0,
        latency: "20ms".parse().unwrap(),
        ..Behaviour::default()
    };
    let sandbox = sandbox(40, behaviour).await;
    let ws = workspace(
        &sandbox,
        &format!("batch: 10\nsteps:\n{}", set_step(&users(40), "shrunk")),
    );
    let out = run(
        &ws,
        &[
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--report",
            "out",
            "--trace",
            "t.har",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for (tenant, identities) in written(&sandbox) {
        let mut sorted = identities.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            users(40),
            "{tenant}: every user written exactly once"
        );
    }
    let results = json_lines(&ws.path().join("out/results.jsonl"));
    assert_eq!(results.len(), 120);
    assert!(results.iter().all(|r| r["status"] == "ok"));

    let stats = sandbox.stats();
    for t in sandbox.tenants() {
        let name = t.domain.split('.').next().unwrap();
        let s = stats.tenant(&t.domain);
        assert!(s.throttled > 0, "{}: the limit refused batches", t.domain);
        let said = out
            .stdout
            .lines()
            .filter(|l| {
                l.starts_with(&format!(
                    "{name}: step 1-set-mailbox: the service throttled"
                ))
            })
            .count();
        assert_eq!(said, 1, "said once per tenant and step:\n{}", out.stdout);
    }
    // Forty tasks make four full batches: anything smaller, or a call sent alone, is the
    // back-off at work.
    let traced = traced(&ws);
    let smaller = traced
        .iter()
        .filter(|(last, status, calls)| {
            last == "InvokeCommand" || (last == "$batch" && *status == 200 && *calls < 10)
        })
        .count();
    assert!(smaller > 0, "{traced:?}");
    let throttled_batches = traced
        .iter()
        .filter(|(last, status, _)| last == "$batch" && *status == 429)
        .count();
    assert!(throttled_batches > 0, "{traced:?}");
}

/// Batched reads keep each task's output for the steps that read it, in the tasks' order;
/// a playbook-wide `batch` leaves a desired-state step unbatched, and `batch: false` on a step
/// sends its calls one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_reads_feed_later_steps_and_other_steps_keep_their_own_size() {
    let sandbox = sandbox(30, Behaviour::default()).await;
    let reads: Vec<String> = users(25);
    let steps = format!(
        "batch: 10
steps:
  - id: boxes
    cmdlet: Get-Mailbox
    for_each: [{}]
    params: {{ Identity: \"{{{{ item }}}}\" }}
  - cmdlet: Set-Mailbox
    batch: false
    for_each: \"{{{{ steps.boxes.output }}}}\"
    params: {{ Identity: \"{{{{ item.UserPrincipalName }}}}\", CustomAttribute2: \"{{{{ item.Alias }}}}\" }}
  - cmdlet: Set-Mailbox
    params: {{ Identity: user001 }}
    ensure: {{ CustomAttribute3: ensured }}
",
        reads.join(", ")
    );
    let ws = workspace(&sandbox, &steps);
    let out = run(
        &ws,
        &[
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--report",
            "out",
            "--trace",
            "t.har",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for (tenant, identities) in written(&sandbox) {
        // 25 writes from the read's output, in its order, then the ensured one.
        assert_eq!(identities.len(), 26, "{tenant}: {identities:?}");
        let from_output: Vec<String> = identities[..25]
            .iter()
            .map(|upn| upn.split('@').next().unwrap().to_string())
            .collect();
        let mut sorted = from_output.clone();
        sorted.sort();
        assert_eq!(sorted, reads, "{tenant}");
    }
    let stats = sandbox.stats();
    for t in sandbox.tenants() {
        let s = stats.tenant(&t.domain);
        assert_eq!(
            s.requests["$batch"]["200"], 3,
            "25 reads in batches of 10, 10 and 5"
        );
        assert_eq!(
            s.requests["Get-Mailbox"]["200"],
            25 + 2,
            "and the ensure step's read and verify"
        );
    }
    let traced = traced(&ws);
    let plain_writes = traced
        .iter()
        .filter(|(last, _, _)| last == "InvokeCommand")
        .count();
    // 25 writes one by one, and the ensure step's read, write and verify in each tenant.
    assert_eq!(plain_writes, 3 * (25 + 3), "{traced:?}");
    let results = json_lines(&ws.path().join("out/results.jsonl"));
    assert_eq!(results.len(), 3 * (25 + 25 + 1));
}

/// A tenant whose front door sends its calls to its regional host: the batch follows the
/// redirect with each call's own URL moved there too, and the batches after it go straight
/// there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_batch_names_the_regional_host_in_each_call() {
    let config = SandboxConfig::with_tenants(1, 20).each_tenant(|t| {
        t.behaviour = Behaviour {
            redirect: Some(Redirect {
                to: RedirectTo::Regional,
                status: 307,
            }),
            ..Behaviour::default()
        }
    });
    let sandbox = Sandbox::start(config).await.unwrap();
    let ws = workspace(
        &sandbox,
        &format!("batch: 5\nsteps:\n{}", set_step(&users(20), "regional")),
    );
    let out = run(
        &ws,
        &["run", "p.yaml", "--progress", "plain", "--report", "out"],
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let results = json_lines(&ws.path().join("out/results.jsonl"));
    assert_eq!(results.len(), 20);
    assert!(results.iter().all(|r| r["status"] == "ok"), "{results:?}");
    for (tenant, identities) in written(&sandbox) {
        assert_eq!(identities.len(), 20, "{tenant}");
    }
    let served = sandbox.stats().tenant(&sandbox.tenants()[0].domain);
    assert_eq!(served.requests["$batch"]["200"], 4, "{served:?}");
    assert_eq!(
        served.regional, 4,
        "every batch answered by the regional host"
    );
    assert!((1..=3).contains(&served.redirected), "{served:?}");
}

/// At 50 ms a call and three connections, batches of ten finish far sooner than calls one by
/// one could. Only a loose bound is asserted (half the unbatched ideal, sign-in and the
/// process's start included): the real figures come from a benchmark, on a quiet machine and
/// a release build. One tenant: the sandbox here is a debug build sharing the test's cores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_ten_beat_half_the_unbatched_ideal() {
    let latency = Duration::from_millis(50);
    let behaviour = Behaviour {
        latency: "50ms".parse().unwrap(),
        ..Behaviour::default()
    };
    let config =
        SandboxConfig::with_tenants(1, 300).each_tenant(|t| t.behaviour = behaviour.clone());
    let sandbox = Sandbox::start(config).await.unwrap();
    let tasks = 300;
    let ws = workspace(
        &sandbox,
        &format!("batch: 10\nsteps:\n{}", set_step(&users(tasks), "fast")),
    );
    let started = Instant::now();
    let out = run(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    let took = started.elapsed();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    // One call at a time on each of three connections: 300 / 3 rounds of 50 ms.
    let unbatched_ideal = latency * tasks.div_ceil(3) as u32;
    assert!(
        took < unbatched_ideal / 2,
        "{took:?} for {tasks} tasks per tenant; unbatched, at best {unbatched_ideal:?}"
    );
    for (tenant, identities) in written(&sandbox) {
        assert_eq!(identities.len(), tasks, "{tenant}");
    }
}
