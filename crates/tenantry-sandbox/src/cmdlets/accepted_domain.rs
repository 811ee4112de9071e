//! Accepted domains: Get-, New-, Set- and Remove-AcceptedDomain.
//!
//! Microsoft documents New- and Remove-AcceptedDomain for on-premises Exchange only (an Exchange
//! Online tenant gains its domains in Microsoft 365), and Set-AcceptedDomain's `-MakeDefault`
//! likewise. The sandbox offers them all, with the documented parameters, so that a tenant's
//! domains can be created, changed and removed in tests of desired state; the rest follows
//! the service: a missing domain is not found, the initial and default domains stay.

use serde_json::{Map, Value, json};

use super::args::*;
use super::convert::convert;
use super::error::*;
use super::output::{CmdletOutput, no_change};
use super::recipient::check_name;
use crate::directory::{DOMAIN_TYPE, Directory, SET_DOMAIN_TYPE, Ty, accepted_domain};

/// The Set-AcceptedDomain parameters that are properties of the same name, with their types.
/// Exchange Online documents these (MakeDefault, the on-premises switch, is handled apart).
const SET_PARAMS: &[(&str, Ty)] = &[
    ("DomainType", Ty::Enum(&SET_DOMAIN_TYPE)),
    ("MatchSubDomains", Ty::Bool),
    ("OutboundOnly", Ty::Bool),
    ("EnableNego2Authentication", Ty::Bool),
    ("SendingFromDomainDisabled", Ty::Bool),
    ("SendingToDomainDisabled", Ty::Bool),
    ("CanHaveCloudCache", Ty::Bool),
    ("MailFlowRegion", Ty::Text),
];

/// Whether `identity` names the accepted domain `d`: by Name (its Identity), DomainName, Guid or
/// DistinguishedName, in any case.
fn names(d: &Map<String, Value>, identity: &str) -> bool {
    let identity = identity.trim();
    ["Name", "DomainName", "Guid", "DistinguishedName"]
        .iter()
        .any(|k| {
            d.get(*k)
                .and_then(Value::as_str)
                .is_some_and(|v| v.eq_ignore_ascii_case(identity))
        })
}

/// The position of the one accepted domain `identity` names, or the service's not-found error.
fn find_domain(dir: &Directory, identity: &str) -> Result<usize> {
    dir.accepted_domains
        .iter()
        .position(|d| names(d, identity))
        .ok_or_else(|| not_found(dir, identity))
}

fn text<'a>(d: &'a Map<String, Value>, key: &str) -> &'a str {
    d.get(key).and_then(Value::as_str).unwrap_or("")
}

pub(super) fn get_accepted_domains(dir: &Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Identity", "ResultSize"])?;
    let domains: Vec<Value> = match args.text("Identity")? {
        Some(id) => vec![Value::Object(
            dir.accepted_domains[find_domain(dir, &id)?].clone(),
        )],
        None => dir
            .accepted_domains
            .iter()
            .map(|d| Value::Object(d.clone()))
            .collect(),
    };
    Ok(limit_rendered(domains, result_size(args)?))
}

/// A DomainName: an SMTP domain (`contoso.com`), or `*.` and one for the domain and all its
/// subdomains; at most 256 characters.
fn domain_name(v: &Value) -> Result<String> {
    let s = text_of("DomainName", v)?.trim().to_ascii_lowercase();
    let bare = s.strip_prefix("*.").unwrap_or(&s);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if s.len() <= 256 && bare.contains('.') && bare.split('.').all(label_ok) {
        Ok(s)
    } else {
        Err(cannot_convert(
            "DomainName",
            v,
            "Microsoft.Exchange.Data.SmtpDomainWithSubdomains",
            &format!(
                "\"{s}\" isn't a valid SMTP domain. Use a domain such as contoso.com, or *.contoso.com for it and its subdomains."
            ),
        ))
    }
}

/// The service's refusal of a second accepted domain with a Name or DomainName in use. The
/// class is Active Directory's for a duplicate object; the wording is a guess.
fn domain_exists(what: &str, value: &str) -> CmdletError {
    CmdletError::exchange(
        ALREADY_EXISTS,
        "NotSpecified",
        value,
        format!("An accepted domain with the {what} \"{value}\" already exists."),
    )
}

pub(super) fn new_accepted_domain(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Name", "DomainName", "DomainType"])?;
    let name = args.required("New-AcceptedDomain", "Name")?;
    check_name(&name)?;
    let domain = match args.get("DomainName") {
        Some(v) if !v.is_null() => domain_name(v)?,
        _ => {
            args.required("New-AcceptedDomain", "DomainName")?;
            String::new()
        }
    };
    let domain_type = match args.get("DomainType") {
        Some(v) => Some(convert(dir, "DomainType", Ty::Enum(&DOMAIN_TYPE), v)?),
        None => None,
    };
    if dir
        .accepted_domains
        .iter()
        .any(|d| text(d, "Name").eq_ignore_ascii_case(&name))
    {
        return Err(domain_exists("name", &name));
    }
    if dir
        .accepted_domains
        .iter()
        .any(|d| text(d, "DomainName").eq_ignore_ascii_case(&domain))
    {
        return Err(domain_exists("domain name", &domain));
    }
    let when = dir.tick();
    let guid = dir.new_guid();
    let mut created = accepted_domain(
        &dir.tenant,
        &name,
        &domain,
        &guid,
        when.as_str().unwrap_or(""),
    );
    if let Some(domain_type) = domain_type {
        created.insert("DomainType".into(), domain_type);
    }
    dir.accepted_domains.push(created.clone());
    Ok(CmdletOutput::changed(vec![Value::Object(created)]))
}

pub(super) fn set_accepted_domain(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    // Bind every parameter before looking the domain up, as PowerShell does.
    let mut values = Vec::new();
    for (k, v) in args.specific() {
        if k.eq_ignore_ascii_case("Identity") || k.eq_ignore_ascii_case("MakeDefault") {
            continue;
        }
        let Some((name, ty)) = SET_PARAMS.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)) else {
            return Err(unknown_parameter(k));
        };
        values.push((*name, convert(dir, name, *ty, v)?));
    }
    let identity = args.required("Set-AcceptedDomain", "Identity")?;
    let index = find_domain(dir, &identity)?;
    let before = dir.accepted_domains[index].clone();
    let mut next = before.clone();
    for (name, value) in values {
        next.insert(name.into(), value);
    }
    let make_default = args.switch("MakeDefault") && next.get("Default") != Some(&json!(true));
    if next == before && !make_default {
        return Ok(no_change(text(&before, "Name")));
    }
    let when = dir.tick();
    if make_default {
        // One default domain: the one made default takes the flag from the others.
        for d in dir.accepted_domains.iter_mut() {
            if d.get("Default") == Some(&json!(true)) {
                d.insert("Default".into(), json!(false));
                d.insert("WhenChanged".into(), when.clone());
                d.insert("WhenChangedUTC".into(), crate::values::to_utc(when.clone()));
            }
        }
        next.insert("Default".into(), json!(true));
    }
    next.insert("WhenChanged".into(), when.clone());
    next.insert("WhenChangedUTC".into(), crate::values::to_utc(when));
    dir.accepted_domains[index] = next;
    Ok(CmdletOutput::changed(Vec::new()))
}

pub(super) fn remove_accepted_domain(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Identity"])?;
    let identity = args.required("Remove-AcceptedDomain", "Identity")?;
    let index = find_domain(dir, &identity)?;
    let d = &dir.accepted_domains[index];
    // The tenant's own domain and the one new addresses go to cannot go; the wording is a
    // guess at the service's.
    for (flag, why) in [
        ("InitialDomain", "it is the organization's initial domain"),
        (
            "Default",
            "it is the default domain; make another domain the default first",
        ),
    ] {
        if d.get(flag) == Some(&json!(true)) {
            return Err(CmdletError::exchange(
                VALIDATION,
                "InvalidOperation",
                &identity,
                format!(
                    "The accepted domain \"{}\" can't be removed because {why}.",
                    text(d, "Name")
                ),
            ));
        }
    }
    dir.accepted_domains.remove(index);
    dir.tick();
    Ok(CmdletOutput::changed(Vec::new()))
}

#[cfg(test)]
mod tests {
    use crate::cmdlets::testing::*;

    #[test]
    fn accepted_domains_are_created_read_changed_and_removed() {
        let mut dir = contoso(3);
        let created = ok(
            &mut dir,
            "New-AcceptedDomain",
            json!({"Name": "Fabrikam", "DomainName": "Fabrikam.com", "DomainType": "internalrelay"}),
        );
        assert!(created.changed);
        let got = ok(
            &mut dir,
            "Get-AcceptedDomain",
            json!({"Identity": "Fabrikam"}),
        );
        let d = &got.value[0];
        assert_eq!(
            (
                &d["Name"],
                &d["DomainName"],
                &d["DomainType"],
                &d["Default"]
            ),
            (
                &json!("Fabrikam"),
                &json!("fabrikam.com"),
                &json!("InternalRelay"),
                &json!(false)
            )
        );
        assert_eq!(d, &created.value[0], "New- answers the object Get- reads");
        // By its domain name too, in any case.
        ok(
            &mut dir,
            "Get-AcceptedDomain",
            json!({"Identity": "FABRIKAM.COM"}),
        );
        ok(
            &mut dir,
            "Set-AcceptedDomain",
            json!({"Identity": "fabrikam.com", "DomainType": "Authoritative", "OutboundOnly": true, "MakeDefault": true}),
        );
        let got = ok(
            &mut dir,
            "Get-AcceptedDomain",
            json!({"Identity": "Fabrikam"}),
        );
        let d = &got.value[0];
        assert_eq!(
            (&d["DomainType"], &d["OutboundOnly"], &d["Default"]),
            (&json!("Authoritative"), &json!(true), &json!(true))
        );
        let defaults = ok(&mut dir, "Get-AcceptedDomain", json!({}))
            .value
            .iter()
            .filter(|d| d["Default"] == true)
            .count();
        assert_eq!(defaults, 1, "one default domain");
        // New recipients take their address in the default domain.
        let group = ok(&mut dir, "New-DistributionGroup", json!({"Name": "Sales"}));
        assert_eq!(group.value[0]["PrimarySmtpAddress"], "sales@fabrikam.com");
        let same = ok(
            &mut dir,
            "Set-AcceptedDomain",
            json!({"Identity": "Fabrikam", "OutboundOnly": true}),
        );
        assert!(!same.changed && !same.warnings.is_empty());
        // The default domain cannot go; after another is made default, it can.
        assert_eq!(
            err(
                &mut dir,
                "Remove-AcceptedDomain",
                json!({"Identity": "Fabrikam"})
            )
            .class,
            VALIDATION
        );
        ok(
            &mut dir,
            "Set-AcceptedDomain",
            json!({"Identity": "contoso.com", "MakeDefault": true}),
        );
        ok(
            &mut dir,
            "Remove-AcceptedDomain",
            json!({"Identity": "Fabrikam"}),
        );
        let e = err(
            &mut dir,
            "Get-AcceptedDomain",
            json!({"Identity": "Fabrikam"}),
        );
        assert_eq!(
            (e.class.as_str(), e.error_id.as_str()),
            (NOT_FOUND, "Ex6F9304")
        );
        assert_eq!(
            e.message,
            format!(
                "The operation couldn't be performed because object 'Fabrikam' couldn't be found on '{}'.",
                dir.tenant.dc
            )
        );
    }

    #[test]
    fn accepted_domain_errors_are_the_services() {
        let mut dir = contoso(3);
        for (params, class) in [
            // The same name, or the same domain under another name.
            (
                json!({"Name": "contoso.com", "DomainName": "other.com"}),
                ALREADY_EXISTS,
            ),
            (
                json!({"Name": "Other", "DomainName": "CONTOSO.com"}),
                ALREADY_EXISTS,
            ),
            (
                json!({"Name": "Bad", "DomainName": "not a domain"}),
                TRANSFORMATION,
            ),
            (
                json!({"Name": "Bad", "DomainName": "domain.*.contoso.com"}),
                TRANSFORMATION,
            ),
            (
                json!({"Name": "Bad", "DomainName": "bad.com", "DomainType": "Sideways"}),
                TRANSFORMATION,
            ),
            (json!({"Name": "Bad"}), BINDING),
            (
                json!({"Name": "Bad", "DomainName": "bad.com", "MakeDefault": true}),
                BINDING,
            ),
        ] {
            assert_eq!(
                err(&mut dir, "New-AcceptedDomain", params.clone()).class,
                class,
                "{params}"
            );
        }
        let wildcard = ok(
            &mut dir,
            "New-AcceptedDomain",
            json!({"Name": "Subs", "DomainName": "*.contoso.net"}),
        );
        assert_eq!(wildcard.value[0]["MatchSubDomains"], true);
        for (cmdlet, params) in [
            (
                "Set-AcceptedDomain",
                json!({"Identity": "ghost.com", "OutboundOnly": true}),
            ),
            ("Remove-AcceptedDomain", json!({"Identity": "ghost.com"})),
        ] {
            assert_eq!(err(&mut dir, cmdlet, params).class, NOT_FOUND);
        }
        // Exchange Online documents two domain types for Set-AcceptedDomain.
        assert_eq!(
            err(
                &mut dir,
                "Set-AcceptedDomain",
                json!({"Identity": "Subs", "DomainType": "ExternalRelay"})
            )
            .class,
            TRANSFORMATION
        );
        assert_eq!(
            err(
                &mut dir,
                "Set-AcceptedDomain",
                json!({"Identity": "Subs", "Colour": "blue"})
            )
            .class,
            BINDING
        );
        let e = err(
            &mut dir,
            "Remove-AcceptedDomain",
            json!({"Identity": "contoso.onmicrosoft.com"}),
        );
        assert!(e.message.contains("initial domain"), "{}", e.message);
    }
}
