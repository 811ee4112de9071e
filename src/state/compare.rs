//! Whether a property's current value, as Exchange Online's admin API returns it from a `Get-`
//! cmdlet, already is the value a playbook asks for, compared by the parameter's documented
//! [`Kind`]. The service writes many values otherwise than they are given (`50GB` comes back as
//! `50 GB (53,687,091,200 bytes)`, 30 days as `30.00:00:00`, an unset list as `null`), and a
//! plain comparison then reports drift where there is none: the complaint Microsoft365DSC and
//! CIPP users raise most. The rules:
//!
//! - **No value.** `null`, `""` (or blanks), `[]` and `{}` are one "no value" for every kind: the
//!   service returns `null` for an unset multi-valued property and `[]` elsewhere, and writing
//!   `$null` or `@()` clears either. Anything else is a value: `false` and `0` are not "unset"
//!   (a nullable boolean can be `null`, and `null -> false` is a change).
//! - **Multi-valued** (`String[]`, `MultiValuedProperty`, or either side a list): compared as
//!   sets, so order and duplicates do not matter, and one value is a list of one. Elements
//!   compare by their kind's rules; text elements case-insensitively, as Exchange treats the
//!   identities, names and addresses lists hold.
//! - **Changes.** A desired `{Add: …, Remove: …}` (keys in any case) for a multi-valued property
//!   is a change, not a value: it is already made when every `Add` element is in the current
//!   list and no `Remove` element is. For a property the catalog does not know it is taken so
//!   too, unless the current value is a mapping (then it is a hashtable).
//! - **Addresses** (`SmtpAddress`, and any text that looks like an address, with or without a
//!   proxy prefix `SMTP:`, `X500:`, `X400:`, `SIP:`, `EUM:`, `SPO:`): the address compares
//!   case-insensitively. A prefix on one side only is ignored when it is `smtp:` (the service
//!   returns `ForwardingSmtpAddress` as `smtp:jane@contoso.com`); any other prefix on one side
//!   only is a different address. Prefixes on both sides compare case-sensitively in a list,
//!   where `SMTP:` marks the primary address and `smtp:` a secondary one, but case-insensitively
//!   in a single value, where their case means nothing.
//! - **Text** (a single value): trimmed, then case-sensitive, because a rejection message or a
//!   display name changing case is a real change; in a list, case-insensitive (above).
//!   Identities are parameters, not ensured properties, so this does not make them drift.
//! - **Enumerations and GUIDs**: case-insensitive. A flags enumeration compares as the set of its
//!   names, written comma-separated (`Delegate, CanViewPrivateItems`) or as a list. A GUID with
//!   or without braces and hyphens.
//! - **Booleans and switches**: by value: `true`, `"True"`, `"true"`, `"$true"` (and a non-zero
//!   whole number, as PowerShell converts one) are one. `null` is not `false` (no value, above).
//! - **Numbers** (`Int32`, `Double`, …): by value: `5`, `"5"` and `5.0` are one.
//! - **`Unlimited<T>`**: `Unlimited` in any case equals only itself. Otherwise two numbers, two
//!   sizes or two time spans, tried in that order, by value: `"50 GB (53,687,091,200 bytes)"`
//!   equals `"50GB"`, `"50 GB"` and `53687091200`; `"30.00:00:00"` equals `"30"`.
//! - **Sizes** (`ByteQuantifiedSize`): by bytes: `"99 GB (106,300,440,576 bytes)"`, `"99GB"`,
//!   `"99 GB"` and `106300440576` are one; `"1.5 MB"` is 1,572,864 bytes.
//! - **Time spans**: by value to the tick, as `TimeSpan.Parse` reads them: `"30.00:00:00"`,
//!   `"30.00:00"`, `"30"` and `30` (whole days) are one, as are `"00:30:00"` and `"0.00:30:00"`;
//!   fractions compare exactly. `"720:00:00"` is no time span (hours over 23, which .NET
//!   refuses), so it is compared as text.
//! - **Date-times**: by instant. ISO 8601 with or without a fraction and an offset (none is
//!   UTC), the invariant culture's `M/d/yyyy [h:mm[:ss] [AM|PM]]` as the service shows dates,
//!   and JSON's `/Date(milliseconds)/`: `"12/31/2026 6:00:00 PM"`,
//!   `"2026-12-31T19:00:00+01:00"` and `"/Date(1798740000000)/"` are one instant. An invalid
//!   date (`2023-02-29`) is text.
//! - **Hashtables**: as mappings, keys case-insensitively, values by the generic rules; a key
//!   missing on one side is `null` there.
//! - **Secrets and bytes** (`SecureString`, `PSCredential`, `Byte[]`): never the same. The
//!   service does not return them, so such a property always writes (validate refuses ensuring
//!   them).
//! - **Unknown properties** (no kind): the generic rules. No value and lists as above (text
//!   elements case-insensitive), mappings as hashtables, a number and its text by value (`5`
//!   and `"5"`; two texts are not read as numbers), `true` and `"True"`, and text trimmed and
//!   case-sensitive except where both texts say what they are: addresses, `Unlimited`,
//!   Exchange's own `… (N bytes)` sizes, date-times, time spans with a colon, GUIDs.
//! - **Unparsed values**: a value of a typed kind that does not read as that kind is compared by
//!   the generic rules, case-insensitively.

use crate::catalog::{Kind, Many, Scalar, boolean, is_guid, is_smtp, size_bytes, time_span};
use serde_json::{Map, Value};

/// Proxy address types whose prefix (`SMTP:`, `X500:`) says what kind of address follows; an
/// upper-case prefix marks the primary address of its type.
const PROXY_TYPES: [&str; 6] = ["smtp", "x400", "x500", "sip", "eum", "spo"];

/// Nanoseconds in a second, the unit of instants.
const NANOS: i128 = 1_000_000_000;

/// .NET ticks (100 ns) in a second, the unit of time spans.
const TICKS: i128 = 10_000_000;

/// Whether the current value already is the desired one, compared by the property's type.
pub(crate) fn same(kind: Option<Kind>, current: &Value, desired: &Value) -> bool {
    let scalar = kind.map(|k| k.scalar);
    // Secrets and byte arrays are never read back, so no current value shows them set.
    if matches!(
        scalar,
        Some(Scalar::SecureString | Scalar::Credential | Scalar::Bytes)
    ) {
        return false;
    }
    if let Some((add, remove)) = changes(desired)
        && kind.map_or(!current.is_object(), |k| k.many == Many::Changes)
    {
        return changed(scalar, current, &add, &remove);
    }
    if empty(current) || empty(desired) {
        return empty(current) && empty(desired);
    }
    let listed = kind.is_some_and(|k| k.many != Many::One)
        || current.is_array()
        || desired.is_array()
        // A flags enumeration is a set of names, even in one value.
        || scalar == Some(Scalar::Enum);
    if listed {
        same_set(scalar, current, desired)
    } else {
        same_one(scalar, current, desired, false)
    }
}

/// A value as shown in a change (`current -> desired`): compact, one line, `null` for none.
pub(crate) fn show(value: &Value) -> String {
    match value {
        // Text as it is (`14.00:00:00`), unless it would read as something else.
        Value::String(text) if plain(text) => text.clone(),
        // Compact JSON otherwise: one line, and `"5"` stays apart from `5`, `""` from `null`.
        other => other.to_string(),
    }
}

/// Whether text can be shown without quotes: not empty, no blanks around it and no line
/// breaks or other control characters, and not something JSON reads (`null`, `5`, `true`,
/// `[…]`, `{…}`, `"…"`).
fn plain(text: &str) -> bool {
    !text.is_empty()
        && text.trim() == text
        && !text.chars().any(char::is_control)
        && !text.starts_with(['[', '{', '"'])
        && serde_json::from_str::<Value>(text).is_err()
}

/// Whether a value is no value: `null`, blank text, or an empty list or mapping (a list of
/// nothing but no values too).
fn empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.iter().all(empty),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// The values added and removed by a desired `{Add: …, Remove: …}` (keys in any case); `None`
/// for any other value.
fn changes(desired: &Value) -> Option<(Vec<&Value>, Vec<&Value>)> {
    let map = desired.as_object().filter(|m| !m.is_empty())?;
    let (mut add, mut remove) = (Vec::new(), Vec::new());
    for (key, value) in map {
        if key.eq_ignore_ascii_case("add") {
            add.push(value);
        } else if key.eq_ignore_ascii_case("remove") {
            remove.push(value);
        } else {
            return None;
        }
    }
    Some((add, remove))
}

/// Whether the current list already has every value added and none removed.
fn changed(scalar: Option<Scalar>, current: &Value, add: &[&Value], remove: &[&Value]) -> bool {
    let have = elements(scalar, current);
    let held = |want: &Value| have.iter().any(|h| same_one(scalar, h, want, true));
    add.iter()
        .flat_map(|v| elements(scalar, v))
        .all(|w| held(&w))
        && !remove
            .iter()
            .flat_map(|v| elements(scalar, v))
            .any(|w| held(&w))
}

/// The values of a list, or one value as a list of one, leaving out no values; a flags
/// enumeration's comma-separated names one by one.
fn elements(scalar: Option<Scalar>, value: &Value) -> Vec<Value> {
    let items = match value {
        Value::Array(items) => items.as_slice(),
        one => std::slice::from_ref(one),
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        match (scalar, item) {
            (Some(Scalar::Enum), Value::String(names)) => out.extend(
                names
                    .split(',')
                    .map(|name| Value::String(name.trim().to_owned())),
            ),
            _ => out.push(item.clone()),
        }
    }
    out.retain(|v| !empty(v));
    out
}

/// Two lists as sets: each element of either has an equal one in the other.
fn same_set(scalar: Option<Scalar>, current: &Value, desired: &Value) -> bool {
    let (have, want) = (elements(scalar, current), elements(scalar, desired));
    let eq = |h: &Value, w: &Value| same_one(scalar, h, w, true);
    have.iter().all(|h| want.iter().any(|w| eq(h, w)))
        && want.iter().all(|w| have.iter().any(|h| eq(h, w)))
}

/// Two single values of a kind; `listed` when they are elements of a list.
fn same_one(scalar: Option<Scalar>, current: &Value, desired: &Value, listed: bool) -> bool {
    if empty(current) || empty(desired) {
        return empty(current) && empty(desired);
    }
    // A value that does not read as its kind: compared as text whose case means nothing, since
    // a typed value is no free text.
    let typed =
        |by: Option<bool>| by.unwrap_or_else(|| same_generic(current, desired, true, listed));
    let Some(scalar) = scalar else {
        return same_generic(current, desired, listed, listed);
    };
    match scalar {
        Scalar::Text => same_generic(current, desired, listed, listed),
        Scalar::Switch | Scalar::Bool => typed(both(flag, current, desired)),
        Scalar::Int | Scalar::Number => typed(both(number, current, desired)),
        Scalar::Unlimited => typed(unlimited(current, desired)),
        Scalar::Size => typed(both(size, current, desired)),
        Scalar::TimeSpan => typed(both(span, current, desired)),
        Scalar::DateTime => typed(both(|v| v.as_str().and_then(instant), current, desired)),
        Scalar::Guid => typed(both(guid, current, desired)),
        Scalar::Smtp => match (current, desired) {
            (Value::String(a), Value::String(b)) => same_address(a.trim(), b.trim(), listed),
            _ => typed(None),
        },
        Scalar::Enum => same_generic(current, desired, true, listed),
        Scalar::Hashtable => match (current, desired) {
            (Value::Object(a), Value::Object(b)) => same_map(a, b),
            _ => typed(None),
        },
        Scalar::Bytes | Scalar::SecureString | Scalar::Credential => false,
    }
}

/// Whether both values read as `T` and are equal; `None` when either does not read.
fn both<T: PartialEq>(read: impl Fn(&Value) -> Option<T>, a: &Value, b: &Value) -> Option<bool> {
    Some(read(a)? == read(b)?)
}

/// The generic rules, for unknown properties, text, and values that do not read as their kind:
/// `ci` when the case of text means nothing, `listed` when the values are elements of a list.
fn same_generic(current: &Value, desired: &Value, ci: bool, listed: bool) -> bool {
    if empty(current) || empty(desired) {
        return empty(current) && empty(desired);
    }
    match (current, desired) {
        (Value::Array(_), _) | (_, Value::Array(_)) => same_set(None, current, desired),
        (Value::Object(a), Value::Object(b)) => same_map(a, b),
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Bool(b), Value::String(t)) | (Value::String(t), Value::Bool(b)) => {
            boolean(t) == Some(*b)
        }
        (Value::Number(_), Value::Number(_) | Value::String(_))
        | (Value::String(_), Value::Number(_)) => both(number, current, desired) == Some(true),
        (Value::String(a), Value::String(b)) => same_text(a, b, ci, listed),
        _ => false,
    }
}

/// Two texts, trimmed: equal, or the same value where both say what they are (addresses,
/// `Unlimited`, Exchange's sizes, date-times, time spans, GUIDs), else equal ignoring case if
/// `ci`.
fn same_text(current: &str, desired: &str, ci: bool, listed: bool) -> bool {
    let (a, b) = (current.trim(), desired.trim());
    if a == b {
        return true;
    }
    let ((pa, aa), (pb, ab)) = (proxy(a), proxy(b));
    if is_smtp(aa) || is_smtp(ab) || (pa.is_some() && pb.is_some()) {
        return same_address(a, b, listed);
    }
    let unlimited = |t: &str| t.eq_ignore_ascii_case("unlimited");
    if unlimited(a) || unlimited(b) {
        return unlimited(a) && unlimited(b);
    }
    // Exchange's own size, `50 GB (53,687,091,200 bytes)`, says that it is one.
    if (a.ends_with("bytes)") || b.ends_with("bytes)"))
        && let (Some(x), Some(y)) = (size_bytes(a), size_bytes(b))
    {
        return x == y;
    }
    if let (Some(x), Some(y)) = (instant(a), instant(b)) {
        return x == y;
    }
    // Without a colon, `30` is as likely a count as thirty days.
    if a.contains(':')
        && b.contains(':')
        && let (Some(x), Some(y)) = (ticks(a), ticks(b))
    {
        return x == y;
    }
    if is_guid(a) && is_guid(b) {
        return guid_hex(a) == guid_hex(b);
    }
    ci && same_ci(a, b)
}

/// Text equal ignoring case, Unicode's simple lower-casing (names are not all ASCII).
fn same_ci(a: &str, b: &str) -> bool {
    a.chars()
        .flat_map(char::to_lowercase)
        .eq(b.chars().flat_map(char::to_lowercase))
}

/// A proxy address's type prefix, as written (`SMTP`, `smtp`), and the address after it; no
/// prefix unless it is a known proxy type, so `https://…` or `Contoso:Jane` keep theirs.
fn proxy(text: &str) -> (Option<&str>, &str) {
    match text.split_once(':') {
        Some((prefix, address)) if PROXY_TYPES.iter().any(|t| t.eq_ignore_ascii_case(prefix)) => {
            (Some(prefix), address.trim())
        }
        _ => (None, text),
    }
}

/// Two addresses, either with or without a proxy prefix (see the module's rules).
fn same_address(current: &str, desired: &str, listed: bool) -> bool {
    let ((pa, a), (pb, b)) = (proxy(current), proxy(desired));
    let prefixes = match (pa, pb) {
        // In a list `SMTP:` is the primary address and `smtp:` a secondary one.
        (Some(x), Some(y)) if listed => x == y,
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        // A bare address is an SMTP address.
        (Some(p), None) | (None, Some(p)) => p.eq_ignore_ascii_case("smtp"),
        (None, None) => true,
    };
    prefixes && same_ci(a, b)
}

/// A boolean as PowerShell converts one: `true`, `"True"`, `"$true"`, or a whole number (zero
/// is false).
fn flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::String(t) => boolean(t),
        Value::Number(n) => n
            .as_i64()
            .map(|i| i != 0)
            .or_else(|| n.as_u64().map(|u| u != 0)),
        _ => None,
    }
}

/// A number, or text that is one: whole numbers exactly, others as `f64`.
#[derive(Clone, Copy, Debug)]
enum Num {
    /// A whole number, compared exactly (beyond 2^53 too).
    Whole(i128),
    /// Any other number.
    Real(f64),
}

impl PartialEq for Num {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Num::Whole(a), Num::Whole(b)) => a == b,
            // `5` and `5.0` are one number.
            _ => self.real() == other.real(),
        }
    }
}

impl Num {
    /// The number as `f64`.
    fn real(self) -> f64 {
        match self {
            // Exact up to 2^53, which whole numbers compared with fractions do not exceed.
            Num::Whole(n) => n as f64,
            Num::Real(x) => x,
        }
    }
}

/// A JSON number, or text that reads as one.
fn number(value: &Value) -> Option<Num> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .or_else(|| n.as_u64().map(i128::from))
            .map(Num::Whole)
            .or_else(|| n.as_f64().map(Num::Real)),
        Value::String(t) => {
            let t = t.trim();
            t.parse::<i128>().map(Num::Whole).ok().or_else(|| {
                t.parse::<f64>()
                    .ok()
                    .filter(|x| x.is_finite())
                    .map(Num::Real)
            })
        }
        _ => None,
    }
}

/// An `Unlimited<T>` pair: `Unlimited` equals only itself; else numbers, sizes or time spans,
/// the first that both read as; `None` when neither does.
fn unlimited(current: &Value, desired: &Value) -> Option<bool> {
    let word = |v: &Value| {
        v.as_str()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("unlimited"))
    };
    let (a, b) = (word(current), word(desired));
    if a || b {
        return Some(a && b);
    }
    both(number, current, desired)
        .or_else(|| both(size, current, desired))
        .or_else(|| both(span, current, desired))
}

/// Bytes of a size: a whole number of bytes, or text `size_bytes` reads.
fn size(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(t) => size_bytes(t),
        _ => None,
    }
}

/// Ticks of a time span: a whole number of days, or text `TimeSpan.Parse` reads.
fn span(value: &Value) -> Option<i128> {
    match value {
        Value::Number(n) => n.as_i64().map(|days| i128::from(days) * 86_400 * TICKS),
        Value::String(t) => ticks(t),
        _ => None,
    }
}

/// Ticks of a time span's text, the fraction exactly and signed with the rest (`time_span`
/// signs only the whole seconds, so `-00:00:00.5` would lose its sign).
fn ticks(text: &str) -> Option<i128> {
    let (seconds, fraction) = time_span(text)?;
    // `time_span` allows at most seven digits, the ticks of a second.
    let fraction: i128 = format!("{fraction:0<7}").parse().ok()?;
    let magnitude = i128::from(seconds.unsigned_abs()) * TICKS + fraction;
    Some(if text.trim_start().starts_with('-') {
        -magnitude
    } else {
        magnitude
    })
}

/// A GUID's 32 hex digits in lower case, without braces and hyphens.
fn guid_hex(text: &str) -> String {
    text.trim()
        .trim_matches(['{', '}', '(', ')'])
        .replace('-', "")
        .to_ascii_lowercase()
}

/// A GUID value's hex digits; `None` for anything but a GUID.
fn guid(value: &Value) -> Option<String> {
    value.as_str().filter(|t| is_guid(t)).map(guid_hex)
}

/// Two hashtables: keys case-insensitively, a key missing on one side `null` there, values by
/// the generic rules.
fn same_map(current: &Map<String, Value>, desired: &Map<String, Value>) -> bool {
    current
        .iter()
        .all(|(k, v)| same_generic(v, entry(desired, k), false, false))
        && desired
            .iter()
            .all(|(k, v)| same_generic(entry(current, k), v, false, false))
}

/// A hashtable's value for a key in any case; `null` when it has none.
fn entry<'a>(map: &'a Map<String, Value>, key: &str) -> &'a Value {
    static NONE: Value = Value::Null;
    map.iter()
        .find(|(k, _)| same_ci(k, key))
        .map_or(&NONE, |(_, v)| v)
}

/// The instant of a date-time, in nanoseconds since 1970-01-01T00:00:00Z: ISO 8601, the
/// invariant culture's `M/d/yyyy` form, or JSON's `/Date(ms)/`; `None` for anything else or an
/// invalid date.
fn instant(text: &str) -> Option<i128> {
    let t = text.trim();
    // ASCII only: every index below is then a character boundary.
    if !t.is_ascii() {
        return None;
    }
    if let Some(inner) = t.strip_prefix("/Date(").and_then(|r| r.strip_suffix(")/")) {
        return json_date(inner);
    }
    if t.contains('/') {
        return slashed(t);
    }
    iso(t)
}

/// `ms` or `ms±hhmm` of `/Date(…)/`: milliseconds since the epoch in UTC; the offset after them
/// only says which zone the date was written in, so it does not move the instant.
fn json_date(inner: &str) -> Option<i128> {
    // Past the first character, which may be the milliseconds' sign.
    let end = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| matches!(c, '+' | '-'))
        .map_or(inner.len(), |(i, _)| i);
    let (ms, zone) = inner.split_at(end);
    let zone_ok =
        zone.is_empty() || (zone.len() == 5 && zone[1..].bytes().all(|b| b.is_ascii_digit()));
    let ms: i64 = ms.parse().ok().filter(|_| zone_ok)?;
    Some(i128::from(ms) * 1_000_000)
}

/// `M/d/yyyy` (or `yyyy/M/d`), optionally with `h:mm[:ss]` and `AM`/`PM`: how the service shows
/// dates in the invariant culture, without an offset, so in UTC.
fn slashed(t: &str) -> Option<i128> {
    let (date, clock) = t.split_once(' ').map_or((t, ""), |(d, c)| (d, c.trim()));
    let mut parts = date.split('/');
    let (a, b, c) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let (y, m, d) = if a.len() == 4 { (a, b, c) } else { (c, a, b) };
    if y.len() != 4 {
        return None;
    }
    let field = |s: &str| {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<i64>().ok())?
    };
    let day = civil_day(field(y)?, field(m)?, field(d)?)?;
    let time = if clock.is_empty() {
        0
    } else {
        time_of_day(clock, true)?
    };
    Some(day * 86_400 * NANOS + time)
}

/// ISO 8601: `yyyy-MM-dd`, optionally `T` (or a space) and a clock, optionally an offset (`Z`,
/// `±hh`, `±hhmm`, `±hh:mm`); without one, UTC.
fn iso(t: &str) -> Option<i128> {
    let (date, rest) = t.split_at_checked(10)?;
    let b = date.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let day = civil_day(
        digits(&date[..4], 4)?,
        digits(&date[5..7], 2)?,
        digits(&date[8..], 2)?,
    )?;
    if rest.is_empty() {
        return Some(day * 86_400 * NANOS);
    }
    let clock = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, offset) = match clock.strip_suffix(['Z', 'z']) {
        Some(clock) => (clock, 0),
        None => match clock.find(['+', '-']) {
            Some(at) => (&clock[..at], offset_minutes(&clock[at..])?),
            None => (clock, 0),
        },
    };
    let time = time_of_day(clock, false)?;
    Some(day * 86_400 * NANOS + time - i128::from(offset) * 60 * NANOS)
}

/// Exactly `n` ASCII digits, as a number.
fn digits(s: &str, n: usize) -> Option<i64> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// Minutes east of UTC of an offset `±hh`, `±hhmm` or `±hh:mm`.
fn offset_minutes(zone: &str) -> Option<i64> {
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let z = zone.get(1..)?;
    let (h, m) = match (z.len(), z.split_once(':')) {
        (2, None) => (digits(z, 2)?, 0),
        (4, None) => (digits(&z[..2], 2)?, digits(&z[2..], 2)?),
        (5, Some((h, m))) => (digits(h, 2)?, digits(m, 2)?),
        _ => return None,
    };
    (h <= 23 && m <= 59).then_some(sign * (h * 60 + m))
}

/// Nanoseconds since midnight of `h:mm[:ss[.fffffff]]`, with `AM`/`PM` after it when
/// `meridiem` (then the hour is 1 to 12).
fn time_of_day(clock: &str, meridiem: bool) -> Option<i128> {
    let clock = clock.trim();
    let suffix = clock
        .len()
        .checked_sub(2)
        .and_then(|i| clock.get(i..))
        .map(str::to_ascii_uppercase);
    let (clock, pm) = match suffix.as_deref() {
        Some(half @ ("AM" | "PM")) if meridiem => {
            (clock[..clock.len() - 2].trim_end(), Some(half == "PM"))
        }
        _ => (clock, None),
    };
    let mut parts = clock.split(':');
    let (h, m) = (parts.next()?, parts.next()?);
    let (s, fraction) = match parts.next() {
        Some(s) => s.split_once('.').unwrap_or((s, "")),
        None => ("0", ""),
    };
    if parts.next().is_some() || fraction.len() > 9 || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let field = |p: &str| {
        (!p.is_empty() && p.len() <= 2 && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse::<i64>().ok())?
    };
    let (h, m, s) = (field(h)?, field(m)?, field(s)?);
    let h = match pm {
        Some(pm) if (1..=12).contains(&h) => h % 12 + if pm { 12 } else { 0 },
        Some(_) => return None,
        None => h,
    };
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let fraction: i128 = format!("{fraction:0<9}").parse().ok()?;
    Some(i128::from((h * 60 + m) * 60 + s) * NANOS + fraction)
}

/// Days since 1970-01-01 of a valid date in years 1 to 9999; `None` for an invalid date.
fn civil_day(y: i64, m: i64, d: i64) -> Option<i128> {
    use tenantry_common::calendar::{days_from_civil, days_in_month};
    if !(1..=9999).contains(&y) || !(1..=12).contains(&m) || !(1..=days_in_month(y, m)).contains(&d)
    {
        return None;
    }
    Some(i128::from(days_from_civil(y, m, d)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The kind of a documented type, as the catalog derives it.
    fn of(type_name: &str) -> Option<Kind> {
        Some(Kind::of(type_name, false))
    }

    /// The kind of an enumeration the documentation lists values for.
    fn enumeration(type_name: &str) -> Option<Kind> {
        Some(Kind::of(type_name, true))
    }

    /// Asserts current and desired compare as `expected`, both ways round, naming the case.
    #[track_caller]
    fn check(case: &str, kind: Option<Kind>, current: Value, desired: Value, expected: bool) {
        assert_eq!(
            same(kind, &current, &desired),
            expected,
            "{case}: {} vs {}",
            show(&current),
            show(&desired)
        );
        assert_eq!(
            same(kind, &desired, &current),
            expected,
            "{case} (reversed): {} vs {}",
            show(&desired),
            show(&current)
        );
    }

    // --- No value ---

    #[test]
    fn null_and_empty_list_are_no_value_m365dsc_1165() {
        // EXOHostedContentFilterPolicy BlockedSenders unset in the tenant, `@()` in the config.
        let mvp = of("MultiValuedProperty");
        check("null vs []", mvp, json!(null), json!([]), true);
        check("null vs \"\"", mvp, json!(null), json!(""), true);
        check("[] vs {}", mvp, json!([]), json!({}), true);
        check("null vs [\"\"]", mvp, json!(null), json!([""]), true);
        check("unknown null vs []", None, json!(null), json!([]), true);
    }

    #[test]
    fn empty_text_is_no_value_for_every_kind() {
        check(
            "Text null vs blank",
            of("String"),
            json!(null),
            json!("  "),
            true,
        );
        check(
            "DateTime null vs \"\"",
            of("DateTime"),
            json!(null),
            json!(""),
            true,
        );
        check(
            "Unlimited null vs \"\"",
            of("Unlimited"),
            json!(""),
            json!(null),
            true,
        );
    }

    #[test]
    fn no_value_differs_from_a_value() {
        check(
            "null vs one address",
            of("MultiValuedProperty"),
            json!(null),
            json!(["jane@contoso.com"]),
            false,
        );
        check(
            "\"\" vs text",
            of("String"),
            json!(""),
            json!("Out of office"),
            false,
        );
        check("null vs 0", of("Int32"), json!(null), json!(0), false);
    }

    #[test]
    fn null_is_not_false() {
        // A nullable boolean unset is not `$false`; writing false is a change.
        check(
            "Bool null vs false",
            of("Boolean"),
            json!(null),
            json!(false),
            false,
        );
        check(
            "unknown null vs false",
            None,
            json!(null),
            json!(false),
            false,
        );
    }

    // --- Multi-valued ---

    #[test]
    fn lists_in_another_order_are_the_same_m365dsc_4294_cipp_5331() {
        let mvp = of("MultiValuedProperty");
        check(
            "GrantSendOnBehalfTo reordered",
            mvp,
            json!(["Jane Doe", "John Smith", "Room 101"]),
            json!(["Room 101", "Jane Doe", "John Smith"]),
            true,
        );
        check(
            "unknown list reordered",
            None,
            json!(["b@contoso.com", "a@contoso.com"]),
            json!(["a@contoso.com", "b@contoso.com"]),
            true,
        );
    }

    #[test]
    fn list_elements_in_another_case_are_the_same_m365dsc_4294_cipp_5162() {
        check(
            "AcceptMessagesOnlyFrom case",
            of("MultiValuedProperty"),
            json!(["jane doe", "JOHN@contoso.com"]),
            json!(["John@Contoso.com", "Jane Doe"]),
            true,
        );
        check(
            "AuditOwner enum-like names",
            of("MultiValuedProperty"),
            json!(["Update", "MoveToDeletedItems", "SoftDelete"]),
            json!(["softdelete", "update", "movetodeleteditems"]),
            true,
        );
    }

    #[test]
    fn duplicates_do_not_matter() {
        check(
            "duplicate element",
            of("MultiValuedProperty"),
            json!(["jane@contoso.com", "john@contoso.com"]),
            json!(["john@contoso.com", "jane@contoso.com", "JANE@contoso.com"]),
            true,
        );
    }

    #[test]
    fn one_value_is_a_list_of_one() {
        check(
            "scalar vs list of one",
            of("MultiValuedProperty"),
            json!(["Jane Doe"]),
            json!("jane doe"),
            true,
        );
        check(
            "unknown scalar vs list of one",
            None,
            json!(["jane@contoso.com"]),
            json!("jane@contoso.com"),
            true,
        );
        check(
            "String[] scalar vs list",
            of("String[]"),
            json!(["contoso.com"]),
            json!("Contoso.com"),
            true,
        );
    }

    #[test]
    fn an_extra_or_missing_element_differs() {
        let mvp = of("MultiValuedProperty");
        check(
            "extra element",
            mvp,
            json!(["Jane Doe"]),
            json!(["Jane Doe", "John Smith"]),
            false,
        );
        check(
            "missing element",
            mvp,
            json!(["Jane Doe", "John Smith"]),
            json!(["John Smith"]),
            false,
        );
        check(
            "other element",
            mvp,
            json!(["Jane Doe"]),
            json!(["John Smith"]),
            false,
        );
        check(
            "scalar vs two",
            mvp,
            json!(["Jane Doe", "John Smith"]),
            json!("Jane Doe"),
            false,
        );
    }

    #[test]
    fn list_elements_compare_by_their_kind() {
        check(
            "Int32[] as text",
            of("Int32[]"),
            json!([25, 587]),
            json!(["587", "25"]),
            true,
        );
        check(
            "Int32[] other",
            of("Int32[]"),
            json!([25, 587]),
            json!([25, 465]),
            false,
        );
    }

    // --- Changes ---

    #[test]
    fn changes_already_made_are_the_same() {
        let addresses = of("ProxyAddressCollection");
        let current = json!(["SMTP:jane@contoso.com", "smtp:jane@contoso.onmicrosoft.com"]);
        let kind = addresses;
        assert!(
            same(
                kind,
                &current,
                &json!({"Add": "jane@contoso.onmicrosoft.com"})
            ),
            "Add held, bare address"
        );
        assert!(
            same(
                kind,
                &current,
                &json!({"add": ["smtp:JANE@contoso.onmicrosoft.com"], "remove": ["old@contoso.com"]})
            ),
            "Add held, Remove absent, lower-case keys"
        );
        assert!(
            same(kind, &json!(null), &json!({"Remove": ["old@contoso.com"]})),
            "Remove from an unset list"
        );
    }

    #[test]
    fn changes_not_yet_made_differ() {
        let kind = of("ProxyAddressCollection");
        let current = json!(["SMTP:jane@contoso.com", "smtp:jane@contoso.onmicrosoft.com"]);
        assert!(
            !same(kind, &current, &json!({"Add": ["jd@contoso.com"]})),
            "Add missing"
        );
        assert!(
            !same(
                kind,
                &current,
                &json!({"Remove": "smtp:jane@contoso.onmicrosoft.com"})
            ),
            "Remove present"
        );
        assert!(
            !same(
                kind,
                &current,
                &json!({"Remove": "JANE@contoso.onmicrosoft.com"})
            ),
            "Remove present, bare address"
        );
        assert!(
            !same(kind, &json!(null), &json!({"Add": "jd@contoso.com"})),
            "Add to an unset list"
        );
        assert!(
            !same(
                kind,
                &current,
                &json!({"Add": "SMTP:jane@contoso.onmicrosoft.com"})
            ),
            "Add as primary, held as secondary"
        );
    }

    #[test]
    fn changes_to_an_unknown_property() {
        assert!(
            same(None, &json!(["Jane Doe"]), &json!({"Add": "jane doe"})),
            "unknown: Add held"
        );
        assert!(
            !same(None, &json!(["Jane Doe"]), &json!({"Remove": "Jane Doe"})),
            "unknown: Remove present"
        );
        // A current mapping makes it a hashtable with keys Add and Remove, not a change.
        assert!(
            same(None, &json!({"add": "x"}), &json!({"Add": "x"})),
            "unknown hashtable"
        );
        assert!(
            !same(None, &json!({"add": "x", "other": 1}), &json!({"Add": "x"})),
            "unknown hashtable, key more"
        );
    }

    // --- Addresses ---

    #[test]
    fn forwarding_smtp_address_prefix_is_ignored_on_one_side() {
        // ForwardingSmtpAddress is documented as `ProxyAddress`: text that looks like an address.
        let kind = of("ProxyAddress");
        check(
            "smtp: vs bare",
            kind,
            json!("smtp:jane@contoso.com"),
            json!("jane@contoso.com"),
            true,
        );
        check(
            "smtp: vs bare, case",
            kind,
            json!("smtp:jane@contoso.com"),
            json!("Jane@Contoso.com"),
            true,
        );
        check(
            "SMTP: vs smtp: single value",
            kind,
            json!("SMTP:jane@contoso.com"),
            json!("smtp:jane@contoso.com"),
            true,
        );
        check(
            "other address",
            kind,
            json!("smtp:jane@contoso.com"),
            json!("john@contoso.com"),
            false,
        );
        check(
            "SIP: vs bare",
            kind,
            json!("SIP:jane@contoso.com"),
            json!("jane@contoso.com"),
            false,
        );
    }

    #[test]
    fn smtp_address_kind_is_case_insensitive() {
        let kind = of("SmtpAddress");
        check(
            "PrimarySmtpAddress case",
            kind,
            json!("Jane.Doe@Contoso.com"),
            json!("jane.doe@contoso.com "),
            true,
        );
        check(
            "other domain",
            kind,
            json!("jane@contoso.com"),
            json!("jane@fabrikam.com"),
            false,
        );
    }

    #[test]
    fn email_addresses_compare_address_case_insensitively_prefix_case_sensitively() {
        let kind = of("ProxyAddressCollection");
        check(
            "EmailAddresses reordered, address case",
            kind,
            json!(["SMTP:jane@contoso.com", "smtp:jane@contoso.onmicrosoft.com"]),
            json!(["smtp:Jane@Contoso.onmicrosoft.com", "SMTP:Jane@Contoso.com"]),
            true,
        );
        check(
            "EmailAddresses with X500",
            kind,
            json!([
                "SMTP:jane@contoso.com",
                "X500:/o=ExchangeLabs/ou=Exchange/cn=Recipients/cn=jane"
            ]),
            json!([
                "x500:/o=ExchangeLabs/ou=Exchange/cn=Recipients/cn=jane",
                "SMTP:jane@contoso.com"
            ]),
            false,
        );
    }

    #[test]
    fn primary_swap_is_a_change() {
        check(
            "SMTP vs smtp primary swap",
            of("ProxyAddressCollection"),
            json!(["SMTP:jane@contoso.com", "smtp:jane@contoso.onmicrosoft.com"]),
            json!(["smtp:jane@contoso.com", "SMTP:jane@contoso.onmicrosoft.com"]),
            false,
        );
    }

    #[test]
    fn bare_addresses_match_prefixed_list_elements() {
        check(
            "bare vs prefixed",
            of("ProxyAddressCollection"),
            json!(["SMTP:jane@contoso.com", "smtp:jane@contoso.onmicrosoft.com"]),
            json!(["jane@contoso.onmicrosoft.com", "JANE@contoso.com"]),
            true,
        );
        check(
            "bare list missing the onmicrosoft address",
            of("ProxyAddressCollection"),
            json!(["SMTP:jane@contoso.com", "smtp:jane@contoso.onmicrosoft.com"]),
            json!(["jane@contoso.com"]),
            false,
        );
    }

    // --- Text ---

    #[test]
    fn single_text_is_case_sensitive_after_trimming() {
        let kind = of("RejectText");
        check(
            "trailing whitespace",
            kind,
            json!("Delivery not authorized"),
            json!("Delivery not authorized \n"),
            true,
        );
        check(
            "case change is a change",
            kind,
            json!("Delivery not authorized"),
            json!("delivery not authorized"),
            false,
        );
        check(
            "CustomAttribute1 other",
            of("String"),
            json!("Sales"),
            json!("Marketing"),
            false,
        );
    }

    #[test]
    fn text_and_numbers_and_booleans_by_value() {
        check("Text 5 vs \"5\"", of("String"), json!("5"), json!(5), true);
        check(
            "unknown \"True\" vs true",
            None,
            json!("True"),
            json!(true),
            true,
        );
        check(
            "unknown \"False\" vs true",
            None,
            json!("False"),
            json!(true),
            false,
        );
        check("unknown 5 vs 5.0", None, json!(5), json!(5.0), true);
        // Two texts are not read as numbers: `05` may be a code.
        check(
            "unknown \"05\" vs \"5\"",
            None,
            json!("05"),
            json!("5"),
            false,
        );
    }

    // --- Enumerations and GUIDs ---

    #[test]
    fn enumerations_are_case_insensitive_cipp_5162() {
        let kind = enumeration("ConvertibleMailboxSubType");
        check("Type case", kind, json!("Shared"), json!("shared"), true);
        check("Type other", kind, json!("Shared"), json!("Room"), false);
    }

    #[test]
    fn flags_enumerations_compare_as_sets_of_names() {
        let kind = enumeration("MailboxFolderAccessRight");
        check(
            "flags text vs list",
            kind,
            json!("Delegate, CanViewPrivateItems"),
            json!(["canviewprivateitems", "Delegate"]),
            true,
        );
        check(
            "flags text reordered",
            kind,
            json!("Delegate, CanViewPrivateItems"),
            json!("CanViewPrivateItems,Delegate"),
            true,
        );
        check(
            "flags missing one",
            kind,
            json!("Delegate, CanViewPrivateItems"),
            json!("Delegate"),
            false,
        );
        check(
            "AccessRights list",
            enumeration("MailboxFolderAccessRight[]"),
            json!(["Editor"]),
            json!("editor"),
            true,
        );
    }

    #[test]
    fn guids_ignore_case_braces_and_hyphens() {
        let kind = of("Guid");
        check(
            "GUID forms",
            kind,
            json!("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            json!("{0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0}"),
            true,
        );
        check(
            "GUID bare digits",
            kind,
            json!("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            json!("0F1E2D3C4B5A69788796A5B4C3D2E1F0"),
            true,
        );
        check(
            "GUID other",
            kind,
            json!("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            json!("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f1"),
            false,
        );
    }

    // --- Booleans ---

    #[test]
    fn booleans_by_value() {
        let kind = of("Boolean");
        check("true vs \"True\"", kind, json!(true), json!("True"), true);
        check("true vs \"$true\"", kind, json!(true), json!("$true"), true);
        check(
            "false vs \"False\"",
            kind,
            json!(false),
            json!("False"),
            true,
        );
        check(
            "false vs \"$false\"",
            kind,
            json!(false),
            json!("$false"),
            true,
        );
        check("true vs 1", kind, json!(true), json!(1), true);
        check(
            "Switch true vs \"true\"",
            of("SwitchParameter"),
            json!(true),
            json!("true"),
            true,
        );
    }

    #[test]
    fn true_vs_false_differs() {
        let kind = of("Boolean");
        check(
            "AuditEnabled true vs false",
            kind,
            json!(true),
            json!(false),
            false,
        );
        check(
            "\"True\" vs \"False\"",
            kind,
            json!("True"),
            json!("False"),
            false,
        );
        check("true vs 0", kind, json!(true), json!(0), false);
    }

    // --- Numbers ---

    #[test]
    fn numbers_by_value() {
        check("Int32 5 vs \"5\"", of("Int32"), json!(5), json!("5"), true);
        check("Int32 5 vs 5.0", of("Int32"), json!(5), json!(5.0), true);
        check(
            "Double 0.5 vs \"0.50\"",
            of("Double"),
            json!(0.5),
            json!("0.50"),
            true,
        );
        check("Int32 5 vs 6", of("Int32"), json!(5), json!(6), false);
        check(
            "Int64 beyond 2^53",
            of("Int64"),
            json!(9_007_199_254_740_993_u64),
            json!("9007199254740992"),
            false,
        );
    }

    // --- Unlimited ---

    #[test]
    fn unlimited_word_in_any_case() {
        let kind = of("Unlimited");
        check(
            "Unlimited vs unlimited",
            kind,
            json!("Unlimited"),
            json!("unlimited"),
            true,
        );
        check(
            "Unlimited vs 50 GB",
            kind,
            json!("Unlimited"),
            json!("50GB"),
            false,
        );
        check("Unlimited vs 0", kind, json!("Unlimited"), json!(0), false);
    }

    #[test]
    fn unlimited_sizes_by_bytes() {
        let kind = of("Unlimited");
        let quota = json!("50 GB (53,687,091,200 bytes)");
        check(
            "ProhibitSendQuota vs 50GB",
            kind,
            quota.clone(),
            json!("50GB"),
            true,
        );
        check(
            "ProhibitSendQuota vs 50 GB",
            kind,
            quota.clone(),
            json!("50 GB"),
            true,
        );
        check(
            "ProhibitSendQuota vs bytes",
            kind,
            quota.clone(),
            json!(53_687_091_200_u64),
            true,
        );
        check(
            "ProhibitSendQuota vs 51200MB",
            kind,
            quota.clone(),
            json!("51200 MB"),
            true,
        );
        check(
            "ProhibitSendQuota 49 GB vs 50 GB",
            kind,
            quota,
            json!("49GB"),
            false,
        );
    }

    #[test]
    fn unlimited_numbers_and_time_spans_by_value() {
        let kind = of("Unlimited");
        check(
            "RecipientLimits 500 vs \"500\"",
            kind,
            json!("500"),
            json!(500),
            true,
        );
        check(
            "RecipientLimits 500 vs 1000",
            kind,
            json!("500"),
            json!(1000),
            false,
        );
        check(
            "LitigationHoldDuration 30 days",
            kind,
            json!("30.00:00:00"),
            json!("30"),
            true,
        );
        check(
            "LitigationHoldDuration 30 days as number",
            kind,
            json!("30.00:00:00"),
            json!(30),
            true,
        );
        check(
            "LitigationHoldDuration 14 vs 30",
            kind,
            json!("14.00:00:00"),
            json!("30.00:00:00"),
            false,
        );
    }

    // --- Sizes ---

    #[test]
    fn sizes_by_bytes() {
        let kind = of("ByteQuantifiedSize");
        let quota = json!("99 GB (106,300,440,576 bytes)");
        check("99 GB vs 99GB", kind, quota.clone(), json!("99GB"), true);
        check("99 GB vs 99 GB", kind, quota.clone(), json!("99 GB"), true);
        check(
            "99 GB vs bytes",
            kind,
            quota.clone(),
            json!(106_300_440_576_u64),
            true,
        );
        check(
            "99 GB vs bytes text",
            kind,
            quota,
            json!("106300440576"),
            true,
        );
        check(
            "1.5 MB",
            kind,
            json!("1.5 MB (1,572,864 bytes)"),
            json!("1.5MB"),
            true,
        );
        check(
            "49 GB vs 50 GB",
            kind,
            json!("49 GB (52,613,349,376 bytes)"),
            json!("50GB"),
            false,
        );
    }

    // --- Time spans ---

    #[test]
    fn time_spans_by_value() {
        let kind = of("EnhancedTimeSpan");
        check(
            "RetainDeletedItemsFor 30 days vs \"30\"",
            kind,
            json!("30.00:00:00"),
            json!("30"),
            true,
        );
        check(
            "30.00:00:00 vs 30.00:00",
            kind,
            json!("30.00:00:00"),
            json!("30.00:00"),
            true,
        );
        check(
            "30.00:00:00 vs 30",
            kind,
            json!("30.00:00:00"),
            json!(30),
            true,
        );
        check(
            "00:30:00 vs 0.00:30:00",
            of("TimeSpan"),
            json!("00:30:00"),
            json!("0.00:30:00"),
            true,
        );
        check(
            "fraction padded",
            kind,
            json!("00:00:01.5000000"),
            json!("00:00:01.5"),
            true,
        );
    }

    #[test]
    fn time_spans_that_differ() {
        let kind = of("EnhancedTimeSpan");
        check(
            "14 vs 30 days",
            kind,
            json!("14.00:00:00"),
            json!("30.00:00:00"),
            false,
        );
        check(
            "AuditLogAgeLimit 90 vs 180",
            kind,
            json!("90.00:00:00"),
            json!(180),
            false,
        );
        check(
            "fraction differs",
            kind,
            json!("00:00:01.5"),
            json!("00:00:01.05"),
            false,
        );
        check(
            "sign of a fraction",
            kind,
            json!("-00:00:00.5"),
            json!("00:00:00.5"),
            false,
        );
        // .NET refuses hours over 23: not thirty days, just other text.
        check(
            "720:00:00 is not 30 days",
            kind,
            json!("30.00:00:00"),
            json!("720:00:00"),
            false,
        );
    }

    // --- Date-times ---

    #[test]
    fn date_times_by_instant() {
        let kind = of("DateTime");
        let at = json!("2026-12-31T18:00:00Z");
        check(
            "fraction of seconds",
            kind,
            at.clone(),
            json!("2026-12-31T18:00:00.0000000Z"),
            true,
        );
        check(
            "offset",
            kind,
            at.clone(),
            json!("2026-12-31T19:00:00+01:00"),
            true,
        );
        check(
            "negative offset, hhmm",
            kind,
            at.clone(),
            json!("2026-12-31T13:00:00-0500"),
            true,
        );
        check(
            "no offset is UTC",
            kind,
            at.clone(),
            json!("2026-12-31T18:00:00"),
            true,
        );
        check(
            "invariant culture",
            kind,
            at.clone(),
            json!("12/31/2026 6:00:00 PM"),
            true,
        );
        check(
            "JSON date",
            kind,
            at.clone(),
            json!("/Date(1798740000000)/"),
            true,
        );
        check(
            "JSON date with offset",
            kind,
            at,
            json!("/Date(1798740000000+0100)/"),
            true,
        );
    }

    #[test]
    fn dates_as_the_service_returns_them() {
        let kind = of("DateTime");
        check(
            "LitigationHoldDate",
            kind,
            json!("2026-03-01T00:00:00"),
            json!("2026-03-01"),
            true,
        );
        check(
            "midnight AM",
            kind,
            json!("3/1/2026 12:00:00 AM"),
            json!("2026-03-01T00:00:00"),
            true,
        );
        check(
            "noon PM",
            kind,
            json!("3/1/2026 12:00:00 PM"),
            json!("2026-03-01T12:00:00Z"),
            true,
        );
        check(
            "another day",
            kind,
            json!("2026-03-01T00:00:00"),
            json!("2026-03-02"),
            false,
        );
        check(
            "an hour apart",
            kind,
            json!("2026-12-31T18:00:00Z"),
            json!("2026-12-31T18:00:00+01:00"),
            false,
        );
    }

    #[test]
    fn invalid_dates_are_text() {
        assert_eq!(instant("2023-02-29"), None, "not a leap year");
        assert_eq!(instant("2/30/2026"), None, "no 30 February");
        assert_eq!(instant("2026-12-31T24:00:00Z"), None, "hour 24");
        assert_eq!(instant("13:00 PM 1/1/2026"), None, "clock first");
        assert_eq!(instant("1/1/2026 13:00:00 PM"), None, "hour 13 PM");
        assert!(instant("2024-02-29").is_some(), "a leap year");
        check(
            "invalid date as text",
            of("DateTime"),
            json!("2023-02-29"),
            json!("2023-03-01"),
            false,
        );
    }

    // --- Hashtables ---

    #[test]
    fn hashtables_as_maps_keys_case_insensitive() {
        let kind = of("Hashtable");
        check(
            "keys in another case and order",
            kind,
            json!({"Name": "Contoso", "Enabled": true}),
            json!({"enabled": "True", "name": "Contoso"}),
            true,
        );
        check(
            "a key missing is null",
            kind,
            json!({"Name": "Contoso", "Note": null}),
            json!({"name": "Contoso"}),
            true,
        );
        check(
            "a value differs",
            kind,
            json!({"Name": "Contoso"}),
            json!({"Name": "Fabrikam"}),
            false,
        );
        check(
            "a key more",
            kind,
            json!({"Name": "Contoso"}),
            json!({"Name": "Contoso", "Owner": "Jane"}),
            false,
        );
    }

    // --- Secrets and bytes ---

    #[test]
    fn secrets_and_bytes_are_never_the_same() {
        for type_name in ["SecureString", "PSCredential", "Byte[]"] {
            assert!(
                !same(of(type_name), &json!("c2VjcmV0"), &json!("c2VjcmV0")),
                "{type_name}: equal text"
            );
            assert!(
                !same(of(type_name), &json!(null), &json!(null)),
                "{type_name}: both none"
            );
        }
    }

    // --- Unknown properties ---

    #[test]
    fn unknown_properties_normalise_only_what_says_what_it_is() {
        check(
            "unknown Unlimited case",
            None,
            json!("Unlimited"),
            json!("unlimited"),
            true,
        );
        check(
            "unknown Exchange size",
            None,
            json!("99 GB (106,300,440,576 bytes)"),
            json!("99GB"),
            true,
        );
        check(
            "unknown date-times",
            None,
            json!("2026-03-01T00:00:00"),
            json!("2026-03-01T01:00:00+01:00"),
            true,
        );
        check(
            "unknown time spans with colons",
            None,
            json!("30.00:00:00"),
            json!("30.00:00"),
            true,
        );
        check(
            "unknown address case",
            None,
            json!("Jane@Contoso.com"),
            json!("smtp:jane@contoso.com"),
            true,
        );
        // Without a colon `30` is as likely a count.
        check(
            "unknown 30 vs 30 days",
            None,
            json!("30.00:00:00"),
            json!("30"),
            false,
        );
        check(
            "unknown text case",
            None,
            json!("Enabled"),
            json!("enabled"),
            false,
        );
    }

    #[test]
    fn unparsed_typed_values_compare_as_text_ignoring_case() {
        check(
            "Size not a size",
            of("ByteQuantifiedSize"),
            json!("Unlimited"),
            json!("unlimited"),
            true,
        );
        check(
            "TimeSpan not a time span",
            of("TimeSpan"),
            json!("720:00:00"),
            json!("720:00:00"),
            true,
        );
        check(
            "Bool not a boolean",
            of("Boolean"),
            json!(true),
            json!("yes"),
            false,
        );
    }

    // --- More shapes ---

    #[test]
    fn identical_sender_lists_are_the_same_m365dsc_1165() {
        // The first report in #1165: BlockedSenders equal on both sides, reported as drift.
        check(
            "BlockedSenders equal",
            of("MultiValuedProperty"),
            json!(["user1@domain.com", "user2@domain.com"]),
            json!(["user1@domain.com", "user2@domain.com"]),
            true,
        );
    }

    #[test]
    fn unlimited_time_span_is_not_a_duration() {
        let kind = of("Unlimited");
        check(
            "LitigationHoldDuration Unlimited vs 30 days",
            kind,
            json!("Unlimited"),
            json!("30.00:00:00"),
            false,
        );
        check(
            "LitigationHoldDuration unlimited",
            kind,
            json!("Unlimited"),
            json!("UNLIMITED"),
            true,
        );
    }

    #[test]
    fn a_mapping_with_other_keys_is_no_change() {
        // `{Add, Other}` is not a change: compared as a value, a mapping is not the list.
        assert!(
            !same(
                of("MultiValuedProperty"),
                &json!(["a"]),
                &json!({"Add": "a", "Other": "b"})
            ),
            "mapping vs list"
        );
    }

    #[test]
    fn list_elements_are_trimmed_and_unicode_case_insensitive() {
        check(
            "names with umlauts",
            of("MultiValuedProperty"),
            json!(["Jürgen Müller", " Åsa Öberg"]),
            json!(["ÅSA ÖBERG", "jürgen müller "]),
            true,
        );
    }

    #[test]
    fn year_first_slashed_dates_and_unknown_guids() {
        check(
            "yyyy/M/d",
            of("DateTime"),
            json!("2026/3/1"),
            json!("2026-03-01T00:00:00Z"),
            true,
        );
        check(
            "unknown GUID case",
            None,
            json!("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"),
            json!("0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0"),
            true,
        );
    }

    // --- Show ---

    #[test]
    fn show_is_one_line_text_bare_unless_it_would_read_otherwise() {
        let cases = [
            ("none", json!(null), "null"),
            ("time span", json!("14.00:00:00"), "14.00:00:00"),
            (
                "Exchange size",
                json!("99 GB (106,300,440,576 bytes)"),
                "99 GB (106,300,440,576 bytes)",
            ),
            ("boolean", json!(true), "true"),
            ("boolean as text", json!("True"), "True"),
            ("number", json!(5), "5"),
            ("number as text", json!("5"), "\"5\""),
            ("the text null", json!("null"), "\"null\""),
            ("empty text", json!(""), "\"\""),
            ("blank around", json!(" Sales "), "\" Sales \""),
            (
                "line break",
                json!("line one\nline two"),
                r#""line one\nline two""#,
            ),
            ("list-like text", json!("[a, b]"), r#""[a, b]""#),
            (
                "EmailAddresses",
                json!(["SMTP:jane@contoso.com", "smtp:jane@contoso.onmicrosoft.com"]),
                r#"["SMTP:jane@contoso.com","smtp:jane@contoso.onmicrosoft.com"]"#,
            ),
            ("change", json!({"Add": ["a"]}), r#"{"Add":["a"]}"#),
        ];
        for (case, value, shown) in cases {
            assert_eq!(show(&value), shown, "{case}");
        }
    }

    mod properties {
        use super::super::same;
        use crate::catalog::Kind;
        use proptest::prelude::*;
        use serde_json::{Value, json};

        /// Values shaped like the service's: text (some of it sizes, time spans, addresses,
        /// `Unlimited`), numbers, booleans, `null`, and lists of those.
        fn scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                Just(Value::Null),
                any::<bool>().prop_map(Value::from),
                any::<i64>().prop_map(Value::from),
                "[ -~]{0,12}".prop_map(Value::from),
                Just(json!("Unlimited")),
                (0u64..2000).prop_map(|n| json!(format!("{n} GB"))),
                (0u64..2000).prop_map(|n| json!(format!("{n}GB"))),
                (0i64..40).prop_map(|d| json!(format!("{d}.00:00:00"))),
                (0i64..40).prop_map(|d| json!(d.to_string())),
                "(SMTP|smtp|X500):[a-c]{1,3}@[a-c]{1,3}\\.com".prop_map(Value::from),
                "[a-cA-C]{1,3}@[a-c]{1,3}\\.com".prop_map(Value::from),
                Just(json!("2026-12-31T18:00:00Z")),
                Just(json!("12/31/2026 6:00:00 PM")),
            ]
        }

        fn value() -> impl Strategy<Value = Value> {
            prop_oneof![
                3 => scalar(),
                1 => prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
            ]
        }

        /// The documented types whose values the service returns for comparison.
        fn kind() -> impl Strategy<Value = Option<Kind>> {
            prop::sample::select(vec![
                None,
                Some(Kind::of("String", false)),
                Some(Kind::of("Boolean", false)),
                Some(Kind::of("Int32", false)),
                Some(Kind::of("Unlimited", false)),
                Some(Kind::of("ByteQuantifiedSize", false)),
                Some(Kind::of("EnhancedTimeSpan", false)),
                Some(Kind::of("DateTime", false)),
                Some(Kind::of("SmtpAddress", false)),
                Some(Kind::of("Guid", false)),
                Some(Kind::of("RuleMode", true)),
                Some(Kind::of("MultiValuedProperty", false)),
                Some(Kind::of("ProxyAddressCollection", false)),
                Some(Kind::of("String[]", false)),
            ])
        }

        proptest! {
            /// Nothing drifts from itself.
            #[test]
            fn every_value_is_the_same_as_itself(kind in kind(), v in value()) {
                prop_assert!(same(kind, &v, &v), "{v}");
            }

            /// Which side is current does not matter: the same pair never drifts one way and
            /// not the other.
            #[test]
            fn sameness_is_symmetric(kind in kind(), a in value(), b in value()) {
                prop_assert_eq!(same(kind, &a, &b), same(kind, &b, &a), "{} vs {}", a, b);
            }
        }
    }
}
