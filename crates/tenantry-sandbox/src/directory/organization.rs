//! The organization configuration and the accepted domains, kept as ready-made JSON objects, and
//! the parameters Set-OrganizationConfig takes (`ORG_PARAMS`).

use serde_json::{Map, Value, json};

use super::schema::{BOOL, OPTBOOL, QUOTA, TEXT, TEXTS};
use super::tenant::{Tenant, escape_rdn};
use super::types::{PUBLIC_FOLDERS, Ty};
use crate::values::to_utc;

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

/// The organization configuration a tenant starts with.
pub(super) fn organization_config(
    t: &Tenant,
    guid: &str,
    created: &str,
    changed: &str,
) -> Map<String, Value> {
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

/// An accepted domain named `name` for `domain` (`contoso.com`, or `*.contoso.com` for it and
/// its subdomains): authoritative, neither the initial nor the default domain.
pub(crate) fn accepted_domain(
    t: &Tenant,
    name: &str,
    domain: &str,
    guid: &str,
    when: &str,
) -> Map<String, Value> {
    let v = json!({
        "DomainName": domain,
        "CatchAllRecipientID": null,
        "DomainType": "Authoritative",
        "MatchSubDomains": domain.starts_with("*."),
        "AddressBookEnabled": true,
        "Default": false,
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
        "InitialDomain": false,
        // The properties of Set-AcceptedDomain's newer parameters, so that a value set comes
        // back under its own name; their place in the service's output is a guess.
        "SendingFromDomainDisabled": false,
        "SendingToDomainDisabled": false,
        "CanHaveCloudCache": false,
        "MailFlowRegion": null,
        "AdminDisplayName": "",
        "ExchangeVersion": "0.1 (8.0.535.0)",
        "Name": name,
        "DistinguishedName": format!("CN={},CN=Accepted Domains,CN=Transport Settings,{}", escape_rdn(name), t.configuration_dn()),
        "Identity": name,
        "Guid": guid,
        "ObjectCategory": format!("{}.PROD.OUTLOOK.COM/Configuration/Schema/ms-Exch-Accepted-Domain", t.forest),
        "ObjectClass": ["top", "msExchAcceptedDomain"],
        "WhenChanged": when,
        "WhenCreated": when,
        "WhenChangedUTC": to_utc(json!(when)),
        "WhenCreatedUTC": to_utc(json!(when)),
        "OrganizationId": t.organization_id(),
        "Id": name,
        "OriginatingServer": t.dc,
        "IsValid": true,
        "ObjectState": "Unchanged",
    });
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
