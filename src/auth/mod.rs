//! Sign-in to Microsoft Entra ID and the access-token cache that the admin API client draws
//! from. Apps sign in with client credentials (a secret, a certificate's `private_key_jwt`
//! assertion as MSAL signs it, or a federated workload token); users with a device code
//! (interactive, MFA) or their password (legacy, no MFA); a ready token can also be given.
//!
//! Tokens are requested through the `oauth2` crate. Each provider caches one access token and
//! refreshes it single-flight: concurrent callers wait for one request instead of each
//! starting their own, both before expiry and after the service rejects a token. Users' refresh
//! tokens are kept on disk ([`cache`]) so a later run, or a token expiring mid-run, does not ask
//! them to sign in again.

pub mod cache;
pub mod diagnose;

mod app;
mod credential;
mod device_code;
mod oauth;
mod provider;
mod token_command;
mod user;

pub use credential::{Credential, EXCHANGE_MODULE_CLIENT_ID, Secret, TokenSource};
pub use device_code::{DevicePrompt, EntraDeviceFields, StderrPrompt};
pub use oauth::HttpError;
pub(crate) use oauth::describe;
pub use provider::{AccessToken, TokenProvider};

/// Why no token could be had; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Entra ID refused the request.
    #[error("sign-in refused for {who} in {tenant}: {description}{}", advice(.code, .description))]
    Refused {
        /// Who signed in: `app <id>` or `user <upn>`.
        who: String,
        /// The tenant.
        tenant: String,
        /// The OAuth2 error code (`invalid_client`, …).
        code: String,
        /// Entra's description, up to its trace ids.
        description: String,
    },
    /// The token endpoint could not be reached.
    #[error("cannot reach the sign-in endpoint {url}: {reason}; check the network, DNS and proxy")]
    Unreachable {
        /// The token endpoint.
        url: String,
        /// What failed.
        reason: String,
    },
    /// The answer was not a token response.
    #[error("the sign-in endpoint {url} answered with something that is not a token: {reason}")]
    Unexpected {
        /// The token endpoint.
        url: String,
        /// What was wrong.
        reason: String,
    },
    /// The credential could not be loaded or used.
    #[error("{what}")]
    Credential {
        /// What is wrong with it.
        what: String,
    },
    /// A user signed in as someone other than the playbook names: single sign-on or a
    /// browser's remembered account chose for them.
    #[error(
        "signed in to {tenant} as {actual}, but the playbook names {expected}: sign in again as {expected} (`tenantry logout {tenant}`, then use a private browser window)"
    )]
    WrongUser {
        /// The tenant.
        tenant: String,
        /// The account the playbook names.
        expected: String,
        /// The account that signed in.
        actual: String,
    },
}

/// A hint after Entra's own words, for the refusals administrators meet most: by AADSTS code
/// first, then by OAuth2 error.
fn advice(code: &str, description: &str) -> &'static str {
    if let Some(hint) = diagnose::advice_for(description) {
        return hint;
    }
    match code {
        "invalid_client" => " (check the app id, and that its secret or certificate is current)",
        "unauthorized_client" => {
            " (the app is not in this tenant: grant admin consent there, or check the tenant)"
        }
        "invalid_tenant" => " (check the tenant's organization and cloud)",
        "invalid_resource" => " (check the cloud: the scope names another service)",
        _ => "",
    }
}
