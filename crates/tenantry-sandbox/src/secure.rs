//! SecureString parameters as the service receives them: base64 of RSA PKCS#1 v1.5 encryption
//! of the UTF-8 text under the service's public key. The sandbox has a key pair of its own
//! ([`SECURE_STRING_PUBLIC_KEY`]), decrypts the SecureString parameters of the cmdlets it
//! implements, and keeps of each secret only a SHA-256, never the text.

use std::convert::Infallible;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::cmdlets::CmdletError;

/// The public key clients encrypt the sandbox's SecureString parameters with (PEM,
/// SubjectPublicKeyInfo). Public test material, served at `GET /sandbox/public-key`: it
/// protects nothing but the sandbox.
pub const SECURE_STRING_PUBLIC_KEY: &str = include_str!("keys/securestring.pub");

/// The private key of [`SECURE_STRING_PUBLIC_KEY`] (PKCS#8 PEM). Public test material, like
/// the sample app's key: never use it elsewhere.
pub const SECURE_STRING_PRIVATE_KEY: &str = include_str!("keys/securestring.key");

/// The SecureString parameters of the cmdlets the sandbox implements, as Microsoft's cmdlet
/// reference types them (MicrosoftDocs/office-docs-powershell, CC BY 4.0).
const SECURE_PARAMETERS: &[(&str, &[&str])] = &[
    ("New-Mailbox", &["Password", "RoomMailboxPassword"]),
    ("Set-Mailbox", &["Password", "RoomMailboxPassword"]),
];

/// Decrypts SecureString parameters with the sandbox's private key.
pub(crate) struct SecureStrings {
    key: rsa::PrivateKey,
}

impl SecureStrings {
    /// The sandbox's key pair, built in.
    pub(crate) fn new() -> Result<Self, tenantry_common::jwt::JwtError> {
        Ok(SecureStrings {
            key: tenantry_common::jwt::private_key_from_pem(SECURE_STRING_PRIVATE_KEY)?,
        })
    }

    /// The SHA-256 of each SecureString a call of `cmdlet` carries, decrypted; or the cmdlet
    /// error for one that does not decrypt with the sandbox's key. An empty string is an
    /// empty SecureString, as the module sends it: nothing to decrypt.
    pub(crate) fn open(
        &self,
        cmdlet: &str,
        params: &Map<String, Value>,
    ) -> Result<Vec<[u8; 32]>, CmdletError> {
        let Some((_, secure)) = SECURE_PARAMETERS
            .iter()
            .find(|(c, _)| c.eq_ignore_ascii_case(cmdlet))
        else {
            return Ok(Vec::new());
        };
        let mut digests = Vec::new();
        for (name, value) in params {
            let Some(param) = secure.iter().find(|p| p.eq_ignore_ascii_case(name)) else {
                continue;
            };
            let text = match value {
                Value::String(s) if s.is_empty() => continue,
                Value::Null => continue,
                Value::String(s) => self.decrypt(s),
                _ => None,
            };
            let Some(text) = text else {
                return Err(not_decrypted(param));
            };
            digests.push(Sha256::digest(&text).into());
        }
        Ok(digests)
    }

    /// The text a SecureString value holds, if it is base64 of a PKCS#1 v1.5 block under the
    /// sandbox's key and the text is UTF-8.
    ///
    /// The padding is checked here, openly, rather than by the `rsa` crate's decryption, which
    /// hides a bad padding behind a synthetic message (implicit rejection, against padding
    /// oracles): the sandbox must tell a value sealed with another key from one sealed with
    /// its own, and it guards no secret worth an oracle.
    fn decrypt(&self, value: &str) -> Option<Vec<u8>> {
        use rsa::traits::PublicKeyParts;
        let sealed = STANDARD.decode(value.trim()).ok()?;
        let k = self.key.size();
        if sealed.len() != k {
            return None;
        }
        let c = rsa::BoxedUint::from_be_slice(&sealed, self.key.n_bits_precision()).ok()?;
        let m = rsa::hazmat::rsa_decrypt_and_check(
            &self.key,
            None::<&mut dyn rsa::rand_core::TryCryptoRng<Error = Infallible>>,
            &c,
        )
        .ok()?;
        let bytes = m.to_be_bytes();
        // EM = 0x00 ‖ 0x02 ‖ PS (at least 8 non-zero bytes) ‖ 0x00 ‖ M, over the last k bytes.
        let em = bytes.get(bytes.len().checked_sub(k)?..)?;
        if bytes[..bytes.len() - k].iter().any(|&b| b != 0) || em[0] != 0 || em[1] != 2 {
            return None;
        }
        let end = em[2..].iter().position(|&b| b == 0)? + 2;
        if end < 10 {
            return None;
        }
        let text = em[end + 1..].to_vec();
        std::str::from_utf8(&text).ok()?;
        Some(text)
    }
}

/// The error a SecureString that does not decrypt gets. The wording is a guess: no public
/// source shows the service's answer to a value sealed with a retired or wrong key; this is
/// PowerShell's argument-transformation error, which the service's parameter binding gives
/// for other values it cannot convert.
fn not_decrypted(param: &str) -> CmdletError {
    CmdletError {
        status: 400,
        error_id: String::new(),
        class: "System.Management.Automation.ParameterBindingArgumentTransformationException"
            .to_string(),
        message: format!(
            "Cannot process argument transformation on parameter '{param}'. The value could not be decrypted to a System.Security.SecureString: it is not encrypted with the service's current public key."
        ),
        category: "InvalidData",
        target: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn seal(text: &str, pem: &str) -> String {
        use rsa::pkcs8::DecodePublicKey;
        let key = rsa::PublicKey::from_public_key_pem(pem).unwrap();
        STANDARD.encode(key.pkcs1v15_encrypt(text.as_bytes()).unwrap())
    }

    #[test]
    fn secure_strings_under_the_sandbox_key_decrypt_to_their_digest() {
        let secure = SecureStrings::new().unwrap();
        let params = json!({
            "Identity": "user001",
            "password": seal("Päss w0rd!", SECURE_STRING_PUBLIC_KEY),
            "RoomMailboxPassword": "",
        });
        let digests = secure
            .open("set-mailbox", params.as_object().unwrap())
            .unwrap();
        assert_eq!(
            digests,
            vec![<[u8; 32]>::from(Sha256::digest("Päss w0rd!"))]
        );
        // Another cmdlet's Password is not a SecureString the sandbox reads.
        assert!(
            secure
                .open("Set-User", params.as_object().unwrap())
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_value_sealed_with_another_key_or_not_sealed_is_refused() {
        let secure = SecureStrings::new().unwrap();
        let other_key = {
            use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey, LineEnding};
            let key = rsa::PrivateKey::from_pkcs8_pem(crate::APP_PRIVATE_KEY).unwrap();
            key.to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap()
        };
        for value in [
            json!(seal("hunter2", &other_key)),
            json!("hunter2"),
            json!(STANDARD.encode([0u8; 256])),
            json!(["a"]),
            json!(42),
        ] {
            let params = json!({"Identity": "user001", "Password": value});
            let e = secure
                .open("Set-Mailbox", params.as_object().unwrap())
                .unwrap_err();
            assert_eq!(
                e.exception_type(),
                "ParameterBindingArgumentTransformationException"
            );
            assert!(
                e.message
                    .starts_with("Cannot process argument transformation on parameter 'Password'."),
                "{}",
                e.message
            );
            assert!(!e.message.contains("hunter2"));
        }
    }
}
