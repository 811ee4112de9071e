use serde_json::json;

use super::kind::{is_date_time, size_bytes, time_span};
use super::*;

#[test]
fn the_built_in_catalog_finds_cmdlets_in_any_case_and_knows_where_it_comes_from() {
    let catalog = Catalog::built_in();
    let set = catalog.cmdlet("set-MAILBOX").expect("Set-Mailbox");
    assert_eq!(set.name, "Set-Mailbox");
    let p = set.param("retaindeleteditemsfor").unwrap();
    assert_eq!(
        (p.name.as_str(), p.type_name.as_str()),
        ("RetainDeletedItemsFor", "EnhancedTimeSpan")
    );
    assert_eq!(p.kind.scalar, Scalar::TimeSpan);
    // Aliases find their parameter.
    assert_eq!(set.param("cf").unwrap().name, "Confirm");
    assert!(catalog.cmdlet("Set-Mailboxx").is_none());
    assert_eq!(catalog.names().len(), 730);
    let (source, commit, license) = catalog.origin();
    assert_eq!(source, "MicrosoftDocs/office-docs-powershell");
    assert_eq!(commit.len(), 40);
    assert!(license.starts_with("CC-BY-4.0"), "{license}");
}

#[test]
fn misspellings_get_suggestions() {
    let catalog = Catalog::built_in();
    assert_eq!(catalog.suggest("Set-Mailbx")[0], "Set-Mailbox");
    assert_eq!(
        catalog.suggest("Get-TransportRules")[0],
        "Get-TransportRule"
    );
    let set = catalog.cmdlet("Set-Mailbox").unwrap();
    assert_eq!(
        set.suggest("RetainDeletedItemFor")[0],
        "RetainDeletedItemsFor"
    );
    assert!(set.suggest("Zzzz").is_empty());
}

#[test]
fn documented_set_names_are_mended() {
    let catalog = Catalog::built_in();
    let new = catalog.cmdlet("New-Mailbox").unwrap();
    let password = new.param("Password").unwrap();
    assert!(password.in_set("Migration") && password.in_set("RemovedMailbox"));
    assert!(!password.sets.iter().any(|s| s.contains(' ')));
    // Required in many sets at once is not trusted; in one set, or all, it is.
    assert!(!password.required_in("Shared"));
    assert!(new.param("Shared").unwrap().required_in("Shared"));
    assert!(new.param("Name").unwrap().required_in("Shared"));
}

#[test]
fn types_map_to_kinds() {
    let cases = [
        ("SwitchParameter", false, Scalar::Switch, Many::One),
        ("System.Boolean", false, Scalar::Bool, Many::One),
        ("Int32", false, Scalar::Int, Many::One),
        ("Unlimited", false, Scalar::Unlimited, Many::One),
        (
            "Microsoft.Exchange.Management.RestApiClient.Unlimited`1[System.UInt32]",
            false,
            Scalar::Unlimited,
            Many::One,
        ),
        (
            "Microsoft.Exchange.Data.EnhancedTimeSpan",
            false,
            Scalar::TimeSpan,
            Many::One,
        ),
        ("MultiValuedProperty", false, Scalar::Text, Many::Changes),
        ("ProxyAddressCollection", false, Scalar::Text, Many::Changes),
        ("RecipientIdParameter[]", false, Scalar::Text, Many::List),
        ("RecipientTypeDetails[]", true, Scalar::Enum, Many::List),
        ("SmtpAddress[]", false, Scalar::Smtp, Many::List),
        ("Byte[]", false, Scalar::Bytes, Many::One),
        ("Hashtable[]", false, Scalar::Hashtable, Many::List),
        ("RuleMode", true, Scalar::Enum, Many::One),
        ("RuleState", false, Scalar::Text, Many::One),
        ("PSCredential", false, Scalar::Credential, Many::One),
    ];
    for (t, enumerated, scalar, many) in cases {
        assert_eq!(Kind::of(t, enumerated), Kind { scalar, many }, "{t}");
    }
}

fn check(cmdlet: &str, param: &str, value: serde_json::Value) -> Result<(), String> {
    let catalog = Catalog::built_in();
    let c = catalog.cmdlet(cmdlet).unwrap();
    let p = c.param(param).unwrap();
    p.kind.check(&value, &p.values).map_err(|e| e.to_string())
}

#[test]
fn values_are_checked_by_their_documented_type() {
    // Accepted as the service would take them.
    for (cmdlet, param, value) in [
        ("Set-Mailbox", "LitigationHoldEnabled", json!(true)),
        ("Set-Mailbox", "LitigationHoldEnabled", json!("$false")),
        ("Set-Mailbox", "RetainDeletedItemsFor", json!("30.00:00:00")),
        ("Set-Mailbox", "RetainDeletedItemsFor", json!("30")),
        ("Set-Mailbox", "RetainDeletedItemsFor", json!(14)),
        ("Set-Mailbox", "ProhibitSendQuota", json!("Unlimited")),
        ("Set-Mailbox", "ProhibitSendQuota", json!("49.5 GB")),
        (
            "Set-Mailbox",
            "ProhibitSendQuota",
            json!("50 GB (53,687,091,200 bytes)"),
        ),
        (
            "Set-Mailbox",
            "GrantSendOnBehalfTo",
            json!(["a@contoso.com", "b"]),
        ),
        (
            "Set-Mailbox",
            "GrantSendOnBehalfTo",
            json!({"Add": "a@contoso.com", "remove": ["b"]}),
        ),
        ("Set-Mailbox", "GrantSendOnBehalfTo", json!(null)),
        ("Set-Mailbox", "ForwardingSmtpAddress", json!(null)),
        ("Set-TransportRule", "Mode", json!("enforce")),
        ("Set-TransportRule", "ActivationDate", json!("2026-12-31")),
        (
            "Set-TransportRule",
            "ActivationDate",
            json!("2026-12-31T18:00:00+01:00"),
        ),
        (
            "Set-TransportRule",
            "ActivationDate",
            json!("12/31/2026 6:00 PM"),
        ),
        (
            "Get-BlockedConnector",
            "ConnectorId",
            json!("c51e9974-ce49-4ff2-85f1-95b71439e285"),
        ),
        (
            "New-DistributionGroup",
            "PrimarySmtpAddress",
            json!("sales@contoso.com"),
        ),
    ] {
        assert_eq!(
            check(cmdlet, param, value.clone()),
            Ok(()),
            "{cmdlet} -{param} {value}"
        );
    }
    // Refused, saying what would do.
    for (cmdlet, param, value, says) in [
        (
            "Set-Mailbox",
            "LitigationHoldEnabled",
            json!("yes"),
            "true or false, not `yes`",
        ),
        (
            "Set-Mailbox",
            "RetainDeletedItemsFor",
            json!("30.24:00:00"),
            "a time span",
        ),
        (
            "Set-Mailbox",
            "RetainDeletedItemsFor",
            json!("thirty days"),
            "a time span",
        ),
        (
            "Set-Mailbox",
            "ProhibitSendQuota",
            json!("50 GiB"),
            "`Unlimited`, a number or a size",
        ),
        (
            "Set-TransportRule",
            "Mode",
            json!("Enforced"),
            "one of `Audit`, `AuditAndNotify` or `Enforce`, not `Enforced`",
        ),
        (
            "Set-TransportRule",
            "ActivationDate",
            json!("2026-02-30"),
            "a date",
        ),
        (
            "Set-TransportRule",
            "ActivationDate",
            json!("next week"),
            "a date",
        ),
        (
            "Set-Mailbox",
            "ForwardingSmtpAddress",
            json!(["a@contoso.com"]),
            "not a list",
        ),
        (
            "Set-Mailbox",
            "GrantSendOnBehalfTo",
            json!({"Append": "x"}),
            "neither Add nor Remove",
        ),
        (
            "Set-TransportRule",
            "Mode",
            json!(["Audits"]),
            "one of `Audit`, `AuditAndNotify` or `Enforce`, not `Audits`",
        ),
        (
            "Set-Mailbox",
            "CustomAttribute1",
            json!({"Add": "Sales"}),
            "one value, not a mapping (`{Add, Remove}` is for multi-valued properties)",
        ),
        (
            "Set-TransportRule",
            "SubjectContainsWords",
            json!({"Add": ["urgent"]}),
            "one or more values, not a mapping",
        ),
        (
            "Get-Mailbox",
            "RecipientTypeDetails",
            json!("UserMailbox, Shared"),
            "not `Shared` (in `UserMailbox, Shared`)",
        ),
        (
            "Get-BlockedConnector",
            "ConnectorId",
            json!("not-a-guid"),
            "a GUID",
        ),
        (
            "New-DistributionGroup",
            "PrimarySmtpAddress",
            json!("sales"),
            "an e-mail address, not `sales`",
        ),
    ] {
        let err =
            check(cmdlet, param, value.clone()).expect_err(&format!("{cmdlet} -{param} {value}"));
        assert!(err.contains(says), "{cmdlet} -{param} {value}: {err}");
    }
}

#[test]
fn sizes_time_spans_and_dates_parse_as_net_does() {
    assert_eq!(size_bytes("50 GB"), Some(50 << 30));
    assert_eq!(
        size_bytes("50GB (53,687,091,200 bytes)"),
        Some(53_687_091_200)
    );
    assert_eq!(size_bytes("1.5 mb"), Some(1_572_864));
    assert_eq!(size_bytes("100"), Some(100));
    assert_eq!(size_bytes("lots"), None);
    assert_eq!(time_span("30.00:00:00"), Some((30 * 86_400, "")));
    assert_eq!(time_span("1.02:03:04.5"), Some((93_784, "5")));
    assert_eq!(time_span("-00:30"), Some((-1800, "")));
    assert_eq!(time_span("14"), Some((14 * 86_400, "")));
    assert_eq!(time_span("25:00:00"), None);
    assert_eq!(time_span("1.2.3"), None);
    assert!(is_date_time("2024-02-29") && !is_date_time("2023-02-29"));
    assert!(is_date_time("2026-12-31 08:30"));
    assert!(!is_date_time("2026-12-31T25:00:00Z"));
}

#[test]
fn a_catalog_file_replaces_the_built_in_one() {
    let catalog = Catalog::from_json(
        "new.json",
        r#"{"source":"tenant","commit":"","license":"","cmdlets":{"Get-Brandnew":{"sets":[],"params":{"Flag":{"type":"SwitchParameter"}}}}}"#,
    )
    .unwrap();
    let c = catalog.cmdlet("get-brandnew").unwrap();
    assert_eq!(c.params[0].kind.scalar, Scalar::Switch);
    assert!(catalog.cmdlet("Get-Mailbox").is_none());
    let err = Catalog::from_json("bad.json", r#"{"cmdlets": {}}"#)
        .err()
        .unwrap();
    assert!(err.to_string().contains("lists no cmdlets"), "{err}");
    let err = Catalog::from_json("bad.json", "[]").err().unwrap();
    assert!(
        err.to_string().contains("bad.json is not a cmdlet catalog"),
        "{err}"
    );
}

#[test]
fn calls_fit_a_parameter_set_or_say_which_come_closest() {
    let catalog = Catalog::built_in();
    let new = catalog.cmdlet("New-Mailbox").unwrap();
    assert_eq!(new.fit_sets(&["Name", "Shared"]), Ok(()));
    assert_eq!(new.fit_sets(&["Name", "Room", "DisplayName"]), Ok(()));
    let gaps = new.fit_sets(&["Name", "Shared", "Room"]).unwrap_err();
    let text: Vec<String> = gaps.iter().map(ToString::to_string).collect();
    assert!(
        text.iter().any(|t| t == "set Shared does not take -Room")
            && text.iter().any(|t| t == "set Room does not take -Shared"),
        "{text:?}"
    );
    // A required parameter missing, on a cmdlet with one set.
    let add = catalog.cmdlet("Add-DistributionGroupMember").unwrap();
    assert_eq!(add.fit_sets(&["Identity", "Member"]), Ok(()));
    let gaps = add.fit_sets(&["Member"]).unwrap_err();
    assert_eq!(
        gaps[0].to_string(),
        "the cmdlet needs -Identity",
        "{gaps:?}"
    );
}

#[test]
fn forms_powershell_binds_are_not_refused() {
    for (cmdlet, param, value) in [
        // A flags enumeration as a list, or by number.
        (
            "Set-MailboxCalendarConfiguration",
            "WorkDays",
            json!(["Monday", "Tuesday"]),
        ),
        ("Set-MailboxCalendarConfiguration", "WeekStartDay", json!(1)),
        (
            "Set-MailboxCalendarConfiguration",
            "WeekStartDay",
            json!("1"),
        ),
        // GUIDs and dates in the other forms .NET parses.
        (
            "Get-BlockedConnector",
            "ConnectorId",
            json!("c51e9974ce494ff285f195b71439e285"),
        ),
        (
            "Get-BlockedConnector",
            "ConnectorId",
            json!("(c51e9974-ce49-4ff2-85f1-95b71439e285)"),
        ),
        ("Set-TransportRule", "ActivationDate", json!("2026/12/31")),
        (
            "Set-TransportRule",
            "ActivationDate",
            json!("2026-12-31 10:00 PM"),
        ),
        (
            "Set-TransportRule",
            "ActivationDate",
            json!("2026-12-31T10:00:00+01"),
        ),
    ] {
        assert_eq!(
            check(cmdlet, param, value.clone()),
            Ok(()),
            "{cmdlet} -{param} {value}"
        );
    }
    assert!(
        check(
            "Set-MailboxCalendarConfiguration",
            "WorkDays",
            json!(["Monday", "Caturday"])
        )
        .is_err()
    );
}

#[test]
fn the_documented_way_to_recover_an_inactive_mailbox_fits_a_set() {
    let catalog = Catalog::built_in();
    let new = catalog.cmdlet("New-Mailbox").unwrap();
    for given in [
        [
            "Name",
            "InactiveMailbox",
            "MicrosoftOnlineServicesID",
            "Password",
        ],
        [
            "Name",
            "RemovedMailbox",
            "MicrosoftOnlineServicesID",
            "Password",
        ],
    ] {
        assert_eq!(new.fit_sets(&given), Ok(()), "{given:?}");
    }
}
