//! Runner throughput against the service bound: T tenants × N tasks on a sandbox in a separate
//! process with latency L. The best any runner can do is T × c / L calls per second (c = 3
//! connections per tenant); this reports how close tenantry's scheduler and client come, the
//! runner's CPU per 1,000 tasks, and its peak memory.
//!
//! `cargo bench --bench run`. Environment: `RUN_BENCH_TENANTS` (100), `RUN_BENCH_TASKS`
//! (comma-separated task counts per tenant, default `100,1000`), `RUN_BENCH_LATENCY_MS` (50).

// Helpers shared between test modules are `pub` inside this private crate.
#![allow(unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tenantry::auth::{Credential, Secret, TokenProvider};
use tenantry::events::{Event, Fanout, Reporter, Status};
use tenantry::exchange::{Client, RetryPolicy, http_client};
use tenantry::plan::{PlanOptions, Planner};
use tenantry::playbook::Playbook;
use tenantry::sandbox::{APPS, SandboxConfig};
use tenantry::scheduler::{RunOptions, Target};

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// User plus system CPU seconds of this process (Linux).
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Peak resident memory of this process in MB (Linux).
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    // Each task count runs in a process of its own, so each peak memory figure is its own.
    if std::env::var_os("RUN_BENCH_CHILD").is_none() {
        let counts = env("RUN_BENCH_TASKS", "100,1000");
        for (i, n) in counts.split(',').enumerate() {
            let status = Command::new(std::env::current_exe().expect("this bench"))
                .env("RUN_BENCH_CHILD", if i == 0 { "first" } else { "next" })
                .env("RUN_BENCH_TASKS", n.trim())
                .status()
                .expect("the bench runs");
            assert!(
                status.success(),
                "the bench for {n} tasks per tenant failed"
            );
        }
        return;
    }
    let header = std::env::var("RUN_BENCH_CHILD").is_ok_and(|v| v == "first");
    let tenants: usize = env("RUN_BENCH_TENANTS", "100").parse().expect("a number");
    let latency_ms: u64 = env("RUN_BENCH_LATENCY_MS", "50").parse().expect("a number");
    let counts: Vec<usize> = env("RUN_BENCH_TASKS", "100,1000")
        .split(',')
        .map(|n| n.trim().parse().expect("a number"))
        .collect();
    let mailboxes = counts.iter().copied().max().unwrap_or(100);

    // The sandbox in its own process, so its work does not count as the runner's.
    let mut sandbox = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(["sandbox", "--port", "0", "--tenants", &tenants.to_string()])
        .args([
            "--mailboxes",
            &mailboxes.to_string(),
            "--latency",
            &format!("{latency_ms}ms"),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tenantry sandbox starts");
    let mut first = String::new();
    BufReader::new(sandbox.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("the sandbox prints its URL");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("a URL")
        .to_string();

    // The runtime `tenantry run` uses.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    if header {
        println!(
            "run bench: {tenants} tenants x N tasks, sandbox latency {latency_ms} ms, 3 connections per tenant"
        );
        println!(
            "  ideal throughput = tenants x 3 / latency = {:.0} tasks/s",
            tenants as f64 * 3.0 / (latency_ms as f64 / 1000.0)
        );
    }
    for &n in &counts {
        let dir = tempfile::tempdir().expect("temp dir");
        let users: Vec<String> = (1..=n)
            .map(|i| {
                format!(
                    "user{i:0width$}",
                    width = mailboxes.to_string().len().max(3)
                )
            })
            .collect();
        // The same tenants `tenantry sandbox --tenants N` serves.
        let list: String = SandboxConfig::with_tenants(tenants, 0)
            .tenants
            .iter()
            .map(|t| {
                let name = t.domain.split('.').next().unwrap_or(&t.domain);
                format!(
                    "  - {{ name: {name}, organization: {}, cloud: sandbox }}\n",
                    t.domain
                )
            })
            .collect();
        let path = dir.path().join("bench.yaml");
        std::fs::write(
            &path,
            format!(
                "version: 1\nname: bench\nlimits:\n  max_in_flight: 1024\ntenants:\n{list}steps:\n  - cmdlet: Set-Mailbox\n    for_each: \"{{{{ lines('users.txt') }}}}\"\n    params: {{ Identity: \"{{{{ item }}}}\", CustomAttribute10: bench }}\n"
            ),
        )
        .expect("write playbook");
        std::fs::write(dir.path().join("users.txt"), users.join("\n")).expect("write users");
        let playbook = Playbook::load(&path).expect("valid");
        let env = tenantry::template::environment(&playbook.dir);
        let planner = Planner::new(&env, &playbook, &PlanOptions::default()).expect("plans");
        let http = http_client().expect("client");
        let mut providers = Vec::new();
        let targets: Vec<Target> = playbook
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let org = t.organization.value.as_str();
                let tokens = TokenProvider::new(
                    http.clone(),
                    &format!("{url}/{org}/oauth2/v2.0/token"),
                    org,
                    "https://outlook.office365.com/.default",
                    APPS[0].client_id,
                    Credential::Secret(Secret::new(APPS[0].client_secret)),
                    Duration::from_secs(300),
                )
                .expect("provider");
                let tokens = Arc::new(tokens);
                providers.push(Arc::clone(&tokens));
                let client = Client::new(
                    http.clone(),
                    &format!("{url}/adminapi/beta/{org}/InvokeCommand"),
                    org,
                    tokens,
                    RetryPolicy::default(),
                )
                .expect("client");
                Target {
                    tenant: i,
                    client: Arc::new(client),
                }
            })
            .collect();
        let journal = tenantry::journal::StateDir::of(&path, None)
            .create("bench", Vec::new())
            .expect("a journal");
        // Sign-in is timed apart: it is a fixed cost per tenant (here the sandbox's RSA
        // signatures; in the service, Entra's), not a matter of throughput.
        let signing_in = Instant::now();
        runtime.block_on(async {
            futures_util::future::join_all(providers.iter().map(|p| p.token()))
                .await
                .into_iter()
                .for_each(|t| {
                    t.expect("sign-in");
                })
        });
        let sign_in = signing_in.elapsed().as_secs_f64();
        let cpu_before = cpu_seconds();
        let started = Instant::now();
        let mut count = Count::default();
        runtime.block_on(async {
            // As `tenantry run` does: every task recorded before it is sent and when it ends.
            let events = Fanout::new()
                .with_recorder(&journal)
                .with("count", &mut count);
            tenantry::scheduler::run(&planner, &targets, &RunOptions::default(), &events).await;
        });
        let (ok, failed) = (count.ok, count.failed);
        let call_ms = count.call_ms / (ok + failed).max(1) as f64;
        let wall = started.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu_before;
        let total = tenants * n;
        let achieved = total as f64 / wall;
        let ideal = tenants as f64 * 3.0 / (latency_ms as f64 / 1000.0);
        // Each tenant needs ceil(n / 3) rounds of calls in a row, so even a perfect runner
        // falls short of the bound when n is not a multiple of 3.
        let rounds = n.div_ceil(3) as f64;
        let best = (n as f64 / 3.0) / rounds;
        println!(
            "  {n:>5} tasks/tenant: {total:>7} tasks in {wall:6.2} s = {achieved:7.0} tasks/s = {:.3} of ideal (best possible {best:.3}; {:.3} with the {sign_in:.2} s sign-in); runner CPU {:.0} ms per 1,000 tasks; peak RSS {:.0} MB; {ok} ok, {failed} not",
            achieved / ideal,
            total as f64 / (wall + sign_in) / ideal,
            cpu * 1000.0 / (total as f64 / 1000.0),
            peak_rss_mb()
        );
        // A call measured from the runner's side takes the sandbox's latency plus its timer's
        // lateness and the loopback round trip. Against that, the ratio is the runner's own
        // share: how well it keeps every connection busy.
        let observed = tenants as f64 * 3.0 / (call_ms / 1000.0);
        println!(
            "         mean call {call_ms:.1} ms for {latency_ms} ms of latency: {:.3} of the bound at the observed call time (best possible {best:.3})",
            achieved / observed
        );
    }
    let _ = sandbox.kill();
    let _ = sandbox.wait();
}

/// Counts outcomes and the calls' time, as the tasks finish.
#[derive(Default)]
struct Count {
    ok: usize,
    failed: usize,
    call_ms: f64,
}

impl Reporter for &mut Count {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        if let Event::TaskFinished { result: t, .. } = event {
            // Whole milliseconds, truncated: half a millisecond is the unbiased correction.
            self.call_ms += t.duration_ms as f64 + 0.5;
            match t.status {
                Status::Ok => self.ok += 1,
                _ => self.failed += 1,
            }
        }
        Ok(())
    }
}
