//! Compact JSON Web Tokens signed with RSA (RS256 and PS256): the access tokens the sandbox
//! issues and the client assertions that prove an app holds its certificate's key.
//!
//! Only what OAuth2 with Microsoft Entra ID needs is here; there is no `none` algorithm and no
//! symmetric key, so a token cannot be accepted without an RSA signature.
//!
//! Signing and verifying call the `rsa` crate directly rather than going through
//! `jsonwebtoken` (12, `rust_crypto` backend), which was weighed and set aside: its RSA code is
//! the same `rsa` 0.10 called the same way, so it would add no cryptography of its own; its
//! `rust_crypto` feature also builds Ed25519, P-256, P-384 and HMAC, none of which this needs;
//! it takes keys as PKCS#1 DER and re-parses the private key on every signature, where the
//! sandbox and the tests sign constantly; and its process-wide crypto provider is picked from
//! crate features, so another crate enabling `aws_lc_rs` would leave it without one at run
//! time. Parsing must stay here in any case: the sandbox reads tokens it then refuses (a
//! wrong `alg`, `none`, a tampered body), and assertions carry headers (`x5t`) of their own.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::{PrivateKey, PublicKey};
use serde_json::{Map, Value};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Why a token or key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    /// Not three base64url parts of JSON.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// An algorithm other than RS256 or PS256.
    #[error("the signing algorithm '{0}' is not accepted (RS256 or PS256)")]
    Algorithm(String),
    /// The signature does not match the key.
    #[error("the signature does not verify")]
    Signature,
    /// A PEM key or certificate could not be read.
    #[error("{0}")]
    Key(String),
}

/// RSA signature schemes for JWTs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
}

impl Algorithm {
    /// The `alg` header value.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
        }
    }

    fn from_name(name: &str) -> Result<Self, JwtError> {
        match name {
            "RS256" => Ok(Algorithm::Rs256),
            "PS256" => Ok(Algorithm::Ps256),
            other => Err(JwtError::Algorithm(other.chars().take(32).collect())),
        }
    }
}

/// A token split into its parts, not yet verified.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The decoded header.
    pub header: Map<String, Value>,
    /// The decoded claims.
    pub claims: Map<String, Value>,
    signing_input: String,
    signature: Vec<u8>,
}

impl Parsed {
    /// The `alg` of the header, if it is one this module verifies.
    pub fn algorithm(&self) -> Result<Algorithm, JwtError> {
        let alg = self.header.get("alg").and_then(Value::as_str).unwrap_or("");
        Algorithm::from_name(alg)
    }

    /// Checks the signature with `key`, under the algorithm the header names.
    pub fn verify(&self, key: &PublicKey) -> Result<(), JwtError> {
        let input = self.signing_input.as_bytes();
        match self.algorithm()? {
            Algorithm::Rs256 => {
                let sig = rsa::pkcs1v15::Signature::try_from(self.signature.as_slice())
                    .map_err(|_| JwtError::Signature)?;
                rsa::pkcs1v15::VerifyingKey::<Sha256>::new(key.clone())
                    .verify(input, &sig)
                    .map_err(|_| JwtError::Signature)
            }
            Algorithm::Ps256 => {
                let sig = rsa::pss::Signature::try_from(self.signature.as_slice())
                    .map_err(|_| JwtError::Signature)?;
                rsa::pss::VerifyingKey::<Sha256>::new(key.clone())
                    .verify(input, &sig)
                    .map_err(|_| JwtError::Signature)
            }
        }
    }

    /// A string claim.
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// A numeric claim (seconds since the epoch for `exp`, `nbf`, `iat`).
    pub fn claim_i64(&self, name: &str) -> Option<i64> {
        let v = self.claims.get(name)?;
        v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
    }
}

/// Splits and decodes a compact JWT without checking its signature.
pub fn parse(token: &str) -> Result<Parsed, JwtError> {
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed(
            "a JWT has three parts separated by '.'",
        ));
    };
    let decode_json = |part: &str, what: &'static str| -> Result<Map<String, Value>, JwtError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::Malformed(what))?;
        match serde_json::from_slice(&bytes) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(JwtError::Malformed(what)),
        }
    };
    let header = decode_json(h, "the header is not base64url JSON")?;
    let claims = decode_json(c, "the claims are not base64url JSON")?;
    let signature = URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| JwtError::Malformed("the signature is not base64url"))?;
    Ok(Parsed {
        header,
        claims,
        signing_input: format!("{h}.{c}"),
        signature,
    })
}

/// Signs `claims` with `key`, adding `alg` and `typ` to `header`.
pub fn sign(
    mut header: Map<String, Value>,
    claims: &Map<String, Value>,
    algorithm: Algorithm,
    key: &PrivateKey,
) -> Result<String, JwtError> {
    header.insert("alg".into(), algorithm.name().into());
    header.insert("typ".into(), "JWT".into());
    let encode = |map: &Map<String, Value>| -> Result<String, JwtError> {
        let json = serde_json::to_vec(map).map_err(|e| JwtError::Key(e.to_string()))?;
        Ok(URL_SAFE_NO_PAD.encode(json))
    };
    let input = format!("{}.{}", encode(&header)?, encode(claims)?);
    let signature = match algorithm {
        Algorithm::Rs256 => rsa::pkcs1v15::SigningKey::<Sha256>::new(key.clone())
            .try_sign(input.as_bytes())
            .map_err(|e| JwtError::Key(e.to_string()))?
            .to_vec(),
        Algorithm::Ps256 => rsa::pss::SigningKey::<Sha256>::new(key.clone())
            .try_sign(input.as_bytes())
            .map_err(|e| JwtError::Key(e.to_string()))?
            .to_vec(),
    };
    Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

/// An X.509 certificate read from PEM: its public key, thumbprints and validity.
#[derive(Clone, Debug)]
pub struct Certificate {
    /// The subject's RSA public key.
    pub public_key: PublicKey,
    /// SHA-1 of the DER certificate, base64url: the `x5t` header of assertions.
    pub x5t: String,
    /// SHA-256 of the DER certificate, base64url: the `x5t#S256` header.
    pub x5t_s256: String,
    /// SHA-1 thumbprint in upper-case hex, as Windows and Entra show it.
    pub thumbprint: String,
    /// Valid from, in seconds since the epoch.
    pub not_before: i64,
    /// Valid until, in seconds since the epoch.
    pub not_after: i64,
    /// The subject, as text.
    pub subject: String,
}

impl Certificate {
    /// Reads the first certificate of a PEM text.
    pub fn from_pem(pem: &str) -> Result<Self, JwtError> {
        use x509_cert::der::{Decode, DecodePem, Encode};
        let cert = x509_cert::Certificate::from_pem(pem.as_bytes())
            .map_err(|e| JwtError::Key(format!("not a PEM certificate: {e}")))?;
        let der = cert
            .to_der()
            .map_err(|e| JwtError::Key(format!("certificate cannot be encoded: {e}")))?;
        // Round-trip guard: the DER we hash must be the certificate we parsed.
        x509_cert::Certificate::from_der(&der)
            .map_err(|e| JwtError::Key(format!("certificate is not valid DER: {e}")))?;
        let tbs = cert.tbs_certificate();
        let spki = tbs
            .subject_public_key_info()
            .to_der()
            .map_err(|e| JwtError::Key(format!("certificate key cannot be read: {e}")))?;
        let public_key = PublicKey::from_public_key_der(&spki)
            .map_err(|e| JwtError::Key(format!("the certificate's key is not RSA: {e}")))?;
        let sha1 = Sha1::digest(&der);
        let validity = tbs.validity();
        let secs = |t: &x509_cert::time::Time| t.to_unix_duration().as_secs() as i64;
        Ok(Certificate {
            public_key,
            x5t: URL_SAFE_NO_PAD.encode(sha1),
            x5t_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(&der)),
            thumbprint: sha1.iter().map(|b| format!("{b:02X}")).collect(),
            not_before: secs(&validity.not_before),
            not_after: secs(&validity.not_after),
            subject: tbs.subject().to_string(),
        })
    }
}

/// Reads an RSA private key from PEM (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`).
pub fn private_key_from_pem(pem: &str) -> Result<PrivateKey, JwtError> {
    if let Ok(key) = PrivateKey::from_pkcs8_pem(pem) {
        return Ok(key);
    }
    use rsa::pkcs1::DecodeRsaPrivateKey;
    PrivateKey::from_pkcs1_pem(pem).map_err(|_| {
        JwtError::Key("not an unencrypted RSA private key in PEM (PKCS#8 or PKCS#1)".into())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = include_str!("../../tenantry-sandbox/src/keys/app.key");
    const CERT: &str = include_str!("../../tenantry-sandbox/src/keys/app.crt");
    const OTHER_CERT: &str = include_str!("../../../tests/fixtures/other.crt");

    fn claims() -> Map<String, Value> {
        json!({"aud": "x", "exp": 2_000_000_000})
            .as_object()
            .cloned()
            .unwrap_or_default()
    }

    #[test]
    fn a_signature_verifies_only_with_the_matching_certificate() {
        let key = private_key_from_pem(KEY).unwrap();
        let cert = Certificate::from_pem(CERT).unwrap();
        let other = Certificate::from_pem(OTHER_CERT).unwrap();
        for alg in [Algorithm::Rs256, Algorithm::Ps256] {
            let token = sign(Map::new(), &claims(), alg, &key).unwrap();
            let parsed = parse(&token).unwrap();
            assert_eq!(parsed.algorithm().unwrap(), alg);
            assert_eq!(parsed.claim_i64("exp"), Some(2_000_000_000));
            parsed.verify(&cert.public_key).unwrap();
            assert_eq!(parsed.verify(&other.public_key), Err(JwtError::Signature));
        }
    }

    #[test]
    fn tampered_and_unsigned_tokens_are_refused() {
        let key = private_key_from_pem(KEY).unwrap();
        let cert = Certificate::from_pem(CERT).unwrap();
        let token = sign(Map::new(), &claims(), Algorithm::Rs256, &key).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"aud":"y","exp":2000000000}"#);
        parts[1] = &forged;
        let forged_token = parts.join(".");
        assert_eq!(
            parse(&forged_token).unwrap().verify(&cert.public_key),
            Err(JwtError::Signature)
        );
        let none = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(br#"{"aud":"y"}"#)
        );
        assert!(matches!(
            parse(&none).unwrap().verify(&cert.public_key),
            Err(JwtError::Algorithm(_))
        ));
        assert!(parse("a.b").is_err());
        assert!(parse("!!.??.**").is_err());
    }

    #[test]
    fn certificate_thumbprints_match_openssl() {
        let cert = Certificate::from_pem(CERT).unwrap();
        // `openssl x509 -in crates/tenantry-sandbox/src/keys/app.crt -noout -fingerprint -sha1`
        assert_eq!(cert.thumbprint, "7CB78BC41E9DDE11996A9A01D7DFFF7D8EE4D105");
        assert_eq!(cert.x5t.len(), 27);
        assert!(cert.not_after > cert.not_before);
        assert!(cert.subject.contains("tenantry sandbox app"));
    }
}
