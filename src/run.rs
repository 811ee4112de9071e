//! `tenantry run`: resolves each tenant's endpoints and credentials (starting the built-in
//! sandbox for `cloud: sandbox` tenants), runs the scheduler, and feeds its events to the
//! reporters.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::auth::{AppCredential, Secret, TokenProvider};
use crate::cloud::Endpoints;
use crate::exchange::{Client, RetryPolicy, http_client};
use crate::exit;
use crate::plan::{PlanRecord, Planner, Sink};
use crate::playbook::{Auth, Cloud, Playbook, Tenant};
use crate::report::{Progress, ReportDir, Reporter, RunSummary, Terminal};
use crate::sandbox::{APPS, Sandbox, SandboxConfig};
use crate::scheduler::{Event, RunOptions, Target};

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A tenant's credentials or endpoints are unusable.
    #[error("tenant {tenant}: {reason}")]
    Tenant {
        /// The tenant's name.
        tenant: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// The sandbox could not start.
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    /// A report could not be written.
    #[error("cannot write the report in {dir}: {source}")]
    Report {
        /// The report folder.
        dir: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// The plan does not expand: nothing was sent to any tenant.
    #[error(transparent)]
    Plan(#[from] crate::plan::PlanError),
    /// Anything else about starting the run.
    #[error("{0}")]
    Other(String),
}

/// What `run` was asked to do beyond the playbook.
#[derive(Clone, Debug)]
pub struct RunSettings {
    /// `--report DIR`.
    pub report: Option<PathBuf>,
    /// How long calls in flight may finish after Ctrl-C or SIGTERM.
    pub grace: Duration,
    /// Latency of the in-process sandbox, to rehearse realistic timing.
    pub sandbox_latency: crate::sandbox::Latency,
    /// Progress bars on standard error instead of a line per task.
    pub progress: bool,
}

impl Default for RunSettings {
    fn default() -> Self {
        RunSettings {
            report: None,
            grace: Duration::from_secs(30),
            sandbox_latency: crate::sandbox::Latency::Fixed(Duration::ZERO),
            progress: false,
        }
    }
}

/// Ctrl-C and SIGTERM, registered before the run starts so none is missed.
struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let unix = signal(SignalKind::interrupt())
                .and_then(|int| Ok((int, signal(SignalKind::terminate())?)))
                .ok();
            Signals { unix }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next interrupt or termination request.
    async fn next(&mut self) {
        #[cfg(unix)]
        if let Some((int, term)) = &mut self.unix {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Mailboxes per sandbox tenant started for a run.
const SANDBOX_MAILBOXES: usize = 100;

/// Runs the planned playbook and returns the exit code.
pub async fn run(
    playbook: &Playbook,
    planner: &Planner<'_, '_>,
    settings: &RunSettings,
    out: &mut dyn std::io::Write,
) -> Result<i32, RunError> {
    let started = Instant::now();
    // The whole plan is expanded once before anything is sent, keeping only counts: a
    // template or data error in any tenant stops the run before it changes anything anywhere.
    let mut planned = PlannedTasks::default();
    planner.expand_all(&mut planned)?;
    let selected: Vec<usize> = planner.tenant_indexes().to_vec();
    let sandbox_domains: Vec<String> = selected
        .iter()
        .map(|&i| &playbook.tenants[i])
        .filter(|t| t.cloud == Cloud::Sandbox)
        .map(|t| t.organization.value.to_ascii_lowercase())
        .collect();
    let sandbox = if sandbox_domains.is_empty() {
        None
    } else {
        let latency = settings.sandbox_latency;
        let config = SandboxConfig::with_domains(&sandbox_domains, SANDBOX_MAILBOXES)
            .each_tenant(|t| t.behaviour.latency = latency);
        Some(Sandbox::start(config).await?)
    };
    let http = http_client().map_err(|e| RunError::Other(e.to_string()))?;
    let mut targets = Vec::new();
    for &index in &selected {
        let tenant = &playbook.tenants[index];
        let client = connect(playbook, tenant, sandbox.as_ref(), &http)?;
        targets.push(Target {
            tenant: index,
            client: Arc::new(client),
        });
    }
    let mut report = match &settings.report {
        Some(dir) => Some(ReportDir::create(dir).map_err(|source| RunError::Report {
            dir: dir.clone(),
            source,
        })?),
        None => None,
    };
    let mut terminal = if settings.progress {
        Terminal::with_progress(&mut *out, Progress::stderr(&planned.per_tenant))
    } else {
        Terminal::new(&mut *out)
    };
    let mut summary = RunSummary {
        playbook: playbook.doc.name.clone(),
        complete: true,
        ..RunSummary::default()
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Event>();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let options = RunOptions {
        max_in_flight: playbook.max_in_flight() as usize,
        stop: stop.clone(),
    };
    let mut signals = Signals::install();
    let scheduler = crate::scheduler::run(planner, playbook, &targets, &options, tx);
    tokio::pin!(scheduler);
    let mut report_error = None;
    let mut consume = |event: Event,
                       summary: &mut RunSummary,
                       terminal: &mut Terminal<&mut dyn std::io::Write>,
                       report: &mut Option<ReportDir>| {
        summary.record(&event);
        let _ = terminal.event(&event);
        if let Some(r) = report
            && let Err(e) = r.event(&event)
            && report_error.is_none()
        {
            report_error = Some(e);
        }
    };
    // Events are consumed as they come, so results.jsonl grows while the run goes on.
    let mut finished = false;
    let mut deadline: Option<tokio::time::Instant> = None;
    while !finished {
        let grace = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = &mut scheduler => finished = true,
            Some(event) = rx.recv() => consume(event, &mut summary, &mut terminal, &mut report),
            _ = signals.next() => {
                summary.complete = false;
                if deadline.is_some() {
                    // A second signal: stop now, with what has been reported so far.
                    let _ = terminal.message("aborting: calls still in flight are abandoned");
                    break;
                }
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
                let _ = terminal.message(&format!(
                    "stopping: no new calls; waiting up to {}s for those in flight (interrupt again to abort)",
                    settings.grace.as_secs()
                ));
                deadline = Some(tokio::time::Instant::now() + settings.grace);
            }
            _ = grace => {
                let _ = terminal.message(&format!("stopping: calls still in flight after {}s are abandoned", settings.grace.as_secs()));
                break;
            }
        }
    }
    while let Ok(event) = rx.try_recv() {
        consume(event, &mut summary, &mut terminal, &mut report);
    }
    summary.duration_ms = started.elapsed().as_millis() as u64;
    summary.exit_code = if summary.complete {
        exit_code(&summary)
    } else {
        exit::INTERRUPTED
    };
    let _ = terminal.finish(&summary);
    if let Some(mut r) = report {
        let dir = settings.report.clone().unwrap_or_default();
        if let Some(source) = report_error {
            return Err(RunError::Report { dir, source });
        }
        r.finish(&summary)
            .map_err(|source| RunError::Report { dir, source })?;
    }
    if let Some(sandbox) = sandbox {
        sandbox.shutdown().await;
    }
    Ok(summary.exit_code)
}

/// Task events planned per tenant (tasks and skips), for the progress bars.
#[derive(Default)]
struct PlannedTasks {
    per_tenant: std::collections::BTreeMap<String, usize>,
    current: String,
}

impl Sink for PlannedTasks {
    fn record(&mut self, record: PlanRecord<'_>) -> std::io::Result<()> {
        match record {
            PlanRecord::Tenant(t) => {
                self.current = t.tenant.into_owned();
                self.per_tenant.entry(self.current.clone()).or_default();
            }
            PlanRecord::Task(_) | PlanRecord::Skipped(_) => {
                *self.per_tenant.entry(self.current.clone()).or_default() += 1;
            }
            _ => {}
        }
        Ok(())
    }
}

/// 0 when nothing failed; 3 when no tenant got a single task done and every one stopped (none
/// could be reached or signed in to); 1 otherwise.
fn exit_code(summary: &RunSummary) -> i32 {
    let t = &summary.total;
    if t.failed == 0 && summary.tenants.values().all(|s| s.stopped.is_none()) {
        return exit::OK;
    }
    let none_reached = summary
        .tenants
        .values()
        .all(|s| s.ok == 0 && s.stopped.is_some());
    if none_reached && t.ok == 0 {
        exit::NO_TENANT_REACHED
    } else {
        exit::TASKS_FAILED
    }
}

/// A client for one tenant: its cloud's endpoints and its credentials.
fn connect(
    playbook: &Playbook,
    tenant: &Tenant,
    sandbox: Option<&Sandbox>,
    http: &reqwest::Client,
) -> Result<Client, RunError> {
    let name = tenant.name().to_string();
    let fail = |reason: String| RunError::Tenant {
        tenant: name.clone(),
        reason,
    };
    let sandbox_url = sandbox.map(Sandbox::url);
    let endpoints = Endpoints::of(
        tenant.cloud,
        tenant.endpoints.as_ref(),
        sandbox_url.as_deref(),
    )
    .map_err(|e| fail(e.to_string()))?;
    let org = tenant.organization.value.as_str();
    let (app_id, credential) = match (&tenant.auth, tenant.cloud) {
        // The sandbox's own admin app, so the quick start needs no credentials.
        (None, Cloud::Sandbox) => (
            APPS[0].client_id.to_string(),
            AppCredential::Secret(Secret::new(APPS[0].client_secret)),
        ),
        (None, _) => {
            return Err(fail(
                "no `auth` block: add one (method: certificate or client_secret)".into(),
            ));
        }
        (Some(auth), _) => credential(playbook, &auth.value).map_err(fail)?,
    };
    let tokens = TokenProvider::new(
        http.clone(),
        &endpoints.token_url(org),
        org,
        &endpoints.scope,
        &app_id,
        credential,
        Duration::from_secs(300),
    )
    .map_err(|e| fail(e.to_string()))?;
    Client::new(
        http.clone(),
        &endpoints.invoke_url(org),
        org,
        Arc::new(tokens),
        RetryPolicy::default(),
    )
    .map_err(|e| fail(e.to_string()))
}

/// The app id and credential an auth block names, read from its files or environment.
fn credential(playbook: &Playbook, auth: &Auth) -> Result<(String, AppCredential), String> {
    let path = |p: &Path| -> PathBuf {
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            playbook.dir.join(p)
        }
    };
    match auth {
        Auth::ClientSecret {
            app_id,
            secret_env,
            secret_file,
        } => {
            let secret = match (secret_env, secret_file) {
                (Some(var), _) => std::env::var(var).map_err(|_| {
                    format!("the environment variable {var} (secret_env) is not set")
                })?,
                (None, Some(file)) => std::fs::read_to_string(path(file))
                    .map_err(|e| format!("cannot read secret_file {}: {e}", file.display()))?
                    .trim()
                    .to_string(),
                (None, None) => return Err("client_secret needs secret_env or secret_file".into()),
            };
            Ok((app_id.clone(), AppCredential::Secret(Secret::new(secret))))
        }
        Auth::Certificate {
            app_id,
            certificate_file,
            key_file,
            key_password_env,
        } => {
            if key_password_env.is_some() {
                return Err("encrypted private keys are not supported yet: give an unencrypted PEM key with file mode 0600".into());
            }
            let cert = path(certificate_file);
            let key = key_file.as_deref().map(path);
            let credential =
                AppCredential::from_pem_files(&cert, key.as_deref()).map_err(|e| e.to_string())?;
            Ok((app_id.clone(), credential))
        }
        other => Err(format!(
            "`tenantry run` signs in with method certificate or client_secret for now; {} is not available yet",
            other.method()
        )),
    }
}
