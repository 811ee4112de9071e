//! The dispatch table: every cmdlet the sandbox implements, and the function that runs it.

use super::accepted_domain::{
    get_accepted_domains, new_accepted_domain, remove_accepted_domain, set_accepted_domain,
};
use super::args::Args;
use super::error::{Result, not_recognized};
use super::group::{change_member, get_members, new_group, remove_group};
use super::mailbox::new_mailbox;
use super::organization::{get_organization, set_organization};
use super::output::CmdletOutput;
use super::permission::{
    change_mailbox_permission, change_recipient_permission, get_mailbox_permission,
    get_recipient_permission,
};
use super::recipient::{Scope, get_recipients, set_recipient};
use super::transport_rule::{enable_rule, get_rules, new_rule_cmdlet, remove_rule, set_rule};
use crate::directory::Directory;

/// Every cmdlet the sandbox implements, sorted.
pub(super) const CMDLETS: &[&str] = &[
    "Add-DistributionGroupMember",
    "Add-MailboxPermission",
    "Add-RecipientPermission",
    "Disable-TransportRule",
    "Enable-TransportRule",
    "Get-AcceptedDomain",
    "Get-CASMailbox",
    "Get-DistributionGroup",
    "Get-DistributionGroupMember",
    "Get-Mailbox",
    "Get-MailboxPermission",
    "Get-OrganizationConfig",
    "Get-Recipient",
    "Get-RecipientPermission",
    "Get-TransportRule",
    "Get-User",
    "New-AcceptedDomain",
    "New-DistributionGroup",
    "New-Mailbox",
    "New-TransportRule",
    "Remove-AcceptedDomain",
    "Remove-DistributionGroup",
    "Remove-DistributionGroupMember",
    "Remove-MailboxPermission",
    "Remove-RecipientPermission",
    "Remove-TransportRule",
    "Set-AcceptedDomain",
    "Set-CASMailbox",
    "Set-DistributionGroup",
    "Set-Mailbox",
    "Set-OrganizationConfig",
    "Set-TransportRule",
    "Set-User",
];

pub(super) fn run(dir: &mut Directory, name: &str, args: &Args) -> Result<CmdletOutput> {
    match name {
        "Get-Mailbox" => get_recipients(dir, args, Scope::Mailbox),
        "Get-User" => get_recipients(dir, args, Scope::User),
        "Get-CASMailbox" => get_recipients(dir, args, Scope::Cas),
        "Get-Recipient" => get_recipients(dir, args, Scope::Recipient),
        "Get-DistributionGroup" => get_recipients(dir, args, Scope::Group),
        "Set-Mailbox" => set_recipient(dir, args, Scope::Mailbox),
        "Set-User" => set_recipient(dir, args, Scope::User),
        "Set-CASMailbox" => set_recipient(dir, args, Scope::Cas),
        "Set-DistributionGroup" => set_recipient(dir, args, Scope::Group),
        "New-Mailbox" => new_mailbox(dir, args),
        "New-DistributionGroup" => new_group(dir, args),
        "Remove-DistributionGroup" => remove_group(dir, args),
        "Get-DistributionGroupMember" => get_members(dir, args),
        "Add-DistributionGroupMember" => change_member(dir, args, true),
        "Remove-DistributionGroupMember" => change_member(dir, args, false),
        "Get-MailboxPermission" => get_mailbox_permission(dir, args),
        "Add-MailboxPermission" => change_mailbox_permission(dir, args, true),
        "Remove-MailboxPermission" => change_mailbox_permission(dir, args, false),
        "Get-RecipientPermission" => get_recipient_permission(dir, args),
        "Add-RecipientPermission" => change_recipient_permission(dir, args, true),
        "Remove-RecipientPermission" => change_recipient_permission(dir, args, false),
        "Get-TransportRule" => get_rules(dir, args),
        "New-TransportRule" => new_rule_cmdlet(dir, args),
        "Set-TransportRule" => set_rule(dir, args),
        "Remove-TransportRule" => remove_rule(dir, args),
        "Enable-TransportRule" => enable_rule(dir, args, true),
        "Disable-TransportRule" => enable_rule(dir, args, false),
        "Get-OrganizationConfig" => get_organization(dir, args),
        "Set-OrganizationConfig" => set_organization(dir, args),
        "Get-AcceptedDomain" => get_accepted_domains(dir, args),
        "New-AcceptedDomain" => new_accepted_domain(dir, args),
        "Set-AcceptedDomain" => set_accepted_domain(dir, args),
        "Remove-AcceptedDomain" => remove_accepted_domain(dir, args),
        _ => Err(not_recognized(name)),
    }
}
