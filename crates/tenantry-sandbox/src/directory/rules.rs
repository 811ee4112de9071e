//! Transport rules, kept as ready-made JSON objects: the parameters New-TransportRule and
//! Set-TransportRule take (`RULE_PARAMS`), a new rule's defaults, and the properties derived from
//! the others (Conditions, Exceptions, Actions, Description).

use serde_json::{Map, Value, json};

use super::schema::{BOOL, DATE, QUOTA, TEXT, TEXTS};
use super::tenant::{Tenant, escape_rdn};
use super::types::*;

/// Where a transport rule parameter goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// A condition (listed under Conditions).
    Condition,
    /// An exception (listed under Exceptions).
    Exception,
    /// An action (listed under Actions).
    Action,
    /// A setting of the rule itself, or a value that completes another parameter.
    Setting,
}

/// A parameter of New-TransportRule and Set-TransportRule, which is also a property of the rule.
#[derive(Debug)]
pub(crate) struct RuleParam {
    /// The parameter and property name.
    pub(crate) name: &'static str,
    /// Its type.
    pub(crate) ty: Ty,
    /// Condition, exception, action or setting.
    pub(crate) role: Role,
    /// The predicate or action class (short name) listed in Conditions, Exceptions or Actions.
    pub(crate) class: &'static str,
    /// The rule description's line for it; `{}` is the value.
    pub(crate) text: &'static str,
}

const fn rp(
    name: &'static str,
    ty: Ty,
    role: Role,
    class: &'static str,
    text: &'static str,
) -> RuleParam {
    RuleParam {
        name,
        ty,
        role,
        class,
        text,
    }
}

/// The transport rule parameters the sandbox knows (Name and Enabled are handled by the
/// cmdlets), in the order Get-TransportRule lists them.
pub(crate) static RULE_PARAMS: &[RuleParam] = &[
    rp("Comments", TEXT, Role::Setting, "", ""),
    rp(
        "Priority",
        Ty::Int {
            min: 0,
            max: 2_147_483_647,
        },
        Role::Setting,
        "",
        "",
    ),
    rp("Mode", Ty::Enum(&RULE_MODE), Role::Setting, "", ""),
    rp("ActivationDate", DATE, Role::Setting, "", ""),
    rp("ExpiryDate", DATE, Role::Setting, "", ""),
    rp(
        "RuleErrorAction",
        Ty::Enum(&RULE_ERROR_ACTION),
        Role::Setting,
        "",
        "",
    ),
    rp(
        "SenderAddressLocation",
        Ty::Enum(&SENDER_ADDRESS_LOCATION),
        Role::Setting,
        "",
        "",
    ),
    rp(
        "From",
        TEXTS,
        Role::Condition,
        "FromPredicate",
        "Is received from '{}'",
    ),
    rp(
        "FromMemberOf",
        TEXTS,
        Role::Condition,
        "FromMemberOfPredicate",
        "Is received from a member of group '{}'",
    ),
    rp(
        "FromScope",
        Ty::Enum(&FROM_SCOPE),
        Role::Condition,
        "FromScopePredicate",
        "Is received from '{}'",
    ),
    rp(
        "SentTo",
        TEXTS,
        Role::Condition,
        "SentToPredicate",
        "Is sent to '{}'",
    ),
    rp(
        "SentToMemberOf",
        TEXTS,
        Role::Condition,
        "SentToMemberOfPredicate",
        "Is sent to a member of group '{}'",
    ),
    rp(
        "SentToScope",
        Ty::Enum(&TO_SCOPE),
        Role::Condition,
        "SentToScopePredicate",
        "Is sent to '{}'",
    ),
    rp(
        "SenderDomainIs",
        TEXTS,
        Role::Condition,
        "SenderDomainIsPredicate",
        "Sender's address domain portion belongs to any of these domains: '{}'",
    ),
    rp(
        "RecipientDomainIs",
        TEXTS,
        Role::Condition,
        "RecipientDomainIsPredicate",
        "Recipient's address domain portion belongs to any of these domains: '{}'",
    ),
    rp(
        "SubjectContainsWords",
        TEXTS,
        Role::Condition,
        "SubjectContainsPredicate",
        "Includes these words in the message subject: '{}'",
    ),
    rp(
        "SubjectOrBodyContainsWords",
        TEXTS,
        Role::Condition,
        "SubjectOrBodyContainsPredicate",
        "Includes these words in the message subject or body: '{}'",
    ),
    rp(
        "FromAddressContainsWords",
        TEXTS,
        Role::Condition,
        "FromAddressContainsPredicate",
        "Includes these words in the sender's address: '{}'",
    ),
    rp(
        "AttachmentSizeOver",
        QUOTA,
        Role::Condition,
        "AttachmentSizeOverPredicate",
        "Size of any attachment is greater than or equal to '{}'",
    ),
    rp(
        "MessageSizeOver",
        QUOTA,
        Role::Condition,
        "MessageSizeOverPredicate",
        "Message size is greater than or equal to '{}'",
    ),
    rp(
        "AttachmentHasExecutableContent",
        BOOL,
        Role::Condition,
        "AttachmentHasExecutableContentPredicate",
        "Any attachment has executable content",
    ),
    rp(
        "ExceptIfFrom",
        TEXTS,
        Role::Exception,
        "FromPredicate",
        "Is received from '{}'",
    ),
    rp(
        "ExceptIfFromMemberOf",
        TEXTS,
        Role::Exception,
        "FromMemberOfPredicate",
        "Is received from a member of group '{}'",
    ),
    rp(
        "ExceptIfFromScope",
        Ty::Enum(&FROM_SCOPE),
        Role::Exception,
        "FromScopePredicate",
        "Is received from '{}'",
    ),
    rp(
        "ExceptIfSentTo",
        TEXTS,
        Role::Exception,
        "SentToPredicate",
        "Is sent to '{}'",
    ),
    rp(
        "ExceptIfSentToMemberOf",
        TEXTS,
        Role::Exception,
        "SentToMemberOfPredicate",
        "Is sent to a member of group '{}'",
    ),
    rp(
        "ExceptIfSentToScope",
        Ty::Enum(&TO_SCOPE),
        Role::Exception,
        "SentToScopePredicate",
        "Is sent to '{}'",
    ),
    rp(
        "ExceptIfSenderDomainIs",
        TEXTS,
        Role::Exception,
        "SenderDomainIsPredicate",
        "Sender's address domain portion belongs to any of these domains: '{}'",
    ),
    rp(
        "ExceptIfRecipientDomainIs",
        TEXTS,
        Role::Exception,
        "RecipientDomainIsPredicate",
        "Recipient's address domain portion belongs to any of these domains: '{}'",
    ),
    rp(
        "ExceptIfSubjectContainsWords",
        TEXTS,
        Role::Exception,
        "SubjectContainsPredicate",
        "Includes these words in the message subject: '{}'",
    ),
    rp(
        "ExceptIfSubjectOrBodyContainsWords",
        TEXTS,
        Role::Exception,
        "SubjectOrBodyContainsPredicate",
        "Includes these words in the message subject or body: '{}'",
    ),
    rp(
        "PrependSubject",
        TEXT,
        Role::Action,
        "PrependSubjectAction",
        "Prepend the subject with '{}'",
    ),
    rp(
        "SetHeaderName",
        TEXT,
        Role::Action,
        "SetHeaderAction",
        "Set message header '{}' with the value '{SetHeaderValue}'",
    ),
    rp("SetHeaderValue", TEXT, Role::Setting, "", ""),
    rp(
        "RemoveHeader",
        TEXT,
        Role::Action,
        "RemoveHeaderAction",
        "Remove the message header '{}'",
    ),
    rp(
        "ApplyHtmlDisclaimerText",
        TEXT,
        Role::Action,
        "ApplyHtmlDisclaimerAction",
        "{ApplyHtmlDisclaimerLocation} the disclaimer '{}' to the message. If the disclaimer can't be inserted, {ApplyHtmlDisclaimerFallbackAction} the message",
    ),
    rp(
        "ApplyHtmlDisclaimerLocation",
        Ty::Enum(&DISCLAIMER_LOCATION),
        Role::Setting,
        "",
        "",
    ),
    rp(
        "ApplyHtmlDisclaimerFallbackAction",
        Ty::Enum(&DISCLAIMER_FALLBACK),
        Role::Setting,
        "",
        "",
    ),
    rp(
        "AddToRecipients",
        TEXTS,
        Role::Action,
        "AddToRecipientsAction",
        "Add the recipients '{}' to the To box",
    ),
    rp(
        "CopyTo",
        TEXTS,
        Role::Action,
        "CopyToAction",
        "Add the recipients '{}' to the Cc box",
    ),
    rp(
        "BlindCopyTo",
        TEXTS,
        Role::Action,
        "BlindCopyToAction",
        "Add the recipients '{}' to the Bcc box",
    ),
    rp(
        "RedirectMessageTo",
        TEXTS,
        Role::Action,
        "RedirectMessageAction",
        "Redirect the message to '{}'",
    ),
    rp(
        "ModerateMessageByUser",
        TEXTS,
        Role::Action,
        "ModerateMessageByUserAction",
        "Forward the message for approval to '{}'",
    ),
    rp(
        "RejectMessageReasonText",
        TEXT,
        Role::Action,
        "RejectMessageAction",
        "Reject the message with the explanation '{}'",
    ),
    rp(
        "RejectMessageEnhancedStatusCode",
        TEXT,
        Role::Setting,
        "",
        "",
    ),
    rp(
        "DeleteMessage",
        BOOL,
        Role::Action,
        "DeleteMessageAction",
        "Delete the message without notifying anyone",
    ),
    rp(
        "Quarantine",
        BOOL,
        Role::Action,
        "QuarantineAction",
        "Deliver the message to the hosted quarantine",
    ),
    rp(
        "SetSCL",
        Ty::Int { min: -1, max: 9 },
        Role::Action,
        "SetSclAction",
        "Set the spam confidence level (SCL) to '{}'",
    ),
    rp(
        "SetAuditSeverity",
        Ty::Enum(&AUDIT_SEVERITY),
        Role::Action,
        "SetAuditSeverityAction",
        "Set audit severity level to '{}'",
    ),
    rp(
        "StopRuleProcessing",
        BOOL,
        Role::Action,
        "StopRuleProcessingAction",
        "Stop processing more rules",
    ),
];

/// The rule parameter named `name`, case-insensitively.
pub(crate) fn rule_param(name: &str) -> Option<&'static RuleParam> {
    RULE_PARAMS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Whether a rule property holds something (a condition or action counts only when it does).
fn is_set(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    }
}

/// A new transport rule object with every property at its default.
pub(crate) fn new_rule(t: &Tenant, name: &str, guid: &str, when: &str) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("Priority".into(), json!(0));
    m.insert("DlpPolicy".into(), Value::Null);
    m.insert(
        "DlpPolicyId".into(),
        json!("00000000-0000-0000-0000-000000000000"),
    );
    m.insert("Comments".into(), Value::Null);
    m.insert("ManuallyModified".into(), json!(false));
    m.insert("ActivationDate".into(), Value::Null);
    m.insert("ExpiryDate".into(), Value::Null);
    m.insert("Description".into(), json!(""));
    m.insert("RuleVersion".into(), json!("15.0.5.2"));
    m.insert("Conditions".into(), Value::Null);
    m.insert("Exceptions".into(), Value::Null);
    m.insert("Actions".into(), Value::Null);
    m.insert("State".into(), json!("Enabled"));
    m.insert("Mode".into(), json!("Enforce"));
    m.insert("RuleErrorAction".into(), json!("Ignore"));
    m.insert("SenderAddressLocation".into(), json!("Header"));
    m.insert("RuleSubType".into(), json!("None"));
    m.insert("UseLegacyRegex".into(), json!(false));
    for p in RULE_PARAMS {
        if !m.contains_key(p.name) {
            let v = if p.ty == BOOL {
                json!(false)
            } else {
                Value::Null
            };
            m.insert(p.name.into(), v);
        }
    }
    m.insert("Identity".into(), json!(name));
    m.insert("Name".into(), json!(name));
    m.insert("DistinguishedName".into(), Value::Null);
    m.insert("Guid".into(), json!(guid));
    m.insert("ImmutableId".into(), json!(guid));
    m.insert("OrganizationId".into(), json!(t.organization_id()));
    m.insert("IsValid".into(), json!(true));
    m.insert("WhenChanged".into(), json!(when));
    m.insert("ObjectState".into(), json!("Unchanged"));
    refresh_rule(t, &mut m);
    m
}

/// Recomputes a rule's derived properties (Identity, DistinguishedName, Conditions, Exceptions,
/// Actions, Description) from the others.
pub(crate) fn refresh_rule(t: &Tenant, rule: &mut Map<String, Value>) {
    let name = rule
        .get("Name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut lists: [(Role, Vec<Value>, Vec<String>); 3] = [
        (Role::Condition, Vec::new(), Vec::new()),
        (Role::Action, Vec::new(), Vec::new()),
        (Role::Exception, Vec::new(), Vec::new()),
    ];
    for p in RULE_PARAMS.iter().filter(|p| p.role != Role::Setting) {
        let v = rule.get(p.name).cloned().unwrap_or(Value::Null);
        if !is_set(&v) {
            continue;
        }
        let Some(slot) = lists.iter_mut().find(|(role, _, _)| *role == p.role) else {
            continue;
        };
        slot.1.push(json!(format!(
            "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.{}",
            p.class
        )));
        slot.2.push(describe(rule, p, &v));
    }
    let mut description = String::new();
    for (role, _, lines) in &lists {
        if lines.is_empty() && *role != Role::Action {
            continue;
        }
        description.push_str(match role {
            Role::Condition => "If the message:\r\n",
            Role::Action => "Take the following actions:\r\n",
            _ => "Except if the message:\r\n",
        });
        for line in lines {
            description.push('\t');
            description.push_str(line);
            description.push_str("\r\n");
        }
    }
    let [(_, conditions, _), (_, actions, _), (_, exceptions, _)] = lists;
    let or_null = |v: Vec<Value>| {
        if v.is_empty() {
            Value::Null
        } else {
            Value::Array(v)
        }
    };
    rule.insert("Description".into(), Value::String(description));
    rule.insert("Conditions".into(), or_null(conditions));
    rule.insert("Exceptions".into(), or_null(exceptions));
    rule.insert("Actions".into(), or_null(actions));
    rule.insert("Identity".into(), Value::String(name.clone()));
    rule.insert(
        "DistinguishedName".into(),
        Value::String(format!(
            "CN={},CN=TransportVersioned,CN=Rules,CN=Transport Settings,{}",
            escape_rdn(&name),
            t.configuration_dn()
        )),
    );
}

/// A rule description line for parameter `p` holding `v`.
fn describe(rule: &Map<String, Value>, p: &RuleParam, v: &Value) -> String {
    let shown = |v: &Value| -> String {
        match v {
            Value::Array(items) => items
                .iter()
                .map(|i| {
                    i.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| i.to_string())
                })
                .collect::<Vec<_>>()
                .join("' or '"),
            Value::String(s) => match s.as_str() {
                "InOrganization" => "Inside the organization".into(),
                "NotInOrganization" => "Outside the organization".into(),
                "ExternalPartner" => "Outside the organization (partner)".into(),
                "ExternalNonPartner" => "Outside the organization (non-partner)".into(),
                other => other.to_string(),
            },
            other => other.to_string(),
        }
    };
    let mut text = p.text.replace("{}", &shown(v));
    for other in RULE_PARAMS.iter().filter(|o| o.role == Role::Setting) {
        let key = format!("{{{}}}", other.name);
        if text.contains(&key) {
            let value = rule.get(other.name).cloned().unwrap_or(Value::Null);
            let value = match value {
                Value::Null if other.name == "ApplyHtmlDisclaimerLocation" => "Append".into(),
                Value::Null if other.name == "ApplyHtmlDisclaimerFallbackAction" => "Wrap".into(),
                Value::Null => String::new(),
                v => shown(&v),
            };
            text = text.replace(&key, &value);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::super::Directory;
    use serde_json::json;

    fn contoso(mailboxes: usize, seed: u64) -> Directory {
        Directory::generate(
            "contoso.onmicrosoft.com",
            "0550b473-1111-4c5d-8e7f-9a0b1c2d3e4f",
            mailboxes,
            seed,
        )
    }

    #[test]
    fn transport_rules_describe_their_conditions_and_actions() {
        let dir = contoso(3, 1);
        let rule = &dir.transport_rules[0];
        assert_eq!(rule["Priority"], 0);
        assert_eq!(
            rule["Conditions"],
            json!([
                "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.FromScopePredicate",
                "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.SentToScopePredicate"
            ])
        );
        let description = rule["Description"].as_str().unwrap_or("");
        assert!(
            description.starts_with(
                "If the message:\r\n\tIs received from 'Outside the organization'\r\n"
            )
        );
        assert!(description.contains("\tPrepend the subject with '[EXTERNAL] '\r\n"));
        assert!(
            description
                .contains("\tSet message header 'X-External-Sender' with the value 'true'\r\n")
        );
        assert_eq!(dir.transport_rules[1]["Priority"], 1);
    }
}
