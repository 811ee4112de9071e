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
        })
    }

    /// The documented type of property `name`, from the cmdlet that writes it.
    pub(crate) fn kind(&self, name: &str) -> Option<Kind> {
        [&self.set, &self.create]
            .into_iter()
            .flatten()
            .filter_map(|v| v.spec.as_ref()?.param(name))
            .map(|p| p.kind)
            .next()
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
/// one: then the object is read with `Get-`.
pub(crate) fn carried(item: &Value, desired: &Map<String, Value>) -> Option<Map<String, Value>> {
    let object = item.as_object()?;
    desired
        .keys()
        .map(|name| Some((name.clone(), property(object, name)?.clone())))
        .collect()
}

/// The parameters of a step that name its object, as `verb` takes them, leaving out those it
/// does not take. An existing object is named by `-Identity`, a new one by `-Name`: a step
/// that writes `Name: Block` reads and changes the rule `-Identity Block` (on `Set-`, `-Name`
/// would rename it), and one that writes `Identity: Block` creates it `-Name Block`.
pub(crate) fn naming(
    verb: &Verb,
    params: &Map<String, Value>,
    creating: bool,
) -> Map<String, Value> {
    let (from, to) = if creating {
        ("Identity", "Name")
    } else {
        ("Name", "Identity")
    };
    let has = |name: &str| params.keys().any(|k| k.eq_ignore_ascii_case(name));
    let rename = !has(to) && verb.takes(to);
    params
        .iter()
        .filter_map(|(name, value)| {
            let name = if name.eq_ignore_ascii_case(from) && (rename || !creating) {
                // Without `-Identity` to rename to, `Name` on a cmdlet for an existing object
                // would rename it: left out.
                rename.then(|| to.to_string())?
            } else {
                verb.documented(name)?
            };
            Some((name, value.clone()))
        })
        .collect()
}

/// Whether a read's error means the object does not exist.
pub(crate) fn not_found(class: &str) -> bool {
    class.ends_with("ManagementObjectNotFoundException")
        || class.ends_with("ObjectNotFoundException")
        || class.ends_with("RecipientNotFoundException")
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
        let full = json!({"retaindeleteditemsfor": "14.00:00:00", "Office": null, "Name": "a"});
        let carried = carried(&full, desired).unwrap();
        assert_eq!(carried.len(), 2);
        assert!(super::carried(&json!({"Office": "y"}), desired).is_none());
        assert!(super::carried(&json!("alex@contoso.com"), desired).is_none());
    }

    #[test]
    fn naming_parameters_fit_each_cmdlet() {
        let rule = noun("Set-TransportRule");
        let params = json!({"Identity": "Block forwarding"});
        let params = params.as_object().unwrap();
        let new = naming(rule.create.as_ref().unwrap(), params, true);
        assert_eq!(
            new,
            *json!({"Name": "Block forwarding"}).as_object().unwrap()
        );
        assert_eq!(naming(&rule.get, params, false), *params);
        // Named the way `New-` names it, the rule is read and changed by identity, not
        // renamed.
        let by_name = json!({"Name": "Block forwarding"});
        let by_name = by_name.as_object().unwrap();
        assert_eq!(naming(&rule.get, by_name, false), *params);
        assert_eq!(naming(rule.set.as_ref().unwrap(), by_name, false), *params);
    }
}
