//! The built-in Exchange Online sandbox: an HTTP server on loopback that answers like Microsoft
//! Entra ID's token endpoints and Exchange Online's admin API, over a seeded in-memory directory
//! per tenant.
//!
//! The wire shapes follow `InvokeCommand` as the ExchangeOnlineManagement V3 module speaks it:
//! the same URLs, headers, bodies, paging, error bodies, status codes and throttling. Everything
//! it served is counted ([`Stats`]), so tests assert what happened at the service instead of
//! trusting the client.
//!
//! # Design
//!
//! This crate answers for the service side only: it issues and checks tokens, runs cmdlets over
//! each tenant's directory, applies the configured limits, latency and faults, and counts what it
//! did. It never calls out to anything, and everything it generates comes from the seed.
//!
//! A request flows one way through the modules:
//!
//! ```text
//! server ──┬─> identity                      tokens, device codes, workload identities
//!          └─> admin API (server) ─> cmdlets ─> directory ─┐
//!                       │                 └──> filter ─────┴─> values
//!                       └─> paging, stats
//! ```
//!
//! - `server` routes HTTP: the identity endpoints, the `/sandbox` control endpoints, and the
//!   admin API's `InvokeCommand` with its headers, batching, paging (`paging`), SecureString
//!   parameters (`secure`, decrypted with the sandbox's own key), throttling and injected
//!   faults; it records every answer in the [`stats`].
//! - [`identity`] plays Entra ID: app registrations and users, the v2.0 token and device-code
//!   endpoints, and verification of the access tokens it issued.
//! - [`cmdlets`] binds a cmdlet's parameters, converts their values and runs it over a tenant's
//!   [`directory::Directory`]: one module per noun family behind a dispatch table.
//! - [`directory`] holds one tenant's objects over a schema modelled on Exchange Online's, and
//!   generates them from the seed; `filter` compiles and evaluates `-Filter` expressions. Both
//!   read and write values in the formats of `values` (TimeSpans, sizes, dates, proxy
//!   addresses, wildcards), which depends on neither.
//! - [`config`] shapes a sandbox (tenants, limits, latency, faults); [`clock`] and [`rng`] give
//!   it wall-clock formats and seeded randomness; [`serve`] is the `tenantry sandbox` command.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tenantry_sandbox::SandboxError> {
//! use tenantry_sandbox::{Sandbox, SandboxConfig};
//! let sandbox = Sandbox::start(SandboxConfig::with_tenants(3, 50)).await?;
//! println!("admin API at {}/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", sandbox.url());
//! let stats = sandbox.stats();
//! assert_eq!(stats.tenants.len(), 3);
//! sandbox.shutdown().await;
//! # Ok(()) }
//! ```

// The sandbox builds its fixed Exchange objects with large `json!` literals.
#![recursion_limit = "256"]

pub mod clock;
pub mod cmdlets;
pub mod config;
pub mod directory;
mod filter;
pub mod identity;
mod paging;
pub mod rng;
mod secure;
pub mod serve;
mod server;
pub mod stats;
mod values;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde::Serialize;

pub use config::{
    BatchConnections, Behaviour, Compression, ErrorDetails, Fault, FaultKind, Latency, Redirect,
    RedirectTo, SandboxConfig, TenantConfig,
};
pub use identity::{
    APP_CERTIFICATE, APP_PRIVATE_KEY, APPS, EXO_PUBLIC_CLIENT, USERS, WORKLOAD_AUDIENCE,
    WORKLOAD_ISSUER_PATH, WORKLOAD_READER_SUBJECT, WORKLOAD_SUBJECT, WORKLOAD_TOKEN_LIFETIME,
};
pub use secure::{SECURE_STRING_PRIVATE_KEY, SECURE_STRING_PUBLIC_KEY};
pub use stats::{Stats, TenantStats, WriteRecord};

use directory::Directory;
use identity::Identity;
use rng::Rng;

/// Why a sandbox could not start.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}; choose another port with --port, or 0 for any")]
    Bind {
        /// The address tried.
        addr: SocketAddr,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The configuration is inconsistent.
    #[error("{0}")]
    Config(String),
    /// A file could not be written, or the runtime could not start.
    #[error("{0}")]
    Io(String),
    /// The built-in keys could not be read (a build problem, not a user one).
    #[error("the sandbox's built-in keys are unreadable: {0}")]
    Keys(#[from] tenantry_common::jwt::JwtError),
}

/// A tenant as the sandbox serves it.
#[derive(Clone, Debug, Serialize)]
pub struct TenantInfo {
    /// The initial domain (`contoso.onmicrosoft.com`).
    pub domain: String,
    /// The vanity domain (`contoso.com`), also accepted in URLs.
    pub vanity_domain: String,
    /// The tenant GUID.
    pub id: String,
    /// How many user mailboxes it started with.
    pub mailboxes: usize,
    /// Its token endpoint.
    pub token_url: String,
    /// Its InvokeCommand URL.
    pub invoke_url: String,
}

/// A running sandbox; dropping it stops the server.
pub struct Sandbox {
    state: Arc<State>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Sandbox {
    /// Builds the directories, binds the port and starts serving on the current tokio runtime.
    pub async fn start(config: SandboxConfig) -> Result<Sandbox, SandboxError> {
        let addr = SocketAddr::new(config.host, config.port);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| SandboxError::Bind { addr, source })?;
        let base_url = format!("http://{addr}");
        // The regional host a tenant's calls may be redirected to: the same host, another
        // port (a client pins a redirected tenant there).
        let regional_addr = SocketAddr::new(config.host, 0);
        let regional = tokio::net::TcpListener::bind(regional_addr)
            .await
            .map_err(|source| SandboxError::Bind {
                addr: regional_addr,
                source,
            })?;
        let regional_port = regional
            .local_addr()
            .map_err(|source| SandboxError::Bind {
                addr: regional_addr,
                source,
            })?
            .port();
        let mut state = State::new(config, base_url)?;
        state.regional_port = regional_port;
        let state = Arc::new(state);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(server::serve(listener, regional, state.clone(), rx));
        Ok(Sandbox {
            state,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// The public key SecureString parameters are encrypted with for this sandbox (PEM), as
    /// [`SECURE_STRING_PUBLIC_KEY`]; also served at `GET /sandbox/public-key`.
    pub fn public_key_pem(&self) -> &'static str {
        SECURE_STRING_PUBLIC_KEY
    }

    /// The base URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        self.state.base_url.clone()
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL of its regional host, where `redirect` sends a tenant's calls.
    pub fn regional_url(&self) -> String {
        self.state.regional_url()
    }

    /// The tenants it serves, in configuration order.
    pub fn tenants(&self) -> Vec<TenantInfo> {
        self.state
            .tenants
            .iter()
            .map(|t| t.info(&self.state.base_url))
            .collect()
    }

    /// A snapshot of everything counted so far.
    pub fn stats(&self) -> Stats {
        self.state.stats(true)
    }

    /// Completes a pending device-code sign-in as `username` (who passes MFA), as the user's
    /// browser would.
    pub fn approve_device_code(&self, user_code: &str, username: &str) -> Result<(), String> {
        self.state.approve(user_code, username, false)
    }

    /// Makes every access token issued so far for a tenant invalid, as a revoked session or
    /// a token the service no longer accepts; false if the tenant is unknown.
    pub fn revoke_tokens(&self, tenant: &str) -> bool {
        match self.state.tenant(tenant) {
            Some(t) => {
                self.state.revoke(t);
                true
            }
            None => false,
        }
    }

    /// The issuer URL of the workload identity provider the sandbox plays,
    /// `{base}/sandbox/workload`: the issuer of the sample apps' federated credentials.
    pub fn workload_issuer(&self) -> String {
        self.state.identity.workload_issuer()
    }

    /// Mints a workload token, as a CI system or Kubernetes would, for `subject` with
    /// `audience` ([`WORKLOAD_AUDIENCE`] when `None`), expiring `lifetime_secs` from now (zero
    /// or less: already expired). Present it as a `client_assertion` to exchange it for an
    /// app token; [`WORKLOAD_SUBJECT`] is the admin app's registered subject.
    ///
    /// # Panics
    ///
    /// If the built-in key cannot sign, which a working build never sees.
    pub fn workload_token(
        &self,
        subject: &str,
        audience: Option<&str>,
        lifetime_secs: i64,
    ) -> String {
        self.state
            .identity
            .workload_token(subject, audience, lifetime_secs)
            .expect("the sandbox's built-in workload key signs")
    }

    /// A tenant's behaviour (limit, latency, faults) now.
    pub fn behaviour(&self, tenant: &str) -> Option<Behaviour> {
        self.state
            .tenant(tenant)
            .map(|t| lock(&t.behaviour).clone())
    }

    /// Changes a tenant's behaviour while serving.
    pub fn set_behaviour(&self, tenant: &str, behaviour: Behaviour) -> Result<(), SandboxError> {
        behaviour.validate().map_err(SandboxError::Config)?;
        let t = self
            .state
            .tenant(tenant)
            .ok_or_else(|| SandboxError::Config(format!("the sandbox has no tenant '{tenant}'")))?;
        *lock(&t.behaviour) = behaviour;
        Ok(())
    }

    /// The whole directory of a tenant as JSON.
    pub fn directory(&self, tenant: &str) -> Option<serde_json::Value> {
        self.state
            .tenant(tenant)
            .map(|t| lock(&t.directory).snapshot())
    }

    /// Stops accepting connections and waits for the server task to end.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// How many writes the log keeps.
const MAX_WRITES: usize = 1_000_000;

/// The sandbox's shared state.
pub(crate) struct State {
    pub(crate) base_url: String,
    /// The regional listener's port, on the same host as `base_url`.
    pub(crate) regional_port: u16,
    pub(crate) config: SandboxConfig,
    pub(crate) identity: Identity,
    pub(crate) tenants: Vec<Tenant>,
    by_key: HashMap<String, usize>,
    pub(crate) page_tokens: paging::PageTokens,
    /// Decrypts SecureString parameters.
    pub(crate) secure_strings: secure::SecureStrings,
    writes: Mutex<Vec<WriteRecord>>,
    writes_dropped: AtomicU64,
    started: Instant,
    pub(crate) requests: AtomicU64,
    /// Request ids and page tokens; not part of any deterministic output.
    pub(crate) request_ids: Mutex<Rng>,
}

impl State {
    fn new(config: SandboxConfig, base_url: String) -> Result<Self, SandboxError> {
        let identity = Identity::new(
            &base_url,
            config.token_ttl,
            config.device_code_interval,
            config.app_certificate.as_deref(),
        )?
        .with_clock_skew(config.clock_skew);
        let mut tenants = Vec::new();
        let mut by_key = HashMap::new();
        for (index, tc) in config.tenants.iter().enumerate() {
            let domain = tc.domain.to_ascii_lowercase();
            tc.behaviour
                .validate()
                .map_err(|e| SandboxError::Config(format!("tenant {domain}: {e}")))?;
            if !domain.contains('.') || domain.contains('/') || domain.contains(' ') {
                return Err(SandboxError::Config(format!(
                    "'{domain}' is not a tenant domain such as contoso.onmicrosoft.com"
                )));
            }
            let id = tc.tenant_id(config.seed);
            let label = domain.split('.').next().unwrap_or(&domain).to_string();
            let vanity = format!("{label}.com");
            for key in [&domain, &id, &vanity] {
                if by_key.insert(key.clone(), index).is_some() {
                    return Err(SandboxError::Config(format!(
                        "tenant '{key}' is configured twice"
                    )));
                }
            }
            let directory = Directory::generate(&domain, &id, tc.mailboxes, config.seed);
            tenants.push(Tenant {
                rng: Mutex::new(Rng::derive(config.seed, &format!("faults/{domain}"))),
                domain,
                id,
                vanity,
                mailboxes: tc.mailboxes,
                directory: Mutex::new(directory),
                bucket: Mutex::new((tc.behaviour.burst, Instant::now())),
                behaviour: Mutex::new(tc.behaviour.clone()),
                in_flight: AtomicUsize::new(0),
                peak: AtomicUsize::new(0),
                revoked_through: AtomicU64::new(0),
                counters: Mutex::new(TenantStats::default()),
            });
        }
        Ok(State {
            base_url,
            regional_port: 0,
            config,
            identity,
            tenants,
            by_key,
            page_tokens: paging::PageTokens::new(&mut Rng::derive(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0),
                "page-tokens",
            )),
            secure_strings: secure::SecureStrings::new()?,
            writes: Mutex::new(Vec::new()),
            writes_dropped: AtomicU64::new(0),
            started: Instant::now(),
            requests: AtomicU64::new(0),
            request_ids: Mutex::new(Rng::derive(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or(0),
                "request-ids",
            )),
        })
    }

    /// The regional listener's base URL, `http://127.0.0.1:PORT`.
    pub(crate) fn regional_url(&self) -> String {
        format!(
            "http://{}",
            SocketAddr::new(self.config.host, self.regional_port)
        )
    }

    /// Completes or declines a device-code sign-in (see [`Identity::approve_device_code`]).
    pub(crate) fn approve(
        &self,
        user_code: &str,
        username: &str,
        decline: bool,
    ) -> Result<(), String> {
        self.identity
            .approve_device_code(user_code, username, decline, &|domain| {
                self.tenant(domain)
                    .map(|t| (t.domain.clone(), t.id.clone()))
            })
    }

    /// Refuses every access and refresh token issued so far for a tenant.
    pub(crate) fn revoke(&self, tenant: &Tenant) {
        tenant.revoke(self.identity.issued());
        self.identity.revoke_refresh_tokens(&tenant.id);
    }

    /// A tenant by initial domain, vanity domain or GUID, case-insensitively.
    pub(crate) fn tenant(&self, key: &str) -> Option<&Tenant> {
        let key = key.to_ascii_lowercase();
        self.by_key.get(&key).map(|&i| &self.tenants[i])
    }

    pub(crate) fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    pub(crate) fn log_write(&self, mut record: WriteRecord) {
        let mut writes = lock(&self.writes);
        // A sandbox left serving must not grow without bound: past the cap, writes are counted
        // but not kept, and the statistics say how many.
        if writes.len() >= MAX_WRITES {
            self.writes_dropped
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return;
        }
        record.seq = writes.len() as u64 + 1;
        writes.push(record);
    }

    pub(crate) fn stats(&self, with_writes: bool) -> Stats {
        let tenants = self
            .tenants
            .iter()
            .map(|t| {
                let mut s = lock(&t.counters).clone();
                s.id = t.id.clone();
                s.limit = lock(&t.behaviour).limit;
                s.peak_concurrency = t.peak.load(std::sync::atomic::Ordering::SeqCst);
                s.in_flight = t.in_flight.load(std::sync::atomic::Ordering::SeqCst);
                (t.domain.clone(), s)
            })
            .collect();
        Stats {
            uptime_ms: self.elapsed_ms(),
            writes_not_logged: self
                .writes_dropped
                .load(std::sync::atomic::Ordering::Relaxed),
            tenants,
            writes: if with_writes {
                lock(&self.writes).clone()
            } else {
                Vec::new()
            },
        }
    }
}

/// One tenant's live state.
pub(crate) struct Tenant {
    pub(crate) domain: String,
    pub(crate) id: String,
    pub(crate) vanity: String,
    mailboxes: usize,
    pub(crate) directory: Mutex<Directory>,
    pub(crate) behaviour: Mutex<Behaviour>,
    pub(crate) bucket: Mutex<(f64, Instant)>,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) peak: AtomicUsize,
    pub(crate) revoked_through: AtomicU64,
    pub(crate) counters: Mutex<TenantStats>,
    pub(crate) rng: Mutex<Rng>,
}

impl Tenant {
    fn info(&self, base_url: &str) -> TenantInfo {
        TenantInfo {
            domain: self.domain.clone(),
            vanity_domain: self.vanity.clone(),
            id: self.id.clone(),
            mailboxes: self.mailboxes,
            token_url: format!("{base_url}/{}/oauth2/v2.0/token", self.domain),
            invoke_url: format!("{base_url}/adminapi/beta/{}/InvokeCommand", self.domain),
        }
    }

    /// Refuses every token issued so far (sequence numbers up to `issued`).
    pub(crate) fn revoke(&self, issued: u64) {
        self.revoked_through
            .store(issued, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Locks a mutex, using the data even if another thread panicked while holding it: every
/// critical section here leaves the data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
