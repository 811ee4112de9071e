//! `--log-format json`: the run's output as JSON Lines, one event per line, task lines with
//! the fields of results.jsonl plus `time`, `level` and `event`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Map, Value};
use tenantry::sandbox::{Sandbox, SandboxConfig};

use crate::support::{Run, Workspace, json_lines};

/// A playbook over three sandbox tenants: a read, then a write to two mailboxes and one that
/// does not exist (it fails, and the tenant goes on).
async fn workspace() -> (Sandbox, Workspace) {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(3, 5))
        .await
        .unwrap();
    let playbook = format!(
        "version: 1\nname: Logs\ntenants:\n{}steps:\n  - cmdlet: Get-OrganizationConfig\n  - cmdlet: Set-Mailbox\n    for_each: [user001, user002, nobody]\n    on_error: continue\n    params: {{ Identity: \"{{{{ item }}}}\", CustomAttribute1: logged }}\n",
        crate::support::custom_tenants(&sandbox, "SECRET")
    );
    let ws = Workspace::new(&[("p.yaml", &playbook)]);
    (sandbox, ws)
}

async fn tenantry(ws: &Workspace, args: &[&str]) -> Run {
    let started = Instant::now();
    let run = crate::support::tenantry_for_sandbox(ws, args).await;
    assert!(started.elapsed() < Duration::from_secs(60));
    run
}

/// Each line as a JSON object, its first keys `time`, `level` and `event`, its time in
/// RFC 3339 UTC with milliseconds.
fn log_lines(text: &str) -> Vec<Map<String, Value>> {
    text.lines()
        .map(|line| {
            let value: Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let Value::Object(object) = value else {
                panic!("not an object: {line}")
            };
            let keys: Vec<&str> = object.keys().take(3).map(String::as_str).collect();
            assert_eq!(keys, ["time", "level", "event"], "{line}");
            let time = object["time"].as_str().unwrap();
            let shape = time.bytes().enumerate().all(|(i, b)| match i {
                4 | 7 => b == b'-',
                10 => b == b'T',
                13 | 16 => b == b':',
                19 => b == b'.',
                23 => b == b'Z',
                _ => b.is_ascii_digit(),
            });
            assert!(shape && time.len() == 24, "{time}");
            assert!(
                ["info", "warn", "error"].contains(&object["level"].as_str().unwrap()),
                "{line}"
            );
            object
        })
        .collect()
}

/// Standard output is JSON Lines and nothing else: the run starts, each task is one line with
/// exactly the fields of its results.jsonl line, each tenant ends, the run ends with the
/// summary's totals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_event_is_a_json_line_and_tasks_carry_the_results_fields() {
    let (_sandbox, ws) = workspace().await;
    let out = tenantry(
        &ws,
        &[
            "run",
            "p.yaml",
            "--log-format",
            "json",
            "--progress",
            "bars",
            "--report",
            "out",
        ],
    )
    .await;
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let lines = log_lines(&out.stdout);
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(events.first(), Some(&"run_started"));
    assert_eq!(events.last(), Some(&"run_finished"));
    assert_eq!(
        events.iter().filter(|e| **e == "tenant_finished").count(),
        3
    );
    let results: BTreeMap<String, Value> = json_lines(&ws.path().join("out/results.jsonl"))
        .into_iter()
        .map(|r| (r["id"].as_str().unwrap().to_string(), r))
        .collect();
    let tasks: Vec<_> = lines.iter().filter(|l| l["event"] == "task").collect();
    assert_eq!(tasks.len(), results.len());
    assert_eq!(tasks.len(), 12);
    for task in &tasks {
        let mut fields = (*task).clone();
        for key in ["time", "level", "event"] {
            fields.remove(key);
        }
        let id = fields["id"].as_str().unwrap().to_string();
        assert_eq!(Value::Object(fields), results[&id], "{id}");
        let expected = match task["status"].as_str().unwrap() {
            "failed" => "error",
            _ => "info",
        };
        assert_eq!(task["level"], expected, "{id}");
    }
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("out/summary.json")).unwrap())
            .unwrap();
    let finished = lines.last().unwrap();
    assert_eq!(finished["total"], summary["total"]);
    assert_eq!(finished["exit_code"], 1);
    assert_eq!(finished["level"], "error");
    assert_eq!(finished["playbook"], "Logs");
    assert_eq!(finished["tenant_count"], 3);
    for tenant in lines.iter().filter(|l| l["event"] == "tenant_finished") {
        let name = tenant["tenant"].as_str().unwrap();
        for count in ["ok", "changed", "failed", "skipped"] {
            assert_eq!(
                tenant[count], summary["tenants"][name][count],
                "{name} {count}"
            );
        }
    }
}

/// A check in JSON Lines keeps standard output for its records; its log goes to standard error,
/// where its lines for people would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_in_json_lines_logs_on_standard_error() {
    let (_sandbox, ws) = workspace().await;
    let out = tenantry(
        &ws,
        &[
            "check",
            "p.yaml",
            "--format",
            "jsonl",
            "--log-format",
            "json",
        ],
    )
    .await;
    assert_eq!(out.code, 5, "{}\n{}", out.stdout, out.stderr);
    for line in out.stdout.lines() {
        let record: Value = serde_json::from_str(line).unwrap();
        assert!(record.get("type").is_some(), "a check record: {line}");
        assert!(record.get("event").is_none(), "not a log line: {line}");
    }
    let log = log_lines(&out.stderr);
    let tasks = log.iter().filter(|l| l["event"] == "task").count();
    assert_eq!(tasks, 12);
    let finished = log.last().unwrap();
    assert_eq!(finished["event"], "run_finished");
    assert_eq!(finished["check"], true);
    assert_eq!(finished["exit_code"], 5);
    assert_eq!(
        finished["level"], "info",
        "changes pending is a check's success"
    );
}
