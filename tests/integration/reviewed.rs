//! Reviewed plans: `check --out` saves the changes found, `show` renders them, and `run
//! --plan` applies exactly those, refusing what changed since the review. What was written is
//! read from the sandbox's write log.

use serde_json::Value;
use tenantry::sandbox::{Sandbox, SandboxConfig};

use crate::support::{Run, Workspace};

/// A retention playbook over the sandbox's first tenant, and a second playbook that changes
/// one mailbox behind the first one's back.
fn workspace(sandbox: &Sandbox) -> Workspace {
    let domain = &sandbox.tenants()[0].domain;
    let tenant = crate::support::custom_tenant("contoso", domain, &sandbox.url(), "SECRET");
    let retention = "  - id: mailboxes
    cmdlet: Get-Mailbox
    params: { RecipientTypeDetails: UserMailbox, ResultSize: Unlimited }
  - id: retention
    cmdlet: Set-Mailbox
    for_each: \"{{ steps.mailboxes.output }}\"
    params: { Identity: \"{{ item.UserPrincipalName }}\" }
    ensure: { RetainDeletedItemsFor: \"30.00:00:00\" }
  - id: title
    cmdlet: Set-User
    params: { Identity: user001, Title: Reviewed }
";
    Workspace::new(&[
        (
            "p.yaml",
            &format!("version: 1\nname: Reviewed\ntenants:\n{tenant}steps:\n{retention}"),
        ),
        (
            "behind.yaml",
            &format!(
                "version: 1\nname: Behind\ntenants:\n{tenant}steps:\n  - cmdlet: Set-Mailbox\n    params: {{ Identity: TARGET, RetainDeletedItemsFor: \"21.00:00:00\" }}\n"
            ),
        ),
    ])
}

async fn tenantry(ws: &Workspace, args: &[&str]) -> Run {
    crate::support::tenantry_for_sandbox(ws, args).await
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    crate::support::json_lines(path)
}

/// A plan made, one planned object changed behind tenantry's back, then the plan applied:
/// every other planned call is sent, the changed object is reported stale and not written, and
/// the run exits 7.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_is_applied_as_reviewed_and_a_changed_object_is_stale() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 20))
        .await
        .unwrap();
    let ws = workspace(&sandbox);
    let check = tenantry(&ws, &["check", "p.yaml", "--out", "change.plan"]).await;
    assert_eq!(check.code, 5, "{}\n{}", check.stdout, check.stderr);
    assert!(
        check.stdout.contains("plan written to change.plan"),
        "{}",
        check.stdout
    );
    let plan = lines(&ws.path().join("change.plan"));
    assert_eq!(plan[0]["type"], "header");
    assert_eq!(plan.last().unwrap()["type"], "summary");
    let calls: Vec<&Value> = plan.iter().filter(|l| l["type"] == "call").collect();
    assert!(calls.len() >= 3, "{plan:?}");
    assert_eq!(plan.last().unwrap()["calls"], calls.len());
    let title = calls.iter().find(|c| c["step"] == "title").unwrap();
    assert_eq!(title["would"], "Set-User -Identity user001 -Title Reviewed");

    let shown = tenantry(&ws, &["show", "change.plan"]).await;
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown
            .stdout
            .contains("RetainDeletedItemsFor: 14.00:00:00 -> 30.00:00:00")
    );
    let md = tenantry(&ws, &["show", "change.plan", "--format", "markdown"]).await;
    assert!(
        md.stdout.starts_with("### tenantry check: Reviewed"),
        "{}",
        md.stdout
    );

    // Someone sets one planned mailbox to another value after the review.
    let target = calls.iter().find(|c| c["step"] == "retention").unwrap()["id"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let behind = ws.path().join("behind.yaml");
    std::fs::write(
        &behind,
        std::fs::read_to_string(&behind)
            .unwrap()
            .replace("TARGET", &target),
    )
    .unwrap();
    let run = tenantry(&ws, &["run", "behind.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}", run.stdout);
    let before = sandbox.stats().writes.len();

    let run = tenantry(
        &ws,
        &[
            "run",
            "p.yaml",
            "--plan",
            "change.plan",
            "--progress",
            "plain",
            "--report",
            "report",
        ],
    )
    .await;
    assert_eq!(run.code, 7, "stale writes: {}\n{}", run.stdout, run.stderr);
    let writes = &sandbox.stats().writes[before..];
    assert_eq!(
        writes.len(),
        calls.len() - 1,
        "every planned call but the stale one"
    );
    assert!(
        writes.iter().all(|w| w.parameters["Identity"]
            .as_str()
            .is_none_or(|i| !i.starts_with(&format!("{target}@")))),
        "the changed mailbox is not written: {writes:?}"
    );
    let results = lines(&ws.path().join("report/results.jsonl"));
    let stale: Vec<&Value> = results.iter().filter(|r| r["status"] == "stale").collect();
    assert_eq!(stale.len(), 1, "{results:?}");
    assert!(
        stale[0]["error"]
            .as_str()
            .unwrap()
            .contains("RetainDeletedItemsFor is now 21.00:00:00 (was 14.00:00:00 when reviewed"),
        "{}",
        stale[0]
    );
    sandbox.shutdown().await;
}

/// A plan whose playbook changed, an expired plan, and an incomplete one are refused with
/// exit 2, and nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_that_no_longer_fits_is_refused() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 5))
        .await
        .unwrap();
    let ws = workspace(&sandbox);
    let check = tenantry(&ws, &["check", "p.yaml", "--out", "change.plan"]).await;
    assert_eq!(check.code, 5, "{}", check.stderr);
    let plan = std::fs::read_to_string(ws.path().join("change.plan")).unwrap();

    // Older than --max-plan-age.
    let header: Value = serde_json::from_str(plan.lines().next().unwrap()).unwrap();
    let created = header["created_at"].as_u64().unwrap();
    std::fs::write(
        ws.path().join("old.plan"),
        plan.replacen(
            &format!("\"created_at\":{created}"),
            &format!("\"created_at\":{}", created - 25 * 3600),
            1,
        ),
    )
    .unwrap();
    let run = tenantry(&ws, &["run", "p.yaml", "--plan", "old.plan"]).await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("older than --max-plan-age 1d"),
        "{}",
        run.stderr
    );
    let run = tenantry(
        &ws,
        &[
            "run",
            "p.yaml",
            "--plan",
            "old.plan",
            "--max-plan-age",
            "2d",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "young enough for 2d: {}", run.stderr);
    let applied = sandbox.stats().writes.len();
    assert!(applied > 0);

    // Incomplete: cut before its summary.
    let cut: Vec<&str> = plan.lines().collect();
    std::fs::write(ws.path().join("cut.plan"), cut[..cut.len() - 1].join("\n")).unwrap();
    let run = tenantry(&ws, &["run", "p.yaml", "--plan", "cut.plan"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("it has no summary: it is incomplete"),
        "{}",
        run.stderr
    );

    // The playbook changed since the review.
    let playbook = ws.path().join("p.yaml");
    std::fs::write(
        &playbook,
        std::fs::read_to_string(&playbook)
            .unwrap()
            .replace("Title: Reviewed", "Title: Unreviewed"),
    )
    .unwrap();
    let run = tenantry(&ws, &["run", "p.yaml", "--plan", "change.plan"]).await;
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("was made from another playbook, data or tenants"),
        "{}",
        run.stderr
    );
    assert_eq!(sandbox.stats().writes.len(), applied, "nothing sent");
    sandbox.shutdown().await;
}

/// A check that could not read everything writes no plan: a plan missing changes must not be
/// applied as if it were whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_with_failures_writes_no_plan() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 5))
        .await
        .unwrap();
    let ws = workspace(&sandbox);
    let playbook = ws.path().join("p.yaml");
    std::fs::write(
        &playbook,
        std::fs::read_to_string(&playbook).unwrap().replace(
            "    params: { Identity: user001, Title: Reviewed }",
            "    params: { Identity: user001, Title: Reviewed }\n  - cmdlet: Set-Mailbox\n    params: { Identity: nobody-here }\n    ensure: { Office: HQ }",
        ),
    )
    .unwrap();
    let check = tenantry(&ws, &["check", "p.yaml", "--out", "change.plan"]).await;
    assert_eq!(check.code, 1, "{}\n{}", check.stdout, check.stderr);
    assert!(
        check
            .stdout
            .contains("the plan was not written to change.plan: 1 task failed"),
        "{}",
        check.stdout
    );
    assert!(!ws.path().join("change.plan").exists());
    let left: Vec<_> = std::fs::read_dir(ws.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    sandbox.shutdown().await;
}

/// A playbook whose calls are all known before the run saves its plan with `plan --out`, and
/// `run --plan` sends exactly its writes; one that reads earlier output is told to use
/// `check --out`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_plan_is_saved_by_plan_and_applied() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 5))
        .await
        .unwrap();
    let domain = &sandbox.tenants()[0].domain;
    let tenant = crate::support::custom_tenant("contoso", domain, &sandbox.url(), "SECRET");
    let ws = Workspace::new(&[(
        "titles.yaml",
        &format!(
            "version: 1\nname: Titles\ntenants:\n{tenant}steps:\n  - cmdlet: Get-Mailbox\n    params: {{ Identity: user001 }}\n  - cmdlet: Set-User\n    for_each: [user001, user002]\n    params: {{ Identity: \"{{{{ item }}}}\", Title: Planned }}\n"
        ),
    )]);
    let plan = tenantry(&ws, &["plan", "titles.yaml", "--out", "titles.plan"]).await;
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stderr.contains("plan written to titles.plan: 2 calls"),
        "{}",
        plan.stderr
    );
    let calls: Vec<Value> = lines(&ws.path().join("titles.plan"))
        .into_iter()
        .filter(|l| l["type"] == "call")
        .collect();
    assert_eq!(calls.len(), 2, "the writes only: {calls:?}");
    assert_eq!(
        calls[0]["would"],
        "Set-User -Identity user001 -Title Planned"
    );

    let run = tenantry(&ws, &["run", "titles.yaml", "--plan", "titles.plan"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let writes = sandbox.stats().writes;
    assert_eq!(writes.len(), 2, "{writes:?}");

    let ws = workspace(&sandbox);
    let plan = tenantry(&ws, &["plan", "p.yaml", "--out", "change.plan"]).await;
    assert_eq!(plan.code, 2, "{}", plan.stderr);
    assert!(
        plan.stderr
            .contains("save the plan with `tenantry check p.yaml --out change.plan`"),
        "{}",
        plan.stderr
    );
    assert!(!ws.path().join("change.plan").exists());
    sandbox.shutdown().await;
}
