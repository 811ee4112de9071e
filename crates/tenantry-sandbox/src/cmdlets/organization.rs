//! The organization configuration: Get-/Set-OrganizationConfig.

use serde_json::Value;

use super::args::*;
use super::convert::convert;
use super::error::*;
use super::output::{CmdletOutput, no_change};
use crate::directory::{Directory, org_param};

/// Get-OrganizationConfig.
pub(super) fn get_organization(dir: &Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&[])?;
    Ok(CmdletOutput::objects(vec![Value::Object(
        dir.organization.clone(),
    )]))
}

pub(super) fn set_organization(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    let mut next = dir.organization.clone();
    for (k, v) in args.specific() {
        let Some(p) = org_param(k) else {
            return Err(unknown_parameter(k));
        };
        next.insert(p.name.into(), convert(dir, p.name, p.ty, v)?);
    }
    if next == dir.organization {
        let name = dir.tenant.domain.clone();
        return Ok(no_change(&name));
    }
    next.insert("WhenChanged".into(), dir.tick());
    dir.organization = next;
    Ok(CmdletOutput::changed(Vec::new()))
}

#[cfg(test)]
mod tests {
    use crate::cmdlets::testing::*;

    #[test]
    fn organization_config_and_accepted_domains() {
        let mut dir = contoso(3);
        let org = ok(&mut dir, "Get-OrganizationConfig", json!({}));
        assert_eq!(org.value[0]["Identity"], "contoso.onmicrosoft.com");
        assert!(
            ok(
                &mut dir,
                "Set-OrganizationConfig",
                json!({"MailTipsLargeAudienceThreshold": 50})
            )
            .changed
        );
        assert!(
            !ok(
                &mut dir,
                "Set-OrganizationConfig",
                json!({"MailTipsLargeAudienceThreshold": 50})
            )
            .changed
        );
        assert_eq!(
            err(
                &mut dir,
                "Set-OrganizationConfig",
                json!({"MailTipsLargeAudienceThreshold": -1})
            )
            .class,
            VALIDATION
        );
        let domains = ok(&mut dir, "Get-AcceptedDomain", json!({}));
        assert_eq!(domains.value.len(), 2);
        assert_eq!(domains.value[0]["InitialDomain"], true);
    }
}
