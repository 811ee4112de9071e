//! The Exchange Online admin API client: InvokeCommand requests built as the
//! ExchangeOnlineManagement V3 module builds them, paging to the end, warnings kept, cmdlet
//! errors parsed, and transient failures retried.
//!
//! Retries: 429, 503, 504 and connection failures are retried, waiting `Retry-After` when the
//! service sends it and exponential backoff with jitter otherwise; a 401 renews the token once
//! and retries; a cmdlet error is final (a step's own `retries` decide whether to try again).
//!
//! Several calls can also go as one `$batch` request ([`Client::invoke_batch`]).

mod batch;
mod error;
mod params;
mod redirect;
mod retry;
pub mod secure;
mod transport;

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::auth::TokenProvider;
use crate::catalog::Cmdlet;
use crate::cloud::require_https;

pub use batch::{BatchCall, BatchResult, MAX_BATCH};
pub use error::{CmdletError, ExchangeError, parse_cmdlet_error};
pub use params::{encode_cmdlet_params, encode_params};
pub use redirect::RedirectHosts;
use retry::{Attempts, Sending};
pub use retry::{RetryPolicy, Throttle};
pub use secure::{PublicKey, SecureError};
pub(crate) use transport::decode;
use transport::uuid_like;
pub use transport::{
    http_client, http_client_via, install_tls_provider, proxy_in_use, redact_password,
};

/// Whether an organization is a vanity domain: neither a GUID nor an initial
/// (`*.onmicrosoft.*`, `*.onmschina.cn`) domain.
fn is_vanity(organization: &str) -> bool {
    let o = organization.to_ascii_lowercase();
    let guid = o.len() == 36 && o.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
    !guid && o.contains('.') && !o.contains(".onmicrosoft.") && !o.ends_with(".onmschina.cn")
}

/// The system mailbox that app-only calls are routed by, as the module anchors them.
const APP_ANCHOR_MAILBOX: &str = "SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}";
/// Pages followed at most: 5,000 pages of 1,000 is five million objects.
const MAX_PAGES: usize = 5000;
/// The module's default page size.
pub const DEFAULT_PAGE_SIZE: usize = 1000;

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
    /// What a write asked only to tell (`WhatIf`) or to confirm would do
    /// (`@adminapi.confirmationmessage`).
    pub confirmation: Option<String>,
}

/// A client for one tenant's admin API.
pub struct Client {
    http: reqwest::Client,
    invoke_url: String,
    anchor: String,
    /// The organization, when it is a vanity domain (`contoso.com`): the tenant's GUID from
    /// the first token replaces it in the URL and the routing hint, since only the GUID and
    /// the initial domain are known to work there.
    vanity: Option<String>,
    /// The URL and the app routing hint with the GUID in place of a vanity domain.
    resolved: std::sync::OnceLock<(String, String)>,
    /// Where a redirect may take the tenant's calls, token and all.
    redirects: RedirectHosts,
    /// The origin the tenant's calls were last redirected to: later calls go straight there.
    pinned: std::sync::Mutex<Option<reqwest::Url>>,
    /// The service's cookies for this tenant session (its routing affinity).
    cookies: redirect::Cookies,
    connection_id: String,
    tokens: Arc<TokenProvider>,
    retry: RetryPolicy,
    page_size: usize,
    throttle: Throttle,
    /// `$batch` requests the service throttled as a whole, retried or not, for the run to
    /// send smaller batches as soon as it happens.
    batches_throttled: std::sync::atomic::AtomicU64,
    /// The fixed headers of its calls, made at the first.
    prepared: std::sync::OnceLock<transport::Prepared>,
    /// The URL last called, parsed: calls mostly go to one.
    last_url: std::sync::Mutex<Option<reqwest::Url>>,
    /// The `Authorization` value of the token in use, by the token's generation.
    bearer: std::sync::Mutex<Option<(u64, reqwest::header::HeaderValue)>>,
    /// Where every request and answer is written (`--trace`), when asked.
    trace: Option<Arc<crate::trace::Trace>>,
    /// The key SecureString parameters are encrypted with.
    public_key: Arc<PublicKey>,
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
            vanity: is_vanity(organization).then(|| organization.to_string()),
            resolved: std::sync::OnceLock::new(),
            redirects: RedirectHosts::custom::<&str>(invoke_url, &[]),
            pinned: std::sync::Mutex::new(None),
            cookies: redirect::Cookies::default(),
            connection_id: uuid_like(),
            tokens,
            retry,
            page_size: DEFAULT_PAGE_SIZE,
            throttle: Throttle::default(),
            batches_throttled: std::sync::atomic::AtomicU64::new(0),
            prepared: std::sync::OnceLock::new(),
            last_url: std::sync::Mutex::new(None),
            bearer: std::sync::Mutex::new(None),
            trace: None,
            public_key: PublicKey::microsoft(),
        })
    }

    /// Where redirects may take this tenant's calls (by default its own host, on any port).
    pub fn with_redirect_hosts(mut self, hosts: RedirectHosts) -> Self {
        self.redirects = hosts;
        self
    }

    /// The first page's URL: on the host an earlier call was redirected to, if any.
    async fn first_url(&self) -> String {
        let url = self.configured_url().await;
        match &*self.pinned.lock().unwrap_or_else(|e| e.into_inner()) {
            Some(origin) => redirect::on_origin(&url, origin),
            None => url,
        }
    }

    /// The host (`host[:port]`) the service redirected this tenant's calls to, once it has.
    pub fn redirected_to(&self) -> Option<String> {
        let pinned = self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        let origin = pinned.as_ref()?;
        let host = origin.host_str()?;
        Some(match origin.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        })
    }

    /// Keeps the host a redirected call reached, for the tenant's later calls.
    fn pin(&self, url: &str) {
        if let Some(origin) = redirect::origin_of(url) {
            *self.pinned.lock().unwrap_or_else(|e| e.into_inner()) = Some(origin);
        }
    }

    /// Whether a next link goes where this tenant's calls go: the configured host, or the one
    /// a redirect reached (an explicit `:443` or `:446` or none, alike).
    fn on_our_host(&self, next: &str) -> bool {
        // User info in a link would be sent as credentials of its own beside the token.
        if reqwest::Url::parse(next)
            .is_ok_and(|u| !u.username().is_empty() || u.password().is_some())
        {
            return false;
        }
        let Some(next) = redirect::origin_of(next) else {
            return false;
        };
        let pinned = self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        redirect::origin_of(&self.invoke_url).as_ref() == Some(&next)
            || pinned.as_ref() == Some(&next)
    }

    /// The URL as configured, with the tenant's GUID in place of a vanity domain once a token
    /// names it.
    async fn configured_url(&self) -> String {
        let Some(vanity) = &self.vanity else {
            return self.invoke_url.clone();
        };
        if let Some((url, _)) = self.resolved.get() {
            return url.clone();
        }
        // Without a token yet, the configured URL; the call itself reports a sign-in failure.
        let Ok(token) = self.tokens.token().await else {
            return self.invoke_url.clone();
        };
        let Some(tid) = token.tenant_id else {
            return self.invoke_url.clone();
        };
        let segment = format!("/{vanity}/");
        let url = self.invoke_url.replacen(&segment, &format!("/{tid}/"), 1);
        let anchor = format!("APP:{APP_ANCHOR_MAILBOX}@{tid}");
        self.resolved.get_or_init(|| (url, anchor)).0.clone()
    }

    /// The app routing hint: the tenant's GUID in place of a vanity domain once known.
    fn app_anchor(&self) -> &str {
        self.resolved
            .get()
            .map_or(&self.anchor, |(_, anchor)| anchor)
    }

    /// Sets the page size (`Prefer: odata.maxpagesize`, 1 to 5000).
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = size.clamp(1, 5000);
        self
    }

    /// Writes every request and its answer to `trace`.
    pub fn with_trace(mut self, trace: Arc<crate::trace::Trace>) -> Self {
        self.trace = Some(trace);
        self
    }

    /// Sets the key SecureString parameters are encrypted with (Microsoft's, as the module
    /// ships it, unless set).
    pub fn with_public_key(mut self, key: Arc<PublicKey>) -> Self {
        self.public_key = key;
        self
    }

    /// Runs a cmdlet and returns every object it emitted, following `@odata.nextLink` to the
    /// end. Without the cmdlet's documentation, its values are sent as written (see
    /// [`encode_params`]).
    pub async fn invoke(
        &self,
        cmdlet: &str,
        params: &Map<String, Value>,
    ) -> Result<CmdletResult, ExchangeError> {
        self.invoke_as(cmdlet, None, params, false).await
    }

    /// [`Client::invoke`] with the cmdlet as the catalog documents it (`spec`), so that each
    /// value is sent as its documented type asks, for a call that may be sent twice without
    /// harm (`idempotent`): a write whose answer was lost is then sent again rather than
    /// reported unconfirmed.
    pub async fn invoke_as(
        &self,
        cmdlet: &str,
        spec: Option<&Cmdlet>,
        params: &Map<String, Value>,
        idempotent: bool,
    ) -> Result<CmdletResult, ExchangeError> {
        let call = self.prepare(cmdlet, spec, params, idempotent)?;
        let mut result = CmdletResult::default();
        self.pages(&call, First::Send(Attempts::default()), &mut result)
            .await?;
        Ok(result)
    }

    /// A call ready to send: its body, encoded and encrypted once (every page and retry
    /// re-sends the same body), and whether it may be sent again when its answer was lost.
    fn prepare<'c>(
        &self,
        cmdlet: &'c str,
        spec: Option<&Cmdlet>,
        params: &Map<String, Value>,
        idempotent: bool,
    ) -> Result<Prepared<'c>, ExchangeError> {
        let params = encode_cmdlet_params(cmdlet, spec, params, &self.public_key)?;
        Ok(Prepared {
            cmdlet,
            body: json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}}),
            resend: self.may_resend(cmdlet, idempotent),
        })
    }

    /// Runs a prepared call from its first page (`first`: to send, or already answered in a
    /// batch) to its last, gathering every page into `result`.
    async fn pages(
        &self,
        call: &Prepared<'_>,
        first: First,
        result: &mut CmdletResult,
    ) -> Result<(), ExchangeError> {
        let mut url = self.first_url().await;
        let mut seen = std::collections::HashSet::new();
        let mut next = first;
        loop {
            let page = match std::mem::replace(&mut next, First::Send(Attempts::default())) {
                First::Page(page) => page,
                First::Send(mut attempts) => {
                    self.send(
                        &url,
                        Sending::Cmdlet(call.cmdlet),
                        &call.body,
                        call.resend,
                        result,
                        &mut attempts,
                    )
                    .await?
                }
            };
            if let Some(Value::Array(errors)) = page.get("@adminapi.errors") {
                result.errors.extend(
                    errors
                        .iter()
                        .map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_string)),
                );
            }
            if let Some(message) = page
                .get("@adminapi.confirmationmessage")
                .and_then(Value::as_str)
            {
                result.confirmation = Some(message.to_string());
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
                Some(link) => {
                    require_https(link)?;
                    // The token goes with every page: only to where the calls go.
                    if !self.on_our_host(link) {
                        return Err(ExchangeError::Unexpected {
                            status: 200,
                            body: format!(
                                "the next page is on another host ({link}); not following it"
                            ),
                        });
                    }
                    if !seen.insert(link.to_string()) || seen.len() > MAX_PAGES {
                        return Err(ExchangeError::Unexpected {
                            status: 200,
                            body: format!(
                                "paging does not end (link repeated or over {MAX_PAGES} pages)"
                            ),
                        });
                    }
                    url = redirect::normalized(link);
                }
                None => return Ok(()),
            }
        }
    }
}

/// A call ready to send (see [`Client::prepare`]).
struct Prepared<'c> {
    cmdlet: &'c str,
    body: Value,
    resend: bool,
}

/// How a call's first page is had.
enum First {
    /// Sent now, with the attempts already made counted against the retry policy.
    Send(Attempts),
    /// Already answered, in a batch.
    Page(Value),
}

#[cfg(test)]
mod tests {
    use super::is_vanity;

    #[test]
    fn only_custom_domains_are_vanity() {
        for vanity in ["contoso.com", "mail.fabrikam.co.uk"] {
            assert!(is_vanity(vanity), "{vanity}");
        }
        for not in [
            "contoso.onmicrosoft.com",
            "contoso.onmicrosoft.us",
            "contoso.partner.onmschina.cn",
            "c51e9974-ce49-4ff2-85f1-95b71439e285",
            "contoso",
        ] {
            assert!(!is_vanity(not), "{not}");
        }
    }
}
