//! A playbook's `notify:` entries: what they may say, and the checks that keep a webhook URL
//! (a secret) out of the playbook and out of every message about it. Sending is
//! [`crate::notify`]'s.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;

use crate::diagnostic::{Diagnostic, Diagnostics};

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

pub(crate) fn default_on() -> Vec<When> {
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
pub(crate) fn refused_var(var: &str, url_vars: &[String]) -> Option<&'static str> {
    if url_vars.iter().any(|v| v == var) {
        return Some("holds a webhook URL");
    }
    let upper = var.to_ascii_uppercase();
    let folder = matches!(upper.as_str(), "PWD" | "OLDPWD");
    (!folder && SECRET_WORDS.iter().any(|w| upper.contains(w)))
        .then_some("looks like a secret's name")
}

/// A piece of a report link: text as it is, or a `${VAR}` to replace.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LinkPiece<'a> {
    /// Text kept as written (an unclosed `${` included).
    Text(&'a str),
    /// The name between `${` and `}`.
    Var(&'a str),
}

/// A report link's pieces, in order: the one reading of `${VAR}` that checking and expanding
/// share.
pub(crate) fn link_pieces(template: &str) -> Vec<LinkPiece<'_>> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            break;
        };
        if start > 0 {
            pieces.push(LinkPiece::Text(&rest[..start]));
        }
        pieces.push(LinkPiece::Var(&after[..end]));
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        pieces.push(LinkPiece::Text(rest));
    }
    pieces
}

/// The first variable of a report link that may not be expanded into it, and why.
pub(crate) fn check_report_url(
    template: &str,
    url_vars: &[String],
) -> Result<(), (String, &'static str)> {
    for piece in link_pieces(template) {
        if let LinkPiece::Var(var) = piece
            && let Some(why) = refused_var(var, url_vars)
        {
            return Err((var.to_string(), why));
        }
    }
    Ok(())
}

/// Places a notify diagnostic in a copy of the playbook that, on top of what the file hides
/// already ([`secret_spans`]), hides the secret part of every URL a notify entry's `url`,
/// `url_env` or `url_file` holds, wherever it is written.
pub(crate) fn hiding_urls(
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
pub(crate) fn notify_sections(text: &str) -> Vec<std::ops::Range<usize>> {
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
pub(crate) fn section_end(text: &str, start: usize, column: usize) -> usize {
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
pub(crate) fn continued(
    text: &str,
    start: usize,
    end: usize,
    limit: usize,
) -> Vec<std::ops::Range<usize>> {
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
