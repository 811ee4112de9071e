//! One sandbox tenant's directory: mailboxes and their users and CAS settings, distribution
//! groups, mailbox and Send As permissions, transport rules, the organization configuration and
//! the accepted domains, generated deterministically from a seed.
//!
//! - `types`: the types of property and parameter values, and the .NET enums they take;
//! - `schema`: the recipient properties (`PROPS`, indexed by `P`), their views, setters and
//!   defaults, the properties computed when read, and recipients as property bags over them;
//! - `permission`: the permissions granted on recipients;
//! - `tenant`: the tenant's domains and where it lives in the service;
//! - `rules` and `organization`: transport rules, the organization configuration and the
//!   accepted domains, few enough to be kept as ready-made JSON objects;
//! - `store`: the [`Directory`] itself, its identity index, queries and changes;
//! - `generate`: the seeded generator of a tenant's objects.
//!
//! An object stores only the values that differ from the default, so 5,000 mailboxes stay small;
//! derived values (Identity, DistinguishedName, WindowsEmailAddress, …) are computed when read, so
//! a rename never leaves them stale. Values are written in the formats of `values`.
//!
//! Nothing here reads the clock: timestamps come from the seed, and writes advance a logical
//! clock one second at a time.

mod generate;
mod organization;
mod permission;
mod rules;
mod schema;
mod store;
mod tenant;
mod types;

pub use store::Directory;

pub(crate) use organization::{accepted_domain, org_param};
pub(crate) use permission::{MailboxPermission, RecipientPermission};
#[cfg(test)]
pub(crate) use rules::RULE_PARAMS;
pub(crate) use rules::{new_rule, refresh_rule, rule_param};
pub(crate) use schema::{CAS, GRP, MBX, P, PROPS, PropDef, RCP, S_CAS, S_GRP, S_MBX, S_USR, USR};
pub(crate) use schema::{Class, Obj};
pub(crate) use store::Lookup;
pub(crate) use types::{
    DOMAIN_TYPE, EnumTy, GROUP_TYPE, MAILBOX_TYPE, RECIPIENT_TYPE, RECIPIENT_TYPE_DETAILS,
    RULE_STATE, SET_DOMAIN_TYPE, Ty, country,
};
