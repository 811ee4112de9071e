//! `--metrics-file` and `--metrics-push`: the run's Prometheus metrics, read back with an
//! exposition-format parser and checked against summary.json and the sandbox's own count of
//! the faults it injected; a Pushgateway stand-in on loopback records what is pushed.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_parse::{Sample, Scrape, Value};
use serde_json::Value as Json;
use tenantry::sandbox::{Behaviour, Fault, FaultKind, Sandbox, SandboxConfig};

use crate::support::{Run, Workspace, json_lines};

/// A sandbox of three tenants, twenty mailboxes each, all behaving alike.
async fn sandbox(behaviour: Behaviour) -> Sandbox {
    let config =
        SandboxConfig::with_tenants(3, 20).each_tenant(|t| t.behaviour = behaviour.clone());
    Sandbox::start(config).await.unwrap()
}

/// A playbook named "Mailbox retention" over every tenant of `sandbox`: a read, then a write
/// to each of `users` mailboxes (a missing one fails and the tenant goes on).
fn playbook(sandbox: &Sandbox, users: &[&str]) -> String {
    format!(
        "version: 1\nname: Mailbox retention\ntenants:\n{}steps:\n  - cmdlet: Get-OrganizationConfig\n  - cmdlet: Set-Mailbox\n    for_each: [{}]\n    on_error: continue\n    params: {{ Identity: \"{{{{ item }}}}\", CustomAttribute1: metrics }}\n",
        crate::support::custom_tenants(sandbox, "SECRET"),
        users.join(", ")
    )
}

fn users(count: usize) -> Vec<String> {
    (1..=count).map(|i| format!("user{i:03}")).collect()
}

async fn tenantry(ws: &Workspace, args: &[&str]) -> Run {
    let started = Instant::now();
    let run = crate::support::tenantry_for_sandbox(ws, args).await;
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{args:?} took {:?}",
        started.elapsed()
    );
    run
}

/// The text parsed as Prometheus parses it.
fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("valid exposition text")
}

fn samples<'a>(scrape: &'a Scrape, name: &str) -> Vec<&'a Sample> {
    scrape.samples.iter().filter(|s| s.metric == name).collect()
}

fn number(sample: &Sample) -> f64 {
    match sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        _ => panic!("{} is not a number", sample.metric),
    }
}

/// The one sample of `name` (with these labels).
fn one(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let found: Vec<_> = samples(scrape, name)
        .into_iter()
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .collect();
    assert_eq!(found.len(), 1, "{name} {labels:?}: {found:?}");
    number(found[0])
}

/// Sum of `name`'s samples with these labels.
fn sum(scrape: &Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples(scrape, name)
        .into_iter()
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(number)
        .sum()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The naming conventions of Prometheus, on the text itself: every family has HELP and TYPE,
/// names are snake_case under `tenantry_`, counters end in `_total`, durations and times are
/// in seconds, and no sample belongs to a family not declared.
fn follows_conventions(text: &str) {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helps = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap();
            assert!(!help.trim().is_empty(), "{name} has an empty HELP");
            helps.push(name.to_string());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(
                helps.last().is_some_and(|h| h == name),
                "{name}: TYPE without HELP just before it"
            );
            types.insert(name.to_string(), kind.to_string());
        } else {
            let name = line.split(['{', ' ']).next().unwrap();
            let family = types
                .keys()
                .find(|f| {
                    *f == name
                        || (types[*f] == "histogram"
                            && ["_bucket", "_sum", "_count"]
                                .iter()
                                .any(|s| name.strip_suffix(s) == Some(f.as_str())))
                })
                .unwrap_or_else(|| panic!("{name} has no TYPE"));
            assert!(!family.is_empty());
        }
    }
    assert_eq!(helps.len(), types.len());
    for (name, kind) in &types {
        assert!(name.starts_with("tenantry_"), "{name}");
        assert!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{name} is not snake_case"
        );
        assert!(!name.contains("__") && !name.ends_with('_'), "{name}");
        assert!(["counter", "gauge", "histogram"].contains(&kind.as_str()));
        assert_eq!(
            kind == "counter",
            name.ends_with("_total"),
            "{name} ({kind})"
        );
        for unit in ["_ms", "_millis", "_milliseconds", "_minutes", "_hours"] {
            assert!(!name.contains(unit), "{name}: durations are in seconds");
        }
        if name.contains("duration") || name.contains("timestamp") {
            assert!(name.ends_with("_seconds"), "{name}: in seconds");
        }
    }
}

/// A run over three tenants whose service throttles about one request in seven: the metrics
/// file parses, follows the conventions, agrees with summary.json task for task, counts each
/// 429 the sandbox sent as a throttled retry, and times the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_file_agrees_with_the_summary_and_the_service() {
    let sandbox = sandbox(Behaviour {
        faults: vec![Fault {
            kind: FaultKind::TooManyRequests,
            rate: 0.15,
        }],
        // Under a second: each 429 counts as a retry and costs little time.
        retry_after: 0.05,
        ..Behaviour::default()
    })
    .await;
    let mut names = users(12);
    names.push("nobody".into());
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let ws = Workspace::new(&[("p.yaml", &playbook(&sandbox, &names))]);
    let before = now();
    let out = tenantry(
        &ws,
        &[
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--report",
            "out",
            "--metrics-file",
            "tenantry.prom",
        ],
    )
    .await;
    // `nobody` fails in each tenant.
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let text = std::fs::read_to_string(ws.path().join("tenantry.prom")).unwrap();
    follows_conventions(&text);
    let scrape = parse(&text);
    let summary: Json =
        serde_json::from_str(&std::fs::read_to_string(ws.path().join("out/summary.json")).unwrap())
            .unwrap();
    for sample in &scrape.samples {
        assert_eq!(sample.labels.get("playbook"), Some("Mailbox retention"));
        assert_eq!(sample.labels.get("command"), Some("run"));
        assert_eq!(sample.labels.get("shard"), None);
    }
    let tenants = summary["tenants"].as_object().unwrap();
    assert_eq!(tenants.len(), 3);
    for (tenant, s) in tenants {
        for status in ["ok", "failed", "skipped", "unknown"] {
            assert_eq!(
                one(
                    &scrape,
                    "tenantry_tasks_total",
                    &[("tenant", tenant), ("status", status)]
                ),
                s[status].as_u64().unwrap() as f64,
                "{tenant} {status}"
            );
        }
        assert_eq!(
            one(
                &scrape,
                "tenantry_tasks_total",
                &[("tenant", tenant), ("status", "failed")]
            ),
            1.0
        );
        assert_eq!(
            one(
                &scrape,
                "tenantry_tasks_changed_total",
                &[("tenant", tenant)]
            ),
            s["changed"].as_u64().unwrap() as f64
        );
        assert_eq!(
            sum(&scrape, "tenantry_retries_total", &[("tenant", tenant)]),
            s["retries"].as_u64().unwrap() as f64,
            "{tenant}: every retry has a kind"
        );
        assert_eq!(
            one(
                &scrape,
                "tenantry_tenant_duration_seconds",
                &[("tenant", tenant)]
            ),
            s["duration_ms"].as_u64().unwrap() as f64 / 1000.0
        );
        assert_eq!(
            one(&scrape, "tenantry_tenant_stopped", &[("tenant", tenant)]),
            0.0
        );
    }
    // What the service says it did: every 429 it sent was a throttled retry.
    let stats = sandbox.stats();
    let mut throttled_by_sandbox = 0.0;
    for t in sandbox.tenants() {
        let tenant = t.domain.split('.').next().unwrap();
        let sent = stats.tenant(&t.domain);
        let refused = sent.faults.get("429").copied().unwrap_or(0) + sent.throttled;
        throttled_by_sandbox += refused as f64;
        assert_eq!(
            sum(
                &scrape,
                "tenantry_throttled_total",
                &[("tenant", tenant), ("kind", "too_many_requests")]
            ),
            refused as f64,
            "{tenant}"
        );
        assert_eq!(
            sum(
                &scrape,
                "tenantry_retries_total",
                &[("tenant", tenant), ("kind", "too_many_requests")]
            ),
            refused as f64,
            "{tenant}"
        );
    }
    assert!(throttled_by_sandbox > 0.0, "the sandbox throttled the run");
    // The task histogram covers the tasks this run sent: all of them here.
    let results = json_lines(&ws.path().join("out/results.jsonl"));
    let count = samples(&scrape, "tenantry_task_duration_seconds")
        .into_iter()
        .find_map(|s| match &s.value {
            Value::Histogram(buckets) => Some(buckets.last().unwrap().count),
            _ => None,
        })
        .expect("a histogram");
    assert_eq!(count, results.len() as f64);
    let total_ms: u64 = results
        .iter()
        .map(|r| r["duration_ms"].as_u64().unwrap())
        .sum();
    assert_eq!(
        one(&scrape, "tenantry_task_duration_seconds_sum", &[]),
        total_ms as f64 / 1000.0
    );
    assert_eq!(one(&scrape, "tenantry_run_exit_code", &[]), 1.0);
    assert_eq!(one(&scrape, "tenantry_run_complete", &[]), 1.0);
    assert_eq!(
        one(&scrape, "tenantry_run_duration_seconds", &[]),
        summary["duration_ms"].as_u64().unwrap() as f64 / 1000.0
    );
    let ended = one(&scrape, "tenantry_run_last_run_timestamp_seconds", &[]);
    assert!(ended >= before && ended <= now(), "{ended}");
    assert!(
        samples(&scrape, "tenantry_run_last_success_timestamp_seconds").is_empty(),
        "no run of this playbook has succeeded yet"
    );
    assert_eq!(one(&scrape, "tenantry_build_info", &[]), 1.0);
}

/// The last success survives a failed run: a check that succeeds (changes pending is a
/// check's success) records it, and a failing check after it keeps it, with its own exit
/// code and end. A shard's series carry its label.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_success_is_carried_over_a_failed_run() {
    let sandbox = sandbox(Behaviour::default()).await;
    let ok = playbook(&sandbox, &["user001", "user002"]);
    // A read of a mailbox that does not exist fails, in a check as in a run.
    let failing = format!(
        "version: 1\nname: Mailbox retention\ntenants:\n{}steps:\n  - cmdlet: Get-Mailbox\n    params: {{ Identity: nobody }}\n",
        crate::support::custom_tenants(&sandbox, "SECRET")
    );
    let ws = Workspace::new(&[("ok.yaml", &ok), ("failing.yaml", &failing)]);
    let metrics = ["--metrics-file", "m/tenantry.prom", "--shard", "1/1"];
    std::fs::create_dir(ws.path().join("m")).unwrap();
    let first = tenantry(&ws, &[&["check", "ok.yaml"][..], &metrics[..]].concat()).await;
    assert_eq!(first.code, 5, "{}\n{}", first.stdout, first.stderr);
    let scrape = parse(&std::fs::read_to_string(ws.path().join("m/tenantry.prom")).unwrap());
    let success = one(&scrape, "tenantry_run_last_success_timestamp_seconds", &[]);
    assert_eq!(
        success,
        one(&scrape, "tenantry_run_last_run_timestamp_seconds", &[])
    );
    assert_eq!(one(&scrape, "tenantry_run_exit_code", &[]), 5.0);
    assert_eq!(
        sum(&scrape, "tenantry_tasks_total", &[("status", "drift")]),
        6.0
    );
    for sample in &scrape.samples {
        assert_eq!(sample.labels.get("command"), Some("check"));
        assert_eq!(sample.labels.get("shard"), Some("1/1"));
    }
    std::thread::sleep(Duration::from_millis(20));
    let second = tenantry(
        &ws,
        &[&["check", "failing.yaml"][..], &metrics[..]].concat(),
    )
    .await;
    assert_eq!(second.code, 1, "{}\n{}", second.stdout, second.stderr);
    let text = std::fs::read_to_string(ws.path().join("m/tenantry.prom")).unwrap();
    follows_conventions(&text);
    let scrape = parse(&text);
    assert_eq!(
        one(&scrape, "tenantry_run_last_success_timestamp_seconds", &[]),
        success
    );
    assert!(one(&scrape, "tenantry_run_last_run_timestamp_seconds", &[]) > success);
    assert_eq!(one(&scrape, "tenantry_run_exit_code", &[]), 1.0);
    let left: Vec<_> = std::fs::read_dir(ws.path().join("m"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["tenantry.prom"], "no temporary file is left");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(ws.path().join("m/tenantry.prom"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o644, "readable by the collector");
    }
}

/// A metrics file that cannot be written is a warning: the run's exit code stays its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_file_that_cannot_be_written_does_not_fail_the_run() {
    let sandbox = sandbox(Behaviour::default()).await;
    let ws = Workspace::new(&[("p.yaml", &playbook(&sandbox, &["user001"]))]);
    let out = tenantry(
        &ws,
        &[
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--metrics-file",
            "missing/tenantry.prom",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let warnings: Vec<_> = out
        .stdout
        .lines()
        .filter(|l| l.contains("metrics were not written"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stdout);
    assert!(warnings[0].starts_with("warning: "), "{}", warnings[0]);
    assert!(warnings[0].contains("missing/tenantry.prom"));
}

/// A failing run whose metrics file cannot be written: one warning, and the run's own exit
/// code, 1, neither raised nor lowered by it; the temporary file is not left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_file_that_cannot_be_written_keeps_a_failed_runs_exit_code() {
    let sandbox = sandbox(Behaviour::default()).await;
    let ws = Workspace::new(&[("p.yaml", &playbook(&sandbox, &["user001", "nobody"]))]);
    // A folder where the file should go: it cannot be replaced by one.
    std::fs::create_dir(ws.path().join("tenantry.prom")).unwrap();
    let out = tenantry(
        &ws,
        &[
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--metrics-file",
            "tenantry.prom",
        ],
    )
    .await;
    // `nobody` fails in each tenant; the others go on.
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    let warnings: Vec<_> = out
        .stdout
        .lines()
        .filter(|l| l.contains("metrics were not written"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stdout);
    assert!(warnings[0].starts_with("warning: "), "{}", warnings[0]);
    assert!(warnings[0].contains("tenantry.prom"), "{}", warnings[0]);
    let left: Vec<_> = std::fs::read_dir(ws.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".partial"))
        .collect();
    assert!(left.is_empty(), "no temporary file is left: {left:?}");
}

/// A run whose `--report` cannot be written exits 1, and its metrics say so: written after the
/// report, they tell exit code 1, as notifications do, and the last success stays the one
/// an earlier run recorded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_that_cannot_be_written_is_a_failure_in_the_metrics() {
    let sandbox = sandbox(Behaviour::default()).await;
    let ws = Workspace::new(&[("p.yaml", &playbook(&sandbox, &["user001"]))]);
    let first = tenantry(
        &ws,
        &[
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--report",
            "first",
            "--metrics-file",
            "tenantry.prom",
        ],
    )
    .await;
    assert_eq!(first.code, 0, "{}\n{}", first.stdout, first.stderr);
    let scrape = parse(&std::fs::read_to_string(ws.path().join("tenantry.prom")).unwrap());
    assert_eq!(one(&scrape, "tenantry_run_exit_code", &[]), 0.0);
    let success = one(&scrape, "tenantry_run_last_success_timestamp_seconds", &[]);
    std::thread::sleep(Duration::from_millis(20));
    // summary.json cannot take the place of a folder that holds a file: the report fails when
    // the run finishes, after every task went through.
    std::fs::create_dir_all(ws.path().join("out/summary.json")).unwrap();
    std::fs::write(ws.path().join("out/summary.json/keep"), "").unwrap();
    let out = tenantry(
        &ws,
        &[
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--report",
            "out",
            "--metrics-file",
            "tenantry.prom",
        ],
    )
    .await;
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("cannot write the report in out"),
        "{}",
        out.stderr
    );
    let text = std::fs::read_to_string(ws.path().join("tenantry.prom")).unwrap();
    follows_conventions(&text);
    let scrape = parse(&text);
    assert_eq!(one(&scrape, "tenantry_run_exit_code", &[]), 1.0);
    assert!(one(&scrape, "tenantry_run_last_run_timestamp_seconds", &[]) > success);
    assert_eq!(
        one(&scrape, "tenantry_run_last_success_timestamp_seconds", &[]),
        success,
        "a failed run does not move the last success"
    );
    // Every task went through: the failure is the report's alone.
    assert_eq!(
        sum(&scrape, "tenantry_tasks_total", &[("status", "failed")]),
        0.0
    );
}

/// One request the Pushgateway stand-in received.
#[derive(Clone, Debug)]
struct Pushed {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// A Pushgateway stand-in on loopback that answers every request with `status`, recording
/// each. Its thread ends with the test process.
fn gateway(status: u16) -> (String, Arc<Mutex<Vec<Pushed>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or("").to_string();
            let path = parts.next().unwrap_or("").to_string();
            let mut headers = BTreeMap::new();
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).unwrap();
                let header = header.trim_end();
                if header.is_empty() {
                    break;
                }
                let (name, value) = header.split_once(':').unwrap();
                headers.insert(name.to_ascii_lowercase(), value.trim().to_string());
            }
            let length: usize = headers
                .get("content-length")
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            record.lock().unwrap().push(Pushed {
                method,
                path,
                headers,
                body: String::from_utf8(body).unwrap(),
            });
            let reason = if status == 200 { "OK" } else { "Error" };
            let answer = format!(
                "HTTP/1.1 {status} {reason}\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (url, seen)
}

/// The metrics go to the Pushgateway with PUT, in the group of the job, playbook, command and
/// shard (a value with `/` in base64), as text exposition, with the URL's user info as basic
/// authentication; the body leaves the grouping labels to the gateway. The password is
/// printed nowhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_are_put_to_the_pushgateway_in_their_group() {
    let sandbox = sandbox(Behaviour::default()).await;
    let ws = Workspace::new(&[("p.yaml", &playbook(&sandbox, &["user001", "user002"]))]);
    let (address, seen) = gateway(200);
    let push = format!("http://ops:pa%24%24word@{address}/gateway/");
    let out = tenantry(
        &ws,
        &[
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--shard",
            "1/1",
            "--report",
            "out",
            "--metrics-push",
            &push,
            "--metrics-file",
            "tenantry.prom",
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for text in [&out.stdout, &out.stderr] {
        assert!(
            !text.contains("pa$$word") && !text.contains("pa%24%24word"),
            "{text}"
        );
    }
    let pushed = seen.lock().unwrap().clone();
    assert_eq!(pushed.len(), 1, "{pushed:?}");
    let p = &pushed[0];
    assert_eq!(p.method, "PUT");
    assert_eq!(
        p.path,
        "/gateway/metrics/job/tenantry/playbook/Mailbox%20retention/command/run/shard@base64/MS8x"
    );
    assert_eq!(p.headers["content-type"], "text/plain; version=0.0.4");
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode("ops:pa$$word");
    assert_eq!(p.headers["authorization"], format!("Basic {basic}"));
    follows_conventions(&p.body);
    let scrape = parse(&p.body);
    for sample in &scrape.samples {
        for label in ["playbook", "command", "shard", "job"] {
            assert_eq!(sample.labels.get(label), None, "{label} is the gateway's");
        }
    }
    assert_eq!(
        sum(&scrape, "tenantry_tasks_total", &[("status", "ok")]),
        9.0
    );
    assert!(one(&scrape, "tenantry_run_last_success_timestamp_seconds", &[]) > 0.0);
    // The same series as the file, but for the grouping labels.
    let file = parse(&std::fs::read_to_string(ws.path().join("tenantry.prom")).unwrap());
    assert_eq!(file.samples.len(), scrape.samples.len());
}

/// A Pushgateway that fails is tried three times, then given up with one warning that does
/// not show the password; the run's exit code is its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_pushgateway_is_a_warning() {
    let sandbox = sandbox(Behaviour::default()).await;
    let ws = Workspace::new(&[("p.yaml", &playbook(&sandbox, &["user001"]))]);
    let (address, seen) = gateway(503);
    let push = format!("http://ops:hunter2@{address}");
    let started = Instant::now();
    let out = tenantry(
        &ws,
        &[
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--metrics-push",
            &push,
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(seen.lock().unwrap().len(), 3, "three attempts");
    let warnings: Vec<_> = out
        .stdout
        .lines()
        .filter(|l| l.contains("not pushed"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", out.stdout);
    assert!(warnings[0].contains("503"), "{}", warnings[0]);
    assert!(warnings[0].contains("***@127.0.0.1"), "{}", warnings[0]);
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("hunter2"), "{text}");
    }
    // Nothing listens here any more: a refused connection is a warning too.
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = tenantry(
        &ws,
        &[
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--metrics-push",
            &format!("http://127.0.0.1:{closed}"),
        ],
    )
    .await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(
        out.stdout
            .lines()
            .filter(|l| l.contains("not pushed"))
            .count(),
        1,
        "{}",
        out.stdout
    );
}

/// Ctrl-C or SIGTERM while the metrics are being pushed to a Pushgateway that never answers:
/// the push is abandoned at once with one warning, and the exit code stays the run's.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_abandons_the_push() {
    use std::process::{Command, Stdio};
    let sandbox = sandbox(Behaviour::default()).await;
    let ws = Workspace::new(&[("p.yaml", &playbook(&sandbox, &["user001"]))]);
    // Takes connections and reads nothing, answers nothing: each attempt waits out its time.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let (accepted, connected) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
            let _ = accepted.send(());
        }
    });
    let child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args([
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--metrics-push",
            &format!("http://{address}"),
        ])
        .env("SECRET", tenantry::sandbox::APPS[0].client_secret)
        .current_dir(ws.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    let out = tokio::task::spawn_blocking(move || {
        connected
            .recv_timeout(Duration::from_secs(30))
            .expect("the push reaches the gateway");
        let signalled = Instant::now();
        let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        (out, signalled.elapsed())
    })
    .await
    .unwrap();
    let (out, took) = out;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let warnings: Vec<_> = stdout
        .lines()
        .filter(|l| l.contains("metrics push"))
        .collect();
    assert_eq!(warnings.len(), 1, "{stdout}");
    assert!(
        warnings[0].starts_with("warning: ") && warnings[0].contains("abandoned: interrupted"),
        "{}",
        warnings[0]
    );
}

/// Plain http to anything but loopback is refused before the run starts, without showing the
/// URL's password.
#[test]
fn a_push_url_over_plain_http_to_another_host_is_refused() {
    let ws = Workspace::new(&[("p.yaml", "version: 1\nname: x\ntenants: []\nsteps: []\n")]);
    let out = ws.run(&[
        "run",
        "p.yaml",
        "--metrics-push",
        "http://ops:hunter2@push.example.com:9091",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("plain http"), "{}", out.stderr);
    assert!(!out.stderr.contains("hunter2"), "{}", out.stderr);
}
