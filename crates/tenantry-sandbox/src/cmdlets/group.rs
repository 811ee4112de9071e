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

pub(super) fn new_group(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&[
        "Name",
        "Alias",
        "DisplayName",
        "PrimarySmtpAddress",
        "Type",
        "ManagedBy",
        "Members",
        "MemberJoinRestriction",
        "MemberDepartRestriction",
        "Notes",
        "RequireSenderAuthenticationEnabled",
        "CopyOwnerToMember",
        "IgnoreNamingPolicy",
    ])?;
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
    o.set(P::EmailAddresses, json!([format!("SMTP:{address}")]));
    o.set(
        P::RecipientTypeDetails,
        json!(if security {
            "MailUniversalSecurityGroup"
        } else {
            "MailUniversalDistributionGroup"
        }),
    );
    for (p, param) in [
        (P::MemberJoinRestriction, "MemberJoinRestriction"),
        (P::MemberDepartRestriction, "MemberDepartRestriction"),
        (
            P::RequireSenderAuthenticationEnabled,
            "RequireSenderAuthenticationEnabled",
        ),
        (P::ManagedBy, "ManagedBy"),
    ] {
        if let Some(v) = args.get(param) {
            o.set(p, convert(dir, param, p.def().ty, v)?);
        } else if p == P::RequireSenderAuthenticationEnabled {
            o.set(p, json!(true));
        }
    }
    let mut members = Vec::new();
    for member in args.texts("Members")?.unwrap_or_default() {
        let slot = resolve(dir, &member, &any_recipient)?;
        if !members.contains(&slot) {
            members.push(slot);
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
}
