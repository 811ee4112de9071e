//! junit.xml: a suite per tenant, a case per task, for CI systems that show test results.
//!
//! It is written by hand rather than with `quick-junit`: that crate builds the whole report in
//! memory before it serializes (its suite writer is private), while a run's memory must stay
//! flat in its task count. So the cases are read back from results.jsonl, a tenant at a time,
//! through an index (nothing per task while the run goes on, 8 bytes while junit.xml is written),
//! and escaped by [`xml`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::events::{Event, Reporter, RunSummary, Status, TaskResult};

/// junit.xml, built when the run finishes from the results.jsonl written beside it.
pub(crate) struct JUnit {
    dir: PathBuf,
    /// Tasks finished so far: the lines results.jsonl holds for them.
    finished: u64,
    /// Each tenant's number, in the order they first finished a task.
    tenants: HashMap<String, u32>,
}

/// Bits of a packed index entry that hold a line's offset in results.jsonl (16 TiB); the
/// tenant's number takes the 20 bits above (a million tenants).
const OFFSET_BITS: u32 = 44;

impl JUnit {
    /// Writes into `dir` when the run finishes; results.jsonl must be written there first.
    pub(crate) fn new(dir: &Path) -> Self {
        JUnit {
            dir: dir.to_path_buf(),
            finished: 0,
            tenants: HashMap::new(),
        }
    }

    /// Per task, its tenant's number and its line's offset in results.jsonl packed in one
    /// `u64`, sorted: grouped by tenant, in the order tasks finished within each. Nothing is
    /// kept per task while the run goes on, and 8 bytes per task only while junit.xml is
    /// written.
    fn index(&self) -> io::Result<Vec<u64>> {
        #[derive(serde::Deserialize)]
        struct Tenant<'a> {
            #[serde(borrow)]
            tenant: std::borrow::Cow<'a, str>,
        }
        let file = File::open(self.dir.join("results.jsonl"))?;
        // Only what the file held when it was opened: a file that is not what results.jsonl
        // wrote (a device, one still growing) cannot keep the reader going.
        let len = file.metadata()?.len();
        let mut jsonl = BufReader::new(io::Read::take(file, len));
        let mut index = Vec::with_capacity(usize::try_from(self.finished).unwrap_or(0));
        let (mut offset, mut line) = (0u64, Vec::new());
        for _ in 0..self.finished {
            line.clear();
            let n = jsonl.read_until(b'\n', &mut line)?;
            if n == 0 {
                return Err(io::Error::other(
                    "results.jsonl holds fewer tasks than the run finished",
                ));
            }
            let task: Tenant<'_> = serde_json::from_slice(&line).map_err(io::Error::other)?;
            let tenant = self.tenants.get(task.tenant.as_ref()).ok_or_else(|| {
                io::Error::other("results.jsonl holds a task of a tenant the run did not have")
            })?;
            if offset >> OFFSET_BITS != 0 {
                return Err(io::Error::other("results.jsonl is too large for junit.xml"));
            }
            index.push(u64::from(*tenant) << OFFSET_BITS | offset);
            offset += n as u64;
        }
        index.sort_unstable();
        Ok(index)
    }

    fn write(&mut self, summary: &RunSummary) -> io::Result<()> {
        let index = self.index()?;
        let mut jsonl = BufReader::new(File::open(self.dir.join("results.jsonl"))?);
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
        let mut reader = Reader {
            jsonl: &mut jsonl,
            position: 0,
            line: String::new(),
        };
        for (tenant, s) in &summary.tenants {
            let cases: &[u64] = match self.tenants.get(tenant) {
                Some(&n) => {
                    let n = u64::from(n);
                    let from = index.partition_point(|e| e >> OFFSET_BITS < n);
                    let to = index.partition_point(|e| e >> OFFSET_BITS <= n);
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
            for &entry in cases {
                let task = reader.task_at(entry & ((1 << OFFSET_BITS) - 1))?;
                if task.tenant != *tenant {
                    // results.jsonl missed a task (its writer failed): the lines no longer
                    // follow the run's order, and no case may land in the wrong suite.
                    return Err(io::Error::other(
                        "results.jsonl does not hold the run's tasks in order; junit.xml not written",
                    ));
                }
                out.write_all(case(tenant, &task).as_bytes())?;
            }
            writeln!(out, "  </testsuite>")?;
        }
        writeln!(out, "</testsuites>")?;
        out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(&partial, self.dir.join("junit.xml"))
    }
}

/// Reads tasks from results.jsonl by offset. Within a tenant offsets only grow, so a relative
/// seek mostly stays inside the reader's buffer instead of reading it again.
struct Reader<'a> {
    jsonl: &'a mut BufReader<File>,
    position: u64,
    line: String,
}

impl Reader<'_> {
    fn task_at(&mut self, offset: u64) -> io::Result<TaskResult> {
        self.jsonl
            .seek_relative(offset as i64 - self.position as i64)?;
        self.line.clear();
        self.jsonl.read_line(&mut self.line)?;
        self.position = offset + self.line.len() as u64;
        serde_json::from_str(&self.line).map_err(io::Error::other)
    }
}

impl Reporter for JUnit {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::TaskFinished { result, .. } => {
                if !self.tenants.contains_key(&result.tenant) {
                    let next = self.tenants.len() as u32;
                    self.tenants.insert(result.tenant.clone(), next);
                }
                self.finished += 1;
                Ok(())
            }
            Event::RunFinished(summary) => self.write(summary),
            _ => Ok(()),
        }
    }
}

/// `text` escaped for an XML attribute, without the control characters XML 1.0 forbids.
pub(super) fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    xml_into(&mut out, text);
    out
}

/// [`xml`], appended to `out`.
fn xml_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && !matches!(c, '\n' | '\t') => {}
            c => out.push(c),
        }
    }
}

/// One task as a JUnit case (a tenant is a suite); retries are recorded as properties.
fn case(tenant: &str, t: &TaskResult) -> String {
    let mut out = String::with_capacity(160);
    out.push_str("    <testcase classname=\"");
    xml_into(&mut out, tenant);
    out.push('.');
    xml_into(&mut out, &t.step);
    out.push_str("\" name=\"");
    xml_into(&mut out, &t.id);
    let _ = std::fmt::Write::write_fmt(
        &mut out,
        format_args!("\" time=\"{:.3}\">\n", t.duration_ms as f64 / 1000.0),
    );
    if !t.retries.is_empty() {
        out.push_str(&format!(
            "      <properties><property name=\"retries\" value=\"{}\"/></properties>\n",
            xml(&t.retries.join(", "))
        ));
    }
    let error = || xml(t.error.as_deref().unwrap_or(""));
    match t.status {
        Status::Failed => out.push_str(&format!(
            "      <failure type=\"{}\" message=\"{}\"/>\n",
            xml(t.error_class.as_deref().unwrap_or("error")),
            error()
        )),
        Status::Unknown => out.push_str(&format!(
            "      <error type=\"UnknownOutcome\" message=\"{}\"/>\n",
            error()
        )),
        Status::Skipped => out.push_str(&format!("      <skipped message=\"{}\"/>\n", error())),
        // Drift fails its case: a check's JUnit report shows what needs changing in red.
        Status::Drift => out.push_str(&format!(
            "      <failure type=\"Drift\" message=\"{}\"/>\n",
            xml(&t.describe_changes())
        )),
        // Not sent: its object changed since the plan was reviewed.
        Status::Stale => out.push_str(&format!(
            "      <failure type=\"Stale\" message=\"{}\"/>\n",
            error()
        )),
        Status::Ok => {}
    }
    out.push_str("    </testcase>\n");
    out
}
