//! The recipient cmdlets over the schema's views: Get-/Set-Mailbox, Get-/Set-User,
//! Get-/Set-CASMailbox, Get-Recipient and Get-/Set-DistributionGroup; and the naming rules
//! New-Mailbox and New-DistributionGroup share.

use serde_json::{Value, json};

use super::args::*;
use super::convert::{check_address, convert};
use super::error::*;
use super::output::{CmdletOutput, no_change};
use super::resolve::resolve;
use crate::directory::{
    CAS, Class, Directory, GRP, MAILBOX_TYPE, MBX, Obj, P, PROPS, PropDef, RCP, RECIPIENT_TYPE,
    RECIPIENT_TYPE_DETAILS, S_CAS, S_GRP, S_MBX, S_USR, Ty, USR,
};
use crate::filter::{self, Kind};
use crate::values::{is_smtp_proxy, proxy_address};

/// Which recipient cmdlet family: the view it shows, the setter it is, what it accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    Mailbox,
    User,
    Cas,
    Recipient,
    Group,
}

impl Scope {
    fn view(self) -> u8 {
        match self {
            Scope::Mailbox => MBX,
            Scope::User => USR,
            Scope::Cas => CAS,
            Scope::Recipient => RCP,
            Scope::Group => GRP,
        }
    }

    fn setter(self) -> u8 {
        match self {
            Scope::Mailbox => S_MBX,
            Scope::User => S_USR,
            Scope::Cas => S_CAS,
            Scope::Group => S_GRP,
            Scope::Recipient => 0,
        }
    }

    fn accepts(self, o: &Obj) -> bool {
        match self {
            Scope::Group => o.class == Class::Group,
            Scope::Recipient => true,
            _ => o.class == Class::Mailbox,
        }
    }
}

/// How `-Filter` compares a property of this type.
fn kind_of(ty: Ty) -> Kind {
    match ty {
        Ty::Bool | Ty::OptBool => Kind::Bool,
        Ty::Int { .. } | Ty::OptInt { .. } => Kind::Number,
        Ty::TimeSpan { .. } | Ty::OptTimeSpan { .. } | Ty::UnlimitedTimeSpan => Kind::Duration,
        Ty::Size { .. } => Kind::Size,
        Ty::DateTime => Kind::Date,
        Ty::Texts | Ty::Recipients => Kind::Texts,
        Ty::Proxies => Kind::Proxies,
        _ => Kind::Text,
    }
}

fn compile_filter(dir: &Directory, text: &str, view: u8) -> Result<filter::Filter> {
    let _ = dir;
    filter::compile(text, &|name| {
        P::find(name, view).map(|p| (p as usize, kind_of(p.def().ty)))
    })
    .map_err(|e| {
        let valid: Vec<&str> = PROPS
            .iter()
            .filter(|d| d.views & view != 0)
            .map(|d| d.name)
            .collect();
        CmdletError::powershell(
            BINDING,
            "InvalidArgument",
            format!(
                "Cannot bind parameter 'Filter' to the target. Exception setting \"Filter\": \"{}\"",
                e.message(text, &valid)
            ),
        )
    })
}

pub(super) fn get_recipients(dir: &Directory, args: &Args, scope: Scope) -> Result<CmdletOutput> {
    let mut known = vec!["Identity", "Filter", "ResultSize", "Anr", "SortBy"];
    if matches!(
        scope,
        Scope::Mailbox | Scope::User | Scope::Recipient | Scope::Group
    ) {
        known.push("RecipientTypeDetails");
    }
    if scope == Scope::Recipient {
        known.push("RecipientType");
    }
    args.only(&known)?;
    let view = scope.view();
    let size = result_size(args)?;
    let filter = match args.text("Filter")? {
        Some(text) => Some(compile_filter(dir, &text, view)?),
        None => None,
    };
    let types = enum_list(args, "RecipientTypeDetails", &RECIPIENT_TYPE_DETAILS)?;
    let recipient_types = enum_list(args, "RecipientType", &RECIPIENT_TYPE)?;
    let anr = args.text("Anr")?.map(|a| a.to_lowercase());
    let accept = |o: &Obj| -> bool {
        if !scope.accepts(o) {
            return false;
        }
        if let Some(types) = &types
            && !types
                .iter()
                .any(|t| t.eq_ignore_ascii_case(o.text(P::RecipientTypeDetails)))
        {
            return false;
        }
        if let Some(types) = &recipient_types {
            let rt = o.get(P::RecipientType, &dir.tenant);
            if !types.iter().any(|t| {
                Some(t.as_str())
                    .is_some_and(|t| rt.as_str().is_some_and(|r| r.eq_ignore_ascii_case(t)))
            }) {
                return false;
            }
        }
        if let Some(anr) = &anr {
            let hit = [
                P::Name,
                P::Alias,
                P::DisplayName,
                P::PrimarySmtpAddress,
                P::FirstName,
                P::LastName,
            ]
            .iter()
            .any(|p| o.text(*p).to_lowercase().starts_with(anr.as_str()));
            if !hit {
                return false;
            }
        }
        if let Some(f) = &filter {
            return f.matches(&|id| o.get(PROPS[id].p, &dir.tenant));
        }
        true
    };
    let slots: Vec<u32> = match args.text("Identity")? {
        Some(id) if id.contains('*') => dir.wildcard(&id, &accept),
        Some(id) => vec![resolve(dir, &id, &|o| scope.accepts(o))?]
            .into_iter()
            .filter(|s| dir.obj(*s).is_some_and(accept))
            .collect(),
        None => dir
            .live()
            .filter(|(_, o)| accept(o))
            .map(|(s, _)| s)
            .collect(),
    };
    Ok(args.render_page(dir, &slots, size, view))
}

/// Parameters of Set- cmdlets that are not properties of the view.
fn set_extras(scope: Scope) -> &'static [&'static str] {
    match scope {
        // The passwords are SecureStrings, decrypted as they are bound; the directory keeps no
        // password.
        Scope::Mailbox => &["Identity", "Type", "Password", "RoomMailboxPassword"],
        Scope::Group => &["Identity", "BypassSecurityGroupManagerCheck"],
        _ => &["Identity"],
    }
}

pub(super) fn set_recipient(
    dir: &mut Directory,
    args: &Args,
    scope: Scope,
) -> Result<CmdletOutput> {
    let cmdlet = match scope {
        Scope::Mailbox => "Set-Mailbox",
        Scope::User => "Set-User",
        Scope::Cas => "Set-CASMailbox",
        _ => "Set-DistributionGroup",
    };
    // Bind every parameter before resolving anything, as PowerShell does.
    let props = bind_set_params(args, scope)?;
    let identity = args.required(cmdlet, "Identity")?;
    let slot = resolve(dir, &identity, &|o| scope.accepts(o))?;
    let Some(current) = dir.obj(slot).cloned() else {
        return Err(not_found(dir, &identity));
    };
    let mut next = current.clone();
    for (d, v) in &props {
        let value = match (add_remove(v), d.ty) {
            (Some((add, remove)), Ty::Texts | Ty::Recipients | Ty::Proxies) => {
                edit_list(dir, d, &current, add, remove)?
            }
            (Some(_), _) => {
                return Err(cannot_convert(
                    d.name,
                    v,
                    d.ty.type_name(),
                    "Add and Remove apply to multi-valued properties only.",
                ));
            }
            (None, _) => convert(dir, d.name, d.ty, v)?,
        };
        next.set(d.p, value);
    }
    if scope == Scope::Mailbox
        && let Some(kind) = args.text("Type")?
    {
        let details = mailbox_type(&kind)?;
        next.set(P::RecipientTypeDetails, json!(details));
    }
    reconcile_addresses(dir, slot, &current, &mut next)?;
    // A new password changes the account even though the directory shows no password.
    let password_set = scope == Scope::Mailbox
        && ["Password", "RoomMailboxPassword"]
            .iter()
            .any(|p| args.get(p).is_some_and(|v| !v.is_null()));
    if next == current && !password_set {
        return Ok(no_change(current.name()));
    }
    if next != current {
        dir.replace(slot, next);
    }
    Ok(CmdletOutput::changed(Vec::new()))
}

/// Binds a Set- cmdlet's parameters to the properties its scope sets; unknown ones are refused.
fn bind_set_params(args: &Args, scope: Scope) -> Result<Vec<(&'static PropDef, Value)>> {
    let setter = scope.setter();
    let mut props = Vec::new();
    for (k, v) in args.specific() {
        if set_extras(scope).iter().any(|e| e.eq_ignore_ascii_case(k)) {
            continue;
        }
        match PROPS
            .iter()
            .find(|d| d.set & setter != 0 && d.name.eq_ignore_ascii_case(k))
        {
            Some(d) => props.push((d, v.clone())),
            None => return Err(unknown_parameter(k)),
        }
    }
    Ok(props)
}

/// A multi-valued property of `current` after an `@{Add=…; Remove=…}` edit; values compare
/// without regard to case, proxy addresses without their prefix.
fn edit_list(
    dir: &Directory,
    d: &PropDef,
    current: &Obj,
    add: Vec<Value>,
    remove: Vec<Value>,
) -> Result<Value> {
    let existing = current.get(d.p, &dir.tenant);
    let mut list: Vec<Value> = existing.as_array().cloned().unwrap_or_default();
    let add = convert(dir, d.name, d.ty, &Value::Array(add))?;
    let remove = convert(dir, d.name, d.ty, &Value::Array(remove))?;
    let same = |a: &Value, b: &Value| match (a.as_str(), b.as_str()) {
        (Some(a), Some(b)) if d.ty == Ty::Proxies => {
            proxy_address(a).eq_ignore_ascii_case(proxy_address(b))
        }
        (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
        _ => a == b,
    };
    for r in remove.as_array().into_iter().flatten() {
        list.retain(|x| !same(x, r));
    }
    for a in add.as_array().into_iter().flatten() {
        if !list.iter().any(|x| same(x, a)) {
            list.push(a.clone());
        }
    }
    Ok(Value::Array(list))
}

/// The RecipientTypeDetails Set-Mailbox -Type converts a mailbox to.
fn mailbox_type(kind: &str) -> Result<&'static str> {
    let kind = MAILBOX_TYPE.canonical(kind).ok_or_else(|| {
        cannot_convert(
            "Type",
            &json!(kind),
            MAILBOX_TYPE.type_name,
            "Specify Regular, Room, Equipment, Shared or Workspace.",
        )
    })?;
    Ok(match kind {
        "Regular" => "UserMailbox",
        "Room" => "RoomMailbox",
        "Equipment" => "EquipmentMailbox",
        "Workspace" => "WorkspaceMailbox",
        _ => "SharedMailbox",
    })
}

/// Keeps PrimarySmtpAddress, WindowsEmailAddress and EmailAddresses consistent after a Set, and
/// refuses names and addresses another recipient holds.
fn reconcile_addresses(dir: &Directory, slot: u32, current: &Obj, next: &mut Obj) -> Result<()> {
    check_renamed(dir, slot, current, next)?;
    let proxies = proxies_with_primary(dir, current, next);
    let primaries: Vec<&String> = proxies.iter().filter(|p| p.starts_with("SMTP:")).collect();
    if primaries.len() != 1 {
        return Err(CmdletError::exchange(
            VALIDATION,
            "InvalidArgument",
            "",
            format!(
                "The e-mail address list must hold exactly one primary SMTP address (\"SMTP:\"); it holds {}.",
                primaries.len()
            ),
        ));
    }
    let primary = proxy_address(primaries[0]).to_string();
    let before: Vec<String> = current.strings(P::EmailAddresses, &dir.tenant);
    check_new_proxies(dir, slot, &before, &proxies)?;
    next.set(P::EmailAddresses, json!(proxies));
    next.set(P::PrimarySmtpAddress, json!(primary));
    if next.class == Class::Mailbox && next.stored(P::WindowsEmailAddress).is_some() {
        next.set(P::WindowsEmailAddress, json!(primary));
    }
    Ok(())
}

/// Refuses a new Name or Alias that is malformed or another recipient's.
fn check_renamed(dir: &Directory, slot: u32, current: &Obj, next: &Obj) -> Result<()> {
    if next.name() != current.name() {
        check_name(next.name())?;
        if dir.name_owner(next.name(), Some(slot)).is_some() {
            return Err(name_taken(next.name()));
        }
    }
    if next.text(P::Alias) != current.text(P::Alias) {
        check_alias(next.text(P::Alias))?;
        if let Some(owner) = dir.alias_owner(next.text(P::Alias), Some(slot)) {
            return Err(proxy_in_use(dir, next.text(P::Alias), owner));
        }
    }
    Ok(())
}

/// The EmailAddresses of `next`: a new primary address (from PrimarySmtpAddress or
/// WindowsEmailAddress) becomes the `SMTP:` entry; the old primary stays as a secondary address.
fn proxies_with_primary(dir: &Directory, current: &Obj, next: &Obj) -> Vec<String> {
    let mut proxies: Vec<String> = next.strings(P::EmailAddresses, &dir.tenant);
    let new_primary = [P::PrimarySmtpAddress, P::WindowsEmailAddress]
        .into_iter()
        .map(|p| next.get(p, &dir.tenant))
        .zip([P::PrimarySmtpAddress, P::WindowsEmailAddress].map(|p| current.get(p, &dir.tenant)))
        .find(|(new, old)| new != old)
        .and_then(|(new, _)| new.as_str().map(str::to_string));
    if let Some(primary) = new_primary {
        for p in proxies.iter_mut() {
            if let Some(rest) = p.strip_prefix("SMTP:") {
                *p = format!("smtp:{rest}");
            }
        }
        proxies.retain(|p| !proxy_address(p).eq_ignore_ascii_case(&primary));
        proxies.insert(0, format!("SMTP:{primary}"));
    }
    proxies
}

/// Refuses duplicates in `proxies`, and added addresses that are malformed, outside the accepted
/// domains or another recipient's; those in `before` were already the recipient's.
fn check_new_proxies(
    dir: &Directory,
    slot: u32,
    before: &[String],
    proxies: &[String],
) -> Result<()> {
    // SMTP addresses compare without their prefix (SMTP: and smtp: are one address); other
    // types compare whole.
    let key = |p: &str| -> String {
        if is_smtp_proxy(p) {
            proxy_address(p).to_lowercase()
        } else {
            p.to_lowercase()
        }
    };
    for (i, proxy) in proxies.iter().enumerate() {
        if proxies[..i]
            .iter()
            .any(|earlier| key(earlier) == key(proxy))
        {
            return Err(CmdletError::exchange(
                VALIDATION,
                "InvalidArgument",
                "",
                format!("The address \"{proxy}\" appears more than once in EmailAddresses."),
            ));
        }
        if before.iter().any(|b| key(b) == key(proxy)) {
            continue;
        }
        if is_smtp_proxy(proxy) {
            let address = proxy_address(proxy);
            check_address(dir, "EmailAddresses", address)?;
            if let Some(owner) = dir.address_owner(address, Some(slot)) {
                return Err(proxy_in_use(dir, proxy, owner));
            }
        } else if let Some((owner, _)) = dir.live().find(|(s, o)| {
            *s != slot
                && o.strings(P::EmailAddresses, &dir.tenant)
                    .iter()
                    .any(|p| p.eq_ignore_ascii_case(proxy))
        }) {
            return Err(proxy_in_use(dir, proxy, owner));
        }
    }
    Ok(())
}

/// A Name: 1 to 64 characters.
pub(super) fn check_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || n > 64 {
        return Err(CmdletError::exchange(
            VALIDATION,
            "InvalidArgument",
            name,
            format!(
                "The length of the property is too long or too short. The maximum length is 64 and the length of the value provided is {n}. Property Name."
            ),
        ));
    }
    Ok(())
}

/// An Alias: 1 to 64 characters, letters, digits and `!#$%&'*+-/=?^_`{|}~.`, no leading,
/// trailing or doubled dot.
fn check_alias(alias: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c);
    let ok = !alias.is_empty()
        && alias.chars().count() <= 64
        && alias.chars().all(allowed)
        && !alias.starts_with('.')
        && !alias.ends_with('.')
        && !alias.contains("..");
    if ok {
        Ok(())
    } else {
        Err(CmdletError::exchange(
            VALIDATION,
            "InvalidArgument",
            alias,
            format!(
                "The alias \"{alias}\" isn't valid. An alias can contain letters, numbers and !#$%&'*+-/=?^_`{{|}}~. (not at its start or end, and not twice in a row), up to 64 characters."
            ),
        ))
    }
}

/// An alias from a name: letters, digits and a few punctuation marks, as Exchange derives it.
fn alias_from(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect::<String>()
        .to_lowercase()
}

/// The common part of New-Mailbox and New-DistributionGroup: name, alias and address, checked
/// against the directory.
pub(super) fn new_identity(
    dir: &Directory,
    args: &Args,
    cmdlet: &str,
) -> Result<(String, String, String, String)> {
    let name = args.required(cmdlet, "Name")?;
    check_name(&name)?;
    let alias = args.text("Alias")?.unwrap_or_else(|| alias_from(&name));
    check_alias(&alias)?;
    let display = args.text("DisplayName")?.unwrap_or_else(|| name.clone());
    let address = args
        .text("PrimarySmtpAddress")?
        .unwrap_or_else(|| format!("{alias}@{}", dir.default_domain()));
    if dir.name_owner(&name, None).is_some() {
        return Err(name_taken(&name));
    }
    check_address(dir, "PrimarySmtpAddress", &address)?;
    if let Some(owner) = dir.address_owner(&address, None) {
        return Err(proxy_in_use(dir, &format!("SMTP:{address}"), owner));
    }
    if let Some(owner) = dir.alias_owner(&alias, None) {
        return Err(proxy_in_use(dir, &alias, owner));
    }
    Ok((name, alias, display, address))
}

#[cfg(test)]
mod tests {
    use crate::cmdlets::testing::*;

    #[test]
    fn a_set_that_changes_nothing_warns_and_a_real_change_shows_in_get() {
        let mut dir = contoso(3);
        let out = ok(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "RetainDeletedItemsFor": "30"}),
        );
        assert!(out.changed && out.warnings.is_empty());
        let again = ok(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "RetainDeletedItemsFor": "30.00:00:00"}),
        );
        assert!(!again.changed);
        assert_eq!(
            again.warnings,
            ["The command completed successfully but no settings of 'user001' have been modified."]
        );
        let got = ok(&mut dir, "Get-Mailbox", json!({"Identity": "user001"}));
        assert_eq!(got.value[0]["RetainDeletedItemsFor"], "30.00:00:00");
        ok(
            &mut dir,
            "Set-User",
            json!({"Identity": "user001", "Title": "Helpdesk Lead", "CountryOrRegion": "NL"}),
        );
        let user = ok(&mut dir, "Get-User", json!({"Identity": "user001"}));
        assert_eq!(
            (
                user.value[0]["Title"].as_str(),
                user.value[0]["CountryOrRegion"].as_str()
            ),
            (Some("Helpdesk Lead"), Some("Netherlands"))
        );
        ok(
            &mut dir,
            "Set-CASMailbox",
            json!({"Identity": "user001", "PopEnabled": false, "ImapEnabled": false}),
        );
        let cas = ok(&mut dir, "Get-CASMailbox", json!({"Identity": "user001"}));
        assert_eq!(cas.value[0]["PopEnabled"], false);
    }

    #[test]
    fn add_and_remove_hashtables_edit_multi_valued_properties() {
        let mut dir = contoso(3);
        let table = |add: Value, remove: Value| json!({"@odata.type": "#Exchange.GenericHashTable", "add": add, "Remove": remove});
        ok(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "EmailAddresses": table(json!("smtp:alias1@contoso.com"), json!([]))}),
        );
        let addresses = ok(
            &mut dir,
            "Get-Mailbox",
            json!({"Identity": "alias1@contoso.com"}),
        )
        .value[0]["EmailAddresses"]
            .clone();
        assert_eq!(addresses.as_array().unwrap().len(), 3, "{addresses}");
        ok(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "EmailAddresses": table(json!([]), json!("alias1@contoso.com"))}),
        );
        assert_eq!(
            err(
                &mut dir,
                "Get-Mailbox",
                json!({"Identity": "alias1@contoso.com"})
            )
            .class,
            NOT_FOUND
        );
        // Another recipient's address, or a domain the tenant does not own, is refused.
        let e = err(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "EmailAddresses": table(json!("user002@contoso.com"), json!(null))}),
        );
        assert_eq!(e.class, PROXY_EXISTS);
        let e = err(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "EmailAddresses": table(json!("x@example.org"), json!(null))}),
        );
        assert!(
            e.message.contains("isn't an accepted domain"),
            "{}",
            e.message
        );
        ok(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "info", "GrantSendOnBehalfTo": table(json!(["user001", "user002"]), json!(null))}),
        );
        ok(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "info", "GrantSendOnBehalfTo": table(json!(null), json!("user001"))}),
        );
        let info = ok(&mut dir, "Get-Mailbox", json!({"Identity": "info"}));
        assert_eq!(info.value[0]["GrantSendOnBehalfTo"], json!(["user002"]));
    }

    #[test]
    fn result_size_defaults_to_1000_with_the_services_warning() {
        let mut dir = contoso(1200);
        let default = ok(&mut dir, "Get-Mailbox", json!({}));
        assert_eq!(default.value.len(), 1000);
        assert_eq!(default.warnings, [MORE_RESULTS]);
        let all = ok(&mut dir, "Get-Mailbox", json!({"ResultSize": "Unlimited"}));
        assert_eq!(
            all.value.len(),
            1204,
            "1200 users, 3 shared mailboxes, 1 room"
        );
        assert!(all.warnings.is_empty());
        assert_eq!(
            ok(&mut dir, "Get-Recipient", json!({"ResultSize": 10}))
                .value
                .len(),
            10
        );
        assert_eq!(
            err(&mut dir, "Get-Mailbox", json!({"ResultSize": "lots"})).class,
            TRANSFORMATION
        );
        let shared = ok(
            &mut dir,
            "Get-Mailbox",
            json!({"RecipientTypeDetails": "SharedMailbox"}),
        );
        assert_eq!(shared.value.len(), 3);
        assert_eq!(
            err(
                &mut dir,
                "Get-Mailbox",
                json!({"RecipientTypeDetails": "Sharedmailboxes"})
            )
            .class,
            TRANSFORMATION
        );
    }

    #[test]
    fn filters_select_and_bad_filters_are_binding_errors() {
        let mut dir = contoso(50);
        let thirty = ok(
            &mut dir,
            "Get-Mailbox",
            json!({"Filter": "RetainDeletedItemsFor -eq '30.00:00:00' -and RecipientTypeDetails -eq 'UserMailbox'", "ResultSize": "Unlimited"}),
        );
        assert!(!thirty.value.is_empty());
        assert!(
            thirty
                .value
                .iter()
                .all(|m| m["RetainDeletedItemsFor"] == "30.00:00:00")
        );
        let fourteen = ok(
            &mut dir,
            "Get-Mailbox",
            json!({"Filter": "{RetainDeletedItemsFor -ne '30.00:00:00'}", "ResultSize": "Unlimited"}),
        );
        assert_eq!(thirty.value.len() + fourteen.value.len(), 54);
        let like = ok(
            &mut dir,
            "Get-Recipient",
            json!({"Filter": "PrimarySmtpAddress -like 'user00*' -or Alias -eq 'info'"}),
        );
        assert_eq!(like.value.len(), 10);
        let e = err(
            &mut dir,
            "Get-Mailbox",
            json!({"Filter": "Colour -eq 'blue'"}),
        );
        assert_eq!(e.class, BINDING);
        assert!(
            e.message
                .starts_with("Cannot bind parameter 'Filter' to the target."),
            "{}",
            e.message
        );
        assert!(
            e.message
                .contains("\"Colour\" is not a recognized filterable property"),
            "{}",
            e.message
        );
        assert!(
            err(&mut dir, "Get-Mailbox", json!({"Filter": "Alias -eq"}))
                .message
                .contains("Invalid filter syntax")
        );
    }

    /// Whether `s` is a size as Exchange writes one: `99 GB (106,300,440,576 bytes)`.
    fn is_size(s: &str) -> bool {
        let Some((shown, bytes)) = s.split_once(" (") else {
            return false;
        };
        let unit_ok = shown.split_once(' ').is_some_and(|(n, unit)| {
            n.parse::<f64>().is_ok() && ["B", "KB", "MB", "GB", "TB"].contains(&unit)
        });
        let bytes_ok = bytes
            .strip_suffix(" bytes)")
            .is_some_and(|b| !b.is_empty() && b.chars().all(|c| c.is_ascii_digit() || c == ','));
        unit_ok && bytes_ok
    }

    /// Whether `s` is a TimeSpan as .NET writes one: `14.00:00:00`, `06:00:00`.
    fn is_timespan(s: &str) -> bool {
        let time = s.rsplit_once('.').map_or(s, |(days, time)| {
            if days.chars().all(|c| c.is_ascii_digit()) {
                time
            } else {
                ""
            }
        });
        let parts: Vec<&str> = time.split(':').collect();
        parts.len() == 3
            && parts
                .iter()
                .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_digit()))
    }

    #[test]
    fn mailbox_values_come_in_the_services_shapes() {
        let mut dir = contoso(3);
        let mbx = ok(&mut dir, "Get-Mailbox", json!({"Identity": "user001"})).value[0].clone();
        for key in [
            "ProhibitSendQuota",
            "ProhibitSendReceiveQuota",
            "IssueWarningQuota",
            "RecoverableItemsQuota",
            "ArchiveQuota",
            "MaxSendSize",
            "MaxReceiveSize",
            "RulesQuota",
        ] {
            assert!(
                mbx[key].as_str().is_some_and(is_size),
                "{key}: {}",
                mbx[key]
            );
        }
        assert_eq!(mbx["ProhibitSendQuota"], "99 GB (106,300,440,576 bytes)");
        for key in ["RetainDeletedItemsFor", "AuditLogAgeLimit"] {
            assert!(
                mbx[key].as_str().is_some_and(is_timespan),
                "{key}: {}",
                mbx[key]
            );
        }
        assert_eq!(mbx["LitigationHoldDuration"], "Unlimited");
        assert_eq!(mbx["ForwardingSmtpAddress"], Value::Null);
        assert_eq!(mbx["GrantSendOnBehalfTo"], json!([]));
        let addresses: Vec<&str> = mbx["EmailAddresses"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(addresses[0].starts_with("SMTP:"), "{addresses:?}");
        assert!(
            addresses[1..].iter().all(|a| a.starts_with("smtp:")),
            "{addresses:?}"
        );
        assert_eq!(
            addresses[0],
            format!("SMTP:{}", mbx["PrimarySmtpAddress"].as_str().unwrap())
        );

        ok(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "ProhibitSendQuota": "Unlimited", "IssueWarningQuota": "50GB", "RetainDeletedItemsFor": "7", "ForwardingSmtpAddress": "SMTP:Someone@Example.org", "GrantSendOnBehalfTo": ["user002@contoso.com", "user003"], "LitigationHoldDuration": "365"}),
        );
        let mbx = ok(&mut dir, "Get-Mailbox", json!({"Identity": "user001"})).value[0].clone();
        assert_eq!(mbx["ProhibitSendQuota"], "Unlimited");
        assert_eq!(mbx["IssueWarningQuota"], "50 GB (53,687,091,200 bytes)");
        assert_eq!(mbx["RetainDeletedItemsFor"], "7.00:00:00");
        assert_eq!(mbx["LitigationHoldDuration"], "365.00:00:00");
        assert_eq!(mbx["ForwardingSmtpAddress"], "smtp:Someone@Example.org");
        assert_eq!(mbx["GrantSendOnBehalfTo"], json!(["user002", "user003"]));
        ok(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "ForwardingSmtpAddress": null, "GrantSendOnBehalfTo": null}),
        );
        let mbx = ok(&mut dir, "Get-Mailbox", json!({"Identity": "user001"})).value[0].clone();
        assert_eq!(
            (&mbx["ForwardingSmtpAddress"], &mbx["GrantSendOnBehalfTo"]),
            (&Value::Null, &json!([]))
        );
    }
}
