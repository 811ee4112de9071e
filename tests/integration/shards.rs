//! `--shard K/N`: a playbook spread over several workers. Each tenant is run by exactly one
//! shard, so every task reaches the service once across them all, and each shard keeps its
//! own journal and lock, so shards run at once and resume alone.

use std::collections::{HashMap, HashSet};

use serde_json::Value;

use crate::support::{Workspace, json_lines, tenantry_with_env};

/// Four shard processes at once over twelve tenants: their tenants are disjoint and cover
/// the playbook, the service logs every task exactly once, and each shard's journal is its
/// own: resuming a shard goes on with that shard's run alone. `report --merge` makes their four
/// reports one, whose counts are those of the playbook run whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_shards_run_every_task_once_resume_alone_and_merge_into_one_report() {
    use tenantry::sandbox::{APPS, Sandbox, SandboxConfig};

    let sandbox = Sandbox::start(SandboxConfig::with_tenants(12, 20))
        .await
        .unwrap();
    let tenants = crate::support::custom_tenants(&sandbox, "TENANTRY_TEST_SECRET");
    let users: Vec<String> = (1..=20).map(|i| format!("user{i:03}")).collect();
    let ws = Workspace::new(&[
        (
            "p.yaml",
            &format!(
                "version: 1\nname: Sharded\ntenants:\n{tenants}steps:\n  - id: tag\n    cmdlet: Set-Mailbox\n    for_each: \"{{{{ lines('users.txt') }}}}\"\n    params: {{ Identity: \"{{{{ item }}}}\", CustomAttribute7: sharded }}\n"
            ),
        ),
        ("users.txt", &users.join("\n")),
    ]);
    let env = [("TENANTRY_TEST_SECRET", APPS[0].client_secret)];

    // `plan --shard` shows a shard's tenants; the four shards' tenants partition the twelve.
    let mut owner: HashMap<String, usize> = HashMap::new();
    for k in 1..=4 {
        let plan = tenantry_with_env(
            ws.path(),
            &[
                "plan",
                "p.yaml",
                "--format",
                "json",
                "--shard",
                &format!("{k}/4"),
            ],
            &env,
        );
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        for record in plan
            .stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
        {
            if record["type"] == "tenant" {
                let tenant = record["tenant"].as_str().unwrap().to_string();
                assert!(
                    owner.insert(tenant.clone(), k).is_none(),
                    "{tenant} is in two shards"
                );
            }
        }
    }
    assert_eq!(owner.len(), 12, "every tenant is in a shard: {owner:?}");

    // The four shards at once, as four workers would run them.
    let dir = ws.path().to_path_buf();
    let runs: Vec<_> = (1..=4)
        .map(|k| {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || {
                tenantry_with_env(
                    &dir,
                    &[
                        "run",
                        "p.yaml",
                        "--progress",
                        "plain",
                        "--report",
                        &format!("report-{k}"),
                    ],
                    &[
                        ("TENANTRY_TEST_SECRET", APPS[0].client_secret),
                        ("TENANTRY_SHARD", &format!("{k}/4")),
                    ],
                )
            })
        })
        .collect();
    for (k, run) in runs.into_iter().enumerate() {
        let run = run.await.unwrap();
        assert_eq!(
            run.code,
            0,
            "shard {}: {}\n{}",
            k + 1,
            run.stdout,
            run.stderr
        );
    }
    let stats = sandbox.stats();
    let logged: Vec<(String, String)> = stats
        .writes
        .iter()
        .map(|w| {
            let name = w.tenant.split('.').next().unwrap().to_string();
            (name, w.parameters["Identity"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(logged.len(), 240, "12 tenants x 20 tasks, each sent once");
    assert_eq!(logged.iter().collect::<HashSet<_>>().len(), 240);
    for k in 1..=4 {
        let results = json_lines(&ws.path().join(format!("report-{k}/results.jsonl")));
        for r in &results {
            assert_eq!(owner[r["tenant"].as_str().unwrap()], k, "{r}");
        }
        let journal_dir = ws
            .path()
            .join(format!(".tenantry/shards/shard-{k}-of-4/runs/p.yaml"));
        assert!(journal_dir.is_dir(), "shard {k} keeps its own journal");
    }
    for t in sandbox.tenants() {
        assert!(
            stats.tenant(&t.domain).peak_concurrency <= 3,
            "{}",
            t.domain
        );
    }

    // Resuming shard 2 goes on with shard 2's run: its writes are known, none is sent again,
    // and the other shards' runs are not its to see.
    let resumed = tenantry_with_env(
        ws.path(),
        &[
            "run",
            "p.yaml",
            "--shard",
            "2/4",
            "--resume",
            "--progress",
            "plain",
        ],
        &env,
    );
    assert_eq!(resumed.code, 0, "{}\n{}", resumed.stdout, resumed.stderr);
    assert_eq!(sandbox.stats().writes.len(), 240, "nothing sent again");

    // The four shards' reports merged are one run's: every task once, counts that add up.
    let merge = tenantry_with_env(
        ws.path(),
        &[
            "report", "--merge", "report-1", "report-2", "report-3", "report-4", "--report",
            "merged",
        ],
        &[],
    );
    assert_eq!(
        merge.code, 0,
        "{}
{}",
        merge.stdout, merge.stderr
    );
    let merged = json_lines(&ws.path().join("merged/results.jsonl"));
    assert_eq!(merged.len(), 240);
    let ids: HashSet<&str> = merged.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 240, "every task once");
    let junit = std::fs::read_to_string(ws.path().join("merged/junit.xml")).unwrap();
    assert!(junit.contains("tests=\"240\""), "{junit}");
    // The merged counts are the shards' added up, and the counts of the same playbook run
    // whole, unsharded (which changes nothing now: the shards did it).
    let whole = tenantry_with_env(
        ws.path(),
        &["run", "p.yaml", "--progress", "plain", "--report", "whole"],
        &env,
    );
    assert_eq!(whole.code, 0, "{}", whole.stderr);
    let summary = |dir: &str| -> Value {
        let text = std::fs::read_to_string(ws.path().join(dir).join("summary.json")).unwrap();
        let mut v: Value = serde_json::from_str(&text).unwrap();
        v["total"]["duration_ms"] = Value::Null;
        v["total"].clone()
    };
    let (merged_total, mut whole_total) = (summary("merged"), summary("whole"));
    let changed: u64 = (1..=4)
        .map(|k| summary(&format!("report-{k}"))["changed"].as_u64().unwrap())
        .sum();
    assert_eq!(merged_total["changed"], changed);
    whole_total["changed"] = merged_total["changed"].clone();
    assert_eq!(merged_total, whole_total);
    let tenants = |dir: &str| -> Vec<String> {
        let text = std::fs::read_to_string(ws.path().join(dir).join("summary.json")).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        v["tenants"].as_object().unwrap().keys().cloned().collect()
    };
    assert_eq!(tenants("merged"), tenants("whole"));

    // The same shard twice is not a set of shards.
    let twice = tenantry_with_env(
        ws.path(),
        &[
            "report", "--merge", "report-1", "report-1", "--report", "bad",
        ],
        &[],
    );
    assert_eq!(twice.code, 2, "{}", twice.stderr);
    assert!(
        twice.stderr.contains("is in the reports of both"),
        "{}",
        twice.stderr
    );
    // Nor is a merge into one of its own inputs, which would overwrite it.
    let into_input = tenantry_with_env(
        ws.path(),
        &[
            "report",
            "--merge",
            "report-1",
            "report-2",
            "--report",
            "./report-2",
        ],
        &[],
    );
    assert_eq!(into_input.code, 2, "{}", into_input.stderr);
    assert!(
        into_input.stderr.contains("is one of the folders to merge"),
        "{}",
        into_input.stderr
    );
    let kept = json_lines(&ws.path().join("report-2/results.jsonl"));
    assert!(
        kept.iter()
            .all(|r| owner[r["tenant"].as_str().unwrap()] == 2),
        "untouched"
    );
    assert_eq!(kept.len(), 20 * owner.values().filter(|&&k| k == 2).count());
    sandbox.shutdown().await;
}

/// `--shards N` takes this worker's shard from `JOB_COMPLETION_INDEX`, as a Kubernetes
/// Indexed Job sets it; a bad shard is refused before anything is done.
#[test]
fn an_indexed_job_names_its_shard_and_a_bad_one_is_refused() {
    let ws = Workspace::new(&[(
        "p.yaml",
        "version: 1\nname: Sharded\ntenants:\n  - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }\n  - { name: fabrikam, organization: fabrikam.onmicrosoft.com, cloud: sandbox }\n  - { name: northwind, organization: northwind.onmicrosoft.com, cloud: sandbox }\nsteps:\n  - cmdlet: Get-AcceptedDomain\n",
    )]);
    let tenants_of = |args: &[&str], env: &[(&str, &str)]| -> Vec<String> {
        let plan = tenantry_with_env(ws.path(), args, env);
        assert_eq!(plan.code, 0, "{}", plan.stderr);
        plan.stdout
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["type"] == "tenant")
            .map(|r| r["tenant"].as_str().unwrap().to_string())
            .collect()
    };
    let mut covered = Vec::new();
    for index in 0..3 {
        let by_index = tenants_of(
            &["plan", "p.yaml", "--format", "json", "--shards", "3"],
            &[("JOB_COMPLETION_INDEX", &index.to_string())],
        );
        let by_shard = tenants_of(
            &[
                "plan",
                "p.yaml",
                "--format",
                "json",
                "--shard",
                &format!("{}/3", index + 1),
            ],
            &[],
        );
        assert_eq!(by_index, by_shard);
        covered.extend(by_index);
    }
    covered.sort();
    assert_eq!(
        covered,
        ["contoso", "fabrikam", "northwind"],
        "each tenant in one shard"
    );
    for (args, env, says) in [
        (
            vec!["plan", "p.yaml", "--shard", "5/4"],
            vec![],
            "shard 5 of 4 does not exist",
        ),
        (
            vec!["plan", "p.yaml", "--shard", "two"],
            vec![],
            "write K/N",
        ),
        (
            vec!["plan", "p.yaml", "--shards", "4"],
            vec![],
            "JOB_COMPLETION_INDEX",
        ),
        (
            vec!["plan", "p.yaml", "--shards", "4"],
            vec![("JOB_COMPLETION_INDEX", "4")],
            "shard 5 of 4 does not exist",
        ),
    ] {
        let out = tenantry_with_env(ws.path(), &args, &env);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
    }
}
