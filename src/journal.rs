//! The run journal: what makes a run resumable. Every run gets an id and a folder
//! (`.tenantry/runs/<id>/` beside the playbook, or under `--state-dir`) holding `meta.json`
//! (the plan's fingerprint, the tenants, how the run ended) and `journal.jsonl`, an
//! append-only record of each task: a line when it is sent, written before the request
//! leaves, and a line with its outcome.
//!
//! The lines are short, since a run of a million tasks writes two million of them: a task
//! sent gets a number (`{"s":7,"id":"contoso/step/item"}`, with `"c"` naming the cmdlet when
//! it is not the one of the line before), and its outcome refers to that number and holds
//! only what differs from an ordinary success (`{"d":7,"st":"ok","ms":180}`). Numbers restart
//! with each process that appends (a resumed run writes `{"resumed":N}` first), so a task
//! sent by an earlier process and never answered stays unanswered.
//!
//! A task's `sent` line is written, in one `write` to a file opened for appending, before its
//! request leaves. Outcomes are gathered and written with the next `sent` line, or when the
//! run's future yields ([`Recorder::flush`]): a process killed meanwhile loses at most the
//! outcomes of that moment, and those tasks read back as sent without an answer, as calls in
//! flight do.
//!
//! A run also holds a lock on its playbook's state folder, so that two runs of one playbook
//! never overlap.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::events::{Event, Origin, Recorder, TaskResult};

/// Why the journal could not serve.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Another run of the playbook holds the lock.
    #[error(
        "another run of {playbook} is in progress (lock {lock}); wait for it, or pass --wait-lock 10m to wait"
    )]
    Locked {
        /// The playbook.
        playbook: String,
        /// The lock file.
        lock: PathBuf,
    },
    /// No run to resume.
    #[error("no run {0} to resume in {1}: `tenantry runs` lists them")]
    NoSuchRun(String, PathBuf),
    /// The plan changed since the journal was written.
    #[error(
        "the plan changed since run {id} started ({what}): resuming could skip or repeat the wrong tasks; pass --force to resume anyway"
    )]
    Changed {
        /// The run.
        id: String,
        /// What changed.
        what: String,
    },
    /// The state folder could not be read or written.
    #[error("cannot use the run state in {path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

impl JournalError {
    /// [`crate::exit::LOCKED`] when another run holds the lock, invalid input for a run that cannot be
    /// resumed, otherwise a failure of the state folder.
    pub fn exit_code(&self) -> i32 {
        match self {
            JournalError::Locked { .. } => crate::exit::LOCKED,
            JournalError::NoSuchRun(..) | JournalError::Changed { .. } => {
                crate::exit::INVALID_INPUT
            }
            JournalError::Io { .. } => crate::exit::TASKS_FAILED,
        }
    }
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `meta.json` says of a run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Meta {
    /// The run id.
    pub id: String,
    /// The playbook file.
    pub playbook: PathBuf,
    /// The plan's fingerprint: a SHA-256 of its records.
    pub fingerprint: String,
    /// The tenants selected.
    pub tenants: Vec<String>,
    /// When it started (seconds since the epoch).
    pub started_at: u64,
    /// How many times it was resumed.
    #[serde(default)]
    pub resumed: u32,
    /// When it last ended, if it did.
    #[serde(default)]
    pub finished_at: Option<u64>,
    /// Its exit code, if it ended.
    #[serde(default)]
    pub exit_code: Option<i32>,
}

/// One line of `journal.jsonl`, as read back: any of the records below, in this version's
/// short form or in the earlier long one (`{"sent":ID}`, `{"done":{…}}`), which a resumed
/// run started by an earlier version still holds.
#[derive(Deserialize)]
struct Record {
    /// A task sent: its number (with `id` and `c` in `outcome`).
    s: Option<u64>,
    /// An outcome, or the id and cmdlet of a task sent.
    #[serde(flatten)]
    outcome: Outcome,
    /// A process began appending to the run's journal.
    resumed: Option<u32>,
    /// Earlier form: a task was sent.
    sent: Option<String>,
    /// Earlier form: a task's outcome.
    done: Option<Box<TaskResult>>,
    /// The objects a task returned, when a later step reads its step's output.
    output: Option<OutputRecord>,
}

/// What a task returned, as recorded.
#[derive(Deserialize)]
struct OutputRecord {
    id: String,
    values: Vec<serde_json::Value>,
}

/// A task's outcome without what its sent line says (id, tenant, step, cmdlet), each field
/// left out when it has its usual value.
#[derive(Default, Deserialize, Serialize)]
struct Outcome {
    /// The number of the task sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<u64>,
    /// The task, when it was not sent with a number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    /// The cmdlet, when it is not the one of the line before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    c: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    st: Option<crate::events::Status>,
    #[serde(default, skip_serializing_if = "is_zero")]
    obj: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    w: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    r: Vec<String>,
    /// Requests made, when not one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    req: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    err: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cls: Option<String>,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    action: Option<crate::state::Action>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    changes: Vec<crate::state::Change>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    would: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    new: bool,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

impl Outcome {
    fn of(result: &TaskResult) -> Outcome {
        Outcome {
            d: None,
            id: None,
            c: None,
            st: Some(result.status),
            obj: result.objects,
            w: result.warnings.clone(),
            r: result.retries.clone(),
            req: (result.requests != 1).then_some(result.requests),
            err: result.error.clone(),
            cls: result.error_class.clone(),
            ms: result.duration_ms,
            action: result.action,
            changes: result.changes.clone(),
            would: result.would.clone(),
            new: result.new,
        }
    }

    /// The whole result again, with what the task's sent line said.
    fn into_result(self, id: String, cmdlet: String) -> TaskResult {
        let (tenant, step) = tenant_and_step(&id);
        let mut result = TaskResult::new(
            id,
            tenant,
            step,
            cmdlet,
            self.st.unwrap_or(crate::events::Status::Ok),
        );
        result.objects = self.obj;
        result.warnings = self.w;
        result.retries = self.r;
        result.requests = self.req.unwrap_or(1);
        result.error = self.err;
        result.error_class = self.cls;
        result.duration_ms = self.ms;
        result.action = self.action;
        result.changes = self.changes;
        result.would = self.would;
        result.new = self.new;
        result
    }
}

/// The tenant and step of a task id (`tenant/step[/item]`, each part with `%` and `/`
/// escaped).
pub(crate) fn tenant_and_step(id: &str) -> (String, String) {
    let unescape = |part: &str| part.replace("%2F", "/").replace("%25", "%");
    let mut parts = id.split('/');
    let tenant = parts.next().map(unescape).unwrap_or_default();
    let step = parts.next().map(unescape).unwrap_or_default();
    (tenant, step)
}

/// A sent line, as written.
#[derive(Serialize)]
struct SentLine<'a> {
    s: u64,
    id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    c: Option<&'a str>,
}

/// An output line, as written.
#[derive(Serialize)]
struct OutputLine<'a> {
    output: OutputRef<'a>,
}

#[derive(Serialize)]
struct OutputRef<'a> {
    id: &'a str,
    values: &'a [serde_json::Value],
}

/// The state folder of a playbook's runs.
#[derive(Clone, Debug)]
pub struct StateDir {
    root: PathBuf,
    playbook: PathBuf,
}

/// The lock of a playbook's runs; released when dropped.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

impl StateDir {
    /// The state folder of `playbook`: `state_dir` when given, else `.tenantry` beside it.
    pub fn of(playbook: &Path, state_dir: Option<&Path>) -> Self {
        let root = match state_dir {
            Some(dir) => dir.to_path_buf(),
            None => playbook
                .parent()
                .unwrap_or(Path::new("."))
                .join(".tenantry"),
        };
        StateDir {
            root,
            playbook: playbook.to_path_buf(),
        }
    }

    /// Where the last `tenantry check` of this playbook keeps the drift it found.
    pub fn checks_file(&self) -> PathBuf {
        self.root
            .join("checks")
            .join(format!("{}.json", self.playbook_name()))
    }

    /// This playbook's runs: a folder per playbook file, so playbooks beside each other
    /// never resume each other's runs.
    fn runs_dir(&self) -> PathBuf {
        self.root.join("runs").join(self.playbook_name())
    }

    fn playbook_name(&self) -> String {
        self.playbook
            .file_name()
            .map_or("playbook".into(), |n| n.to_string_lossy().into_owned())
    }

    /// Takes the playbook's lock, waiting up to `wait` for a run that holds it.
    pub fn lock(&self, wait: Option<Duration>) -> Result<RunLock, JournalError> {
        std::fs::create_dir_all(&self.root).map_err(io_at(&self.root))?;
        let path = self.root.join(format!("{}.lock", self.playbook_name()));
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_at(&path))?;
        let deadline = wait.map(|w| Instant::now() + w);
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(RunLock { _file: file }),
                Err(std::fs::TryLockError::WouldBlock) => {
                    if deadline.is_none_or(|d| Instant::now() >= d) {
                        return Err(JournalError::Locked {
                            playbook: self.playbook.display().to_string(),
                            lock: path,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(std::fs::TryLockError::Error(e)) => return Err(io_at(&path)(e)),
            }
        }
    }

    /// Starts a new run's journal.
    pub fn create(&self, fingerprint: &str, tenants: Vec<String>) -> Result<Journal, JournalError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let (days, secs) = ((now.as_secs() / 86_400) as i64, now.as_secs() % 86_400);
        let (y, m, d) = tenantry_common::calendar::civil_from_days(days);
        // Sortable by time; the sub-second part keeps two runs in one second apart.
        let id = format!(
            "{y:04}{m:02}{d:02}-{:02}{:02}{:02}-{:03}",
            secs / 3600,
            secs % 3600 / 60,
            secs % 60,
            now.subsec_millis()
        );
        let meta = Meta {
            id,
            playbook: self.playbook.clone(),
            fingerprint: fingerprint.to_string(),
            tenants,
            started_at: now.as_secs(),
            resumed: 0,
            finished_at: None,
            exit_code: None,
        };
        let runs = self.runs_dir();
        std::fs::create_dir_all(&runs).map_err(io_at(&runs))?;
        // Two runs in one millisecond (possible with different state folders racing, or a
        // clock step) get -2, -3…: a folder is never shared.
        let mut meta = meta;
        let base = meta.id.clone();
        let mut n = 1;
        let dir = loop {
            let dir = runs.join(&meta.id);
            match std::fs::create_dir(&dir) {
                Ok(()) => break dir,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && n < 100 => {
                    n += 1;
                    meta.id = format!("{base}-{n}");
                }
                Err(e) => return Err(io_at(&dir)(e)),
            }
        };
        Journal::open(dir, meta)
    }

    /// The runs recorded, oldest first.
    pub fn runs(&self) -> Vec<Meta> {
        let mut runs: Vec<Meta> = std::fs::read_dir(self.runs_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| std::fs::read(e.path().join("meta.json")).ok())
            .filter_map(|bytes| serde_json::from_slice(&bytes).ok())
            .collect();
        runs.sort_by(|a, b| a.id.cmp(&b.id));
        runs
    }

    /// The latest run, if it did not end of itself: killed (no exit code) or stopped by a
    /// signal (exit 130). `run --resume unfinished` goes on with it, or starts a new run.
    pub fn unfinished(&self) -> Result<Option<PastRun>, JournalError> {
        let Some(last) = self.runs().pop() else {
            return Ok(None);
        };
        if last
            .exit_code
            .is_some_and(|code| code != crate::exit::INTERRUPTED)
        {
            return Ok(None);
        }
        self.past(&last.id).map(Some)
    }

    /// A past run by id, or the latest for `last`.
    pub fn past(&self, id: &str) -> Result<PastRun, JournalError> {
        let meta = if id == "last" {
            self.runs().pop()
        } else {
            self.runs().into_iter().find(|m| m.id == id)
        }
        // The id names a folder: anything but a plain name is not one of ours.
        .filter(|m| !m.id.contains(['/', '\\']) && !m.id.starts_with('.'))
        .ok_or_else(|| JournalError::NoSuchRun(id.to_string(), self.runs_dir()))?;
        let dir = self.runs_dir().join(&meta.id);
        PastRun::read(dir, meta)
    }
}

/// A run's journal, open for appending.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    meta: Mutex<Meta>,
    writer: Mutex<Writer>,
    /// The first write that failed: the run stops, since its journal no longer holds.
    failed: Mutex<Option<String>>,
}

/// The open file and what the short lines refer to.
#[derive(Debug)]
struct Writer {
    file: File,
    /// Lines not written yet: outcomes and outputs, written with the next sent line or flush.
    pending: Vec<u8>,
    /// The number the next task sent gets.
    next: u64,
    /// Tasks sent and not finished, by id: as many as calls in flight.
    numbers: HashMap<String, u64>,
    /// The cmdlet of the last outcome written.
    cmdlet: String,
}

impl Journal {
    fn open(dir: PathBuf, meta: Meta) -> Result<Journal, JournalError> {
        let path = dir.join("journal.jsonl");
        cut_torn_line(&path).map_err(io_at(&path))?;
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(io_at(&path))?;
        if meta.resumed > 0 {
            // Numbers restart here: what earlier processes sent and never heard back from
            // stays unanswered.
            writeln!(file, "{{\"resumed\":{}}}", meta.resumed).map_err(io_at(&path))?;
        }
        let journal = Journal {
            dir,
            meta: Mutex::new(meta),
            writer: Mutex::new(Writer {
                file,
                pending: Vec::new(),
                next: 0,
                numbers: HashMap::new(),
                cmdlet: String::new(),
            }),
            failed: Mutex::new(None),
        };
        journal.write_meta().map_err(io_at(&journal.dir))?;
        Ok(journal)
    }

    /// Reopens a past run to go on with it.
    pub fn resume(past: &PastRun) -> Result<Journal, JournalError> {
        let mut meta = past.meta.clone();
        meta.resumed += 1;
        meta.finished_at = None;
        meta.exit_code = None;
        Journal::open(past.dir.clone(), meta)
    }

    /// The run id.
    pub fn id(&self) -> String {
        lock(&self.meta).id.clone()
    }

    /// The run's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Why writing failed, if it did.
    pub fn failure(&self) -> Option<String> {
        lock(&self.failed).clone()
    }

    /// Records how the run ended.
    pub fn finish(&self, exit_code: i32) -> io::Result<()> {
        {
            let mut meta = lock(&self.meta);
            meta.exit_code = Some(exit_code);
            meta.finished_at = Some(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs()),
            );
        }
        {
            let mut writer = lock(&self.writer);
            let pending = std::mem::take(&mut writer.pending);
            writer.file.write_all(&pending)?;
            writer.file.sync_all()?;
        }
        self.write_meta()
    }

    /// Adds `event`'s line; a sent line is written at once, with the lines before it.
    fn append(&self, event: &Event) -> Result<(), String> {
        if let Some(failed) = lock(&self.failed).as_ref() {
            return Err(failed.clone());
        }
        let mut writer = lock(&self.writer);
        let writer = &mut *writer;
        let written = match event {
            Event::TaskSent { id } => {
                let s = writer.next;
                writer.next += 1;
                writer.numbers.insert(id.clone(), s);
                let line = SentLine { s, id, c: None };
                serde_json::to_writer(&mut writer.pending, &line).map_err(io::Error::other)
            }
            Event::TaskOutput { id, values } => serde_json::to_writer(
                &mut writer.pending,
                &OutputLine {
                    output: OutputRef { id, values },
                },
            )
            .map_err(io::Error::other),
            Event::TaskFinished { result, .. } => {
                let mut outcome = Outcome::of(result);
                match writer.numbers.remove(&result.id) {
                    Some(d) => outcome.d = Some(d),
                    None => outcome.id = Some(result.id.clone()),
                }
                if writer.cmdlet != result.cmdlet {
                    writer.cmdlet.clone_from(&result.cmdlet);
                    outcome.c = Some(result.cmdlet.clone());
                }
                serde_json::to_writer(&mut writer.pending, &outcome).map_err(io::Error::other)
            }
            _ => return Ok(()),
        };
        writer.pending.push(b'\n');
        let written = written.and_then(|()| {
            if matches!(event, Event::TaskSent { .. }) {
                write_pending(writer)
            } else {
                Ok(())
            }
        });
        written.map_err(|e| self.failing(&e))
    }

    /// Keeps the first failure, which every later record reports.
    fn failing(&self, e: &io::Error) -> String {
        let why = format!(
            "cannot write {}: {e}",
            self.dir.join("journal.jsonl").display()
        );
        lock(&self.failed).get_or_insert(why).clone()
    }

    fn write_meta(&self) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(&*lock(&self.meta)).map_err(io::Error::other)?;
        let partial = self.dir.join(".meta.json.partial");
        std::fs::write(&partial, json)?;
        std::fs::rename(partial, self.dir.join("meta.json"))
    }
}

/// Outcomes gathered and not yet written reach the file when the journal closes.
impl Drop for Journal {
    fn drop(&mut self) {
        let _ = write_pending(&mut lock(&self.writer));
    }
}

/// Writes the lines gathered, in one `write` to the file opened for appending.
fn write_pending(writer: &mut Writer) -> io::Result<()> {
    if writer.pending.is_empty() {
        return Ok(());
    }
    let result = writer.file.write_all(&writer.pending);
    writer.pending.clear();
    result
}

/// The journal records, before the run goes on, that a task is about to be sent, what it
/// returned when a later step reads it, and its outcome. Results not sent by this run
/// (skipped, replayed, left unknown) are not its to record.
impl Recorder for Journal {
    fn record(&self, event: &Event) -> Result<(), String> {
        match event {
            Event::TaskSent { .. }
            | Event::TaskOutput { .. }
            | Event::TaskFinished {
                origin: Origin::Sent,
                ..
            } => self.append(event),
            _ => Ok(()),
        }
    }

    fn flush(&self) -> Result<(), String> {
        if let Some(failed) = lock(&self.failed).as_ref() {
            return Err(failed.clone());
        }
        let result = write_pending(&mut lock(&self.writer));
        result.map_err(|e| self.failing(&e))
    }
}

/// Cuts a half-written last line (a killed run, a full disk) back to the last whole one, so
/// that the next record starts a line of its own.
fn cut_torn_line(path: &Path) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = OpenOptions::new().read(true).write(true).open(path) else {
        return Ok(());
    };
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    // Read backwards in blocks to find the last newline.
    let mut end = len;
    let mut block = vec![0u8; 64 * 1024];
    while end > 0 {
        let start = end.saturating_sub(block.len() as u64);
        let n = (end - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut block[..n])?;
        if let Some(i) = block[..n].iter().rposition(|&b| b == b'\n') {
            let keep = start + i as u64 + 1;
            if keep < len {
                file.set_len(keep)?;
            }
            return Ok(());
        }
        end = start;
    }
    file.set_len(0)
}

/// What a past run's journal says.
#[derive(Debug)]
pub struct PastRun {
    dir: PathBuf,
    /// Its `meta.json`.
    pub meta: Meta,
    /// Tasks whose outcome is known, by id, with the latest outcome.
    pub done: HashMap<String, TaskResult>,
    /// Tasks sent without a recorded outcome: they were in flight when the run ended.
    pub unknown: HashSet<String>,
    /// What done tasks returned, where a later step reads it.
    pub outputs: HashMap<String, Vec<serde_json::Value>>,
}

impl PastRun {
    fn read(dir: PathBuf, meta: Meta) -> Result<PastRun, JournalError> {
        let path = dir.join("journal.jsonl");
        // A run that ended before its first task has no journal: nothing is known.
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(PastRun {
                    dir,
                    meta,
                    done: HashMap::new(),
                    unknown: HashSet::new(),
                    outputs: HashMap::new(),
                });
            }
            Err(e) => return Err(io_at(&path)(e)),
        };
        let mut done = HashMap::new();
        let mut unknown = HashSet::new();
        let mut outputs = HashMap::new();
        // Tasks sent by the process appending now, by number; its last outcome's cmdlet.
        let mut sent: HashMap<u64, String> = HashMap::new();
        let mut cmdlet = String::new();
        // Split on bytes: a killed run may leave half a last line, even half a character.
        for line in BufReader::new(file).split(b'\n') {
            let line = line.map_err(io_at(&path))?;
            // Half a line records nothing.
            let Ok(record) = serde_json::from_slice::<Record>(&line) else {
                continue;
            };
            let mut outcome = record.outcome;
            if let Some(c) = outcome.c.take() {
                cmdlet = c;
            }
            if let Some(s) = record.s {
                if let Some(id) = outcome.id.take() {
                    unknown.insert(id.clone());
                    sent.insert(s, id);
                }
            } else if let Some(id) = outcome
                .d
                .and_then(|d| sent.remove(&d))
                .or(outcome.id.take())
            {
                unknown.remove(&id);
                done.insert(id.clone(), outcome.into_result(id, cmdlet.clone()));
            } else if record.resumed.is_some() {
                // What the earlier process sent and never heard back from stays in `unknown`.
                sent.clear();
                cmdlet.clear();
            } else if let Some(id) = record.sent {
                unknown.insert(id);
            } else if let Some(result) = record.done {
                unknown.remove(&result.id);
                done.insert(result.id.clone(), *result);
            } else if let Some(OutputRecord { id, values }) = record.output {
                outputs.insert(id, values);
            }
        }
        Ok(PastRun {
            dir,
            meta,
            done,
            unknown,
            outputs,
        })
    }

    /// Refuses to resume when the plan or the tenants differ from the journal's.
    pub fn check(&self, fingerprint: &str, tenants: &[String]) -> Result<(), JournalError> {
        let changed = |what: &str| JournalError::Changed {
            id: self.meta.id.clone(),
            what: what.to_string(),
        };
        if self.meta.tenants != tenants {
            return Err(changed("the tenants selected differ"));
        }
        if self.meta.fingerprint != fingerprint {
            return Err(changed("the playbook, its data or its variables differ"));
        }
        Ok(())
    }
}

/// One line about a past run: its id, when it started, how it ended, what it did.
pub fn describe(past: &PastRun) -> String {
    let (days, secs) = (
        (past.meta.started_at / 86_400) as i64,
        past.meta.started_at % 86_400,
    );
    let (y, m, d) = tenantry_common::calendar::civil_from_days(days);
    let ended = match past.meta.exit_code {
        Some(code) => format!("ended with exit code {code}"),
        None => "did not end (killed, or still running): `run --resume` goes on with it".into(),
    };
    let failed = past
        .done
        .values()
        .filter(|r| r.status == crate::events::Status::Failed && !r.outcome_unknown())
        .count();
    // Sent without an answer: cut off by the end of the run, or lost on the way back.
    let lost = past.done.values().filter(|r| r.outcome_unknown()).count();
    format!(
        "{}  started {y:04}-{m:02}-{d:02} {:02}:{:02} UTC  {} task(s) done ({failed} failed), {} without an answer{}  {ended}",
        past.meta.id,
        secs / 3600,
        secs % 3600 / 60,
        past.done.len() - lost,
        past.unknown.len() + lost,
        if past.meta.resumed > 0 {
            format!(", resumed {} time(s)", past.meta.resumed)
        } else {
            String::new()
        }
    )
}

/// What a resumed run knows of its tasks from the journal.
#[derive(Debug, Default)]
pub struct Prior {
    /// Tasks whose outcome is known.
    pub done: HashSet<String>,
    /// Tasks sent without a known outcome.
    pub unknown: HashSet<String>,
    /// Send unknown ones again even when they are not idempotent (`--retry-unknown`).
    pub retry_unknown: bool,
    /// The output of done tasks whose step a later step reads.
    pub outputs: HashMap<String, Vec<serde_json::Value>>,
}

/// What to do with a task when resuming.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Send it.
    Send,
    /// Its outcome is known: neither send nor report it again.
    Known,
    /// Report it as of unknown outcome, unsent.
    Unknown,
}

impl Prior {
    /// What the journal of `past` knows.
    pub fn of(past: &PastRun, retry_unknown: bool) -> Self {
        let mut prior = Prior {
            retry_unknown,
            unknown: past.unknown.clone(),
            outputs: past.outputs.clone(),
            ..Prior::default()
        };
        for (id, result) in &past.done {
            if result.status == crate::events::Status::Ok {
                prior.done.insert(id.clone());
            } else if result.outcome_unknown() {
                // A write whose answer was lost may have been applied.
                prior.unknown.insert(id.clone());
            }
            // A failed cmdlet changed nothing: it is sent again.
        }
        prior
    }

    /// Reads are always sent again (their output feeds later steps, and reading twice does
    /// no harm); writes are sent unless their outcome is known, or unknown and not safe to
    /// repeat.
    pub fn decide(&self, id: &str, read_only: bool, idempotent: bool) -> Decision {
        if read_only {
            Decision::Send
        } else if self.done.contains(id) {
            Decision::Known
        } else if self.unknown.contains(id) && !(idempotent || self.retry_unknown) {
            Decision::Unknown
        } else {
            Decision::Send
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::Status;

    fn sent(journal: &Journal, id: &str) -> bool {
        journal.record(&Event::TaskSent { id: id.into() }).is_ok()
    }

    fn done(journal: &Journal, id: &str) -> bool {
        let result = TaskResult::new(
            id.into(),
            "contoso".into(),
            "s".into(),
            "Set-Mailbox".into(),
            Status::Ok,
        );
        journal
            .record(&Event::TaskFinished {
                result,
                origin: Origin::Sent,
            })
            .is_ok()
    }

    #[test]
    fn a_journal_tells_done_from_in_flight_and_survives_a_torn_line() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::of(&dir.path().join("p.yaml"), None);
        let journal = state.create("fp", vec!["contoso".into()]).unwrap();
        assert!(sent(&journal, "a") && sent(&journal, "b") && sent(&journal, "c"));
        assert!(done(&journal, "a"));
        let id = journal.id();
        drop(journal);
        // A kill in the middle of a write.
        let path = dir
            .path()
            .join(".tenantry/runs/p.yaml")
            .join(&id)
            .join("journal.jsonl");
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"done\":{\"id\":\"b\",\"ten").unwrap();
        let past = state.past("last").unwrap();
        assert_eq!(past.meta.id, id);
        assert_eq!(past.done.keys().collect::<Vec<_>>(), vec!["a"]);
        assert_eq!(
            past.unknown,
            HashSet::from(["b".to_string(), "c".to_string()])
        );
        assert!(past.check("fp", &["contoso".into()]).is_ok());
        assert!(past.check("other", &["contoso".into()]).is_err());
        assert!(past.check("fp", &["fabrikam".into()]).is_err());
        assert!(matches!(
            state.past("nope"),
            Err(JournalError::NoSuchRun(..))
        ));

        // Resuming cuts the half line, so the next record reads back.
        let resumed = Journal::resume(&past).unwrap();
        assert!(sent(&resumed, "d"));
        drop(resumed);
        let past = state.past("last").unwrap();
        assert!(past.unknown.contains("d"), "{:?}", past.unknown);
        // Half a character is half a line too.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(&[b'{', 0xc3]).unwrap();
        assert!(state.past("last").is_ok());
    }

    /// The journal file of the only run in `dir`.
    fn journal_file(dir: &Path, state: &StateDir) -> PathBuf {
        let id = state.runs().pop().unwrap().id;
        dir.join(".tenantry/runs/p.yaml")
            .join(id)
            .join("journal.jsonl")
    }

    #[test]
    fn an_outcome_reads_back_whole_from_its_short_line() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::of(&dir.path().join("p.yaml"), None);
        let journal = state.create("fp", vec!["con/toso".into()]).unwrap();
        let id = crate::plan::task_id("con/toso", "1-new", Some("50%/x"));
        let mut result = TaskResult::new(
            id.clone(),
            "con/toso".into(),
            "1-new".into(),
            "New-TransportRule".into(),
            Status::Failed,
        )
        .because("the rule exists");
        result.objects = 2;
        result.warnings = vec!["w1".into()];
        result.retries = vec!["429 after 1s".into()];
        result.requests = 3;
        result.error_class = Some("Duplicate".into());
        result.duration_ms = 1234;
        result.action = Some(crate::state::Action::Create);
        result.new = true;
        journal.record(&Event::TaskSent { id: id.clone() }).unwrap();
        journal
            .record(&Event::TaskFinished {
                result: result.clone(),
                origin: Origin::Sent,
            })
            .unwrap();
        // An ordinary success of the same step, whose line leaves out what is usual.
        let mut plain = TaskResult::new(
            crate::plan::task_id("con/toso", "1-new", Some("y")),
            "con/toso".into(),
            "1-new".into(),
            "New-TransportRule".into(),
            Status::Ok,
        );
        plain.requests = 1;
        journal
            .record(&Event::TaskSent {
                id: plain.id.clone(),
            })
            .unwrap();
        journal
            .record(&Event::TaskFinished {
                result: plain.clone(),
                origin: Origin::Sent,
            })
            .unwrap();
        drop(journal);
        let past = state.past("last").unwrap();
        let back = &past.done[&id];
        assert_eq!(
            serde_json::to_value(back).unwrap(),
            serde_json::to_value(&result).unwrap()
        );
        assert_eq!(
            serde_json::to_value(&past.done[&plain.id]).unwrap(),
            serde_json::to_value(&plain).unwrap()
        );
        assert!(past.unknown.is_empty());
        let text = std::fs::read_to_string(journal_file(dir.path(), &state)).unwrap();
        let last = text.lines().last().unwrap();
        assert_eq!(last, r#"{"d":1,"st":"ok"}"#, "{text}");
    }

    #[test]
    fn a_resumed_run_numbers_afresh_and_keeps_what_was_never_answered() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::of(&dir.path().join("p.yaml"), None);
        let journal = state.create("fp", vec!["contoso".into()]).unwrap();
        // Sent as number 0, never answered: the process was killed.
        assert!(sent(&journal, "a"));
        drop(journal);
        let past = state.past("last").unwrap();
        let resumed = Journal::resume(&past).unwrap();
        // Number 0 again, in the new process: it must not answer `a`.
        assert!(sent(&resumed, "b") && done(&resumed, "b"));
        drop(resumed);
        let past = state.past("last").unwrap();
        assert_eq!(past.done.keys().collect::<Vec<_>>(), vec!["b"]);
        assert_eq!(past.unknown, HashSet::from(["a".to_string()]));
    }

    #[test]
    fn a_journal_written_in_the_earlier_long_form_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::of(&dir.path().join("p.yaml"), None);
        drop(state.create("fp", vec!["contoso".into()]).unwrap());
        let path = journal_file(dir.path(), &state);
        std::fs::write(
            &path,
            concat!(
                r#"{"sent":"contoso/s/a"}"#,
                "\n",
                r#"{"sent":"contoso/s/b"}"#,
                "\n",
                r#"{"done":{"id":"contoso/s/a","tenant":"contoso","step":"s","cmdlet":"Set-Mailbox","status":"ok","objects":0,"warnings":[],"retries":[],"requests":1,"error":null,"error_class":null,"duration_ms":167}}"#,
                "\n",
                r#"{"output":{"id":"contoso/s/a","values":[{"Name":"x"}]}}"#,
                "\n"
            ),
        )
        .unwrap();
        let past = state.past("last").unwrap();
        assert_eq!(past.done["contoso/s/a"].duration_ms, 167);
        assert_eq!(past.unknown, HashSet::from(["contoso/s/b".to_string()]));
        assert_eq!(past.outputs["contoso/s/a"].len(), 1);
        // Resumed by this version: its short lines follow the long ones.
        let resumed = Journal::resume(&past).unwrap();
        assert!(sent(&resumed, "contoso/s/b") && done(&resumed, "contoso/s/b"));
        drop(resumed);
        let past = state.past("last").unwrap();
        assert!(past.unknown.is_empty());
        assert_eq!(past.done.len(), 2);
    }

    #[test]
    fn playbooks_side_by_side_keep_their_runs_apart() {
        let dir = tempfile::tempdir().unwrap();
        let p = StateDir::of(&dir.path().join("p.yaml"), None);
        let q = StateDir::of(&dir.path().join("q.yaml"), None);
        let a = p.create("fp", Vec::new()).unwrap();
        let b = p.create("fp", Vec::new()).unwrap();
        assert_ne!(
            a.id(),
            b.id(),
            "two runs in one millisecond get their own folders"
        );
        assert!(q.runs().is_empty());
        assert!(matches!(q.past("last"), Err(JournalError::NoSuchRun(..))));
        assert_eq!(p.runs().len(), 2);
    }

    #[test]
    fn a_second_run_of_a_playbook_finds_it_locked() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::of(&dir.path().join("p.yaml"), None);
        let held = state.lock(None).unwrap();
        assert!(matches!(state.lock(None), Err(JournalError::Locked { .. })));
        let started = Instant::now();
        assert!(state.lock(Some(Duration::from_millis(300))).is_err());
        assert!(started.elapsed() >= Duration::from_millis(300));
        drop(held);
        assert!(state.lock(None).is_ok());
        // Another playbook beside it has its own lock.
        let other = StateDir::of(&dir.path().join("q.yaml"), None);
        let _a = state.lock(None).unwrap();
        assert!(other.lock(None).is_ok());
    }
}
