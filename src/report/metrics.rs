//! Prometheus metrics of a run, in the text exposition format (version 0.0.4): written to
//! `--metrics-file PATH` for node_exporter's textfile collector, and put to a Pushgateway with
//! `--metrics-push URL`, once the run is over.
//!
//! The reporter counts what the run's events say that the summary does not keep (retries by
//! kind, the distribution of task durations) and keeps the run's summary; everything is rendered
//! once the reports are written, from the same summary as summary.json, so the two always
//! agree, and with the run's final exit code (1 when a report could not be written), the one
//! notifications get. Metrics are monitoring, not
//! the run's outcome: a file that cannot be written or a push that fails is a one-line warning
//! and never changes the exit code.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::events::{Event, Origin, Reporter, RunSummary, Status, TenantSummary};

/// What `--metrics-file` and `--metrics-push` ask for.
#[derive(Clone, Debug, Default)]
pub(crate) struct MetricsSettings {
    /// `--metrics-file PATH`.
    pub file: Option<PathBuf>,
    /// `--metrics-push URL`.
    pub push: Option<PushUrl>,
    /// `--shard K/N`, as `K/N`: the `shard` label.
    pub shard: Option<String>,
    /// `--proxy URL`: the push goes through it, as notifications do.
    pub proxy: Option<String>,
}

impl MetricsSettings {
    /// Whether any metrics are wanted.
    pub(crate) fn wanted(&self) -> bool {
        self.file.is_some() || self.push.is_some()
    }
}

/// Why the metrics did not reach their file or their Pushgateway.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MetricsError {
    /// The file could not be written (its folder is missing, the disk is full, …).
    #[error("warning: the metrics were not written to {path}: {source}")]
    File {
        /// The `--metrics-file`.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The Pushgateway did not take them.
    #[error("warning: the metrics were not pushed to {url}: {reason}")]
    Push {
        /// The push URL, its user info hidden.
        url: String,
        /// What failed, on the last attempt.
        reason: String,
    },
}

/// A Pushgateway's base URL: https, or plain http to loopback only. Its user info, if any,
/// is sent as basic authentication and never shown.
#[derive(Clone)]
pub(crate) struct PushUrl(reqwest::Url);

impl std::fmt::Debug for PushUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PushUrl({self})")
    }
}

impl std::fmt::Display for PushUrl {
    /// The URL without its user info.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.0.clone();
        let hidden = !shown.username().is_empty() || shown.password().is_some();
        let _ = shown.set_username("");
        let _ = shown.set_password(None);
        let text = shown.as_str().trim_end_matches('/');
        match (hidden, text.split_once("://")) {
            (true, Some((scheme, rest))) => write!(f, "{scheme}://***@{rest}"),
            _ => f.write_str(text),
        }
    }
}

impl PushUrl {
    /// `text` as a Pushgateway's base URL, or why it is not one.
    pub(crate) fn parse(text: &str) -> Result<PushUrl, String> {
        let shown = crate::exchange::redact_password(text);
        let url =
            reqwest::Url::parse(text.trim()).map_err(|e| format!("`{shown}` is not a URL: {e}"))?;
        let host = url.host_str().unwrap_or("");
        match url.scheme() {
            "https" => {}
            "http" if crate::cloud::is_loopback(host) => {}
            "http" => {
                return Err(format!(
                    "`{shown}` is plain http: metrics go to a Pushgateway over https (plain http only on loopback)"
                ));
            }
            other => return Err(format!("`{shown}` is not an http(s) URL ({other}:)")),
        }
        if host.is_empty() {
            return Err(format!("`{shown}` names no host"));
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "`{shown}` has a query or a fragment: give the Pushgateway's base URL (`https://push.example.com:9091`)"
            ));
        }
        Ok(PushUrl(url))
    }

    /// The URL a group is put to: `BASE/metrics/job/tenantry` and each grouping label, its
    /// value base64url-encoded (`NAME@base64/VALUE`) when it holds a `/` or is empty. Without
    /// user info.
    fn group(&self, grouping: &[(&str, &str)]) -> reqwest::Url {
        let mut url = self.0.clone();
        let _ = url.set_username("");
        let _ = url.set_password(None);
        let mut path = url.path().trim_end_matches('/').to_string();
        path.push_str("/metrics/job/tenantry");
        for (name, value) in grouping {
            if value.is_empty() || value.contains('/') {
                use base64::Engine as _;
                let encoded = base64::engine::general_purpose::URL_SAFE.encode(value);
                // An empty value is `=` in base64, as the Pushgateway reads it.
                let encoded = if encoded.is_empty() {
                    "=".to_string()
                } else {
                    encoded
                };
                let _ = write!(path, "/{name}@base64/{encoded}");
            } else {
                let _ = write!(path, "/{name}/{}", percent_encode(value));
            }
        }
        url.set_path(&path);
        url
    }

    /// The user and password of the URL's user info, decoded, if it has any.
    fn credentials(&self) -> Option<(String, Option<String>)> {
        if self.0.username().is_empty() && self.0.password().is_none() {
            return None;
        }
        Some((
            percent_decode(self.0.username()),
            self.0.password().map(percent_decode),
        ))
    }
}

/// What a grouping label's value keeps as it is in a path segment: unreserved characters.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A path segment's text with everything but unreserved characters percent-encoded.
fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

/// `%XX` sequences decoded; anything malformed left as it is.
fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// Why a task was retried, as the metrics count it: a closed set, read from the reasons a
/// task's result records (`429`, `batch 503`, `500 concurrency limit`, `cmdlet: …`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum RetryKind {
    /// 429 Too Many Requests.
    TooManyRequests,
    /// 503: the server is busy.
    ServerBusy,
    /// The tenant's concurrency refusal ("maximum number of concurrent requests").
    Concurrency,
    /// The tenant's rate budget was spent and its calls were held until it renewed.
    RateLimit,
    /// 408 or 504: the request or the gateway timed out.
    Timeout,
    /// A connection failed or was lost.
    Connection,
    /// A 401: the token was renewed and the call sent again.
    TokenRefresh,
    /// The sign-in endpoint did not answer.
    SignIn,
    /// A batch's answer held none for the call, which went again alone.
    Unanswered,
    /// The cmdlet's own error, retried by the step's `retries`.
    Cmdlet,
    /// Anything else.
    Other,
}

impl RetryKind {
    /// Every kind, in the order they are written.
    const ALL: [RetryKind; 11] = [
        RetryKind::TooManyRequests,
        RetryKind::ServerBusy,
        RetryKind::Concurrency,
        RetryKind::RateLimit,
        RetryKind::Timeout,
        RetryKind::Connection,
        RetryKind::TokenRefresh,
        RetryKind::SignIn,
        RetryKind::Unanswered,
        RetryKind::Cmdlet,
        RetryKind::Other,
    ];

    /// The kind of a retry recorded as `reason`.
    pub(crate) fn of(reason: &str) -> RetryKind {
        let reason = reason.trim();
        let reason = reason.strip_prefix("batch ").unwrap_or(reason);
        let head = reason.split(':').next().unwrap_or("").trim();
        if head.contains("concurrency") {
            return RetryKind::Concurrency;
        }
        match head.split_whitespace().next().unwrap_or("") {
            "429" => RetryKind::TooManyRequests,
            "503" => RetryKind::ServerBusy,
            "408" | "504" => RetryKind::Timeout,
            "401" => RetryKind::TokenRefresh,
            "rate-limit" => RetryKind::RateLimit,
            "connection" => RetryKind::Connection,
            "sign-in" => RetryKind::SignIn,
            "unanswered" => RetryKind::Unanswered,
            "cmdlet" => RetryKind::Cmdlet,
            _ => RetryKind::Other,
        }
    }

    /// Its `kind` label.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            RetryKind::TooManyRequests => "too_many_requests",
            RetryKind::ServerBusy => "server_busy",
            RetryKind::Concurrency => "concurrency",
            RetryKind::RateLimit => "rate_limit",
            RetryKind::Timeout => "timeout",
            RetryKind::Connection => "connection",
            RetryKind::TokenRefresh => "token_refresh",
            RetryKind::SignIn => "sign_in",
            RetryKind::Unanswered => "unanswered",
            RetryKind::Cmdlet => "cmdlet",
            RetryKind::Other => "other",
        }
    }

    /// Whether the service held the call back for the tenant's load, rather than failed it.
    pub(crate) fn is_throttling(self) -> bool {
        matches!(
            self,
            RetryKind::TooManyRequests
                | RetryKind::ServerBusy
                | RetryKind::Concurrency
                | RetryKind::RateLimit
        )
    }
}

/// The upper bounds, in seconds, of the task duration histogram's buckets (`+Inf` besides).
const BUCKETS: [f64; 11] = [0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];

/// What the events say that the summary does not keep.
#[derive(Clone, Debug, Default)]
pub(crate) struct Seen {
    /// Retries per tenant and kind.
    retries: BTreeMap<String, BTreeMap<RetryKind, u64>>,
    /// Tasks sent by this run, per bucket (not cumulative), the last for `+Inf`.
    buckets: [u64; BUCKETS.len() + 1],
    /// Their durations, in milliseconds, added up.
    sum_ms: u64,
}

impl Seen {
    /// Counts one event.
    pub(crate) fn record(&mut self, event: &Event) {
        let Event::TaskFinished { result, origin } = event else {
            return;
        };
        if !result.retries.is_empty() {
            let kinds = self.retries.entry(result.tenant.clone()).or_default();
            for reason in &result.retries {
                *kinds.entry(RetryKind::of(reason)).or_default() += 1;
            }
        }
        // Only calls this run made: an earlier run's and skipped tasks took no time here.
        if *origin == Origin::Sent && result.status != Status::Skipped {
            let seconds = result.duration_ms as f64 / 1000.0;
            let bucket = BUCKETS
                .iter()
                .position(|&le| seconds <= le)
                .unwrap_or(BUCKETS.len());
            self.buckets[bucket] += 1;
            self.sum_ms += result.duration_ms;
        }
    }
}

/// The labels every series carries in the file: `playbook`, `command` and, for a shard,
/// `shard`. A push leaves them to the Pushgateway's grouping key instead.
#[derive(Clone, Debug)]
pub(crate) struct Common {
    /// The playbook's name.
    pub playbook: String,
    /// `run` or `check`.
    pub command: &'static str,
    /// `K/N`, for a shard.
    pub shard: Option<String>,
}

impl Common {
    /// The labels, in order.
    fn pairs(&self) -> Vec<(&'static str, &str)> {
        let mut pairs = vec![
            ("playbook", self.playbook.as_str()),
            ("command", self.command),
        ];
        if let Some(shard) = &self.shard {
            pairs.push(("shard", shard));
        }
        pairs
    }
}

/// A label value escaped as the exposition format wants it: `\\`, `\"` and `\n`.
fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// The text being written: families one after another, each with its HELP and TYPE.
struct Text<'a> {
    out: String,
    common: &'a [(&'static str, &'a str)],
}

impl Text<'_> {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        let all = self.common.iter().chain(labels);
        for (i, (label, value)) in all.enumerate() {
            let _ = write!(
                self.out,
                "{}{label}=\"{}\"",
                if i == 0 { "{" } else { "," },
                escape(value)
            );
        }
        if !self.common.is_empty() || !labels.is_empty() {
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {}", number(value));
    }
}

/// A sample value: whole numbers without a fraction, others as Rust writes them (never in
/// exponent form).
fn number(value: f64) -> String {
    if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}

/// A bucket bound as the `le` label writes it.
fn bound(le: f64) -> String {
    number(le)
}

fn seconds(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// One of a tenant's counts.
type Count = fn(&TenantSummary) -> usize;

/// The run's metrics as exposition text: every family with HELP and TYPE, tenants in name
/// order. `ended` is when the run ended, `last_success` when a run last succeeded (this one,
/// when it did), in seconds since the epoch; the series is left out when that is unknown.
pub(crate) fn render(
    summary: &RunSummary,
    seen: &Seen,
    common: &[(&'static str, &str)],
    ended: f64,
    last_success: Option<f64>,
) -> String {
    let mut t = Text {
        out: String::new(),
        common,
    };
    t.family(
        "tenantry_build_info",
        "gauge",
        "The tenantry version that ran, as a label; always 1.",
    );
    t.sample(
        "tenantry_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );

    t.family(
        "tenantry_tasks_total",
        "counter",
        "Tasks of the last run by tenant and how they ended (ok, failed, skipped, unknown, drift, stale).",
    );
    let statuses: [(&str, Count); 6] = [
        ("ok", |s| s.ok),
        ("failed", |s| s.failed),
        ("skipped", |s| s.skipped),
        ("unknown", |s| s.unknown),
        ("drift", |s| s.drift),
        ("stale", |s| s.stale),
    ];
    for (tenant, s) in &summary.tenants {
        for (status, count) in statuses {
            t.sample(
                "tenantry_tasks_total",
                &[("tenant", tenant), ("status", status)],
                count(s) as f64,
            );
        }
    }

    t.family(
        "tenantry_tasks_changed_total",
        "counter",
        "Tasks of the last run that succeeded and changed something, by tenant.",
    );
    for (tenant, s) in &summary.tenants {
        t.sample(
            "tenantry_tasks_changed_total",
            &[("tenant", tenant)],
            s.changed as f64,
        );
    }

    t.family(
        "tenantry_retries_total",
        "counter",
        "Retries made in the last run, by tenant and kind; tenants and kinds without retries are left out.",
    );
    for (tenant, kinds) in &seen.retries {
        for kind in RetryKind::ALL {
            if let Some(n) = kinds.get(&kind) {
                t.sample(
                    "tenantry_retries_total",
                    &[("tenant", tenant), ("kind", kind.as_str())],
                    *n as f64,
                );
            }
        }
    }

    t.family(
        "tenantry_throttled_total",
        "counter",
        "Retries of the last run that were the service throttling (too_many_requests, server_busy, concurrency, rate_limit), by tenant and kind.",
    );
    for (tenant, kinds) in &seen.retries {
        for kind in RetryKind::ALL.into_iter().filter(|k| k.is_throttling()) {
            if let Some(n) = kinds.get(&kind) {
                t.sample(
                    "tenantry_throttled_total",
                    &[("tenant", tenant), ("kind", kind.as_str())],
                    *n as f64,
                );
            }
        }
    }

    t.family(
        "tenantry_task_duration_seconds",
        "histogram",
        "Time from dispatch to outcome of the tasks the last run sent.",
    );
    let mut cumulative = 0;
    for (i, le) in BUCKETS.iter().enumerate() {
        cumulative += seen.buckets[i];
        t.sample(
            "tenantry_task_duration_seconds_bucket",
            &[("le", &bound(*le))],
            cumulative as f64,
        );
    }
    cumulative += seen.buckets[BUCKETS.len()];
    t.sample(
        "tenantry_task_duration_seconds_bucket",
        &[("le", "+Inf")],
        cumulative as f64,
    );
    t.sample(
        "tenantry_task_duration_seconds_sum",
        &[],
        seconds(seen.sum_ms),
    );
    t.sample(
        "tenantry_task_duration_seconds_count",
        &[],
        cumulative as f64,
    );

    t.family(
        "tenantry_tenant_duration_seconds",
        "gauge",
        "Time each tenant took in the last run, from its first dispatch to its end.",
    );
    for (tenant, s) in &summary.tenants {
        t.sample(
            "tenantry_tenant_duration_seconds",
            &[("tenant", tenant)],
            seconds(s.duration_ms),
        );
    }

    t.family(
        "tenantry_tenant_stopped",
        "gauge",
        "1 when the tenant stopped early in the last run (sign-in failed, on_error, a guardrail), else 0.",
    );
    for (tenant, s) in &summary.tenants {
        t.sample(
            "tenantry_tenant_stopped",
            &[("tenant", tenant)],
            if s.stopped.is_some() { 1.0 } else { 0.0 },
        );
    }

    t.family(
        "tenantry_run_duration_seconds",
        "gauge",
        "Wall time of the last run.",
    );
    t.sample(
        "tenantry_run_duration_seconds",
        &[],
        seconds(summary.duration_ms),
    );

    t.family(
        "tenantry_run_exit_code",
        "gauge",
        "Exit code of the last run (0 success; see the README's exit codes).",
    );
    t.sample("tenantry_run_exit_code", &[], summary.exit_code as f64);

    t.family(
        "tenantry_run_complete",
        "gauge",
        "1 when the last run went through to its end, 0 when it was interrupted and its report is partial.",
    );
    t.sample(
        "tenantry_run_complete",
        &[],
        if summary.complete { 1.0 } else { 0.0 },
    );

    t.family(
        "tenantry_run_last_run_timestamp_seconds",
        "gauge",
        "When the last run ended, in seconds since the Unix epoch.",
    );
    t.sample("tenantry_run_last_run_timestamp_seconds", &[], ended);

    if let Some(at) = last_success {
        t.family(
            "tenantry_run_last_success_timestamp_seconds",
            "gauge",
            "When a run last ended in success (exit code 0; for a check also 5 and 6), in seconds since the Unix epoch.",
        );
        t.sample("tenantry_run_last_success_timestamp_seconds", &[], at);
    }
    t.out
}

/// The name of the series that carries the last success over from one run to the next.
const LAST_SUCCESS: &str = "tenantry_run_last_success_timestamp_seconds";

/// The last success an earlier metrics file recorded, if it holds one.
fn last_success_in(text: &str) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .find(|line| {
            line.strip_prefix(LAST_SUCCESS)
                .is_some_and(|rest| rest.starts_with(['{', ' ']))
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v > 0.0)
}

/// Writes `text` to `path` through a temporary file in the same folder renamed into place, so
/// a collector reading at any moment sees the old file or the new one, never half of one. The
/// temporary file has a random name and is created anew (never opened through a link that was
/// there before), so runs on other hosts writing to a shared folder do not meet; it starts
/// hidden and ends in `.partial`, which collectors pass over.
fn write_atomically(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write as _;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::other("the path names no file"))?;
    let prefix = format!(".{}.", name.to_string_lossy());
    // Removed when dropped, so nothing is left behind when a step fails.
    let mut file = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".partial")
        .tempfile_in(dir)?;
    file.write_all(text.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    file.as_file().sync_all()?;
    file.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// What the reporter records of the run, for [`Metrics::finish`] to render.
#[derive(Default)]
struct Recorded {
    seen: Seen,
    /// The run's summary, once it finished.
    summary: Option<RunSummary>,
}

/// The run's metrics: a reporter that records what the run's events say, and
/// [`Metrics::finish`], which renders them with the run's final exit code, writes the file and
/// pushes.
#[derive(Clone)]
pub(crate) struct Metrics {
    settings: MetricsSettings,
    recorded: Arc<Mutex<Recorded>>,
    /// The current time (tests fix it).
    clock: fn() -> SystemTime,
}

impl Metrics {
    /// The metrics of a run, as `settings` ask for them.
    pub(crate) fn new(settings: MetricsSettings) -> Self {
        Metrics {
            settings,
            recorded: Arc::default(),
            clock: SystemTime::now,
        }
    }

    /// The same, with a clock fixed by a test.
    #[cfg(test)]
    pub(crate) fn with_clock(settings: MetricsSettings, clock: fn() -> SystemTime) -> Self {
        Metrics {
            clock,
            ..Metrics::new(settings)
        }
    }

    /// The reporter for the run's fan-out; what it records is shared with this.
    pub(crate) fn reporter(&self) -> Metrics {
        self.clone()
    }

    fn common(&self, summary: &RunSummary) -> Common {
        Common {
            playbook: summary.playbook.clone(),
            command: if summary.check { "check" } else { "run" },
            shard: self.settings.shard.clone(),
        }
    }

    /// Renders the run's metrics with `exit_code` and writes the file; returns what to push,
    /// and the file's failure. Nothing when the run did not finish.
    fn write(&self, exit_code: i32) -> (Option<(String, Common)>, Option<MetricsError>) {
        let (mut summary, seen) = {
            let mut recorded = self.recorded.lock().unwrap_or_else(PoisonError::into_inner);
            let Some(summary) = recorded.summary.take() else {
                return (None, None);
            };
            (summary, std::mem::take(&mut recorded.seen))
        };
        summary.exit_code = exit_code;
        let ended = (self.clock)()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64();
        let ended = (ended * 1000.0).round() / 1000.0;
        let common = self.common(&summary);
        let success = summary.succeeded().then_some(ended);
        let mut failed = None;
        let mut carried = success;
        if let Some(path) = &self.settings.file {
            // A failed run keeps the last success the previous file recorded.
            carried = success.or_else(|| {
                std::fs::read_to_string(path)
                    .ok()
                    .and_then(|old| last_success_in(&old))
            });
            let text = render(&summary, &seen, &common.pairs(), ended, carried);
            if let Err(source) = write_atomically(path, &text) {
                failed = Some(MetricsError::File {
                    path: path.clone(),
                    source,
                });
            }
        }
        // The Pushgateway adds the grouping labels to every series itself.
        let push = self
            .settings
            .push
            .as_ref()
            .map(|_| (render(&summary, &seen, &[], ended, carried), common));
        (push, failed)
    }

    /// Once the run is over and its reports are written: renders its metrics with
    /// `exit_code`, the run's final one (a report that could not be written makes it 1),
    /// writes the file and pushes, when asked to. Returns what went wrong with them, each as
    /// one line. Ctrl-C or SIGTERM abandons the push.
    pub(crate) async fn finish(&self, exit_code: i32) -> Vec<String> {
        let (push, failed) = self.write(exit_code);
        let mut warnings: Vec<String> = failed.iter().map(ToString::to_string).collect();
        if let (Some(url), Some((body, common))) = (&self.settings.push, push) {
            // The run's own handler no longer listens: without this, a signal would go
            // unheard until every attempt had failed.
            let mut signals = tenantry_common::signal::Signals::install();
            let proxy = self.settings.proxy.as_deref();
            tokio::select! {
                pushed = push_to(url, proxy, &common, body) => {
                    if let Err(e) = pushed {
                        warnings.push(e.to_string());
                    }
                }
                () = signals.next() => warnings.push(format!(
                    "warning: the metrics push to {url} was abandoned: interrupted"
                )),
            }
        }
        warnings
    }
}

impl Reporter for Metrics {
    fn event(&mut self, event: &Event) -> io::Result<()> {
        let mut recorded = self.recorded.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            Event::RunFinished(summary) => recorded.summary = Some((**summary).clone()),
            event => recorded.seen.record(event),
        }
        Ok(())
    }
}

/// Attempts at a push, and the time each may take.
const PUSH_ATTEMPTS: u32 = 3;
const PUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Puts `body` to the Pushgateway at `url`, in the group of `common`'s labels: the group's
/// metrics are replaced by these. Connection failures, timeouts, 429 and 5xx are tried again,
/// after 1 s then 2 s (a 429's `Retry-After` is not waited for); any other answer is final. At
/// worst three attempts of 10 s and the two pauses: 33 s.
async fn push_to(
    url: &PushUrl,
    proxy: Option<&str>,
    common: &Common,
    body: String,
) -> Result<(), MetricsError> {
    let failed = |reason: String| MetricsError::Push {
        url: url.to_string(),
        reason,
    };
    let client = crate::exchange::http_client_via(proxy).map_err(|e| failed(e.to_string()))?;
    let target = url.group(&common.pairs());
    let mut last = String::new();
    for attempt in 1..=PUSH_ATTEMPTS {
        if attempt > 1 {
            tokio::time::sleep(Duration::from_secs(1 << (attempt - 2))).await;
        }
        let mut request = client
            .put(target.clone())
            .timeout(PUSH_TIMEOUT)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body.clone());
        if let Some((user, password)) = url.credentials() {
            request = request.basic_auth(user, password);
        }
        match request.send().await {
            Ok(answer) if answer.status().is_success() => return Ok(()),
            Ok(answer) => {
                let status = answer.status();
                let text: String = answer
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect();
                last = format!("{status} {}", text.trim()).trim().to_string();
                if !(status.is_server_error() || status.as_u16() == 429) {
                    break;
                }
            }
            // Without the URL: reqwest's message would name it, user info and all.
            Err(e) => last = crate::auth::describe(&e.without_url()),
        }
    }
    Err(failed(last))
}

/// The content type of the text exposition format.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_retry_reason_has_its_kind() {
        let cases = [
            ("429", RetryKind::TooManyRequests),
            ("429 after 1s", RetryKind::TooManyRequests),
            ("batch 429", RetryKind::TooManyRequests),
            ("503", RetryKind::ServerBusy),
            ("500 concurrency limit", RetryKind::Concurrency),
            ("batch 400 concurrency limit", RetryKind::Concurrency),
            ("rate-limit", RetryKind::RateLimit),
            ("batch rate-limit", RetryKind::RateLimit),
            ("504", RetryKind::Timeout),
            ("408", RetryKind::Timeout),
            ("connection", RetryKind::Connection),
            ("401", RetryKind::TokenRefresh),
            ("sign-in", RetryKind::SignIn),
            ("unanswered in batch", RetryKind::Unanswered),
            (
                "cmdlet: ManagementObjectNotFoundException",
                RetryKind::Cmdlet,
            ),
            ("something new", RetryKind::Other),
        ];
        for (reason, kind) in cases {
            assert_eq!(RetryKind::of(reason), kind, "{reason}");
        }
        let throttling: Vec<_> = RetryKind::ALL
            .into_iter()
            .filter(|k| k.is_throttling())
            .map(RetryKind::as_str)
            .collect();
        assert_eq!(
            throttling,
            [
                "too_many_requests",
                "server_busy",
                "concurrency",
                "rate_limit"
            ]
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    }

    #[test]
    fn a_push_url_is_https_or_loopback_and_never_shows_its_user_info() {
        assert!(PushUrl::parse("https://push.example.com:9091").is_ok());
        assert!(PushUrl::parse("http://127.0.0.1:9091").is_ok());
        assert!(PushUrl::parse("http://[::1]:9091/").is_ok());
        assert!(PushUrl::parse("http://localhost:9091").is_ok());
        let plain = PushUrl::parse("http://user:hunter2@push.example.com:9091").unwrap_err();
        assert!(plain.contains("plain http"), "{plain}");
        assert!(!plain.contains("hunter2"), "{plain}");
        assert!(PushUrl::parse("ftp://push.example.com").is_err());
        assert!(PushUrl::parse("https://push.example.com/?job=x").is_err());
        assert!(PushUrl::parse("push.example.com:9091").is_err());
        let url = PushUrl::parse("https://ops:s%40cret@push.example.com/gw/").unwrap();
        assert_eq!(url.to_string(), "https://***@push.example.com/gw");
        assert!(!format!("{url:?}").contains("cret"));
        assert_eq!(
            url.credentials(),
            Some(("ops".to_string(), Some("s@cret".to_string())))
        );
        let group = url.group(&[
            ("playbook", "Mailbox retention"),
            ("command", "run"),
            ("shard", "2/4"),
        ]);
        assert_eq!(
            group.as_str(),
            "https://push.example.com/gw/metrics/job/tenantry/playbook/Mailbox%20retention/command/run/shard@base64/Mi80"
        );
        let empty = PushUrl::parse("https://push.example.com")
            .unwrap()
            .group(&[("playbook", "")]);
        assert_eq!(
            empty.as_str(),
            "https://push.example.com/metrics/job/tenantry/playbook@base64/="
        );
    }

    #[test]
    fn the_last_success_is_read_back_from_an_earlier_file() {
        let text = "# HELP tenantry_run_last_success_timestamp_seconds x\n# TYPE tenantry_run_last_success_timestamp_seconds gauge\ntenantry_run_last_success_timestamp_seconds{playbook=\"a b\",command=\"run\"} 1764500000.5\n";
        assert_eq!(last_success_in(text), Some(1_764_500_000.5));
        assert_eq!(last_success_in("tenantry_run_exit_code 1\n"), None);
        assert_eq!(
            last_success_in("tenantry_run_last_success_timestamp_seconds_x 5\n"),
            None
        );
    }
}
