//! How many admin API requests per second the sandbox serves with zero latency, so benchmarks
//! of the runner can show the sandbox is not their bottleneck.
//!
//! `cargo bench --bench sandbox` (release build). The load generator runs in the same process
//! on the same cores, so the figures are a lower bound of what the server alone can do.
//! Options via the environment: `SANDBOX_BENCH_SECS` (default 5), `SANDBOX_BENCH_CLIENTS`
//! (default 64), `SANDBOX_BENCH_TENANTS` (default 10).

// Helpers shared between test modules are `pub` inside this private crate.
#![allow(unreachable_pub)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tenantry::sandbox::{APPS, Behaviour, Sandbox, SandboxConfig};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let secs = env("SANDBOX_BENCH_SECS", 5);
    let clients = env("SANDBOX_BENCH_CLIENTS", 64) as usize;
    let tenants = env("SANDBOX_BENCH_TENANTS", 10) as usize;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let config = SandboxConfig::with_tenants(tenants, 100).each_tenant(|t| {
            t.behaviour = Behaviour {
                limit: clients,
                ..Behaviour::default()
            }
        });
        let sandbox = Sandbox::start(config).await.expect("sandbox");
        tenantry::exchange::install_tls_provider();
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(clients)
            .build()
            .expect("client");
        let domains: Vec<String> = sandbox.tenants().iter().map(|t| t.domain.clone()).collect();
        let mut tokens = Vec::new();
        for domain in &domains {
            let reply: serde_json::Value = http
                .post(format!("{}/{domain}/oauth2/v2.0/token", sandbox.url()))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", APPS[0].client_id),
                    ("client_secret", APPS[0].client_secret),
                    ("scope", "https://outlook.office365.com/.default"),
                ])
                .send()
                .await
                .expect("token")
                .json()
                .await
                .expect("token json");
            tokens.push(reply["access_token"].as_str().expect("token").to_string());
        }
        println!(
            "sandbox bench: {tenants} tenants, {clients} concurrent clients, {secs} s per workload, zero latency"
        );
        for (label, cmdlet, params) in [
            ("Get-Mailbox -Identity (one object)", "Get-Mailbox", json!({"Identity": "user042"})),
            ("Set-Mailbox (a write)", "Set-Mailbox", json!({"Identity": "user007", "CustomAttribute1": "bench"})),
            ("Get-AcceptedDomain (tiny)", "Get-AcceptedDomain", json!({})),
        ] {
            let done = Arc::new(AtomicU64::new(0));
            let failed = Arc::new(AtomicU64::new(0));
            let deadline = Instant::now() + Duration::from_secs(secs);
            let started = Instant::now();
            let mut tasks = Vec::new();
            for i in 0..clients {
                let http = http.clone();
                let url = format!("{}/adminapi/beta/{}/InvokeCommand", sandbox.url(), domains[i % domains.len()]);
                let token = tokens[i % tokens.len()].clone();
                let body = json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}});
                let (done, failed) = (done.clone(), failed.clone());
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let ok = match http.post(&url).bearer_auth(&token).json(&body).send().await {
                            Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        if ok { &done } else { &failed }.fetch_add(1, Ordering::Relaxed);
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
            let elapsed = started.elapsed().as_secs_f64();
            let n = done.load(Ordering::Relaxed);
            println!(
                "  {label:38} {:>8.0} requests/s  ({n} in {elapsed:.1} s, {} failed)",
                n as f64 / elapsed,
                failed.load(Ordering::Relaxed)
            );
        }
        let cpu = cpu_seconds();
        if let Some(cpu) = cpu {
            println!("  process CPU (server and load generator together): {cpu:.1} s");
        }
        sandbox.shutdown().await;
    });
}

/// User plus system CPU seconds of this process, from /proc (Linux only).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
