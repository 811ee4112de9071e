//! Distribution groups: New-/Remove-DistributionGroup and their membership
//! (Get-/Add-/Remove-DistributionGroupMember).

use serde_json::{Value, json};

use super::args::*;
use super::convert::convert;
use super::error::*;
use super::output::CmdletOutput;
use super::recipient::new_identity;
use super::resolve::{any_recipient, is_group, resolve};
use crate::directory::{Class, Directory, GROUP_TYPE, GRP, Obj, P, RCP};

/// The New-DistributionGroup parameters that are properties of the same name.
const NEW_GROUP_PROPS: &[P] = &[
    P::ManagedBy,
    P::MemberJoinRestriction,
    P::MemberDepartRestriction,
    P::RequireSenderAuthenticationEnabled,
    P::ModerationEnabled,
    P::ModeratedBy,
    P::SendModerationNotifications,
    P::BypassNestedModerationEnabled,
    P::BccBlocked,
    P::Description,
    P::Notes,
];

pub(super) fn new_group(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    let mut known = vec![
        "Name",
        "Alias",
        "DisplayName",
        "PrimarySmtpAddress",
        "Type",
        "Members",
        "CopyOwnerToMember",
        "HiddenGroupMembershipEnabled",
        "IgnoreNamingPolicy",
    ];
    known.extend(NEW_GROUP_PROPS.iter().map(|p| p.def().name));
    args.only(&known)?;
    let security = match args.text("Type")? {
        None => false,
        Some(t) => match GROUP_TYPE.canonical(&t) {
            Some("Security") => true,
            Some(_) => false,
            None => {
                return Err(cannot_convert(
                    "Type",
                    &json!(t),
                    GROUP_TYPE.type_name,
                    "Specify Distribution or Security.",
                ));
            }
        },
    };
    let (name, alias, display, address) = new_identity(dir, args, "New-DistributionGroup")?;
    let mut o = Obj::new(Class::Group);
    o.set(P::Name, json!(name));
    o.set(P::Alias, json!(alias));
    o.set(P::DisplayName, json!(display));
    o.set(P::PrimarySmtpAddress, json!(address));
    let mut proxies = vec![format!("SMTP:{address}")];
    let initial = format!("{alias}@{}", dir.tenant.domain);
    // The routing address on the initial domain, as a mailbox gets, unless someone has it.
    if !initial.eq_ignore_ascii_case(&address) && dir.address_owner(&initial, None).is_none() {
        proxies.push(format!("smtp:{initial}"));
    }
    o.set(P::EmailAddresses, json!(proxies));
    o.set(
        P::RecipientTypeDetails,
        json!(if security {
            "MailUniversalSecurityGroup"
        } else {
            "MailUniversalDistributionGroup"
        }),
    );
    // A new group accepts mail from authenticated senders only unless told otherwise.
    o.set(P::RequireSenderAuthenticationEnabled, json!(true));
    for &p in NEW_GROUP_PROPS {
        if let Some(v) = args.get(p.def().name) {
            o.set(p, convert(dir, p.def().name, p.def().ty, v)?);
        }
    }
    if args.switch("HiddenGroupMembershipEnabled") {
        o.set(P::HiddenGroupMembershipEnabled, json!(true));
    }
    let mut members = Vec::new();
    for member in args.texts("Members")?.unwrap_or_default() {
        let slot = resolve(dir, &member, &any_recipient)?;
        if !members.contains(&slot) {
            members.push(slot);
        }
    }
    if args.switch("CopyOwnerToMember") {
        for owner in o.strings(P::ManagedBy, &dir.tenant) {
            let slot = resolve(dir, &owner, &any_recipient)?;
            if !members.contains(&slot) {
                members.push(slot);
            }
        }
    }
    o.members = members;
    o.set(P::Guid, json!(dir.new_guid()));
    o.set(P::ExternalDirectoryObjectId, json!(dir.new_guid()));
    let slot = dir.insert(o);
    let shown = dir
        .obj(slot)
        .map(|o| dir.render(o, GRP))
        .unwrap_or(Value::Null);
    Ok(CmdletOutput::changed(vec![shown]))
}

pub(super) fn remove_group(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Identity", "BypassSecurityGroupManagerCheck"])?;
    let identity = args.required("Remove-DistributionGroup", "Identity")?;
    let slot = resolve(dir, &identity, &is_group)?;
    dir.remove(slot);
    Ok(CmdletOutput::changed(Vec::new()))
}

pub(super) fn get_members(dir: &Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Identity", "ResultSize"])?;
    let identity = args.required("Get-DistributionGroupMember", "Identity")?;
    let size = result_size(args)?;
    let slot = resolve(dir, &identity, &is_group)?;
    let members: Vec<u32> = dir
        .obj(slot)
        .map(|g| {
            g.members
                .iter()
                .copied()
                .filter(|m| dir.obj(*m).is_some())
                .collect()
        })
        .unwrap_or_default();
    Ok(args.render_page(dir, &members, size, RCP))
}

pub(super) fn change_member(dir: &mut Directory, args: &Args, add: bool) -> Result<CmdletOutput> {
    args.only(&["Identity", "Member", "BypassSecurityGroupManagerCheck"])?;
    let cmdlet = if add {
        "Add-DistributionGroupMember"
    } else {
        "Remove-DistributionGroupMember"
    };
    let identity = args.required(cmdlet, "Identity")?;
    let member_id = args.required(cmdlet, "Member")?;
    let group = resolve(dir, &identity, &is_group)?;
    let member = resolve(dir, &member_id, &any_recipient)?;
    let Some(g) = dir.obj(group) else {
        return Err(not_found(dir, &identity));
    };
    let group_name = g.name().to_string();
    let member_name = dir
        .obj(member)
        .map(|o| o.name().to_string())
        .unwrap_or_default();
    let mut members = g.members.clone();
    let present = members.contains(&member);
    match (add, present) {
        (true, true) => Err(CmdletError::exchange(
            MEMBER_EXISTS,
            "NotSpecified",
            &member_id,
            format!(
                "The recipient \"{member_name}\" is already a member of the group \"{group_name}\"."
            ),
        )),
        (false, false) => Err(CmdletError::exchange(
            MEMBER_MISSING,
            "NotSpecified",
            &member_id,
            format!(
                "The recipient \"{member_name}\" isn't a member of the group \"{group_name}\"."
            ),
        )),
        (true, false) => {
            if member == group {
                return Err(CmdletError::exchange(
                    VALIDATION,
                    "InvalidArgument",
                    &member_id,
                    format!("The group \"{group_name}\" can't be a member of itself."),
                ));
            }
            members.push(member);
            dir.set_members(group, members);
            Ok(CmdletOutput::changed(Vec::new()))
        }
        (false, true) => {
            members.retain(|m| *m != member);
            dir.set_members(group, members);
            Ok(CmdletOutput::changed(Vec::new()))
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::cmdlets::testing::*;

    #[test]
    fn group_membership_adds_once_and_removes_only_members() {
        let mut dir = contoso(20);
        let created = ok(
            &mut dir,
            "New-DistributionGroup",
            json!({"Name": "Project X", "Members": ["user001"]}),
        );
        assert_eq!(created.value[0]["Alias"], "projectx");
        assert_eq!(
            err(
                &mut dir,
                "New-DistributionGroup",
                json!({"Name": "Project X"})
            )
            .class,
            ALREADY_EXISTS
        );
        ok(
            &mut dir,
            "Add-DistributionGroupMember",
            json!({"Identity": "Project X", "Member": "user002@contoso.onmicrosoft.com"}),
        );
        let e = err(
            &mut dir,
            "Add-DistributionGroupMember",
            json!({"Identity": "projectx", "Member": "user002"}),
        );
        assert_eq!(e.class, MEMBER_EXISTS);
        assert_eq!(
            e.message,
            "The recipient \"user002\" is already a member of the group \"Project X\"."
        );
        let members = ok(
            &mut dir,
            "Get-DistributionGroupMember",
            json!({"Identity": "Project X"}),
        );
        let aliases: Vec<&str> = members
            .value
            .iter()
            .filter_map(|m| m["Alias"].as_str())
            .collect();
        assert_eq!(aliases, ["user001", "user002"]);
        ok(
            &mut dir,
            "Remove-DistributionGroupMember",
            json!({"Identity": "Project X", "Member": "user001"}),
        );
        assert_eq!(
            err(
                &mut dir,
                "Remove-DistributionGroupMember",
                json!({"Identity": "Project X", "Member": "user001"})
            )
            .class,
            MEMBER_MISSING
        );
        ok(
            &mut dir,
            "Remove-DistributionGroup",
            json!({"Identity": "Project X"}),
        );
        assert_eq!(
            err(
                &mut dir,
                "Get-DistributionGroup",
                json!({"Identity": "Project X"})
            )
            .class,
            NOT_FOUND
        );
    }

    #[test]
    fn a_group_round_trips_through_new_get_set_get_remove() {
        let mut dir = contoso(5);
        let created = ok(
            &mut dir,
            "New-DistributionGroup",
            json!({"Name": "Finance Approvals", "Type": "Security", "ManagedBy": ["user001", "user002@contoso.com"], "CopyOwnerToMember": true, "ModerationEnabled": true, "ModeratedBy": "user003", "MemberJoinRestriction": "approvalrequired", "RequireSenderAuthenticationEnabled": false, "Description": "Approves spend", "HiddenGroupMembershipEnabled": true}),
        );
        let got = ok(
            &mut dir,
            "Get-DistributionGroup",
            json!({"Identity": "Finance Approvals"}),
        );
        let g = &got.value[0];
        assert_eq!(g, &created.value[0], "New- answers the group Get- reads");
        assert_eq!(
            g["ManagedBy"],
            json!(["user001", "user002"]),
            "owners by Name"
        );
        assert_eq!(g["ModeratedBy"], json!(["user003"]));
        assert_eq!(
            (
                &g["ModerationEnabled"],
                &g["MemberJoinRestriction"],
                &g["RequireSenderAuthenticationEnabled"],
                &g["HiddenGroupMembershipEnabled"],
            ),
            (
                &json!(true),
                &json!("ApprovalRequired"),
                &json!(false),
                &json!(true)
            )
        );
        assert_eq!(g["Description"], json!(["Approves spend"]));
        assert_eq!(g["RecipientTypeDetails"], "MailUniversalSecurityGroup");
        assert_eq!(
            g["EmailAddresses"],
            json!(["SMTP:financeapprovals@contoso.onmicrosoft.com"])
        );
        // A group has no message size limits of its own.
        assert_eq!(
            (&g["MaxSendSize"], &g["MaxReceiveSize"]),
            (&json!("Unlimited"), &json!("Unlimited"))
        );
        let members = ok(
            &mut dir,
            "Get-DistributionGroupMember",
            json!({"Identity": "Finance Approvals"}),
        );
        assert_eq!(members.value.len(), 2, "the owners were made members");

        ok(
            &mut dir,
            "Set-DistributionGroup",
            json!({"Identity": "financeapprovals", "ManagedBy": {"@odata.type": "#Exchange.GenericHashTable", "Add": "user004", "Remove": "user001"}, "ModerationEnabled": false, "MemberJoinRestriction": "Closed", "BccBlocked": true}),
        );
        let got = ok(
            &mut dir,
            "Get-DistributionGroup",
            json!({"Identity": "Finance Approvals"}),
        );
        let g = &got.value[0];
        assert_eq!(g["ManagedBy"], json!(["user002", "user004"]));
        assert_eq!(
            (
                &g["ModerationEnabled"],
                &g["MemberJoinRestriction"],
                &g["BccBlocked"]
            ),
            (&json!(false), &json!("Closed"), &json!(true))
        );
        // Exchange Online's Set-DistributionGroup takes no message size limits.
        assert_eq!(
            err(
                &mut dir,
                "Set-DistributionGroup",
                json!({"Identity": "Finance Approvals", "MaxSendSize": "10 MB"})
            )
            .class,
            BINDING
        );

        ok(
            &mut dir,
            "Remove-DistributionGroup",
            json!({"Identity": "Finance Approvals"}),
        );
        let e = err(
            &mut dir,
            "Get-DistributionGroup",
            json!({"Identity": "Finance Approvals"}),
        );
        assert_eq!(
            (e.class.as_str(), e.error_id.as_str()),
            (NOT_FOUND, "Ex6F9304")
        );
        assert!(
            e.message
                .contains("object 'Finance Approvals' couldn't be found"),
            "{}",
            e.message
        );
        for (cmdlet, params) in [
            (
                "Set-DistributionGroup",
                json!({"Identity": "Finance Approvals", "BccBlocked": false}),
            ),
            (
                "Remove-DistributionGroup",
                json!({"Identity": "Finance Approvals"}),
            ),
        ] {
            assert_eq!(err(&mut dir, cmdlet, params).class, NOT_FOUND, "{cmdlet}");
        }
    }
}
