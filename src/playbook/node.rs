//! [`Node`]: a YAML value that remembers where it was written, so that a template error found
//! long after loading can still point at the playbook line it came from.

use std::fmt;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

/// Where a node was written: 1-based line and column, and the byte offset when known.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    /// 1-based line.
    pub(crate) line: usize,
    /// 1-based character column.
    pub(crate) column: usize,
    /// Byte offset into the file, when the parser knew it.
    pub(crate) offset: Option<usize>,
}

impl Pos {
    /// Converts the parser's location.
    pub(crate) fn from_location(loc: &serde_saphyr::Location) -> Self {
        Self {
            line: usize::try_from(loc.line()).unwrap_or(0),
            column: usize::try_from(loc.column()).unwrap_or(0),
            offset: loc
                .span()
                .byte_offset()
                .and_then(|o| usize::try_from(o).ok()),
        }
    }

    /// The byte offset of the position in `file` (from the line and column when the parser
    /// gave no offset).
    pub(crate) fn offset_in(&self, file: &crate::diagnostic::SourceFile) -> usize {
        self.offset
            .or_else(|| file.offset_of(self.line, self.column))
            .unwrap_or(0)
    }

    /// The position of a spanned value.
    pub(crate) fn of<T>(spanned: &Spanned<T>) -> Self {
        Self::from_location(&spanned.referenced)
    }
}

/// A YAML value with its position; maps keep their written order.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Node {
    /// The value.
    pub(crate) value: NodeValue,
    /// Where it was written.
    pub(crate) pos: Pos,
}

/// The value of a [`Node`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum NodeValue {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// Any number.
    Number(serde_json::Number),
    /// A string; may hold a template.
    String(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with string keys.
    Map(IndexMap<String, Node>),
}

impl Node {
    /// A node built in code rather than read from a file.
    #[cfg(test)]
    pub(crate) fn synthetic(value: NodeValue) -> Self {
        Self {
            value,
            pos: Pos::default(),
        }
    }

    /// The string, when the node is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.value {
            NodeValue::String(s) => Some(s),
            _ => None,
        }
    }

    /// Whether a template is written anywhere in it.
    pub(crate) fn has_template(&self) -> bool {
        match &self.value {
            NodeValue::String(s) => super::syntax::is_template(s),
            NodeValue::Seq(items) => items.iter().any(Node::has_template),
            NodeValue::Map(map) => map.values().any(Node::has_template),
            _ => false,
        }
    }

    /// The node as plain JSON, dropping positions.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        match &self.value {
            NodeValue::Null => serde_json::Value::Null,
            NodeValue::Bool(b) => serde_json::Value::Bool(*b),
            NodeValue::Number(n) => serde_json::Value::Number(n.clone()),
            NodeValue::String(s) => serde_json::Value::String(s.clone()),
            NodeValue::Seq(items) => items.iter().map(Node::to_json).collect(),
            NodeValue::Map(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned: Spanned<NodeValue> = Spanned::deserialize(deserializer)?;
        Ok(Node {
            pos: Pos::of(&spanned),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for NodeValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = NodeValue;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_none<E>(self) -> Result<NodeValue, E> {
        Ok(NodeValue::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NodeValue, D::Error> {
        NodeValue::deserialize(d)
    }
    fn visit_bool<E>(self, b: bool) -> Result<NodeValue, E> {
        Ok(NodeValue::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<NodeValue, E> {
        Ok(NodeValue::Number(n.into()))
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<NodeValue, E> {
        serde_json::Number::from_f64(n)
            .map(NodeValue::Number)
            .ok_or_else(|| E::custom("numbers must be finite (no .nan or .inf)"))
    }
    fn visit_str<E>(self, s: &str) -> Result<NodeValue, E> {
        Ok(NodeValue::String(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<NodeValue, E> {
        Ok(NodeValue::String(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NodeValue, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(NodeValue::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<NodeValue, A::Error> {
        let mut out = IndexMap::new();
        while let Some(key) = map.next_key::<KeyString>()? {
            let value: Node = map.next_value()?;
            out.insert(key.0, value);
        }
        Ok(NodeValue::Map(out))
    }
}

/// A mapping key: YAML allows numbers and booleans as keys, which become their text.
struct KeyString(String);

impl<'de> Deserialize<'de> for KeyString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyString;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string key")
            }
            fn visit_str<E>(self, s: &str) -> Result<KeyString, E> {
                Ok(KeyString(s.to_owned()))
            }
            fn visit_bool<E>(self, b: bool) -> Result<KeyString, E> {
                Ok(KeyString(b.to_string()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<KeyString, E> {
                Ok(KeyString(n.to_string()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<KeyString, E> {
                Ok(KeyString(n.to_string()))
            }
            fn visit_f64<E>(self, n: f64) -> Result<KeyString, E> {
                Ok(KeyString(n.to_string()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

impl JsonSchema for Node {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Value".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Any YAML value. Strings may hold minijinja templates: a string that is exactly one `{{ expr }}` keeps the expression's type; any other template renders to a string."
        })
    }
}
