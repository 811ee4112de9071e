//! Runs that are killed and resumed, as cron runs die at 3 a.m.: the sandbox's write log (the
//! service's own record) shows that no completed write is sent again, that only idempotent
//! writes in flight at a kill are repeated, and that the final report accounts for every task.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde_json::Value;
use tenantry::sandbox::{APPS, Sandbox, SandboxConfig};

use crate::support::{Workspace, start_run};

const TENANTS: usize = 4;
const USERS: usize = 400;
/// Members removed from the all-staff group: a write that is not idempotent.
const LEAVERS: usize = 100;
const KILLS: usize = 20;
const CONNECTIONS: usize = 3;

fn playbook(sandbox: &Sandbox) -> Workspace {
    let url = sandbox.url();
    let tenants: String = sandbox
        .tenants()
        .iter()
        .map(|t| {
            let name = t.domain.split('.').next().unwrap();
            crate::support::custom_tenant(name, &t.domain, &url, "SECRET")
        })
        .collect();
    let users: Vec<String> = (1..=USERS).map(|i| format!("user{i:03}")).collect();
    let leavers: Vec<String> = (USERS - LEAVERS + 1..=USERS)
        .map(|i| format!("user{i:03}"))
        .collect();
    Workspace::new(&[
        (
            "p.yaml",
            &format!(
                "version: 1\nname: Killed and resumed\ntenants:\n{tenants}defaults: {{ on_error: continue }}\nsteps:\n  - id: tag\n    cmdlet: Set-Mailbox\n    for_each: \"{{{{ lines('users.txt') }}}}\"\n    params: {{ Identity: \"{{{{ item }}}}\", CustomAttribute9: tagged }}\n  - id: leave\n    cmdlet: Remove-DistributionGroupMember\n    for_each: \"{{{{ lines('leavers.txt') }}}}\"\n    params: {{ Identity: all-staff, Member: \"{{{{ item }}}}\" }}\n"
            ),
        ),
        ("users.txt", &users.join("\n")),
        ("leavers.txt", &leavers.join("\n")),
    ])
}

/// Starts `tenantry run`, waits until its journal exists, lets it work for `ms`, and kills
/// it (SIGKILL: no chance to tidy up). Returns whether it had already finished.
fn run_and_kill(ws: &Workspace, resume: bool, ms: u64) -> bool {
    let mut args = vec!["run", "p.yaml", "--progress", "plain"];
    if resume {
        args.extend(["--resume", "last"]);
    }
    let mut child = start_run(ws.path(), &args, &[("SECRET", APPS[0].client_secret)]);
    std::thread::sleep(Duration::from_millis(ms));
    let finished = child.try_wait().unwrap().is_some();
    let _ = child.kill();
    let _ = child.wait();
    finished
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_twenty_times_and_resumed_nothing_done_is_sent_again() {
    let config = SandboxConfig::with_tenants(TENANTS, USERS)
        .each_tenant(|t| t.behaviour.latency = "20ms".parse().unwrap());
    let sandbox = Sandbox::start(config).await.unwrap();
    let ws = playbook(&sandbox);
    let ws_path = ws.path().to_path_buf();

    // Kill points from a fixed seed, so a failure can be replayed.
    let mut seed: u64 = 0x7e4a_17c3;
    let mut kills = 0;
    for round in 0..KILLS {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let ms = 60 + (seed >> 33) % 200;
        let finished = {
            let ws = &ws;
            tokio::task::block_in_place(|| run_and_kill(ws, round > 0, ms))
        };
        if !finished {
            kills += 1;
        }
    }
    assert!(kills >= 15, "most rounds were killed mid-run: {kills}");

    let run = tokio::task::spawn_blocking(move || {
        crate::support::tenantry_with_env(
            &ws_path,
            &[
                "run",
                "p.yaml",
                "--progress",
                "plain",
                "--resume",
                "last",
                "--report",
                "report",
            ],
            &[("SECRET", APPS[0].client_secret)],
        )
    })
    .await
    .unwrap();
    assert!(matches!(run.code, 0 | 1), "{}\n{}", run.stdout, run.stderr);

    // The final report accounts for every task, once.
    let results: Vec<Value> = std::fs::read_to_string(ws.path().join("report/results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut by_id: HashMap<String, String> = HashMap::new();
    for r in &results {
        let id = r["id"].as_str().unwrap().to_string();
        let status = r["status"].as_str().unwrap().to_string();
        assert!(
            by_id.insert(id.clone(), status).is_none(),
            "{id} reported twice"
        );
    }
    assert_eq!(
        by_id.len(),
        TENANTS * (USERS + LEAVERS),
        "every task is accounted for"
    );
    let unknown: HashSet<&String> = by_id
        .iter()
        .filter(|(_, s)| s.as_str() == "unknown")
        .map(|(id, _)| id)
        .collect();
    assert!(
        by_id
            .iter()
            .all(|(id, s)| s == "ok" || (s == "unknown" && id.contains("/leave/"))),
        "only writes that are not idempotent may be unknown: {:?}",
        by_id
            .iter()
            .filter(|(_, s)| s.as_str() != "ok")
            .collect::<Vec<_>>()
    );
    assert!(unknown.len() <= kills * CONNECTIONS * TENANTS);

    // The service's log: every Set-Mailbox written, repeats only within what was in flight at
    // the kills; no Remove-DistributionGroupMember ever sent twice.
    let stats = sandbox.stats();
    let mut written: HashMap<(String, String, String), usize> = HashMap::new();
    for w in &stats.writes {
        let who = w.parameters["Identity"].as_str().unwrap_or("").to_string();
        let member = w.parameters["Member"].as_str().unwrap_or("").to_string();
        *written
            .entry((
                w.tenant.clone(),
                w.cmdlet.clone(),
                if member.is_empty() { who } else { member },
            ))
            .or_default() += 1;
    }
    let sets: Vec<usize> = written
        .iter()
        .filter(|(k, _)| k.1 == "Set-Mailbox")
        .map(|(_, n)| *n)
        .collect();
    assert_eq!(sets.len(), TENANTS * USERS, "every mailbox was written");
    let repeats: usize = sets.iter().map(|n| n - 1).sum();
    assert!(
        repeats <= kills * CONNECTIONS * TENANTS,
        "{repeats} repeated writes for {kills} kills"
    );
    for ((tenant, cmdlet, member), n) in &written {
        if cmdlet == "Remove-DistributionGroupMember" {
            assert_eq!(*n, 1, "{tenant}: {member} removed {n} times");
        }
    }
    let left = written
        .keys()
        .filter(|k| k.1 == "Remove-DistributionGroupMember")
        .count();
    assert!(
        left + unknown.len() >= TENANTS * LEAVERS,
        "each removal was written once or is reported unknown ({left} written, {} unknown)",
        unknown.len()
    );
}

/// A second run of a playbook while one is in progress exits at once with 75; with
/// --wait-lock it waits for the first to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_run_of_the_same_playbook_does_not_overlap() {
    let config = SandboxConfig::with_tenants(1, 50)
        .each_tenant(|t| t.behaviour.latency = "30ms".parse().unwrap());
    let sandbox = Sandbox::start(config).await.unwrap();
    let ws = playbook(&sandbox);
    let path = ws.path().to_path_buf();
    let mut first = start_run(
        &path,
        &["run", "p.yaml", "--progress", "plain"],
        &[("SECRET", APPS[0].client_secret)],
    );
    let second = tokio::task::spawn_blocking({
        let path = path.clone();
        move || {
            crate::support::tenantry_with_env(
                &path,
                &["run", "p.yaml"],
                &[("SECRET", APPS[0].client_secret)],
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(second.code, 75, "{}\n{}", second.stdout, second.stderr);
    assert!(
        second.stderr.contains("another run of"),
        "{}",
        second.stderr
    );
    assert!(second.stderr.contains("--wait-lock"), "{}", second.stderr);
    let waited = tokio::task::spawn_blocking(move || {
        crate::support::tenantry_with_env(
            &path,
            &["run", "p.yaml", "--wait-lock", "2m"],
            &[("SECRET", APPS[0].client_secret)],
        )
    })
    .await
    .unwrap();
    assert!(
        matches!(waited.code, 0 | 1),
        "{}\n{}",
        waited.stdout,
        waited.stderr
    );
    let status = first.wait().unwrap();
    assert!(status.success() || status.code() == Some(1));
}

/// After a kill: `runs` lists the run as not ended, `report` rebuilds its reports from the
/// journal, and a resume refuses a plan that changed unless forced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_is_listed_reported_and_guarded_against_a_changed_plan() {
    let config = SandboxConfig::with_tenants(2, USERS)
        .each_tenant(|t| t.behaviour.latency = "20ms".parse().unwrap());
    let sandbox = Sandbox::start(config).await.unwrap();
    let ws = playbook(&sandbox);
    let finished = tokio::task::block_in_place(|| run_and_kill(&ws, false, 400));
    assert!(!finished, "the run was killed mid-way");
    let path = ws.path().to_path_buf();
    let cli = move |args: Vec<&'static str>| {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            crate::support::tenantry_with_env(&path, &args, &[("SECRET", APPS[0].client_secret)])
        })
    };

    let runs = cli(vec!["runs", "p.yaml"]).await.unwrap();
    assert_eq!(runs.code, 0, "{}", runs.stderr);
    assert_eq!(runs.stdout.lines().count(), 1, "{}", runs.stdout);
    assert!(runs.stdout.contains("did not end"), "{}", runs.stdout);

    let report = cli(vec!["report", "p.yaml", "last", "--report", "rebuilt"])
        .await
        .unwrap();
    assert_eq!(report.code, 0, "{}", report.stderr);
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join("rebuilt/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["complete"], false);
    let ok = summary["total"]["ok"].as_u64().unwrap();
    assert!(ok > 0 && ok < 2 * (USERS + LEAVERS) as u64, "{summary}");
    let lines = std::fs::read_to_string(ws.path().join("rebuilt/results.jsonl"))
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(lines, ok + summary["total"]["unknown"].as_u64().unwrap());

    let missing = cli(vec!["run", "p.yaml", "--resume", "19700101-000000-000"])
        .await
        .unwrap();
    assert_eq!(missing.code, 2, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("`tenantry runs` lists them"),
        "{}",
        missing.stderr
    );

    std::fs::write(ws.path().join("users.txt"), "user001\nuser002\n").unwrap();
    let changed = cli(vec!["run", "p.yaml", "--resume"]).await.unwrap();
    assert_eq!(changed.code, 2, "{}\n{}", changed.stdout, changed.stderr);
    assert!(
        changed.stderr.contains("the plan changed since run"),
        "{}",
        changed.stderr
    );
    assert!(changed.stderr.contains("--force"), "{}", changed.stderr);
    let forced = cli(vec!["run", "p.yaml", "--resume", "--force"])
        .await
        .unwrap();
    assert!(
        matches!(forced.code, 0 | 1),
        "{}\n{}",
        forced.stdout,
        forced.stderr
    );
}

/// The service misbehaving during a run, each tenant its own way: a burst of 429 that lasts
/// seconds, 10% 503 and dropped connections, tokens that live 2 seconds, and a tenant whose
/// credentials are wrong. The others finish every task; the broken one is reported with its
/// cause; nothing panics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_misbehaving_stops_only_the_tenant_it_must() {
    use tenantry::sandbox::Behaviour;
    let mut config = SandboxConfig::with_tenants(4, 60);
    config.token_ttl = Duration::from_secs(2);
    let domains: Vec<String> = config.tenants.iter().map(|t| t.domain.clone()).collect();
    config = config.each_tenant(|t| t.behaviour.latency = "10ms".parse().unwrap());
    config.tenants[1].behaviour.faults =
        vec!["503:0.1".parse().unwrap(), "drop:0.05".parse().unwrap()];
    config.tenants[1].behaviour.fault_retry_after = Some(0.05);
    // Long enough (about 2.5 s) to outlive its 2-second tokens.
    config.tenants[2].behaviour.latency = "60ms".parse().unwrap();
    let sandbox = std::sync::Arc::new(Sandbox::start(config).await.unwrap());
    // tenant 0: throttled for the first 3 seconds, then the burst ends.
    let burst = Behaviour {
        latency: "10ms".parse().unwrap(),
        faults: vec!["429:1.0".parse().unwrap()],
        retry_after: 1.0,
        ..Behaviour::default()
    };
    sandbox.set_behaviour(&domains[0], burst).unwrap();
    let ends = {
        let (sandbox, domain) = (sandbox.clone(), domains[0].clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(3)).await;
            let calm = Behaviour {
                latency: "10ms".parse().unwrap(),
                ..Behaviour::default()
            };
            sandbox.set_behaviour(&domain, calm).unwrap();
        })
    };
    let url = sandbox.url();
    let tenants: String = domains
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let name = d.split('.').next().unwrap();
            let secret = if i == 3 { "WRONG_SECRET" } else { "SECRET" };
            crate::support::custom_tenant(name, d, &url, secret)
        })
        .collect();
    let users: Vec<String> = (1..=60).map(|i| format!("user{i:03}")).collect();
    let ws = Workspace::new(&[
        (
            "p.yaml",
            &format!(
                "version: 1\nname: Misbehaving\ntenants:\n{tenants}steps:\n  - cmdlet: Set-Mailbox\n    for_each: \"{{{{ lines('users.txt') }}}}\"\n    params: {{ Identity: \"{{{{ item }}}}\", CustomAttribute5: x }}\n  - cmdlet: Get-Mailbox\n    for_each: \"{{{{ lines('users.txt') }}}}\"\n    params: {{ Identity: \"{{{{ item }}}}\" }}\n"
            ),
        ),
        ("users.txt", &users.join("\n")),
    ]);
    let path = ws.path().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        crate::support::tenantry_with_env(
            &path,
            &["run", "p.yaml", "--progress", "plain", "--report", "report"],
            &[
                ("SECRET", APPS[0].client_secret),
                ("WRONG_SECRET", "not-it"),
            ],
        )
    })
    .await
    .unwrap();
    ends.await.unwrap();
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join("report/summary.json")).unwrap(),
    )
    .unwrap();
    for domain in &domains[..3] {
        let name = domain.split('.').next().unwrap();
        let t = &summary["tenants"][name];
        assert_eq!(t["ok"], 120, "{name}: {t}");
        assert!(t["stopped"].is_null(), "{name}: {t}");
    }
    let broken = domains[3].split('.').next().unwrap();
    let t = &summary["tenants"][broken];
    assert_eq!(t["ok"], 0, "{t}");
    assert!(
        run.stdout.contains("AADSTS7000215") && run.stdout.contains("the client secret is wrong"),
        "{}",
        run.stdout
    );
    assert!(t["stopped"].as_str().unwrap().contains("failed"), "{t}");
    // The retries show: the throttled tenant waited out its 429s.
    assert!(
        summary["tenants"][domains[0].split('.').next().unwrap()]["retries"]
            .as_u64()
            .unwrap()
            > 0
    );
    let stats = sandbox.stats();
    assert!(
        stats
            .tenant(&domains[2])
            .tokens_issued
            .values()
            .sum::<u64>()
            >= 2,
        "tokens were renewed"
    );
}

/// A write whose output a later step loops over: when the run stops after it, the resumed
/// run does not send it again, yet the later step still gets its output (kept in the
/// journal).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_feeds_later_steps_the_output_of_writes_it_does_not_repeat() {
    // Each call takes 1.5 s: the deadline falls inside the second step whatever the start-up
    // of a debug build on a busy machine costs (up to about a second).
    let config = SandboxConfig::with_tenants(1, 10)
        .each_tenant(|t| t.behaviour.latency = "1500ms".parse().unwrap());
    let sandbox = std::sync::Arc::new(Sandbox::start(config).await.unwrap());
    let url = sandbox.url();
    let domain = sandbox.tenants()[0].domain.clone();
    let ws = Workspace::new(&[(
        "p.yaml",
        &format!(
            r#"version: 1
name: Output across a resume
tenants:
  - {{ name: contoso, organization: {domain}, cloud: custom, endpoints: {{ rest: "{url}", authority: "{url}", scope: "https://outlook.office365.com/.default" }}, auth: {{ method: client_secret, app_id: {}, secret_env: SECRET }} }}
steps:
  - id: create
    cmdlet: New-DistributionGroup
    for_each: [project-a, project-b, project-c]
    params: {{ Name: "{{{{ item }}}}" }}
  - id: describe
    cmdlet: Set-DistributionGroup
    for_each: "{{{{ steps.create.output }}}}"
    params: {{ Identity: "{{{{ item.Alias }}}}", Description: resumed }}
"#,
            APPS[0].client_id
        ),
    )]);
    let path = ws.path().to_path_buf();
    let cli = move |args: Vec<&'static str>| {
        let path = path.clone();
        tokio::task::spawn_blocking(move || {
            crate::support::tenantry_with_env(&path, &args, &[("SECRET", APPS[0].client_secret)])
        })
    };
    // The deadline stops the run once the groups exist, before the second step is done.
    let first = cli(vec![
        "run",
        "p.yaml",
        "--deadline",
        "2500ms",
        "--progress",
        "plain",
    ])
    .await
    .unwrap();
    assert_eq!(first.code, 4, "{}\n{}", first.stdout, first.stderr);
    assert_eq!(
        sandbox.stats().writes.len(),
        3,
        "only the groups: {}",
        first.stdout
    );
    let fast = tenantry::sandbox::Behaviour::default();
    sandbox.set_behaviour(&domain, fast).unwrap();
    let resumed = cli(vec!["run", "p.yaml", "--resume", "--progress", "plain"])
        .await
        .unwrap();
    assert_eq!(resumed.code, 0, "{}\n{}", resumed.stdout, resumed.stderr);
    let writes = sandbox.stats().writes;
    let created = writes
        .iter()
        .filter(|w| w.cmdlet == "New-DistributionGroup")
        .count();
    let described = writes
        .iter()
        .filter(|w| w.cmdlet == "Set-DistributionGroup")
        .count();
    assert_eq!(created, 3, "no group created twice");
    assert_eq!(described, 3, "the second step got the first one's output");
}

/// A write whose answer is lost is one task of unknown outcome: in the run that sent it, and in
/// each resume after it, which neither counts it twice nor sends it again until told to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_answer_is_one_unknown_until_it_is_sent_again() {
    use tenantry::sandbox::Behaviour;
    let mut config = SandboxConfig::with_tenants(1, 10);
    // The cmdlet runs, then the answer is lost.
    config.tenants[0].behaviour.faults = vec!["applied-504:1.0".parse().unwrap()];
    let domain = config.tenants[0].domain.clone();
    let sandbox = Sandbox::start(config).await.unwrap();
    let tenant = crate::support::custom_tenant("contoso", &domain, &sandbox.url(), "SECRET");
    let ws = Workspace::new(&[(
        "p.yaml",
        &format!(
            "version: 1\nname: Lost answer\ntenants:\n{tenant}steps:\n  - cmdlet: Set-Mailbox\n    idempotent: false\n    params: {{ Identity: user001, CustomAttribute5: x }}\n"
        ),
    )]);
    let run = |args: &'static [&'static str]| {
        let path = ws.path().to_path_buf();
        let dir = path.clone();
        async move {
            let run = tokio::task::spawn_blocking(move || {
                crate::support::tenantry_with_env(&path, args, &[("SECRET", APPS[0].client_secret)])
            })
            .await
            .unwrap();
            let summary: Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join("report/summary.json")).unwrap(),
            )
            .unwrap();
            (run, summary["total"].clone())
        }
    };
    let (first, total) = run(&["run", "p.yaml", "--progress", "plain", "--report", "report"]).await;
    // Not a success; the tenant also counts as not reached, since no task of it succeeded.
    assert!(
        matches!(first.code, 1 | 3),
        "{}\n{}",
        first.stdout,
        first.stderr
    );
    assert!(
        first.stdout.contains("UNKNOWN  contoso/"),
        "{}",
        first.stdout
    );
    assert_eq!(
        (total["unknown"].as_u64(), total["failed"].as_u64()),
        (Some(1), Some(0)),
        "{total}"
    );
    assert_eq!(sandbox.stats().writes.len(), 1, "applied once");

    sandbox
        .set_behaviour(&domain, Behaviour::default())
        .unwrap();
    let resume: &[&str] = &[
        "run",
        "p.yaml",
        "--progress",
        "plain",
        "--report",
        "report",
        "--resume",
    ];
    let (second, total) = run(resume).await;
    assert!(
        matches!(second.code, 1 | 3),
        "{}\n{}",
        second.stdout,
        second.stderr
    );
    assert_eq!(
        (total["unknown"].as_u64(), total["ok"].as_u64()),
        (Some(1), Some(0)),
        "counted once, not sent again: {total}"
    );
    assert_eq!(sandbox.stats().writes.len(), 1, "not sent again");

    let retry: &[&str] = &[
        "run",
        "p.yaml",
        "--progress",
        "plain",
        "--report",
        "report",
        "--resume",
        "--retry-unknown",
    ];
    let (third, total) = run(retry).await;
    assert_eq!(third.code, 0, "{}\n{}", third.stdout, third.stderr);
    assert_eq!(
        (total["unknown"].as_u64(), total["ok"].as_u64()),
        (Some(0), Some(1)),
        "{total}"
    );
    assert_eq!(sandbox.stats().writes.len(), 2, "sent again when told to");
    sandbox.shutdown().await;
}

/// The run folders of the workspace's playbook, one per run.
fn run_count(ws: &Workspace) -> usize {
    std::fs::read_dir(ws.path().join(".tenantry/runs/p.yaml"))
        .map(|dir| dir.filter_map(Result::ok).count())
        .unwrap_or(0)
}

/// `--resume unfinished`, as a retried job runs it: with no run yet, or after a run that ended,
/// it starts a new run; after a killed run, or one stopped by SIGTERM, it goes on with that one
/// and sends no completed write again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_unfinished_goes_on_only_with_a_run_that_did_not_end() {
    let config = SandboxConfig::with_tenants(2, 200)
        .each_tenant(|t| t.behaviour.latency = "10ms".parse().unwrap());
    let sandbox = Sandbox::start(config).await.unwrap();
    let ws = playbook(&sandbox);
    let env = [("SECRET", APPS[0].client_secret)];
    let args = [
        "run",
        "p.yaml",
        "--progress",
        "plain",
        "--resume",
        "unfinished",
    ];

    // Nothing to go on with: a new run, which ends.
    let run =
        tokio::task::block_in_place(|| crate::support::tenantry_with_env(ws.path(), &args, &env));
    assert!(matches!(run.code, 0 | 1), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run_count(&ws), 1);
    let writes_of_one_run = sandbox.stats().writes.len();

    // The last run ended: a new run again.
    let run =
        tokio::task::block_in_place(|| crate::support::tenantry_with_env(ws.path(), &args, &env));
    assert!(matches!(run.code, 0 | 1), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run_count(&ws), 2);

    // A run killed mid-way is gone on with, not started afresh.
    let before = sandbox.stats().writes.len();
    let mut child = start_run(ws.path(), &["run", "p.yaml", "--progress", "plain"], &env);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run was still going"
    );
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(run_count(&ws), 3);
    let run =
        tokio::task::block_in_place(|| crate::support::tenantry_with_env(ws.path(), &args, &env));
    assert!(matches!(run.code, 0 | 1), "{}\n{}", run.stdout, run.stderr);
    assert_eq!(run_count(&ws), 3, "the killed run was resumed");
    let third = sandbox.stats().writes.len() - before;
    assert!(
        third <= writes_of_one_run + 2 * CONNECTIONS,
        "the killed run and its resumption wrote {third} times; one run writes {writes_of_one_run}"
    );

    // A run stopped by SIGTERM (a pod evicted, a shutdown) ends with 130 and is gone on with
    // too.
    #[cfg(unix)]
    {
        let mut child = start_run(ws.path(), &["run", "p.yaml", "--progress", "plain"], &env);
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run was still going"
        );
        let term = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(term.success());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(130), "stopped by the signal");
        assert_eq!(run_count(&ws), 4);
        let run = tokio::task::block_in_place(|| {
            crate::support::tenantry_with_env(ws.path(), &args, &env)
        });
        assert!(matches!(run.code, 0 | 1), "{}\n{}", run.stdout, run.stderr);
        assert_eq!(run_count(&ws), 4, "the interrupted run was resumed");
    }
}
