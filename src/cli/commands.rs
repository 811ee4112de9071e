//! Each command run against the library: what it reads, what it prints, and its exit code.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::CliError;
use super::args::{CatalogArgs, CheckArgs, Format, PlanArgs, RunArgs, SchemaKind, SessionArgs};
use crate::diagnostic::plural;
use crate::exit;
use crate::plan::{
    CountingSink, JsonSink, PlanError, PlanFailure, PlanRecord, Planner, Sink, TextSink,
};
use crate::playbook::{Playbook, PlaybookError};

/// `tenantry validate`.
pub(super) fn validate(args: PlanArgs) -> Result<i32, CliError> {
    let playbook = Playbook::parse(&args.playbook)?;
    let env = crate::template::environment(&playbook.dir);
    let planner = prepare(&env, &playbook, &args)?;
    let summary = planner.expand_all(&mut CountingSink::default())?;
    let mut err = io::stderr().lock();
    writeln!(
        err,
        "{} is valid: {} tenant{}, {} step{}, {} task{} known now{}",
        args.playbook.display(),
        summary.tenants,
        plural(summary.tenants),
        planner.steps().len(),
        plural(planner.steps().len()),
        summary.tasks,
        plural(summary.tasks),
        if summary.deferred_steps > 0 {
            format!(
                ", {} step{} expanding at run time",
                summary.deferred_steps,
                plural(summary.deferred_steps)
            )
        } else {
            String::new()
        }
    )?;
    Ok(exit::OK)
}

/// `tenantry plan`.
pub(super) fn plan(args: PlanArgs, format: Format, out: Option<&Path>) -> Result<i32, CliError> {
    let playbook = Playbook::parse(&args.playbook)?;
    let env = crate::template::environment(&playbook.dir);
    let planner = prepare(&env, &playbook, &args)?;
    if let Some(out) = out {
        save_plan(&playbook, &planner, out)?;
    }
    let stdout = io::stdout().lock();
    let out = io::BufWriter::with_capacity(64 * 1024, stdout);
    match format {
        Format::Text => write_plan(&planner, TextSink::new(out), TextSink::into_inner),
        Format::Json => write_plan(&planner, JsonSink::new(out), JsonSink::into_inner),
    }
}

/// `plan --out FILE`: the plan's writes as a reviewed plan, for a playbook whose calls are all
/// known now.
fn save_plan(playbook: &Playbook, planner: &Planner<'_, '_>, out: &Path) -> Result<(), CliError> {
    if let Some(step) = planner
        .steps()
        .iter()
        .find(|s| s.is_deferred() || s.noun.is_some())
    {
        return Err(CliError::Usage(format!(
            "step {} {}, so its calls are known only once the tenants are read: save the plan with `tenantry check {} --out {}`",
            step.key,
            if step.noun.is_some() {
                "has `ensure` or `state`"
            } else {
                "reads earlier output"
            },
            playbook.path.display(),
            out.display()
        )));
    }
    let header = crate::reviewed::Header {
        format: crate::reviewed::PLAN_FILE_FORMAT,
        name: playbook.doc.name.clone(),
        playbook: playbook.path.display().to_string(),
        fingerprint: crate::run::fingerprint(planner)?,
        commit: crate::reviewed::git_commit(&playbook.dir),
        created_at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs(),
        tenants: planner
            .tenant_indexes()
            .iter()
            .map(|&i| playbook.tenants[i].name().to_string())
            .collect(),
    };
    let failed = |e: std::io::Error| {
        CliError::Run(crate::run::RunError::PlanFile {
            path: out.to_path_buf(),
            source: e,
        })
    };
    let mut writer = crate::reviewed::Writer::create(out, &header).map_err(failed)?;
    struct Writes<'w>(&'w mut crate::reviewed::Writer);
    impl Sink for Writes<'_> {
        fn record(&mut self, record: PlanRecord<'_>) -> std::io::Result<()> {
            match record {
                PlanRecord::Task(t) if !t.read_only => self.0.push(&crate::reviewed::PlannedCall {
                    would: Some(crate::plan::powershell_call(&t.cmdlet, &t.params)),
                    id: t.id,
                    tenant: t.tenant.into_owned(),
                    step: t.step.into_owned(),
                    cmdlet: t.cmdlet.into_owned(),
                    action: None,
                    changes: Vec::new(),
                }),
                _ => Ok(()),
            }
        }
    }
    planner.expand_all(&mut Writes(&mut writer))?;
    let calls = writer
        .finish(true, 0)
        .map_err(|why| failed(std::io::Error::other(why)))?;
    writeln!(
        io::stderr(),
        "plan written to {}: {calls} call{}; apply it with `tenantry run {} --plan {}`",
        out.display(),
        plural(calls),
        playbook.path.display(),
        out.display()
    )?;
    Ok(())
}

/// `tenantry run`.
pub(super) fn run(run: RunArgs) -> Result<i32, CliError> {
    let reviewed = match &run.plan {
        Some(path) => Some(std::sync::Arc::new(
            crate::reviewed::Reviewed::load(path).map_err(crate::run::RunError::from)?,
        )),
        None => None,
    };
    let settings = crate::run::RunSettings {
        reviewed,
        max_plan_age: run.max_plan_age,
        wait_lock: run.wait_lock,
        resume: run.resume,
        force: run.force,
        retry_unknown: run.retry_unknown,
        ..run_settings(&run.common)
    };
    execute(
        &run.args,
        settings,
        run.common.trace.as_deref(),
        &run.common.notify,
    )
}

/// `tenantry check`.
pub(super) fn check(check: CheckArgs) -> Result<i32, CliError> {
    let settings = crate::run::RunSettings {
        check: Some(crate::check::CheckSettings {
            format: check.format,
            out: check.out.clone(),
        }),
        ..run_settings(&check.common)
    };
    execute(
        &check.args,
        settings,
        check.common.trace.as_deref(),
        &check.common.notify,
    )
}

/// The settings `run` and `check` share, but the trace, opened once the plan is made.
fn run_settings(common: &SessionArgs) -> crate::run::RunSettings {
    crate::run::RunSettings {
        progress: common.progress.bars(),
        report: common.report.clone(),
        grace: common.grace,
        #[cfg(feature = "sandbox")]
        sandbox_latency: common.sandbox_latency,
        #[cfg(not(feature = "sandbox"))]
        sandbox_latency: crate::builtin::NO_LATENCY,
        proxy: common.proxy.clone(),
        state_dir: common.state_dir.clone(),
        deadline: common.deadline,
        log_format: common.log_format,
        metrics: crate::report::MetricsSettings {
            file: common.metrics_file.clone(),
            // Checked when the command line was read.
            push: common
                .metrics_push
                .as_deref()
                .and_then(|url| crate::report::PushUrl::parse(url).ok()),
            shard: None,
            proxy: common.proxy.clone(),
        },
        ..Default::default()
    }
}

/// Plans the playbook and runs it with `settings`, tracing to `trace` when asked.
fn execute(
    args: &PlanArgs,
    mut settings: crate::run::RunSettings,
    trace: Option<&Path>,
    notify: &super::NotifyArgs,
) -> Result<i32, CliError> {
    let playbook = Playbook::parse(&args.playbook)?;
    let env = crate::template::environment(&playbook.dir);
    let planner = prepare(&env, &playbook, args)?;
    let shard = args.shard().map_err(CliError::Usage)?;
    // Built before notifications are read: without it none could be sent.
    let runtime = one_thread()?;
    // Before anything is sent: a webhook URL that cannot be read stops the run unstarted.
    settings.notify = notifier(&playbook, args, &settings, shard, notify)?;
    if let Some(shard) = shard {
        // Each shard its own journals, lock and drift memory: shards of one playbook run at
        // once, and each resumes alone.
        let base = settings.state_dir.clone().unwrap_or_else(|| {
            args.playbook
                .parent()
                .unwrap_or(Path::new("."))
                .join(".tenantry")
        });
        settings.state_dir = Some(base.join("shards").join(shard.folder()));
        settings.metrics.shard = Some(shard.to_string());
    }
    // A run that could not start is a failure to hear of; one that reported already (its
    // report failed) is not told twice.
    let not_started = |exit_code: i32, error: &str| {
        if let Some(notify) = &settings.notify {
            let summary = crate::events::RunSummary {
                playbook: playbook.doc.name.clone(),
                exit_code,
                check: settings.check.is_some(),
                ..Default::default()
            };
            runtime.block_on(notify.send(&summary, None, Some(error)));
        }
    };
    // Before anything is sent, so a trace that cannot be written stops the run unstarted.
    let trace = match open_trace(trace) {
        Ok(trace) => trace,
        Err(e) => {
            not_started(e.exit_code(), &e.to_string());
            return Err(e);
        }
    };
    settings.trace = trace;
    let mut out = io::stdout().lock();
    let result = runtime.block_on(crate::run::run(&playbook, &planner, &settings, &mut out));
    if let Err(e) = &result {
        not_started(e.exit_code(), &e.to_string());
    }
    Ok(result?)
}

/// The notifications of the playbook's `notify:` and of the command line, their URLs read and
/// checked; `None` when there are none.
fn notifier(
    playbook: &Playbook,
    args: &PlanArgs,
    settings: &crate::run::RunSettings,
    shard: Option<crate::plan::shard::Shard>,
    notify: &super::NotifyArgs,
) -> Result<Option<std::sync::Arc<crate::notify::Notifier>>, CliError> {
    let mut targets: Vec<(String, &'static str)> = notify
        .notify
        .iter()
        .map(|t| (t.clone(), "--notify"))
        .collect();
    if targets.is_empty()
        && let Ok(target) = std::env::var("TENANTRY_NOTIFY")
        && !target.trim().is_empty()
    {
        targets.push((target.trim().to_string(), "TENANTRY_NOTIFY"));
    }
    let cli = crate::notify::CliTargets {
        targets,
        format: notify.notify_format,
        on: notify.notify_on.clone(),
        report_url: notify.notify_report_url.clone(),
        off: notify.no_notify,
    };
    let context = crate::notify::Context {
        command: if settings.check.is_some() {
            "check"
        } else {
            "run"
        },
        playbook_path: args.playbook.display().to_string(),
        reports: settings.report.as_deref().map(crate::notify::reports_path),
        host: crate::notify::host_name(),
        shard: shard.map(|s| s.to_string()),
    };
    Ok(
        crate::notify::Notifier::resolve(playbook, &cli, context, settings.proxy.clone())?
            .map(std::sync::Arc::new),
    )
}

/// `tenantry connect`.
pub(super) fn connect(
    mut args: PlanArgs,
    tenant: Option<String>,
    cmdlet: String,
    proxy: Option<String>,
    trace: Option<PathBuf>,
) -> Result<i32, CliError> {
    args.limit.extend(tenant);
    if !crate::playbook::verbs::is_read_only(&cmdlet) {
        return Err(CliError::Usage(format!(
            "`connect` runs a read-only cmdlet (Get-, Test-, …), not {cmdlet}"
        )));
    }
    let playbook = Playbook::parse(&args.playbook)?;
    let env = crate::template::environment(&playbook.dir);
    let planner = prepare(&env, &playbook, &args)?;
    let trace = open_trace(trace.as_deref())?;
    let runtime = one_thread()?;
    let options = crate::connect::ConnectOptions {
        cmdlet,
        proxy,
        trace,
    };
    let mut out = io::stdout().lock();
    let code = runtime.block_on(crate::connect::connect(
        &playbook,
        planner.tenant_indexes(),
        &options,
        &mut out,
    ))?;
    Ok(code)
}

/// The `--trace` file, created and empty, when one is asked for.
fn open_trace(
    path: Option<&Path>,
) -> Result<Option<std::sync::Arc<crate::trace::Trace>>, CliError> {
    Ok(path.map(crate::trace::Trace::create).transpose()?)
}

/// `tenantry runs`.
pub(super) fn runs(playbook: PathBuf, state_dir: Option<PathBuf>) -> Result<i32, CliError> {
    let state = crate::journal::StateDir::of(&playbook, state_dir.as_deref());
    let mut out = io::stdout().lock();
    let runs = state.runs();
    if runs.is_empty() {
        writeln!(out, "no runs of {} yet", playbook.display())?;
    }
    for meta in runs {
        let past = state.past(&meta.id).map_err(crate::run::RunError::from)?;
        writeln!(out, "{}", crate::journal::describe(&past))?;
    }
    Ok(exit::OK)
}

/// `tenantry report`.
pub(super) fn report(
    playbook: PathBuf,
    run: String,
    report: PathBuf,
    state_dir: Option<&Path>,
) -> Result<i32, CliError> {
    let state = crate::journal::StateDir::of(&playbook, state_dir);
    let past = state.past(&run).map_err(crate::run::RunError::from)?;
    crate::report::from_journal(&past, &report).map_err(|source| crate::run::RunError::Report {
        dir: report.clone(),
        source,
    })?;
    writeln!(
        io::stdout().lock(),
        "wrote the reports of run {} in {}",
        past.meta.id,
        report.display()
    )?;
    Ok(exit::OK)
}

/// `tenantry report --merge`: one set of reports from several shards'.
pub(super) fn merge(inputs: &[PathBuf], report: &Path) -> Result<i32, CliError> {
    let summary =
        crate::report::merge(inputs, report).map_err(|e| CliError::Usage(e.to_string()))?;
    let t = &summary.total;
    let tasks = t.ok + t.failed + t.skipped + t.unknown + t.drift + t.stale;
    writeln!(
        io::stdout().lock(),
        "merged the reports of {} folder{} ({} tenant{}, {} task{}) in {}",
        inputs.len(),
        crate::diagnostic::plural(inputs.len()),
        summary.tenants.len(),
        crate::diagnostic::plural(summary.tenants.len()),
        tasks,
        crate::diagnostic::plural(tasks),
        report.display()
    )?;
    Ok(exit::OK)
}

/// `tenantry logout`.
pub(super) fn logout(tenant: Option<String>) -> Result<i32, CliError> {
    let Some(dir) = crate::auth::cache::TokenCache::default_location() else {
        return Err(CliError::Usage(
            "no cache folder: set HOME (or TENANTRY_CACHE_DIR)".into(),
        ));
    };
    let cache = crate::auth::cache::TokenCache::at(dir);
    let removed = cache.logout(tenant.as_deref())?;
    let mut out = io::stdout().lock();
    if removed.is_empty() {
        writeln!(
            out,
            "no saved sign-in{}",
            tenant.map(|t| format!(" for {t}")).unwrap_or_default()
        )?;
    }
    for r in removed {
        writeln!(out, "signed out {} from {}", r.user, r.tenant)?;
    }
    Ok(exit::OK)
}

/// `tenantry schema`.
pub(super) fn schema(kind: SchemaKind, catalog: &CatalogArgs) -> Result<i32, CliError> {
    let schema = match kind {
        SchemaKind::Playbook => playbook_schema_with(&catalog.load()?),
        SchemaKind::Plan => plan_schema(),
        SchemaKind::Check => check_schema(),
        SchemaKind::ReviewedPlan => reviewed_plan_schema(),
    };
    let mut out = io::stdout().lock();
    writeln!(out, "{schema}")?;
    Ok(exit::OK)
}

/// The runtime of `run` and `connect`. One thread: a run waits on the network, and keeping
/// the scheduler, the connections and the reporters on one thread saves the cross-thread
/// wake-ups that otherwise cost about half of the runner's CPU per call (`cargo bench --bench
/// run`). RSA signing and file work go to the blocking pool.
fn one_thread() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Checks the playbook's structure and compiles its templates, reporting the problems of both
/// together, in file order.
pub(super) fn prepare<'e, 's>(
    env: &'e minijinja::Environment<'s>,
    playbook: &'s Playbook,
    args: &PlanArgs,
) -> Result<Planner<'e, 's>, CliError> {
    let catalog = std::sync::Arc::new(args.catalog.load()?);
    let mut problems = playbook.check_with(&catalog);
    let options = crate::plan::PlanOptions {
        catalog: Some(catalog),
        ..args.options().map_err(CliError::Usage)?
    };
    let planner = match Planner::new(env, playbook, &options) {
        Ok(p) => Some(p),
        Err(PlanError::Invalid(d)) => {
            problems.extend(d);
            None
        }
        Err(e) => return Err(e.into()),
    };
    match planner {
        Some(p) if problems.is_empty() => Ok(p),
        _ => {
            problems.sort();
            Err(PlaybookError::Invalid(problems).into())
        }
    }
}

/// Streams the plan; if expansion fails midway, the output ends with a record saying so.
fn write_plan<S: Sink, W: Write>(
    planner: &Planner<'_, '_>,
    mut sink: S,
    into_inner: impl FnOnce(S) -> W,
) -> Result<i32, CliError> {
    let result = planner.expand_all(&mut sink);
    if let Err(PlanError::Invalid(d)) = result {
        // The input is invalid whatever became of the output: report it even when the reader
        // has gone (`tenantry plan … | true`), so no pipeline mistakes this for success.
        let first = d.0.first().map_or("invalid input", |d| d.message.as_str());
        let _ = sink.record(PlanRecord::Error(PlanFailure {
            message: format!("{first} (details on standard error)").into(),
        }));
        let _ = into_inner(sink).flush();
        return Err(PlanError::Invalid(d).into());
    }
    into_inner(sink).flush()?;
    result?;
    Ok(exit::OK)
}

/// The playbook JSON Schema, pretty-printed, with the built-in catalog's cmdlets and their
/// parameters.
pub fn playbook_schema() -> String {
    playbook_schema_with(&crate::catalog::Catalog::built_in())
}

/// The playbook JSON Schema, pretty-printed, with the cmdlets and parameters of `catalog`.
pub fn playbook_schema_with(catalog: &crate::catalog::Catalog) -> String {
    let mut schema = schemars::schema_for!(crate::playbook::PlaybookDoc).to_value();
    crate::catalog::extend_playbook_schema(&mut schema, catalog);
    // Back to a schemars schema: it writes each schema's keywords in a readable order.
    let schema = schemars::Schema::try_from(schema).expect("the schema is still an object");
    serde_json::to_string_pretty(&schema).expect("a schema always serializes")
}

/// The JSON Schema of a plan file's lines, pretty-printed.
pub fn reviewed_plan_schema() -> String {
    let schema = schemars::schema_for!(crate::reviewed::PlanLine);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes")
}

/// `tenantry show PLAN`.
pub(super) fn show(path: &Path, format: crate::check::Format) -> Result<i32, CliError> {
    let plan = crate::reviewed::Reviewed::load(path).map_err(crate::run::RunError::from)?;
    let mut out = io::stdout().lock();
    crate::reviewed::show(&plan, format, &mut out)?;
    Ok(exit::OK)
}

/// The check-record JSON Schema, pretty-printed.
pub fn check_schema() -> String {
    let schema = schemars::schema_for!(crate::check::CheckRecord<'static>);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes")
}

/// The plan-record JSON Schema, pretty-printed.
pub fn plan_schema() -> String {
    let schema = schemars::schema_for!(PlanRecord<'static>);
    serde_json::to_string_pretty(&schema).expect("a schema always serializes")
}
