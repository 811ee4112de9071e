//! A failed or odd call must leave the directory consistent: addresses unique, identities
//! unambiguous, references following renames and removals.

use super::dispatch::CMDLETS;
use super::error::{PROXY_EXISTS, Result, VALIDATION};
use super::{Access, CmdletOutput, invoke, is_write};
use crate::directory::Directory;
use serde_json::{Value, json};

fn contoso() -> Directory {
    Directory::generate(
        "contoso.onmicrosoft.com",
        "0550b473-1111-4c5d-8e7f-9a0b1c2d3e4f",
        10,
        1,
    )
}

fn run(dir: &mut Directory, cmdlet: &str, params: Value) -> Result<CmdletOutput> {
    invoke(dir, cmdlet, params.as_object().unwrap(), Access::Full)
}

#[test]
fn prefixed_or_malformed_addresses_are_refused() {
    let mut dir = contoso();
    for address in [
        "SMTP:alice@contoso.com",
        "a b@contoso.com",
        "a@b@contoso.com",
        "<a>@contoso.com",
    ] {
        let e = run(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "PrimarySmtpAddress": address}),
        )
        .unwrap_err();
        assert_eq!(e.class, VALIDATION, "{address}");
        assert!(
            run(
                &mut dir,
                "New-Mailbox",
                json!({"Shared": true, "Name": "x", "PrimarySmtpAddress": address})
            )
            .is_err()
        );
    }
}

#[test]
fn a_new_mailbox_does_not_take_an_address_someone_holds() {
    let mut dir = contoso();
    let add =
        json!({"Identity": "user001", "EmailAddresses": {"Add": ["bob@contoso.onmicrosoft.com"]}});
    run(&mut dir, "Set-Mailbox", add).unwrap();
    run(
        &mut dir,
        "New-Mailbox",
        json!({"Name": "bob", "Shared": true, "PrimarySmtpAddress": "bob@contoso.com"}),
    )
    .unwrap();
    let owner = run(
        &mut dir,
        "Get-Mailbox",
        json!({"Identity": "bob@contoso.onmicrosoft.com"}),
    )
    .unwrap();
    assert_eq!(owner.value[0]["Alias"], "user001");
}

#[test]
fn other_proxy_types_do_not_identify_a_recipient_and_duplicates_are_refused() {
    let mut dir = contoso();
    run(
        &mut dir,
        "Set-Mailbox",
        json!({"Identity": "user002", "EmailAddresses": {"Add": ["X500:user003"]}}),
    )
    .unwrap();
    let found = run(&mut dir, "Get-Mailbox", json!({"Identity": "user003"})).unwrap();
    assert_eq!(found.value[0]["Alias"], "user003");
    let taken = run(
        &mut dir,
        "Set-Mailbox",
        json!({"Identity": "user004", "EmailAddresses": {"Add": ["x500:USER003"]}}),
    );
    assert_eq!(taken.unwrap_err().class, PROXY_EXISTS);
    let twice = run(
        &mut dir,
        "Set-Mailbox",
        json!({"Identity": "user005", "EmailAddresses": ["SMTP:user005@contoso.onmicrosoft.com", "smtp:USER005@contoso.onmicrosoft.com"]}),
    );
    assert_eq!(twice.unwrap_err().class, VALIDATION);
}

#[test]
fn references_follow_renames_and_removals() {
    let mut dir = contoso();
    run(&mut dir, "New-DistributionGroup", json!({"Name": "Temp"})).unwrap();
    run(&mut dir, "Set-Mailbox", json!({"Identity": "user008", "AcceptMessagesOnlyFrom": "Temp", "ForwardingAddress": "user009"})).unwrap();
    run(
        &mut dir,
        "Set-Mailbox",
        json!({"Identity": "user009", "Name": "nine"}),
    )
    .unwrap();
    let mbx = run(&mut dir, "Get-Mailbox", json!({"Identity": "user008"})).unwrap();
    assert_eq!(mbx.value[0]["ForwardingAddress"], "nine");
    run(
        &mut dir,
        "Remove-DistributionGroup",
        json!({"Identity": "Temp"}),
    )
    .unwrap();
    let mbx = run(&mut dir, "Get-Mailbox", json!({"Identity": "user008"})).unwrap();
    assert_eq!(mbx.value[0]["AcceptMessagesOnlyFrom"], json!([]));
}

#[test]
fn names_and_aliases_are_validated() {
    let mut dir = contoso();
    for alias in ["", "has space", "a@b", ".dot", "dot.", "a..b"] {
        let e = run(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "Alias": alias}),
        )
        .unwrap_err();
        assert_eq!(e.class, VALIDATION, "{alias:?}");
    }
    let long = "n".repeat(65);
    assert!(
        run(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "Name": long})
        )
        .is_err()
    );
    assert!(run(&mut dir, "New-DistributionGroup", json!({"Name": long})).is_err());
    assert!(
        run(
            &mut dir,
            "Set-TransportRule",
            json!({"Identity": "External email tag", "Name": ""})
        )
        .is_err()
    );
    assert!(
        run(
            &mut dir,
            "New-TransportRule",
            json!({"Name": "x", "Priority": 99})
        )
        .is_err()
    );
}

#[test]
fn confirm_true_describes_the_change_without_making_it() {
    let mut dir = contoso();
    let before = dir.snapshot();
    let asked = run(
        &mut dir,
        "New-DistributionGroup",
        json!({"Name": "Confirmed", "Confirm": true}),
    )
    .unwrap();
    assert!(
        asked
            .confirmation
            .unwrap()
            .contains("\"New-DistributionGroup\" on target \"Confirmed\"")
    );
    assert_eq!(dir.snapshot(), before);
    assert!(
        run(
            &mut dir,
            "New-DistributionGroup",
            json!({"Name": "Confirmed", "Confirm": false})
        )
        .unwrap()
        .changed
    );
}

#[test]
fn every_get_honours_result_size() {
    let mut dir = contoso();
    let rules = run(&mut dir, "Get-TransportRule", json!({"ResultSize": 1})).unwrap();
    assert_eq!((rules.value.len(), rules.warnings.len()), (1, 1));
    assert!(
        run(
            &mut dir,
            "Get-AcceptedDomain",
            json!({"ResultSize": "garbage"})
        )
        .is_err()
    );
    assert_eq!(
        run(
            &mut dir,
            "Get-MailboxPermission",
            json!({"Identity": "info", "ResultSize": 1})
        )
        .unwrap()
        .value
        .len(),
        1
    );
}

#[test]
fn every_listed_cmdlet_is_dispatched_and_the_list_is_sorted() {
    let mut sorted = CMDLETS.to_vec();
    sorted.sort_unstable();
    assert_eq!(sorted, CMDLETS, "CMDLETS is kept sorted");
    let mut dir = contoso();
    for cmdlet in CMDLETS {
        // With no parameters most fail to bind, but none may be unknown to the dispatch table.
        if let Err(e) = run(&mut dir, cmdlet, json!({})) {
            assert_ne!(
                e.class, "System.Management.Automation.CommandNotFoundException",
                "{cmdlet} is listed but not dispatched"
            );
        }
    }
}

/// A valid call of every write cmdlet, after [`sample_setup`]: a test that covers every write
/// fails until a new one gets its sample here.
fn write_sample(cmdlet: &str) -> Option<Value> {
    Some(match cmdlet {
        "Add-DistributionGroupMember" => json!({"Identity": "Sample", "Member": "user001"}),
        "Add-MailboxPermission" => {
            json!({"Identity": "user001", "User": "user002", "AccessRights": "FullAccess"})
        }
        "Add-RecipientPermission" => {
            json!({"Identity": "user001", "Trustee": "user002", "AccessRights": "SendAs"})
        }
        "Disable-TransportRule" | "Enable-TransportRule" | "Remove-TransportRule" => {
            json!({"Identity": "External email tag"})
        }
        "New-AcceptedDomain" => json!({"Name": "Fabrikam", "DomainName": "fabrikam.com"}),
        "New-DistributionGroup" => json!({"Name": "Another"}),
        "New-Mailbox" => json!({"Name": "Room 1", "Room": true}),
        "New-TransportRule" => json!({"Name": "Another rule", "SubjectContainsWords": "x"}),
        "Remove-AcceptedDomain" => json!({"Identity": "contoso.com"}),
        "Remove-DistributionGroup" => json!({"Identity": "Sample"}),
        "Remove-DistributionGroupMember" => json!({"Identity": "Sample", "Member": "user002"}),
        "Remove-MailboxPermission" => {
            json!({"Identity": "user001", "User": "user002", "AccessRights": "FullAccess"})
        }
        "Remove-RecipientPermission" => {
            json!({"Identity": "user001", "Trustee": "user002", "AccessRights": "SendAs"})
        }
        "Set-AcceptedDomain" => json!({"Identity": "contoso.com", "OutboundOnly": true}),
        "Set-CASMailbox" => json!({"Identity": "user001", "PopEnabled": false}),
        "Set-DistributionGroup" => json!({"Identity": "Sample", "BccBlocked": true}),
        "Set-Mailbox" => json!({"Identity": "user001", "CustomAttribute1": "x"}),
        "Set-OrganizationConfig" => json!({"MailTipsLargeAudienceThreshold": 50}),
        "Set-TransportRule" => json!({"Identity": "External email tag", "Comments": "x"}),
        "Set-User" => json!({"Identity": "user001", "Title": "x"}),
        _ => return None,
    })
}

/// The objects the write samples name: a group with one member.
fn sample_setup() -> Directory {
    let mut dir = contoso();
    run(
        &mut dir,
        "New-DistributionGroup",
        json!({"Name": "Sample", "Members": ["user002"]}),
    )
    .unwrap();
    dir
}

#[test]
fn what_if_and_confirm_change_nothing_for_every_write_cmdlet() {
    let mut dir = sample_setup();
    let before = dir.snapshot();
    for cmdlet in CMDLETS.iter().filter(|c| is_write(c)) {
        let sample = write_sample(cmdlet).unwrap_or_else(|| panic!("no write sample for {cmdlet}"));
        for flag in ["WhatIf", "Confirm"] {
            let mut params = sample.clone();
            params[flag] = json!(true);
            let out = run(&mut dir, cmdlet, params.clone())
                .unwrap_or_else(|e| panic!("{cmdlet} {params}: {e:?}"));
            let message = out.confirmation.unwrap_or_default();
            assert!(
                message.contains(&format!("\"{cmdlet}\"")),
                "{cmdlet} with {flag}: {message:?}"
            );
            assert!(!out.changed && out.value.is_empty(), "{cmdlet} with {flag}");
            assert_eq!(
                dir.snapshot(),
                before,
                "{cmdlet} with {flag} changed the directory"
            );
        }
        // Without them the sample is a real write, so it is a fair test of the flags.
        let mut real = dir.clone();
        assert!(
            run(&mut real, cmdlet, sample.clone()).is_ok(),
            "{cmdlet} {sample}"
        );
    }
    // Nor did they move the clock or the GUID stream: the next write comes out as it would
    // have without them.
    let mut fresh = sample_setup();
    for d in [&mut dir, &mut fresh] {
        run(d, "New-DistributionGroup", json!({"Name": "After"})).unwrap();
    }
    assert_eq!(dir.snapshot(), fresh.snapshot());
}
