//! The cmdlet catalog's checks let every call the service takes through: aliases, names in any
//! case, values in each form PowerShell converts, `{Add, Remove}` changes, `null` clearing a
//! property, and `catalog: off`. A value read from an earlier step's output that does not fit
//! fails its task at run time, unsent. (What the checks refuse is in `bad_input.rs`.)

use serde_json::Value;

use crate::support::{Workspace, root, tenantry};

/// A playbook for tenant `contoso` of the built-in sandbox with these `steps:` lines.
fn playbook(steps: &str) -> String {
    format!(
        "version: 1\nname: Catalog\ntenants:\n  - {{ name: contoso, organization: contoso.onmicrosoft.com, cloud: sandbox }}\nsteps:\n{steps}"
    )
}

/// Asserts that `validate` and `plan` both take playbook `text`, with these other files
/// beside it.
fn assert_valid_with(text: &str, files: &[(&str, &str)]) {
    let mut all = vec![("p.yaml", text)];
    all.extend_from_slice(files);
    let ws = Workspace::new(&all);
    for command in ["validate", "plan"] {
        let run = ws.run(&[command, "p.yaml"]);
        assert_eq!(
            run.code, 0,
            "`tenantry {command}` should take:\n{text}\n{}",
            run.stderr
        );
    }
}

/// Asserts that `validate` and `plan` both take the playbook of these steps.
fn assert_valid(steps: &str) {
    assert_valid_with(&playbook(steps), &[]);
}

#[test]
fn aliases_are_taken_for_their_parameters() {
    assert_valid(
        r#"  - cmdlet: Set-Mailbox
    params: { Identity: user001, CustomAttribute1: Sales, cf: false }
  - cmdlet: Remove-Mailbox
    params: { Identity: user002, WI: true }
  - cmdlet: Get-MoveRequest
    params: { MoveStatus: Completed }
"#,
    );
}

#[test]
fn cmdlet_and_parameter_names_are_taken_in_any_case() {
    assert_valid(
        r#"  - cmdlet: set-mailbox
    params: { identity: user001, RETAINDELETEDITEMSFOR: "30.00:00:00", hiddenFromAddressListsEnabled: true }
  - cmdlet: GET-MAILBOX
    params: { recipienttypedetails: usermailbox, RESULTSIZE: unlimited }
  - cmdlet: Set-TransportRule
    params: { Identity: Block executables, mode: AUDITANDNOTIFY, FromScope: notinorganization }
"#,
    );
}

#[test]
fn booleans_are_taken_as_powershell_writes_them() {
    assert_valid(
        r#"  - cmdlet: Set-Mailbox
    params: { Identity: user001, HiddenFromAddressListsEnabled: "$true", LitigationHoldEnabled: "True" }
  - cmdlet: Set-Mailbox
    params: { Identity: user002, HiddenFromAddressListsEnabled: "$FALSE", LitigationHoldEnabled: false }
  - cmdlet: Set-Mailbox
    params: { Identity: user003, AuditEnabled: " true ", Confirm: "$false" }
  - cmdlet: New-Mailbox
    params: { Name: Sales, Shared: "True" }
"#,
    );
}

#[test]
fn time_spans_sizes_and_dates_are_taken_in_each_form() {
    assert_valid(
        r#"  - cmdlet: Set-Mailbox
    params: { Identity: user001, RetainDeletedItemsFor: 30, AuditLogAgeLimit: "90" }
  - cmdlet: Set-Mailbox
    params: { Identity: user002, RetainDeletedItemsFor: "14.12:30:00", ProhibitSendQuota: Unlimited }
  - cmdlet: Set-Mailbox
    params:
      Identity: user003
      ProhibitSendQuota: 50 GB (53,687,091,200 bytes)
      IssueWarningQuota: 49GB
      ProhibitSendReceiveQuota: 53687091200
      LitigationHoldDate: "2026-12-31T18:00:00Z"
  - cmdlet: Set-MailboxCalendarConfiguration
    params: { Identity: user004, WorkingHoursStartTime: "08:30:00", WorkingHoursEndTime: "17:30" }
  - cmdlet: Set-TransportRule
    params: { Identity: Large attachments, AttachmentSizeOver: 1.5 MB, ActivationDate: 12/31/2026 6:00 PM, ExpiryDate: "2027-01-31" }
"#,
    );
}

#[test]
fn addresses_guids_and_enumerations_are_taken() {
    assert_valid(
        r#"  - cmdlet: New-DistributionGroup
    params: { Name: Sales, PrimarySmtpAddress: sales@contoso.com, Type: security }
  - cmdlet: Get-EXOMailbox
    params: { ExternalDirectoryObjectId: "{3F2504E0-4F89-11D3-9A0C-0305E82C3301}" }
  - cmdlet: Get-Mailbox
    params: { RecipientTypeDetails: "UserMailbox,SharedMailbox, roommailbox" }
  - cmdlet: Get-Mailbox
    params: { RecipientTypeDetails: [UserMailbox, sharedmailbox] }
"#,
    );
}

#[test]
fn multi_valued_properties_take_a_list_or_add_and_remove() {
    assert_valid(
        r#"  - cmdlet: Set-Mailbox
    params:
      Identity: user001
      EmailAddresses: { Add: [smtp:sales@contoso.com, smtp:info@contoso.com], Remove: smtp:old@contoso.com }
      GrantSendOnBehalfTo: { add: user002 }
  - cmdlet: Set-Mailbox
    params: { Identity: user002, GrantSendOnBehalfTo: [user003, user004], AuditOwner: { Remove: [Create] } }
  - cmdlet: Set-TransportRule
    params: { Identity: Urgent mail, SubjectContainsWords: urgent }
"#,
    );
}

#[test]
fn null_clears_a_property() {
    assert_valid(
        r#"  - cmdlet: Set-Mailbox
    params: { Identity: user001, ForwardingSmtpAddress: null, CustomAttribute1: ~, LitigationHoldDate: null }
  - cmdlet: Set-Mailbox
    params:
      Identity: user002
      GrantSendOnBehalfTo:
      RetainDeletedItemsFor: null
"#,
    );
}

#[test]
fn parameters_that_fit_a_set_are_taken() {
    assert_valid(
        r#"  - cmdlet: New-Mailbox
    params: { Name: Sales, Shared: true }
  - cmdlet: New-Mailbox
    params: { Name: Boardroom, Room: true }
  - cmdlet: Get-Mailbox
    params: { Anr: user }
  - cmdlet: Add-DistributionGroupMember
    params: { Identity: all-staff, Member: user001 }
"#,
    );
}

#[test]
fn templated_values_that_fit_are_taken() {
    let steps = r#"  - cmdlet: Set-Mailbox
    for_each: "{{ csv('quotas.csv') }}"
    params:
      Identity: "{{ item.Identity }}"
      ProhibitSendQuota: "{{ item.Quota }}"
      RetainDeletedItemsFor: "{{ vars.retention }}"
      HiddenFromAddressListsEnabled: "{{ env('TENANTRY_CATALOG_TEST_HIDE', 'false') }}"
      LitigationHoldEnabled: "{{ item.Identity == 'user001' }}"
"#;
    let text = playbook(steps).replace("steps:\n", "vars:\n  retention: \"30.00:00:00\"\nsteps:\n");
    assert_valid_with(
        &text,
        &[(
            "quotas.csv",
            "Identity,Quota\nuser001,50 GB\nuser002,Unlimited\nuser003,1073741824\n",
        )],
    );
}

/// `catalog: off` sends a call unchecked: a cmdlet newer than the catalog, or a parameter it
/// does not know.
#[test]
fn catalog_off_lets_unknown_cmdlets_and_parameters_through() {
    assert_valid(
        r#"  - cmdlet: Get-MailboxInsightsFromTheFuture
    catalog: off
    params: { Anything: 1 }
  - cmdlet: Set-Mailbox
    catalog: off
    params: { Identity: user001, RetainDeletedItemFor: thirty days, HiddenFromAddressListsEnabled: maybe }
"#,
    );
    // Without it, the same steps are refused.
    let ws = Workspace::new(&[(
        "p.yaml",
        &playbook(
            r#"  - cmdlet: Get-MailboxInsightsFromTheFuture
    params: { Anything: 1 }
"#,
        ),
    )]);
    let run = ws.run(&["validate", "p.yaml"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("is not an Exchange Online cmdlet"),
        "{}",
        run.stderr
    );
}

/// Every example playbook passes the catalog's checks, its plan included.
#[test]
fn every_example_passes_the_catalog() {
    let mut seen = 0;
    let mut names: Vec<_> = std::fs::read_dir(root().join("examples"))
        .expect("examples/ exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    names.sort();
    for path in names {
        let text = std::fs::read_to_string(&path).expect("readable");
        if !text.lines().any(|l| l.starts_with("steps:")) {
            continue; // a tenant list or data file
        }
        let name = format!(
            "examples/{}",
            path.file_name().expect("a name").to_string_lossy()
        );
        for command in ["validate", "plan"] {
            let run = tenantry(&[command, &name]);
            assert_eq!(run.code, 0, "`tenantry {command} {name}`:\n{}", run.stderr);
        }
        seen += 1;
    }
    assert!(seen >= 5, "only {seen} example playbooks");
}

/// A value read from an earlier step's output is known only at run time: each task whose
/// value does not fit fails, unsent, with `InvalidParameterValue` and the place in the
/// playbook, and the run exits 1.
#[test]
fn a_value_from_an_earlier_steps_output_that_does_not_fit_fails_its_task_unsent() {
    let ws = Workspace::new(&[(
        "p.yaml",
        &playbook(
            r#"  - id: mailboxes
    cmdlet: Get-Mailbox
    params: { RecipientTypeDetails: UserMailbox, ResultSize: 3 }
  - name: Hide from the address lists
    cmdlet: Set-Mailbox
    for_each: "{{ steps.mailboxes.output }}"
    params:
      Identity: "{{ item.UserPrincipalName }}"
      HiddenFromAddressListsEnabled: "{{ item.DisplayName }}"
"#,
        ),
    )]);
    // Nothing to refuse before the run: the value is not known yet.
    let run = ws.run(&["validate", "p.yaml"]);
    assert_eq!(run.code, 0, "{}", run.stderr);

    let run = ws.run(&[
        "run",
        "p.yaml",
        "--report",
        "report",
        "--state-dir",
        "state",
    ]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);

    let results: Vec<Value> = std::fs::read_to_string(ws.path().join("report/results.jsonl"))
        .expect("results.jsonl")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON Lines"))
        .collect();
    let (reads, writes): (Vec<&Value>, Vec<&Value>) =
        results.iter().partition(|r| r["cmdlet"] == "Get-Mailbox");
    assert_eq!(reads.len(), 1);
    assert_eq!(reads[0]["status"], "ok");
    assert_eq!(reads[0]["objects"], 3);
    assert_eq!(writes.len(), 3, "one task per mailbox read: {results:?}");
    // The value's place in the playbook: line 14, where the template is written.
    let located = regex::Regex::new(r"^p\.yaml:14:[1-9][0-9]*: ").expect("a valid regex");
    for w in &writes {
        assert_eq!(w["status"], "failed", "{w}");
        assert_eq!(w["error_class"], "InvalidParameterValue", "{w}");
        assert_eq!(w["requests"], 0, "never sent: {w}");
        let error = w["error"].as_str().expect("an error");
        assert!(located.is_match(error), "{error}");
        assert!(
            error.contains("Set-Mailbox -HiddenFromAddressListsEnabled takes true or false, not `"),
            "{error}"
        );
    }

    // The journal records every call before it leaves: none of these was.
    let journals: Vec<_> = walk(&ws.path().join("state"))
        .into_iter()
        .filter(|p| p.file_name().is_some_and(|n| n == "journal.jsonl"))
        .collect();
    assert_eq!(journals.len(), 1, "{journals:?}");
    let journal = std::fs::read_to_string(&journals[0]).expect("the journal");
    let sent: Vec<String> = journal
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("JSON Lines"))
        // A sent line: `{"s": its number, "id": the task}`.
        .filter(|e| e.get("s").is_some())
        .filter_map(|e| e["id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(sent, ["contoso/mailboxes"], "only the read was sent");
    assert!(
        run.stdout
            .contains("FAILED   contoso/hide-from-the-address-lists/user001"),
        "{}",
        run.stdout
    );
}

/// Every file under `dir`, at any depth.
fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
