//! One sandbox tenant's directory: mailboxes and their users and CAS settings, distribution
//! groups, mailbox and Send As permissions, transport rules, the organization configuration and
//! the accepted domains, generated deterministically from a seed.
//!
//! Recipients are property bags over one schema, `PROPS` (indexed by `P`), modelled on
//! Exchange Online's own: each property belongs to one or more *views* (what Get-Mailbox,
//! Get-User, Get-CASMailbox, Get-Recipient and Get-DistributionGroup show), may be settable by
//! some Set-* cmdlets, and has a default. An object stores only the values that differ from the
//! default, so 5,000 mailboxes stay small; derived values (Identity, DistinguishedName,
//! WindowsEmailAddress, …) are computed when read, so a rename never leaves them stale.
//!
//! Transport rules, the organization configuration and accepted domains are few, so they are kept
//! as ready-made JSON objects; their settable parameters are described by `RULE_PARAMS` and
//! `ORG_PARAMS`.
//!
//! Nothing here reads the clock: timestamps come from the seed, and writes advance a logical
//! clock one second at a time.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::rng::Rng;
use tenantry_common::calendar::{civil_from_days, days_from_civil, days_in_month};

// ---------------------------------------------------------------------------------------------
// Views and setters

/// View bit: shown by Get-Mailbox.
pub(crate) const MBX: u8 = 1;
/// View bit: shown by Get-User.
pub(crate) const USR: u8 = 2;
/// View bit: shown by Get-CASMailbox.
pub(crate) const CAS: u8 = 4;
/// View bit: shown by Get-Recipient and Get-DistributionGroupMember.
pub(crate) const RCP: u8 = 8;
/// View bit: shown by Get-DistributionGroup.
pub(crate) const GRP: u8 = 16;
const ALL: u8 = MBX | USR | CAS | RCP | GRP;

/// Setter bit: settable by Set-Mailbox.
pub(crate) const S_MBX: u8 = 1;
/// Setter bit: settable by Set-User.
pub(crate) const S_USR: u8 = 2;
/// Setter bit: settable by Set-CASMailbox.
pub(crate) const S_CAS: u8 = 4;
/// Setter bit: settable by Set-DistributionGroup.
pub(crate) const S_GRP: u8 = 8;

// ---------------------------------------------------------------------------------------------
// Value types

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
    /// SentToScope.
    TO_SCOPE = "Microsoft.Exchange.MessagingPolicies.Rules.Tasks.ToUserScope"
    ["InOrganization", "NotInOrganization", "ExternalPartner", "ExternalNonPartner"]
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
    /// A transport rule's State.
    RULE_STATE = "Microsoft.Exchange.MessagingPolicies.Rules.RuleState"
    ["Enabled", "Disabled"]
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

// ---------------------------------------------------------------------------------------------
// The recipient schema

/// How a property's value is found when an object does not store one.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Def {
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A string.
    Str(&'static str),
    /// An array of strings.
    List(&'static [&'static str]),
    /// Computed from the object's other values and the tenant.
    Fn(fn(&Obj, &Tenant) -> Value),
}

impl Def {
    /// The default as a value, when it does not depend on the object.
    fn constant(&self) -> Option<Value> {
        match self {
            Def::Null => Some(Value::Null),
            Def::Bool(b) => Some(Value::Bool(*b)),
            Def::Str(s) => Some(Value::String((*s).to_string())),
            Def::List(l) => Some(Value::Array(l.iter().map(|s| json!(s)).collect())),
            Def::Fn(_) => None,
        }
    }
}

/// One recipient property.
#[derive(Debug)]
pub(crate) struct PropDef {
    /// The property.
    pub(crate) p: P,
    /// Its name, as Exchange Online spells it.
    pub(crate) name: &'static str,
    /// Its value type.
    pub(crate) ty: Ty,
    /// Its default.
    pub(crate) def: Def,
    /// The views that show it (`MBX`, `USR`, …).
    pub(crate) views: u8,
    /// The Set-* cmdlets that take it as a parameter (`S_MBX`, …).
    pub(crate) set: u8,
}

macro_rules! schema {
    ($($name:ident: $ty:expr, $def:expr, $views:expr, $set:expr;)*) => {
        /// A recipient property, named as Exchange Online names it; the variants are in the order
        /// Get-Mailbox and its siblings list properties.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub(crate) enum P { $($name,)* }

        /// Every recipient property, indexed by [`P`].
        pub(crate) static PROPS: &[PropDef] = &[
            $(PropDef { p: P::$name, name: stringify!($name), ty: $ty, def: $def, views: $views, set: $set },)*
        ];
    };
}

impl P {
    /// The property's definition.
    pub(crate) fn def(self) -> &'static PropDef {
        &PROPS[self as usize]
    }

    /// The property named `name` (case-insensitively) that one of `views` shows.
    pub(crate) fn find(name: &str, views: u8) -> Option<P> {
        PROPS
            .iter()
            .find(|d| d.views & views != 0 && d.name.eq_ignore_ascii_case(name))
            .map(|d| d.p)
    }
}

const TEXT: Ty = Ty::Text;
const BOOL: Ty = Ty::Bool;
const OPTBOOL: Ty = Ty::OptBool;
const DATE: Ty = Ty::DateTime;
const TEXTS: Ty = Ty::Texts;
const GB: u64 = 1 << 30;
const MB: u64 = 1 << 20;
const QUOTA: Ty = Ty::Size { max: 100 * GB };
const MSG_SIZE: Ty = Ty::Size { max: 150 * MB };
const N: Def = Def::Null;
const F: Def = Def::Bool(false);
const T: Def = Def::Bool(true);
const E: Def = Def::List(&[]);
const CA: u8 = MBX | RCP | GRP;
const SCA: u8 = S_MBX | S_GRP;

const AUDIT_ADMIN: &[&str] = &[
    "Update",
    "MoveToDeletedItems",
    "SoftDelete",
    "HardDelete",
    "SendAs",
    "SendOnBehalf",
    "Create",
    "UpdateFolderPermissions",
    "UpdateInboxRules",
    "UpdateCalendarDelegation",
    "ApplyRecord",
    "MailItemsAccessed",
    "Send",
];
const AUDIT_DELEGATE: &[&str] = &[
    "Update",
    "MoveToDeletedItems",
    "SoftDelete",
    "HardDelete",
    "SendAs",
    "SendOnBehalf",
    "Create",
    "UpdateFolderPermissions",
    "UpdateInboxRules",
    "ApplyRecord",
    "MailItemsAccessed",
];
const AUDIT_OWNER: &[&str] = &[
    "Update",
    "MoveToDeletedItems",
    "SoftDelete",
    "HardDelete",
    "UpdateFolderPermissions",
    "UpdateInboxRules",
    "UpdateCalendarDelegation",
    "ApplyRecord",
    "MailItemsAccessed",
    "Send",
];

schema! {
    // Mailbox settings, in Get-Mailbox's order.
    Database: TEXT, Def::Fn(c_database), MBX, 0;
    MailboxProvisioningConstraint: TEXT, N, MBX, 0;
    IsMonitoringMailbox: BOOL, F, MBX, 0;
    MailboxRegion: TEXT, N, MBX, 0;
    MessageCopyForSentAsEnabled: BOOL, F, MBX, S_MBX;
    MessageCopyForSendOnBehalfEnabled: BOOL, F, MBX, S_MBX;
    RetainDeletedItemsUntilBackup: BOOL, F, MBX, S_MBX;
    DeliverToMailboxAndForward: BOOL, F, MBX, S_MBX;
    LitigationHoldEnabled: BOOL, F, MBX, S_MBX;
    SingleItemRecoveryEnabled: BOOL, T, MBX, S_MBX;
    RetentionHoldEnabled: BOOL, F, MBX, S_MBX;
    EndDateForRetentionHold: DATE, N, MBX, S_MBX;
    StartDateForRetentionHold: DATE, N, MBX, S_MBX;
    RetentionComment: TEXT, N, MBX, S_MBX;
    RetentionUrl: TEXT, N, MBX, S_MBX;
    LitigationHoldDate: DATE, N, MBX, S_MBX;
    LitigationHoldOwner: TEXT, N, MBX, S_MBX;
    LitigationHoldDuration: Ty::UnlimitedTimeSpan, Def::Str("Unlimited"), MBX, S_MBX;
    ElcProcessingDisabled: BOOL, F, MBX, S_MBX;
    ComplianceTagHoldApplied: BOOL, F, MBX, 0;
    DelayHoldApplied: BOOL, F, MBX, 0;
    InPlaceHolds: TEXTS, E, MBX, 0;
    RetentionPolicy: TEXT, Def::Str("Default MRM Policy"), MBX, S_MBX;
    AddressBookPolicy: TEXT, N, MBX, S_MBX;
    CalendarRepairDisabled: BOOL, F, MBX, S_MBX;
    ExchangeGuid: TEXT, N, MBX, 0;
    ArchiveGuid: TEXT, Def::Str("00000000-0000-0000-0000-000000000000"), MBX, 0;
    ArchiveName: TEXTS, E, MBX, 0;
    ArchiveQuota: QUOTA, Def::Str("100 GB (107,374,182,400 bytes)"), MBX, 0;
    ArchiveWarningQuota: QUOTA, Def::Str("90 GB (96,636,764,160 bytes)"), MBX, 0;
    ArchiveStatus: TEXT, Def::Str("None"), MBX, 0;
    AutoExpandingArchiveEnabled: BOOL, F, MBX, 0;
    ForwardingAddress: Ty::Recipient, N, MBX, S_MBX;
    ForwardingSmtpAddress: Ty::ForwardSmtp, N, MBX, S_MBX;
    RetainDeletedItemsFor: Ty::TimeSpan { max_days: 30 }, Def::Str("14.00:00:00"), MBX, S_MBX;
    IsMailboxEnabled: BOOL, T, MBX, 0;
    Languages: TEXTS, E, MBX, S_MBX;
    ProhibitSendQuota: QUOTA, Def::Str("99 GB (106,300,440,576 bytes)"), MBX, S_MBX;
    ProhibitSendReceiveQuota: QUOTA, Def::Str("100 GB (107,374,182,400 bytes)"), MBX, S_MBX;
    RecoverableItemsQuota: QUOTA, Def::Str("30 GB (32,212,254,720 bytes)"), MBX, S_MBX;
    RecoverableItemsWarningQuota: QUOTA, Def::Str("20 GB (21,474,836,480 bytes)"), MBX, S_MBX;
    CalendarLoggingQuota: QUOTA, Def::Str("6 GB (6,442,450,944 bytes)"), MBX, 0;
    IsResource: BOOL, Def::Fn(c_is_resource), MBX, 0;
    IsLinked: BOOL, F, MBX, 0;
    IsShared: BOOL, Def::Fn(c_is_shared), MBX, 0;
    ResourceCapacity: Ty::OptInt { min: 0, max: 2_147_483_647 }, N, MBX, S_MBX;
    ResourceType: TEXT, Def::Fn(c_resource_type), MBX, 0;
    SamAccountName: TEXT, Def::Fn(c_sam), MBX | USR | CAS | GRP, 0;
    UseDatabaseQuotaDefaults: BOOL, F, MBX, S_MBX;
    IssueWarningQuota: QUOTA, Def::Str("98 GB (105,226,698,752 bytes)"), MBX, S_MBX;
    RulesQuota: Ty::Size { max: 256 * 1024 }, Def::Str("256 KB (262,144 bytes)"), MBX, S_MBX;
    Office: TEXT, N, MBX | USR | RCP, S_MBX | S_USR;
    UserPrincipalName: TEXT, N, MBX | USR, 0;
    WindowsLiveID: TEXT, Def::Fn(c_upn), MBX | USR, 0;
    MicrosoftOnlineServicesID: TEXT, Def::Fn(c_upn), MBX | USR, 0;
    RoleAssignmentPolicy: TEXT, Def::Str("Default Role Assignment Policy"), MBX, S_MBX;
    SharingPolicy: TEXT, Def::Str("Default Sharing Policy"), MBX, S_MBX;
    ThrottlingPolicy: TEXT, N, MBX, 0;
    AuditEnabled: BOOL, T, MBX, S_MBX;
    AuditLogAgeLimit: Ty::TimeSpan { max_days: 24_855 }, Def::Str("90.00:00:00"), MBX, S_MBX;
    AuditAdmin: TEXTS, Def::List(AUDIT_ADMIN), MBX, S_MBX;
    AuditDelegate: TEXTS, Def::List(AUDIT_DELEGATE), MBX, S_MBX;
    AuditOwner: TEXTS, Def::List(AUDIT_OWNER), MBX, S_MBX;
    DefaultAuditSet: TEXTS, Def::List(&["Admin", "Delegate", "Owner"]), MBX, 0;
    WhenMailboxCreated: DATE, Def::Fn(c_when_created), MBX, 0;
    UsageLocation: TEXT, Def::Fn(c_usage_location), MBX | USR, 0;
    AccountDisabled: BOOL, Def::Fn(c_account_disabled), MBX | USR, 0;
    IsInactiveMailbox: BOOL, F, MBX, 0;
    IsSoftDeletedByRemove: BOOL, F, MBX, 0;
    MessageCopyForSMTPClientSubmissionEnabled: BOOL, T, MBX, S_MBX;

    // Client access settings, in Get-CASMailbox's order.
    ActiveSyncAllowedDeviceIDs: TEXTS, E, CAS, S_CAS;
    ActiveSyncBlockedDeviceIDs: TEXTS, E, CAS, S_CAS;
    ActiveSyncMailboxPolicy: TEXT, Def::Str("Default"), CAS, S_CAS;
    ActiveSyncMailboxPolicyIsDefaulted: BOOL, T, CAS, 0;
    ActiveSyncDebugLogging: BOOL, F, CAS, S_CAS;
    ActiveSyncEnabled: BOOL, T, CAS, S_CAS;
    HasActiveSyncDevicePartnership: BOOL, F, CAS, 0;
    OwaMailboxPolicy: TEXT, Def::Str("OwaMailboxPolicy-Default"), CAS, S_CAS;
    OWAEnabled: BOOL, T, CAS, S_CAS;
    OWAforDevicesEnabled: BOOL, T, CAS, S_CAS;
    EwsEnabled: BOOL, T, CAS, S_CAS;
    EwsAllowOutlook: OPTBOOL, N, CAS, S_CAS;
    EwsAllowMacOutlook: OPTBOOL, N, CAS, S_CAS;
    EwsAllowList: TEXTS, E, CAS, S_CAS;
    EwsBlockList: TEXTS, E, CAS, S_CAS;
    MacOutlookEnabled: BOOL, T, CAS, S_CAS;
    OutlookMobileEnabled: BOOL, T, CAS, S_CAS;
    MAPIEnabled: BOOL, T, CAS, S_CAS;
    UniversalOutlookEnabled: BOOL, T, CAS, S_CAS;
    PopEnabled: BOOL, T, CAS, S_CAS;
    PopUseProtocolDefaults: BOOL, T, CAS, S_CAS;
    PopMessagesRetrievalMimeFormat: Ty::Enum(&MIME_FORMAT), Def::Str("BestBodyFormat"), CAS, S_CAS;
    PopForceICalForCalendarRetrievalOption: BOOL, F, CAS, S_CAS;
    PopSuppressReadReceipt: BOOL, F, CAS, S_CAS;
    ImapEnabled: BOOL, T, CAS, S_CAS;
    ImapUseProtocolDefaults: BOOL, T, CAS, S_CAS;
    ImapMessagesRetrievalMimeFormat: Ty::Enum(&MIME_FORMAT), Def::Str("BestBodyFormat"), CAS, S_CAS;
    ImapForceICalForCalendarRetrievalOption: BOOL, F, CAS, S_CAS;
    ImapSuppressReadReceipt: BOOL, F, CAS, S_CAS;
    SmtpClientAuthenticationDisabled: OPTBOOL, N, CAS, S_CAS;
    PublicFolderClientAccess: BOOL, F, CAS, S_CAS;
    ShowGalAsDefaultView: BOOL, T, CAS, S_CAS;
    IsOptimizedForAccessibility: BOOL, F, CAS, S_CAS;
    ServerLegacyDN: TEXT, Def::Fn(c_server_legacy_dn), CAS, 0;

    // The user account, in Get-User's order.
    FirstName: TEXT, N, USR | RCP, S_USR;
    LastName: TEXT, N, USR | RCP, S_USR;
    Initials: TEXT, N, USR, S_USR;
    Title: TEXT, N, USR | RCP, S_USR;
    Department: TEXT, N, USR | RCP, S_USR;
    Company: TEXT, N, USR | RCP, S_USR;
    Manager: Ty::Recipient, N, USR | RCP, S_USR;
    AssistantName: TEXT, N, USR, S_USR;
    StreetAddress: TEXT, N, USR, S_USR;
    City: TEXT, N, USR | RCP, S_USR;
    StateOrProvince: TEXT, N, USR | RCP, S_USR;
    PostalCode: TEXT, N, USR | RCP, S_USR;
    CountryOrRegion: Ty::Country, N, USR | RCP, S_USR;
    Phone: TEXT, N, USR | RCP, S_USR;
    MobilePhone: TEXT, N, USR, S_USR;
    HomePhone: TEXT, N, USR, S_USR;
    Fax: TEXT, N, USR, S_USR;
    WebPage: TEXT, N, USR, S_USR;
    Notes: TEXT, N, USR | RCP, S_USR;
    PhoneticDisplayName: TEXT, N, USR, S_USR;
    SeniorityIndex: Ty::OptInt { min: 0, max: 2_147_483_647 }, N, USR, S_USR;
    ResetPasswordOnNextLogon: BOOL, F, USR, S_USR;
    UserAccountControl: TEXT, Def::Fn(c_user_account_control), USR, 0;
    IsDirSynced: BOOL, F, USR | RCP | GRP, 0;

    // Distribution groups, in Get-DistributionGroup's order.
    GroupType: TEXT, Def::Fn(c_group_type), GRP, 0;
    BypassNestedModerationEnabled: BOOL, F, GRP, S_GRP;
    ManagedBy: Ty::Recipients, E, GRP | RCP, S_GRP;
    MemberJoinRestriction: Ty::Enum(&MEMBER_JOIN), Def::Str("Closed"), GRP, S_GRP;
    MemberDepartRestriction: Ty::Enum(&MEMBER_DEPART), Def::Str("Open"), GRP, S_GRP;
    ReportToManagerEnabled: BOOL, F, GRP, S_GRP;
    ReportToOriginatorEnabled: BOOL, T, GRP, S_GRP;
    SendOofMessageToOriginatorEnabled: BOOL, F, GRP, S_GRP;
    HiddenGroupMembershipEnabled: BOOL, F, GRP, 0;
    Description: TEXTS, E, GRP, S_GRP;

    // Every mail recipient.
    AcceptMessagesOnlyFrom: Ty::Recipients, E, MBX | GRP, SCA;
    AcceptMessagesOnlyFromSendersOrMembers: Ty::Recipients, E, MBX | GRP, SCA;
    RejectMessagesFrom: Ty::Recipients, E, MBX | GRP, SCA;
    RejectMessagesFromSendersOrMembers: Ty::Recipients, E, MBX | GRP, SCA;
    Alias: TEXT, N, CA, SCA;
    CustomAttribute1: TEXT, N, CA, SCA;
    CustomAttribute2: TEXT, N, CA, SCA;
    CustomAttribute3: TEXT, N, CA, SCA;
    CustomAttribute4: TEXT, N, CA, SCA;
    CustomAttribute5: TEXT, N, CA, SCA;
    CustomAttribute6: TEXT, N, CA, SCA;
    CustomAttribute7: TEXT, N, CA, SCA;
    CustomAttribute8: TEXT, N, CA, SCA;
    CustomAttribute9: TEXT, N, CA, SCA;
    CustomAttribute10: TEXT, N, CA, SCA;
    CustomAttribute11: TEXT, N, CA, SCA;
    CustomAttribute12: TEXT, N, CA, SCA;
    CustomAttribute13: TEXT, N, CA, SCA;
    CustomAttribute14: TEXT, N, CA, SCA;
    CustomAttribute15: TEXT, N, CA, SCA;
    ExtensionCustomAttribute1: TEXTS, E, CA, SCA;
    ExtensionCustomAttribute2: TEXTS, E, CA, SCA;
    ExtensionCustomAttribute3: TEXTS, E, CA, SCA;
    ExtensionCustomAttribute4: TEXTS, E, CA, SCA;
    ExtensionCustomAttribute5: TEXTS, E, CA, SCA;
    DisplayName: TEXT, N, ALL, S_MBX | S_USR | S_GRP;
    EmailAddresses: Ty::Proxies, E, MBX | CAS | RCP | GRP, SCA;
    GrantSendOnBehalfTo: Ty::Recipients, E, MBX | GRP, SCA;
    ExternalDirectoryObjectId: TEXT, N, ALL, 0;
    HiddenFromAddressListsEnabled: BOOL, F, CA, SCA;
    LegacyExchangeDN: TEXT, Def::Fn(c_legacy_dn), MBX | CAS | RCP | GRP, 0;
    MaxSendSize: MSG_SIZE, Def::Str("35 MB (36,700,160 bytes)"), MBX | GRP, SCA;
    MaxReceiveSize: MSG_SIZE, Def::Str("36 MB (37,748,736 bytes)"), MBX | GRP, SCA;
    ModeratedBy: Ty::Recipients, E, MBX | GRP, SCA;
    ModerationEnabled: BOOL, F, MBX | GRP, SCA;
    EmailAddressPolicyEnabled: BOOL, F, MBX | GRP, SCA;
    PrimarySmtpAddress: Ty::Smtp, N, MBX | CAS | RCP | GRP, SCA;
    RecipientType: TEXT, Def::Fn(c_recipient_type), MBX | USR | RCP | GRP, 0;
    RecipientTypeDetails: TEXT, N, MBX | USR | RCP | GRP, 0;
    RequireSenderAuthenticationEnabled: BOOL, F, MBX | GRP, SCA;
    SimpleDisplayName: TEXT, N, MBX | USR | GRP, S_MBX | S_USR | S_GRP;
    SendModerationNotifications: Ty::Enum(&MODERATION_NOTIFY), Def::Str("Always"), MBX | GRP, SCA;
    WindowsEmailAddress: Ty::Smtp, Def::Fn(c_primary_smtp), MBX | USR | GRP, S_MBX | S_USR | S_GRP;
    MailTip: TEXT, N, MBX | GRP, SCA;

    // Every directory object.
    Identity: TEXT, Def::Fn(c_name), ALL, 0;
    Id: TEXT, Def::Fn(c_name), ALL, 0;
    IsValid: BOOL, T, ALL, 0;
    ExchangeVersion: TEXT, Def::Str("0.20 (15.0.0.0)"), ALL, 0;
    Name: TEXT, N, ALL, S_MBX | S_USR | S_GRP;
    DistinguishedName: TEXT, Def::Fn(c_distinguished_name), ALL, 0;
    Guid: TEXT, N, ALL, 0;
    ObjectCategory: TEXT, Def::Fn(c_object_category), ALL, 0;
    ObjectClass: TEXTS, Def::Fn(c_object_class), ALL, 0;
    WhenChanged: DATE, N, ALL, 0;
    WhenCreated: DATE, N, ALL, 0;
    WhenChangedUTC: DATE, Def::Fn(c_when_changed_utc), ALL, 0;
    WhenCreatedUTC: DATE, Def::Fn(c_when_created_utc), ALL, 0;
    ExchangeObjectId: TEXT, Def::Fn(c_guid), ALL, 0;
    OrganizationalUnitRoot: TEXT, Def::Fn(c_ou_root), ALL, 0;
    OrganizationId: TEXT, Def::Fn(c_organization_id), ALL, 0;
    OriginatingServer: TEXT, Def::Fn(c_originating_server), ALL, 0;
    ObjectState: TEXT, Def::Str("Unchanged"), ALL, 0;
}

// ---------------------------------------------------------------------------------------------
// Computed properties

fn stored(o: &Obj, p: P) -> Value {
    o.stored(p).cloned().unwrap_or(Value::Null)
}

fn c_name(o: &Obj, _: &Tenant) -> Value {
    stored(o, P::Name)
}

fn c_guid(o: &Obj, _: &Tenant) -> Value {
    stored(o, P::Guid)
}

fn c_primary_smtp(o: &Obj, _: &Tenant) -> Value {
    stored(o, P::PrimarySmtpAddress)
}

fn c_upn(o: &Obj, _: &Tenant) -> Value {
    stored(o, P::UserPrincipalName)
}

fn c_when_created(o: &Obj, _: &Tenant) -> Value {
    stored(o, P::WhenCreated)
}

fn c_usage_location(o: &Obj, _: &Tenant) -> Value {
    stored(o, P::CountryOrRegion)
}

fn c_distinguished_name(o: &Obj, t: &Tenant) -> Value {
    Value::String(t.dn(o.text(P::Name)))
}

fn c_recipient_type(o: &Obj, _: &Tenant) -> Value {
    match o.class {
        Class::Mailbox => json!("UserMailbox"),
        Class::Group => stored(o, P::RecipientTypeDetails),
    }
}

fn c_is_shared(o: &Obj, _: &Tenant) -> Value {
    Value::Bool(o.text(P::RecipientTypeDetails) == "SharedMailbox")
}

fn c_is_resource(o: &Obj, _: &Tenant) -> Value {
    Value::Bool(matches!(
        o.text(P::RecipientTypeDetails),
        "RoomMailbox" | "EquipmentMailbox"
    ))
}

fn c_resource_type(o: &Obj, _: &Tenant) -> Value {
    match o.text(P::RecipientTypeDetails) {
        "RoomMailbox" => json!("Room"),
        "EquipmentMailbox" => json!("Equipment"),
        _ => Value::Null,
    }
}

fn c_account_disabled(o: &Obj, _: &Tenant) -> Value {
    Value::Bool(o.class == Class::Mailbox && o.text(P::RecipientTypeDetails) != "UserMailbox")
}

fn c_user_account_control(o: &Obj, t: &Tenant) -> Value {
    if c_account_disabled(o, t) == Value::Bool(true) {
        json!("AccountDisabled, NormalAccount, DontExpirePassword")
    } else {
        json!("NormalAccount, DontExpirePassword")
    }
}

fn c_group_type(o: &Obj, _: &Tenant) -> Value {
    match (o.class, o.text(P::RecipientTypeDetails)) {
        (Class::Mailbox, _) => Value::Null,
        (Class::Group, "MailUniversalSecurityGroup") => json!("Universal, SecurityEnabled"),
        (Class::Group, _) => json!("Universal"),
    }
}

/// A stable number derived from an object's Guid, for names that look generated.
fn guid_number(o: &Obj, salt: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in o.text(P::Guid).bytes().chain(salt.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn c_sam(o: &Obj, _: &Tenant) -> Value {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";
    let mut n = guid_number(o, "sam");
    let mut s = String::from("$");
    for i in 0..18 {
        if i == 6 {
            s.push('-');
        }
        if i == 12 {
            n = guid_number(o, "sam2");
        }
        s.push(char::from(ALPHABET[(n & 31) as usize]));
        n >>= 5;
    }
    Value::String(s)
}

fn c_database(o: &Obj, t: &Tenant) -> Value {
    if o.class != Class::Mailbox {
        return Value::Null;
    }
    let n = guid_number(o, "database");
    Value::String(format!(
        "{}DG{:03}-db{:03}",
        t.database_prefix,
        n % 900 + 100,
        (n >> 16) % 900 + 100
    ))
}

fn c_server_legacy_dn(o: &Obj, t: &Tenant) -> Value {
    let n = guid_number(o, "server") % 9000 + 1000;
    Value::String(format!(
        "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Configuration/cn=Servers/cn={}MB{n}",
        t.server_prefix
    ))
}

fn c_legacy_dn(o: &Obj, _: &Tenant) -> Value {
    let guid: String = o.text(P::Guid).chars().filter(|c| *c != '-').collect();
    Value::String(format!(
        "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={guid}-{}",
        o.text(P::Alias).to_lowercase()
    ))
}

fn to_utc(v: Value) -> Value {
    match v {
        Value::String(s) => match s.strip_suffix("+00:00") {
            Some(base) => Value::String(format!("{base}Z")),
            None => Value::String(s),
        },
        other => other,
    }
}

fn c_when_created_utc(o: &Obj, _: &Tenant) -> Value {
    to_utc(stored(o, P::WhenCreated))
}

fn c_when_changed_utc(o: &Obj, _: &Tenant) -> Value {
    to_utc(stored(o, P::WhenChanged))
}

fn c_object_category(o: &Obj, t: &Tenant) -> Value {
    let class = match o.class {
        Class::Mailbox => "Person",
        Class::Group => "Group",
    };
    Value::String(format!(
        "{}.PROD.OUTLOOK.COM/Configuration/Schema/{class}",
        t.forest
    ))
}

fn c_object_class(o: &Obj, _: &Tenant) -> Value {
    match o.class {
        Class::Mailbox => json!(["top", "person", "organizationalPerson", "user"]),
        Class::Group => json!(["top", "group"]),
    }
}

fn c_ou_root(_: &Obj, t: &Tenant) -> Value {
    Value::String(t.ou_root())
}

fn c_organization_id(_: &Obj, t: &Tenant) -> Value {
    Value::String(t.organization_id())
}

fn c_originating_server(_: &Obj, t: &Tenant) -> Value {
    Value::String(t.dc.clone())
}

// ---------------------------------------------------------------------------------------------
// Objects

/// What kind of directory object a recipient is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    /// A mailbox (user, shared, room or equipment) and its user account.
    Mailbox,
    /// A mail-enabled distribution or security group.
    Group,
}

/// A recipient: the values it stores (those that differ from the defaults, sorted by property)
/// and, for a group, its members.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Obj {
    /// Mailbox or group.
    pub(crate) class: Class,
    vals: Vec<(P, Value)>,
    /// The slots of a group's members, in the order they were added.
    pub(crate) members: Vec<u32>,
}

impl Obj {
    /// An object with every property at its default.
    pub(crate) fn new(class: Class) -> Obj {
        Obj {
            class,
            vals: Vec::new(),
            members: Vec::new(),
        }
    }

    /// The value the object stores for `p`, if any.
    pub(crate) fn stored(&self, p: P) -> Option<&Value> {
        self.vals
            .binary_search_by(|(q, _)| q.cmp(&p))
            .ok()
            .map(|i| &self.vals[i].1)
    }

    /// The value of `p`: stored, or the default.
    pub(crate) fn get(&self, p: P, t: &Tenant) -> Value {
        match self.stored(p) {
            Some(v) => v.clone(),
            None => match p.def().def {
                Def::Fn(f) => f(self, t),
                d => d.constant().unwrap_or(Value::Null),
            },
        }
    }

    /// A stored string value, or "".
    pub(crate) fn text(&self, p: P) -> &str {
        self.stored(p).and_then(Value::as_str).unwrap_or("")
    }

    /// The strings of a multi-valued property (stored or default).
    pub(crate) fn strings(&self, p: P, t: &Tenant) -> Vec<String> {
        match self.get(p, t) {
            Value::Array(items) => items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Sets `p`; a value equal to a constant default is not stored.
    pub(crate) fn set(&mut self, p: P, v: Value) {
        let is_default = p.def().def.constant().is_some_and(|d| d == v);
        match self.vals.binary_search_by(|(q, _)| q.cmp(&p)) {
            Ok(i) if is_default => {
                self.vals.remove(i);
            }
            Ok(i) => self.vals[i].1 = v,
            Err(_) if is_default => {}
            Err(i) => self.vals.insert(i, (p, v)),
        }
    }

    /// The object's Name (its Identity).
    pub(crate) fn name(&self) -> &str {
        self.text(P::Name)
    }
}

/// One FullAccess-style entry on a mailbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct MailboxPermission {
    /// The mailbox's slot.
    pub(crate) mailbox: u32,
    /// The slot of the user or group granted access.
    pub(crate) user: u32,
    /// The rights, e.g. `FullAccess`.
    pub(crate) rights: Vec<String>,
    /// Whether the entry denies rather than allows.
    pub(crate) deny: bool,
    /// All, None, Children, Descendents or SelfAndChildren.
    pub(crate) inheritance: String,
}

/// One Send As entry on a recipient.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RecipientPermission {
    /// The recipient's slot.
    pub(crate) recipient: u32,
    /// The trustee's slot.
    pub(crate) trustee: u32,
}

/// The tenant: its domains and where it lives in the service.
#[derive(Clone, Debug)]
pub(crate) struct Tenant {
    /// The initial domain, e.g. `contoso.onmicrosoft.com`.
    pub(crate) domain: String,
    /// The vanity domain, e.g. `contoso.com`.
    pub(crate) vanity: String,
    /// The tenant id.
    pub(crate) id: String,
    /// The organization's display name, e.g. `Contoso`.
    pub(crate) display_name: String,
    /// The forest, e.g. `EURPR01A001`.
    pub(crate) forest: String,
    /// The domain controller errors name, e.g. `AM6PR01A001DC01.EURPR01A001.PROD.OUTLOOK.COM`.
    pub(crate) dc: String,
    /// Prefix of database names, e.g. `EURP195`.
    pub(crate) database_prefix: String,
    /// Prefix of mailbox server names, e.g. `AM6P195`.
    pub(crate) server_prefix: String,
}

impl Tenant {
    /// The distinguished name of a recipient named `name`.
    pub(crate) fn dn(&self, name: &str) -> String {
        format!(
            "CN={},OU={},OU=Microsoft Exchange Hosted Organizations,DC={},DC=PROD,DC=OUTLOOK,DC=COM",
            escape_rdn(name),
            self.domain,
            self.forest
        )
    }

    fn configuration_dn(&self) -> String {
        format!(
            "CN=Configuration,CN={},CN=ConfigurationUnits,DC={},DC=PROD,DC=OUTLOOK,DC=COM",
            self.domain, self.forest
        )
    }

    fn ou_root(&self) -> String {
        format!(
            "{}.PROD.OUTLOOK.COM/Microsoft Exchange Hosted Organizations/{}",
            self.forest, self.domain
        )
    }

    fn organization_id(&self) -> String {
        format!(
            "{} - {}.PROD.OUTLOOK.COM/ConfigurationUnits/{}/Configuration",
            self.ou_root(),
            self.forest,
            self.domain
        )
    }
}

/// Escapes the characters a DN's relative name cannot hold as they are.
fn escape_rdn(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') || (i == 0 && c == '#') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Transport rules, organization configuration, accepted domains

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

/// A settable property of the organization configuration.
#[derive(Debug)]
pub(crate) struct OrgParam {
    /// The parameter and property name.
    pub(crate) name: &'static str,
    /// Its type.
    pub(crate) ty: Ty,
}

const fn op(name: &'static str, ty: Ty) -> OrgParam {
    OrgParam { name, ty }
}

/// The Set-OrganizationConfig parameters the sandbox knows, alphabetically.
pub(crate) static ORG_PARAMS: &[OrgParam] = &[
    op("ActivityBasedAuthenticationTimeoutEnabled", BOOL),
    op(
        "ActivityBasedAuthenticationTimeoutInterval",
        Ty::TimeSpan { max_days: 1 },
    ),
    op(
        "ActivityBasedAuthenticationTimeoutWithSingleSignOnEnabled",
        BOOL,
    ),
    op("AppsForOfficeEnabled", BOOL),
    op("AsyncSendEnabled", BOOL),
    op("AuditDisabled", BOOL),
    op("BookingsEnabled", BOOL),
    op("BookingsPaymentsEnabled", BOOL),
    op("ConnectorsActionableMessagesEnabled", BOOL),
    op("ConnectorsEnabled", BOOL),
    op("CustomerLockboxEnabled", BOOL),
    op(
        "DefaultPublicFolderAgeLimit",
        Ty::OptTimeSpan { max_days: 24_855 },
    ),
    op(
        "DefaultPublicFolderDeletedItemRetention",
        Ty::TimeSpan { max_days: 24_855 },
    ),
    op("DefaultPublicFolderIssueWarningQuota", QUOTA),
    op("DefaultPublicFolderMaxItemSize", QUOTA),
    op(
        "DefaultPublicFolderMovedItemRetention",
        Ty::TimeSpan { max_days: 24_855 },
    ),
    op("DefaultPublicFolderProhibitPostQuota", QUOTA),
    op("DirectReportsGroupAutoCreationEnabled", BOOL),
    op("DistributionGroupDefaultOU", TEXT),
    op("DistributionGroupNameBlockedWordsList", TEXTS),
    op("DistributionGroupNamingPolicy", TEXT),
    op("ElcProcessingDisabled", BOOL),
    op("EwsAllowEntourage", OPTBOOL),
    op("EwsAllowList", TEXTS),
    op("EwsAllowMacOutlook", OPTBOOL),
    op("EwsAllowOutlook", OPTBOOL),
    op("EwsBlockList", TEXTS),
    op("EwsEnabled", OPTBOOL),
    op("ExchangeNotificationEnabled", BOOL),
    op("ExchangeNotificationRecipients", TEXTS),
    op("FocusedInboxOn", OPTBOOL),
    op("LeanPopoutEnabled", BOOL),
    op("LinkPreviewEnabled", BOOL),
    op("MailTipsAllTipsEnabled", BOOL),
    op("MailTipsExternalRecipientsTipsEnabled", BOOL),
    op("MailTipsGroupMetricsEnabled", BOOL),
    op(
        "MailTipsLargeAudienceThreshold",
        Ty::Int {
            min: 0,
            max: 2_147_483_647,
        },
    ),
    op("MailTipsMailboxSourcedTipsEnabled", BOOL),
    op("MobileAppEducationEnabled", BOOL),
    op("OAuth2ClientProfileEnabled", BOOL),
    op("OutlookMobileGCCRestrictionsEnabled", BOOL),
    op("OutlookPayEnabled", BOOL),
    op("PublicComputersDetectionEnabled", BOOL),
    op("PublicFoldersEnabled", Ty::Enum(&PUBLIC_FOLDERS)),
    op("ReadTrackingEnabled", BOOL),
    op("SendFromAliasEnabled", BOOL),
    op("SmtpActionableMessagesEnabled", BOOL),
    op("UnblockUnsafeSenderPromptEnabled", BOOL),
    op("VisibleMeetingUpdateProperties", TEXT),
    op("WebPushNotificationsDisabled", BOOL),
    op("WebSuggestedRepliesDisabled", BOOL),
    op("WorkspaceTenantEnabled", BOOL),
];

/// The organization-configuration parameter named `name`, case-insensitively.
pub(crate) fn org_param(name: &str) -> Option<&'static OrgParam> {
    ORG_PARAMS
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(name))
}

fn organization_config(t: &Tenant, guid: &str, created: &str, changed: &str) -> Map<String, Value> {
    let settings = json!({
        "ActivityBasedAuthenticationTimeoutEnabled": true,
        "ActivityBasedAuthenticationTimeoutInterval": "06:00:00",
        "ActivityBasedAuthenticationTimeoutWithSingleSignOnEnabled": true,
        "AppsForOfficeEnabled": true,
        "AsyncSendEnabled": true,
        "AuditDisabled": false,
        "BookingsEnabled": true,
        "BookingsPaymentsEnabled": false,
        "ConnectorsActionableMessagesEnabled": true,
        "ConnectorsEnabled": true,
        "CustomerLockboxEnabled": false,
        "DefaultPublicFolderAgeLimit": null,
        "DefaultPublicFolderDeletedItemRetention": "30.00:00:00",
        "DefaultPublicFolderIssueWarningQuota": "1.7 GB (1,825,361,920 bytes)",
        "DefaultPublicFolderMaxItemSize": "Unlimited",
        "DefaultPublicFolderMovedItemRetention": "7.00:00:00",
        "DefaultPublicFolderProhibitPostQuota": "2 GB (2,147,483,648 bytes)",
        "DirectReportsGroupAutoCreationEnabled": false,
        "DistributionGroupDefaultOU": null,
        "DistributionGroupNameBlockedWordsList": [],
        "DistributionGroupNamingPolicy": "",
        "ElcProcessingDisabled": false,
        "EwsAllowEntourage": null,
        "EwsAllowList": [],
        "EwsAllowMacOutlook": null,
        "EwsAllowOutlook": null,
        "EwsBlockList": [],
        "EwsEnabled": null,
        "ExchangeNotificationEnabled": true,
        "ExchangeNotificationRecipients": [],
        "FocusedInboxOn": null,
        "LeanPopoutEnabled": false,
        "LinkPreviewEnabled": true,
        "MailTipsAllTipsEnabled": true,
        "MailTipsExternalRecipientsTipsEnabled": false,
        "MailTipsGroupMetricsEnabled": true,
        "MailTipsLargeAudienceThreshold": 25,
        "MailTipsMailboxSourcedTipsEnabled": true,
        "MobileAppEducationEnabled": true,
        "OAuth2ClientProfileEnabled": true,
        "OutlookMobileGCCRestrictionsEnabled": false,
        "OutlookPayEnabled": true,
        "PublicComputersDetectionEnabled": false,
        "PublicFoldersEnabled": "Local",
        "ReadTrackingEnabled": false,
        "SendFromAliasEnabled": false,
        "SmtpActionableMessagesEnabled": true,
        "UnblockUnsafeSenderPromptEnabled": true,
        "VisibleMeetingUpdateProperties": "Location,AllProperties:15",
        "WebPushNotificationsDisabled": false,
        "WebSuggestedRepliesDisabled": false,
        "WorkspaceTenantEnabled": false,
    });
    let mut m = Map::new();
    m.insert("DisplayName".into(), json!(t.display_name));
    m.insert("IsDehydrated".into(), json!(false));
    m.insert("IsTenantInGracePeriod".into(), json!(false));
    m.insert("ExchangeNotificationRecipientsEnabled".into(), json!(true));
    if let Value::Object(settings) = settings {
        m.extend(settings);
    }
    m.insert("AdminDisplayName".into(), json!(""));
    m.insert("ExchangeVersion".into(), json!("0.20 (15.0.0.0)"));
    m.insert("Name".into(), json!(t.domain));
    m.insert("DistinguishedName".into(), json!(t.configuration_dn()));
    m.insert("Identity".into(), json!(t.domain));
    m.insert("Guid".into(), json!(guid));
    m.insert(
        "ObjectCategory".into(),
        json!(format!(
            "{}.PROD.OUTLOOK.COM/Configuration/Schema/ms-Exch-Configuration-Unit-Container",
            t.forest
        )),
    );
    m.insert(
        "ObjectClass".into(),
        json!(["top", "container", "msExchConfigurationUnitContainer"]),
    );
    m.insert("WhenChanged".into(), json!(changed));
    m.insert("WhenCreated".into(), json!(created));
    m.insert("WhenChangedUTC".into(), to_utc(json!(changed)));
    m.insert("WhenCreatedUTC".into(), to_utc(json!(created)));
    m.insert("OrganizationId".into(), json!(t.organization_id()));
    m.insert("Id".into(), json!(t.domain));
    m.insert("OriginatingServer".into(), json!(t.dc));
    m.insert("IsValid".into(), json!(true));
    m.insert("ObjectState".into(), json!("Unchanged"));
    m
}

fn accepted_domain(
    t: &Tenant,
    domain: &str,
    initial: bool,
    default: bool,
    guid: &str,
    when: &str,
) -> Map<String, Value> {
    let v = json!({
        "DomainName": domain,
        "CatchAllRecipientID": null,
        "DomainType": "Authoritative",
        "MatchSubDomains": false,
        "AddressBookEnabled": true,
        "Default": default,
        "EmailOnly": false,
        "ExternallyManaged": false,
        "AuthenticationType": "Managed",
        "LiveIdInstanceType": "Business",
        "PendingRemoval": false,
        "PendingCompletion": false,
        "FederatedOrganizationLink": null,
        "MailFlowPartner": null,
        "OutboundOnly": false,
        "PendingFederatedAccountNamespace": false,
        "PendingFederatedDomain": false,
        "IsCoexistenceDomain": false,
        "PerimeterDuplicateDetected": false,
        "IsDefaultFederatedDomain": false,
        "EnableNego2Authentication": false,
        "InitialDomain": initial,
        "AdminDisplayName": "",
        "ExchangeVersion": "0.1 (8.0.535.0)",
        "Name": domain,
        "DistinguishedName": format!("CN={domain},CN=Accepted Domains,CN=Transport Settings,{}", t.configuration_dn()),
        "Identity": domain,
        "Guid": guid,
        "ObjectCategory": format!("{}.PROD.OUTLOOK.COM/Configuration/Schema/ms-Exch-Accepted-Domain", t.forest),
        "ObjectClass": ["top", "msExchAcceptedDomain"],
        "WhenChanged": when,
        "WhenCreated": when,
        "WhenChangedUTC": to_utc(json!(when)),
        "WhenCreatedUTC": to_utc(json!(when)),
        "OrganizationId": t.organization_id(),
        "Id": domain,
        "OriginatingServer": t.dc,
        "IsValid": true,
        "ObjectState": "Unchanged",
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// The directory

/// Index key kinds, strongest first: an exact identifier (GUID, DN), an address (UPN or proxy),
/// a Name, an Alias, a DisplayName.
const KEY_ID: u8 = 0;
const KEY_ADDRESS: u8 = 1;
const KEY_NAME: u8 = 2;
const KEY_ALIAS: u8 = 3;
const KEY_DISPLAY: u8 = 4;

/// Identifiers and addresses win over names and aliases, which win over display names.
fn precedence(kind: u8) -> u8 {
    match kind {
        KEY_ID | KEY_ADDRESS => 0,
        KEY_NAME | KEY_ALIAS => 1,
        _ => 2,
    }
}

/// What an identity resolves to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Exactly one object, by slot.
    Found(u32),
    /// Nothing.
    NotFound,
    /// More than one object.
    Ambiguous,
}

/// One sandbox tenant's directory: mailboxes, users, groups, permissions, transport rules, org
/// config, accepted domains.
#[derive(Clone, Debug)]
pub struct Directory {
    pub(crate) tenant: Tenant,
    /// Recipients by slot; a removed recipient leaves `None`, so slots stay stable.
    recipients: Vec<Option<Obj>>,
    /// Lowercase identity strings to the slots they name, with the kind of key.
    index: HashMap<String, Vec<(u32, u8)>>,
    pub(crate) mailbox_permissions: Vec<MailboxPermission>,
    pub(crate) recipient_permissions: Vec<RecipientPermission>,
    /// Transport rules, in priority order.
    pub(crate) transport_rules: Vec<Map<String, Value>>,
    pub(crate) organization: Map<String, Value>,
    pub(crate) accepted_domains: Vec<Map<String, Value>>,
    /// The logical clock: seconds since the epoch of the last change.
    clock: i64,
    /// GUIDs for objects created after generation.
    rng: Rng,
}

const FIRST_NAMES: &[&str] = &[
    "Adele", "Alex", "Allan", "Amara", "Ana", "Anders", "Ben", "Bianca", "Carlos", "Chen", "Chloe",
    "Daniel", "Diego", "Elena", "Emily", "Fatima", "Felix", "Grace", "Hannah", "Hiro", "Isaiah",
    "Ivan", "Jana", "Johanna", "Jonas", "Joni", "Karim", "Laura", "Lee", "Lidia", "Lucas", "Lynne",
    "Maja", "Marco", "Megan", "Miriam", "Nestor", "Noah", "Olga", "Omar", "Patti", "Pradeep",
    "Priya", "Rafael", "Sakura", "Samir", "Sara", "Sofia", "Tomas", "Uma", "Victor", "Wei", "Yara",
    "Zoe",
];

const LAST_NAMES: &[&str] = &[
    "Adams",
    "Andersen",
    "Bauer",
    "Bowen",
    "Brennan",
    "Costa",
    "Dubois",
    "Eriksson",
    "Fischer",
    "Garcia",
    "Gupta",
    "Hansen",
    "Herrera",
    "Ito",
    "Jansen",
    "Kowalski",
    "Langer",
    "Larsen",
    "Lopez",
    "Martin",
    "Meyer",
    "Moreau",
    "Murphy",
    "Nakamura",
    "Novak",
    "O'Brien",
    "Okafor",
    "Patel",
    "Petrov",
    "Quinn",
    "Rossi",
    "Santos",
    "Schmidt",
    "Siciliani",
    "Silva",
    "Smith",
    "Tanaka",
    "Vance",
    "Varga",
    "Wagner",
    "Wilber",
    "Wilke",
    "Wong",
    "Young",
    "Zhang",
];

const DEPARTMENTS: &[(&str, &[&str])] = &[
    (
        "Sales",
        &[
            "Account Executive",
            "Sales Manager",
            "Sales Representative",
            "Inside Sales Specialist",
        ],
    ),
    (
        "Marketing",
        &[
            "Marketing Manager",
            "Content Strategist",
            "Brand Specialist",
            "Product Marketing Manager",
        ],
    ),
    (
        "Finance",
        &[
            "Accountant",
            "Financial Analyst",
            "Controller",
            "Payroll Specialist",
        ],
    ),
    (
        "IT",
        &[
            "Systems Administrator",
            "Helpdesk Technician",
            "Network Engineer",
            "IT Manager",
        ],
    ),
    (
        "Human Resources",
        &["HR Generalist", "Recruiter", "HR Business Partner"],
    ),
    (
        "Operations",
        &[
            "Operations Manager",
            "Logistics Coordinator",
            "Facilities Manager",
        ],
    ),
    (
        "Legal",
        &["Legal Counsel", "Paralegal", "Compliance Officer"],
    ),
    (
        "Engineering",
        &[
            "Software Engineer",
            "Senior Software Engineer",
            "QA Engineer",
            "Engineering Manager",
        ],
    ),
    (
        "Customer Support",
        &[
            "Support Engineer",
            "Customer Success Manager",
            "Support Team Lead",
        ],
    ),
    (
        "Research",
        &["Research Scientist", "Data Scientist", "Research Assistant"],
    ),
];

/// (City, state or province, country, office).
const OFFICES: &[(&str, &str, &str, &str)] = &[
    ("Seattle", "WA", "United States", "Seattle HQ"),
    ("New York", "NY", "United States", "New York"),
    ("Toronto", "ON", "Canada", "Toronto"),
    ("London", "", "United Kingdom", "London"),
    ("Dublin", "", "Ireland", "Dublin"),
    ("Amsterdam", "", "Netherlands", "Amsterdam"),
    ("Paris", "", "France", "Paris"),
    ("Berlin", "", "Germany", "Berlin"),
    ("Madrid", "", "Spain", "Madrid"),
    ("Stockholm", "", "Sweden", "Stockholm"),
    ("Sydney", "NSW", "Australia", "Sydney"),
    ("Singapore", "", "Singapore", "Singapore"),
];

/// Shared and room mailboxes every tenant has: (alias, Name, DisplayName, RecipientTypeDetails).
const RESOURCE_MAILBOXES: &[(&str, &str, &str, &str)] = &[
    ("info", "Info", "Info", "SharedMailbox"),
    ("support", "Support", "Customer Support", "SharedMailbox"),
    ("billing", "Billing", "Billing", "SharedMailbox"),
    ("boardroom", "Boardroom", "Boardroom", "RoomMailbox"),
];

/// Distribution groups every tenant has: (alias, Name, security?, join restriction, members;
/// `usize::MAX` members means every user mailbox).
const GROUPS: &[(&str, &str, bool, &str, usize)] = &[
    ("all-staff", "All Staff", false, "Closed", usize::MAX),
    ("sales-emea", "Sales EMEA", false, "Open", 12),
    ("it-oncall", "IT On-Call", true, "Closed", 5),
    ("helpdesk", "Helpdesk", false, "Closed", 6),
    ("finance-team", "Finance Team", false, "ApprovalRequired", 8),
];

/// 2023-01-01T00:00:00Z: the earliest WhenCreated.
const CREATED_FROM: i64 = 1_672_531_200;
/// Two years.
const CREATED_SPAN: u64 = 730 * 86_400;
/// 2025-07-01T08:00:00Z: the logical clock starts here; generated changes are before it.
const CLOCK_START: i64 = 1_751_356_800 + 8 * 3600;

impl Directory {
    /// Builds the directory of a tenant deterministically from its domain, id, mailbox count and seed.
    pub fn generate(domain: &str, tenant_id: &str, mailboxes: usize, seed: u64) -> Directory {
        let domain = match domain.trim().to_lowercase() {
            d if d.is_empty() => "contoso.onmicrosoft.com".to_string(),
            d => d,
        };
        let label = domain.split('.').next().unwrap_or("contoso").to_string();
        let mut vanity = format!("{label}.com");
        if vanity == domain {
            vanity = format!("mail.{domain}");
        }
        let mut rng = Rng::derive(seed, &format!("directory|{domain}|{tenant_id}"));
        let tenant = tenant(&mut rng, &domain, &vanity, tenant_id, &label);
        let write_rng = Rng::derive(seed, &format!("directory-writes|{domain}|{tenant_id}"));
        let mut dir = Directory {
            tenant,
            recipients: Vec::with_capacity(mailboxes + RESOURCE_MAILBOXES.len() + GROUPS.len()),
            index: HashMap::with_capacity(mailboxes * 10 + 64),
            mailbox_permissions: Vec::new(),
            recipient_permissions: Vec::new(),
            transport_rules: Vec::new(),
            organization: Map::new(),
            accepted_domains: Vec::new(),
            clock: CLOCK_START,
            rng: write_rng,
        };

        let org_created = CREATED_FROM - 86_400 * (30 + rng.below(300) as i64);
        let org_created_s = format_datetime(org_created);
        dir.organization = organization_config(
            &dir.tenant,
            &rng.guid(),
            &org_created_s,
            &format_datetime(CLOCK_START - 86_400 * (1 + rng.below(60) as i64)),
        );
        let initial = accepted_domain(
            &dir.tenant,
            &domain,
            true,
            true,
            &rng.guid(),
            &org_created_s,
        );
        let vanity_when = format_datetime(org_created + 86_400 * (1 + rng.below(20) as i64));
        let vanity_domain = accepted_domain(
            &dir.tenant,
            &vanity,
            false,
            false,
            &rng.guid(),
            &vanity_when,
        );
        dir.accepted_domains = vec![initial, vanity_domain];

        let users = dir.generate_users(&mut rng, mailboxes);
        let resources = dir.generate_resources(&mut rng);
        dir.generate_groups(&mut rng, &users);
        dir.generate_permissions(&mut rng, &users, &resources);
        dir.generate_rules(&mut rng);
        dir
    }

    fn generate_users(&mut self, rng: &mut Rng, count: usize) -> Vec<u32> {
        let width = count.to_string().len().max(3);
        let mut slots = Vec::with_capacity(count);
        for i in 0..count {
            let alias = format!("user{:0width$}", i + 1);
            let first = *rng.pick(FIRST_NAMES);
            let last = *rng.pick(LAST_NAMES);
            let (department, titles) = *rng.pick(DEPARTMENTS);
            let title = *rng.pick(titles);
            let (city, state, country, office) = *rng.pick(OFFICES);
            let created = CREATED_FROM + rng.below(CREATED_SPAN) as i64;
            let changed = created + rng.below(((CLOCK_START - created) as u64).max(1)) as i64;
            let upn = format!("{alias}@{}", self.tenant.domain);
            let mut o = Obj::new(Class::Mailbox);
            o.set(P::Name, json!(alias));
            o.set(P::Alias, json!(alias));
            o.set(P::DisplayName, json!(format!("{first} {last}")));
            o.set(P::FirstName, json!(first));
            o.set(P::LastName, json!(last));
            o.set(P::UserPrincipalName, json!(upn));
            o.set(P::PrimarySmtpAddress, json!(upn));
            o.set(
                P::EmailAddresses,
                json!([
                    format!("SMTP:{upn}"),
                    format!("smtp:{alias}@{}", self.tenant.vanity)
                ]),
            );
            o.set(P::RecipientTypeDetails, json!("UserMailbox"));
            o.set(P::Guid, json!(rng.guid()));
            o.set(P::ExchangeGuid, json!(rng.guid()));
            o.set(P::ExternalDirectoryObjectId, json!(rng.guid()));
            o.set(P::WhenCreated, json!(format_datetime(created)));
            o.set(P::WhenChanged, json!(format_datetime(changed)));
            o.set(P::Title, json!(title));
            o.set(P::Department, json!(department));
            o.set(P::Office, json!(office));
            o.set(P::City, json!(city));
            if !state.is_empty() {
                o.set(P::StateOrProvince, json!(state));
            }
            o.set(P::CountryOrRegion, json!(country));
            o.set(P::Company, json!(self.tenant.display_name));
            if i >= 3 && rng.chance(0.8) {
                let manager = rng.below((i as u64 / 10).max(1)) as usize;
                o.set(P::Manager, json!(format!("user{:0width$}", manager + 1)));
            }
            if rng.chance(0.3) {
                o.set(P::RetainDeletedItemsFor, json!("30.00:00:00"));
            }
            o.set(P::SingleItemRecoveryEnabled, json!(rng.chance(0.85)));
            if rng.chance(0.08) {
                o.set(P::LitigationHoldEnabled, json!(true));
                o.set(P::LitigationHoldDate, json!(format_datetime(changed)));
                o.set(
                    P::LitigationHoldOwner,
                    json!(format!("admin@{}", self.tenant.domain)),
                );
            }
            if rng.chance(0.02) {
                o.set(P::HiddenFromAddressListsEnabled, json!(true));
            }
            if rng.chance(0.05) {
                o.set(P::MessageCopyForSentAsEnabled, json!(true));
            }
            o.set(
                P::CustomAttribute1,
                json!(if rng.chance(0.85) {
                    "Employee"
                } else {
                    "Contractor"
                }),
            );
            if rng.chance(0.1) {
                o.set(P::PopEnabled, json!(false));
            }
            if rng.chance(0.1) {
                o.set(P::ImapEnabled, json!(false));
            }
            if rng.chance(0.05) {
                o.set(P::ActiveSyncEnabled, json!(false));
            }
            if rng.chance(0.15) {
                o.set(P::SmtpClientAuthenticationDisabled, json!(true));
            }
            slots.push(self.push(o));
        }
        slots
    }

    fn generate_resources(&mut self, rng: &mut Rng) -> Vec<u32> {
        let mut slots = Vec::new();
        for (alias, name, display, rtd) in RESOURCE_MAILBOXES {
            let created = CREATED_FROM + rng.below(CREATED_SPAN / 4) as i64;
            let address = format!("{alias}@{}", self.tenant.vanity);
            let mut o = Obj::new(Class::Mailbox);
            o.set(P::Name, json!(name));
            o.set(P::Alias, json!(alias));
            o.set(P::DisplayName, json!(display));
            o.set(P::UserPrincipalName, json!(address));
            o.set(P::PrimarySmtpAddress, json!(address));
            o.set(
                P::EmailAddresses,
                json!([
                    format!("SMTP:{address}"),
                    format!("smtp:{alias}@{}", self.tenant.domain)
                ]),
            );
            o.set(P::RecipientTypeDetails, json!(rtd));
            o.set(P::Guid, json!(rng.guid()));
            o.set(P::ExchangeGuid, json!(rng.guid()));
            o.set(P::ExternalDirectoryObjectId, json!(rng.guid()));
            o.set(P::WhenCreated, json!(format_datetime(created)));
            o.set(P::WhenChanged, json!(format_datetime(created + 3600)));
            if *rtd == "RoomMailbox" {
                o.set(P::ResourceCapacity, json!(8 + rng.below(9)));
            } else {
                o.set(P::MessageCopyForSentAsEnabled, json!(rng.chance(0.5)));
            }
            slots.push(self.push(o));
        }
        slots
    }

    fn generate_groups(&mut self, rng: &mut Rng, users: &[u32]) {
        for (alias, name, security, join, count) in GROUPS {
            let created = CREATED_FROM + rng.below(CREATED_SPAN) as i64;
            let address = format!("{alias}@{}", self.tenant.vanity);
            let mut o = Obj::new(Class::Group);
            o.set(P::Name, json!(name));
            o.set(P::Alias, json!(alias));
            o.set(P::DisplayName, json!(name));
            o.set(P::PrimarySmtpAddress, json!(address));
            o.set(
                P::EmailAddresses,
                json!([
                    format!("SMTP:{address}"),
                    format!("smtp:{alias}@{}", self.tenant.domain)
                ]),
            );
            o.set(
                P::RecipientTypeDetails,
                json!(if *security {
                    "MailUniversalSecurityGroup"
                } else {
                    "MailUniversalDistributionGroup"
                }),
            );
            o.set(P::Guid, json!(rng.guid()));
            o.set(P::ExternalDirectoryObjectId, json!(rng.guid()));
            o.set(P::WhenCreated, json!(format_datetime(created)));
            o.set(
                P::WhenChanged,
                json!(format_datetime(created + rng.below(86_400 * 90) as i64)),
            );
            o.set(P::MemberJoinRestriction, json!(join));
            if *security {
                o.set(P::MemberDepartRestriction, json!("Closed"));
            }
            o.set(P::RequireSenderAuthenticationEnabled, json!(true));
            o.set(P::MaxSendSize, json!("Unlimited"));
            o.set(P::MaxReceiveSize, json!("Unlimited"));
            let n = 1 + rng.below(2) as usize;
            let owners = sample(rng, users, n);
            let owner_names: Vec<Value> = owners
                .iter()
                .filter_map(|s| self.obj(*s))
                .map(|m| json!(m.name()))
                .collect();
            o.set(P::ManagedBy, Value::Array(owner_names));
            o.members = if *count == usize::MAX {
                users.to_vec()
            } else {
                sample(rng, users, *count)
            };
            self.push(o);
        }
    }

    fn generate_permissions(&mut self, rng: &mut Rng, users: &[u32], resources: &[u32]) {
        for &mailbox in resources {
            let shared = self
                .obj(mailbox)
                .is_some_and(|o| o.text(P::RecipientTypeDetails) == "SharedMailbox");
            if !shared {
                continue;
            }
            let n = 1 + rng.below(3) as usize;
            let full = sample(rng, users, n);
            for &user in &full {
                self.mailbox_permissions.push(MailboxPermission {
                    mailbox,
                    user,
                    rights: vec!["FullAccess".into()],
                    deny: false,
                    inheritance: "All".into(),
                });
            }
            for &trustee in full.iter().take(1 + rng.below(2) as usize) {
                self.recipient_permissions.push(RecipientPermission {
                    recipient: mailbox,
                    trustee,
                });
            }
        }
    }

    fn generate_rules(&mut self, rng: &mut Rng) {
        let when = format_datetime(CREATED_FROM + rng.below(CREATED_SPAN) as i64);
        let mut external = new_rule(&self.tenant, "External email tag", &rng.guid(), &when);
        external.insert("FromScope".into(), json!("NotInOrganization"));
        external.insert("SentToScope".into(), json!("InOrganization"));
        external.insert("PrependSubject".into(), json!("[EXTERNAL] "));
        external.insert("SetHeaderName".into(), json!("X-External-Sender"));
        external.insert("SetHeaderValue".into(), json!("true"));
        external.insert(
            "Comments".into(),
            json!("Tags mail from outside the organization so users think before they click."),
        );
        let when = format_datetime(CREATED_FROM + rng.below(CREATED_SPAN) as i64);
        let mut disclaimer = new_rule(&self.tenant, "Outbound disclaimer", &rng.guid(), &when);
        disclaimer.insert("SentToScope".into(), json!("NotInOrganization"));
        disclaimer.insert(
            "ApplyHtmlDisclaimerText".into(),
            json!(format!(
                "<p style=\"font-size:9pt;color:#666\">This message is confidential and intended only for its recipients. {} Ltd.</p>",
                self.tenant.display_name
            )),
        );
        disclaimer.insert("ApplyHtmlDisclaimerLocation".into(), json!("Append"));
        disclaimer.insert("ApplyHtmlDisclaimerFallbackAction".into(), json!("Wrap"));
        disclaimer.insert(
            "Comments".into(),
            json!("Legal asked for this on all external mail."),
        );
        if rng.chance(0.5) {
            disclaimer.insert("State".into(), json!("Disabled"));
        }
        self.transport_rules = vec![external, disclaimer];
        self.renumber_rules();
    }

    /// Recomputes every rule's Priority and derived properties from its position.
    pub(crate) fn renumber_rules(&mut self) {
        for (i, rule) in self.transport_rules.iter_mut().enumerate() {
            rule.insert("Priority".into(), json!(i));
            refresh_rule(&self.tenant, rule);
        }
    }

    /// The whole directory as JSON (stable key order), for determinism tests and inspection.
    pub fn snapshot(&self) -> Value {
        let recipients: Vec<Value> = self
            .live()
            .map(|(_, o)| {
                let views = match o.class {
                    Class::Mailbox => MBX | USR | CAS | RCP,
                    Class::Group => GRP | RCP,
                };
                let mut v = self.render(o, views);
                if let (Class::Group, Value::Object(m)) = (o.class, &mut v) {
                    let members: Vec<Value> = o
                        .members
                        .iter()
                        .filter_map(|s| self.obj(*s))
                        .map(|m| json!(m.name()))
                        .collect();
                    m.insert("Members".into(), Value::Array(members));
                }
                v
            })
            .collect();
        let name = |slot: u32| {
            self.obj(slot)
                .map(|o| o.name().to_string())
                .unwrap_or_default()
        };
        let mailbox_permissions: Vec<Value> = self
            .mailbox_permissions
            .iter()
            .map(|p| {
                json!({
                    "Identity": name(p.mailbox),
                    "User": name(p.user),
                    "AccessRights": p.rights,
                    "Deny": p.deny,
                    "InheritanceType": p.inheritance,
                })
            })
            .collect();
        let recipient_permissions: Vec<Value> = self
            .recipient_permissions
            .iter()
            .map(|p| json!({"Identity": name(p.recipient), "Trustee": name(p.trustee), "AccessRights": ["SendAs"]}))
            .collect();
        json!({
            "tenant": {
                "domain": self.tenant.domain,
                "vanityDomain": self.tenant.vanity,
                "tenantId": self.tenant.id,
                "displayName": self.tenant.display_name,
                "domainController": self.tenant.dc,
            },
            "acceptedDomains": self.accepted_domains,
            "organizationConfig": self.organization,
            "recipients": recipients,
            "mailboxPermissions": mailbox_permissions,
            "recipientPermissions": recipient_permissions,
            "transportRules": self.transport_rules,
        })
    }

    /// The tenant id the directory was generated for.
    pub fn tenant_id(&self) -> &str {
        &self.tenant.id
    }

    /// The tenant's accepted domains, the initial (`*.onmicrosoft.com`) one first.
    pub fn domains(&self) -> Vec<&str> {
        self.accepted_domains
            .iter()
            .filter_map(|d| d.get("DomainName").and_then(Value::as_str))
            .collect()
    }

    // ---- Recipients

    /// The recipient in `slot`, unless removed.
    pub(crate) fn obj(&self, slot: u32) -> Option<&Obj> {
        self.recipients.get(slot as usize).and_then(Option::as_ref)
    }

    /// Every recipient, with its slot, in creation order.
    pub(crate) fn live(&self) -> impl Iterator<Item = (u32, &Obj)> {
        self.recipients
            .iter()
            .enumerate()
            .filter_map(|(i, o)| o.as_ref().map(|o| (i as u32, o)))
    }

    /// A recipient as one or more views show it (`MBX`, `RCP`, …), properties in schema order.
    pub(crate) fn render(&self, o: &Obj, views: u8) -> Value {
        let mut m = Map::with_capacity(160);
        for d in PROPS.iter().filter(|d| d.views & views != 0) {
            m.insert(d.name.to_string(), o.get(d.p, &self.tenant));
        }
        Value::Object(m)
    }

    /// Resolves an identity (Name, Alias, DisplayName, UPN, any email address with or without
    /// `smtp:`, Guid, ExchangeGuid, ExternalDirectoryObjectId or DistinguishedName) among the
    /// recipients `accept` allows.
    pub(crate) fn lookup(&self, identity: &str, accept: &dyn Fn(&Obj) -> bool) -> Lookup {
        let key = normalize_identity(identity);
        let Some(hits) = self.index.get(&key) else {
            return Lookup::NotFound;
        };
        let mut best = u8::MAX;
        let mut found: Vec<u32> = Vec::new();
        for &(slot, kind) in hits {
            if !self.obj(slot).is_some_and(accept) {
                continue;
            }
            let p = precedence(kind);
            if p < best {
                best = p;
                found.clear();
            }
            if p == best && !found.contains(&slot) {
                found.push(slot);
            }
        }
        match found.as_slice() {
            [] => Lookup::NotFound,
            [one] => Lookup::Found(*one),
            _ => Lookup::Ambiguous,
        }
    }

    /// The recipients whose Name, Alias, DisplayName or primary address matches a `*` pattern.
    pub(crate) fn wildcard(&self, pattern: &str, accept: &dyn Fn(&Obj) -> bool) -> Vec<u32> {
        let pattern = pattern.trim().to_lowercase();
        self.live()
            .filter(|(_, o)| accept(o))
            .filter(|(_, o)| {
                [P::Name, P::Alias, P::DisplayName, P::PrimarySmtpAddress]
                    .iter()
                    .any(|p| super::filter::like(&pattern, &o.text(*p).to_lowercase()))
            })
            .map(|(s, _)| s)
            .collect()
    }

    /// The recipient other than `except` that uses `address` (a UPN or proxy address).
    pub(crate) fn address_owner(&self, address: &str, except: Option<u32>) -> Option<u32> {
        self.key_owner(address, except, |k| k == KEY_ADDRESS)
    }

    /// The recipient other than `except` whose alias is `alias`.
    pub(crate) fn alias_owner(&self, alias: &str, except: Option<u32>) -> Option<u32> {
        self.key_owner(alias, except, |k| k == KEY_ALIAS)
    }

    /// The recipient other than `except` named `name`.
    pub(crate) fn name_owner(&self, name: &str, except: Option<u32>) -> Option<u32> {
        self.key_owner(name, except, |k| k == KEY_NAME)
    }

    fn key_owner(&self, key: &str, except: Option<u32>, kind: impl Fn(u8) -> bool) -> Option<u32> {
        self.index
            .get(&normalize_identity(key))?
            .iter()
            .find(|(slot, k)| kind(*k) && Some(*slot) != except && self.obj(*slot).is_some())
            .map(|(slot, _)| *slot)
    }

    /// Adds a recipient as generated (its timestamps already set).
    fn push(&mut self, o: Obj) -> u32 {
        let slot = self.recipients.len() as u32;
        self.add_keys(slot, &o);
        self.recipients.push(Some(o));
        slot
    }

    /// Adds a new recipient, created and changed now.
    pub(crate) fn insert(&mut self, mut o: Obj) -> u32 {
        let now = self.tick();
        o.set(P::WhenCreated, now.clone());
        o.set(P::WhenChanged, now);
        self.push(o)
    }

    /// Replaces the recipient in `slot` with a changed copy; WhenChanged moves on.
    pub(crate) fn replace(&mut self, slot: u32, mut o: Obj) {
        let Some(old) = self
            .recipients
            .get_mut(slot as usize)
            .and_then(Option::take)
        else {
            return;
        };
        self.remove_keys(slot, &old);
        o.set(P::WhenChanged, self.tick());
        self.add_keys(slot, &o);
        let (old_name, new_name) = (old.name().to_string(), o.name().to_string());
        if let Some(entry) = self.recipients.get_mut(slot as usize) {
            *entry = Some(o);
        }
        if old_name != new_name {
            self.rewrite_references(&old_name, Some(&new_name));
        }
    }

    /// Follows a rename (`new` is the new Name) or a removal (`None`) in every property that
    /// refers to recipients by Name (ManagedBy, GrantSendOnBehalfTo, Manager, …), as the
    /// service's links would.
    fn rewrite_references(&mut self, old: &str, new: Option<&str>) {
        let reference_props: Vec<P> = PROPS
            .iter()
            .filter(|d| matches!(d.ty, Ty::Recipient | Ty::Recipients))
            .map(|d| d.p)
            .collect();
        for o in self.recipients.iter_mut().flatten() {
            for &p in &reference_props {
                let Some(value) = o.stored(p).cloned() else {
                    continue;
                };
                let renamed = match value {
                    Value::String(s) if s.eq_ignore_ascii_case(old) => {
                        new.map_or(Value::Null, |n| Value::String(n.to_string()))
                    }
                    Value::Array(items) => Value::Array(
                        items
                            .into_iter()
                            .filter_map(|v| match v.as_str() {
                                Some(s) if s.eq_ignore_ascii_case(old) => {
                                    new.map(|n| Value::String(n.to_string()))
                                }
                                _ => Some(v),
                            })
                            .collect(),
                    ),
                    _ => continue,
                };
                o.set(p, renamed);
            }
        }
    }

    /// Sets a group's members; WhenChanged moves on.
    pub(crate) fn set_members(&mut self, slot: u32, members: Vec<u32>) {
        let now = self.tick();
        if let Some(Some(o)) = self.recipients.get_mut(slot as usize) {
            o.members = members;
            o.set(P::WhenChanged, now);
        }
    }

    /// Removes a recipient, its memberships and the permissions it holds or grants.
    pub(crate) fn remove(&mut self, slot: u32) {
        let Some(old) = self
            .recipients
            .get_mut(slot as usize)
            .and_then(Option::take)
        else {
            return;
        };
        self.remove_keys(slot, &old);
        for o in self.recipients.iter_mut().flatten() {
            o.members.retain(|m| *m != slot);
        }
        self.rewrite_references(old.name(), None);
        self.mailbox_permissions
            .retain(|p| p.mailbox != slot && p.user != slot);
        self.recipient_permissions
            .retain(|p| p.recipient != slot && p.trustee != slot);
        self.tick();
    }

    fn keys(&self, o: &Obj) -> Vec<(String, u8)> {
        let mut keys = Vec::with_capacity(12);
        let mut push = |s: &str, kind: u8| {
            if !s.is_empty() {
                keys.push((s.to_lowercase(), kind));
            }
        };
        push(o.text(P::Guid), KEY_ID);
        push(o.text(P::ExchangeGuid), KEY_ID);
        push(o.text(P::ExternalDirectoryObjectId), KEY_ID);
        push(&self.tenant.dn(o.name()), KEY_ID);
        push(o.text(P::UserPrincipalName), KEY_ADDRESS);
        if let Some(Value::Array(proxies)) = o.stored(P::EmailAddresses) {
            // Only SMTP addresses identify a recipient; X500:, SIP: and other proxies do not.
            for proxy in proxies
                .iter()
                .filter_map(Value::as_str)
                .filter(|p| is_smtp_proxy(p))
            {
                push(proxy_address(proxy), KEY_ADDRESS);
            }
        }
        push(o.name(), KEY_NAME);
        push(o.text(P::Alias), KEY_ALIAS);
        push(o.text(P::DisplayName), KEY_DISPLAY);
        keys
    }

    fn add_keys(&mut self, slot: u32, o: &Obj) {
        for (key, kind) in self.keys(o) {
            self.index.entry(key).or_default().push((slot, kind));
        }
    }

    fn remove_keys(&mut self, slot: u32, o: &Obj) {
        for (key, _) in self.keys(o) {
            if let Some(hits) = self.index.get_mut(&key) {
                hits.retain(|(s, _)| *s != slot);
                if hits.is_empty() {
                    self.index.remove(&key);
                }
            }
        }
    }

    // ---- Time, GUIDs, domains

    /// Advances the logical clock by a second and returns the new time as a DateTime value.
    pub(crate) fn tick(&mut self) -> Value {
        self.clock += 1;
        Value::String(format_datetime(self.clock))
    }

    /// A new GUID, from the directory's own deterministic stream.
    pub(crate) fn new_guid(&mut self) -> String {
        self.rng.guid()
    }

    /// Whether `domain` is one of the tenant's accepted domains.
    pub(crate) fn is_accepted_domain(&self, domain: &str) -> bool {
        self.domains()
            .iter()
            .any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// The default accepted domain, where new recipients get their address.
    pub(crate) fn default_domain(&self) -> String {
        self.accepted_domains
            .iter()
            .find(|d| d.get("Default") == Some(&Value::Bool(true)))
            .and_then(|d| d.get("DomainName").and_then(Value::as_str))
            .unwrap_or(&self.tenant.domain)
            .to_string()
    }
}

fn tenant(rng: &mut Rng, domain: &str, vanity: &str, tenant_id: &str, label: &str) -> Tenant {
    const REGIONS: &[(&str, &[&str])] = &[
        ("EURPR", &["AM6", "DB7", "VI1", "HE1", "DB8"]),
        ("NAMPR", &["BY5", "CH2", "SN6", "MW4"]),
        ("APCPR", &["SG2", "HK0", "PS2"]),
    ];
    let (region, sites) = *rng.pick(REGIONS);
    let site = *rng.pick(sites);
    let forest_number = rng.below(8) + 1;
    let cell = rng.below(20) + 1;
    let forest = format!("{region}{forest_number:02}A{cell:03}");
    let dc = format!(
        "{site}PR{forest_number:02}A{cell:03}DC{:02}.{forest}.PROD.OUTLOOK.COM",
        rng.below(8) + 1
    );
    let unit = rng.below(900) + 100;
    let mut display_name = String::new();
    let mut chars = label.chars();
    if let Some(first) = chars.next() {
        display_name.extend(first.to_uppercase());
        display_name.push_str(chars.as_str());
    }
    Tenant {
        domain: domain.to_string(),
        vanity: vanity.to_string(),
        id: tenant_id.to_string(),
        display_name,
        database_prefix: format!("{}P{unit}", &region[..3]),
        server_prefix: format!("{site}P{unit}"),
        forest,
        dc,
    }
}

/// Up to `n` distinct items of `items`, in the order drawn.
fn sample(rng: &mut Rng, items: &[u32], n: usize) -> Vec<u32> {
    if n >= items.len() {
        return items.to_vec();
    }
    let mut out: Vec<u32> = Vec::with_capacity(n);
    let mut tries = 0;
    while out.len() < n && tries < n * 20 {
        tries += 1;
        let item = *rng.pick(items);
        if !out.contains(&item) {
            out.push(item);
        }
    }
    out
}

/// Whether a proxy address is an SMTP one (`SMTP:`, `smtp:`, or no prefix).
pub(crate) fn is_smtp_proxy(proxy: &str) -> bool {
    match proxy.split_once(':') {
        Some((prefix, _)) if !prefix.contains('@') && !prefix.is_empty() => {
            prefix.eq_ignore_ascii_case("smtp")
        }
        _ => true,
    }
}

/// The address part of a proxy address (`SMTP:a@b` → `a@b`); addresses without a prefix are
/// returned as they are.
pub(crate) fn proxy_address(proxy: &str) -> &str {
    match proxy.split_once(':') {
        Some((prefix, rest)) if !prefix.contains('@') && !prefix.is_empty() => rest,
        _ => proxy,
    }
}

/// The lookup key of an identity: trimmed, without an `smtp:` prefix, lowercase.
fn normalize_identity(identity: &str) -> String {
    let s = identity.trim();
    let s = match s.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("smtp:") => s.get(5..).unwrap_or(""),
        _ => s,
    };
    s.to_lowercase()
}

// ---------------------------------------------------------------------------------------------
// Value codecs: EnhancedTimeSpan, ByteQuantifiedSize, DateTime

/// Ticks (100 ns) in a second.
const TICKS_PER_SECOND: i64 = 10_000_000;
const TICKS_PER_DAY: i64 = 86_400 * TICKS_PER_SECOND;

/// Parses a .NET TimeSpan (`[-][d.]hh:mm[:ss[.fffffff]]`, or a whole number of days) into ticks.
pub(crate) fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let digits = |t: &str, max_len: usize| -> Option<i64> {
        if t.is_empty() || t.len() > max_len || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let parts: Vec<&str> = s.split(':').collect();
    let (days, hours, minutes, seconds, fraction) = match parts.as_slice() {
        [d] => (digits(d, 8)?, 0, 0, 0, 0),
        [h, m] | [h, m, _] => {
            let (days, hours) = match h.split_once('.') {
                Some((d, h)) => (digits(d, 8)?, digits(h, 2)?),
                None => (0, digits(h, 2)?),
            };
            let minutes = digits(m, 2)?;
            let (seconds, fraction) = match parts.get(2) {
                None => (0, 0),
                Some(sec) => match sec.split_once('.') {
                    Some((s, f)) => {
                        let f_digits = digits(f, 7)?;
                        (digits(s, 2)?, f_digits * 10_i64.pow(7 - f.len() as u32))
                    }
                    None => (digits(sec, 2)?, 0),
                },
            };
            (days, hours, minutes, seconds, fraction)
        }
        _ => return None,
    };
    if hours > 23 || minutes > 59 || seconds > 59 || days > 10_675_198 {
        return None;
    }
    let ticks = (((days * 24 + hours) * 60 + minutes) * 60 + seconds)
        .checked_mul(TICKS_PER_SECOND)?
        .checked_add(fraction)?;
    Some(if negative { -ticks } else { ticks })
}

/// Formats ticks as .NET's TimeSpan.ToString does: `[-][d.]hh:mm:ss[.fffffff]`.
pub(crate) fn format_timespan(ticks: i64) -> String {
    let sign = if ticks < 0 { "-" } else { "" };
    let t = ticks.unsigned_abs();
    let per_day = TICKS_PER_DAY as u64;
    let per_second = TICKS_PER_SECOND as u64;
    let days = t / per_day;
    let rest = t % per_day;
    let seconds = rest / per_second;
    let fraction = rest % per_second;
    let mut out = String::from(sign);
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    ));
    if fraction > 0 {
        out.push_str(&format!(".{fraction:07}"));
    }
    out
}

/// A ByteQuantifiedSize or `Unlimited`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quantity {
    /// A number of bytes.
    Bytes(u64),
    /// No limit.
    Unlimited,
}

/// Parses a size: `Unlimited`, a number of bytes, `50 GB`, `1.5GB`, `256 KB`, or Exchange's own
/// `99 GB (106,300,440,576 bytes)`.
pub(crate) fn parse_size(s: &str) -> Option<Quantity> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("unlimited") {
        return Some(Quantity::Unlimited);
    }
    if let Some((_, inner)) = s.split_once('(') {
        let inner = inner.trim().strip_suffix(')')?.trim();
        let inner = inner
            .strip_suffix("bytes")
            .or_else(|| inner.strip_suffix("Bytes"))?;
        let digits: String = inner.trim().chars().filter(|c| *c != ',').collect();
        return digits.parse().ok().map(Quantity::Bytes);
    }
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (number, unit) = (s[..split].trim(), s[split..].trim());
    let multiplier: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return None,
    };
    let number: String = number.chars().filter(|c| *c != ',').collect();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(multiplier).map(Quantity::Bytes);
    }
    let value: f64 = number.parse().ok()?;
    let bytes = (value * multiplier as f64).round();
    if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
        return None;
    }
    Some(Quantity::Bytes(bytes as u64))
}

/// Formats bytes as Exchange shows sizes: `99 GB (106,300,440,576 bytes)`.
pub(crate) fn format_size(bytes: u64) -> String {
    const UNITS: &[(&str, u64)] = &[
        ("TB", 1 << 40),
        ("GB", 1 << 30),
        ("MB", 1 << 20),
        ("KB", 1 << 10),
    ];
    let (unit, size) = UNITS
        .iter()
        .copied()
        .find(|(_, size)| bytes >= *size)
        .unwrap_or(("B", 1));
    let value = format!("{:.1}", bytes as f64 / size as f64);
    let value = value.strip_suffix(".0").unwrap_or(&value);
    let digits = bytes.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{value} {unit} ({grouped} bytes)")
}

/// Parses a date and time into seconds since the epoch (UTC): ISO 8601 (`2025-01-31`,
/// `2025-01-31T08:00:00Z`, with fractions and `±hh:mm` offsets) or US style
/// (`1/31/2025 8:00 AM`, as PowerShell formats dates).
pub(crate) fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_ascii() {
        return None;
    }
    let num = |t: &str| -> Option<i64> {
        if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let (y, m, d, rest) = if s.len() >= 10 && s.as_bytes()[4] == b'-' {
        let (date, rest) = s.split_at(10);
        let mut it = date.split('-');
        let (y, m, d) = (num(it.next()?)?, num(it.next()?)?, num(it.next()?)?);
        let rest = match rest.chars().next() {
            None => "",
            Some('T' | 't' | ' ') => &rest[1..],
            Some(_) => return None,
        };
        (y, m, d, rest)
    } else {
        let (date, rest) = s.split_once(' ').unwrap_or((s, ""));
        let mut it = date.split('/');
        let (m, d, y) = (num(it.next()?)?, num(it.next()?)?, num(it.next()?)?);
        if it.next().is_some() {
            return None;
        }
        (y, m, d, rest.trim())
    };
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) || y < 1 {
        return None;
    }
    let (mut time, mut offset) = (rest, 0_i64);
    if let Some(t) = time.strip_suffix(['Z', 'z']) {
        time = t;
    } else if let Some(i) = time.rfind(['+', '-']) {
        let zone = &time[i + 1..];
        let (zh, zm) = match zone.split_once(':') {
            Some((h, m)) => (num(h)?, num(m)?),
            None if zone.len() == 4 => (num(&zone[..2])?, num(&zone[2..])?),
            None => (num(zone)?, 0),
        };
        offset = (zh * 60 + zm) * 60;
        if &time[i..i + 1] == "-" {
            offset = -offset;
        }
        time = &time[..i];
    }
    let time = time.trim();
    let (time, pm) = match time.get(time.len().saturating_sub(2)..) {
        Some(suffix) if suffix.eq_ignore_ascii_case("PM") => {
            (time[..time.len() - 2].trim(), Some(true))
        }
        Some(suffix) if suffix.eq_ignore_ascii_case("AM") => {
            (time[..time.len() - 2].trim(), Some(false))
        }
        _ => (time, None),
    };
    let (mut h, mi, sec) = if time.is_empty() {
        (0, 0, 0)
    } else {
        let mut it = time.split(':');
        let h = num(it.next()?)?;
        let mi = num(it.next()?)?;
        let sec = match it.next() {
            Some(sec) => num(sec.split('.').next()?)?,
            None => 0,
        };
        if it.next().is_some() {
            return None;
        }
        (h, mi, sec)
    };
    match pm {
        Some(_) if !(1..=12).contains(&h) => return None,
        Some(true) if h < 12 => h += 12,
        Some(false) if h == 12 => h = 0,
        _ => {}
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some(days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// Formats seconds since the epoch as Exchange's DateTime values: `2025-01-31T08:00:00+00:00`.
pub(crate) fn format_datetime(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rest = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::time::Instant;

    fn contoso(mailboxes: usize, seed: u64) -> Directory {
        Directory::generate(
            "contoso.onmicrosoft.com",
            "0550b473-1111-4c5d-8e7f-9a0b1c2d3e4f",
            mailboxes,
            seed,
        )
    }

    #[test]
    fn the_same_inputs_give_the_same_snapshot() {
        assert_eq!(contoso(40, 7).snapshot(), contoso(40, 7).snapshot());
    }

    #[test]
    fn another_seed_or_tenant_gives_other_content() {
        let a = contoso(40, 7).snapshot();
        assert_ne!(a, contoso(40, 8).snapshot());
        let fabrikam = Directory::generate("fabrikam.onmicrosoft.com", "x", 40, 7).snapshot();
        assert_ne!(
            a["recipients"][0]["Guid"],
            fabrikam["recipients"][0]["Guid"]
        );
    }

    #[test]
    fn users_are_numbered_and_addressed_on_both_domains() {
        let dir = contoso(12, 1);
        let snap = dir.snapshot();
        let first = &snap["recipients"][0];
        assert_eq!(first["Alias"], "user001");
        assert_eq!(
            first["UserPrincipalName"],
            "user001@contoso.onmicrosoft.com"
        );
        assert_eq!(
            first["PrimarySmtpAddress"],
            "user001@contoso.onmicrosoft.com"
        );
        assert_eq!(
            first["EmailAddresses"],
            json!([
                "SMTP:user001@contoso.onmicrosoft.com",
                "smtp:user001@contoso.com"
            ])
        );
        assert_eq!(first["RecipientTypeDetails"], "UserMailbox");
        assert_eq!(first["Identity"], first["Name"]);
        assert_eq!(
            first["DistinguishedName"],
            format!(
                "CN=user001,OU=contoso.onmicrosoft.com,OU=Microsoft Exchange Hosted Organizations,DC={},DC=PROD,DC=OUTLOOK,DC=COM",
                dir.tenant.forest
            )
        );
        assert_eq!(snap["recipients"][11]["Alias"], "user012");
        assert_eq!(
            dir.domains(),
            vec!["contoso.onmicrosoft.com", "contoso.com"]
        );
        let kinds: Vec<&str> = snap["recipients"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["RecipientTypeDetails"].as_str())
            .collect();
        for kind in [
            "SharedMailbox",
            "RoomMailbox",
            "MailUniversalDistributionGroup",
            "MailUniversalSecurityGroup",
        ] {
            assert!(kinds.contains(&kind), "{kind} missing");
        }
    }

    #[test]
    fn about_three_in_ten_mailboxes_keep_deleted_items_for_thirty_days() {
        let dir = contoso(1000, 3);
        let thirty = dir
            .live()
            .filter(|(_, o)| o.get(P::RetainDeletedItemsFor, &dir.tenant) == json!("30.00:00:00"))
            .count();
        assert!((240..=360).contains(&thirty), "{thirty}");
    }

    #[test]
    fn five_thousand_mailboxes_generate_quickly_with_unique_identities() {
        let start = Instant::now();
        let dir = contoso(5000, 42);
        let elapsed = start.elapsed();
        // Release builds take a few milliseconds; this bound only catches quadratic mistakes in
        // an unoptimised test build.
        assert!(elapsed.as_millis() < 2000, "{elapsed:?}");
        let users: Vec<&Obj> = dir
            .live()
            .map(|(_, o)| o)
            .filter(|o| o.text(P::RecipientTypeDetails) == "UserMailbox")
            .collect();
        assert_eq!(users.len(), 5000);
        assert_eq!(users[0].text(P::Alias), "user0001");
        assert_eq!(users[4999].text(P::Alias), "user5000");
        let guids: HashSet<&str> = users.iter().map(|o| o.text(P::Guid)).collect();
        assert_eq!(guids.len(), 5000);
    }

    #[test]
    fn the_schema_has_unique_names_and_every_view_has_identity() {
        let names: HashSet<String> = PROPS.iter().map(|d| d.name.to_lowercase()).collect();
        assert_eq!(names.len(), PROPS.len());
        for (i, d) in PROPS.iter().enumerate() {
            assert_eq!(d.p as usize, i);
        }
        for view in [MBX, USR, CAS, RCP, GRP] {
            assert!(P::find("identity", view).is_some());
        }
        assert_eq!(
            P::find("retaindeleteditemsfor", MBX),
            Some(P::RetainDeletedItemsFor)
        );
        assert_eq!(P::find("RetainDeletedItemsFor", GRP), None);
    }

    #[test]
    fn constant_defaults_are_in_their_canonical_form() {
        for d in PROPS {
            if let (Ty::Size { .. }, Def::Str(s)) = (d.ty, d.def) {
                match parse_size(s) {
                    Some(Quantity::Bytes(b)) => assert_eq!(format_size(b), s, "{}", d.name),
                    Some(Quantity::Unlimited) => {}
                    None => panic!("{}: {s}", d.name),
                }
            }
            if let (Ty::TimeSpan { .. }, Def::Str(s)) = (d.ty, d.def) {
                assert_eq!(parse_timespan(s).map(format_timespan).as_deref(), Some(s));
            }
        }
    }

    #[test]
    fn timespans_parse_and_format_like_dotnet() {
        let day = TICKS_PER_DAY;
        assert_eq!(parse_timespan("30.00:00:00"), Some(30 * day));
        assert_eq!(parse_timespan("30"), Some(30 * day));
        assert_eq!(
            parse_timespan("1.02:03:04"),
            Some(day + (2 * 3600 + 3 * 60 + 4) * TICKS_PER_SECOND)
        );
        assert_eq!(
            parse_timespan("02:03"),
            Some((2 * 3600 + 3 * 60) * TICKS_PER_SECOND)
        );
        assert_eq!(parse_timespan("-00:00:01.5"), Some(-15_000_000));
        for bad in [
            "",
            "abc",
            "25:00:00",
            "1:60:00",
            "1.2.3",
            "00:00:00.12345678",
            "1:2:3:4",
        ] {
            assert_eq!(parse_timespan(bad), None, "{bad}");
        }
        assert_eq!(format_timespan(14 * day), "14.00:00:00");
        assert_eq!(format_timespan(0), "00:00:00");
        assert_eq!(format_timespan(-15_000_000), "-00:00:01.5000000");
    }

    #[test]
    fn sizes_parse_and_format_like_exchange() {
        assert_eq!(parse_size("50 GB"), Some(Quantity::Bytes(50 * GB)));
        assert_eq!(parse_size("1.5gb"), Some(Quantity::Bytes(3 * GB / 2)));
        assert_eq!(
            parse_size("99 GB (106,300,440,576 bytes)"),
            Some(Quantity::Bytes(106_300_440_576))
        );
        assert_eq!(parse_size("unlimited"), Some(Quantity::Unlimited));
        assert_eq!(parse_size("1024"), Some(Quantity::Bytes(1024)));
        assert_eq!(parse_size("ten GB"), None);
        assert_eq!(parse_size("5 XB"), None);
        assert_eq!(format_size(1_825_361_920), "1.7 GB (1,825,361,920 bytes)");
        assert_eq!(format_size(1_000_000), "976.6 KB (1,000,000 bytes)");
        assert_eq!(format_size(0), "0 B (0 bytes)");
    }

    #[test]
    fn dates_parse_in_iso_and_us_forms() {
        let jan31 = days_from_civil(2025, 1, 31) * 86_400;
        assert_eq!(parse_datetime("2025-01-31"), Some(jan31));
        assert_eq!(
            parse_datetime("2025-01-31T08:00:00Z"),
            Some(jan31 + 8 * 3600)
        );
        assert_eq!(
            parse_datetime("2025-01-31T08:00:00.1234567Z"),
            Some(jan31 + 8 * 3600)
        );
        assert_eq!(
            parse_datetime("2025-01-31T10:00:00+02:00"),
            Some(jan31 + 8 * 3600)
        );
        assert_eq!(parse_datetime("1/31/2025 8:00 PM"), Some(jan31 + 20 * 3600));
        for bad in [
            "2025-02-30",
            "2025-13-01",
            "tomorrow",
            "2025-01-31X",
            "1/31",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
        assert_eq!(
            format_datetime(jan31 + 8 * 3600),
            "2025-01-31T08:00:00+00:00"
        );
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
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
