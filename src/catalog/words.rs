//! Kinds in plain words and by stable name, for `tenantry cmdlets` and the playbook schema.

use super::{Kind, Many, Scalar};

impl Kind {
    /// What a parameter of this kind takes, in plain words: `true or false`, `one or more,
    /// each a whole number`; `values` are an enumeration's accepted values.
    pub fn takes(&self, values: &[String]) -> String {
        let one = self.scalar.one(values);
        match (self.many, self.scalar) {
            (Many::One, _) => one,
            (Many::List, Scalar::Text) => "one or more values".into(),
            (Many::List, _) => format!("one or more, each {one}"),
            (Many::Changes, Scalar::Text) => {
                "a list that replaces the values, or `{Add: …, Remove: …}` to change them".into()
            }
            (Many::Changes, _) => format!(
                "a list that replaces the values, or `{{Add: …, Remove: …}}` to change them; each {one}"
            ),
        }
    }
}

impl Scalar {
    /// One value of this kind, with its article: `a whole number`, `one of `A` or `B``.
    pub fn one(&self, values: &[String]) -> String {
        let described = self.describe(values);
        match self {
            Scalar::Enum => described
                .strip_prefix("of ")
                .unwrap_or(&described)
                .to_string(),
            Scalar::Switch
            | Scalar::Bool
            | Scalar::Unlimited
            | Scalar::Bytes
            | Scalar::SecureString => described,
            Scalar::Credential => "a credential, which the admin API cannot carry".into(),
            Scalar::Smtp => format!("an {described}"),
            _ => format!("a {described}"),
        }
    }

    /// A stable lowercase name, for machine-readable output: `time-span`, `secure-string`.
    pub fn name(&self) -> &'static str {
        match self {
            Scalar::Switch => "switch",
            Scalar::Bool => "bool",
            Scalar::Int => "int",
            Scalar::Number => "number",
            Scalar::Unlimited => "unlimited",
            Scalar::Size => "size",
            Scalar::TimeSpan => "time-span",
            Scalar::DateTime => "date-time",
            Scalar::Smtp => "smtp",
            Scalar::Guid => "guid",
            Scalar::Enum => "enum",
            Scalar::Hashtable => "hashtable",
            Scalar::Bytes => "bytes",
            Scalar::SecureString => "secure-string",
            Scalar::Credential => "credential",
            Scalar::Text => "text",
        }
    }
}

impl Many {
    /// A stable lowercase name, for machine-readable output: `one`, `list`, `changes`.
    pub fn name(&self) -> &'static str {
        match self {
            Many::One => "one",
            Many::List => "list",
            Many::Changes => "changes",
        }
    }
}
