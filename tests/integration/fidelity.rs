//! What the real service does beyond the sandbox's defaults, each behaviour switched on for a
//! sandbox tenant and driven through `tenantry run`; assertions read the sandbox's own record
//! of what it served, and the reports.

use serde_json::Value;
use tenantry::sandbox::{APPS, Behaviour, ErrorDetails, Sandbox, SandboxConfig};

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
    assert_eq!(run.code, 3, "{}\n{}", run.stdout, run.stderr);
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
