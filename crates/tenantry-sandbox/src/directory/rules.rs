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

/// Builds [`RULE_PARAMS`] from three blocks: the rule's own settings; the conditions, each with
/// the exception of the same test (`ExceptIf…`), which Exchange lists after all conditions; and
/// the actions. `setting` lines in the condition and action blocks complete a neighbouring
/// line (a header's name, a disclaimer's placement), whose description names them as `{Name}`.
macro_rules! rule_params {
    (
        rule { $($rname:literal: $rty:expr;)* }
        conditions { $($ckind:ident $cname:literal | $cexcept:literal: $cty:expr $(=> $cclass:literal, $ctext:literal)?;)* }
        actions { $($akind:ident $aname:literal: $aty:expr $(=> $aclass:literal, $atext:literal)?;)* }
    ) => {
        /// The transport rule parameters the sandbox knows (Name, and New-TransportRule's
        /// Enabled and UseLegacyRegex, are handled by the cmdlets), in the order
        /// Get-TransportRule lists them.
        pub(crate) static RULE_PARAMS: &[RuleParam] = &[
            $(RuleParam { name: $rname, ty: $rty, role: Role::Setting, class: "", text: "" },)*
            $(RuleParam {
                name: $cname,
                ty: $cty,
                role: rule_params!(@role $ckind),
                class: concat!("" $(, $cclass)?),
                text: concat!("" $(, $ctext)?),
            },)*
            $(RuleParam {
                name: $cexcept,
                ty: $cty,
                role: rule_params!(@except $ckind),
                class: concat!("" $(, $cclass)?),
                text: concat!("" $(, $ctext)?),
            },)*
            $(RuleParam {
                name: $aname,
                ty: $aty,
                role: rule_params!(@role $akind),
                class: concat!("" $(, $aclass)?),
                text: concat!("" $(, $atext)?),
            },)*
        ];
    };
    (@role condition) => { Role::Condition };
    (@role action) => { Role::Action };
    (@role setting) => { Role::Setting };
    (@except condition) => { Role::Exception };
    (@except setting) => { Role::Setting };
}

/// An SCL value: -1 to 9.
const SCL: Ty = Ty::Int { min: -1, max: 9 };

// The parameters New-TransportRule documents for Exchange Online, less DlpPolicy, RuleSubType
// (both set by data loss prevention, which the sandbox does not have) and the data
// classification conditions (hashtables).
rule_params! {
    rule {
        "Comments": TEXT;
        "Priority": Ty::Int { min: 0, max: 2_147_483_647 };
        "Mode": Ty::Enum(&RULE_MODE);
        "ActivationDate": DATE;
        "ExpiryDate": DATE;
        "RuleErrorAction": Ty::Enum(&RULE_ERROR_ACTION);
        "SenderAddressLocation": Ty::Enum(&SENDER_ADDRESS_LOCATION);
        "RecipientAddressType": Ty::Enum(&RECIPIENT_ADDRESS_TYPE);
    }
    conditions {
        condition "From" | "ExceptIfFrom": TEXTS => "FromPredicate", "Is received from '{}'";
        condition "FromMemberOf" | "ExceptIfFromMemberOf": TEXTS => "FromMemberOfPredicate", "Is received from a member of group '{}'";
        condition "FromScope" | "ExceptIfFromScope": Ty::Enum(&FROM_SCOPE) => "FromScopePredicate", "Is received from '{}'";
        condition "SentTo" | "ExceptIfSentTo": TEXTS => "SentToPredicate", "Is sent to '{}'";
        condition "SentToMemberOf" | "ExceptIfSentToMemberOf": TEXTS => "SentToMemberOfPredicate", "Is sent to a member of group '{}'";
        condition "SentToScope" | "ExceptIfSentToScope": Ty::Enum(&TO_SCOPE) => "SentToScopePredicate", "Is sent to '{}'";
        condition "BetweenMemberOf1" | "ExceptIfBetweenMemberOf1": TEXTS => "BetweenMemberOfPredicate", "Is sent between members of group '{}' and members of group '{BetweenMemberOf2}'";
        setting "BetweenMemberOf2" | "ExceptIfBetweenMemberOf2": TEXTS;
        condition "ManagerAddresses" | "ExceptIfManagerAddresses": TEXTS => "ManagerIsPredicate", "The {ManagerForEvaluatedUser}'s manager is '{}'";
        setting "ManagerForEvaluatedUser" | "ExceptIfManagerForEvaluatedUser": Ty::Enum(&EVALUATED_USER);
        condition "SenderManagementRelationship" | "ExceptIfSenderManagementRelationship": Ty::Enum(&MANAGEMENT_RELATIONSHIP) => "ManagementRelationshipPredicate", "The recipient is the sender's '{}'";
        condition "ADComparisonAttribute" | "ExceptIfADComparisonAttribute": TEXT => "ADAttributeComparisonPredicate", "The sender's and the recipient's '{}' values are '{ADComparisonOperator}'";
        setting "ADComparisonOperator" | "ExceptIfADComparisonOperator": Ty::Enum(&EVALUATION);
        condition "SenderADAttributeContainsWords" | "ExceptIfSenderADAttributeContainsWords": TEXTS => "SenderAttributeContainsPredicate", "The sender's Active Directory attributes include these words: '{}'";
        condition "SenderADAttributeMatchesPatterns" | "ExceptIfSenderADAttributeMatchesPatterns": TEXTS => "SenderAttributeMatchesPredicate", "The sender's Active Directory attributes match these patterns: '{}'";
        condition "RecipientADAttributeContainsWords" | "ExceptIfRecipientADAttributeContainsWords": TEXTS => "RecipientAttributeContainsPredicate", "The recipient's Active Directory attributes include these words: '{}'";
        condition "RecipientADAttributeMatchesPatterns" | "ExceptIfRecipientADAttributeMatchesPatterns": TEXTS => "RecipientAttributeMatchesPredicate", "The recipient's Active Directory attributes match these patterns: '{}'";
        condition "AnyOfToHeader" | "ExceptIfAnyOfToHeader": TEXTS => "AnyOfToHeaderPredicate", "Is sent to '{}' in the To box";
        condition "AnyOfToHeaderMemberOf" | "ExceptIfAnyOfToHeaderMemberOf": TEXTS => "AnyOfToHeaderMemberOfPredicate", "Is sent to a member of group '{}' in the To box";
        condition "AnyOfCcHeader" | "ExceptIfAnyOfCcHeader": TEXTS => "AnyOfCcHeaderPredicate", "Is sent to '{}' in the Cc box";
        condition "AnyOfCcHeaderMemberOf" | "ExceptIfAnyOfCcHeaderMemberOf": TEXTS => "AnyOfCcHeaderMemberOfPredicate", "Is sent to a member of group '{}' in the Cc box";
        condition "AnyOfToCcHeader" | "ExceptIfAnyOfToCcHeader": TEXTS => "AnyOfToCcHeaderPredicate", "Is sent to '{}' in the To or Cc box";
        condition "AnyOfToCcHeaderMemberOf" | "ExceptIfAnyOfToCcHeaderMemberOf": TEXTS => "AnyOfToCcHeaderMemberOfPredicate", "Is sent to a member of group '{}' in the To or Cc box";
        condition "HasClassification" | "ExceptIfHasClassification": TEXT => "HasClassificationPredicate", "Has the message classification '{}'";
        condition "HasNoClassification" | "ExceptIfHasNoClassification": BOOL => "HasNoClassificationPredicate", "Has no message classification";
        condition "SubjectContainsWords" | "ExceptIfSubjectContainsWords": TEXTS => "SubjectContainsPredicate", "Includes these words in the message subject: '{}'";
        condition "SubjectOrBodyContainsWords" | "ExceptIfSubjectOrBodyContainsWords": TEXTS => "SubjectOrBodyContainsPredicate", "Includes these words in the message subject or body: '{}'";
        setting "HeaderContainsMessageHeader" | "ExceptIfHeaderContainsMessageHeader": TEXT;
        condition "HeaderContainsWords" | "ExceptIfHeaderContainsWords": TEXTS => "HeaderContainsPredicate", "'{HeaderContainsMessageHeader}' header contains these words: '{}'";
        condition "FromAddressContainsWords" | "ExceptIfFromAddressContainsWords": TEXTS => "FromAddressContainsPredicate", "Includes these words in the sender's address: '{}'";
        condition "SenderDomainIs" | "ExceptIfSenderDomainIs": TEXTS => "SenderDomainIsPredicate", "Sender's address domain portion belongs to any of these domains: '{}'";
        condition "RecipientDomainIs" | "ExceptIfRecipientDomainIs": TEXTS => "RecipientDomainIsPredicate", "Recipient's address domain portion belongs to any of these domains: '{}'";
        condition "SubjectMatchesPatterns" | "ExceptIfSubjectMatchesPatterns": TEXTS => "SubjectMatchesPredicate", "Matches these patterns in the message subject: '{}'";
        condition "SubjectOrBodyMatchesPatterns" | "ExceptIfSubjectOrBodyMatchesPatterns": TEXTS => "SubjectOrBodyMatchesPredicate", "Matches these patterns in the message subject or body: '{}'";
        setting "HeaderMatchesMessageHeader" | "ExceptIfHeaderMatchesMessageHeader": TEXT;
        condition "HeaderMatchesPatterns" | "ExceptIfHeaderMatchesPatterns": TEXTS => "HeaderMatchesPredicate", "'{HeaderMatchesMessageHeader}' header matches these patterns: '{}'";
        condition "FromAddressMatchesPatterns" | "ExceptIfFromAddressMatchesPatterns": TEXTS => "FromAddressMatchesPredicate", "Matches these patterns in the sender's address: '{}'";
        condition "AttachmentNameMatchesPatterns" | "ExceptIfAttachmentNameMatchesPatterns": TEXTS => "AttachmentNameMatchesPredicate", "Any attachment's file name matches these patterns: '{}'";
        condition "AttachmentExtensionMatchesWords" | "ExceptIfAttachmentExtensionMatchesWords": TEXTS => "AttachmentExtensionMatchesWordsPredicate", "Any attachment's file extension matches '{}'";
        condition "AttachmentPropertyContainsWords" | "ExceptIfAttachmentPropertyContainsWords": TEXTS => "AttachmentPropertyContainsWordsPredicate", "Any attachment's properties include these words: '{}'";
        condition "ContentCharacterSetContainsWords" | "ExceptIfContentCharacterSetContainsWords": TEXTS => "ContentCharacterSetContainsWordsPredicate", "The message contains any of these character sets: '{}'";
        condition "HasSenderOverride" | "ExceptIfHasSenderOverride": BOOL => "HasSenderOverridePredicate", "The sender has overridden the Policy Tip";
        condition "SenderIpRanges" | "ExceptIfSenderIpRanges": TEXTS => "SenderIpRangesPredicate", "Sender's IP address is in the range '{}'";
        condition "SCLOver" | "ExceptIfSCLOver": SCL => "SclOverPredicate", "The spam confidence level (SCL) is greater than or equal to '{}'";
        condition "AttachmentSizeOver" | "ExceptIfAttachmentSizeOver": QUOTA => "AttachmentSizeOverPredicate", "Size of any attachment is greater than or equal to '{}'";
        condition "MessageSizeOver" | "ExceptIfMessageSizeOver": QUOTA => "MessageSizeOverPredicate", "Message size is greater than or equal to '{}'";
        condition "WithImportance" | "ExceptIfWithImportance": Ty::Enum(&IMPORTANCE) => "WithImportancePredicate", "Is marked with '{}' importance";
        condition "MessageTypeMatches" | "ExceptIfMessageTypeMatches": Ty::Enum(&MESSAGE_TYPE) => "MessageTypeMatchesPredicate", "Message type is '{}'";
        condition "RecipientAddressContainsWords" | "ExceptIfRecipientAddressContainsWords": TEXTS => "RecipientAddressContainsWordsPredicate", "Includes these words in the recipient's address: '{}'";
        condition "RecipientAddressMatchesPatterns" | "ExceptIfRecipientAddressMatchesPatterns": TEXTS => "RecipientAddressMatchesPatternsPredicate", "Matches these patterns in the recipient's address: '{}'";
        condition "SenderInRecipientList" | "ExceptIfSenderInRecipientList": TEXTS => "SenderInRecipientListPredicate", "The sender is on the recipient's '{}' list";
        condition "RecipientInSenderList" | "ExceptIfRecipientInSenderList": TEXTS => "RecipientInSenderListPredicate", "The recipient is on the sender's '{}' list";
        condition "AttachmentContainsWords" | "ExceptIfAttachmentContainsWords": TEXTS => "AttachmentContainsWordsPredicate", "Any attachment's content includes these words: '{}'";
        condition "AttachmentMatchesPatterns" | "ExceptIfAttachmentMatchesPatterns": TEXTS => "AttachmentMatchesPatternsPredicate", "Any attachment's content matches these patterns: '{}'";
        condition "AttachmentIsUnsupported" | "ExceptIfAttachmentIsUnsupported": BOOL => "AttachmentIsUnsupportedPredicate", "Any attachment's content can't be inspected";
        condition "AttachmentProcessingLimitExceeded" | "ExceptIfAttachmentProcessingLimitExceeded": BOOL => "AttachmentProcessingLimitExceededPredicate", "Any attachment's content didn't complete scanning";
        condition "AttachmentHasExecutableContent" | "ExceptIfAttachmentHasExecutableContent": BOOL => "AttachmentHasExecutableContentPredicate", "Any attachment has executable content";
        condition "AttachmentIsPasswordProtected" | "ExceptIfAttachmentIsPasswordProtected": BOOL => "AttachmentIsPasswordProtectedPredicate", "Any attachment is password protected";
        condition "AnyOfRecipientAddressContainsWords" | "ExceptIfAnyOfRecipientAddressContainsWords": TEXTS => "AnyOfRecipientAddressContainsPredicate", "Any recipient's address includes these words: '{}'";
        condition "AnyOfRecipientAddressMatchesPatterns" | "ExceptIfAnyOfRecipientAddressMatchesPatterns": TEXTS => "AnyOfRecipientAddressMatchesPredicate", "Any recipient's address matches these patterns: '{}'";
    }
    actions {
        action "PrependSubject": TEXT => "PrependSubjectAction", "Prepend the subject with '{}'";
        action "SetAuditSeverity": Ty::Enum(&AUDIT_SEVERITY) => "SetAuditSeverityAction", "Set audit severity level to '{}'";
        action "ApplyClassification": TEXT => "ApplyClassificationAction", "Apply the message classification '{}'";
        setting "ApplyHtmlDisclaimerLocation": Ty::Enum(&DISCLAIMER_LOCATION);
        action "ApplyHtmlDisclaimerText": TEXT => "ApplyHtmlDisclaimerAction", "{ApplyHtmlDisclaimerLocation} the disclaimer '{}' to the message. If the disclaimer can't be inserted, {ApplyHtmlDisclaimerFallbackAction} the message";
        setting "ApplyHtmlDisclaimerFallbackAction": Ty::Enum(&DISCLAIMER_FALLBACK);
        action "ApplyRightsProtectionTemplate": TEXT => "RightsProtectMessageAction", "Rights protect the message with the template '{}'";
        action "ApplyRightsProtectionCustomizationTemplate": TEXT => "ApplyRightsProtectionCustomizationTemplateAction", "Apply the branding template '{}' to encrypted messages";
        action "SetSCL": SCL => "SetSclAction", "Set the spam confidence level (SCL) to '{}'";
        action "SetHeaderName": TEXT => "SetHeaderAction", "Set message header '{}' with the value '{SetHeaderValue}'";
        setting "SetHeaderValue": TEXT;
        action "RemoveHeader": TEXT => "RemoveHeaderAction", "Remove the message header '{}'";
        action "AddToRecipients": TEXTS => "AddToRecipientsAction", "Add the recipients '{}' to the To box";
        action "CopyTo": TEXTS => "CopyToAction", "Add the recipients '{}' to the Cc box";
        action "BlindCopyTo": TEXTS => "BlindCopyToAction", "Add the recipients '{}' to the Bcc box";
        action "AddManagerAsRecipientType": Ty::Enum(&ADDED_RECIPIENT_TYPE) => "AddManagerAsRecipientTypeAction", "Add the sender's manager as a '{}' recipient";
        action "ModerateMessageByUser": TEXTS => "ModerateMessageByUserAction", "Forward the message for approval to '{}'";
        action "ModerateMessageByManager": BOOL => "ModerateMessageByManagerAction", "Forward the message for approval to the sender's manager";
        action "RedirectMessageTo": TEXTS => "RedirectMessageAction", "Redirect the message to '{}'";
        setting "RejectMessageEnhancedStatusCode": TEXT;
        action "RejectMessageReasonText": TEXT => "RejectMessageAction", "Reject the message with the explanation '{}'";
        action "DeleteMessage": BOOL => "DeleteMessageAction", "Delete the message without notifying anyone";
        action "Disconnect": BOOL => "DisconnectAction", "Disconnect the SMTP session";
        action "Quarantine": BOOL => "QuarantineAction", "Deliver the message to the hosted quarantine";
        setting "SmtpRejectMessageRejectStatusCode": TEXT;
        action "SmtpRejectMessageRejectText": TEXT => "SmtpRejectMessageAction", "Reject the message with the status code '{SmtpRejectMessageRejectStatusCode}' and the response '{}'";
        action "LogEventText": TEXT => "LogEventAction", "Log an event with the message '{}'";
        action "StopRuleProcessing": BOOL => "StopRuleProcessingAction", "Stop processing more rules";
        action "NotifySender": Ty::Enum(&NOTIFY_SENDER) => "NotifySenderAction", "Notify the sender with a Policy Tip ('{}')";
        action "GenerateIncidentReport": TEXT => "GenerateIncidentReportAction", "Send an incident report to '{}' with the content '{IncidentReportContent}'";
        setting "IncidentReportContent": TEXTS;
        action "GenerateNotification": TEXT => "GenerateNotificationAction", "Notify the recipient with the message '{}'";
        action "RouteMessageOutboundConnector": TEXT => "RouteMessageOutboundConnectorAction", "Use the following connector: '{}'";
        action "RouteMessageOutboundRequireTls": BOOL => "RouteMessageOutboundRequireTlsAction", "Require TLS encryption to deliver the message";
        action "ApplyOME": BOOL => "ApplyOMEAction", "Encrypt the message with Office 365 Message Encryption";
        action "RemoveOME": BOOL => "RemoveOMEAction", "Remove Office 365 Message Encryption from the message";
        action "RemoveOMEv2": BOOL => "RemoveOMEv2Action", "Remove Office 365 Message Encryption and rights protection from the message";
        action "RemoveRMSAttachmentEncryption": BOOL => "RemoveRMSAttachmentEncryptionAction", "Remove encryption from outgoing attachments";
    }
}

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
    // Every property is listed, unset ones as null (false for a Boolean), as the service lists
    // them; the data classification conditions too, which the sandbox does not set.
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
    for name in [
        "MessageContainsDataClassifications",
        "ExceptIfMessageContainsDataClassifications",
    ] {
        m.insert(name.into(), Value::Null);
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

/// How a value reads in a rule's description.
fn shown(v: &Value) -> String {
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
            other => other.to_string(),
        },
        other => other.to_string(),
    }
}

/// What a description says for a completing setting left unset: the value the service applies.
fn unset_setting(name: &str) -> &'static str {
    match name {
        "ApplyHtmlDisclaimerLocation" => "Append",
        "ApplyHtmlDisclaimerFallbackAction" => "Wrap",
        "ManagerForEvaluatedUser" => "Sender",
        "ADComparisonOperator" => "Equal",
        _ => "",
    }
}

/// A rule description line for parameter `p` holding `v`.
fn describe(rule: &Map<String, Value>, p: &RuleParam, v: &Value) -> String {
    let mut text = p.text.replace("{}", &shown(v));
    // `{Name}` is the setting that completes the line; an exception's line reads the
    // exception's own (`ExceptIfName`).
    for other in RULE_PARAMS
        .iter()
        .filter(|o| o.role == Role::Setting && !o.name.starts_with("ExceptIf"))
    {
        let key = format!("{{{}}}", other.name);
        if !text.contains(&key) {
            continue;
        }
        let name = if p.role == Role::Exception {
            format!("ExceptIf{}", other.name)
        } else {
            other.name.to_string()
        };
        let value = match rule.get(&name).unwrap_or(&Value::Null) {
            Value::Null => unset_setting(other.name).to_string(),
            v => shown(v),
        };
        text = text.replace(&key, &value);
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
