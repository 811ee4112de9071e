//! Reporters: consumers of the run's event stream ([`crate::events`]), one per output. The
//! terminal gets progress bars when it is interactive and a line per task otherwise, then a
//! summary per tenant; `--report DIR` gets one reporter per file: results.jsonl (streamed as
//! tasks finish), results.csv, summary.json, junit.xml and summary.md. `--log-format json`
//! puts a JSON log in the terminal's place; `--metrics-file` and `--metrics-push` get
//! Prometheus metrics.
//!
//! A run, a resumed run (its earlier results replayed first) and `tenantry report` (a journal
//! replayed) all feed the same reporters the same events, so their files agree.

mod files;
mod jsonlog;
mod junit;
mod merge;
mod metrics;
mod progress;
mod terminal;
#[cfg(test)]
mod tests;

pub(crate) use files::report_files;
pub(crate) use jsonlog::JsonLog;
pub(crate) use junit::JUnit;
pub(crate) use merge::merge;
pub(crate) use metrics::{Metrics, MetricsSettings, PushUrl};
pub(crate) use progress::Progress;
pub(crate) use terminal::Terminal;

use std::path::Path;

use crate::events::{Event, Fanout, Origin, RunSummary, Status, TaskResult};

/// Text safe in a Markdown table cell: `|` escaped, line breaks (any kind) as spaces.
pub(crate) fn markdown_cell(text: &str) -> String {
    text.replace('|', "\\|")
        .replace("\r\n", " ")
        .replace(['\r', '\n'], " ")
}

/// Writes the reports of a past run from its journal: its known outcomes, and its tasks sent
/// without an answer as of unknown outcome, replayed through the same reporters as a run.
pub(crate) fn from_journal(
    past: &crate::journal::PastRun,
    dir: &Path,
) -> std::io::Result<RunSummary> {
    let mut summary = RunSummary {
        playbook: past
            .meta
            .playbook
            .file_stem()
            .map_or(String::new(), |s| s.to_string_lossy().into_owned()),
        complete: past.meta.exit_code.is_some(),
        exit_code: past.meta.exit_code.unwrap_or(crate::exit::INTERRUPTED),
        ..RunSummary::default()
    };
    let mut results: Vec<TaskResult> = past.done.values().cloned().collect();
    for id in &past.unknown {
        let (tenant, step) = crate::journal::tenant_and_step(id);
        results.push(
            TaskResult::new(id.clone(), tenant, step, String::new(), Status::Unknown)
                .because("sent, and the run ended before its answer"),
        );
    }
    results.sort_by(|a, b| a.id.cmp(&b.id));
    let mut fanout = Fanout::new();
    for (name, reporter) in report_files(dir)? {
        fanout.add(name, reporter);
    }
    for result in results {
        let event = Event::TaskFinished {
            result,
            origin: Origin::Earlier,
        };
        summary.record(&event);
        let _ = fanout.emit(&event);
    }
    let _ = fanout.emit(&Event::RunFinished(Box::new(summary.clone())));
    match fanout.errors().into_iter().next() {
        Some((_, e)) => Err(e),
        None => Ok(summary),
    }
}
