//! The binary users run, end to end: `tenantry run` of a playbook of T tenants × N
//! `Set-Mailbox` tasks against `tenantry sandbox` at latency L, each in its own process, as a
//! user would start them. Measures what the user waits for (wall time, from the command's start
//! to its exit, sign-in and reports included) against the service bound (T × 3 connections / L),
//! and what the run costs: its CPU per 1,000 calls, its peak memory, and its journal's bytes per
//! task. CPU and peak memory are the run's own, from the kernel's accounting of that one child
//! (`getrusage(RUSAGE_CHILDREN)` in a process whose only reaped child is the run).
//!
//! `cargo bench --bench e2e`. Environment:
//!
//! - `E2E_TENANTS` (100): tenants.
//! - `E2E_TASKS` (`100,1000,10000`): tasks per tenant, comma-separated; one configuration each.
//! - `E2E_LATENCY_MS` (50): the sandbox's latency per HTTP request.
//! - `E2E_BATCH` (`0`): batch sizes, comma-separated; 0 runs unbatched, b > 0 adds `batch: b`
//!   to the step.
//! - `E2E_BATCH_CONNECTIONS` (`one`): how the sandbox counts a `$batch` against its limit of 3,
//!   `one` slot or one per `items`.
//! - `E2E_MAILBOXES` (as many as tasks per tenant): mailboxes per tenant in the sandbox; with
//!   fewer than tasks, the users repeat.
//!
//! Each configuration runs in a process of its own (this bench, started again), with its own
//! sandbox and a fresh folder, and prints one line; a Markdown table row per configuration
//! follows at the end.

// Helpers shared between test modules are `pub` inside this private crate.
#![allow(unreachable_pub)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long one run may take before it is killed and the bench fails.
const RUN_TIMEOUT: Duration = Duration::from_secs(20 * 60);
/// Concurrent calls the sandbox allows per tenant, and the playbook's default.
const CONNECTIONS: usize = 3;
/// The marker of the line a configuration's process hands its table row on.
const ROW: &str = "e2e-row\t";

fn env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn list(name: &str, default: &str) -> Vec<usize> {
    env(name, default)
        .split(',')
        .map(|n| {
            n.trim()
                .parse()
                .unwrap_or_else(|_| panic!("{name}: '{n}' is not a number"))
        })
        .collect()
}

/// One configuration.
#[derive(Clone, Debug)]
struct Setup {
    tenants: usize,
    per_tenant: usize,
    latency_ms: u64,
    /// 0: unbatched.
    batch: usize,
    /// `one` or `items`.
    batch_connections: String,
    mailboxes: usize,
}

impl Setup {
    fn tasks(&self) -> usize {
        self.tenants * self.per_tenant
    }

    /// The service bound's time for the tasks: tasks / (T × 3 / L).
    fn ideal_s(&self) -> f64 {
        let per_second =
            self.tenants as f64 * CONNECTIONS as f64 / (self.latency_ms as f64 / 1000.0);
        self.tasks() as f64 / per_second
    }

    /// The least wall time over the ideal any runner can reach: each tenant's requests go in
    /// whole rounds of at most 3 at once (34 rounds for 100 tasks, not 33⅓); a batch of b is
    /// one request, which under `items` takes b of the 3 slots. `None` when a batch can never
    /// be admitted.
    fn best_ratio(&self) -> Option<f64> {
        let (requests, at_once) = match self.batch {
            0 => (self.per_tenant, CONNECTIONS),
            b if self.batch_connections == "items" => {
                (self.per_tenant.div_ceil(b), CONNECTIONS.checked_div(b)?)
            }
            b => (self.per_tenant.div_ceil(b), CONNECTIONS),
        };
        if at_once == 0 {
            return None;
        }
        let rounds = requests.div_ceil(at_once) as f64;
        let best_s = rounds * self.latency_ms as f64 / 1000.0;
        Some(best_s / self.ideal_s())
    }

    fn batch_label(&self) -> String {
        match self.batch {
            0 => "–".to_string(),
            b => format!("{b} ({})", self.batch_connections),
        }
    }
}

fn main() {
    let tenants: usize = env("E2E_TENANTS", "100")
        .parse()
        .expect("E2E_TENANTS: a number");
    let latency_ms: u64 = env("E2E_LATENCY_MS", "50")
        .parse()
        .expect("E2E_LATENCY_MS: a number");
    let counts = list("E2E_TASKS", "100,1000,10000");
    let batches = list("E2E_BATCH", "0");
    let batch_connections = env("E2E_BATCH_CONNECTIONS", "one");
    assert!(
        matches!(batch_connections.as_str(), "one" | "items"),
        "E2E_BATCH_CONNECTIONS is one or items, not '{batch_connections}'"
    );
    let mailboxes: Option<usize> = std::env::var("E2E_MAILBOXES")
        .ok()
        .map(|n| n.trim().parse().expect("E2E_MAILBOXES: a number"));
    assert!(tenants > 0, "E2E_TENANTS must be at least 1");
    assert!(mailboxes != Some(0), "E2E_MAILBOXES must be at least 1");

    if let (Ok(n), Ok(b)) = (
        std::env::var("E2E_CHILD_TASKS"),
        std::env::var("E2E_CHILD_BATCH"),
    ) {
        let per_tenant: usize = n.parse().expect("a number");
        let setup = Setup {
            tenants,
            per_tenant,
            latency_ms,
            batch: b.parse().expect("a number"),
            batch_connections,
            mailboxes: mailboxes.unwrap_or(per_tenant).max(1),
        };
        measure(&setup);
        return;
    }

    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "e2e bench: `tenantry run` against `tenantry sandbox`, each in its own process, on {cores} cores"
    );
    println!("  command: {}", command_line());
    println!("  binary:  {}", env!("CARGO_BIN_EXE_tenantry"));
    println!(
        "  {tenants} tenants, latency {latency_ms} ms, limit {CONNECTIONS} per tenant, $batch counted as {batch_connections}, mailboxes per tenant: {}",
        mailboxes.map_or("as many as tasks".to_string(), |n| n.to_string())
    );
    println!(
        "  ideal = tasks / (tenants x {CONNECTIONS} / latency) = tasks / {:.0} per second",
        tenants as f64 * CONNECTIONS as f64 / (latency_ms as f64 / 1000.0)
    );
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for &n in &counts {
        for &b in &batches {
            let mut child = Command::new(std::env::current_exe().expect("this bench"))
                .env("E2E_CHILD_TASKS", n.to_string())
                .env("E2E_CHILD_BATCH", b.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .spawn()
                .expect("the bench starts again");
            let out = BufReader::new(child.stdout.take().expect("piped"));
            for line in out.lines().map_while(Result::ok) {
                match line.strip_prefix(ROW) {
                    Some(row) => rows.push(row.to_string()),
                    None => println!("{line}"),
                }
            }
            let status = child.wait().expect("the configuration ends");
            if !status.success() {
                failed.push(format!("{tenants} x {n}, batch {b}"));
            }
        }
    }
    println!();
    println!(
        "| tenants × tasks | tasks | batch | wall | wall/ideal (best possible) | runner CPU per 1,000 calls | peak RSS | journal bytes/task |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for row in &rows {
        println!("{row}");
    }
    assert!(
        failed.is_empty(),
        "configurations failed: {}",
        failed.join("; ")
    );
}

/// The command that reproduces this run, with the settings in force.
fn command_line() -> String {
    let mut line = String::new();
    for name in [
        "E2E_TENANTS",
        "E2E_TASKS",
        "E2E_LATENCY_MS",
        "E2E_BATCH",
        "E2E_BATCH_CONNECTIONS",
        "E2E_MAILBOXES",
    ] {
        if let Ok(v) = std::env::var(name) {
            let _ = write!(line, "{name}={v} ");
        }
    }
    line.push_str("cargo bench --bench e2e");
    line
}

/// A child process killed (and reaped) when dropped, so that a failing configuration leaves no
/// sandbox behind.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs one configuration and prints its line and its table row.
fn measure(setup: &Setup) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let (sandbox, url) = start_sandbox(setup);
    write_playbook(dir.path(), setup, &url);

    // The run as a user starts it. Standard output (a line per task) goes nowhere; standard
    // error is kept to show why a run failed.
    let stderr_path = dir.path().join("stderr.txt");
    let stderr = std::fs::File::create(&stderr_path).expect("a file for standard error");
    let started = Instant::now();
    let mut run = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(["run", "p.yaml", "--progress", "plain", "--report"])
        .arg(dir.path().join("report"))
        .current_dir(dir.path())
        .env("SECRET", tenantry::sandbox::APPS[0].client_secret)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("tenantry run starts");
    let status = loop {
        if let Some(status) = run.try_wait().expect("the run can be waited for") {
            break status;
        }
        if started.elapsed() > RUN_TIMEOUT {
            let _ = run.kill();
            let _ = run.wait();
            drop(sandbox);
            panic!(
                "the run of {} tasks did not end within {RUN_TIMEOUT:?}: killed",
                setup.tasks()
            );
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let wall = started.elapsed().as_secs_f64();
    // The run is the only child this process has reaped: the kernel's account of its
    // children is the run's alone (the sandbox is reaped below, after this).
    let (cpu_s, peak_mb) = children_usage();
    let errors = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    if status.code() != Some(0) {
        drop(sandbox);
        panic!(
            "tenantry run exited with {status} for {} tenants x {} tasks, batch {}:\n{}",
            setup.tenants,
            setup.per_tenant,
            setup.batch,
            tail(&errors, 40)
        );
    }
    let served = sandbox_stats(&url);
    drop(sandbox);

    let results = read_results(&dir.path().join("report/results.jsonl"));
    let tasks = setup.tasks();
    let ok = results.iter().filter(|r| r["status"] == "ok").count();
    assert_eq!(
        results.len(),
        tasks,
        "results.jsonl holds {} lines for {tasks} tasks",
        results.len()
    );
    assert_eq!(ok, tasks, "{} of {tasks} tasks are not ok", tasks - ok);
    let run_ms = std::fs::read_to_string(dir.path().join("report/summary.json"))
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|s| s["duration_ms"].as_u64());
    let journal = journal_bytes(&dir.path().join(".tenantry"));
    let first_calls = first_calls_extra_s(&results);
    let mean_call_ms = results
        .iter()
        .filter_map(|r| r["duration_ms"].as_u64())
        // Whole milliseconds, truncated: half a millisecond is the unbiased correction.
        .map(|ms| ms as f64 + 0.5)
        .sum::<f64>()
        / tasks as f64;

    let ideal = setup.ideal_s();
    // A call as the runner sees it takes the latency plus the sandbox's work, its timer's
    // lateness and the loopback round trip; against that bound the ratio is the runner's own
    // share: how well it kept every connection busy.
    let observed = wall / (ideal * mean_call_ms / setup.latency_ms as f64);
    let ratio = wall / ideal;
    let best = setup
        .best_ratio()
        .map_or("never fits".to_string(), |b| format!("{b:.3}"));
    let cpu_per_1000 = cpu_s * 1000.0 / (tasks as f64 / 1000.0);
    let per_task = journal as f64 / tasks as f64;
    let batch = match setup.batch {
        0 => "unbatched".to_string(),
        b => format!("batches of {b} ({})", setup.batch_connections),
    };
    let warnings: Vec<&str> = errors.lines().filter(|l| !l.trim().is_empty()).collect();
    println!(
        "  {} x {} = {} tasks, {batch}: wall {wall:.2} s = {ratio:.3} x ideal {ideal:.2} s (best possible {best}); runner CPU {cpu_per_1000:.0} ms per 1,000 calls ({cpu_s:.2} s); peak RSS {peak_mb:.1} MB; journal {per_task:.0} bytes/task ({:.1} MB)",
        setup.tenants,
        thousands(setup.per_tenant),
        thousands(tasks),
        journal as f64 / 1e6,
    );
    println!(
        "      mean call {mean_call_ms:.1} ms for {} ms of latency ({observed:.3} x the bound at that call time); sandbox saw {} HTTP requests ({} batch items), {} throttled; first calls' extra time (sign-in, connecting) {first_calls:.2} s at most; {} outside the run's own clock (start, load, reports){}",
        setup.latency_ms,
        thousands(served.requests as usize),
        thousands(served.batch_items as usize),
        served.throttled,
        run_ms.map_or("?".to_string(), |ms| format!(
            "{:.2} s",
            wall - ms as f64 / 1000.0
        )),
        match warnings.len() {
            0 => String::new(),
            n => format!("; standard error: {n} line(s), first: {}", warnings[0]),
        }
    );
    println!(
        "{ROW}| {} × {} | {} | {} | {wall:.2} s | {ratio:.2} ({}) | {cpu_per_1000:.0} ms | {peak_mb:.0} MB | {per_task:.0} |",
        thousands(setup.tenants),
        thousands(setup.per_tenant),
        thousands(tasks),
        setup.batch_label(),
        setup
            .best_ratio()
            .map_or("never fits".to_string(), |b| format!("{b:.2}")),
    );
    let _ = std::io::stdout().flush();
}

/// Starts `tenantry sandbox` in its own process and returns it with its URL (from its first
/// line). Its descriptor limit is raised to the hard limit first: it holds a socket per
/// connection, thousands for a thousand tenants.
fn start_sandbox(setup: &Setup) -> (Killed, String) {
    let args = [
        "sandbox".to_string(),
        "--port".into(),
        "0".into(),
        "--tenants".into(),
        setup.tenants.to_string(),
        "--mailboxes".into(),
        setup.mailboxes.to_string(),
        "--latency".into(),
        format!("{}ms", setup.latency_ms),
        "--limit".into(),
        CONNECTIONS.to_string(),
        "--batch-connections".into(),
        setup.batch_connections.clone(),
    ];
    let mut command = if cfg!(unix) {
        let mut c = Command::new("sh");
        c.args([
            "-c",
            "ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$0\" \"$@\"",
            env!("CARGO_BIN_EXE_tenantry"),
        ]);
        c
    } else {
        Command::new(env!("CARGO_BIN_EXE_tenantry"))
    };
    let mut child = command
        .args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("tenantry sandbox starts");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let child = Killed(child);
    let mut first = String::new();
    out.read_line(&mut first)
        .expect("the sandbox prints its URL");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in the sandbox's first line: {first:?}"))
        .to_string();
    // The rest of the banner is read away, so the sandbox never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    (child, url)
}

/// The playbook: every sandbox tenant as `cloud: custom`, one `Set-Mailbox` step over the
/// users in users.txt.
fn write_playbook(dir: &Path, setup: &Setup, url: &str) {
    let app = tenantry::sandbox::APPS[0].client_id;
    let mut yaml = format!(
        "version: 1\nname: e2e bench\nlimits:\n  max_in_flight: {}\ntenants:\n",
        setup.tenants * CONNECTIONS
    );
    // The same tenants `tenantry sandbox --tenants N` serves.
    for t in tenantry::sandbox::SandboxConfig::with_tenants(setup.tenants, 0).tenants {
        let name = t.domain.split('.').next().unwrap_or(&t.domain).to_string();
        let _ = writeln!(
            yaml,
            "  - {{ name: {name}, organization: {}, cloud: custom, endpoints: {{ rest: \"{url}\", authority: \"{url}\", scope: \"https://outlook.office365.com/.default\" }}, auth: {{ method: client_secret, app_id: {app}, secret_env: SECRET }} }}",
            t.domain
        );
    }
    yaml.push_str(
        "steps:\n  - cmdlet: Set-Mailbox\n    for_each: \"{{ lines('users.txt') }}\"\n    params: { Identity: \"{{ item }}\", CustomAttribute10: bench }\n",
    );
    if setup.batch > 0 {
        let _ = writeln!(yaml, "    batch: {}", setup.batch);
    }
    std::fs::write(dir.join("p.yaml"), yaml).expect("write the playbook");
    // User names as the sandbox seeds them: user001… (wider for more mailboxes).
    let width = setup.mailboxes.to_string().len().max(3);
    let mut users = String::new();
    for i in 0..setup.per_tenant {
        let _ = writeln!(users, "user{:0width$}", i % setup.mailboxes + 1);
    }
    std::fs::write(dir.join("users.txt"), users).expect("write users.txt");
}

/// What the sandbox counted, over all tenants.
struct Served {
    requests: u64,
    batch_items: u64,
    throttled: u64,
}

/// `GET /sandbox/stats?writes=0`, summed over the tenants.
fn sandbox_stats(url: &str) -> Served {
    let host = url.trim_start_matches("http://").trim_end_matches('/');
    let read = || -> std::io::Result<Value> {
        let mut stream = std::net::TcpStream::connect(host)?;
        write!(
            stream,
            "GET /sandbox/stats?writes=0 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let raw = String::from_utf8_lossy(&raw);
        let body = raw.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        Ok(serde_json::from_str(body).unwrap_or(Value::Null))
    };
    let stats = read().unwrap_or(Value::Null);
    let sum = |field: &str| -> u64 {
        stats["tenants"]
            .as_object()
            .map_or(0, |t| t.values().filter_map(|s| s[field].as_u64()).sum())
    };
    Served {
        requests: sum("http_requests"),
        batch_items: sum("batch_items"),
        throttled: sum("throttled"),
    }
}

fn read_results(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    text.lines()
        .map(|l| serde_json::from_str(l).expect("each result is JSON"))
        .collect()
}

/// How much longer a tenant's first calls took than the run's median call, at most over the
/// tenants: what signing in (and opening connections) added before a tenant's first answers.
fn first_calls_extra_s(results: &[Value]) -> f64 {
    let mut durations: Vec<u64> = results
        .iter()
        .filter_map(|r| r["duration_ms"].as_u64())
        .collect();
    if durations.is_empty() {
        return 0.0;
    }
    durations.sort_unstable();
    let median = durations[durations.len() / 2];
    // results.jsonl is in the order tasks finished: a tenant's first lines are its first calls.
    let mut firsts: std::collections::HashMap<&str, (usize, u64)> = Default::default();
    for r in results {
        let (Some(tenant), Some(ms)) = (r["tenant"].as_str(), r["duration_ms"].as_u64()) else {
            continue;
        };
        let entry = firsts.entry(tenant).or_insert((0, 0));
        if entry.0 < CONNECTIONS {
            *entry = (entry.0 + 1, entry.1.max(ms));
        }
    }
    let most = firsts.values().map(|&(_, ms)| ms).max().unwrap_or(median);
    most.saturating_sub(median) as f64 / 1000.0
}

/// The bytes of every `journal.jsonl` under the state folder.
fn journal_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut pending: Vec<PathBuf> = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().is_some_and(|n| n == "journal.jsonl") {
                total += entry.metadata().map_or(0, |m| m.len());
            }
        }
    }
    total
}

/// User plus system CPU seconds and peak resident memory (MB) of the children this process
/// has waited for.
#[cfg(unix)]
fn children_usage() -> (f64, f64) {
    use nix::sys::resource::{UsageWho, getrusage};
    let Ok(usage) = getrusage(UsageWho::RUSAGE_CHILDREN) else {
        return (f64::NAN, f64::NAN);
    };
    let seconds = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
    let cpu = seconds(usage.user_time()) + seconds(usage.system_time());
    // Kilobytes on Linux and the BSDs, bytes on macOS.
    let divisor = if cfg!(target_os = "macos") {
        1024.0 * 1024.0
    } else {
        1024.0
    };
    (cpu, usage.max_rss() as f64 / divisor)
}

#[cfg(not(unix))]
fn children_usage() -> (f64, f64) {
    (f64::NAN, f64::NAN)
}

/// The last `n` lines of a text.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// 1234567 as `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
