//! Cmdlet errors as Exchange Online and PowerShell report them, and the ones the cmdlets share.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::directory::{Directory, Lookup};

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

    pub(super) fn exchange(
        class: &str,
        category: &'static str,
        target: &str,
        message: String,
    ) -> Self {
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

    pub(super) fn powershell(class: &str, category: &'static str, message: String) -> Self {
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

pub(super) type Result<T> = std::result::Result<T, CmdletError>;

pub(super) const BINDING: &str = "System.Management.Automation.ParameterBindingException";
pub(super) const TRANSFORMATION: &str =
    "System.Management.Automation.ParameterBindingArgumentTransformationException";
pub(super) const NOT_FOUND: &str =
    "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException";
const AMBIGUOUS: &str = "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException";
pub(super) const VALIDATION: &str = "Microsoft.Exchange.Data.DataValidationException";
pub(super) const ALREADY_EXISTS: &str =
    "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException";
pub(super) const PROXY_EXISTS: &str =
    "Microsoft.Exchange.Data.Directory.ProxyAddressExistsException";
pub(super) const MEMBER_EXISTS: &str =
    "Microsoft.Exchange.Management.Tasks.MemberAlreadyExistsException";
pub(super) const MEMBER_MISSING: &str =
    "Microsoft.Exchange.Management.Tasks.MemberNotFoundException";
pub(super) const RULE_EXISTS: &str =
    "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.RuleAlreadyExistsException";

pub(super) fn not_recognized(name: &str) -> CmdletError {
    CmdletError::powershell(
        "System.Management.Automation.CommandNotFoundException",
        "ObjectNotFound",
        format!(
            "The term '{name}' is not recognized as a name of a cmdlet, function, script file, or executable program. Check the spelling of the name, or if a path was included, verify that the path is correct and try again."
        ),
    )
}

pub(super) fn unknown_parameter(name: &str) -> CmdletError {
    CmdletError::powershell(
        BINDING,
        "InvalidArgument",
        format!("A parameter cannot be found that matches parameter name '{name}'."),
    )
}

pub(super) fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(shown).collect::<Vec<_>>().join(" "),
        Value::Object(_) => "System.Collections.Hashtable".to_string(),
        other => other.to_string(),
    }
}

pub(super) fn cannot_convert(param: &str, v: &Value, type_name: &str, detail: &str) -> CmdletError {
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

pub(super) fn out_of_range(param: &str, v: &str, low: &str, high: &str) -> CmdletError {
    CmdletError::exchange(
        VALIDATION,
        "InvalidArgument",
        "",
        format!(
            "The value \"{v}\" of property '{param}' is out of range. The value must be between {low} and {high}."
        ),
    )
}

pub(super) fn lookup_error(dir: &Directory, identity: &str, result: Lookup) -> CmdletError {
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

pub(super) fn not_found(dir: &Directory, identity: &str) -> CmdletError {
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

pub(super) fn invalid_address(param: &str, s: &str) -> CmdletError {
    CmdletError::exchange(
        VALIDATION,
        "InvalidArgument",
        "",
        format!(
            "\"{s}\" isn't a valid SMTP address for {param}. The domain name can't contain spaces and it has to have a prefix and a suffix, such as example.com."
        ),
    )
}

pub(super) fn proxy_in_use(dir: &Directory, proxy: &str, owner: u32) -> CmdletError {
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

pub(super) fn name_taken(name: &str) -> CmdletError {
    CmdletError::exchange(
        ALREADY_EXISTS,
        "NotSpecified",
        name,
        format!("The name \"{name}\" is already being used. Please try another name."),
    )
}
