//! Parameter binding: a cmdlet's parameters matched case-insensitively, refused when unknown as
//! PowerShell refuses them, and read as strings, lists, switches, hashtables and ResultSize.

use serde_json::{Map, Value, json};

use super::error::*;
use super::output::{CmdletOutput, Page};
use crate::directory::{Directory, EnumTy};

/// Parameters every cmdlet accepts and the sandbox ignores (WhatIf is honoured).
const COMMON: &[&str] = &[
    "Confirm",
    "Force",
    "WarningAction",
    "ErrorAction",
    "DomainController",
    "Verbose",
    "Debug",
    "WhatIf",
    "InformationAction",
];

/// A cmdlet's parameters: names matched case-insensitively, `@odata.type` annotations set aside.
pub(super) struct Args {
    items: Vec<(String, Value)>,
    /// The window of output wanted.
    page: Page,
    /// Set by cmdlets that applied `page` themselves.
    pub(super) paged: std::cell::Cell<bool>,
}

impl Args {
    pub(super) fn new(params: &Map<String, Value>, page: Page) -> Self {
        let items = params
            .iter()
            .filter(|(k, _)| !k.contains("@odata."))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Args {
            items,
            page,
            paged: std::cell::Cell::new(false),
        }
    }

    /// Renders the page of `slots` (already cut to ResultSize `size`, which warns on the first
    /// page when it hid objects).
    pub(super) fn render_page(
        &self,
        dir: &Directory,
        slots: &[u32],
        size: Option<usize>,
        view: u8,
    ) -> CmdletOutput {
        let limited = size.is_some_and(|n| slots.len() > n);
        let slots = match size {
            Some(n) if slots.len() > n => &slots[..n],
            _ => slots,
        };
        let (window, more) = self.page.cut(slots);
        self.paged.set(true);
        let mut out = CmdletOutput::objects(
            window
                .iter()
                .filter_map(|s| dir.obj(*s))
                .map(|o| dir.render(o, view))
                .collect(),
        );
        out.more = more;
        if limited && self.page.skip == 0 {
            out.warnings.push(MORE_RESULTS.to_string());
        }
        out
    }

    pub(super) fn get(&self, name: &str) -> Option<&Value> {
        self.items
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// A switch: present and not `false`.
    pub(super) fn switch(&self, name: &str) -> bool {
        match self.get(name) {
            None | Some(Value::Bool(false)) | Some(Value::Null) => false,
            Some(Value::String(s)) => !s.eq_ignore_ascii_case("false"),
            Some(_) => true,
        }
    }

    /// Refuses any parameter not in `known` or [`COMMON`], as PowerShell's binder does.
    pub(super) fn only(&self, known: &[&str]) -> Result<()> {
        for (k, _) in &self.items {
            let ok = known
                .iter()
                .chain(COMMON)
                .any(|n| n.eq_ignore_ascii_case(k));
            if !ok {
                return Err(unknown_parameter(k));
            }
        }
        Ok(())
    }

    /// The parameters that are not common ones, in the order sent.
    pub(super) fn specific(&self) -> impl Iterator<Item = &(String, Value)> {
        self.items
            .iter()
            .filter(|(k, _)| !COMMON.iter().any(|c| c.eq_ignore_ascii_case(k)))
    }

    /// A mandatory string parameter.
    pub(super) fn required(&self, cmdlet: &str, name: &str) -> Result<String> {
        match self.get(name) {
            Some(v) if !v.is_null() => text_of(name, v),
            _ => Err(CmdletError::powershell(
                BINDING,
                "InvalidArgument",
                format!(
                    "Cannot process command because of one or more missing mandatory parameters: {name}. ({cmdlet})"
                ),
            )),
        }
    }

    /// An optional string parameter.
    pub(super) fn text(&self, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => text_of(name, v).map(Some),
        }
    }

    /// An optional list of strings (one string, or an array).
    pub(super) fn texts(&self, name: &str) -> Result<Option<Vec<String>>> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| text_of(name, v))
                .collect::<Result<_>>()
                .map(Some),
            Some(v) => Ok(Some(vec![text_of(name, v)?])),
        }
    }
}

pub(super) fn text_of(param: &str, v: &Value) -> Result<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(if *b { "True" } else { "False" }.to_string()),
        other => Err(cannot_convert(param, other, "System.String", "")),
    }
}

/// The `@{Add=…; Remove=…}` parts of a hashtable value, or `None` for a plain value.
pub(super) fn add_remove(v: &Value) -> Option<(Vec<Value>, Vec<Value>)> {
    let Value::Object(map) = v else { return None };
    let mut add = Vec::new();
    let mut remove = Vec::new();
    let mut any = false;
    for (k, v) in map {
        let list = match v {
            Value::Array(items) => items.clone(),
            Value::Null => Vec::new(),
            single => vec![single.clone()],
        };
        if k.eq_ignore_ascii_case("add") {
            add = list;
            any = true;
        } else if k.eq_ignore_ascii_case("remove") {
            remove = list;
            any = true;
        }
    }
    any.then_some((add, remove))
}

/// A parameter taking one or more names of an enum, in canonical spelling.
pub(super) fn enum_list(
    args: &Args,
    name: &str,
    e: &'static EnumTy,
) -> Result<Option<Vec<String>>> {
    let Some(values) = args.texts(name)? else {
        return Ok(None);
    };
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(|v| {
            e.canonical(v).map(str::to_string).ok_or_else(|| {
                cannot_convert(
                    name,
                    &json!(v.trim()),
                    e.type_name,
                    &format!(
                        "Unable to match the identifier name {} to a valid enumerator name. Specify one of the following enumerator names and try again:\n{}",
                        v.trim(),
                        e.values.join(", ")
                    ),
                )
            })
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// `ResultSize`: a positive number or `Unlimited`; 1000 when absent, as the service defaults.
pub(super) fn result_size(args: &Args) -> Result<Option<usize>> {
    match args.get("ResultSize") {
        None | Some(Value::Null) => Ok(Some(1000)),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("unlimited") => Ok(None),
        Some(v) => {
            let n = match v {
                Value::Number(n) => n.as_u64(),
                Value::String(s) => s.trim().parse::<u64>().ok(),
                _ => None,
            };
            // The parameter is an Unlimited<UInt32>.
            match n {
                Some(n) if n > 0 && n <= u64::from(u32::MAX) => Ok(Some(n as usize)),
                _ => Err(cannot_convert(
                    "ResultSize",
                    v,
                    "Microsoft.Exchange.Data.Unlimited`1[System.UInt32]",
                    "The value must be a positive number or Unlimited.",
                )),
            }
        }
    }
}

/// Cuts a small, already rendered list to `ResultSize`, warning when it hid objects.
pub(super) fn limit_rendered(mut items: Vec<Value>, size: Option<usize>) -> CmdletOutput {
    let mut warnings = Vec::new();
    if let Some(n) = size
        && items.len() > n
    {
        items.truncate(n);
        warnings.push(MORE_RESULTS.to_string());
    }
    CmdletOutput {
        warnings,
        ..CmdletOutput::objects(items)
    }
}

pub(super) const MORE_RESULTS: &str = "There are more results available than are currently displayed. To view them, increase the value for the ResultSize parameter.";

#[cfg(test)]
mod tests {
    use crate::cmdlets::testing::*;

    #[test]
    fn parameters_bind_as_powershell_binds_them() {
        let mut dir = contoso(3);
        let e = err(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "Colour": "blue"}),
        );
        assert_eq!((e.class.as_str(), e.error_id.as_str()), (BINDING, ""));
        assert_eq!(
            e.message,
            "A parameter cannot be found that matches parameter name 'Colour'."
        );
        let e = err(&mut dir, "Set-Mailbox", json!({"CustomAttribute1": "x"}));
        assert!(
            e.message.contains("missing mandatory parameters: Identity"),
            "{}",
            e.message
        );
        let e = err(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "LitigationHoldEnabled": "perhaps"}),
        );
        assert_eq!(e.class, TRANSFORMATION);
        assert!(
            e.message
                .contains("Boolean parameters accept only Boolean values"),
            "{}",
            e.message
        );
        let e = err(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "RetainDeletedItemsFor": "45.00:00:00"}),
        );
        assert_eq!(e.class, VALIDATION, "{}", e.message);
        let e = err(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "RetainDeletedItemsFor": "a week"}),
        );
        assert_eq!(e.class, TRANSFORMATION);
        // Common parameters and `@odata.type` annotations are accepted and ignored.
        ok(
            &mut dir,
            "Set-Mailbox",
            json!({"Identity": "user001", "Confirm": false, "CustomAttribute3": "x", "CustomAttribute3@odata.type": "#String"}),
        );
    }
}
