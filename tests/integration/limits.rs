//! The open-file limit: a run over many tenants holds a socket per connection, so it raises a
//! low soft limit itself before the first session opens, and says what to run when even the
//! hard limit is too low. Runs `tenantry run` under `sh -c 'ulimit …; exec tenantry …'`
//! against an in-process sandbox of 30 tenants (90 connections, past a limit of 64).

#![cfg(target_os = "linux")]

use std::time::Duration;

use serde_json::Value;
use tenantry::sandbox::{APPS, Behaviour, Latency, Sandbox, SandboxConfig};

use crate::support::{Run, Workspace, custom_tenant, json_lines};

/// Tenants: at 3 connections each, 90 sockets, past the limit of 64 the tests set.
const TENANTS: usize = 30;
/// What the run needs: every connection (the playbook allows them all at once) plus the
/// headroom for its files.
const NEEDED: u64 = (TENANTS * 3) as u64 + tenantry::fdlimit::HEADROOM;

/// A sandbox of 30 tenants whose calls take `latency_ms`, and a workspace whose playbook runs
/// `per_tenant` `Set-Mailbox` calls in each.
async fn setup(latency_ms: u64, per_tenant: usize) -> (Sandbox, Workspace) {
    let behaviour = Behaviour {
        latency: Latency::Fixed(Duration::from_millis(latency_ms)),
        ..Behaviour::default()
    };
    let sandbox = Sandbox::start(
        SandboxConfig::with_tenants(TENANTS, per_tenant)
            .each_tenant(|t| t.behaviour = behaviour.clone()),
    )
    .await
    .expect("the sandbox starts");
    let url = sandbox.url();
    let tenants: String = sandbox
        .tenants()
        .iter()
        .map(|t| {
            let name = t.domain.split('.').next().unwrap();
            custom_tenant(name, &t.domain, &url, "SECRET")
        })
        .collect();
    let users: Vec<String> = (1..=per_tenant).map(|i| format!("user{i:03}")).collect();
    let ws = Workspace::new(&[
        (
            "p.yaml",
            &format!(
                "version: 1\nname: Many tenants\nlimits:\n  max_in_flight: {}\ntenants:\n{tenants}steps:\n  - cmdlet: Set-Mailbox\n    for_each: \"{{{{ lines('users.txt') }}}}\"\n    params: {{ Identity: \"{{{{ item }}}}\", CustomAttribute9: limits }}\n",
                TENANTS * 3
            ),
        ),
        ("users.txt", &users.join("\n")),
    ]);
    (sandbox, ws)
}

/// Runs `tenantry run p.yaml --report report` in the workspace after `ulimit` sets the limit
/// as `limits` says (`-Sn 64`: the soft limit alone), off the async runtime.
async fn run_under(ws: &Workspace, limits: &str) -> Run {
    let dir = ws.path().to_path_buf();
    let script = format!("ulimit {limits} && exec \"$0\" \"$@\"");
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new("sh")
            .args(["-c", &script, env!("CARGO_BIN_EXE_tenantry")])
            .args(["run", "p.yaml", "--report", "report"])
            .env("SECRET", APPS[0].client_secret)
            .current_dir(&dir)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("sh runs tenantry");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("the run's thread finishes")
}

/// The hard open-file limit this test process has (and passes on).
fn hard_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    match line.split_whitespace().nth(4)? {
        "unlimited" => Some(u64::MAX),
        n => n.parse().ok(),
    }
}

#[tokio::test]
async fn a_low_soft_limit_is_raised_before_the_run_and_nothing_is_said() {
    if hard_limit().is_none_or(|hard| hard < NEEDED) {
        eprintln!("skipped: the hard open-file limit is below {NEEDED}");
        return;
    }
    // Calls of 300 ms, 6 per tenant: all 90 connections are open at once.
    let (sandbox, ws) = setup(300, 6).await;
    let run = run_under(&ws, "-Sn 64").await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(
        !run.stderr.contains("open-file limit"),
        "raised silently: {}",
        run.stderr
    );
    let results: Vec<Value> = json_lines(&ws.path().join("report/results.jsonl"));
    assert_eq!(results.len(), TENANTS * 6);
    // No call failed to connect and had to be sent again.
    for result in &results {
        assert_eq!(result["status"], "ok", "{result}");
        assert_eq!(result["retries"], serde_json::json!([]), "{result}");
    }
    let stats = sandbox.stats();
    assert!(
        stats.tenants.values().any(|t| t.peak_concurrency == 3),
        "the tenants' connections were used at once"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_hard_limit_too_low_is_warned_of_before_the_run_starts() {
    // One call per tenant fits in 64 descriptors; the plan's 90 connections would not.
    let (sandbox, ws) = setup(0, 1).await;
    let run = run_under(&ws, "-n 64").await;
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("open-file limit"))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    let warning = warnings[0];
    assert!(warning.starts_with("warning: "), "{warning}");
    assert!(
        warning.contains(&format!("hold {NEEDED} connections")),
        "{warning}"
    );
    assert!(warning.contains("limit is 64"), "{warning}");
    assert!(
        warning.contains(&format!("`ulimit -n {NEEDED}`")),
        "{warning}"
    );
    assert!(
        warning.contains(&format!("LimitNOFILE={NEEDED}")),
        "{warning}"
    );
    // Said before the run began: it is the first thing on standard error, and the run still
    // goes on.
    assert!(
        run.stderr.starts_with("warning: this run may hold"),
        "{}",
        run.stderr
    );
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    sandbox.shutdown().await;
}
