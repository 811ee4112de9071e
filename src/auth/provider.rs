//! [`TokenProvider`]: one access token cached per app or user and tenant, renewed ahead of
//! expiry and after the service rejects it, single-flight, so concurrent callers wait for
//! one request instead of each starting their own.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use oauth2::TokenResponse;

use super::{AuthError, Credential, Secret, cache};

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
    /// The signed-in person (the token's `upn`) when the token is a user's, for routing;
    /// `None` for an app's token, or one that cannot be read.
    pub user: Option<String>,
    /// The tenant GUID the token was issued in (its `tid`), when it can be read.
    pub tenant_id: Option<String>,
}

/// What routing needs of a token, read from its claims once when it arrives: the signed-in
/// person when it is a delegated (user) token (its `upn`, else `unique_name` or
/// `preferred_username`; app tokens carry `roles` and no user), and the tenant GUID (`tid`).
pub(crate) fn token_routing(token: &str) -> (Option<String>, Option<String>) {
    let Ok(parsed) = tenantry_common::jwt::parse(token) else {
        return (None, None);
    };
    let text = |claim: &str| {
        parsed
            .claim_str(claim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let delegated = parsed.claims.contains_key("scp") || parsed.claim_str("idtyp") == Some("user");
    let user = delegated
        .then(|| {
            ["upn", "unique_name", "preferred_username"]
                .into_iter()
                .find_map(text)
        })
        .flatten();
    (user, text("tid").map(|t| t.to_ascii_lowercase()))
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
    pub(super) http: reqwest::Client,
    pub(super) token_url: String,
    pub(super) tenant: String,
    pub(super) scope: String,
    pub(super) client_id: String,
    pub(super) credential: Credential,
    pub(super) refresh_before: Duration,
    pub(super) cached: tokio::sync::Mutex<Option<AccessToken>>,
    /// A user's refresh token, once there is one.
    pub(super) refresh: std::sync::Mutex<Option<Secret>>,
    /// Where users' refresh tokens are kept between runs.
    pub(super) disk: Option<Arc<cache::TokenCache>>,
    /// Whether a device-code prompt may appear.
    pub(super) prompts: std::sync::atomic::AtomicBool,
    /// Seconds this machine's clock was ahead of the sign-in service's at the last answer,
    /// from its `Date` header.
    pub(super) skew: Arc<std::sync::Mutex<Option<i64>>>,
    pub(super) fetches: AtomicU64,
    /// Where every sign-in request and answer is written (`--trace`), when asked.
    pub(super) trace: Option<Arc<crate::trace::Trace>>,
}

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
            trace: None,
        })
    }

    /// Keeps users' refresh tokens in `cache` between runs (app credentials have none).
    pub fn with_cache(mut self, cache: Arc<cache::TokenCache>) -> Self {
        self.disk = Some(cache);
        self
    }

    /// Writes every sign-in request and its answer to `trace`.
    pub fn with_trace(mut self, trace: Arc<crate::trace::Trace>) -> Self {
        self.trace = Some(trace);
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

    /// An access token from a token response received at `started`.
    pub(super) fn accept(
        &self,
        response: &oauth2::basic::BasicTokenResponse,
        started: Instant,
    ) -> AccessToken {
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(3600));
        let secret = response.access_token().secret();
        let (user, tenant_id) = token_routing(secret);
        AccessToken {
            user,
            tenant_id,
            secret: Secret::new(secret.clone()),
            expires_at: started + lifetime,
            issued_at: started,
            generation: self.fetches.fetch_add(1, Ordering::Relaxed) + 1,
        }
    }
}

pub(super) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
