//! `@odata.nextLink` page tokens: the offset of the next page, sealed with an HMAC so that a
//! token cannot be altered, moved to another tenant or replayed with another request, and
//! expiring after ten minutes.
//!
//! A link is followed in two ways, and both are accepted. The module re-POSTs the first page's
//! body: the token is checked against that body, so nothing need be kept between pages.
//! go-exoscc GETs the link with no body: the token names its request, which is kept for the
//! link's lifetime (a bounded number, oldest dropped first). Either way the same link gives
//! the same page, so a client can retry it.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::clock::now_secs;
use super::lock;

/// How long a page token stays valid, in seconds.
const LIFETIME: i64 = 600;
/// Bytes of the request hash a token carries to name its request.
const ID_BYTES: usize = 12;
/// Requests kept for links followed by GET, at most.
const MAX_KEPT: usize = 4096;
/// Their bodies' total size, at most: a client paging many large requests at once loses the
/// oldest links' GET (a re-POST still works), rather than the sandbox growing without bound.
const MAX_KEPT_BYTES: usize = 64 << 20;

/// Seals and opens page tokens with a key of its own, and keeps the requests that links
/// followed by GET need.
pub(crate) struct PageTokens {
    key: [u8; 32],
    kept: Mutex<Kept>,
}

/// The requests of live page links, oldest first.
#[derive(Default)]
struct Kept {
    by_id: HashMap<String, Request>,
    order: VecDeque<String>,
    bytes: usize,
}

/// A request a page link names.
struct Request {
    hash: [u8; 32],
    body: Value,
    size: usize,
    expires: i64,
}

/// A token's fields.
struct Fields<'t> {
    offset: usize,
    expires: i64,
    id: &'t str,
    mac: Vec<u8>,
}

impl PageTokens {
    /// Tokens under a key drawn from `seed`, which should differ between processes.
    pub(crate) fn new(rng: &mut super::rng::Rng) -> Self {
        let mut key = [0u8; 32];
        for chunk in key.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        PageTokens {
            key,
            kept: Mutex::new(Kept::default()),
        }
    }

    /// A token for the page starting at `offset` of the request whose body hashes to `request`;
    /// `body` gives that body (`{"CmdletInput": …}`), kept for a GET of the link.
    pub(crate) fn seal(
        &self,
        tenant: &str,
        request: &[u8; 32],
        offset: usize,
        body: impl FnOnce() -> Value,
    ) -> String {
        let expires = now_secs() + LIFETIME;
        let mac = self.mac(tenant, request, offset, expires);
        let id = URL_SAFE_NO_PAD.encode(&request[..ID_BYTES]);
        self.keep(tenant, &id, request, expires, body);
        format!(
            "{offset}.{expires}.{id}.{}",
            URL_SAFE_NO_PAD.encode(&mac[..18])
        )
    }

    /// The offset a token names, if it is genuine, unexpired and for this tenant and request.
    pub(crate) fn open(&self, token: &str, tenant: &str, request: &[u8; 32]) -> Option<usize> {
        let fields = parse(token)?;
        if fields.id != URL_SAFE_NO_PAD.encode(&request[..ID_BYTES]) {
            return None;
        }
        self.genuine(&fields, tenant, request)
            .then_some(fields.offset)
    }

    /// The body of the request a genuine, unexpired token of this tenant names, for a link
    /// followed by GET; `None` when the token is not, or its request is no longer kept.
    pub(crate) fn recall(&self, token: &str, tenant: &str) -> Option<Value> {
        let fields = parse(token)?;
        let kept = lock(&self.kept);
        let request = kept.by_id.get(&kept_key(tenant, fields.id))?;
        self.genuine(&fields, tenant, &request.hash)
            .then(|| request.body.clone())
    }

    /// Keeps a request for its links' lifetime, dropping the oldest past the bounds.
    fn keep(
        &self,
        tenant: &str,
        id: &str,
        request: &[u8; 32],
        expires: i64,
        body: impl FnOnce() -> Value,
    ) {
        let key = kept_key(tenant, id);
        let mut kept = lock(&self.kept);
        if let Some(known) = kept.by_id.get_mut(&key) {
            // A later page of a request already kept: it lives as long as its newest link.
            known.expires = expires;
            return;
        }
        let body = body();
        let size = body.to_string().len();
        let now = now_secs();
        while let Some(oldest) = kept.order.front() {
            let stale = kept.by_id.get(oldest).is_none_or(|r| r.expires < now);
            if !stale && kept.order.len() < MAX_KEPT && kept.bytes + size <= MAX_KEPT_BYTES {
                break;
            }
            if let Some(oldest) = kept.order.pop_front()
                && let Some(dropped) = kept.by_id.remove(&oldest)
            {
                kept.bytes -= dropped.size;
            }
        }
        if size > MAX_KEPT_BYTES {
            return;
        }
        kept.bytes += size;
        kept.order.push_back(key.clone());
        kept.by_id.insert(
            key,
            Request {
                hash: *request,
                body,
                size,
                expires,
            },
        );
    }

    /// Whether a token's MAC is right for this tenant and request, and it has not expired.
    fn genuine(&self, fields: &Fields<'_>, tenant: &str, request: &[u8; 32]) -> bool {
        if fields.expires < now_secs() {
            return false;
        }
        let expected = self.mac(tenant, request, fields.offset, fields.expires);
        // Compare every byte, whatever the first difference, as MACs should be compared.
        fields
            .mac
            .iter()
            .zip(&expected[..18])
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }

    /// HMAC-SHA256 (RFC 2104) of the token's fields.
    fn mac(&self, tenant: &str, request: &[u8; 32], offset: usize, expires: i64) -> [u8; 32] {
        let mut block = [0u8; 64];
        block[..32].copy_from_slice(&self.key);
        let mut inner = Sha256::new();
        inner.update(block.map(|b| b ^ 0x36));
        inner.update(tenant.as_bytes());
        inner.update([0]);
        inner.update(request);
        inner.update(offset.to_le_bytes());
        inner.update(expires.to_le_bytes());
        let mut outer = Sha256::new();
        outer.update(block.map(|b| b ^ 0x5c));
        outer.update(inner.finalize());
        outer.finalize().into()
    }
}

/// A token's fields, `offset.expires.id.mac`, if it has that shape.
fn parse(token: &str) -> Option<Fields<'_>> {
    let mut parts = token.split('.');
    let offset = parts.next()?.parse().ok()?;
    let expires = parts.next()?.parse().ok()?;
    let id = parts.next()?;
    let mac = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
    (parts.next().is_none() && mac.len() == 18).then_some(Fields {
        offset,
        expires,
        id,
        mac,
    })
}

/// Where a tenant's request is kept.
fn kept_key(tenant: &str, id: &str) -> String {
    format!("{tenant}\n{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body() -> Value {
        json!({"CmdletInput": {"CmdletName": "Get-Mailbox", "Parameters": {"ResultSize": "Unlimited"}}})
    }

    #[test]
    fn a_token_opens_only_for_its_tenant_and_request_and_unaltered() {
        let tokens = PageTokens::new(&mut super::super::rng::Rng::new(9));
        let request = [7u8; 32];
        let token = tokens.seal("contoso.onmicrosoft.com", &request, 1000, body);
        assert_eq!(
            tokens.open(&token, "contoso.onmicrosoft.com", &request),
            Some(1000)
        );
        assert_eq!(
            tokens.open(&token, "fabrikam.onmicrosoft.com", &request),
            None
        );
        assert_eq!(
            tokens.open(&token, "contoso.onmicrosoft.com", &[8u8; 32]),
            None
        );
        let moved = token.replacen("1000", "2000", 1);
        assert_eq!(
            tokens.open(&moved, "contoso.onmicrosoft.com", &request),
            None
        );
        assert_eq!(
            tokens.open("garbage", "contoso.onmicrosoft.com", &request),
            None
        );
        let other = PageTokens::new(&mut super::super::rng::Rng::new(10));
        assert_eq!(
            other.open(&token, "contoso.onmicrosoft.com", &request),
            None
        );
    }

    #[test]
    fn a_token_recalls_its_request_for_its_tenant_only() {
        let tokens = PageTokens::new(&mut super::super::rng::Rng::new(9));
        let request = [7u8; 32];
        let token = tokens.seal("contoso.onmicrosoft.com", &request, 10, body);
        assert_eq!(
            tokens.recall(&token, "contoso.onmicrosoft.com"),
            Some(body())
        );
        assert_eq!(tokens.recall(&token, "fabrikam.onmicrosoft.com"), None);
        assert_eq!(
            tokens.recall(&token.replacen("10", "20", 1), "contoso.onmicrosoft.com"),
            None,
            "an altered offset"
        );
        assert_eq!(tokens.recall("1.2.3", "contoso.onmicrosoft.com"), None);
        // A later page of the same request keeps one copy of it.
        let later = tokens.seal("contoso.onmicrosoft.com", &request, 20, || {
            unreachable!("already kept")
        });
        assert_eq!(
            tokens.recall(&later, "contoso.onmicrosoft.com"),
            Some(body())
        );
        assert_eq!(lock(&tokens.kept).order.len(), 1);
    }

    #[test]
    fn kept_requests_are_bounded_oldest_dropped_first() {
        let tokens = PageTokens::new(&mut super::super::rng::Rng::new(9));
        let mut first = None;
        for n in 0..=MAX_KEPT {
            let mut request = [0u8; 32];
            request[..8].copy_from_slice(&(n as u64).to_le_bytes());
            let token = tokens.seal("contoso.onmicrosoft.com", &request, 1, body);
            first.get_or_insert((token, request));
        }
        assert_eq!(lock(&tokens.kept).order.len(), MAX_KEPT);
        let (token, request) = first.unwrap();
        assert_eq!(tokens.recall(&token, "contoso.onmicrosoft.com"), None);
        // Its link still opens with the body re-POSTed.
        assert_eq!(
            tokens.open(&token, "contoso.onmicrosoft.com", &request),
            Some(1)
        );
    }
}
