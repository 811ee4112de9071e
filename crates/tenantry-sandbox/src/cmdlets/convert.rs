//! Value conversion: a parameter value to the stored form of a property of its type, with the
//! service's conversion, range and address errors.

use serde_json::{Value, json};

use super::args::text_of;
use super::error::*;
use super::resolve::{any_recipient, resolve};
use crate::directory::{Directory, Ty, country};
use crate::values::{
    Quantity, TICKS_PER_DAY, format_datetime, format_size, format_timespan, parse_datetime,
    parse_size, parse_timespan, proxy_address,
};

/// Converts a parameter value to the stored form of a property of type `ty`.
pub(super) fn convert(dir: &Directory, param: &str, ty: Ty, v: &Value) -> Result<Value> {
    let text = || text_of(param, v);
    match ty {
        Ty::Text => match v {
            Value::Null => Ok(Value::Null),
            _ => {
                let s = text()?;
                Ok(if s.is_empty() {
                    Value::Null
                } else {
                    Value::String(s)
                })
            }
        },
        Ty::Bool | Ty::OptBool => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::Null if ty == Ty::OptBool => Ok(Value::Null),
            Value::Number(n) if n.as_i64().is_some() => Ok(Value::Bool(n.as_i64() != Some(0))),
            Value::String(s)
                if s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("$true") =>
            {
                Ok(Value::Bool(true))
            }
            Value::String(s)
                if s.eq_ignore_ascii_case("false") || s.eq_ignore_ascii_case("$false") =>
            {
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
        },
        Ty::Int { min, max } | Ty::OptInt { min, max } => {
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
        Ty::Enum(e) => {
            let s = text()?;
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
        Ty::TimeSpan { max_days } | Ty::OptTimeSpan { max_days } => {
            if v.is_null() && matches!(ty, Ty::OptTimeSpan { .. }) {
                return Ok(Value::Null);
            }
            let s = text()?;
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
        Ty::UnlimitedTimeSpan => {
            let s = text()?;
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
        Ty::Size { max } => {
            let s = text()?;
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
        Ty::DateTime => match v {
            Value::Null => Ok(Value::Null),
            _ => {
                let s = text()?;
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
        },
        Ty::Texts => match v {
            Value::Null => Ok(json!([])),
            Value::Array(items) => Ok(Value::Array(
                items
                    .iter()
                    .map(|i| text_of(param, i).map(Value::String))
                    .collect::<Result<_>>()?,
            )),
            single => Ok(json!([text_of(param, single)?])),
        },
        Ty::Recipient => match v {
            Value::Null => Ok(Value::Null),
            _ => {
                let id = text()?;
                let slot = resolve(dir, &id, &any_recipient)?;
                Ok(json!(
                    dir.obj(slot).map(|o| o.name().to_string()).unwrap_or(id)
                ))
            }
        },
        Ty::Recipients => {
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
        Ty::Proxies => {
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
        Ty::Smtp => {
            let s = text()?;
            check_address(dir, param, &s)?;
            Ok(json!(s))
        }
        Ty::ForwardSmtp => match v {
            Value::Null => Ok(Value::Null),
            _ => {
                let s = text()?;
                let address = proxy_address(&s).to_string();
                if !is_address(&address) {
                    return Err(invalid_address(param, &s));
                }
                Ok(json!(format!("smtp:{address}")))
            }
        },
        Ty::Country => match v {
            Value::Null => Ok(Value::Null),
            _ => {
                let s = text()?;
                country(&s).map(|c| json!(c)).ok_or_else(|| {
                    cannot_convert(
                        param,
                        v,
                        ty.type_name(),
                        &format!("\"{s}\" isn't a valid country or region."),
                    )
                })
            }
        },
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
