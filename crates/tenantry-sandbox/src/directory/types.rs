//! The types of recipient properties and cmdlet parameters: how a value is converted, stored and
//! compared, the .NET enums they take, and the countries Exchange knows.

/// A .NET enum a parameter or property takes: its type name (for error messages) and its
/// values, in canonical casing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct EnumTy {
    /// The full .NET type name.
    pub(crate) type_name: &'static str,
    /// The accepted names.
    pub(crate) values: &'static [&'static str],
}

impl EnumTy {
    /// The canonical spelling of `s`, matched case-insensitively.
    pub(crate) fn canonical(&self, s: &str) -> Option<&'static str> {
        let s = s.trim();
        self.values
            .iter()
            .copied()
            .find(|v| v.eq_ignore_ascii_case(s))
    }
}

/// The type of a property or parameter value, which decides how input is converted, how the
/// value is stored and how `-Filter` compares it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    /// A string; `$null` or `""` clears it.
    Text,
    /// `$true` or `$false`.
    Bool,
    /// `$true`, `$false` or `$null`.
    OptBool,
    /// An integer in a range.
    Int { min: i64, max: i64 },
    /// An integer in a range, or `$null`.
    OptInt { min: i64, max: i64 },
    /// One of an enum's names.
    Enum(&'static EnumTy),
    /// An EnhancedTimeSpan between zero and `max_days` days.
    TimeSpan { max_days: i64 },
    /// An EnhancedTimeSpan between zero and `max_days` days, or `$null`.
    OptTimeSpan { max_days: i64 },
    /// A TimeSpan or `Unlimited`.
    UnlimitedTimeSpan,
    /// A ByteQuantifiedSize up to `max` bytes, or `Unlimited`.
    Size { max: u64 },
    /// A date and time, or `$null`.
    DateTime,
    /// A multi-valued string property (overwrite with an array, or add/remove).
    Texts,
    /// One recipient, by any identity; stored as its Name.
    Recipient,
    /// Several recipients, by any identity; stored as their Names.
    Recipients,
    /// The proxy addresses of a recipient (`SMTP:` primary, `smtp:` secondary, others).
    Proxies,
    /// An SMTP address.
    Smtp,
    /// A ProxyAddress, stored as `smtp:address`.
    ForwardSmtp,
    /// A country or region, by ISO code or name; stored as its name.
    Country,
}

impl Ty {
    /// The .NET type Exchange binds this to, for conversion error messages.
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Ty::Text => "System.String",
            Ty::Bool => "System.Boolean",
            Ty::OptBool => "System.Nullable`1[System.Boolean]",
            Ty::Int { .. } => "System.Int32",
            Ty::OptInt { .. } => "System.Nullable`1[System.Int32]",
            Ty::Enum(e) => e.type_name,
            Ty::TimeSpan { .. } | Ty::OptTimeSpan { .. } => {
                "Microsoft.Exchange.Data.EnhancedTimeSpan"
            }
            Ty::UnlimitedTimeSpan => {
                "Microsoft.Exchange.Data.Unlimited`1[Microsoft.Exchange.Data.EnhancedTimeSpan]"
            }
            Ty::Size { .. } => {
                "Microsoft.Exchange.Data.Unlimited`1[Microsoft.Exchange.Data.ByteQuantifiedSize]"
            }
            Ty::DateTime => "System.DateTime",
            Ty::Texts => "Microsoft.Exchange.Data.MultiValuedProperty`1[System.String]",
            Ty::Recipient => "Microsoft.Exchange.Configuration.Tasks.RecipientIdParameter",
            Ty::Recipients => {
                "Microsoft.Exchange.Data.MultiValuedProperty`1[Microsoft.Exchange.Configuration.Tasks.RecipientIdParameter]"
            }
            Ty::Proxies => "Microsoft.Exchange.Data.ProxyAddressCollection",
            Ty::Smtp => "Microsoft.Exchange.Data.SmtpAddress",
            Ty::ForwardSmtp => "Microsoft.Exchange.Data.ProxyAddress",
            Ty::Country => "Microsoft.Exchange.Data.Directory.CountryInfo",
        }
    }
}

macro_rules! enum_ty {
    ($(#[$doc:meta])* $name:ident = $type_name:literal [$($v:literal),* $(,)?]) => {
        $(#[$doc])*
        pub(crate) static $name: EnumTy = EnumTy { type_name: $type_name, values: &[$($v),*] };
    };
}

enum_ty!(
    /// MemberJoinRestriction.
    MEMBER_JOIN = "Microsoft.Exchange.Data.Directory.Recipient.MemberUpdateType"
    ["Open", "Closed", "ApprovalRequired"]
);
enum_ty!(
    /// MemberDepartRestriction.
    MEMBER_DEPART = "Microsoft.Exchange.Data.Directory.Recipient.MemberUpdateType"
    ["Open", "Closed"]
);
enum_ty!(
    /// SendModerationNotifications.
    MODERATION_NOTIFY = "Microsoft.Exchange.Data.Directory.Recipient.TransportModerationNotificationFlags"
    ["Never", "Internal", "Always"]
);
enum_ty!(
    /// POP and IMAP retrieval formats.
    MIME_FORMAT = "Microsoft.Exchange.Data.Directory.Recipient.MimeTextFormat"
    ["TextOnly", "HtmlOnly", "HtmlAndTextAlternative", "TextEnrichedOnly",
     "TextEnrichedAndTextAlternative", "BestBodyFormat", "Tnef"]
);
enum_ty!(
    /// Set-Mailbox -Type.
    MAILBOX_TYPE = "Microsoft.Exchange.Data.Directory.Recipient.ConvertibleMailboxSubType"
    ["Regular", "Room", "Equipment", "Shared", "Workspace"]
);
enum_ty!(
    /// New-DistributionGroup -Type.
    GROUP_TYPE = "Microsoft.Exchange.Management.RecipientTasks.GroupType"
    ["Distribution", "Security"]
);
enum_ty!(
    /// RecipientTypeDetails, as filters take it.
    RECIPIENT_TYPE_DETAILS = "Microsoft.Exchange.Data.Directory.Recipient.RecipientTypeDetails"
    ["None", "UserMailbox", "LinkedMailbox", "SharedMailbox", "LegacyMailbox", "RoomMailbox",
     "EquipmentMailbox", "MailContact", "MailUser", "MailUniversalDistributionGroup",
     "MailNonUniversalGroup", "MailUniversalSecurityGroup", "DynamicDistributionGroup",
     "PublicFolder", "SystemAttendantMailbox", "SystemMailbox", "MailForestContact", "User",
     "Contact", "UniversalDistributionGroup", "UniversalSecurityGroup", "NonUniversalGroup",
     "DisabledUser", "MicrosoftExchange", "ArbitrationMailbox", "MailboxPlan", "LinkedUser",
     "RoomList", "DiscoveryMailbox", "RoleGroup", "RemoteUserMailbox", "Computer",
     "RemoteRoomMailbox", "RemoteEquipmentMailbox", "RemoteSharedMailbox",
     "PublicFolderMailbox", "TeamMailbox", "RemoteTeamMailbox", "MonitoringMailbox",
     "GroupMailbox", "LinkedRoomMailbox", "AuditLogMailbox", "RemoteGroupMailbox",
     "SchedulingMailbox", "GuestMailUser", "AuxAuditLogMailbox", "SupervisoryReviewPolicyMailbox",
     "WorkspaceMailbox"]
);
enum_ty!(
    /// RecipientType, as filters take it.
    RECIPIENT_TYPE = "Microsoft.Exchange.Data.Directory.Recipient.RecipientType"
    ["Invalid", "User", "UserMailbox", "LinkedUser", "MailUser", "Contact", "MailContact",
     "Group", "MailUniversalDistributionGroup", "MailUniversalSecurityGroup",
     "MailNonUniversalGroup", "DynamicDistributionGroup", "PublicFolder",
     "SystemAttendantMailbox", "SystemMailbox", "MicrosoftExchange", "Computer"]
);
enum_ty!(
    /// FromScope.
    FROM_SCOPE = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.FromUserScope"
    ["InOrganization", "NotInOrganization"]
);
enum_ty!(
    /// SentToScope: the two values Exchange Online documents (on-premises Exchange also takes
    /// ExternalPartner and ExternalNonPartner).
    TO_SCOPE = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.ToUserScope"
    ["InOrganization", "NotInOrganization"]
);
enum_ty!(
    /// A transport rule's Mode.
    RULE_MODE = "Microsoft.Exchange.MessagingPolicies.Rules.RuleMode"
    ["Audit", "AuditAndNotify", "Enforce"]
);
enum_ty!(
    /// ApplyHtmlDisclaimerLocation.
    DISCLAIMER_LOCATION = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.DisclaimerLocation"
    ["Append", "Prepend"]
);
enum_ty!(
    /// ApplyHtmlDisclaimerFallbackAction.
    DISCLAIMER_FALLBACK = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.DisclaimerFallbackAction"
    ["Wrap", "Ignore", "Reject"]
);
enum_ty!(
    /// RuleErrorAction.
    RULE_ERROR_ACTION = "Microsoft.Exchange.MessagingPolicies.Rules.RuleErrorAction"
    ["Ignore", "Defer"]
);
enum_ty!(
    /// SenderAddressLocation.
    SENDER_ADDRESS_LOCATION = "Microsoft.Exchange.MessagingPolicies.Rules.SenderAddressLocation"
    ["Header", "Envelope", "HeaderOrEnvelope"]
);
enum_ty!(
    /// SetAuditSeverity.
    AUDIT_SEVERITY = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.AuditSeverityLevel"
    ["DoNotAudit", "Low", "Medium", "High"]
);
enum_ty!(
    /// RecipientAddressType: which recipient addresses a rule's conditions read.
    RECIPIENT_ADDRESS_TYPE = "Microsoft.Exchange.MessagingPolicies.Rules.RecipientAddressType"
    ["Original", "Resolved"]
);
enum_ty!(
    /// ADComparisonOperator.
    EVALUATION = "Microsoft.Exchange.MessagingPolicies.Rules.Evaluation"
    ["Equal", "NotEqual"]
);
enum_ty!(
    /// ManagerForEvaluatedUser.
    EVALUATED_USER = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.EvaluatedUser"
    ["Recipient", "Sender"]
);
enum_ty!(
    /// SenderManagementRelationship.
    MANAGEMENT_RELATIONSHIP = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.ManagementRelationship"
    ["Manager", "DirectReport"]
);
enum_ty!(
    /// WithImportance.
    IMPORTANCE = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.Importance"
    ["Low", "Normal", "High"]
);
enum_ty!(
    /// MessageTypeMatches.
    MESSAGE_TYPE = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.MessageType"
    ["OOF", "AutoForward", "Encrypted", "Calendaring", "PermissionControlled", "Voicemail",
     "Signed", "ApprovalRequest", "ReadReceipt"]
);
enum_ty!(
    /// AddManagerAsRecipientType.
    ADDED_RECIPIENT_TYPE = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.AddedRecipientType"
    ["To", "Cc", "Bcc", "Redirect"]
);
enum_ty!(
    /// NotifySender.
    NOTIFY_SENDER = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.NotifySenderType"
    ["NotifyOnly", "RejectMessage", "RejectUnlessFalsePositiveOverride",
     "RejectUnlessSilentOverride", "RejectUnlessExplicitOverride"]
);
enum_ty!(
    /// A transport rule's State.
    RULE_STATE = "Microsoft.Exchange.MessagingPolicies.Rules.RuleState"
    ["Enabled", "Disabled"]
);
enum_ty!(
    /// New-AcceptedDomain -DomainType (an on-premises cmdlet; see `cmdlets::accepted_domain`).
    DOMAIN_TYPE = "Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomainType"
    ["Authoritative", "ExternalRelay", "InternalRelay"]
);
enum_ty!(
    /// Set-AcceptedDomain -DomainType: the two values Exchange Online documents.
    SET_DOMAIN_TYPE = "Microsoft.Exchange.Data.Directory.SystemConfiguration.AcceptedDomainType"
    ["Authoritative", "InternalRelay"]
);
enum_ty!(
    /// PublicFoldersEnabled.
    PUBLIC_FOLDERS = "Microsoft.Exchange.Data.Directory.SystemConfiguration.PublicFoldersDeployment"
    ["None", "Local", "Remote"]
);

/// Countries and regions Exchange knows, as (ISO code, display name).
pub(crate) const COUNTRIES: &[(&str, &str)] = &[
    ("AE", "United Arab Emirates"),
    ("AR", "Argentina"),
    ("AT", "Austria"),
    ("AU", "Australia"),
    ("BE", "Belgium"),
    ("BR", "Brazil"),
    ("CA", "Canada"),
    ("CH", "Switzerland"),
    ("CL", "Chile"),
    ("CN", "China"),
    ("CO", "Colombia"),
    ("CZ", "Czechia"),
    ("DE", "Germany"),
    ("DK", "Denmark"),
    ("ES", "Spain"),
    ("FI", "Finland"),
    ("FR", "France"),
    ("GB", "United Kingdom"),
    ("GR", "Greece"),
    ("HK", "Hong Kong SAR"),
    ("HU", "Hungary"),
    ("IE", "Ireland"),
    ("IL", "Israel"),
    ("IN", "India"),
    ("IT", "Italy"),
    ("JP", "Japan"),
    ("KR", "Korea"),
    ("LU", "Luxembourg"),
    ("MX", "Mexico"),
    ("NL", "Netherlands"),
    ("NO", "Norway"),
    ("NZ", "New Zealand"),
    ("PL", "Poland"),
    ("PT", "Portugal"),
    ("RO", "Romania"),
    ("SE", "Sweden"),
    ("SG", "Singapore"),
    ("TR", "Türkiye"),
    ("US", "United States"),
    ("ZA", "South Africa"),
];

/// The display name of a country given by ISO code or name, case-insensitively.
pub(crate) fn country(s: &str) -> Option<&'static str> {
    let s = s.trim();
    COUNTRIES
        .iter()
        .find(|(code, name)| code.eq_ignore_ascii_case(s) || name.eq_ignore_ascii_case(s))
        .map(|(_, name)| *name)
}
