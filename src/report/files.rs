//! The files of `--report DIR`, each its own reporter. results.jsonl is streamed as tasks
//! finish, so a killed run leaves every finished task on disk; the others are written beside
//! their final name and renamed into place when the run finishes, so a reader never sees half
//! a file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::events::{Event, Reporter, RunSummary};

/// The reporters of `--report DIR`, in the order they must see events (junit.xml is built from
/// results.jsonl, so that comes first). Creates the folder and opens the streamed files.
pub(crate) fn report_files(dir: &Path) -> io::Result<Vec<(&'static str, Box<dyn Reporter>)>> {
    std::fs::create_dir_all(dir)?;
    Ok(vec![
        ("results.jsonl", Box::new(JsonLines::create(dir)?)),
        ("results.csv", Box::new(Csv::create(dir)?)),
        ("summary.json", Box::new(SummaryFile::json(dir))),
        ("junit.xml", Box::new(super::JUnit::new(dir))),
        ("summary.md", Box::new(SummaryFile::markdown(dir))),
    ])
}

/// Writes `text` to `dir/name` through a partial file renamed into place.
pub(super) fn write_atomically(dir: &Path, name: &str, text: &str) -> io::Result<()> {
    let partial = dir.join(format!(".{name}.partial"));
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, dir.join(name))
}

/// results.jsonl: a line per finished task, written and flushed as it finishes.
pub(crate) struct JsonLines {
    out: BufWriter<File>,
}

impl JsonLines {
    /// Creates `dir/results.jsonl`.
    pub(crate) fn create(dir: &Path) -> io::Result<Self> {
        Ok(JsonLines {
            out: BufWriter::new(File::create(dir.join("results.jsonl"))?),
        })
    }
}

impl Reporter for JsonLines {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::TaskFinished { result, .. } => {
                let mut line = serde_json::to_vec(result).map_err(io::Error::other)?;
                line.push(b'\n');
                self.out.write_all(&line)?;
                // Streamed: a killed run leaves every finished task on disk.
                self.out.flush()
            }
            Event::RunFinished(_) => self.out.flush(),
            _ => Ok(()),
        }
    }
}

const CSV_HEADER: [&str; 10] = [
    "id",
    "tenant",
    "step",
    "cmdlet",
    "status",
    "objects",
    "retries",
    "duration_ms",
    "error",
    "changes",
];

/// results.csv: a row per finished task, for spreadsheets.
pub(crate) struct Csv {
    dir: PathBuf,
    csv: ::csv::Writer<BufWriter<File>>,
}

impl Csv {
    /// Opens the partial file the rows go to until the run finishes.
    pub(crate) fn create(dir: &Path) -> io::Result<Self> {
        let partial = BufWriter::new(File::create(dir.join(".results.csv.partial"))?);
        let mut csv = ::csv::Writer::from_writer(partial);
        csv.write_record(CSV_HEADER).map_err(io::Error::other)?;
        Ok(Csv {
            dir: dir.to_path_buf(),
            csv,
        })
    }
}

impl Reporter for Csv {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::TaskFinished { result: t, .. } => self
                .csv
                .write_record([
                    t.id.as_str(),
                    &t.tenant,
                    &t.step,
                    &t.cmdlet,
                    t.status.as_str(),
                    &t.objects.to_string(),
                    &t.retries.join(" "),
                    &t.duration_ms.to_string(),
                    t.error.as_deref().unwrap_or(""),
                    &t.describe_changes(),
                ])
                .map_err(io::Error::other),
            Event::RunFinished(_) => {
                self.csv.flush()?;
                std::fs::rename(
                    self.dir.join(".results.csv.partial"),
                    self.dir.join("results.csv"),
                )
            }
            _ => Ok(()),
        }
    }
}

/// A file written once, from the run's summary, when the run finishes: summary.json (the
/// tally, per tenant and in all) or summary.md (a table fit to paste into a pull-request
/// comment).
pub(crate) struct SummaryFile {
    dir: PathBuf,
    name: &'static str,
    render: fn(&RunSummary) -> io::Result<String>,
}

impl SummaryFile {
    /// summary.json in `dir`.
    pub(crate) fn json(dir: &Path) -> Self {
        SummaryFile {
            dir: dir.to_path_buf(),
            name: "summary.json",
            render: |summary| serde_json::to_string_pretty(summary).map_err(io::Error::other),
        }
    }

    /// summary.md in `dir`.
    pub(crate) fn markdown(dir: &Path) -> Self {
        SummaryFile {
            dir: dir.to_path_buf(),
            name: "summary.md",
            render: |summary| Ok(markdown(summary)),
        }
    }
}

impl Reporter for SummaryFile {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        let Event::RunFinished(summary) = event else {
            return Ok(());
        };
        write_atomically(&self.dir, self.name, &(self.render)(summary)?)
    }
}

/// A summary fit to paste into a pull-request comment.
fn markdown(summary: &RunSummary) -> String {
    let cell = super::markdown_cell;
    let command = if summary.check { "check" } else { "run" };
    let mut out = format!("### tenantry {command}: {}\n\n", cell(&summary.playbook));
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
    // A check's drift stands where a run's changes do.
    let (label, moved): (_, fn(&crate::events::TenantSummary) -> usize) = if summary.check {
        ("drift", |s| s.drift)
    } else {
        ("changed", |s| s.changed)
    };
    out.push_str(&format!("| tenant | ok | {label} | failed | skipped | duration | note |\n|---|---:|---:|---:|---:|---:|---|\n"));
    for (name, s) in &summary.tenants {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.1}s | {} |\n",
            cell(name),
            s.ok,
            moved(s),
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
        moved(t),
        t.failed,
        t.skipped,
        summary.duration_ms as f64 / 1000.0
    ));
    out
}
