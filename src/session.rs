//! Sessions: for each selected tenant, its cloud's endpoints, its credential (from the auth
//! block, the `AZURE_*` environment, or the sandbox's sample app) and the admin API client
//! that signs in with it. `run` and `connect` open them alike; `cloud: sandbox` tenants get
//! the built-in sandbox, started in-process.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::auth::cache::TokenCache;
use crate::auth::{
    Credential, EXCHANGE_MODULE_CLIENT_ID, Secret, StderrPrompt, TokenProvider, TokenSource,
};
use crate::builtin::{BuiltIn, Latency};
use crate::cloud::Endpoints;
use crate::exchange::{Client, PublicKey, RetryPolicy, http_client_via};
use crate::playbook::{Auth, Cloud, Playbook};
use crate::trace::Trace;

/// Why sessions could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// A tenant's credentials or endpoints are unusable.
    #[error("tenant {tenant}: {reason}")]
    Tenant {
        /// The tenant's name.
        tenant: String,
        /// What is wrong, and what to do.
        reason: String,
    },
    /// The sandbox could not start.
    #[error(transparent)]
    Sandbox(#[from] crate::builtin::BuiltInError),
    /// The HTTP client could not be built (a bad `--proxy`).
    #[error("{0}")]
    Http(String),
}

impl SessionError {
    /// Invalid input for unusable credentials, endpoints or proxy, or a sandbox this build
    /// lacks; otherwise the sandbox failed to start.
    pub fn exit_code(&self) -> i32 {
        match self {
            SessionError::Tenant { .. } | SessionError::Http(_) => crate::exit::INVALID_INPUT,
            SessionError::Sandbox(e) => e.exit_code(),
        }
    }
}

/// How sessions are opened.
#[derive(Clone, Debug, Default)]
pub struct SessionOptions {
    /// The latency of in-process sandbox tenants.
    pub sandbox_latency: Option<Latency>,
    /// `--proxy URL`, overriding `HTTPS_PROXY`.
    pub proxy: Option<String>,
    /// How transient failures are retried (the default when `None`).
    pub retry: Option<RetryPolicy>,
    /// `--trace FILE`: where every request and answer is written.
    pub trace: Option<Arc<Trace>>,
}

/// One tenant's session.
pub struct Session {
    /// The tenant's index in the playbook.
    pub tenant: usize,
    /// The admin API client.
    pub client: Arc<Client>,
    /// Its token provider.
    pub tokens: Arc<TokenProvider>,
    /// Whether signing in may prompt a person (device code).
    pub interactive: bool,
    /// Warnings to show before the run: the legacy password grant, a closed cloud.
    pub warnings: Vec<String>,
}

/// The sessions of a run, and the sandbox they may need.
pub struct Sessions {
    /// Per selected tenant, in order.
    pub sessions: Vec<Session>,
    /// The in-process sandbox, when a tenant is on `cloud: sandbox`.
    pub sandbox: Option<BuiltIn>,
}

impl Sessions {
    /// Opens a session for each of `selected` (playbook tenant indexes). Nothing is signed in
    /// yet: that happens at the first call.
    pub async fn open(
        playbook: &Playbook,
        selected: &[usize],
        options: &SessionOptions,
    ) -> Result<Sessions, SessionError> {
        let sandbox_domains: Vec<String> = selected
            .iter()
            .map(|&i| &playbook.tenants[i])
            .filter(|t| t.cloud == Cloud::Sandbox)
            .map(|t| t.organization.value.to_ascii_lowercase())
            .collect();
        let sandbox = if sandbox_domains.is_empty() {
            None
        } else {
            let latency = options
                .sandbox_latency
                .unwrap_or(crate::builtin::NO_LATENCY);
            Some(BuiltIn::start(&sandbox_domains, latency).await?)
        };
        let http = http_client_via(options.proxy.as_deref())
            .map_err(|e| SessionError::Http(e.to_string()))?;
        let cache = TokenCache::default_location().map(|dir| Arc::new(TokenCache::at(dir)));
        let mut shared = Shared {
            sandbox: sandbox.as_ref(),
            http: &http,
            cache: cache.as_ref(),
            trace: options.trace.as_ref(),
            keys: PublicKeys::default(),
        };
        let mut sessions = Vec::new();
        for &index in selected {
            let tenant = &playbook.tenants[index];
            let retry = options.retry.clone().unwrap_or_default();
            let session = open(playbook, index, retry, &mut shared).map_err(|reason| {
                SessionError::Tenant {
                    tenant: tenant.name().to_string(),
                    reason,
                }
            })?;
            sessions.push(session);
        }
        Ok(Sessions { sessions, sandbox })
    }
}

/// The environment variable naming a file with the service's current public key, for when
/// Microsoft rotates it before tenantry's built-in copy is updated.
pub const PUBLIC_KEY_ENV: &str = "TENANTRY_EXO_PUBLIC_KEY";

/// The public keys of a run's tenants, each file read once.
#[derive(Default)]
struct PublicKeys {
    /// The key [`PUBLIC_KEY_ENV`] names (`None` when unset), once read.
    from_env: Option<Option<Arc<PublicKey>>>,
}

impl PublicKeys {
    /// The key a tenant's SecureString parameters are encrypted with: the sandbox's own for
    /// `cloud: sandbox`; `endpoints.public_key` for `cloud: custom` when given; else the file
    /// [`PUBLIC_KEY_ENV`] names, else the key the Exchange module ships.
    fn for_tenant(
        &mut self,
        playbook: &Playbook,
        tenant: &crate::playbook::Tenant,
        sandbox: Option<&BuiltIn>,
    ) -> Result<Arc<PublicKey>, String> {
        if tenant.cloud == Cloud::Sandbox
            && let Some(sandbox) = sandbox
        {
            return PublicKey::parse(sandbox.public_key_pem())
                .map(Arc::new)
                .map_err(|e| format!("the sandbox's public key: {e}"));
        }
        if let Some(file) = tenant
            .endpoints
            .as_ref()
            .and_then(|e| e.public_key.as_ref())
        {
            return PublicKey::from_file(&resolve(playbook, file))
                .map(Arc::new)
                .map_err(|e| format!("endpoints.public_key: {e}"));
        }
        if self.from_env.is_none() {
            let file = std::env::var_os(PUBLIC_KEY_ENV).filter(|v| !v.is_empty());
            let key = match file {
                Some(file) => Some(Arc::new(
                    PublicKey::from_file(Path::new(&file))
                        .map_err(|e| format!("{PUBLIC_KEY_ENV}: {e}"))?,
                )),
                None => None,
            };
            self.from_env = Some(key);
        }
        Ok(self
            .from_env
            .clone()
            .flatten()
            .unwrap_or_else(PublicKey::microsoft))
    }
}

/// What every session of a run shares.
struct Shared<'a> {
    /// The in-process sandbox, when a tenant is on `cloud: sandbox`.
    sandbox: Option<&'a BuiltIn>,
    http: &'a reqwest::Client,
    /// Where people's refresh tokens are kept.
    cache: Option<&'a Arc<TokenCache>>,
    /// `--trace`'s writer.
    trace: Option<&'a Arc<Trace>>,
    keys: PublicKeys,
}

/// A session for the playbook's tenant `index`.
fn open(
    playbook: &Playbook,
    index: usize,
    retry: RetryPolicy,
    shared: &mut Shared<'_>,
) -> Result<Session, String> {
    let Shared {
        sandbox,
        http,
        cache,
        trace,
        ..
    } = *shared;
    let tenant = &playbook.tenants[index];
    let sandbox_url = sandbox.map(BuiltIn::url);
    let endpoints = Endpoints::of(
        tenant.cloud,
        tenant.endpoints.as_ref(),
        sandbox_url.as_deref(),
    )
    .map_err(|e| e.to_string())?;
    // A partner manages a customer with its own identity: the token comes from the
    // customer's authority and the URL names the customer.
    let org = tenant
        .delegated_organization
        .as_ref()
        .map_or(tenant.organization.value.as_str(), |d| d.value.as_str());
    let (client_id, credential) = match (&tenant.auth, tenant.cloud) {
        (Some(auth), _) => credential(playbook, &auth.value)?,
        // The sandbox's own admin app, so the quick start needs no credentials.
        (None, Cloud::Sandbox) => match BuiltIn::admin_app() {
            Some((client_id, secret)) => (
                client_id.to_string(),
                Credential::Secret(Secret::new(secret)),
            ),
            None => return Err("cloud: sandbox needs a build with the sandbox".into()),
        },
        (None, _) => from_environment(org)?,
    };
    let interactive = matches!(credential, Credential::DeviceCode { .. });
    let mut warnings = Vec::new();
    if matches!(credential, Credential::Password { .. }) {
        warnings.push(format!(
            "warning: tenant {} signs in with a password, the legacy flow that cannot do MFA; prefer `method: device_code`, or an app with a certificate",
            tenant.name()
        ));
    }
    if tenant.cloud == Cloud::Germany {
        warnings.push(format!(
            "note: tenant {}: Microsoft Cloud Deutschland closed in 2021 and its tenants moved to the worldwide cloud; using the worldwide endpoints (write `cloud: worldwide`)",
            tenant.name()
        ));
    }
    let mut tokens = TokenProvider::new(
        http.clone(),
        &endpoints.token_url(org),
        org,
        &endpoints.scope,
        &client_id,
        credential,
        Duration::from_secs(300),
    )
    .map_err(|e| e.to_string())?;
    if let Some(cache) = cache
        && tokens.signs_in_a_user()
    {
        tokens = tokens.with_cache(Arc::clone(cache));
    }
    if let Some(trace) = trace {
        tokens = tokens.with_trace(Arc::clone(trace));
    }
    let tokens = Arc::new(tokens);
    let public_key = shared.keys.for_tenant(playbook, tenant, sandbox)?;
    let mut client = Client::new(
        http.clone(),
        &endpoints.invoke_url(org),
        org,
        Arc::clone(&tokens),
        retry,
    )
    .map_err(|e| e.to_string())?
    .with_redirect_hosts(endpoints.redirect_hosts.clone())
    .with_public_key(public_key);
    if let Some(trace) = trace {
        client = client.with_trace(Arc::clone(trace));
    }
    Ok(Session {
        tenant: index,
        client: Arc::new(client),
        tokens,
        interactive,
        warnings,
    })
}

/// The credential that the `AZURE_*` variables describe, as other Azure tools read them.
fn from_environment(org: &str) -> Result<(String, Credential), String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let Some(client_id) = var("AZURE_CLIENT_ID") else {
        return Err("no `auth` block and no AZURE_CLIENT_ID: add an auth block (method: certificate, client_secret, federated, device_code, password or access_token) or set the AZURE_* variables".into());
    };
    // A tenant id (GUID) cannot be compared with a domain here; a credential of another
    // tenant is then refused by the sign-in itself (the app is not in this tenant).
    if let Some(tenant) = var("AZURE_TENANT_ID")
        && !tenant.eq_ignore_ascii_case(org)
        && !is_guid(&tenant)
    {
        return Err(format!(
            "AZURE_TENANT_ID is {tenant}, not this tenant ({org}): the environment's credential is for that tenant only; give this one an auth block"
        ));
    }
    let credential = if let Some(secret) = var("AZURE_CLIENT_SECRET") {
        Credential::Secret(Secret::new(secret))
    } else if let Some(path) = var("AZURE_CLIENT_CERTIFICATE_PATH") {
        Credential::from_pem_files(Path::new(&path), None).map_err(|e| e.to_string())?
    } else if let Some(path) = var("AZURE_FEDERATED_TOKEN_FILE") {
        Credential::Federated {
            token_file: PathBuf::from(path),
        }
    } else {
        return Err("AZURE_CLIENT_ID is set, but none of AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE is".into());
    };
    Ok((client_id, credential))
}

/// Whether `s` is a GUID, the form tenant ids take.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A path from the playbook, relative to its folder.
fn resolve(playbook: &Playbook, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        playbook.dir.join(p)
    }
}

/// A secret from an environment variable or a file (`what` names the pair in messages).
fn read_secret(
    playbook: &Playbook,
    env: &Option<String>,
    file: &Option<PathBuf>,
    what: &str,
) -> Result<String, String> {
    match (env, file) {
        (Some(var), _) => std::env::var(var)
            .map_err(|_| format!("the environment variable {var} ({what}_env) is not set")),
        (None, Some(file)) => std::fs::read_to_string(resolve(playbook, file))
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("cannot read {what}_file {}: {e}", file.display())),
        (None, None) => Err(format!("give {what}_env or {what}_file")),
    }
}

/// The federated token's file: the playbook's, else the one the platform names.
fn federated_token_file(playbook: &Playbook, file: Option<&Path>) -> Result<PathBuf, String> {
    match file {
        Some(file) => Ok(resolve(playbook, file)),
        None => std::env::var_os("AZURE_FEDERATED_TOKEN_FILE")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .ok_or_else(|| {
                "federated needs token_file, or AZURE_FEDERATED_TOKEN_FILE set by the platform"
                    .to_string()
            }),
    }
}

/// The client id and credential an auth block names, read from its files or environment.
fn credential(playbook: &Playbook, auth: &Auth) -> Result<(String, Credential), String> {
    let path = |p: &Path| resolve(playbook, p);
    let read_secret = |env: &Option<String>, file: &Option<PathBuf>, what: &str| {
        read_secret(playbook, env, file, what)
    };
    let public = |client_id: &Option<String>| {
        client_id
            .clone()
            .unwrap_or_else(|| EXCHANGE_MODULE_CLIENT_ID.to_string())
    };
    match auth {
        Auth::ClientSecret {
            app_id,
            secret_env,
            secret_file,
        } => {
            let secret = read_secret(secret_env, secret_file, "secret")?;
            Ok((app_id.clone(), Credential::Secret(Secret::new(secret))))
        }
        Auth::Certificate {
            app_id,
            certificate_file,
            key_file,
            key_password_env,
        } => {
            if key_password_env.is_some() {
                return Err("encrypted private keys are not supported yet: give an unencrypted PEM key with file mode 0600".into());
            }
            let cert = path(certificate_file);
            let key = key_file.as_deref().map(path);
            let credential =
                Credential::from_pem_files(&cert, key.as_deref()).map_err(|e| e.to_string())?;
            Ok((app_id.clone(), credential))
        }
        Auth::Federated { app_id, token_file } => {
            let token_file = federated_token_file(playbook, token_file.as_deref())?;
            Ok((app_id.clone(), Credential::Federated { token_file }))
        }
        Auth::Password {
            user,
            password_env,
            password_file,
            client_id,
        } => {
            let password = read_secret(password_env, password_file, "password")?;
            Ok((
                public(client_id),
                Credential::Password {
                    user: user.clone(),
                    password: Secret::new(password),
                },
            ))
        }
        Auth::DeviceCode { user, client_id } => Ok((
            public(client_id),
            Credential::DeviceCode {
                user: user.clone(),
                prompt: Arc::new(StderrPrompt),
            },
        )),
        Auth::AccessToken {
            token_env,
            token_command,
        } => {
            let source = match (token_env, token_command) {
                (Some(var), _) => TokenSource::Env(var.clone()),
                (None, Some(command)) => TokenSource::Command(command.clone()),
                (None, None) => return Err("access_token needs token_env or token_command".into()),
            };
            // The token names its own app; the id only labels messages.
            Ok(("access token".to_string(), Credential::AccessToken(source)))
        }
    }
}
