//! The value formats Exchange Online shows and accepts, shared by the directory, the cmdlets
//! and `-Filter`: .NET TimeSpans (EnhancedTimeSpan), ByteQuantifiedSizes, DateTimes, proxy
//! addresses and `*` wildcards.

use serde_json::Value;
use tenantry_common::calendar::{civil_from_days, days_from_civil, days_in_month};

// ---------------------------------------------------------------------------------------------
// EnhancedTimeSpan

/// Ticks (100 ns) in a second.
pub(crate) const TICKS_PER_SECOND: i64 = 10_000_000;
/// Ticks (100 ns) in a day.
pub(crate) const TICKS_PER_DAY: i64 = 86_400 * TICKS_PER_SECOND;

/// Parses a .NET TimeSpan (`[-][d.]hh:mm[:ss[.fffffff]]`, or a whole number of days) into ticks.
pub(crate) fn parse_timespan(s: &str) -> Option<i64> {
    let s = s.trim();
    let (negative, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let digits = |t: &str, max_len: usize| -> Option<i64> {
        if t.is_empty() || t.len() > max_len || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    let parts: Vec<&str> = s.split(':').collect();
    let (days, hours, minutes, seconds, fraction) = match parts.as_slice() {
        [d] => (digits(d, 8)?, 0, 0, 0, 0),
        [h, m] | [h, m, _] => {
            let (days, hours) = match h.split_once('.') {
                Some((d, h)) => (digits(d, 8)?, digits(h, 2)?),
                None => (0, digits(h, 2)?),
            };
            let minutes = digits(m, 2)?;
            let (seconds, fraction) = match parts.get(2) {
                None => (0, 0),
                Some(sec) => match sec.split_once('.') {
                    Some((s, f)) => {
                        let f_digits = digits(f, 7)?;
                        (digits(s, 2)?, f_digits * 10_i64.pow(7 - f.len() as u32))
                    }
                    None => (digits(sec, 2)?, 0),
                },
            };
            (days, hours, minutes, seconds, fraction)
        }
        _ => return None,
    };
    if hours > 23 || minutes > 59 || seconds > 59 || days > 10_675_198 {
        return None;
    }
    let ticks = (((days * 24 + hours) * 60 + minutes) * 60 + seconds)
        .checked_mul(TICKS_PER_SECOND)?
        .checked_add(fraction)?;
    Some(if negative { -ticks } else { ticks })
}

/// Formats ticks as .NET's TimeSpan.ToString does: `[-][d.]hh:mm:ss[.fffffff]`.
pub(crate) fn format_timespan(ticks: i64) -> String {
    let sign = if ticks < 0 { "-" } else { "" };
    let t = ticks.unsigned_abs();
    let per_day = TICKS_PER_DAY as u64;
    let per_second = TICKS_PER_SECOND as u64;
    let days = t / per_day;
    let rest = t % per_day;
    let seconds = rest / per_second;
    let fraction = rest % per_second;
    let mut out = String::from(sign);
    if days > 0 {
        out.push_str(&format!("{days}."));
    }
    out.push_str(&format!(
        "{:02}:{:02}:{:02}",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    ));
    if fraction > 0 {
        out.push_str(&format!(".{fraction:07}"));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// ByteQuantifiedSize

/// A ByteQuantifiedSize or `Unlimited`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Quantity {
    /// A number of bytes.
    Bytes(u64),
    /// No limit.
    Unlimited,
}

/// Parses a size: `Unlimited`, a number of bytes, `50 GB`, `1.5GB`, `256 KB`, or Exchange's own
/// `99 GB (106,300,440,576 bytes)`.
pub(crate) fn parse_size(s: &str) -> Option<Quantity> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("unlimited") {
        return Some(Quantity::Unlimited);
    }
    if let Some((_, inner)) = s.split_once('(') {
        let inner = inner.trim().strip_suffix(')')?.trim();
        let inner = inner
            .strip_suffix("bytes")
            .or_else(|| inner.strip_suffix("Bytes"))?;
        let digits: String = inner.trim().chars().filter(|c| *c != ',').collect();
        return digits.parse().ok().map(Quantity::Bytes);
    }
    let split = s.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(s.len());
    let (number, unit) = (s[..split].trim(), s[split..].trim());
    let multiplier = tenantry_common::bytes_per_unit(unit)?;
    let number: String = number.chars().filter(|c| *c != ',').collect();
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    if let Ok(whole) = number.parse::<u64>() {
        return whole.checked_mul(multiplier).map(Quantity::Bytes);
    }
    let value: f64 = number.parse().ok()?;
    let bytes = (value * multiplier as f64).round();
    if !bytes.is_finite() || bytes < 0.0 || bytes >= u64::MAX as f64 {
        return None;
    }
    Some(Quantity::Bytes(bytes as u64))
}

/// Formats bytes as Exchange shows sizes: `99 GB (106,300,440,576 bytes)`.
pub(crate) fn format_size(bytes: u64) -> String {
    const UNITS: &[(&str, u64)] = &[
        ("TB", 1 << 40),
        ("GB", 1 << 30),
        ("MB", 1 << 20),
        ("KB", 1 << 10),
    ];
    let (unit, size) = UNITS
        .iter()
        .copied()
        .find(|(_, size)| bytes >= *size)
        .unwrap_or(("B", 1));
    let value = format!("{:.1}", bytes as f64 / size as f64);
    let value = value.strip_suffix(".0").unwrap_or(&value);
    let digits = bytes.to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{value} {unit} ({grouped} bytes)")
}

// ---------------------------------------------------------------------------------------------
// DateTime

/// Parses a date and time into seconds since the epoch (UTC): ISO 8601 (`2025-01-31`,
/// `2025-01-31T08:00:00Z`, with fractions and `±hh:mm` offsets) or US style
/// (`1/31/2025 8:00 AM`, as PowerShell formats dates).
pub(crate) fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    if !s.is_ascii() {
        return None;
    }
    let (y, m, d, rest) = parse_date(s)?;
    if !(1..=12).contains(&m) || d < 1 || d > days_in_month(y, m) || y < 1 {
        return None;
    }
    let (time, offset) = parse_offset(rest)?;
    let (h, mi, sec) = parse_time_of_day(time.trim())?;
    Some(days_from_civil(y, m, d) * 86_400 + h * 3600 + mi * 60 + sec - offset)
}

/// A number of one to four digits.
fn date_number(t: &str) -> Option<i64> {
    if t.is_empty() || t.len() > 4 || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    t.parse().ok()
}

/// The year, month and day of an ISO (`2025-01-31…`) or US (`1/31/2025 …`) date, and what
/// follows it.
fn parse_date(s: &str) -> Option<(i64, i64, i64, &str)> {
    let num = date_number;
    if s.len() >= 10 && s.as_bytes()[4] == b'-' {
        let (date, rest) = s.split_at(10);
        let mut it = date.split('-');
        let (y, m, d) = (num(it.next()?)?, num(it.next()?)?, num(it.next()?)?);
        let rest = match rest.chars().next() {
            None => "",
            Some('T' | 't' | ' ') => &rest[1..],
            Some(_) => return None,
        };
        Some((y, m, d, rest))
    } else {
        let (date, rest) = s.split_once(' ').unwrap_or((s, ""));
        let mut it = date.split('/');
        let (m, d, y) = (num(it.next()?)?, num(it.next()?)?, num(it.next()?)?);
        if it.next().is_some() {
            return None;
        }
        Some((y, m, d, rest.trim()))
    }
}

/// A time without its zone (`Z`, `±hh:mm`, `±hhmm` or `±hh`), and the zone's offset in seconds.
fn parse_offset(rest: &str) -> Option<(&str, i64)> {
    let num = date_number;
    let (mut time, mut offset) = (rest, 0_i64);
    if let Some(t) = time.strip_suffix(['Z', 'z']) {
        time = t;
    } else if let Some(i) = time.rfind(['+', '-']) {
        let zone = &time[i + 1..];
        let (zh, zm) = match zone.split_once(':') {
            Some((h, m)) => (num(h)?, num(m)?),
            None if zone.len() == 4 => (num(&zone[..2])?, num(&zone[2..])?),
            None => (num(zone)?, 0),
        };
        offset = (zh * 60 + zm) * 60;
        if &time[i..i + 1] == "-" {
            offset = -offset;
        }
        time = &time[..i];
    }
    Some((time, offset))
}

/// Hours, minutes and seconds of `h:mm[:ss[.f]]`, with an optional AM or PM; midnight when empty.
fn parse_time_of_day(time: &str) -> Option<(i64, i64, i64)> {
    let num = date_number;
    let (time, pm) = match time.get(time.len().saturating_sub(2)..) {
        Some(suffix) if suffix.eq_ignore_ascii_case("PM") => {
            (time[..time.len() - 2].trim(), Some(true))
        }
        Some(suffix) if suffix.eq_ignore_ascii_case("AM") => {
            (time[..time.len() - 2].trim(), Some(false))
        }
        _ => (time, None),
    };
    let (mut h, mi, sec) = if time.is_empty() {
        (0, 0, 0)
    } else {
        let mut it = time.split(':');
        let h = num(it.next()?)?;
        let mi = num(it.next()?)?;
        let sec = match it.next() {
            Some(sec) => num(sec.split('.').next()?)?,
            None => 0,
        };
        if it.next().is_some() {
            return None;
        }
        (h, mi, sec)
    };
    match pm {
        Some(_) if !(1..=12).contains(&h) => return None,
        Some(true) if h < 12 => h += 12,
        Some(false) if h == 12 => h = 0,
        _ => {}
    }
    if h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    Some((h, mi, sec))
}

/// Formats seconds since the epoch as Exchange's DateTime values: `2025-01-31T08:00:00+00:00`.
pub(crate) fn format_datetime(secs: i64) -> String {
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let rest = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}+00:00",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// A DateTime value as its `…UTC` twin shows it: `+00:00` becomes `Z`.
pub(crate) fn to_utc(v: Value) -> Value {
    match v {
        Value::String(s) => match s.strip_suffix("+00:00") {
            Some(base) => Value::String(format!("{base}Z")),
            None => Value::String(s),
        },
        other => other,
    }
}

// ---------------------------------------------------------------------------------------------
// Proxy addresses and wildcards

/// Whether a proxy address is an SMTP one (`SMTP:`, `smtp:`, or no prefix).
pub(crate) fn is_smtp_proxy(proxy: &str) -> bool {
    match proxy.split_once(':') {
        Some((prefix, _)) if !prefix.contains('@') && !prefix.is_empty() => {
            prefix.eq_ignore_ascii_case("smtp")
        }
        _ => true,
    }
}

/// The address part of a proxy address (`SMTP:a@b` → `a@b`); addresses without a prefix are
/// returned as they are.
pub(crate) fn proxy_address(proxy: &str) -> &str {
    match proxy.split_once(':') {
        Some((prefix, rest)) if !prefix.contains('@') && !prefix.is_empty() => rest,
        _ => proxy,
    }
}

/// Whether `text` matches a `*` wildcard `pattern`; both should already be lowercase.
pub(crate) fn like(pattern: &str, text: &str) -> bool {
    let p = pattern.as_bytes();
    let t = text.as_bytes();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&b| b == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const GB: u64 = 1 << 30;

    #[test]
    fn timespans_parse_and_format_like_dotnet() {
        let day = TICKS_PER_DAY;
        assert_eq!(parse_timespan("30.00:00:00"), Some(30 * day));
        assert_eq!(parse_timespan("30"), Some(30 * day));
        assert_eq!(
            parse_timespan("1.02:03:04"),
            Some(day + (2 * 3600 + 3 * 60 + 4) * TICKS_PER_SECOND)
        );
        assert_eq!(
            parse_timespan("02:03"),
            Some((2 * 3600 + 3 * 60) * TICKS_PER_SECOND)
        );
        assert_eq!(parse_timespan("-00:00:01.5"), Some(-15_000_000));
        for bad in [
            "",
            "abc",
            "25:00:00",
            "1:60:00",
            "1.2.3",
            "00:00:00.12345678",
            "1:2:3:4",
        ] {
            assert_eq!(parse_timespan(bad), None, "{bad}");
        }
        assert_eq!(format_timespan(14 * day), "14.00:00:00");
        assert_eq!(format_timespan(0), "00:00:00");
        assert_eq!(format_timespan(-15_000_000), "-00:00:01.5000000");
    }

    #[test]
    fn sizes_parse_and_format_like_exchange() {
        assert_eq!(parse_size("50 GB"), Some(Quantity::Bytes(50 * GB)));
        assert_eq!(parse_size("1.5gb"), Some(Quantity::Bytes(3 * GB / 2)));
        assert_eq!(
            parse_size("99 GB (106,300,440,576 bytes)"),
            Some(Quantity::Bytes(106_300_440_576))
        );
        assert_eq!(parse_size("unlimited"), Some(Quantity::Unlimited));
        assert_eq!(parse_size("1024"), Some(Quantity::Bytes(1024)));
        assert_eq!(parse_size("ten GB"), None);
        assert_eq!(parse_size("5 XB"), None);
        assert_eq!(format_size(1_825_361_920), "1.7 GB (1,825,361,920 bytes)");
        assert_eq!(format_size(1_000_000), "976.6 KB (1,000,000 bytes)");
        assert_eq!(format_size(0), "0 B (0 bytes)");
    }

    #[test]
    fn dates_parse_in_iso_and_us_forms() {
        let jan31 = days_from_civil(2025, 1, 31) * 86_400;
        assert_eq!(parse_datetime("2025-01-31"), Some(jan31));
        assert_eq!(
            parse_datetime("2025-01-31T08:00:00Z"),
            Some(jan31 + 8 * 3600)
        );
        assert_eq!(
            parse_datetime("2025-01-31T08:00:00.1234567Z"),
            Some(jan31 + 8 * 3600)
        );
        assert_eq!(
            parse_datetime("2025-01-31T10:00:00+02:00"),
            Some(jan31 + 8 * 3600)
        );
        assert_eq!(parse_datetime("1/31/2025 8:00 PM"), Some(jan31 + 20 * 3600));
        for bad in [
            "2025-02-30",
            "2025-13-01",
            "tomorrow",
            "2025-01-31X",
            "1/31",
        ] {
            assert_eq!(parse_datetime(bad), None, "{bad}");
        }
        assert_eq!(
            format_datetime(jan31 + 8 * 3600),
            "2025-01-31T08:00:00+00:00"
        );
        assert_eq!(civil_from_days(days_from_civil(2024, 2, 29)), (2024, 2, 29));
    }
}
