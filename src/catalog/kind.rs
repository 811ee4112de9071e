//! What values a parameter's documented type takes, and the check of one value against it.
//! Values are checked as the service would convert them, leniently where PowerShell is
//! (`"30"` is thirty days for a time span, `"True"` a boolean), so a value the service takes
//! is never refused here.

use serde_json::Value;

/// What values a documented type takes: one value or many, and of what kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    /// The kind of each value.
    pub scalar: Scalar,
    /// How many values.
    pub many: Many,
}

/// How many values a parameter takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Many {
    /// One.
    One,
    /// A list (`String[]`); one value is a list of one.
    List,
    /// A multi-valued property: a list that replaces the values, or `{Add: …, Remove: …}`
    /// that changes them.
    Changes,
}

/// The kind of one value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scalar {
    /// `SwitchParameter`: true or false.
    Switch,
    /// `Boolean`: true or false.
    Bool,
    /// A whole number (`Int32`, `UInt32`, …).
    Int,
    /// Any number (`Double`).
    Number,
    /// `Unlimited<T>`: `Unlimited`, a number, a size or a time span.
    Unlimited,
    /// `ByteQuantifiedSize`: bytes, or a size such as `50 GB`.
    Size,
    /// `TimeSpan`, `EnhancedTimeSpan`: `[-][d.]hh:mm[:ss[.fffffff]]`, or whole days.
    TimeSpan,
    /// `DateTime`: an ISO 8601 date or date-time, or `M/d/yyyy [h:mm[:ss] [AM|PM]]`.
    DateTime,
    /// `SmtpAddress`: `local@domain`.
    Smtp,
    /// `Guid`.
    Guid,
    /// An enumeration whose accepted values the documentation lists.
    Enum,
    /// `Hashtable`: a mapping.
    Hashtable,
    /// `Byte[]`: base64 text.
    Bytes,
    /// `SecureString`: text, sent encrypted.
    SecureString,
    /// `PSCredential`: not something the admin API can carry.
    Credential,
    /// Anything else (names, identities, URIs): one scalar value.
    Text,
}

/// Why a value does not fit a parameter's type: the sentence after "… takes".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValueProblem(pub String);

impl std::fmt::Display for ValueProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Kind {
    /// The kind of the documented type `type_name`; `enumerated` when the documentation lists
    /// the values it accepts.
    pub fn of(type_name: &str, enumerated: bool) -> Kind {
        let t = type_name.trim().trim_matches(['<', '>']);
        let one = |scalar| Kind {
            scalar,
            many: Many::One,
        };
        if t.contains("Unlimited") {
            return one(Scalar::Unlimited);
        }
        let bare = t.rsplit('.').next().unwrap_or(t);
        if bare == "MultiValuedProperty" || bare.ends_with("Collection") {
            return Kind {
                scalar: Scalar::Text,
                many: Many::Changes,
            };
        }
        if bare == "Byte[]" {
            return one(Scalar::Bytes);
        }
        if let Some(inner) = bare.strip_suffix("[]") {
            return Kind {
                scalar: Self::of(inner, enumerated).scalar,
                many: Many::List,
            };
        }
        let scalar = match bare {
            "SwitchParameter" => Scalar::Switch,
            "Boolean" | "bool" => Scalar::Bool,
            "Int32" | "Int64" | "Int16" | "UInt32" | "UInt16" | "UInt64" | "Byte" => Scalar::Int,
            "Double" | "Decimal" | "Single" => Scalar::Number,
            "ByteQuantifiedSize" => Scalar::Size,
            "EnhancedTimeSpan" | "TimeSpan" => Scalar::TimeSpan,
            "DateTime" | "ExDateTime" | "DateTimeOffset" => Scalar::DateTime,
            "SmtpAddress" => Scalar::Smtp,
            "Guid" => Scalar::Guid,
            "Hashtable" | "PswsHashtable" => Scalar::Hashtable,
            "SecureString" => Scalar::SecureString,
            "PSCredential" => Scalar::Credential,
            _ if enumerated => Scalar::Enum,
            _ => Scalar::Text,
        };
        one(scalar)
    }

    /// Checks `value` against this kind; `values` are the accepted values of an enumeration.
    /// `null` is accepted for anything but a switch: it clears a property, as `$null` does.
    pub fn check(&self, value: &Value, values: &[String]) -> Result<(), ValueProblem> {
        match (self.many, value) {
            (_, Value::Null) if self.scalar != Scalar::Switch => Ok(()),
            // A flags enumeration binds a list as PowerShell does (`Delegate, CanViewPrivateItems`).
            (Many::One, Value::Array(items))
                if self.scalar == Scalar::Enum && !items.is_empty() =>
            {
                items.iter().try_for_each(|v| self.scalar.check(v, values))
            }
            (Many::One, Value::Array(_)) if self.scalar != Scalar::Bytes => Err(ValueProblem(
                format!("{}, not a list", self.scalar.one_alone(values)),
            )),
            // `{Add, Remove}` on a property that holds one value.
            (Many::One, Value::Object(changes))
                if self.scalar != Scalar::Hashtable
                    && !changes.is_empty()
                    && changes.keys().all(|k| {
                        k.eq_ignore_ascii_case("add") || k.eq_ignore_ascii_case("remove")
                    }) =>
            {
                Err(ValueProblem(format!(
                    "{}, not a mapping (`{{Add, Remove}}` is for multi-valued properties)",
                    self.scalar.one_alone(values)
                )))
            }
            (Many::One, _) => self.scalar.check(value, values),
            (Many::List | Many::Changes, Value::Array(items)) => {
                items.iter().try_for_each(|v| self.scalar.check(v, values))
            }
            (Many::Changes, Value::Object(changes)) => {
                for (key, v) in changes {
                    if !(key.eq_ignore_ascii_case("add") || key.eq_ignore_ascii_case("remove")) {
                        return Err(ValueProblem(format!(
                            "a list, or `{{Add: …, Remove: …}}` to change the values it has; `{key}` is neither Add nor Remove"
                        )));
                    }
                    match v {
                        Value::Array(items) => items
                            .iter()
                            .try_for_each(|i| self.scalar.check(i, values))?,
                        other => self.scalar.check(other, values)?,
                    }
                }
                Ok(())
            }
            (Many::List, Value::Object(_)) if self.scalar != Scalar::Hashtable => {
                Err(ValueProblem(format!(
                    "{}, not a mapping (`{{Add, Remove}}` is for multi-valued properties)",
                    self.takes(values)
                )))
            }
            (_, one) => self.scalar.check(one, values),
        }
    }
}

impl Scalar {
    /// One value of this kind where many were given: "one value", "a whole number".
    fn one_alone(&self, values: &[String]) -> String {
        match self {
            Scalar::Text => "one value".into(),
            other => other.one(values),
        }
    }

    /// What a value of this kind is, for messages: "true or false", "a time span …".
    pub fn describe(&self, values: &[String]) -> String {
        match self {
            Scalar::Switch | Scalar::Bool => "true or false".into(),
            Scalar::Int => "whole number".into(),
            Scalar::Number => "number".into(),
            Scalar::Unlimited => "`Unlimited`, a number or a size such as `50 GB`".into(),
            Scalar::Size => "size such as `50 GB` or a number of bytes".into(),
            Scalar::TimeSpan => {
                "time span such as `30.00:00:00` (days.hours:minutes:seconds) or whole days".into()
            }
            Scalar::DateTime => {
                "date or date-time such as `2026-12-31` or `2026-12-31T18:00:00Z`".into()
            }
            Scalar::Smtp => "e-mail address".into(),
            Scalar::Guid => "GUID".into(),
            Scalar::Enum => format!("of {}", one_of(values)),
            Scalar::Hashtable => "mapping".into(),
            Scalar::Bytes => "base64 text".into(),
            Scalar::SecureString => "text (sent encrypted)".into(),
            Scalar::Credential => "credential".into(),
            Scalar::Text => "value".into(),
        }
    }

    /// Checks one value.
    fn check(&self, value: &Value, values: &[String]) -> Result<(), ValueProblem> {
        let text = match value {
            Value::String(s) => Some(s.trim()),
            _ => None,
        };
        let fits = match self {
            // PowerShell binds a number to a boolean too (0 is false, anything else true).
            Scalar::Switch | Scalar::Bool => match value {
                Value::Bool(_) => true,
                Value::Number(n) => n.is_i64() || n.is_u64(),
                Value::String(_) => text.is_some_and(|t| boolean(t).is_some()),
                _ => false,
            },
            Scalar::Int => match value {
                Value::Number(n) => n.is_i64() || n.is_u64(),
                _ => text.is_some_and(|t| t.parse::<i64>().is_ok()),
            },
            Scalar::Number => match value {
                Value::Number(_) => true,
                _ => text.is_some_and(|t| t.parse::<f64>().is_ok_and(f64::is_finite)),
            },
            Scalar::Unlimited => match value {
                Value::Number(n) => n.is_i64() || n.is_u64(),
                _ => text.is_some_and(|t| {
                    t.eq_ignore_ascii_case("unlimited")
                        || t.parse::<i64>().is_ok()
                        || size_bytes(t).is_some()
                        || time_span(t).is_some()
                }),
            },
            Scalar::Size => match value {
                Value::Number(n) => n.is_u64(),
                _ => text.is_some_and(|t| size_bytes(t).is_some()),
            },
            Scalar::TimeSpan => match value {
                Value::Number(n) => n.is_u64(),
                _ => text.is_some_and(|t| time_span(t).is_some()),
            },
            Scalar::DateTime => text.is_some_and(is_date_time),
            Scalar::Smtp => text.is_some_and(is_smtp),
            Scalar::Guid => text.is_some_and(is_guid),
            Scalar::Enum => {
                let given = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => String::new(),
                };
                // Flags enumerations take several values, comma-separated; PowerShell also
                // converts an enumeration's number.
                let number = given.trim().parse::<i64>().is_ok();
                !given.trim().is_empty()
                    && (number
                        || given
                            .split(',')
                            .all(|part| values.iter().any(|v| v.eq_ignore_ascii_case(part.trim()))))
            }
            Scalar::Hashtable => value.is_object(),
            Scalar::Bytes | Scalar::SecureString => value.is_string(),
            Scalar::Credential => false,
            Scalar::Text => !value.is_object() && !value.is_array(),
        };
        if fits {
            return Ok(());
        }
        let shown = match value {
            // Of several values, the one it does not take.
            Value::String(s) if *self == Scalar::Enum && s.contains(',') => {
                match s.split(',').map(str::trim).find(|part| {
                    !part.is_empty() && !values.iter().any(|v| v.eq_ignore_ascii_case(part))
                }) {
                    Some(part) => format!("`{part}` (in `{s}`)"),
                    None => format!("`{s}`"),
                }
            }
            Value::String(s) => format!("`{s}`"),
            Value::Object(_) => "a mapping".into(),
            Value::Array(_) => "a list".into(),
            other => format!("`{other}`"),
        };
        let article = match self {
            Scalar::Switch | Scalar::Bool | Scalar::Enum => "",
            Scalar::Int | Scalar::Number | Scalar::Size | Scalar::TimeSpan | Scalar::DateTime => {
                "a "
            }
            Scalar::Smtp => "an ",
            _ => "a ",
        };
        let what = match self {
            Scalar::Unlimited | Scalar::Bytes | Scalar::SecureString => {
                self.describe(values).to_string()
            }
            Scalar::Enum => one_of(values),
            _ => format!("{article}{}", self.describe(values)),
        };
        // An enumeration's value misspelt: the closest one it takes.
        let closest = match value {
            Value::String(given) if *self == Scalar::Enum => {
                let wrong = given
                    .split(',')
                    .map(str::trim)
                    .find(|part| !values.iter().any(|v| v.eq_ignore_ascii_case(part)))
                    .unwrap_or(given);
                crate::diagnostic::suggest(wrong, values.iter().map(String::as_str))
            }
            _ => String::new(),
        };
        Err(ValueProblem(format!("{what}, not {shown}{}", closest)))
    }
}

/// `one of A, B or C`, for an enumeration's values.
fn one_of(values: &[String]) -> String {
    match values {
        [] => "its documented values".into(),
        [one] => format!("`{one}`"),
        several => format!("one of {}", crate::diagnostic::quoted_list(several, "or")),
    }
}

/// A boolean as PowerShell converts text to one: `true`/`false`, `$true`/`$false`, any case.
pub fn boolean(text: &str) -> Option<bool> {
    match text
        .trim()
        .trim_start_matches('$')
        .to_ascii_lowercase()
        .as_str()
    {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Bytes of a size as Exchange writes and reads them: `50 GB`, `50GB`, `1.5 MB`, `1024`,
/// `1024 B`, or its own `50 GB (53,687,091,200 bytes)`.
pub fn size_bytes(text: &str) -> Option<u64> {
    let t = text.trim();
    // Exchange's own form states the bytes in parentheses: trust those.
    if let Some((_, rest)) = t.split_once('(') {
        let inner = rest.strip_suffix(')')?.trim();
        let digits = inner.strip_suffix("bytes")?.trim().replace(',', "");
        return digits.parse().ok();
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number.parse().ok().filter(|n: &f64| n.is_finite())?;
    let factor = tenantry_common::bytes_per_unit(unit)?;
    let bytes = number * factor as f64;
    (bytes >= 0.0 && bytes <= u64::MAX as f64).then_some(bytes as u64)
}

/// A .NET time span (`TimeSpan.Parse`): `[-]d`, `[-][d.]hh:mm[:ss[.fffffff]]`, as whole
/// seconds and the fraction's text; `None` when it does not parse or a field is out of range.
pub fn time_span(text: &str) -> Option<(i64, &str)> {
    let t = text.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_digit());
    if digits(t) {
        let days: i64 = t.parse().ok()?;
        return Some((if negative { -days } else { days } * 86_400, ""));
    }
    let (days, clock) = match t.split_once(':') {
        Some((head, _)) if head.contains('.') => {
            let (d, rest) = t.split_once('.')?;
            (d, rest)
        }
        _ => ("0", t),
    };
    if !digits(days) {
        return None;
    }
    let mut parts = clock.split(':');
    let hours = parts.next()?;
    let minutes = parts.next()?;
    let (seconds, fraction) = match parts.next() {
        Some(s) => match s.split_once('.') {
            Some((s, f)) => (s, f),
            None => (s, ""),
        },
        None => ("0", ""),
    };
    if parts.next().is_some()
        || ![hours, minutes, seconds]
            .iter()
            .all(|p| digits(p) && p.len() <= 2)
        || fraction.len() > 7
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (h, m, s): (i64, i64, i64) = (
        hours.parse().ok()?,
        minutes.parse().ok()?,
        seconds.parse().ok()?,
    );
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let total = days.parse::<i64>().ok()? * 86_400 + h * 3600 + m * 60 + s;
    Some((if negative { -total } else { total }, fraction))
}

/// Whether text is a date or date-time the service takes: ISO 8601 (`2026-12-31`,
/// `2026-12-31T18:00:00`, with seconds' fraction and offset or `Z`), or the invariant
/// culture's `M/d/yyyy`, optionally with `h:mm[:ss]` and `AM`/`PM`.
pub fn is_date_time(text: &str) -> bool {
    let t = text.trim();
    let valid_date = |y: i64, m: i64, d: i64| {
        (1..=9999).contains(&y)
            && (1..=12).contains(&m)
            && d >= 1
            && d <= tenantry_common::calendar::days_in_month(y, m)
    };
    let time_ok = |clock: &str| {
        let clock = clock.trim();
        let clock = clock
            .strip_suffix("AM")
            .or_else(|| clock.strip_suffix("PM"))
            .or_else(|| clock.strip_suffix("am"))
            .or_else(|| clock.strip_suffix("pm"))
            .unwrap_or(clock)
            .trim();
        let mut p = clock.split(':');
        let (Some(h), Some(m)) = (p.next(), p.next()) else {
            return false;
        };
        let s = p.next().unwrap_or("0");
        let s = s.split('.').next().unwrap_or(s);
        p.next().is_none()
            && [h, m, s]
                .iter()
                .all(|x| !x.is_empty() && x.len() <= 2 && x.bytes().all(|b| b.is_ascii_digit()))
            && h.parse::<u32>().is_ok_and(|h| h <= 23)
            && m.parse::<u32>().is_ok_and(|m| m <= 59)
            && s.parse::<u32>().is_ok_and(|s| s <= 59)
    };
    if t.contains('/') {
        let (date, rest) = t.split_once(' ').unwrap_or((t, ""));
        let mut p = date.split('/');
        let parsed = (
            p.next().and_then(|x| x.parse::<i64>().ok()),
            p.next().and_then(|x| x.parse::<i64>().ok()),
            p.next().and_then(|x| x.parse::<i64>().ok()),
        );
        // `M/d/yyyy`, or `yyyy/M/d` when the year comes first.
        let year_first = date.split('/').next().is_some_and(|y| y.len() == 4);
        let date_ok = match parsed {
            (Some(y), Some(m), Some(d)) if year_first => valid_date(y, m, d),
            (Some(m), Some(d), Some(y)) => valid_date(y, m, d),
            _ => false,
        };
        return date_ok && p.next().is_none() && (rest.trim().is_empty() || time_ok(rest));
    }
    if t.len() < 10 || !t.is_char_boundary(10) {
        return false;
    }
    let (date, rest) = t.split_at(10);
    let b = date.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| date[r].parse::<i64>().ok();
    let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    if !valid_date(y, m, d) {
        return false;
    }
    let Some(clock) = rest.strip_prefix(['T', 't', ' ']) else {
        return rest.is_empty();
    };
    // An offset (`Z`, `+01:00`, `-0500`) after the clock.
    let clock = match clock.find(['Z', 'z', '+', '-']) {
        Some(i) => {
            let offset = &clock[i..];
            // `Z`, `+01:00`, `+0100` or `+01`.
            let ok = matches!(offset, "Z" | "z")
                || (offset.len() >= 3
                    && offset[1..].bytes().all(|c| c.is_ascii_digit() || c == b':'));
            if !ok {
                return false;
            }
            &clock[..i]
        }
        None => clock,
    };
    time_ok(clock)
}

/// Whether text is an SMTP address: something before one `@`, a dotted domain after it.
pub fn is_smtp(text: &str) -> bool {
    let t = text.trim();
    let Some((local, domain)) = t.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !local.contains(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '.')
}

/// Whether text is a GUID, `8-4-4-4-12` hex digits, optionally in braces.
pub fn is_guid(text: &str) -> bool {
    let t = text.trim().trim_matches(['{', '}', '(', ')']);
    // `Guid.Parse` also takes the 32 digits without hyphens.
    if t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        return true;
    }
    let groups: Vec<&str> = t.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}
