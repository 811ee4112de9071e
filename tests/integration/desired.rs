//! Desired state end to end: `ensure` and `state` steps, `tenantry check` and `tenantry run`,
//! against a sandbox that keeps its directory between commands. What was written is read
//! from the sandbox's own write log and directory, never from tenantry's reports alone.

use std::collections::BTreeSet;

use serde_json::Value;
use tenantry::sandbox::{Sandbox, SandboxConfig};

use crate::support::{Run, Workspace};

/// A sandbox of one tenant with this many mailboxes.
async fn sandbox(mailboxes: usize) -> Sandbox {
    Sandbox::start(SandboxConfig::with_tenants(1, mailboxes))
        .await
        .unwrap()
}

/// A sandbox of one tenant whose `Set-`/`New-` answer success and keep the old value of
/// `property` (the `unapplied` behaviour).
async fn sandbox_keeping(mailboxes: usize, property: &str) -> Sandbox {
    let config = SandboxConfig::with_tenants(1, mailboxes).each_tenant(|t| {
        t.behaviour = tenantry::sandbox::Behaviour {
            unapplied: vec![property.into()],
            ..Default::default()
        }
    });
    Sandbox::start(config).await.unwrap()
}

/// A playbook over the sandbox's first tenant, reached through custom endpoints.
fn workspace(sandbox: &Sandbox, steps: &str) -> Workspace {
    let domain = &sandbox.tenants()[0].domain;
    let tenant = crate::support::custom_tenant("contoso", domain, &sandbox.url(), "SECRET");
    Workspace::new(&[(
        "p.yaml",
        &format!("version: 1\nname: Desired\ntenants:\n{tenant}steps:\n{steps}"),
    )])
}

async fn tenantry(ws: &Workspace, args: &[&str]) -> Run {
    crate::support::tenantry_for_sandbox(ws, args).await
}

/// `tenantry check --format jsonl`: its task records and its summary.
async fn check(ws: &Workspace) -> (Run, Vec<Value>, Value) {
    let run = tenantry(ws, &["check", "p.yaml", "--format", "jsonl"]).await;
    let records: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    let (summary, tasks): (Vec<Value>, Vec<Value>) =
        records.into_iter().partition(|r| r["type"] == "summary");
    assert_eq!(summary.len(), 1, "one summary, last: {}", run.stdout);
    (run, tasks, summary[0].clone())
}

/// The writes the sandbox ran since position `after` in its log, as (cmdlet, parameters).
fn writes_since(sandbox: &Sandbox, after: usize) -> Vec<(String, Value)> {
    sandbox.stats().writes[after..]
        .iter()
        .map(|w| (w.cmdlet.clone(), w.parameters.clone()))
        .collect()
}

const RETENTION: &str = "  - id: mailboxes
    cmdlet: Get-Mailbox
    params: { RecipientTypeDetails: UserMailbox, ResultSize: Unlimited }
  - id: retention
    cmdlet: Set-Mailbox
    for_each: \"{{ steps.mailboxes.output }}\"
    params: { Identity: \"{{ item.UserPrincipalName }}\" }
    ensure: { RetainDeletedItemsFor: \"30.00:00:00\" }
";

/// The local part of an address, as task ids name a mailbox (`user001`).
fn local(address: &str) -> String {
    address.split('@').next().unwrap_or(address).to_lowercase()
}

/// The user mailboxes whose retention is not 30 days, by the sandbox's own directory.
fn retention_differs(sandbox: &Sandbox) -> BTreeSet<String> {
    let domain = &sandbox.tenants()[0].domain;
    let dir = sandbox.directory(domain).unwrap();
    dir["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["RecipientTypeDetails"] == "UserMailbox")
        .filter(|r| r["RetainDeletedItemsFor"] != "30.00:00:00")
        .map(|r| local(r["UserPrincipalName"].as_str().unwrap()))
        .collect()
}

/// The quick start's ensure form: `check` lists exactly the mailboxes whose retention
/// differs, `run` writes exactly those, with only that property, and a second check finds
/// nothing to change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_checks_then_writes_only_what_differs() {
    let sandbox = sandbox(30).await;
    let ws = workspace(&sandbox, RETENTION);
    let differs = retention_differs(&sandbox);
    assert!(
        !differs.is_empty(),
        "the seed gives some mailboxes another retention"
    );

    let (run, tasks, summary) = check(&ws).await;
    assert_eq!(run.code, 5, "changes pending, all new: {}", run.stderr);
    let drifted: BTreeSet<String> = tasks
        .iter()
        .filter(|t| t["status"] == "drift")
        .map(|t| {
            t["id"]
                .as_str()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap()
                .to_lowercase()
        })
        .collect();
    assert_eq!(
        drifted, differs,
        "check lists exactly the differing mailboxes"
    );
    for t in tasks.iter().filter(|t| t["status"] == "drift") {
        assert_eq!(t["action"], "set");
        assert_eq!(t["new"], true);
        assert_eq!(t["changes"][0]["property"], "RetainDeletedItemsFor");
        assert_eq!(t["changes"][0]["desired"], "30.00:00:00");
    }
    assert_eq!(summary["drift"], differs.len());
    let domain = sandbox.tenants()[0].domain.clone();
    assert_eq!(
        sandbox.stats().tenant(&domain).requests["Get-Mailbox"]["200"],
        1,
        "the mailboxes read by step 1 carry their values: none is read again"
    );
    assert!(
        sandbox.stats().writes.is_empty(),
        "a check writes nothing: {:?}",
        sandbox.stats().writes
    );

    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let writes = writes_since(&sandbox, 0);
    let written: BTreeSet<String> = writes
        .iter()
        .map(|(cmdlet, params)| {
            assert_eq!(cmdlet, "Set-Mailbox");
            let keys: BTreeSet<&str> = params
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str)
                .collect();
            assert_eq!(
                keys,
                BTreeSet::from(["Identity", "RetainDeletedItemsFor"]),
                "only the differing property is sent: {params}"
            );
            local(params["Identity"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        written, differs,
        "run writes exactly the differing mailboxes"
    );
    assert_eq!(writes.len(), differs.len(), "each once");
    assert_eq!(
        sandbox.stats().tenant(&domain).requests["Get-Mailbox"]["200"],
        2 + differs.len() as u64,
        "the run reads the list once more, then each written mailbox once, to verify"
    );
    assert!(retention_differs(&sandbox).is_empty());

    let (run, tasks, summary) = check(&ws).await;
    assert_eq!(run.code, 0, "nothing left to change: {}", run.stdout);
    assert_eq!(summary["drift"], 0);
    assert!(tasks.iter().all(|t| t["status"] == "ok"), "{tasks:?}");
    sandbox.shutdown().await;
}

/// Drift is remembered between checks: the same drift again is not new (exit 6); a drift
/// that changed is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_check_marks_only_new_drift() {
    let sandbox = sandbox(10).await;
    let ws = workspace(&sandbox, RETENTION);
    let (first, ..) = check(&ws).await;
    assert_eq!(first.code, 5, "{}", first.stderr);
    let (again, tasks, summary) = check(&ws).await;
    assert_eq!(again.code, 6, "the same drift, none new: {}", again.stderr);
    assert_eq!(summary["new"], 0);
    assert!(tasks.iter().all(|t| t.get("new").is_none()), "{tasks:?}");

    std::fs::write(
        ws.path().join("p.yaml"),
        std::fs::read_to_string(ws.path().join("p.yaml"))
            .unwrap()
            .replace("30.00:00:00", "21.00:00:00"),
    )
    .unwrap();
    let (changed, _, summary) = check(&ws).await;
    assert_eq!(changed.code, 5, "another desired value is new drift");
    assert!(summary["new"].as_u64().unwrap() > 0, "{summary}");
    sandbox.shutdown().await;
}

const RULE: &str = "  - id: rule
    cmdlet: Set-TransportRule
    state: STATE
    params: { Identity: Block external forwarding }
    ensure:
      SentToScope: NotInOrganization
      Mode: MODE
      RejectMessageReasonText: External forwarding is not allowed
";

fn rule_playbook(state: &str, mode: &str) -> String {
    RULE.replace("STATE", state).replace("MODE", mode)
}

/// A transport rule with `state: present` is created, then changed, then left alone; with
/// `state: absent` it is removed, and then left alone. Each by the sandbox's write log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transport_rule_is_created_updated_left_alone_and_removed() {
    let sandbox = sandbox(5).await;
    let ws = workspace(&sandbox, &rule_playbook("present", "Enforce"));
    let write = |ws: &Workspace, text: String| {
        std::fs::write(ws.path().join("p.yaml"), {
            let old = std::fs::read_to_string(ws.path().join("p.yaml")).unwrap();
            let head = old.split("steps:\n").next().unwrap().to_string();
            format!("{head}steps:\n{text}")
        })
        .unwrap()
    };
    let mut seen = 0;
    let mut step = |expected: &[&str], sandbox: &Sandbox| {
        let writes = writes_since(sandbox, seen);
        seen += writes.len();
        let cmdlets: Vec<&str> = writes.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(cmdlets, expected, "{writes:?}");
        writes
    };

    let (run, tasks, _) = check(&ws).await;
    assert_eq!(run.code, 5);
    assert_eq!(tasks[0]["action"], "create", "{tasks:?}");
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let created = step(&["New-TransportRule"], &sandbox);
    assert_eq!(created[0].1["Name"], "Block external forwarding");
    assert_eq!(created[0].1["Mode"], "Enforce");

    write(&ws, rule_playbook("present", "Audit"));
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let updated = step(&["Set-TransportRule"], &sandbox);
    let keys: BTreeSet<&str> = updated[0]
        .1
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from(["Identity", "Mode"]),
        "only Mode differs"
    );

    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    step(&[], &sandbox);
    let (run, tasks, _) = check(&ws).await;
    assert_eq!(run.code, 0, "left alone: {tasks:?}");

    write(
        &ws,
        "  - cmdlet: Remove-TransportRule\n    state: absent\n    params: { Identity: Block external forwarding }\n".into(),
    );
    let (run, tasks, _) = check(&ws).await;
    assert_eq!(run.code, 5);
    assert_eq!(tasks[0]["action"], "remove", "{tasks:?}");
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    step(&["Remove-TransportRule"], &sandbox);
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    step(&[], &sandbox);
    let domain = &sandbox.tenants()[0].domain;
    let rules = &sandbox.directory(domain).unwrap()["transportRules"];
    assert!(
        !rules.to_string().contains("Block external forwarding"),
        "{rules}"
    );
    sandbox.shutdown().await;
}

/// A write without `ensure` is shown in a check as the call it would send; with `whatif`,
/// the service is asked and its confirmation message shown. Neither changes anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_shows_plain_writes_and_asks_the_service_under_whatif() {
    let sandbox = sandbox(5).await;
    let ws = workspace(
        &sandbox,
        "  - name: Title
    cmdlet: Set-User
    params: { Identity: user001, Title: Boss }
  - name: Asked
    cmdlet: Set-User
    whatif: true
    params: { Identity: user002, Title: Boss }
",
    );
    let before = sandbox.directory(&sandbox.tenants()[0].domain);
    let (run, tasks, _) = check(&ws).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert_eq!(tasks.len(), 2);
    assert_eq!(tasks[0]["status"], "drift");
    assert_eq!(tasks[0]["would"], "Set-User -Identity user001 -Title Boss");
    let asked = tasks[1]["would"].as_str().unwrap();
    assert!(
        asked.starts_with("Set-User -Identity user002 -Title Boss: ") && asked.len() > 40,
        "the service's own words follow the call: {asked}"
    );
    assert_eq!(
        before,
        sandbox.directory(&sandbox.tenants()[0].domain),
        "nothing changed"
    );
    let writes = sandbox.stats().writes;
    assert_eq!(writes.len(), 1, "only the whatif call reached the service");
    assert!(writes[0].what_if && !writes[0].changed, "{writes:?}");
    sandbox.shutdown().await;
}

/// The Markdown of a check is a comment a reviewer reads: counts per tenant, then each
/// property that differs, current and desired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_check_in_markdown_tables_each_difference() {
    let sandbox = sandbox(10).await;
    let ws = workspace(&sandbox, RETENTION);
    let run = tenantry(&ws, &["check", "p.yaml", "--format", "markdown"]).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    let md = &run.stdout;
    assert!(md.starts_with("### tenantry check: Desired\n"), "{md}");
    assert!(
        md.contains("| tenant | ok | drift | failed | skipped |"),
        "{md}"
    );
    assert!(
        md.contains("| RetainDeletedItemsFor | `14.00:00:00` | `30.00:00:00` | new |"),
        "{md}"
    );
    assert!(
        !md.contains("\ndrift "),
        "people's lines go to standard error, not into the comment"
    );
    sandbox.shutdown().await;
}

/// A write the service accepts and does not apply fails its task when verified (the
/// default), naming the value kept; with `verify: false` it is reported as written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_value_that_does_not_take_fails_verify() {
    let sandbox = sandbox_keeping(10, "RetainDeletedItemsFor").await;
    let ws = workspace(&sandbox, RETENTION);
    let differs = retention_differs(&sandbox);
    let run = tenantry(
        &ws,
        &["run", "p.yaml", "--progress", "plain", "--report", "report"],
    )
    .await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let results: Vec<Value> = std::fs::read_to_string(ws.path().join("report/results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let failed: Vec<&Value> = results.iter().filter(|r| r["status"] == "failed").collect();
    assert_eq!(failed.len(), differs.len(), "{results:?}");
    for f in &failed {
        assert_eq!(f["error_class"], "NotApplied", "{f}");
        let error = f["error"].as_str().unwrap();
        assert!(
            error.contains(
                "kept other values: RetainDeletedItemsFor is 14.00:00:00 (wanted 30.00:00:00)"
            ),
            "{error}"
        );
    }
    assert_eq!(
        sandbox.stats().writes.len(),
        differs.len(),
        "each written once"
    );

    std::fs::write(
        ws.path().join("p.yaml"),
        std::fs::read_to_string(ws.path().join("p.yaml"))
            .unwrap()
            .replace("    ensure: {", "    verify: false\n    ensure: {"),
    )
    .unwrap();
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "not verified, not failed: {}", run.stdout);
    sandbox.shutdown().await;
}

/// Items from data (a CSV row, an inline list) hold desired values, not current ones: each
/// object is read with the noun's `Get-`, even when the item has a column named like the
/// property.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_from_data_are_read_not_trusted() {
    let sandbox = sandbox(5).await;
    let ws = workspace(
        &sandbox,
        "  - cmdlet: Set-User
    for_each:
      - { Alias: user001, Title: Chief Tester }
    params: { Identity: \"{{ item.Alias }}\" }
    ensure: { Title: \"{{ item.Title }}\" }
",
    );
    let (run, tasks, _) = check(&ws).await;
    assert_eq!(run.code, 5, "{}", run.stderr);
    assert_eq!(tasks[0]["status"], "drift", "{tasks:?}");
    assert_eq!(tasks[0]["changes"][0]["desired"], "Chief Tester");
    assert_ne!(tasks[0]["changes"][0]["current"], "Chief Tester");
    let domain = &sandbox.tenants()[0].domain;
    let served = sandbox.stats().tenant(domain).clone();
    assert_eq!(
        served.requests["Get-User"]["200"], 1,
        "read once: {served:?}"
    );
    sandbox.shutdown().await;
}

/// Nouns beyond transport rules: a mailbox permission is added with `Add-` when missing (the
/// noun has no `New-`) and removed with `Remove-`; a distribution group is created with
/// `New-` and its properties set. A second run sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permissions_and_groups_are_added_created_and_removed() {
    let sandbox = sandbox(5).await;
    // A user the seed gave no access to `info`.
    let domain = &sandbox.tenants()[0].domain;
    let granted = sandbox.directory(domain).unwrap()["mailboxPermissions"].to_string();
    let user = (1..=5)
        .map(|n| format!("user{n:03}"))
        .find(|u| !granted.contains(&format!("\"{u}\"")))
        .expect("a user without access");
    let ws = workspace(
        &sandbox,
        &"  - name: Helpdesk reads info
    cmdlet: Add-MailboxPermission
    state: present
    params: { Identity: info, User: USER }
    ensure: { AccessRights: FullAccess }
  - name: Group
    cmdlet: Set-DistributionGroup
    state: present
    params: { Identity: security-team }
    ensure: { ModerationEnabled: true, MemberJoinRestriction: Closed }
"
        .replace("USER", &user),
    );
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let writes = writes_since(&sandbox, 0);
    let cmdlets: Vec<&str> = writes.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        cmdlets,
        ["Add-MailboxPermission", "New-DistributionGroup"],
        "{writes:?}"
    );
    assert_eq!(writes[1].1["Name"], "security-team");
    assert_eq!(writes[1].1["MemberJoinRestriction"], "Closed");

    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(writes_since(&sandbox, 2), [], "already as ensured");

    std::fs::write(
        ws.path().join("p.yaml"),
        std::fs::read_to_string(ws.path().join("p.yaml"))
            .unwrap()
            .split("steps:\n")
            .next()
            .unwrap()
            .to_string()
            + &format!("steps:\n  - cmdlet: Remove-MailboxPermission\n    state: absent\n    params: {{ Identity: info, User: {user}, AccessRights: FullAccess }}\n"),
    )
    .unwrap();
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let removed = writes_since(&sandbox, 2);
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0].0, "Remove-MailboxPermission");
    assert_eq!(removed[0].1["Confirm"], false, "no one is there to confirm");
    sandbox.shutdown().await;
}

/// A property the noun's `Get-` does not return cannot be compared: the task says so rather
/// than reporting drift on every check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_property_the_read_does_not_return_is_named() {
    let sandbox = sandbox(5).await;
    let ws = workspace(
        &sandbox,
        "  - cmdlet: Set-DistributionGroup
    params: { Identity: all-staff }
    ensure: { Notes: Everyone }
",
    );
    let (run, tasks, _) = check(&ws).await;
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(tasks[0]["status"], "failed");
    let error = tasks[0]["error"].as_str().unwrap();
    assert!(
        error.starts_with("Get-DistributionGroup returns no `Notes` to compare"),
        "{error}"
    );
    sandbox.shutdown().await;
}

/// A group member is named within what `Get-DistributionGroupMember` returns: added when it
/// is not among them, left alone when it is, removed with `state: absent`. An organization's
/// settings, one per tenant, need no name at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_and_organization_settings() {
    let sandbox = sandbox(5).await;
    let ws = workspace(
        &sandbox,
        "  - cmdlet: Add-DistributionGroupMember
    state: present
    params: { Identity: it-oncall, Member: user004 }
  - cmdlet: Set-OrganizationConfig
    ensure: { AuditDisabled: true }
",
    );
    let members = |sandbox: &Sandbox| {
        let domain = &sandbox.tenants()[0].domain;
        let dir = sandbox.directory(domain).unwrap();
        dir["recipients"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["Alias"] == "it-oncall")
            .map(|g| g["Members"].to_string())
            .unwrap()
    };
    let had = members(&sandbox).contains("\"user004\"");
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let writes = writes_since(&sandbox, 0);
    let cmdlets: Vec<&str> = writes.iter().map(|(c, _)| c.as_str()).collect();
    let expected = if had {
        vec!["Set-OrganizationConfig"]
    } else {
        vec!["Add-DistributionGroupMember", "Set-OrganizationConfig"]
    };
    assert_eq!(cmdlets, expected, "{writes:?}");
    assert!(members(&sandbox).contains("\"user004\""));
    assert_eq!(
        *writes.last().unwrap().1.as_object().unwrap(),
        *serde_json::json!({"AuditDisabled": true})
            .as_object()
            .unwrap(),
        "no identity for a setting of the whole organization"
    );

    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(
        writes_since(&sandbox, writes.len()),
        [],
        "nothing left to do"
    );

    std::fs::write(
        ws.path().join("p.yaml"),
        std::fs::read_to_string(ws.path().join("p.yaml"))
            .unwrap()
            .replace(
                "Add-DistributionGroupMember\n    state: present",
                "Remove-DistributionGroupMember\n    state: absent",
            ),
    )
    .unwrap();
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    let removed = writes_since(&sandbox, writes.len());
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0].0, "Remove-DistributionGroupMember");
    assert_eq!(removed[0].1["Member"], "user004");
    assert!(!members(&sandbox).contains("\"user004\""));
    sandbox.shutdown().await;
}

/// The service shows recipients by name (`user002`) whatever identity was written (an
/// address): a property naming recipients is compared by the recipients, resolved once each
/// with `Get-Recipient`, so a run that set it finds nothing to change the next time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recipients_are_compared_by_who_they_are_not_how_they_are_written() {
    let sandbox = sandbox(5).await;
    let domain = sandbox.tenants()[0].domain.clone();
    let ws = workspace(
        &sandbox,
        &format!(
            "  - cmdlet: Set-Mailbox
    params: {{ Identity: user001 }}
    ensure:
      GrantSendOnBehalfTo: [user002@{domain}, USER003]
      ForwardingAddress: user004@{domain}
"
        ),
    );
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(
        run.code, 0,
        "verified by recipient: {}\n{}",
        run.stdout, run.stderr
    );
    assert_eq!(sandbox.stats().writes.len(), 1);
    let mailbox = sandbox.directory(&domain).unwrap()["recipients"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Alias"] == "user001")
        .cloned()
        .unwrap();
    assert!(
        !mailbox["GrantSendOnBehalfTo"].to_string().contains('@'),
        "the service keeps names, not the addresses written: {}",
        mailbox["GrantSendOnBehalfTo"]
    );

    let (run, tasks, _) = check(&ws).await;
    assert_eq!(run.code, 0, "no drift: {tasks:?}");
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert_eq!(sandbox.stats().writes.len(), 1, "nothing written again");

    // `{Add: …, Remove: …}` by address holds once the named recipients are, and are not,
    // among those shown by name.
    let changes = |add: &str, remove: &str| {
        format!(
            "  - cmdlet: Set-Mailbox
    params: {{ Identity: user001 }}
    ensure:
      GrantSendOnBehalfTo: {{ Add: [{add}@{domain}], Remove: [{remove}@{domain}] }}
"
        )
    };
    let head = std::fs::read_to_string(ws.path().join("p.yaml"))
        .unwrap()
        .split("steps:\n")
        .next()
        .unwrap()
        .to_string();
    let playbook = ws.path().join("p.yaml");
    std::fs::write(
        &playbook,
        format!("{head}steps:\n{}", changes("user002", "user005")),
    )
    .unwrap();
    let (run, tasks, _) = check(&ws).await;
    assert_eq!(
        run.code, 0,
        "user002 is there and user005 is not: {tasks:?}"
    );
    std::fs::write(
        &playbook,
        format!("{head}steps:\n{}", changes("user005", "user003")),
    )
    .unwrap();
    let (run, tasks, _) = check(&ws).await;
    assert_eq!(run.code, 5, "{tasks:?}");
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 0, "verified: {}\n{}", run.stdout, run.stderr);
    let (run, tasks, _) = check(&ws).await;
    assert_eq!(run.code, 0, "applied once, then holds: {tasks:?}");
    sandbox.shutdown().await;
}

/// An object just created that cannot be found is looked for again, a few seconds at most,
/// before the task fails saying it is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_created_object_that_never_appears_fails_after_a_few_looks() {
    // New-TransportRule answers success and keeps nothing without its name.
    let sandbox = sandbox_keeping(5, "Name").await;
    let ws = workspace(&sandbox, &rule_playbook("present", "Enforce"));
    let started = std::time::Instant::now();
    let run = tenantry(&ws, &["run", "p.yaml", "--progress", "plain"]).await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("the object is missing after the write"),
        "{}",
        run.stdout
    );
    let domain = &sandbox.tenants()[0].domain;
    let reads = &sandbox.stats().tenant(domain).requests["Get-TransportRule"];
    assert_eq!(
        reads.values().sum::<u64>(),
        5,
        "one read before, four after: {reads:?}"
    );
    assert!(started.elapsed() >= std::time::Duration::from_secs(7));
    sandbox.shutdown().await;
}

/// Two items naming one object in one step: the same change is made once; two different
/// changes are a conflict in the data, reported rather than left to race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_items_naming_one_object_are_caught() {
    let sandbox = sandbox(5).await;
    let ws = workspace(
        &sandbox,
        "  - cmdlet: Set-User
    for_each:
      - { Alias: user001, Title: Manager }
      - { Alias: USER001, Title: Manager }
      - { Alias: user002, Title: Manager }
      - { Alias: user002, Title: Director }
    key: \"{{ loop.index }}\"
    params: { Identity: \"{{ item.Alias }}\" }
    ensure: { Title: \"{{ item.Title }}\" }
",
    );
    let run = tenantry(
        &ws,
        &["run", "p.yaml", "--progress", "plain", "--report", "report"],
    )
    .await;
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    let results = crate::support::json_lines(&ws.path().join("report/results.jsonl"));
    let status: Vec<&str> = results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    let mut sorted = status.clone();
    sorted.sort();
    assert_eq!(sorted, ["failed", "ok", "ok", "skipped"], "{results:?}");
    let failed = results.iter().find(|r| r["status"] == "failed").unwrap();
    assert_eq!(failed["error_class"], "ConflictingItems", "{failed}");
    let writes = sandbox.stats().writes;
    assert_eq!(writes.len(), 2, "one write per object: {writes:?}");
    sandbox.shutdown().await;
}
