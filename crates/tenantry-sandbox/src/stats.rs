//! What the sandbox served, so tests assert behaviour instead of trusting the client: per
//! tenant the peak concurrency, requests by cmdlet and status, tokens issued, faults injected,
//! and the ordered log of writes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A snapshot of the sandbox's counters (`GET /sandbox/stats`).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Stats {
    /// Milliseconds since the sandbox started.
    pub uptime_ms: u64,
    /// Per tenant, keyed by initial domain.
    pub tenants: BTreeMap<String, TenantStats>,
    /// Every write cmdlet that ran, in the order it ran (the first million), including calls
    /// that only asked what they would do ([`WriteRecord::what_if`]).
    pub writes: Vec<WriteRecord>,
    /// Writes that ran after the log was full, so are counted here only.
    pub writes_not_logged: u64,
}

impl Stats {
    /// The counters of a tenant, by domain; empty counters for an unknown one.
    pub fn tenant(&self, domain: &str) -> TenantStats {
        self.tenants.get(domain).cloned().unwrap_or_default()
    }

    /// Admin API HTTP requests over all tenants, a `$batch` counting as one.
    pub fn http_requests(&self) -> u64 {
        self.tenants.values().map(|t| t.http_requests).sum()
    }

    /// Items answered inside `$batch` requests, over all tenants.
    pub fn batch_items(&self) -> u64 {
        self.tenants.values().map(|t| t.batch_items).sum()
    }

    /// Admin API responses with this status (`"200"`, `"429"`, `"drop"`), over all tenants.
    pub fn responses(&self, status: &str) -> u64 {
        self.tenants
            .values()
            .map(|t| t.statuses.get(status).copied().unwrap_or(0))
            .sum()
    }
}

/// One tenant's counters.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TenantStats {
    /// The tenant GUID.
    pub id: String,
    /// The concurrency limit in force.
    pub limit: usize,
    /// The most slots of the limit in use at once, counting requests refused for exceeding
    /// it: a client that respects the limit keeps this at or below it. A request takes one
    /// slot; a `$batch` one, or one per item under `batch_connections: items`.
    pub peak_concurrency: usize,
    /// Slots in use now.
    pub in_flight: usize,
    /// Responses by cmdlet, then by status (`"200"`, `"400"`, `"429"`, `"drop"`, …);
    /// `"aborted"` counts requests the client gave up on before the answer. A `$batch` counts
    /// its own response under `"$batch"` and each item's under the item's cmdlet.
    pub requests: BTreeMap<String, BTreeMap<String, u64>>,
    /// Responses by status, all cmdlets together (batch items included, as in `requests`).
    pub statuses: BTreeMap<String, u64>,
    /// Admin API HTTP requests that named this tenant, each counted once however it was
    /// answered: a `$batch` is one request, whatever it holds.
    #[serde(default)]
    pub http_requests: u64,
    /// Of those, `$batch` requests.
    #[serde(default)]
    pub batches: u64,
    /// Items of `$batch` requests answered inside their batch: run, refused alone or struck
    /// by a fault alone. A batch refused whole (over the limit, say) counts none.
    #[serde(default)]
    pub batch_items: u64,
    /// Requests refused with 429 because the concurrency limit or the rate was exceeded.
    pub throttled: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Access tokens issued, by grant (`client_secret`, `certificate`, `device_code`, …).
    pub tokens_issued: BTreeMap<String, u64>,
    /// Token requests refused, by OAuth2 error.
    pub token_errors: BTreeMap<String, u64>,
    /// Admin API requests refused with 401, by reason.
    pub unauthorized: BTreeMap<String, u64>,
    /// Admin API responses sent gzip-compressed.
    #[serde(default)]
    pub compressed: u64,
    /// Error responses labelled `Content-Encoding: gzip` whose body is plain
    /// (`compression: mislabelled_errors`).
    #[serde(default)]
    pub mislabelled: u64,
    /// Admin API calls the front door answered with a redirect.
    #[serde(default)]
    pub redirected: u64,
    /// Admin API calls that reached the regional listener under its own address.
    #[serde(default)]
    pub regional: u64,
    /// Regional calls that returned the affinity cookie the regional listener set.
    #[serde(default)]
    pub affinity: u64,
    /// Requests that reached the regional listener under a foreign host name (`localhost`),
    /// where no client should follow a redirect.
    #[serde(default)]
    pub foreign: u64,
    /// Of those, the ones that carried a token.
    #[serde(default)]
    pub foreign_tokens: u64,
    /// Pages answered to a GET of their `@odata.nextLink` (rather than a re-POST of the body).
    #[serde(default)]
    pub pages_by_get: u64,
    /// SecureString parameters decrypted with the sandbox's key (an empty one needs none).
    #[serde(default)]
    pub secure_strings: u64,
    /// The SHA-256 (hex) of the text of the last SecureString decrypted, so a test can tell the
    /// right secret arrived; the text itself is never kept.
    #[serde(default)]
    pub last_secure_string_sha256: Option<String>,
    /// Set- and New- calls that answered success without keeping the values of the properties
    /// the tenant's `unapplied` behaviour names; the write log names them per call
    /// ([`WriteRecord::unapplied`]).
    #[serde(default)]
    pub unapplied: u64,
}

impl TenantStats {
    /// All access tokens issued, whatever the grant.
    pub fn tokens(&self) -> u64 {
        self.tokens_issued.values().sum()
    }

    /// Responses with a status, all cmdlets together.
    pub fn status(&self, status: &str) -> u64 {
        self.statuses.get(status).copied().unwrap_or(0)
    }
}

/// One write cmdlet the sandbox ran.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct WriteRecord {
    /// Position in the log, from 1.
    pub seq: u64,
    /// Milliseconds since the sandbox started.
    pub at_ms: u64,
    /// The tenant's initial domain.
    pub tenant: String,
    /// The cmdlet, as the directory knows it.
    pub cmdlet: String,
    /// The parameters as sent.
    pub parameters: Value,
    /// The HTTP status answered.
    pub status: u16,
    /// Whether the directory changed.
    pub changed: bool,
    /// The exception class, when the cmdlet failed.
    pub error: Option<String>,
    /// The caller's `client-request-id`, when it sent one.
    pub client_request_id: Option<String>,
    /// The call carried `WhatIf: true` or `Confirm: true`: the service only described what it
    /// would do (`@adminapi.confirmationmessage`) and wrote nothing, so it is no write.
    #[serde(default)]
    pub what_if: bool,
    /// The parameters the call set that the tenant accepted without keeping (its `unapplied`
    /// behaviour), as sent, whether or not they differed from the stored values; the answer
    /// was a success all the same.
    #[serde(default)]
    pub unapplied: Vec<String>,
}
