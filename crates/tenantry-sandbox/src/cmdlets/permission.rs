//! Mailbox permissions (Get-/Add-/Remove-MailboxPermission) and Send As permissions
//! (Get-/Add-/Remove-RecipientPermission).

use serde_json::{Value, json};

use super::args::*;
use super::error::*;
use super::output::CmdletOutput;
use super::resolve::{any_recipient, is_mailbox, resolve};
use crate::directory::{Directory, MailboxPermission, P, RecipientPermission};

const MAILBOX_RIGHTS: &[&str] = &[
    "FullAccess",
    "ExternalAccount",
    "DeleteItem",
    "ReadPermission",
    "ChangePermission",
    "ChangeOwner",
];
const INHERITANCE: &[&str] = &["None", "All", "Descendents", "SelfAndChildren", "Children"];

fn display_user(dir: &Directory, slot: u32) -> String {
    dir.obj(slot)
        .map(|o| match o.text(P::UserPrincipalName) {
            "" => o.name().to_string(),
            upn => upn.to_string(),
        })
        .unwrap_or_default()
}

fn mailbox_permission_object(dir: &Directory, p: &MailboxPermission) -> Value {
    json!({
        "AccessRights": p.rights,
        "Deny": p.deny,
        "InheritanceType": p.inheritance,
        "User": display_user(dir, p.user),
        "UserSid": format!("S-1-5-21-{}", 1000 + p.user),
        "Identity": dir.obj(p.mailbox).map(|o| o.name().to_string()).unwrap_or_default(),
        "IsInherited": false,
        "IsValid": true,
        "ObjectState": "Unchanged",
    })
}

pub(super) fn get_mailbox_permission(dir: &Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Identity", "User", "Owner", "ResultSize"])?;
    let identity = args.required("Get-MailboxPermission", "Identity")?;
    let mailbox = resolve(dir, &identity, &is_mailbox)?;
    let user = match args.text("User")? {
        Some(u) => Some(resolve(dir, &u, &any_recipient)?),
        None => None,
    };
    let name = dir
        .obj(mailbox)
        .map(|o| o.name().to_string())
        .unwrap_or_default();
    let mut items = Vec::new();
    if user.is_none() {
        // Every mailbox grants its own account access, as the service lists first.
        items.push(json!({
            "AccessRights": ["FullAccess", "ReadPermission"],
            "Deny": false,
            "InheritanceType": "All",
            "User": "NT AUTHORITY\\SELF",
            "UserSid": "S-1-5-10",
            "Identity": name,
            "IsInherited": false,
            "IsValid": true,
            "ObjectState": "Unchanged",
        }));
    }
    items.extend(
        dir.mailbox_permissions
            .iter()
            .filter(|p| p.mailbox == mailbox && user.is_none_or(|u| p.user == u))
            .map(|p| mailbox_permission_object(dir, p)),
    );
    Ok(limit_rendered(items, result_size(args)?))
}

fn rights_of(args: &Args, allowed: &[&str], cmdlet: &str) -> Result<Vec<String>> {
    let Some(rights) = args.texts("AccessRights")? else {
        return Err(CmdletError::powershell(
            BINDING,
            "InvalidArgument",
            format!(
                "Cannot process command because of one or more missing mandatory parameters: AccessRights. ({cmdlet})"
            ),
        ));
    };
    let mut out: Vec<String> = Vec::new();
    for right in rights.iter().flat_map(|r| r.split(',')).map(str::trim) {
        let Some(canonical) = allowed.iter().find(|a| a.eq_ignore_ascii_case(right)) else {
            return Err(cannot_convert(
                "AccessRights",
                &json!(right),
                "Microsoft.Exchange.Management.RecipientTasks.MailboxRights[]",
                &format!(
                    "Unable to match the identifier name {right} to a valid enumerator name. Specify one of the following enumerator names and try again:\n{}",
                    allowed.join(", ")
                ),
            ));
        };
        if !out.iter().any(|o| o == canonical) {
            out.push(canonical.to_string());
        }
    }
    Ok(out)
}

pub(super) fn change_mailbox_permission(
    dir: &mut Directory,
    args: &Args,
    add: bool,
) -> Result<CmdletOutput> {
    args.only(&[
        "Identity",
        "User",
        "AccessRights",
        "InheritanceType",
        "AutoMapping",
        "Deny",
    ])?;
    let cmdlet = if add {
        "Add-MailboxPermission"
    } else {
        "Remove-MailboxPermission"
    };
    let identity = args.required(cmdlet, "Identity")?;
    let user_id = args.required(cmdlet, "User")?;
    let rights = rights_of(args, MAILBOX_RIGHTS, cmdlet)?;
    let inheritance = inheritance_of(args)?;
    let deny = args.switch("Deny");
    let mailbox = resolve(dir, &identity, &is_mailbox)?;
    let user = resolve(dir, &user_id, &any_recipient)?;
    let mailbox_name = dir
        .obj(mailbox)
        .map(|o| o.name().to_string())
        .unwrap_or_default();
    let user_name = display_user(dir, user);
    let existing = dir
        .mailbox_permissions
        .iter()
        .position(|p| p.mailbox == mailbox && p.user == user && p.deny == deny);
    if add {
        let entry = MailboxPermission {
            mailbox,
            user,
            rights,
            deny,
            inheritance,
        };
        Ok(grant_mailbox_rights(
            dir,
            existing,
            entry,
            &mailbox_name,
            &user_name,
        ))
    } else {
        Ok(revoke_mailbox_rights(
            dir,
            existing,
            &rights,
            &mailbox_name,
            &user_name,
        ))
    }
}

/// `-InheritanceType`: one of [`INHERITANCE`], `All` when absent.
fn inheritance_of(args: &Args) -> Result<String> {
    Ok(match args.text("InheritanceType")? {
        None => "All".to_string(),
        Some(i) => INHERITANCE
            .iter()
            .find(|v| v.eq_ignore_ascii_case(&i))
            .map(|v| v.to_string())
            .ok_or_else(|| {
                cannot_convert(
                    "InheritanceType",
                    &json!(i),
                    "System.DirectoryServices.ActiveDirectorySecurityInheritance",
                    "Specify None, All, Descendents, SelfAndChildren or Children.",
                )
            })?,
    })
}

/// Adds `entry`'s rights to the matching entry (`existing`), or adds `entry`; warns when every
/// right is already granted.
fn grant_mailbox_rights(
    dir: &mut Directory,
    existing: Option<usize>,
    entry: MailboxPermission,
    mailbox_name: &str,
    user_name: &str,
) -> CmdletOutput {
    match existing {
        Some(i)
            if entry
                .rights
                .iter()
                .all(|r| dir.mailbox_permissions[i].rights.contains(r)) =>
        {
            CmdletOutput::warning(format!(
                "The appropriate access control entry is already present on the object \"{mailbox_name}\" for account \"{user_name}\"."
            ))
        }
        Some(i) => {
            let current = &mut dir.mailbox_permissions[i];
            for r in entry.rights {
                if !current.rights.contains(&r) {
                    current.rights.push(r);
                }
            }
            let shown = mailbox_permission_object(dir, &dir.mailbox_permissions[i]);
            dir.tick();
            CmdletOutput::changed(vec![shown])
        }
        None => {
            let shown = mailbox_permission_object(dir, &entry);
            dir.mailbox_permissions.push(entry);
            dir.tick();
            CmdletOutput::changed(vec![shown])
        }
    }
}

/// Takes `rights` from the matching entry (`existing`), dropping it when none are left; warns
/// when it holds none of them.
fn revoke_mailbox_rights(
    dir: &mut Directory,
    existing: Option<usize>,
    rights: &[String],
    mailbox_name: &str,
    user_name: &str,
) -> CmdletOutput {
    match existing {
        Some(i)
            if rights
                .iter()
                .any(|r| dir.mailbox_permissions[i].rights.contains(r)) =>
        {
            let entry = &mut dir.mailbox_permissions[i];
            entry.rights.retain(|r| !rights.contains(r));
            if entry.rights.is_empty() {
                dir.mailbox_permissions.remove(i);
            }
            dir.tick();
            CmdletOutput::changed(Vec::new())
        }
        _ => CmdletOutput::warning(format!(
            "Can't remove the access control entry on the object \"{mailbox_name}\" for account \"{user_name}\" because the ACE doesn't exist on the object."
        )),
    }
}

fn recipient_permission_object(dir: &Directory, p: &RecipientPermission) -> Value {
    json!({
        "Identity": dir.obj(p.recipient).map(|o| o.name().to_string()).unwrap_or_default(),
        "Trustee": display_user(dir, p.trustee),
        "AccessControlType": "Allow",
        "AccessRights": ["SendAs"],
        "IsInherited": false,
        "InheritanceType": "None",
    })
}

pub(super) fn get_recipient_permission(dir: &Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Identity", "Trustee", "AccessRights", "ResultSize"])?;
    let recipient = match args.text("Identity")? {
        Some(id) => Some(resolve(dir, &id, &any_recipient)?),
        None => None,
    };
    let trustee = match args.text("Trustee")? {
        Some(t) => Some(resolve(dir, &t, &any_recipient)?),
        None => None,
    };
    let items = dir
        .recipient_permissions
        .iter()
        .filter(|p| {
            recipient.is_none_or(|r| p.recipient == r) && trustee.is_none_or(|t| p.trustee == t)
        })
        .map(|p| recipient_permission_object(dir, p))
        .collect();
    Ok(limit_rendered(items, result_size(args)?))
}

pub(super) fn change_recipient_permission(
    dir: &mut Directory,
    args: &Args,
    add: bool,
) -> Result<CmdletOutput> {
    args.only(&["Identity", "Trustee", "AccessRights"])?;
    let cmdlet = if add {
        "Add-RecipientPermission"
    } else {
        "Remove-RecipientPermission"
    };
    let identity = args.required(cmdlet, "Identity")?;
    let trustee_id = args.required(cmdlet, "Trustee")?;
    rights_of(args, &["SendAs"], cmdlet)?;
    let recipient = resolve(dir, &identity, &any_recipient)?;
    let trustee = resolve(dir, &trustee_id, &any_recipient)?;
    let recipient_name = dir
        .obj(recipient)
        .map(|o| o.name().to_string())
        .unwrap_or_default();
    let trustee_name = display_user(dir, trustee);
    let existing = dir
        .recipient_permissions
        .iter()
        .position(|p| p.recipient == recipient && p.trustee == trustee);
    match (add, existing) {
        (true, Some(_)) => Ok(CmdletOutput::warning(format!(
            "The appropriate access control entry is already present on the object \"{recipient_name}\" for account \"{trustee_name}\"."
        ))),
        (true, None) => {
            let entry = RecipientPermission { recipient, trustee };
            let shown = recipient_permission_object(dir, &entry);
            dir.recipient_permissions.push(entry);
            dir.tick();
            Ok(CmdletOutput::changed(vec![shown]))
        }
        (false, Some(i)) => {
            dir.recipient_permissions.remove(i);
            dir.tick();
            Ok(CmdletOutput::changed(Vec::new()))
        }
        (false, None) => Ok(CmdletOutput::warning(format!(
            "Can't remove the access control entry on the object \"{recipient_name}\" for account \"{trustee_name}\" because the ACE doesn't exist on the object."
        ))),
    }
}

#[cfg(test)]
mod tests {
    use crate::cmdlets::testing::*;

    #[test]
    fn shared_mailboxes_and_permissions_are_created_and_granted_once() {
        let mut dir = contoso(5);
        let e = err(&mut dir, "New-Mailbox", json!({"Name": "Projects"}));
        assert!(
            e.message.starts_with("Parameter set cannot be resolved"),
            "{}",
            e.message
        );
        let created = ok(
            &mut dir,
            "New-Mailbox",
            json!({"Shared": true, "Name": "Projects", "PrimarySmtpAddress": "projects@contoso.com"}),
        );
        assert_eq!(created.value[0]["RecipientTypeDetails"], "SharedMailbox");
        assert_eq!(err(&mut dir, "New-Mailbox", json!({"Shared": true, "Name": "Projects 2", "PrimarySmtpAddress": "projects@contoso.com"})).class, PROXY_EXISTS);
        let grant = json!({"Identity": "Projects", "User": "user001", "AccessRights": "FullAccess", "InheritanceType": "All"});
        assert!(ok(&mut dir, "Add-MailboxPermission", grant.clone()).changed);
        let again = ok(&mut dir, "Add-MailboxPermission", grant);
        assert!(!again.changed && again.warnings[0].contains("already present"));
        let perms = ok(
            &mut dir,
            "Get-MailboxPermission",
            json!({"Identity": "Projects"}),
        );
        assert_eq!(perms.value.len(), 2, "SELF and user001");
        assert_eq!(perms.value[1]["User"], "user001@contoso.onmicrosoft.com");
        ok(
            &mut dir,
            "Remove-MailboxPermission",
            json!({"Identity": "Projects", "User": "user001", "AccessRights": "FullAccess"}),
        );
        assert!(
            ok(
                &mut dir,
                "Remove-MailboxPermission",
                json!({"Identity": "Projects", "User": "user001", "AccessRights": "FullAccess"})
            )
            .warnings[0]
                .contains("doesn't exist")
        );
        ok(
            &mut dir,
            "Add-RecipientPermission",
            json!({"Identity": "Projects", "Trustee": "user002", "AccessRights": "SendAs"}),
        );
        let send_as = ok(
            &mut dir,
            "Get-RecipientPermission",
            json!({"Identity": "Projects"}),
        );
        assert_eq!(send_as.value[0]["AccessRights"], json!(["SendAs"]));
    }
}
