//! Values reach the service as the ExchangeOnlineManagement module sends them, by the type the
//! cmdlet reference documents for each parameter: driven through `tenantry run`, asserted on the
//! sandbox's own log of each write's parameters as sent.

use serde_json::{Value, json};
use tenantry::sandbox::{APPS, Sandbox, SandboxConfig};

use crate::support::Workspace;

/// The parameters of the logged write to `cmdlet` whose `key` parameter is `value`.
fn sent(sandbox: &Sandbox, cmdlet: &str, key: &str, value: &str) -> Value {
    let writes = sandbox.stats().writes;
    writes
        .iter()
        .find(|w| w.cmdlet == cmdlet && w.parameters[key] == value)
        .unwrap_or_else(|| panic!("no {cmdlet} with {key} {value} in {writes:#?}"))
        .parameters
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_are_sent_as_their_documented_type_not_their_name() {
    let sandbox = Sandbox::start(SandboxConfig::with_tenants(1, 5))
        .await
        .unwrap();
    let domain = sandbox.tenants()[0].domain.clone();
    let tenant = crate::support::custom_tenant("contoso", &domain, &sandbox.url(), "SECRET");
    let ws = Workspace::new(&[(
        "p.yaml",
        &format!(
            r#"version: 1
name: Encoding
tenants:
{tenant}steps:
  - id: hold
    cmdlet: Set-Mailbox
    params:
      Identity: user001
      LitigationHoldEnabled: "{{{{ 'True' }}}}"
      RetainDeletedItemsFor: "14"
      LitigationHoldDate: "2026-12-01T09:30:00+01:00"
      StartDateForRetentionHold: "2026-12-01T09:30:00+01:00"
      EndDateForRetentionHold: "2027-06-30"
      CustomAttribute1: "2026-12-01T09:30:00+01:00"
  - id: rule
    cmdlet: New-TransportRule
    params:
      Name: Encoded
      ActivationDate: "2026-12-31T18:00:00-05:00"
      Enabled: "{{{{ '$false' }}}}"
  - id: held
    cmdlet: Get-Mailbox
    params: {{ Filter: "LitigationHoldEnabled -eq $true", ResultSize: "{{{{ '10' }}}}" }}
  - id: unchecked
    cmdlet: Set-Mailbox
    catalog: off
    params:
      Identity: user002
      LitigationHoldEnabled: "True"
      RetainDeletedItemsFor: "14"
      LitigationHoldDate: "2026-12-01T09:30:00+01:00"
      StartDateForRetentionHold: "2026-12-01T09:30:00+01:00"
"#
        ),
    )]);
    let path = ws.path().to_path_buf();
    let run = tokio::task::spawn_blocking(move || {
        crate::support::tenantry_with_env(
            &path,
            &["run", "p.yaml", "--progress", "plain", "--report", "report"],
            &[("SECRET", APPS[0].client_secret)],
        )
    })
    .await
    .unwrap();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);

    let hold = sent(&sandbox, "Set-Mailbox", "Identity", "user001");
    // Text from a template, a Boolean parameter: a JSON boolean.
    assert_eq!(hold["LitigationHoldEnabled"], json!(true), "{hold}");
    // Whole days, an EnhancedTimeSpan: as TimeSpan.ToString() writes it.
    assert_eq!(hold["RetainDeletedItemsFor"], "14.00:00:00", "{hold}");
    // DateTime parameters with an offset: in UTC, whether or not the name ends in Date.
    assert_eq!(hold["LitigationHoldDate"], "2026-12-01T08:30:00.0000000Z");
    assert_eq!(
        hold["StartDateForRetentionHold"],
        "2026-12-01T08:30:00.0000000Z"
    );
    // A date without an offset names no instant: as written.
    assert_eq!(hold["EndDateForRetentionHold"], "2027-06-30");
    // Text is text, whatever it looks like.
    assert_eq!(hold["CustomAttribute1"], "2026-12-01T09:30:00+01:00");

    let rule = sent(&sandbox, "New-TransportRule", "Name", "Encoded");
    assert_eq!(rule["ActivationDate"], "2026-12-31T23:00:00.0000000Z");
    assert_eq!(rule["Enabled"], json!(false));

    // `catalog: off`: no documented types, so as written but for a date-time by its name.
    let unchecked = sent(&sandbox, "Set-Mailbox", "Identity", "user002");
    assert_eq!(unchecked["LitigationHoldEnabled"], "True");
    assert_eq!(unchecked["RetainDeletedItemsFor"], "14");
    assert_eq!(
        unchecked["LitigationHoldDate"],
        "2026-12-01T08:30:00.0000000Z"
    );
    assert_eq!(
        unchecked["StartDateForRetentionHold"],
        "2026-12-01T09:30:00+01:00"
    );

    // Every write was taken; the filter, its `$true` sent as `'True'`, found the mailbox held.
    assert!(
        sandbox.stats().writes.iter().all(|w| w.status == 200),
        "{:#?}",
        sandbox.stats().writes
    );
    let results: Vec<Value> = std::fs::read_to_string(ws.path().join("report/results.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let held = results.iter().find(|r| r["step"] == "held").unwrap();
    assert_eq!(held["status"], "ok", "{held}");
    assert!(held["objects"].as_u64().unwrap() >= 1, "{held}");
    sandbox.shutdown().await;
}
