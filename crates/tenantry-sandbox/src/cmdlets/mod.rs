//! The cmdlets the sandbox runs over a tenant's [`Directory`], with Exchange Online's parameter
//! binding, value conversion, identity resolution, errors and warnings.
//!
//! Every cmdlet binds its parameters first (names case-insensitive, unknown names refused as
//! PowerShell refuses them), converts each value to the property's type, and only then touches
//! the directory, so a failed call changes nothing.
//!
//! [`invoke_page`] finds the cmdlet in the dispatch table (`dispatch`), binds its parameters
//! (`args`) and runs it; each noun family has its own module (`recipient` for the Get-/Set-
//! cmdlets over the schema's views, `mailbox`, `group`, `permission`, `transport_rule`,
//! `organization`, `accepted_domain`), sharing value conversion (`convert`), identity
//! resolution (`resolve`) and the service's errors (`error`).

mod accepted_domain;
mod args;
mod convert;
mod dispatch;
mod error;
mod group;
mod mailbox;
mod organization;
mod output;
mod permission;
mod recipient;
mod resolve;
mod transport_rule;

#[cfg(test)]
mod integrity;
#[cfg(test)]
mod testing;

use serde_json::{Map, Value};

pub use error::CmdletError;
pub use output::{Access, CmdletOutput, Page};

use crate::directory::Directory;
use args::Args;
use dispatch::{CMDLETS, run};
use error::{Result, not_recognized};

/// Every cmdlet the sandbox implements, sorted.
pub fn known_cmdlets() -> &'static [&'static str] {
    CMDLETS
}

/// Whether the cmdlet writes (its verb is not Get, Test, Search or Export).
pub fn is_write(cmdlet: &str) -> bool {
    let verb = cmdlet.split('-').next().unwrap_or("");
    !["Get", "Test", "Search", "Export"]
        .iter()
        .any(|v| v.eq_ignore_ascii_case(verb))
}

/// Whether a call only asks what a write cmdlet would do: `WhatIf: true`, or `Confirm: true`
/// (the module's first, validating call of a ShouldProcess cmdlet). Such a call is checked as
/// the real one would be and answered with `@adminapi.confirmationmessage`; it changes nothing.
pub fn only_describes(cmdlet: &str, params: &Map<String, Value>) -> bool {
    let args = Args::new(params, Page::ALL);
    is_write(cmdlet) && (args.switch("WhatIf") || args.switch("Confirm"))
}

/// Runs one cmdlet against a tenant's directory.
pub fn invoke(
    dir: &mut Directory,
    cmdlet: &str,
    params: &Map<String, Value>,
    access: Access,
) -> Result<CmdletOutput> {
    invoke_page(dir, cmdlet, params, access, Page::ALL, &[])
}

/// Runs one cmdlet and returns one page of its output. Reading cmdlets render only the objects
/// on the page, so paging through a large tenant costs what the pages hold. A Set- or New- call
/// keeps none of the values of the properties `unapplied` names (the tenant's
/// [`unapplied`](crate::Behaviour::unapplied) behaviour) and answers as if it had.
pub fn invoke_page(
    dir: &mut Directory,
    cmdlet: &str,
    params: &Map<String, Value>,
    access: Access,
    page: Page,
    unapplied: &[String],
) -> Result<CmdletOutput> {
    let Some(name) = CMDLETS.iter().find(|c| c.eq_ignore_ascii_case(cmdlet)) else {
        return Err(not_recognized(cmdlet));
    };
    // An RBAC session only holds the cmdlets the caller's roles allow; the rest do not exist.
    if access == Access::ReadOnly && is_write(name) {
        return Err(not_recognized(cmdlet));
    }
    let args = Args::new(params, page);
    // The module sends a ShouldProcess cmdlet with `Confirm: true` first and reads the
    // confirmation message, then sends it again with `Confirm: false`; WhatIf only tells.
    if only_describes(name, params) {
        let what_if = args.switch("WhatIf");
        // Validate as the real call would, on a copy, and report without changing anything.
        let mut copy = dir.clone();
        let target = ["Identity", "Name"]
            .iter()
            .find_map(|p| args.text(p).ok().flatten())
            .unwrap_or_default();
        return run(&mut copy, name, &args).map(|out| CmdletOutput {
            warnings: out.warnings,
            confirmation: Some(if what_if {
                format!("What if: Performing the operation \"{name}\" on target \"{target}\".")
            } else {
                format!("Are you sure you want to perform this action?\nPerforming the operation \"{name}\" on target \"{target}\".")
            }),
            ..CmdletOutput::objects(Vec::new())
        });
    }
    let withheld = withheld(name, &args, unapplied);
    let mut out = if withheld.is_empty() {
        run(dir, name, &args)?
    } else {
        run_withholding(dir, name, &args, params, withheld)?
    };
    if !args.paged.get() {
        // Cmdlets that do not page themselves return little; cut their output here.
        let start = page.skip.min(out.value.len());
        let end = start.saturating_add(page.take).min(out.value.len());
        out.more = end < out.value.len();
        out.value = out.value.drain(start..end).collect();
    }
    Ok(out)
}

/// The parameters of a Set- or New- call that the tenant accepts without keeping, as sent:
/// those `unapplied` names, but never the Identity the call needs to find its object.
fn withheld(name: &str, args: &Args, unapplied: &[String]) -> Vec<String> {
    let verb = name.split('-').next().unwrap_or("");
    if unapplied.is_empty() || !matches!(verb, "Set" | "New") {
        return Vec::new();
    }
    args.specific()
        .map(|(k, _)| k)
        .filter(|k| !k.eq_ignore_ascii_case("Identity"))
        .filter(|k| unapplied.iter().any(|u| u.trim().eq_ignore_ascii_case(k)))
        .cloned()
        .collect()
}

/// Runs a call whose `withheld` parameters the tenant accepts without keeping. The answer is
/// the whole call's, run on a copy, so it is checked and answered as if everything applied;
/// what the directory keeps is the call without them. A call that cannot run without them (a
/// New- cmdlet's Name) keeps nothing.
fn run_withholding(
    dir: &mut Directory,
    name: &str,
    args: &Args,
    params: &Map<String, Value>,
    withheld: Vec<String>,
) -> Result<CmdletOutput> {
    let mut copy = dir.clone();
    let mut answer = run(&mut copy, name, args)?;
    let kept: Map<String, Value> = params
        .iter()
        .filter(|(k, _)| {
            // A value's `@odata.type` annotation goes with it.
            let param = k.split('@').next().unwrap_or(k);
            !withheld.iter().any(|w| w.eq_ignore_ascii_case(param))
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    answer.changed = run(dir, name, &Args::new(&kept, Page::ALL)).is_ok_and(|kept| kept.changed);
    answer.unapplied = withheld;
    Ok(answer)
}

#[cfg(test)]
mod tests {
    use crate::cmdlets::testing::*;

    #[test]
    fn a_read_only_role_has_no_write_cmdlets_and_unknown_cmdlets_fail_alike() {
        let mut dir = contoso(3);
        let params = json!({"Identity": "user001", "CustomAttribute1": "x"});
        let e = invoke(
            &mut dir,
            "Set-Mailbox",
            params.as_object().unwrap(),
            Access::ReadOnly,
        )
        .unwrap_err();
        assert_eq!(
            e.class,
            "System.Management.Automation.CommandNotFoundException"
        );
        assert!(
            e.message
                .starts_with("The term 'Set-Mailbox' is not recognized")
        );
        assert!(invoke(&mut dir, "Get-Mailbox", &Map::new(), Access::ReadOnly).is_ok());
        let e = err(&mut dir, "Get-Nonsense", json!({}));
        assert_eq!(e.category, "ObjectNotFound");
        assert!(
            is_write("Set-Mailbox")
                && is_write("Add-MailboxPermission")
                && !is_write("get-mailbox")
        );
    }

    #[test]
    fn what_if_reports_without_changing() {
        let mut dir = contoso(3);
        let before = dir.snapshot();
        let out = ok(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "CustomAttribute5": "x", "WhatIf": true}),
        );
        assert!(!out.changed);
        assert_eq!(dir.snapshot(), before);
    }

    /// Runs a cmdlet in a tenant that accepts the `unapplied` properties without keeping them.
    fn run_unapplied(
        dir: &mut Directory,
        cmdlet: &str,
        params: Value,
        unapplied: &[&str],
    ) -> Result<CmdletOutput> {
        let unapplied: Vec<String> = unapplied.iter().map(|u| u.to_string()).collect();
        crate::cmdlets::invoke_page(
            dir,
            cmdlet,
            params.as_object().unwrap(),
            Access::Full,
            crate::cmdlets::Page::ALL,
            &unapplied,
        )
    }

    #[test]
    fn an_unapplied_property_is_answered_as_set_and_not_kept() {
        let mut dir = contoso(3);
        let before = ok(&mut dir, "Get-Mailbox", json!({"Identity": "user001"})).value[0]
            ["RetainDeletedItemsFor"]
            .clone();
        let want = if before == "30.00:00:00" { "7" } else { "30" };
        let out = run_unapplied(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "retaindeleteditemsfor": want, "CustomAttribute2": "kept"}),
            &["RetainDeletedItemsFor"],
        )
        .unwrap();
        // Success as usual: no warning that nothing changed.
        assert!(out.warnings.is_empty() && out.changed);
        assert_eq!(out.unapplied, ["retaindeleteditemsfor"]);
        let after = ok(&mut dir, "Get-Mailbox", json!({"Identity": "user001"})).value[0].clone();
        assert_eq!(
            after["RetainDeletedItemsFor"], before,
            "the value did not take"
        );
        assert_eq!(
            after["CustomAttribute2"], "kept",
            "the rest of the call did"
        );
        // Only the unapplied property: the answer is a success, but nothing changed.
        let only = run_unapplied(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "RetainDeletedItemsFor": want}),
            &["retainDeletedItemsFor"],
        )
        .unwrap();
        assert!(only.warnings.is_empty() && !only.changed);
        // A bad value is refused as ever, and changes nothing.
        let snapshot = dir.snapshot();
        let e = run_unapplied(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "RetainDeletedItemsFor": "45", "CustomAttribute3": "x"}),
            &["RetainDeletedItemsFor"],
        )
        .unwrap_err();
        assert_eq!(e.class, VALIDATION);
        assert_eq!(dir.snapshot(), snapshot);
    }

    #[test]
    fn a_new_object_keeps_the_default_of_an_unapplied_property() {
        let mut dir = contoso(3);
        let mut plain = contoso(3);
        let params =
            json!({"Name": "Withheld", "Comments": "Asked for", "SubjectContainsWords": "x"});
        let out =
            run_unapplied(&mut dir, "New-TransportRule", params.clone(), &["Comments"]).unwrap();
        assert_eq!(out.value[0]["Comments"], "Asked for", "answered as if kept");
        assert_eq!(out.unapplied, ["Comments"]);
        let rule = ok(
            &mut dir,
            "Get-TransportRule",
            json!({"Identity": "Withheld"}),
        )
        .value[0]
            .clone();
        assert_eq!(rule["Comments"], Value::Null, "the default");
        assert_eq!(rule["SubjectContainsWords"], json!(["x"]));
        // The same GUID and time as without the behaviour: still deterministic.
        let plain_rule = ok(&mut plain, "New-TransportRule", params).value[0].clone();
        assert_eq!(
            (&rule["Guid"], &rule["WhenChanged"]),
            (&plain_rule["Guid"], &plain_rule["WhenChanged"])
        );
        let domain = run_unapplied(
            &mut dir,
            "New-AcceptedDomain",
            json!({"Name": "Relay", "DomainName": "relay.example", "DomainType": "InternalRelay"}),
            &["DomainType"],
        )
        .unwrap();
        assert_eq!(domain.value[0]["DomainType"], "InternalRelay");
        let got = ok(&mut dir, "Get-AcceptedDomain", json!({"Identity": "Relay"}));
        assert_eq!(got.value[0]["DomainType"], "Authoritative");
        // A New- call that cannot run without it keeps nothing at all.
        let unnamed = run_unapplied(
            &mut dir,
            "New-DistributionGroup",
            json!({"Name": "Ghost group"}),
            &["Name"],
        )
        .unwrap();
        assert!(!unnamed.changed);
        assert_eq!(
            err(
                &mut dir,
                "Get-DistributionGroup",
                json!({"Identity": "Ghost group"})
            )
            .class,
            NOT_FOUND
        );
        // Reads, and writes other than Set- and New-, are not affected.
        let unaffected = run_unapplied(
            &mut dir,
            "Disable-TransportRule",
            json!({"Identity": "Withheld"}),
            &["Identity", "State"],
        )
        .unwrap();
        assert!(unaffected.changed && unaffected.unapplied.is_empty());
    }
}
