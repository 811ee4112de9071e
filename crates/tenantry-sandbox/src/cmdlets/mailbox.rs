//! New-Mailbox: shared, room, equipment and user mailboxes.

use serde_json::{Value, json};

use super::args::Args;
use super::convert::{check_address, convert};
use super::error::*;
use super::output::CmdletOutput;
use super::recipient::new_identity;
use crate::directory::{Class, Directory, MBX, Obj, P};

pub(super) fn new_mailbox(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&[
        "Name",
        "Alias",
        "DisplayName",
        "PrimarySmtpAddress",
        "Shared",
        "Room",
        "Equipment",
        "FirstName",
        "LastName",
        "MicrosoftOnlineServicesID",
        "Password",
        "RoomMailboxPassword",
        "EnableRoomMailboxAccount",
        "ResetPasswordOnNextLogon",
        "ResourceCapacity",
    ])?;
    let kind = mailbox_kind(args)?;
    let (name, alias, display, address) = new_identity(dir, args, "New-Mailbox")?;
    let upn = match args.text("MicrosoftOnlineServicesID")? {
        Some(upn) => {
            check_address(dir, "MicrosoftOnlineServicesID", &upn)?;
            if dir.address_owner(&upn, None).is_some() {
                return Err(proxy_in_use(
                    dir,
                    &upn,
                    dir.address_owner(&upn, None).unwrap_or(0),
                ));
            }
            upn
        }
        None => address.clone(),
    };
    let mut o = Obj::new(Class::Mailbox);
    o.set(P::Name, json!(name));
    o.set(P::Alias, json!(alias));
    o.set(P::DisplayName, json!(display));
    o.set(P::UserPrincipalName, json!(upn));
    o.set(P::PrimarySmtpAddress, json!(address));
    let mut proxies = vec![format!("SMTP:{address}")];
    let initial = format!("{alias}@{}", dir.tenant.domain);
    // The routing address on the initial domain, unless someone already has it.
    if !initial.eq_ignore_ascii_case(&address) && dir.address_owner(&initial, None).is_none() {
        proxies.push(format!("smtp:{initial}"));
    }
    o.set(P::EmailAddresses, json!(proxies));
    o.set(P::RecipientTypeDetails, json!(kind));
    for (p, param) in [(P::FirstName, "FirstName"), (P::LastName, "LastName")] {
        if let Some(v) = args.text(param)? {
            o.set(p, json!(v));
        }
    }
    if let Some(v) = args.get("ResourceCapacity") {
        o.set(
            P::ResourceCapacity,
            convert(dir, "ResourceCapacity", P::ResourceCapacity.def().ty, v)?,
        );
    }
    o.set(P::Guid, json!(dir.new_guid()));
    o.set(P::ExchangeGuid, json!(dir.new_guid()));
    o.set(P::ExternalDirectoryObjectId, json!(dir.new_guid()));
    let slot = dir.insert(o);
    let shown = dir
        .obj(slot)
        .map(|o| dir.render(o, MBX))
        .unwrap_or(Value::Null);
    Ok(CmdletOutput::changed(vec![shown]))
}

/// The kind of mailbox the switches ask for: `-Shared`, `-Room`, `-Equipment`, or a user mailbox
/// with `-MicrosoftOnlineServicesID`.
fn mailbox_kind(args: &Args) -> Result<&'static str> {
    match (
        args.switch("Shared"),
        args.switch("Room"),
        args.switch("Equipment"),
    ) {
        (true, false, false) => Ok("SharedMailbox"),
        (false, true, false) => Ok("RoomMailbox"),
        (false, false, true) => Ok("EquipmentMailbox"),
        (false, false, false) if args.get("MicrosoftOnlineServicesID").is_some() => {
            Ok("UserMailbox")
        }
        _ => Err(CmdletError::powershell(
            "System.Management.Automation.ParameterBindingException",
            "InvalidArgument",
            "Parameter set cannot be resolved using the specified named parameters. Use -Shared, -Room or -Equipment, or -MicrosoftOnlineServicesID with -Password for a user mailbox.".into(),
        )),
    }
}
