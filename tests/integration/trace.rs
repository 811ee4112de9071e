//! `--trace FILE`: the HAR 1.2 log of every request `run` and `connect` make, read back and
//! checked against what the sandbox served; and, for every way of signing in, searched for
//! each secret the sign-in used or was given.

use std::path::Path;

use regex::Regex;
use serde_json::Value;
use tenantry::sandbox::{APP_CERTIFICATE, APP_PRIVATE_KEY, APPS, Sandbox, SandboxConfig};

use crate::connect::{device_sign_in, sandbox, tenantry, workspace};
use crate::support::{Run, Workspace};

/// The admin app's secret sign-in, its secret in `$SECRET`.
fn secret_auth() -> String {
    format!(
        "{{ method: client_secret, app_id: {}, secret_env: SECRET }}",
        APPS[0].client_id
    )
}

/// A playbook on the sandbox's first tenant signing in with `auth`, running `steps`.
fn playbook(sandbox: &Sandbox, auth: &str, steps: &str) -> Workspace {
    let url = sandbox.url();
    let domain = &sandbox.tenants()[0].domain;
    Workspace::new(&[(
        "p.yaml",
        &format!(
            "version: 1\nname: Traced\ntenants:\n  - {{ name: contoso, organization: {domain}, cloud: custom, endpoints: {{ rest: \"{url}\", authority: \"{url}\", scope: \"https://outlook.office365.com/.default\" }}, auth: {auth} }}\nsteps:\n{steps}"
        ),
    )])
}

/// The trace at `path`, checked against HAR 1.2: the fields the format requires, timings
/// that add up, and a request and an answer in each entry.
fn read_har(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let har: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("the trace is not JSON ({e}):\n{text}"));
    let log = &har["log"];
    assert_eq!(log["version"], "1.2");
    assert_eq!(log["creator"]["name"], "tenantry");
    assert!(log["creator"]["version"].is_string());
    let started = Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").unwrap();
    for entry in log["entries"].as_array().expect("entries") {
        assert!(
            started.is_match(entry["startedDateTime"].as_str().unwrap()),
            "{entry}"
        );
        assert!(entry["cache"].is_object(), "{entry}");
        let timings = &entry["timings"];
        let mut sum = 0.0;
        for phase in ["send", "wait", "receive"] {
            let ms = timings[phase].as_f64().expect("send, wait and receive");
            assert!(ms >= 0.0, "{timings}");
            sum += ms;
        }
        for phase in ["blocked", "dns", "connect", "ssl"] {
            assert!(timings[phase].as_f64().unwrap() >= -1.0, "{timings}");
        }
        assert!(
            (entry["time"].as_f64().unwrap() - sum).abs() < 0.01,
            "time is the sum of the timings: {entry}"
        );
        let request = &entry["request"];
        for field in ["method", "url", "httpVersion"] {
            assert!(request[field].is_string(), "request.{field}: {entry}");
        }
        for field in ["cookies", "headers", "queryString"] {
            assert!(request[field].is_array(), "request.{field}: {entry}");
        }
        for field in ["headersSize", "bodySize"] {
            assert!(request[field].is_i64(), "request.{field}: {entry}");
        }
        if let Some(post) = request.get("postData") {
            assert!(post["mimeType"].is_string() && post["text"].is_string());
        }
        let response = &entry["response"];
        assert!(response["status"].is_u64(), "{entry}");
        for field in ["statusText", "httpVersion", "redirectURL"] {
            assert!(response[field].is_string(), "response.{field}: {entry}");
        }
        for field in ["cookies", "headers"] {
            assert!(response[field].is_array(), "response.{field}: {entry}");
        }
        assert!(response["content"]["size"].is_u64(), "{entry}");
        assert!(response["content"]["mimeType"].is_string(), "{entry}");
        for field in ["headersSize", "bodySize"] {
            assert!(response[field].is_i64(), "response.{field}: {entry}");
        }
    }
    har
}

fn entries(har: &Value) -> &Vec<Value> {
    har["log"]["entries"].as_array().unwrap()
}

/// Asserts that none of `secrets` shows anywhere in the trace, nor anything shaped like a
/// token: a JWT (`eyJ…`), or a long word of random token characters (the sandbox's refresh
/// tokens and device codes are 96 and 64 of them; GUIDs are 36, and property names, however
/// long, are not mixed-case words full of digits).
fn assert_clean(what: &str, text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(
            !text.contains(secret.as_str()),
            "{what}: the trace holds `{secret}`:\n{text}"
        );
    }
    assert!(!text.contains("eyJ"), "{what}: a JWT in the trace:\n{text}");
    let long = Regex::new(r"[A-Za-z0-9_-]{48,}").unwrap();
    let random = long.find_iter(text).map(|m| m.as_str()).find(|word| {
        word.bytes().filter(u8::is_ascii_digit).count() >= 4
            && word.bytes().any(|b| b.is_ascii_uppercase())
            && word.bytes().any(|b| b.is_ascii_lowercase())
    });
    assert!(
        random.is_none(),
        "{what}: a token-shaped word in the trace: {random:?}"
    );
}

/// The refresh tokens kept in the workspace's token cache.
fn cached_refresh_tokens(ws: &Workspace) -> Vec<String> {
    let Ok(text) = std::fs::read_to_string(ws.path().join("cache/tokens.json")) else {
        return Vec::new();
    };
    let cache: Value = serde_json::from_str(&text).unwrap();
    let tokens: Vec<String> = cache["entries"]
        .as_object()
        .unwrap()
        .values()
        .map(|e| e["refresh_token"].as_str().unwrap().to_string())
        .collect();
    assert!(!tokens.is_empty(), "{text}");
    tokens
}

/// The form fields of the token requests in a trace, by name, with their values as shown.
fn token_fields(har: &Value) -> Vec<(String, String)> {
    entries(har)
        .iter()
        .filter(|e| e["request"]["url"].as_str().unwrap().contains("/oauth2/"))
        .flat_map(|e| {
            let text = e["request"]["postData"]["text"].as_str().unwrap_or("");
            text.split('&')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Asserts that the token requests of `har` carried `field`, shown redacted.
fn assert_redacted_field(what: &str, har: &Value, field: &str) {
    let fields = token_fields(har);
    assert!(
        fields.iter().any(|(k, _)| k == field),
        "{what}: no {field} sent: {fields:?}"
    );
    for (k, v) in &fields {
        if k == field {
            assert_eq!(v, "[redacted]", "{what}: {field}");
        }
    }
}

/// A run: one entry per request the sandbox saw (token and admin API alike), every entry valid
/// HAR, the file private; the token answer keeps what support reads and loses the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_traces_every_request_the_sandbox_saw() {
    let sb = Sandbox::start(SandboxConfig::with_tenants(1, 5))
        .await
        .unwrap();
    let ws = playbook(
        &sb,
        &secret_auth(),
        "  - cmdlet: Get-AcceptedDomain\n  - cmdlet: Set-Mailbox\n    for_each: [user001, user002, nobody-here]\n    params: { Identity: \"{{ item }}\", CustomAttribute3: traced }\n",
    );
    let run = tenantry(
        &ws,
        &["run", "p.yaml", "--progress", "plain", "--trace", "t.har"],
        &[("SECRET", APPS[0].client_secret)],
    )
    .await;
    assert_eq!(
        run.code, 1,
        "one task fails: {}\n{}",
        run.stdout, run.stderr
    );
    let path = ws.path().join("t.har");
    let har = read_har(&path);
    let served = sb.stats().tenant(&sb.tenants()[0].domain);
    let token_requests = served.tokens() + served.token_errors.values().sum::<u64>();
    let admin_requests: u64 = served.statuses.values().sum();
    assert_eq!(token_requests, 1, "{served:?}");
    assert_eq!(admin_requests, 4, "{served:?}");
    let entries = entries(&har);
    assert_eq!(entries.len() as u64, token_requests + admin_requests);
    let statuses: Vec<u64> = entries
        .iter()
        .map(|e| e["response"]["status"].as_u64().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 400).count(),
        1,
        "{statuses:?}"
    );

    let token = &entries[0];
    assert!(
        token["request"]["url"]
            .as_str()
            .unwrap()
            .ends_with("/oauth2/v2.0/token")
    );
    let answer: Value =
        serde_json::from_str(token["response"]["content"]["text"].as_str().unwrap()).unwrap();
    assert_eq!(answer["access_token"], "[redacted]");
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer["expires_in"].is_u64(), "{answer}");
    assert_redacted_field("client_secret", &har, "client_secret");

    let call = &entries[1];
    let header = |name: &str| {
        call["request"]["headers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|h| h["name"].as_str().unwrap().eq_ignore_ascii_case(name))
            .map(|h| h["value"].as_str().unwrap().to_string())
    };
    assert_eq!(
        header("authorization").as_deref(),
        Some("Bearer [redacted]")
    );
    assert_eq!(
        header("x-cmdletname").as_deref(),
        Some("Get-AcceptedDomain")
    );
    assert!(
        call["response"]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("\"value\"")
    );

    let text = std::fs::read_to_string(&path).unwrap();
    assert_clean("a run", &text, &[APPS[0].client_secret.to_string()]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    sb.shutdown().await;
}

/// A way of signing in, and what its trace must not hold.
struct Method<'a> {
    what: &'a str,
    /// The auth block.
    auth: String,
    env: Vec<(&'a str, &'a str)>,
    secrets: Vec<String>,
    /// The form field of the token request that carries the credential.
    field: Option<&'a str>,
}

/// `connect --trace` with each way of signing in: the trace holds the sign-in and the call,
/// and none of the secrets used or issued: app secret, certificate key and assertion,
/// federated token, password, device and user codes, a ready token, and the access and
/// refresh tokens that came back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sign_in_method_leaves_a_secret_in_the_trace() {
    let sb = sandbox().await;
    let org = "contoso.onmicrosoft.com";
    let app = APPS[0].client_id;
    // A ready token, for `access_token`.
    tenantry::exchange::install_tls_provider();
    let ready: Value = reqwest::Client::new()
        .post(format!("{}/{org}/oauth2/v2.0/token", sb.url()))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", app),
            ("client_secret", APPS[0].client_secret),
            ("scope", "https://outlook.office365.com/.default"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ready = ready["access_token"].as_str().unwrap().to_string();
    let workload = sb.workload_token(tenantry::sandbox::WORKLOAD_SUBJECT, None, 600);
    let key_lines: Vec<String> = APP_PRIVATE_KEY
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() > 20)
        .map(str::to_string)
        .collect();
    let methods = vec![
        Method {
            what: "client_secret",
            auth: secret_auth(),
            env: vec![("SECRET", APPS[0].client_secret)],
            secrets: vec![APPS[0].client_secret.into()],
            field: Some("client_secret"),
        },
        Method {
            what: "certificate",
            auth: format!(
                "{{ method: certificate, app_id: {app}, certificate_file: app.crt, key_file: app.key }}"
            ),
            env: vec![],
            secrets: key_lines,
            field: Some("client_assertion"),
        },
        Method {
            what: "federated",
            auth: format!("{{ method: federated, app_id: {app}, token_file: workload.jwt }}"),
            env: vec![],
            secrets: vec![workload.clone()],
            field: Some("client_assertion"),
        },
        Method {
            what: "password",
            auth: format!(
                "{{ method: password, user: legacy.admin@{org}, password_env: PASSWORD }}"
            ),
            env: vec![("PASSWORD", "Sandbox-Legacy-1")],
            secrets: vec!["Sandbox-Legacy-1".into()],
            field: Some("password"),
        },
        Method {
            what: "access_token (token_env)",
            auth: "{ method: access_token, token_env: EXO_TOKEN }".into(),
            env: vec![("EXO_TOKEN", ready.as_str())],
            secrets: vec![ready.clone()],
            field: None,
        },
        Method {
            what: "access_token (token_command)",
            auth: "{ method: access_token, token_command: 'printf %s \"$EXO_TOKEN\"' }".into(),
            env: vec![("EXO_TOKEN", ready.as_str())],
            secrets: vec![ready.clone()],
            field: None,
        },
    ];
    for Method {
        what,
        auth,
        env,
        secrets,
        field,
    } in methods
    {
        let ws = workspace(&sb, org, &auth, "");
        std::fs::write(ws.path().join("app.crt"), APP_CERTIFICATE).unwrap();
        std::fs::write(ws.path().join("app.key"), APP_PRIVATE_KEY).unwrap();
        std::fs::write(ws.path().join("workload.jwt"), &workload).unwrap();
        let run: Run = tenantry(&ws, &["connect", "p.yaml", "--trace", "t.har"], &env).await;
        assert_eq!(run.code, 0, "{what}: {}\n{}", run.stdout, run.stderr);
        let path = ws.path().join("t.har");
        let har = read_har(&path);
        let calls = entries(&har)
            .iter()
            .filter(|e| {
                e["request"]["url"]
                    .as_str()
                    .unwrap()
                    .contains("/InvokeCommand")
            })
            .count();
        assert_eq!(calls, 1, "{what}: the one call is traced");
        if let Some(field) = field {
            assert_redacted_field(what, &har, field);
        }
        let mut secrets = secrets;
        if what == "password" {
            // The refresh token that came back, as the cache kept it.
            secrets.extend(cached_refresh_tokens(&ws));
        }
        assert_clean(what, &std::fs::read_to_string(&path).unwrap(), &secrets);
    }

    // Device code: the user code shown on screen, the device code polled with, and the
    // tokens that came back.
    let ws = workspace(
        &sb,
        org,
        "{ method: device_code, user: admin@contoso.onmicrosoft.com }",
        "",
    );
    let (code, stdout, stderr) = device_sign_in(
        &sb,
        &ws,
        "admin@contoso.onmicrosoft.com",
        &["--trace", "t.har"],
    )
    .await;
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let user_code = stderr
        .split("enter the code ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    let path = ws.path().join("t.har");
    let har = read_har(&path);
    let answers: Vec<Value> = entries(&har)
        .iter()
        .filter(|e| {
            e["request"]["url"]
                .as_str()
                .unwrap()
                .ends_with("/devicecode")
        })
        .map(|e| serde_json::from_str(e["response"]["content"]["text"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(answers.len(), 1, "{har}");
    assert_eq!(answers[0]["device_code"], "[redacted]");
    assert_eq!(answers[0]["user_code"], "[redacted]");
    assert!(
        answers[0]["message"]
            .as_str()
            .unwrap()
            .contains("enter the code [redacted]"),
        "{}",
        answers[0]
    );
    assert_redacted_field("device code", &har, "device_code");
    let mut secrets = vec![user_code];
    secrets.extend(cached_refresh_tokens(&ws));
    let text = std::fs::read_to_string(&path).unwrap();
    assert_clean("device code", &text, &secrets);

    // The next connect signs in with the refresh token kept: redacted as it is sent.
    let again = tenantry(&ws, &["connect", "p.yaml", "--trace", "again.har"], &[]).await;
    assert_eq!(again.code, 0, "{}\n{}", again.stdout, again.stderr);
    let har = read_har(&ws.path().join("again.har"));
    assert_redacted_field("refresh", &har, "refresh_token");
    let mut refreshed = secrets.clone();
    refreshed.extend(cached_refresh_tokens(&ws));
    let text = std::fs::read_to_string(ws.path().join("again.har")).unwrap();
    assert_clean("refresh", &text, &refreshed);
}

/// A SecureString parameter's value is written nowhere: not in the request, nor in what the
/// service says back about it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_secure_string_parameter_never_reaches_the_trace() {
    let sb = Sandbox::start(SandboxConfig::with_tenants(1, 5))
        .await
        .unwrap();
    let domain = sb.tenants()[0].domain.clone();
    // Sealed with the sandbox's own key, which a custom endpoint names.
    let url = sb.url();
    let ws = Workspace::new(&[
        ("sandbox.pem", sb.public_key_pem()),
        (
            "p.yaml",
            &format!(
                "version: 1\nname: Traced\ntenants:\n  - {{ name: contoso, organization: {domain}, cloud: custom, endpoints: {{ rest: \"{url}\", authority: \"{url}\", scope: \"https://outlook.office365.com/.default\", public_key: sandbox.pem }}, auth: {} }}\nsteps:\n{}",
                secret_auth(),
                format_args!(
                    "  - cmdlet: New-Mailbox\n    params: {{ Name: traced, MicrosoftOnlineServicesID: traced@{domain}, Password: \"Mailbox-Pass-4711\" }}\n  - cmdlet: Set-Mailbox\n    on_error: continue\n    params: {{ Identity: user001, password: \"Other-Pass-0815\" }}\n  - cmdlet: New-Mailbox\n    on_error: continue\n    params: {{ Name: room, Room: true, EnableRoomMailboxAccount: true, RoomMailboxPassword: \"Room-Pass-2342\" }}\n"
                )
            ),
        ),
    ]);
    let run = tenantry(
        &ws,
        &["run", "p.yaml", "--progress", "plain", "--trace", "t.har"],
        &[("SECRET", APPS[0].client_secret)],
    )
    .await;
    assert!(
        run.code == 0 || run.code == 1,
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    let path = ws.path().join("t.har");
    let har = read_har(&path);
    let bodies: Vec<Value> = entries(&har)
        .iter()
        .filter(|e| {
            e["request"]["url"]
                .as_str()
                .unwrap()
                .contains("/InvokeCommand")
        })
        .map(|e| serde_json::from_str(e["request"]["postData"]["text"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    let params = |i: usize| &bodies[i]["CmdletInput"]["Parameters"];
    assert_eq!(params(0)["Password"], "[redacted]");
    assert_eq!(params(0)["Name"], "traced");
    assert_eq!(
        params(1)["Password"],
        "[redacted]",
        "sent by its documented name"
    );
    assert_eq!(params(2)["RoomMailboxPassword"], "[redacted]");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_clean(
        "SecureString",
        &text,
        &[
            "Mailbox-Pass-4711".into(),
            "Other-Pass-0815".into(),
            "Room-Pass-2342".into(),
            APPS[0].client_secret.into(),
        ],
    );
    assert!(
        sb.stats().tenant(&domain).secure_strings >= 2,
        "the secrets arrived, sealed with the sandbox's key: {:?}",
        sb.stats().tenant(&domain)
    );
    sb.shutdown().await;
}

/// A trace file that cannot be created stops `run` and `connect` with exit 2 before any
/// request: the sandbox saw none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_uncreatable_trace_stops_before_anything_is_sent() {
    let sb = Sandbox::start(SandboxConfig::with_tenants(1, 5))
        .await
        .unwrap();
    let ws = playbook(&sb, &secret_auth(), "  - cmdlet: Get-AcceptedDomain\n");
    for command in ["run", "connect"] {
        let run = tenantry(
            &ws,
            &[command, "p.yaml", "--trace", "no-such-folder/t.har"],
            &[("SECRET", APPS[0].client_secret)],
        )
        .await;
        assert_eq!(run.code, 2, "{command}: {}\n{}", run.stdout, run.stderr);
        assert!(
            run.stderr
                .contains("cannot create the trace file no-such-folder/t.har"),
            "{command}: {}",
            run.stderr
        );
    }
    // A folder is not a file to trace in either.
    let run = tenantry(&ws, &["connect", "p.yaml", "--trace", "."], &[]).await;
    assert_eq!(run.code, 2, "{}", run.stderr);
    let served = sb.stats().tenant(&sb.tenants()[0].domain);
    assert_eq!(served.tokens(), 0, "{served:?}");
    assert!(served.statuses.is_empty(), "{served:?}");
    sb.shutdown().await;
}

/// A run stopped by Ctrl-C, and one killed outright, each leave a trace that is valid HAR:
/// the interrupted one with every request the sandbox saw, the killed one with those that
/// were answered before it died.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_or_killed_run_leaves_a_valid_trace() {
    let config = SandboxConfig::with_tenants(1, 40)
        .each_tenant(|t| t.behaviour.latency = "150ms".parse().unwrap());
    let sb = Sandbox::start(config).await.unwrap();
    let users: Vec<String> = (1..=40).map(|i| format!("user{i:03}")).collect();
    let steps = format!(
        "  - cmdlet: Set-Mailbox\n    for_each: [{}]\n    params: {{ Identity: \"{{{{ item }}}}\", CustomAttribute4: traced }}\n",
        users.join(", ")
    );
    let ws = playbook(&sb, &secret_auth(), &steps);
    let domain = sb.tenants()[0].domain.clone();
    let seen = |sb: &Sandbox| {
        let served = sb.stats().tenant(&domain);
        served.tokens() + served.statuses.values().sum::<u64>()
    };
    for (signal, name) in [("-INT", "interrupted"), ("-KILL", "killed")] {
        let before = seen(&sb);
        let (trace, state) = (format!("{name}.har"), format!("state-{name}"));
        let args: Vec<String> = [
            "run",
            "p.yaml",
            "--progress",
            "plain",
            "--state-dir",
            &state,
            "--trace",
            &trace,
        ]
        .map(String::from)
        .into();
        let dir = ws.path().to_path_buf();
        let code = tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let mut child =
                crate::support::start_run(&dir, &args, &[("SECRET", APPS[0].client_secret)]);
            // Under way: some calls answered, some in flight.
            std::thread::sleep(std::time::Duration::from_millis(700));
            let status = std::process::Command::new("kill")
                .args([signal, &child.id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
            child.wait().unwrap().code()
        })
        .await
        .unwrap();
        let har = read_har(&ws.path().join(&trace));
        let written = entries(&har).len() as u64;
        let served = seen(&sb) - before;
        assert!(written >= 2, "{name}: {written} entries");
        if signal == "-INT" {
            assert_eq!(code, Some(130));
            assert_eq!(written, served, "{name}: every request the sandbox saw");
        } else {
            assert_eq!(code, None, "killed");
            assert!(written <= served, "{name}: {written} of {served}");
        }
    }
    sb.shutdown().await;
}

/// A redirected call shows each hop: the front door's redirect, with where it pointed, then the
/// same request on the regional host, which the tenant's later calls go to directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_hop_of_a_redirect_is_its_own_entry() {
    use tenantry::sandbox::{Behaviour, Redirect, RedirectTo};
    let config = SandboxConfig::with_tenants(1, 5).each_tenant(|t| {
        t.behaviour = Behaviour {
            redirect: Some(Redirect {
                to: RedirectTo::Regional,
                status: 307,
            }),
            ..Behaviour::default()
        }
    });
    let sb = Sandbox::start(config).await.unwrap();
    let ws = playbook(
        &sb,
        &secret_auth(),
        "  - cmdlet: Get-AcceptedDomain\n  - cmdlet: Get-Mailbox\n    params: { Identity: user001 }\n",
    );
    let run = tenantry(
        &ws,
        &["run", "p.yaml", "--progress", "plain", "--trace", "t.har"],
        &[("SECRET", APPS[0].client_secret)],
    )
    .await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let har = read_har(&ws.path().join("t.har"));
    let admin: Vec<&Value> = entries(&har)
        .iter()
        .filter(|e| e["request"]["url"].as_str().unwrap().contains("/adminapi/"))
        .collect();
    let regional = sb.regional_url();
    let hops: Vec<(u64, bool, String)> = admin
        .iter()
        .map(|e| {
            (
                e["response"]["status"].as_u64().unwrap(),
                e["request"]["url"].as_str().unwrap().starts_with(&regional),
                e["response"]["redirectURL"]
                    .as_str()
                    .unwrap_or("")
                    .to_string(),
            )
        })
        .collect();
    assert_eq!(hops.len(), 3, "{hops:?}");
    assert_eq!((hops[0].0, hops[0].1), (307, false), "{hops:?}");
    assert!(hops[0].2.starts_with(&regional), "{hops:?}");
    assert_eq!((hops[1].0, hops[1].1), (200, true), "{hops:?}");
    assert_eq!((hops[2].0, hops[2].1), (200, true), "pinned: {hops:?}");
    let served = sb.stats().tenant(&sb.tenants()[0].domain);
    assert_eq!((served.redirected, served.regional), (1, 2), "{served:?}");
}
