//! The sandbox's limits and faults: concurrency (429 with Retry-After), request rate, token
//! expiry and revocation (401 with WWW-Authenticate), injected 503/504/401/dropped connections,
//! and latency. Each is counted in `/sandbox/stats`.

use std::time::{Duration, Instant};

use serde_json::json;
use tenantry::sandbox::{Behaviour, Fault, FaultKind, Latency, SandboxConfig};

use crate::wire::{CONTOSO, Wire, cmdlet_input};

fn one_tenant(behaviour: Behaviour) -> SandboxConfig {
    SandboxConfig::with_tenants(2, 3).each_tenant(|t| t.behaviour = behaviour.clone())
}

#[tokio::test]
async fn requests_beyond_the_concurrency_limit_get_429_with_retry_after() {
    let wire = Wire::start(one_tenant(Behaviour {
        limit: 2,
        latency: Latency::Fixed(Duration::from_millis(300)),
        retry_after: 0.5,
        ..Behaviour::default()
    }))
    .await;
    let token = wire.app_token(CONTOSO, 0).await;
    let body = cmdlet_input("Get-AcceptedDomain", json!({}));
    let calls = (0..5).map(|_| wire.invoke_with(CONTOSO, &token, &body, &[]));
    let replies = futures_join(calls).await;
    let mut statuses: Vec<u16> = replies.iter().map(|r| r.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 200, 429, 429, 429]);
    let throttled = replies.iter().find(|r| r.status == 429).unwrap();
    assert_eq!(throttled.header("retry-after"), Some("0.500"));
    assert!(
        throttled.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("maximum number of concurrent requests per tenant")
    );
    let stats = wire.stats().await;
    let contoso = stats.tenant(CONTOSO);
    assert_eq!(contoso.limit, 2);
    assert_eq!(contoso.throttled, 3);
    // Refused requests count towards the peak, so it shows the client overstepped the limit.
    assert!(
        (3..=5).contains(&contoso.peak_concurrency),
        "{}",
        contoso.peak_concurrency
    );
    assert_eq!(contoso.in_flight, 0);
    // Another tenant's slots are its own.
    assert_eq!(stats.tenant("fabrikam.onmicrosoft.com").peak_concurrency, 0);
}

#[tokio::test]
async fn a_client_within_the_limit_is_never_throttled() {
    let wire = Wire::start(one_tenant(Behaviour {
        limit: 3,
        latency: Latency::Fixed(Duration::from_millis(20)),
        ..Behaviour::default()
    }))
    .await;
    let token = wire.app_token(CONTOSO, 0).await;
    let body = cmdlet_input("Get-AcceptedDomain", json!({}));
    for _ in 0..5 {
        let replies =
            futures_join((0..3).map(|_| wire.invoke_with(CONTOSO, &token, &body, &[]))).await;
        assert!(replies.iter().all(|r| r.status == 200));
    }
    let contoso = wire.sandbox.stats().tenant(CONTOSO);
    assert!(contoso.peak_concurrency <= 3 && contoso.peak_concurrency >= 1);
    assert_eq!((contoso.throttled, contoso.status("200")), (0, 15));
}

#[tokio::test]
async fn the_request_rate_is_limited_by_a_token_bucket() {
    let wire = Wire::start(one_tenant(Behaviour {
        rate: Some(2.0),
        burst: 2.0,
        ..Behaviour::default()
    }))
    .await;
    let token = wire.app_token(CONTOSO, 0).await;
    let body = cmdlet_input("Get-AcceptedDomain", json!({}));
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..3 {
        let reply = wire.invoke_with(CONTOSO, &token, &body, &[]).await;
        statuses.push(reply.status);
        last = Some(reply);
    }
    assert_eq!(statuses, [200, 200, 429]);
    let last = last.unwrap();
    assert_eq!(last.header("rate-limit-remaining"), Some("0"));
    let wait: f64 = last.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 0.0 && wait <= 0.5, "{wait}");
    tokio::time::sleep(Duration::from_secs_f64(wait + 0.05)).await;
    assert_eq!(
        wire.invoke_with(CONTOSO, &token, &body, &[]).await.status,
        200
    );
}

#[tokio::test]
async fn expired_missing_and_revoked_tokens_get_401_with_a_bearer_challenge() {
    let mut config = SandboxConfig::with_tenants(1, 3);
    config.token_ttl = Duration::from_secs(1);
    let wire = Wire::start(config).await;
    let body = cmdlet_input("Get-AcceptedDomain", json!({}));
    let none = crate::wire::read(
        wire.http
            .post(format!(
                "{}/adminapi/beta/{CONTOSO}/InvokeCommand",
                wire.url()
            ))
            .json(&body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(none.status, 401);
    assert!(
        none.header("www-authenticate")
            .unwrap()
            .starts_with("Bearer ")
    );

    let token = wire.app_token(CONTOSO, 0).await;
    assert_eq!(
        wire.invoke_with(CONTOSO, &token, &body, &[]).await.status,
        200
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let expired = wire.invoke_with(CONTOSO, &token, &body, &[]).await;
    assert_eq!(expired.status, 401);
    let challenge = expired.header("www-authenticate").unwrap();
    assert!(
        challenge.contains("error=\"invalid_token\"") && challenge.contains("expired"),
        "{challenge}"
    );

    let garbage = wire.invoke_with(CONTOSO, "not.a.token", &body, &[]).await;
    assert_eq!(garbage.status, 401);

    // Revocation ends every token issued so far; a new one works at once.
    let mut config = SandboxConfig::with_tenants(1, 3);
    config.token_ttl = Duration::from_secs(600);
    let wire = Wire::start(config).await;
    let old = wire.app_token(CONTOSO, 0).await;
    assert!(wire.sandbox.revoke_tokens(CONTOSO));
    assert_eq!(
        wire.invoke_with(CONTOSO, &old, &body, &[]).await.status,
        401
    );
    let fresh = wire.app_token(CONTOSO, 0).await;
    assert_eq!(
        wire.invoke_with(CONTOSO, &fresh, &body, &[]).await.status,
        200
    );
    let unauthorized = wire.sandbox.stats().tenant(CONTOSO).unauthorized;
    assert_eq!(unauthorized["the token has been revoked"], 1);
}

#[tokio::test]
async fn injected_faults_answer_503_504_429_401_or_drop_the_connection() {
    for (kind, status) in [
        (FaultKind::Unavailable, Some(503)),
        (FaultKind::GatewayTimeout, Some(504)),
        (FaultKind::TooManyRequests, Some(429)),
        (FaultKind::Unauthorized, Some(401)),
        (FaultKind::Drop, None),
    ] {
        let wire = Wire::start(one_tenant(Behaviour {
            faults: vec![Fault { kind, rate: 1.0 }],
            ..Behaviour::default()
        }))
        .await;
        let token = wire.app_token(CONTOSO, 0).await;
        let body = cmdlet_input(
            "Set-Mailbox",
            json!({"Identity": "user001", "CustomAttribute2": "x"}),
        );
        let sent = wire.send_raw(CONTOSO, &token, &body).await;
        match status {
            Some(status) => assert_eq!(sent.unwrap().status().as_u16(), status, "{kind:?}"),
            None => assert!(
                sent.is_err(),
                "a dropped connection is an error at the client"
            ),
        }
        let stats = wire.stats().await;
        assert_eq!(stats.tenant(CONTOSO).faults[kind.name()], 1);
        assert!(
            stats.writes.is_empty(),
            "a faulted request never reaches the directory"
        );
    }
}

#[tokio::test]
async fn fault_rates_are_honoured_and_every_fault_is_counted() {
    let wire = Wire::start(one_tenant(Behaviour {
        limit: 100,
        faults: vec!["503:0.2".parse().unwrap(), "429:0.1".parse().unwrap()],
        retry_after: 0.25,
        ..Behaviour::default()
    }))
    .await;
    let token = wire.app_token(CONTOSO, 0).await;
    let body = cmdlet_input("Get-AcceptedDomain", json!({}));
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..400 {
        let reply = wire.invoke_with(CONTOSO, &token, &body, &[]).await;
        *seen.entry(reply.status).or_insert(0u64) += 1;
    }
    let stats = wire.sandbox.stats().tenant(CONTOSO);
    assert_eq!(seen[&503], stats.faults["503"]);
    assert_eq!(seen[&429], stats.faults["429"]);
    assert_eq!(seen[&200], stats.status("200"));
    // 400 draws at 20% and (of the rest) 10%: far outside these bounds only if rates are ignored.
    assert!((50..=110).contains(&seen[&503]), "{seen:?}");
    assert!((15..=60).contains(&seen[&429]), "{seen:?}");
}

#[tokio::test]
async fn latency_is_applied_to_each_call_and_can_change_while_serving() {
    let wire = Wire::start(one_tenant(Behaviour {
        latency: "150ms".parse().unwrap(),
        ..Behaviour::default()
    }))
    .await;
    let token = wire.app_token(CONTOSO, 0).await;
    let body = cmdlet_input("Get-AcceptedDomain", json!({}));
    let started = Instant::now();
    assert_eq!(
        wire.invoke_with(CONTOSO, &token, &body, &[]).await.status,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(150));
    // Behaviour changes over HTTP take effect for the next request.
    let patched = wire
        .http
        .patch(format!(
            "{}/sandbox/tenants/{CONTOSO}/behaviour",
            wire.url()
        ))
        .json(&json!({"faults": ["503:1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), 200);
    assert_eq!(
        wire.invoke_with(CONTOSO, &token, &body, &[]).await.status,
        503
    );
    assert_eq!(
        wire.sandbox.behaviour(CONTOSO).unwrap().latency,
        "150ms".parse().unwrap()
    );
}

/// Runs futures concurrently on the current task and returns their outputs in order.
pub async fn futures_join<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => outputs[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs
        .into_iter()
        .map(|o| o.expect("every future finished"))
        .collect()
}

#[tokio::test]
async fn a_token_revoked_mid_paging_is_refused_and_a_fresh_one_continues_the_same_pages() {
    let wire = Wire::tenants(25).await;
    let old = wire.app_token(CONTOSO, 0).await;
    let body = cmdlet_input("Get-Mailbox", json!({"ResultSize": "Unlimited"}));
    let prefer = [("Prefer", "odata.maxpagesize=10")];
    let first = wire.invoke_with(CONTOSO, &old, &body, &prefer).await;
    let next = first.json["@odata.nextLink"].as_str().unwrap().to_string();
    assert!(wire.sandbox.revoke_tokens(CONTOSO));
    let refused = wire.post(&next, &old, &body, &prefer).await;
    assert_eq!(refused.status, 401);
    assert!(
        refused
            .header("www-authenticate")
            .unwrap()
            .contains("revoked")
    );
    let fresh = wire.app_token(CONTOSO, 0).await;
    let second = wire.post(&next, &fresh, &body, &prefer).await;
    assert_eq!(second.status, 200, "{}", second.json);
    assert_ne!(
        first.json["value"][0]["Guid"],
        second.json["value"][0]["Guid"]
    );
}

#[tokio::test]
async fn a_call_longer_than_the_server_timeout_gets_504() {
    let mut config = one_tenant(Behaviour {
        latency: "400ms".parse().unwrap(),
        ..Behaviour::default()
    });
    config.call_timeout = Duration::from_millis(100);
    let wire = Wire::start(config).await;
    let token = wire.app_token(CONTOSO, 0).await;
    let started = Instant::now();
    let reply = wire
        .invoke_with(
            CONTOSO,
            &token,
            &cmdlet_input(
                "Set-Mailbox",
                json!({"Identity": "user001", "CustomAttribute4": "slow"}),
            ),
            &[],
        )
        .await;
    assert_eq!(reply.status, 504);
    assert!(
        started.elapsed() < Duration::from_millis(400),
        "answered at the timeout, not after the call"
    );
    assert!(
        wire.stats().await.writes.is_empty(),
        "a timed-out call changed nothing"
    );
}

#[tokio::test]
async fn the_module_file_lists_the_cmdlets_the_callers_role_may_run() {
    let wire = Wire::tenants(1).await;
    let url = format!(
        "{}/adminapi/v1.0/{CONTOSO}/EXOModuleFile?Version=3.7.1",
        wire.url()
    );
    let list = |token: String| {
        let wire = &wire;
        let url = url.clone();
        async move {
            let reply = crate::wire::read(
                wire.http
                    .get(url)
                    .bearer_auth(token)
                    .header("CommandName", "*")
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
            assert_eq!(reply.status, 200, "{}", reply.json);
            reply.json["value"]["exportedCmdlets"]
                .as_str()
                .unwrap()
                .split(',')
                .map(str::to_string)
                .collect::<Vec<_>>()
        }
    };
    let admin = list(wire.app_token(CONTOSO, 0).await).await;
    let reader = list(wire.app_token(CONTOSO, 1).await).await;
    assert!(
        admin.contains(&"Set-Mailbox".to_string()) && admin.contains(&"Get-Mailbox".to_string())
    );
    assert!(
        reader.contains(&"Get-Mailbox".to_string()) && !reader.contains(&"Set-Mailbox".to_string())
    );
}

#[tokio::test]
async fn injected_503s_can_carry_retry_after_and_nonsense_behaviour_is_refused() {
    let wire = Wire::start(one_tenant(Behaviour {
        faults: vec!["503:1".parse().unwrap()],
        fault_retry_after: Some(0.25),
        ..Behaviour::default()
    }))
    .await;
    let token = wire.app_token(CONTOSO, 0).await;
    let reply = wire
        .invoke_with(
            CONTOSO,
            &token,
            &cmdlet_input("Get-AcceptedDomain", json!({})),
            &[],
        )
        .await;
    assert_eq!(
        (reply.status, reply.header("retry-after")),
        (503, Some("0.250"))
    );
    let url = format!("{}/sandbox/tenants/{CONTOSO}/behaviour", wire.url());
    for patch in [
        json!({"limit": 0}),
        json!({"retry_after": -0.5}),
        json!({"rate": 0.0}),
        json!({"error_status": {"X": 200}}),
        json!({"colour": 1}),
    ] {
        let refused = wire.http.patch(&url).json(&patch).send().await.unwrap();
        assert_eq!(refused.status(), 400, "{patch}");
    }
    let bad = Behaviour {
        limit: 0,
        ..Behaviour::default()
    };
    assert!(wire.sandbox.set_behaviour(CONTOSO, bad).is_err());
    assert_eq!(
        wire.sandbox.behaviour(CONTOSO).unwrap().limit,
        3,
        "nothing changed"
    );
}

#[tokio::test]
async fn applied_faults_make_the_change_and_lose_the_answer() {
    for (fault, status) in [("applied-504:1", Some(504)), ("applied-drop:1", None)] {
        let wire = Wire::start(one_tenant(Behaviour {
            faults: vec![fault.parse().unwrap()],
            ..Behaviour::default()
        }))
        .await;
        let token = wire.app_token(CONTOSO, 0).await;
        let body = cmdlet_input(
            "Set-Mailbox",
            json!({"Identity": "user001", "CustomAttribute2": "applied"}),
        );
        let sent = wire.send_raw(CONTOSO, &token, &body).await;
        match status {
            Some(status) => assert_eq!(sent.unwrap().status().as_u16(), status),
            None => assert!(sent.is_err()),
        }
        let stats = wire.stats().await;
        assert_eq!(stats.writes.len(), 1, "{fault}: the write happened");
        assert!(stats.writes[0].changed);
        let name = fault.split(':').next().unwrap();
        assert_eq!(stats.tenant(CONTOSO).faults[name], 1);
    }
}

#[tokio::test]
async fn a_request_the_client_abandons_is_counted_as_aborted() {
    let wire = Wire::start(one_tenant(Behaviour {
        latency: "2s".parse().unwrap(),
        ..Behaviour::default()
    }))
    .await;
    let token = wire.app_token(CONTOSO, 0).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let sent = impatient
        .post(format!(
            "{}/adminapi/beta/{CONTOSO}/InvokeCommand",
            wire.url()
        ))
        .bearer_auth(&token)
        .json(&cmdlet_input("Get-AcceptedDomain", json!({})))
        .send()
        .await;
    assert!(sent.is_err());
    // The server notices when it next touches the closed connection.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stats = wire.sandbox.stats().tenant(CONTOSO);
        if stats.status("aborted") == 1 {
            assert_eq!(stats.in_flight, 0);
            break;
        }
        assert!(Instant::now() < deadline, "never counted: {stats:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
