//! Snapshots of what each reporter writes for one run with every kind of outcome: ok, changed,
//! failed, skipped, unknown, retried, a tenant stopped, and a guardrail.

use std::path::Path;

use crate::events::{Event, Fanout, Origin, Reporter, RunStart, RunSummary, Status, TaskResult};

fn task(tenant: &str, item: &str, cmdlet: &str, status: Status) -> TaskResult {
    TaskResult::new(
        format!("{tenant}/1-set/{item}"),
        tenant.into(),
        "1-set".into(),
        cmdlet.into(),
        status,
    )
}

/// The events of a small run over two tenants.
fn events() -> Vec<Event> {
    let mut ok = task("contoso", "alex", "Get-Mailbox", Status::Ok);
    ok.objects = 1;
    ok.requests = 1;
    ok.duration_ms = 120;
    let mut changed = task("contoso", "bo", "Set-Mailbox", Status::Ok);
    changed.requests = 3;
    changed.duration_ms = 2250;
    changed.retries = vec!["429".into(), "503".into()];
    let mut unchanged = task("contoso", "cy", "Set-Mailbox", Status::Ok);
    unchanged.requests = 1;
    unchanged.duration_ms = 80;
    unchanged.warnings = vec![
        "The command completed successfully but no settings of 'cy' have been modified.".into(),
    ];
    let mut failed = task("fabrikam", "dee", "Set-Mailbox", Status::Failed);
    failed.requests = 2;
    failed.duration_ms = 95;
    failed.retries = vec!["cmdlet: ManagementObjectNotFoundException".into()];
    failed.error = Some("Couldn't find object \"dee\" <&> 'quoted'.".into());
    failed.error_class = Some("ManagementObjectNotFoundException".into());
    let skipped = task("fabrikam", "eve", "", Status::Skipped).because("when: false");
    let mut unknown = task(
        "fabrikam",
        "fay",
        "Remove-DistributionGroupMember",
        Status::Unknown,
    )
    .because("the outcome is unknown (504: gateway timeout)");
    unknown.requests = 1;
    unknown.duration_ms = 30000;
    vec![
        Event::RunStarted(RunStart {
            id: "20261130-101500-000".into(),
            journal: ".tenantry/runs/p.yaml/20261130-101500-000".into(),
            ..RunStart::default()
        }),
        Event::Message("warning: tenant fabrikam signs in with a password".into()),
        Event::StepStarted {
            tenant: "contoso".into(),
            step: "1-set".into(),
            records: 3,
            at_run_time: false,
        },
        Event::TaskSent { id: ok.id.clone() },
        finished(ok, Origin::Sent),
        finished(changed, Origin::Earlier),
        finished(unchanged, Origin::Sent),
        Event::TenantFinished {
            tenant: "contoso".into(),
            stopped: None,
            duration_ms: 2500,
        },
        finished(failed, Origin::Sent),
        finished(skipped, Origin::NotSent),
        finished(unknown, Origin::Sent),
        Event::TenantFinished {
            tenant: "fabrikam".into(),
            stopped: Some("step 1-set failed (2 tasks)".into()),
            duration_ms: 30100,
        },
    ]
}

fn finished(result: TaskResult, origin: Origin) -> Event {
    Event::TaskFinished { result, origin }
}

/// Feeds the run to `reporters`, tallied as a run tallies it, and finishes it.
fn replay(events: &[Event], fanout: &Fanout<'_>) -> RunSummary {
    let mut summary = RunSummary {
        playbook: "Retention | rollout".into(),
        complete: true,
        ..RunSummary::default()
    };
    for event in events {
        summary.record(event);
        fanout.emit(event).unwrap();
    }
    summary.duration_ms = 30_250;
    summary.exit_code = 4;
    summary.stopped_by = Some("tenant fabrikam stopped: 2 of 2 finished tasks failed".into());
    fanout
        .emit(&Event::RunFinished(Box::new(summary.clone())))
        .unwrap();
    summary
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap()
}

#[test]
fn each_report_file_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let mut fanout = Fanout::new();
    for (name, reporter) in super::report_files(dir.path()).unwrap() {
        fanout.add(name, reporter);
    }
    let summary = replay(&events(), &fanout);
    assert!(fanout.errors().is_empty());
    assert_eq!(summary.total.unknown, 1);
    insta::assert_snapshot!("results.jsonl", read(dir.path(), "results.jsonl"));
    insta::assert_snapshot!("results.csv", read(dir.path(), "results.csv"));
    insta::assert_snapshot!("summary.json", read(dir.path(), "summary.json"));
    insta::assert_snapshot!("junit.xml", read(dir.path(), "junit.xml"));
    insta::assert_snapshot!("summary.md", read(dir.path(), "summary.md"));
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "no partial file is left: {left:?}");
}

/// Standard output in memory.
#[derive(Clone, Default)]
struct Screen(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Screen {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_terminal_in_plain_lines_is_pinned() {
    let screen = Screen::default();
    let fanout = Fanout::new().with("terminal", super::Terminal::new(screen.clone()));
    replay(&events(), &fanout);
    let text = String::from_utf8(screen.0.lock().unwrap().clone()).unwrap();
    insta::assert_snapshot!("terminal", text);
}

#[test]
fn the_tally_counts_each_outcome_once_an_earlier_run_included() {
    // The tally counts an earlier run's writes like this run's: a resumed run's summary
    // covers the whole journal.
    let mut summary = RunSummary::default();
    for event in events() {
        Reporter::event(&mut Tally(&mut summary), &event).unwrap();
    }
    assert_eq!(
        (
            summary.total.ok,
            summary.total.changed,
            summary.total.failed,
            summary.total.skipped,
            summary.total.unknown,
            summary.total.retries
        ),
        (3, 1, 1, 1, 1, 3)
    );
}

struct Tally<'a>(&'a mut RunSummary);

impl Reporter for Tally<'_> {
    fn event(&mut self, event: &Event) -> std::io::Result<()> {
        self.0.record(event);
        Ok(())
    }
}

/// The events of a check over one tenant: an object already right, one that drifted (new),
/// one to create, one to remove (seen before), a plain write shown as its call, a failed read.
fn check_events() -> Vec<Event> {
    use crate::state::{Action, Change};
    use serde_json::json;
    let change = |property: &str, current, desired| Change {
        property: property.into(),
        current,
        desired,
    };
    let mut right = task("contoso", "alex", "Set-Mailbox", Status::Ok);
    right.action = Some(Action::None);
    let mut drifted = task("contoso", "bo", "Set-Mailbox", Status::Drift);
    drifted.action = Some(Action::Set);
    drifted.new = true;
    drifted.changes = vec![
        change(
            "RetainDeletedItemsFor",
            json!("14.00:00:00"),
            json!("30.00:00:00"),
        ),
        change(
            "EmailAddresses",
            json!(null),
            json!(["smtp:bo|x@contoso.com"]),
        ),
    ];
    let mut create = task("contoso", "rule", "Set-TransportRule", Status::Drift);
    create.action = Some(Action::Create);
    create.new = true;
    create.changes = vec![change("Mode", json!(null), json!("Enforce"))];
    let mut remove = task("contoso", "old", "Remove-TransportRule", Status::Drift);
    remove.action = Some(Action::Remove);
    let mut call = task("contoso", "cy", "Set-User", Status::Drift);
    call.would = Some("Set-User -Identity cy -Title Boss".into());
    call.new = true;
    let mut failed = task("contoso", "dee", "Set-Mailbox", Status::Failed);
    failed.error = Some("ManagementObjectNotFoundException: 'dee' couldn't be found".into());
    vec![
        Event::RunStarted(RunStart {
            check: true,
            ..RunStart::default()
        }),
        finished(right, Origin::Sent),
        finished(drifted, Origin::Sent),
        finished(create, Origin::Sent),
        finished(remove, Origin::Sent),
        finished(call, Origin::Sent),
        finished(failed, Origin::Sent),
        Event::Message("4 changes pending, 3 new since the previous check".into()),
        Event::TenantFinished {
            tenant: "contoso".into(),
            stopped: None,
            duration_ms: 900,
        },
    ]
}

/// What a check writes: its own JSON Lines and Markdown on standard output, the terminal's
/// lines, and the report files with drift as its own status.
#[test]
fn each_check_output_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let (mut jsonl, mut md) = (Vec::new(), Vec::new());
    let screen = Screen::default();
    {
        let mut fanout = Fanout::new()
            .with(
                "jsonl",
                crate::check::reporter(crate::check::Format::Jsonl, &mut jsonl),
            )
            .with(
                "markdown",
                crate::check::reporter(crate::check::Format::Markdown, &mut md),
            )
            .with("terminal", super::Terminal::new(screen.clone()));
        for (name, reporter) in super::report_files(dir.path()).unwrap() {
            fanout.add(name, reporter);
        }
        let mut summary = RunSummary {
            playbook: "Retention".into(),
            complete: true,
            check: true,
            ..RunSummary::default()
        };
        for event in check_events() {
            summary.record(&event);
            fanout.emit(&event).unwrap();
        }
        assert_eq!((summary.total.drift, summary.total.new), (4, 3));
        summary.exit_code = crate::exit::TASKS_FAILED;
        fanout.emit(&Event::RunFinished(Box::new(summary))).unwrap();
        assert!(fanout.errors().is_empty());
    }
    insta::assert_snapshot!("check.jsonl", String::from_utf8(jsonl).unwrap());
    insta::assert_snapshot!("check.md", String::from_utf8(md).unwrap());
    let text = String::from_utf8(screen.0.lock().unwrap().clone()).unwrap();
    insta::assert_snapshot!("check terminal", text);
    insta::assert_snapshot!("check results.csv", read(dir.path(), "results.csv"));
    insta::assert_snapshot!("check junit.xml", read(dir.path(), "junit.xml"));
    insta::assert_snapshot!("check summary.md", read(dir.path(), "summary.md"));
}

/// A fixed time for the reporters that stamp their output: 2025-11-30T10:15:30.250Z.
fn fixed_clock() -> std::time::SystemTime {
    std::time::UNIX_EPOCH + std::time::Duration::from_millis(1_764_497_730_250)
}

#[test]
fn the_json_log_is_pinned() {
    let screen = Screen::default();
    let fanout = Fanout::new().with(
        "terminal",
        super::JsonLog::with_clock(screen.clone(), fixed_clock),
    );
    replay(&events(), &fanout);
    assert!(fanout.errors().is_empty());
    let text = String::from_utf8(screen.0.lock().unwrap().clone()).unwrap();
    for line in text.lines() {
        let value: serde_json::Value = serde_json::from_str(line).unwrap();
        let keys: Vec<_> = value.as_object().unwrap().keys().take(3).collect();
        assert_eq!(keys, ["time", "level", "event"], "{line}");
    }
    insta::assert_snapshot!("json log", text);
}

/// The metrics of the run in [`events`], written to a file in `dir` with this clock once the
/// run is over with `exit_code`.
fn metrics_file(dir: &Path, shard: Option<&str>, exit_code: i32) -> String {
    let path = dir.join("tenantry.prom");
    let metrics = super::Metrics::with_clock(
        super::MetricsSettings {
            file: Some(path.clone()),
            shard: shard.map(str::to_string),
            ..Default::default()
        },
        fixed_clock,
    );
    let before = std::fs::read_to_string(&path).ok();
    let fanout = Fanout::new().with("metrics", metrics.reporter());
    replay(&events(), &fanout);
    assert!(fanout.errors().is_empty());
    // The reporter only records: nothing is written before the run's exit code is final.
    assert_eq!(std::fs::read_to_string(&path).ok(), before);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let warnings = runtime.block_on(metrics.finish(exit_code));
    assert!(warnings.is_empty(), "{warnings:?}");
    std::fs::read_to_string(path).unwrap()
}

#[test]
fn the_metrics_file_is_pinned() {
    let dir = tempfile::tempdir().unwrap();
    let text = metrics_file(dir.path(), Some("2/4"), 4);
    // The run in `events` ended with exit code 4, and no earlier file knew a success.
    assert!(!text.contains("tenantry_run_last_success_timestamp_seconds"));
    insta::assert_snapshot!("metrics", text);
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "no partial file is left: {left:?}");
}

#[test]
fn a_failed_run_keeps_the_last_success_of_the_file_it_replaces() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("tenantry.prom"),
        "# TYPE tenantry_run_last_success_timestamp_seconds gauge\ntenantry_run_last_success_timestamp_seconds{playbook=\"Retention | rollout\",command=\"run\"} 1764400000.125\n",
    )
    .unwrap();
    let text = metrics_file(dir.path(), None, 4);
    assert!(
        text.contains("tenantry_run_last_success_timestamp_seconds{playbook=\"Retention | rollout\",command=\"run\"} 1764400000.125\n"),
        "{text}"
    );
    assert!(text.contains("tenantry_run_last_run_timestamp_seconds{playbook=\"Retention | rollout\",command=\"run\"} 1764497730.25\n"));
}

/// The exit code the metrics tell is the one `finish` is given, the run's final one, not the
/// summary's: a run whose report then failed is a failure, with no new last success.
#[test]
fn the_metrics_tell_the_final_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let ok = metrics_file(dir.path(), None, 0);
    assert!(
        ok.contains("tenantry_run_exit_code{playbook=\"Retention | rollout\",command=\"run\"} 0\n"),
        "{ok}"
    );
    assert!(ok.contains("tenantry_run_last_success_timestamp_seconds{playbook=\"Retention | rollout\",command=\"run\"} 1764497730.25\n"), "{ok}");
    let other = tempfile::tempdir().unwrap();
    let failed = metrics_file(other.path(), None, 1);
    assert!(
        failed.contains(
            "tenantry_run_exit_code{playbook=\"Retention | rollout\",command=\"run\"} 1\n"
        ),
        "{failed}"
    );
    assert!(
        !failed.contains("tenantry_run_last_success_timestamp_seconds"),
        "{failed}"
    );
}
