//! Expansion benchmark: 10,000 tenants × 100 CSV rows = 1,000,000 tasks, each with a `when`
//! and three templated parameters, one of them checked against its documented type per task. Reports wall time and the process's peak memory.
//!
//! Run: `cargo bench --bench expand` (add `-- TENANTS ITEMS` for other sizes).

// Helpers shared between test modules are `pub` inside this private crate.
#![allow(unreachable_pub)]

use std::fmt::Write as _;
use std::time::Instant;

use tenantry::plan::{CountingSink, JsonSink, PlanOptions, Planner, Sink, TextSink};
use tenantry::playbook::Playbook;

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let tenants = args.first().copied().unwrap_or(10_000);
    let items = args.get(1).copied().unwrap_or(100);

    let dir = tempfile::tempdir().expect("temp dir");
    let mut inventory = String::new();
    for t in 0..tenants {
        let _ = writeln!(
            inventory,
            "- {{ name: t{t:05}, organization: t{t:05}.onmicrosoft.com, cloud: sandbox, tags: [{}], vars: {{ region: r{} }} }}",
            if t % 10 == 0 { "pilot" } else { "main" },
            t % 7
        );
    }
    std::fs::write(dir.path().join("tenants.yaml"), inventory).expect("write");
    let mut csv = String::from("Email,Group,Enabled\n");
    for i in 0..items {
        let _ = writeln!(csv, "user{i:04}@contoso.com,Group{},{}", i % 5, i % 9 != 0);
    }
    std::fs::write(dir.path().join("users.csv"), csv).expect("write");
    let playbook = r#"version: 1
name: Bench
tenants: tenants.yaml
vars: { retention: "30.00:00:00" }
steps:
  - id: members
    cmdlet: Set-Mailbox
    for_each: "{{ csv('users.csv') }}"
    when: item.Enabled == 'true' or true
    params:
      Identity: "{{ item.Email }}"
      CustomAttribute1: "{{ item.Group }}-{{ vars.region }}@{{ tenant.organization }}"
      RetainDeletedItemsFor: "{{ vars.retention }}"
      SingleItemRecoveryEnabled: true
"#;
    let path = dir.path().join("bench.yaml");
    std::fs::write(&path, playbook).expect("write");

    let started = Instant::now();
    let pb = Playbook::load(&path).expect("valid playbook");
    let env = tenantry::template::environment(&pb.dir);
    let planner = Planner::new(&env, &pb, &PlanOptions::default()).expect("compiles");
    let load = started.elapsed();
    println!(
        "load and check {tenants} tenants: {:.2} s",
        load.as_secs_f64()
    );

    let measure = |label: &str, sink: &mut dyn Sink| {
        let t = Instant::now();
        let summary = planner.expand_all(sink).expect("expands");
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{label:<22} {} tasks in {secs:.2} s ({:.0} tasks/s, {:.2} µs/task)",
            summary.tasks,
            summary.tasks as f64 / secs,
            secs * 1e6 / summary.tasks as f64
        );
    };
    measure("expand (count only)", &mut CountingSink::default());
    let mut json = JsonSink::new(std::io::BufWriter::new(std::io::sink()));
    measure("expand + JSON Lines", &mut json);
    let mut text = TextSink::new(std::io::BufWriter::new(std::io::sink()));
    measure("expand + text", &mut text);
    println!("peak memory (VmHWM): {}", peak_memory());
}

/// The process's peak resident set, from /proc on Linux.
fn peak_memory() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.trim_start_matches("VmHWM:").trim().to_owned())
        })
        .unwrap_or_else(|| "unknown (no /proc/self/status)".to_owned())
}
