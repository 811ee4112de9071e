//! What the real service does beyond the sandbox's defaults, each behaviour switched on for a
//! sandbox tenant and driven through `tenantry run`; assertions read the sandbox's own record
//! of what it served, and the reports.

use serde_json::Value;
use tenantry::sandbox::{
    APPS, Behaviour, ErrorDetails, Redirect, RedirectTo, Sandbox, SandboxConfig,
};

use crate::support::Workspace;

/// A playbook over the sandbox's first tenant, reached through custom endpoints.
fn workspace(sandbox: &Sandbox, steps: &str) -> Workspace {
    let domain = &sandbox.tenants()[0].domain;
    let tenant = crate::support::custom_tenant("contoso", domain, &sandbox.url(), "SECRET");
    Workspace::new(&[(
        "p.yaml",
        &format!("version: 1\nname: Fidelity\ntenants:\n{tenant}steps:\n{steps}"),
    )])
}

/// Runs the playbook with a report, off the async runtime, and reads results.jsonl back.
async fn run(ws: &Workspace) -> (crate::support::Run, Vec<Value>) {
    let path = ws.path().to_path_buf();
    let dir = path.clone();
    let run = tokio::task::spawn_blocking(move || {
        crate::support::tenantry_with_env(
            &path,
            &["run", "p.yaml", "--progress", "plain", "--report", "report"],
            &[("SECRET", APPS[0].client_secret)],
        )
    })
    .await
    .unwrap();
    let results = std::fs::read_to_string(dir.join("report/results.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (run, results)
}

/// A cmdlet error whose detail is a JSON text (`Message`, `TypeName`) rather than
/// `Id|Class|Message`: its class still reaches the reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cmdlet_error_written_as_json_text_keeps_its_class() {
    let config = SandboxConfig::with_tenants(1, 5).each_tenant(|t| {
        t.behaviour = Behaviour {
            error_details: ErrorDetails::Json,
            ..Behaviour::default()
        }
    });
    let sandbox = Sandbox::start(config).await.unwrap();
    let ws = workspace(
        &sandbox,
        "  - cmdlet: Set-Mailbox\n    params: { Identity: nobody-here, CustomAttribute1: x }\n",
    );
    let (run, results) = run(&ws).await;
    // The tenant was reached: the service answered with its cmdlet error.
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let domain = sandbox.tenants()[0].domain.clone();
    let served = sandbox.stats().tenant(&domain).clone();
    assert_eq!(
        served.status("400"),
        1,
        "the sandbox answered the one call with its JSON-text error: {served:?}"
    );
    assert_eq!(results.len(), 1, "{results:?}");
    assert_eq!(results[0]["status"], "failed");
    assert_eq!(
        results[0]["error_class"], "ManagementObjectNotFoundException",
        "{}",
        results[0]
    );
    assert!(
        run.stdout.contains("ManagementObjectNotFoundException: "),
        "{}",
        run.stdout
    );
    sandbox.shutdown().await;
}

/// The tenant's concurrency refusal as plain text with status 500 and no `Retry-After`, as the
/// service's front end is seen to send it: waited out as throttling, so no task fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_concurrency_refusal_in_plain_text_costs_no_task() {
    // One call at a time while the client opens three: most rounds meet a refusal.
    let config = SandboxConfig::with_tenants(1, 10).each_tenant(|t| {
        t.behaviour = Behaviour {
            limit: 1,
            latency: "100ms".parse().unwrap(),
            concurrency_refusal: Some(500),
            ..Behaviour::default()
        }
    });
    let sandbox = Sandbox::start(config).await.unwrap();
    let ws = workspace(
        &sandbox,
        "  - cmdlet: Set-Mailbox\n    for_each: [user001, user002, user003, user004, user005, user006]\n    params: { Identity: \"{{ item }}\", CustomAttribute2: x }\n",
    );
    let (run, results) = run(&ws).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let served = sandbox.stats().tenant(&sandbox.tenants()[0].domain);
    assert!(
        served.status("500") >= 1,
        "the sandbox refused some calls with its plain-text 500: {served:?}"
    );
    assert_eq!(served.status("200"), 6, "each task ran once: {served:?}");
    assert_eq!(results.len(), 6);
    assert!(results.iter().all(|r| r["status"] == "ok"), "{results:?}");
    let waited = results
        .iter()
        .flat_map(|r| r["retries"].as_array().unwrap())
        .filter(|r| r.as_str().unwrap().starts_with("500 concurrency limit"))
        .count();
    assert_eq!(
        waited as u64,
        served.status("500"),
        "every refusal shows in the retry records"
    );
    sandbox.shutdown().await;
}

/// A person's calls are routed by their own mailbox (`UPN:`), not the system mailbox an app's
/// calls use: the sandbox refuses a user token routed by `APP:`, as the service is expected to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_is_routed_by_their_own_mailbox() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 5))
        .await
        .unwrap();
    let domain = sandbox.tenants()[0].domain.clone();
    let url = sandbox.url();
    let ws = Workspace::new(&[(
        "p.yaml",
        &format!(
            "version: 1\nname: Routing\ntenants:\n  - {{ name: contoso, organization: {domain}, cloud: custom, endpoints: {{ rest: \"{url}\", authority: \"{url}\", scope: \"https://outlook.office365.com/.default\" }}, auth: {{ method: password, user: legacy.admin@{domain}, password_env: PASSWORD }} }}\nsteps:\n  - cmdlet: Get-AcceptedDomain\n  - cmdlet: Get-Mailbox\n    params: {{ Identity: user001 }}\n"
        ),
    )]);
    let path = ws.path().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        let cache = path.join("cache");
        crate::support::tenantry_with_env(
            &path,
            &["run", "p.yaml", "--progress", "plain"],
            &[
                ("PASSWORD", "Sandbox-Legacy-1"),
                ("TENANTRY_CACHE_DIR", cache.to_str().unwrap()),
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let served = sandbox.stats().tenant(&domain);
    assert_eq!(
        (served.status("200"), served.status("400")),
        (2, 0),
        "both calls were routed as a user's: {served:?}"
    );
    sandbox.shutdown().await;
}

/// Answers gzip-compressed, and error answers labelled gzip that are plain (as some of the
/// service's are): the run reads both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compressed_and_mislabelled_answers_are_read() {
    let config = SandboxConfig::with_tenants(1, 40).each_tenant(|t| {
        t.behaviour = Behaviour {
            compression: tenantry::sandbox::Compression::MislabelledErrors,
            ..Behaviour::default()
        }
    });
    let sandbox = Sandbox::start(config).await.unwrap();
    let ws = workspace(
        &sandbox,
        "  - cmdlet: Get-Mailbox\n    params: { ResultSize: Unlimited }\n  - cmdlet: Get-Mailbox\n    params: { Identity: nobody-here }\n    on_error: continue\n",
    );
    let (run, results) = run(&ws).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let served = sandbox.stats().tenant(&sandbox.tenants()[0].domain);
    assert_eq!(
        (served.compressed, served.mislabelled),
        (1, 1),
        "one answer compressed, one error labelled gzip and sent plain: {served:?}"
    );
    assert_eq!(results.len(), 2, "{results:?}");
    assert_eq!(results[0]["status"], "ok");
    assert!(
        results[0]["objects"].as_u64().unwrap() >= 40,
        "every mailbox read from the compressed page: {}",
        results[0]
    );
    assert_eq!(
        results[1]["error_class"], "ManagementObjectNotFoundException",
        "{}",
        results[1]
    );
    sandbox.shutdown().await;
}

/// A playbook that names a tenant by its vanity domain: after sign-in, calls name the tenant
/// by the GUID its token gives, since the service takes only the GUID or the initial domain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_vanity_domain_is_replaced_by_the_tenant_id_after_sign_in() {
    let config = SandboxConfig::with_tenants(1, 5).each_tenant(|t| {
        t.behaviour = Behaviour {
            vanity_urls: false,
            ..Behaviour::default()
        }
    });
    let sandbox = Sandbox::start(config).await.unwrap();
    let info = sandbox.tenants()[0].clone();
    let tenant =
        crate::support::custom_tenant("contoso", &info.vanity_domain, &sandbox.url(), "SECRET");
    let ws = Workspace::new(&[(
        "p.yaml",
        &format!(
            "version: 1\nname: Vanity\ntenants:\n{tenant}steps:\n  - cmdlet: Get-AcceptedDomain\n  - cmdlet: Get-Mailbox\n    params: {{ Identity: user001 }}\n"
        ),
    )]);
    let (run, results) = run(&ws).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(results.len(), 2);
    let served = sandbox.stats().tenant(&info.domain);
    assert_eq!(
        (served.status("200"), served.status("400")),
        (2, 0),
        "no call named the vanity domain: {served:?}"
    );
    sandbox.shutdown().await;
}

/// `Rate-Limit-Remaining: 0` with its `Rate-Limit-Reset`: the tenant's next calls wait for the
/// reset instead of being refused, and the waits show in the retry records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_rate_budget_paces_the_tenant_before_it_is_refused() {
    let config = SandboxConfig::with_tenants(1, 10).each_tenant(|t| {
        t.behaviour = Behaviour {
            rate: Some(5.0),
            burst: 1.0,
            ..Behaviour::default()
        }
    });
    let sandbox = Sandbox::start(config).await.unwrap();
    let domain = sandbox.tenants()[0].domain.clone();
    let tenant = crate::support::custom_tenant("contoso", &domain, &sandbox.url(), "SECRET");
    // One call at a time, so that each answer's headers are read before the next call.
    let ws = Workspace::new(&[(
        "p.yaml",
        &format!(
            "version: 1\nname: Paced\nlimits: {{ connections_per_tenant: 1 }}\ntenants:\n{tenant}steps:\n  - cmdlet: Set-Mailbox\n    for_each: [user001, user002, user003, user004, user005, user006]\n    params: {{ Identity: \"{{{{ item }}}}\", CustomAttribute3: x }}\n"
        ),
    )]);
    let (run, results) = run(&ws).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let served = sandbox.stats().tenant(&domain);
    assert_eq!(served.status("200"), 6, "{served:?}");
    assert!(
        served.throttled <= 1,
        "paced by the headers, the tenant was hardly ever refused: {served:?}"
    );
    let paced = results
        .iter()
        .flat_map(|r| r["retries"].as_array().unwrap())
        .filter(|r| *r == "rate-limit")
        .count();
    assert!(paced >= 5, "each spent budget held the tenant: {results:?}");
    sandbox.shutdown().await;
}

/// A sandbox whose first tenant's front door redirects every admin API call as `redirect`
/// says.
async fn redirecting(mailboxes: usize, to: RedirectTo, status: u16) -> Sandbox {
    let config = SandboxConfig::with_tenants(1, mailboxes).each_tenant(|t| {
        t.behaviour = Behaviour {
            redirect: Some(Redirect { to, status }),
            ..Behaviour::default()
        }
    });
    Sandbox::start(config).await.unwrap()
}

/// A tenant the front door sends to its regional host: the call follows with its token, the
/// tenant's later calls and next pages go straight there, and the affinity cookie comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirected_tenant_is_served_by_its_regional_host_from_then_on() {
    // Over a thousand mailboxes: Get-Mailbox takes two pages, the second by a next link on
    // the regional host.
    let sandbox = redirecting(1100, RedirectTo::Regional, 302).await;
    let ws = workspace(
        &sandbox,
        "  - cmdlet: Get-Mailbox\n    params: { ResultSize: Unlimited }\n  - cmdlet: Set-Mailbox\n    for_each: [user0001, user0002, user0003, user0004, user0005, user0006]\n    params: { Identity: \"{{ item }}\", CustomAttribute3: regional }\n",
    );
    let (run, results) = run(&ws).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(results.len(), 7, "{results:?}");
    assert!(results.iter().all(|r| r["status"] == "ok"), "{results:?}");
    let served = sandbox.stats().tenant(&sandbox.tenants()[0].domain);
    // Two pages and six writes, every one answered by the regional host.
    assert_eq!(served.status("200"), 8, "{served:?}");
    assert_eq!(served.regional, 8, "{served:?}");
    // Only calls sent before the first redirect was known met the front door: at most the
    // tenant's three connections' worth.
    assert!(
        (1..=3).contains(&served.redirected),
        "later calls went straight to the regional host: {served:?}"
    );
    assert!(
        served.affinity + served.redirected >= 8,
        "the affinity cookie came back on the calls after the first answers: {served:?}"
    );
    assert_eq!(served.foreign, 0);
    sandbox.shutdown().await;
}

/// A redirect off the tenant's hosts (here `localhost`, not the configured `127.0.0.1`) is
/// refused naming both hosts, and nothing, token or not, is sent there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_to_a_foreign_host_is_refused_and_never_gets_the_token() {
    let sandbox = redirecting(5, RedirectTo::Foreign, 307).await;
    let ws = workspace(
        &sandbox,
        "  - cmdlet: Get-Mailbox\n    params: { Identity: user001 }\n",
    );
    let (run, results) = run(&ws).await;
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let domain = sandbox.tenants()[0].domain.clone();
    let served = sandbox.stats().tenant(&domain);
    assert!(served.redirected >= 1, "{served:?}");
    assert_eq!(
        (served.foreign, served.foreign_tokens, served.regional),
        (0, 0, 0),
        "nothing reached the foreign name: {served:?}"
    );
    let error = results[0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("127.0.0.1")
            && error.contains("localhost")
            && error.contains("token was not sent"),
        "{}",
        results[0]
    );
    // The foreign name does reach the listener: what a client that followed would have hit.
    let regional_port = sandbox
        .regional_url()
        .rsplit(':')
        .next()
        .unwrap()
        .to_string();
    let _ = tenantry::exchange::http_client()
        .unwrap()
        .post(format!(
            "http://localhost:{regional_port}/adminapi/beta/{domain}/InvokeCommand"
        ))
        .bearer_auth("a-token")
        .send()
        .await;
    let served = sandbox.stats().tenant(&domain);
    assert_eq!(
        (served.foreign, served.foreign_tokens),
        (1, 1),
        "{served:?}"
    );
    sandbox.shutdown().await;
}

/// A front door that redirects to itself: the call stops after eight hops, failed, naming the
/// loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_loop_stops_after_eight_hops() {
    let sandbox = redirecting(5, RedirectTo::Loop, 301).await;
    let ws = workspace(
        &sandbox,
        "  - cmdlet: Get-Mailbox\n    params: { Identity: user001 }\n",
    );
    let (run, results) = run(&ws).await;
    assert_ne!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let served = sandbox.stats().tenant(&sandbox.tenants()[0].domain);
    assert_eq!(
        served.redirected, 9,
        "the first request and eight hops: {served:?}"
    );
    assert!(
        results[0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("more than 8 times"),
        "{}",
        results[0]
    );
    sandbox.shutdown().await;
}

/// `connect` follows the redirect too, and says which host served the tenant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_names_the_regional_host_it_was_sent_to() {
    let sandbox = redirecting(5, RedirectTo::Regional, 308).await;
    let ws = workspace(&sandbox, "  - cmdlet: Get-OrganizationConfig\n");
    let path = ws.path().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        crate::support::tenantry_with_env(
            &path,
            &["connect", "p.yaml"],
            &[("SECRET", APPS[0].client_secret)],
        )
    })
    .await
    .unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let regional = sandbox.regional_url();
    let host = regional.trim_start_matches("http://");
    assert!(
        run.stdout
            .contains(&format!("served by {host} (redirected)")),
        "{}",
        run.stdout
    );
    let served = sandbox.stats().tenant(&sandbox.tenants()[0].domain);
    assert_eq!((served.redirected, served.regional), (1, 1), "{served:?}");
    sandbox.shutdown().await;
}
