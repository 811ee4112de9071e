//! SecureString and PSCredential parameters. The ExchangeOnlineManagement module sends a
//! SecureString as base64 of RSA PKCS#1 v1.5 encryption of its UTF-8 text under a public key
//! of the service's, which it ships and Microsoft rotates (an older key stays accepted for a
//! while). A PSCredential cannot be carried by the admin API at all.
//!
//! Which parameters are which comes from Microsoft's Exchange Online cmdlet reference
//! (MicrosoftDocs/office-docs-powershell, CC BY 4.0): see [`SECURE_STRING`] and
//! [`PS_CREDENTIAL`].

use std::path::Path;
use std::sync::{Arc, LazyLock};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};

use crate::catalog::{Cmdlet, Scalar};

/// The cmdlets' SecureString parameters, by cmdlet. Derived from Microsoft's Exchange Online
/// cmdlet reference (MicrosoftDocs/office-docs-powershell, commit 93336da, CC BY 4.0); the
/// Connect-* cmdlets, which never reach the admin API, are left out.
pub const SECURE_STRING: &[(&str, &[&str])] = &[
    ("Export-QuarantineMessage", &["Password"]),
    ("New-MailUser", &["Password"]),
    ("New-Mailbox", &["Password", "RoomMailboxPassword"]),
    ("New-MigrationEndpoint", &["OAuthCode"]),
    ("Set-MailUser", &["Password"]),
    ("Set-Mailbox", &["Password", "RoomMailboxPassword"]),
    ("Undo-SoftDeletedMailbox", &["Password"]),
];

/// The cmdlets' PSCredential parameters, by cmdlet, from the same reference as
/// [`SECURE_STRING`].
pub const PS_CREDENTIAL: &[(&str, &[&str])] = &[
    ("Add-AvailabilityAddressSpace", &["Credentials"]),
    ("Get-CASMailbox", &["Credential"]),
    ("Get-CASMailboxPlan", &["Credential"]),
    ("Get-DistributionGroup", &["Credential"]),
    ("Get-DistributionGroupMember", &["Credential"]),
    ("Get-DynamicDistributionGroup", &["Credential"]),
    ("Get-DynamicDistributionGroupMember", &["Credential"]),
    ("Get-MailPublicFolder", &["Credential"]),
    ("Get-MailboxAutoReplyConfiguration", &["Credential"]),
    ("Get-MailboxJunkEmailConfiguration", &["Credential"]),
    ("Get-MailboxMessageConfiguration", &["Credential"]),
    ("Get-MailboxPermission", &["Credential"]),
    ("Get-MailboxPlan", &["Credential"]),
    ("Get-TextMessagingAccount", &["Credential"]),
    ("New-MailboxRestoreRequest", &["RemoteCredential"]),
    ("New-MigrationEndpoint", &["Credentials"]),
    ("New-MoveRequest", &["RemoteCredential"]),
    ("Set-MigrationEndpoint", &["Credentials"]),
    ("Set-MoveRequest", &["RemoteCredential"]),
    ("Test-MigrationServerAvailability", &["Credentials"]),
    (
        "Update-HybridConfiguration",
        &["OnPremisesCredentials", "TenantCredentials"],
    ),
    ("Update-Recipient", &["Credential"]),
];

/// What a masked SecureString value shows instead of itself.
pub const MASK: &str = "********";

/// The parameters of `table` that `cmdlet` has (any case); empty for a cmdlet not listed.
fn listed(table: &'static [(&str, &[&str])], cmdlet: &str) -> &'static [&'static str] {
    table
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(cmdlet))
        .map_or(&[], |(_, params)| params)
}

/// The SecureString parameters of a cmdlet (any case), as the reference spells them.
pub fn secure_string_parameters(cmdlet: &str) -> &'static [&'static str] {
    listed(SECURE_STRING, cmdlet)
}

/// Whether a cmdlet's parameter (any case) is a SecureString.
pub fn is_secure_string(cmdlet: &str, param: &str) -> bool {
    secure_string_parameters(cmdlet)
        .iter()
        .any(|p| p.eq_ignore_ascii_case(param))
}

/// The cmdlet and parameter as the reference spells them, when a cmdlet's parameter (any case)
/// is a PSCredential.
pub fn ps_credential(cmdlet: &str, param: &str) -> Option<(&'static str, &'static str)> {
    let (name, params) = PS_CREDENTIAL
        .iter()
        .find(|(c, _)| c.eq_ignore_ascii_case(cmdlet))?;
    let param = params.iter().find(|p| p.eq_ignore_ascii_case(param))?;
    Some((name, param))
}

/// What to do instead of passing a PSCredential parameter.
pub fn ps_credential_advice(cmdlet: &str, param: &str) -> &'static str {
    let is = |c: &str| cmdlet.eq_ignore_ascii_case(c);
    if param.eq_ignore_ascii_case("Credential")
        && (cmdlet.to_ascii_lowercase().starts_with("get-") || is("Update-Recipient"))
    {
        "leave it out: every call already runs as the identity the tenant's `auth` signs in"
    } else if is("New-MoveRequest") || is("Set-MoveRequest") {
        "create a migration endpoint in the Exchange admin center or PowerShell (New-MigrationEndpoint), and move mailboxes with a migration batch that names it (New-MigrationBatch -SourceEndpoint)"
    } else if is("New-MigrationEndpoint")
        || is("Set-MigrationEndpoint")
        || is("Test-MigrationServerAvailability")
    {
        "create or change the migration endpoint in the Exchange admin center or PowerShell, then refer to it by name (New-MigrationBatch -SourceEndpoint)"
    } else {
        "run this cmdlet in PowerShell (Connect-ExchangeOnline), where a credential object can be passed"
    }
}

/// Whether a SecureString's value is shown in plans and reports: only the empty string, which
/// is sent as it is.
fn shown(value: &Value) -> bool {
    value.as_str().is_some_and(str::is_empty)
}

/// `params` with every SecureString value of `cmdlet` shown as [`MASK`] (an empty string
/// stays): for plans, and wherever else parameters are shown.
pub fn mask_params(cmdlet: &str, params: &mut Map<String, Value>) {
    let secure = secure_string_parameters(cmdlet);
    if secure.is_empty() {
        return;
    }
    for (name, value) in params.iter_mut() {
        if secure.iter().any(|p| p.eq_ignore_ascii_case(name)) && !shown(value) {
            *value = Value::String(MASK.to_string());
        }
    }
}

/// Whether a parameter of `cmdlet` is a SecureString: by the table of them, or by the type
/// `spec` documents for it.
fn secure(cmdlet: &str, spec: Option<&Cmdlet>, param: &str) -> bool {
    is_secure_string(cmdlet, param)
        || spec
            .and_then(|s| s.param(param))
            .is_some_and(|p| p.kind.scalar == Scalar::SecureString)
}

/// The SecureString values of a call that are secrets (non-empty text), to keep out of
/// anything shown; `spec` is the cmdlet as the catalog documents it, when known.
pub fn secret_values<'p>(
    cmdlet: &str,
    spec: Option<&Cmdlet>,
    params: &'p Map<String, Value>,
) -> Vec<&'p str> {
    params
        .iter()
        .filter(|(name, _)| secure(cmdlet, spec, name))
        .filter_map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
        .collect()
}

/// `text` with each of `secrets` replaced by [`MASK`].
pub fn redact(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .fold(text.to_string(), |text, secret| text.replace(secret, MASK))
}

/// Why a SecureString cannot be sent, or a public key not used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecureError {
    /// A SecureString parameter given a list, mapping, number or boolean.
    #[error(
        "{cmdlet} -{param} takes a SecureString: give it as a string (the secret's text), not a {kind}"
    )]
    NotText {
        /// The cmdlet.
        cmdlet: String,
        /// The parameter.
        param: String,
        /// What it was given instead.
        kind: &'static str,
    },
    /// The text is longer than the key can encrypt in one block.
    #[error(
        "{cmdlet} -{param}: the secret is {len} bytes of UTF-8, more than the {max} a {bits}-bit key can encrypt"
    )]
    TooLong {
        /// The cmdlet.
        cmdlet: String,
        /// The parameter.
        param: String,
        /// Its length in bytes.
        len: usize,
        /// The most the key takes.
        max: usize,
        /// The key's size.
        bits: usize,
    },
    /// The key file or text is not a usable RSA public key.
    #[error("{0}")]
    Key(String),
}

/// An RSA public key that SecureString parameters are encrypted with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    key: rsa::PublicKey,
}

/// The key as the ExchangeOnlineManagement module ships it (`RSAKeyValue`), published by the
/// ExoHelper project (GreyCorbel/ExoHelper, PublicKey.xml).
const MICROSOFT_KEY_XML: &str = "<RSAKeyValue><Modulus>31yPXtYRltEiVLHXaiF3nNtXPBqfNd0YNioi9HwVBOv9CPJhVpDE7sfszHZ0W9uHQP3kZE63zn8Dr/zXknMWuECGuqYOM170R1dc6FTybvkWYK4uFMuwnnNFfKYrhXTGINSfwvYglhaYuBhQIk3fn4hStf5qBA4Pt8BQyhZmMvov/gMh10yCbWDMi7MuXs7XoIBycTreQ7w2knCIrTD7sqtCzIxpowBhP0FyorIVwr+dQNSPhYfxbSlY2k2RrSmva6xgowDdzesUK1p6Y+jZ3PlSB9CuapaCDLMOGyc2tXMEtSjK+RW8k/8rtTLXaOWvMvfdMbF47S5TzkppcRhYTQ==</Modulus><Exponent>AQAB</Exponent></RSAKeyValue>";

static MICROSOFT: LazyLock<Arc<PublicKey>> = LazyLock::new(|| {
    Arc::new(PublicKey::from_xml(MICROSOFT_KEY_XML).expect("the built-in key parses"))
});

impl PublicKey {
    /// The key the ExchangeOnlineManagement module ships, for Microsoft's clouds.
    pub fn microsoft() -> Arc<PublicKey> {
        Arc::clone(&MICROSOFT)
    }

    /// A key from its text: `RSAKeyValue` XML as the module ships it, or a PEM public key
    /// (`BEGIN PUBLIC KEY`, or `BEGIN RSA PUBLIC KEY`).
    pub fn parse(text: &str) -> Result<PublicKey, SecureError> {
        let text = text.trim_start_matches('\u{feff}').trim();
        if text.starts_with('<') {
            PublicKey::from_xml(text)
        } else if text.starts_with("-----BEGIN") {
            PublicKey::from_pem(text)
        } else {
            Err(SecureError::Key(
                "not a public key: give the RSAKeyValue XML the module ships, or a PEM public key"
                    .into(),
            ))
        }
    }

    /// A key from a file holding what [`PublicKey::parse`] reads.
    pub fn from_file(path: &Path) -> Result<PublicKey, SecureError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SecureError::Key(format!("cannot read {}: {e}", path.display())))?;
        PublicKey::parse(&text).map_err(|e| SecureError::Key(format!("{}: {e}", path.display())))
    }

    /// A key from `<RSAKeyValue><Modulus>…</Modulus><Exponent>…</Exponent></RSAKeyValue>`, as
    /// .NET writes one (base64, big-endian); any private parts are ignored.
    pub fn from_xml(xml: &str) -> Result<PublicKey, SecureError> {
        let field = |name: &str| -> Result<Vec<u8>, SecureError> {
            let open = format!("<{name}>");
            let close = format!("</{name}>");
            let start = xml
                .find(&open)
                .ok_or_else(|| SecureError::Key(format!("the RSAKeyValue has no <{name}>")))?
                + open.len();
            let end = xml[start..]
                .find(&close)
                .ok_or_else(|| SecureError::Key(format!("<{name}> is not closed")))?
                + start;
            let text: String = xml[start..end]
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            STANDARD
                .decode(text)
                .map_err(|e| SecureError::Key(format!("<{name}> is not base64: {e}")))
        };
        let n = rsa::BoxedUint::from_be_slice_vartime(&field("Modulus")?);
        let e = rsa::BoxedUint::from_be_slice_vartime(&field("Exponent")?);
        let key = rsa::PublicKey::new(n, e)
            .map_err(|e| SecureError::Key(format!("not a usable RSA public key: {e}")))?;
        Ok(PublicKey { key })
    }

    /// A key from PEM: SubjectPublicKeyInfo (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA
    /// PUBLIC KEY`).
    pub fn from_pem(pem: &str) -> Result<PublicKey, SecureError> {
        use rsa::pkcs1::DecodeRsaPublicKey;
        use rsa::pkcs8::DecodePublicKey;
        let key = if pem.contains("BEGIN RSA PUBLIC KEY") {
            rsa::PublicKey::from_pkcs1_pem(pem).map_err(|e| e.to_string())
        } else {
            rsa::PublicKey::from_public_key_pem(pem).map_err(|e| e.to_string())
        }
        .map_err(|e| SecureError::Key(format!("not a PEM RSA public key: {e}")))?;
        Ok(PublicKey { key })
    }

    /// The modulus size in bits.
    pub fn bits(&self) -> usize {
        use rsa::traits::PublicKeyParts;
        self.key.n().bit_width() as usize
    }

    /// `text` encrypted as the module encrypts a SecureString: RSA PKCS#1 v1.5 of its UTF-8
    /// bytes, in base64. Each call gives another ciphertext (the padding is random).
    pub fn encrypt(&self, text: &str) -> Result<String, rsa::Error> {
        let sealed = self.key.pkcs1v15_encrypt(text.as_bytes())?;
        Ok(STANDARD.encode(sealed))
    }

    /// The longest text, in UTF-8 bytes, one encryption takes: the modulus less 11 bytes of
    /// padding.
    fn capacity(&self) -> usize {
        self.bits().div_ceil(8).saturating_sub(11)
    }
}

/// `params` with `cmdlet`'s SecureString values (by the table of them, or by the type `spec`
/// documents) encrypted under `key` (borrowed unchanged when it has none). An empty string is
/// sent as it is, as the module does.
pub fn encrypt_params<'p>(
    cmdlet: &str,
    spec: Option<&Cmdlet>,
    params: &'p Map<String, Value>,
    key: &PublicKey,
) -> Result<std::borrow::Cow<'p, Map<String, Value>>, SecureError> {
    if !params.keys().any(|k| secure(cmdlet, spec, k)) {
        return Ok(std::borrow::Cow::Borrowed(params));
    }
    let mut out = params.clone();
    for (name, value) in out.iter_mut() {
        if !secure(cmdlet, spec, name) {
            continue;
        }
        let text = match value {
            Value::String(text) => text,
            // Left out, as a missing parameter would be.
            Value::Null => continue,
            other => {
                return Err(SecureError::NotText {
                    cmdlet: cmdlet.to_string(),
                    param: name.clone(),
                    kind: kind(other),
                });
            }
        };
        if text.is_empty() {
            continue;
        }
        let too_long = || SecureError::TooLong {
            cmdlet: cmdlet.to_string(),
            param: name.clone(),
            len: text.len(),
            max: key.capacity(),
            bits: key.bits(),
        };
        if text.len() > key.capacity() {
            return Err(too_long());
        }
        let sealed = key.encrypt(text).map_err(|_| too_long())?;
        *value = Value::String(sealed);
    }
    Ok(std::borrow::Cow::Owned(out))
}

/// What kind of JSON value something is, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "list",
        Value::Object(_) => "mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The sandbox's key pair: what it decrypts, and the key a sandbox tenant's calls use.
    #[cfg(feature = "sandbox")]
    fn sandbox_keys() -> (rsa::PrivateKey, PublicKey) {
        use rsa::pkcs8::DecodePrivateKey;
        let private =
            rsa::PrivateKey::from_pkcs8_pem(tenantry_sandbox::SECURE_STRING_PRIVATE_KEY).unwrap();
        let public = PublicKey::parse(tenantry_sandbox::SECURE_STRING_PUBLIC_KEY).unwrap();
        assert_eq!(public.key, private.to_public_key());
        (private, public)
    }

    #[test]
    fn the_built_in_microsoft_key_is_2048_bits() {
        let key = PublicKey::microsoft();
        assert_eq!(key.bits(), 2048);
        assert_eq!(key.capacity(), 245);
        // One PKCS#1 v1.5 block: the modulus' 256 bytes, whatever the text's length.
        for text in ["x", "Correct horse battery staple", &"é".repeat(122)] {
            let sealed = STANDARD.decode(key.encrypt(text).unwrap()).unwrap();
            assert_eq!(sealed.len(), 256);
        }
    }

    #[cfg(feature = "sandbox")]
    #[test]
    fn secure_strings_round_trip_and_differ_each_time() {
        let (private, public) = sandbox_keys();
        let params =
            json!({"Identity": "user001", "password": "Päss w0rd!", "RoomMailboxPassword": ""});
        let sealed =
            encrypt_params("set-mailbox", None, params.as_object().unwrap(), &public).unwrap();
        assert_eq!(sealed["Identity"], "user001");
        assert_eq!(sealed["RoomMailboxPassword"], "", "empty is sent as it is");
        let cipher = STANDARD
            .decode(sealed["password"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            cipher.len(),
            256,
            "PKCS#1 v1.5: one block of the modulus' size"
        );
        assert_eq!(
            private.pkcs1v15_decrypt(&cipher).unwrap(),
            "Päss w0rd!".as_bytes()
        );
        let again =
            encrypt_params("Set-Mailbox", None, params.as_object().unwrap(), &public).unwrap();
        assert_ne!(again["password"], sealed["password"], "random padding");
        // Other cmdlets' parameters of the same name are not SecureStrings.
        let other = encrypt_params("Set-User", None, params.as_object().unwrap(), &public).unwrap();
        assert!(matches!(other, std::borrow::Cow::Borrowed(_)));
    }

    #[test]
    fn the_catalog_names_secure_strings_the_table_does_not() {
        let catalog = crate::catalog::Catalog::from_json(
            "test",
            r#"{"cmdlets": {"Set-Example": {"params": {"Secret": {"type": "SecureString"}, "Note": {"type": "String"}}}}}"#,
        )
        .unwrap();
        let spec = catalog.cmdlet("Set-Example").unwrap();
        let params = json!({"secret": "hunter22", "Note": "hunter22"});
        let params = params.as_object().unwrap();
        let key = PublicKey::microsoft();
        let sealed = encrypt_params("Set-Example", Some(&spec), params, &key).unwrap();
        assert_eq!(
            STANDARD
                .decode(sealed["secret"].as_str().unwrap())
                .unwrap()
                .len(),
            256
        );
        assert_eq!(sealed["Note"], "hunter22");
        assert_eq!(
            secret_values("Set-Example", Some(&spec), params),
            ["hunter22"]
        );
        // Without the catalog, only the table says.
        let unsealed = encrypt_params("Set-Example", None, params, &key).unwrap();
        assert!(matches!(unsealed, std::borrow::Cow::Borrowed(_)));
        assert!(secret_values("Set-Example", None, params).is_empty());
    }

    #[test]
    fn a_secure_string_must_be_text_that_fits_the_key() {
        let key = PublicKey::microsoft();
        let list = json!({"Password": ["a", "b"]});
        assert_eq!(
            encrypt_params("New-Mailbox", None, list.as_object().unwrap(), &key)
                .unwrap_err()
                .to_string(),
            "New-Mailbox -Password takes a SecureString: give it as a string (the secret's text), not a list"
        );
        let long = json!({"Password": "x".repeat(246)});
        let e = encrypt_params("New-Mailbox", None, long.as_object().unwrap(), &key).unwrap_err();
        assert!(
            matches!(
                e,
                SecureError::TooLong {
                    len: 246,
                    max: 245,
                    bits: 2048,
                    ..
                }
            ),
            "{e}"
        );
        assert!(!e.to_string().contains("xxx"), "{e}");
        let fits = json!({"Password": "x".repeat(245), "RoomMailboxPassword": null});
        let sealed = encrypt_params("New-Mailbox", None, fits.as_object().unwrap(), &key).unwrap();
        assert_eq!(sealed["RoomMailboxPassword"], Value::Null);
    }

    #[test]
    fn keys_load_from_xml_and_pem() {
        use rsa::pkcs1::EncodeRsaPublicKey;
        use rsa::pkcs8::{EncodePublicKey, LineEnding};
        use rsa::traits::PublicKeyParts;
        let public = PublicKey::microsoft();
        let spki = public.key.to_public_key_pem(LineEnding::LF).unwrap();
        let pkcs1 = public.key.to_pkcs1_pem(LineEnding::CRLF).unwrap();
        // As the module's and ExoHelper's files are laid out: a BOM, indented elements.
        let xml = format!(
            "\u{feff}<RSAKeyValue>\n\t<Modulus>{}</Modulus>\n\t<Exponent>{}</Exponent>\n</RSAKeyValue>\n",
            STANDARD.encode(public.key.n_bytes()),
            STANDARD.encode(public.key.e_bytes())
        );
        assert!(xml.contains("<Modulus>31yPXtYRltEiVLHX"), "{xml}");
        for text in [spki.as_str(), pkcs1.as_str(), xml.as_str()] {
            assert_eq!(&PublicKey::parse(text).unwrap(), public.as_ref(), "{text}");
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("PublicKey.xml");
        std::fs::write(&file, &xml).unwrap();
        assert_eq!(&PublicKey::from_file(&file).unwrap(), public.as_ref());
        for bad in [
            "",
            "ssh-rsa AAAA",
            "<RSAKeyValue><Exponent>AQAB</Exponent></RSAKeyValue>",
            "<RSAKeyValue><Modulus>%%%</Modulus><Exponent>AQAB</Exponent></RSAKeyValue>",
            "<RSAKeyValue><Modulus>AQAB</Modulus><Exponent>AQAB</Exponent></RSAKeyValue>",
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n",
        ] {
            assert!(PublicKey::parse(bad).is_err(), "{bad}");
        }
        let missing = PublicKey::from_file(&dir.path().join("none.xml")).unwrap_err();
        assert!(missing.to_string().contains("none.xml"), "{missing}");
    }

    #[test]
    fn secure_values_are_masked_and_redacted() {
        let mut params = json!({"Identity": "u", "Password": "hunter2", "RoomMailboxPassword": ""})
            .as_object()
            .unwrap()
            .clone();
        assert_eq!(secret_values("New-Mailbox", None, &params), ["hunter2"]);
        assert_eq!(
            redact(
                "bad password hunter2!",
                &secret_values("New-Mailbox", None, &params)
            ),
            "bad password ********!"
        );
        mask_params("new-mailbox", &mut params);
        assert_eq!(
            Value::Object(params),
            json!({"Identity": "u", "Password": MASK, "RoomMailboxPassword": ""})
        );
    }

    #[test]
    fn ps_credentials_are_known_with_advice() {
        assert_eq!(
            ps_credential("set-moverequest", "remotecredential"),
            Some(("Set-MoveRequest", "RemoteCredential"))
        );
        assert_eq!(ps_credential("Set-MoveRequest", "Identity"), None);
        assert!(
            ps_credential_advice("Get-MailboxPermission", "Credential").contains("leave it out")
        );
        assert!(
            ps_credential_advice("New-MoveRequest", "RemoteCredential").contains("-SourceEndpoint")
        );
        assert!(
            ps_credential_advice("Update-HybridConfiguration", "TenantCredentials")
                .contains("PowerShell")
        );
        assert!(is_secure_string("NEW-MAILBOX", "roommailboxpassword"));
        assert!(!is_secure_string("New-Mailbox", "Name"));
    }
}
