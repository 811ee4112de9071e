//! The terminal: progress bars on an interactive terminal, or a line per task for cron and CI;
//! messages as they come; then a summary per tenant.

use std::io::{self, Write};

use super::Progress;
use crate::events::{
    Event, Origin, Reporter, RunStart, RunSummary, Status, TaskResult, TenantSummary,
};

/// The terminal reporter.
pub(crate) struct Terminal<W: Write> {
    /// Buffered: a task's line is written with the others of its wake-up (see
    /// [`Reporter::flush`]), anything else at once.
    out: io::BufWriter<W>,
    /// Bars are wanted: they start with the run, once its plan is known.
    bars: bool,
    progress: Option<Progress>,
}

impl<W: Write> Terminal<W> {
    /// Plain lines on `out`.
    pub(crate) fn new(out: W) -> Self {
        Terminal {
            out: io::BufWriter::new(out),
            bars: false,
            progress: None,
        }
    }

    /// Progress bars on standard error from the run's start, failures printed above them,
    /// and the summary on `out` at the end. Lines before the run starts (warnings, sign-in
    /// prompts) stay plain.
    pub(crate) fn with_bars(out: W) -> Self {
        Terminal {
            out: io::BufWriter::new(out),
            bars: true,
            progress: None,
        }
    }

    /// Prints a line, above the bars if there are any.
    fn line(&mut self, line: &str) -> io::Result<()> {
        match &self.progress {
            Some(p) => p.println(line),
            None => writeln!(self.out, "{line}"),
        }
    }

    fn started(&mut self, run: &RunStart) -> io::Result<()> {
        if self.bars && self.progress.is_none() {
            self.progress = Some(Progress::stderr(&run.planned));
        }
        if run.check {
            // A check keeps no journal: it sends no write to resume.
            self.line("check: reads are sent, writes are not")?;
        } else {
            self.line(&format!(
                "run {} (journal in {})",
                run.id,
                run.journal.display()
            ))?;
        }
        if let Some((replayed, unknown)) = run.resuming {
            self.line(&format!(
                "resuming: {replayed} write{} already done, {unknown} sent without an answer",
                crate::diagnostic::plural(replayed),
            ))?;
        }
        Ok(())
    }

    fn task(&mut self, t: &TaskResult) -> io::Result<()> {
        let status = match (t.status, t.changed()) {
            (Status::Ok, true) => "changed",
            (Status::Ok, false) => "ok",
            (Status::Failed, _) => "FAILED",
            (Status::Skipped, _) => "skipped",
            (Status::Unknown, _) => "UNKNOWN",
            (Status::Drift, _) => "drift",
            (Status::Stale, _) => "STALE",
        };
        write!(self.out, "{status:<8} {}", t.id)?;
        if t.status != Status::Skipped {
            write!(self.out, "  {} ms", t.duration_ms)?;
        }
        if t.new {
            write!(self.out, "  new since the previous check")?;
        }
        if !t.retries.is_empty() {
            write!(self.out, "  retried: {}", t.retries.join(", "))?;
        }
        if let Some(e) = &t.error
            && (t.status.is_failure() || t.status == Status::Stale)
        {
            write!(self.out, "\n         {e}")?;
        }
        // What desired state found different: what changed, or in a check what would.
        match t.action {
            Some(crate::state::Action::Create) => write!(self.out, "\n         create")?,
            Some(crate::state::Action::Remove) => write!(self.out, "\n         remove")?,
            _ => {}
        }
        for change in &t.changes {
            write!(self.out, "\n         {change}")?;
        }
        if let Some(would) = &t.would {
            write!(self.out, "\n         would send: {would}")?;
        }
        writeln!(self.out)
    }

    fn finished(&mut self, summary: &RunSummary) -> io::Result<()> {
        if let Some(progress) = &mut self.progress {
            progress.finish();
        }
        writeln!(self.out)?;
        table(&mut self.out, summary)?;
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

/// The per-tenant table of the summary.
fn table(out: &mut impl Write, summary: &RunSummary) -> io::Result<()> {
    let width = summary
        .tenants
        .keys()
        .map(String::len)
        .max()
        .unwrap_or(6)
        .max(6);
    // A check's table has its drift where a run's has what changed.
    let check = summary.check;
    writeln!(
        out,
        "{:width$}  {:>6} {:>7} {:>6} {:>7} {:>8}",
        "tenant",
        "ok",
        if check { "drift" } else { "changed" },
        "failed",
        "skipped",
        "duration"
    )?;
    let mut line = |name: &str, s: &TenantSummary, ms: u64| {
        writeln!(
            out,
            "{name:width$}  {:>6} {:>7} {:>6} {:>7} {:>7.1}s",
            s.ok,
            if check { s.drift } else { s.changed },
            s.failed,
            s.skipped,
            ms as f64 / 1000.0
        )
    };
    for (name, s) in &summary.tenants {
        line(name, s, s.duration_ms)?;
    }
    line("total", &summary.total, summary.duration_ms)
}

impl<W: Write> Reporter for Terminal<W> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        self.show(event)?;
        if matches!(event, Event::TaskFinished { .. } | Event::TaskSent { .. }) {
            Ok(())
        } else {
            self.out.flush()
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

impl<W: Write> Terminal<W> {
    fn show(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::RunStarted(run) => return self.started(run),
            Event::Message(line) => return self.line(line),
            Event::RunFinished(summary) => return self.finished(summary),
            _ => {}
        }
        if let Some(progress) = &mut self.progress {
            return progress.event(event);
        }
        match event {
            // An earlier run's results are counted, not listed again: the resuming line says
            // how many there are.
            Event::TaskFinished {
                origin: Origin::Earlier,
                ..
            } => Ok(()),
            Event::TaskFinished { result, .. } => self.task(result),
            Event::TenantFinished {
                tenant,
                stopped: Some(why),
                ..
            } => writeln!(self.out, "STOPPED  {tenant}: {why}"),
            _ => Ok(()),
        }
    }
}
