//! The built-in sandbox as `run` and `connect` start it, in-process on a loopback port, for
//! `cloud: sandbox` tenants. A build without the `sandbox` feature refuses such tenants with
//! what to do, and everything else works as usual.

use std::time::Duration;

#[cfg(feature = "sandbox")]
pub(crate) use tenantry_sandbox::Latency;

/// How long the in-process sandbox takes per admin API call. A build without the sandbox has
/// nothing to slow down.
#[cfg(not(feature = "sandbox"))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Latency {
    /// Always this long.
    Fixed(Duration),
}

/// Mailboxes per sandbox tenant started in-process.
const MAILBOXES: usize = 100;

/// Why the built-in sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum BuiltInError {
    /// It failed to start.
    #[cfg(feature = "sandbox")]
    #[error(transparent)]
    Sandbox(#[from] tenantry_sandbox::SandboxError),
    /// This build has no sandbox.
    #[cfg(not(feature = "sandbox"))]
    #[error(
        "tenant {0} is on `cloud: sandbox`, but this tenantry was built without its sandbox (the `sandbox` feature): use a default build, or another cloud"
    )]
    Missing(String),
}

impl BuiltInError {
    /// Invalid input when the build has no sandbox (a playbook asks for what is not there);
    /// otherwise the sandbox failed to start.
    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            #[cfg(feature = "sandbox")]
            BuiltInError::Sandbox(_) => crate::exit::TASKS_FAILED,
            #[cfg(not(feature = "sandbox"))]
            BuiltInError::Missing(_) => crate::exit::INVALID_INPUT,
        }
    }
}

/// The sandbox running in this process. A build without the sandbox can never have one.
pub struct BuiltIn {
    #[cfg(feature = "sandbox")]
    sandbox: tenantry_sandbox::Sandbox,
    #[cfg(not(feature = "sandbox"))]
    never: std::convert::Infallible,
}

impl BuiltIn {
    /// Starts a sandbox serving `domains` (at least one), each answering after `latency`.
    pub async fn start(domains: &[String], latency: Latency) -> Result<BuiltIn, BuiltInError> {
        #[cfg(feature = "sandbox")]
        {
            use tenantry_sandbox::{Sandbox, SandboxConfig};
            let config = SandboxConfig::with_domains(domains, MAILBOXES)
                .each_tenant(|t| t.behaviour.latency = latency);
            Ok(BuiltIn {
                sandbox: Sandbox::start(config).await?,
            })
        }
        #[cfg(not(feature = "sandbox"))]
        {
            let _ = (latency, MAILBOXES);
            Err(BuiltInError::Missing(
                domains.first().cloned().unwrap_or_default(),
            ))
        }
    }

    /// Its base URL.
    pub fn url(&self) -> String {
        #[cfg(feature = "sandbox")]
        return self.sandbox.url();
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }

    /// The public key (PEM) the sandbox decrypts SecureString parameters with.
    pub fn public_key_pem(&self) -> &'static str {
        #[cfg(feature = "sandbox")]
        return self.sandbox.public_key_pem();
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }

    /// The sandbox's own admin app (client id and secret), so that the quick start needs no
    /// credentials.
    pub fn admin_app() -> Option<(&'static str, &'static str)> {
        #[cfg(feature = "sandbox")]
        return Some((
            tenantry_sandbox::APPS[0].client_id,
            tenantry_sandbox::APPS[0].client_secret,
        ));
        #[cfg(not(feature = "sandbox"))]
        None
    }

    /// Stops it, closing its connections.
    pub async fn shutdown(self) {
        #[cfg(feature = "sandbox")]
        self.sandbox.shutdown().await;
        #[cfg(not(feature = "sandbox"))]
        match self.never {}
    }
}

/// No latency: the in-process sandbox answers at once unless asked otherwise.
pub(crate) const NO_LATENCY: Latency = Latency::Fixed(Duration::ZERO);
