//! Progress bars for an interactive terminal: one bar for the whole run and a line per tenant
//! at work. Failures and stops are printed above the bars as they happen; the rest is left to
//! the summary.

use std::collections::{BTreeMap, HashMap};
use std::io;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::events::{Event, Origin};

/// Tenant lines shown at once; the others are counted on one line, so a run over hundreds
/// of tenants still fits a terminal.
const TENANT_LINES: usize = 8;

/// The bars of one run.
pub(crate) struct Progress {
    multi: MultiProgress,
    overall: ProgressBar,
    /// The "and N more" line, added below the tenant lines once it is needed.
    more: ProgressBar,
    more_shown: bool,
    /// Tenants with a line, by name.
    shown: HashMap<String, ProgressBar>,
    /// Tenants at work without a line, in the order they started.
    waiting: Vec<String>,
    /// Per tenant: task events expected (planned, plus steps expanded at run time) and seen.
    tally: HashMap<String, (u64, u64)>,
    /// Per tenant at work: the step it is on.
    steps: HashMap<String, String>,
    failed: u64,
}

impl Progress {
    /// Bars drawn on standard error, for a run whose tenants plan `planned` task events each.
    pub(crate) fn stderr(planned: &BTreeMap<String, usize>) -> Self {
        Self::with_target(ProgressDrawTarget::stderr_with_hz(10), planned)
    }

    /// Bars drawn on `target` (tests draw on a terminal in memory).
    pub(crate) fn with_target(
        target: ProgressDrawTarget,
        planned: &BTreeMap<String, usize>,
    ) -> Self {
        let multi = MultiProgress::with_draw_target(target);
        let total: usize = planned.values().sum();
        let overall = multi.add(ProgressBar::new(total as u64));
        overall.set_style(
            ProgressStyle::with_template("{elapsed:>4} [{wide_bar}] {pos}/{len} tasks {msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        overall.enable_steady_tick(Duration::from_millis(200));
        let more = ProgressBar::new(0);
        more.set_style(ProgressStyle::with_template("{msg}").expect("a valid template"));
        Progress {
            multi,
            overall,
            more,
            more_shown: false,
            shown: HashMap::new(),
            waiting: Vec::new(),
            tally: planned
                .iter()
                .map(|(name, n)| (name.clone(), (*n as u64, 0)))
                .collect(),
            steps: HashMap::new(),
            failed: 0,
        }
    }

    /// Prints a line above the bars.
    pub(crate) fn println(&self, line: &str) -> io::Result<()> {
        self.multi.println(line)
    }

    /// Takes one event.
    pub(crate) fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::StepStarted {
                tenant,
                step,
                records,
                at_run_time,
            } => {
                if *at_run_time {
                    self.tally.entry(tenant.clone()).or_default().0 += *records as u64;
                    self.overall.inc_length(*records as u64);
                }
                self.steps.insert(tenant.clone(), step.clone());
                self.show(tenant);
                if let Some(bar) = self.shown.get(tenant) {
                    bar.set_length(self.tally.get(tenant).map_or(0, |t| t.0));
                    bar.set_message(step.clone());
                }
            }
            Event::TaskFinished { result: t, origin } => {
                self.overall.inc(1);
                self.tally.entry(t.tenant.clone()).or_default().1 += 1;
                if let Some(bar) = self.shown.get(&t.tenant) {
                    bar.inc(1);
                }
                if t.status.is_failure() && *origin != Origin::Earlier {
                    self.failed += 1;
                    self.overall
                        .set_message(format!("({} failed)", self.failed));
                    let why = t.error.as_deref().unwrap_or("failed");
                    let label = if t.status == crate::events::Status::Unknown {
                        "UNKNOWN"
                    } else {
                        "FAILED"
                    };
                    self.println(&format!("{label:<8} {}\n         {why}", t.id))?;
                }
            }
            Event::TenantFinished {
                tenant, stopped, ..
            } => {
                if let Some(why) = stopped {
                    self.println(&format!("STOPPED  {tenant}: {why}"))?;
                }
                // What a stopped tenant will not do leaves the total, so the bar can finish.
                if let Some((expected, seen)) = self.tally.remove(tenant) {
                    let left = expected.saturating_sub(seen);
                    let length = self.overall.length().unwrap_or(0);
                    self.overall.set_length(length.saturating_sub(left));
                }
                if let Some(bar) = self.shown.remove(tenant) {
                    self.multi.remove(&bar);
                }
                self.waiting.retain(|w| w != tenant);
                self.steps.remove(tenant);
                while self.shown.len() < TENANT_LINES && !self.waiting.is_empty() {
                    let next = self.waiting.remove(0);
                    self.add_line(&next);
                }
                self.count_more();
            }
            _ => {}
        }
        Ok(())
    }

    /// Clears the bars, before the summary is printed.
    pub(crate) fn finish(&mut self) {
        for bar in self.shown.values() {
            bar.finish_and_clear();
        }
        self.more.finish_and_clear();
        self.overall.finish_and_clear();
        let _ = self.multi.clear();
    }

    fn show(&mut self, tenant: &str) {
        if self.shown.contains_key(tenant) || self.waiting.iter().any(|w| w == tenant) {
            return;
        }
        if self.shown.len() < TENANT_LINES {
            self.add_line(tenant);
        } else {
            self.waiting.push(tenant.to_string());
            self.count_more();
        }
    }

    fn add_line(&mut self, tenant: &str) {
        let (expected, seen) = self.tally.get(tenant).copied().unwrap_or_default();
        let bar = ProgressBar::new(expected);
        let bar = if self.more_shown {
            self.multi.insert_before(&self.more, bar)
        } else {
            self.multi.add(bar)
        };
        bar.set_style(
            ProgressStyle::with_template("  {prefix:18!} [{bar:24}] {pos:>5}/{len:<5} {wide_msg}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        bar.set_prefix(tenant.to_string());
        bar.set_position(seen);
        if let Some(step) = self.steps.get(tenant) {
            bar.set_message(step.clone());
        }
        self.shown.insert(tenant.to_string(), bar);
    }

    fn count_more(&mut self) {
        if !self.waiting.is_empty() && !self.more_shown {
            self.more_shown = true;
            self.more = self.multi.add(self.more.clone());
        } else if self.waiting.is_empty() && self.more_shown {
            // No blank line left behind once every tenant at work has a line.
            self.more_shown = false;
            self.multi.remove(&self.more);
            // A removal is drawn at the next change; make that now.
            self.overall.tick();
        }
        match self.waiting.len() {
            0 => self.more.set_message(""),
            n => self.more.set_message(format!(
                "  … and {n} more tenant{} at work",
                crate::diagnostic::plural(n)
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Status, TaskResult};
    use indicatif::InMemoryTerm;

    fn step(tenant: &str, records: usize, at_run_time: bool) -> Event {
        Event::StepStarted {
            tenant: tenant.into(),
            step: "1-set-mailbox".into(),
            records,
            at_run_time,
        }
    }

    fn task(tenant: &str, item: &str, status: Status) -> Event {
        let mut result = TaskResult::new(
            format!("{tenant}/1-set-mailbox/{item}"),
            tenant.into(),
            "1-set-mailbox".into(),
            "Set-Mailbox".into(),
            status,
        );
        result.requests = 1;
        result.error = (status == Status::Failed).then(|| "the mailbox was not found".into());
        result.duration_ms = 50;
        Event::TaskFinished {
            origin: Origin::Sent,
            result,
        }
    }

    /// Gives `p` an event and waits out the draw rate limit, so that every change is drawn.
    fn feed(p: &mut Progress, event: &Event) {
        p.event(event).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }

    fn progress(term: &InMemoryTerm, planned: &[(&str, usize)]) -> Progress {
        let planned = planned
            .iter()
            .map(|(name, n)| (name.to_string(), *n))
            .collect();
        // A refresh rate this high draws every change, so the screen is deterministic.
        let target = ProgressDrawTarget::term_like_with_hz(Box::new(term.clone()), 255);
        Progress::with_target(target, &planned)
    }

    #[test]
    fn the_screen_shows_the_run_each_tenant_at_work_and_failures_above_the_bars() {
        let term = InMemoryTerm::new(16, 100);
        let tenants: Vec<String> = (1..=10).map(|i| format!("t{i:02}")).collect();
        let planned: Vec<(&str, usize)> = tenants.iter().map(|t| (t.as_str(), 4)).collect();
        let mut p = progress(&term, &planned);
        for t in &tenants {
            feed(&mut p, &step(t, 4, false));
        }
        feed(&mut p, &task("t01", "user001", Status::Ok));
        feed(&mut p, &task("t01", "user002", Status::Failed));
        let screen = term.contents();
        assert!(
            screen.starts_with(
                "FAILED   t01/1-set-mailbox/user002\n         the mailbox was not found"
            ),
            "{screen}"
        );
        assert!(screen.contains("2/40 tasks (1 failed)"), "{screen}");
        assert!(screen.contains("  t01 "), "{screen}");
        assert!(screen.contains("2/4"), "{screen}");
        assert!(screen.contains("  t08 "), "{screen}");
        assert!(
            !screen.contains("  t09 "),
            "eight tenant lines at most:\n{screen}"
        );
        assert!(screen.contains("… and 2 more tenants at work"), "{screen}");

        // A finished tenant gives its line to one that was waiting.
        feed(&mut p, &task("t01", "user003", Status::Ok));
        feed(&mut p, &task("t01", "user004", Status::Ok));
        feed(
            &mut p,
            &Event::TenantFinished {
                tenant: "t01".into(),
                stopped: None,
                duration_ms: 200,
            },
        );
        let screen = term.contents();
        assert!(!screen.contains("  t01 "), "{screen}");
        assert!(screen.contains("  t09 "), "{screen}");
        assert!(
            screen
                .lines()
                .any(|l| l.starts_with("  t09 ") && l.ends_with("1-set-mailbox")),
            "a tenant given a line shows its step:\n{screen}"
        );
        assert!(screen.contains("… and 1 more tenant at work"), "{screen}");
        feed(
            &mut p,
            &Event::TenantFinished {
                tenant: "t02".into(),
                stopped: None,
                duration_ms: 200,
            },
        );
        // The removal of the last line is drawn with the next change or steady tick (every
        // 200 ms), whichever the draw rate allows first.
        std::thread::sleep(Duration::from_millis(300));
        let screen = term.contents();
        assert!(screen.contains("  t10 "), "{screen}");
        assert!(!screen.contains("more tenant"), "{screen}");
        assert_eq!(
            screen.lines().count(),
            11,
            "failure (2 lines), the run, 8 tenants:\n{screen}"
        );
        p.finish();
        assert!(
            !term.contents().contains("tasks"),
            "the bars are cleared at the end"
        );
    }

    #[test]
    fn run_time_steps_grow_the_total_and_stopped_tenants_shrink_it() {
        let term = InMemoryTerm::new(10, 100);
        let mut p = progress(&term, &[("contoso", 1), ("fabrikam", 1)]);
        feed(&mut p, &step("contoso", 1, false));
        feed(&mut p, &task("contoso", "get", Status::Ok));
        // The step that reads the Get's output has 5 items.
        feed(&mut p, &step("contoso", 5, true));
        assert!(term.contents().contains("1/7 tasks"), "{}", term.contents());
        // fabrikam stops before its one task: the total no longer waits for it.
        feed(
            &mut p,
            &Event::TenantFinished {
                tenant: "fabrikam".into(),
                stopped: Some("sign-in refused".into()),
                duration_ms: 10,
            },
        );
        let screen = term.contents();
        assert!(
            screen.contains("STOPPED  fabrikam: sign-in refused"),
            "{screen}"
        );
        assert!(screen.contains("1/6 tasks"), "{screen}");
    }
}
