//! `--trace FILE`: every HTTP request tenantry makes, and its answer, written as an HTTP
//! Archive (HAR 1.2) that any HAR viewer opens. The admin API calls and every sign-in request
//! go through [`send`], which is the plain `send` when no trace is asked for.
//!
//! Secrets never reach the file, so that an administrator can hand it to support:
//! `Authorization` values (the scheme stays), cookies, the credential fields of token requests
//! and answers (the field names stay), SecureString cmdlet parameters, credentials in query
//! strings, and URLs' user info. A value hidden in one place is hidden wherever else it shows
//! in the same exchange (Entra's device-code sentence repeats the user code), and any
//! JWT-shaped text left anywhere is hidden too.
//!
//! Headers are those tenantry sets; the HTTP library adds `Host`, `Content-Length` and the
//! client's `User-Agent` as it sends, after the trace has taken the request.
//!
//! Entries are written as they happen, one line each, under one lock that every tenant shares.
//! The file is valid JSON at all times: each entry is written followed by the log's closing,
//! and the next entry is written over that closing. A run that stops in any way, even killed,
//! leaves a file that opens, unless it is killed in the middle of writing an entry.

use std::borrow::Cow;
use std::fmt;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use regex::Regex;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use reqwest::{ResponseBuilderExt, StatusCode, Version};
use serde_json::{Value, json};

/// What stands in for a secret in the trace.
pub const REDACTED: &str = "[redacted]";

/// What closes the log after the last entry written so far.
const TAIL: &str = "\n]}}\n";

/// Why a trace could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be created: nothing has been sent.
    #[error("cannot create the trace file {}: {source}", .path.display())]
    Create {
        /// The file asked for.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// Writing stopped part-way (a full disk): the entries before it are in the file, which
    /// is still valid; the run itself went on.
    #[error("the trace file {} stopped being written after {entries} entries: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The entries it holds.
        entries: u64,
        /// What failed.
        source: io::Error,
    },
}

impl TraceError {
    /// Invalid input for a file that cannot be created; a failed run for one that stopped.
    pub fn exit_code(&self) -> i32 {
        match self {
            TraceError::Create { .. } => crate::exit::INVALID_INPUT,
            TraceError::Write { .. } => crate::exit::TASKS_FAILED,
        }
    }
}

/// A HAR file being written, shared by every client of a run.
pub struct Trace {
    path: PathBuf,
    log: Mutex<Log>,
}

/// The open file and where its next entry goes.
struct Log {
    file: File,
    /// Just past the last entry written: the log's closing starts here.
    end: u64,
    entries: u64,
    /// The first write that failed; nothing more is written after it.
    failed: Option<io::Error>,
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Trace {
    /// Creates (or empties) `path`, readable by its owner only, and writes an empty log in it.
    pub fn create(path: &Path) -> Result<Arc<Trace>, TraceError> {
        let failed = |source| TraceError::Create {
            path: path.to_path_buf(),
            source,
        };
        // Each entry is written over the closing of the one before: that needs a file to seek
        // in, not a terminal or a pipe.
        if let Ok(meta) = std::fs::metadata(path)
            && !meta.is_file()
        {
            return Err(failed(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a regular file",
            )));
        }
        let mut file = private_file(path).map_err(failed)?;
        let head = format!(
            "{{\"log\":{{\"version\":\"1.2\",\"creator\":{},\"comment\":{},\"entries\":[",
            json!({"name": "tenantry", "version": env!("CARGO_PKG_VERSION")}),
            json!(format!(
                "Every HTTP request tenantry made and its answer. Credentials, tokens and SecureString parameters show as {REDACTED}."
            )),
        );
        file.write_all(format!("{head}{TAIL}").as_bytes())
            .map_err(failed)?;
        Ok(Arc::new(Trace {
            path: path.to_path_buf(),
            log: Mutex::new(Log {
                file,
                end: head.len() as u64,
                entries: 0,
                failed: None,
            }),
        }))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Syncs the file to disk and says how many entries it holds, or why it stopped being
    /// written. Entries may still be written after (a call abandoned late); the file stays
    /// valid.
    pub fn finish(&self) -> Result<u64, TraceError> {
        let log = lock(&self.log);
        let stopped = |source: io::Error| TraceError::Write {
            path: self.path.clone(),
            entries: log.entries,
            source,
        };
        if let Some(e) = &log.failed {
            return Err(stopped(io::Error::new(e.kind(), e.to_string())));
        }
        log.file.sync_all().map_err(stopped)?;
        Ok(log.entries)
    }

    /// Appends an entry: written over the log's closing, with the closing after it again.
    fn write(&self, entry: &Value) {
        let line = entry.to_string();
        let mut log = lock(&self.log);
        if log.failed.is_some() {
            return;
        }
        let separator = if log.entries == 0 { "\n" } else { ",\n" };
        let at = log.end;
        let written = write_at(
            &mut log.file,
            at,
            &[separator.as_bytes(), line.as_bytes(), TAIL.as_bytes()].concat(),
        );
        match written {
            Ok(()) => {
                log.end += (separator.len() + line.len()) as u64;
                log.entries += 1;
            }
            Err(e) => {
                // Cut what part of the entry got written, so the file still ends in a whole
                // entry and the closing.
                let _ = log.file.set_len(at);
                let _ = write_at(&mut log.file, at, TAIL.as_bytes());
                log.failed = Some(e);
            }
        }
    }

    /// [`send`] with this trace.
    async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Result<reqwest::Response> {
        let (client, request) = request.build_split();
        let request = request?;
        let mut exchange = Exchange::start(self, &request);
        let mut response = match client.execute(request).await {
            Ok(response) => response,
            Err(e) => {
                exchange.end(None, Some(crate::auth::describe(&e)));
                return Err(e);
            }
        };
        exchange.answered(&response);
        let (status, version, url) = (
            response.status(),
            response.version(),
            response.url().clone(),
        );
        let headers = std::mem::take(response.headers_mut());
        let body = match response.bytes().await {
            Ok(bytes) => {
                exchange.end(Some(&bytes), None);
                reqwest::Body::from(bytes)
            }
            Err(e) => {
                exchange.end(None, Some(crate::auth::describe(&e)));
                failing_body(e)
            }
        };
        let mut answer = reqwest::Response::from(
            http::Response::builder()
                .status(status)
                .version(version)
                .url(url)
                .body(body)
                .expect("a status, a version and a URL already parsed make a response"),
        );
        *answer.headers_mut() = headers;
        Ok(answer)
    }
}

/// Sends `request`, writing it and its answer to `trace` when there is one; without a trace,
/// exactly `request.send()`. With one, the answer comes back with its body already read:
/// reading it gives the same bytes, or fails the same way reading it first did.
pub async fn send(
    trace: Option<&Trace>,
    request: reqwest::RequestBuilder,
) -> reqwest::Result<reqwest::Response> {
    match trace {
        None => request.send().await,
        Some(trace) => trace.send(request).await,
    }
}

/// A body whose reading fails with `error`, for an answer whose body could not be read: the
/// caller then meets the failure where it would have without a trace, after the headers.
fn failing_body(error: reqwest::Error) -> reqwest::Body {
    let frames = futures_util::stream::iter([Err::<hyper::body::Frame<bytes::Bytes>, _>(error)]);
    reqwest::Body::wrap(http_body_util::StreamBody::new(frames))
}

/// The entry's error when its call was dropped before the answer came.
const ABANDONED: &str = "no answer: the call was given up before its answer came (its step's timeout, or the run stopping)";

/// One request on its way: its HAR request, shown already, and what came back so far. An
/// exchange dropped before its end (its call given up) is written as such.
struct Exchange<'t> {
    trace: &'t Trace,
    started: SystemTime,
    clock: Instant,
    /// The URL sent to, for a relative `Location`.
    url: reqwest::Url,
    request: Value,
    /// The values hidden so far in this exchange, hidden again wherever they show.
    secrets: Vec<String>,
    answer: Option<Answer>,
    ended: bool,
}

/// The status line and headers of an answer, and how long they took to come.
struct Answer {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    server: Option<SocketAddr>,
    wait: Duration,
}

impl<'t> Exchange<'t> {
    fn start(trace: &'t Trace, request: &reqwest::Request) -> Self {
        let mut secrets = Vec::new();
        let shown = har_request(request, &mut secrets);
        Exchange {
            trace,
            started: SystemTime::now(),
            clock: Instant::now(),
            url: request.url().clone(),
            request: shown,
            secrets,
            answer: None,
            ended: false,
        }
    }

    fn answered(&mut self, response: &reqwest::Response) {
        self.answer = Some(Answer {
            status: response.status(),
            version: response.version(),
            headers: response.headers().clone(),
            server: response.remote_addr(),
            wait: self.clock.elapsed(),
        });
    }

    /// Writes the entry: with the answer's `body`, or with the `error` that ended it.
    fn end(&mut self, body: Option<&[u8]>, error: Option<String>) {
        self.ended = true;
        let entry = self.entry(body, error);
        self.trace.write(&entry);
    }

    fn entry(&mut self, body: Option<&[u8]>, error: Option<String>) -> Value {
        let total = self.clock.elapsed();
        let wait = self.answer.as_ref().map_or(total, |a| a.wait);
        let receive = total.saturating_sub(wait);
        let mut response = match &self.answer {
            Some(answer) => har_response(answer, body, &self.url, &mut self.secrets),
            None => json!({
                "status": 0,
                "statusText": "",
                "httpVersion": "",
                "cookies": [],
                "headers": [],
                "content": {"size": 0, "mimeType": ""},
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": -1,
            }),
        };
        if let Some(error) = error {
            response["_error"] = scrub(&error, &self.secrets).into();
        }
        let (wait, receive) = (micros(wait), micros(receive));
        let mut entry = json!({
            "startedDateTime": iso8601(self.started),
            "time": millis(wait + receive),
            "request": std::mem::take(&mut self.request),
            "response": response,
            "cache": {},
            // reqwest does not tell how long the connection, DNS or TLS took, nor when the
            // request was sent in full: those are -1 (unknown), and the wait includes sending,
            // since HAR requires send, wait and receive to be numbers of zero or more.
            "timings": {
                "blocked": -1,
                "dns": -1,
                "connect": -1,
                "ssl": -1,
                "send": 0,
                "wait": millis(wait),
                "receive": millis(receive),
            },
        });
        if let Some(server) = self.answer.as_ref().and_then(|a| a.server) {
            entry["serverIPAddress"] = server.ip().to_string().into();
        }
        entry
    }
}

impl Drop for Exchange<'_> {
    fn drop(&mut self) {
        if !self.ended {
            self.end(None, Some(ABANDONED.into()));
        }
    }
}

/// The HAR request of `request`, its secrets hidden and added to `secrets`.
fn har_request(request: &reqwest::Request, secrets: &mut Vec<String>) -> Value {
    let (url, query) = shown_url(request.url(), secrets);
    let headers = request.headers();
    let shown_headers = har_headers(headers, secrets);
    let body = request.body().and_then(reqwest::Body::as_bytes);
    let mut har = json!({
        "method": request.method().as_str(),
        "url": url,
        "httpVersion": format!("{:?}", request.version()),
        "cookies": request_cookies(headers),
        "headers": shown_headers,
        "queryString": query,
        "headersSize": -1,
        "bodySize": body.map_or(-1, |b| b.len() as i64),
    });
    if let Some(body) = body.filter(|b| !b.is_empty()) {
        let mime = header_text(headers, &header::CONTENT_TYPE);
        har["postData"] = json!({
            "mimeType": mime,
            "text": shown_body(&mime, body, secrets),
        });
    }
    har
}

/// The HAR response of `answer` with its (still encoded) `body`, if it was read.
fn har_response(
    answer: &Answer,
    body: Option<&[u8]>,
    url: &reqwest::Url,
    secrets: &mut Vec<String>,
) -> Value {
    let mime = header_text(&answer.headers, &header::CONTENT_TYPE);
    let (content, body_size) = match body {
        Some(raw) => {
            let encoding = answer
                .headers
                .get(header::CONTENT_ENCODING)
                .and_then(|v| v.to_str().ok())
                .map(str::to_ascii_lowercase);
            let decoded = crate::exchange::decode(encoding.as_deref(), raw);
            let mut content = json!({
                "size": decoded.len(),
                "mimeType": mime,
                "text": shown_body(&mime, &decoded, secrets),
            });
            if let Cow::Owned(_) = decoded {
                content["compression"] = (decoded.len() as i64 - raw.len() as i64).into();
            }
            (content, raw.len() as i64)
        }
        None => (json!({"size": 0, "mimeType": mime}), -1),
    };
    let location = answer
        .headers
        .get(header::LOCATION)
        .map(|l| shown_location(url, &String::from_utf8_lossy(l.as_bytes()), secrets))
        .unwrap_or_default();
    json!({
        "status": answer.status.as_u16(),
        "statusText": answer.status.canonical_reason().unwrap_or(""),
        "httpVersion": format!("{:?}", answer.version),
        "cookies": response_cookies(&answer.headers),
        "headers": har_headers(&answer.headers, secrets),
        "content": content,
        "redirectURL": location,
        "headersSize": -1,
        "bodySize": body_size,
    })
}

/// Fields of OAuth 2 token requests and answers (form fields, JSON keys, query parameters)
/// whose values are credentials. `code` is one only in forms and query strings: in JSON it is
/// an error's code (OData errors), which support needs.
const CREDENTIAL_FIELDS: &[&str] = &[
    "client_secret",
    "client_assertion",
    "assertion",
    "password",
    "refresh_token",
    "access_token",
    "id_token",
    "device_code",
    "user_code",
    "code_verifier",
    "subject_token",
    "actor_token",
];

/// Cmdlet parameters that are SecureStrings, hidden whatever the cmdlet. This stands until
/// the table of SecureString parameters per cmdlet (`exchange/secure.rs`) can say it exactly.
const SECURE_PARAMETERS: &[&str] = &["Password", "RoomMailboxPassword", "OAuthCode"];

/// Words in a header's name that say its value is a credential (`X-Api-Key`, `X-Auth-Token`).
const SECRET_HEADER_WORDS: &[&str] = &[
    "token",
    "secret",
    "password",
    "passwd",
    "apikey",
    "api-key",
    "assertion",
    "credential",
    "signature",
];

/// Values shorter than this are hidden only where they stand, not searched for elsewhere:
/// a short value would be found in innocent text. Entra's passwords, user codes, secrets and
/// tokens are all longer.
const MIN_SCRUBBED: usize = 8;

/// Text shaped like a JWT (or JWE): base64url JSON `{"…`, dot, more. Whatever it is, it is a
/// credential or a signed claim set, and is hidden.
static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*)*").expect("valid regex")
});

fn is_credential_field(name: &str, in_json: bool) -> bool {
    CREDENTIAL_FIELDS
        .iter()
        .any(|f| f.eq_ignore_ascii_case(name))
        || (!in_json && name.eq_ignore_ascii_case("code"))
}

/// `text` with every value in `secrets` and every JWT hidden.
fn scrub(text: &str, secrets: &[String]) -> String {
    let mut text = Cow::Borrowed(text);
    for secret in secrets.iter().filter(|s| s.len() >= MIN_SCRUBBED) {
        if text.contains(secret.as_str()) {
            text = Cow::Owned(text.replace(secret.as_str(), REDACTED));
        }
    }
    JWT.replace_all(&text, REDACTED).into_owned()
}

/// A body as text, its credentials hidden: form fields and JSON keys by name, then any value
/// hidden so far and any JWT wherever they show. Bytes that are not UTF-8 are shown replaced.
fn shown_body(mime: &str, bytes: &[u8], secrets: &mut Vec<String>) -> String {
    let text = String::from_utf8_lossy(bytes);
    let mime = mime.to_ascii_lowercase();
    let trimmed = text.trim_start();
    let shown = if mime.starts_with("application/x-www-form-urlencoded") {
        redact_pairs(&text, secrets).0
    } else if (mime.contains("json") || trimmed.starts_with('{') || trimmed.starts_with('['))
        && let Ok(mut value) = serde_json::from_str::<Value>(&text)
        && redact_json(&mut value, secrets)
    {
        value.to_string()
    } else {
        text.into_owned()
    };
    scrub(&shown, secrets)
}

/// Hides the credentials of a JSON body in place: credential keys at any depth, and the
/// SecureString parameters of an InvokeCommand request. Whether anything was hidden.
fn redact_json(value: &mut Value, secrets: &mut Vec<String>) -> bool {
    let mut hidden = false;
    if let Some(Value::Object(parameters)) = value.pointer_mut("/CmdletInput/Parameters") {
        for (name, v) in parameters.iter_mut() {
            if SECURE_PARAMETERS
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name))
            {
                hidden |= hide(v, secrets);
            }
        }
    }
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                hidden |= if is_credential_field(key, true) {
                    hide(v, secrets)
                } else {
                    redact_json(v, secrets)
                };
            }
        }
        Value::Array(items) => {
            for item in items {
                hidden |= redact_json(item, secrets);
            }
        }
        _ => {}
    }
    hidden
}

/// Replaces a JSON value by [`REDACTED`], keeping its strings in `secrets`; a null or empty
/// value stays, since its absence is worth seeing ("no refresh token came").
fn hide(value: &mut Value, secrets: &mut Vec<String>) -> bool {
    fn strings(value: &Value, secrets: &mut Vec<String>) {
        match value {
            Value::String(s) => secrets.push(s.clone()),
            Value::Array(items) => items.iter().for_each(|v| strings(v, secrets)),
            Value::Object(map) => map.values().for_each(|v| strings(v, secrets)),
            _ => {}
        }
    }
    if value.is_null() || matches!(value.as_str(), Some("" | REDACTED)) {
        return false;
    }
    strings(value, secrets);
    *value = REDACTED.into();
    true
}

/// `name=value&…` (a form body or a query string) with credential values hidden, and its
/// pairs, decoded, as HAR lists them.
fn redact_pairs(text: &str, secrets: &mut Vec<String>) -> (String, Vec<Value>) {
    let mut listed = Vec::new();
    let shown: Vec<String> = text
        .split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (name_text, value_text) = (form_decode(name), form_decode(value));
            if !value.is_empty() && is_credential_field(&name_text, false) {
                secrets.push(value_text);
                listed.push(json!({"name": name_text, "value": REDACTED}));
                format!("{name}={REDACTED}")
            } else {
                listed.push(json!({"name": name_text, "value": value_text}));
                pair.to_string()
            }
        })
        .collect();
    (shown.join("&"), listed)
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
fn form_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high * 16 + low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

/// A URL as the trace shows it: no user info, no fragment, credentials in its query hidden;
/// and its query's pairs.
fn shown_url(url: &reqwest::Url, secrets: &mut Vec<String>) -> (String, Vec<Value>) {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.set_fragment(None);
    let mut listed = Vec::new();
    if let Some(query) = url.query() {
        let (text, pairs) = redact_pairs(query, secrets);
        shown.set_query(Some(&text));
        listed = pairs;
    }
    (shown.to_string(), listed)
}

/// A `Location` as the trace shows it: made absolute against the URL it answered, as a URL
/// is shown.
fn shown_location(base: &reqwest::Url, location: &str, secrets: &mut Vec<String>) -> String {
    match base.join(location) {
        Ok(url) => shown_url(&url, secrets).0,
        Err(_) => scrub(location, secrets),
    }
}

/// Headers as HAR lists them, credentials hidden.
fn har_headers(headers: &HeaderMap, secrets: &mut Vec<String>) -> Vec<Value> {
    headers
        .iter()
        .map(|(name, value)| {
            json!({"name": name.as_str(), "value": shown_header(name, value, secrets)})
        })
        .collect()
}

/// A header's value as the trace shows it: an `Authorization` keeps its scheme, cookies
/// their names, a header named for a credential nothing.
fn shown_header(name: &HeaderName, value: &HeaderValue, secrets: &mut Vec<String>) -> String {
    let text = String::from_utf8_lossy(value.as_bytes());
    let name = name.as_str();
    if name == "authorization" || name == "proxy-authorization" {
        return match text.trim().split_once(' ') {
            Some((scheme, credential)) => {
                secrets.push(credential.trim().to_string());
                format!("{scheme} {REDACTED}")
            }
            None => {
                secrets.push(text.trim().to_string());
                REDACTED.to_string()
            }
        };
    }
    if name == "cookie" {
        return cookie_names(&text)
            .map(|n| format!("{n}={REDACTED}"))
            .collect::<Vec<_>>()
            .join("; ");
    }
    if name == "set-cookie" {
        let (cookie, attributes) = text.split_once(';').unwrap_or((&text, ""));
        let name = cookie.split_once('=').map_or(cookie, |(n, _)| n).trim();
        return if attributes.is_empty() {
            format!("{name}={REDACTED}")
        } else {
            format!("{name}={REDACTED};{attributes}")
        };
    }
    if SECRET_HEADER_WORDS.iter().any(|w| name.contains(w)) {
        return REDACTED.to_string();
    }
    scrub(&text, secrets)
}

/// The names of a `Cookie` header's cookies.
fn cookie_names(text: &str) -> impl Iterator<Item = &str> {
    text.split(';')
        .map(|c| c.split_once('=').map_or(c, |(n, _)| n).trim())
        .filter(|n| !n.is_empty())
}

/// A request's cookies as HAR lists them: names, values hidden.
fn request_cookies(headers: &HeaderMap) -> Vec<Value> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| {
            cookie_names(&String::from_utf8_lossy(v.as_bytes()))
                .map(|n| json!({"name": n, "value": REDACTED}))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// An answer's cookies as HAR lists them: names, values hidden.
fn response_cookies(headers: &HeaderMap) -> Vec<Value> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| {
            let text = String::from_utf8_lossy(v.as_bytes());
            let cookie = text.split(';').next().unwrap_or("");
            let name = cookie.split_once('=').map_or(cookie, |(n, _)| n).trim();
            (!name.is_empty()).then(|| json!({"name": name, "value": REDACTED}))
        })
        .collect()
}

/// A header's value as text, or empty.
fn header_text(headers: &HeaderMap, name: &HeaderName) -> String {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

fn micros(d: Duration) -> u64 {
    d.as_micros() as u64
}

/// Milliseconds, to the microsecond, from microseconds.
fn millis(micros: u64) -> f64 {
    micros as f64 / 1000.0
}

/// `2026-05-01T10:07:29.250Z`.
pub(crate) fn iso8601(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (y, m, d) = tenantry_common::calendar::civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

/// Writes `bytes` at `at`.
fn write_at(file: &mut File, at: u64, bytes: &[u8]) -> io::Result<()> {
    file.seek(SeekFrom::Start(at))?;
    file.write_all(bytes)
}

/// `path`, created or emptied, readable and writable by its owner only: it holds tenant data.
fn private_file(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path)?;
    // A file that was there keeps the mode it had: narrow it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(file)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Vec<String> {
        Vec::new()
    }

    #[test]
    fn token_requests_keep_their_field_names_and_lose_their_values() {
        let mut found = secrets();
        let (text, pairs) = redact_pairs(
            "grant_type=password&username=a%40b.com&password=Pa%26ss+word%21&client_secret=s3cret-value&code=abc&scope=x",
            &mut found,
        );
        assert_eq!(
            text,
            "grant_type=password&username=a%40b.com&password=[redacted]&client_secret=[redacted]&code=[redacted]&scope=x"
        );
        assert_eq!(pairs[1], json!({"name": "username", "value": "a@b.com"}));
        assert_eq!(pairs[2], json!({"name": "password", "value": REDACTED}));
        assert_eq!(found, ["Pa&ss word!", "s3cret-value", "abc"]);
    }

    #[test]
    fn token_answers_keep_what_support_needs() {
        let mut found = secrets();
        let body = br#"{"token_type":"Bearer","expires_in":3599,"scope":"x","access_token":"at-0123456789","refresh_token":"rt-0123456789","id_token":null}"#;
        let shown: Value =
            serde_json::from_str(&shown_body("application/json", body, &mut found)).unwrap();
        assert_eq!(
            shown,
            json!({"token_type": "Bearer", "expires_in": 3599, "scope": "x", "access_token": REDACTED, "refresh_token": REDACTED, "id_token": null})
        );
        // An error keeps its code and description.
        let error = br#"{"error":"invalid_grant","error_description":"AADSTS50126: bad","error_codes":[50126]}"#;
        assert_eq!(
            shown_body("application/json", error, &mut found),
            String::from_utf8_lossy(error)
        );
    }

    #[test]
    fn the_device_code_sentence_loses_its_user_code() {
        let mut found = secrets();
        let body = br#"{"user_code":"ABCDEFGHJ","device_code":"dc-0123456789","message":"open https://x/devicelogin and enter the code ABCDEFGHJ to sign in"}"#;
        let shown = shown_body("application/json; charset=utf-8", body, &mut found);
        assert!(
            !shown.contains("ABCDEFGHJ") && !shown.contains("dc-0123"),
            "{shown}"
        );
        assert!(
            shown.contains("enter the code [redacted] to sign in"),
            "{shown}"
        );
    }

    #[test]
    fn secure_string_parameters_are_hidden_whatever_their_case_and_errors_keep_their_code() {
        let mut found = secrets();
        let body = br#"{"CmdletInput":{"CmdletName":"Set-Mailbox","Parameters":{"Identity":"bo","password":"Hunter2-long","RoomMailboxPassword":{"Value":"Room-Pass-99"},"OAuthCode":"oauth-code-1"}}}"#;
        let shown = shown_body("application/json", body, &mut found);
        for secret in ["Hunter2-long", "Room-Pass-99", "oauth-code-1"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains(r#""Identity":"bo""#), "{shown}");
        // The same secret echoed by the answer of the same exchange is hidden there too.
        let answer = br#"{"error":{"code":"ParameterBindingException","message":"cannot bind Hunter2-long"}}"#;
        let shown = shown_body("application/json", answer, &mut found);
        assert!(
            shown.contains(r#""code":"ParameterBindingException""#),
            "{shown}"
        );
        assert!(shown.contains("cannot bind [redacted]"), "{shown}");
    }

    #[test]
    fn headers_keep_their_scheme_and_cookie_names() {
        let mut found = secrets();
        let show = |name: &str, value: &str, found: &mut Vec<String>| {
            shown_header(
                &HeaderName::from_bytes(name.as_bytes()).unwrap(),
                &HeaderValue::from_str(value).unwrap(),
                found,
            )
        };
        assert_eq!(
            show("authorization", "Bearer eyJ0eXAi.eyJhdWQ.sig", &mut found),
            "Bearer [redacted]"
        );
        assert_eq!(show("authorization", "opaque", &mut found), REDACTED);
        assert_eq!(
            show("cookie", "fpc=abc; esctx=def", &mut found),
            "fpc=[redacted]; esctx=[redacted]"
        );
        assert_eq!(
            show(
                "set-cookie",
                "fpc=abc; path=/; secure; HttpOnly",
                &mut found
            ),
            "fpc=[redacted]; path=/; secure; HttpOnly"
        );
        assert_eq!(show("x-ms-auth-token", "abc", &mut found), REDACTED);
        assert_eq!(show("x-api-key", "abc", &mut found), REDACTED);
        assert_eq!(
            show("x-cmdletname", "Get-Mailbox", &mut found),
            "Get-Mailbox"
        );
        // A bearer token met in a header is hidden wherever else it shows.
        assert_eq!(
            scrub("echo: eyJ0eXAi.eyJhdWQ.sig and opaque-but-long", &found),
            "echo: [redacted] and opaque-but-long"
        );
    }

    #[test]
    fn urls_lose_their_user_info_and_query_credentials() {
        let mut found = secrets();
        let url =
            reqwest::Url::parse("https://me:pw@login.example/t/token?client_secret=abc&x=1#frag")
                .unwrap();
        let (shown, query) = shown_url(&url, &mut found);
        assert_eq!(
            shown,
            "https://login.example/t/token?client_secret=[redacted]&x=1"
        );
        assert_eq!(
            query,
            [
                json!({"name": "client_secret", "value": REDACTED}),
                json!({"name": "x", "value": "1"})
            ]
        );
        let base =
            reqwest::Url::parse("https://outlook.example/adminapi/beta/x/InvokeCommand").unwrap();
        assert_eq!(
            shown_location(&base, "/elsewhere?code=c", &mut found),
            "https://outlook.example/elsewhere?code=[redacted]"
        );
    }

    #[test]
    fn jwt_shaped_text_is_hidden_anywhere() {
        assert_eq!(
            scrub(
                r#"{"note":"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln-_x"}"#,
                &[]
            ),
            r#"{"note":"[redacted]"}"#
        );
        assert_eq!(scrub("Bearer realm=x", &[]), "Bearer realm=x");
    }

    #[test]
    fn timestamps_are_iso_8601_in_utc_to_the_millisecond() {
        let at = UNIX_EPOCH + Duration::from_millis(1_796_034_189_250);
        assert_eq!(iso8601(at), "2026-11-30T10:23:09.250Z");
    }

    /// Serves each of `answers` (raw HTTP) to one connection in turn, on loopback; an empty
    /// answer is never sent (the connection is held open).
    async fn serve(answers: Vec<Vec<u8>>) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            for answer in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut buf = vec![0; 64 * 1024];
                let _ = socket.read(&mut buf).await;
                if answer.is_empty() {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                }
                let _ = socket.write_all(&answer).await;
                let _ = socket.shutdown().await;
            }
        });
        url
    }

    fn client() -> reqwest::Client {
        crate::exchange::http_client().unwrap()
    }

    fn read(path: &Path) -> Value {
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn each_hop_and_each_failure_is_an_entry_and_the_caller_sees_the_same_answer() {
        use std::io::Write as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.har");
        let trace = Trace::create(&path).unwrap();
        assert_eq!(read(&path)["log"]["entries"], json!([]));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(br#"{"value":[1,2,3]}"#).unwrap();
        let gz = gz.finish().unwrap();
        let mut zipped = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-encoding: gzip\r\ncontent-length: {}\r\n\r\n",
            gz.len()
        )
        .into_bytes();
        zipped.extend_from_slice(&gz);
        let url = serve(vec![
            b"HTTP/1.1 302 Found\r\nlocation: /next?client_secret=s\r\nset-cookie: fpc=abc; path=/\r\ncontent-length: 0\r\n\r\n".to_vec(),
            zipped,
            // Headers, then less body than promised.
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort".to_vec(),
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort".to_vec(),
            Vec::new(),
        ])
        .await;
        let http = client();
        let post = |path: &str| {
            http.post(format!("{url}{path}"))
                .bearer_auth("eyJ0.eyJ1.c2ln")
                .body("grant_type=refresh_token&refresh_token=rt-0123456789")
                .header("content-type", "application/x-www-form-urlencoded")
        };
        let hop = send(Some(&trace), post("/first")).await.unwrap();
        assert_eq!(hop.status(), 302);
        assert_eq!(hop.headers()["location"], "/next?client_secret=s");
        assert_eq!(hop.url().path(), "/first");
        let next = send(Some(&trace), post("/next")).await.unwrap();
        assert_eq!(next.headers()["content-encoding"], "gzip");
        assert_eq!(
            &next.bytes().await.unwrap()[..],
            &gz[..],
            "the bytes as sent"
        );
        let short = send(Some(&trace), post("/short")).await.unwrap();
        assert_eq!(short.status(), 200);
        let traced = short.bytes().await.unwrap_err();
        // Read without a trace, the same answer fails the same way.
        let plain = post("/short")
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap_err();
        assert_eq!(
            crate::auth::describe(&traced),
            crate::auth::describe(&plain)
        );
        assert_eq!(
            (
                traced.is_connect(),
                traced.is_timeout(),
                traced.is_builder()
            ),
            (plain.is_connect(), plain.is_timeout(), plain.is_builder())
        );
        // A call given up before its answer.
        let given_up = tokio::time::timeout(
            Duration::from_millis(300),
            send(Some(&trace), post("/slow")),
        )
        .await;
        assert!(given_up.is_err());
        // Nobody listening.
        let closed = http.post("http://127.0.0.1:9/x").body("");
        assert!(send(Some(&trace), closed).await.unwrap_err().is_connect());
        assert_eq!(trace.finish().unwrap(), 5);

        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("rt-0123") && !text.contains("eyJ"), "{text}");
        let har = read(&path);
        let entries = har["log"]["entries"].as_array().unwrap();
        assert_eq!(har["log"]["version"], "1.2");
        assert_eq!(har["log"]["creator"]["name"], "tenantry");
        assert_eq!(entries.len(), 5);
        let redirect = &entries[0];
        assert_eq!(redirect["response"]["status"], 302);
        assert_eq!(
            redirect["response"]["redirectURL"],
            format!("{url}/next?client_secret=[redacted]")
        );
        assert_eq!(
            redirect["response"]["cookies"],
            json!([{"name": "fpc", "value": REDACTED}])
        );
        assert_eq!(
            redirect["request"]["postData"]["text"],
            "grant_type=refresh_token&refresh_token=[redacted]"
        );
        let zipped = &entries[1]["response"];
        assert_eq!(zipped["content"]["text"], r#"{"value":[1,2,3]}"#);
        assert_eq!(zipped["bodySize"], gz.len());
        assert_eq!(zipped["content"]["size"], 17);
        let short = &entries[2]["response"];
        assert_eq!(short["status"], 200);
        assert!(short["_error"].as_str().unwrap().len() > 3, "{short}");
        assert!(
            entries[3]["response"]["_error"]
                .as_str()
                .unwrap()
                .starts_with("no answer"),
            "{}",
            entries[3]
        );
        assert_eq!(entries[4]["response"]["status"], 0);
        assert!(
            entries[4]["response"]["_error"]
                .as_str()
                .unwrap()
                .contains("connection"),
            "{}",
            entries[4]
        );
        for entry in entries {
            let t = &entry["timings"];
            let sum: f64 = ["send", "wait", "receive"]
                .iter()
                .map(|k| t[k].as_f64().unwrap())
                .inspect(|v| assert!(*v >= 0.0, "{t}"))
                .sum();
            assert!(
                (entry["time"].as_f64().unwrap() - sum).abs() < 0.01,
                "{entry}"
            );
        }
    }

    #[test]
    fn the_file_is_private_and_whole_after_every_entry() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.har");
        std::fs::write(
            &path,
            "an older, longer file that was here before the trace",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        let trace = Trace::create(&path).unwrap();
        for n in 1..=3 {
            trace.write(&json!({"n": n}));
            let entries = read(&path)["log"]["entries"].clone();
            assert_eq!(entries.as_array().unwrap().len(), n, "{entries}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let err = Trace::create(dir.path()).unwrap_err();
        assert!(
            err.to_string().starts_with("cannot create the trace file"),
            "{err}"
        );
        assert_eq!(err.exit_code(), crate::exit::INVALID_INPUT);
    }
}
