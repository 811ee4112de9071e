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

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};
use serde_json::{Map, Value, json};

use tenantry_common::jwt::{self, Algorithm, Certificate};

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

/// The program a command line runs, without its arguments, which may carry credentials.
fn program(command: &str) -> &str {
    command.split_whitespace().next().unwrap_or("")
}

/// Shows a device-code sign-in's instructions to the person at the keyboard.
pub trait DevicePrompt: Send + Sync + fmt::Debug {
    /// Tells how to sign in to `tenant` as `user`: Entra's `message` names the page and code.
    fn show(&self, tenant: &str, user: &str, message: &str);
}

/// Prompts on standard error, which is where a person watching a run looks.
#[derive(Debug, Default)]
pub struct StderrPrompt;

impl DevicePrompt for StderrPrompt {
    fn show(&self, tenant: &str, user: &str, message: &str) {
        eprintln!("\n[{tenant}] sign in as {user}: {message}\n");
    }
}

/// Only one device-code prompt is on screen at a time, whatever the number of tenants.
static PROMPT: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

/// A bearer token and when it stops working.
#[derive(Clone)]
pub struct AccessToken {
    /// The token.
    pub secret: Secret,
    /// When the service will stop accepting it.
    pub expires_at: Instant,
    /// When this process got it.
    pub issued_at: Instant,
    /// Which fetch of its provider produced it, from 1.
    pub generation: u64,
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &self.secret)
            .field("generation", &self.generation)
            .finish()
    }
}

/// Gets and caches access tokens for one app or user in one tenant.
pub struct TokenProvider {
    http: reqwest::Client,
    token_url: String,
    tenant: String,
    scope: String,
    client_id: String,
    credential: Credential,
    refresh_before: Duration,
    cached: tokio::sync::Mutex<Option<AccessToken>>,
    /// A user's refresh token, once there is one.
    refresh: std::sync::Mutex<Option<Secret>>,
    /// Where users' refresh tokens are kept between runs.
    disk: Option<Arc<cache::TokenCache>>,
    /// Whether a device-code prompt may appear.
    prompts: std::sync::atomic::AtomicBool,
    /// Seconds this machine's clock was ahead of the sign-in service's at the last answer,
    /// from its `Date` header.
    skew: Arc<std::sync::Mutex<Option<i64>>>,
    fetches: AtomicU64,
}

/// Failures of the HTTP exchange under `oauth2`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

impl TokenProvider {
    /// A provider for `client_id` (the app, or the public client users sign in through) in
    /// `tenant`, asking `token_url` for `scope`. Tokens are renewed `refresh_before` ahead of
    /// expiry (Entra's last five minutes by default), or at half their life when that is
    /// shorter.
    pub fn new(
        http: reqwest::Client,
        token_url: &str,
        tenant: &str,
        scope: &str,
        client_id: &str,
        credential: Credential,
        refresh_before: Duration,
    ) -> Result<Self, AuthError> {
        crate::cloud::require_https(token_url).map_err(|e| AuthError::Credential {
            what: e.to_string(),
        })?;
        Ok(TokenProvider {
            http,
            token_url: token_url.to_string(),
            tenant: tenant.to_string(),
            scope: scope.to_string(),
            client_id: client_id.to_string(),
            credential,
            refresh_before,
            cached: tokio::sync::Mutex::new(None),
            refresh: std::sync::Mutex::new(None),
            disk: None,
            prompts: std::sync::atomic::AtomicBool::new(true),
            skew: Arc::new(std::sync::Mutex::new(None)),
            fetches: AtomicU64::new(0),
        })
    }

    /// Keeps users' refresh tokens in `cache` between runs (app credentials have none).
    pub fn with_cache(mut self, cache: Arc<cache::TokenCache>) -> Self {
        self.disk = Some(cache);
        self
    }

    /// Whether it signs in a user (whose refresh tokens are worth keeping).
    pub fn signs_in_a_user(&self) -> bool {
        self.credential.user().is_some()
    }

    /// The tenant this provider signs in to.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Who signs in: `app <client id>` or `user <upn>`.
    pub fn who(&self) -> String {
        match self.credential.user() {
            Some(user) => format!("user {user}"),
            None => format!("app {}", self.client_id),
        }
    }

    /// How many tokens this provider has fetched.
    pub fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// A token that is good for a while yet: the cached one, or a new one.
    pub async fn token(&self) -> Result<AccessToken, AuthError> {
        let mut cached = self.cached.lock().await;
        if let Some(token) = cached.as_ref()
            && !self.due(token)
        {
            return Ok(token.clone());
        }
        // The lock is held across the request: whoever else needs a token now waits for this
        // one rather than asking again.
        match self.fetch().await {
            Ok(token) => {
                *cached = Some(token.clone());
                Ok(token)
            }
            // An early renewal that fails leaves a token that still works: use it, and try
            // again on the next call.
            Err(e) => match cached.as_ref() {
                Some(token) if token.expires_at > Instant::now() + Duration::from_secs(5) => {
                    Ok(token.clone())
                }
                _ => Err(e),
            },
        }
    }

    /// Drops `rejected` after the service refused it (401), unless a newer token already
    /// replaced it, so that many calls failing at once cause one new request.
    pub async fn reject(&self, rejected: &AccessToken) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| t.generation == rejected.generation)
        {
            *cached = None;
        }
    }

    fn due(&self, token: &AccessToken) -> bool {
        let life = token.expires_at.saturating_duration_since(token.issued_at);
        let margin = self.refresh_before.min(life / 2);
        Instant::now() + margin >= token.expires_at
    }

    async fn fetch(&self) -> Result<AccessToken, AuthError> {
        match &self.credential {
            Credential::AccessToken(source) => self.ready_token(source).await,
            Credential::Password { user, .. } | Credential::DeviceCode { user, .. } => {
                self.user_token(user).await
            }
            _ => self.app_token().await,
        }
    }

    /// Client credentials: a secret, a certificate's assertion or a federated token.
    async fn app_token(&self) -> Result<AccessToken, AuthError> {
        let mut client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(self.token_uri()?)
            .set_auth_type(AuthType::RequestBody);
        let assertion = match &self.credential {
            Credential::Secret(secret) => {
                client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
                None
            }
            Credential::Certificate { certificate, key } => {
                Some(self.assertion(certificate, key).await?)
            }
            Credential::Federated { token_file } => Some(read_federated(token_file)?),
            _ => None,
        };
        let mut request = client
            .exchange_client_credentials()
            .add_scope(Scope::new(self.scope.clone()));
        if let Some(assertion) = &assertion {
            request = request
                .add_extra_param(
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                )
                .add_extra_param("client_assertion", assertion.expose());
        }
        let started = Instant::now();
        let send = self.sender();
        let response = request
            .request_async(&send)
            .await
            .map_err(|e| self.refused(e))?;
        Ok(self.accept(&response, started))
    }

    /// A user's token: from the refresh token when there is one, else by password or device
    /// code. The refresh token that comes back is kept, in memory and on disk.
    async fn user_token(&self, user: &str) -> Result<AccessToken, AuthError> {
        let key = cache::Key {
            token_url: self.token_url.clone(),
            client_id: self.client_id.clone(),
            user: user.to_ascii_lowercase(),
        };
        let mut remembered = lock(&self.refresh).clone();
        if remembered.is_none()
            && let Some(d) = &self.disk
        {
            let (d, key) = (Arc::clone(d), key.clone());
            remembered = tokio::task::spawn_blocking(move || d.get(&key))
                .await
                .ok()
                .flatten();
        }
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(self.token_uri()?)
            .set_auth_type(AuthType::RequestBody);
        let send = self.sender();
        let scopes = [
            Scope::new(self.scope.clone()),
            Scope::new("offline_access".into()),
        ];
        let started = Instant::now();
        let mut response = None;
        if let Some(refresh) = remembered {
            let token = oauth2::RefreshToken::new(refresh.expose().to_string());
            match client
                .exchange_refresh_token(&token)
                .add_scopes(scopes.clone())
                .request_async(&send)
                .await
            {
                Ok(r) => response = Some(r),
                // Revoked, expired, or the user must sign in again: forget it. Any other
                // refusal (the service busy) leaves it for the next try.
                Err(RequestTokenError::ServerResponse(r))
                    if matches!(r.code().as_str(), "invalid_grant" | "interaction_required") =>
                {
                    self.forget(&key).await;
                }
                Err(e) => return Err(self.refused(e)),
            }
        }
        let response = match (response, &self.credential) {
            (Some(r), _) => r,
            (None, Credential::Password { password, .. }) => {
                let name = oauth2::ResourceOwnerUsername::new(user.to_string());
                let secret = oauth2::ResourceOwnerPassword::new(password.expose().to_string());
                client
                    .exchange_password(&name, &secret)
                    .add_scopes(scopes)
                    .request_async(&send)
                    .await
                    .map_err(|e| self.refused(e))?
            }
            (None, Credential::DeviceCode { prompt, .. }) => {
                // Mid-run, a prompt would land among the progress bars and wait for someone
                // who may not be there: fail the tenant with what to do instead.
                if !self.prompts.load(Ordering::Relaxed) {
                    return Err(AuthError::Credential {
                        what: format!(
                            "the sign-in of {user} to {} has ended and cannot be renewed without a prompt: sign in again with `tenantry connect`",
                            self.tenant
                        ),
                    });
                }
                self.device_code(user, prompt.as_ref()).await?
            }
            (None, _) => {
                return Err(AuthError::Credential {
                    what: "not a user credential".into(),
                });
            }
        };
        let token = self.accept(&response, started);
        // Single sign-on can pick another account than the one the playbook names.
        let claims = jwt::parse(token.secret.expose()).ok();
        let signed_in = claims.as_ref().and_then(|t| {
            ["upn", "preferred_username", "unique_name"]
                .iter()
                .find_map(|c| t.claim_str(c).map(str::to_string))
        });
        if let Some(actual) = signed_in
            && !actual.eq_ignore_ascii_case(user)
        {
            self.forget(&key).await;
            return Err(AuthError::WrongUser {
                tenant: self.tenant.clone(),
                expected: user.to_string(),
                actual,
            });
        }
        if let Some(refresh) = response.refresh_token() {
            let refresh = Secret::new(refresh.secret().clone());
            *lock(&self.refresh) = Some(refresh.clone());
            if let Some(d) = &self.disk {
                let (d, key, tenant) = (Arc::clone(d), key.clone(), self.tenant.clone());
                let path = d.path();
                // File work off the runtime's thread: many tenants may renew at once.
                let saved =
                    tokio::task::spawn_blocking(move || d.put(&key, &tenant, &refresh)).await;
                if let Ok(Err(e)) = saved {
                    // The run goes on; only the next run will ask again.
                    eprintln!(
                        "warning: cannot keep the sign-in for {user} in {}: {e}",
                        path.display()
                    );
                }
            }
        }
        Ok(token)
    }

    /// Forgets a refresh token that no longer serves, in memory and on disk.
    async fn forget(&self, key: &cache::Key) {
        *lock(&self.refresh) = None;
        if let Some(d) = &self.disk {
            let (d, key) = (Arc::clone(d), key.clone());
            let _ = tokio::task::spawn_blocking(move || d.remove(&key)).await;
        }
    }

    /// How many seconds this machine's clock was ahead of the sign-in service's (negative:
    /// behind) when it last answered; `None` before any answer with a `Date` header.
    pub fn clock_skew(&self) -> Option<i64> {
        *lock(&self.skew)
    }

    /// From now on, a user whose sign-in ends gets an error rather than a device-code
    /// prompt (a run calls this once people have signed in, before its progress bars).
    pub fn forbid_prompts(&self) {
        self.prompts.store(false, Ordering::Relaxed);
    }

    /// The device-code flow: one prompt on screen at a time, then polling until the user
    /// has signed in, declined, or let the code expire.
    async fn device_code(
        &self,
        user: &str,
        prompt: &dyn DevicePrompt,
    ) -> Result<oauth2::basic::BasicTokenResponse, AuthError> {
        let send = self.sender();
        let device_url = self
            .token_url
            .strip_suffix("/token")
            .map(|base| format!("{base}/devicecode"))
            .ok_or_else(|| AuthError::Credential {
                what: format!("{} does not end in /token", self.token_url),
            })?;
        let device_url = oauth2::DeviceAuthorizationUrl::new(device_url.clone()).map_err(|e| {
            AuthError::Credential {
                what: format!("the device-code endpoint {device_url} is not a URL: {e}"),
            }
        })?;
        let client = BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_token_uri(self.token_uri()?)
            .set_device_authorization_url(device_url)
            .set_auth_type(AuthType::RequestBody);
        let _on_screen = PROMPT.lock().await;
        let details: oauth2::DeviceAuthorizationResponse<EntraDeviceFields> = client
            .exchange_device_code()
            .add_scope(Scope::new(self.scope.clone()))
            .add_scope(Scope::new("offline_access".into()))
            .request_async(&send)
            .await
            .map_err(|e| self.refused(e))?;
        let message = details.extra_fields().message.clone().unwrap_or_else(|| {
            format!(
                "open {} and enter the code {}",
                details.verification_uri().as_str(),
                details.user_code().secret()
            )
        });
        prompt.show(&self.tenant, user, &message);
        client
            .exchange_device_access_token(&details)
            .request_async(&send, tokio::time::sleep, None)
            .await
            .map_err(|e| self.refused(e))
    }

    /// A token given ready-made: its lifetime is read from its `exp` claim when it has one.
    async fn ready_token(&self, source: &TokenSource) -> Result<AccessToken, AuthError> {
        let text = match source {
            TokenSource::Env(var) => std::env::var(var).map_err(|_| AuthError::Credential {
                what: format!("the environment variable {var} (token_env) is not set"),
            })?,
            TokenSource::Command(command) => run_token_command(command).await?,
        };
        let text = text.trim().trim_start_matches("Bearer ").trim().to_string();
        if text.is_empty() {
            return Err(AuthError::Credential {
                what: "the access token given is empty".into(),
            });
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let exp = jwt::parse(&text).ok().and_then(|t| t.claim_i64("exp"));
        let left = match exp {
            Some(exp) if exp <= now => {
                return Err(AuthError::Credential {
                    what: format!(
                        "the access token given expired {}s ago: get a new one",
                        now - exp
                    ),
                });
            }
            Some(exp) => Duration::from_secs((exp - now) as u64),
            // Not a JWT we can read: assume an hour, Entra's usual lifetime.
            None => Duration::from_secs(3600),
        };
        let issued = Instant::now();
        Ok(AccessToken {
            secret: Secret::new(text),
            expires_at: issued + left,
            issued_at: issued,
            generation: self.fetches.fetch_add(1, Ordering::Relaxed) + 1,
        })
    }

    fn token_uri(&self) -> Result<TokenUrl, AuthError> {
        TokenUrl::new(self.token_url.clone()).map_err(|e| AuthError::Credential {
            what: format!("the token endpoint {} is not a URL: {e}", self.token_url),
        })
    }

    /// The HTTP exchange for `oauth2`, over our own client (no redirects, https only).
    fn sender(
        &self,
    ) -> impl Fn(
        oauth2::HttpRequest,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<oauth2::HttpResponse, HttpError>> + Send>,
    > + use<> {
        let http = self.http.clone();
        let skew = Arc::clone(&self.skew);
        move |req: oauth2::HttpRequest| {
            let http = http.clone();
            let skew = Arc::clone(&skew);
            Box::pin(async move {
                let (parts, body) = req.into_parts();
                // Its own limit: a stuck sign-in endpoint must not hold the tenant for the
                // admin API's sixteen minutes.
                let mut builder = http
                    .request(parts.method, parts.uri.to_string())
                    .timeout(Duration::from_secs(30))
                    .body(body);
                for (name, value) in &parts.headers {
                    builder = builder.header(name, value);
                }
                let response = builder.send().await.map_err(|e| HttpError(describe(&e)))?;
                if let Some(server) = response
                    .headers()
                    .get("date")
                    .and_then(|d| d.to_str().ok())
                    .and_then(parse_http_date)
                {
                    let local = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs() as i64);
                    *lock(&skew) = Some(local - server);
                }
                let mut out = oauth2::http::Response::builder().status(response.status());
                for (name, value) in response.headers() {
                    out = out.header(name, value);
                }
                let bytes = response
                    .bytes()
                    .await
                    .map_err(|e| HttpError(describe(&e)))?;
                out.body(bytes.to_vec())
                    .map_err(|e| HttpError(e.to_string()))
            })
        }
    }

    /// An access token from a token response received at `started`.
    fn accept(
        &self,
        response: &oauth2::basic::BasicTokenResponse,
        started: Instant,
    ) -> AccessToken {
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(3600));
        AccessToken {
            secret: Secret::new(response.access_token().secret().clone()),
            expires_at: started + lifetime,
            issued_at: started,
            generation: self.fetches.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }

    /// An `oauth2` failure as one of ours.
    fn refused<T>(&self, e: RequestTokenError<HttpError, T>) -> AuthError
    where
        T: oauth2::ErrorResponse + ServerError,
    {
        match e {
            RequestTokenError::ServerResponse(r) => AuthError::Refused {
                who: self.who(),
                tenant: self.tenant.clone(),
                code: r.code(),
                description: r
                    .description()
                    .map(|d| {
                        d.split(" Trace ID:")
                            .next()
                            .unwrap_or(&d)
                            .trim()
                            .to_string()
                    })
                    .unwrap_or_default(),
            },
            RequestTokenError::Request(e) => AuthError::Unreachable {
                url: self.token_url.clone(),
                reason: e.to_string(),
            },
            RequestTokenError::Parse(e, _) => AuthError::Unexpected {
                url: self.token_url.clone(),
                reason: e.to_string(),
            },
            RequestTokenError::Other(e) => AuthError::Unexpected {
                url: self.token_url.clone(),
                reason: e,
            },
        }
    }

    /// A `private_key_jwt` client assertion for one token request.
    async fn assertion(
        &self,
        certificate: &Certificate,
        key: &Arc<rsa::PrivateKey>,
    ) -> Result<Secret, AuthError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let mut header = Map::new();
        header.insert("x5t".into(), certificate.x5t.clone().into());
        let jti = format!("{:x}-{}", now, self.fetches.load(Ordering::Relaxed) + 1);
        let claims = json!({
            "aud": self.token_url,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": jti,
            "nbf": now - 5,
            "iat": now,
            "exp": now + 600,
        });
        let Value::Object(claims) = claims else {
            return Err(AuthError::Credential {
                what: "assertion claims".into(),
            });
        };
        // An RSA signature takes a millisecond or more: off the runtime's threads, so a run
        // signing in to many tenants does not stall the calls of those already signed in.
        let key = Arc::clone(key);
        let signed =
            tokio::task::spawn_blocking(move || jwt::sign(header, &claims, Algorithm::Rs256, &key))
                .await
                .map_err(|e| AuthError::Credential {
                    what: format!("cannot sign the client assertion: {e}"),
                })?;
        signed.map(Secret::new).map_err(|e| AuthError::Credential {
            what: format!("cannot sign the client assertion: {e}"),
        })
    }
}

/// The extra field Entra's device-code answer carries: the sentence to show the user.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
pub struct EntraDeviceFields {
    /// "To sign in, use a web browser to open the page … and enter the code …".
    #[serde(default)]
    message: Option<String>,
}

impl oauth2::ExtraDeviceAuthorizationFields for EntraDeviceFields {}

/// The error code and description of a token endpoint's refusal, whatever the flow.
trait ServerError {
    fn code(&self) -> String;
    fn description(&self) -> Option<String>;
}

impl<T: oauth2::ErrorResponseType + AsRef<str>> ServerError for oauth2::StandardErrorResponse<T> {
    fn code(&self) -> String {
        self.error().as_ref().to_string()
    }

    fn description(&self) -> Option<String> {
        self.error_description().cloned()
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The platform's token for workload identity federation, read afresh for each sign-in.
fn read_federated(path: &Path) -> Result<Secret, AuthError> {
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

/// Runs `command` in the platform's shell and takes its standard output as a token.
async fn run_token_command(command: &str) -> Result<String, AuthError> {
    let mut cmd = if cfg!(windows) {
        let mut c = tokio::process::Command::new("cmd");
        c.args(["/C", command]);
        c
    } else {
        let mut c = tokio::process::Command::new("sh");
        c.args(["-c", command]);
        c
    };
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let name = program(command);
    let output = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .map_err(|_| AuthError::Credential {
            what: format!("token_command ({name} …) did not finish within 120s"),
        })?
        .map_err(|e| AuthError::Credential {
            what: format!("cannot run token_command ({name} …): {e}"),
        })?;
    if !output.status.success() {
        // Its standard error, not its output: the output may hold part of a token.
        let why = String::from_utf8_lossy(&output.stderr);
        let why = why.lines().next().unwrap_or("").trim();
        return Err(AuthError::Credential {
            what: format!("token_command ({name} …) failed ({}): {why}", output.status),
        });
    }
    String::from_utf8(output.stdout).map_err(|_| AuthError::Credential {
        what: format!("token_command ({name} …) printed something that is not text"),
    })
}

/// Seconds since the epoch of an HTTP date (`Sun, 06 Nov 1994 08:49:37 GMT`).
fn parse_http_date(text: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let month = MONTHS.iter().position(|m| m == month)? as i64 + 1;
    let (day, year): (i64, i64) = (day.parse().ok()?, year.parse().ok()?);
    let hms: Vec<i64> = time
        .split(':')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    let [h, m, s] = hms.as_slice() else {
        return None;
    };
    Some(
        tenantry_common::calendar::days_from_civil(year, month, day) * 86_400
            + h * 3600
            + m * 60
            + s,
    )
}

/// One line for a transport error, without the request's URL parameters.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else {
        "request failed"
    };
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(s) = source {
        detail = s.to_string();
        source = s.source();
    }
    if detail.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {detail}")
    }
}
