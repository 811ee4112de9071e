//! Desired state: a step with `ensure` names the properties an object must have, and one with
//! `state` whether it must exist. The object's current values are read (from the item when it
//! carries them, else with its noun's `Get-` cmdlet), compared with the desired ones by their
//! documented types (`compare`), and the call sent holds only what differs: `Set-` for
//! properties, `New-` (or `Add-`) for a missing object, `Remove-` for an unwanted one; none
//! when the object is already right. After a write the object is read again to verify it.

pub(crate) mod compare;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::catalog::{Catalog, Cmdlet, Kind};

/// One of a noun's cmdlets, with its documentation when the catalog has it.
#[derive(Debug)]
pub(crate) struct Verb {
    /// The cmdlet, Verb-Noun.
    pub(crate) name: String,
    /// Its documentation; `None` with `catalog: off`.
    pub(crate) spec: Option<Arc<Cmdlet>>,
}

impl Verb {
    /// Whether the cmdlet takes parameter `name`: by the catalog, or, without one, only the
    /// `Identity` every noun's cmdlets share.
    pub(crate) fn takes(&self, name: &str) -> bool {
        match &self.spec {
            Some(spec) => spec.param(name).is_some(),
            None => name.eq_ignore_ascii_case("Identity"),
        }
    }

    /// The documented name of parameter `name`, when the cmdlet takes it.
    fn documented(&self, name: &str) -> Option<String> {
        match &self.spec {
            Some(spec) => spec.param(name).map(|p| p.name.clone()),
            None => self.takes(name).then(|| name.to_string()),
        }
    }
}

/// A noun's cmdlets that desired state uses: read, change, create, remove.
#[derive(Debug)]
pub(crate) struct Noun {
    /// `Get-`: reads the object by identity.
    pub(crate) get: Verb,
    /// `Set-`: changes its properties.
    pub(crate) set: Option<Verb>,
    /// `New-`, else `Add-`: creates it.
    pub(crate) create: Option<Verb>,
    /// `Remove-`: removes it.
    pub(crate) remove: Option<Verb>,
    /// `Get-Recipient`: resolves the recipients a property names, to compare them by identity.
    pub(crate) recipient: Option<Verb>,
}

impl Noun {
    /// The cmdlets of `cmdlet`'s noun. With a catalog, those it documents (`None` when it has
    /// no `Get-`); without one (`catalog: off`), the usual four by name.
    pub(crate) fn of(cmdlet: &str, catalog: Option<&Catalog>) -> Option<Noun> {
        let (_, noun) = cmdlet.split_once('-')?;
        let verb = |v: &str| {
            let name = format!("{v}-{noun}");
            match catalog {
                Some(c) => c.cmdlet(&name).map(|spec| Verb {
                    name: spec.name.clone(),
                    spec: Some(spec),
                }),
                None => Some(Verb { name, spec: None }),
            }
        };
        Some(Noun {
            get: verb("Get")?,
            set: verb("Set"),
            create: match catalog {
                Some(_) => verb("New").or_else(|| verb("Add")),
                None => verb("New"),
            },
            remove: verb("Remove"),
            recipient: catalog
                .and_then(|c| c.cmdlet("Get-Recipient"))
                .map(|spec| Verb {
                    name: spec.name.clone(),
                    spec: Some(spec),
                }),
        })
    }

    /// Whether property `name` holds recipients (`ForwardingAddress`, `GrantSendOnBehalfTo`,
    /// `ManagedBy`): the service returns each by its name, whatever identity the playbook
    /// wrote (an address, an alias), so they are compared by the recipient they name.
    pub(crate) fn names_recipients(&self, name: &str) -> bool {
        /// Multi-valued properties the reference types only as `MultiValuedProperty`, whose
        /// values are recipients.
        const RECIPIENT_LISTS: [&str; 12] = [
            "AcceptMessagesOnlyFrom",
            "AcceptMessagesOnlyFromDLMembers",
            "AcceptMessagesOnlyFromSendersOrMembers",
            "BypassModerationFromSendersOrMembers",
            "GrantSendOnBehalfTo",
            "ManagedBy",
            "ModeratedBy",
            "RejectMessagesFrom",
            "RejectMessagesFromDLMembers",
            "RejectMessagesFromSendersOrMembers",
            "ExceptIfFrom",
            "From",
        ];
        let typed = [&self.set, &self.create]
            .into_iter()
            .flatten()
            .filter_map(|v| v.spec.as_ref()?.param(name))
            .next()
            .is_some_and(|p| {
                let t = p.type_name.trim_end_matches("[]");
                t.ends_with("RecipientIdParameter")
                    || t.ends_with("MailboxIdParameter")
                    || t.ends_with("UserIdParameter")
                    || t.ends_with("UserContactIdParameter")
                    || t.ends_with("GroupIdParameter")
            });
        typed || RECIPIENT_LISTS.iter().any(|n| n.eq_ignore_ascii_case(name))
    }

    /// The documented type of property `name`, from the cmdlet that writes it.
    pub(crate) fn kind(&self, name: &str) -> Option<Kind> {
        let param = [&self.set, &self.create]
            .into_iter()
            .flatten()
            .filter_map(|v| v.spec.as_ref()?.param(name))
            .next()?;
        // An identity (`RetentionPolicy: default mrm policy`) names an object whatever its
        // case, and the service shows the object's own name: compared as an enumeration is,
        // without case.
        if param
            .type_name
            .trim_end_matches("[]")
            .ends_with("IdParameter")
            && param.kind.scalar == crate::catalog::Scalar::Text
        {
            return Some(Kind {
                scalar: crate::catalog::Scalar::Enum,
                many: param.kind.many,
            });
        }
        Some(param.kind)
    }
}

/// What desired state did, or would do, to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Nothing: it already was as desired.
    None,
    /// Its differing properties were set.
    Set,
    /// It was missing, and was created.
    Create,
    /// It existed and should not, and was removed.
    Remove,
}

impl Action {
    /// Its name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::None => "none",
            Action::Set => "set",
            Action::Create => "create",
            Action::Remove => "remove",
        }
    }
}

/// One property that differs: its current value and the desired one.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// The property, as documented.
    pub property: String,
    /// Its value before (`null` for an object that does not exist).
    pub current: Value,
    /// The value wanted (`null` for an object to remove).
    pub desired: Value,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} -> {}",
            self.property,
            compare::show(&self.current),
            compare::show(&self.desired)
        )
    }
}

/// A property's value in an object, whatever the case of its name: the service answers
/// `RetainDeletedItemsFor` to a playbook that wrote `retaindeleteditemsfor`.
pub(crate) fn property<'o>(object: &'o Map<String, Value>, name: &str) -> Option<&'o Value> {
    object.get(name).or_else(|| {
        object
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// The properties of `desired` that `current` does not already have, compared by type; or,
/// when the object read has no such property at all (the `Get-` cmdlet does not return it),
/// why they cannot be compared. A missing property is not "no value": taking it for one would
/// report drift on every check and fail every verify.
pub(crate) fn differences(
    noun: &Noun,
    current: &Map<String, Value>,
    desired: &Map<String, Value>,
) -> Result<Vec<Change>, String> {
    let unread: Vec<&str> = desired
        .keys()
        .filter(|name| property(current, name).is_none())
        .map(String::as_str)
        .collect();
    if !unread.is_empty() {
        return Err(format!(
            "{} returns no {} to compare, so {} cannot be ensured; set {} with a plain write step",
            noun.get.name,
            crate::diagnostic::quoted_list(&unread, "or"),
            if unread.len() == 1 { "it" } else { "they" },
            if unread.len() == 1 { "it" } else { "them" },
        ));
    }
    Ok(desired
        .iter()
        .filter_map(|(name, want)| {
            let have = property(current, name).unwrap_or(&Value::Null);
            (!compare::same(noun.kind(name), have, want)).then(|| Change {
                property: name.clone(),
                current: have.clone(),
                desired: want.clone(),
            })
        })
        .collect())
}

/// The values an item already carries for every desired property, or `None` when it lacks
/// one, or is not the object the step names (`Identity: "{{ item.ManagedBy }}"` names
/// another): then the object is read with `Get-`.
pub(crate) fn carried(
    item: &Value,
    identity: Option<&Value>,
    desired: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    if desired.is_empty() {
        return None;
    }
    let object = item.as_object()?;
    if !is_named(object, identity?) {
        return None;
    }
    desired
        .keys()
        .map(|name| Some((name.clone(), property(object, name)?.clone())))
        .collect()
}

/// A step's parameters, divided by what each does for its object.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Named {
    /// What the noun's `Get-` reads the object by: the parameters it takes in the parameter
    /// sets of its `-Identity` (`Get-MailboxPermission -Identity info -User alex`), an
    /// existing object's `Name` as its `-Identity`.
    pub(crate) read: Map<String, Value>,
    /// What names the object within what `Get-` returns (`-Member bob` among a group's
    /// members, `-AccessRights FullAccess` among a user's permissions): each object read is
    /// kept only when it has these values.
    pub(crate) within: Map<String, Value>,
    /// Switches given (`Force`, `BypassSecurityGroupManagerCheck`): passed to each write that
    /// takes them.
    pub(crate) switches: Map<String, Value>,
    /// The rest: parameters only the creating cmdlet takes (`Password` of `New-Mailbox`),
    /// sent to it alone, never again to an object that exists.
    pub(crate) rest: Vec<String>,
}

impl Noun {
    /// Whether the noun's objects are one per tenant (`OrganizationConfig`): its `Get-` takes
    /// no `-Identity`, and a step names nothing.
    pub(crate) fn is_singleton(&self) -> bool {
        // A tenant-wide setting's cmdlets take no identity, or one that is optional for both
        // the read and the change (`Set-ExternalInOutlook`): there is one per tenant.
        let optional = |v: Option<&Verb>| {
            v.and_then(|v| v.spec.as_ref())
                .is_some_and(|s| s.param("Identity").is_none_or(|p| !p.required))
        };
        optional(Some(&self.get)) && optional(self.set.as_ref())
    }

    /// Divides a step's parameters: see [`Named`].
    pub(crate) fn name(&self, params: &Map<String, Value>) -> Named {
        let spec = |name: &str| {
            [
                Some(&self.get),
                self.set.as_ref(),
                self.create.as_ref(),
                self.remove.as_ref(),
            ]
            .into_iter()
            .flatten()
            .filter_map(|v| v.spec.as_ref()?.param(name).cloned())
            .next()
        };
        let identity_sets = self
            .get
            .spec
            .as_ref()
            .and_then(|s| s.param("Identity"))
            .map(|p| p.sets.clone())
            .unwrap_or_default();
        let has = |name: &str| params.keys().any(|k| k.eq_ignore_ascii_case(name));
        let mut named = Named::default();
        for (name, value) in params {
            if spec(name).is_some_and(|p| p.kind.scalar == crate::catalog::Scalar::Switch) {
                named.switches.insert(name.clone(), value.clone());
                continue;
            }
            // An object named the way `New-` names it is read by identity.
            let name = if name.eq_ignore_ascii_case("Name")
                && !has("Identity")
                && self.get.takes("Identity")
            {
                "Identity".to_string()
            } else {
                name.clone()
            };
            let read = self
                .get
                .spec
                .as_ref()
                .and_then(|s| s.param(&name))
                .is_some_and(|p| {
                    identity_sets.is_empty()
                        || p.sets.is_empty()
                        || p.sets
                            .iter()
                            .any(|s| identity_sets.iter().any(|i| i.eq_ignore_ascii_case(s)))
                });
            if read {
                let documented = self.get.documented(&name).unwrap_or(name);
                named.read.insert(documented, value.clone());
            } else if self.remove.as_ref().is_some_and(|r| r.takes(&name))
                && !self.set.as_ref().is_some_and(|s| s.takes(&name))
            {
                // Not a property to set, yet the removing cmdlet needs it: it names a part
                // of what `Get-` returns (a member, a right).
                named.within.insert(name, value.clone());
            } else {
                named.rest.push(name);
            }
        }
        named
    }
}

impl Named {
    /// The parameters for `verb` acting on the object that exists: what `Get-` read it by,
    /// with `within` for a cmdlet that needs it to name the object (`Remove-MailboxPermission
    /// -AccessRights`), and the switches it takes.
    pub(crate) fn existing(&self, verb: &Verb, within: bool) -> Map<String, Value> {
        let mut out: Map<String, Value> = self
            .read
            .iter()
            .filter_map(|(k, v)| Some((verb.documented(k)?, v.clone())))
            .collect();
        if within {
            out.extend(
                self.within
                    .iter()
                    .filter_map(|(k, v)| Some((verb.documented(k)?, v.clone()))),
            );
        }
        out.extend(
            self.switches
                .iter()
                .filter_map(|(k, v)| Some((verb.documented(k)?, v.clone()))),
        );
        out
    }
}

/// The parameters for the cmdlet that creates the object: every one of the step's it takes,
/// `Identity` as its `-Name` when it has no `-Identity`.
pub(crate) fn creating(verb: &Verb, params: &Map<String, Value>) -> Map<String, Value> {
    let has = |name: &str| params.keys().any(|k| k.eq_ignore_ascii_case(name));
    params
        .iter()
        .filter_map(|(name, value)| {
            let name = match verb.documented(name) {
                Some(name) => name,
                None if name.eq_ignore_ascii_case("Identity") && !has("Name") => {
                    verb.documented("Name")?
                }
                None => return None,
            };
            Some((name, value.clone()))
        })
        .collect()
}

/// Whether a recipient-valued change is no change once each recipient is known by all its
/// names: `resolved` holds, per identity the playbook wrote (lower-cased), the names of the
/// recipient it resolves to. The current values must be exactly the desired recipients.
pub(crate) fn same_recipients(
    change: &Change,
    resolved: &std::collections::HashMap<String, Vec<String>>,
) -> bool {
    let current = texts(&change.current);
    if let Some((add, remove)) = add_remove(&change.desired) {
        // `{Add: …, Remove: …}` holds when each added recipient is among the current ones and
        // no removed one is.
        let present = |identity: &String| {
            resolved
                .get(identity)
                .map(|names| current.iter().any(|c| names.contains(c)))
        };
        return add.iter().all(|a| present(a) == Some(true))
            && remove.iter().all(|r| present(r) == Some(false));
    }
    let desired = texts(&change.desired);
    let Some(names): Option<Vec<&Vec<String>>> = desired.iter().map(|d| resolved.get(d)).collect()
    else {
        return false;
    };
    current.len() == desired.len()
        && names.iter().all(|n| current.iter().any(|c| n.contains(c)))
        && current.iter().all(|c| names.iter().any(|n| n.contains(c)))
}

/// The identities a recipient-valued desired value names, lower-cased: the texts to resolve,
/// of a list or of `{Add: …, Remove: …}`.
pub(crate) fn identities(value: &Value) -> Vec<String> {
    match add_remove(value) {
        Some((add, remove)) => add.into_iter().chain(remove).collect(),
        None => texts(value),
    }
}

/// The identities added and removed by a desired `{Add: …, Remove: …}` (keys in any case).
fn add_remove(value: &Value) -> Option<(Vec<String>, Vec<String>)> {
    let map = value.as_object()?;
    let part = |key: &str| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| texts(v))
            .unwrap_or_default()
    };
    Some((part("Add"), part("Remove")))
}

/// A recipient's names, lower-cased: what the service may show it by.
pub(crate) fn recipient_names(object: &Map<String, Value>) -> Vec<String> {
    names(object)
}

/// Whether an object read has the values that name it within what was read (see
/// [`Named::within`]): a property of that name holding them (`AccessRights` holding
/// `FullAccess`), or, for an identity the object has no property for (`Member: bob` among
/// members), one of its names (`Name`, `Alias`, an address, its GUID…), without case.
pub(crate) fn has_values(object: &Map<String, Value>, within: &Map<String, Value>) -> bool {
    within.iter().all(|(name, wanted)| {
        let wanted: Vec<String> = texts(wanted);
        match property(object, name) {
            Some(have) => {
                let have = texts(have);
                wanted.iter().all(|w| have.contains(w))
            }
            None => {
                let names = names(object);
                wanted.iter().all(|w| names.contains(w))
            }
        }
    })
}

/// Whether `identity` is one of the object's names: what an `-Identity` may name it by.
pub(crate) fn is_named(object: &Map<String, Value>, identity: &Value) -> bool {
    let names = names(object);
    let wanted = texts(identity);
    !wanted.is_empty() && wanted.iter().all(|w| names.contains(w))
}

/// An object's names, lower-cased: what an identity may name it by.
fn names(object: &Map<String, Value>) -> Vec<String> {
    const NAMES: [&str; 14] = [
        "Identity",
        "Name",
        "Alias",
        "PrimarySmtpAddress",
        "WindowsEmailAddress",
        "UserPrincipalName",
        "WindowsLiveID",
        "MicrosoftOnlineServicesID",
        "EmailAddresses",
        "ExternalEmailAddress",
        "Guid",
        "ExternalDirectoryObjectId",
        "DistinguishedName",
        "DisplayName",
    ];
    NAMES
        .iter()
        .filter_map(|n| property(object, n))
        .flat_map(texts)
        .collect()
}

/// A value's texts, lower-cased, without an `smtp:` prefix: one, or a list's.
fn texts(value: &Value) -> Vec<String> {
    let one = |v: &Value| {
        let text = match v {
            Value::String(s) => s.trim().to_string(),
            other => other.to_string(),
        };
        let text = text.to_lowercase();
        text.strip_prefix("smtp:")
            .map(str::to_string)
            .unwrap_or(text)
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Null => Vec::new(),
        other => vec![one(other)],
    }
}

/// Whether a read's error means the object does not exist.
pub(crate) fn not_found(class: &str) -> bool {
    class.ends_with("ManagementObjectNotFoundException")
        || class.ends_with("ObjectNotFoundException")
        || class.ends_with("RecipientNotFoundException")
        // `Get-MailboxFolderPermission -User x` where x has no entry.
        || class.ends_with("UserNotFoundInPermissionEntryException")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn noun(cmdlet: &str) -> Noun {
        Noun::of(cmdlet, Some(&Catalog::built_in())).expect("a noun with Get-")
    }

    #[test]
    fn a_noun_finds_its_cmdlets_in_the_catalog() {
        let rule = noun("Set-TransportRule");
        assert_eq!(rule.get.name, "Get-TransportRule");
        assert_eq!(rule.create.as_ref().unwrap().name, "New-TransportRule");
        assert_eq!(rule.remove.as_ref().unwrap().name, "Remove-TransportRule");
        // Permissions are added, not made new, and have no Set-.
        let perm = noun("Add-MailboxPermission");
        assert_eq!(perm.create.as_ref().unwrap().name, "Add-MailboxPermission");
        assert!(perm.set.is_none());
        assert!(Noun::of("Set-Nothing", Some(&Catalog::built_in())).is_none());
        let off = Noun::of("Set-Widget", None).unwrap();
        assert_eq!(off.get.name, "Get-Widget");
    }

    #[test]
    fn only_properties_that_differ_are_changes() {
        let mailbox = noun("Set-Mailbox");
        let current = json!({
            "RetainDeletedItemsFor": "14.00:00:00",
            "LitigationHoldEnabled": true,
            "ProhibitSendQuota": "99 GB (106,300,440,576 bytes)"
        });
        let desired = json!({
            "RetainDeletedItemsFor": "30.00:00:00",
            "litigationholdenabled": "True",
            "ProhibitSendQuota": "99GB"
        });
        let changes = differences(
            &mailbox,
            current.as_object().unwrap(),
            desired.as_object().unwrap(),
        )
        .unwrap();
        assert_eq!(changes.len(), 1, "{changes:?}");
        assert_eq!(
            changes[0].to_string(),
            "RetainDeletedItemsFor: 14.00:00:00 -> 30.00:00:00"
        );
    }

    #[test]
    fn an_item_carries_values_only_when_it_has_every_one() {
        let desired = json!({"RetainDeletedItemsFor": "30", "Office": "x"});
        let desired = desired.as_object().unwrap();
        let full = json!({"retaindeleteditemsfor": "14.00:00:00", "Office": null, "Name": "a", "ManagedBy": ["b"]});
        let carried = carried(&full, Some(&json!("A")), desired).unwrap();
        assert_eq!(carried.len(), 2);
        // The step names another object than the item: its values are not the item's.
        assert!(super::carried(&full, Some(&json!("b")), desired).is_none());
        assert!(super::carried(&full, None, desired).is_none());
        let partial = json!({"Office": "y", "Name": "a"});
        assert!(super::carried(&partial, Some(&json!("a")), desired).is_none());
        assert!(super::carried(&json!("alex@contoso.com"), Some(&json!("a")), desired).is_none());
    }

    #[test]
    fn a_step_s_parameters_divide_by_what_they_do() {
        let rule = noun("Set-TransportRule");
        let params = json!({"Identity": "Block forwarding"});
        let params = params.as_object().unwrap();
        let new = creating(rule.create.as_ref().unwrap(), params);
        assert_eq!(
            new,
            *json!({"Name": "Block forwarding"}).as_object().unwrap()
        );
        assert_eq!(rule.name(params).read, *params);
        // Named the way `New-` names it, the rule is read and changed by identity, never
        // renamed.
        let by_name = json!({"Name": "Block forwarding"});
        let named = rule.name(by_name.as_object().unwrap());
        assert_eq!(named.read, *params);
        assert_eq!(named.existing(rule.set.as_ref().unwrap(), false), *params);

        // A permission is read by mailbox and user; its rights name it within what is read,
        // and only the removing cmdlet is given them.
        let perm = noun("Remove-MailboxPermission");
        let params = json!({"Identity": "info", "User": "alex", "AccessRights": "FullAccess", "Confirm": false});
        let named = perm.name(params.as_object().unwrap());
        assert_eq!(
            named.read,
            *json!({"Identity": "info", "User": "alex"})
                .as_object()
                .unwrap()
        );
        assert_eq!(
            named.within,
            *json!({"AccessRights": "FullAccess"}).as_object().unwrap()
        );
        assert_eq!(
            named.switches,
            *json!({"Confirm": false}).as_object().unwrap()
        );
        assert_eq!(named.existing(perm.remove.as_ref().unwrap(), true).len(), 4);

        // A group is read by identity alone: -ManagedBy is another parameter set of
        // Get-DistributionGroup, and a creation parameter is for New- only.
        let group = noun("Set-DistributionGroup");
        let params = json!({"Name": "sales", "ManagedBy": "alex", "Type": "Security"});
        let named = group.name(params.as_object().unwrap());
        assert_eq!(
            named.read,
            *json!({"Identity": "sales"}).as_object().unwrap()
        );
        assert!(!named.within.contains_key("Type"), "{named:?}");
        let set = named.existing(group.set.as_ref().unwrap(), false);
        assert_eq!(set, *json!({"Identity": "sales"}).as_object().unwrap());

        // New-Mailbox's password goes to New- only: never to Set- on a mailbox that exists.
        let mailbox = noun("New-Mailbox");
        let params = json!({"Name": "jane", "Password": "x", "DisplayName": "Jane"});
        let named = mailbox.name(params.as_object().unwrap());
        let set = named.existing(mailbox.set.as_ref().unwrap(), false);
        assert_eq!(set, *json!({"Identity": "jane"}).as_object().unwrap());
        assert_eq!(
            creating(
                mailbox.create.as_ref().unwrap(),
                params.as_object().unwrap()
            )
            .len(),
            3
        );

        assert!(noun("Set-OrganizationConfig").is_singleton());
        assert!(!rule.is_singleton());
        assert!(
            !noun("Set-Mailbox").is_singleton(),
            "Set-Mailbox needs an identity"
        );
    }

    #[test]
    fn objects_read_are_kept_by_the_values_that_name_them() {
        let within = json!({"AccessRights": "FullAccess"});
        let within = within.as_object().unwrap();
        let entry = json!({"User": "alex", "AccessRights": ["ReadPermission", "FullAccess"]});
        assert!(has_values(entry.as_object().unwrap(), within));
        let other = json!({"User": "alex", "AccessRights": ["ReadPermission"]});
        assert!(!has_values(other.as_object().unwrap(), within));
        let member =
            json!({"Name": "Bob Lee", "Alias": "bob", "PrimarySmtpAddress": "Bob@contoso.com"});
        for name in ["bob", "BOB", "bob@contoso.com", "smtp:bob@contoso.com"] {
            let within = json!({"Member": name});
            assert!(
                has_values(member.as_object().unwrap(), within.as_object().unwrap()),
                "{name}"
            );
        }
        let within = json!({"Member": "alice"});
        assert!(!has_values(
            member.as_object().unwrap(),
            within.as_object().unwrap()
        ));
    }
}
