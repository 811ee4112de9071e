//! Notifications: when a run or a check ends, its summary is posted to webhooks (generic JSON,
//! a Slack incoming webhook, or a Microsoft Teams workflow taking an Adaptive Card).
//!
//! Webhook URLs are secrets (whoever has one can post to the channel), so they are only ever
//! read from an environment variable or a file, checked before the run sends anything, and
//! never printed, journaled, traced or reported: messages name a target by its format and
//! where its URL is kept (`slack (env SLACK_WEBHOOK_URL)`). A notification is sent after the
//! reports are written, is retried, and never changes the run's exit code.

mod payload;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::events::RunSummary;

pub(crate) use crate::playbook::notify::check_report_url;
pub use crate::playbook::notify::{DEFAULT_ON, Format, SECRET_WORDS, When};
pub use payload::{MAX_TENANTS_LISTED, Message};

/// How many times a notification is posted before it is given up.
pub const ATTEMPTS: u32 = 3;
/// How long one attempt may take, connection included.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest a `Retry-After` is waited for; a longer one is cut to this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

/// Why notifications cannot be set up. Each is found before the run sends anything, and stops
/// it as invalid input (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The environment variable that should hold a webhook URL is not set, or is empty.
    #[error(
        "notification {target}: the environment variable {var} is not set; set it to the webhook URL, or run with --no-notify"
    )]
    MissingEnv {
        /// The target, as messages name it.
        target: String,
        /// The variable.
        var: String,
    },
    /// The file that should hold a webhook URL cannot be read, or is empty.
    #[error("notification {target}: cannot read the webhook URL from {}: {why}", path.display())]
    File {
        /// The target, as messages name it.
        target: String,
        /// The file.
        path: PathBuf,
        /// What went wrong.
        why: String,
    },
    /// What holds the URL does not hold a usable URL. The value is not shown: it is a secret.
    #[error("notification {target}: {why}")]
    BadUrl {
        /// The target, as messages name it.
        target: String,
        /// What is wrong with it, without the URL itself.
        why: String,
    },
    /// `--notify` is given something other than `env:VAR`, `file:PATH` or a URL.
    #[error(
        "--notify takes env:VAR (a variable holding the webhook URL), file:PATH (a file holding it) or an https URL, not `{0}`"
    )]
    BadTarget(String),
    /// A report link names a variable that may hold a secret: the link is posted to a channel.
    #[error(
        "{what} names ${{{var}}}, which {why}; a report link is posted to the channel, so it takes no secret: name a variable that says where the run is, like ${{CI_PIPELINE_URL}}"
    )]
    SecretInReportUrl {
        /// `notification … : report_url`, or `--notify-report-url`.
        what: String,
        /// The variable.
        var: String,
        /// Why it is refused.
        why: &'static str,
    },
}

/// Where a webhook URL is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlSource {
    /// An environment variable.
    Env(String),
    /// A file.
    File(PathBuf),
    /// Given as it is (`--notify URL`, or `TENANTRY_NOTIFY`).
    Given(&'static str),
}

impl UrlSource {
    /// How messages name it: `env SLACK_WEBHOOK_URL`, `file hook.txt`, `--notify`.
    fn describe(&self) -> String {
        match self {
            UrlSource::Env(var) => format!("env {var}"),
            UrlSource::File(path) => format!("file {}", path.display()),
            UrlSource::Given(what) => (*what).to_string(),
        }
    }
}

/// A webhook URL. Its `Debug` shows no more than its host: the rest is the secret.
#[derive(Clone)]
pub struct SecretUrl(reqwest::Url);

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SecretUrl({}://{}/…)",
            self.0.scheme(),
            self.0.host_str().unwrap_or("")
        )
    }
}

/// A notification ready to send: where, in what format, and when.
#[derive(Clone, Debug)]
pub struct Target {
    /// How messages name it: its `name`, else `FORMAT (env VAR)`.
    pub label: String,
    /// The payload format.
    pub format: Format,
    /// When it is sent.
    pub on: Vec<When>,
    /// The link to the reports, its variables replaced.
    pub report_url: Option<String>,
    url: SecretUrl,
}

/// What `--notify`, `--notify-format`, `--notify-on`, `--notify-report-url` and `--no-notify`
/// ask for.
#[derive(Clone, Debug, Default)]
pub struct CliTargets {
    /// Each `--notify TARGET` (or `TENANTRY_NOTIFY`), with what it was given as.
    pub targets: Vec<(String, &'static str)>,
    /// `--notify-format`: else from each URL's host.
    pub format: Option<Format>,
    /// `--notify-on`: else [`DEFAULT_ON`].
    pub on: Vec<When>,
    /// `--notify-report-url`: the link for these targets' messages.
    pub report_url: Option<String>,
    /// `--no-notify`: the playbook's notifications are not sent.
    pub off: bool,
}

/// Everything a run needs to notify: its targets and what the messages say of where it ran.
#[derive(Debug)]
pub struct Notifier {
    targets: Vec<Target>,
    context: Context,
    sent: std::sync::atomic::AtomicBool,
    proxy: Option<String>,
}

/// What a message says of the run beyond its summary.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// `run` or `check`.
    pub command: &'static str,
    /// The playbook file, as given.
    pub playbook_path: String,
    /// The report folder, made absolute, when `--report` was given.
    pub reports: Option<PathBuf>,
    /// The machine's name.
    pub host: String,
    /// `K/N` when the run is one shard.
    pub shard: Option<String>,
}

impl Notifier {
    /// The targets of the playbook's `notify:` (unless `cli.off`) and of the command line,
    /// each URL read and checked now, so that a missing variable stops the run before it
    /// sends anything. `None` when there is nothing to notify.
    pub(crate) fn resolve(
        playbook: &crate::playbook::Playbook,
        cli: &CliTargets,
        context: Context,
        proxy: Option<String>,
    ) -> Result<Option<Notifier>, NotifyError> {
        let mut targets = Vec::new();
        // The variables holding webhook URLs: a report link never expands them.
        let mut url_vars: Vec<String> = playbook
            .doc
            .notify
            .iter()
            .filter_map(|e| e.value.url_env.as_ref().map(|v| v.value.clone()))
            .collect();
        url_vars.extend(
            cli.targets
                .iter()
                .filter_map(|(given, _)| given.strip_prefix("env:").map(str::to_string)),
        );
        if let Some(report_url) = &cli.report_url {
            check_report_url(report_url, &url_vars).map_err(|(var, why)| {
                NotifyError::SecretInReportUrl {
                    what: "--notify-report-url".into(),
                    var,
                    why,
                }
            })?;
        }
        if !cli.off {
            for entry in &playbook.doc.notify {
                let spec = &entry.value;
                let source = match (&spec.url_env, &spec.url_file) {
                    (Some(var), _) => UrlSource::Env(var.value.clone()),
                    (None, Some(file)) => {
                        UrlSource::File(crate::playbook::load::resolve(&playbook.dir, &file.value))
                    }
                    // The playbook's checks refused it already.
                    (None, None) => continue,
                };
                targets.push(target(
                    spec.name.as_deref(),
                    spec.format,
                    source,
                    None,
                    spec.on.clone(),
                    spec.report_url.as_ref().map(|r| r.value.as_str()),
                    &url_vars,
                )?);
            }
            for (given, how) in &cli.targets {
                let (source, literal) = parse_target(given, how)?;
                if literal.is_some() && *how == "--notify" {
                    eprintln!(
                        "warning: --notify with a URL shows the URL, a secret, to whoever lists this machine's processes; keep it in a variable (--notify env:VAR) or a file (--notify file:PATH)"
                    );
                }
                let on = if cli.on.is_empty() {
                    DEFAULT_ON.to_vec()
                } else {
                    cli.on.clone()
                };
                targets.push(target(
                    None,
                    cli.format,
                    source,
                    literal,
                    on,
                    cli.report_url.as_deref(),
                    &url_vars,
                )?);
            }
        }
        if targets.is_empty() {
            return Ok(None);
        }
        Ok(Some(Notifier {
            targets,
            context,
            sent: Default::default(),
            proxy,
        }))
    }

    /// The targets, in order: the playbook's, then the command line's.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// Sends what the end of a run calls for to every target whose `on` asks for it, at once,
    /// and reports on standard error each that was not delivered. `error` is why the run could
    /// not start, when it could not. Sends once per run: a second call does nothing.
    pub(crate) async fn send(
        &self,
        summary: &RunSummary,
        run_id: Option<&str>,
        error: Option<&str>,
    ) {
        use std::sync::atomic::Ordering;
        if self.sent.swap(true, Ordering::SeqCst) {
            return;
        }
        let event = classify(summary, error.is_some());
        let due: Vec<&Target> = self
            .targets
            .iter()
            .filter(|t| t.on.iter().any(|w| event.matches(*w)))
            .collect();
        if due.is_empty() {
            return;
        }
        let client = match crate::exchange::http_client_via(self.proxy.as_deref()) {
            Ok(client) => client,
            Err(e) => {
                eprintln!("warning: no notification sent: {e}");
                return;
            }
        };
        let message = Message {
            event: event.headline(),
            summary,
            context: &self.context,
            run_id,
            error,
            report_url: None,
        };
        let sends = due.iter().map(|target| {
            let body = Message {
                report_url: target.report_url.as_deref(),
                ..message.clone()
            }
            .render(target.format);
            let client = &client;
            async move { (target, deliver(client, &target.url.0, &body).await) }
        });
        // Ctrl-C stops waiting on webhooks: the run is over, and a person who wants the prompt
        // back should not wait out a receiver's timeouts.
        let mut signals = tenantry_common::signal::Signals::install();
        let results = tokio::select! {
            results = futures_util::future::join_all(sends) => results,
            () = signals.next() => {
                eprintln!("warning: notifications abandoned: interrupted");
                return;
            }
        };
        for (target, result) in results {
            if let Err(why) = result {
                eprintln!(
                    "warning: notification {} not delivered after {} attempt{}: {}",
                    target.label,
                    why.attempts,
                    crate::diagnostic::plural(why.attempts as usize),
                    why.reason
                );
            }
        }
    }
}

/// Builds a target: reads its URL, checks it, and names the target for messages.
fn target(
    name: Option<&str>,
    format: Option<Format>,
    source: UrlSource,
    literal: Option<String>,
    on: Vec<When>,
    report_url: Option<&str>,
    url_vars: &[String],
) -> Result<Target, NotifyError> {
    let named = |format: Option<Format>| match name {
        Some(name) => format!("{name} ({})", source.describe()),
        None => format!(
            "{} ({})",
            format.map_or("webhook", Format::as_str),
            source.describe()
        ),
    };
    if let Some(Err((var, why))) = report_url.map(|r| check_report_url(r, url_vars)) {
        return Err(NotifyError::SecretInReportUrl {
            what: format!("notification {}: report_url", named(format)),
            var,
            why,
        });
    }
    let text = match (&source, literal) {
        (_, Some(url)) => url,
        (UrlSource::Env(var), None) => std::env::var(var)
            .ok()
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| NotifyError::MissingEnv {
                target: named(format),
                var: var.clone(),
            })?,
        (UrlSource::File(path), None) => {
            let text = std::fs::read_to_string(path).map_err(|e| NotifyError::File {
                target: named(format),
                path: path.clone(),
                why: e.to_string(),
            })?;
            let text = text.trim().to_string();
            if text.is_empty() {
                return Err(NotifyError::File {
                    target: named(format),
                    path: path.clone(),
                    why: "it is empty".into(),
                });
            }
            text
        }
        (UrlSource::Given(_), None) => unreachable!("a given URL comes with its text"),
    };
    let url = check_url(&text).map_err(|why| NotifyError::BadUrl {
        target: named(format),
        why,
    })?;
    let format = format.unwrap_or_else(|| {
        match Format::for_host(url.host_str().unwrap_or_default()) {
            // Slack's Workflow Builder webhooks take variables of their own, not a message.
            Format::Slack if url.path().starts_with("/triggers/") => Format::Json,
            other => other,
        }
    });
    Ok(Target {
        label: named(Some(format)),
        format,
        on,
        report_url: report_url.and_then(|r| expand_report_url(r, &named(Some(format)))),
        url: SecretUrl(url),
    })
}

/// `--notify TARGET`: `env:VAR`, `file:PATH` (from the working folder) or the URL itself.
fn parse_target(
    given: &str,
    how: &'static str,
) -> Result<(UrlSource, Option<String>), NotifyError> {
    if let Some(var) = given.strip_prefix("env:") {
        return if var.is_empty() {
            Err(NotifyError::BadTarget(given.into()))
        } else {
            Ok((UrlSource::Env(var.to_string()), None))
        };
    }
    if let Some(path) = given.strip_prefix("file:") {
        return if path.is_empty() {
            Err(NotifyError::BadTarget(given.into()))
        } else {
            Ok((UrlSource::File(PathBuf::from(path)), None))
        };
    }
    let lower = given.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return Ok((UrlSource::Given(how), Some(given.trim().to_string())));
    }
    // Whatever this is, it is not shown if it may be a URL missing its scheme: that too is a
    // secret.
    let shown = if given.contains('/') { "…" } else { given };
    Err(NotifyError::BadTarget(shown.into()))
}

/// Parses a webhook URL and refuses what would send its secret in the clear: plain http goes
/// to loopback only. Messages say what is wrong without repeating the URL.
fn check_url(text: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(text).map_err(|e| format!("what it holds is not a URL ({e})"))?;
    let host = url.host_str().ok_or("the URL names no host")?.to_string();
    match url.scheme() {
        "https" => Ok(url),
        "http" if crate::cloud::is_loopback(&host) => Ok(url),
        "http" => Err(format!(
            "plain http to {host} is refused: the webhook URL and the run's summary would cross the network unencrypted; use its https URL (http is for loopback only)"
        )),
        other => Err(format!("a webhook URL is https, not {other}")),
    }
}

/// A `report_url` with each `${VAR}` replaced; `None`, with a warning, when a variable is not
/// set or what is left is not a web link: the message then goes without a link.
fn expand_report_url(template: &str, target: &str) -> Option<String> {
    use crate::playbook::notify::{LinkPiece, link_pieces};
    let mut out = String::new();
    for piece in link_pieces(template) {
        match piece {
            LinkPiece::Text(text) => out.push_str(text),
            LinkPiece::Var(var) => match std::env::var(var).ok().filter(|v| !v.is_empty()) {
                Some(value) => out.push_str(&value),
                None => {
                    eprintln!(
                        "warning: notification {target}: report_url names {var}, which is not set; its messages go without a link"
                    );
                    return None;
                }
            },
        }
    }
    let lower = out.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        Some(out)
    } else {
        eprintln!(
            "warning: notification {target}: report_url is not an http(s) link; its messages go without a link"
        );
        None
    }
}

/// What the end of a run was, for `on:` and for the message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ended {
    /// It failed: see [`When::Failure`].
    pub(crate) failed: bool,
    /// A check found drift the previous one did not.
    pub(crate) new_drift: bool,
}

impl Ended {
    /// Whether a target sent `when` is due.
    pub(crate) fn matches(self, when: When) -> bool {
        match when {
            When::Finish => true,
            When::Failure => self.failed,
            When::Drift => self.new_drift,
        }
    }

    /// The one word a message leads with: `failure` before `drift` before `finish`.
    pub(crate) fn headline(self) -> When {
        if self.failed {
            When::Failure
        } else if self.new_drift {
            When::Drift
        } else {
            When::Finish
        }
    }
}

/// How a run ended, from its summary: a run fails on any exit code but 0; a check also
/// passes with pending changes (5, 6). A run that could not start has failed.
pub(crate) fn classify(summary: &RunSummary, could_not_start: bool) -> Ended {
    Ended {
        failed: could_not_start || !summary.succeeded(),
        new_drift: summary.check && summary.total.new > 0,
    }
}

/// Why a notification was not delivered, and after how many attempts.
#[derive(Debug)]
struct NotDelivered {
    attempts: u32,
    reason: String,
}

/// Posts `body` up to [`ATTEMPTS`] times: again after a connection error, a timeout, a 5xx
/// or a 429 (after its `Retry-After`, at most [`MAX_RETRY_AFTER`]); not after another 4xx,
/// which sending again would not change. Any 2xx is delivered.
async fn deliver(
    client: &reqwest::Client,
    url: &reqwest::Url,
    body: &serde_json::Value,
) -> Result<(), NotDelivered> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let sent = client
            .post(url.clone())
            .timeout(ATTEMPT_TIMEOUT)
            .json(body)
            .send()
            .await;
        let (reason, retry, wait) = match sent {
            Ok(answer) if answer.status().is_success() => return Ok(()),
            Ok(answer) => {
                let status = answer.status();
                let wait = (status == reqwest::StatusCode::TOO_MANY_REQUESTS)
                    .then(|| retry_after(answer.headers()))
                    .flatten();
                let retry = status.is_server_error()
                    || status == reqwest::StatusCode::TOO_MANY_REQUESTS
                    || status == reqwest::StatusCode::REQUEST_TIMEOUT;
                let mut reason = format!("HTTP {}", status.as_u16());
                if status.is_redirection() {
                    reason.push_str(" (webhooks are not followed through redirects)");
                }
                (reason, retry, wait)
            }
            Err(e) => (describe(&e, url), true, None),
        };
        if !retry || attempt >= ATTEMPTS {
            return Err(NotDelivered {
                attempts: attempt,
                reason,
            });
        }
        // 1 s, then 2 s: a receiver restarting or briefly overloaded gets a moment.
        let backoff = Duration::from_secs(1 << (attempt - 1));
        tokio::time::sleep(wait.unwrap_or(backoff).min(MAX_RETRY_AFTER)).await;
    }
}

/// A 429's `Retry-After` in seconds; an HTTP date or nonsense is left to the back-off.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// A transport error in words, without the URL reqwest would put in them.
fn describe(e: &reqwest::Error, url: &reqwest::Url) -> String {
    if e.is_timeout() {
        return format!("no answer within {}s", ATTEMPT_TIMEOUT.as_secs());
    }
    let mut text = if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "the request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    if let Some(root) = last {
        text.push_str(": ");
        text.push_str(&root);
    }
    // Belt and braces: nothing that names the URL leaves this function.
    text.replace(url.as_str(), "[webhook URL]")
}

/// The machine's name, for messages: where the run ran.
pub(crate) fn host_name() -> String {
    #[cfg(unix)]
    {
        let name = rustix::system::uname();
        let name = name.nodename().to_string_lossy().into_owned();
        if !name.is_empty() {
            return name;
        }
    }
    std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_default()
}

/// The report folder as messages give it: absolute, so it can be found from anywhere.
pub(crate) fn reports_path(dir: &Path) -> PathBuf {
    std::path::absolute(dir).unwrap_or_else(|_| dir.to_path_buf())
}

#[cfg(test)]
mod tests;
