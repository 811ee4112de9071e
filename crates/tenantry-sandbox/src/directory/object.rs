//! Directory objects: recipients as property bags over the schema, storing only the values that
//! differ from the defaults, and the permissions granted on them.

use serde_json::Value;

use super::schema::{Def, P};
use super::tenant::Tenant;

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
