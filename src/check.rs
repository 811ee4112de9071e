//! `tenantry check`: a run that sends the reads and no write. Desired-state steps report per
//! object and property what differs (current -> desired), other writes the call they would
//! send. The result is written as text, JSON Lines (`schemas/check.schema.json`) or Markdown
//! for a pull-request comment, and the drift found is kept in the state folder, so the next
//! check of the playbook marks what is new since this one.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::events::{Event, Fanout, Origin, Reporter, RunSummary, Status, TaskResult};
use crate::exit;
use crate::journal::StateDir;
use crate::report::markdown_cell as cell;
use crate::state::{Action, Change};
use tenantry_common::sha256_u64;

/// The version of the check record format; bumped only on incompatible changes.
pub const CHECK_FORMAT: u32 = 1;

/// How `tenantry check` writes its result on standard output.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A line per object, what differs beneath it, and a table per tenant.
    #[default]
    Text,
    /// One JSON record per line (`schemas/check.schema.json`), for programs.
    Jsonl,
    /// Markdown, for a pull-request comment.
    Markdown,
}

/// What `check` was asked beyond a run's settings.
#[derive(Clone, Debug, Default)]
pub struct CheckSettings {
    /// How the result is written on standard output.
    pub format: Format,
    /// `--out FILE`: the plan file to write, for `run --plan`.
    pub out: Option<PathBuf>,
}

/// One line of `tenantry check --format jsonl`, tagged by `type`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schemars(title = "tenantry check record")]
pub enum CheckRecord<'a> {
    /// One object or call: whether it needs a change, and which.
    Task(CheckedTask<'a>),
    /// Last line: the totals. A check without it is incomplete.
    Summary(CheckSummary<'a>),
}

/// One object or call.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CheckedTask<'a> {
    /// The check record format version ([`CHECK_FORMAT`]).
    pub format: u32,
    /// The task id (`TENANT/STEP/ITEM`), as `plan` and `run` name it.
    pub id: &'a str,
    /// The tenant.
    pub tenant: &'a str,
    /// The step's key.
    pub step: &'a str,
    /// The cmdlet.
    pub cmdlet: &'a str,
    /// `ok` (nothing to change), `drift` (a change is pending), `failed` or `skipped`.
    pub status: &'a str,
    /// For `ensure` and `state` steps: what a run would do: `none`, `set`, `create`, `remove`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub action: Option<Action>,
    /// Each property that differs, current -> desired.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    #[schemars(with = "Vec<ChangeSchema>")]
    pub changes: &'a [Change],
    /// For writes without `ensure`: the call a run would send, with the service's own words
    /// for it under `whatif`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would: Option<&'a str>,
    /// Drift the previous check of the playbook did not find.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub new: bool,
    /// Why it failed, or why it was skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<&'a str>,
}

/// A property that differs (the schema of [`Change`]).
#[derive(JsonSchema)]
#[allow(dead_code)] // only its schema is used
pub struct ChangeSchema {
    /// The property, as documented.
    property: String,
    /// Its current value (`null` for an object that does not exist).
    current: serde_json::Value,
    /// The value wanted.
    desired: serde_json::Value,
}

/// The totals of a check.
#[derive(Debug, Serialize, JsonSchema)]
pub struct CheckSummary<'a> {
    /// The check record format version ([`CHECK_FORMAT`]).
    pub format: u32,
    /// The playbook's name.
    pub playbook: &'a str,
    /// Objects and calls that need nothing.
    pub ok: usize,
    /// Changes pending.
    pub drift: usize,
    /// Of those, drift the previous check did not find.
    pub new: usize,
    /// Tasks that failed (a read, or a `whatif`).
    pub failed: usize,
    /// Tasks skipped.
    pub skipped: usize,
    /// False when the check was interrupted and this result is partial.
    pub complete: bool,
    /// The exit code: 0 nothing to change, 5 changes pending with some new, 6 changes
    /// pending and none new, 1 failures.
    pub exit_code: i32,
}

/// One drift, as a check remembers it: a hash of its task id, and a hash of the task with
/// what would be done and each property's current and desired values. Hashes keep the
/// memory of a check of a million objects small, and the file free of the tenants' values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DriftKey {
    task: u64,
    drift: u64,
}

impl DriftKey {
    /// The key of a task's drift, to tell whether an earlier check found the same.
    pub fn of(t: &TaskResult) -> DriftKey {
        let mut text = format!("{}\u{1f}{}", t.id, t.action.map_or("call", Action::as_str));
        // Lists in a stable order: the service may return the same values in another.
        for c in &t.changes {
            text.push_str(&format!(
                "\u{1f}{}={}->{}",
                c.property,
                canonical(&c.current),
                canonical(&c.desired)
            ));
        }
        if let Some(would) = &t.would {
            text.push('\u{1f}');
            text.push_str(would);
        }
        DriftKey {
            task: sha256_u64(&t.id),
            drift: sha256_u64(&text),
        }
    }

    /// As written in the drift file: `TASK-DRIFT`, each 16 hex digits.
    fn to_text(self) -> String {
        format!("{:016x}-{:016x}", self.task, self.drift)
    }

    fn from_text(text: &str) -> Option<DriftKey> {
        let (task, drift) = text.split_once('-')?;
        Some(DriftKey {
            task: u64::from_str_radix(task, 16).ok()?,
            drift: u64::from_str_radix(drift, 16).ok()?,
        })
    }
}

/// A value as JSON with each list's elements sorted.
fn canonical(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Array(items) => {
            let mut items: Vec<String> = items.iter().map(canonical).collect();
            items.sort();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

/// The drift file's contents.
#[derive(Default, Serialize, Deserialize)]
struct Remembered {
    format: u32,
    drift: Vec<String>,
}

/// The drift of the previous check of a playbook, and of this one as it is found.
pub(crate) struct Memory {
    file: PathBuf,
    seen: Arc<HashSet<DriftKey>>,
    found: Arc<Mutex<Found>>,
}

/// What this check found.
#[derive(Default)]
struct Found {
    /// The drift.
    drift: Vec<DriftKey>,
    /// The tasks it judged (`ok` or `drift`), by hash: the previous check's drift of any other
    /// task, one this check left out (`--limit`, `--tags`) or could not read, is kept.
    judged: HashSet<u64>,
}

impl Memory {
    /// The previous check's drift, from the playbook's state folder; none on a first check
    /// (or an unreadable file, which the next check replaces).
    pub(crate) fn load(state: &StateDir) -> Memory {
        let file = state.checks_file();
        let seen = std::fs::read(&file)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<Remembered>(&bytes).ok())
            .filter(|r| r.format == DRIFT_FILE_FORMAT)
            .map(|r| {
                r.drift
                    .iter()
                    .filter_map(|k| DriftKey::from_text(k))
                    .collect()
            })
            .unwrap_or_default();
        Memory {
            file,
            seen: Arc::new(seen),
            found: Arc::default(),
        }
    }

    /// The drift the previous check found.
    pub(crate) fn seen(&self) -> Arc<HashSet<DriftKey>> {
        self.seen.clone()
    }

    /// A reporter that collects this check's drift.
    pub(crate) fn recorder(&self) -> impl Reporter + use<> {
        DriftCollector(self.found.clone())
    }

    /// Settles a check's exit code: pending changes, new or not, unless something failed;
    /// keeps this check's drift for the next when the check is complete.
    pub(crate) fn conclude(&self, summary: &mut RunSummary, code: i32, events: &Fanout<'_>) -> i32 {
        let found = std::mem::take(&mut *self.found.lock().unwrap_or_else(PoisonError::into_inner));
        let new = summary.total.new;
        let mut keep = found.drift;
        keep.extend(
            self.seen
                .iter()
                .filter(|key| !found.judged.contains(&key.task)),
        );
        // What this check did not judge (a tenant a guardrail stopped, a step it left out)
        // keeps its earlier drift; an interrupted check may have judged tasks only in part,
        // and leaves the file as it was.
        if summary.complete
            && let Err(e) = save(&self.file, &keep)
        {
            let _ = events.emit(&Event::Message(format!(
                "warning: cannot keep this check's drift in {}: {e}; the next check marks all its drift as new",
                self.file.display()
            )));
        }
        if summary.total.drift > 0 {
            let _ = events.emit(&Event::Message(format!(
                "{} change{} pending, {new} new since the previous check",
                summary.total.drift,
                crate::diagnostic::plural(summary.total.drift)
            )));
        }
        summary.exit_code = match code {
            exit::OK if summary.total.drift > 0 && new > 0 => exit::CHANGES_PENDING,
            exit::OK if summary.total.drift > 0 => exit::CHANGES_PENDING_KNOWN,
            other => other,
        };
        summary.exit_code
    }
}

/// The version of the drift file's format.
const DRIFT_FILE_FORMAT: u32 = 2;

/// Writes the drift file whole or not at all.
fn save(file: &Path, drift: &[DriftKey]) -> io::Result<()> {
    if let Some(dir) = file.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut drift = drift.to_vec();
    drift.sort();
    let json = serde_json::to_vec_pretty(&Remembered {
        format: DRIFT_FILE_FORMAT,
        drift: drift.into_iter().map(DriftKey::to_text).collect(),
    })?;
    // Its own temporary file: two checks of one playbook may end at once.
    let tmp = file.with_extension(format!("json.{}.tmp", std::process::id()));
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, file)
}

struct DriftCollector(Arc<Mutex<Found>>);

impl Reporter for DriftCollector {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        if let Event::TaskFinished { result, .. } = event
            && matches!(result.status, Status::Drift | Status::Ok)
        {
            let mut found = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            found.judged.insert(sha256_u64(&result.id));
            if result.status == Status::Drift {
                found.drift.push(DriftKey::of(result));
            }
        }
        Ok(())
    }
}

/// The reporter writing a check's result on `out` in `format` (JSON Lines or Markdown).
pub(crate) fn reporter<'a>(format: Format, out: &'a mut dyn Write) -> Box<dyn Reporter + 'a> {
    match format {
        Format::Markdown => Box::new(Markdown {
            out,
            tenants: BTreeMap::new(),
            steps: BTreeMap::new(),
            size: 0,
        }),
        _ => Box::new(Jsonl { out }),
    }
}

struct Jsonl<'a> {
    out: &'a mut dyn Write,
}

impl Reporter for Jsonl<'_> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        let record = match event {
            Event::TaskFinished { result, origin } if *origin != Origin::Earlier => {
                CheckRecord::Task(checked(result))
            }
            Event::RunFinished(summary) => CheckRecord::Summary(totals(summary)),
            _ => return Ok(()),
        };
        serde_json::to_writer(&mut *self.out, &record)?;
        self.out.write_all(b"\n")?;
        if matches!(record, CheckRecord::Summary(_)) {
            self.out.flush()?;
        }
        Ok(())
    }
}

fn checked(t: &TaskResult) -> CheckedTask<'_> {
    CheckedTask {
        format: CHECK_FORMAT,
        id: &t.id,
        tenant: &t.tenant,
        step: &t.step,
        cmdlet: &t.cmdlet,
        status: t.status.as_str(),
        action: t.action,
        changes: &t.changes,
        would: t.would.as_deref(),
        new: t.new,
        error: t.error.as_deref(),
    }
}

fn totals(summary: &RunSummary) -> CheckSummary<'_> {
    let t = &summary.total;
    CheckSummary {
        format: CHECK_FORMAT,
        playbook: &summary.playbook,
        ok: t.ok,
        drift: t.drift,
        new: t.new,
        failed: t.failed + t.unknown,
        skipped: t.skipped,
        complete: summary.complete,
        exit_code: summary.exit_code,
    }
}

/// The most a Markdown check may hold: GitHub refuses a comment over 65,536 characters, and
/// the rest is kept for a line pointing at the full result.
pub const MARKDOWN_LIMIT: usize = 60_000;

/// Tenants listed in the Markdown's table; the rest are counted.
const MARKDOWN_TENANTS: usize = 100;

/// Markdown for a pull-request comment: counts per tenant and per step, then per tenant each
/// object that drifted, property by property, and each failure, as many as fit under
/// [`MARKDOWN_LIMIT`]; a check too large to list whole says how much is left out and where
/// to find it. Only the rows that fit are kept, so its memory does not grow with the check.
struct Markdown<'a> {
    out: &'a mut dyn Write,
    /// Per tenant, the rows that fit, and how many did not.
    tenants: BTreeMap<String, (Vec<String>, usize)>,
    /// Per step, its drift and failures.
    steps: BTreeMap<String, (usize, usize)>,
    /// Characters of rows kept so far.
    size: usize,
}

impl Reporter for Markdown<'_> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        match event {
            Event::TaskFinished { result, .. }
                if matches!(
                    result.status,
                    Status::Drift | Status::Failed | Status::Unknown
                ) =>
            {
                let step = self.steps.entry(result.step.clone()).or_default();
                if result.status == Status::Drift {
                    step.0 += 1;
                } else {
                    step.1 += 1;
                }
                let rows = rows(result);
                let (kept, left_out) = self.tenants.entry(result.tenant.clone()).or_default();
                // A tenant's first row brings its heading and table header; its first row
                // left out, the line saying so.
                let heading = if kept.is_empty() {
                    result.tenant.len() + 90
                } else {
                    0
                };
                let size: usize = heading + rows.iter().map(|r| r.len() + 1).sum::<usize>();
                // Half the budget for the rows: the tables above them need the rest.
                if self.size + size <= MARKDOWN_LIMIT / 2 {
                    self.size += size;
                    kept.extend(rows);
                } else {
                    if *left_out == 0 && !kept.is_empty() {
                        self.size += result.tenant.len() + 30;
                    }
                    *left_out += 1;
                }
                Ok(())
            }
            Event::RunFinished(summary) => {
                let text = markdown(summary, &self.steps, &self.tenants);
                self.out.write_all(text.as_bytes())?;
                self.out.flush()
            }
            _ => Ok(()),
        }
    }
}

/// A value in a table cell, as code.
fn code(value: &serde_json::Value) -> String {
    format!(
        "`{}`",
        cell(&crate::state::compare::show(value)).replace('`', "'")
    )
}

/// A task's rows in a tenant's table: one per property that differs, the object to create or
/// remove, the call a write would send, or the failure.
fn rows(task: &TaskResult) -> Vec<String> {
    let object = format!("`{}`", cell(&task.id).replace('`', "'"));
    let new = if task.new { "new" } else { "" };
    if task.status != Status::Drift {
        return vec![format!(
            "| {object} | **failed** | {} | | |",
            cell(task.error.as_deref().unwrap_or(""))
        )];
    }
    let mut rows = Vec::new();
    match task.action {
        Some(Action::Create) => rows.push(format!("| {object} | create | | | {new} |")),
        Some(Action::Remove) => rows.push(format!("| {object} | remove | | | {new} |")),
        _ => {}
    }
    for c in &task.changes {
        rows.push(format!(
            "| {object} | {} | {} | {} | {new} |",
            cell(&c.property),
            code(&c.current),
            code(&c.desired)
        ));
    }
    if let Some(would) = &task.would {
        rows.push(format!(
            "| {object} | `{}` | | | {new} |",
            cell(would).replace('`', "'")
        ));
    }
    rows
}

fn markdown(
    summary: &RunSummary,
    steps: &BTreeMap<String, (usize, usize)>,
    tenants: &BTreeMap<String, (Vec<String>, usize)>,
) -> String {
    use std::fmt::Write as _;
    let mut md = String::new();
    let t = &summary.total;
    let _ = writeln!(md, "### tenantry check: {}\n", cell(&summary.playbook));
    let _ = writeln!(
        md,
        "{}\n",
        if t.drift == 0 && t.failed == 0 && t.unknown == 0 {
            "No change needed.".to_string()
        } else {
            format!(
                "**{} change{} pending** ({} new), {} failed.",
                t.drift,
                crate::diagnostic::plural(t.drift),
                t.new,
                t.failed + t.unknown
            )
        }
    );
    if !summary.complete {
        let _ = writeln!(md, "> The check was interrupted: this result is partial.\n");
    }
    // Tenants with something to say come first; a long list of tenants needing nothing is
    // counted, not listed.
    let mut listed: Vec<(&String, &crate::events::TenantSummary)> =
        summary.tenants.iter().collect();
    listed.sort_by_key(|(_, s)| std::cmp::Reverse(s.drift + s.failed + s.unknown));
    let _ = writeln!(md, "| tenant | ok | drift | failed | skipped |");
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    for (name, s) in listed.iter().take(MARKDOWN_TENANTS) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            cell(name),
            s.ok,
            s.drift,
            s.failed + s.unknown,
            s.skipped
        );
    }
    if listed.len() > MARKDOWN_TENANTS {
        let rest = &listed[MARKDOWN_TENANTS..];
        let _ = writeln!(
            md,
            "| … {} more tenants | {} | {} | {} | {} |",
            rest.len(),
            rest.iter().map(|(_, s)| s.ok).sum::<usize>(),
            rest.iter().map(|(_, s)| s.drift).sum::<usize>(),
            rest.iter()
                .map(|(_, s)| s.failed + s.unknown)
                .sum::<usize>(),
            rest.iter().map(|(_, s)| s.skipped).sum::<usize>()
        );
    }
    if steps.len() > 1 {
        let _ = writeln!(md, "\n| step | drift | failed |");
        let _ = writeln!(md, "|---|---:|---:|");
        for (step, (drift, failed)) in steps {
            let _ = writeln!(md, "| {} | {drift} | {failed} |", cell(step));
        }
    }
    let mut left_out = 0;
    for (name, (rows, omitted)) in tenants {
        left_out += omitted;
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(md, "\n#### {}\n", cell(name));
        let _ = writeln!(md, "| object | change | current | desired | |");
        let _ = writeln!(md, "|---|---|---|---|---|");
        for row in rows {
            let _ = writeln!(md, "{row}");
        }
        if *omitted > 0 {
            let _ = writeln!(md, "\n… and {omitted} more in {}.", cell(name));
        }
    }
    if left_out > 0 {
        let _ = writeln!(
            md,
            "\n> {left_out} object{} not listed, to keep this comment short: the full list is in `tenantry check --format jsonl`, or results.jsonl of `--report DIR`.",
            if left_out == 1 { " is" } else { "s are" }
        );
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Change;
    use serde_json::json;

    fn drift(id: &str, current: serde_json::Value) -> TaskResult {
        let mut t = TaskResult::new(
            id.into(),
            "contoso".into(),
            "s".into(),
            "Set-Mailbox".into(),
            Status::Drift,
        );
        t.action = Some(Action::Set);
        t.changes = vec![Change {
            property: "GrantSendOnBehalfTo".into(),
            current,
            desired: json!(["a"]),
        }];
        t
    }

    /// Many tenants with one change each: the headings count against the limit too.
    #[test]
    fn many_small_tenants_in_markdown_fit_one_comment() {
        let text = markdown_of(
            "Wide",
            (0..2000).map(|t| {
                (
                    format!("a-rather-long-tenant-name-{t:04}"),
                    "user001".into(),
                )
            }),
        );
        assert!(text.len() < 65_536, "{} characters", text.len());
        assert!(text.contains("not listed, to keep this comment short"));
    }

    /// A check too large for one pull-request comment is summarised under GitHub's limit,
    /// and says where the rest is.
    #[test]
    fn a_large_check_in_markdown_fits_one_comment() {
        let text = markdown_of(
            "Big",
            (0..300).flat_map(|t| {
                (0..100).map(move |i| (format!("tenant{t:03}"), format!("user{i:03}")))
            }),
        );
        assert!(text.len() < 65_536, "{} characters", text.len());
        assert!(
            text.contains("**30000 changes pending** (0 new)"),
            "{}",
            &text[..300]
        );
        assert!(text.contains("| … 200 more tenants | 0 | 20000 | 0 | 0 |"));
        assert!(text.contains("objects are not listed, to keep this comment short"));
    }

    /// The Markdown of a check that found one drift per (tenant, item).
    fn markdown_of(playbook: &str, drifts: impl Iterator<Item = (String, String)>) -> String {
        let mut out = Vec::new();
        let mut summary = RunSummary {
            playbook: playbook.into(),
            complete: true,
            check: true,
            ..RunSummary::default()
        };
        {
            let mut md = reporter(Format::Markdown, &mut out);
            for (tenant, item) in drifts {
                let mut t = drift(&format!("{tenant}/s/{item}"), json!([]));
                t.tenant = tenant;
                let event = Event::TaskFinished {
                    result: t,
                    origin: Origin::Sent,
                };
                summary.record(&event);
                md.event(&event).unwrap();
            }
            md.event(&Event::RunFinished(Box::new(summary))).unwrap();
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_drift_s_key_is_stable_and_written_as_text() {
        let one = DriftKey::of(&drift("contoso/s/x", json!(["b", "c"])));
        assert_eq!(one, DriftKey::of(&drift("contoso/s/x", json!(["c", "b"]))));
        assert_ne!(one, DriftKey::of(&drift("contoso/s/x", json!(["b"]))));
        assert_eq!(DriftKey::from_text(&one.to_text()), Some(one));
        assert_eq!(one.to_text().len(), 33);
    }

    #[test]
    fn a_check_keeps_the_drift_of_what_it_did_not_judge() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::of(&dir.path().join("p.yaml"), None);
        let (a, b) = (
            drift("contoso/s/a", json!([])),
            drift("contoso/s/b", json!([])),
        );
        save(&state.checks_file(), &[DriftKey::of(&a), DriftKey::of(&b)]).unwrap();

        // This check read only `a` (`--limit`), and found it right.
        let memory = Memory::load(&state);
        assert_eq!(memory.seen().len(), 2);
        let mut recorder = memory.recorder();
        let mut fixed = a.clone();
        fixed.status = Status::Ok;
        recorder
            .event(&Event::TaskFinished {
                result: fixed,
                origin: Origin::Sent,
            })
            .unwrap();
        let mut summary = RunSummary {
            complete: true,
            check: true,
            ..RunSummary::default()
        };
        assert_eq!(
            memory.conclude(&mut summary, exit::OK, &Fanout::new()),
            exit::OK
        );
        let kept = Memory::load(&state).seen();
        assert_eq!(
            *kept,
            HashSet::from([DriftKey::of(&b)]),
            "b's drift is kept"
        );

        // An interrupted check changes nothing on disk.
        let memory = Memory::load(&state);
        summary.complete = false;
        memory.conclude(&mut summary, exit::INTERRUPTED, &Fanout::new());
        assert_eq!(*Memory::load(&state).seen(), *kept);
    }
}
