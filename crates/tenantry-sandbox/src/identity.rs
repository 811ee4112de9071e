//! The sandbox's Microsoft Entra ID: app registrations, users, the v2.0 token and device-code
//! endpoints, and verification of the access tokens it issued.
//!
//! Error bodies follow Entra's shape (`error`, `error_description` starting with an AADSTS
//! code, `error_codes`, `timestamp`, `trace_id`, `correlation_id`), so clients can be tested on
//! the messages administrators actually see.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rsa::{PrivateKey, PublicKey};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::clock::{entra_timestamp, now_secs};
use super::rng::Rng;
use tenantry_common::jwt::{self, Algorithm, Certificate};

/// The resource URI of Exchange Online.
pub const EXCHANGE_RESOURCE: &str = "https://outlook.office365.com";
/// The app id of "Office 365 Exchange Online", the other form of its audience.
pub const EXCHANGE_APP_ID: &str = "00000002-0000-0ff1-ce00-000000000000";
/// The public client id of the ExchangeOnlineManagement module, used for device code and
/// password sign-in.
pub const EXO_PUBLIC_CLIENT: &str = "fb78d390-0c51-40cd-8e17-fdbfab77341b";
/// The app role that lets an app run Exchange cmdlets through beta/v1.0.
pub const ROLE_MANAGE_AS_APP: &str = "Exchange.ManageAsApp";
/// The app role the v2.0 admin API requires.
pub const ROLE_MANAGE_AS_APP_V2: &str = "Exchange.ManageAsAppV2";
/// The delegated scope for Exchange administration.
pub const SCOPE_MANAGE: &str = "Exchange.Manage";
/// The delegated scope the v2.0 admin API requires.
pub const SCOPE_MANAGE_V2: &str = "Exchange.ManageV2";
/// The Entra role template id of Exchange Administrator (`wids` claim).
pub const EXCHANGE_ADMINISTRATOR: &str = "29232cdf-9323-42fd-ade2-1d097af3e4de";
/// The Entra role template id of Global Reader.
pub const GLOBAL_READER: &str = "f2ef992c-3afb-46b9-b7cf-a126ee74c451";
/// The audience a workload token must carry for Entra to exchange it (federated credentials).
pub const WORKLOAD_AUDIENCE: &str = "api://AzureADTokenExchange";
/// The path, under the sandbox's base URL, of the workload OIDC issuer the sandbox plays.
pub const WORKLOAD_ISSUER_PATH: &str = "/sandbox/workload";
/// The subject of the admin app's federated credential (a Kubernetes service account).
pub const WORKLOAD_SUBJECT: &str = "system:serviceaccount:tenantry:runner";
/// The subject of the reader app's federated credential.
pub const WORKLOAD_READER_SUBJECT: &str = "system:serviceaccount:tenantry:reader";
/// The lifetime of a workload token when none is asked for, in seconds.
pub const WORKLOAD_TOKEN_LIFETIME: i64 = 600;
/// The key id of the workload issuer's signing key.
const WORKLOAD_KID: &str = "sandbox-workload-1";
/// The `client_assertion_type` of JWT client assertions, certificate or federated.
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

const ISSUER_KEY: &str = include_str!("keys/issuer.key");
/// The sample app certificate (public test material, printed by `tenantry sandbox`).
pub const APP_CERTIFICATE: &str = include_str!("keys/app.crt");
/// The private key of [`APP_CERTIFICATE`] (public test material: never use it elsewhere).
pub const APP_PRIVATE_KEY: &str = include_str!("keys/app.key");

/// A sample app registration, consented in every sandbox tenant.
#[derive(Clone, Debug, Serialize)]
pub struct App {
    /// What the app is for.
    pub name: &'static str,
    /// Its application (client) id.
    pub client_id: &'static str,
    /// Its client secret.
    pub client_secret: &'static str,
    /// Whether [`APP_CERTIFICATE`] is registered for it.
    pub certificate: bool,
    /// The subject of its federated identity credential, if it has one (issuer: the sandbox's
    /// workload issuer, audience [`WORKLOAD_AUDIENCE`]).
    pub federated_subject: Option<&'static str>,
    /// App roles granted (admin consent); empty for the unconsented app.
    pub roles: &'static [&'static str],
    /// The Entra directory role assigned to its service principal.
    pub directory_role: Option<&'static str>,
}

/// A sample user, present in every sandbox tenant as `<name>@<tenant domain>`.
#[derive(Clone, Debug, Serialize)]
pub struct User {
    /// The part before `@`.
    pub name: &'static str,
    /// The password.
    pub password: &'static str,
    /// Whether sign-in requires MFA, so the password grant is refused.
    pub mfa: bool,
    /// The Entra directory role.
    pub directory_role: Option<&'static str>,
}

/// The sandbox's sample apps.
pub const APPS: &[App] = &[
    App {
        name: "admin app (Exchange Administrator)",
        client_id: "5d1e9c1a-7b0e-4f3a-9c6d-0a7e5a11ad01",
        client_secret: "sbx~admin-app-secret~0001",
        certificate: true,
        federated_subject: Some(WORKLOAD_SUBJECT),
        roles: &[ROLE_MANAGE_AS_APP, ROLE_MANAGE_AS_APP_V2],
        directory_role: Some(EXCHANGE_ADMINISTRATOR),
    },
    App {
        name: "reader app (Global Reader: Get- cmdlets only)",
        client_id: "5d1e9c1a-7b0e-4f3a-9c6d-0a7e5a11ad02",
        client_secret: "sbx~reader-app-secret~0002",
        certificate: true,
        federated_subject: Some(WORKLOAD_READER_SUBJECT),
        roles: &[ROLE_MANAGE_AS_APP],
        directory_role: Some(GLOBAL_READER),
    },
    App {
        name: "unconsented app (no admin consent: its tokens carry no roles)",
        client_id: "5d1e9c1a-7b0e-4f3a-9c6d-0a7e5a11ad03",
        client_secret: "sbx~unconsented-secret~0003",
        certificate: false,
        federated_subject: None,
        roles: &[],
        directory_role: None,
    },
];

/// The sandbox's sample users.
pub const USERS: &[User] = &[
    User {
        name: "admin",
        password: "Sandbox-Admin-1",
        mfa: true,
        directory_role: Some(EXCHANGE_ADMINISTRATOR),
    },
    User {
        name: "legacy.admin",
        password: "Sandbox-Legacy-1",
        mfa: false,
        directory_role: Some(EXCHANGE_ADMINISTRATOR),
    },
    User {
        name: "reader",
        password: "Sandbox-Reader-1",
        mfa: false,
        directory_role: Some(GLOBAL_READER),
    },
];

/// The tenant a token request is for.
#[derive(Clone, Debug)]
pub struct TenantRef<'a> {
    /// The initial domain.
    pub domain: &'a str,
    /// The tenant GUID.
    pub id: &'a str,
}

/// An Entra-style OAuth2 error.
#[derive(Clone, Debug)]
pub struct OAuthError {
    /// HTTP status: 400, or 401 for a bad client credential.
    pub status: u16,
    /// The OAuth2 error code (`invalid_client`, `authorization_pending`, …).
    pub error: &'static str,
    /// The AADSTS number.
    pub code: u32,
    /// The text after `AADSTSnnn: `.
    pub description: String,
}

impl OAuthError {
    fn new(status: u16, error: &'static str, code: u32, description: impl Into<String>) -> Self {
        OAuthError {
            status,
            error,
            code,
            description: description.into(),
        }
    }

    /// The body Entra sends.
    pub fn body(&self, trace_id: &str, correlation_id: &str) -> Value {
        let now = entra_timestamp(now_secs());
        json!({
            "error": self.error,
            "error_description": format!(
                "AADSTS{}: {} Trace ID: {trace_id} Correlation ID: {correlation_id} Timestamp: {now}",
                self.code, self.description
            ),
            "error_codes": [self.code],
            "timestamp": now,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={}", self.code),
        })
    }
}

/// What a verified access token says about its caller.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The tenant the token was issued in.
    pub tid: String,
    /// The audience.
    pub aud: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// App roles (app-only tokens).
    pub roles: Vec<String>,
    /// Delegated scopes (user tokens).
    pub scopes: Vec<String>,
    /// Entra directory role template ids.
    pub wids: Vec<String>,
    /// The signed-in user, for delegated tokens.
    pub upn: Option<String>,
    /// The client app id.
    pub appid: String,
    /// The issuing sequence number (1 for the first token).
    pub seq: u64,
}

impl Caller {
    /// Whether the caller may use an admin API path version (`beta`, `v1.0`, `v2.0`).
    pub fn permitted(&self, version: &str) -> bool {
        let (role, scope) = if version == "v2.0" {
            (ROLE_MANAGE_AS_APP_V2, SCOPE_MANAGE_V2)
        } else {
            (ROLE_MANAGE_AS_APP, SCOPE_MANAGE)
        };
        self.roles.iter().any(|r| r == role) || self.scopes.iter().any(|s| s == scope)
    }

    /// Whether the caller's directory role lets it run every cmdlet, not just Get-.
    pub fn full_access(&self) -> bool {
        self.wids.iter().any(|w| w == EXCHANGE_ADMINISTRATOR)
    }
}

/// Why an access token was refused (answered with 401 and `WWW-Authenticate`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRefused(pub &'static str);

#[derive(Debug)]
enum DeviceState {
    Pending,
    Approved(String),
    Declined,
}

#[derive(Debug)]
struct DeviceCode {
    client_id: String,
    tenant_id: String,
    tenant_domain: String,
    user_code: String,
    resource: String,
    expires: Instant,
    interval: Duration,
    last_poll: Option<Instant>,
    state: DeviceState,
}

#[derive(Clone, Debug)]
struct RefreshGrant {
    tenant_id: String,
    tenant_domain: String,
    user: String,
    client_id: String,
}

/// A token issued, counted by grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Grant {
    /// Client credentials with a secret.
    ClientSecret,
    /// Client credentials with a certificate assertion.
    Certificate,
    /// Client credentials with a workload token (federated identity credential).
    Federated,
    /// Resource-owner password.
    Password,
    /// Device code.
    DeviceCode,
    /// Refresh token.
    RefreshToken,
}

impl Grant {
    /// The name statistics count it under.
    pub fn name(self) -> &'static str {
        match self {
            Grant::ClientSecret => "client_secret",
            Grant::Certificate => "certificate",
            Grant::Federated => "federated",
            Grant::Password => "password",
            Grant::DeviceCode => "device_code",
            Grant::RefreshToken => "refresh_token",
        }
    }
}

/// The sandbox's identity provider.
pub struct Identity {
    base_url: String,
    key: PrivateKey,
    public: PublicKey,
    kid: String,
    app_cert: Certificate,
    ttl: Duration,
    device_interval: Duration,
    devices: Mutex<HashMap<String, DeviceCode>>,
    refresh: Mutex<HashMap<String, RefreshGrant>>,
    verified: Mutex<HashMap<String, Arc<Caller>>>,
    rng: Mutex<Rng>,
    serial: AtomicU64,
    /// Seconds this service's clock is ahead of the machine's.
    clock_skew: i64,
}

/// Device-code sign-ins that may wait at once.
const MAX_PENDING_DEVICE_CODES: usize = 10_000;
/// Refresh tokens remembered; past this, the oldest sessions are forgotten.
const MAX_REFRESH_TOKENS: usize = 100_000;

/// Whether an authority segment names no tenant (`common`, `organizations`): the tenant then
/// comes from the user signing in.
pub fn is_generic(tenant: &str) -> bool {
    tenant.eq_ignore_ascii_case("common") || tenant.eq_ignore_ascii_case("organizations")
}

/// How many verified tokens are remembered before the cache starts again.
const VERIFIED_CACHE: usize = 100_000;

impl Identity {
    /// An identity provider answering at `base_url`.
    ///
    /// `app_certificate` is the PEM registered for the sample apps ([`APP_CERTIFICATE`] when
    /// `None`).
    pub fn new(
        base_url: &str,
        ttl: Duration,
        device_interval: Duration,
        app_certificate: Option<&str>,
    ) -> Result<Self, tenantry_common::jwt::JwtError> {
        let key = jwt::private_key_from_pem(ISSUER_KEY)?;
        let public = key.to_public_key();
        let app_cert = Certificate::from_pem(app_certificate.unwrap_or(APP_CERTIFICATE))?;
        // Secrets handed out (device codes, refresh tokens) must differ between runs, unlike
        // the directory, so this generator is seeded from the clock.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Ok(Identity {
            base_url: base_url.trim_end_matches('/').to_string(),
            key,
            public,
            kid: "sandbox-issuer-1".into(),
            app_cert,
            ttl,
            device_interval,
            devices: Mutex::new(HashMap::new()),
            refresh: Mutex::new(HashMap::new()),
            verified: Mutex::new(HashMap::new()),
            rng: Mutex::new(Rng::derive(nanos, "identity")),
            serial: AtomicU64::new(0),
            clock_skew: 0,
        })
    }

    /// Runs this service's clock `seconds` ahead of the machine's (behind when negative).
    pub fn with_clock_skew(mut self, seconds: i64) -> Self {
        self.clock_skew = seconds;
        self
    }

    /// Now, by this service's clock.
    pub fn now(&self) -> i64 {
        now_secs() + self.clock_skew
    }

    fn random_token(&self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut rng = lock(&self.rng);
        (0..len)
            .map(|_| ALPHABET[rng.below(ALPHABET.len() as u64) as usize] as char)
            .collect()
    }

    /// The token lifetime in whole seconds, rounded up, at least one.
    fn ttl_secs(&self) -> i64 {
        (self.ttl.as_secs_f64().ceil() as i64).max(1)
    }

    /// The sequence number the next token will carry, minus one: every token issued so far has
    /// a number at or below it.
    pub fn issued(&self) -> u64 {
        self.serial.load(Ordering::SeqCst)
    }

    /// The OpenID Connect discovery document of a tenant (or `common`).
    pub fn openid_configuration(&self, tenant: &str) -> Value {
        let b = &self.base_url;
        json!({
            "token_endpoint": format!("{b}/{tenant}/oauth2/v2.0/token"),
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": format!("{b}/{tenant}/discovery/v2.0/keys"),
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": format!("{b}/{tenant}/v2.0"),
            "request_uri_parameter_supported": false,
            "userinfo_endpoint": format!("{b}/oidc/userinfo"),
            "authorization_endpoint": format!("{b}/{tenant}/oauth2/v2.0/authorize"),
            "device_authorization_endpoint": format!("{b}/{tenant}/oauth2/v2.0/devicecode"),
            "http_logout_supported": true,
            "frontchannel_logout_supported": true,
            "end_session_endpoint": format!("{b}/{tenant}/oauth2/v2.0/logout"),
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        })
    }

    /// The issuer's signing keys as a JSON Web Key Set.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.jwk(&self.kid)]})
    }

    /// The signing key as a JSON Web Key with this key id.
    fn jwk(&self, kid: &str) -> Value {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use rsa::traits::PublicKeyParts;
        let n = URL_SAFE_NO_PAD.encode(self.public.n().to_be_bytes_trimmed_vartime());
        let e = URL_SAFE_NO_PAD.encode(self.public.e().to_be_bytes_trimmed_vartime());
        json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e})
    }

    /// The issuer URL of the workload identity provider the sandbox plays
    /// (`{base}/sandbox/workload`), as in its tokens' `iss`.
    pub fn workload_issuer(&self) -> String {
        format!("{}{WORKLOAD_ISSUER_PATH}", self.base_url)
    }

    /// The workload issuer's OpenID Connect discovery document.
    pub fn workload_configuration(&self) -> Value {
        let issuer = self.workload_issuer();
        json!({
            "issuer": issuer,
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["iss", "sub", "aud", "exp", "nbf", "iat", "jti"],
        })
    }

    /// The workload issuer's signing keys as a JSON Web Key Set.
    pub fn workload_jwks(&self) -> Value {
        json!({"keys": [self.jwk(WORKLOAD_KID)]})
    }

    /// Mints a workload token as a CI system or Kubernetes would: issued by
    /// [`Identity::workload_issuer`] for `subject`, with `audience` ([`WORKLOAD_AUDIENCE`] when
    /// `None`), expiring `lifetime_secs` from now. At zero or below it is already expired: it
    /// was issued [`WORKLOAD_TOKEN_LIFETIME`] seconds before its expiry.
    pub fn workload_token(
        &self,
        subject: &str,
        audience: Option<&str>,
        lifetime_secs: i64,
    ) -> Result<String, tenantry_common::jwt::JwtError> {
        let now = self.now();
        let exp = now.saturating_add(lifetime_secs);
        let iat = if lifetime_secs > 0 {
            now
        } else {
            exp.saturating_sub(WORKLOAD_TOKEN_LIFETIME)
        };
        let mut claims = Map::new();
        claims.insert("iss".into(), self.workload_issuer().into());
        claims.insert("sub".into(), subject.into());
        claims.insert("aud".into(), audience.unwrap_or(WORKLOAD_AUDIENCE).into());
        claims.insert("iat".into(), iat.into());
        claims.insert("nbf".into(), iat.into());
        claims.insert("exp".into(), exp.into());
        claims.insert("jti".into(), self.random_token(22).into());
        let mut header = Map::new();
        header.insert("kid".into(), WORKLOAD_KID.into());
        jwt::sign(header, &claims, Algorithm::Rs256, &self.key)
    }

    /// The token endpoint (`/{tenant}/oauth2/v2.0/token`).
    pub fn token(
        &self,
        tenant: &TenantRef<'_>,
        form: &HashMap<String, String>,
    ) -> Result<(Value, Grant), OAuthError> {
        let grant_type = form.get("grant_type").map(String::as_str).unwrap_or("");
        if is_generic(tenant.id) && grant_type == "client_credentials" {
            return Err(OAuthError::new(
                400,
                "invalid_request",
                900023,
                format!(
                    "Specified tenant identifier '{}' is neither a valid DNS name, nor a valid external domain. App-only sign-in needs the tenant's own token endpoint.",
                    tenant.id
                ),
            ));
        }
        match grant_type {
            "client_credentials" => self.client_credentials(tenant, form),
            "password" => self.password(tenant, form),
            "refresh_token" => self.refresh_token(tenant, form),
            "urn:ietf:params:oauth:grant-type:device_code" => self.device_token(tenant, form),
            "" => Err(missing("grant_type")),
            other => Err(OAuthError::new(
                400,
                "unsupported_grant_type",
                70003,
                format!("The app requested an unsupported grant type '{other}'."),
            )),
        }
    }

    fn client_credentials(
        &self,
        tenant: &TenantRef<'_>,
        form: &HashMap<String, String>,
    ) -> Result<(Value, Grant), OAuthError> {
        let client_id = required(form, "client_id")?;
        let app = find_app(client_id, tenant)?;
        let resource = resource_of(form, &self.base_url)?;
        if !resource_scope_is_default(form) {
            return Err(OAuthError::new(
                400,
                "invalid_scope",
                1002012,
                "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).",
            ));
        }
        let grant = if let Some(secret) = form.get("client_secret") {
            if secret != app.client_secret {
                return Err(OAuthError::new(
                    401,
                    "invalid_client",
                    7000215,
                    format!(
                        "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                    ),
                ));
            }
            Grant::ClientSecret
        } else if let Some(assertion) = form.get("client_assertion") {
            let kind = form.get("client_assertion_type").map(String::as_str);
            if kind != Some(JWT_BEARER) {
                return Err(OAuthError::new(
                    400,
                    "invalid_request",
                    700011,
                    format!("The client_assertion_type must be '{JWT_BEARER}'."),
                ));
            }
            self.check_client_assertion(app, tenant, assertion)?
        } else {
            return Err(OAuthError::new(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            ));
        };
        let now = self.now();
        let mut claims = self.base_claims(tenant, &resource, now);
        claims.insert("appid".into(), app.client_id.into());
        claims.insert(
            "appidacr".into(),
            if matches!(grant, Grant::Certificate | Grant::Federated) {
                "2"
            } else {
                "1"
            }
            .into(),
        );
        claims.insert("app_displayname".into(), app.name.into());
        let oid = Rng::derive(0, &format!("sp/{}/{}", tenant.id, app.client_id)).guid();
        claims.insert("oid".into(), oid.clone().into());
        claims.insert("sub".into(), oid.into());
        claims.insert("idtyp".into(), "app".into());
        if !app.roles.is_empty() {
            claims.insert("roles".into(), json!(app.roles));
        }
        if let Some(role) = app.directory_role {
            claims.insert("wids".into(), json!([role]));
        }
        Ok((self.token_response(&claims, None)?, grant))
    }

    /// Checks a `client_assertion`: a workload token when it names a federated issuer, else a
    /// certificate assertion made by the app itself.
    fn check_client_assertion(
        &self,
        app: &App,
        tenant: &TenantRef<'_>,
        assertion: &str,
    ) -> Result<Grant, OAuthError> {
        let parsed = jwt::parse(assertion).map_err(|e| malformed(e.to_string()))?;
        let alg = parsed.algorithm().map_err(|e| malformed(e.to_string()))?;
        debug_assert!(matches!(alg, Algorithm::Rs256 | Algorithm::Ps256));
        // An app signs its own assertions (`iss` is a client id) and names its certificate
        // (`x5t`); any other issuer presents a token for a federated credential.
        let iss = parsed.claim_str("iss");
        let thumbprint =
            parsed.header.contains_key("x5t") || parsed.header.contains_key("x5t#S256");
        let own = iss.is_some_and(|iss| APPS.iter().any(|a| a.client_id.eq_ignore_ascii_case(iss)));
        let federated =
            iss == Some(self.workload_issuer().as_str()) || (iss.is_some() && !own && !thumbprint);
        if federated {
            self.check_federated(app, &parsed, alg)?;
            Ok(Grant::Federated)
        } else {
            self.check_assertion(app, tenant, &parsed)?;
            Ok(Grant::Certificate)
        }
    }

    /// Checks a workload token against the app's federated identity credential, in Entra's
    /// order: issuer, signature, validity, audience, subject.
    fn check_federated(
        &self,
        app: &App,
        parsed: &jwt::Parsed,
        alg: Algorithm,
    ) -> Result<(), OAuthError> {
        let issuer = self.workload_issuer();
        let iss = parsed.claim_str("iss").unwrap_or("");
        let sub = parsed.claim_str("sub").unwrap_or("");
        let audiences: Vec<&str> = match parsed.claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.as_str()],
            Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let no_record = || {
            OAuthError::new(
                400,
                "invalid_client",
                70021,
                format!(
                    "No matching federated identity record found for presented assertion. Assertion Issuer: '{iss}'. Assertion Subject: '{sub}'. Assertion Audience: '{}'.",
                    audiences.join(",")
                ),
            )
        };
        // Issuers match exactly, as Entra's federated credentials do.
        let Some(registered) = app.federated_subject.filter(|_| iss == issuer) else {
            return Err(no_record());
        };
        let kid = parsed
            .header
            .get("kid")
            .and_then(Value::as_str)
            .unwrap_or("");
        if kid != WORKLOAD_KID || alg != Algorithm::Rs256 {
            return Err(OAuthError::new(
                401,
                "invalid_client",
                700027,
                format!(
                    "Client assertion failed signature validation. [Reason - The key was not found., Key id of the assertion: '{kid}', algorithm '{}'. The issuer's keys are at '{issuer}/jwks'.]",
                    alg.name()
                ),
            ));
        }
        if parsed.verify(&self.public).is_err() {
            return Err(OAuthError::new(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]",
            ));
        }
        check_validity(parsed, self.now())?;
        if !audiences.contains(&WORKLOAD_AUDIENCE) {
            return Err(OAuthError::new(
                400,
                "invalid_client",
                700212,
                format!(
                    "No matching federated identity record found for presented assertion audience '{}'. Please note that the matching is done using a case-sensitive comparison. The federated identity credential audience is '{WORKLOAD_AUDIENCE}'.",
                    audiences.join(",")
                ),
            ));
        }
        // Subjects match exactly (case-sensitive), as Entra's do.
        if sub != registered {
            return Err(no_record());
        }
        Ok(())
    }

    fn check_assertion(
        &self,
        app: &App,
        tenant: &TenantRef<'_>,
        parsed: &jwt::Parsed,
    ) -> Result<(), OAuthError> {
        let x5t = parsed.header.get("x5t").and_then(Value::as_str);
        let x5t256 = parsed.header.get("x5t#S256").and_then(Value::as_str);
        let presented = x5t256.or(x5t).unwrap_or("");
        let registered = app.certificate
            && (x5t == Some(self.app_cert.x5t.as_str())
                || x5t256 == Some(self.app_cert.x5t_s256.as_str()));
        if !registered {
            return Err(OAuthError::new(
                401,
                "invalid_client",
                700027,
                format!(
                    "Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '{}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{}'.]",
                    thumbprint_hex(presented),
                    app.client_id
                ),
            ));
        }
        if parsed.verify(&self.app_cert.public_key).is_err() {
            return Err(OAuthError::new(
                401,
                "invalid_client",
                700027,
                "Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value.]",
            ));
        }
        let now = self.now();
        if now > self.app_cert.not_after {
            return Err(OAuthError::new(
                401,
                "invalid_client",
                700027,
                format!(
                    "The certificate with identifier used to sign the client assertion is expired on application. [Reason - The key used is expired., Thumbprint of key used by client: '{}']",
                    self.app_cert.thumbprint
                ),
            ));
        }
        let iss = parsed.claim_str("iss");
        let sub = parsed.claim_str("sub");
        if iss != Some(app.client_id) || sub != Some(app.client_id) {
            return Err(OAuthError::new(
                401,
                "invalid_client",
                700021,
                "Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .",
            ));
        }
        let aud = parsed.claim_str("aud").unwrap_or("");
        let endpoints = [
            format!("{}/{}/oauth2/v2.0/token", self.base_url, tenant.domain),
            format!("{}/{}/oauth2/v2.0/token", self.base_url, tenant.id),
            format!("{}/{}/v2.0", self.base_url, tenant.id),
        ];
        if !endpoints.iter().any(|e| e.eq_ignore_ascii_case(aud)) {
            return Err(OAuthError::new(
                401,
                "invalid_client",
                700212,
                format!(
                    "The audience '{aud}' of the client assertion is not the token endpoint '{}'.",
                    endpoints[0]
                ),
            ));
        }
        check_validity(parsed, now)
    }

    fn password(
        &self,
        tenant: &TenantRef<'_>,
        form: &HashMap<String, String>,
    ) -> Result<(Value, Grant), OAuthError> {
        let client_id = required(form, "client_id")?;
        public_client(client_id, tenant)?;
        let username = required(form, "username")?;
        let password = required(form, "password")?;
        let resource = resource_of(form, &self.base_url)?;
        let user = find_user(username, tenant)?;
        if password != user.password {
            return Err(OAuthError::new(
                400,
                "invalid_grant",
                50126,
                "Error validating credentials due to invalid username or password.",
            ));
        }
        if user.mfa {
            return Err(OAuthError::new(
                400,
                "invalid_grant",
                50076,
                format!(
                    "Due to a configuration change made by your administrator, or because you moved to a new location, you must use multi-factor authentication to access '{EXCHANGE_APP_ID}'."
                ),
            ));
        }
        let upn = username.to_ascii_lowercase();
        let response = self.user_token(tenant, &resource, &upn, user, client_id, &["pwd"])?;
        Ok((response, Grant::Password))
    }

    fn user_token(
        &self,
        tenant: &TenantRef<'_>,
        resource: &str,
        upn: &str,
        user: &User,
        client_id: &str,
        amr: &[&str],
    ) -> Result<Value, OAuthError> {
        let now = self.now();
        let mut claims = self.base_claims(tenant, resource, now);
        claims.insert("appid".into(), client_id.into());
        claims.insert("appidacr".into(), "0".into());
        claims.insert("amr".into(), json!(amr));
        let oid = Rng::derive(0, &format!("user/{}/{}", tenant.id, upn)).guid();
        claims.insert("oid".into(), oid.clone().into());
        claims.insert("sub".into(), oid.into());
        claims.insert(
            "scp".into(),
            json!(format!("{SCOPE_MANAGE} {SCOPE_MANAGE_V2}")),
        );
        claims.insert("upn".into(), upn.into());
        claims.insert("unique_name".into(), upn.into());
        claims.insert("name".into(), user.name.into());
        if let Some(role) = user.directory_role {
            claims.insert("wids".into(), json!([role]));
        }
        let refresh = self.random_token(96);
        let mut sessions = lock(&self.refresh);
        if sessions.len() >= MAX_REFRESH_TOKENS {
            sessions.clear();
        }
        sessions.insert(
            refresh.clone(),
            RefreshGrant {
                tenant_id: tenant.id.to_string(),
                tenant_domain: tenant.domain.to_string(),
                user: upn.to_string(),
                client_id: client_id.to_string(),
            },
        );
        self.token_response(&claims, Some(refresh))
    }

    fn refresh_token(
        &self,
        tenant: &TenantRef<'_>,
        form: &HashMap<String, String>,
    ) -> Result<(Value, Grant), OAuthError> {
        let client_id = required(form, "client_id")?;
        let token = required(form, "refresh_token")?;
        let resource = resource_of(form, &self.base_url)?;
        // A refresh token stays valid after use, as Entra's do, until the tenant's sessions are
        // revoked; each use also hands out a new one.
        let grant = lock(&self.refresh).get(token).cloned();
        let Some(grant) = grant else {
            return Err(OAuthError::new(
                400,
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.",
            ));
        };
        if grant.client_id != client_id || !(grant.tenant_id == tenant.id || is_generic(tenant.id))
        {
            return Err(OAuthError::new(
                400,
                "invalid_grant",
                70000,
                "Provided grant is invalid or malformed.",
            ));
        }
        let user = sample_user(&grant.user)?;
        let target = TenantRef {
            domain: &grant.tenant_domain,
            id: &grant.tenant_id,
        };
        let response = self.user_token(
            &target,
            &resource,
            &grant.user,
            user,
            client_id,
            &["pwd", "mfa"],
        )?;
        Ok((response, Grant::RefreshToken))
    }

    /// The device authorization endpoint (`/{tenant}/oauth2/v2.0/devicecode`).
    pub fn device_code(
        &self,
        tenant: &TenantRef<'_>,
        form: &HashMap<String, String>,
    ) -> Result<Value, OAuthError> {
        let client_id = required(form, "client_id")?;
        public_client(client_id, tenant)?;
        let resource = resource_of(form, &self.base_url)?;
        let device_code = self.random_token(64);
        let user_code: String = {
            let mut rng = lock(&self.rng);
            (0..9)
                .map(|_| (b'A' + rng.below(26) as u8) as char)
                .collect()
        };
        let expires_in = 900;
        let uri = format!("{}/sandbox/devicelogin", self.base_url);
        let mut devices = lock(&self.devices);
        let now = Instant::now();
        devices.retain(|_, d| d.expires > now);
        if devices.len() >= MAX_PENDING_DEVICE_CODES {
            return Err(OAuthError::new(
                400,
                "temporarily_unavailable",
                90033,
                "Too many sign-ins are waiting. Complete or let some expire, then try again.",
            ));
        }
        devices.insert(
            device_code.clone(),
            DeviceCode {
                client_id: client_id.to_string(),
                tenant_id: tenant.id.to_string(),
                tenant_domain: tenant.domain.to_string(),
                user_code: user_code.clone(),
                resource,
                expires: Instant::now() + Duration::from_secs(expires_in),
                interval: self.device_interval,
                last_poll: None,
                state: DeviceState::Pending,
            },
        );
        Ok(json!({
            "user_code": user_code,
            "device_code": device_code,
            "verification_uri": uri,
            "expires_in": expires_in,
            // Whole seconds, rounded up, so a client that waits what it is told never polls too soon.
            "interval": (self.device_interval.as_secs_f64().ceil() as u64).max(1),
            "message": format!("To sign in, use a web browser to open the page {uri} and enter the code {user_code} to authenticate."),
        }))
    }

    /// Completes (or declines) a device-code sign-in as the user would in a browser with MFA.
    ///
    /// `resolve` maps a domain to its tenant (domain, id), for sign-ins started at `common` or
    /// `organizations`, where the user's account decides the tenant.
    pub fn approve_device_code(
        &self,
        user_code: &str,
        username: &str,
        decline: bool,
        resolve: &dyn Fn(&str) -> Option<(String, String)>,
    ) -> Result<(), String> {
        let mut devices = lock(&self.devices);
        let code = devices
            .values_mut()
            .find(|d| d.user_code.eq_ignore_ascii_case(user_code.trim()))
            .ok_or_else(|| format!("no sign-in is waiting for code '{user_code}'"))?;
        if code.expires < Instant::now() {
            return Err(format!("the code '{user_code}' has expired"));
        }
        if decline {
            code.state = DeviceState::Declined;
            return Ok(());
        }
        if is_generic(&code.tenant_id) {
            let domain = username.rsplit_once('@').map(|(_, d)| d).unwrap_or("");
            let (domain, id) = resolve(domain)
                .ok_or_else(|| format!("'{username}' is not an account of a sandbox tenant"))?;
            code.tenant_domain = domain;
            code.tenant_id = id;
        }
        let tenant = TenantRef {
            domain: &code.tenant_domain,
            id: &code.tenant_id,
        };
        find_user(username, &tenant).map_err(|e| e.description)?;
        code.state = DeviceState::Approved(username.to_ascii_lowercase());
        Ok(())
    }

    /// The tenant a refresh token belongs to, for requests at `common` or `organizations`.
    pub fn refresh_tenant(&self, token: &str) -> Option<String> {
        lock(&self.refresh).get(token).map(|g| g.tenant_id.clone())
    }

    /// Forgets every refresh token of a tenant, as revoking its users' sessions does.
    pub fn revoke_refresh_tokens(&self, tenant_id: &str) {
        lock(&self.refresh).retain(|_, g| g.tenant_id != tenant_id);
    }

    fn device_token(
        &self,
        tenant: &TenantRef<'_>,
        form: &HashMap<String, String>,
    ) -> Result<(Value, Grant), OAuthError> {
        let client_id = required(form, "client_id")?;
        let device_code = required(form, "device_code")?;
        let approved = self.poll_device_code(tenant, client_id, device_code)?;
        let (upn, Some(code)) = approved else {
            return Err(missing("device_code"));
        };
        let tenant = &TenantRef {
            domain: &code.tenant_domain,
            id: &code.tenant_id,
        };
        let user = sample_user(&upn)?;
        let response = self.user_token(
            tenant,
            &code.resource,
            &upn,
            user,
            client_id,
            &["pwd", "mfa"],
        )?;
        Ok((response, Grant::DeviceCode))
    }

    /// Polls a device code for `client_id` in `tenant`: the signed-in user and the code, taken
    /// once it is approved; the pending, slow-down, declined and expired errors otherwise.
    fn poll_device_code(
        &self,
        tenant: &TenantRef<'_>,
        client_id: &str,
        device_code: &str,
    ) -> Result<(String, Option<DeviceCode>), OAuthError> {
        let mut devices = lock(&self.devices);
        let Some(code) = devices.get_mut(device_code) else {
            return Err(OAuthError::new(
                400,
                "invalid_grant",
                70000,
                "Provided grant is invalid or malformed.",
            ));
        };
        // The code belongs to the client and tenant that started it; a request from
        // elsewhere is refused without touching it.
        let same_tenant = code.tenant_id == tenant.id || is_generic(tenant.id);
        if code.client_id != client_id || !same_tenant {
            return Err(OAuthError::new(
                400,
                "invalid_grant",
                70000,
                "Provided grant is invalid or malformed.",
            ));
        }
        let now = Instant::now();
        if code.expires < now {
            devices.remove(device_code);
            return Err(OAuthError::new(
                400,
                "expired_token",
                70020,
                "The provided value for the input parameter 'device_code' is not valid. This device code has expired.",
            ));
        }
        // RFC 8628 §3.5: polling faster than the interval is answered with slow_down.
        let too_fast = code
            .last_poll
            .is_some_and(|last| now.duration_since(last) < code.interval);
        code.last_poll = Some(now);
        match &code.state {
            DeviceState::Declined => {
                devices.remove(device_code);
                Err(OAuthError::new(
                    400,
                    "authorization_declined",
                    70000,
                    "The user declined the sign-in request.",
                ))
            }
            DeviceState::Pending if too_fast => Err(OAuthError::new(
                400,
                "slow_down",
                70016,
                "OAuth 2.0 device flow error. Polling too fast: wait the interval between requests.",
            )),
            DeviceState::Pending => Err(OAuthError::new(
                400,
                "authorization_pending",
                70016,
                "OAuth 2.0 device flow error. Authorization is pending. Continue polling.",
            )),
            DeviceState::Approved(upn) => {
                let upn = upn.clone();
                let code = devices.remove(device_code);
                Ok((upn, code))
            }
        }
    }

    fn base_claims(&self, tenant: &TenantRef<'_>, resource: &str, now: i64) -> Map<String, Value> {
        let serial = self.serial.fetch_add(1, Ordering::Relaxed);
        let mut claims = Map::new();
        claims.insert("aud".into(), resource.into());
        claims.insert(
            "iss".into(),
            format!("https://sts.windows.net/{}/", tenant.id).into(),
        );
        claims.insert("iat".into(), now.into());
        claims.insert("nbf".into(), now.into());
        // `exp` has one-second precision: round the lifetime up and add the second already
        // begun, so a token lives at least the configured time.
        claims.insert("exp".into(), (now + self.ttl_secs() + 1).into());
        claims.insert("tid".into(), tenant.id.into());
        claims.insert("uti".into(), self.random_token(22).into());
        // The sandbox's own bookkeeping: revocation invalidates every token issued before a
        // point in this sequence, which timestamps (one-second precision) cannot express.
        claims.insert("sandbox_seq".into(), (serial + 1).into());
        claims.insert("ver".into(), "1.0".into());
        claims
    }

    fn token_response(
        &self,
        claims: &Map<String, Value>,
        refresh: Option<String>,
    ) -> Result<Value, OAuthError> {
        let mut header = Map::new();
        header.insert("kid".into(), self.kid.clone().into());
        let token = jwt::sign(header, claims, Algorithm::Rs256, &self.key)
            .map_err(|e| OAuthError::new(500, "server_error", 90000, e.to_string()))?;
        let expires_in = self.ttl_secs();
        let mut body = json!({
            "token_type": "Bearer",
            "expires_in": expires_in,
            "ext_expires_in": expires_in,
            "access_token": token,
        });
        if let Some(refresh) = refresh {
            body["refresh_token"] = refresh.into();
            body["scope"] =
                format!("{EXCHANGE_RESOURCE}/{SCOPE_MANAGE} {EXCHANGE_RESOURCE}/{SCOPE_MANAGE_V2}")
                    .into();
        }
        Ok(body)
    }

    /// Verifies the `Authorization` header of an admin API request.
    pub fn verify(&self, authorization: Option<&str>) -> Result<Arc<Caller>, TokenRefused> {
        let header = authorization.ok_or(TokenRefused("no Authorization header"))?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or(TokenRefused(
                "the Authorization header is not 'Bearer <token>'",
            ))?
            .trim();
        let cached = lock(&self.verified).get(token).cloned();
        let caller = match cached {
            Some(caller) => caller,
            None => {
                let parsed =
                    jwt::parse(token).map_err(|_| TokenRefused("the token is malformed"))?;
                if parsed.header.get("kid").and_then(Value::as_str) != Some(self.kid.as_str()) {
                    return Err(TokenRefused("the token was not issued by this sandbox"));
                }
                parsed
                    .verify(&self.public)
                    .map_err(|_| TokenRefused("the token's signature is invalid"))?;
                let strings = |name: &str| -> Vec<String> {
                    match parsed.claims.get(name) {
                        Some(Value::Array(items)) => items
                            .iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect(),
                        Some(Value::String(s)) => {
                            s.split_whitespace().map(str::to_string).collect()
                        }
                        _ => Vec::new(),
                    }
                };
                let caller = Arc::new(Caller {
                    tid: parsed.claim_str("tid").unwrap_or("").to_string(),
                    aud: parsed.claim_str("aud").unwrap_or("").to_string(),
                    exp: parsed.claim_i64("exp").unwrap_or(0),
                    iat: parsed.claim_i64("iat").unwrap_or(0),
                    roles: strings("roles"),
                    scopes: strings("scp"),
                    wids: strings("wids"),
                    upn: parsed.claim_str("upn").map(str::to_string),
                    appid: parsed.claim_str("appid").unwrap_or("").to_string(),
                    seq: parsed.claim_i64("sandbox_seq").unwrap_or(0).max(0) as u64,
                });
                let mut verified = lock(&self.verified);
                if verified.len() >= VERIFIED_CACHE {
                    verified.clear();
                }
                verified.insert(token.to_string(), caller.clone());
                caller
            }
        };
        if caller.exp <= self.now() {
            return Err(TokenRefused("the token has expired"));
        }
        let aud = caller.aud.trim_end_matches('/');
        let accepted = [
            EXCHANGE_RESOURCE,
            "https://outlook.office.com",
            EXCHANGE_APP_ID,
        ];
        if !accepted.iter().any(|a| a.eq_ignore_ascii_case(aud))
            && !aud.eq_ignore_ascii_case(&self.base_url)
        {
            return Err(TokenRefused("the token's audience is not Exchange Online"));
        }
        Ok(caller)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves consistent data behind (each critical
    // section is a single map operation), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn malformed(why: String) -> OAuthError {
    OAuthError::new(
        400,
        "invalid_client",
        50027,
        format!("JWT token is invalid or malformed. [Reason - {why}]"),
    )
}

/// Checks a client assertion's `exp` and `nbf` at `now`, with Entra's five minutes of skew.
fn check_validity(parsed: &jwt::Parsed, now: i64) -> Result<(), OAuthError> {
    let (Some(exp), nbf) = (parsed.claim_i64("exp"), parsed.claim_i64("nbf")) else {
        return Err(malformed("the assertion has no 'exp' claim".into()));
    };
    if exp.saturating_add(300) < now || nbf.is_some_and(|nbf| nbf.saturating_sub(300) > now) {
        return Err(OAuthError::new(
            401,
            "invalid_client",
            700024,
            format!(
                "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://docs.microsoft.com/en-us/azure/active-directory/develop/active-directory-certificate-credentials .",
                crate::clock::iso8601(now),
                nbf.map(crate::clock::iso8601).unwrap_or_else(|| "-".into()),
                crate::clock::iso8601(exp)
            ),
        ));
    }
    Ok(())
}

fn missing(name: &str) -> OAuthError {
    OAuthError::new(
        400,
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

fn required<'a>(form: &'a HashMap<String, String>, name: &str) -> Result<&'a str, OAuthError> {
    match form.get(name) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(missing(name)),
    }
}

fn find_app<'a>(client_id: &str, tenant: &TenantRef<'_>) -> Result<&'a App, OAuthError> {
    APPS.iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(client_id))
        .ok_or_else(|| {
            if client_id.eq_ignore_ascii_case(EXO_PUBLIC_CLIENT) {
                OAuthError::new(
                    401,
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
                )
            } else {
                OAuthError::new(
                    400,
                    "unauthorized_client",
                    700016,
                    format!("Application with identifier '{client_id}' was not found in the directory '{}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", tenant.domain),
                )
            }
        })
}

fn public_client(client_id: &str, tenant: &TenantRef<'_>) -> Result<(), OAuthError> {
    if client_id.eq_ignore_ascii_case(EXO_PUBLIC_CLIENT) {
        return Ok(());
    }
    if APPS
        .iter()
        .any(|a| a.client_id.eq_ignore_ascii_case(client_id))
    {
        return Err(OAuthError::new(
            401,
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    }
    find_app(client_id, tenant).map(|_| ())
}

/// The sample user a signed-in UPN names (the part before `@`).
fn sample_user(upn: &str) -> Result<&'static User, OAuthError> {
    let local = upn.split('@').next().unwrap_or("");
    USERS.iter().find(|u| u.name == local).ok_or_else(|| {
        OAuthError::new(
            400,
            "invalid_grant",
            50034,
            "The user account does not exist.",
        )
    })
}

fn find_user(username: &str, tenant: &TenantRef<'_>) -> Result<&'static User, OAuthError> {
    let lower = username.to_ascii_lowercase();
    let not_found = || {
        OAuthError::new(
            400,
            "invalid_grant",
            50034,
            format!(
                "The user account {{EUII Hidden}} does not exist in the {} directory. To sign into this application, the account must be added to the directory.",
                tenant.id
            ),
        )
    };
    let (local, domain) = lower.split_once('@').ok_or_else(not_found)?;
    if domain != tenant.domain {
        return Err(not_found());
    }
    USERS.iter().find(|u| u.name == local).ok_or_else(not_found)
}

/// The resource a `scope` names (`https://outlook.office365.com/.default` →
/// `https://outlook.office365.com`); Exchange Online's when the scope names only OIDC values.
fn resource_of(form: &HashMap<String, String>, base_url: &str) -> Result<String, OAuthError> {
    let scope = required(form, "scope")?;
    let known = [
        EXCHANGE_RESOURCE,
        "https://outlook.office.com",
        EXCHANGE_APP_ID,
        "https://graph.microsoft.com",
        base_url,
    ];
    for item in scope.split_whitespace() {
        if matches!(item, "openid" | "profile" | "offline_access" | "email") {
            continue;
        }
        let resource = item.rsplit_once('/').map(|(r, _)| r).unwrap_or(item);
        let resource = resource.trim_end_matches('/');
        return known
            .iter()
            .find(|k| k.eq_ignore_ascii_case(resource))
            .map(|k| k.to_string())
            .ok_or_else(|| {
                OAuthError::new(
                    400,
                    "invalid_resource",
                    500011,
                    format!("The resource principal named {resource} was not found in the tenant. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant."),
                )
            });
    }
    Ok(EXCHANGE_RESOURCE.to_string())
}

fn resource_scope_is_default(form: &HashMap<String, String>) -> bool {
    form.get("scope")
        .is_some_and(|s| s.split_whitespace().any(|i| i.ends_with("/.default")))
}

/// Upper-case hex of a base64url thumbprint, as Entra prints it; the input when not base64url.
fn thumbprint_hex(x5t: &str) -> String {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    match URL_SAFE_NO_PAD.decode(x5t) {
        Ok(bytes) => bytes.iter().map(|b| format!("{b:02X}")).collect(),
        Err(_) => x5t.chars().take(64).collect(),
    }
}
