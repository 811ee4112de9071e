//! The Exchange Online admin API client: InvokeCommand requests built as the
//! ExchangeOnlineManagement V3 module builds them, paging to the end, warnings kept, cmdlet
//! errors parsed, and transient failures retried.
//!
//! Retries: 429, 503, 504 and connection failures are retried, waiting `Retry-After` when the
//! service sends it and exponential backoff with jitter otherwise; a 401 renews the token once
//! and retries; a cmdlet error is final (a step's own `retries` decide whether to try again).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::auth::{AccessToken, AuthError, TokenProvider};
use crate::cloud::{CloudError, require_https};

/// The system mailbox that app-only calls are routed by, as the module anchors them.
const APP_ANCHOR_MAILBOX: &str = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";
/// The longest `Retry-After` honoured; anything longer is taken as a mistake.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);
/// The most one call waits in all for the service's named waits (`Retry-After`) before it
/// gives up: throttling that lasts longer than this is an outage, for `--deadline` and the
/// operator to judge.
const MAX_THROTTLED: Duration = Duration::from_secs(60 * 60);
/// Pages followed at most: 5,000 pages of 1,000 is five million objects.
const MAX_PAGES: usize = 5000;
/// The module's default page size.
pub const DEFAULT_PAGE_SIZE: usize = 1000;

/// Makes rustls use the ring provider for this process; reqwest needs one installed before a
/// client is built. Idempotent.
pub fn install_tls_provider() {
    // An error only means a provider is already installed, which is all this needs.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client for tokens and the admin API: TLS through rustls (platform trust store),
/// no redirects (a redirected token request would carry its secret elsewhere), and a total
/// timeout a minute above the service's own 15 minutes per cmdlet. Proxies as
/// [`http_client_via`] finds them in the environment.
pub fn http_client() -> Result<reqwest::Client, ExchangeError> {
    http_client_via(None)
}

/// [`http_client`] through `proxy`, else through `HTTPS_PROXY` (or `https_proxy`,
/// `ALL_PROXY`) when set. Only https traffic goes through a proxy, so loopback (the sandbox) is
/// always reached directly; `NO_PROXY` lists more hosts to reach directly.
pub fn http_client_via(proxy: Option<&str>) -> Result<reqwest::Client, ExchangeError> {
    install_tls_provider();
    let failed = ExchangeError::Setup;
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    // The environment is read here, once, rather than by reqwest on its own, so that plain
    // http (loopback only) never goes to a proxy named by HTTP_PROXY.
    let mut builder = reqwest::Client::builder().no_proxy();
    if let Some(url) = proxy_in_use(proxy) {
        let mut bypass = env("NO_PROXY")
            .or_else(|| env("no_proxy"))
            .unwrap_or_default();
        bypass.push_str(",localhost,127.0.0.1,::1");
        let proxy = reqwest::Proxy::https(url.as_str())
            .map_err(|_| {
                failed(format!(
                    "the proxy `{}` is not a usable URL",
                    redact_password(&url)
                ))
            })?
            .no_proxy(reqwest::NoProxy::from_string(&bypass));
        builder = builder.proxy(proxy);
    }
    builder
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(30))
        .timeout(Duration::from_secs(16 * 60))
        .pool_idle_timeout(Duration::from_secs(90))
        .user_agent(concat!("tenantry/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ExchangeError::Setup(format!("cannot build the HTTP client: {e}")))
}

/// The proxy https traffic goes through: `flag` (`--proxy`), else `HTTPS_PROXY`,
/// `https_proxy`, `ALL_PROXY` or `all_proxy`.
pub fn proxy_in_use(flag: Option<&str>) -> Option<String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    flag.map(str::to_string)
        .or_else(|| env("HTTPS_PROXY"))
        .or_else(|| env("https_proxy"))
        .or_else(|| env("ALL_PROXY"))
        .or_else(|| env("all_proxy"))
}

/// `url` with its user info hidden, password and user alike: `http://***@proxy:3128`. Anything
/// before the last `@` goes, so no spelling of a URL (a `/` in the password, no scheme) can
/// show a password.
pub fn redact_password(url: &str) -> String {
    let start = url.find("://").map_or(0, |i| i + 3);
    match url.rfind('@') {
        Some(at) if at >= start => format!("{}***@{}", &url[..start], &url[at + 1..]),
        _ => url.to_string(),
    }
}

/// How transient failures are retried.
#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; it doubles each time (the module's 2 s × 2ⁿ).
    pub base: Duration,
    /// The longest backoff between attempts (a `Retry-After` from the service is honoured in
    /// full).
    pub max_wait: Duration,
    /// Send a write again when its answer was lost (504, a connection cut after sending): only
    /// for writes that are safe to repeat.
    pub resend_unconfirmed_writes: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            base: Duration::from_secs(2),
            max_wait: Duration::from_secs(120),
            resend_unconfirmed_writes: false,
        }
    }
}

/// A cmdlet's error as the service reports it (`ErrId|Class|message`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct CmdletError {
    /// The HTTP status.
    pub status: u16,
    /// Exchange's error id, e.g. `Ex6F9304`; may be empty.
    pub id: String,
    /// The .NET exception class.
    pub class: String,
    /// The message.
    pub message: String,
}

impl CmdletError {
    /// The class without its namespace, e.g. `ManagementObjectNotFoundException`.
    pub fn short_class(&self) -> &str {
        self.class.rsplit('.').next().unwrap_or(&self.class)
    }
}

impl std::fmt::Display for CmdletError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.short_class(), self.message)
    }
}

/// Why a call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The cmdlet ran and failed.
    #[error("{0}")]
    Cmdlet(CmdletError),
    /// No token could be had.
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// A write was sent and its answer lost: it may or may not have run.
    #[error(
        "the outcome is unknown ({reason}): the cmdlet may have run; it was not sent again because it writes"
    )]
    Unconfirmed {
        /// What was lost.
        reason: String,
    },
    /// The service kept refusing the token after it was renewed.
    #[error(
        "the admin API refused a fresh token ({reason}); check the app's Exchange.ManageAsApp permission and admin consent"
    )]
    Unauthorized {
        /// What the service said.
        reason: String,
    },
    /// The token is valid but does not allow the admin API.
    #[error(
        "the admin API refused the app (403): {reason} (grant the app Exchange.ManageAsApp with admin consent, and an Exchange role)"
    )]
    Forbidden {
        /// What the service said.
        reason: String,
    },
    /// Retries ran out on throttling, unavailability or the network.
    #[error("gave up after {attempts} attempts: {last}")]
    Exhausted {
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// Any other answer the client cannot use.
    #[error("the admin API answered {status}: {body}")]
    Unexpected {
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The endpoint is not allowed (not https outside loopback).
    #[error(transparent)]
    Endpoint(#[from] CloudError),
    /// The HTTP client could not be set up (a proxy URL that is not one).
    #[error("{0}")]
    Setup(String),
}

impl ExchangeError {
    /// Whether this is a cmdlet error, which a step's `retries` may choose to retry.
    pub fn cmdlet(&self) -> Option<&CmdletError> {
        match self {
            ExchangeError::Cmdlet(e) => Some(e),
            _ => None,
        }
    }
}

/// What a cmdlet returned, over every page.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CmdletResult {
    /// The objects, in order.
    pub value: Vec<Value>,
    /// The warnings, without repeats.
    pub warnings: Vec<String>,
    /// HTTP requests made (pages and retries).
    pub requests: u32,
    /// Why each retry happened (`429`, `503`, `401`, `connection`), in order.
    pub retries: Vec<String>,
    /// Non-terminating errors the cmdlet reported (`@adminapi.errors`).
    pub errors: Vec<String>,
}

/// A tenant-wide pause: when the service throttles one call with `Retry-After`, every call to
/// that tenant waits it out, not only the one that was throttled, so the tenant's other slots
/// do not keep hitting the limit.
#[derive(Debug, Default)]
pub struct Throttle {
    until: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Throttle {
    /// Holds every call until `wait` from now (or longer, if already paused longer).
    pub fn pause(&self, wait: Duration) {
        let until = tokio::time::Instant::now() + wait;
        let mut slot = self.until.lock().unwrap_or_else(|e| e.into_inner());
        if slot.is_none_or(|current| current < until) {
            *slot = Some(until);
        }
    }

    /// Waits while the tenant is paused.
    pub async fn wait(&self) {
        loop {
            let until = *self.until.lock().unwrap_or_else(|e| e.into_inner());
            match until {
                Some(until) if until > tokio::time::Instant::now() => {
                    tokio::time::sleep_until(until).await;
                }
                _ => return,
            }
        }
    }
}

/// A client for one tenant's admin API.
pub struct Client {
    http: reqwest::Client,
    invoke_url: String,
    anchor: String,
    connection_id: String,
    tokens: Arc<TokenProvider>,
    retry: RetryPolicy,
    page_size: usize,
    throttle: Throttle,
}

impl Client {
    /// A client calling `invoke_url` (the tenant's InvokeCommand URL) with tokens from
    /// `tokens`; `organization` is the tenant's domain or GUID, for routing.
    pub fn new(
        http: reqwest::Client,
        invoke_url: &str,
        organization: &str,
        tokens: Arc<TokenProvider>,
        retry: RetryPolicy,
    ) -> Result<Self, ExchangeError> {
        require_https(invoke_url)?;
        Ok(Client {
            http,
            invoke_url: invoke_url.to_string(),
            anchor: format!("APP:{APP_ANCHOR_MAILBOX}@{organization}"),
            connection_id: uuid_like(),
            tokens,
            retry,
            page_size: DEFAULT_PAGE_SIZE,
            throttle: Throttle::default(),
        })
    }

    /// Sets the page size (`Prefer: odata.maxpagesize`, 1 to 5000).
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = size.clamp(1, 5000);
        self
    }

    /// Runs a cmdlet and returns every object it emitted, following `@odata.nextLink` to the
    /// end.
    pub async fn invoke(
        &self,
        cmdlet: &str,
        params: &Map<String, Value>,
    ) -> Result<CmdletResult, ExchangeError> {
        self.invoke_as(cmdlet, params, false).await
    }

    /// [`Client::invoke`] for a call that may be sent twice without harm (`idempotent`): a
    /// write whose answer was lost is then sent again rather than reported unconfirmed.
    pub async fn invoke_as(
        &self,
        cmdlet: &str,
        params: &Map<String, Value>,
        idempotent: bool,
    ) -> Result<CmdletResult, ExchangeError> {
        let body =
            json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": encode_params(params)}});
        let mut result = CmdletResult::default();
        let mut url = self.invoke_url.clone();
        let mut seen = std::collections::HashSet::new();
        loop {
            let page = self
                .send(&url, cmdlet, &body, idempotent, &mut result)
                .await?;
            if let Some(Value::Array(errors)) = page.get("@adminapi.errors") {
                result.errors.extend(
                    errors
                        .iter()
                        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string)),
                );
            }
            if let Some(Value::Array(items)) = page.get("value") {
                result.value.extend(items.iter().cloned());
            }
            if let Some(Value::Array(warnings)) = page.get("@adminapi.warnings") {
                for w in warnings.iter().filter_map(Value::as_str) {
                    // The module hides warnings that repeat on every page.
                    if !result.warnings.iter().any(|seen| seen == w) {
                        result.warnings.push(w.to_string());
                    }
                }
            }
            match page.get("@odata.nextLink").and_then(Value::as_str) {
                Some(next) => {
                    require_https(next)?;
                    // The token goes with every page: only to where the first one went.
                    if origin(next) != origin(&self.invoke_url) {
                        return Err(ExchangeError::Unexpected {
                            status: 200,
                            body: format!(
                                "the next page is on another host ({next}); not following it"
                            ),
                        });
                    }
                    if !seen.insert(next.to_string()) || seen.len() > MAX_PAGES {
                        return Err(ExchangeError::Unexpected {
                            status: 200,
                            body: format!(
                                "paging does not end (link repeated or over {MAX_PAGES} pages)"
                            ),
                        });
                    }
                    url = next.to_string();
                }
                None => return Ok(result),
            }
        }
    }

    /// One page: the request, retried as the policy allows.
    async fn send(
        &self,
        url: &str,
        cmdlet: &str,
        body: &Value,
        idempotent: bool,
        result: &mut CmdletResult,
    ) -> Result<Value, ExchangeError> {
        let mut attempt: u32 = 0;
        // Attempts that count against `max_retries`: a wait the service names is obeyed
        // rather than counted, up to MAX_THROTTLED in all, so a long burst of throttling
        // delays a call instead of failing it.
        let mut counted: u32 = 0;
        let mut throttled_for = Duration::ZERO;
        let mut renewed = false;
        loop {
            attempt += 1;
            self.throttle.wait().await;
            result.requests += 1;
            // A token per request, as the module does: a long paging run outlives tokens.
            let token = match self.tokens.token().await {
                Ok(token) => Some(token),
                // The sign-in endpoint being unreachable is as transient as the API's.
                Err(AuthError::Unreachable { url, reason }) => {
                    if counted >= self.retry.max_retries {
                        return Err(AuthError::Unreachable { url, reason }.into());
                    }
                    None
                }
                Err(e) => return Err(e.into()),
            };
            let outcome = match &token {
                Some(token) => self.attempt(url, cmdlet, body, token).await,
                None => Attempt::Transient {
                    reason: "sign-in: the token endpoint did not answer".into(),
                    retry_after: None,
                },
            };
            let (reason, wait) = match outcome {
                Attempt::Page(page) => return Ok(page),
                Attempt::Failed(e) => return Err(e),
                Attempt::Unauthorized(reason) => {
                    if renewed {
                        return Err(ExchangeError::Unauthorized { reason });
                    }
                    // Once: renew the token and go again at once.
                    renewed = true;
                    if let Some(token) = &token {
                        self.tokens.reject(token).await;
                    }
                    result.retries.push("401".into());
                    continue;
                }
                Attempt::Transient {
                    reason,
                    retry_after,
                } => (reason, retry_after),
                Attempt::Unconfirmed(reason) => {
                    let resend = idempotent
                        || crate::playbook::verbs::is_read_only(cmdlet)
                        || self.retry.resend_unconfirmed_writes;
                    if !resend {
                        return Err(ExchangeError::Unconfirmed { reason });
                    }
                    (reason, None)
                }
            };
            // The service named the wait: the whole tenant observes it, in full (a
            // `Retry-After: 0` still gets a short pause, so retries cannot spin).
            let named = wait.map(|w| w.clamp(Duration::from_millis(50), MAX_RETRY_AFTER));
            match named {
                // Waits under a second are counted like any retry: a service answering
                // `Retry-After: 0` over and over is failing, not throttling.
                Some(w) if w >= Duration::from_secs(1) && throttled_for + w <= MAX_THROTTLED => {
                    throttled_for += w
                }
                _ => {
                    counted += 1;
                    if counted > self.retry.max_retries {
                        return Err(ExchangeError::Exhausted {
                            attempts: attempt,
                            last: reason,
                        });
                    }
                }
            }
            result
                .retries
                .push(reason.split(':').next().unwrap_or("").to_string());
            match named {
                Some(wait) => self.throttle.pause(wait),
                None => tokio::time::sleep(backoff(&self.retry, counted.max(1))).await,
            }
        }
    }

    async fn attempt(&self, url: &str, cmdlet: &str, body: &Value, token: &AccessToken) -> Attempt {
        let request = self
            .http
            .post(url)
            .bearer_auth(token.secret.expose())
            .header("Accept", "application/json")
            .header("X-AnchorMailbox", &self.anchor)
            .header("X-CmdletName", cmdlet)
            .header("X-ClientApplication", "tenantry")
            .header("X-ResponseFormat", "json")
            .header("Prefer", format!("odata.maxpagesize={}", self.page_size))
            .header("connection-id", &self.connection_id)
            .header("client-request-id", uuid_like())
            .json(body);
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_builder() => {
                return Attempt::Failed(ExchangeError::Unexpected {
                    status: 0,
                    body: format!("the request cannot be built: {}", crate::auth::describe(&e)),
                });
            }
            // Not connected: the service never saw the request.
            Err(e) if e.is_connect() => {
                return Attempt::Transient {
                    reason: format!("connection: {}", crate::auth::describe(&e)),
                    retry_after: None,
                };
            }
            // Sent, then lost: the service may have run it.
            Err(e) => {
                return Attempt::Unconfirmed(format!("connection: {}", crate::auth::describe(&e)));
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64);
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let bytes = match response.bytes().await {
            Ok(b) => b,
            Err(e) => {
                return Attempt::Unconfirmed(format!("connection: {}", crate::auth::describe(&e)));
            }
        };
        let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        match status {
            200 if json.is_object() => Attempt::Page(json),
            200 => Attempt::Failed(ExchangeError::Unexpected {
                status,
                body: format!(
                    "a success without a JSON body (a proxy's page?): {}",
                    String::from_utf8_lossy(&bytes)
                        .chars()
                        .take(200)
                        .collect::<String>()
                ),
            }),
            204 => Attempt::Page(json!({"value": []})),
            401 => Attempt::Unauthorized(challenge.unwrap_or_else(|| "401".into())),
            403 => Attempt::Failed(ExchangeError::Forbidden {
                reason: error_message(&json),
            }),
            // Refused before running: always safe to send again.
            429 | 503 | 408 => Attempt::Transient {
                reason: format!("{status}: {}", error_message(&json)),
                retry_after,
            },
            // A gateway timed out: the cmdlet may have run behind it.
            504 => Attempt::Unconfirmed(format!("504: {}", error_message(&json))),
            _ => match parse_cmdlet_error(status, &json) {
                Some(e) => Attempt::Failed(ExchangeError::Cmdlet(e)),
                None => Attempt::Failed(ExchangeError::Unexpected {
                    status,
                    body: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
                }),
            },
        }
    }
}

enum Attempt {
    Page(Value),
    Failed(ExchangeError),
    Unauthorized(String),
    /// The request went out and its answer was lost: retried for reads, and for writes only
    /// when the policy says they may be sent twice.
    Unconfirmed(String),
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
}

/// `scheme://host:port` of a URL, lowercased, for same-origin checks.
fn origin(url: &str) -> String {
    let lower = url.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://").unwrap_or(("", &lower));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    format!("{scheme}://{host}")
}

/// Exponential backoff with full jitter: a random wait up to `base × 2^(attempt-1)`, at least
/// a tenth of it, so retries from many tasks do not arrive together.
fn backoff(policy: &RetryPolicy, attempt: u32) -> Duration {
    let ceiling = policy
        .base
        .saturating_mul(
            1u32.checked_shl(attempt.saturating_sub(1))
                .unwrap_or(u32::MAX),
        )
        .min(policy.max_wait);
    let jitter = (next_random() % 1000) as f64 / 1000.0;
    ceiling.mul_f64(0.1 + 0.9 * jitter)
}

/// Parameters as the module sends them: a hashtable value (add/remove) gets its
/// `@odata.type`, a list of hashtables its `<Param>@odata.type` sibling, and a date-time
/// parameter given with its UTC offset is sent in UTC, as .NET writes a `DateTime`.
pub fn encode_params(params: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (name, value) in params {
        match value {
            Value::String(s) if is_date_time_name(name) => {
                let utc = utc_date_time(s).map_or_else(|| value.clone(), Value::String);
                out.insert(name.clone(), utc);
            }
            Value::Object(map) => {
                out.insert(name.clone(), Value::Object(hashtable(map)));
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
                let tables = items
                    .iter()
                    .filter_map(Value::as_object)
                    .map(|m| Value::Object(hashtable(m)))
                    .collect();
                out.insert(name.clone(), Value::Array(tables));
                out.insert(
                    format!("{name}@odata.type"),
                    "#Collection(Exchange.GenericHashTable)".into(),
                );
            }
            other => {
                out.insert(name.clone(), other.clone());
            }
        }
    }
    Value::Object(out)
}

/// Whether a parameter is, by its name, a `DateTime` (`StartDate`, `EndTime`,
/// `ExpirationDate`, …). Only these are converted: a string parameter that happens to hold a
/// timestamp (`CustomAttribute1`) is sent as written.
fn is_date_time_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with("date") || lower.ends_with("time")
}

/// An RFC 3339 date-time with an explicit offset (`2026-12-01T09:30:00+01:00`, `…Z`) as the
/// module sends a `DateTime`: UTC, `yyyy-MM-ddTHH:mm:ss.fffffffZ`. Anything else (a date
/// alone, no offset) is not rewritten: without an offset there is no instant to convert.
fn utc_date_time(s: &str) -> Option<String> {
    // ASCII only: every index below is then a character boundary.
    if !s.is_ascii() {
        return None;
    }
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let mut rest = &s[19..];
    let mut nanos: i64 = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        let text = &fraction[..n];
        nanos = text.parse::<i64>().ok()? * 10i64.pow(9 - n as u32);
        rest = &fraction[n..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            // The offset is the last six bytes: ±hh:mm.
            let at = s.len() - 6;
            let (h, m) = (digits(at + 1..at + 3)?, digits(at + 4..at + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 60 + m)
        }
        _ => return None,
    };
    use tenantry_common::calendar::{civil_from_days, days_from_civil, days_in_month};
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let utc = local - offset_minutes * 60;
    let (days, secs) = (utc.div_euclid(86_400), utc.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:07}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        nanos / 100
    ))
}

fn hashtable(map: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if !map.contains_key("@odata.type") {
        out.insert("@odata.type".into(), "#Exchange.GenericHashTable".into());
    }
    for (k, v) in map {
        let v = match v {
            Value::Object(inner) => Value::Object(hashtable(inner)),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| match i {
                        Value::Object(inner) => Value::Object(hashtable(inner)),
                        other => other.clone(),
                    })
                    .collect(),
            ),
            other => other.clone(),
        };
        out.insert(k.clone(), v);
    }
    out
}

/// The cmdlet error in an error body: `details[0].message` as `ErrId|Class|message`, falling
/// back to the inner exception and then the top-level message, as the module does.
pub fn parse_cmdlet_error(status: u16, body: &Value) -> Option<CmdletError> {
    let error = body.get("error")?;
    let detail = error.pointer("/details/0/message").and_then(Value::as_str);
    if let Some(detail) = detail {
        let mut parts = detail.splitn(3, '|');
        if let (Some(id), Some(class), Some(message)) = (parts.next(), parts.next(), parts.next()) {
            return Some(CmdletError {
                status,
                id: id.to_string(),
                class: class.to_string(),
                message: message.to_string(),
            });
        }
    }
    let inner = error.pointer("/innererror/internalexception");
    let message = inner
        .and_then(|i| i.get("message"))
        .and_then(Value::as_str)
        .or(detail)
        .or_else(|| error.get("message").and_then(Value::as_str))?;
    Some(CmdletError {
        status,
        id: String::new(),
        class: inner
            .and_then(|i| i.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        message: message.to_string(),
    })
}

fn error_message(body: &Value) -> String {
    body.pointer("/error/message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .chars()
        .take(200)
        .collect()
}

/// A random 64-bit number, without a random-number crate: hashing with a fresh `RandomState`.
fn next_random() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::Instant::now())
}

/// A GUID-shaped random id for `client-request-id` and `connection-id`.
fn uuid_like() -> String {
    let (a, b) = (next_random(), next_random());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        (b >> 48) & 0x3fff | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_passwords_never_show() {
        assert_eq!(
            redact_password("http://me:s3cret@proxy:3128/x"),
            "http://***@proxy:3128/x"
        );
        assert_eq!(
            redact_password("http://me:pa/ss@proxy:3128"),
            "http://***@proxy:3128"
        );
        assert_eq!(redact_password("me:s3cret@proxy:3128"), "***@proxy:3128");
        assert_eq!(redact_password("http://proxy:3128"), "http://proxy:3128");
        assert_eq!(redact_password("not a url"), "not a url");
        let err = http_client_via(Some("http://me:s3cret@[bad")).unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn date_time_parameters_with_an_offset_are_sent_in_utc_as_dotnet_writes_them() {
        let params = json!({
            "StartTime": "2026-12-01T09:30:00+01:00",
            "EndDate": "2027-01-01T00:00:00.5-05:30",
            "ExpirationDate": "2024-02-29T23:59:59Z",
            "CustomAttribute1": "2026-12-01T09:30:00+01:00",
            "StartDate": "2026-12-01",
            "EndTime": "2026-02-30T00:00:00Z",
            "TimeZone": "2026-12-01T09:30:00+01:00",
            "AuditLogAgeLimit": "90.00:00:00",
        });
        let encoded = encode_params(params.as_object().unwrap());
        assert_eq!(encoded["StartTime"], "2026-12-01T08:30:00.0000000Z");
        assert_eq!(encoded["EndDate"], "2027-01-01T05:30:00.5000000Z");
        assert_eq!(encoded["ExpirationDate"], "2024-02-29T23:59:59.0000000Z");
        // Not date-times by name, or nothing to convert: as written.
        assert_eq!(encoded["CustomAttribute1"], "2026-12-01T09:30:00+01:00");
        assert_eq!(encoded["StartDate"], "2026-12-01");
        assert_eq!(encoded["EndTime"], "2026-02-30T00:00:00Z", "no 30 February");
        assert_eq!(encoded["TimeZone"], "2026-12-01T09:30:00+01:00");
        // Odd input is left alone, never a panic.
        for odd in [
            "2026-12-01T09:30:00é1234",
            "2026-12-01T09:30:00+0é00",
            "2026-12-01T09:30:00.5é1234",
            "2026-12-01T09:30:00+-5:00",
            "2026-12-01T09:30:00++5:00",
        ] {
            let encoded = encode_params(json!({ "StartTime": odd }).as_object().unwrap());
            assert_eq!(encoded["StartTime"], odd);
        }
        // TimeSpans are written in .NET's own form already.
        assert_eq!(encoded["AuditLogAgeLimit"], "90.00:00:00");
    }

    #[test]
    fn hashtables_get_their_odata_type_and_lists_of_them_a_sibling() {
        let params = json!({
            "Identity": "user001",
            "EmailAddresses": {"Add": ["a@contoso.com"]},
            "Rules": [{"Name": "x"}],
            "Flag": true,
            "Tags": ["a", "b"],
        });
        let encoded = encode_params(params.as_object().unwrap());
        assert_eq!(
            encoded["EmailAddresses"]["@odata.type"],
            "#Exchange.GenericHashTable"
        );
        assert_eq!(encoded["EmailAddresses"]["Add"], json!(["a@contoso.com"]));
        assert_eq!(
            encoded["Rules@odata.type"],
            "#Collection(Exchange.GenericHashTable)"
        );
        assert_eq!(
            encoded["Rules"][0]["@odata.type"],
            "#Exchange.GenericHashTable"
        );
        assert_eq!(encoded["Flag"], true);
        assert_eq!(encoded["Tags"], json!(["a", "b"]));
    }

    #[test]
    fn cmdlet_errors_parse_from_details_or_fall_back() {
        let body = json!({"error": {"code": "InternalServerError", "message": "Error executing cmdlet",
            "details": [{"code": "Client", "message": "Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed because object 'x' couldn't be found on 'SRV'."}]}});
        let e = parse_cmdlet_error(400, &body).unwrap();
        assert_eq!(
            (e.id.as_str(), e.short_class()),
            ("Ex6F9304", "ManagementObjectNotFoundException")
        );
        assert!(e.message.contains("'x' couldn't be found"));
        let inner = json!({"error": {"message": "Error executing cmdlet", "innererror": {"internalexception": {"message": "inner text", "type": "A.B.C"}}}});
        let e = parse_cmdlet_error(400, &inner).unwrap();
        assert_eq!((e.message.as_str(), e.short_class()), ("inner text", "C"));
        let plain = json!({"error": {"message": "Invalid Operation"}});
        assert_eq!(
            parse_cmdlet_error(500, &plain).unwrap().message,
            "Invalid Operation"
        );
        assert!(parse_cmdlet_error(400, &json!("x")).is_none());
    }

    #[test]
    fn backoff_grows_and_stays_within_its_ceiling() {
        let policy = RetryPolicy {
            max_retries: 5,
            base: Duration::from_millis(100),
            max_wait: Duration::from_secs(1),
            resend_unconfirmed_writes: false,
        };
        for attempt in 1..=8 {
            let ceiling =
                Duration::from_millis(100 * (1 << (attempt - 1))).min(Duration::from_secs(1));
            for _ in 0..50 {
                let wait = backoff(&policy, attempt);
                assert!(
                    wait <= ceiling && wait >= ceiling / 10,
                    "{attempt}: {wait:?}"
                );
            }
        }
        assert!(backoff(&policy, 40) <= Duration::from_secs(1));
    }
}

#[cfg(test)]
mod origin_tests {
    use super::origin;

    #[test]
    fn origins_compare_scheme_host_and_port_only() {
        assert_eq!(
            origin("https://Outlook.office365.com/adminapi/beta/x/InvokeCommand?$skiptoken=1"),
            "https://outlook.office365.com"
        );
        assert_ne!(
            origin("https://outlook.office365.com/x"),
            origin("https://outlook.office365.com.evil.example/x")
        );
        assert_ne!(
            origin("http://127.0.0.1:5800/x"),
            origin("http://127.0.0.1:5801/x")
        );
        assert_ne!(
            origin("https://outlook.office365.com/x"),
            origin("https://u@evil.example/x")
        );
    }
}
