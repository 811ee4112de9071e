//! The recipient schema, `PROPS` (indexed by `P`), modelled on Exchange Online's own: each
//! property belongs to one or more *views* (what Get-Mailbox, Get-User, Get-CASMailbox,
//! Get-Recipient and Get-DistributionGroup show), may be settable by some Set-* cmdlets, and has
//! a default, constant or computed from the object's other values and its tenant.

use serde_json::{Value, json};

use super::tenant::Tenant;
use super::types::{MEMBER_DEPART, MEMBER_JOIN, MIME_FORMAT, MODERATION_NOTIFY, Ty};
use crate::values::to_utc;

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
// Properties

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
    pub(super) fn constant(&self) -> Option<Value> {
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

/// Shorthands for the tables of properties and parameters.
pub(super) const TEXT: Ty = Ty::Text;
pub(super) const BOOL: Ty = Ty::Bool;
pub(super) const OPTBOOL: Ty = Ty::OptBool;
pub(super) const DATE: Ty = Ty::DateTime;
pub(super) const TEXTS: Ty = Ty::Texts;
const GB: u64 = 1 << 30;
const MB: u64 = 1 << 20;
pub(super) const QUOTA: Ty = Ty::Size { max: 100 * GB };
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
    HiddenGroupMembershipEnabled: BOOL, F, GRP, S_GRP;
    BccBlocked: BOOL, F, GRP, S_GRP;
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
    MaxSendSize: MSG_SIZE, Def::Fn(c_max_send_size), MBX | GRP, S_MBX;
    MaxReceiveSize: MSG_SIZE, Def::Fn(c_max_receive_size), MBX | GRP, S_MBX;
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

/// A mailbox's message size limits are the plan's; a group has none, and Set-DistributionGroup
/// cannot give it one.
fn c_max_send_size(o: &Obj, _: &Tenant) -> Value {
    match o.class {
        Class::Mailbox => json!("35 MB (36,700,160 bytes)"),
        Class::Group => json!("Unlimited"),
    }
}

fn c_max_receive_size(o: &Obj, _: &Tenant) -> Value {
    match o.class {
        Class::Mailbox => json!("36 MB (37,748,736 bytes)"),
        Class::Group => json!("Unlimited"),
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

/// A recipient: a property bag over the schema, storing only the values that differ from the
/// defaults.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::values::{Quantity, format_size, format_timespan, parse_size, parse_timespan};
    use std::collections::HashSet;

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
}
