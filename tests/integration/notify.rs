//! Notifications: a run or a check posts its summary to webhooks, checked here by a receiver
//! on loopback that records every request: each format's shape, `on:`, retries, deliveries
//! that fail without changing the exit code, and webhook URLs that never show.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use crate::support::{Run, Workspace, tenantry_with_env};

/// One request the receiver took.
#[derive(Clone, Debug)]
struct Request {
    path: String,
    content_type: String,
    body: Value,
}

/// An HTTP receiver on loopback: answers each request with the next status of its script
/// (the last one again once the script is used up), records them all, and stops when dropped.
struct Receiver {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Answers with these statuses in turn; `(429, Some(1))` adds `Retry-After: 1`.
    fn start(script: &[(u16, Option<u64>)]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script = script.to_vec();
        let thread = {
            let requests = requests.clone();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut served = 0;
                while !stop.load(Ordering::SeqCst) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (status, retry_after) = script[served.min(script.len() - 1)];
                            if let Some(request) = serve(stream, status, retry_after) {
                                requests.lock().unwrap().push(request);
                                served += 1;
                            }
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(10));
                        }
                        Err(e) => panic!("the receiver cannot accept: {e}"),
                    }
                }
            })
        };
        Receiver {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// The requests to `path`.
    fn to(&self, path: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one HTTP/1.1 request and answers it with `status`, closing the connection.
fn serve(stream: TcpStream, status: u16, retry_after: Option<u64>) -> Option<Request> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_string();
    let mut length = 0;
    let mut content_type = String::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        match name.to_ascii_lowercase().as_str() {
            "content-length" => length = value.trim().parse().ok()?,
            "content-type" => content_type = value.trim().to_string(),
            _ => {}
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let extra = retry_after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\n{extra}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    Some(Request {
        path,
        content_type,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

/// Runs `tenantry ARGS` in the workspace, failing the test if it takes over two minutes.
fn run(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Run {
    let dir = ws.path().to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let _ = tx.send(tenantry_with_env(&dir, &args, &env));
    });
    rx.recv_timeout(Duration::from_secs(120))
        .expect("tenantry finishes within two minutes")
}

/// Two sandbox tenants; contoso's write fails (no such mailbox), fabrikam's succeeds.
const TENANTS: &str = "tenants:
  - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }
  - { name: fabrikam, organization: fabrikam.onmicrosoft.com, cloud: sandbox }
";
const FAILING_STEP: &str = "steps:
  - cmdlet: Set-Mailbox
    on_error: continue
    params: { Identity: \"{{ 'ghost' if tenant.name == 'contoso' else 'user001' }}\", CustomAttribute1: x }
  - cmdlet: Get-AcceptedDomain
";
const PASSING_STEP: &str = "steps:
  - cmdlet: Set-Mailbox
    params: { Identity: user001, CustomAttribute1: x }
";

fn playbook(notify: &str, steps: &str) -> String {
    format!("version: 1\nname: Notified\n{TENANTS}{notify}{steps}")
}

/// Every file under `dir`, as text, for checking that no secret reached any of them.
fn all_text_under(dir: &std::path::Path) -> String {
    let mut out = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.push_str(&all_text_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push_str(&String::from_utf8_lossy(&bytes));
        }
    }
    out
}

#[test]
fn a_failed_run_posts_each_format_with_the_reports_counts() {
    let receiver = Receiver::start(&[(200, None)]);
    let ws = Workspace::new(&[(
        "p.yaml",
        &playbook(
            "notify:
  - { format: json, url_env: JSON_HOOK, on: [finish], report_url: \"${BUILD_URL}/artifacts\" }
  - { format: slack, url_env: SLACK_HOOK, report_url: \"${BUILD_URL}/artifacts\" }
  - { format: teams, url_file: teams-hook.txt, name: ops channel, report_url: \"${BUILD_URL}/artifacts\" }
",
            FAILING_STEP,
        ),
    )]);
    std::fs::write(
        ws.path().join("teams-hook.txt"),
        receiver.url("/teams") + "\n",
    )
    .unwrap();
    let slack = receiver.url("/slack");
    let hook = receiver.url("/json");
    let run = run(
        &ws,
        &["run", "p.yaml", "--report", "report", "--progress", "plain"],
        &[
            ("JSON_HOOK", &hook),
            ("SLACK_HOOK", &slack),
            ("BUILD_URL", "https://ci.example.com/build/42"),
        ],
    );
    assert_eq!(
        run.code, 1,
        "the run's own code:\n{}\n{}",
        run.stdout, run.stderr
    );
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join("report/summary.json")).unwrap(),
    )
    .unwrap();

    // The JSON document: its counts are summary.json's.
    let json = receiver.to("/json");
    assert_eq!(json.len(), 1, "{:?}", receiver.requests());
    assert!(json[0].content_type.starts_with("application/json"));
    let doc = &json[0].body;
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["event"], "failure");
    assert_eq!(doc["command"], "run");
    assert_eq!(doc["playbook"], "Notified");
    assert_eq!(doc["playbook_path"], "p.yaml");
    assert_eq!(doc["exit_code"], summary["exit_code"]);
    assert_eq!(doc["complete"], summary["complete"]);
    for key in ["ok", "changed", "failed", "skipped", "unknown", "retries"] {
        assert_eq!(doc["totals"][key], summary["total"][key], "{key}");
    }
    assert_eq!(doc["totals"]["tenants"], 2);
    assert_eq!(
        doc["failing_tenants"],
        serde_json::json!([{ "tenant": "contoso", "failed": 1, "unknown": 0, "stopped": null }])
    );
    assert_eq!(doc["failing_tenants_more"], 0);
    assert_eq!(doc["drifting_tenants"], serde_json::json!([]));
    let run_id = doc["run_id"].as_str().unwrap();
    assert!(
        run.stdout.contains(&format!("run {run_id}")),
        "{run_id}\n{}",
        run.stdout
    );
    let reports = ws.path().join("report").canonicalize().unwrap();
    assert_eq!(
        std::path::Path::new(doc["reports"].as_str().unwrap())
            .canonicalize()
            .unwrap(),
        reports
    );
    assert_eq!(
        doc["report_url"],
        "https://ci.example.com/build/42/artifacts"
    );
    assert!(!doc["host"].as_str().unwrap().is_empty());
    assert_eq!(doc["shard"], Value::Null);
    assert_eq!(doc["duration_ms"], summary["duration_ms"]);

    // Slack: a text fallback and blocks within Slack's limits.
    let slack_requests = receiver.to("/slack");
    assert_eq!(slack_requests.len(), 1, "on: defaults to [failure, drift]");
    let message = &slack_requests[0].body;
    assert!(
        message["text"].as_str().unwrap().contains("Notified"),
        "{message}"
    );
    let blocks = message["blocks"].as_array().unwrap();
    assert!(!blocks.is_empty() && blocks.len() <= 50);
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= 150);
    for block in blocks {
        match block["type"].as_str().unwrap() {
            "header" => {}
            "section" => {
                assert_eq!(block["text"]["type"], "mrkdwn");
                assert!(block["text"]["text"].as_str().unwrap().chars().count() <= 3000);
            }
            "context" => {
                for e in block["elements"].as_array().unwrap() {
                    assert_eq!(e["type"], "mrkdwn");
                }
            }
            other => panic!("unexpected block {other}: {block}"),
        }
    }
    let text: String = blocks
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(text.contains("`contoso`: 1 failed"), "{text}");
    assert!(
        text.contains("<https://ci.example.com/build/42/artifacts|Open the reports>"),
        "{text}"
    );

    // Teams: a message with one Adaptive Card.
    let teams = receiver.to("/teams");
    assert_eq!(teams.len(), 1);
    let message = &teams[0].body;
    assert_eq!(message["type"], "message");
    let attachments = message["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    assert_eq!(
        attachments[0]["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(attachments[0]["contentUrl"], Value::Null);
    let card = &attachments[0]["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(
        card["$schema"],
        "http://adaptivecards.io/schemas/adaptive-card.json"
    );
    for element in card["body"].as_array().unwrap() {
        let kind = element["type"].as_str().unwrap();
        assert!(kind == "TextBlock" || kind == "FactSet", "{element}");
        if kind == "FactSet" {
            for fact in element["facts"].as_array().unwrap() {
                assert!(
                    fact["title"].is_string() && fact["value"].is_string(),
                    "{fact}"
                );
            }
        }
    }
    assert_eq!(
        card["actions"],
        serde_json::json!([{ "type": "Action.OpenUrl", "title": "Open the reports", "url": "https://ci.example.com/build/42/artifacts" }])
    );

    // The webhook URLs show nowhere: not on the terminal, not in the reports or the journal.
    let written = all_text_under(ws.path()).replace(&receiver.url("/teams"), "");
    for secret in [&hook, &slack, &receiver.url("/teams")] {
        assert!(!run.stdout.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()));
    }
    assert!(!written.contains(&hook) && !written.contains(&slack));
}

#[test]
fn on_sends_only_for_what_was_asked() {
    let receiver = Receiver::start(&[(200, None)]);
    let ws = Workspace::new(&[(
        "p.yaml",
        &playbook(
            "notify:\n  - { format: json, url_env: FAILURES_HOOK, on: [failure] }\n",
            PASSING_STEP,
        ),
    )]);
    let failures = receiver.url("/failures");
    let every = receiver.url("/every");
    let ok = run(
        &ws,
        &[
            "run",
            "p.yaml",
            "--notify",
            "env:EVERY_HOOK",
            "--notify-on",
            "finish",
        ],
        &[("FAILURES_HOOK", &failures), ("EVERY_HOOK", &every)],
    );
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    assert!(receiver.to("/failures").is_empty(), "nothing failed");
    let every = receiver.to("/every");
    assert_eq!(every.len(), 1);
    assert_eq!(every[0].body["event"], "finish");
    assert_eq!(every[0].body["exit_code"], 0);

    // --no-notify: neither the playbook's nor the command line's.
    let quiet = run(
        &ws,
        &[
            "run",
            "p.yaml",
            "--notify",
            "env:EVERY_HOOK",
            "--notify-on",
            "finish",
            "--no-notify",
        ],
        &[
            ("FAILURES_HOOK", &failures),
            ("EVERY_HOOK", &receiver.url("/every")),
        ],
    );
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert_eq!(receiver.requests().len(), 1);
}

#[test]
fn a_check_notifies_new_drift_once() {
    let receiver = Receiver::start(&[(200, None)]);
    let ws = Workspace::new(&[(
        "p.yaml",
        &playbook(
            "notify:\n  - { format: slack, url_env: DRIFT_HOOK, on: [drift] }\n",
            PASSING_STEP,
        ),
    )]);
    let hook = receiver.url("/drift");
    let first = run(
        &ws,
        &["check", "p.yaml", "--report", "r1"],
        &[("DRIFT_HOOK", &hook)],
    );
    assert_eq!(
        first.code, 5,
        "new drift: {}\n{}",
        first.stdout, first.stderr
    );
    let sent = receiver.to("/drift");
    assert_eq!(sent.len(), 1);
    let text = sent[0].body["text"].as_str().unwrap();
    assert!(
        text.contains("tenantry check \"Notified\": new drift found"),
        "{text}"
    );
    assert!(text.contains("2 drift (2 new)"), "{text}");

    // The same drift again is not news.
    let second = run(&ws, &["check", "p.yaml"], &[("DRIFT_HOOK", &hook)]);
    assert_eq!(second.code, 6, "{}\n{}", second.stdout, second.stderr);
    assert_eq!(receiver.to("/drift").len(), 1, "no new drift, no message");

    // Pending changes are not a failure: a check notifying on failure stays quiet.
    let third = run(
        &ws,
        &["check", "p.yaml", "--no-notify"],
        &[("DRIFT_HOOK", &hook)],
    );
    assert_eq!(third.code, 6);
    let failures = run(
        &ws,
        &[
            "check",
            "p.yaml",
            "--notify",
            &receiver.url("/failures"),
            "--notify-on",
            "failure",
        ],
        &[("DRIFT_HOOK", &hook)],
    );
    assert_eq!(failures.code, 6, "{}", failures.stderr);
    assert!(receiver.to("/failures").is_empty());
    assert!(
        failures
            .stderr
            .contains("warning: --notify with a URL shows the URL"),
        "{}",
        failures.stderr
    );
}

#[test]
fn a_failed_delivery_is_retried_and_a_lost_one_changes_no_exit_code() {
    // 500 then 200: delivered on the second attempt, nothing said.
    let flaky = Receiver::start(&[(500, None), (429, Some(1)), (200, None)]);
    let ws = Workspace::new(&[(
        "p.yaml",
        &playbook(
            "notify:\n  - { format: json, url_env: HOOK, on: [finish] }\n",
            PASSING_STEP,
        ),
    )]);
    let started = std::time::Instant::now();
    let retried = run(&ws, &["run", "p.yaml"], &[("HOOK", &flaky.url("/h"))]);
    assert_eq!(retried.code, 0, "{}", retried.stderr);
    assert!(!retried.stderr.contains("warning"), "{}", retried.stderr);
    let requests = flaky.to("/h");
    assert_eq!(requests.len(), 3, "a 500, a 429, then delivered");
    assert_eq!(
        requests[0].body, requests[2].body,
        "the same message each time"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "1 s after the 500, the 429's Retry-After of 1 s"
    );

    // Always 500: three attempts, one warning line, the run's own exit code.
    let down = Receiver::start(&[(500, None)]);
    let gone = Receiver::start(&[(404, None)]);
    let ws = Workspace::new(&[(
        "p.yaml",
        &playbook(
            "notify:\n  - { format: json, url_env: HOOK, on: [finish] }\n  - { format: teams, url_env: GONE_HOOK, on: [finish] }\n",
            FAILING_STEP,
        ),
    )]);
    let hook = down.url("/down");
    let gone_hook = gone.url("/gone");
    let failed = run(
        &ws,
        &["run", "p.yaml", "--report", "report"],
        &[("HOOK", &hook), ("GONE_HOOK", &gone_hook)],
    );
    assert_eq!(failed.code, 1, "the run's code, not the notification's");
    assert_eq!(down.to("/down").len(), 3);
    assert_eq!(gone.to("/gone").len(), 1, "a 404 is not sent again");
    assert!(
        failed.stderr.contains(
            "warning: notification json (env HOOK) not delivered after 3 attempts: HTTP 500"
        ),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains(
            "warning: notification teams (env GONE_HOOK) not delivered after 1 attempt: HTTP 404"
        ),
        "{}",
        failed.stderr
    );
    let everything = format!(
        "{}{}{}",
        failed.stdout,
        failed.stderr,
        all_text_under(ws.path())
    );
    assert!(!everything.contains(&hook) && !everything.contains(&gone_hook));
    assert!(!everything.contains("/down") && !everything.contains("/gone"));

    // Nobody listening: a connection refused is a warning too.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        format!(
            "http://127.0.0.1:{}/nobody",
            listener.local_addr().unwrap().port()
        )
    };
    let refused = run(
        &ws,
        &["run", "p.yaml"],
        &[("HOOK", &closed), ("GONE_HOOK", &gone_hook)],
    );
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains(
            "warning: notification json (env HOOK) not delivered after 3 attempts: cannot connect"
        ),
        "{}",
        refused.stderr
    );
    assert!(!refused.stderr.contains("/nobody"), "{}", refused.stderr);
}

#[test]
fn a_url_written_in_the_playbook_is_refused_where_it_is_written() {
    let ws = Workspace::new(&[(
        "p.yaml",
        &playbook(
            "notify:
  - format: slack
    url: https://hooks.slack.com/services/T000/B000/XXXXXXXX
  - { format: json, url_env: \"https://example.com/hook\" }
  - { format: json }
",
            PASSING_STEP,
        ),
    )]);
    for command in ["validate", "run"] {
        let refused = run(&ws, &[command, "p.yaml"], &[]);
        assert_eq!(refused.code, 2, "{command}: {}", refused.stderr);
        let err = &refused.stderr;
        assert!(
            err.contains("a webhook URL is a secret and is not written in a playbook"),
            "{err}"
        );
        assert!(
            err.contains("p.yaml:8:10"),
            "the URL's line and column: {err}"
        );
        assert!(
            err.contains("url: https://hooks.slack.com/****")
                && !err.contains("T000/B000/XXXXXXXX"),
            "the URL's secret part is not shown: {err}"
        );
        assert!(err.contains("url_env"), "{err}");
        assert!(
            err.contains("`url_env` names where the webhook URL is kept, not the URL itself"),
            "{err}"
        );
        assert!(err.contains("p.yaml:9:"), "{err}");
        assert!(
            err.contains("a notification needs one of `url_env` or `url_file`"),
            "{err}"
        );
        assert!(err.contains("p.yaml:10:"), "{err}");
    }
    assert!(!ws.path().join(".tenantry").exists(), "nothing ran");
}

/// Whatever a diagnostic is about, the source line it prints never shows the secret part of
/// a URL in a notify entry: errors about the whole entry, a flow mapping holding the URL, a
/// parse error beside a URL, a URL folded over two lines.
#[test]
fn no_diagnostic_shows_a_notify_entry_url() {
    let cases: [(&str, &[&str]); 5] = [
        (
            "notify:\n  - url_env: https://hooks.slack.com/services/T1/B1/SECRETONE\n    url_file: hook.txt\n",
            &[
                "p.yaml:7:5",
                "p.yaml:7:14",
                "only one of `url_env` or `url_file`",
            ],
        ),
        (
            "notify:\n  - url_env: https://hooks.slack.com/services/T1/B1/SECRETONE\n    on: []\n",
            &["p.yaml:7:5", "`on: []` never sends"],
        ),
        (
            "notify:\n  - { format: json, url_env: \"https://example.com/hooks/SECRETONE\", on: [] }\n",
            &["p.yaml:7:5", "p.yaml:7:30", "`on: []` never sends"],
        ),
        (
            "notify:\n  - { format: slak, url: https://hooks.slack.com/services/T1/B1/SECRETONE }\n",
            &["p.yaml:7:", "slak"],
        ),
        (
            "notify:\n  - url_env: \"https://hooks.slack.com/services/\n      T1/B1/SECRETONE\"\n    on: []\n",
            &["p.yaml:7:5", "`on: []` never sends"],
        ),
    ];
    for (notify, expected) in cases {
        let ws = Workspace::new(&[("p.yaml", &playbook(notify, PASSING_STEP))]);
        for command in ["validate", "run"] {
            let refused = run(&ws, &[command, "p.yaml"], &[]);
            let err = &refused.stderr;
            assert_eq!(refused.code, 2, "{command} {notify}: {err}");
            for part in expected {
                assert!(err.contains(part), "{command} {notify}: {part}: {err}");
            }
            assert!(
                !err.contains("SECRETONE") && !err.contains("T1/B1"),
                "{command} {notify}: the URL's secret part is not shown: {err}"
            );
            assert!(err.contains("****"), "{command} {notify}: {err}");
        }
    }
}

#[test]
fn a_webhook_url_that_cannot_be_read_stops_the_run_before_it_starts() {
    let receiver = Receiver::start(&[(200, None)]);
    let ws = Workspace::new(&[(
        "p.yaml",
        &playbook(
            "notify:\n  - { format: slack, url_env: TENANTRY_TEST_UNSET_HOOK }\n",
            PASSING_STEP,
        ),
    )]);
    let refused = run(&ws, &["run", "p.yaml"], &[]);
    assert_eq!(refused.code, 2, "{}\n{}", refused.stdout, refused.stderr);
    assert_eq!(
        refused.stderr.trim(),
        "notification slack (env TENANTRY_TEST_UNSET_HOOK): the environment variable TENANTRY_TEST_UNSET_HOOK is not set; set it to the webhook URL, or run with --no-notify"
    );
    assert!(!ws.path().join(".tenantry").exists(), "no run began");

    // --no-notify runs it.
    let quiet = run(&ws, &["run", "p.yaml", "--no-notify"], &[]);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);

    // Plain http leaves loopback never; the refusal names the host, not the URL.
    let http = run(
        &ws,
        &["run", "p.yaml", "--no-notify", "--notify", "env:H"],
        &[("H", "http://hooks.example.com/services/s3cret")],
    );
    assert_eq!(http.code, 0, "--no-notify wins: {}", http.stderr);
    let http = run(
        &ws,
        &["check", "p.yaml", "--notify", "env:H"],
        &[
            ("H", "http://hooks.example.com/services/s3cret"),
            ("TENANTRY_TEST_UNSET_HOOK", &receiver.url("/x")),
        ],
    );
    assert_eq!(http.code, 2, "{}", http.stderr);
    assert!(
        http.stderr
            .contains("plain http to hooks.example.com is refused"),
        "{}",
        http.stderr
    );
    assert!(!http.stderr.contains("s3cret"), "{}", http.stderr);
    let bad = run(
        &ws,
        &["run", "p.yaml", "--no-notify", "--notify", "slack"],
        &[],
    );
    assert_eq!(bad.code, 0, "--no-notify reads no target");
    let bad = run(
        &ws,
        &["run", "p.yaml", "--notify", "slack"],
        &[("TENANTRY_TEST_UNSET_HOOK", &receiver.url("/x"))],
    );
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("--notify takes env:VAR"),
        "{}",
        bad.stderr
    );
    assert!(receiver.requests().is_empty(), "nothing was sent");

    // TENANTRY_NOTIFY gives a target without a flag.
    let from_env = run(
        &ws,
        &["run", "p.yaml", "--notify-on", "finish"],
        &[
            ("TENANTRY_TEST_UNSET_HOOK", &receiver.url("/x")),
            ("TENANTRY_NOTIFY", &receiver.url("/from-env")),
        ],
    );
    assert_eq!(from_env.code, 0, "{}", from_env.stderr);
    assert!(!from_env.stderr.contains("warning"), "{}", from_env.stderr);
    assert_eq!(receiver.to("/from-env").len(), 1);
}

/// What an editor makes of `notify:` with the committed schema: an entry names exactly one of
/// `url_env` and `url_file`, and has no `url`.
#[test]
fn the_schema_takes_url_env_or_url_file_and_no_url() {
    let text = std::fs::read_to_string(crate::support::root().join("schemas/playbook.schema.json"))
        .unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let doc = |notify: &str| -> Value {
        let yaml = playbook(&format!("notify:\n{notify}"), PASSING_STEP);
        serde_saphyr::from_str_with_options(&yaml, serde_saphyr::options! { strict_booleans: true })
            .unwrap()
    };
    for good in [
        "  - { format: slack, url_env: SLACK_WEBHOOK_URL }\n",
        "  - { url_file: hook.txt, on: [finish, drift], name: ops, report_url: \"${CI_JOB_URL}\" }\n",
    ] {
        let errors: Vec<String> = validator
            .iter_errors(&doc(good))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{good}: {errors:?}");
    }
    for bad in [
        "  - { format: slack, url: \"https://hooks.slack.com/services/x\" }\n",
        "  - { format: slack, url_env: A, url_file: b }\n",
        "  - { format: slack }\n",
        "  - { url_env: A, on: [always] }\n",
    ] {
        assert!(!validator.is_valid(&doc(bad)), "{bad}");
    }
}

/// A run that stops before it starts (here, a tenant with no way to sign in) has failed, and
/// says why; its exit code is its own.
#[test]
fn a_run_that_cannot_start_notifies_its_failure() {
    let receiver = Receiver::start(&[(200, None)]);
    let ws = Workspace::new(&[(
        "p.yaml",
        "version: 1
name: No credentials
tenants:
  - { name: contoso, organization: contoso.onmicrosoft.com }
notify:
  - { format: json, url_env: HOOK }
steps:
  - cmdlet: Get-Mailbox
",
    )]);
    let refused = run(&ws, &["run", "p.yaml"], &[("HOOK", &receiver.url("/h"))]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let sent = receiver.to("/h");
    assert_eq!(sent.len(), 1, "{}", refused.stderr);
    let doc = &sent[0].body;
    assert_eq!(doc["event"], "failure");
    assert_eq!(doc["exit_code"], 2);
    assert_eq!(doc["run_id"], Value::Null);
    assert_eq!(doc["complete"], false);
    assert!(
        doc["error"].as_str().unwrap().contains("no `auth` block"),
        "{doc}"
    );
    assert!(
        doc["title"]
            .as_str()
            .unwrap()
            .ends_with("could not start (exit 2)"),
        "{doc}"
    );
}

/// A trace that cannot be written stops the run before it starts, once its notifications are
/// read: its failure is told too.
#[test]
fn a_trace_that_cannot_be_written_notifies_its_failure() {
    let receiver = Receiver::start(&[(200, None)]);
    let ws = Workspace::new(&[(
        "p.yaml",
        &playbook(
            "notify:\n  - { format: json, url_env: HOOK }\n",
            PASSING_STEP,
        ),
    )]);
    let refused = run(
        &ws,
        &["run", "p.yaml", "--trace", "no/such/folder/trace.log"],
        &[("HOOK", &receiver.url("/h"))],
    );
    assert_ne!(refused.code, 0, "{}", refused.stderr);
    let sent = receiver.to("/h");
    assert_eq!(sent.len(), 1, "{}", refused.stderr);
    let doc = &sent[0].body;
    assert_eq!(doc["event"], "failure");
    assert_eq!(doc["exit_code"], refused.code);
    assert!(
        doc["error"].as_str().unwrap().contains("trace.log"),
        "{doc}"
    );
}

/// A report link is posted to the channel: a variable whose name looks like a secret's, or
/// that holds a webhook URL, is refused before anything runs or is sent.
#[test]
fn a_report_url_expands_no_secret() {
    let receiver = Receiver::start(&[(200, None)]);
    let ws = Workspace::new(&[
        (
            "secret.yaml",
            &playbook(
                "notify:\n  - { url_env: HOOK, on: [finish], report_url: \"https://ci.example.com/${AZURE_CLIENT_SECRET}\" }\n",
                PASSING_STEP,
            ),
        ),
        (
            "hook.yaml",
            &playbook(
                "notify:\n  - url_env: HOOK\n    report_url: \"${HOOK}\"\n",
                PASSING_STEP,
            ),
        ),
        ("plain.yaml", &playbook("", PASSING_STEP)),
    ]);
    let env = [
        ("HOOK", receiver.url("/h")),
        ("AZURE_CLIENT_SECRET", "s3cret-value".to_string()),
        ("MY_TOKEN", "t0ken-value".to_string()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for command in ["validate", "run"] {
        let refused = run(&ws, &[command, "secret.yaml"], &env);
        assert_eq!(refused.code, 2, "{command}: {}", refused.stderr);
        assert!(
            refused.stderr.contains(
                "`report_url` names ${AZURE_CLIENT_SECRET}, which looks like a secret's name"
            ) && refused.stderr.contains("secret.yaml:7:"),
            "{command}: {}",
            refused.stderr
        );
        let refused = run(&ws, &[command, "hook.yaml"], &env);
        assert_eq!(refused.code, 2, "{command}: {}", refused.stderr);
        assert!(
            refused
                .stderr
                .contains("`report_url` names ${HOOK}, which holds a webhook URL")
                && refused.stderr.contains("hook.yaml:8:"),
            "{command}: {}",
            refused.stderr
        );
    }
    for (args, var) in [
        (
            [
                "--notify",
                "env:HOOK",
                "--notify-report-url",
                "https://ci.example.com/${MY_TOKEN}",
            ],
            "MY_TOKEN",
        ),
        (
            [
                "--notify",
                "env:HOOK",
                "--notify-report-url",
                "https://ci.example.com/${HOOK}",
            ],
            "HOOK",
        ),
    ] {
        let mut all = vec!["run", "plain.yaml"];
        all.extend(args);
        let refused = run(&ws, &all, &env);
        assert_eq!(refused.code, 2, "{}", refused.stderr);
        assert_eq!(
            refused.stderr.trim().lines().count(),
            1,
            "{}",
            refused.stderr
        );
        assert!(
            refused
                .stderr
                .starts_with(&format!("--notify-report-url names ${{{var}}}, which ")),
            "{}",
            refused.stderr
        );
    }
    assert!(receiver.requests().is_empty(), "nothing was sent");
    let all = all_text_under(ws.path());
    assert!(!all.contains("s3cret-value") && !all.contains("t0ken-value"));
}

/// Ctrl-C (here SIGINT) stops a run: its partial report is written and its failure told,
/// exit 130.
#[cfg(unix)]
#[test]
fn an_interrupted_run_notifies_its_failure() {
    let receiver = Receiver::start(&[(200, None)]);
    let users: Vec<String> = (1..=40).map(|i| format!("user{i:03}")).collect();
    let ws = Workspace::new(&[
        (
            "p.yaml",
            &playbook(
                "notify:\n  - { format: json, url_env: HOOK }\n",
                "steps:
  - cmdlet: Set-Mailbox
    for_each: \"{{ lines('users.txt') }}\"
    params: { Identity: \"{{ item }}\", CustomAttribute1: x }
",
            ),
        ),
        ("users.txt", &users.join("\n")),
    ]);
    let hook = receiver.url("/h");
    let mut child = crate::support::start_run(
        ws.path(),
        &[
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--sandbox-latency",
            "300ms",
            "--grace",
            "0s",
        ],
        &[("HOOK", &hook)],
    );
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait().unwrap());
    });
    let status = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("an interrupted run ends");
    assert_eq!(status.code(), Some(130));
    let sent = receiver.to("/h");
    assert_eq!(sent.len(), 1);
    let doc = &sent[0].body;
    assert_eq!(doc["event"], "failure");
    assert_eq!(doc["exit_code"], 130);
    assert_eq!(doc["complete"], false);
    assert!(
        doc["title"]
            .as_str()
            .unwrap()
            .ends_with("interrupted (exit 130)"),
        "{doc}"
    );
}
