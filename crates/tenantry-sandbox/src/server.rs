//! The sandbox's HTTP server: routing, the admin API's request and response shapes, limits,
//! faults and paging. Identity and cmdlets live in their own modules.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::cmdlets::{self, Access, CmdletError};
use super::config::{Behaviour, FaultKind};
use super::identity::{Caller, OAuthError, TenantRef};
use super::stats::WriteRecord;
use super::{State, Tenant, lock};

type Body = Full<Bytes>;

/// The largest request body accepted.
const MAX_BODY: usize = 8 << 20;
/// Requests in one `$batch`.
const MAX_BATCH: usize = 20;
/// The backend the responses claim to come from.
const BACKEND: &str = "AM6PR01MB7412.eurprd01.prod.exchangelabs.com";
/// The routing mailbox prefixes X-AnchorMailbox may carry.
const ANCHOR_PREFIXES: &[&str] = &["UPN:", "SMTP:", "APP:", "MBX:", "OID:"];
/// The v2.0 endpoints and the cmdlets each accepts, as Microsoft documents them: the
/// AcceptedDomain endpoint only reads, so New-, Set- and Remove-AcceptedDomain go through
/// InvokeCommand alone.
const V2_ENDPOINTS: &[(&str, &[&str])] = &[
    ("OrganizationConfig", &["Get-OrganizationConfig"]),
    ("AcceptedDomain", &["Get-AcceptedDomain"]),
    ("Mailbox", &["Get-Mailbox", "Set-Mailbox"]),
    (
        "MailboxFolderPermission",
        &[
            "Get-MailboxFolderPermission",
            "Add-MailboxFolderPermission",
            "Set-MailboxFolderPermission",
            "Remove-MailboxFolderPermission",
        ],
    ),
    ("DistributionGroupMember", &["Get-DistributionGroupMember"]),
    (
        "DynamicDistributionGroupMember",
        &["Get-DynamicDistributionGroupMember"],
    ),
];

/// Returned by a handler to close the connection without answering (an injected drop).
#[derive(Debug)]
pub(crate) struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// Which listener a request came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Door {
    /// The front door, `base_url`: where every tenant's calls start.
    Front,
    /// The regional host, where a `redirect` sends a tenant's calls.
    Regional,
}

/// Accepts connections on the front door and the regional listener until `stop` fires; each
/// connection is served on its own task and aborted when the server stops.
pub(crate) async fn serve(
    front: tokio::net::TcpListener,
    regional: tokio::net::TcpListener,
    state: Arc<State>,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let (accepted, door) = tokio::select! {
            _ = &mut stop => break,
            accepted = front.accept() => (accepted, Door::Front),
            accepted = regional.accept() => (accepted, Door::Regional),
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors or similar: wait instead of spinning.
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        connections.spawn(async move {
            let service = service_fn(move |req| handle(state.clone(), req, door));
            let _ = http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                // A client that never finishes its headers must not hold a task forever.
                .header_read_timeout(Duration::from_secs(30))
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        // Reap finished connections so the set does not grow with every client.
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
    door: Door,
) -> Result<Response<Body>, Dropped> {
    state.requests.fetch_add(1, Ordering::Relaxed);
    let client_request_id = header(req.headers(), "client-request-id").map(str::to_string);
    let mut response = route(&state, req, door).await?;
    let headers = response.headers_mut();
    let request_id = lock(&state.request_ids).guid();
    insert(headers, "request-id", &request_id);
    if let Some(id) = client_request_id {
        insert(headers, "client-request-id", &id);
    }
    Ok(response)
}

async fn route(
    state: &Arc<State>,
    req: Request<Incoming>,
    door: Door,
) -> Result<Response<Body>, Dropped> {
    let path = req.uri().path().to_string();
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let method = req.method().clone();
    match (method.clone(), segs.as_slice()) {
        (Method::GET, []) => Ok(json_response(StatusCode::OK, &index(state))),
        (_, ["adminapi", version, tenant, rest @ ..]) => {
            let version = version.to_string();
            let tenant = tenant.to_string();
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            admin(state, req, door, &version, &tenant, &rest).await
        }
        (_, ["sandbox", rest @ ..]) => {
            let rest: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            control(state, req, &rest).await
        }
        (Method::GET, [tenant, ".well-known", "openid-configuration"])
        | (Method::GET, [tenant, "v2.0", ".well-known", "openid-configuration"]) => {
            match known_authority(state, tenant) {
                true => Ok(json_response(
                    StatusCode::OK,
                    &state.identity.openid_configuration(tenant),
                )),
                false => Ok(oauth_error(&tenant_not_found(tenant))),
            }
        }
        (Method::GET, [tenant, "discovery", "v2.0", "keys"])
        | (Method::GET, [tenant, "discovery", "keys"]) => match known_authority(state, tenant) {
            true => Ok(json_response(StatusCode::OK, &state.identity.jwks())),
            false => Ok(oauth_error(&tenant_not_found(tenant))),
        },
        (Method::POST, [tenant, "oauth2", "v2.0", "token"]) => {
            let tenant = tenant.to_string();
            identity_endpoint(state, req, &tenant, IdentityEndpoint::Token).await
        }
        (Method::POST, [tenant, "oauth2", "v2.0", "devicecode"]) => {
            let tenant = tenant.to_string();
            identity_endpoint(state, req, &tenant, IdentityEndpoint::DeviceCode).await
        }
        _ => Ok(json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": {"code": "NotFound", "message": format!("No sandbox endpoint at {method} {path}.")}}),
        )),
    }
}

fn known_authority(state: &State, tenant: &str) -> bool {
    matches!(tenant, "common" | "organizations") || state.tenant(tenant).is_some()
}

fn index(state: &State) -> Value {
    let b = &state.base_url;
    json!({
        "sandbox": "tenantry's built-in Exchange Online sandbox",
        "tenants": state.tenants.iter().map(|t| t.domain.clone()).collect::<Vec<_>>(),
        "endpoints": {
            "token": format!("{b}/{{tenant}}/oauth2/v2.0/token"),
            "devicecode": format!("{b}/{{tenant}}/oauth2/v2.0/devicecode"),
            "openid_configuration": format!("{b}/{{tenant}}/v2.0/.well-known/openid-configuration"),
            "invoke_command": format!("{b}/adminapi/beta/{{tenant}}/InvokeCommand"),
            "batch": format!("{b}/adminapi/beta/{{tenant}}/$batch"),
            "stats": format!("{b}/sandbox/stats"),
            "devicelogin": format!("{b}/sandbox/devicelogin"),
            "workload_issuer": state.identity.workload_issuer(),
            "workload_token": format!("{b}/sandbox/workload/token"),
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Identity endpoints

fn tenant_not_found(tenant: &str) -> OAuthError {
    OAuthError {
        status: 400,
        error: "invalid_tenant",
        code: 90002,
        description: format!(
            "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."
        ),
    }
}

fn oauth_error(error: &OAuthError) -> Response<Body> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
    let trace = format!("{:016x}", rand_u64());
    let correlation = format!("{:016x}", rand_u64());
    let mut response = json_response(status, &error.body(&trace, &correlation));
    if status == StatusCode::UNAUTHORIZED {
        insert(
            response.headers_mut(),
            "www-authenticate",
            "Basic realm=\"sandbox\"",
        );
    }
    response
}

async fn read_form(req: Request<Incoming>) -> Result<HashMap<String, String>, Response<Body>> {
    let basic = header(req.headers(), "authorization")
        .and_then(|h| h.strip_prefix("Basic "))
        .map(str::to_string);
    let body = read_body(req).await?;
    let text = String::from_utf8_lossy(&body);
    let mut form: HashMap<String, String> = parse_query(&text).into_iter().collect();
    // client_secret_basic: the client id and secret in an Authorization header.
    if let Some(basic) = basic {
        use base64::Engine;
        if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(basic.trim())
            && let Ok(pair) = String::from_utf8(decoded)
            && let Some((id, secret)) = pair.split_once(':')
        {
            form.entry("client_id".into())
                .or_insert_with(|| percent_decode(id));
            form.entry("client_secret".into())
                .or_insert_with(|| percent_decode(secret));
        }
    }
    Ok(form)
}

/// Which identity endpoint a request is for.
#[derive(Clone, Copy)]
enum IdentityEndpoint {
    Token,
    DeviceCode,
}

async fn identity_endpoint(
    state: &Arc<State>,
    req: Request<Incoming>,
    tenant_key: &str,
    endpoint: IdentityEndpoint,
) -> Result<Response<Body>, Dropped> {
    let generic = super::identity::is_generic(tenant_key);
    if !generic && state.tenant(tenant_key).is_none() {
        return Ok(oauth_error(&tenant_not_found(tenant_key)));
    }
    let form = match read_form(req).await {
        Ok(form) => form,
        Err(response) => return Ok(response),
    };
    // At `common` or `organizations` the tenant is the signing-in user's: by the user name's
    // domain, the refresh token's session, or (for device code) the account that approved.
    let tenant = if generic {
        form.get("username")
            .and_then(|u| u.rsplit_once('@'))
            .and_then(|(_, domain)| state.tenant(domain))
            .or_else(|| {
                form.get("refresh_token")
                    .and_then(|t| state.identity.refresh_tenant(t))
                    .and_then(|id| state.tenant(&id))
            })
    } else {
        state.tenant(tenant_key)
    };
    let generic_key = tenant_key.to_ascii_lowercase();
    let target = match tenant {
        Some(t) => TenantRef {
            domain: &t.domain,
            id: &t.id,
        },
        None => TenantRef {
            domain: &generic_key,
            id: &generic_key,
        },
    };
    let result = match endpoint {
        IdentityEndpoint::DeviceCode => state.identity.device_code(&target, &form),
        IdentityEndpoint::Token => state.identity.token(&target, &form).map(|(body, grant)| {
            // Counted under the tenant the token is for, which a device code decides late.
            let issued_in = body
                .get("access_token")
                .and_then(Value::as_str)
                .and_then(|t| tenantry_common::jwt::parse(t).ok())
                .and_then(|p| p.claim_str("tid").map(str::to_string))
                .and_then(|tid| state.tenant(&tid));
            if let Some(t) = issued_in {
                *lock(&t.counters)
                    .tokens_issued
                    .entry(grant.name().into())
                    .or_default() += 1;
            }
            body
        }),
    };
    let mut response = match result {
        Ok(body) => json_response(StatusCode::OK, &body),
        Err(error) => {
            if let Some(t) = tenant {
                *lock(&t.counters)
                    .token_errors
                    .entry(error.error.into())
                    .or_default() += 1;
            }
            oauth_error(&error)
        }
    };
    // The sign-in service's own clock, which `--clock-skew` may set apart from the machine's.
    insert(
        response.headers_mut(),
        "date",
        &crate::clock::http_date(state.identity.now()),
    );
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// Sandbox control endpoints

const DEVICE_LOGIN_PAGE: &str = r#"<!doctype html>
<html><head><meta charset="utf-8"><title>Sandbox sign-in</title></head>
<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto">
<h1>Sandbox sign-in</h1>
<p>This page stands in for signing in with multi-factor authentication. Enter the code the
command line showed and the account to sign in as.</p>
<form method="post">
<p><label>Code <input name="user_code" autofocus></label></p>
<p><label>Account <input name="username" placeholder="admin@contoso.onmicrosoft.com"></label></p>
<p><button>Sign in</button> <button name="decline" value="true">Decline</button></p>
</form></body></html>"#;

async fn control(
    state: &Arc<State>,
    req: Request<Incoming>,
    rest: &[String],
) -> Result<Response<Body>, Dropped> {
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let method = req.method().clone();
    match (method, rest.as_slice()) {
        (Method::GET, ["stats"]) => {
            let query = parse_query(req.uri().query().unwrap_or(""));
            let with_writes = !query
                .iter()
                .any(|(k, v)| k == "writes" && matches!(v.as_str(), "0" | "false"));
            let stats = state.stats(with_writes);
            Ok(json_response(
                StatusCode::OK,
                &serde_json::to_value(stats).unwrap_or(Value::Null),
            ))
        }
        (Method::GET, ["devicelogin"]) => {
            let mut response =
                Response::new(Full::new(Bytes::from_static(DEVICE_LOGIN_PAGE.as_bytes())));
            insert(
                response.headers_mut(),
                "content-type",
                "text/html; charset=utf-8",
            );
            Ok(response)
        }
        (Method::POST, ["devicelogin"]) => device_login(state, req).await,
        (Method::GET, ["public-key"]) => {
            let mut response = Response::new(Full::new(Bytes::from_static(
                crate::SECURE_STRING_PUBLIC_KEY.as_bytes(),
            )));
            insert(
                response.headers_mut(),
                "content-type",
                "application/x-pem-file",
            );
            Ok(response)
        }
        (Method::GET, ["workload", ".well-known", "openid-configuration"]) => Ok(json_response(
            StatusCode::OK,
            &state.identity.workload_configuration(),
        )),
        (Method::GET, ["workload", "jwks"]) => Ok(json_response(
            StatusCode::OK,
            &state.identity.workload_jwks(),
        )),
        (Method::POST, ["workload", "token"]) => {
            let fields = match read_fields(req).await {
                Ok(fields) => fields,
                Err(response) => return Ok(response),
            };
            Ok(workload_token(state, &fields))
        }
        (Method::GET, ["tenants"]) => {
            let tenants: Vec<Value> = state
                .tenants
                .iter()
                .map(|t| serde_json::to_value(t.info(&state.base_url)).unwrap_or(Value::Null))
                .collect();
            Ok(json_response(StatusCode::OK, &Value::Array(tenants)))
        }
        (method, ["tenants", key, what]) => {
            let Some(tenant) = state.tenant(key) else {
                return Ok(json_response(
                    StatusCode::NOT_FOUND,
                    &json!({"error": {"code": "NotFound", "message": format!("The sandbox has no tenant '{key}'.")}}),
                ));
            };
            tenant_control(state, tenant, method, what, req).await
        }
        _ => Ok(json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": {"code": "NotFound", "message": "No such sandbox endpoint."}}),
        )),
    }
}

/// Completes or declines a device-code sign-in from the sandbox's sign-in page.
async fn device_login(state: &State, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
    let fields = match read_fields(req).await {
        Ok(fields) => fields,
        Err(response) => return Ok(response),
    };
    let code = fields.get("user_code").map(String::as_str).unwrap_or("");
    let user = fields.get("username").map(String::as_str).unwrap_or("");
    let decline = fields
        .get("decline")
        .is_some_and(|v| v == "true" || v == "1");
    match state.approve(code, user, decline) {
        Ok(()) => Ok(json_response(
            StatusCode::OK,
            &json!({"approved": !decline, "user_code": code, "username": user}),
        )),
        Err(message) => Ok(bad_request(&message)),
    }
}

/// A tenant's control endpoints: its directory, token revocation and behaviour.
async fn tenant_control(
    state: &State,
    tenant: &Tenant,
    method: Method,
    what: &str,
    req: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    match (method, what) {
        (Method::GET, "directory") => Ok(json_response(
            StatusCode::OK,
            &lock(&tenant.directory).snapshot(),
        )),
        (Method::POST, "revoke") => {
            state.revoke(tenant);
            Ok(json_response(StatusCode::OK, &json!({"revoked": true})))
        }
        (Method::GET, "behaviour") => Ok(json_response(
            StatusCode::OK,
            &serde_json::to_value(lock(&tenant.behaviour).clone()).unwrap_or(Value::Null),
        )),
        (Method::PATCH | Method::PUT, "behaviour") => patch_behaviour(tenant, req).await,
        _ => Ok(json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": {"code": "NotFound", "message": "No such sandbox endpoint."}}),
        )),
    }
}

/// Changes a tenant's behaviour by a JSON patch of its fields, validated as a whole.
async fn patch_behaviour(
    tenant: &Tenant,
    req: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let body = match read_body(req).await {
        Ok(body) => body,
        Err(response) => return Ok(response),
    };
    let patch: Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return Ok(bad_request(&format!("The body is not a JSON object: {e}")));
        }
    };
    let mut current = serde_json::to_value(lock(&tenant.behaviour).clone()).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut current {
        map.extend(patch);
    }
    match serde_json::from_value::<super::config::Behaviour>(current)
        .map_err(|e| e.to_string())
        .and_then(|b| b.validate().map(|()| b))
    {
        Ok(behaviour) => {
            *lock(&tenant.behaviour) = behaviour;
            Ok(json_response(
                StatusCode::OK,
                &serde_json::to_value(lock(&tenant.behaviour).clone()).unwrap_or(Value::Null),
            ))
        }
        Err(e) => Ok(bad_request(&format!("Not a valid behaviour: {e}"))),
    }
}

/// Reads a control endpoint's body, JSON or a form, as text fields (JSON values other than
/// strings keep their JSON text).
async fn read_fields(req: Request<Incoming>) -> Result<HashMap<String, String>, Response<Body>> {
    let is_json =
        header(req.headers(), "content-type").is_some_and(|c| c.starts_with("application/json"));
    let body = read_body(req).await?;
    if !is_json {
        return Ok(parse_query(&String::from_utf8_lossy(&body))
            .into_iter()
            .collect());
    }
    match serde_json::from_slice::<Map<String, Value>>(&body) {
        Ok(map) => Ok(map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect()),
        Err(e) => Err(bad_request(&format!("The body is not JSON: {e}"))),
    }
}

/// `POST /sandbox/workload/token`: mints a workload token as a CI system would, from
/// `subject`, `audience` and `lifetime_seconds` (all optional).
fn workload_token(state: &State, fields: &HashMap<String, String>) -> Response<Body> {
    use super::identity::{WORKLOAD_AUDIENCE, WORKLOAD_SUBJECT, WORKLOAD_TOKEN_LIFETIME};
    let subject = fields
        .get("subject")
        .map(String::as_str)
        .unwrap_or(WORKLOAD_SUBJECT);
    let audience = fields
        .get("audience")
        .map(String::as_str)
        .unwrap_or(WORKLOAD_AUDIENCE);
    if subject.is_empty() || audience.is_empty() {
        return bad_request("'subject' and 'audience' must not be empty.");
    }
    let lifetime = match fields.get("lifetime_seconds") {
        None => WORKLOAD_TOKEN_LIFETIME,
        Some(text) => match text.trim().parse::<i64>() {
            Ok(n) => n,
            Err(_) => {
                return bad_request(&format!(
                    "'lifetime_seconds' is a whole number of seconds, not '{text}'."
                ));
            }
        },
    };
    match state
        .identity
        .workload_token(subject, Some(audience), lifetime)
    {
        Ok(token) => json_response(
            StatusCode::OK,
            &json!({
                "token": token,
                "issuer": state.identity.workload_issuer(),
                "subject": subject,
                "audience": audience,
                "expires_in": lifetime,
            }),
        ),
        Err(e) => json_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            &json!({"error": {"code": "InternalServerError", "message": e.to_string()}}),
        ),
    }
}

// ---------------------------------------------------------------------------------------------
// Admin API

/// Gives back the slots a request took of its tenant's limit when it ends, however it ends.
/// Counts an abandoned request as `aborted`.
struct Slot<'a> {
    tenant: &'a Tenant,
    /// How many slots it took: one, or a `$batch`'s items under `batch_connections: items`.
    slots: usize,
    label: &'a str,
    finished: bool,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.tenant
            .in_flight
            .fetch_sub(self.slots, Ordering::SeqCst);
        if !self.finished {
            count(self.tenant, self.label, "aborted");
        }
    }
}

/// The slots of the tenant's limit a request takes: one, or for a `$batch` under
/// `batch_connections: items` one per item (one for a batch too large to run, which is
/// refused as such).
fn slots_taken(kind: Kind, input: Option<&Value>, behaviour: &Behaviour) -> usize {
    if !matches!(kind, Kind::Batch) {
        return 1;
    }
    let items = input
        .and_then(|v| v.get("requests"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if items > MAX_BATCH {
        return 1;
    }
    behaviour.batch_connections.slots(items)
}

/// The name statistics count a request under: the canonical cmdlet name, or `(unknown)` for
/// anything else, so a client cannot grow the statistics with names of its own.
fn stats_label(name: Option<&str>) -> String {
    match name {
        None => "(none)".to_string(),
        Some(name) => cmdlets::known_cmdlets()
            .iter()
            .find(|c| c.eq_ignore_ascii_case(name))
            .map_or_else(|| "(unknown)".to_string(), |c| c.to_string()),
    }
}

fn count(tenant: &Tenant, cmdlet: &str, status: &str) {
    let mut c = lock(&tenant.counters);
    *c.requests
        .entry(cmdlet.to_string())
        .or_default()
        .entry(status.to_string())
        .or_default() += 1;
    *c.statuses.entry(status.to_string()).or_default() += 1;
}

async fn admin(
    state: &Arc<State>,
    req: Request<Incoming>,
    door: Door,
    version: &str,
    tenant_key: &str,
    rest: &[String],
) -> Result<Response<Body>, Dropped> {
    // Latency counts from here, so the time spent checking the token and the limits is part
    // of it rather than added to it.
    let arrived = tokio::time::Instant::now();
    let (parts, body) = req.into_parts();
    let (tenant, kind) = match admin_route(state, &parts.method, version, tenant_key, rest) {
        Ok(routed) => routed,
        Err(response) => return Ok(*response),
    };
    {
        let mut counters = lock(&tenant.counters);
        counters.http_requests += 1;
        if matches!(kind, Kind::Batch) {
            counters.batches += 1;
        }
    }
    let headers = parts.headers;
    let mut affinity = None;
    let base_url = match door {
        Door::Front => state.base_url.clone(),
        Door::Regional => state.regional_url(),
    };
    match door {
        Door::Front => {
            let redirect = lock(&tenant.behaviour).redirect;
            if let Some(redirect) = redirect {
                return Ok(redirect_response(state, tenant, redirect, &parts.uri));
            }
        }
        Door::Regional => match regional_arrival(state, tenant, &headers) {
            Ok(cookie) => affinity = cookie,
            Err(refused) => return Ok(*refused),
        },
    }
    let query = parse_query(parts.uri.query().unwrap_or(""));
    let endpoint = rest.first().map(String::as_str).unwrap_or("");
    // A page link followed by GET has no body: its token names the request it continues.
    let followed = parts.method == Method::GET && matches!(kind, Kind::Invoke | Kind::V2(_));
    let input = if followed {
        skiptoken(&query).and_then(|token| state.page_tokens.recall(token, &tenant.domain))
    } else {
        match read_input(body).await {
            Ok(input) => input,
            Err(response) => return Ok(response),
        }
    };
    let cmdlet_label = admin_label(kind, input.as_ref(), &headers);

    // A vanity domain in the URL, where the tenant does not take one.
    if !lock(&tenant.behaviour).vanity_urls && tenant_key.eq_ignore_ascii_case(&tenant.vanity) {
        count(tenant, &cmdlet_label, "400");
        return Ok(bad_request(&format!(
            "The tenant '{tenant_key}' in the URL is a vanity domain; name the tenant by its id or its initial domain."
        )));
    }

    // 1. Authentication and authorisation.
    let caller = match authorize(state, tenant, &headers, version, &cmdlet_label) {
        Ok(caller) => caller,
        Err(response) => return Ok(*response),
    };
    if followed && input.is_none() {
        count(tenant, &cmdlet_label, "400");
        return Ok(bad_request(
            "A GET follows an @odata.nextLink: its $skiptoken is missing, has expired, was altered, or names a request no longer kept (POST the first page's body to the link instead).",
        ));
    }

    // 2. The tenant's concurrency limit and request rate.
    let behaviour = lock(&tenant.behaviour).clone();
    let slots = slots_taken(kind, input.as_ref(), &behaviour);
    let in_flight = tenant.in_flight.fetch_add(slots, Ordering::SeqCst) + slots;
    let mut slot = Slot {
        tenant,
        slots,
        label: &cmdlet_label,
        finished: false,
    };
    tenant.peak.fetch_max(in_flight, Ordering::SeqCst);
    // Everything from here runs in one block, so a request the client abandons (the future is
    // dropped part-way) is told apart from one that was answered, and counted as aborted.
    let outcome = async {
        let rate_headers = match admit(tenant, &behaviour, in_flight, &cmdlet_label) {
            Ok(remaining) => remaining,
            Err(response) => return Ok(*response),
        };

        // 3. Injected faults and latency, drawn from the tenant's seeded generator.
        let after = match fault_and_latency(state, tenant, &behaviour, &cmdlet_label, arrived).await
        {
            Ok(after) => after,
            Err(outcome) => return outcome,
        };

        // 4. The request itself.
        let route = Route {
            headers: &headers,
            version,
            caller: &caller,
            behaviour: &behaviour,
        };
        if let Some(refused) = check_routing_headers(state, tenant, &route, &cmdlet_label) {
            return Ok(refused);
        }
        let access = if caller.full_access() {
            Access::Full
        } else {
            Access::ReadOnly
        };
        let ctx = Ctx {
            state,
            base_url: &base_url,
            behaviour: &behaviour,
            endpoint: match kind {
                Kind::V2(_) => endpoint,
                _ => "InvokeCommand",
            },
            tenant,
            tenant_key,
            version,
            access,
            client_request_id: header(&headers, "client-request-id").map(str::to_string),
            followed,
        };
        let response = answer(&ctx, kind, input.as_ref(), &query, &headers);
        finish(tenant, &cmdlet_label, after, rate_headers, response)
    }
    .await;
    slot.finished = true;
    let accepts_gzip = header(&headers, "accept-encoding")
        .is_some_and(|a| a.split(',').any(|e| e.trim().starts_with("gzip")));
    let outcome = match outcome {
        Ok(response) if accepts_gzip => Ok(compress(tenant, behaviour.compression, response).await),
        other => other,
    };
    outcome.map(|mut response| {
        if let Some(cookie) = affinity {
            insert(
                response.headers_mut(),
                "set-cookie",
                &format!("{AFFINITY_COOKIE}={cookie}; path=/; HttpOnly"),
            );
        }
        response
    })
}

/// The regional host's affinity cookie, as the service keeps a tenant session on one backend.
const AFFINITY_COOKIE: &str = "X-BackEndCookie";

/// A front-door redirect of a tenant's call, to the regional listener (or, for `foreign`,
/// the same listener under a name no client should trust), same path and query.
fn redirect_response(
    state: &State,
    tenant: &Tenant,
    redirect: crate::config::Redirect,
    uri: &hyper::Uri,
) -> Response<Body> {
    use crate::config::RedirectTo;
    lock(&tenant.counters).redirected += 1;
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let base = match redirect.to {
        RedirectTo::Regional => state.regional_url(),
        RedirectTo::Foreign => format!("http://localhost:{}", state.regional_port),
        RedirectTo::Loop => state.base_url.clone(),
    };
    let status = StatusCode::from_u16(redirect.status).unwrap_or(StatusCode::FOUND);
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = status;
    insert(response.headers_mut(), "location", &format!("{base}{path}"));
    response
}

/// A call arriving at the regional listener: counted, and told whether it came under the
/// listener's own address (the affinity cookie to set, if it did not bring it back) or under
/// a foreign name, which is refused once counted.
fn regional_arrival(
    state: &State,
    tenant: &Tenant,
    headers: &HeaderMap,
) -> Result<Option<String>, Box<Response<Body>>> {
    let host = header(headers, "host").unwrap_or("");
    let mut counters = lock(&tenant.counters);
    if host.to_ascii_lowercase().starts_with("localhost") {
        counters.foreign += 1;
        if headers.contains_key(hyper::header::AUTHORIZATION) {
            counters.foreign_tokens += 1;
        }
        return Err(Box::new(json_response(
            StatusCode::MISDIRECTED_REQUEST,
            &json!({"error": {"code": "MisdirectedRequest", "message": "This host does not serve the admin API."}}),
        )));
    }
    counters.regional += 1;
    let expected = format!("{}-{}", tenant.id, state.regional_port);
    let returned = headers
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .any(|(name, value)| name == AFFINITY_COOKIE && value == expected);
    if returned {
        counters.affinity += 1;
        Ok(None)
    } else {
        Ok(Some(expected))
    }
}

/// Compresses an answer as the tenant's behaviour says, for a client that accepts gzip.
async fn compress(
    tenant: &Tenant,
    compression: crate::config::Compression,
    response: Response<Body>,
) -> Response<Body> {
    use crate::config::Compression;
    use std::io::Write as _;
    let mislabel = compression == Compression::MislabelledErrors && !response.status().is_success();
    if compression == Compression::Off {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The answer is built in memory: collecting it cannot fail or wait.
    let plain = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(never) => match never {},
    };
    let bytes = if mislabel {
        lock(&tenant.counters).mislabelled += 1;
        plain
    } else {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let compressed = encoder.write_all(&plain).and_then(|()| encoder.finish());
        match compressed {
            Ok(bytes) => {
                lock(&tenant.counters).compressed += 1;
                Bytes::from(bytes)
            }
            Err(_) => return Response::from_parts(parts, Full::new(plain)),
        }
    };
    insert(&mut parts.headers, "content-encoding", "gzip");
    parts.headers.remove("content-length");
    Response::from_parts(parts, Full::new(bytes))
}

/// The JSON body of an admin API request (`None` when it is not JSON), or the 413 for one past
/// [`MAX_BODY`].
async fn read_input(body: Incoming) -> Result<Option<Value>, Response<Body>> {
    let limited = Limited::new(body, MAX_BODY);
    let body = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            return Err(json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"error": {"code": "RequestEntityTooLarge", "message": "The request body is too large."}}),
            ));
        }
    };
    Ok(serde_json::from_slice(&body).ok())
}

/// The name statistics count an admin API request under.
fn admin_label(kind: Kind, input: Option<&Value>, headers: &HeaderMap) -> String {
    let named = input
        .and_then(|v| v.pointer("/CmdletInput/CmdletName"))
        .and_then(Value::as_str)
        .or_else(|| header(headers, "x-cmdletname"));
    match kind {
        Kind::Batch => "$batch".to_string(),
        Kind::ModuleFile => "EXOModuleFile".to_string(),
        _ => stats_label(named),
    }
}

/// Draws the request's fault and latency and plays them: waits out the latency, or answers for
/// a fault that strikes before the cmdlet runs (or a latency past the call timeout). Returns the
/// fault that strikes after the cmdlet ran, if any.
async fn fault_and_latency(
    state: &State,
    tenant: &Tenant,
    behaviour: &Behaviour,
    cmdlet_label: &str,
    arrived: tokio::time::Instant,
) -> Result<Option<FaultKind>, Result<Response<Body>, Dropped>> {
    let (fault, latency) = draw_fault(tenant, behaviour);
    // Faults that strike after the cmdlet ran: the change is made, the answer is lost.
    let after = fault.filter(|k| matches!(k, FaultKind::AppliedTimeout | FaultKind::AppliedDrop));
    if let Some(kind) = after {
        *lock(&tenant.counters)
            .faults
            .entry(kind.name().into())
            .or_default() += 1;
    }
    if let Some(kind) = fault.filter(|_| after.is_none()) {
        *lock(&tenant.counters)
            .faults
            .entry(kind.name().into())
            .or_default() += 1;
        let faulted = inject_fault(
            kind,
            tenant,
            behaviour,
            cmdlet_label,
            arrived + latency,
            latency,
        );
        if let Some(outcome) = faulted.await {
            return Err(outcome);
        }
    }
    if latency >= state.config.call_timeout {
        tokio::time::sleep(state.config.call_timeout).await;
        count(tenant, cmdlet_label, "504");
        return Err(Ok(json_response(
            StatusCode::GATEWAY_TIMEOUT,
            &json!({"error": {"code": "GatewayTimeout", "message": "The cmdlet did not finish within the server's time limit."}}),
        )));
    }
    if !latency.is_zero() {
        tokio::time::sleep_until(arrived + latency).await;
    }
    Ok(after)
}

/// The tenant and the kind of admin API request a path names, or the service's 404.
fn admin_route<'s>(
    state: &'s State,
    method: &Method,
    version: &str,
    tenant_key: &str,
    rest: &[String],
) -> Result<(&'s Tenant, Kind), Box<Response<Body>>> {
    if !matches!(version, "beta" | "v1.0" | "v2.0") {
        return Err(Box::new(json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": {"code": "NotFound", "message": format!("Unknown admin API version '{version}'.")}}),
        )));
    }
    let Some(tenant) = state.tenant(tenant_key) else {
        return Err(Box::new(json_response(
            StatusCode::NOT_FOUND,
            &json!({"error": {"code": "NotFound", "message": format!("The tenant '{tenant_key}' was not found.")}}),
        )));
    };
    let endpoint = rest.first().map(String::as_str).unwrap_or("");
    let kind = match (method.clone(), endpoint, rest.len()) {
        // GET follows a page link (`@odata.nextLink`), as go-exoscc does; POST re-sends the body.
        (Method::POST | Method::GET, "InvokeCommand", 1) => Kind::Invoke,
        (Method::POST, "$batch", 1) => Kind::Batch,
        (Method::GET, "EXOModuleFile", 1) => Kind::ModuleFile,
        (Method::POST | Method::GET, name, 1) if version == "v2.0" => {
            match V2_ENDPOINTS
                .iter()
                .find(|(e, _)| e.eq_ignore_ascii_case(name))
            {
                Some((_, cmdlets)) => Kind::V2(cmdlets),
                None => {
                    return Err(Box::new(json_response(
                        StatusCode::NOT_FOUND,
                        &json!({"error": {"code": "NotFound", "message": format!("The v2.0 admin API has no endpoint '{name}'.")}}),
                    )));
                }
            }
        }
        _ => {
            return Err(Box::new(json_response(
                StatusCode::NOT_FOUND,
                &json!({"error": {"code": "NotFound", "message": format!("No admin API route {} /adminapi/{version}/{tenant_key}/{}.", method, rest.join("/"))}}),
            )));
        }
    };
    Ok((tenant, kind))
}

/// The caller, if its token is valid, for this tenant, not revoked, and grants the API version.
fn authorize(
    state: &State,
    tenant: &Tenant,
    headers: &HeaderMap,
    version: &str,
    cmdlet_label: &str,
) -> Result<Arc<Caller>, Box<Response<Body>>> {
    let caller = match state.identity.verify(header(headers, "authorization")) {
        Ok(caller) => caller,
        Err(refused) => return Err(Box::new(unauthorized(tenant, cmdlet_label, refused.0))),
    };
    if caller.tid != tenant.id {
        return Err(Box::new(unauthorized(
            tenant,
            cmdlet_label,
            "the token was issued for another tenant",
        )));
    }
    if caller.seq <= tenant.revoked_through.load(Ordering::SeqCst) {
        return Err(Box::new(unauthorized(
            tenant,
            cmdlet_label,
            "the token has been revoked",
        )));
    }
    if !caller.permitted(version) {
        count(tenant, cmdlet_label, "403");
        let needed = if version == "v2.0" {
            "Exchange.ManageAsAppV2 (app) or Exchange.ManageV2 (delegated)"
        } else {
            "Exchange.ManageAsApp (app) or Exchange.Manage (delegated)"
        };
        return Err(Box::new(json_response(
            StatusCode::FORBIDDEN,
            &json!({"error": {"code": "Forbidden", "message": format!("The access token does not grant {needed}. Grant the permission and admin consent for the app.")}}),
        )));
    }
    Ok(caller)
}

/// Admits a request under the tenant's concurrency limit and request rate, returning what is
/// left of the rate budget (for `rate-limit-remaining`); or the 429 that refuses it.
fn admit(
    tenant: &Tenant,
    behaviour: &Behaviour,
    in_flight: usize,
    cmdlet_label: &str,
) -> Result<Option<RateHeaders>, Box<Response<Body>>> {
    if in_flight > behaviour.limit {
        lock(&tenant.counters).throttled += 1;
        let refusal = "You have reached the maximum number of concurrent requests per tenant. Please wait and try again";
        if let Some(status) = behaviour.concurrency_refusal {
            count(tenant, cmdlet_label, &status.to_string());
            return Err(Box::new(plain_text(status, refusal)));
        }
        count(tenant, cmdlet_label, "429");
        return Err(Box::new(throttled(behaviour.retry_after, refusal)));
    }
    let mut rate_headers: Option<RateHeaders> = None;
    if let Some(rate) = behaviour.rate {
        let mut bucket = lock(&tenant.bucket);
        let now = Instant::now();
        let refill = now.duration_since(bucket.1).as_secs_f64() * rate;
        bucket.0 = (bucket.0 + refill).min(behaviour.burst);
        bucket.1 = now;
        if bucket.0 < 1.0 {
            let wait = (1.0 - bucket.0) / rate.max(1e-9);
            drop(bucket);
            lock(&tenant.counters).throttled += 1;
            count(tenant, cmdlet_label, "429");
            let mut response = throttled(
                wait.max(0.001),
                "The request was throttled: the tenant's request budget is spent. Please wait and try again",
            );
            rate_limit_headers(response.headers_mut(), behaviour.burst, 0, wait);
            return Err(Box::new(response));
        }
        bucket.0 -= 1.0;
        // When the bucket holds a whole request again.
        let reset = if bucket.0 >= 1.0 {
            0.0
        } else {
            (1.0 - bucket.0) / rate.max(1e-9)
        };
        rate_headers = Some(RateHeaders {
            limit: behaviour.burst,
            remaining: bucket.0.floor() as u64,
            reset,
        });
    }
    Ok(rate_headers)
}

/// What is left of a tenant's request budget, as `Rate-Limit-*` headers tell it.
#[derive(Clone, Copy, Debug)]
struct RateHeaders {
    limit: f64,
    remaining: u64,
    /// Seconds until the budget holds a request again.
    reset: f64,
}

/// `Rate-Limit-Limit`, `Rate-Limit-Remaining` and `Rate-Limit-Reset` (RFC 3339), as the
/// service sends them.
fn rate_limit_headers(headers: &mut HeaderMap, limit: f64, remaining: u64, reset: f64) {
    insert(
        headers,
        "rate-limit-limit",
        &format!("{}", limit.floor() as u64),
    );
    insert(headers, "rate-limit-remaining", &remaining.to_string());
    // Rounded up to the next millisecond, so a client that waits until then finds the request
    // budget renewed.
    let reset = Duration::from_secs_f64(reset.clamp(0.0, 86_400.0) + 0.001);
    insert(
        headers,
        "rate-limit-reset",
        &crate::clock::rfc3339_after(reset),
    );
}

/// The fault (if any) and the latency of this request, drawn from the tenant's seeded generator.
fn draw_fault(tenant: &Tenant, behaviour: &Behaviour) -> (Option<FaultKind>, Duration) {
    let mut rng = lock(&tenant.rng);
    let mut fault = None;
    for f in &behaviour.faults {
        if rng.chance(f.rate) && fault.is_none() {
            fault = Some(f.kind);
        }
    }
    (fault, behaviour.latency.draw(&mut rng))
}

/// The answer an injected 429, 503 or 504 (or applied-504) gives, a request's or a batch
/// item's alike: the status, the body and the `Retry-After` value, if any.
fn fault_answer(kind: FaultKind, behaviour: &Behaviour) -> (StatusCode, Value, Option<String>) {
    match kind {
        FaultKind::TooManyRequests => (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": {"code": "TooManyRequests", "message": "The request was throttled. Please wait and try again"}}),
            Some(seconds(behaviour.retry_after)),
        ),
        FaultKind::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": {"code": "ServiceUnavailable", "message": "The service is temporarily unavailable. Please try again later."}}),
            behaviour.fault_retry_after.map(seconds),
        ),
        _ => (
            StatusCode::GATEWAY_TIMEOUT,
            json!({"error": {"code": "GatewayTimeout", "message": "The operation timed out."}}),
            behaviour.fault_retry_after.map(seconds),
        ),
    }
}

/// The fault, if any, that strikes one item of a `$batch`, drawn from the tenant's seeded
/// generator like a request's but among the kinds an item can carry alone
/// ([`FaultKind::strikes_items`]). No latency is drawn: the batch waited its one.
fn draw_item_fault(tenant: &Tenant, behaviour: &Behaviour) -> Option<FaultKind> {
    let mut faults = behaviour.faults.iter().filter(|f| f.kind.strikes_items());
    let first = faults.next()?;
    let mut rng = lock(&tenant.rng);
    let mut fault = None;
    for f in std::iter::once(first).chain(faults) {
        if rng.chance(f.rate) && fault.is_none() {
            fault = Some(f.kind);
        }
    }
    fault
}

/// Plays a fault that strikes before the cmdlet runs: the answer (or the dropped connection)
/// that replaces the real one; `None` for the faults that strike after it ran.
async fn inject_fault(
    kind: FaultKind,
    tenant: &Tenant,
    behaviour: &Behaviour,
    cmdlet_label: &str,
    deadline: tokio::time::Instant,
    latency: Duration,
) -> Option<Result<Response<Body>, Dropped>> {
    match kind {
        FaultKind::Drop => {
            count(tenant, cmdlet_label, "drop");
            // Part-way through the call, as a reset connection would be.
            tokio::time::sleep(latency / 2).await;
            Some(Err(Dropped))
        }
        FaultKind::TooManyRequests | FaultKind::Unavailable | FaultKind::GatewayTimeout => {
            if kind == FaultKind::GatewayTimeout {
                tokio::time::sleep_until(deadline).await;
            }
            let (status, body, retry_after) = fault_answer(kind, behaviour);
            count(tenant, cmdlet_label, status.as_str());
            let mut response = json_response(status, &body);
            if let Some(after) = retry_after {
                insert(response.headers_mut(), "retry-after", &after);
            }
            Some(Ok(response))
        }
        FaultKind::Unauthorized => Some(Ok(unauthorized(
            tenant,
            cmdlet_label,
            "the token is no longer accepted",
        ))),
        FaultKind::AppliedTimeout | FaultKind::AppliedDrop => None,
    }
}

/// The 400 for a request the service would not route: a CLIXML response asked for, or an
/// X-AnchorMailbox that is missing where required or is not a routing hint.
/// What a request is routed by: its headers, the API version and who signed it.
struct Route<'a> {
    headers: &'a HeaderMap,
    version: &'a str,
    caller: &'a Caller,
    behaviour: &'a Behaviour,
}

fn check_routing_headers(
    state: &State,
    tenant: &Tenant,
    route: &Route<'_>,
    cmdlet_label: &str,
) -> Option<Response<Body>> {
    let (headers, version) = (route.headers, route.version);
    if header(headers, "x-responseformat").is_some_and(|f| f.eq_ignore_ascii_case("clixml")) {
        count(tenant, cmdlet_label, "400");
        return Some(bad_request(
            "The sandbox answers in JSON only; do not send X-ResponseFormat: clixml.",
        ));
    }
    let anchor = header(headers, "x-anchormailbox");
    let anchor_required = version == "v2.0" || state.config.require_anchor;
    match anchor {
        Some(a) if !ANCHOR_PREFIXES.iter().any(|p| starts_with_ci(a, p)) => {
            count(tenant, cmdlet_label, "400");
            Some(bad_request(&format!(
                "X-AnchorMailbox '{a}' is not a routing hint (UPN:, SMTP:, APP: or MBX:)."
            )))
        }
        None if anchor_required => {
            count(tenant, cmdlet_label, "400");
            Some(bad_request("The X-AnchorMailbox header is required."))
        }
        Some(a)
            if starts_with_ci(a, "APP:")
                && route.behaviour.refuse_app_anchor_for_users
                && route.caller.upn.is_some() =>
        {
            count(tenant, cmdlet_label, "400");
            Some(bad_request(&format!(
                "X-AnchorMailbox '{a}' routes an app's calls, but the token is {}'s: route a user's calls by UPN:.",
                route.caller.upn.as_deref().unwrap_or("a user")
            )))
        }
        _ => None,
    }
}

/// The answer to an admitted request: the module's cmdlet list, a `$batch`, or a cmdlet run.
fn answer(
    ctx: &Ctx<'_>,
    kind: Kind,
    input: Option<&Value>,
    query: &[(String, String)],
    headers: &HeaderMap,
) -> Response<Body> {
    match kind {
        Kind::ModuleFile => {
            let exported: Vec<&str> = cmdlets::known_cmdlets()
                .iter()
                .copied()
                .filter(|c| ctx.access == Access::Full || !cmdlets::is_write(c))
                .collect();
            json_response(
                StatusCode::OK,
                &json!({"value": {"exportedCmdlets": exported.join(",")}}),
            )
        }
        Kind::Batch => batch(ctx, input, headers),
        Kind::Invoke | Kind::V2(..) => {
            let allowed = match kind {
                Kind::V2(cmdlets) => Some(cmdlets),
                _ => None,
            };
            let (status, body, error_type) =
                invoke(ctx, input, query, prefer_page_size(headers), allowed);
            let mut response = json_response(status, &body);
            if let Some(error_type) = error_type {
                insert(response.headers_mut(), "x-exceptiontype", &error_type);
            }
            response
        }
    }
}

/// Counts and sends the answer, with what is left of the rate budget (`rate_remaining`) and the
/// backend's name, unless a fault that strikes after the cmdlet ran loses it.
fn finish(
    tenant: &Tenant,
    cmdlet_label: &str,
    after: Option<FaultKind>,
    rate: Option<RateHeaders>,
    mut response: Response<Body>,
) -> Result<Response<Body>, Dropped> {
    if let Some(rate) = rate {
        rate_limit_headers(
            response.headers_mut(),
            rate.limit,
            rate.remaining,
            rate.reset,
        );
    }
    insert(response.headers_mut(), "x-calculatedbetarget", BACKEND);
    match after {
        Some(FaultKind::AppliedDrop) => {
            count(tenant, cmdlet_label, "drop");
            Err(Dropped)
        }
        Some(_) => {
            count(tenant, cmdlet_label, "504");
            Ok(json_response(
                StatusCode::GATEWAY_TIMEOUT,
                &json!({"error": {"code": "GatewayTimeout", "message": "The operation timed out."}}),
            ))
        }
        None => {
            count(tenant, cmdlet_label, response.status().as_str());
            Ok(response)
        }
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Invoke,
    Batch,
    ModuleFile,
    V2(&'static [&'static str]),
}

struct Ctx<'a> {
    state: &'a Arc<State>,
    /// The base URL of the listener the request came in on: page links name it.
    base_url: &'a str,
    behaviour: &'a Behaviour,
    /// The endpoint the request named (`InvokeCommand`, or a v2.0 endpoint such as `Mailbox`),
    /// which page links repeat.
    endpoint: &'a str,
    tenant: &'a Tenant,
    tenant_key: &'a str,
    version: &'a str,
    access: Access,
    client_request_id: Option<String>,
    /// Whether a page link was followed by GET, the body recalled from its token.
    followed: bool,
}

impl Ctx<'_> {
    /// The status this tenant answers a cmdlet error with, when configured.
    fn behaviour_status(&self, error: &CmdletError) -> Option<StatusCode> {
        self.behaviour
            .error_status
            .get(error.exception_type())
            .and_then(|s| StatusCode::from_u16(*s).ok())
    }
}

/// The `$skiptoken` of a page link's query, if it has one.
fn skiptoken(query: &[(String, String)]) -> Option<&str> {
    query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("$skiptoken"))
        .map(|(_, v)| v.as_str())
}

/// Runs one InvokeCommand body, returning the status, the JSON body and the X-ExceptionType.
fn invoke(
    ctx: &Ctx<'_>,
    input: Option<&Value>,
    query: &[(String, String)],
    page_size: usize,
    allowed: Option<&[&str]>,
) -> (StatusCode, Value, Option<String>) {
    let (name, params) = match cmdlet_input(input, allowed) {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let empty = Map::new();
    let params = params.unwrap_or(&empty);
    let select = query
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("$select"))
        .map(|(_, v)| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .collect::<Vec<_>>()
        });
    let skiptoken = skiptoken(query);
    let request_hash = request_hash(name, params);

    // A follow-up page names its offset in a signed token; the cmdlet runs again and only that
    // page is rendered. No result is kept between pages, and the same link gives the same page.
    let skip = match skiptoken {
        None => 0,
        Some(token) => match ctx
            .state
            .page_tokens
            .open(token, &ctx.tenant.domain, &request_hash)
        {
            Some(offset) => offset,
            None => {
                return bad_request_body(
                    "The $skiptoken is not valid for this request: it has expired, was altered, or the body differs from the first page's.",
                );
            }
        },
    };
    let page = cmdlets::Page {
        skip,
        take: page_size,
    };

    let result = run_logged(ctx, name, params, page);
    match result {
        Ok(output) => {
            let next = output.more.then(|| {
                ctx.state.page_tokens.seal(
                    &ctx.tenant.domain,
                    &request_hash,
                    skip + output.value.len(),
                    || json!({"CmdletInput": {"CmdletName": name, "Parameters": params}}),
                )
            });
            if ctx.followed {
                lock(&ctx.tenant.counters).pages_by_get += 1;
            }
            let mut body = page_body(ctx, output.value, &output.warnings, next, select.as_deref());
            if let (Some(message), Value::Object(map)) = (output.confirmation, &mut body) {
                map.insert("@adminapi.confirmationmessage".into(), message.into());
            }
            (StatusCode::OK, body, None)
        }
        Err(error) => {
            let status = ctx.behaviour_status(&error).unwrap_or_else(|| {
                StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST)
            });
            let exception = error.exception_type().to_string();
            let body = cmdlet_error_body(&error, ctx.behaviour.error_details);
            (status, body, Some(exception))
        }
    }
}

/// An answer: the status, the JSON body and the X-ExceptionType.
type Answer = (StatusCode, Value, Option<String>);

/// A cmdlet's name and its parameters, if any, as an InvokeCommand body names them.
type CmdletCall<'a> = (&'a str, Option<&'a Map<String, Value>>);

/// The cmdlet name and parameters (`None` when not given) of an InvokeCommand body, or the
/// answer refusing it: a body that is not `{"CmdletInput":{…}}`, or a cmdlet a v2.0 endpoint
/// does not take.
fn cmdlet_input<'a>(
    input: Option<&'a Value>,
    allowed: Option<&[&str]>,
) -> Result<CmdletCall<'a>, Answer> {
    let Some(input) = input else {
        return Err(bad_request_body("The request body is not valid JSON."));
    };
    let Some(cmdlet_input) = input.get("CmdletInput").and_then(Value::as_object) else {
        return Err(bad_request_body(
            "The request body must be {\"CmdletInput\":{\"CmdletName\":…,\"Parameters\":{…}}}.",
        ));
    };
    let Some(name) = cmdlet_input.get("CmdletName").and_then(Value::as_str) else {
        return Err(bad_request_body(
            "CmdletInput.CmdletName is missing or not a string.",
        ));
    };
    let params = match cmdlet_input.get("Parameters") {
        None | Some(Value::Null) => None,
        Some(Value::Object(p)) => Some(p),
        Some(_) => {
            return Err(bad_request_body(
                "CmdletInput.Parameters must be a JSON object.",
            ));
        }
    };
    if let Some(allowed) = allowed
        && !allowed.iter().any(|c| c.eq_ignore_ascii_case(name))
    {
        return Err(bad_request_body(&format!(
            "The cmdlet '{name}' is not supported on this endpoint; it accepts {}.",
            allowed.join(", ")
        )));
    }
    if allowed.is_some()
        && !cmdlets::known_cmdlets()
            .iter()
            .any(|c| c.eq_ignore_ascii_case(name))
    {
        return Err((
            StatusCode::NOT_IMPLEMENTED,
            json!({"error": {"code": "NotImplemented", "message": format!("The sandbox does not implement {name}; this v2.0 endpoint is routed but has no cmdlets behind it yet.")}}),
            None,
        ));
    }
    Ok((name, params))
}

/// Runs a cmdlet over the tenant's directory and, for a write, logs it under the directory's
/// lock, so the log's order is the order writes applied.
fn run_logged(
    ctx: &Ctx<'_>,
    name: &str,
    params: &Map<String, Value>,
    page: cmdlets::Page,
) -> Result<cmdlets::CmdletOutput, CmdletError> {
    let canonical = cmdlets::known_cmdlets()
        .iter()
        .find(|c| c.eq_ignore_ascii_case(name))
        .map(|c| c.to_string())
        .unwrap_or_else(|| name.to_string());
    let mut directory = lock(&ctx.tenant.directory);
    // SecureString parameters are decrypted as they are bound, before the cmdlet runs; only a
    // digest of each is kept.
    let result = match ctx.state.secure_strings.open(name, params) {
        Ok(digests) => {
            if let Some(last) = digests.last() {
                let mut counters = lock(&ctx.tenant.counters);
                counters.secure_strings += digests.len() as u64;
                counters.last_secure_string_sha256 =
                    Some(last.iter().map(|b| format!("{b:02x}")).collect());
            }
            cmdlets::invoke_page(
                &mut directory,
                name,
                params,
                ctx.access,
                page,
                &ctx.behaviour.unapplied,
            )
        }
        Err(refused) => Err(refused),
    };
    // Logged under the directory's lock, so the log's order is the order writes applied.
    if cmdlets::is_write(name) {
        let (status, changed, error, unapplied) = match &result {
            Ok(out) => (200, out.changed, None, out.unapplied.clone()),
            Err(e) => (e.status, false, Some(e.class.clone()), Vec::new()),
        };
        if !unapplied.is_empty() {
            lock(&ctx.tenant.counters).unapplied += 1;
        }
        ctx.state.log_write(WriteRecord {
            seq: 0,
            at_ms: ctx.state.elapsed_ms(),
            tenant: ctx.tenant.domain.clone(),
            cmdlet: canonical,
            parameters: Value::Object(params.clone()),
            status,
            changed,
            error,
            client_request_id: ctx.client_request_id.clone(),
            what_if: cmdlets::only_describes(name, params),
            unapplied,
        });
    }
    result
}

fn page_body(
    ctx: &Ctx<'_>,
    items: Vec<Value>,
    warnings: &[String],
    next: Option<String>,
    select: Option<&[String]>,
) -> Value {
    let base = format!(
        "{}/adminapi/{}/{}",
        ctx.base_url, ctx.version, ctx.tenant_key
    );
    let items: Vec<Value> = match select {
        None => items,
        Some(fields) => items
            .into_iter()
            .map(|item| project(item, fields))
            .collect(),
    };
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        format!("{base}/$metadata#Collection(Exchange.GenericHashTable)").into(),
    );
    body.insert("value".into(), Value::Array(items));
    if let Some(token) = next {
        let mut link = format!("{base}/{}?$skiptoken={token}", ctx.endpoint);
        if let Some(fields) = select {
            link.push_str("&$select=");
            link.push_str(&fields.join(","));
        }
        body.insert("@odata.nextLink".into(), link.into());
    }
    if !warnings.is_empty() {
        body.insert("@adminapi.warnings".into(), json!(warnings));
    }
    Value::Object(body)
}

/// A hash of what a request asks, not how it is spelled: the cmdlet and parameter names in any
/// case, object keys in any order. A page link is valid for any body that asks the same.
fn request_hash(cmdlet: &str, params: &Map<String, Value>) -> [u8; 32] {
    fn canonical(value: &Value, out: &mut String, lower_keys: bool) {
        match value {
            Value::Object(map) => {
                let mut entries: Vec<(String, &Value)> = map
                    .iter()
                    .map(|(k, v)| {
                        (
                            if lower_keys {
                                k.to_lowercase()
                            } else {
                                k.clone()
                            },
                            v,
                        )
                    })
                    .collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                out.push('{');
                for (k, v) in entries {
                    out.push_str(&serde_json::to_string(&k).unwrap_or_default());
                    out.push(':');
                    canonical(v, out, false);
                    out.push(',');
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for item in items {
                    canonical(item, out, false);
                    out.push(',');
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut text = cmdlet.to_lowercase();
    text.push('\n');
    canonical(&Value::Object(params.clone()), &mut text, true);
    Sha256::digest(text.as_bytes()).into()
}

fn project(item: Value, fields: &[String]) -> Value {
    match item {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| fields.iter().any(|f| f.eq_ignore_ascii_case(k)))
                .collect(),
        ),
        other => other,
    }
}

fn cmdlet_error_body(error: &CmdletError, form: crate::config::ErrorDetails) -> Value {
    if form == crate::config::ErrorDetails::Json {
        // The exception as a JSON text; the class is known only by parsing it.
        let detail = json!({
            "Message": error.message,
            "TypeName": error.class,
            "InnerError": {"Message": error.message, "TypeName": error.class, "InnerError": null},
        });
        return json!({"error": {
            "code": "InternalServerError",
            "message": "Error executing cmdlet",
            "details": [{"code": error.category, "target": error.target, "message": detail.to_string()}],
            "innererror": {
                "message": "Error executing cmdlet",
                "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                "stacktrace": ""
            }
        }});
    }
    let detail = format!("{}|{}|{}", error.error_id, error.class, error.message);
    json!({"error": {
        "code": "InternalServerError",
        "message": "Error executing cmdlet",
        "details": [{"code": error.category, "target": error.target, "message": detail}],
        "innererror": {
            "message": "Error executing cmdlet",
            "type": "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
            "stacktrace": "",
            "internalexception": {"message": error.message, "type": error.class, "stacktrace": ""}
        }
    }})
}

/// Checks that a batch item is a POST to InvokeCommand of the batch's own tenant (as a path, or
/// a URL on this server), as the service routes a batch to one tenant.
fn batch_item_target(
    ctx: &Ctx<'_>,
    request: &Value,
    path: &str,
) -> Result<(), (StatusCode, String)> {
    let method = request.get("method").and_then(Value::as_str).unwrap_or("");
    if !method.eq_ignore_ascii_case("POST") {
        return Err((
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Batch items must use POST, not '{method}'."),
        ));
    }
    let path = path.strip_prefix(ctx.base_url).unwrap_or(path);
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    match segments
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        // Items run with the batch's own version, permissions and headers.
        ["adminapi", version, tenant, "InvokeCommand"] if *version == ctx.version => {
            match ctx.state.tenant(tenant) {
                Some(t) if t.domain == ctx.tenant.domain => Ok(()),
                _ => Err((
                    StatusCode::BAD_REQUEST,
                    format!("Batch item url '{path}' addresses another tenant than the batch."),
                )),
            }
        }
        _ => Err((
            StatusCode::BAD_REQUEST,
            format!("Batch item url '{path}' is not an InvokeCommand URL of this service."),
        )),
    }
}

/// Runs a `$batch`'s items in order, after the one latency the request waited, and answers
/// each by its `id` with its own `status`, `headers` and `body` (errors in a single call's
/// form). Every item is run whatever the others' outcomes, as `Prefer:
/// odata.continue-on-error` asks (acknowledged in `Preference-Applied`); how the service
/// treats a batch without it is not known. An item may be struck alone by an injected fault.
fn batch(ctx: &Ctx<'_>, input: Option<&Value>, headers: &HeaderMap) -> Response<Body> {
    let Some(requests) = input
        .and_then(|v| v.get("requests"))
        .and_then(Value::as_array)
    else {
        return bad_request(
            "A $batch body is {\"requests\":[{\"id\":…,\"method\":\"POST\",\"url\":…,\"body\":{…}}]}.",
        );
    };
    if requests.len() > MAX_BATCH {
        return bad_request(&format!(
            "A $batch holds at most {MAX_BATCH} requests; this one has {}.",
            requests.len()
        ));
    }
    let outer_page = prefer_page_size(headers);
    let responses: Vec<Value> = requests
        .iter()
        .map(|request| batch_item(ctx, request, outer_page))
        .collect();
    lock(&ctx.tenant.counters).batch_items += responses.len() as u64;
    let mut response = json_response(StatusCode::OK, &json!({"responses": responses}));
    if continue_on_error(headers) {
        insert(
            response.headers_mut(),
            "preference-applied",
            "odata.continue-on-error",
        );
    }
    response
}

/// Whether a request's `Prefer` asks for `odata.continue-on-error` (alone, or `=true`).
fn continue_on_error(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([';', ',']))
        .any(|part| {
            let (key, value) = part.split_once('=').unwrap_or((part, "true"));
            key.trim().eq_ignore_ascii_case("odata.continue-on-error")
                && !value.trim().eq_ignore_ascii_case("false")
        })
}

/// Answers one item of a `$batch`: `{"id", "status", "headers", "body"}`, counted under its
/// cmdlet.
fn batch_item(ctx: &Ctx<'_>, request: &Value, outer_page: usize) -> Value {
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let url = request.get("url").and_then(Value::as_str).unwrap_or("");
    let (path, query_text) = url.split_once('?').unwrap_or((url, ""));
    let name = request
        .pointer("/body/CmdletInput/CmdletName")
        .and_then(Value::as_str);
    let cmdlet = stats_label(name);
    let mut item_headers = json!({"Content-Type": "application/json"});
    if let Some(name) = name {
        item_headers["Cmdlet-Name"] = name.into();
    }
    let (status, body) = if let Err((status, message)) = batch_item_target(ctx, request, path) {
        let code = status
            .canonical_reason()
            .unwrap_or("BadRequest")
            .replace(' ', "");
        (status, json!({"error": {"code": code, "message": message}}))
    } else {
        let fault = draw_item_fault(ctx.tenant, ctx.behaviour);
        if let Some(kind) = fault {
            *lock(&ctx.tenant.counters)
                .faults
                .entry(kind.name().into())
                .or_default() += 1;
        }
        match fault {
            // Struck before the cmdlet ran.
            Some(kind) if kind != FaultKind::AppliedTimeout => {
                let (status, body, retry_after) = fault_answer(kind, ctx.behaviour);
                if let Some(after) = retry_after {
                    item_headers["Retry-After"] = after.into();
                }
                (status, body)
            }
            _ => {
                let query = parse_query(query_text);
                let sub_page = request
                    .get("headers")
                    .and_then(|h| h.as_object())
                    .and_then(|h| {
                        h.iter()
                            .find(|(k, _)| k.eq_ignore_ascii_case("prefer"))
                            .and_then(|(_, v)| v.as_str())
                            .and_then(page_size_of)
                    })
                    .unwrap_or(outer_page);
                let (status, body, error_type) =
                    invoke(ctx, request.get("body"), &query, sub_page, None);
                if fault.is_some() {
                    // The cmdlet ran; its answer is lost to a timeout.
                    let (status, body, retry_after) =
                        fault_answer(FaultKind::AppliedTimeout, ctx.behaviour);
                    if let Some(after) = retry_after {
                        item_headers["Retry-After"] = after.into();
                    }
                    (status, body)
                } else {
                    if let Some(error_type) = error_type {
                        item_headers["X-ExceptionType"] = error_type.into();
                    }
                    (status, body)
                }
            }
        }
    };
    count(ctx.tenant, &cmdlet, status.as_str());
    json!({"id": id, "status": status.as_u16(), "headers": item_headers, "body": body})
}

fn unauthorized(tenant: &Tenant, cmdlet: &str, reason: &'static str) -> Response<Body> {
    count(tenant, cmdlet, "401");
    *lock(&tenant.counters)
        .unauthorized
        .entry(reason.into())
        .or_default() += 1;
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::UNAUTHORIZED;
    let challenge = format!(
        "Bearer realm=\"\",authorization_uri=\"https://login.microsoftonline.com/common/oauth2/authorize\",client_id=\"00000002-0000-0ff1-ce00-000000000000\",error=\"invalid_token\",error_description=\"{reason}\""
    );
    insert(response.headers_mut(), "www-authenticate", &challenge);
    insert(
        response.headers_mut(),
        "x-ms-diagnostics",
        &format!("2000001;reason=\"{reason}\";error_category=\"invalid_token\""),
    );
    response
}

fn throttled(retry_after: f64, message: &str) -> Response<Body> {
    let mut response = json_response(
        StatusCode::TOO_MANY_REQUESTS,
        &json!({"error": {"code": "TooManyRequests", "message": message}}),
    );
    insert(response.headers_mut(), "retry-after", &seconds(retry_after));
    response
}

/// A `Retry-After` value: whole seconds without a fraction; the service's header may carry one.
fn seconds(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("{}", value as u64)
    } else {
        format!("{value:.3}")
    }
}

fn bad_request_body(message: &str) -> (StatusCode, Value, Option<String>) {
    (
        StatusCode::BAD_REQUEST,
        json!({"error": {"code": "BadRequest", "message": message}}),
        None,
    )
}

fn bad_request(message: &str) -> Response<Body> {
    let (status, body, _) = bad_request_body(message);
    json_response(status, &body)
}

/// `Prefer: odata.maxpagesize=N` (1..5000), else 1000; tolerates spaces and other preferences.
fn prefer_page_size(headers: &HeaderMap) -> usize {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(page_size_of)
        .unwrap_or(1000)
}

fn page_size_of(prefer: &str) -> Option<usize> {
    prefer.split([';', ',']).find_map(|part| {
        let (k, v) = part.split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("odata.maxpagesize") {
            return None;
        }
        let n: usize = v.trim().parse().ok()?;
        Some(n.clamp(1, 5000))
    })
}

// ---------------------------------------------------------------------------------------------
// Small HTTP helpers

async fn read_body(req: Request<Incoming>) -> Result<Bytes, Response<Body>> {
    match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(json_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            &json!({"error": {"code": "RequestEntityTooLarge", "message": "The request body is too large."}}),
        )),
    }
}

/// A plain-text answer, as the service's front end gives some refusals.
fn plain_text(status: u16, text: &str) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(text.to_string())));
    *response.status_mut() =
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    insert(
        response.headers_mut(),
        "content-type",
        "text/plain; charset=utf-8",
    );
    response
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut response = Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    insert(
        response.headers_mut(),
        "content-type",
        "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8",
    );
    response
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn insert(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

fn starts_with_ci(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len()
        && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Decodes `%XX` escapes (and leaves malformed ones as they are).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Parses `a=1&b=two+words` (query strings and form bodies).
fn parse_query(text: &str) -> Vec<(String, String)> {
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&k.replace('+', " ")),
                percent_decode(&v.replace('+', " ")),
            )
        })
        .collect()
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sandbox's state with one small tenant, contoso.
    fn state() -> Arc<State> {
        let config = crate::SandboxConfig::with_tenants(1, 3);
        Arc::new(State::new(config, "http://127.0.0.1:9".into()).expect("a valid configuration"))
    }

    /// Runs a cmdlet in contoso as InvokeCommand does (write log, statistics), without HTTP.
    fn call(state: &Arc<State>, cmdlet: &str, params: Value) -> (StatusCode, Value) {
        let tenant = &state.tenants[0];
        let behaviour = lock(&tenant.behaviour).clone();
        let ctx = Ctx {
            state,
            base_url: &state.base_url,
            behaviour: &behaviour,
            endpoint: "InvokeCommand",
            tenant,
            tenant_key: &tenant.domain,
            version: "beta",
            access: Access::Full,
            client_request_id: None,
            followed: false,
        };
        let input = json!({"CmdletInput": {"CmdletName": cmdlet, "Parameters": params}});
        let (status, body, _) = invoke(&ctx, Some(&input), &[], 1000, None);
        (status, body)
    }

    #[test]
    fn a_what_if_call_is_logged_as_one_and_changes_nothing() {
        let state = state();
        let before = lock(&state.tenants[0].directory).snapshot();
        let (status, body) = call(
            &state,
            "Set-Mailbox",
            json!({"Identity": "user001", "CustomAttribute1": "x", "WhatIf": true}),
        );
        assert_eq!(status, StatusCode::OK);
        assert!(
            body["@adminapi.confirmationmessage"]
                .as_str()
                .is_some_and(|m| m.starts_with("What if: ")),
            "{body}"
        );
        let (_, body) = call(
            &state,
            "New-AcceptedDomain",
            json!({"Name": "Fabrikam", "DomainName": "fabrikam.com", "Confirm": true}),
        );
        assert!(
            body["@adminapi.confirmationmessage"]
                .as_str()
                .is_some_and(|m| m.contains("\"New-AcceptedDomain\" on target \"Fabrikam\"")),
            "{body}"
        );
        assert_eq!(lock(&state.tenants[0].directory).snapshot(), before);
        call(
            &state,
            "Set-Mailbox",
            json!({"Identity": "user001", "CustomAttribute1": "x", "Confirm": false}),
        );
        let writes = state.stats(true).writes;
        let log: Vec<(&str, bool, bool, u16)> = writes
            .iter()
            .map(|w| (w.cmdlet.as_str(), w.what_if, w.changed, w.status))
            .collect();
        assert_eq!(
            log,
            [
                ("Set-Mailbox", true, false, 200),
                ("New-AcceptedDomain", true, false, 200),
                ("Set-Mailbox", false, true, 200)
            ]
        );
    }

    #[test]
    fn an_unapplied_property_is_a_logged_success_that_does_not_take() {
        let state = state();
        lock(&state.tenants[0].behaviour).unapplied = vec!["RetainDeletedItemsFor".into()];
        let read = |state: &Arc<State>| {
            call(state, "Get-Mailbox", json!({"Identity": "user001"})).1["value"][0]
                ["RetainDeletedItemsFor"]
                .clone()
        };
        let before = read(&state);
        let want = if before == "30.00:00:00" { "7" } else { "30" };
        let (status, body) = call(
            &state,
            "Set-Mailbox",
            json!({"Identity": "user001", "RetainDeletedItemsFor": want}),
        );
        assert_eq!(status, StatusCode::OK);
        assert!(body.get("@adminapi.warnings").is_none(), "{body}");
        assert_eq!(read(&state), before, "the read after the write tells");
        // Another property still takes.
        call(
            &state,
            "Set-Mailbox",
            json!({"Identity": "user001", "CustomAttribute1": "x"}),
        );
        let stats = state.stats(true);
        assert_eq!(stats.tenant("contoso.onmicrosoft.com").unapplied, 1);
        let log: Vec<(&str, Vec<String>, bool)> = stats
            .writes
            .iter()
            .map(|w| (w.cmdlet.as_str(), w.unapplied.clone(), w.changed))
            .collect();
        assert_eq!(
            log,
            [
                (
                    "Set-Mailbox",
                    vec!["RetainDeletedItemsFor".to_string()],
                    false
                ),
                ("Set-Mailbox", Vec::new(), true)
            ]
        );
    }

    #[test]
    fn cmdlet_errors_come_in_both_detail_forms() {
        let error = CmdletError {
            status: 400,
            error_id: "Ex6F9304".into(),
            class: "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException"
                .into(),
            message: "The operation couldn't be performed.".into(),
            category: "NotSpecified",
            target: "x".into(),
        };
        let pipe = cmdlet_error_body(&error, crate::config::ErrorDetails::Pipe);
        assert_eq!(
            pipe["error"]["details"][0]["message"],
            "Ex6F9304|Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException|The operation couldn't be performed."
        );
        let json = cmdlet_error_body(&error, crate::config::ErrorDetails::Json);
        let detail: Value =
            serde_json::from_str(json["error"]["details"][0]["message"].as_str().unwrap()).unwrap();
        assert_eq!(detail["TypeName"], error.class.as_str());
        assert_eq!(detail["Message"], error.message.as_str());
        assert!(
            json["error"]["innererror"]
                .get("internalexception")
                .is_none(),
            "the class is only in the JSON text"
        );
    }

    #[test]
    fn prefer_headers_in_the_forms_clients_send() {
        assert_eq!(page_size_of("odata.maxpagesize=1000"), Some(1000));
        assert_eq!(
            page_size_of("odata.maxpagesize = 250;odata.continue-on-error"),
            Some(250)
        );
        assert_eq!(page_size_of("odata.maxpagesize=999999"), Some(5000));
        assert_eq!(page_size_of("odata.continue-on-error"), None);
    }

    #[test]
    fn percent_decoding_and_queries() {
        assert_eq!(percent_decode("%24batch"), "$batch");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(
            parse_query("a=1&b=two+words&c=%2F"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "two words".into()),
                ("c".into(), "/".into())
            ]
        );
    }
}
