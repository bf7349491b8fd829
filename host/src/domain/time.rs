//! Parsing and printing instants: ISO-8601, dates, epoch seconds or milliseconds, and
//! relative forms (`now`, `-30d`, `-12h`, `-90m`, `-45s`, `-2w`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use thiserror::Error;

/// An instant the CLI could not understand.
#[derive(Debug, Error, PartialEq, Eq)]
#[error(
    "cannot read time '{0}': use an ISO-8601 time (2024-01-01T00:00:00Z), a date (2024-01-01), \
     epoch seconds or milliseconds (1704067200 / 1704067200000), or a relative time (now, -30d, -12h, -90m)"
)]
pub struct TimeParseError(pub String);

/// Milliseconds since the epoch, now.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

/// Print ms since the epoch as an ISO-8601 UTC time.
pub fn format_ms(ms: i64) -> String {
    match Utc.timestamp_millis_opt(ms).single() {
        Some(t) if ms % 1000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => format!("{ms}ms"),
    }
}

/// Parse an instant relative to `now` (ms).
pub fn parse_time(s: &str, now: i64) -> Result<i64, TimeParseError> {
    let err = || TimeParseError(s.to_string());
    let t = s.trim();
    if t.is_empty() {
        return Err(err());
    }
    if t.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Some(rel) = t
        .strip_prefix('-')
        .filter(|r| r.ends_with(|c: char| c.is_ascii_alphabetic()))
    {
        let (num, unit) = rel.split_at(rel.len() - 1);
        let n: i64 = num.parse().map_err(|_| err())?;
        let unit_ms = match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            _ => return Err(err()),
        };
        return n
            .checked_mul(unit_ms)
            .and_then(|d| now.checked_sub(d))
            .ok_or_else(err);
    }
    if t.chars().all(|c| c.is_ascii_digit()) {
        let n: i64 = t.parse().map_err(|_| err())?;
        // 11 digits or fewer: seconds (until year 5138); more: milliseconds.
        return Ok(if t.len() <= 11 { n * 1000 } else { n });
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(dt.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(d
            .and_hms_opt(0, 0, 0)
            .ok_or_else(err)?
            .and_utc()
            .timestamp_millis());
    }
    Err(err())
}

/// A duration that cannot be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum DurationParseError {
    #[error("{0:?} is not a duration: write e.g. 30s, 5m or 2h")]
    NotADuration(String),
    #[error("{0:?}: unknown unit {1:?}; use ms, s, m or h")]
    UnknownUnit(String, String),
}

/// `"250ms"`, `"30s"`, `"5m"`, `"2h"`, or a bare number of seconds (`"30"`).
pub fn parse_duration(s: &str) -> Result<std::time::Duration, DurationParseError> {
    use std::time::Duration;
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, "s"), |i| s.split_at(i));
    let not = || DurationParseError::NotADuration(s.to_string());
    let n: u64 = num.parse().map_err(|_| not())?;
    let secs = match unit {
        "ms" => return Ok(Duration::from_millis(n)),
        "s" => n,
        "m" => n.checked_mul(60).ok_or_else(not)?,
        "h" => n.checked_mul(3600).ok_or_else(not)?,
        _ => {
            return Err(DurationParseError::UnknownUnit(
                s.to_string(),
                unit.to_string(),
            ));
        }
    };
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN1: i64 = 1_704_067_200_000;

    #[test]
    fn forms() {
        let now = JAN1 + 86_400_000;
        assert_eq!(parse_time("2024-01-01", now), Ok(JAN1));
        assert_eq!(parse_time("2024-01-01T00:00:00Z", now), Ok(JAN1));
        assert_eq!(parse_time("2024-01-01T01:00:00+01:00", now), Ok(JAN1));
        assert_eq!(parse_time("2024-01-01 00:01", now), Ok(JAN1 + 60_000));
        assert_eq!(parse_time("1704067200", now), Ok(JAN1));
        assert_eq!(parse_time("1704067200000", now), Ok(JAN1));
        assert_eq!(parse_time("now", now), Ok(now));
        assert_eq!(parse_time("-1d", now), Ok(JAN1));
        assert_eq!(parse_time("-24h", now), Ok(JAN1));
    }

    #[test]
    fn garbage_is_an_error_naming_the_input() {
        for bad in ["", "yesterday", "2024-13-01", "-5x", "-d", "12:00"] {
            let e = parse_time(bad, 0).unwrap_err();
            assert!(e.to_string().contains("ISO-8601"), "{bad}: {e}");
        }
    }

    #[test]
    fn format() {
        assert_eq!(format_ms(JAN1), "2024-01-01T00:00:00Z");
        assert_eq!(format_ms(JAN1 + 5), "2024-01-01T00:00:00.005Z");
    }

    #[test]
    fn relative_time_past_the_range_is_an_error() {
        // `now - d` overflowed here (a panic in debug builds, a wrapped time in release).
        assert!(parse_time("--9223372036854775s", JAN1).is_err());
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;

        /// 0001-01-01 .. 9999-12-31: the years an ISO-8601 time prints with four digits.
        const YEAR_1: i64 = -62_135_596_800_000;
        const YEAR_9999: i64 = 253_402_300_799_999;

        proptest! {
            #[test]
            fn any_text_is_a_time_or_an_error_naming_it(s in any::<String>(), now in -(1i64 << 52)..(1i64 << 52)) {
                if let Err(e) = parse_time(&s, now) {
                    prop_assert_eq!(e.0, s);
                }
            }

            #[test]
            fn relative_forms_never_overflow(n in any::<i64>(), unit in "[smhdwx]", sign in "-{1,2}", now in any::<i64>()) {
                let _ = parse_time(&format!("{sign}{n}{unit}"), now);
            }

            #[test]
            fn digits_never_overflow(s in "[0-9]{1,25}", now in any::<i64>()) {
                let _ = parse_time(&s, now);
            }

            #[test]
            fn printed_times_read_back(ms in YEAR_1..YEAR_9999) {
                prop_assert_eq!(parse_time(&format_ms(ms), 0), Ok(ms));
            }

            #[test]
            fn epoch_millis_read_back(ms in 100_000_000_000i64..9_999_999_999_999) {
                prop_assert_eq!(parse_time(&ms.to_string(), 0), Ok(ms));
            }

            #[test]
            fn any_instant_prints(ms in any::<i64>()) {
                prop_assert!(!format_ms(ms).is_empty());
            }
        }
    }
}
