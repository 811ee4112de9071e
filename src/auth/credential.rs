//! How an app or a user proves who they are: client secrets, certificates and their keys read
//! from PEM, federated tokens, passwords and device codes, and secrets that never show.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use tenantry_common::jwt::{self, Certificate};

use super::AuthError;
use super::device_code::DevicePrompt;
use super::token_command::program;

/// A secret that never shows in output: Debug and Display print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Arc<str>);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(Arc::from(value.into()))
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The public client id of Exchange Online's PowerShell module, which users sign in through
/// unless their playbook names another.
pub const EXCHANGE_MODULE_CLIENT_ID: &str = "fb78d390-0c51-40cd-8e17-fdbfab77341b";

/// How an app or a user proves who they are.
#[derive(Clone, Debug)]
pub enum Credential {
    /// An app's client secret.
    Secret(Secret),
    /// An app's certificate and private key: each token request carries a fresh signed
    /// assertion.
    Certificate {
        /// The certificate registered for the app.
        certificate: Box<Certificate>,
        /// Its private key, shared with the thread that signs assertions.
        key: Arc<rsa::PrivateKey>,
    },
    /// Workload identity federation: the platform's token (GitHub Actions, Kubernetes) is the
    /// app's assertion. The file is read at every sign-in, since the platform renews it.
    Federated {
        /// The file holding the platform's token.
        token_file: PathBuf,
    },
    /// A user's password: the legacy resource-owner grant, for accounts without MFA.
    Password {
        /// The user's UPN.
        user: String,
        /// The password.
        password: Secret,
    },
    /// A user signing in interactively with a device code, which allows MFA.
    DeviceCode {
        /// The user's UPN.
        user: String,
        /// Shows the sign-in instructions.
        prompt: Arc<dyn DevicePrompt>,
    },
    /// A ready access token.
    AccessToken(TokenSource),
}

/// Where a ready access token comes from.
#[derive(Clone)]
pub enum TokenSource {
    /// An environment variable.
    Env(String),
    /// A command's standard output (run again whenever a new token is needed).
    Command(String),
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Env(var) => write!(f, "Env({var})"),
            // A command line may carry a credential (`curl -u user:password …`).
            TokenSource::Command(c) => write!(f, "Command({} …)", program(c)),
        }
    }
}

impl Credential {
    /// The user it signs in, for user credentials.
    pub fn user(&self) -> Option<&str> {
        match self {
            Credential::Password { user, .. } | Credential::DeviceCode { user, .. } => Some(user),
            _ => None,
        }
    }
}

impl Credential {
    /// Reads a certificate and its key from PEM files (`key` defaults to the certificate file,
    /// for a PEM holding both).
    pub fn from_pem_files(certificate: &Path, key: Option<&Path>) -> Result<Self, AuthError> {
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(|e| AuthError::Credential {
                what: format!("cannot read {}: {e}", p.display()),
            })
        };
        let cert_pem = read(certificate)?;
        let key_pem = match key {
            Some(k) => read(k)?,
            None => cert_pem.clone(),
        };
        let certificate = Certificate::from_pem(&cert_pem).map_err(|e| AuthError::Credential {
            what: format!("{}: {e}", certificate.display()),
        })?;
        let key = jwt::private_key_from_pem(&key_pem).map_err(|e| AuthError::Credential {
            what: format!("{}: {e}", key.unwrap_or(Path::new("the key")).display()),
        })?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        if certificate.not_after < now {
            let (y, m, d) = tenantry_common::calendar::civil_from_days(
                certificate.not_after.div_euclid(86_400),
            );
            return Err(AuthError::Credential {
                what: format!(
                    "the certificate {} expired on {y:04}-{m:02}-{d:02}: create a new one, upload it to the app registration, and point certificate_file at it",
                    certificate.subject
                ),
            });
        }
        if key.to_public_key() != certificate.public_key {
            return Err(AuthError::Credential {
                what: format!(
                    "the private key does not belong to the certificate {} (thumbprint {})",
                    certificate.subject, certificate.thumbprint
                ),
            });
        }
        Ok(Credential::Certificate {
            certificate: Box::new(certificate),
            key: Arc::new(key),
        })
    }
}

/// The platform's token for workload identity federation, read afresh for each sign-in.
pub(super) fn read_federated(path: &Path) -> Result<Secret, AuthError> {
    let text = std::fs::read_to_string(path).map_err(|e| AuthError::Credential {
        what: format!(
            "cannot read the federated token file {}: {e} (is this running where the platform provides one?)",
            path.display()
        ),
    })?;
    let token = text.trim();
    if token.is_empty() {
        return Err(AuthError::Credential {
            what: format!("the federated token file {} is empty", path.display()),
        });
    }
    Ok(Secret::new(token))
}
