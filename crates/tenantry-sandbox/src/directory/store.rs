//! The directory store: recipients by slot with an index of every identity that names them,
//! permissions, transport rules, the organization configuration and accepted domains, and the
//! queries and changes the cmdlets make. Writes advance a logical clock one second at a time.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::permission::{MailboxPermission, RecipientPermission};
use super::rules::refresh_rule;
use super::schema::{CAS, GRP, MBX, P, PROPS, RCP, USR};
use super::schema::{Class, Obj};
use super::tenant::Tenant;
use super::types::Ty;
use crate::rng::Rng;
use crate::values::{format_datetime, is_smtp_proxy, like, proxy_address};

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
    pub(super) recipients: Vec<Option<Obj>>,
    /// Lowercase identity strings to the slots they name, with the kind of key.
    pub(super) index: HashMap<String, Vec<(u32, u8)>>,
    pub(crate) mailbox_permissions: Vec<MailboxPermission>,
    pub(crate) recipient_permissions: Vec<RecipientPermission>,
    /// Transport rules, in priority order.
    pub(crate) transport_rules: Vec<Map<String, Value>>,
    pub(crate) organization: Map<String, Value>,
    pub(crate) accepted_domains: Vec<Map<String, Value>>,
    /// The logical clock: seconds since the epoch of the last change.
    pub(super) clock: i64,
    /// GUIDs for objects created after generation.
    pub(super) rng: Rng,
}

impl Directory {
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
                    .any(|p| like(&pattern, &o.text(*p).to_lowercase()))
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
    pub(super) fn push(&mut self, o: Obj) -> u32 {
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

/// The lookup key of an identity: trimmed, without an `smtp:` prefix, lowercase.
fn normalize_identity(identity: &str) -> String {
    let s = identity.trim();
    let s = match s.get(..5) {
        Some(prefix) if prefix.eq_ignore_ascii_case("smtp:") => s.get(5..).unwrap_or(""),
        _ => s,
    };
    s.to_lowercase()
}
