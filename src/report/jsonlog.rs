//! `--log-format json`: the run's output as JSON Lines for log pipelines (Loki, Splunk,
//! Elastic), in the terminal's place. Each line is one event, an object whose first keys are
//! `time` (RFC 3339, UTC, milliseconds), `level` (`info`, `warn`, `error`) and `event`:
//! `run_started`, `message`, `task` (the fields of a results.jsonl line), `tenant_finished`
//! and `run_finished`.

use std::io::{self, Write};
use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::events::{Event, Origin, Reporter, RunStart, RunSummary, Status, TaskResult};

/// The JSON log reporter.
pub(crate) struct JsonLog<W: Write> {
    /// Buffered as the terminal is: task lines are written once per wake-up of the run,
    /// anything else at once.
    out: io::BufWriter<W>,
    /// The run's tally so far, for each tenant's counts when it finishes.
    tally: RunSummary,
    /// The current time (tests fix it).
    clock: fn() -> SystemTime,
}

impl<W: Write> JsonLog<W> {
    /// A JSON log written on `out`.
    pub(crate) fn new(out: W) -> Self {
        JsonLog {
            out: io::BufWriter::new(out),
            tally: RunSummary::default(),
            clock: SystemTime::now,
        }
    }

    /// A JSON log whose lines all carry the time `clock` gives.
    #[cfg(test)]
    pub(crate) fn with_clock(out: W, clock: fn() -> SystemTime) -> Self {
        JsonLog {
            clock,
            ..JsonLog::new(out)
        }
    }

    /// Writes one line: `time`, `level` and `event`, then `fields`.
    fn line(&mut self, level: &str, event: &str, fields: Map<String, Value>) -> io::Result<()> {
        let mut line = Map::with_capacity(fields.len() + 3);
        line.insert(
            "time".into(),
            Value::String(crate::trace::iso8601((self.clock)())),
        );
        line.insert("level".into(), level.into());
        line.insert("event".into(), event.into());
        line.extend(fields);
        serde_json::to_writer(&mut self.out, &line).map_err(io::Error::other)?;
        self.out.write_all(b"\n")
    }

    fn started(&mut self, run: &RunStart) -> io::Result<()> {
        let mut fields = Map::new();
        if !run.id.is_empty() {
            fields.insert("run".into(), run.id.clone().into());
            fields.insert("journal".into(), run.journal.display().to_string().into());
        }
        fields.insert("check".into(), run.check.into());
        fields.insert("tenants".into(), run.planned.len().into());
        fields.insert("planned".into(), run.planned.values().sum::<usize>().into());
        if let Some((replayed, unknown)) = run.resuming {
            fields.insert(
                "resuming".into(),
                json!({ "done": replayed, "unknown": unknown }),
            );
        }
        self.line("info", "run_started", fields)
    }

    fn task(&mut self, result: &TaskResult, origin: Origin) -> io::Result<()> {
        let level = match result.status {
            Status::Ok | Status::Skipped | Status::Drift => "info",
            Status::Unknown | Status::Stale => "warn",
            Status::Failed => "error",
        };
        let Value::Object(mut fields) = serde_json::to_value(result).map_err(io::Error::other)?
        else {
            return Err(io::Error::other("a task result is not an object"));
        };
        if origin == Origin::Earlier {
            fields.insert("replayed".into(), true.into());
        }
        self.line(level, "task", fields)
    }

    fn tenant(&mut self, tenant: &str, stopped: Option<&str>, duration_ms: u64) -> io::Result<()> {
        let counts = self.tally.tenants.get(tenant).cloned().unwrap_or_default();
        let mut fields = Map::new();
        fields.insert("tenant".into(), tenant.into());
        if let Value::Object(counts) = serde_json::to_value(&counts).map_err(io::Error::other)? {
            fields.extend(counts);
        }
        fields.insert("duration_ms".into(), duration_ms.into());
        fields.insert("stopped".into(), stopped.into());
        let level = if stopped.is_some() { "warn" } else { "info" };
        self.line(level, "tenant_finished", fields)
    }

    fn finished(&mut self, summary: &RunSummary) -> io::Result<()> {
        let Value::Object(mut fields) = serde_json::to_value(summary).map_err(io::Error::other)?
        else {
            return Err(io::Error::other("a summary is not an object"));
        };
        // Each tenant had its line: a run over thousands of them keeps this one short.
        fields.shift_remove("tenants");
        fields.insert("check".into(), summary.check.into());
        fields.insert("tenant_count".into(), summary.tenants.len().into());
        let level = if summary.succeeded() {
            "info"
        } else if summary.exit_code == crate::exit::INTERRUPTED {
            "warn"
        } else {
            "error"
        };
        self.line(level, "run_finished", fields)?;
        self.out.flush()
    }
}

impl<W: Write> Reporter for JsonLog<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.tally.record(event);
        match event {
            Event::RunStarted(run) => self.started(run)?,
            Event::Message(text) => {
                let level = if text.starts_with("warning") {
                    "warn"
                } else {
                    "info"
                };
                let mut fields = Map::new();
                fields.insert("message".into(), text.clone().into());
                self.line(level, "message", fields)?;
            }
            Event::TaskFinished { result, origin } => return self.task(result, *origin),
            Event::TenantFinished {
                tenant,
                stopped,
                duration_ms,
            } => self.tenant(tenant, stopped.as_deref(), *duration_ms)?,
            Event::RunFinished(summary) => return self.finished(summary),
            Event::StepStarted { .. } | Event::TaskSent { .. } | Event::TaskOutput { .. } => {
                return Ok(());
            }
        }
        self.out.flush()
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
