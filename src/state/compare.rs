//! Interim comparison (replaced by the typed rules).
use crate::catalog::Kind;
use serde_json::Value;
/// Whether the current value already is the desired one.
pub(crate) fn same(_kind: Option<Kind>, current: &Value, desired: &Value) -> bool {
    current == desired
}
/// A value as shown in a change.
pub(crate) fn show(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
