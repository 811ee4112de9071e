//! What a cmdlet run returns: its objects, warnings and whether it changed anything, the page
//! of output wanted, and the caller's access.

use serde_json::Value;

/// What the caller's role allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Every cmdlet.
    Full,
    /// Only read-only verbs: Get, Test, Search, Export.
    ReadOnly,
}

/// A successful cmdlet run.
#[derive(Clone, Debug, PartialEq)]
pub struct CmdletOutput {
    /// The objects the cmdlet emitted.
    pub value: Vec<Value>,
    /// Its warnings.
    pub warnings: Vec<String>,
    /// Whether the directory changed.
    pub changed: bool,
    /// Whether more objects follow the requested [`Page`].
    pub more: bool,
    /// For a write asked to confirm (`Confirm: true`) or only to tell (`WhatIf`): what it would
    /// do, the `@adminapi.confirmationmessage`; nothing was changed.
    pub confirmation: Option<String>,
    /// The parameters of a Set- or New- call that were accepted but not kept (the tenant's
    /// `unapplied` behaviour), as sent.
    pub unapplied: Vec<String>,
}

impl CmdletOutput {
    pub(super) fn objects(value: Vec<Value>) -> Self {
        CmdletOutput {
            value,
            warnings: Vec::new(),
            changed: false,
            more: false,
            confirmation: None,
            unapplied: Vec::new(),
        }
    }

    pub(super) fn changed(value: Vec<Value>) -> Self {
        CmdletOutput {
            changed: true,
            ..CmdletOutput::objects(value)
        }
    }

    pub(super) fn warning(text: String) -> Self {
        CmdletOutput {
            warnings: vec![text],
            ..CmdletOutput::objects(Vec::new())
        }
    }
}

/// The part of a cmdlet's output wanted: objects `skip..skip + take`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    /// Objects to pass over.
    pub skip: usize,
    /// Objects to return at most.
    pub take: usize,
}

impl Page {
    /// The whole output.
    pub const ALL: Page = Page {
        skip: 0,
        take: usize::MAX,
    };

    /// The window of `items`, and whether more follow it.
    pub(super) fn cut(self, items: &[u32]) -> (&[u32], bool) {
        let start = self.skip.min(items.len());
        let end = start.saturating_add(self.take).min(items.len());
        (&items[start..end], end < items.len())
    }
}

pub(super) fn no_change(identity: &str) -> CmdletOutput {
    CmdletOutput::warning(format!(
        "The command completed successfully but no settings of '{identity}' have been modified."
    ))
}
