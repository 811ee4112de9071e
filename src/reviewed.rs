//! Reviewed plans: `tenantry check --out FILE` saves what a run would change, call by call,
//! with the values it observed; `tenantry show FILE` renders it for a review; `tenantry run
//! --plan FILE` applies exactly that. The run refuses a plan whose playbook, data or tenants
//! changed since, or that is too old, and sends no call the plan does not hold: a write whose
//! object changed since the review (its observed values are no longer the current ones) is
//! reported `stale` and not sent.
//!
//! The file is JSON Lines (`schemas/reviewed-plan.schema.json`): a `header`, a `call` per
//! change, and a `summary`; a file without its summary is incomplete and refused.

use std::collections::HashMap;
use std::io::{self, BufRead, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::events::{Event, Reporter, Status, TaskResult};
use crate::state::{Action, Change};

/// The version of the plan file format; bumped only on incompatible changes.
pub const PLAN_FILE_FORMAT: u32 = 1;

/// Why a reviewed plan cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewedError {
    /// The file cannot be read, or is not a complete plan.
    #[error("cannot use the plan {path}: {why}")]
    Unreadable {
        /// The plan file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The playbook, its data, its variables or its tenants changed since the plan was made.
    #[error(
        "the plan {path} was made from another playbook, data or tenants ({what}): make a new one with `tenantry check PLAYBOOK --out FILE` and review it"
    )]
    Changed {
        /// The plan file.
        path: PathBuf,
        /// What differs.
        what: String,
    },
    /// The plan is older than `--max-plan-age`.
    #[error(
        "the plan {path} is {age} old, older than --max-plan-age {max}: the tenants may have changed since; make a new one and review it"
    )]
    Expired {
        /// The plan file.
        path: PathBuf,
        /// Its age.
        age: String,
        /// The limit.
        max: String,
    },
}

impl ReviewedError {
    /// Invalid input: nothing was sent.
    pub fn exit_code(&self) -> i32 {
        crate::exit::INVALID_INPUT
    }
}

/// One line of a plan file, tagged by `type`.
#[derive(Debug, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schemars(title = "tenantry reviewed plan record")]
pub enum PlanLine {
    /// First line: what the plan was made from.
    Header(Header),
    /// A change a run of the plan makes.
    Call(PlannedCall),
    /// Last line: the count of calls. A plan without it is incomplete.
    Summary(Totals),
}

/// What a plan was made from.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Header {
    /// The plan file format version ([`PLAN_FILE_FORMAT`]).
    pub format: u32,
    /// The playbook's name.
    pub name: String,
    /// The playbook file, as given to `check`.
    pub playbook: String,
    /// The SHA-256 of the playbook's plan (its steps, data, variables and tenants, rendered),
    /// as `run --resume` compares it.
    pub fingerprint: String,
    /// The git commit the playbook's folder was at, when it is in a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// When the plan was made, in seconds since 1970-01-01 UTC.
    pub created_at: u64,
    /// The tenants checked.
    pub tenants: Vec<String>,
}

/// A change a run of the plan makes: a write, or for desired state what it sets with the
/// values observed that made it necessary.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct PlannedCall {
    /// The task id.
    pub id: String,
    /// The tenant.
    pub tenant: String,
    /// The step's key.
    pub step: String,
    /// The cmdlet.
    pub cmdlet: String,
    /// For `ensure` and `state` steps: `set`, `create` or `remove`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub action: Option<Action>,
    /// For `ensure` and `state` steps: each property to set, with the value observed and the
    /// value wanted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<crate::check::ChangeSchema>")]
    pub changes: Vec<Change>,
    /// For other writes: the call, as it will be sent (SecureStrings as `********`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub would: Option<String>,
}

impl PlannedCall {
    fn of(t: &TaskResult) -> PlannedCall {
        PlannedCall {
            id: t.id.clone(),
            tenant: t.tenant.clone(),
            step: t.step.clone(),
            cmdlet: t.cmdlet.clone(),
            action: t.action,
            changes: t.changes.clone(),
            would: t.would.clone(),
        }
    }

    /// The task it stands for, as a check reported it.
    pub fn as_result(&self) -> TaskResult {
        let mut t = TaskResult::new(
            self.id.clone(),
            self.tenant.clone(),
            self.step.clone(),
            self.cmdlet.clone(),
            Status::Drift,
        );
        t.action = self.action;
        t.changes = self.changes.clone();
        t.would = self.would.clone();
        t
    }
}

/// The totals of a plan.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
pub struct Totals {
    /// Calls in the plan.
    pub calls: usize,
}

/// Writes a check's changes to a plan file as they are found: to a temporary file beside it,
/// renamed into place only when the check is complete and nothing failed, so a plan file is
/// always a whole one.
pub(crate) struct Writer {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<std::fs::File>>,
    calls: usize,
    error: Option<String>,
}

impl Writer {
    /// Starts the plan file `path` with its header.
    pub(crate) fn create(path: &Path, header: &Header) -> io::Result<Writer> {
        let tmp = path.with_file_name(format!(
            ".{}.{}.partial",
            path.file_name()
                .map_or("plan".into(), |n| n.to_string_lossy()),
            std::process::id()
        ));
        let mut out = BufWriter::new(std::fs::File::create(&tmp)?);
        line(&mut out, &PlanLine::Header(header.clone()))?;
        Ok(Writer {
            path: path.to_path_buf(),
            tmp,
            out: Some(out),
            calls: 0,
            error: None,
        })
    }

    /// Adds a call.
    pub(crate) fn push(&mut self, call: &PlannedCall) -> io::Result<()> {
        if let Some(out) = self.out.as_mut() {
            line(out, &PlanLine::Call(call.clone()))?;
            self.calls += 1;
        }
        Ok(())
    }

    /// Puts the plan in place when the check it comes from is whole; otherwise removes it
    /// and says why.
    pub(crate) fn finish(&mut self, complete: bool, failed: usize) -> Result<usize, String> {
        let out = self.out.take();
        let refused = if let Some(e) = self.error.take() {
            Some(e)
        } else if !complete {
            Some("the check did not finish".to_string())
        } else if failed > 0 {
            Some(format!(
                "{failed} task{} failed, so the plan would be missing their changes",
                crate::diagnostic::plural(failed)
            ))
        } else {
            None
        };
        let written = match (refused, out) {
            (None, Some(mut out)) => (|| {
                line(&mut out, &PlanLine::Summary(Totals { calls: self.calls }))?;
                out.flush()?;
                out.get_ref().sync_all()?;
                std::fs::rename(&self.tmp, &self.path)
            })()
            .map_err(|e| e.to_string()),
            (Some(why), _) => Err(why),
            (None, None) => Err("it was finished already".to_string()),
        };
        if written.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        written.map(|()| self.calls)
    }
}

fn line(out: &mut (impl Write + ?Sized), record: &PlanLine) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}

impl Reporter for std::sync::Arc<std::sync::Mutex<Writer>> {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        let Event::TaskFinished { result, .. } = event else {
            return Ok(());
        };
        if result.status != Status::Drift {
            return Ok(());
        }
        let mut writer = self
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Writer {
            out, calls, error, ..
        } = &mut *writer;
        if let Some(out) = out.as_mut()
            && error.is_none()
        {
            match line(out, &PlanLine::Call(PlannedCall::of(result))) {
                Ok(()) => *calls += 1,
                Err(e) => *error = Some(e.to_string()),
            }
        }
        Ok(())
    }
}

/// A plan file read back: what a run of it may send.
#[derive(Debug)]
pub struct Reviewed {
    /// The plan file.
    pub path: PathBuf,
    /// What it was made from.
    pub header: Header,
    /// Its calls, by task id.
    pub calls: HashMap<String, PlannedCall>,
    /// Its calls in the order they were found, for showing.
    pub order: Vec<String>,
}

impl Reviewed {
    /// Reads a plan file; it must be whole (header first, summary last, counts agreeing).
    pub fn load(path: &Path) -> Result<Reviewed, ReviewedError> {
        let bad = |why: String| ReviewedError::Unreadable {
            path: path.to_path_buf(),
            why,
        };
        let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
        let mut header = None;
        let mut calls = HashMap::new();
        let mut order = Vec::new();
        let mut total = None;
        for (n, text) in io::BufReader::new(file).lines().enumerate() {
            let text = text.map_err(|e| bad(e.to_string()))?;
            let record: PlanLine =
                serde_json::from_str(&text).map_err(|e| bad(format!("line {}: {e}", n + 1)))?;
            match (record, n) {
                (PlanLine::Header(h), 0) => {
                    if h.format != PLAN_FILE_FORMAT {
                        return Err(bad(format!(
                            "its format is {}, and this tenantry reads {PLAN_FILE_FORMAT}",
                            h.format
                        )));
                    }
                    header = Some(h);
                }
                (_, 0) | (PlanLine::Header(_), _) => {
                    return Err(bad("it does not start with its header".into()));
                }
                (_, _) if total.is_some() => {
                    return Err(bad("it goes on after its summary".into()));
                }
                (PlanLine::Call(c), _) => {
                    order.push(c.id.clone());
                    if calls.insert(c.id.clone(), c).is_some() {
                        return Err(bad(format!("line {}: a task planned twice", n + 1)));
                    }
                }
                (PlanLine::Summary(t), _) => total = Some(t.calls),
            }
        }
        let header = header.ok_or_else(|| bad("it is empty".into()))?;
        match total {
            Some(t) if t == calls.len() => Ok(Reviewed {
                path: path.to_path_buf(),
                header,
                calls,
                order,
            }),
            Some(t) => Err(bad(format!(
                "its summary counts {t} calls, and it holds {}",
                calls.len()
            ))),
            None => Err(bad("it has no summary: it is incomplete".into())),
        }
    }

    /// Whether a run with this plan fingerprint and these tenants may apply the plan now.
    pub fn check(
        &self,
        fingerprint: &str,
        tenants: &[String],
        max_age: Duration,
    ) -> Result<(), ReviewedError> {
        let changed = |what: &str| ReviewedError::Changed {
            path: self.path.clone(),
            what: what.to_string(),
        };
        if self.header.tenants != tenants {
            return Err(changed("the tenants selected differ"));
        }
        if self.header.fingerprint != fingerprint {
            return Err(changed("the playbook, its data or its variables differ"));
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs();
        let age = Duration::from_secs(now.saturating_sub(self.header.created_at));
        if age > max_age {
            let show = |d: Duration| {
                crate::playbook::HumanDuration(Duration::from_secs(d.as_secs())).to_string()
            };
            return Err(ReviewedError::Expired {
                path: self.path.clone(),
                age: show(age),
                max: show(max_age),
            });
        }
        Ok(())
    }

    /// What a run of the plan does with a write task whose call, or desired-state decision,
    /// is `now`: send it, leave it (nothing planned and nothing to do), or refuse it as stale.
    pub(crate) fn judge(&self, now: &TaskResult) -> Verdict {
        let planned = self.calls.get(&now.id);
        let nothing = now.action == Some(Action::None);
        match planned {
            None if nothing => Verdict::Leave,
            None => Verdict::Stale(
                "not in the reviewed plan: the object changed since the review, or the call is new"
                    .into(),
            ),
            Some(_) if nothing => Verdict::Stale(
                "planned, and nothing needs changing now: the object changed since the review"
                    .into(),
            ),
            Some(p) if same_call(p, now) => Verdict::Send,
            Some(p) => Verdict::Stale(describe(p, now)),
        }
    }
}

/// What a run of a plan does with one write.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It is the reviewed call: send it.
    Send,
    /// Nothing was planned, and nothing needs doing.
    Leave,
    /// It is not what was reviewed: do not send it, and say why.
    Stale(String),
}

/// Whether the call a run would make now is the one reviewed: the same action, the same
/// properties with the same observed and wanted values, or the same call.
fn same_call(planned: &PlannedCall, now: &TaskResult) -> bool {
    use crate::check::DriftKey;
    planned.action == now.action
        && planned.would == now.would
        && DriftKey::of(&planned.as_result()) == DriftKey::of(now)
}

/// Why a write is stale: the first property whose observed value changed, or the call.
fn describe(planned: &PlannedCall, now: &TaskResult) -> String {
    use crate::state::compare::show;
    if planned.action != now.action {
        let name = |a: Option<Action>| a.map_or("a call", Action::as_str);
        return format!(
            "the review planned {}, and now it needs {}: the object changed since",
            name(planned.action),
            name(now.action)
        );
    }
    for change in &now.changes {
        match planned
            .changes
            .iter()
            .find(|p| p.property == change.property)
        {
            Some(p) if p.current != change.current || p.desired != change.desired => {
                return format!(
                    "{} is now {} (was {} when reviewed, wanted {}): it changed since the review",
                    change.property,
                    show(&change.current),
                    show(&p.current),
                    show(&change.desired)
                );
            }
            None => {
                return format!(
                    "{} differs now and did not when reviewed: the object changed since",
                    change.property
                );
            }
            _ => {}
        }
    }
    if planned.would != now.would {
        return "the call differs from the reviewed one".into();
    }
    "the object changed since the review".into()
}

/// The commit of the git repository holding `dir`, if it is in one and git is installed.
pub(crate) fn git_commit(dir: &Path) -> Option<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        })
        .args(["rev-parse", "HEAD"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && commit.len() >= 7).then_some(commit)
}

/// Writes a plan for review: text (what it was made from, then each change) or Markdown (as a
/// check's, for a pull-request comment); `jsonl` writes the file's own lines.
pub fn show(plan: &Reviewed, format: crate::check::Format, out: &mut dyn Write) -> io::Result<()> {
    use crate::check::Format;
    let h = &plan.header;
    let results = plan.order.iter().filter_map(|id| plan.calls.get(id));
    match format {
        Format::Jsonl => {
            line(out, &PlanLine::Header(h.clone()))?;
            for call in results {
                line(out, &PlanLine::Call(call.clone()))?;
            }
            line(
                out,
                &PlanLine::Summary(Totals {
                    calls: plan.calls.len(),
                }),
            )?;
        }
        Format::Markdown => {
            let mut summary = crate::events::RunSummary {
                playbook: h.name.clone(),
                complete: true,
                check: true,
                ..Default::default()
            };
            let mut md = crate::check::reporter(Format::Markdown, out);
            for call in results {
                let event = Event::TaskFinished {
                    result: call.as_result(),
                    origin: crate::events::Origin::Sent,
                };
                summary.record(&event);
                md.event(&event)?;
            }
            md.event(&Event::RunFinished(Box::new(summary)))?;
        }
        Format::Text => {
            writeln!(
                out,
                "plan {}: {} ({}), made {}{}",
                plan.path.display(),
                h.name,
                h.playbook,
                utc(h.created_at),
                h.commit
                    .as_deref()
                    .map(|c| format!(" at commit {}", c.chars().take(12).collect::<String>()))
                    .unwrap_or_default()
            )?;
            writeln!(
                out,
                "{} call{} in {} tenant{} checked\n",
                plan.calls.len(),
                crate::diagnostic::plural(plan.calls.len()),
                h.tenants.len(),
                crate::diagnostic::plural(h.tenants.len())
            )?;
            for call in results {
                writeln!(out, "{}", call.id)?;
                let t = call.as_result();
                for part in t.describe_changes().split("; ").filter(|p| !p.is_empty()) {
                    writeln!(out, "    {part}")?;
                }
            }
        }
    }
    out.flush()
}

/// Seconds since 1970 as `2026-11-30 14:05 UTC`.
fn utc(secs: u64) -> String {
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let (y, m, d) = tenantry_common::calendar::civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}
