//! Reporters: consumers of the scheduler's event stream. The terminal gets a line per task and
//! a summary per tenant; `--report DIR` gets results.jsonl (streamed as tasks finish),
//! summary.json, results.csv, junit.xml and summary.md.

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

/// Plain lines for terminals, cron and CI: one per finished task, a summary per tenant.
pub struct Terminal<W: Write> {
    out: W,
}

impl<W: Write> Terminal<W> {
    /// Writes to `out`.
    pub fn new(out: W) -> Self {
        Terminal { out }
    }

    /// The writer, for messages outside the event stream.
    pub fn out(&mut self) -> &mut W {
        &mut self.out
    }
}

impl<W: Write> Reporter for Terminal<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::Task(t) => {
                let status = match (t.status, changed(t)) {
                    (Status::Ok, true) => "changed",
                    (Status::Ok, false) => "ok",
                    (Status::Failed, _) => "FAILED",
                    (Status::Skipped, _) => "skipped",
                };
                write!(self.out, "{status:<8} {}", t.id)?;
                if t.status != Status::Skipped {
                    write!(self.out, "  {} ms", t.duration_ms)?;
                }
                if !t.retries.is_empty() {
                    write!(self.out, "  retried: {}", t.retries.join(", "))?;
                }
                if let Some(e) = &t.error
                    && t.status == Status::Failed
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
            Event::Tenant { .. } => Ok(()),
        }
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
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
        self.out.flush()
    }
}

/// The files of `--report DIR`.
pub struct ReportDir {
    dir: PathBuf,
    results: BufWriter<File>,
    tasks: Vec<TaskResult>,
}

impl ReportDir {
    /// Creates the folder (if needed) and opens results.jsonl.
    pub fn create(dir: &Path) -> io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let results = BufWriter::new(File::create(dir.join("results.jsonl"))?);
        Ok(ReportDir {
            dir: dir.to_path_buf(),
            results,
            tasks: Vec::new(),
        })
    }

    fn write_file(&self, name: &str, text: &str) -> io::Result<()> {
        // Written beside and renamed, so a reader never sees half a file.
        let path = self.dir.join(name);
        let partial = self.dir.join(format!(".{name}.partial"));
        std::fs::write(&partial, text)?;
        std::fs::rename(&partial, &path)
    }
}

impl Reporter for ReportDir {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if let Event::Task(t) = event {
            serde_json::to_writer(&mut self.results, t)?;
            self.results.write_all(b"\n")?;
            // Streamed: a killed run leaves every finished task on disk.
            self.results.flush()?;
            self.tasks.push(t.clone());
        }
        Ok(())
    }

    fn finish(&mut self, summary: &RunSummary) -> io::Result<()> {
        self.results.flush()?;
        let json = serde_json::to_string_pretty(summary).map_err(io::Error::other)?;
        self.write_file("summary.json", &json)?;
        self.write_file("results.csv", &csv(&self.tasks)?)?;
        self.write_file("junit.xml", &junit(&self.tasks, summary))?;
        self.write_file("summary.md", &markdown(summary))
    }
}

fn csv(tasks: &[TaskResult]) -> io::Result<String> {
    let mut w = ::csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "tenant",
        "step",
        "cmdlet",
        "status",
        "objects",
        "retries",
        "duration_ms",
        "error",
    ])
    .map_err(io::Error::other)?;
    for t in tasks {
        let status = serde_json::to_value(t.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        w.write_record([
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
    let bytes = w
        .into_inner()
        .map_err(|e| io::Error::other(e.to_string()))?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
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

/// JUnit XML: a tenant is a suite, a task is a case; retries are recorded as properties.
fn junit(tasks: &[TaskResult], summary: &RunSummary) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n",
        xml(&summary.playbook),
        tasks.len(),
        summary.total.failed,
        summary.total.skipped,
        summary.duration_ms as f64 / 1000.0
    ));
    for (tenant, s) in &summary.tenants {
        let cases: Vec<&TaskResult> = tasks.iter().filter(|t| &t.tenant == tenant).collect();
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n",
            xml(tenant),
            cases.len(),
            s.failed,
            s.skipped,
            s.duration_ms as f64 / 1000.0
        ));
        for t in cases {
            out.push_str(&format!(
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">\n",
                xml(&format!("{tenant}.{}", t.step)),
                xml(&t.id),
                t.duration_ms as f64 / 1000.0
            ));
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
                Status::Skipped => out.push_str(&format!(
                    "      <skipped message=\"{}\"/>\n",
                    xml(t.error.as_deref().unwrap_or(""))
                )),
                Status::Ok => {}
            }
            out.push_str("    </testcase>\n");
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// A summary fit to paste into a pull-request comment.
fn markdown(summary: &RunSummary) -> String {
    let cell = |s: &str| s.replace('|', "\\|").replace('\n', " ");
    let mut out = format!("### tenantry run: {}\n\n", cell(&summary.playbook));
    if !summary.complete {
        out.push_str("> **Interrupted**: this report is partial.\n\n");
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
