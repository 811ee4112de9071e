//! Running the binary and reading what it did.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one run of `tenantry` did.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `tenantry ARGS` in `dir`, with no standard input.
pub fn tenantry_in(dir: &Path, args: &[&str]) -> Run {
    tenantry_with_env(dir, args, &[])
}

/// Runs `tenantry ARGS` in `dir` with these environment variables set, no standard input.
pub fn tenantry_with_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the tenantry binary runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "tenantry panicked on {args:?}:\n{}",
        run.stderr
    );
    run
}

/// Runs `tenantry ARGS` from the repository root.
pub fn tenantry(args: &[&str]) -> Run {
    tenantry_in(&root(), args)
}

/// A plan sink that keeps every record as JSON, for tests of the library API.
#[derive(Default)]
pub struct Collect(pub Vec<serde_json::Value>);

impl tenantry::plan::Sink for Collect {
    fn record(&mut self, record: tenantry::plan::PlanRecord<'_>) -> std::io::Result<()> {
        self.0
            .push(serde_json::to_value(&record).expect("records serialize"));
        Ok(())
    }
}

/// A temporary folder holding a playbook and the files it reads, removed when dropped.
pub struct Workspace {
    dir: tempfile::TempDir,
}

impl Workspace {
    /// A workspace with these files (path relative to the folder, contents).
    pub fn new(files: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("a temp dir");
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().expect("a parent")).expect("create dirs");
            std::fs::write(path, text).expect("write file");
        }
        Self { dir }
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `tenantry ARGS` inside the workspace.
    pub fn run(&self, args: &[&str]) -> Run {
        tenantry_in(self.path(), args)
    }
}

/// A playbook's tenant entry (a YAML line) for `domain` on a sandbox served at `url`, reached
/// through `cloud: custom` endpoints with the admin app's secret read from `$secret_env`.
pub fn custom_tenant(name: &str, domain: &str, url: &str, secret_env: &str) -> String {
    format!(
        "  - {{ name: {name}, organization: {domain}, cloud: custom, endpoints: {{ rest: \"{url}\", authority: \"{url}\", scope: \"https://outlook.office365.com/.default\" }}, auth: {{ method: client_secret, app_id: {}, secret_env: {secret_env} }} }}\n",
        tenantry::sandbox::APPS[0].client_id
    )
}

/// Every tenant of `sandbox` as a `cloud: custom` tenants-list entry (see [`custom_tenant`]),
/// named by its domain's first label.
pub fn custom_tenants(sandbox: &tenantry::sandbox::Sandbox, secret_env: &str) -> String {
    let url = sandbox.url();
    sandbox
        .tenants()
        .iter()
        .map(|t| {
            let name = t.domain.split('.').next().unwrap();
            custom_tenant(name, &t.domain, &url, secret_env)
        })
        .collect()
}

/// Starts `tenantry ARGS` in `dir` with these variables and returns once it has printed its
/// run's first line (`run <id> …`: the journal exists and calls are about to go out). Its
/// standard output is drained from then on, so it never blocks on a full pipe.
pub fn start_run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = Command::new(env!("CARGO_BIN_EXE_tenantry"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the tenantry binary runs");
    let mut out = BufReader::new(child.stdout.take().expect("piped"));
    let mut line = String::new();
    while out.read_line(&mut line).unwrap_or(0) > 0 && !line.starts_with("run ") {
        line.clear();
    }
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    child
}

/// Runs `tenantry ARGS` in the workspace off the async runtime, with the sandbox app's client
/// secret in `SECRET` (as [`custom_tenant`] names it).
pub async fn tenantry_for_sandbox(ws: &Workspace, args: &[&str]) -> Run {
    let dir = ws.path().to_path_buf();
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tenantry_with_env(
            &dir,
            &args,
            &[("SECRET", tenantry::sandbox::APPS[0].client_secret)],
        )
    })
    .await
    .expect("the run's thread finishes")
}

/// A JSON Lines file, one value per line.
pub fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("readable")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect()
}
