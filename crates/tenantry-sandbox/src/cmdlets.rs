//! The cmdlets the sandbox runs over a tenant's [`Directory`], with Exchange Online's parameter
//! binding, value conversion, identity resolution, errors and warnings.
//!
//! Every cmdlet binds its parameters first (names case-insensitive, unknown names refused as
//! PowerShell refuses them), converts each value to the property's type, and only then touches
//! the directory, so a failed call changes nothing.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::directory::{
    CAS, Class, Directory, GRP, Lookup, MBX, MailboxPermission, Obj, P, PROPS, RCP,
    RecipientPermission, S_CAS, S_GRP, S_MBX, S_USR, Ty, USR, country, new_rule, org_param,
    rule_param,
};
use super::filter::{self, Kind};
use crate::values::{
    Quantity, format_datetime, format_size, format_timespan, is_smtp_proxy, parse_datetime,
    parse_size, parse_timespan, proxy_address,
};

/// What the caller's role allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Every cmdlet.
    Full,
    /// Only read-only verbs: Get, Test, Search, Export.
    ReadOnly,
}

/// A successful cmdlet run.
#[derive(Clone, Debug, PartialEq)]
pub struct CmdletOutput {
    /// The objects the cmdlet emitted.
    pub value: Vec<Value>,
    /// Its warnings.
    pub warnings: Vec<String>,
    /// Whether the directory changed.
    pub changed: bool,
    /// Whether more objects follow the requested [`Page`].
    pub more: bool,
    /// For a write asked to confirm (`Confirm: true`) or only to tell (`WhatIf`): what it would
    /// do, the `@adminapi.confirmationmessage`; nothing was changed.
    pub confirmation: Option<String>,
}

impl CmdletOutput {
    fn objects(value: Vec<Value>) -> Self {
        CmdletOutput {
            value,
            warnings: Vec::new(),
            changed: false,
            more: false,
            confirmation: None,
        }
    }

    fn changed(value: Vec<Value>) -> Self {
        CmdletOutput {
            changed: true,
            ..CmdletOutput::objects(value)
        }
    }

    fn warning(text: String) -> Self {
        CmdletOutput {
            warnings: vec![text],
            ..CmdletOutput::objects(Vec::new())
        }
    }
}

/// The part of a cmdlet's output wanted: objects `skip..skip + take`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Objects to pass over.
    pub skip: usize,
    /// Objects to return at most.
    pub take: usize,
}

impl Page {
    /// The whole output.
    pub const ALL: Page = Page {
        skip: 0,
        take: usize::MAX,
    };

    /// The window of `items`, and whether more follow it.
    fn cut(self, items: &[u32]) -> (&[u32], bool) {
        let start = self.skip.min(items.len());
        let end = start.saturating_add(self.take).min(items.len());
        (&items[start..end], end < items.len())
    }
}

/// A cmdlet error as Exchange Online reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CmdletError {
    /// The HTTP status: 400 for nearly everything.
    pub status: u16,
    /// The error id, e.g. `Ex6F9304`; empty for PowerShell's own errors, as the service sends.
    pub error_id: String,
    /// The full .NET exception class.
    pub class: String,
    /// The message.
    pub message: String,
    /// The PowerShell ErrorCategory, for `details[0].code`.
    pub category: &'static str,
    /// The identity involved, for `details[0].target`.
    pub target: String,
}

impl CmdletError {
    /// The short exception name, for the `X-ExceptionType` header.
    pub fn exception_type(&self) -> &str {
        self.class.rsplit('.').next().unwrap_or(&self.class)
    }

    fn exchange(class: &str, category: &'static str, target: &str, message: String) -> Self {
        // Exchange's ids are fixed per error; derive a stable one from the class, except for
        // the not-found error, whose real id is well known.
        let error_id = if class.ends_with("ManagementObjectNotFoundException") {
            "Ex6F9304".to_string()
        } else {
            let digest = Sha256::digest(class.as_bytes());
            format!("Ex{:02X}{:02X}{:02X}", digest[0], digest[1], digest[2])
        };
        CmdletError {
            status: 400,
            error_id,
            class: class.to_string(),
            message,
            category,
            target: target.to_string(),
        }
    }

    fn powershell(class: &str, category: &'static str, message: String) -> Self {
        CmdletError {
            status: 400,
            error_id: String::new(),
            class: class.to_string(),
            message,
            category,
            target: String::new(),
        }
    }
}

type Result<T> = std::result::Result<T, CmdletError>;

const BINDING: &str = "System.Management.Automation.ParameterBindingException";
const TRANSFORMATION: &str =
    "System.Management.Automation.ParameterBindingArgumentTransformationException";
const NOT_FOUND: &str = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException";
const AMBIGUOUS: &str = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException";
const VALIDATION: &str = "Microsoft.Exchange.Data.DataValidationException";
const ALREADY_EXISTS: &str = "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException";
const PROXY_EXISTS: &str = "Microsoft.Exchange.Data.Directory.ProxyAddressExistsException";
const MEMBER_EXISTS: &str = "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException";
const MEMBER_MISSING: &str = "Microsoft.Exchange.Management.Tasks.MemberNotFoundException";
const RULE_EXISTS: &str =
    "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.RuleAlreadyExistsException";
const TICKS_PER_DAY: i64 = 864_000_000_000;

/// Parameters every cmdlet accepts and the sandbox ignores (WhatIf is honoured).
const COMMON: &[&str] = &[
    "Confirm",
    "Force",
    "WarningAction",
    "ErrorAction",
    "DomainController",
    "Verbose",
    "Debug",
    "WhatIf",
    "InformationAction",
];

/// Every cmdlet the sandbox implements, sorted.
const CMDLETS: &[&str] = &[
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
    "New-DistributionGroup",
    "New-Mailbox",
    "New-TransportRule",
    "Remove-DistributionGroup",
    "Remove-DistributionGroupMember",
    "Remove-MailboxPermission",
    "Remove-RecipientPermission",
    "Remove-TransportRule",
    "Set-CASMailbox",
    "Set-DistributionGroup",
    "Set-Mailbox",
    "Set-OrganizationConfig",
    "Set-TransportRule",
    "Set-User",
];

/// Every cmdlet the sandbox implements, sorted.
pub fn known_cmdlets() -> &'static [&'static str] {
    CMDLETS
}

/// Whether the cmdlet writes (its verb is not Get, Test, Search or Export).
pub fn is_write(cmdlet: &str) -> bool {
    let verb = cmdlet.split('-').next().unwrap_or("");
    !["Get", "Test", "Search", "Export"]
        .iter()
        .any(|v| v.eq_ignore_ascii_case(verb))
}

fn not_recognized(name: &str) -> CmdletError {
    CmdletError::powershell(
        "System.Management.Automation.CommandNotFoundException",
        "ObjectNotFound",
        format!(
            "The term '{name}' is not recognized as a name of a cmdlet, function, script file, or executable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
        ),
    )
}

/// Runs one cmdlet against a tenant's directory.
pub fn invoke(
    dir: &mut Directory,
    cmdlet: &str,
    params: &Map<String, Value>,
    access: Access,
) -> Result<CmdletOutput> {
    invoke_page(dir, cmdlet, params, access, Page::ALL)
}

/// Runs one cmdlet and returns one page of its output. Reading cmdlets render only the objects
/// on the page, so paging through a large tenant costs what the pages hold.
pub fn invoke_page(
    dir: &mut Directory,
    cmdlet: &str,
    params: &Map<String, Value>,
    access: Access,
    page: Page,
) -> Result<CmdletOutput> {
    let Some(name) = CMDLETS.iter().find(|c| c.eq_ignore_ascii_case(cmdlet)) else {
        return Err(not_recognized(cmdlet));
    };
    // An RBAC session only holds the cmdlets the caller's roles allow; the rest do not exist.
    if access == Access::ReadOnly && is_write(name) {
        return Err(not_recognized(cmdlet));
    }
    let args = Args::new(params, page);
    // The module sends a ShouldProcess cmdlet with `Confirm: true` first and reads the
    // confirmation message, then sends it again with `Confirm: false`; WhatIf only tells.
    let confirm = args.switch("Confirm");
    let what_if = args.switch("WhatIf");
    if (what_if || confirm) && is_write(name) {
        // Validate as the real call would, on a copy, and report without changing anything.
        let mut copy = dir.clone();
        let target = ["Identity", "Name"]
            .iter()
            .find_map(|p| args.text(p).ok().flatten())
            .unwrap_or_default();
        return run(&mut copy, name, &args).map(|out| CmdletOutput {
            warnings: out.warnings,
            confirmation: Some(if what_if {
                format!("What if: Performing the operation \"{name}\" on target \"{target}\".")
            } else {
                format!("Are you sure you want to perform this action?\nPerforming the operation \"{name}\" on target \"{target}\".")
            }),
            ..CmdletOutput::objects(Vec::new())
        });
    }
    let mut out = run(dir, name, &args)?;
    if !args.paged.get() {
        // Cmdlets that do not page themselves return little; cut their output here.
        let start = page.skip.min(out.value.len());
        let end = start.saturating_add(page.take).min(out.value.len());
        out.more = end < out.value.len();
        out.value = out.value.drain(start..end).collect();
    }
    Ok(out)
}

fn run(dir: &mut Directory, name: &str, args: &Args) -> Result<CmdletOutput> {
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
        "Get-OrganizationConfig" => {
            args.only(&[])?;
            Ok(CmdletOutput::objects(vec![Value::Object(
                dir.organization.clone(),
            )]))
        }
        "Set-OrganizationConfig" => set_organization(dir, args),
        "Get-AcceptedDomain" => get_accepted_domains(dir, args),
        _ => Err(not_recognized(name)),
    }
}

// ---------------------------------------------------------------------------------------------
// Parameter binding

/// A cmdlet's parameters: names matched case-insensitively, `@odata.type` annotations set aside.
struct Args {
    items: Vec<(String, Value)>,
    /// The window of output wanted.
    page: Page,
    /// Set by cmdlets that applied `page` themselves.
    paged: std::cell::Cell<bool>,
}

impl Args {
    fn new(params: &Map<String, Value>, page: Page) -> Self {
        let items = params
            .iter()
            .filter(|(k, _)| !k.contains("@odata."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Args {
            items,
            page,
            paged: std::cell::Cell::new(false),
        }
    }

    /// Renders the page of `slots` (already cut to ResultSize `size`, which warns on the first
    /// page when it hid objects).
    fn render_page(
        &self,
        dir: &Directory,
        slots: &[u32],
        size: Option<usize>,
        view: u8,
    ) -> CmdletOutput {
        let limited = size.is_some_and(|n| slots.len() > n);
        let slots = match size {
            Some(n) if slots.len() > n => &slots[..n],
            _ => slots,
        };
        let (window, more) = self.page.cut(slots);
        self.paged.set(true);
        let mut out = CmdletOutput::objects(
            window
                .iter()
                .filter_map(|s| dir.obj(*s))
                .map(|o| dir.render(o, view))
                .collect(),
        );
        out.more = more;
        if limited && self.page.skip == 0 {
            out.warnings.push(MORE_RESULTS.to_string());
        }
        out
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.items
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// A switch: present and not `false`.
    fn switch(&self, name: &str) -> bool {
        match self.get(name) {
            None | Some(Value::Bool(false)) | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.eq_ignore_ascii_case("false"),
            Some(_) => true,
        }
    }

    /// Refuses any parameter not in `known` or [`COMMON`], as PowerShell's binder does.
    fn only(&self, known: &[&str]) -> Result<()> {
        for (k, _) in &self.items {
            let ok = known
                .iter()
                .chain(COMMON)
                .any(|n| n.eq_ignore_ascii_case(k));
            if !ok {
                return Err(unknown_parameter(k));
            }
        }
        Ok(())
    }

    /// The parameters that are not common ones, in the order sent.
    fn specific(&self) -> impl Iterator<Item = &(String, Value)> {
        self.items
            .iter()
            .filter(|(k, _)| !COMMON.iter().any(|c| c.eq_ignore_ascii_case(k)))
    }

    /// A mandatory string parameter.
    fn required(&self, cmdlet: &str, name: &str) -> Result<String> {
        match self.get(name) {
            Some(v) if !v.is_null() => text_of(name, v),
            _ => Err(CmdletError::powershell(
                BINDING,
                "InvalidArgument",
                format!(
                    "Cannot process command because of one or more missing mandatory parameters: {name}. ({cmdlet})"
                ),
            )),
        }
    }

    /// An optional string parameter.
    fn text(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => text_of(name, v).map(Some),
        }
    }

    /// An optional list of strings (one string, or an array).
    fn texts(&self, name: &str) -> Result<Option<Vec<String>>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| text_of(name, v))
                .collect::<Result<_>>()
                .map(Some),
            Some(v) => Ok(Some(vec![text_of(name, v)?])),
        }
    }
}

fn unknown_parameter(name: &str) -> CmdletError {
    CmdletError::powershell(
        BINDING,
        "InvalidArgument",
        format!("A parameter cannot be found that matches parameter name '{name}'."),
    )
}

fn text_of(param: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(if *b { "True" } else { "False" }.to_string()),
        other => Err(cannot_convert(param, other, "System.String", "")),
    }
}

fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(" "),
        Value::Object(_) => "System.Collections.Hashtable".to_string(),
        other => other.to_string(),
    }
}

fn cannot_convert(param: &str, v: &Value, type_name: &str, detail: &str) -> CmdletError {
    CmdletError::powershell(
        TRANSFORMATION,
        "InvalidData",
        format!(
            "Cannot process argument transformation on parameter '{param}'. Cannot convert value \"{}\" to type \"{type_name}\".{}",
            shown(v),
            if detail.is_empty() {
                String::new()
            } else {
                format!(" Error: \"{detail}\"")
            }
        ),
    )
}

fn out_of_range(param: &str, v: &str, low: &str, high: &str) -> CmdletError {
    CmdletError::exchange(
        VALIDATION,
        "InvalidArgument",
        "",
        format!(
            "The value \"{v}\" of property '{param}' is out of range. The value must be between {low} and {high}."
        ),
    )
}

/// The `@{Add=…; Remove=…}` parts of a hashtable value, or `None` for a plain value.
fn add_remove(v: &Value) -> Option<(Vec<Value>, Vec<Value>)> {
    let Value::Object(map) = v else { return None };
    let mut add = Vec::new();
    let mut remove = Vec::new();
    let mut any = false;
    for (k, v) in map {
        let list = match v {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            single => vec![single.clone()],
        };
        if k.eq_ignore_ascii_case("add") {
            add = list;
            any = true;
        } else if k.eq_ignore_ascii_case("remove") {
            remove = list;
            any = true;
        }
    }
    any.then_some((add, remove))
}

// ---------------------------------------------------------------------------------------------
// Identity resolution

fn lookup_error(dir: &Directory, identity: &str, result: Lookup) -> CmdletError {
    match result {
        Lookup::Ambiguous => CmdletError::exchange(
            AMBIGUOUS,
            "NotSpecified",
            identity,
            format!(
                "The operation couldn't be performed because '{identity}' matches multiple entries."
            ),
        ),
        _ => not_found(dir, identity),
    }
}

fn not_found(dir: &Directory, identity: &str) -> CmdletError {
    CmdletError::exchange(
        NOT_FOUND,
        "NotSpecified",
        identity,
        format!(
            "The operation couldn't be performed because object '{identity}' couldn't be found on '{}'.",
            dir.tenant.dc
        ),
    )
}

fn resolve(dir: &Directory, identity: &str, accept: &dyn Fn(&Obj) -> bool) -> Result<u32> {
    match dir.lookup(identity, accept) {
        Lookup::Found(slot) => Ok(slot),
        other => Err(lookup_error(dir, identity, other)),
    }
}

fn any_recipient(_: &Obj) -> bool {
    true
}

fn is_mailbox(o: &Obj) -> bool {
    o.class == Class::Mailbox
}

fn is_group(o: &Obj) -> bool {
    o.class == Class::Group
}

// ---------------------------------------------------------------------------------------------
// Value conversion

/// Converts a parameter value to the stored form of a property of type `ty`.
fn convert(dir: &Directory, param: &str, ty: Ty, v: &Value) -> Result<Value> {
    let text = || text_of(param, v);
    match ty {
        Ty::Text => match v {
            Value::Null => Ok(Value::Null),
            _ => {
                let s = text()?;
                Ok(if s.is_empty() {
                    Value::Null
                } else {
                    Value::String(s)
                })
            }
        },
        Ty::Bool | Ty::OptBool => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::Null if ty == Ty::OptBool => Ok(Value::Null),
            Value::Number(n) if n.as_i64().is_some() => Ok(Value::Bool(n.as_i64() != Some(0))),
            Value::String(s)
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("$true") =>
            {
                Ok(Value::Bool(true))
            }
            Value::String(s)
                if s.eq_ignore_ascii_case("false") || s.eq_ignore_ascii_case("$false") =>
            {
                Ok(Value::Bool(false))
            }
            other => Err(CmdletError::powershell(
                TRANSFORMATION,
                "InvalidData",
                format!(
                    "Cannot process argument transformation on parameter '{param}'. Cannot convert value \"{}\" to type \"{}\". Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.",
                    shown(other),
                    ty.type_name()
                ),
            )),
        },
        Ty::Int { min, max } | Ty::OptInt { min, max } => {
            let n = match v {
                Value::Null if matches!(ty, Ty::OptInt { .. }) => return Ok(Value::Null),
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.trim().parse::<i64>().ok(),
                _ => None,
            };
            let Some(n) = n else {
                return Err(cannot_convert(
                    param,
                    v,
                    ty.type_name(),
                    "Input string was not in a correct format.",
                ));
            };
            if n < min || n > max {
                return Err(out_of_range(
                    param,
                    &n.to_string(),
                    &min.to_string(),
                    &max.to_string(),
                ));
            }
            Ok(json!(n))
        }
        Ty::Enum(e) => {
            let s = text()?;
            e.canonical(&s).map(|c| json!(c)).ok_or_else(|| {
                cannot_convert(
                    param,
                    v,
                    e.type_name,
                    &format!(
                        "Unable to match the identifier name {s} to a valid enumerator name. Specify one of the following enumerator names and try again:\n{}",
                        e.values.join(", ")
                    ),
                )
            })
        }
        Ty::TimeSpan { max_days } | Ty::OptTimeSpan { max_days } => {
            if v.is_null() && matches!(ty, Ty::OptTimeSpan { .. }) {
                return Ok(Value::Null);
            }
            let s = text()?;
            let ticks = parse_timespan(&s).ok_or_else(|| {
                cannot_convert(
                    param,
                    v,
                    ty.type_name(),
                    "String was not recognized as a valid TimeSpan.",
                )
            })?;
            if ticks < 0 || ticks > max_days * TICKS_PER_DAY {
                return Err(out_of_range(
                    param,
                    &s,
                    "00:00:00",
                    &format_timespan(max_days * TICKS_PER_DAY),
                ));
            }
            Ok(json!(format_timespan(ticks)))
        }
        Ty::UnlimitedTimeSpan => {
            let s = text()?;
            if s.eq_ignore_ascii_case("unlimited") {
                return Ok(json!("Unlimited"));
            }
            let ticks = parse_timespan(&s).filter(|t| *t >= 0).ok_or_else(|| {
                cannot_convert(
                    param,
                    v,
                    ty.type_name(),
                    "String was not recognized as a valid TimeSpan.",
                )
            })?;
            Ok(json!(format_timespan(ticks)))
        }
        Ty::Size { max } => {
            let s = text()?;
            match parse_size(&s) {
                Some(Quantity::Unlimited) => Ok(json!("Unlimited")),
                Some(Quantity::Bytes(b)) if b <= max => Ok(json!(format_size(b))),
                Some(Quantity::Bytes(_)) => {
                    Err(out_of_range(param, &s, "0 B (0 bytes)", &format_size(max)))
                }
                None => Err(cannot_convert(
                    param,
                    v,
                    ty.type_name(),
                    "The value is not a size such as 50 GB or Unlimited.",
                )),
            }
        }
        Ty::DateTime => match v {
            Value::Null => Ok(Value::Null),
            _ => {
                let s = text()?;
                parse_datetime(&s)
                    .map(|secs| json!(format_datetime(secs)))
                    .ok_or_else(|| {
                        cannot_convert(
                            param,
                            v,
                            "System.DateTime",
                            "String was not recognized as a valid DateTime.",
                        )
                    })
            }
        },
        Ty::Texts => match v {
            Value::Null => Ok(json!([])),
            Value::Array(items) => Ok(Value::Array(
                items
                    .iter()
                    .map(|i| text_of(param, i).map(Value::String))
                    .collect::<Result<_>>()?,
            )),
            single => Ok(json!([text_of(param, single)?])),
        },
        Ty::Recipient => match v {
            Value::Null => Ok(Value::Null),
            _ => {
                let id = text()?;
                let slot = resolve(dir, &id, &any_recipient)?;
                Ok(json!(
                    dir.obj(slot).map(|o| o.name().to_string()).unwrap_or(id)
                ))
            }
        },
        Ty::Recipients => {
            let ids: Vec<Value> = match v {
                Value::Null => Vec::new(),
                Value::Array(items) => items.clone(),
                single => vec![single.clone()],
            };
            let mut names = Vec::new();
            for id in &ids {
                let id = text_of(param, id)?;
                let slot = resolve(dir, &id, &any_recipient)?;
                let name = json!(dir.obj(slot).map(|o| o.name().to_string()).unwrap_or(id));
                if !names.contains(&name) {
                    names.push(name);
                }
            }
            Ok(Value::Array(names))
        }
        Ty::Proxies => {
            let items: Vec<Value> = match v {
                Value::Null => Vec::new(),
                Value::Array(items) => items.clone(),
                single => vec![single.clone()],
            };
            let proxies: Vec<String> = items
                .iter()
                .map(|i| text_of(param, i).map(|s| normalize_proxy(&s)))
                .collect::<Result<_>>()?;
            Ok(json!(proxies))
        }
        Ty::Smtp => {
            let s = text()?;
            check_address(dir, param, &s)?;
            Ok(json!(s))
        }
        Ty::ForwardSmtp => match v {
            Value::Null => Ok(Value::Null),
            _ => {
                let s = text()?;
                let address = proxy_address(&s).to_string();
                if !is_address(&address) {
                    return Err(invalid_address(param, &s));
                }
                Ok(json!(format!("smtp:{address}")))
            }
        },
        Ty::Country => match v {
            Value::Null => Ok(Value::Null),
            _ => {
                let s = text()?;
                country(&s).map(|c| json!(c)).ok_or_else(|| {
                    cannot_convert(
                        param,
                        v,
                        ty.type_name(),
                        &format!("\"{s}\" isn't a valid country or region."),
                    )
                })
            }
        },
    }
}

/// `SMTP:` stays the primary marker; anything without a prefix becomes a secondary `smtp:`.
fn normalize_proxy(s: &str) -> String {
    let s = s.trim();
    match s.split_once(':') {
        Some((prefix, rest)) if !prefix.contains('@') && !prefix.is_empty() => {
            if prefix == "SMTP" {
                format!("SMTP:{rest}")
            } else if prefix.eq_ignore_ascii_case("smtp") {
                format!("smtp:{rest}")
            } else {
                s.to_string()
            }
        }
        _ => format!("smtp:{s}"),
    }
}

fn is_address(s: &str) -> bool {
    const FORBIDDEN: &[char] = &[':', ',', ';', '<', '>', '"', '(', ')', '[', ']', '\\'];
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !s.contains(FORBIDDEN)
                && s.matches('@').count() == 1
        }
        None => false,
    }
}

fn invalid_address(param: &str, s: &str) -> CmdletError {
    CmdletError::exchange(
        VALIDATION,
        "InvalidArgument",
        "",
        format!(
            "\"{s}\" isn't a valid SMTP address for {param}. The domain name can't contain spaces and it has to have a prefix and a suffix, such as example.com."
        ),
    )
}

/// An address the tenant may hand out: well-formed and in an accepted domain.
fn check_address(dir: &Directory, param: &str, address: &str) -> Result<()> {
    if !is_address(address) {
        return Err(invalid_address(param, address));
    }
    let domain = address.rsplit('@').next().unwrap_or("");
    if !dir.is_accepted_domain(domain) {
        return Err(CmdletError::exchange(
            VALIDATION,
            "InvalidArgument",
            "",
            format!(
                "The domain \"{domain}\" of the address \"{address}\" isn't an accepted domain for your organization. Use Get-AcceptedDomain to see the domains you can use."
            ),
        ));
    }
    Ok(())
}

fn proxy_in_use(dir: &Directory, proxy: &str, owner: u32) -> CmdletError {
    let name = dir
        .obj(owner)
        .map(|o| o.name().to_string())
        .unwrap_or_default();
    CmdletError::exchange(
        PROXY_EXISTS,
        "NotSpecified",
        "",
        format!(
            "The proxy address \"{proxy}\" is already being used by the proxy addresses or LegacyExchangeDN of \"{name}\". Please choose another proxy address."
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Recipients: Get-/Set-Mailbox, -User, -CASMailbox, Get-Recipient, Get-/Set-DistributionGroup

/// Which recipient cmdlet family: the view it shows, the setter it is, what it accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
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

/// A parameter taking one or more names of an enum, in canonical spelling.
fn enum_list(
    args: &Args,
    name: &str,
    e: &'static super::directory::EnumTy,
) -> Result<Option<Vec<String>>> {
    let Some(values) = args.texts(name)? else {
        return Ok(None);
    };
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| {
            e.canonical(v).map(str::to_string).ok_or_else(|| {
                cannot_convert(
                    name,
                    &json!(v.trim()),
                    e.type_name,
                    &format!(
                        "Unable to match the identifier name {} to a valid enumerator name. Specify one of the following enumerator names and try again:\n{}",
                        v.trim(),
                        e.values.join(", ")
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// `ResultSize`: a positive number or `Unlimited`; 1000 when absent, as the service defaults.
fn result_size(args: &Args) -> Result<Option<usize>> {
    match args.get("ResultSize") {
        None | Some(Value::Null) => Ok(Some(1000)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("unlimited") => Ok(None),
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            };
            // The parameter is an Unlimited<UInt32>.
            match n {
                Some(n) if n > 0 && n <= u64::from(u32::MAX) => Ok(Some(n as usize)),
                _ => Err(cannot_convert(
                    "ResultSize",
                    v,
                    "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]",
                    "The value must be a positive number or Unlimited.",
                )),
            }
        }
    }
}

/// Cuts a small, already rendered list to `ResultSize`, warning when it hid objects.
fn limit_rendered(mut items: Vec<Value>, size: Option<usize>) -> CmdletOutput {
    let mut warnings = Vec::new();
    if let Some(n) = size
        && items.len() > n
    {
        items.truncate(n);
        warnings.push(MORE_RESULTS.to_string());
    }
    CmdletOutput {
        warnings,
        ..CmdletOutput::objects(items)
    }
}

const MORE_RESULTS: &str = "There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.";

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

fn get_recipients(dir: &Directory, args: &Args, scope: Scope) -> Result<CmdletOutput> {
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
    let types = enum_list(
        args,
        "RecipientTypeDetails",
        &super::directory::RECIPIENT_TYPE_DETAILS,
    )?;
    let recipient_types = enum_list(args, "RecipientType", &super::directory::RECIPIENT_TYPE)?;
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
        Scope::Mailbox => &["Identity", "Type"],
        Scope::Group => &["Identity", "BypassSecurityGroupManagerCheck"],
        _ => &["Identity"],
    }
}

fn no_change(identity: &str) -> CmdletOutput {
    CmdletOutput::warning(format!(
        "The command completed successfully but no settings of '{identity}' have been modified."
    ))
}

fn set_recipient(dir: &mut Directory, args: &Args, scope: Scope) -> Result<CmdletOutput> {
    let cmdlet = match scope {
        Scope::Mailbox => "Set-Mailbox",
        Scope::User => "Set-User",
        Scope::Cas => "Set-CASMailbox",
        _ => "Set-DistributionGroup",
    };
    let setter = scope.setter();
    // Bind every parameter before resolving anything, as PowerShell does.
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
    let identity = args.required(cmdlet, "Identity")?;
    let slot = resolve(dir, &identity, &|o| scope.accepts(o))?;
    let Some(current) = dir.obj(slot).cloned() else {
        return Err(not_found(dir, &identity));
    };
    let mut next = current.clone();
    for (d, v) in &props {
        let value = match (add_remove(v), d.ty) {
            (Some((add, remove)), Ty::Texts | Ty::Recipients | Ty::Proxies) => {
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
                Value::Array(list)
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
        let kind = super::directory::MAILBOX_TYPE
            .canonical(&kind)
            .ok_or_else(|| {
                cannot_convert(
                    "Type",
                    &json!(kind),
                    super::directory::MAILBOX_TYPE.type_name,
                    "Specify Regular, Room, Equipment, Shared or Workspace.",
                )
            })?;
        let details = match kind {
            "Regular" => "UserMailbox",
            "Room" => "RoomMailbox",
            "Equipment" => "EquipmentMailbox",
            "Workspace" => "WorkspaceMailbox",
            _ => "SharedMailbox",
        };
        next.set(P::RecipientTypeDetails, json!(details));
    }
    reconcile_addresses(dir, slot, &current, &mut next)?;
    if next == current {
        return Ok(no_change(current.name()));
    }
    dir.replace(slot, next);
    Ok(CmdletOutput::changed(Vec::new()))
}

/// Keeps PrimarySmtpAddress, WindowsEmailAddress and EmailAddresses consistent after a Set, and
/// refuses names and addresses another recipient holds.
fn reconcile_addresses(dir: &Directory, slot: u32, current: &Obj, next: &mut Obj) -> Result<()> {
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
    let mut proxies: Vec<String> = next.strings(P::EmailAddresses, &dir.tenant);
    // A new primary address (from PrimarySmtpAddress or WindowsEmailAddress) becomes the
    // `SMTP:` entry; the old primary stays as a secondary address.
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
    next.set(P::EmailAddresses, json!(proxies));
    next.set(P::PrimarySmtpAddress, json!(primary));
    if next.class == Class::Mailbox && next.stored(P::WindowsEmailAddress).is_some() {
        next.set(P::WindowsEmailAddress, json!(primary));
    }
    Ok(())
}

/// A Name: 1 to 64 characters.
fn check_name(name: &str) -> Result<()> {
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

fn name_taken(name: &str) -> CmdletError {
    CmdletError::exchange(
        ALREADY_EXISTS,
        "NotSpecified",
        name,
        format!("The name \"{name}\" is already being used. Please try another name."),
    )
}

// ---------------------------------------------------------------------------------------------
// New-Mailbox, New-/Remove-DistributionGroup

/// An alias from a name: letters, digits and a few punctuation marks, as Exchange derives it.
fn alias_from(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect::<String>()
        .to_lowercase()
}

/// The common part of New-Mailbox and New-DistributionGroup: name, alias and address, checked
/// against the directory.
fn new_identity(
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

fn new_mailbox(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
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
        "ResetPasswordOnNextLogon",
        "ResourceCapacity",
    ])?;
    let kind = match (
        args.switch("Shared"),
        args.switch("Room"),
        args.switch("Equipment"),
    ) {
        (true, false, false) => "SharedMailbox",
        (false, true, false) => "RoomMailbox",
        (false, false, true) => "EquipmentMailbox",
        (false, false, false) if args.get("MicrosoftOnlineServicesID").is_some() => "UserMailbox",
        _ => {
            return Err(CmdletError::powershell(
                "System.Management.Automation.ParameterBindingException",
                "InvalidArgument",
                "Parameter set cannot be resolved using the specified named parameters. Use -Shared, -Room or -Equipment, or -MicrosoftOnlineServicesID with -Password for a user mailbox.".into(),
            ));
        }
    };
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

fn new_group(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
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
        Some(t) => match super::directory::GROUP_TYPE.canonical(&t) {
            Some("Security") => true,
            Some(_) => false,
            None => {
                return Err(cannot_convert(
                    "Type",
                    &json!(t),
                    super::directory::GROUP_TYPE.type_name,
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

fn remove_group(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Identity", "BypassSecurityGroupManagerCheck"])?;
    let identity = args.required("Remove-DistributionGroup", "Identity")?;
    let slot = resolve(dir, &identity, &is_group)?;
    dir.remove(slot);
    Ok(CmdletOutput::changed(Vec::new()))
}

// ---------------------------------------------------------------------------------------------
// Group membership

fn get_members(dir: &Directory, args: &Args) -> Result<CmdletOutput> {
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

fn change_member(dir: &mut Directory, args: &Args, add: bool) -> Result<CmdletOutput> {
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

// ---------------------------------------------------------------------------------------------
// Mailbox and Send As permissions

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

fn get_mailbox_permission(dir: &Directory, args: &Args) -> Result<CmdletOutput> {
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

fn change_mailbox_permission(dir: &mut Directory, args: &Args, add: bool) -> Result<CmdletOutput> {
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
    let inheritance = match args.text("InheritanceType")? {
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
    };
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
        match existing {
            Some(i)
                if rights
                    .iter()
                    .all(|r| dir.mailbox_permissions[i].rights.contains(r)) =>
            {
                Ok(CmdletOutput::warning(format!(
                    "The appropriate access control entry is already present on the object \"{mailbox_name}\" for account \"{user_name}\"."
                )))
            }
            Some(i) => {
                let entry = &mut dir.mailbox_permissions[i];
                for r in rights {
                    if !entry.rights.contains(&r) {
                        entry.rights.push(r);
                    }
                }
                let shown = mailbox_permission_object(dir, &dir.mailbox_permissions[i]);
                dir.tick();
                Ok(CmdletOutput::changed(vec![shown]))
            }
            None => {
                let entry = MailboxPermission {
                    mailbox,
                    user,
                    rights,
                    deny,
                    inheritance,
                };
                let shown = mailbox_permission_object(dir, &entry);
                dir.mailbox_permissions.push(entry);
                dir.tick();
                Ok(CmdletOutput::changed(vec![shown]))
            }
        }
    } else {
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
                Ok(CmdletOutput::changed(Vec::new()))
            }
            _ => Ok(CmdletOutput::warning(format!(
                "Can't remove the access control entry on the object \"{mailbox_name}\" for account \"{user_name}\" because the ACE doesn't exist on the object."
            ))),
        }
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

fn get_recipient_permission(dir: &Directory, args: &Args) -> Result<CmdletOutput> {
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

fn change_recipient_permission(
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

// ---------------------------------------------------------------------------------------------
// Transport rules

fn find_rule(dir: &Directory, identity: &str) -> Result<usize> {
    let hits: Vec<usize> = dir
        .transport_rules
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            ["Name", "Guid", "Identity", "DistinguishedName"]
                .iter()
                .any(|k| {
                    r.get(*k)
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.eq_ignore_ascii_case(identity.trim()))
                })
        })
        .map(|(i, _)| i)
        .collect();
    match hits.as_slice() {
        [one] => Ok(*one),
        [] => Err(not_found(dir, identity)),
        _ => Err(lookup_error(dir, identity, Lookup::Ambiguous)),
    }
}

fn get_rules(dir: &Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Identity", "State", "ResultSize"])?;
    let state =
        enum_list(args, "State", &super::directory::RULE_STATE)?.and_then(|s| s.into_iter().next());
    let rules: Vec<Value> = match args.text("Identity")? {
        Some(id) => vec![Value::Object(
            dir.transport_rules[find_rule(dir, &id)?].clone(),
        )],
        None => dir
            .transport_rules
            .iter()
            .filter(|r| {
                state.as_deref().is_none_or(|s| {
                    r.get("State")
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.eq_ignore_ascii_case(s))
                })
            })
            .map(|r| Value::Object(r.clone()))
            .collect(),
    };
    Ok(limit_rendered(rules, result_size(args)?))
}

/// Applies rule parameters to `rule`; `Priority` is returned for the caller to place the rule.
fn apply_rule_params(
    dir: &Directory,
    args: &Args,
    rule: &mut Map<String, Value>,
    skip: &[&str],
) -> Result<Option<usize>> {
    let mut priority = None;
    for (k, v) in args.specific() {
        if skip.iter().any(|s| s.eq_ignore_ascii_case(k)) {
            continue;
        }
        if k.eq_ignore_ascii_case("Enabled") {
            let enabled = convert(dir, "Enabled", Ty::Bool, v)?;
            rule.insert(
                "State".into(),
                json!(if enabled == json!(true) {
                    "Enabled"
                } else {
                    "Disabled"
                }),
            );
            continue;
        }
        let Some(p) = rule_param(k) else {
            return Err(unknown_parameter(k));
        };
        let value = convert(dir, p.name, p.ty, v)?;
        if p.name == "Priority" {
            priority = value.as_u64().map(|n| n as usize);
            continue;
        }
        let value = match (p.ty, value) {
            // An empty list clears a condition or action, as `$null` does.
            (Ty::Texts, Value::Array(items)) if items.is_empty() => Value::Null,
            (_, value) => value,
        };
        rule.insert(p.name.into(), value);
    }
    Ok(priority)
}

fn new_rule_cmdlet(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    let name = args.required("New-TransportRule", "Name")?;
    check_name(&name)?;
    // Bind and check everything before the clock or the GUID stream moves, so a failed call
    // leaves the directory exactly as it was.
    let mut probe = Map::new();
    let priority = apply_rule_params(dir, args, &mut probe, &["Name"])?;
    check_priority(priority, dir.transport_rules.len())?;
    if dir.transport_rules.iter().any(|r| {
        r.get("Name")
            .and_then(Value::as_str)
            .is_some_and(|n| n.eq_ignore_ascii_case(&name))
    }) {
        return Err(CmdletError::exchange(
            RULE_EXISTS,
            "InvalidOperation",
            &name,
            format!("Transport rule \"{name}\" already exists. Please specify a different name."),
        ));
    }
    let when = dir.tick();
    let guid = dir.new_guid();
    let mut rule = new_rule(&dir.tenant, &name, &guid, when.as_str().unwrap_or(""));
    apply_rule_params(dir, args, &mut rule, &["Name"])?;
    let at = priority.unwrap_or(dir.transport_rules.len());
    dir.transport_rules.insert(at, rule);
    dir.renumber_rules();
    Ok(CmdletOutput::changed(vec![Value::Object(
        dir.transport_rules[at].clone(),
    )]))
}

/// A rule Priority must name a place in the list (for a new rule, the end too).
fn check_priority(priority: Option<usize>, highest: usize) -> Result<()> {
    match priority {
        Some(p) if p > highest => Err(out_of_range(
            "Priority",
            &p.to_string(),
            "0",
            &highest.to_string(),
        )),
        _ => Ok(()),
    }
}

fn set_rule(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    let identity = args.required("Set-TransportRule", "Identity")?;
    // Bind first: an unknown parameter is reported even for a rule that does not exist.
    let mut probe = Map::new();
    apply_rule_params(dir, args, &mut probe, &["Identity", "Name"])?;
    let index = find_rule(dir, &identity)?;
    let before = dir.transport_rules[index].clone();
    let mut rule = before.clone();
    let priority = apply_rule_params(dir, args, &mut rule, &["Identity", "Name"])?;
    check_priority(priority, dir.transport_rules.len().saturating_sub(1))?;
    if let Some(new_name) = args.text("Name")? {
        let taken = dir.transport_rules.iter().enumerate().any(|(i, r)| {
            i != index
                && r.get("Name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(&new_name))
        });
        if taken {
            return Err(CmdletError::exchange(
                RULE_EXISTS,
                "InvalidOperation",
                &new_name,
                format!(
                    "Transport rule \"{new_name}\" already exists. Please specify a different name."
                ),
            ));
        }
        check_name(&new_name)?;
        rule.insert("Name".into(), json!(new_name));
    }
    super::directory::refresh_rule(&dir.tenant, &mut rule);
    let moved = priority.is_some_and(|p| p != index);
    if rule == before && !moved {
        return Ok(no_change(
            before
                .get("Name")
                .and_then(Value::as_str)
                .unwrap_or(&identity),
        ));
    }
    let when = dir.tick();
    rule.insert("WhenChanged".into(), when);
    dir.transport_rules.remove(index);
    let at = priority.unwrap_or(index).min(dir.transport_rules.len());
    dir.transport_rules.insert(at, rule);
    dir.renumber_rules();
    Ok(CmdletOutput::changed(Vec::new()))
}

fn remove_rule(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Identity"])?;
    let identity = args.required("Remove-TransportRule", "Identity")?;
    let index = find_rule(dir, &identity)?;
    dir.transport_rules.remove(index);
    dir.renumber_rules();
    dir.tick();
    Ok(CmdletOutput::changed(Vec::new()))
}

fn enable_rule(dir: &mut Directory, args: &Args, enable: bool) -> Result<CmdletOutput> {
    args.only(&["Identity", "Mode"])?;
    let cmdlet = if enable {
        "Enable-TransportRule"
    } else {
        "Disable-TransportRule"
    };
    let identity = args.required(cmdlet, "Identity")?;
    let index = find_rule(dir, &identity)?;
    let state = if enable { "Enabled" } else { "Disabled" };
    if dir.transport_rules[index].get("State") == Some(&json!(state)) {
        let name = dir.transport_rules[index]
            .get("Name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string();
        return Ok(no_change(&name));
    }
    let when = dir.tick();
    let rule = &mut dir.transport_rules[index];
    rule.insert("State".into(), json!(state));
    rule.insert("WhenChanged".into(), when);
    Ok(CmdletOutput::changed(Vec::new()))
}

// ---------------------------------------------------------------------------------------------
// Organization configuration and accepted domains

fn set_organization(dir: &mut Directory, args: &Args) -> Result<CmdletOutput> {
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

fn get_accepted_domains(dir: &Directory, args: &Args) -> Result<CmdletOutput> {
    args.only(&["Identity", "ResultSize"])?;
    let identity = args.text("Identity")?;
    let domains: Vec<Value> = dir
        .accepted_domains
        .iter()
        .filter(|d| {
            identity.as_deref().is_none_or(|id| {
                ["Name", "DomainName", "Guid"].iter().any(|k| {
                    d.get(*k)
                        .and_then(Value::as_str)
                        .is_some_and(|v| v.eq_ignore_ascii_case(id))
                })
            })
        })
        .map(|d| Value::Object(d.clone()))
        .collect();
    if let Some(id) = identity
        && domains.is_empty()
    {
        return Err(not_found(dir, &id));
    }
    Ok(limit_rendered(domains, result_size(args)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contoso(mailboxes: usize) -> Directory {
        Directory::generate(
            "contoso.onmicrosoft.com",
            "0550b473-1111-4c5d-8e7f-9a0b1c2d3e4f",
            mailboxes,
            1,
        )
    }

    fn run(dir: &mut Directory, cmdlet: &str, params: Value) -> Result<CmdletOutput> {
        invoke(dir, cmdlet, params.as_object().unwrap(), Access::Full)
    }

    fn ok(dir: &mut Directory, cmdlet: &str, params: Value) -> CmdletOutput {
        run(dir, cmdlet, params.clone()).unwrap_or_else(|e| panic!("{cmdlet} {params}: {e:?}"))
    }

    fn err(dir: &mut Directory, cmdlet: &str, params: Value) -> CmdletError {
        match run(dir, cmdlet, params.clone()) {
            Ok(out) => panic!("{cmdlet} {params} succeeded: {:?}", out.value),
            Err(e) => e,
        }
    }

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

    #[test]
    fn parameters_bind_as_powershell_binds_them() {
        let mut dir = contoso(3);
        let e = err(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "Colour": "blue"}),
        );
        assert_eq!((e.class.as_str(), e.error_id.as_str()), (BINDING, ""));
        assert_eq!(
            e.message,
            "A parameter cannot be found that matches parameter name 'Colour'."
        );
        let e = err(&mut dir, "Set-Mailbox", json!({"CustomAttribute1": "x"}));
        assert!(
            e.message.contains("missing mandatory parameters: Identity"),
            "{}",
            e.message
        );
        let e = err(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "LitigationHoldEnabled": "perhaps"}),
        );
        assert_eq!(e.class, TRANSFORMATION);
        assert!(
            e.message
                .contains("Boolean parameters accept only Boolean values"),
            "{}",
            e.message
        );
        let e = err(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "RetainDeletedItemsFor": "45.00:00:00"}),
        );
        assert_eq!(e.class, VALIDATION, "{}", e.message);
        let e = err(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "RetainDeletedItemsFor": "a week"}),
        );
        assert_eq!(e.class, TRANSFORMATION);
        // Common parameters and `@odata.type` annotations are accepted and ignored.
        ok(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "Confirm": false, "CustomAttribute3": "x", "CustomAttribute3@odata.type": "#String"}),
        );
    }

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

    #[test]
    fn a_read_only_role_has_no_write_cmdlets_and_unknown_cmdlets_fail_alike() {
        let mut dir = contoso(3);
        let params = json!({"Identity": "user001", "CustomAttribute1": "x"});
        let e = invoke(
            &mut dir,
            "Set-Mailbox",
            params.as_object().unwrap(),
            Access::ReadOnly,
        )
        .unwrap_err();
        assert_eq!(
            e.class,
            "System.Management.Automation.CommandNotFoundException"
        );
        assert!(
            e.message
                .starts_with("The term 'Set-Mailbox' is not recognized")
        );
        assert!(invoke(&mut dir, "Get-Mailbox", &Map::new(), Access::ReadOnly).is_ok());
        let e = err(&mut dir, "Get-Nonsense", json!({}));
        assert_eq!(e.category, "ObjectNotFound");
        assert!(
            is_write("Set-Mailbox")
                && is_write("Add-MailboxPermission")
                && !is_write("get-mailbox")
        );
    }

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

    #[test]
    fn transport_rules_are_created_changed_ordered_and_removed() {
        let mut dir = contoso(3);
        let rule = ok(
            &mut dir,
            "New-TransportRule",
            json!({"Name": "Block exe", "AttachmentHasExecutableContent": true, "RejectMessageReasonText": "No executables", "Priority": 0}),
        );
        assert_eq!(rule.value[0]["Priority"], 0);
        let rules = ok(&mut dir, "Get-TransportRule", json!({}));
        assert_eq!(rules.value.len(), 3);
        assert_eq!(
            rules.value[1]["Priority"], 1,
            "the existing rules moved down"
        );
        assert_eq!(
            err(&mut dir, "New-TransportRule", json!({"Name": "block EXE"})).class,
            RULE_EXISTS
        );
        assert!(
            ok(
                &mut dir,
                "Set-TransportRule",
                json!({"Identity": "Block exe", "Comments": "Security asked"})
            )
            .changed
        );
        let same = ok(
            &mut dir,
            "Set-TransportRule",
            json!({"Identity": "Block exe", "Comments": "Security asked"}),
        );
        assert!(!same.changed && !same.warnings.is_empty());
        assert_eq!(
            err(
                &mut dir,
                "Set-TransportRule",
                json!({"Identity": "Block exe", "Colour": 1})
            )
            .class,
            BINDING
        );
        ok(
            &mut dir,
            "Disable-TransportRule",
            json!({"Identity": "Block exe"}),
        );
        assert_eq!(
            ok(
                &mut dir,
                "Get-TransportRule",
                json!({"Identity": "Block exe"})
            )
            .value[0]["State"],
            "Disabled"
        );
        ok(
            &mut dir,
            "Remove-TransportRule",
            json!({"Identity": "Block exe"}),
        );
        assert_eq!(ok(&mut dir, "Get-TransportRule", json!({})).value.len(), 2);
    }

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

    #[test]
    fn what_if_reports_without_changing() {
        let mut dir = contoso(3);
        let before = dir.snapshot();
        let out = ok(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "CustomAttribute5": "x", "WhatIf": true}),
        );
        assert!(!out.changed);
        assert_eq!(dir.snapshot(), before);
    }
}

#[cfg(test)]
mod integrity {
    //! A failed or odd call must leave the directory consistent: addresses unique, identities
    //! unambiguous, references following renames and removals.
    use super::*;

    fn contoso() -> Directory {
        Directory::generate(
            "contoso.onmicrosoft.com",
            "0550b473-1111-4c5d-8e7f-9a0b1c2d3e4f",
            10,
            1,
        )
    }

    fn run(dir: &mut Directory, cmdlet: &str, params: Value) -> Result<CmdletOutput> {
        invoke(dir, cmdlet, params.as_object().unwrap(), Access::Full)
    }

    #[test]
    fn prefixed_or_malformed_addresses_are_refused() {
        let mut dir = contoso();
        for address in [
            "SMTP:alice@contoso.com",
            "a b@contoso.com",
            "a@b@contoso.com",
            "<a>@contoso.com",
        ] {
            let e = run(
                &mut dir,
                "Set-Mailbox",
                json!({"Identity": "user001", "PrimarySmtpAddress": address}),
            )
            .unwrap_err();
            assert_eq!(e.class, VALIDATION, "{address}");
            assert!(
                run(
                    &mut dir,
                    "New-Mailbox",
                    json!({"Shared": true, "Name": "x", "PrimarySmtpAddress": address})
                )
                .is_err()
            );
        }
    }

    #[test]
    fn a_new_mailbox_does_not_take_an_address_someone_holds() {
        let mut dir = contoso();
        let add = json!({"Identity": "user001", "EmailAddresses": {"Add": ["bob@contoso.onmicrosoft.com"]}});
        run(&mut dir, "Set-Mailbox", add).unwrap();
        run(
            &mut dir,
            "New-Mailbox",
            json!({"Name": "bob", "Shared": true, "PrimarySmtpAddress": "bob@contoso.com"}),
        )
        .unwrap();
        let owner = run(
            &mut dir,
            "Get-Mailbox",
            json!({"Identity": "bob@contoso.onmicrosoft.com"}),
        )
        .unwrap();
        assert_eq!(owner.value[0]["Alias"], "user001");
    }

    #[test]
    fn other_proxy_types_do_not_identify_a_recipient_and_duplicates_are_refused() {
        let mut dir = contoso();
        run(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user002", "EmailAddresses": {"Add": ["X500:user003"]}}),
        )
        .unwrap();
        let found = run(&mut dir, "Get-Mailbox", json!({"Identity": "user003"})).unwrap();
        assert_eq!(found.value[0]["Alias"], "user003");
        let taken = run(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user004", "EmailAddresses": {"Add": ["x500:USER003"]}}),
        );
        assert_eq!(taken.unwrap_err().class, PROXY_EXISTS);
        let twice = run(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user005", "EmailAddresses": ["SMTP:user005@contoso.onmicrosoft.com", "smtp:USER005@contoso.onmicrosoft.com"]}),
        );
        assert_eq!(twice.unwrap_err().class, VALIDATION);
    }

    #[test]
    fn references_follow_renames_and_removals() {
        let mut dir = contoso();
        run(&mut dir, "New-DistributionGroup", json!({"Name": "Temp"})).unwrap();
        run(&mut dir, "Set-Mailbox", json!({"Identity": "user008", "AcceptMessagesOnlyFrom": "Temp", "ForwardingAddress": "user009"})).unwrap();
        run(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user009", "Name": "nine"}),
        )
        .unwrap();
        let mbx = run(&mut dir, "Get-Mailbox", json!({"Identity": "user008"})).unwrap();
        assert_eq!(mbx.value[0]["ForwardingAddress"], "nine");
        run(
            &mut dir,
            "Remove-DistributionGroup",
            json!({"Identity": "Temp"}),
        )
        .unwrap();
        let mbx = run(&mut dir, "Get-Mailbox", json!({"Identity": "user008"})).unwrap();
        assert_eq!(mbx.value[0]["AcceptMessagesOnlyFrom"], json!([]));
    }

    #[test]
    fn names_and_aliases_are_validated() {
        let mut dir = contoso();
        for alias in ["", "has space", "a@b", ".dot", "dot.", "a..b"] {
            let e = run(
                &mut dir,
                "Set-Mailbox",
                json!({"Identity": "user001", "Alias": alias}),
            )
            .unwrap_err();
            assert_eq!(e.class, VALIDATION, "{alias:?}");
        }
        let long = "n".repeat(65);
        assert!(
            run(
                &mut dir,
                "Set-Mailbox",
                json!({"Identity": "user001", "Name": long})
            )
            .is_err()
        );
        assert!(run(&mut dir, "New-DistributionGroup", json!({"Name": long})).is_err());
        assert!(
            run(
                &mut dir,
                "Set-TransportRule",
                json!({"Identity": "External email tag", "Name": ""})
            )
            .is_err()
        );
        assert!(
            run(
                &mut dir,
                "New-TransportRule",
                json!({"Name": "x", "Priority": 99})
            )
            .is_err()
        );
    }

    #[test]
    fn confirm_true_describes_the_change_without_making_it() {
        let mut dir = contoso();
        let before = dir.snapshot();
        let asked = run(
            &mut dir,
            "New-DistributionGroup",
            json!({"Name": "Confirmed", "Confirm": true}),
        )
        .unwrap();
        assert!(
            asked
                .confirmation
                .unwrap()
                .contains("\"New-DistributionGroup\" on target \"Confirmed\"")
        );
        assert_eq!(dir.snapshot(), before);
        assert!(
            run(
                &mut dir,
                "New-DistributionGroup",
                json!({"Name": "Confirmed", "Confirm": false})
            )
            .unwrap()
            .changed
        );
    }

    #[test]
    fn every_get_honours_result_size() {
        let mut dir = contoso();
        let rules = run(&mut dir, "Get-TransportRule", json!({"ResultSize": 1})).unwrap();
        assert_eq!((rules.value.len(), rules.warnings.len()), (1, 1));
        assert!(
            run(
                &mut dir,
                "Get-AcceptedDomain",
                json!({"ResultSize": "garbage"})
            )
            .is_err()
        );
        assert_eq!(
            run(
                &mut dir,
                "Get-MailboxPermission",
                json!({"Identity": "info", "ResultSize": 1})
            )
            .unwrap()
            .value
            .len(),
            1
        );
    }
}
