//! The permissions granted on directory objects: full access on mailboxes, Send As on
//! recipients.

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
