//! Cmdlet parameters as the ExchangeOnlineManagement module sends them, each value by the type
//! the cmdlet reference documents for its parameter: booleans and numbers as JSON booleans and
//! numbers, time spans as .NET writes a `TimeSpan`, date-times with an offset in UTC as .NET
//! writes a `DateTime`, byte arrays and hashtables typed for OData, SecureStrings encrypted
//! under the service's public key, and `-Filter`'s `$true`/`$false` as `'True'`/`'False'`.
//!
//! A cmdlet the catalog does not document (`catalog: off`, a call made without it) has no
//! types to go by: its hashtables are typed as above, and a parameter named like a date-time
//! (`…Date`, `…Time`) given an instant with an offset is sent in UTC. Everything else is sent
//! as written.

use serde_json::{Map, Number, Value};

use super::secure::{PublicKey, SecureError, encrypt_params};
use crate::catalog::{Cmdlet, Kind, Many, Scalar, boolean, time_span};

/// A cmdlet's parameters as the module sends them: its SecureString parameters (by the table
/// of them, or by `spec`'s documented type) encrypted under `key`, then everything as
/// [`encode_params`] writes it.
pub fn encode_cmdlet_params(
    cmdlet: &str,
    spec: Option<&Cmdlet>,
    params: &Map<String, Value>,
    key: &PublicKey,
) -> Result<Value, SecureError> {
    let params = encrypt_params(cmdlet, spec, params, key)?;
    Ok(encode_params(spec, &params))
}

/// Parameters as the module sends them. With the cmdlet's documentation (`spec`), each value
/// is written as its parameter's documented type asks; without it, or for a parameter it does
/// not document, as `by_name` does.
pub fn encode_params(spec: Option<&Cmdlet>, params: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (name, value) in params {
        let encoded = match spec.and_then(|s| s.param(name)) {
            Some(param) => by_kind(param.kind, value),
            None => by_name(name, value),
        };
        match encoded {
            Encoded::One(value) => {
                let value = match value {
                    Value::String(s) if name.eq_ignore_ascii_case("Filter") => {
                        Value::String(filter_booleans(&s))
                    }
                    other => other,
                };
                out.insert(name.clone(), value);
            }
            Encoded::Collection(items, odata_type) => {
                out.insert(name.clone(), Value::Array(items));
                out.insert(format!("{name}@odata.type"), odata_type.into());
            }
        }
    }
    Value::Object(out)
}

/// A value as sent: one JSON value, or a typed collection, which also names its element type
/// in a `<Param>@odata.type` sibling.
#[derive(Debug, PartialEq)]
enum Encoded {
    One(Value),
    Collection(Vec<Value>, &'static str),
}

const HASHTABLE: &str = "#Exchange.GenericHashTable";
const HASHTABLES: &str = "#Collection(Exchange.GenericHashTable)";
const BYTE_ARRAY: &str = "#Exchange.ByteArrayType";
const BYTE_ARRAYS: &str = "#Collection(Exchange.ByteArrayType)";

/// A value of a parameter the catalog does not document: a mapping is a hashtable, a list of
/// mappings a collection of them, and text given to a parameter named like a date-time
/// (`StartDate`, `EndTime`) that is an instant with an offset is sent in UTC. Across the cmdlet
/// reference every parameter so named that takes a date is a `DateTime`, and only a full
/// date-time with an explicit offset is rewritten, to the same instant.
fn by_name(name: &str, value: &Value) -> Encoded {
    match value {
        Value::String(s) if is_date_time_name(name) => {
            Encoded::One(utc_date_time(s).map_or_else(|| value.clone(), Value::String))
        }
        other => structured(other),
    }
}

/// Mappings as hashtables and lists of mappings as a collection of them; anything else as it
/// is.
fn structured(value: &Value) -> Encoded {
    match value {
        Value::Object(map) => Encoded::One(Value::Object(hashtable(map))),
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            let tables = items
                .iter()
                .filter_map(Value::as_object)
                .map(|m| Value::Object(hashtable(m)))
                .collect();
            Encoded::Collection(tables, HASHTABLES)
        }
        other => Encoded::One(other.clone()),
    }
}

/// A value of a documented parameter, by its kind. A value whose shape the kind does not
/// expect (the catalog check lets through only what the service could take) is sent as
/// [`structured`] sends it.
fn by_kind(kind: Kind, value: &Value) -> Encoded {
    match (kind.scalar, value) {
        (_, Value::Null) => Encoded::One(Value::Null),
        (Scalar::Bytes, Value::String(b64)) => Encoded::One(byte_array(b64)),
        (Scalar::Bytes, Value::Array(items))
            if !items.is_empty() && items.iter().all(Value::is_string) =>
        {
            let arrays = items
                .iter()
                .map(|b64| {
                    let mut data = Map::new();
                    data.insert("Data".into(), b64.clone());
                    Value::Object(data)
                })
                .collect();
            Encoded::Collection(arrays, BYTE_ARRAYS)
        }
        // `{Add: …, Remove: …}` changes a multi-valued property: each value by its kind.
        (scalar, Value::Object(changes)) if kind.many == Many::Changes => {
            let changes = changes
                .iter()
                .map(|(k, v)| (k.clone(), each(scalar, v)))
                .collect();
            Encoded::One(Value::Object(hashtable(&changes)))
        }
        // Several values of a flags enumeration that takes one: the one value they make,
        // written as .NET writes flags (`Delegate, CanViewPrivateItems`).
        (Scalar::Enum, Value::Array(items))
            if kind.many == Many::One && items.iter().all(Value::is_string) =>
        {
            let names: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            Encoded::One(Value::String(names.join(", ")))
        }
        (scalar, Value::Array(items)) if !items.iter().any(Value::is_object) => {
            Encoded::One(Value::Array(items.iter().map(|v| one(scalar, v)).collect()))
        }
        (scalar, v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
            // One value, even to a list or multi-valued parameter: sent as the one value it
            // is.
            Encoded::One(one(scalar, v))
        }
        (_, other) => structured(other),
    }
}

/// A value or a list of them, each by its kind.
fn each(scalar: Scalar, value: &Value) -> Value {
    match value {
        Value::Array(items) => Value::Array(items.iter().map(|v| one(scalar, v)).collect()),
        other => one(scalar, other),
    }
}

/// One value by its kind: text that PowerShell would convert (`"True"`, `"42"`, `"30"` days,
/// a date-time with an offset) as the converted value the module sends; anything else as it
/// is.
fn one(scalar: Scalar, value: &Value) -> Value {
    let converted = match (scalar, value) {
        (Scalar::Switch | Scalar::Bool, Value::String(s)) => boolean(s).map(Value::Bool),
        // A number binds to a boolean as PowerShell converts it: 0 is false.
        (Scalar::Switch | Scalar::Bool, Value::Number(n)) => n
            .as_i64()
            .map(|i| i != 0)
            .or_else(|| n.as_u64().map(|u| u != 0))
            .map(Value::Bool),
        (Scalar::Int, Value::String(s)) => whole_number(s),
        (Scalar::Number, Value::String(s)) => whole_number(s).or_else(|| {
            s.trim()
                .parse()
                .ok()
                .and_then(Number::from_f64)
                .map(Value::Number)
        }),
        (Scalar::Unlimited, Value::String(s)) => {
            let t = s.trim();
            if t.eq_ignore_ascii_case("unlimited") {
                Some("Unlimited".into())
            } else if t.contains(':') {
                // Only a time span has a colon: `Unlimited<EnhancedTimeSpan>`.
                dotnet_time_span(t).map(Value::String)
            } else {
                // A count, or a size (`50 GB`), which stays as written.
                whole_number(t)
            }
        }
        (Scalar::TimeSpan, Value::String(s)) => dotnet_time_span(s).map(Value::String),
        // Whole days, as the catalog check reads a number given for a time span.
        (Scalar::TimeSpan, Value::Number(n)) => n
            .as_u64()
            .and_then(|days| dotnet_time_span(&days.to_string()))
            .map(Value::String),
        (Scalar::DateTime, Value::String(s)) => utc_date_time(s).map(Value::String),
        (Scalar::Bytes, Value::String(b64)) => Some(byte_array(b64)),
        (Scalar::Hashtable, Value::Object(map)) => Some(Value::Object(hashtable(map))),
        _ => None,
    };
    converted.unwrap_or_else(|| value.clone())
}

/// Text that is a whole number, as a JSON number.
fn whole_number(text: &str) -> Option<Value> {
    let t = text.trim();
    t.parse::<i64>()
        .map(Value::from)
        .or_else(|_| t.parse::<u64>().map(Value::from))
        .ok()
}

/// Base64 text as a byte array for OData.
fn byte_array(b64: &str) -> Value {
    let mut out = Map::new();
    out.insert("@odata.type".into(), BYTE_ARRAY.into());
    out.insert("Data".into(), b64.into());
    Value::Object(out)
}

/// Whether a parameter is, by its name, a `DateTime` (`StartDate`, `EndTime`,
/// `ExpirationDate`, …): the only evidence there is for a cmdlet the catalog does not
/// document.
fn is_date_time_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with("date") || lower.ends_with("time")
}

/// A date-time that names an instant, because it states its offset
/// (`2026-12-01T09:30:00+01:00`, `…Z`, `…+0100`, `…+01`, seconds and their fraction optional),
/// as the module sends a `DateTime`: UTC, `yyyy-MM-ddTHH:mm:ss.fffffffZ`. Anything else (a
/// date alone, no offset, another culture's form) is not rewritten: without an offset there
/// is no instant to convert.
fn utc_date_time(s: &str) -> Option<String> {
    let s = s.trim();
    // ASCII only: every index below is then a character boundary.
    if !s.is_ascii() || s.len() < 16 {
        return None;
    }
    let digits = |part: &str| -> Option<i64> {
        (!part.is_empty() && part.len() <= 4 && part.bytes().all(|c| c.is_ascii_digit()))
            .then(|| part.parse().ok())?
    };
    let (date, rest) = s.split_at(10);
    let b = date.as_bytes();
    if b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let (year, month, day) = (
        digits(&date[0..4])?,
        digits(&date[5..7])?,
        digits(&date[8..10])?,
    );
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    // The offset: `Z`, or a sign and `hh`, `hhmm` or `hh:mm`.
    let (clock, offset_minutes) = match rest.strip_suffix(['Z', 'z']) {
        Some(clock) => (clock, 0),
        None => {
            let at = rest.rfind(['+', '-'])?;
            let (clock, zone) = rest.split_at(at);
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let zone = &zone[1..];
            let (h, m) = match (zone.len(), zone.split_once(':')) {
                (5, Some((h, m))) if h.len() == 2 => (digits(h)?, digits(m)?),
                (4, None) => (digits(&zone[..2])?, digits(&zone[2..])?),
                (2, None) => (digits(zone)?, 0),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            (clock, sign * (h * 60 + m))
        }
    };
    // The clock: `HH:mm`, `HH:mm:ss` or `HH:mm:ss.f…` (up to nine digits).
    let mut parts = clock.split(':');
    let (hh, mm) = (parts.next()?, parts.next()?);
    let (ss, fraction) = match parts.next() {
        Some(sec) => sec.split_once('.').unwrap_or((sec, "")),
        None => ("00", ""),
    };
    let two = |p: &str| if p.len() == 2 { digits(p) } else { None };
    let (hour, minute, second) = (two(hh)?, two(mm)?, two(ss)?);
    if parts.next().is_some()
        || fraction.len() > 9
        || !fraction.bytes().all(|c| c.is_ascii_digit())
        || (clock.contains('.') && fraction.is_empty())
    {
        return None;
    }
    use tenantry_common::calendar::{civil_from_days, days_from_civil, days_in_month};
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Ticks (100 ns) of the fraction: its first seven digits.
    let ticks = format!("{:0<7}", &fraction[..fraction.len().min(7)]);
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let utc = local - offset_minutes * 60;
    let (days, secs) = (utc.div_euclid(86_400), utc.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{ticks}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
    ))
}

/// A time span as .NET's `TimeSpan.ToString()` writes it, `[-][d.]hh:mm:ss[.fffffff]`, from
/// any form `TimeSpan.Parse` reads (`30` is thirty days, `1:2:3` is `01:02:03`).
fn dotnet_time_span(text: &str) -> Option<String> {
    let (seconds, fraction) = time_span(text)?;
    let fraction = fraction.trim_end_matches('0');
    // `-0:00:00.5` is negative although its whole seconds are not.
    let negative = text.trim().starts_with('-') && (seconds != 0 || !fraction.is_empty());
    let total = seconds.unsigned_abs();
    let (days, rest) = (total / 86_400, total % 86_400);
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!(
        "{:02}:{:02}:{:02}",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    ));
    if !fraction.is_empty() {
        out.push_str(&format!(".{fraction:0<7}"));
    }
    Some(out)
}

/// A `-Filter` as the module sends it: `$true` and `$false` outside quotes written `'True'`
/// and `'False'`.
fn filter_booleans(filter: &str) -> String {
    let mut out = String::with_capacity(filter.len());
    let mut quote: Option<char> = None;
    let mut rest = filter;
    while let Some(c) = rest.chars().next() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '\'' || c == '"' => quote = Some(c),
            None if c == '$' => {
                let word: String = rest[1..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let replaced = if word.eq_ignore_ascii_case("true") {
                    Some("'True'")
                } else if word.eq_ignore_ascii_case("false") {
                    Some("'False'")
                } else {
                    None
                };
                if let Some(replaced) = replaced {
                    out.push_str(replaced);
                    rest = &rest[1 + word.len()..];
                    continue;
                }
            }
            None => {}
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// A mapping as a hashtable: `@odata.type` added at each level, unless it has its own.
fn hashtable(map: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if !map.contains_key("@odata.type") {
        out.insert("@odata.type".into(), HASHTABLE.into());
    }
    for (k, v) in map {
        let v = match v {
            Value::Object(inner) => Value::Object(hashtable(inner)),
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|i| match i {
                        Value::Object(inner) => Value::Object(hashtable(inner)),
                        other => other.clone(),
                    })
                    .collect(),
            ),
            other => other.clone(),
        };
        out.insert(k.clone(), v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use serde_json::json;

    /// Encodes one parameter of `cmdlet` as the client sends it with the catalog's
    /// documentation, or without any when `cmdlet` is `None`; every key sent.
    fn sent(catalog: &Catalog, cmdlet: Option<&str>, param: &str, value: Value) -> Value {
        let spec = cmdlet.map(|c| catalog.cmdlet(c).unwrap_or_else(|| panic!("{c}")));
        let mut params = Map::new();
        params.insert(param.to_string(), value);
        encode_params(spec.as_deref(), &params)
    }

    #[test]
    fn values_are_sent_as_their_documented_type_asks() {
        let catalog = Catalog::built_in();
        let mbx = Some("Set-Mailbox");
        // (cmdlet, parameter, value as written or rendered, value as sent)
        let cases: &[(Option<&str>, &str, Value, Value)] = &[
            // Boolean and SwitchParameter: text from a template or CSV is a JSON boolean.
            (mbx, "LitigationHoldEnabled", json!("True"), json!(true)),
            (mbx, "LitigationHoldEnabled", json!("$false"), json!(false)),
            (mbx, "LitigationHoldEnabled", json!(" FALSE "), json!(false)),
            (mbx, "LitigationHoldEnabled", json!(true), json!(true)),
            (mbx, "Force", json!("$true"), json!(true)),
            (mbx, "LitigationHoldEnabled", json!(0), json!(false)),
            // A flags enumeration given as a list: one value, as .NET writes flags.
            (
                Some("Set-MailboxCalendarConfiguration"),
                "WorkDays",
                json!(["Monday", "Tuesday"]),
                json!("Monday, Tuesday"),
            ),
            (mbx, "LitigationHoldEnabled", json!(1), json!(true)),
            (mbx, "cf", json!("false"), json!(false)),
            // Whole numbers.
            (mbx, "ResourceCapacity", json!("12"), json!(12)),
            (mbx, "ResourceCapacity", json!(12), json!(12)),
            (
                Some("Set-DefaultTenantMyAnalyticsFeatureConfig"),
                "SamplingRate",
                json!("0.25"),
                json!(0.25),
            ),
            // Unlimited: the word, a count, a size or a time span.
            (
                mbx,
                "IssueWarningQuota",
                json!("unlimited"),
                json!("Unlimited"),
            ),
            (
                mbx,
                "IssueWarningQuota",
                json!("Unlimited"),
                json!("Unlimited"),
            ),
            (mbx, "IssueWarningQuota", json!("49 GB"), json!("49 GB")),
            (
                mbx,
                "IssueWarningQuota",
                json!("49 GB (52,613,349,376 bytes)"),
                json!("49 GB (52,613,349,376 bytes)"),
            ),
            (mbx, "LitigationHoldDuration", json!("2555"), json!(2555)),
            (
                mbx,
                "LitigationHoldDuration",
                json!("7:0:0"),
                json!("07:00:00"),
            ),
            (Some("Get-Mailbox"), "ResultSize", json!("500"), json!(500)),
            (
                Some("Get-Mailbox"),
                "ResultSize",
                json!("Unlimited"),
                json!("Unlimited"),
            ),
            // EnhancedTimeSpan and TimeSpan, as TimeSpan.ToString() writes them.
            (
                mbx,
                "RetainDeletedItemsFor",
                json!("14"),
                json!("14.00:00:00"),
            ),
            (
                mbx,
                "RetainDeletedItemsFor",
                json!(30),
                json!("30.00:00:00"),
            ),
            (
                mbx,
                "RetainDeletedItemsFor",
                json!("14.00:00:00"),
                json!("14.00:00:00"),
            ),
            (
                mbx,
                "RetainDeletedItemsFor",
                json!("1:2:3"),
                json!("01:02:03"),
            ),
            (
                mbx,
                "RetainDeletedItemsFor",
                json!("1.2:03"),
                json!("1.02:03:00"),
            ),
            (
                mbx,
                "AuditLogAgeLimit",
                json!("90.00:00:00.5"),
                json!("90.00:00:00.5000000"),
            ),
            (
                mbx,
                "AuditLogAgeLimit",
                json!("-0:00:00.25"),
                json!("-00:00:00.2500000"),
            ),
            (
                mbx,
                "AuditLogAgeLimit",
                json!("00:00:01.0000000"),
                json!("00:00:01"),
            ),
            (
                mbx,
                "AuditLogAgeLimit",
                json!("a fortnight"),
                json!("a fortnight"),
            ),
            (
                Some("Set-MailboxCalendarConfiguration"),
                "WorkingHoursStartTime",
                json!("8:00"),
                json!("08:00:00"),
            ),
            // DateTime: an instant with an offset in UTC, whatever the parameter's name.
            (
                mbx,
                "LitigationHoldDate",
                json!("2026-12-01T09:30:00+01:00"),
                json!("2026-12-01T08:30:00.0000000Z"),
            ),
            (
                mbx,
                "StartDateForRetentionHold",
                json!("2027-01-01T00:00:00.5-05:30"),
                json!("2027-01-01T05:30:00.5000000Z"),
            ),
            (
                mbx,
                "StsRefreshTokensValidFrom",
                json!("2024-02-29 23:59:59Z"),
                json!("2024-02-29T23:59:59.0000000Z"),
            ),
            (
                Some("New-TransportRule"),
                "ActivationDate",
                json!("2026-12-31T23:30+0100"),
                json!("2026-12-31T22:30:00.0000000Z"),
            ),
            (
                Some("New-MigrationBatch"),
                "CompleteAfter",
                json!("2026-06-01T02:00:00.123456789+02"),
                json!("2026-06-01T00:00:00.1234567Z"),
            ),
            // No offset, no instant: as written.
            (
                mbx,
                "LitigationHoldDate",
                json!("2026-12-01"),
                json!("2026-12-01"),
            ),
            (
                mbx,
                "LitigationHoldDate",
                json!("2026-12-01T09:30:00"),
                json!("2026-12-01T09:30:00"),
            ),
            (
                mbx,
                "LitigationHoldDate",
                json!("12/1/2026 9:30 AM"),
                json!("12/1/2026 9:30 AM"),
            ),
            (mbx, "LitigationHoldDate", json!(null), json!(null)),
            // Text stays text, whatever it looks like.
            (
                mbx,
                "CustomAttribute1",
                json!("2026-12-01T09:30:00+01:00"),
                json!("2026-12-01T09:30:00+01:00"),
            ),
            (mbx, "CustomAttribute1", json!("True"), json!("True")),
            (mbx, "CustomAttribute1", json!("42"), json!("42")),
            (mbx, "Identity", json!("user001"), json!("user001")),
            // Multi-valued: one value as it is, a list as a list, changes as a hashtable.
            (
                mbx,
                "EmailAddresses",
                json!("smtp:a@contoso.com"),
                json!("smtp:a@contoso.com"),
            ),
            (
                mbx,
                "EmailAddresses",
                json!(["SMTP:a@contoso.com", "smtp:b@contoso.com"]),
                json!(["SMTP:a@contoso.com", "smtp:b@contoso.com"]),
            ),
            (
                mbx,
                "EmailAddresses",
                json!({"Add": ["smtp:c@contoso.com"], "remove": "smtp:b@contoso.com"}),
                json!({
                    "@odata.type": "#Exchange.GenericHashTable",
                    "Add": ["smtp:c@contoso.com"],
                    "remove": "smtp:b@contoso.com",
                }),
            ),
            (
                Some("Get-Recipient"),
                "RecipientTypeDetails",
                json!(["UserMailbox", "SharedMailbox"]),
                json!(["UserMailbox", "SharedMailbox"]),
            ),
            // Hashtable.
            (
                Some("New-DlpPolicy"),
                "Parameters",
                json!({"Threshold": 5, "Nested": {"On": true}}),
                json!({
                    "@odata.type": "#Exchange.GenericHashTable",
                    "Threshold": 5,
                    "Nested": {"@odata.type": "#Exchange.GenericHashTable", "On": true},
                }),
            ),
            // Byte[]: base64 as a byte array.
            (
                Some("Set-OMEConfiguration"),
                "Image",
                json!("iVBORw0KGgo="),
                json!({"@odata.type": "#Exchange.ByteArrayType", "Data": "iVBORw0KGgo="}),
            ),
            // -Filter: `$true`/`$false` outside quotes as 'True'/'False'.
            (
                Some("Get-Mailbox"),
                "Filter",
                json!(
                    "LitigationHoldEnabled -eq $TRUE -and CustomAttribute1 -eq '$true' -and HiddenFromAddressListsEnabled -ne $false"
                ),
                json!(
                    "LitigationHoldEnabled -eq 'True' -and CustomAttribute1 -eq '$true' -and HiddenFromAddressListsEnabled -ne 'False'"
                ),
            ),
            (
                Some("Get-Mailbox"),
                "Filter",
                json!("Name -like \"O'Neil*\" -and $trueish -eq $null"),
                json!("Name -like \"O'Neil*\" -and $trueish -eq $null"),
            ),
            // Without the catalog: by name, as before.
            (
                None,
                "StartTime",
                json!("2026-12-01T09:30:00+01:00"),
                json!("2026-12-01T08:30:00.0000000Z"),
            ),
            (
                None,
                "StartDateForRetentionHold",
                json!("2026-12-01T09:30:00+01:00"),
                json!("2026-12-01T09:30:00+01:00"),
            ),
            (None, "LitigationHoldEnabled", json!("True"), json!("True")),
            (None, "RetainDeletedItemsFor", json!("14"), json!("14")),
            (
                None,
                "Filter",
                json!("Enabled -eq $true"),
                json!("Enabled -eq 'True'"),
            ),
            (
                None,
                "EmailAddresses",
                json!({"Add": ["a@contoso.com"]}),
                json!({"@odata.type": "#Exchange.GenericHashTable", "Add": ["a@contoso.com"]}),
            ),
        ];
        for (cmdlet, param, written, expected) in cases {
            let encoded = sent(&catalog, *cmdlet, param, written.clone());
            assert_eq!(
                encoded[*param],
                *expected,
                "{} -{param} {written}",
                cmdlet.unwrap_or("(no catalog)")
            );
            assert_eq!(encoded.as_object().unwrap().len(), 1, "{encoded}");
        }
    }

    #[test]
    fn lists_of_hashtables_and_byte_arrays_name_their_element_type_beside_them() {
        let catalog = Catalog::built_in();
        let rule = Some("New-TransportRule");
        let encoded = sent(
            &catalog,
            rule,
            "ExceptIfMessageContainsDataClassifications",
            json!([{"Name": "Credit Card Number", "minCount": "1"}]),
        );
        assert_eq!(
            encoded,
            json!({
                "ExceptIfMessageContainsDataClassifications": [{
                    "@odata.type": "#Exchange.GenericHashTable",
                    "Name": "Credit Card Number",
                    "minCount": "1",
                }],
                "ExceptIfMessageContainsDataClassifications@odata.type": "#Collection(Exchange.GenericHashTable)",
            })
        );
        let encoded = sent(
            &catalog,
            Some("Set-OMEConfiguration"),
            "Image",
            json!(["AAEC", "AwQF"]),
        );
        assert_eq!(
            encoded,
            json!({
                "Image": [{"Data": "AAEC"}, {"Data": "AwQF"}],
                "Image@odata.type": "#Collection(Exchange.ByteArrayType)",
            })
        );
        // Without the catalog, a list of mappings is still a collection of hashtables.
        let encoded = sent(&catalog, None, "Rules", json!([{"Name": "x"}]));
        assert_eq!(encoded["Rules@odata.type"], HASHTABLES);
        assert_eq!(encoded["Rules"][0]["@odata.type"], HASHTABLE);
    }

    #[test]
    fn a_parameter_named_like_a_date_but_documented_as_text_is_sent_as_written() {
        let catalog = Catalog::from_json(
            "test",
            r#"{"cmdlets": {"Set-Example": {"params": {
                "ReviewDate": {"type": "String"},
                "ReviewedAt": {"type": "DateTime"},
                "Blobs": {"type": "Byte[][]"},
                "Flags": {"type": "Boolean[]"}
            }}}}"#,
        )
        .unwrap();
        let example = Some("Set-Example");
        let offset = json!("2026-12-01T09:30:00+01:00");
        assert_eq!(
            sent(&catalog, example, "ReviewDate", offset.clone())["ReviewDate"],
            offset
        );
        assert_eq!(
            sent(&catalog, example, "ReviewedAt", offset.clone())["ReviewedAt"],
            "2026-12-01T08:30:00.0000000Z"
        );
        // Without the catalog, the name is all there is to go by.
        assert_eq!(
            sent(&catalog, None, "ReviewDate", offset)["ReviewDate"],
            "2026-12-01T08:30:00.0000000Z"
        );
        assert_eq!(
            sent(&catalog, example, "Blobs", json!(["AAEC"])),
            json!({"Blobs": [{"Data": "AAEC"}], "Blobs@odata.type": BYTE_ARRAYS})
        );
        assert_eq!(
            sent(&catalog, example, "Flags", json!(["True", "$false", true]))["Flags"],
            json!([true, false, true])
        );
    }

    #[test]
    fn odd_date_times_are_left_alone_never_a_panic() {
        for odd in [
            "2026-12-01T09:30:00é1234",
            "2026-12-01T09:30:00+0é00",
            "2026-12-01T09:30:00.5é1234",
            "2026-12-01T09:30:00+-5:00",
            "2026-12-01T09:30:00++5:00",
            "2026-12-01T09:30:00.+01:00",
            "2026-12-01T9:30:00+01:00",
            "2026-12-01T09:30:00+1:00",
            "2026-12-01T09:30:00+24:00",
            "2026-02-30T00:00:00Z",
            "2026-12-01T09:30:00:00Z",
            "2026-12-01T09:30:00.1234567890Z",
            "9999-12-31T23:00:00-01:00",
            "0001-01-01T00:30:00+01:00",
            "2026-12-01X09:30:00Z",
            "2026/12/01T09:30:00Z",
            "",
            "Z",
        ] {
            assert_eq!(utc_date_time(odd), None, "{odd}");
        }
    }

    #[test]
    fn filters_keep_quoted_text_and_other_variables() {
        for (filter, sent) in [
            ("Enabled -eq $true", "Enabled -eq 'True'"),
            ("$False -eq Enabled", "'False' -eq Enabled"),
            ("Name -eq 'It''s $true'", "Name -eq 'It''s $true'"),
            (
                "Name -eq \"$false\" -or X -eq $true",
                "Name -eq \"$false\" -or X -eq 'True'",
            ),
            (
                "X -eq $truest -or Y -eq $null",
                "X -eq $truest -or Y -eq $null",
            ),
            ("Ünïcode -eq $true$", "Ünïcode -eq 'True'$"),
            ("$", "$"),
        ] {
            assert_eq!(filter_booleans(filter), sent, "{filter}");
        }
    }
}
