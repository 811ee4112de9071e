//! `tenantry run` as a user runs it: the quick start against the built-in sandbox, its
//! reports, and its exit codes.

use serde_json::Value;

use crate::support::{Workspace, tenantry};

#[test]
fn the_quick_start_runs_against_the_sandbox_and_reports_every_task() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    // Each test keeps its journal to itself: runs of one playbook take turns otherwise.
    let state = dir.path().join("state");
    let run = tenantry(&[
        "run",
        "examples/quickstart.yaml",
        "--report",
        report.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains("changed  contoso/set-deleted-item-retention/"),
        "{}",
        run.stdout
    );
    let total = run
        .stdout
        .lines()
        .find(|l| l.starts_with("total"))
        .expect("a total line");
    let numbers: Vec<usize> = total
        .split_whitespace()
        .skip(1)
        .take(4)
        .map(|n| n.parse().unwrap())
        .collect();
    let (ok, changed, failed, skipped) = (numbers[0], numbers[1], numbers[2], numbers[3]);
    assert_eq!(failed, 0);
    assert!(ok > 200 && changed > 200 && skipped > 50, "{total}");

    // results.jsonl: one line per task, every id once.
    let lines = std::fs::read_to_string(report.join("results.jsonl")).unwrap();
    let results: Vec<Value> = lines
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), ok + skipped);
    let ids: std::collections::HashSet<&str> =
        results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), results.len());
    // summary.json agrees with the terminal.
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["total"]["ok"], ok);
    assert_eq!(summary["exit_code"], 0);
    assert_eq!(summary["complete"], true);
    // The other formats exist and carry the same count.
    let junit = std::fs::read_to_string(report.join("junit.xml")).unwrap();
    assert_eq!(junit.matches("<testcase ").count(), results.len());
    assert_eq!(junit.matches("<testsuite ").count(), 3);
    // Each case is its task, under its tenant's suite.
    let mut suite = String::new();
    let mut cases = std::collections::HashSet::new();
    for line in junit.lines() {
        let attr = |name: &str| {
            let start = line.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            line[start..].split('"').next().unwrap().to_string()
        };
        if line.trim_start().starts_with("<testsuite ") {
            suite = attr("name");
        } else if line.trim_start().starts_with("<testcase ") {
            let id = attr("name");
            assert!(id.starts_with(&format!("{suite}/")), "{id} under {suite}");
            cases.insert(id);
        }
    }
    assert_eq!(cases, ids.iter().map(|s| s.to_string()).collect());
    let csv = std::fs::read_to_string(report.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), results.len() + 1);
    let md = std::fs::read_to_string(report.join("summary.md")).unwrap();
    assert!(md.contains("| **total** |"), "{md}");
}

#[test]
fn failed_tasks_exit_1_and_each_failure_says_why() {
    let ws = Workspace::new(&[(
        "p.yaml",
        r#"version: 1
name: Failing
tenants:
  - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }
  - { name: fabrikam, organization: fabrikam.onmicrosoft.com, cloud: sandbox }
steps:
  - cmdlet: Set-Mailbox
    on_error: continue
    params: { Identity: "{{ 'ghost' if tenant.name == 'contoso' else 'user001' }}", CustomAttribute1: x }
  - cmdlet: Get-AcceptedDomain
"#,
    )]);
    let run = ws.run(&["run", "p.yaml"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("FAILED   contoso/1-set-mailbox"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ManagementObjectNotFoundException"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("ok       contoso/2-get-accepteddomain"),
        "on_error: continue goes on:\n{}",
        run.stdout
    );
}

#[test]
fn a_tenant_without_credentials_is_refused_before_anything_runs() {
    let ws = Workspace::new(&[(
        "p.yaml",
        r#"version: 1
name: No credentials
tenants:
  - { name: contoso, organization: contoso.onmicrosoft.com }
steps:
  - cmdlet: Get-Mailbox
"#,
    )]);
    let run = ws.run(&["run", "p.yaml"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("tenant contoso: no `auth` block"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
}

#[test]
fn a_secret_from_a_missing_variable_is_a_clear_error() {
    let ws = Workspace::new(&[(
        "p.yaml",
        r#"version: 1
name: Missing secret
tenants:
  - name: contoso
    organization: contoso.onmicrosoft.com
    auth: { method: client_secret, app_id: 5d1e9c1a-7b0e-4f3a-9c6d-0a7e5a11ad01, secret_env: TENANTRY_TEST_UNSET_SECRET }
steps:
  - cmdlet: Get-Mailbox
"#,
    )]);
    let run = ws.run(&["run", "p.yaml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("TENANTRY_TEST_UNSET_SECRET"),
        "{}",
        run.stderr
    );
}

/// Ctrl-C stops dispatching, lets calls in flight finish, writes the partial report and exits
/// 130; every task is accounted for, as done or as skipped because the run stopped.
#[cfg(unix)]
#[test]
fn an_interrupted_run_writes_a_partial_report_and_exits_130() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report");
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args([
            "run",
            "examples/quickstart.yaml",
            "--sandbox-latency",
            "200ms",
            "--state-dir",
        ])
        .arg(dir.path().join("state"))
        .arg("--report")
        .arg(&report)
        .current_dir(crate::support::root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    // Wait until writes are under way, then interrupt.
    loop {
        let mut line = String::new();
        assert!(
            stdout.read_line(&mut line).unwrap() > 0,
            "the run ended before it was interrupted:\n{seen}"
        );
        seen.push_str(&line);
        if line.starts_with("changed") {
            break;
        }
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(130), "{seen}{rest}");
    assert!(rest.contains("stopping: no new calls"), "{rest}");
    assert!(rest.contains("this report is partial"), "{rest}");
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["complete"], false);
    assert_eq!(summary["exit_code"], 130);
    let total = &summary["total"];
    let accounted = total["ok"].as_u64().unwrap()
        + total["failed"].as_u64().unwrap()
        + total["skipped"].as_u64().unwrap();
    let lines = std::fs::read_to_string(report.join("results.jsonl"))
        .unwrap()
        .lines()
        .count() as u64;
    assert_eq!(accounted, lines, "the report lists every task it counts");
}

/// The acceptance run, as a user runs it: 20 tenants of a separate sandbox (reached through
/// `cloud: custom` endpoints and a client secret) × 200 writes at 20 ms. Every task runs once,
/// no tenant ever has more than 3 calls at the service, and the report lists exactly the
/// writes the service logged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twenty_tenant_run_reports_exactly_what_the_service_logged() {
    use std::collections::HashSet;
    use tenantry::sandbox::{APPS, Sandbox, SandboxConfig};

    let config = SandboxConfig::with_tenants(20, 200)
        .each_tenant(|t| t.behaviour.latency = "20ms".parse().unwrap());
    let sandbox = Sandbox::start(config).await.unwrap();
    let tenants = crate::support::custom_tenants(&sandbox, "TENANTRY_TEST_SECRET");
    let users: Vec<String> = (1..=200).map(|i| format!("user{i:03}")).collect();
    let ws = Workspace::new(&[
        (
            "p.yaml",
            &format!(
                "version: 1\nname: Twenty tenants\ntenants:\n{tenants}steps:\n  - id: tag\n    cmdlet: Set-Mailbox\n    for_each: \"{{{{ lines('users.txt') }}}}\"\n    params: {{ Identity: \"{{{{ item }}}}\", CustomAttribute7: tagged }}\n"
            ),
        ),
        ("users.txt", &users.join("\n")),
    ]);
    let dir = ws.path().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        crate::support::tenantry_with_env(
            &dir,
            &["run", "p.yaml", "--report", "report"],
            &[("TENANTRY_TEST_SECRET", APPS[0].client_secret)],
        )
    })
    .await
    .unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        !run.stdout.contains(APPS[0].client_secret) && !run.stderr.contains(APPS[0].client_secret),
        "the secret never shows"
    );

    let results: Vec<Value> = std::fs::read_to_string(ws.path().join("report/results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(results.len(), 4000);
    assert!(results.iter().all(|r| r["status"] == "ok"));
    // (tenant name, mailbox) from the report and from the service's log.
    let reported: HashSet<(String, String)> = results
        .iter()
        .map(|r| {
            let id = r["id"].as_str().unwrap();
            let user = id.rsplit('/').next().unwrap();
            (r["tenant"].as_str().unwrap().to_string(), user.to_string())
        })
        .collect();
    assert_eq!(reported.len(), 4000, "every task once");
    let stats = sandbox.stats();
    assert_eq!(stats.writes.len(), 4000, "every task sent once");
    let logged: HashSet<(String, String)> = stats
        .writes
        .iter()
        .map(|w| {
            let name = w.tenant.split('.').next().unwrap().to_string();
            (name, w.parameters["Identity"].as_str().unwrap().to_string())
        })
        .collect();
    assert_eq!(reported, logged);
    for t in sandbox.tenants() {
        let s = stats.tenant(&t.domain);
        assert!(
            s.peak_concurrency <= 3,
            "{}: peak {}",
            t.domain,
            s.peak_concurrency
        );
        assert_eq!(s.throttled, 0, "{} was never over its limit", t.domain);
    }
    sandbox.shutdown().await;
}

/// Every tenant's plan is expanded before the first call: a data file missing for one tenant
/// stops the run with the playbook line, and no tenant has been touched.
#[test]
fn a_plan_error_in_one_tenant_stops_the_run_before_any_call() {
    let ws = Workspace::new(&[
        (
            "p.yaml",
            r#"version: 1
name: One tenant's file is missing
tenants:
  - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox, vars: { users: contoso.txt } }
  - { name: fabrikam, organization: fabrikam.onmicrosoft.com, cloud: sandbox, vars: { users: fabrikam.txt } }
steps:
  - cmdlet: Set-Mailbox
    for_each: "{{ lines(vars.users) }}"
    params: { Identity: "{{ item }}", CustomAttribute1: x }
"#,
        ),
        ("contoso.txt", "user001\nuser002\n"),
    ]);
    let run = ws.run(&["run", "p.yaml", "--report", "report"]);
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("fabrikam.txt"), "{}", run.stderr);
    assert!(run.stderr.contains("p.yaml:8:19"), "{}", run.stderr);
    assert!(run.stdout.is_empty(), "nothing ran: {}", run.stdout);
    assert!(
        !ws.path().join("report").exists(),
        "no report of a run that did not start"
    );
}

/// `limits.max_fail_percentage` for each tenant: a tenant whose failures cross it stops (its
/// calls in flight finish), the others go on, and the run exits 4 saying why.
#[test]
fn a_tenant_failing_too_often_is_stopped_by_its_guardrail() {
    // contoso: every other identity does not exist; fabrikam: all exist.
    let items: Vec<String> = (1..=40).map(|i| format!("user{i:03}")).collect();
    let ws = Workspace::new(&[(
        "p.yaml",
        &format!(
            r#"version: 1
name: Guardrail
tenants:
  - {{ name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }}
  - {{ name: fabrikam, organization: fabrikam.onmicrosoft.com, cloud: sandbox }}
limits: {{ max_fail_percentage: {{ tenant: 20 }} }}
defaults: {{ on_error: continue }}
steps:
  - cmdlet: Set-Mailbox
    for_each: [{}]
    params: {{ Identity: "{{{{ 'ghost' ~ loop.index if tenant.name == 'contoso' and loop.index is even else item }}}}", CustomAttribute2: x }}
"#,
            items.join(", ")
        ),
    )]);
    let run = ws.run(&["run", "p.yaml", "--report", "report", "--progress", "plain"]);
    assert_eq!(run.code, 4, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Guardrail: tenant contoso stopped"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("over limits.max_fail_percentage 20%"),
        "{}",
        run.stdout
    );
    let summary: Value = serde_json::from_str(
        &std::fs::read_to_string(ws.path().join("report/summary.json")).unwrap(),
    )
    .unwrap();
    assert!(summary["stopped_by"].as_str().unwrap().contains("contoso"));
    let contoso = &summary["tenants"]["contoso"];
    let finished = contoso["ok"].as_u64().unwrap() + contoso["failed"].as_u64().unwrap();
    assert!(finished < 40, "contoso stopped early: {contoso}");
    assert_eq!(summary["tenants"]["fabrikam"]["ok"], 40, "fabrikam went on");
}

/// `--deadline`: dispatch stops in time for the report to be written by the deadline.
#[test]
fn a_run_ends_by_its_deadline_with_its_report() {
    let started = std::time::Instant::now();
    let ws = Workspace::new(&[(
        "p.yaml",
        r#"version: 1
name: Deadline
tenants:
  - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }
steps:
  - cmdlet: Get-AcceptedDomain
    for_each: "{{ range(60) | list }}"
    key: "{{ item }}"
"#,
    )]);
    let run = ws.run(&[
        "run",
        "p.yaml",
        "--sandbox-latency",
        "300ms",
        "--deadline",
        "2s",
        "--grace",
        "1s",
        "--report",
        "report",
        "--progress",
        "plain",
    ]);
    let took = started.elapsed();
    assert_eq!(run.code, 4, "{}\n{}", run.stdout, run.stderr);
    assert!(took < std::time::Duration::from_secs(5), "{took:?}");
    assert!(
        run.stdout.contains("the deadline is near"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("Guardrail: the run stopped at its --deadline of 2s"),
        "{}",
        run.stdout
    );
    let md = std::fs::read_to_string(ws.path().join("report/summary.md")).unwrap();
    assert!(md.contains("**Guardrail**"), "{md}");
}

/// A disk that fills while the report is written: a clear error, and the journal still holds
/// every task and how the run ended.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_under_the_report_is_a_clear_error_and_the_journal_holds() {
    let ws = Workspace::new(&[(
        "p.yaml",
        r#"version: 1
name: Full disk
tenants:
  - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }
steps:
  - cmdlet: Get-AcceptedDomain
  - cmdlet: Get-OrganizationConfig
"#,
    )]);
    let report = ws.path().join("report");
    std::fs::create_dir(&report).unwrap();
    // Every write to /dev/full fails with "no space left on device".
    std::os::unix::fs::symlink("/dev/full", report.join("results.jsonl")).unwrap();
    let run = ws.run(&["run", "p.yaml", "--report", "report", "--progress", "plain"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("cannot write the report in report"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("No space left on device"),
        "{}",
        run.stderr
    );
    let runs = std::fs::read_dir(ws.path().join(".tenantry/runs/p.yaml"))
        .unwrap()
        .count();
    assert_eq!(runs, 1);
    let runs = ws.run(&["runs", "p.yaml"]);
    assert!(
        runs.stdout
            .contains("2 task(s) done (0 failed), 0 without an answer"),
        "{}",
        runs.stdout
    );
    assert!(
        runs.stdout.contains("ended with exit code"),
        "{}",
        runs.stdout
    );
}

/// A report folder that cannot be made: a clear error before any call is sent.
#[test]
fn an_unwritable_report_folder_is_refused_before_anything_is_sent() {
    let ws = Workspace::new(&[
        (
            "p.yaml",
            r#"version: 1
name: Unwritable
tenants:
  - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }
steps:
  - cmdlet: Set-Mailbox
    params: { Identity: user001, CustomAttribute1: x }
"#,
        ),
        ("a-file", "not a folder"),
    ]);
    let run = ws.run(&["run", "p.yaml", "--report", "a-file/report"]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("cannot write the report in a-file/report"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stdout.contains("changed"),
        "nothing was sent: {}",
        run.stdout
    );
}

/// Secrets of every sign-in method, right or wrong, never appear in the terminal, the
/// journal, the reports or the token cache.
#[test]
fn no_secret_of_any_sign_in_method_is_written_anywhere() {
    let secrets = [
        ("PASSWORD", "Sandbox-Legacy-1"),
        ("WRONG_PASSWORD", "Pw-Secret-Wrong-91"),
        ("WRONG_SECRET", "Client-Secret-Wrong-92"),
        ("BAD_TOKEN", "eyJhbGciOiJub25lIn0.Token-Secret-93.x"),
    ];
    let ws = Workspace::new(&[
        (
            "p.yaml",
            r#"version: 1
name: Secrets
tenants:
  - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox, auth: { method: password, user: legacy.admin@contoso.onmicrosoft.com, password_env: PASSWORD } }
  - { name: fabrikam, organization: fabrikam.onmicrosoft.com, cloud: sandbox, auth: { method: password, user: legacy.admin@fabrikam.onmicrosoft.com, password_env: WRONG_PASSWORD } }
  - { name: northwind, organization: northwind.onmicrosoft.com, cloud: sandbox, auth: { method: client_secret, app_id: 5d1e9c1a-7b0e-4f3a-9c6d-0a7e5a11ad01, secret_env: WRONG_SECRET } }
  - { name: adatum, organization: adatum.onmicrosoft.com, cloud: sandbox, auth: { method: access_token, token_env: BAD_TOKEN } }
  - { name: tailspin, organization: tailspin.onmicrosoft.com, cloud: sandbox, auth: { method: federated, app_id: 5d1e9c1a-7b0e-4f3a-9c6d-0a7e5a11ad01, token_file: workload.jwt } }
defaults: { on_error: continue }
steps:
  - cmdlet: Get-AcceptedDomain
"#,
        ),
        ("workload.jwt", "Federated-Secret-94"),
    ]);
    let mut env: Vec<(&str, &str)> = secrets.to_vec();
    let cache = ws.path().join("cache");
    let cache_str = cache.to_string_lossy().into_owned();
    env.push(("TENANTRY_CACHE_DIR", &cache_str));
    let run = crate::support::tenantry_with_env(
        ws.path(),
        &["run", "p.yaml", "--report", "report", "--progress", "plain"],
        &env,
    );
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("ok       contoso/"), "{}", run.stdout);
    let mut written = format!("{}\n{}", run.stdout, run.stderr);
    for dir in [ws.path().join(".tenantry"), ws.path().join("report"), cache] {
        for entry in walk(&dir) {
            written.push_str(&String::from_utf8_lossy(&std::fs::read(entry).unwrap()));
        }
    }
    for secret in secrets
        .iter()
        .map(|(_, s)| *s)
        .chain(["Token-Secret-93", "Federated-Secret-94"])
    {
        assert!(
            !written.contains(secret),
            "`{secret}` was written somewhere"
        );
    }
}

/// Every file under `dir`.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// A data file that changes while a run goes on: the run keeps to the plan it checked before
/// its first call (each file is read once), so the tasks are the ones planned.
#[test]
fn a_csv_that_changes_mid_run_does_not_change_the_run() {
    let users: Vec<String> = (1..=30).map(|i| format!("user{i:03}")).collect();
    let ws = Workspace::new(&[
        (
            "p.yaml",
            r#"version: 1
name: Data changes
tenants:
  - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }
steps:
  - cmdlet: Get-Mailbox
  - cmdlet: Set-Mailbox
    for_each: "{{ csv('users.csv') }}"
    params: { Identity: "{{ item.Identity }}", CustomAttribute4: x }
"#,
        ),
        ("users.csv", &format!("Identity\n{}\n", users.join("\n"))),
    ]);
    let mut child = crate::support::start_run(
        ws.path(),
        &[
            "run",
            "p.yaml",
            "--sandbox-latency",
            "100ms",
            "--report",
            "report",
            "--progress",
            "plain",
        ],
        &[],
    );
    // Rewritten while the first step runs, before the second expands.
    std::fs::write(ws.path().join("users.csv"), "Identity\nuser099\n").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let ids: Vec<String> = std::fs::read_to_string(ws.path().join("report/results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .filter(|id| id.contains("set-mailbox"))
        .collect();
    assert_eq!(ids.len(), 30, "{ids:?}");
    assert!(ids.iter().all(|id| !id.ends_with("user099")), "{ids:?}");
}
