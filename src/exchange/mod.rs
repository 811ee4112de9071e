//! The Exchange Online admin API client: InvokeCommand requests built as the
//! ExchangeOnlineManagement V3 module builds them, paging to the end, warnings kept, cmdlet
//! errors parsed, and transient failures retried.
//!
//! Retries: 429, 503, 504 and connection failures are retried, waiting `Retry-After` when the
//! service sends it and exponential backoff with jitter otherwise; a 401 renews the token once
//! and retries; a cmdlet error is final (a step's own `retries` decide whether to try again).

mod error;
mod params;
mod retry;
mod transport;

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::auth::TokenProvider;
use crate::cloud::require_https;

pub use error::{CmdletError, ExchangeError, parse_cmdlet_error};
pub use params::encode_params;
pub use retry::{RetryPolicy, Throttle};
pub use transport::{
    http_client, http_client_via, install_tls_provider, proxy_in_use, redact_password,
};
use transport::{origin, uuid_like};

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
}
