//! Value conversion: a parameter value to the stored form of a property of its type, with the
//! service's conversion, range and address errors.

use serde_json::{Value, json};

use super::args::text_of;
use super::error::*;
use super::resolve::{any_recipient, resolve};
use crate::directory::{Directory, EnumTy, Ty, country};
use crate::values::{
    Quantity, TICKS_PER_DAY, format_datetime, format_size, format_timespan, parse_datetime,
    parse_size, parse_timespan, proxy_address,
};

/// Converts a parameter value to the stored form of a property of type `ty`.
pub(super) fn convert(dir: &Directory, param: &str, ty: Ty, v: &Value) -> Result<Value> {
    match ty {
        Ty::Text => match v {
            Value::Null => Ok(Value::Null),
            _ => {
                let s = text_of(param, v)?;
                Ok(if s.is_empty() {
                    Value::Null
                } else {
                    Value::String(s)
                })
            }
        },
        Ty::Bool | Ty::OptBool => convert_bool(param, ty, v),
        Ty::Int { min, max } | Ty::OptInt { min, max } => convert_int(param, ty, v, min, max),
        Ty::Enum(e) => convert_enum(param, e, v),
        Ty::TimeSpan { max_days } | Ty::OptTimeSpan { max_days } => {
            convert_timespan(param, ty, v, max_days)
        }
        Ty::UnlimitedTimeSpan => convert_unlimited_timespan(param, ty, v),
        Ty::Size { max } => convert_size(param, ty, v, max),
        Ty::DateTime => convert_datetime(param, v),
        Ty::Texts => convert_texts(param, v),
        Ty::Recipient => convert_recipient(dir, param, v),
        Ty::Recipients => convert_recipients(dir, param, v),
        Ty::Proxies => convert_proxies(param, v),
        Ty::Smtp => {
            let s = text_of(param, v)?;
            check_address(dir, param, &s)?;
            Ok(json!(s))
        }
        Ty::ForwardSmtp => convert_forward_smtp(param, v),
        Ty::Country => convert_country(param, ty, v),
    }
}

/// `$true`, `$false`, `$null` (when the type allows it) or a number.
fn convert_bool(param: &str, ty: Ty, v: &Value) -> Result<Value> {
    match v {
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::Null if ty == Ty::OptBool => Ok(Value::Null),
        Value::Number(n) if n.as_i64().is_some() => Ok(Value::Bool(n.as_i64() != Some(0))),
        Value::String(s) if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("$true") => {
            Ok(Value::Bool(true))
        }
        Value::String(s) if s.eq_ignore_ascii_case("false") || s.eq_ignore_ascii_case("$false") => {
            Ok(Value::Bool(false))
        }
        other => Err(CmdletError::powershell(
            TRANSFORMATION,
            "InvalidData",
            format!(
                "Cannot process argument transformation on parameter '{param}'. Cannot convert value \"{}\" to type \"{}\". Boolean parameters accept only Boolean values and numbers, such as $True, $False, 1 or 0.",
                shown(other),
                ty.type_name()
            ),
        )),
    }
}

/// An integer in `min..=max`, or `$null` when the type allows it.
fn convert_int(param: &str, ty: Ty, v: &Value, min: i64, max: i64) -> Result<Value> {
    {
        let n = match v {
            Value::Null if matches!(ty, Ty::OptInt { .. }) => return Ok(Value::Null),
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        let Some(n) = n else {
            return Err(cannot_convert(
                param,
                v,
                ty.type_name(),
                "Input string was not in a correct format.",
            ));
        };
        if n < min || n > max {
            return Err(out_of_range(
                param,
                &n.to_string(),
                &min.to_string(),
                &max.to_string(),
            ));
        }
        Ok(json!(n))
    }
}

/// One of an enum's names, in canonical spelling.
fn convert_enum(param: &str, e: &EnumTy, v: &Value) -> Result<Value> {
    {
        let s = text_of(param, v)?;
        e.canonical(&s).map(|c| json!(c)).ok_or_else(|| {
            cannot_convert(
                param,
                v,
                e.type_name,
                &format!(
                    "Unable to match the identifier name {s} to a valid enumerator name. Specify one of the following enumerator names and try again:\n{}",
                    e.values.join(", ")
                ),
            )
        })
    }
}

/// A TimeSpan between zero and `max_days` days, or `$null` when the type allows it.
fn convert_timespan(param: &str, ty: Ty, v: &Value, max_days: i64) -> Result<Value> {
    {
        if v.is_null() && matches!(ty, Ty::OptTimeSpan { .. }) {
            return Ok(Value::Null);
        }
        let s = text_of(param, v)?;
        let ticks = parse_timespan(&s).ok_or_else(|| {
            cannot_convert(
                param,
                v,
                ty.type_name(),
                "String was not recognized as a valid TimeSpan.",
            )
        })?;
        if ticks < 0 || ticks > max_days * TICKS_PER_DAY {
            return Err(out_of_range(
                param,
                &s,
                "00:00:00",
                &format_timespan(max_days * TICKS_PER_DAY),
            ));
        }
        Ok(json!(format_timespan(ticks)))
    }
}

/// A TimeSpan or `Unlimited`.
fn convert_unlimited_timespan(param: &str, ty: Ty, v: &Value) -> Result<Value> {
    {
        let s = text_of(param, v)?;
        if s.eq_ignore_ascii_case("unlimited") {
            return Ok(json!("Unlimited"));
        }
        let ticks = parse_timespan(&s).filter(|t| *t >= 0).ok_or_else(|| {
            cannot_convert(
                param,
                v,
                ty.type_name(),
                "String was not recognized as a valid TimeSpan.",
            )
        })?;
        Ok(json!(format_timespan(ticks)))
    }
}

/// A size up to `max` bytes, or `Unlimited`, in Exchange's canonical form.
fn convert_size(param: &str, ty: Ty, v: &Value, max: u64) -> Result<Value> {
    {
        let s = text_of(param, v)?;
        match parse_size(&s) {
            Some(Quantity::Unlimited) => Ok(json!("Unlimited")),
            Some(Quantity::Bytes(b)) if b <= max => Ok(json!(format_size(b))),
            Some(Quantity::Bytes(_)) => {
                Err(out_of_range(param, &s, "0 B (0 bytes)", &format_size(max)))
            }
            None => Err(cannot_convert(
                param,
                v,
                ty.type_name(),
                "The value is not a size such as 50 GB or Unlimited.",
            )),
        }
    }
}

/// A date and time in Exchange's form, or `$null`.
fn convert_datetime(param: &str, v: &Value) -> Result<Value> {
    match v {
        Value::Null => Ok(Value::Null),
        _ => {
            let s = text_of(param, v)?;
            parse_datetime(&s)
                .map(|secs| json!(format_datetime(secs)))
                .ok_or_else(|| {
                    cannot_convert(
                        param,
                        v,
                        "System.DateTime",
                        "String was not recognized as a valid DateTime.",
                    )
                })
        }
    }
}

/// A list of strings (one string, an array, or `$null` for none).
fn convert_texts(param: &str, v: &Value) -> Result<Value> {
    match v {
        Value::Null => Ok(json!([])),
        Value::Array(items) => Ok(Value::Array(
            items
                .iter()
                .map(|i| text_of(param, i).map(Value::String))
                .collect::<Result<_>>()?,
        )),
        single => Ok(json!([text_of(param, single)?])),
    }
}

/// One recipient by any identity, stored as its Name; or `$null`.
fn convert_recipient(dir: &Directory, param: &str, v: &Value) -> Result<Value> {
    match v {
        Value::Null => Ok(Value::Null),
        _ => {
            let id = text_of(param, v)?;
            let slot = resolve(dir, &id, &any_recipient)?;
            Ok(json!(
                dir.obj(slot).map(|o| o.name().to_string()).unwrap_or(id)
            ))
        }
    }
}

/// Recipients by any identity, stored once each as their Names.
fn convert_recipients(dir: &Directory, param: &str, v: &Value) -> Result<Value> {
    {
        let ids: Vec<Value> = match v {
            Value::Null => Vec::new(),
            Value::Array(items) => items.clone(),
            single => vec![single.clone()],
        };
        let mut names = Vec::new();
        for id in &ids {
            let id = text_of(param, id)?;
            let slot = resolve(dir, &id, &any_recipient)?;
            let name = json!(dir.obj(slot).map(|o| o.name().to_string()).unwrap_or(id));
            if !names.contains(&name) {
                names.push(name);
            }
        }
        Ok(Value::Array(names))
    }
}

/// Proxy addresses, with `smtp:` added where no prefix is given.
fn convert_proxies(param: &str, v: &Value) -> Result<Value> {
    {
        let items: Vec<Value> = match v {
            Value::Null => Vec::new(),
            Value::Array(items) => items.clone(),
            single => vec![single.clone()],
        };
        let proxies: Vec<String> = items
            .iter()
            .map(|i| text_of(param, i).map(|s| normalize_proxy(&s)))
            .collect::<Result<_>>()?;
        Ok(json!(proxies))
    }
}

/// A forwarding address, stored as `smtp:address`; or `$null`.
fn convert_forward_smtp(param: &str, v: &Value) -> Result<Value> {
    match v {
        Value::Null => Ok(Value::Null),
        _ => {
            let s = text_of(param, v)?;
            let address = proxy_address(&s).to_string();
            if !is_address(&address) {
                return Err(invalid_address(param, &s));
            }
            Ok(json!(format!("smtp:{address}")))
        }
    }
}

/// A country or region by ISO code or name, stored as its name; or `$null`.
fn convert_country(param: &str, ty: Ty, v: &Value) -> Result<Value> {
    match v {
        Value::Null => Ok(Value::Null),
        _ => {
            let s = text_of(param, v)?;
            country(&s).map(|c| json!(c)).ok_or_else(|| {
                cannot_convert(
                    param,
                    v,
                    ty.type_name(),
                    &format!("\"{s}\" isn't a valid country or region."),
                )
            })
        }
    }
}

/// `SMTP:` stays the primary marker; anything without a prefix becomes a secondary `smtp:`.
fn normalize_proxy(s: &str) -> String {
    let s = s.trim();
    match s.split_once(':') {
        Some((prefix, rest)) if !prefix.contains('@') && !prefix.is_empty() => {
            if prefix == "SMTP" {
                format!("SMTP:{rest}")
            } else if prefix.eq_ignore_ascii_case("smtp") {
                format!("smtp:{rest}")
            } else {
                s.to_string()
            }
        }
        _ => format!("smtp:{s}"),
    }
}

fn is_address(s: &str) -> bool {
    const FORBIDDEN: &[char] = &[':', ',', ';', '<', '>', '"', '(', ')', '[', ']', '\\'];
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !s.contains(FORBIDDEN)
                && s.matches('@').count() == 1
        }
        None => false,
    }
}

/// An address the tenant may hand out: well-formed and in an accepted domain.
pub(super) fn check_address(dir: &Directory, param: &str, address: &str) -> Result<()> {
    if !is_address(address) {
        return Err(invalid_address(param, address));
    }
    let domain = address.rsplit('@').next().unwrap_or("");
    if !dir.is_accepted_domain(domain) {
        return Err(CmdletError::exchange(
            VALIDATION,
            "InvalidArgument",
            "",
            format!(
                "The domain \"{domain}\" of the address \"{address}\" isn't an accepted domain for your organization. Use Get-AcceptedDomain to see the domains you can use."
            ),
        ));
    }
    Ok(())
}
