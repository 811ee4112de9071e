//! The sandbox's Entra ID on the wire: the token endpoint for every grant, certificate
//! assertions verified against the registered certificate, workload tokens exchanged through
//! federated credentials, device code, discovery.

use std::time::Duration;

use serde_json::{Map, Value, json};
use tenantry::jwt::{self, Algorithm, Certificate};
use tenantry::sandbox::{
    APP_PRIVATE_KEY, APPS, EXO_PUBLIC_CLIENT, SandboxConfig, WORKLOAD_AUDIENCE,
    WORKLOAD_READER_SUBJECT, WORKLOAD_SUBJECT,
};

use crate::wire::{CONTOSO, SCOPE, Wire, claims, cmdlet_input};

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
const OTHER_KEY: &str = include_str!("../fixtures/other.key");
const OTHER_CERT: &str = include_str!("../fixtures/other.crt");

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A client assertion as MSAL builds one: x5t header, iss = sub = client id, aud = token URL.
fn assertion(
    client_id: &str,
    key_pem: &str,
    cert_pem: &str,
    alg: Algorithm,
    aud: &str,
    exp: i64,
) -> String {
    let key = jwt::private_key_from_pem(key_pem).unwrap();
    let cert = Certificate::from_pem(cert_pem).unwrap();
    let mut header = Map::new();
    header.insert("x5t".into(), cert.x5t.into());
    let claims = json!({
        "aud": aud, "iss": client_id, "sub": client_id,
        "jti": "a1b2c3", "nbf": now() - 10, "exp": exp,
    });
    jwt::sign(header, claims.as_object().unwrap(), alg, &key).unwrap()
}

/// Asserts an Entra error body: status, `error`, and the AADSTS code leading the description.
fn assert_entra_error(reply: &crate::wire::Reply, status: u16, error: &str, code: u32) {
    assert_eq!(reply.status, status, "{}", reply.json);
    assert_eq!(reply.json["error"], error, "{}", reply.json);
    let description = reply.json["error_description"].as_str().unwrap();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "{description}"
    );
    assert!(description.contains("Trace ID: ") && description.contains("Timestamp: "));
    assert_eq!(reply.json["error_codes"], json!([code]));
    for field in ["timestamp", "trace_id", "correlation_id", "error_uri"] {
        assert!(
            reply.json[field].is_string(),
            "{field} missing: {}",
            reply.json
        );
    }
}

#[tokio::test]
async fn client_secret_grant_issues_a_jwt_with_the_exchange_claims() {
    let wire = Wire::tenants(3).await;
    let tenant = &wire.sandbox.tenants()[0];
    let reply = wire
        .token_request(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APPS[0].client_id),
                ("client_secret", APPS[0].client_secret),
                ("scope", SCOPE),
            ],
        )
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.json["token_type"], "Bearer");
    assert_eq!(reply.json["expires_in"], 3600);
    assert!(
        reply.json.get("refresh_token").is_none(),
        "app-only tokens have no refresh token"
    );
    let c = claims(reply.json["access_token"].as_str().unwrap());
    assert_eq!(c["aud"], "https://outlook.office365.com");
    assert_eq!(c["tid"], tenant.id.as_str());
    assert_eq!(
        c["roles"],
        json!(["Exchange.ManageAsApp", "Exchange.ManageAsAppV2"])
    );
    assert_eq!(c["appid"], APPS[0].client_id);
    assert_eq!(c["appidacr"], "1");
    let exp = c["exp"].as_i64().unwrap();
    assert!((exp - now() - 3600).abs() <= 5, "exp {exp}");
    // The token verifies against the published signing key.
    let jwks: Value = wire
        .http
        .get(format!("{}/{CONTOSO}/discovery/v2.0/keys", wire.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert_eq!(
        tenantry::jwt::parse(reply.json["access_token"].as_str().unwrap())
            .unwrap()
            .header["kid"],
        jwks["keys"][0]["kid"]
    );
    // Tenant by GUID works as well as by domain.
    let by_id = wire
        .token_request(
            &tenant.id,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APPS[0].client_id),
                ("client_secret", APPS[0].client_secret),
                ("scope", SCOPE),
            ],
        )
        .await;
    assert_eq!(by_id.status, 200);
    assert_eq!(
        wire.sandbox.stats().tenant(CONTOSO).tokens_issued["client_secret"],
        2
    );
}

#[tokio::test]
async fn bad_client_credentials_get_entra_errors() {
    let wire = Wire::tenants(1).await;
    let form = |id: &'static str, secret: &'static str| {
        vec![
            ("grant_type", "client_credentials"),
            ("client_id", id),
            ("client_secret", secret),
            ("scope", SCOPE),
        ]
    };
    let wrong_secret = wire
        .token_request(CONTOSO, &form(APPS[0].client_id, "nope"))
        .await;
    assert_entra_error(&wrong_secret, 401, "invalid_client", 7000215);
    let unknown_app = wire
        .token_request(CONTOSO, &form("00000000-0000-0000-0000-000000000001", "x"))
        .await;
    assert_entra_error(&unknown_app, 400, "unauthorized_client", 700016);
    let unknown_tenant = wire
        .token_request(
            "nowhere.onmicrosoft.com",
            &form(APPS[0].client_id, APPS[0].client_secret),
        )
        .await;
    assert_entra_error(&unknown_tenant, 400, "invalid_tenant", 90002);
    let bad_scope = wire
        .token_request(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APPS[0].client_id),
                ("client_secret", APPS[0].client_secret),
                ("scope", "https://example.invalid/.default"),
            ],
        )
        .await;
    assert_entra_error(&bad_scope, 400, "invalid_resource", 500011);
    let no_grant = wire
        .token_request(CONTOSO, &[("client_id", APPS[0].client_id)])
        .await;
    assert_entra_error(&no_grant, 400, "invalid_request", 900144);
    let counted = wire.sandbox.stats().tenant(CONTOSO).token_errors;
    assert_eq!(counted["invalid_client"], 1);
    assert_eq!(wire.sandbox.stats().tenant(CONTOSO).tokens(), 0);
}

#[tokio::test]
async fn certificate_assertions_are_verified_against_the_registered_certificate() {
    let wire = Wire::tenants(1).await;
    let token_url = format!("{}/{CONTOSO}/oauth2/v2.0/token", wire.url());
    let cert = tenantry::sandbox::APP_CERTIFICATE;
    let send = |assertion: String| {
        let wire = &wire;
        async move {
            wire.token_request(
                CONTOSO,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", APPS[0].client_id),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", &assertion),
                    ("scope", SCOPE),
                ],
            )
            .await
        }
    };
    for alg in [Algorithm::Rs256, Algorithm::Ps256] {
        let ok = send(assertion(
            APPS[0].client_id,
            APP_PRIVATE_KEY,
            cert,
            alg,
            &token_url,
            now() + 600,
        ))
        .await;
        assert_eq!(ok.status, 200, "{}: {}", alg.name(), ok.json);
        assert_eq!(
            claims(ok.json["access_token"].as_str().unwrap())["appidacr"],
            "2"
        );
    }
    // Each refusal, with the AADSTS code and the reason Entra gives.
    let wrong_endpoint = "https://login.microsoftonline.com/other/oauth2/v2.0/token";
    let refusals = [
        (
            "signed with another key, claiming the registered thumbprint",
            APPS[0].client_id,
            OTHER_KEY,
            cert,
            token_url.as_str(),
            now() + 600,
            700027,
            "signature value did not match",
        ),
        (
            "a certificate not registered for the app",
            APPS[0].client_id,
            OTHER_KEY,
            OTHER_CERT,
            token_url.as_str(),
            now() + 600,
            700027,
            "The key was not found",
        ),
        (
            "an audience other than this tenant's token endpoint",
            APPS[0].client_id,
            APP_PRIVATE_KEY,
            cert,
            wrong_endpoint,
            now() + 600,
            700212,
            "audience",
        ),
        (
            "expired beyond the five minutes of allowed skew",
            APPS[0].client_id,
            APP_PRIVATE_KEY,
            cert,
            token_url.as_str(),
            now() - 400,
            700024,
            "valid time range",
        ),
        (
            "made out for another app",
            APPS[1].client_id,
            APP_PRIVATE_KEY,
            cert,
            token_url.as_str(),
            now() + 600,
            700021,
            "doesn't match",
        ),
    ];
    for (case, client, key, certificate, aud, exp, code, reason) in refusals {
        let reply = send(assertion(
            client,
            key,
            certificate,
            Algorithm::Rs256,
            aud,
            exp,
        ))
        .await;
        assert_entra_error(&reply, 401, "invalid_client", code);
        let description = reply.json["error_description"].as_str().unwrap();
        assert!(description.contains(reason), "{case}: {description}");
    }
    // The unconsented app has no certificate registered at all.
    let unconsented = wire
        .token_request(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APPS[2].client_id),
                ("client_assertion_type", ASSERTION_TYPE),
                (
                    "client_assertion",
                    &assertion(
                        APPS[2].client_id,
                        APP_PRIVATE_KEY,
                        cert,
                        Algorithm::Rs256,
                        &token_url,
                        now() + 600,
                    ),
                ),
                ("scope", SCOPE),
            ],
        )
        .await;
    assert_entra_error(&unconsented, 401, "invalid_client", 700027);
    let tokens = wire.sandbox.stats().tenant(CONTOSO).tokens_issued;
    assert_eq!(tokens["certificate"], 2);
}

#[tokio::test]
async fn password_grant_works_without_mfa_and_is_refused_for_mfa_users() {
    let wire = Wire::tenants(1).await;
    let password = |user: &str, pass: &str| {
        vec![
            ("grant_type", "password".to_string()),
            ("client_id", EXO_PUBLIC_CLIENT.to_string()),
            ("username", format!("{user}@{CONTOSO}")),
            ("password", pass.to_string()),
            ("scope", format!("{SCOPE} offline_access")),
        ]
    };
    let send = |form: Vec<(&'static str, String)>| {
        let wire = &wire;
        async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            wire.token_request(CONTOSO, &form).await
        }
    };
    let legacy = send(password("legacy.admin", "Sandbox-Legacy-1")).await;
    assert_eq!(legacy.status, 200, "{}", legacy.json);
    let c = claims(legacy.json["access_token"].as_str().unwrap());
    assert_eq!(c["upn"], format!("legacy.admin@{CONTOSO}"));
    assert!(
        c["scp"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "Exchange.Manage")
    );
    assert!(legacy.json["refresh_token"].is_string());

    let mfa = send(password("admin", "Sandbox-Admin-1")).await;
    assert_entra_error(&mfa, 400, "invalid_grant", 50076);
    assert!(
        mfa.json["error_description"]
            .as_str()
            .unwrap()
            .contains("multi-factor authentication")
    );
    let wrong = send(password("legacy.admin", "guess")).await;
    assert_entra_error(&wrong, 400, "invalid_grant", 50126);
    let nobody = send(password("nobody", "x")).await;
    assert_entra_error(&nobody, 400, "invalid_grant", 50034);

    // A refresh token is exchanged once; the new one replaces it.
    let refresh = legacy.json["refresh_token"].as_str().unwrap().to_string();
    let form = |token: &str| {
        vec![
            ("grant_type", "refresh_token".to_string()),
            ("client_id", EXO_PUBLIC_CLIENT.to_string()),
            ("refresh_token", token.to_string()),
            ("scope", SCOPE.to_string()),
        ]
    };
    let renewed = send(form(&refresh)).await;
    assert_eq!(renewed.status, 200, "{}", renewed.json);
    assert_ne!(renewed.json["refresh_token"].as_str().unwrap(), refresh);
    // As with Entra, the old one stays valid: two refreshes racing both succeed.
    let reused = send(form(&refresh)).await;
    assert_eq!(reused.status, 200, "{}", reused.json);
    // Presented at another tenant it is refused, and that does not use it up.
    let elsewhere = wire
        .token_request(
            "fabrikam.onmicrosoft.com",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", EXO_PUBLIC_CLIENT),
                ("refresh_token", &refresh),
                ("scope", SCOPE),
            ],
        )
        .await;
    assert_entra_error(&elsewhere, 400, "invalid_grant", 70000);
    assert_eq!(send(form(&refresh)).await.status, 200);
    // Revoking the tenant's sessions ends it.
    assert!(wire.sandbox.revoke_tokens(CONTOSO));
    let revoked = send(form(&refresh)).await;
    assert_entra_error(&revoked, 400, "invalid_grant", 70008);
    let tokens = wire.sandbox.stats().tenant(CONTOSO).tokens_issued;
    assert_eq!((tokens["password"], tokens["refresh_token"]), (1, 3));
}

#[tokio::test]
async fn an_expired_registered_certificate_is_refused() {
    let mut config = SandboxConfig::with_tenants(1, 3);
    config.app_certificate = Some(include_str!("../fixtures/expired.crt").to_string());
    let wire = Wire::start(config).await;
    let token_url = format!("{}/{CONTOSO}/oauth2/v2.0/token", wire.url());
    let signed = assertion(
        APPS[0].client_id,
        APP_PRIVATE_KEY,
        include_str!("../fixtures/expired.crt"),
        Algorithm::Rs256,
        &token_url,
        now() + 600,
    );
    let reply = wire
        .token_request(
            CONTOSO,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APPS[0].client_id),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &signed),
                ("scope", SCOPE),
            ],
        )
        .await;
    assert_entra_error(&reply, 401, "invalid_client", 700027);
    assert!(
        reply.json["error_description"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[tokio::test]
async fn hostile_assertions_and_forms_get_errors_not_crashes() {
    let wire = Wire::tenants(1).await;
    let token_url = format!("{}/{CONTOSO}/oauth2/v2.0/token", wire.url());
    for exp in [i64::MAX, i64::MIN] {
        let signed = assertion(
            APPS[0].client_id,
            APP_PRIVATE_KEY,
            tenantry::sandbox::APP_CERTIFICATE,
            Algorithm::Rs256,
            &token_url,
            exp,
        );
        let reply = wire
            .token_request(
                CONTOSO,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", APPS[0].client_id),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", &signed),
                    ("scope", SCOPE),
                ],
            )
            .await;
        assert!(
            matches!(reply.status, 200 | 401),
            "exp {exp}: {}",
            reply.json
        );
    }
    for assertion in ["", "a.b.c", "....", &"x".repeat(100_000)] {
        let reply = wire
            .token_request(
                CONTOSO,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", APPS[0].client_id),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", assertion),
                    ("scope", SCOPE),
                ],
            )
            .await;
        assert!(matches!(reply.status, 400 | 401), "{}", reply.json);
    }
}

#[tokio::test]
async fn device_code_at_organizations_signs_in_to_the_approving_users_tenant() {
    let mut config = SandboxConfig::with_tenants(2, 3);
    config.device_code_interval = Duration::from_millis(200);
    let wire = Wire::start(config).await;
    let start = crate::wire::read(
        wire.http
            .post(format!(
                "{}/organizations/oauth2/v2.0/devicecode",
                wire.url()
            ))
            .form(&[("client_id", EXO_PUBLIC_CLIENT), ("scope", SCOPE)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(start.status, 200, "{}", start.json);
    let code = start.json["user_code"].as_str().unwrap();
    wire.sandbox
        .approve_device_code(code, "admin@fabrikam.onmicrosoft.com")
        .unwrap();
    let reply = wire
        .token_request(
            "organizations",
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", EXO_PUBLIC_CLIENT),
                ("device_code", start.json["device_code"].as_str().unwrap()),
            ],
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let fabrikam = &wire.sandbox.tenants()[1];
    assert_eq!(
        claims(reply.json["access_token"].as_str().unwrap())["tid"],
        fabrikam.id.as_str()
    );
    assert_eq!(
        wire.sandbox
            .stats()
            .tenant("fabrikam.onmicrosoft.com")
            .tokens_issued["device_code"],
        1
    );
    // App-only sign-in needs a tenant.
    let app = wire
        .token_request(
            "common",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", APPS[0].client_id),
                ("client_secret", APPS[0].client_secret),
                ("scope", SCOPE),
            ],
        )
        .await;
    assert_entra_error(&app, 400, "invalid_request", 900023);
}

#[tokio::test]
async fn device_code_flow_polls_until_the_user_approves_with_mfa() {
    let mut config = SandboxConfig::with_tenants(1, 3);
    config.device_code_interval = Duration::from_secs(1);
    let wire = Wire::start(config).await;
    let start = wire
        .http
        .post(format!("{}/{CONTOSO}/oauth2/v2.0/devicecode", wire.url()))
        .form(&[
            ("client_id", EXO_PUBLIC_CLIENT),
            ("scope", &format!("{SCOPE} offline_access")),
        ])
        .send()
        .await
        .unwrap();
    let start = crate::wire::read(start).await;
    assert_eq!(start.status, 200, "{}", start.json);
    let user_code = start.json["user_code"].as_str().unwrap().to_string();
    let device_code = start.json["device_code"].as_str().unwrap().to_string();
    assert_eq!(start.json["interval"], 1);
    assert!(start.json["message"].as_str().unwrap().contains(&user_code));
    assert!(
        start.json["verification_uri"]
            .as_str()
            .unwrap()
            .ends_with("/sandbox/devicelogin")
    );

    let poll = || {
        let wire = &wire;
        let device_code = device_code.clone();
        async move {
            wire.token_request(
                CONTOSO,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("client_id", EXO_PUBLIC_CLIENT),
                    ("device_code", &device_code),
                ],
            )
            .await
        }
    };
    let pending = poll().await;
    assert_entra_error(&pending, 400, "authorization_pending", 70016);
    let too_fast = poll().await;
    assert_eq!(too_fast.json["error"], "slow_down", "{}", too_fast.json);

    // The sign-in page's form, as the user's browser submits it.
    let approved = wire
        .http
        .post(format!("{}/sandbox/devicelogin", wire.url()))
        .form(&[
            ("user_code", user_code.as_str()),
            ("username", &format!("admin@{CONTOSO}")),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(approved.status(), 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let granted = poll().await;
    assert_eq!(granted.status, 200, "{}", granted.json);
    let c = claims(granted.json["access_token"].as_str().unwrap());
    assert_eq!(c["upn"], format!("admin@{CONTOSO}"));
    assert_eq!(c["amr"], json!(["pwd", "mfa"]));
    assert!(granted.json["refresh_token"].is_string());
    // The code is used up.
    let again = poll().await;
    assert_entra_error(&again, 400, "invalid_grant", 70000);
    // A confidential app cannot start a device-code sign-in.
    let confidential = wire
        .http
        .post(format!("{}/{CONTOSO}/oauth2/v2.0/devicecode", wire.url()))
        .form(&[("client_id", APPS[0].client_id), ("scope", SCOPE)])
        .send()
        .await
        .unwrap();
    assert_entra_error(
        &crate::wire::read(confidential).await,
        401,
        "invalid_client",
        7000218,
    );
}

#[tokio::test]
async fn a_declined_device_code_sign_in_fails() {
    let wire = Wire::tenants(1).await;
    let start = crate::wire::read(
        wire.http
            .post(format!("{}/{CONTOSO}/oauth2/v2.0/devicecode", wire.url()))
            .form(&[("client_id", EXO_PUBLIC_CLIENT), ("scope", SCOPE)])
            .send()
            .await
            .unwrap(),
    )
    .await;
    let user_code = start.json["user_code"].as_str().unwrap();
    let declined = wire
        .http
        .post(format!("{}/sandbox/devicelogin", wire.url()))
        .json(&json!({"user_code": user_code, "decline": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(declined.status(), 200);
    let reply = wire
        .token_request(
            CONTOSO,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                ("client_id", EXO_PUBLIC_CLIENT),
                ("device_code", start.json["device_code"].as_str().unwrap()),
            ],
        )
        .await;
    assert_entra_error(&reply, 400, "authorization_declined", 70000);
    // Approving an unknown code is refused rather than ignored.
    assert!(
        wire.sandbox
            .approve_device_code("NOSUCHCODE", "admin@contoso.onmicrosoft.com")
            .is_err()
    );
}

#[tokio::test]
async fn openid_configuration_points_at_the_sandbox_endpoints() {
    let wire = Wire::tenants(1).await;
    for path in [
        format!("{CONTOSO}/v2.0/.well-known/openid-configuration"),
        "common/.well-known/openid-configuration".to_string(),
    ] {
        let doc: Value = wire
            .http
            .get(format!("{}/{path}", wire.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = doc["token_endpoint"].as_str().unwrap();
        assert!(token.starts_with(&wire.url()) && token.ends_with("/oauth2/v2.0/token"));
        assert!(
            doc["device_authorization_endpoint"]
                .as_str()
                .unwrap()
                .ends_with("/devicecode")
        );
        assert!(doc["jwks_uri"].is_string());
    }
}

/// Exchanges a workload token for an app token of app `n` of [`APPS`], sending no secret.
async fn federated_request(wire: &Wire, n: usize, token: &str) -> crate::wire::Reply {
    wire.token_request(
        CONTOSO,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", APPS[n].client_id),
            ("client_assertion_type", ASSERTION_TYPE),
            ("client_assertion", token),
            ("scope", SCOPE),
        ],
    )
    .await
}

/// Mints a workload token over HTTP with a JSON body, as a test of a CI system would.
async fn mint(wire: &Wire, body: Value) -> String {
    let reply = crate::wire::read(
        wire.http
            .post(format!("{}/sandbox/workload/token", wire.url()))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    reply.json["token"].as_str().unwrap().to_string()
}

/// A token that claims the workload issuer but is signed with another key.
fn forged(wire: &Wire, kid: &str) -> String {
    let key = jwt::private_key_from_pem(OTHER_KEY).unwrap();
    let mut header = Map::new();
    header.insert("kid".into(), kid.into());
    let claims = json!({
        "iss": wire.sandbox.workload_issuer(), "sub": WORKLOAD_SUBJECT,
        "aud": WORKLOAD_AUDIENCE, "iat": now(), "nbf": now(), "exp": now() + 600,
    });
    jwt::sign(header, claims.as_object().unwrap(), Algorithm::Rs256, &key).unwrap()
}

#[tokio::test]
async fn a_workload_token_is_exchanged_for_an_app_token_that_runs_cmdlets() {
    let wire = Wire::tenants(3).await;
    let tenant = &wire.sandbox.tenants()[0];
    let workload = mint(&wire, json!({"subject": WORKLOAD_SUBJECT})).await;
    let minted = claims(&workload);
    assert_eq!(minted["iss"], format!("{}/sandbox/workload", wire.url()));
    assert_eq!(minted["sub"], WORKLOAD_SUBJECT);
    assert_eq!(minted["aud"], WORKLOAD_AUDIENCE);
    let lifetime = minted["exp"].as_i64().unwrap() - now();
    assert!((595..=600).contains(&lifetime), "lifetime {lifetime}");

    let reply = federated_request(&wire, 0, &workload).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let access = reply.json["access_token"].as_str().unwrap();
    let c = claims(access);
    assert_eq!(c["appid"], APPS[0].client_id);
    assert_eq!(c["appidacr"], "2");
    assert_eq!(c["tid"], tenant.id.as_str());
    assert_eq!(c["idtyp"], "app");
    assert_eq!(
        c["roles"],
        json!(["Exchange.ManageAsApp", "Exchange.ManageAsAppV2"])
    );
    assert_eq!(c["wids"], json!(["29232cdf-9323-42fd-ade2-1d097af3e4de"]));
    let run = wire
        .invoke_with(
            CONTOSO,
            access,
            &cmdlet_input("Get-Mailbox", json!({"ResultSize": "Unlimited"})),
            &[],
        )
        .await;
    assert_eq!(run.status, 200, "{}", run.json);
    assert!(
        !run.json["value"].as_array().unwrap().is_empty(),
        "{}",
        run.json
    );

    // The library mints the same kind of token; a form body works over HTTP too, and the
    // reader app has its own subject.
    let library = wire.sandbox.workload_token(WORKLOAD_SUBJECT, None, 300);
    assert_eq!(federated_request(&wire, 0, &library).await.status, 200);
    let form = crate::wire::read(
        wire.http
            .post(format!("{}/sandbox/workload/token", wire.url()))
            .form(&[
                ("subject", WORKLOAD_READER_SUBJECT),
                ("lifetime_seconds", "120"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(form.status, 200, "{}", form.json);
    let reader = federated_request(&wire, 1, form.json["token"].as_str().unwrap()).await;
    assert_eq!(reader.status, 200, "{}", reader.json);
    assert_eq!(
        claims(reader.json["access_token"].as_str().unwrap())["appid"],
        APPS[1].client_id
    );
    // A workload token is no access token for the admin API.
    let direct = wire
        .invoke_with(
            CONTOSO,
            &workload,
            &cmdlet_input("Get-Mailbox", json!({})),
            &[],
        )
        .await;
    assert_eq!(direct.status, 401);

    let stats = wire.stats().await.tenant(CONTOSO);
    assert_eq!(stats.tokens_issued["federated"], 3);
    assert_eq!(stats.tokens(), 3);
}

#[tokio::test]
async fn workload_tokens_for_another_subject_audience_or_time_are_refused() {
    let wire = Wire::tenants(1).await;
    let issuer = wire.sandbox.workload_issuer();
    let wrong_subject = "repo:contoso/tenantry:ref:refs/heads/main";
    let cases = [
        (
            "a subject no credential names",
            0,
            wire.sandbox.workload_token(wrong_subject, None, 600),
            400,
            70021,
            format!(
                "Assertion Issuer: '{issuer}'. Assertion Subject: '{wrong_subject}'. Assertion Audience: '{WORKLOAD_AUDIENCE}'."
            ),
        ),
        (
            "the reader app's subject presented for the admin app",
            0,
            wire.sandbox
                .workload_token(WORKLOAD_READER_SUBJECT, None, 600),
            400,
            70021,
            format!("Assertion Subject: '{WORKLOAD_READER_SUBJECT}'"),
        ),
        (
            "an app without a federated credential",
            2,
            wire.sandbox.workload_token(WORKLOAD_SUBJECT, None, 600),
            400,
            70021,
            "No matching federated identity record found for presented assertion.".to_string(),
        ),
        (
            "another audience",
            0,
            wire.sandbox
                .workload_token(WORKLOAD_SUBJECT, Some("api://other"), 600),
            400,
            700212,
            "presented assertion audience 'api://other'".to_string(),
        ),
        (
            "expired beyond the five minutes of allowed skew",
            0,
            mint(
                &wire,
                json!({"subject": WORKLOAD_SUBJECT, "lifetime_seconds": -600}),
            )
            .await,
            401,
            700024,
            "Client assertion is not within its valid time range. Current time: ".to_string(),
        ),
    ];
    for (case, app, token, status, code, reason) in cases {
        let reply = federated_request(&wire, app, &token).await;
        assert_entra_error(&reply, status, "invalid_client", code);
        let description = reply.json["error_description"].as_str().unwrap();
        assert!(description.contains(&reason), "{case}: {description}");
    }
    // Another issuer, however well signed, has no federated credential here.
    let key = jwt::private_key_from_pem(OTHER_KEY).unwrap();
    let github = jwt::sign(
        Map::new(),
        json!({
            "iss": "https://token.actions.githubusercontent.com", "sub": WORKLOAD_SUBJECT,
            "aud": WORKLOAD_AUDIENCE, "nbf": now(), "exp": now() + 600,
        })
        .as_object()
        .unwrap(),
        Algorithm::Rs256,
        &key,
    )
    .unwrap();
    let reply = federated_request(&wire, 0, &github).await;
    assert_entra_error(&reply, 400, "invalid_client", 70021);
    assert!(
        reply.json["error_description"]
            .as_str()
            .unwrap()
            .contains("Assertion Issuer: 'https://token.actions.githubusercontent.com'")
    );
    // A token that expired within the skew still passes, as Entra allows.
    let lenient = wire.sandbox.workload_token(WORKLOAD_SUBJECT, None, -60);
    assert_eq!(federated_request(&wire, 0, &lenient).await.status, 200);

    let stats = wire.sandbox.stats().tenant(CONTOSO);
    assert_eq!(stats.token_errors["invalid_client"], 6);
    assert_eq!(stats.tokens_issued.get("federated"), Some(&1));
}

#[tokio::test]
async fn a_workload_token_signed_with_another_key_is_refused() {
    let wire = Wire::tenants(1).await;
    let jwks: Value = wire
        .http
        .get(format!("{}/sandbox/workload/jwks", wire.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    let forged_signature = federated_request(&wire, 0, &forged(&wire, kid)).await;
    assert_entra_error(&forged_signature, 401, "invalid_client", 700027);
    assert!(
        forged_signature.json["error_description"]
            .as_str()
            .unwrap()
            .contains("signature value did not match")
    );
    let unknown_key = federated_request(&wire, 0, &forged(&wire, "some-other-key")).await;
    assert_entra_error(&unknown_key, 401, "invalid_client", 700027);
    assert!(
        unknown_key.json["error_description"]
            .as_str()
            .unwrap()
            .contains("The key was not found")
    );
    assert_eq!(wire.sandbox.stats().tenant(CONTOSO).tokens(), 0);
}

#[tokio::test]
async fn the_workload_issuer_publishes_discovery_and_a_key_that_verifies_its_tokens() {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let wire = Wire::tenants(1).await;
    let get = |url: String| {
        let wire = &wire;
        async move {
            let reply = wire.http.get(url).send().await.unwrap();
            assert_eq!(reply.status(), 200);
            reply.json::<Value>().await.unwrap()
        }
    };
    let issuer = format!("{}/sandbox/workload", wire.url());
    assert_eq!(wire.sandbox.workload_issuer(), issuer);
    let discovery = get(format!("{issuer}/.well-known/openid-configuration")).await;
    assert_eq!(discovery["issuer"], issuer.as_str());
    assert_eq!(
        discovery["id_token_signing_alg_values_supported"],
        json!(["RS256"])
    );
    let jwks = get(discovery["jwks_uri"].as_str().unwrap().to_string()).await;
    let jwk = &jwks["keys"][0];
    assert_eq!((&jwk["kty"], &jwk["alg"]), (&json!("RSA"), &json!("RS256")));
    let number = |name: &str| {
        let bytes = URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
        rsa::BoxedUint::from_be_slice_vartime(&bytes)
    };
    let public = rsa::PublicKey::new(number("n"), number("e")).unwrap();

    let token = mint(
        &wire,
        json!({"subject": "anyone", "audience": "api://custom"}),
    )
    .await;
    let parsed = jwt::parse(&token).unwrap();
    assert_eq!(parsed.header["kid"], jwk["kid"]);
    assert_eq!(parsed.header["alg"], "RS256");
    parsed
        .verify(&public)
        .expect("the published key verifies the token");
    assert_eq!(parsed.claims["iss"], issuer.as_str());
    assert_eq!(parsed.claims["aud"], "api://custom");
    // The forged token does not verify against the published key.
    assert!(
        jwt::parse(&forged(&wire, jwk["kid"].as_str().unwrap()))
            .unwrap()
            .verify(&public)
            .is_err()
    );
    // The workload key is published apart from the tenants' token signing key.
    let tenant_keys = get(format!("{}/{CONTOSO}/discovery/v2.0/keys", wire.url())).await;
    assert_ne!(tenant_keys["keys"][0]["kid"], jwk["kid"]);
    // A malformed request to mint is refused.
    let bad = wire
        .http
        .post(format!("{issuer}/token"))
        .json(&json!({"lifetime_seconds": "soon"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}
