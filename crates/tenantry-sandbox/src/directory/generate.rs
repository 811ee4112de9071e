//! The seeded generator of a tenant's directory: users with names, titles and offices, shared and
//! room mailboxes, groups, permissions and transport rules, all drawn deterministically from the
//! seed, the domain and the tenant id.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::Directory;
use super::organization::{accepted_domain, organization_config};
use super::permission::{MailboxPermission, RecipientPermission};
use super::rules::new_rule;
use super::schema::P;
use super::schema::{Class, Obj};
use super::tenant::Tenant;
use crate::rng::Rng;
use crate::values::format_datetime;

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
        let mut initial =
            accepted_domain(&dir.tenant, &domain, &domain, &rng.guid(), &org_created_s);
        initial.insert("Default".into(), json!(true));
        initial.insert("InitialDomain".into(), json!(true));
        let vanity_when = format_datetime(org_created + 86_400 * (1 + rng.below(20) as i64));
        let vanity_domain =
            accepted_domain(&dir.tenant, &vanity, &vanity, &rng.guid(), &vanity_when);
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
            let o = self.generate_user(rng, i, width);
            slots.push(self.push(o));
        }
        slots
    }

    /// User mailbox number `i + 1` (its alias `width` digits wide), with a name, a title and an
    /// office drawn from the lists.
    fn generate_user(&self, rng: &mut Rng, i: usize, width: usize) -> Obj {
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
        self.vary_user_settings(rng, &mut o, i, width, changed);
        o
    }

    /// The settings that differ between users: a manager, retention, holds, protocols.
    fn vary_user_settings(&self, rng: &mut Rng, o: &mut Obj, i: usize, width: usize, changed: i64) {
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
}
