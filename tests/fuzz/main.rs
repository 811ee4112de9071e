//! A bounded fuzz run of playbook loading and template expansion: mutated playbooks, from a
//! corpus of real and broken ones (`tests/fuzz/corpus/`), must each give a plan or an error,
//! never a panic or a hang. It runs for `TENANTRY_FUZZ_SECONDS` (60 by default) with a seed
//! from the clock, printed so that a failure can be replayed with `TENANTRY_FUZZ_SEED`; the
//! input that failed is saved to `target/fuzz-failure.yaml` (or, when the process aborts, is
//! the last one in `target/fuzz-work/p.yaml`).
//!
//! It is a mutation fuzzer with a dictionary of YAML and template tokens, not a
//! coverage-guided one: cargo-fuzz needs a nightly toolchain, which this project does not use.

// Helpers shared between test modules are `pub` inside this private crate.
#![allow(unreachable_pub)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tenantry::plan::{CountingSink, PlanOptions, Planner};
use tenantry::playbook::Playbook;

/// Tokens that steer mutations toward the parser's and the templates' corners.
const DICTIONARY: &[&str] = &[
    "{{",
    "}}",
    "{%",
    "%}",
    "{#",
    "#}",
    "|",
    ": ",
    "- ",
    "\n",
    "\n  ",
    "\n    ",
    "\t",
    "'",
    "\"",
    "&a ",
    "*a",
    "<<: *a",
    "!!str ",
    "!!binary ",
    "? ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "#",
    "---\n",
    "...\n",
    "~",
    "null",
    "true",
    "NO",
    "0x1F",
    "1e999",
    "-1",
    "9999999999999999999",
    ".inf",
    "for_each: ",
    "when: ",
    "key: ",
    "params: ",
    "cmdlet: ",
    "steps:\n",
    "tenants:\n",
    "vars:\n",
    "limits:\n",
    "defaults:\n",
    "on_error: ",
    "retries: ",
    "timeout: ",
    "id: ",
    "name: ",
    "idempotent: ",
    "max_fail_percentage: ",
    "organization: ",
    "cloud: ",
    "auth: ",
    "item",
    "loop.index",
    "steps.x.output",
    "vars.x",
    "tenant.name",
    "csv('users.csv')",
    "lines('users.txt')",
    "json('data.json')",
    "range(3)",
    "range(100000)",
    "| length",
    "| map(attribute='x')",
    "| selectattr('a')",
    "| dict2items",
    "| tojson",
    "| int",
    "~",
    " ~ ",
    " and ",
    " or ",
    " not ",
    " if ",
    " else ",
    "(",
    ")",
    ".",
    "[0]",
    "Set-Mailbox",
    "Get-Mailbox",
    "é",
    "\u{0}",
    "\u{feff}",
    "\r\n",
    "%",
    "%2F",
    "/",
];

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz/corpus");
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("the corpus exists")
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("a corpus file"),
            )
        })
        .collect();
    out.sort();
    out
}

/// A small, fast generator (xorshift*), seeded per run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 => {
                let token = DICTIONARY[rng.below(DICTIONARY.len())];
                out.splice(at..at, token.bytes());
            }
            1 if !out.is_empty() => {
                let end = (at + 1 + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            2 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
            3 if !out.is_empty() => {
                let start = rng.below(out.len());
                let end = (start + 1 + rng.below(64)).min(out.len());
                let copy = out[start..end].to_vec();
                out.splice(at..at, copy);
            }
            4 if !other.is_empty() => {
                let start = rng.below(other.len());
                let end = (start + 1 + rng.below(128)).min(other.len());
                out.splice(at..at, other[start..end].iter().copied());
            }
            _ => {
                let digits = ["0", "7", "65536", "-3", "2.5"][rng.below(5)];
                out.splice(at..at, digits.bytes());
            }
        }
    }
    // Keep inputs near the size of real playbooks.
    out.truncate(64 * 1024);
    out
}

/// Loads, checks and expands one playbook: errors are fine, panics are not.
fn exercise(path: &Path) {
    let Ok(playbook) = Playbook::parse(path) else {
        return;
    };
    let _ = playbook.check();
    let env = tenantry::template::environment(&playbook.dir);
    let Ok(planner) = Planner::new(&env, &playbook, &PlanOptions::default()) else {
        return;
    };
    let _ = planner.expand_all(&mut CountingSink::default());
}

#[test]
fn mutated_playbooks_never_panic() {
    let seconds: u64 = std::env::var("TENANTRY_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let seed: u64 = std::env::var("TENANTRY_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(1, |d| d.as_nanos() as u64)
                | 1
        });
    println!("fuzz seed {seed} (replay with TENANTRY_FUZZ_SEED={seed}), {seconds} s");
    let corpus = corpus();
    // A fixed folder rather than a temporary one: if a case aborts the process (a stack
    // overflow cannot be caught), its input stays in target/fuzz-work/p.yaml.
    let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-work");
    std::fs::create_dir_all(&work).unwrap();
    let dir = tempfile::tempdir_in(&work).unwrap();
    let last = work.join("p.yaml");
    // Data files the templates may read.
    std::fs::write(
        dir.path().join("users.csv"),
        "UserPrincipalName,Dept\na@b.c,Sales\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("users.txt"), "user001\nuser002\n").unwrap();
    std::fs::write(dir.path().join("data.json"), r#"{"x": [1, 2]}"#).unwrap();
    std::fs::write(
        dir.path().join("tenants.yaml"),
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/tenants.yaml")).unwrap(),
    )
    .unwrap();
    let path: PathBuf = dir.path().join("p.yaml");
    // Panics are expected to be caught and reported here, not printed for every case.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut cases = 0u64;
    let mut slowest = Duration::ZERO;
    while Instant::now() < deadline {
        let (_, base) = &corpus[rng.below(corpus.len())];
        let (_, other) = &corpus[rng.below(corpus.len())];
        let input = mutate(&mut rng, base, other);
        std::fs::write(&path, &input).unwrap();
        std::fs::write(&last, &input).unwrap();
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| exercise(&path)));
        let took = started.elapsed();
        slowest = slowest.max(took);
        let failure = match outcome {
            Err(panic) => Some(format!(
                "panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
            Ok(()) if took > Duration::from_secs(5) => Some(format!("took {took:?}")),
            Ok(()) => None,
        };
        if let Some(why) = failure {
            std::panic::set_hook(default_hook);
            let saved = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-failure.yaml");
            let _ = std::fs::write(&saved, &input);
            panic!(
                "case {cases} (seed {seed}) {why}; the input is in {}",
                saved.display()
            );
        }
        cases += 1;
    }
    std::panic::set_hook(default_hook);
    println!("{cases} cases, none failed; slowest {slowest:?}");
    assert!(cases > 100, "the fuzz run did too little: {cases} cases");
}
