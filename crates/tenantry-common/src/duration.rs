//! Durations as people type them on the command line and in the sandbox's settings: `250ms`,
//! `3s`, `1.5s`, `60m`, `2h`, `1d`, `2h30m`.

use std::time::Duration;

/// Parses `250ms`, `3s`, `1.5s`, `60m`, `2h`, `1d`, and sums such as `2h30m` or `1m30s`, as a
/// playbook's `timeout` reads them. A bare number is seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let not_one = || format!("'{s}' is not a duration such as 50ms, 3s, 60m or 2h30m");
    if s.is_empty() {
        return Err(not_one());
    }
    let mut secs = 0.0_f64;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, after) = rest.split_at(digits);
        let value: f64 = num.parse().map_err(|_| not_one())?;
        let letters = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(letters);
        let scale = match unit {
            "ms" => 0.001,
            "s" => 1.0,
            // A bare number, alone, is seconds.
            "" if digits == s.len() => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            "" => return Err(not_one()),
            _ => return Err(format!("'{s}' has an unknown unit (use ms, s, m, h or d)")),
        };
        secs += value * scale;
        rest = after;
    }
    if !secs.is_finite() || secs > 1e9 {
        return Err(format!("'{s}' is too long"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Formats a duration the way [`parse_duration`] reads it.
pub fn fmt_duration(d: Duration) -> String {
    if !d.subsec_nanos().is_multiple_of(1_000_000) {
        // Below a millisecond's precision: keep it, rather than round it away.
        let ms = format!("{:.6}", d.as_secs_f64() * 1000.0);
        return format!("{}ms", ms.trim_end_matches('0').trim_end_matches('.'));
    }
    let ms = d.as_millis();
    if ms.is_multiple_of(3_600_000) && ms > 0 {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_back() {
        assert_eq!(parse_duration("60m").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("ms").is_err());
        assert_eq!(parse_duration("2h30m").unwrap(), Duration::from_secs(9000));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert!(parse_duration("1h30").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("2h-30m").is_err());
        for text in ["50ms", "2s", "0s", "0.5ms", "3m", "2h"] {
            assert_eq!(fmt_duration(parse_duration(text).unwrap()), text);
        }
    }
}
