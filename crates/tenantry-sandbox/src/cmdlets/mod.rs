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
//! `organization`, `accepted_domain`), sharing value conversion (`convert`), identity resolution (`resolve`)
//! and the service's errors (`error`).

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
    invoke_page(dir, cmdlet, params, access, Page::ALL)
}

/// Runs one cmdlet and returns one page of its output. Reading cmdlets render only the objects
/// on the page, so paging through a large tenant costs what the pages hold.
pub fn invoke_page(
    dir: &mut Directory,
    cmdlet: &str,
    params: &Map<String, Value>,
    access: Access,
    page: Page,
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
    let mut out = run(dir, name, &args)?;
    if !args.paged.get() {
        // Cmdlets that do not page themselves return little; cut their output here.
        let start = page.skip.min(out.value.len());
        let end = start.saturating_add(page.take).min(out.value.len());
        out.more = end < out.value.len();
        out.value = out.value.drain(start..end).collect();
    }
    Ok(out)
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
}
