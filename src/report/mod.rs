//! Reporters: consumers of the scheduler's event stream. The terminal gets progress bars when
//! it is interactive and a line per task otherwise, then a summary per tenant; `--report DIR`
//! gets results.jsonl (streamed as tasks finish), summary.json, results.csv, junit.xml and
//! summary.md.

mod progress;

pub use progress::Progress;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::scheduler::{Event, Status, TaskResult};

/// One tenant's tally.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct TenantSummary {
    /// Tasks that succeeded.
    pub ok: usize,
    /// Tasks that succeeded and changed something (writes without the no-change warning).
    pub changed: usize,
    /// Tasks that failed.
    pub failed: usize,
    /// Tasks skipped by a condition or a stop.
    pub skipped: usize,
    /// Tasks a killed run sent without learning their outcome, not sent again.
    pub unknown: usize,
    /// Retries made, all causes.
    pub retries: usize,
    /// Why the tenant stopped early, if it did.
    pub stopped: Option<String>,
    /// Its duration.
    pub duration_ms: u64,
}

/// The run's tally, per tenant and in all.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunSummary {
    /// The playbook's name.
    pub playbook: String,
    /// Per tenant, by name.
    pub tenants: BTreeMap<String, TenantSummary>,
    /// All tenants together.
    pub total: TenantSummary,
    /// Wall time of the run.
    pub duration_ms: u64,
    /// False when the run was interrupted and the report is partial.
    pub complete: bool,
    /// The guardrail that stopped the run or a tenant (`limits.max_fail_percentage`,
    /// `--deadline`), if one did.
    pub stopped_by: Option<String>,
    /// The process exit code.
    pub exit_code: i32,
}

impl RunSummary {
    /// Counts one event.
    pub fn record(&mut self, event: &Event) {
        match event {
            Event::Task(t) => {
                for s in [
                    self.tenants.entry(t.tenant.clone()).or_default(),
                    &mut self.total,
                ] {
                    match t.status {
                        Status::Ok => {
                            s.ok += 1;
                            if changed(t) {
                                s.changed += 1;
                            }
                        }
                        Status::Failed => s.failed += 1,
                        Status::Skipped => s.skipped += 1,
                        Status::Unknown => s.unknown += 1,
                    }
                    s.retries += t.retries.len();
                }
            }
            Event::Tenant {
                tenant,
                stopped,
                duration_ms,
            } => {
                let s = self.tenants.entry(tenant.clone()).or_default();
                s.stopped = stopped.clone();
                s.duration_ms = *duration_ms;
            }
            Event::Step { .. } => {}
        }
    }
}

/// Whether a successful task changed something: a write without the service's no-change
/// warning.
fn changed(t: &TaskResult) -> bool {
    !crate::playbook::verbs::is_read_only(&t.cmdlet)
        && !t
            .warnings
            .iter()
            .any(|w| w.contains("completed successfully but no settings"))
}

/// A consumer of the event stream.
pub trait Reporter {
    /// Takes one event, as it happens.
    fn event(&mut self, event: &Event) -> io::Result<()>;
    /// Takes the final summary.
    fn finish(&mut self, summary: &RunSummary) -> io::Result<()>;
}

/// The terminal: progress bars, or plain lines for cron and CI (one per finished task); then
/// a summary per tenant.
pub struct Terminal<W: Write> {
    out: W,
    progress: Option<Progress>,
}

impl<W: Write> Terminal<W> {
    /// Plain lines on `out`.
    pub fn new(out: W) -> Self {
        Terminal {
            out,
            progress: None,
        }
    }

    /// Progress bars while the run goes on, failures printed above them, and the summary on
    /// `out` at the end.
    pub fn with_progress(out: W, progress: Progress) -> Self {
        Terminal {
            out,
            progress: Some(progress),
        }
    }

    /// Prints a message outside the event stream (above the bars, if there are any).
    pub fn message(&mut self, line: &str) -> io::Result<()> {
        match &self.progress {
            Some(p) => p.println(line),
            None => writeln!(self.out, "{line}"),
        }
    }
}

impl<W: Write> Reporter for Terminal<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if let Some(progress) = &mut self.progress {
            return progress.event(event);
        }
        match event {
            Event::Task(t) => {
                let status = match (t.status, changed(t)) {
                    (Status::Ok, true) => "changed",
                    (Status::Ok, false) => "ok",
                    (Status::Failed, _) => "FAILED",
                    (Status::Skipped, _) => "skipped",
                    (Status::Unknown, _) => "UNKNOWN",
                };
                write!(self.out, "{status:<8} {}", t.id)?;
                if t.status != Status::Skipped {
                    write!(self.out, "  {} ms", t.duration_ms)?;
                }
                if !t.retries.is_empty() {
                    write!(self.out, "  retried: {}", t.retries.join(", "))?;
                }
                if let Some(e) = &t.error
                    && matches!(t.status, Status::Failed | Status::Unknown)
                {
                    write!(self.out, "\n         {e}")?;
                }
                writeln!(self.out)
            }
            Event::Tenant {
                tenant,
                stopped: Some(why),
                ..
            } => writeln!(self.out, "STOPPED  {tenant}: {why}"),
            Event::Tenant { .. } | Event::Step { .. } => Ok(()),
        }
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        if let Some(progress) = &mut self.progress {
            progress.finish();
        }
        writeln!(self.out)?;
        let width = summary
            .tenants
            .keys()
            .map(String::len)
            .max()
            .unwrap_or(6)
            .max(6);
        writeln!(
            self.out,
            "{:width$}  {:>6} {:>7} {:>6} {:>7} {:>8}",
            "tenant", "ok", "changed", "failed", "skipped", "duration"
        )?;
        let line = |out: &mut W, name: &str, s: &TenantSummary, ms: u64| {
            writeln!(
                out,
                "{name:width$}  {:>6} {:>7} {:>6} {:>7} {:>7.1}s",
                s.ok,
                s.changed,
                s.failed,
                s.skipped,
                ms as f64 / 1000.0
            )
        };
        for (name, s) in &summary.tenants {
            line(&mut self.out, name, s, s.duration_ms)?;
        }
        line(&mut self.out, "total", &summary.total, summary.duration_ms)?;
        if !summary.complete {
            writeln!(
                self.out,
                "\nThe run was interrupted: this report is partial (tasks not listed did not finish)."
            )?;
        }
        if let Some(why) = &summary.stopped_by {
            writeln!(self.out, "\nGuardrail: {why}.")?;
        }
        if summary.total.unknown > 0 {
            writeln!(
                self.out,
                "\n{} task(s) have an unknown outcome: check them, then `tenantry run --resume --retry-unknown` sends them.",
                summary.total.unknown
            )?;
        }
        self.out.flush()
    }
}

/// The files of `--report DIR`. Memory stays small however many tasks run: results.jsonl and
/// results.csv are written as tasks finish, and junit.xml, which groups tasks by tenant, is
/// built at the end by reading results.jsonl back through an index of 16 bytes per task.
pub struct ReportDir {
    dir: PathBuf,
    results: BufWriter<File>,
    /// Bytes written to results.jsonl so far: where the next line starts.
    written: u64,
    csv: ::csv::Writer<BufWriter<File>>,
    /// Per task, in the order tasks finished: its tenant's number and its line's offset.
    index: Vec<(u32, u64)>,
    tenants: std::collections::HashMap<String, u32>,
}

const CSV_HEADER: [&str; 9] = [
    "id",
    "tenant",
    "step",
    "cmdlet",
    "status",
    "objects",
    "retries",
    "duration_ms",
    "error",
];

impl ReportDir {
    /// Creates the folder (if needed) and opens results.jsonl and results.csv.
    pub fn create(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let results = BufWriter::new(File::create(dir.join("results.jsonl"))?);
        let partial = BufWriter::new(File::create(dir.join(".results.csv.partial"))?);
        let mut csv = ::csv::Writer::from_writer(partial);
        csv.write_record(CSV_HEADER).map_err(io::Error::other)?;
        Ok(ReportDir {
            dir: dir.to_path_buf(),
            results,
            written: 0,
            csv,
            index: Vec::new(),
            tenants: std::collections::HashMap::new(),
        })
    }

    fn write_file(&self, name: &str, text: &str) -> io::Result<()> {
        // Written beside and renamed, so a reader never sees half a file.
        let path = self.dir.join(name);
        let partial = self.dir.join(format!(".{name}.partial"));
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, &path)
    }

    /// Writes junit.xml from results.jsonl, a tenant at a time.
    fn junit(&mut self, summary: &RunSummary) -> io::Result<()> {
        use std::io::BufRead;
        let mut index = std::mem::take(&mut self.index);
        // Stable: within a tenant, tasks stay in the order they finished.
        index.sort_by_key(|(tenant, _)| *tenant);
        let mut jsonl = io::BufReader::new(File::open(self.dir.join("results.jsonl"))?);
        let partial = self.dir.join(".junit.xml.partial");
        let mut out = BufWriter::new(File::create(&partial)?);
        writeln!(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")?;
        writeln!(
            out,
            "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
            xml(&summary.playbook),
            index.len(),
            summary.total.failed,
            summary.total.skipped,
            summary.duration_ms as f64 / 1000.0
        )?;
        let mut line = String::new();
        // Where the reader is: within a tenant offsets only grow, so a relative seek mostly
        // stays inside the reader's buffer instead of reading it again.
        let mut position = 0u64;
        for (tenant, s) in &summary.tenants {
            let cases: &[(u32, u64)] = match self.tenants.get(tenant) {
                Some(&n) => {
                    let from = index.partition_point(|(t, _)| *t < n);
                    let to = index.partition_point(|(t, _)| *t <= n);
                    &index[from..to]
                }
                None => &[],
            };
            writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
                xml(tenant),
                cases.len(),
                s.failed,
                s.skipped,
                s.duration_ms as f64 / 1000.0
            )?;
            for &(_, offset) in cases {
                jsonl.seek_relative(offset as i64 - position as i64)?;
                line.clear();
                jsonl.read_line(&mut line)?;
                position = offset + line.len() as u64;
                let task: TaskResult = serde_json::from_str(&line).map_err(io::Error::other)?;
                out.write_all(junit_case(tenant, &task).as_bytes())?;
            }
            writeln!(out, "  </testsuite>")?;
        }
        writeln!(out, "</testsuites>")?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&partial, self.dir.join("junit.xml"))
    }
}

impl Reporter for ReportDir {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if let Event::Task(t) = event {
            let mut line = serde_json::to_vec(t).map_err(io::Error::other)?;
            line.push(b'\n');
            self.results.write_all(&line)?;
            // Streamed: a killed run leaves every finished task on disk.
            self.results.flush()?;
            let next = self.tenants.len() as u32;
            let tenant = *self.tenants.entry(t.tenant.clone()).or_insert(next);
            self.index.push((tenant, self.written));
            self.written += line.len() as u64;
            let status = serde_json::to_value(t.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            self.csv
                .write_record([
                    t.id.as_str(),
                    &t.tenant,
                    &t.step,
                    &t.cmdlet,
                    &status,
                    &t.objects.to_string(),
                    &t.retries.join(" "),
                    &t.duration_ms.to_string(),
                    t.error.as_deref().unwrap_or(""),
                ])
                .map_err(io::Error::other)?;
        }
        Ok(())
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.results.flush()?;
        self.csv.flush()?;
        std::fs::rename(
            self.dir.join(".results.csv.partial"),
            self.dir.join("results.csv"),
        )?;
        let json = serde_json::to_string_pretty(summary).map_err(io::Error::other)?;
        self.write_file("summary.json", &json)?;
        self.junit(summary)?;
        self.write_file("summary.md", &markdown(summary))
    }
}

fn xml(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// Writes the reports of a past run from its journal: its known outcomes, and its tasks sent
/// without an answer as of unknown outcome.
pub fn from_journal(past: &crate::journal::PastRun, dir: &Path) -> io::Result<RunSummary> {
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
        // Ids are `tenant/step/item`, with `/` escaped inside each part.
        let mut parts = id.split('/');
        results.push(TaskResult {
            id: id.clone(),
            tenant: parts.next().unwrap_or_default().to_string(),
            step: parts.next().unwrap_or_default().to_string(),
            cmdlet: String::new(),
            status: Status::Unknown,
            objects: 0,
            warnings: Vec::new(),
            retries: Vec::new(),
            requests: 0,
            error: Some("sent, and the run ended before its answer".into()),
            error_class: None,
            duration_ms: 0,
        });
    }
    results.sort_by(|a, b| a.id.cmp(&b.id));
    let mut report = ReportDir::create(dir)?;
    for r in results {
        let event = Event::Task(r);
        summary.record(&event);
        report.event(&event)?;
    }
    report.finish(&summary)?;
    Ok(summary)
}

/// One task as a JUnit case (a tenant is a suite); retries are recorded as properties.
fn junit_case(tenant: &str, t: &TaskResult) -> String {
    let mut out = format!(
        "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">\n",
        xml(&format!("{tenant}.{}", t.step)),
        xml(&t.id),
        t.duration_ms as f64 / 1000.0
    );
    if !t.retries.is_empty() {
        out.push_str(&format!(
            "      <properties><property name=\"retries\" value=\"{}\"/></properties>\n",
            xml(&t.retries.join(", "))
        ));
    }
    match t.status {
        Status::Failed => out.push_str(&format!(
            "      <failure type=\"{}\" message=\"{}\"/>\n",
            xml(t.error_class.as_deref().unwrap_or("error")),
            xml(t.error.as_deref().unwrap_or(""))
        )),
        Status::Unknown => out.push_str(&format!(
            "      <error type=\"UnknownOutcome\" message=\"{}\"/>\n",
            xml(t.error.as_deref().unwrap_or(""))
        )),
        Status::Skipped => out.push_str(&format!(
            "      <skipped message=\"{}\"/>\n",
            xml(t.error.as_deref().unwrap_or(""))
        )),
        Status::Ok => {}
    }
    out.push_str("    </testcase>\n");
    out
}

/// A summary fit to paste into a pull-request comment.
fn markdown(summary: &RunSummary) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = format!("### tenantry run: {}\n\n", cell(&summary.playbook));
    if !summary.complete {
        out.push_str("> **Interrupted**: this report is partial.\n\n");
    }
    if let Some(why) = &summary.stopped_by {
        out.push_str(&format!("> **Guardrail**: {}.\n\n", cell(why)));
    }
    if summary.total.unknown > 0 {
        out.push_str(&format!(
            "> **{} task(s) of unknown outcome**: check them before resuming with `--retry-unknown`.\n\n",
            summary.total.unknown
        ));
    }
    out.push_str("| tenant | ok | changed | failed | skipped | duration | note |\n|---|---:|---:|---:|---:|---:|---|\n");
    for (name, s) in &summary.tenants {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.1}s | {} |\n",
            cell(name),
            s.ok,
            s.changed,
            s.failed,
            s.skipped,
            s.duration_ms as f64 / 1000.0,
            cell(s.stopped.as_deref().unwrap_or(""))
        ));
    }
    let t = &summary.total;
    out.push_str(&format!(
        "| **total** | {} | {} | {} | {} | {:.1}s | |\n",
        t.ok,
        t.changed,
        t.failed,
        t.skipped,
        summary.duration_ms as f64 / 1000.0
    ));
    out
}
