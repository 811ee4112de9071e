//! `@odata.nextLink` page tokens: the offset of the next page, sealed with an HMAC so that a
//! token cannot be altered, moved to another tenant or replayed with another request body, and
//! expiring after ten minutes. Nothing is stored between pages, so the same link always gives
//! the same page and a client can retry it.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use super::clock::now_secs;

/// How long a page token stays valid, in seconds.
const LIFETIME: i64 = 600;

/// Seals and opens page tokens with a key of its own.
pub(crate) struct PageTokens {
    key: [u8; 32],
}

impl PageTokens {
    /// Tokens under a key drawn from `seed`, which should differ between processes.
    pub(crate) fn new(rng: &mut super::rng::Rng) -> Self {
        let mut key = [0u8; 32];
        for chunk in key.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next_u64().to_le_bytes());
        }
        PageTokens { key }
    }

    /// A token for the page starting at `offset` of the request whose body hashes to `request`.
    pub(crate) fn seal(&self, tenant: &str, request: &[u8; 32], offset: usize) -> String {
        let expires = now_secs() + LIFETIME;
        let mac = self.mac(tenant, request, offset, expires);
        format!("{offset}.{expires}.{}", URL_SAFE_NO_PAD.encode(&mac[..18]))
    }

    /// The offset a token names, if it is genuine, unexpired and for this tenant and request.
    pub(crate) fn open(&self, token: &str, tenant: &str, request: &[u8; 32]) -> Option<usize> {
        let mut parts = token.split('.');
        let offset: usize = parts.next()?.parse().ok()?;
        let expires: i64 = parts.next()?.parse().ok()?;
        let mac = URL_SAFE_NO_PAD.decode(parts.next()?).ok()?;
        if parts.next().is_some() || mac.len() != 18 || expires < now_secs() {
            return None;
        }
        let expected = self.mac(tenant, request, offset, expires);
        // Compare every byte, whatever the first difference, as MACs should be compared.
        let same = mac
            .iter()
            .zip(&expected[..18])
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
        same.then_some(offset)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_only_for_its_tenant_and_request_and_unaltered() {
        let tokens = PageTokens::new(&mut super::super::rng::Rng::new(9));
        let request = [7u8; 32];
        let token = tokens.seal("contoso.onmicrosoft.com", &request, 1000);
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
}
