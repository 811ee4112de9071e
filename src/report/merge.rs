//! `tenantry report --merge DIR…`: the reports of several shards (or runs over different
//! tenants) as one set, replayed through the same reporters as a run, so the merged files
//! agree with each other and their counts add up.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::events::{Event, Fanout, Origin, RunSummary, TaskResult};

/// Why reports could not be merged.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MergeError {
    /// An input is not a report folder.
    #[error("cannot read the report in {dir}: {why}")]
    Input {
        /// The folder.
        dir: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// Two inputs report the same tenant: they are not shards of one run.
    #[error(
        "{tenant} is in the reports of both {first} and {second}: merge the reports of different tenants (the shards of one run), not two runs of the same tenants"
    )]
    Overlap {
        /// The tenant.
        tenant: String,
        /// One report folder.
        first: PathBuf,
        /// The other.
        second: PathBuf,
    },
    /// The output folder is one of the inputs: writing it would destroy what is read.
    #[error(
        "--report {0} is one of the folders to merge: writing there would overwrite what is merged; name a new folder"
    )]
    IntoInput(PathBuf),
    /// The merged report could not be written.
    #[error("cannot write the merged report in {dir}: {source}")]
    Output {
        /// The folder.
        dir: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// What one input's summary.json says that its results.jsonl does not.
#[derive(serde::Deserialize)]
struct InputSummary {
    playbook: String,
    #[serde(default)]
    tenants: BTreeMap<String, crate::events::TenantSummary>,
    #[serde(default)]
    duration_ms: u64,
    #[serde(default)]
    complete: bool,
    #[serde(default)]
    stopped_by: Option<String>,
    #[serde(default)]
    exit_code: i32,
    #[serde(default)]
    check: bool,
}

/// Merges the reports in `inputs` into `out`; the merged summary.
pub(crate) fn merge(inputs: &[PathBuf], out: &Path) -> Result<RunSummary, MergeError> {
    let input_error = |dir: &Path, why: String| MergeError::Input {
        dir: dir.to_path_buf(),
        why,
    };
    // The reports are written as the inputs are read: into an input would truncate it first.
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if inputs.iter().any(|dir| same(dir, out)) {
        return Err(MergeError::IntoInput(out.to_path_buf()));
    }
    let mut summaries = Vec::new();
    let mut owner: BTreeMap<String, PathBuf> = BTreeMap::new();
    for dir in inputs {
        let text = std::fs::read_to_string(dir.join("summary.json"))
            .map_err(|e| input_error(dir, format!("summary.json: {e}")))?;
        let summary: InputSummary = serde_json::from_str(&text)
            .map_err(|e| input_error(dir, format!("summary.json: {e}")))?;
        for tenant in summary.tenants.keys() {
            if let Some(first) = owner.insert(tenant.clone(), dir.clone()) {
                return Err(MergeError::Overlap {
                    tenant: tenant.clone(),
                    first,
                    second: dir.clone(),
                });
            }
        }
        summaries.push(summary);
    }
    let mut merged = RunSummary {
        playbook: summaries
            .first()
            .map(|s| s.playbook.clone())
            .unwrap_or_default(),
        complete: summaries.iter().all(|s| s.complete),
        stopped_by: summaries.iter().find_map(|s| s.stopped_by.clone()),
        // The worst: any failure, interruption or refusal of one shard is the run's.
        exit_code: summaries.iter().map(|s| s.exit_code).max().unwrap_or(0),
        duration_ms: summaries.iter().map(|s| s.duration_ms).max().unwrap_or(0),
        check: summaries.iter().any(|s| s.check),
        ..RunSummary::default()
    };
    std::fs::create_dir_all(out).map_err(|source| MergeError::Output {
        dir: out.to_path_buf(),
        source,
    })?;
    let mut fanout = Fanout::new();
    for (name, reporter) in super::report_files(out).map_err(|source| MergeError::Output {
        dir: out.to_path_buf(),
        source,
    })? {
        fanout.add(name, reporter);
    }
    // Tasks one input at a time, a line at a time: nothing is held per task.
    for dir in inputs {
        let path = dir.join("results.jsonl");
        let file = std::fs::File::open(&path)
            .map_err(|e| input_error(dir, format!("results.jsonl: {e}")))?;
        for (n, line) in std::io::BufRead::lines(std::io::BufReader::new(file)).enumerate() {
            let line = line.map_err(|e| input_error(dir, format!("results.jsonl: {e}")))?;
            let result: TaskResult = serde_json::from_str(&line)
                .map_err(|e| input_error(dir, format!("results.jsonl line {}: {e}", n + 1)))?;
            if owner.get(&result.tenant) != Some(dir) {
                return Err(input_error(
                    dir,
                    format!(
                        "results.jsonl line {} is a task of {}, which its summary.json does not list",
                        n + 1,
                        result.tenant
                    ),
                ));
            }
            let event = Event::TaskFinished {
                result,
                origin: Origin::Earlier,
            };
            merged.record(&event);
            let _ = fanout.emit(&event);
        }
    }
    // What only the summaries know: a tenant's stop and duration, and tenants with no task.
    for summary in summaries {
        for (tenant, s) in summary.tenants {
            let entry = merged.tenants.entry(tenant).or_default();
            entry.stopped = s.stopped;
            entry.duration_ms = s.duration_ms;
        }
    }
    let _ = fanout.emit(&Event::RunFinished(Box::new(merged.clone())));
    match fanout.errors().into_iter().next() {
        Some((_, source)) => Err(MergeError::Output {
            dir: out.to_path_buf(),
            source,
        }),
        None => Ok(merged),
    }
}
