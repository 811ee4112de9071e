//! tenantry's admin API client and app-only sign-in, against the sandbox: what the service saw
//! is read from the sandbox's statistics, not taken from the client.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tenantry::auth::{AuthError, Credential, Secret, TokenProvider};
use tenantry::exchange::{Client, ExchangeError, RetryPolicy, http_client};
use tenantry::sandbox::{APPS, Behaviour, Sandbox, SandboxConfig};

const CONTOSO: &str = "contoso.onmicrosoft.com";
const SCOPE: &str = "https://outlook.office365.com/.default";

fn fast_retries() -> RetryPolicy {
    RetryPolicy {
        max_retries: 6,
        base: Duration::from_millis(10),
        max_wait: Duration::from_millis(200),
        resend_unconfirmed_writes: false,
    }
}

fn provider(sandbox: &Sandbox, credential: Credential, app: usize) -> Arc<TokenProvider> {
    Arc::new(
        TokenProvider::new(
            http_client().unwrap(),
            &format!("{}/{CONTOSO}/oauth2/v2.0/token", sandbox.url()),
            CONTOSO,
            SCOPE,
            APPS[app].client_id,
            credential,
            Duration::from_secs(300),
        )
        .unwrap(),
    )
}

/// A one-tenant sandbox (contoso, three mailboxes) behaving as told.
async fn sandbox_with(behaviour: Behaviour) -> Sandbox {
    let config = SandboxConfig::with_tenants(1, 3).each_tenant(|t| t.behaviour = behaviour.clone());
    Sandbox::start(config).await.unwrap()
}

fn secret(app: usize) -> Credential {
    Credential::Secret(Secret::new(APPS[app].client_secret))
}

fn client(sandbox: &Sandbox, tokens: Arc<TokenProvider>) -> Client {
    Client::new(
        http_client().unwrap(),
        &format!("{}/adminapi/beta/{CONTOSO}/InvokeCommand", sandbox.url()),
        CONTOSO,
        tokens,
        fast_retries(),
    )
    .unwrap()
}

fn params(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap_or_default()
}

#[tokio::test]
async fn a_large_get_is_paged_to_the_end_with_routing_headers() {
    let mut config = SandboxConfig::with_tenants(1, 2500);
    // The sandbox insists on X-AnchorMailbox, as v2.0 does: the client always routes.
    config.require_anchor = true;
    let sandbox = Sandbox::start(config).await.unwrap();
    let exo = client(&sandbox, provider(&sandbox, secret(0), 0)).with_page_size(700);
    let result = exo
        .invoke("Get-Mailbox", &params(json!({"ResultSize": "Unlimited"})))
        .await
        .unwrap();
    assert_eq!(result.value.len(), 2504);
    assert_eq!(result.requests, 4, "pages of 700, as the client asked");
    assert!(result.retries.is_empty());
    let stats = sandbox.stats().tenant(CONTOSO);
    assert_eq!(stats.requests["Get-Mailbox"]["200"], 4);
    assert_eq!(
        stats.tokens(),
        1,
        "one token serves every page while it is fresh"
    );
}

#[tokio::test]
async fn certificate_sign_in_works_from_pem_files() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 3))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("app.crt"),
        tenantry::sandbox::APP_CERTIFICATE,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("app.key"),
        tenantry::sandbox::APP_PRIVATE_KEY,
    )
    .unwrap();
    let credential = Credential::from_pem_files(
        &dir.path().join("app.crt"),
        Some(&dir.path().join("app.key")),
    )
    .unwrap();
    let exo = client(&sandbox, provider(&sandbox, credential, 0));
    let org = exo
        .invoke("Get-OrganizationConfig", &Map::new())
        .await
        .unwrap();
    assert_eq!(org.value[0]["Identity"], CONTOSO);
    assert_eq!(
        sandbox.stats().tenant(CONTOSO).tokens_issued["certificate"],
        1
    );
    // A key that is not the certificate's is caught before anything is sent.
    let mismatched = Credential::from_pem_files(
        &dir.path().join("app.crt"),
        Some(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/other.key"
        ))),
    );
    assert!(matches!(mismatched, Err(AuthError::Credential { .. })));
}

#[tokio::test]
async fn a_refused_secret_says_why_and_never_shows_the_secret() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 3))
        .await
        .unwrap();
    let wrong = Credential::Secret(Secret::new("not-the-secret-42"));
    let exo = client(&sandbox, provider(&sandbox, wrong.clone(), 0));
    let err = exo.invoke("Get-Mailbox", &Map::new()).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(text.contains("the client secret is wrong"), "{text}");
    assert!(
        !text.contains("not-the-secret-42") && !format!("{err:?}").contains("not-the-secret-42")
    );
    assert!(!format!("{wrong:?}").contains("not-the-secret-42"));
}

#[tokio::test]
async fn cmdlet_errors_are_typed_and_not_retried() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 3))
        .await
        .unwrap();
    let exo = client(&sandbox, provider(&sandbox, secret(0), 0));
    let err = exo
        .invoke(
            "Set-Mailbox",
            &params(json!({"Identity": "ghost", "CustomAttribute1": "x"})),
        )
        .await
        .unwrap_err();
    let cmdlet = err.cmdlet().expect("a cmdlet error");
    assert_eq!(
        (cmdlet.status, cmdlet.id.as_str(), cmdlet.short_class()),
        (400, "Ex6F9304", "ManagementObjectNotFoundException")
    );
    assert_eq!(
        sandbox.stats().tenant(CONTOSO).requests["Set-Mailbox"]["400"],
        1
    );
    // Warnings come back with the result.
    let same = exo.invoke("Set-Mailbox", &params(json!({"Identity": "user001", "RetainDeletedItemsFor": "14.00:00:00", "CustomAttribute1": "Employee"}))).await;
    let warned = exo
        .invoke(
            "Set-Mailbox",
            &params(json!({"Identity": "user001", "CustomAttribute9": "x"})),
        )
        .await
        .unwrap();
    assert!(warned.warnings.is_empty());
    let again = exo
        .invoke(
            "Set-Mailbox",
            &params(json!({"Identity": "user001", "CustomAttribute9": "x"})),
        )
        .await
        .unwrap();
    assert!(
        again.warnings[0].contains("no settings of"),
        "{:?} {same:?}",
        again.warnings
    );
}

#[tokio::test]
async fn throttling_unavailability_and_dropped_connections_are_retried() {
    let behaviour = Behaviour {
        faults: vec![
            "429:0.15".parse().unwrap(),
            "503:0.15".parse().unwrap(),
            "drop:0.1".parse().unwrap(),
        ],
        retry_after: 0.02,
        ..Behaviour::default()
    };
    let sandbox = sandbox_with(behaviour).await;
    // Set-Mailbox with the same values is safe to send twice: let lost answers be resent.
    let idempotent = RetryPolicy {
        resend_unconfirmed_writes: true,
        ..fast_retries()
    };
    let exo = Client::new(
        http_client().unwrap(),
        &format!("{}/adminapi/beta/{CONTOSO}/InvokeCommand", sandbox.url()),
        CONTOSO,
        provider(&sandbox, secret(0), 0),
        idempotent,
    )
    .unwrap();
    let mut retries = Vec::new();
    for i in 0..60 {
        let result = exo
            .invoke(
                "Set-Mailbox",
                &params(json!({"Identity": "user002", "CustomAttribute3": format!("v{i}")})),
            )
            .await
            .unwrap_or_else(|e| panic!("call {i}: {e}"));
        retries.extend(result.retries);
    }
    let stats = sandbox.stats().tenant(CONTOSO);
    let faults: u64 = stats.faults.values().sum();
    assert_eq!(
        retries.len() as u64,
        faults,
        "one retry per injected fault: {retries:?}"
    );
    for kind in ["429", "503", "connection"] {
        assert!(
            retries.iter().any(|r| r == kind),
            "no {kind} retry in {retries:?}"
        );
    }
    assert_eq!(
        sandbox
            .stats()
            .writes
            .iter()
            .filter(|w| w.status == 200)
            .count(),
        60
    );
}

#[tokio::test]
async fn retries_end_with_a_clear_error() {
    let behaviour = Behaviour {
        faults: vec!["503:1".parse().unwrap()],
        ..Behaviour::default()
    };
    let sandbox = sandbox_with(behaviour).await;
    let exo = client(&sandbox, provider(&sandbox, secret(0), 0));
    let err = exo
        .invoke("Get-AcceptedDomain", &Map::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, ExchangeError::Exhausted { attempts: 7, .. }),
        "{err}"
    );
    assert_eq!(sandbox.stats().tenant(CONTOSO).status("503"), 7);
}

#[tokio::test]
async fn a_revoked_token_is_renewed_once_and_the_call_succeeds() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 3))
        .await
        .unwrap();
    let tokens = provider(&sandbox, secret(0), 0);
    let exo = client(&sandbox, tokens.clone());
    exo.invoke("Get-AcceptedDomain", &Map::new()).await.unwrap();
    assert!(sandbox.revoke_tokens(CONTOSO));
    let result = exo.invoke("Get-AcceptedDomain", &Map::new()).await.unwrap();
    assert_eq!(result.retries, ["401"]);
    assert_eq!(tokens.fetches(), 2);
    // An app the service never accepts fails after one renewal, not in a loop.
    let unconsented = client(&sandbox, provider(&sandbox, secret(2), 2));
    let err = unconsented
        .invoke("Get-AcceptedDomain", &Map::new())
        .await
        .unwrap_err();
    assert!(matches!(err, ExchangeError::Forbidden { .. }), "{err}");
    assert_eq!(
        sandbox.stats().tenant(CONTOSO).status("403"),
        1,
        "refused once, not retried"
    );
}

#[tokio::test]
async fn short_lived_tokens_are_renewed_before_they_expire_and_single_flight() {
    let mut config = SandboxConfig::with_tenants(1, 3);
    config.token_ttl = Duration::from_secs(2);
    config.tenants[0].behaviour.limit = 64;
    let sandbox = Sandbox::start(config).await.unwrap();
    let tokens = provider(&sandbox, secret(0), 0);
    let exo = Arc::new(client(&sandbox, tokens.clone()));
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(3500) {
        let calls: Vec<_> = (0..16)
            .map(|_| {
                let exo = exo.clone();
                tokio::spawn(async move { exo.invoke("Get-AcceptedDomain", &Map::new()).await })
            })
            .collect();
        for call in calls {
            call.await.unwrap().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = sandbox.stats().tenant(CONTOSO);
    assert!(
        stats.unauthorized.is_empty(),
        "no call met an expired token: {:?}",
        stats.unauthorized
    );
    // Renewed at half-life: about every second over 3.5 s, never once per call.
    let fetched = tokens.fetches();
    assert!((3..=8).contains(&fetched), "{fetched} fetches");
    assert_eq!(stats.tokens(), fetched);
}

#[test]
fn plain_http_is_refused_outside_loopback() {
    let sandbox_free = Client::new(
        http_client().unwrap(),
        "http://outlook.office365.com/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand",
        CONTOSO,
        Arc::new(
            TokenProvider::new(
                http_client().unwrap(),
                "https://login.microsoftonline.com/x/oauth2/v2.0/token",
                CONTOSO,
                SCOPE,
                "app",
                secret(0),
                Duration::from_secs(300),
            )
            .unwrap(),
        ),
        RetryPolicy::default(),
    );
    assert!(matches!(sandbox_free, Err(ExchangeError::Endpoint(_))));
}

#[tokio::test]
async fn retry_after_pauses_every_call_to_the_tenant_not_only_the_throttled_one() {
    let throttling = Behaviour {
        faults: vec!["429:1".parse().unwrap()],
        retry_after: 0.6,
        ..Behaviour::default()
    };
    let sandbox = Sandbox::start(
        SandboxConfig::with_tenants(1, 3).each_tenant(|t| t.behaviour = throttling.clone()),
    )
    .await
    .unwrap();
    let patient = RetryPolicy {
        max_wait: Duration::from_secs(2),
        ..fast_retries()
    };
    let exo = Arc::new(
        Client::new(
            http_client().unwrap(),
            &format!("{}/adminapi/beta/{CONTOSO}/InvokeCommand", sandbox.url()),
            CONTOSO,
            provider(&sandbox, secret(0), 0),
            patient,
        )
        .unwrap(),
    );
    let first = {
        let exo = exo.clone();
        tokio::spawn(async move {
            exo.invoke(
                "Set-Mailbox",
                &params(json!({"Identity": "user001", "CustomAttribute1": "a"})),
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    // The service recovers; a new call arrives while the first waits out its Retry-After.
    sandbox
        .set_behaviour(CONTOSO, Behaviour::default())
        .unwrap();
    let started = std::time::Instant::now();
    exo.invoke(
        "Set-Mailbox",
        &params(json!({"Identity": "user002", "CustomAttribute1": "b"})),
    )
    .await
    .unwrap();
    let waited = started.elapsed();
    first.await.unwrap().unwrap();
    assert!(
        waited >= Duration::from_millis(300),
        "the second call went ahead after {waited:?}"
    );
}

#[tokio::test]
async fn a_write_whose_answer_is_lost_is_not_sent_again() {
    for fault in ["applied-drop:1", "applied-504:1"] {
        let behaviour = Behaviour {
            faults: vec![fault.parse().unwrap()],
            ..Behaviour::default()
        };
        let sandbox = sandbox_with(behaviour).await;
        let exo = client(&sandbox, provider(&sandbox, secret(0), 0));
        let err = exo
            .invoke("New-DistributionGroup", &params(json!({"Name": "Once"})))
            .await
            .unwrap_err();
        assert!(
            matches!(err, ExchangeError::Unconfirmed { .. }),
            "{fault}: {err}"
        );
        assert!(err.to_string().contains("may have run"));
        let writes = sandbox.stats().writes;
        assert_eq!(writes.len(), 1, "{fault}: sent once");
        assert!(writes[0].changed, "and it did run");
        // A read in the same situation is simply asked again (and gives up in the end).
        let read = exo
            .invoke("Get-AcceptedDomain", &Map::new())
            .await
            .unwrap_err();
        assert!(
            matches!(read, ExchangeError::Exhausted { attempts: 7, .. }),
            "{fault}: {read}"
        );
    }
}

#[tokio::test]
async fn a_token_refused_even_after_renewal_fails_after_one_renewal() {
    let behaviour = Behaviour {
        faults: vec!["401:1".parse().unwrap()],
        ..Behaviour::default()
    };
    let sandbox = sandbox_with(behaviour).await;
    let tokens = provider(&sandbox, secret(0), 0);
    let exo = client(&sandbox, tokens.clone());
    let err = exo
        .invoke("Get-AcceptedDomain", &Map::new())
        .await
        .unwrap_err();
    assert!(matches!(err, ExchangeError::Unauthorized { .. }), "{err}");
    assert_eq!(sandbox.stats().tenant(CONTOSO).status("401"), 2);
    assert_eq!(tokens.fetches(), 2);
}
