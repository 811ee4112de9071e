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

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::events::RunSummary;

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

/// A payload format: which kind of webhook receives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "NotifyFormat")]
pub enum Format {
    /// tenantry's own JSON document (see the README, Notifications), for any receiver.
    Json,
    /// A Slack incoming webhook: `text` and Block Kit `blocks`.
    Slack,
    /// A Microsoft Teams workflow ("Post to a channel when a webhook request is received"):
    /// one Adaptive Card.
    Teams,
}

impl Format {
    /// Its name, as written in a playbook.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Slack => "slack",
            Format::Teams => "teams",
        }
    }

    /// The format a webhook's host takes: Slack's hooks, Teams' workflow hosts (Logic Apps,
    /// Power Platform, and the older Office connectors), else tenantry's JSON.
    pub fn for_host(host: &str) -> Format {
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        let under = |domain: &str| host == domain || host.ends_with(&format!(".{domain}"));
        if under("hooks.slack.com") {
            Format::Slack
        } else if under("logic.azure.com")
            || under("powerplatform.com")
            || under("webhook.office.com")
        {
            Format::Teams
        } else {
            Format::Json
        }
    }
}

/// When a notification is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, JsonSchema, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "NotifyOn")]
pub enum When {
    /// Every time the run or check ends, however it ended.
    Finish,
    /// When it failed: a run's exit code is not 0; a check's is not 0, 5 or 6 (pending changes
    /// alone are not a failure). An interrupted run (exit 130) has failed.
    Failure,
    /// `tenantry check` only: it found drift the previous check of the playbook did not.
    Drift,
}

impl When {
    /// Its name, as written in a playbook and in payloads.
    pub fn as_str(self) -> &'static str {
        match self {
            When::Finish => "finish",
            When::Failure => "failure",
            When::Drift => "drift",
        }
    }
}

/// `on:` when a notification leaves it out: failures and new drift, what needs a person.
pub const DEFAULT_ON: [When; 2] = [When::Failure, When::Drift];

fn default_on() -> Vec<When> {
    DEFAULT_ON.to_vec()
}

/// One entry of a playbook's `notify:` list.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    rename = "Notify",
    extend("oneOf" = [{ "required": ["url_env"] }, { "required": ["url_file"] }])
)]
pub(crate) struct NotifySpec {
    /// Names this notification in messages (default: its format and where its URL is kept).
    #[serde(default)]
    pub(crate) name: Option<String>,
    /// The payload: `json` (tenantry's document), `slack` (an incoming webhook) or `teams` (a
    /// Teams workflow webhook, as an Adaptive Card). Default: from the URL's host
    /// (hooks.slack.com is `slack`; *.logic.azure.com, *.powerplatform.com and
    /// *.webhook.office.com are `teams`), else `json`.
    #[serde(default)]
    pub(crate) format: Option<Format>,
    /// The environment variable holding the webhook URL (a secret: never written in the
    /// playbook).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) url_env: Option<Spanned<String>>,
    /// A file holding the webhook URL, relative to the playbook's folder.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) url_file: Option<Spanned<String>>,
    /// Refused: a URL written in the playbook would be read by everyone who reviews it.
    #[serde(default)]
    #[schemars(skip)]
    pub(crate) url: Option<Spanned<String>>,
    /// When to send: any of `finish`, `failure`, `drift` (default `[failure, drift]`).
    #[serde(default = "default_on")]
    #[schemars(with = "Vec<When>", extend("default" = ["failure", "drift"]))]
    pub(crate) on: Vec<When>,
    /// A link to the run's reports for the message (a CI build page, say); `${VAR}` is
    /// replaced by the environment variable's value (`${CI_PIPELINE_URL}`). A variable whose
    /// name looks like a secret's (it holds SECRET, TOKEN, PASSWORD, PASSWD, PWD, KEY,
    /// CREDENTIAL, CERT, WEBHOOK or AUTH) or that a notification's `url_env` names is refused.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub(crate) report_url: Option<Spanned<String>>,
}

/// The structural checks of a playbook's `notify:`: a URL written in it, a variable or file
/// holding a URL instead of naming one, neither or both of `url_env` and `url_file`, an empty
/// `on`.
pub(crate) fn check(playbook: &crate::playbook::Playbook, out: &mut Diagnostics) {
    let place = hiding_urls(playbook);
    let url_vars: Vec<String> = playbook
        .doc
        .notify
        .iter()
        .filter_map(|e| e.value.url_env.as_ref().map(|v| v.value.clone()))
        .collect();
    for entry in &playbook.doc.notify {
        let at = place(playbook.locate(entry));
        let spec = &entry.value;
        if let Some(url) = &spec.url {
            out.push(
                Diagnostic::new("a webhook URL is a secret and is not written in a playbook")
                    .at(place(playbook.locate(url)))
                    .help("put it in an environment variable and name that with `url_env: SLACK_WEBHOOK_URL`, or in a file named by `url_file:`"),
            );
            continue;
        }
        for (key, value) in [("url_env", &spec.url_env), ("url_file", &spec.url_file)] {
            if let Some(value) = value
                && value.value.contains("://")
            {
                out.push(
                    Diagnostic::new(format!(
                        "`{key}` names where the webhook URL is kept, not the URL itself"
                    ))
                    .at(place(playbook.locate(value)))
                    .help(if key == "url_env" {
                        "give the name of an environment variable holding the URL: `url_env: SLACK_WEBHOOK_URL`"
                    } else {
                        "give the path of a file holding the URL, relative to the playbook"
                    }),
                );
            }
        }
        if spec.url_env.is_some() == spec.url_file.is_some() {
            let what = if spec.url_env.is_some() {
                "only one"
            } else {
                "one"
            };
            out.push(
                Diagnostic::new(format!(
                    "a notification needs {what} of `url_env` or `url_file`"
                ))
                .at(at.clone())
                .help("`url_env: VAR` names an environment variable holding the webhook URL; `url_file: PATH` a file holding it"),
            );
        }
        if spec.on.is_empty() {
            out.push(
                Diagnostic::new("`on: []` never sends this notification")
                    .at(at)
                    .help("give any of `finish`, `failure`, `drift`, or leave `on` out for `[failure, drift]`"),
            );
        }
        if let Some(report_url) = &spec.report_url
            && let Err((var, why)) = check_report_url(&report_url.value, &url_vars)
        {
            out.push(
                Diagnostic::new(format!(
                    "`report_url` names ${{{var}}}, which {why}: a report link is posted to the channel, so it takes no secret"
                ))
                .at(place(playbook.locate(report_url)))
                .help("name a variable that says where the run is, like `${CI_PIPELINE_URL}`"),
            );
        }
    }
}

/// The words that make a variable's name look like a secret's, for report links.
pub const SECRET_WORDS: [&str; 10] = [
    "SECRET",
    "TOKEN",
    "PASSWORD",
    "PASSWD",
    "PWD",
    "KEY",
    "CREDENTIAL",
    "CERT",
    "WEBHOOK",
    "AUTH",
];

/// Why `${var}` is not expanded into a report link, if it is not: its name looks like a
/// secret's (but `PWD` and `OLDPWD`, folders), or it holds a webhook URL (`url_vars`).
fn refused_var(var: &str, url_vars: &[String]) -> Option<&'static str> {
    if url_vars.iter().any(|v| v == var) {
        return Some("holds a webhook URL");
    }
    let upper = var.to_ascii_uppercase();
    let folder = matches!(upper.as_str(), "PWD" | "OLDPWD");
    (!folder && SECRET_WORDS.iter().any(|w| upper.contains(w)))
        .then_some("looks like a secret's name")
}

/// The first variable of a report link that may not be expanded into it, and why.
fn check_report_url(template: &str, url_vars: &[String]) -> Result<(), (String, &'static str)> {
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            break;
        };
        let var = &after[..end];
        if let Some(why) = refused_var(var, url_vars) {
            return Err((var.to_string(), why));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

/// Places a notify diagnostic in a copy of the playbook that, on top of what the file hides
/// already ([`secret_spans`]), hides the secret part of every URL a notify entry's `url`,
/// `url_env` or `url_file` holds, wherever it is written.
fn hiding_urls(
    playbook: &crate::playbook::Playbook,
) -> impl Fn(crate::diagnostic::Location) -> crate::diagnostic::Location {
    let file = &playbook.source;
    let mut hidden = Vec::new();
    for entry in &playbook.doc.notify {
        let spec = &entry.value;
        for value in [&spec.url, &spec.url_env, &spec.url_file]
            .into_iter()
            .flatten()
            .filter(|v| v.value.contains("://"))
        {
            let at = playbook.locate(value);
            let Some(start) = file.offset_of(at.line, at.column) else {
                continue;
            };
            let line = file.line_text(at.line);
            let line_start = file.offset_of(at.line, 1).unwrap_or(start);
            let text = &line[start - line_start..];
            hidden.extend(
                crate::diagnostic::url_secrets(text)
                    .into_iter()
                    .map(|(r, _)| start + r.start..start + r.end),
            );
        }
    }
    let copy = (!hidden.is_empty()).then(|| file.hiding(hidden));
    move |at: crate::diagnostic::Location| match &copy {
        Some(copy) if std::sync::Arc::ptr_eq(&at.file, file) => {
            copy.at(at.line, at.column, at.width)
        }
        _ => at,
    }
}

/// The byte ranges of a YAML file's text that its diagnostics hide: in each `notify:` section,
/// the part of every URL-looking value after its host, and the lines such a value continues
/// on. The sections are found in the text itself, so a file that does not parse is covered
/// too: whatever a diagnostic points at, a webhook URL's secret does not reach a CI log.
pub(crate) fn secret_spans(text: &str) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    for section in notify_sections(text) {
        for (range, to_line_end) in crate::diagnostic::url_secrets(&text[section.clone()]) {
            let (start, end) = (section.start + range.start, section.start + range.end);
            out.push(start..end);
            if to_line_end {
                out.extend(continued(text, start, end, section.end));
            }
        }
    }
    out
}

/// Where each `notify:` key's value is, from the key to the end of its value (a flow
/// collection's closing bracket, or the last line indented under the key). Unsure is wider:
/// a bracket left open runs to the end of the file.
fn notify_sections(text: &str) -> Vec<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("notify") {
        let at = from + found;
        from = at + "notify".len();
        let quoted = at > 0 && matches!(bytes[at - 1], b'"' | b'\'');
        let key = if quoted { at - 1 } else { at };
        let line_start = text[..key].rfind('\n').map_or(0, |i| i + 1);
        let lead = text[line_start..key].trim_end();
        if !(lead.chars().all(|c| c == '-' || c.is_whitespace()) || lead.ends_with(['{', ','])) {
            continue;
        }
        let mut colon = from + usize::from(quoted && bytes.get(from) == Some(&bytes[key]));
        while matches!(bytes.get(colon), Some(b' ' | b'\t')) {
            colon += 1;
        }
        if bytes.get(colon) != Some(&b':') {
            continue;
        }
        let column = key - line_start;
        let end = section_end(text, colon + 1, column);
        out.push(line_start..end);
        from = from.max(colon + 1);
    }
    out
}

/// Where the value after a key at `column` ends, scanning from `start` (just after its `:`).
fn section_end(text: &str, start: usize, column: usize) -> usize {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut quote: Option<u8> = None;
    let mut flow = false;
    let mut seen_value = false;
    let mut i = start;
    let mut line_start = true;
    while i < bytes.len() {
        let b = bytes[i];
        if line_start && depth == 0 && quote.is_none() {
            line_start = false;
            // A block value ends at the first line, not blank or a comment, indented no
            // deeper than its key (but for a sequence's `-` at the key's own indentation).
            let line_end = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
            let line = &text[i..line_end];
            let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
            let content = line.trim();
            let blank = content.is_empty() || content.starts_with('#');
            if !blank
                && (flow || indent < column || (indent == column && !content.starts_with('-')))
            {
                return i;
            }
        }
        if b == b'\n' {
            line_start = true;
            i += 1;
            continue;
        }
        let prev = if i == 0 { b'\n' } else { bytes[i - 1] };
        let opens = prev.is_ascii_whitespace() || matches!(prev, b'[' | b'{' | b',' | b':');
        match quote {
            Some(q) => {
                if q == b'"' && b == b'\\' {
                    i += 1;
                } else if b == q {
                    if q == b'\'' && bytes.get(i + 1) == Some(&b'\'') {
                        i += 1;
                    } else {
                        quote = None;
                    }
                }
            }
            None => match b {
                b'#' if opens => {
                    i = text[i..].find('\n').map_or(bytes.len(), |n| i + n);
                    continue;
                }
                b'"' | b'\'' if opens => quote = Some(b),
                b'[' | b'{' if opens || depth > 0 => {
                    if depth == 0 && !seen_value {
                        flow = true;
                    }
                    depth += 1;
                }
                b']' | b'}' if depth > 0 => {
                    depth -= 1;
                    if depth == 0 && flow {
                        return i + 1;
                    }
                }
                _ => {}
            },
        }
        if !b.is_ascii_whitespace() {
            seen_value = true;
        }
        i += 1;
    }
    bytes.len()
}

/// The lines a URL-looking value that runs to the end of its line (its secret hidden from
/// `start` to `end`) goes on on: a quoted or plain scalar folded over lines, indented deeper
/// than its key. Each is hidden up to a closing quote.
fn continued(text: &str, start: usize, end: usize, limit: usize) -> Vec<std::ops::Range<usize>> {
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..start];
    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
    // After a key (`url_env: https://…`), lines as deep as the key or deeper; a value alone
    // on its line (a block scalar's), lines as deep as it.
    let after_key = line.contains(": ") || line.contains(":\t");
    let key_column =
        indent + line[indent..].len() - line[indent..].trim_start_matches(['-', ' ']).len();
    let deeper = |n: usize| n >= if after_key { key_column } else { indent };
    let mut out = Vec::new();
    let mut at = match text[end..].find('\n') {
        Some(n) => end + n + 1,
        None => return out,
    };
    while at < limit {
        let line_end = text[at..].find('\n').map_or(text.len(), |n| at + n);
        let line = &text[at..line_end];
        let content = line.trim();
        if content.is_empty() {
            at = line_end + 1;
            continue;
        }
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        if !deeper(indent)
            || content.starts_with(['#', '-'])
            || content.contains(": ")
            || content.ends_with(':')
        {
            break;
        }
        let from = at + indent;
        let quote = text[from..line_end].find(['"', '\'']);
        out.push(from..quote.map_or(line_end, |q| from + q));
        if quote.is_some() {
            break;
        }
        at = line_end + 1;
    }
    out
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
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "plain http to {host} is refused: the webhook URL and the run's summary would cross the network unencrypted; use its https URL (http is for loopback only)"
        )),
        other => Err(format!("a webhook URL is https, not {other}")),
    }
}

/// A `report_url` with each `${VAR}` replaced; `None`, with a warning, when a variable is not
/// set or what is left is not a web link: the message then goes without a link.
fn expand_report_url(template: &str, target: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let var = &after[..end];
        match std::env::var(var).ok().filter(|v| !v.is_empty()) {
            Some(value) => out.push_str(&value),
            None => {
                eprintln!(
                    "warning: notification {target}: report_url names {var}, which is not set; its messages go without a link"
                );
                return None;
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
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
    let code = summary.exit_code;
    let failed = could_not_start
        || if summary.check {
            !matches!(
                code,
                crate::exit::OK | crate::exit::CHANGES_PENDING | crate::exit::CHANGES_PENDING_KNOWN
            )
        } else {
            code != crate::exit::OK
        };
    Ended {
        failed,
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
