//! Identity resolution: an `-Identity` to the one recipient it names, or the service's not-found
//! and ambiguity errors.

use super::error::{Result, lookup_error};
use crate::directory::{Class, Directory, Lookup, Obj};

pub(super) fn resolve(
    dir: &Directory,
    identity: &str,
    accept: &dyn Fn(&Obj) -> bool,
) -> Result<u32> {
    match dir.lookup(identity, accept) {
        Lookup::Found(slot) => Ok(slot),
        other => Err(lookup_error(dir, identity, other)),
    }
}

pub(super) fn any_recipient(_: &Obj) -> bool {
    true
}

pub(super) fn is_mailbox(o: &Obj) -> bool {
    o.class == Class::Mailbox
}

pub(super) fn is_group(o: &Obj) -> bool {
    o.class == Class::Group
}

#[cfg(test)]
mod tests {
    use crate::cmdlets::testing::*;

    #[test]
    fn identities_resolve_by_upn_alias_name_address_guid_and_dn() {
        let mut dir = contoso(5);
        let first = ok(&mut dir, "Get-Mailbox", json!({"Identity": "user003"})).value[0].clone();
        for key in [
            "UserPrincipalName",
            "Alias",
            "Name",
            "Guid",
            "ExchangeGuid",
            "ExternalDirectoryObjectId",
            "DistinguishedName",
            "DisplayName",
        ] {
            let id = first[key].as_str().unwrap().to_string();
            let found = ok(&mut dir, "Get-Mailbox", json!({"Identity": id}));
            assert_eq!(found.value[0]["Guid"], first["Guid"], "by {key}");
        }
        let by_proxy = ok(
            &mut dir,
            "Get-Mailbox",
            json!({"Identity": "SMTP:user003@contoso.com"}),
        );
        assert_eq!(by_proxy.value[0]["Guid"], first["Guid"]);
        let by_case = ok(
            &mut dir,
            "get-mailbox",
            json!({"identity": "USER003@CONTOSO.ONMICROSOFT.COM"}),
        );
        assert_eq!(by_case.value[0]["Guid"], first["Guid"]);
    }

    #[test]
    fn a_missing_object_fails_with_the_services_not_found_error() {
        let mut dir = contoso(3);
        let e = err(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "ghost", "CustomAttribute1": "x"}),
        );
        assert_eq!(e.error_id, "Ex6F9304");
        assert_eq!(e.class, NOT_FOUND);
        assert_eq!(e.exception_type(), "ManagementObjectNotFoundException");
        assert_eq!(
            e.message,
            format!(
                "The operation couldn't be performed because object 'ghost' couldn't be found on '{}'.",
                dir.tenant.dc
            )
        );
        assert_eq!((e.status, e.target.as_str()), (400, "ghost"));
    }
}
