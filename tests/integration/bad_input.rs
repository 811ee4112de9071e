//! Malformed input: every `*.yaml` directly under `tests/bad_input/` holds one mistake (its
//! first line says which; data files the cases read sit in `tests/bad_input/data/`). Each must
//! be refused with exit code 2 and one clear, located error, snapshotted here so a change in
//! wording or position is reviewed like any other change.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use regex::Regex;

use crate::support::{Run, root, tenantry, tenantry_in};

/// The suite may grow; it must not shrink below this without someone changing this line.
const MIN_CASES: usize = 140;

/// The folder of cases, as given on the command line (relative to the repository root).
const DIR: &str = "tests/bad_input";

/// Cases whose mistake is the file as a whole: their error names the file, not a line.
const WHOLE_FILE: &[&str] = &["comments_only.yaml", "empty_file.yaml", "utf16.yaml"];

/// Cases whose error is located in another file than the playbook (relative to `DIR`).
const LOCATED_ELSEWHERE: &[(&str, &str)] = &[
    ("tenants_file_bad.yaml", "data/bad_tenants.yaml"),
    ("tenants_file_not_a_list.yaml", "data/tenants_mapping.yaml"),
];

/// The snapshot of the generated oversized file, which has no file under `DIR`.
const OVERSIZED_SNAPSHOT: &str = "oversized_file";

/// The file names of the cases, sorted.
fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join(DIR))
        .expect("tests/bad_input exists")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.is_file() && path.extension().is_some_and(|e| e == "yaml"))
        .map(|path| {
            path.file_name()
                .expect("a file name")
                .to_str()
                .expect("case names are UTF-8")
                .to_owned()
        })
        .collect();
    names.sort();
    names
}

fn stem(file: &str) -> &str {
    file.strip_suffix(".yaml").expect("cases end in .yaml")
}

/// The first line of a case: a comment naming its mistake (empty for the binary cases).
fn mistake(file: &str) -> String {
    let bytes = std::fs::read(root().join(DIR).join(file)).expect("the case is readable");
    let text = String::from_utf8_lossy(&bytes);
    text.lines()
        .next()
        .and_then(|l| l.strip_prefix("# "))
        .unwrap_or("")
        .to_owned()
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "(no message)".to_owned())
}

/// Runs `check` on every case, and fails once at the end listing every case that failed, so one
/// run shows (and, with `INSTA_UPDATE`, records) everything that changed.
fn for_each_case(check: impl Fn(&str)) {
    let cases = cases();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|file| {
            catch_unwind(AssertUnwindSafe(|| check(file)))
                .err()
                .map(|payload| format!("--- {file}\n{}", panic_text(payload.as_ref())))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} bad inputs failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

/// The checks every refusal must pass, whatever the command.
fn assert_refused(run: &Run, args: &[&str]) {
    assert_eq!(
        run.code,
        2,
        "`tenantry {}` should exit 2 (invalid input); stderr:\n{}",
        args.join(" "),
        run.stderr
    );
    assert!(
        run.stderr.starts_with("error: "),
        "`tenantry {}`: stderr should start with `error: `:\n{}",
        args.join(" "),
        run.stderr
    );
}

/// Asserts that the error names where the mistake is: `FILE:LINE:COL`, or for whole-file
/// problems at least `FILE`.
fn assert_located(file: &str, stderr: &str) {
    if WHOLE_FILE.contains(&file) {
        let path = format!("{DIR}/{file}");
        assert!(
            stderr.contains(&path),
            "the error should name `{path}`:\n{stderr}"
        );
        return;
    }
    let target = LOCATED_ELSEWHERE
        .iter()
        .find(|(case, _)| *case == file)
        .map_or(file, |(_, other)| other);
    let path = format!("{DIR}/{target}");
    let located = Regex::new(&format!(
        r"(?m)^ *--> {}:[1-9][0-9]*:[1-9][0-9]*$",
        regex::escape(&path)
    ))
    .expect("a valid regex");
    assert!(
        located.is_match(stderr),
        "the error should point at `{path}:LINE:COL`:\n{stderr}"
    );
}

#[test]
fn validate_refuses_every_bad_input_with_a_located_error() {
    for_each_case(|file| {
        let path = format!("{DIR}/{file}");
        let args = ["validate", path.as_str()];
        let run = tenantry(&args);
        assert_refused(&run, &args);
        assert!(
            run.stdout.is_empty(),
            "validate writes nothing to stdout when it refuses; got:\n{}",
            run.stdout
        );
        assert_located(file, &run.stderr);
        insta::with_settings!({
            description => format!("tenantry validate {path}\n{}", mistake(file)),
            omit_expression => true,
        }, {
            insta::assert_snapshot!(stem(file), run.stderr);
        });
    });
}

#[test]
fn plan_refuses_every_bad_input() {
    for_each_case(|file| {
        let path = format!("{DIR}/{file}");
        let args = ["plan", path.as_str()];
        let run = tenantry(&args);
        assert_refused(&run, &args);
    });
}

#[test]
fn the_suite_does_not_shrink() {
    let cases = cases();
    assert!(
        cases.len() >= MIN_CASES,
        "tests/bad_input/ holds {} cases; the suite keeps at least {MIN_CASES}: {cases:?}",
        cases.len()
    );
}

/// Every snapshot of this suite belongs to a case, and every case has one: deleting a case
/// leaves its snapshot behind and fails here, so the suite cannot lose a case unnoticed.
#[test]
fn every_case_has_exactly_one_snapshot() {
    let prefix = "integration__bad_input__";
    let mut snapshots: Vec<String> = std::fs::read_dir(root().join("tests/integration/snapshots"))
        .map(|dir| {
            dir.map(|e| e.expect("a directory entry").file_name())
                .filter_map(|n| n.to_str().map(str::to_owned))
                .filter_map(|n| {
                    n.strip_prefix(prefix)
                        .and_then(|rest| rest.strip_suffix(".snap"))
                        .map(str::to_owned)
                })
                .filter(|n| n != OVERSIZED_SNAPSHOT)
                .collect()
        })
        .unwrap_or_default();
    snapshots.sort();
    let expected: Vec<String> = cases().iter().map(|f| stem(f).to_owned()).collect();
    assert_eq!(
        snapshots, expected,
        "snapshots `{prefix}*.snap` and the cases in tests/bad_input/ differ"
    );
}

/// A 50 MiB playbook (a valid start padded with comment lines) is refused by its size before it
/// is read: its end is not UTF-8, so reading it all would fail differently.
#[test]
fn an_oversized_file_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().expect("a temp dir");
    write_padded(&dir.path().join("playbook.yaml"), 50 * 1024 * 1024);
    let args = ["validate", "playbook.yaml"];
    let run = tenantry_in(dir.path(), &args);
    assert_refused(&run, &args);
    assert!(
        run.stderr.contains("`playbook.yaml` is 50.0 MiB"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("at most 8 MiB"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("UTF-8"),
        "the size is checked before the text is decoded:\n{}",
        run.stderr
    );
    insta::with_settings!({
        description => "tenantry validate playbook.yaml (50 MiB, generated by the test)",
        omit_expression => true,
    }, {
        insta::assert_snapshot!(OVERSIZED_SNAPSHOT, run.stderr);
    });

    let args = ["plan", "playbook.yaml"];
    let run = tenantry_in(dir.path(), &args);
    assert_refused(&run, &args);
    assert!(run.stderr.contains("at most 8 MiB"), "{}", run.stderr);
}

/// The limit is 8 MiB exactly: one byte more is refused.
#[test]
fn a_file_one_byte_over_the_limit_is_refused() {
    let dir = tempfile::tempdir().expect("a temp dir");
    write_padded(&dir.path().join("playbook.yaml"), 8 * 1024 * 1024 + 1);
    let args = ["validate", "playbook.yaml"];
    let run = tenantry_in(dir.path(), &args);
    assert_refused(&run, &args);
    assert!(run.stderr.contains("at most 8 MiB"), "{}", run.stderr);
}

/// A playbook that does not exist is refused like any other bad input.
#[test]
fn a_missing_playbook_is_refused() {
    let args = ["validate", "tests/bad_input/no_such_playbook.yaml"];
    let run = tenantry(&args);
    assert_refused(&run, &args);
    assert!(
        run.stderr
            .contains("`tests/bad_input/no_such_playbook.yaml` does not exist"),
        "{}",
        run.stderr
    );
}

/// Writes a valid playbook padded with comment lines to exactly `size` bytes, ending in a byte
/// that is not UTF-8.
fn write_padded(path: &Path, size: usize) {
    use std::io::Write;
    let head = "version: 1\nname: Oversized\ntenants:\n  - { name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }\nsteps:\n  - cmdlet: Get-Mailbox\n";
    let line = format!("# {}\n", "padding ".repeat(15));
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create the file"));
    out.write_all(head.as_bytes()).expect("write");
    let mut written = head.len();
    while written + line.len() < size {
        out.write_all(line.as_bytes()).expect("write");
        written += line.len();
    }
    let tail = size - written;
    out.write_all(&vec![b'#'; tail - 1]).expect("write");
    out.write_all(&[0xE9]).expect("write");
    out.flush().expect("flush");
    drop(out);
    assert_eq!(
        std::fs::metadata(path).expect("metadata").len(),
        size as u64
    );
}
