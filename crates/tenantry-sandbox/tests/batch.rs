//! `$batch` on the wire: how a batch counts against the tenant's concurrency limit
//! (`batch_connections`), the one latency it waits, its items' answers, faults that strike one
//! item alone, and the counters that tell requests from items. Each test starts a sandbox on
//! 127.0.0.1 and speaks plain HTTP/1.1 to it.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tenantry_sandbox::{
    APPS, BatchConnections, Behaviour, Fault, FaultKind, Latency, Sandbox, SandboxConfig,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONTOSO: &str = "contoso.onmicrosoft.com";

/// An answer, read whole.
#[derive(Debug)]
struct Reply {
    status: u16,
    /// Header names in lower case.
    headers: Vec<(String, String)>,
    text: String,
    json: Value,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// A batch's item answers.
    fn items(&self) -> &[Value] {
        self.json["responses"].as_array().map_or(&[], Vec::as_slice)
    }
}

/// One request on a connection of its own (`Connection: close`), the answer read to the end.
async fn http(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("the sandbox accepts");
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.expect("sent");
    stream.write_all(body).await.expect("sent");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.expect("an answer");
    let raw = String::from_utf8_lossy(&raw).into_owned();
    let (head, text) = raw.split_once("\r\n\r\n").expect("a whole answer");
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply {
        status,
        headers,
        json: serde_json::from_str(text).unwrap_or(Value::Null),
        text: text.to_string(),
    }
}

/// Percent-encodes a form value.
fn form_value(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An admin token for contoso, as an `Authorization` value.
async fn token_for(sandbox: &Sandbox) -> String {
    let form = format!(
        "grant_type=client_credentials&client_id={}&client_secret={}&scope={}",
        form_value(APPS[0].client_id),
        form_value(APPS[0].client_secret),
        form_value("https://outlook.office365.com/.default")
    );
    let reply = http(
        sandbox.addr(),
        &format!("/{CONTOSO}/oauth2/v2.0/token"),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        form.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let token = reply.json["access_token"].as_str().expect("a token");
    format!("Bearer {token}")
}

/// A sandbox of two tenants with this behaviour, and an admin token for contoso.
async fn start(behaviour: Behaviour) -> (Sandbox, String) {
    let config = SandboxConfig::with_tenants(2, 5).each_tenant(|t| t.behaviour = behaviour.clone());
    let sandbox = Sandbox::start(config).await.expect("the sandbox starts");
    let token = token_for(&sandbox).await;
    (sandbox, token)
}

fn cmdlet(name: &str, params: Value) -> Value {
    json!({"CmdletInput": {"CmdletName": name, "Parameters": params}})
}

/// A batch of these InvokeCommand bodies, ids "1", "2", ….
fn batch_of(bodies: &[Value]) -> Value {
    let url = format!("/adminapi/beta/{CONTOSO}/InvokeCommand");
    json!({"requests": bodies.iter().enumerate().map(|(i, body)| json!({
        "id": (i + 1).to_string(), "method": "POST", "url": url, "body": body,
    })).collect::<Vec<_>>()})
}

/// `n` reads of the accepted domains.
fn reads(n: usize) -> Value {
    batch_of(&vec![cmdlet("Get-AcceptedDomain", json!({})); n])
}

async fn post_batch(addr: SocketAddr, token: &str, batch: &Value, prefer: Option<&str>) -> Reply {
    let mut headers = vec![
        ("Authorization", token),
        ("Content-Type", "application/json"),
    ];
    if let Some(prefer) = prefer {
        headers.push(("Prefer", prefer));
    }
    http(
        addr,
        &format!("/adminapi/beta/{CONTOSO}/$batch"),
        &headers,
        batch.to_string().as_bytes(),
    )
    .await
}

async fn invoke(addr: SocketAddr, token: &str, body: &Value) -> Reply {
    http(
        addr,
        &format!("/adminapi/beta/{CONTOSO}/InvokeCommand"),
        &[
            ("Authorization", token),
            ("Content-Type", "application/json"),
        ],
        body.to_string().as_bytes(),
    )
    .await
}

fn slow(ms: u64) -> Behaviour {
    Behaviour {
        latency: Latency::Fixed(Duration::from_millis(ms)),
        retry_after: 0.25,
        ..Behaviour::default()
    }
}

#[tokio::test]
async fn by_default_a_batch_takes_one_slot_and_is_one_request() {
    let (sandbox, token) = start(slow(300)).await;
    let addr = sandbox.addr();
    // Three batches of five fill the limit of 3 exactly: none is refused.
    let batches: Vec<_> = (0..3)
        .map(|_| {
            let token = token.clone();
            tokio::spawn(async move { post_batch(addr, &token, &reads(5), None).await })
        })
        .collect();
    for batch in batches {
        let reply = batch.await.expect("the batch's task");
        assert_eq!(reply.status, 200, "{}", reply.text);
        assert_eq!(reply.items().len(), 5);
        assert!(reply.items().iter().all(|i| i["status"] == 200));
    }
    invoke(addr, &token, &cmdlet("Get-AcceptedDomain", json!({}))).await;
    let stats = sandbox.stats();
    let contoso = stats.tenant(CONTOSO);
    assert_eq!(contoso.peak_concurrency, 3);
    assert_eq!(contoso.throttled, 0);
    assert_eq!(contoso.http_requests, 4, "three batches and one call");
    assert_eq!(contoso.batches, 3);
    assert_eq!(contoso.batch_items, 15);
    assert_eq!(contoso.requests["$batch"]["200"], 3);
    assert_eq!(contoso.requests["Get-AcceptedDomain"]["200"], 16);
    assert_eq!((stats.http_requests(), stats.batch_items()), (4, 15));
    sandbox.shutdown().await;
}

#[tokio::test]
async fn with_items_a_batch_takes_a_slot_per_item_or_is_refused_whole() {
    let (sandbox, token) = start(Behaviour {
        batch_connections: BatchConnections::Items,
        ..slow(400)
    })
    .await;
    let addr = sandbox.addr();
    // Two items hold two of the three slots while they run…
    let first = {
        let token = token.clone();
        tokio::spawn(async move { post_batch(addr, &token, &reads(2), None).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    // …so a call still fits, but another batch of two does not, and is refused whole.
    let domains = cmdlet("Get-AcceptedDomain", json!({}));
    let (call, second) = tokio::join!(invoke(addr, &token, &domains), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        post_batch(addr, &token, &reads(2), None).await
    });
    assert_eq!(call.status, 200, "{}", call.text);
    assert_eq!(second.status, 429, "{}", second.text);
    assert_eq!(second.header("retry-after"), Some("0.250"));
    assert!(
        second.json["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("maximum number of concurrent requests per tenant")),
        "{}",
        second.text
    );
    assert!(second.items().is_empty());
    let first = first.await.expect("the batch's task");
    assert_eq!(first.status, 200, "{}", first.text);
    // A batch of more items than the limit never fits.
    let four = post_batch(addr, &token, &reads(4), None).await;
    assert_eq!(four.status, 429, "{}", four.text);
    // Three fit once the others are done.
    let three = post_batch(addr, &token, &reads(3), None).await;
    assert_eq!(three.status, 200, "{}", three.text);

    let contoso = sandbox.stats().tenant(CONTOSO);
    assert_eq!(contoso.throttled, 2);
    // Slots, refused ones included: two items, the call, and the refused batch's two.
    assert_eq!(contoso.peak_concurrency, 5);
    assert_eq!(contoso.in_flight, 0);
    assert_eq!(contoso.http_requests, 5);
    assert_eq!(contoso.batches, 4);
    assert_eq!(contoso.batch_items, 5, "refused batches count no items");
    assert_eq!(contoso.requests["$batch"]["429"], 2);
    sandbox.shutdown().await;
}

#[tokio::test]
async fn with_items_an_over_limit_batch_gets_the_configured_refusal() {
    let (sandbox, token) = start(Behaviour {
        batch_connections: BatchConnections::Items,
        concurrency_refusal: Some(503),
        limit: 2,
        ..Behaviour::default()
    })
    .await;
    let reply = post_batch(sandbox.addr(), &token, &reads(3), None).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.header("retry-after"), None);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("text/plain")
    );
    assert!(
        reply
            .text
            .contains("maximum number of concurrent requests per tenant")
    );
    assert_eq!(
        post_batch(sandbox.addr(), &token, &reads(2), None)
            .await
            .status,
        200
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn a_batch_waits_one_latency_then_runs_its_items() {
    let (sandbox, token) = start(slow(300)).await;
    let started = Instant::now();
    let reply = post_batch(sandbox.addr(), &token, &reads(10), None).await;
    let took = started.elapsed();
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.items().len(), 10);
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_millis(900),
        "a batch of ten took {took:?} at 300 ms a request"
    );
    sandbox.shutdown().await;
}

#[tokio::test]
async fn each_item_answers_with_id_status_headers_and_a_single_calls_body() {
    let (sandbox, token) = start(Behaviour::default()).await;
    let addr = sandbox.addr();
    let missing = cmdlet("Get-Mailbox", json!({"Identity": "nobody"}));
    let mut batch = batch_of(&[
        cmdlet("Get-Mailbox", json!({"Identity": "user001"})),
        missing.clone(),
        cmdlet(
            "Set-Mailbox",
            json!({"Identity": "user002", "CustomAttribute1": "batched"}),
        ),
    ]);
    batch["requests"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "4", "method": "POST", "url": "/adminapi/beta/fabrikam.onmicrosoft.com/InvokeCommand", "body": cmdlet("Get-AcceptedDomain", json!({}))}));
    let reply = post_batch(
        addr,
        &token,
        &batch,
        Some("odata.maxpagesize=1000;odata.continue-on-error"),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(
        reply.header("preference-applied"),
        Some("odata.continue-on-error")
    );
    let items = reply.items();
    for item in items {
        let keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["id", "status", "headers", "body"], "{item}");
        assert_eq!(item["headers"]["Content-Type"], "application/json");
    }
    let statuses: Vec<(&str, u64)> = items
        .iter()
        .map(|i| (i["id"].as_str().unwrap(), i["status"].as_u64().unwrap()))
        .collect();
    assert_eq!(statuses, [("1", 200), ("2", 400), ("3", 200), ("4", 400)]);
    assert_eq!(items[0]["body"]["value"][0]["Alias"], "user001");
    assert_eq!(items[1]["headers"]["Cmdlet-Name"], "Get-Mailbox");
    // The failed item's body and exception type are a single call's.
    let single = invoke(addr, &token, &missing).await;
    assert_eq!(single.status, 400);
    assert_eq!(items[1]["body"], single.json);
    assert_eq!(
        items[1]["headers"]["X-ExceptionType"].as_str(),
        single.header("x-exceptiontype")
    );
    assert!(items[3]["body"]["error"]["message"].is_string());
    // Without the preference, every item still runs; nothing says it was applied.
    let plain = post_batch(addr, &token, &reads(2), None).await;
    assert_eq!(plain.items().len(), 2);
    assert_eq!(plain.header("preference-applied"), None);
    sandbox.shutdown().await;
}

/// Sends batches of ten writes until `wanted` items were answered (sending again a batch
/// refused whole); returns each item's status and Retry-After, in order.
async fn items_under_faults(
    seed: u64,
    faults: &[&str],
    wanted: usize,
) -> Vec<(u64, Option<String>)> {
    let behaviour = Behaviour {
        faults: faults.iter().map(|f| f.parse::<Fault>().unwrap()).collect(),
        ..Behaviour::default()
    };
    let mut config =
        SandboxConfig::with_tenants(1, 20).each_tenant(|t| t.behaviour = behaviour.clone());
    config.seed = seed;
    let sandbox = Sandbox::start(config).await.expect("starts");
    let token = token_for(&sandbox).await;
    let mut seen = Vec::new();
    let mut round = 0;
    while seen.len() < wanted {
        round += 1;
        assert!(round < 50, "batches refused whole 50 times");
        let bodies: Vec<Value> = (1..=10)
            .map(|i| {
                cmdlet(
                    "Set-Mailbox",
                    json!({"Identity": format!("user{i:03}"), "CustomAttribute2": format!("r{round}")}),
                )
            })
            .collect();
        let reply = post_batch(sandbox.addr(), &token, &batch_of(&bodies), None).await;
        if reply.status != 200 {
            continue;
        }
        for item in reply.items() {
            seen.push((
                item["status"].as_u64().unwrap(),
                item["headers"]["Retry-After"].as_str().map(str::to_string),
            ));
        }
    }
    sandbox.shutdown().await;
    seen
}

#[tokio::test]
async fn faults_strike_single_items_inside_a_200_batch_and_are_seeded() {
    let first = items_under_faults(7, &["429:0.3"], 40).await;
    let struck = first.iter().filter(|(s, _)| *s == 429).count();
    assert!(
        (1..first.len()).contains(&struck),
        "some items but not all are struck: {first:?}"
    );
    assert!(
        first
            .iter()
            .all(|(s, after)| (*s == 429) == (after.as_deref() == Some("1"))),
        "a struck item carries its own Retry-After: {first:?}"
    );
    assert!(first.iter().all(|(s, _)| matches!(s, 200 | 429)));
    // The same seed and the same requests strike the same items; another seed others.
    assert_eq!(items_under_faults(7, &["429:0.3"], 40).await, first);
    assert_ne!(items_under_faults(8, &["429:0.3"], 40).await, first);
}

#[tokio::test]
async fn a_struck_item_is_retried_alone_and_an_applied_timeout_item_made_its_change() {
    let (sandbox, token) = start(Behaviour {
        faults: vec![
            Fault {
                kind: FaultKind::TooManyRequests,
                rate: 0.25,
            },
            Fault {
                kind: FaultKind::AppliedTimeout,
                rate: 0.25,
            },
        ],
        ..Behaviour::default()
    })
    .await;
    let addr = sandbox.addr();
    // Each attempt writes its own value, so the write log tells which items of it ran.
    let bodies = |attempt: usize| -> Vec<Value> {
        (1..=5)
            .map(|i| {
                cmdlet(
                    "Set-Mailbox",
                    json!({"Identity": format!("user{i:03}"), "CustomAttribute3": format!("a{attempt}")}),
                )
            })
            .collect()
    };
    // Until a batch is answered with a throttled item and a timed-out one.
    let mut answered = None;
    for attempt in 0..100 {
        let reply = post_batch(addr, &token, &batch_of(&bodies(attempt)), None).await;
        if reply.status == 200
            && reply.items().iter().any(|i| i["status"] == 429)
            && reply.items().iter().any(|i| i["status"] == 504)
        {
            answered = Some((attempt, reply));
            break;
        }
    }
    let (attempt, reply) = answered.expect("within 100 batches one had both faults");
    let stats = sandbox.stats();
    let contoso = stats.tenant(CONTOSO);
    assert!(contoso.faults.get("429").is_some_and(|n| *n >= 1));
    assert!(contoso.faults.get("applied-504").is_some_and(|n| *n >= 1));
    let throttled = reply.items().iter().find(|i| i["status"] == 429).unwrap();
    assert_eq!(throttled["body"]["error"]["code"], "TooManyRequests");
    assert_eq!(throttled["headers"]["Retry-After"], "1");
    let timed_out = reply.items().iter().find(|i| i["status"] == 504).unwrap();
    assert_eq!(timed_out["body"]["error"]["code"], "GatewayTimeout");
    // The items that ran are those answered 200 and the timed-out ones: their changes were
    // made; a throttled item's was not.
    let identity = |item: &Value| {
        let n: usize = item["id"].as_str().unwrap().parse().unwrap();
        format!("user{n:03}")
    };
    let mut ran: Vec<String> = reply
        .items()
        .iter()
        .filter(|i| i["status"] == 200 || i["status"] == 504)
        .map(identity)
        .collect();
    let mut logged: Vec<String> = stats
        .writes
        .iter()
        .filter(|w| w.parameters["CustomAttribute3"] == format!("a{attempt}"))
        .map(|w| w.parameters["Identity"].as_str().unwrap().to_string())
        .collect();
    ran.sort();
    logged.sort();
    assert_eq!(logged, ran);
    assert!(!logged.contains(&identity(throttled)));
    // The throttled item alone, at its own URL, until the fault does not strike it.
    let index: usize = throttled["id"].as_str().unwrap().parse().unwrap();
    let retried = bodies(attempt)[index - 1].clone();
    let mut status = 0;
    for _ in 0..50 {
        status = invoke(addr, &token, &retried).await.status;
        if status == 200 {
            break;
        }
    }
    assert_eq!(status, 200);
    sandbox.shutdown().await;
}
