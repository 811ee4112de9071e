//! Cmdlet names: Verb-Noun with one of PowerShell's approved verbs, and which verbs only read.

use std::sync::LazyLock;

use regex::Regex;

use crate::diagnostic::{Diagnostic, Diagnostics, Location, did_you_mean};

/// PowerShell's approved verbs (`Get-Verb`); every Exchange Online cmdlet uses one of them.
const APPROVED_VERBS: &[&str] = &[
    "Add",
    "Approve",
    "Assert",
    "Backup",
    "Block",
    "Build",
    "Checkpoint",
    "Clear",
    "Close",
    "Compare",
    "Complete",
    "Compress",
    "Confirm",
    "Connect",
    "Convert",
    "ConvertFrom",
    "ConvertTo",
    "Copy",
    "Debug",
    "Deny",
    "Deploy",
    "Disable",
    "Disconnect",
    "Dismount",
    "Edit",
    "Enable",
    "Enter",
    "Exit",
    "Expand",
    "Export",
    "Find",
    "Format",
    "Get",
    "Grant",
    "Group",
    "Hide",
    "Import",
    "Initialize",
    "Install",
    "Invoke",
    "Join",
    "Limit",
    "Lock",
    "Measure",
    "Merge",
    "Mount",
    "Move",
    "New",
    "Open",
    "Optimize",
    "Out",
    "Ping",
    "Pop",
    "Protect",
    "Publish",
    "Push",
    "Read",
    "Receive",
    "Redo",
    "Register",
    "Remove",
    "Rename",
    "Repair",
    "Request",
    "Reset",
    "Resize",
    "Resolve",
    "Restart",
    "Restore",
    "Resume",
    "Revoke",
    "Save",
    "Search",
    "Select",
    "Send",
    "Set",
    "Show",
    "Skip",
    "Split",
    "Start",
    "Step",
    "Stop",
    "Submit",
    "Suspend",
    "Switch",
    "Sync",
    "Test",
    "Trace",
    "Unblock",
    "Undo",
    "Uninstall",
    "Unlock",
    "Unprotect",
    "Unpublish",
    "Unregister",
    "Update",
    "Use",
    "Wait",
    "Watch",
    "Write",
];

/// Verbs whose cmdlets only read: safe to run in check mode, and never counted as changes.
const READ_ONLY_VERBS: &[&str] = &["Get", "Test", "Search", "Export"];

static CMDLET: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([A-Za-z]+)-([A-Za-z][A-Za-z0-9]*)$").expect("valid regex"));

/// Cmdlets with a reading verb that act all the same: `Test-Message` sends a test message and
/// its report by mail, so a check must not send it.
const ACTS_DESPITE_VERB: &[&str] = &["Test-Message"];

/// True when the cmdlet only reads: its verb is `Get-`, `Test-`, `Search-` or `Export-`, and it
/// is not one of the few of those that act (`Test-Message`).
pub(crate) fn is_read_only(cmdlet: &str) -> bool {
    cmdlet
        .split_once('-')
        .is_some_and(|(verb, _)| READ_ONLY_VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb)))
        && !ACTS_DESPITE_VERB
            .iter()
            .any(|c| c.eq_ignore_ascii_case(cmdlet))
}

/// Whether sending the cmdlet twice does no harm unless a step says otherwise: reads, and
/// `Set-` cmdlets, which set a value to what it already is the second time.
pub(crate) fn is_idempotent(cmdlet: &str) -> bool {
    is_read_only(cmdlet)
        || cmdlet
            .split_once('-')
            .is_some_and(|(verb, _)| verb.eq_ignore_ascii_case("Set"))
}

/// Reports a cmdlet name that is not Verb-Noun with an approved verb.
pub(crate) fn check_cmdlet(at: &Location, cmdlet: &str, out: &mut Diagnostics) {
    let Some(caps) = CMDLET.captures(cmdlet) else {
        let mut d = Diagnostic::new(format!("`{cmdlet}` is not a cmdlet name"))
            .at(at.clone())
            .help("cmdlet names are Verb-Noun, like `Get-Mailbox` or `Set-CASMailbox`");
        if cmdlet.contains(' ') {
            d = d.help("put parameters under `params:`, not on the cmdlet line");
        }
        out.push(d);
        return;
    };
    let verb = &caps[1];
    if !APPROVED_VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb)) {
        let mut d = Diagnostic::new(format!("`{verb}` is not a PowerShell verb")).at(at.clone());
        if let Some(best) = did_you_mean(verb, APPROVED_VERBS.iter().copied()) {
            d.message = format!(
                "`{verb}` is not a PowerShell verb, did you mean `{best}-{}`?",
                &caps[2]
            );
        }
        out.push(d.help("Exchange Online cmdlets start with an approved verb: Get, Set, New, Remove, Add, Enable, Disable, Test, …"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_only_verbs() {
        assert!(is_read_only("Get-Mailbox"));
        assert!(is_read_only("test-MapiConnectivity"));
        assert!(!is_read_only("Set-Mailbox"));
        assert!(!is_read_only("Getaway"));
        // It sends mail: a check must not.
        assert!(!is_read_only("Test-Message"));
    }
}
