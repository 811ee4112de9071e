//! Cmdlet parameters as the ExchangeOnlineManagement module sends them: hashtables typed for
//! OData, date-times given with an offset sent in UTC as .NET writes a `DateTime`, and
//! SecureStrings encrypted under the service's public key.

use serde_json::{Map, Value};

use super::secure::{PublicKey, SecureError, encrypt_params};

/// A cmdlet's parameters as the module sends them: its SecureString parameters encrypted under
/// `key`, then everything as [`encode_params`] writes it.
pub fn encode_cmdlet_params(
    cmdlet: &str,
    params: &Map<String, Value>,
    key: &PublicKey,
) -> Result<Value, SecureError> {
    let params = encrypt_params(cmdlet, params, key)?;
    Ok(encode_params(&params))
}

/// Parameters as the module sends them: a hashtable value (add/remove) gets its
/// `@odata.type`, a list of hashtables its `<Param>@odata.type` sibling, and a date-time
/// parameter given with its UTC offset is sent in UTC, as .NET writes a `DateTime`.
pub fn encode_params(params: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for (name, value) in params {
        match value {
            Value::String(s) if is_date_time_name(name) => {
                let utc = utc_date_time(s).map_or_else(|| value.clone(), Value::String);
                out.insert(name.clone(), utc);
            }
            Value::Object(map) => {
                out.insert(name.clone(), Value::Object(hashtable(map)));
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
                let tables = items
                    .iter()
                    .filter_map(Value::as_object)
                    .map(|m| Value::Object(hashtable(m)))
                    .collect();
                out.insert(name.clone(), Value::Array(tables));
                out.insert(
                    format!("{name}@odata.type"),
                    "#Collection(Exchange.GenericHashTable)".into(),
                );
            }
            other => {
                out.insert(name.clone(), other.clone());
            }
        }
    }
    Value::Object(out)
}

/// Whether a parameter is, by its name, a `DateTime` (`StartDate`, `EndTime`,
/// `ExpirationDate`, …). Only these are converted: a string parameter that happens to hold a
/// timestamp (`CustomAttribute1`) is sent as written.
fn is_date_time_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with("date") || lower.ends_with("time")
}

/// An RFC 3339 date-time with an explicit offset (`2026-12-01T09:30:00+01:00`, `…Z`) as the
/// module sends a `DateTime`: UTC, `yyyy-MM-ddTHH:mm:ss.fffffffZ`. Anything else (a date
/// alone, no offset) is not rewritten: without an offset there is no instant to convert.
fn utc_date_time(s: &str) -> Option<String> {
    // ASCII only: every index below is then a character boundary.
    if !s.is_ascii() {
        return None;
    }
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let (year, month, day) = (digits(0..4)?, digits(5..7)?, digits(8..10)?);
    let (hour, minute, second) = (digits(11..13)?, digits(14..16)?, digits(17..19)?);
    let mut rest = &s[19..];
    let mut nanos: i64 = 0;
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 || n > 9 {
            return None;
        }
        let text = &fraction[..n];
        nanos = text.parse::<i64>().ok()? * 10i64.pow(9 - n as u32);
        rest = &fraction[n..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            // The offset is the last six bytes: ±hh:mm.
            let at = s.len() - 6;
            let (h, m) = (digits(at + 1..at + 3)?, digits(at + 4..at + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 60 + m)
        }
        _ => return None,
    };
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
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let utc = local - offset_minutes * 60;
    let (days, secs) = (utc.div_euclid(86_400), utc.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    if !(1..=9999).contains(&y) {
        return None;
    }
    Some(format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:07}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60,
        nanos / 100
    ))
}

fn hashtable(map: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    if !map.contains_key("@odata.type") {
        out.insert("@odata.type".into(), "#Exchange.GenericHashTable".into());
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
    use serde_json::json;

    #[test]
    fn date_time_parameters_with_an_offset_are_sent_in_utc_as_dotnet_writes_them() {
        let params = json!({
            "StartTime": "2026-12-01T09:30:00+01:00",
            "EndDate": "2027-01-01T00:00:00.5-05:30",
            "ExpirationDate": "2024-02-29T23:59:59Z",
            "CustomAttribute1": "2026-12-01T09:30:00+01:00",
            "StartDate": "2026-12-01",
            "EndTime": "2026-02-30T00:00:00Z",
            "TimeZone": "2026-12-01T09:30:00+01:00",
            "AuditLogAgeLimit": "90.00:00:00",
        });
        let encoded = encode_params(params.as_object().unwrap());
        assert_eq!(encoded["StartTime"], "2026-12-01T08:30:00.0000000Z");
        assert_eq!(encoded["EndDate"], "2027-01-01T05:30:00.5000000Z");
        assert_eq!(encoded["ExpirationDate"], "2024-02-29T23:59:59.0000000Z");
        // Not date-times by name, or nothing to convert: as written.
        assert_eq!(encoded["CustomAttribute1"], "2026-12-01T09:30:00+01:00");
        assert_eq!(encoded["StartDate"], "2026-12-01");
        assert_eq!(encoded["EndTime"], "2026-02-30T00:00:00Z", "no 30 February");
        assert_eq!(encoded["TimeZone"], "2026-12-01T09:30:00+01:00");
        // Odd input is left alone, never a panic.
        for odd in [
            "2026-12-01T09:30:00é1234",
            "2026-12-01T09:30:00+0é00",
            "2026-12-01T09:30:00.5é1234",
            "2026-12-01T09:30:00+-5:00",
            "2026-12-01T09:30:00++5:00",
        ] {
            let encoded = encode_params(json!({ "StartTime": odd }).as_object().unwrap());
            assert_eq!(encoded["StartTime"], odd);
        }
        // TimeSpans are written in .NET's own form already.
        assert_eq!(encoded["AuditLogAgeLimit"], "90.00:00:00");
    }

    #[test]
    fn hashtables_get_their_odata_type_and_lists_of_them_a_sibling() {
        let params = json!({
            "Identity": "user001",
            "EmailAddresses": {"Add": ["a@contoso.com"]},
            "Rules": [{"Name": "x"}],
            "Flag": true,
            "Tags": ["a", "b"],
        });
        let encoded = encode_params(params.as_object().unwrap());
        assert_eq!(
            encoded["EmailAddresses"]["@odata.type"],
            "#Exchange.GenericHashTable"
        );
        assert_eq!(encoded["EmailAddresses"]["Add"], json!(["a@contoso.com"]));
        assert_eq!(
            encoded["Rules@odata.type"],
            "#Collection(Exchange.GenericHashTable)"
        );
        assert_eq!(
            encoded["Rules"][0]["@odata.type"],
            "#Exchange.GenericHashTable"
        );
        assert_eq!(encoded["Flag"], true);
        assert_eq!(encoded["Tags"], json!(["a", "b"]));
    }
}
