//! App-only sign-in to Microsoft Entra ID (client credentials, by secret or by certificate) and
//! the access-token cache that the admin API client draws from.
//!
//! Tokens are requested through the `oauth2` crate. A certificate signs a `private_key_jwt`
//! client assertion (RS256, `x5t` thumbprint header), as MSAL does. Each provider caches one
//! token and refreshes it single-flight: concurrent callers wait for one request instead of each
//! starting their own, both before expiry and after the service rejects a token.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};
use serde_json::{Map, Value, json};

use crate::jwt::{self, Algorithm, Certificate};

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

/// How an app proves who it is.
#[derive(Clone, Debug)]
pub enum AppCredential {
    /// A client secret.
    Secret(Secret),
    /// A certificate and its private key: each token request carries a fresh signed assertion.
    Certificate {
        /// The certificate registered for the app.
        certificate: Box<Certificate>,
        /// Its private key, shared with the thread that signs assertions.
        key: Arc<rsa::PrivateKey>,
    },
}

impl AppCredential {
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
        if key.to_public_key() != certificate.public_key {
            return Err(AuthError::Credential {
                what: format!(
                    "the private key does not belong to the certificate {} (thumbprint {})",
                    certificate.subject, certificate.thumbprint
                ),
            });
        }
        Ok(AppCredential::Certificate {
            certificate: Box::new(certificate),
            key: Arc::new(key),
        })
    }
}

/// Why no token could be had; each message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Entra ID refused the request.
    #[error("sign-in refused for app {app_id} in {tenant}: {description}{}", advice(.code))]
    Refused {
        /// The app.
        app_id: String,
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
}

/// A hint after Entra's own words, for the refusals administrators meet most.
fn advice(code: &str) -> &'static str {
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

/// Gets and caches app-only tokens for one app in one tenant.
pub struct TokenProvider {
    http: reqwest::Client,
    token_url: String,
    tenant: String,
    scope: String,
    app_id: String,
    credential: AppCredential,
    refresh_before: Duration,
    cached: tokio::sync::Mutex<Option<AccessToken>>,
    fetches: AtomicU64,
}

/// Failures of the HTTP exchange under `oauth2`.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

impl TokenProvider {
    /// A provider for `app_id` in `tenant`, asking `token_url` for `scope`. Tokens are renewed
    /// `refresh_before` ahead of expiry (Entra's last five minutes by default), or at half
    /// their life when that is shorter.
    pub fn new(
        http: reqwest::Client,
        token_url: &str,
        tenant: &str,
        scope: &str,
        app_id: &str,
        credential: AppCredential,
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
            app_id: app_id.to_string(),
            credential,
            refresh_before,
            cached: tokio::sync::Mutex::new(None),
            fetches: AtomicU64::new(0),
        })
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
        let token_url =
            TokenUrl::new(self.token_url.clone()).map_err(|e| AuthError::Credential {
                what: format!("the token endpoint {} is not a URL: {e}", self.token_url),
            })?;
        let mut client = BasicClient::new(ClientId::new(self.app_id.clone()))
            .set_token_uri(token_url)
            .set_auth_type(AuthType::RequestBody);
        let assertion = match &self.credential {
            AppCredential::Secret(secret) => {
                client = client.set_client_secret(ClientSecret::new(secret.expose().to_string()));
                None
            }
            AppCredential::Certificate { certificate, key } => {
                Some(self.assertion(certificate, key).await?)
            }
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
        let http = self.http.clone();
        let send = move |req: oauth2::HttpRequest| {
            let http = http.clone();
            async move {
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
            }
        };
        let started = Instant::now();
        let response = request.request_async(&send).await.map_err(|e| match e {
            RequestTokenError::ServerResponse(r) => AuthError::Refused {
                app_id: self.app_id.clone(),
                tenant: self.tenant.clone(),
                code: r.error().to_string(),
                description: r
                    .error_description()
                    .map(|d| d.split(" Trace ID:").next().unwrap_or(d).trim().to_string())
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
        })?;
        let lifetime = response.expires_in().unwrap_or(Duration::from_secs(3600));
        let generation = self.fetches.fetch_add(1, Ordering::Relaxed) + 1;
        Ok(AccessToken {
            secret: Secret::new(response.access_token().secret().clone()),
            expires_at: started + lifetime,
            issued_at: started,
            generation,
        })
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
            "iss": self.app_id,
            "sub": self.app_id,
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
