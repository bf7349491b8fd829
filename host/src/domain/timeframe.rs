//! Timeframes and their grid: which open times are valid, how to floor/ceil a time onto
//! the grid, and how to step from one candle to the next.
//!
//! Fixed timeframes are aligned to the Unix epoch, except `1w`, whose candles open on
//! Monday 00:00 UTC (the epoch was a Thursday), and `1M`, which opens on the first day
//! of each calendar month (UTC).

use std::fmt;
use std::str::FromStr;

use chrono::{Datelike, TimeZone, Utc};
use thiserror::Error;

const SEC: i64 = 1_000;
const MIN: i64 = 60 * SEC;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;
const WEEK: i64 = 7 * DAY;
/// Monday 1970-01-05 00:00 UTC: offset of the weekly grid from the epoch.
const WEEK_OFFSET: i64 = 4 * DAY;

/// A candle timeframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timeframe {
    S1,
    M1,
    M3,
    M5,
    M15,
    M30,
    H1,
    H2,
    H4,
    H6,
    H8,
    H12,
    D1,
    D3,
    W1,
    /// Calendar month.
    Mo1,
}

/// A timeframe string that is not one of the supported names.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("unknown timeframe '{given}': use one of {}", Timeframe::names().join(", "))]
pub struct TimeframeError {
    pub given: String,
}

impl Timeframe {
    /// Every timeframe, shortest first.
    pub const ALL: [Timeframe; 16] = [
        Timeframe::S1,
        Timeframe::M1,
        Timeframe::M3,
        Timeframe::M5,
        Timeframe::M15,
        Timeframe::M30,
        Timeframe::H1,
        Timeframe::H2,
        Timeframe::H4,
        Timeframe::H6,
        Timeframe::H8,
        Timeframe::H12,
        Timeframe::D1,
        Timeframe::D3,
        Timeframe::W1,
        Timeframe::Mo1,
    ];

    /// The unified names, in order.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|t| t.as_str()).collect()
    }

    /// The unified name (`1m`, `1h`, `1M`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Timeframe::S1 => "1s",
            Timeframe::M1 => "1m",
            Timeframe::M3 => "3m",
            Timeframe::M5 => "5m",
            Timeframe::M15 => "15m",
            Timeframe::M30 => "30m",
            Timeframe::H1 => "1h",
            Timeframe::H2 => "2h",
            Timeframe::H4 => "4h",
            Timeframe::H6 => "6h",
            Timeframe::H8 => "8h",
            Timeframe::H12 => "12h",
            Timeframe::D1 => "1d",
            Timeframe::D3 => "3d",
            Timeframe::W1 => "1w",
            Timeframe::Mo1 => "1M",
        }
    }

    /// Fixed length in ms, or `None` for the calendar month.
    pub fn fixed_ms(self) -> Option<i64> {
        Some(match self {
            Timeframe::S1 => SEC,
            Timeframe::M1 => MIN,
            Timeframe::M3 => 3 * MIN,
            Timeframe::M5 => 5 * MIN,
            Timeframe::M15 => 15 * MIN,
            Timeframe::M30 => 30 * MIN,
            Timeframe::H1 => HOUR,
            Timeframe::H2 => 2 * HOUR,
            Timeframe::H4 => 4 * HOUR,
            Timeframe::H6 => 6 * HOUR,
            Timeframe::H8 => 8 * HOUR,
            Timeframe::H12 => 12 * HOUR,
            Timeframe::D1 => DAY,
            Timeframe::D3 => 3 * DAY,
            Timeframe::W1 => WEEK,
            Timeframe::Mo1 => return None,
        })
    }

    /// Nominal length in ms (31 days for the month); for estimates only.
    pub fn nominal_ms(self) -> i64 {
        self.fixed_ms().unwrap_or(31 * DAY)
    }

    fn offset(self) -> i64 {
        if self == Timeframe::W1 {
            WEEK_OFFSET
        } else {
            0
        }
    }

    /// The open time of the candle containing `t`.
    pub fn floor(self, t: i64) -> i64 {
        match self.fixed_ms() {
            Some(step) => {
                // Saturating: an untrusted time near the ends of i64 must not overflow (the
                // result is then simply not on the grid, which callers refuse).
                let off = self.offset();
                t.saturating_sub(t.saturating_sub(off).rem_euclid(step))
            }
            None => {
                let dt = Utc.timestamp_millis_opt(t).single().unwrap_or_default();
                Utc.with_ymd_and_hms(dt.year(), dt.month(), 1, 0, 0, 0)
                    .single()
                    .map(|d| d.timestamp_millis())
                    .unwrap_or(t)
            }
        }
    }

    /// The smallest grid point `>= t`.
    pub fn ceil(self, t: i64) -> i64 {
        let f = self.floor(t);
        if f == t { t } else { self.next(f) }
    }

    /// True when `t` is a valid open time.
    pub fn is_aligned(self, t: i64) -> bool {
        self.floor(t) == t
    }

    /// The open time after the candle opening at `open` (which must be aligned).
    pub fn next(self, open: i64) -> i64 {
        match self.fixed_ms() {
            Some(step) => open.saturating_add(step),
            None => {
                let dt = Utc.timestamp_millis_opt(open).single().unwrap_or_default();
                let (y, m) = if dt.month() == 12 {
                    (dt.year() + 1, 1)
                } else {
                    (dt.year(), dt.month() + 1)
                };
                Utc.with_ymd_and_hms(y, m, 1, 0, 0, 0)
                    .single()
                    .map(|d| d.timestamp_millis())
                    .unwrap_or(open.saturating_add(31 * DAY))
            }
        }
    }

    /// The open time `n` slots before `open` (which must be aligned).
    pub fn back(self, open: i64, n: u64) -> i64 {
        match self.fixed_ms() {
            Some(step) => open.saturating_sub(step.saturating_mul(n as i64)),
            None => (0..n).fold(open, |t, _| self.floor(t.saturating_sub(1))),
        }
    }

    /// Number of grid slots in `[start, end)` (both aligned).
    pub fn slots(self, start: i64, end: i64) -> i64 {
        if end <= start {
            return 0;
        }
        match self.fixed_ms() {
            Some(step) => end.saturating_sub(start) / step,
            None => {
                let mut n = 0;
                let mut t = start;
                while t < end {
                    t = self.next(t);
                    n += 1;
                }
                n
            }
        }
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Timeframe {
    type Err = TimeframeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .iter()
            .copied()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| TimeframeError {
                given: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn grid_arithmetic_never_overflows_at_the_ends_of_i64() {
        for tf in ["1s", "1m", "1h", "1d", "1w"] {
            let tf: super::Timeframe = tf.parse().unwrap();
            for t in [i64::MIN, i64::MIN + 1, i64::MAX - 1, i64::MAX] {
                let f = tf.floor(t);
                assert!(f <= t, "{tf} floor({t}) = {f}");
                let _ = tf.ceil(t);
                let _ = tf.is_aligned(t);
                let _ = tf.next(f);
                let _ = tf.back(f, 3);
            }
            assert!(tf.slots(i64::MIN, i64::MAX) > 0);
        }
    }

    use super::*;

    #[test]
    fn parse_roundtrip() {
        for tf in Timeframe::ALL {
            assert_eq!(tf.as_str().parse::<Timeframe>().unwrap(), tf);
        }
        let err = "2m".parse::<Timeframe>().unwrap_err();
        assert!(err.to_string().contains("'2m'") && err.to_string().contains("1m, 3m"));
    }

    #[test]
    fn weekly_grid_is_monday() {
        // 2024-01-01 was a Monday.
        let monday = 1_704_067_200_000;
        assert!(Timeframe::W1.is_aligned(monday));
        assert_eq!(Timeframe::W1.floor(monday + 3 * DAY), monday);
        assert_eq!(Timeframe::W1.next(monday), monday + WEEK);
    }

    #[test]
    fn back_steps_whole_slots() {
        let m1: Timeframe = "1m".parse().unwrap();
        assert_eq!(m1.back(600_000, 3), 420_000);
        assert_eq!(m1.back(600_000, 0), 600_000);
        let mo: Timeframe = "1M".parse().unwrap();
        // 2024-03-01 back 2 months = 2024-01-01.
        assert_eq!(mo.back(1_709_251_200_000, 2), 1_704_067_200_000);
    }

    #[test]
    fn monthly_grid() {
        let jan = 1_704_067_200_000; // 2024-01-01
        let feb = 1_706_745_600_000; // 2024-02-01
        let mar = 1_709_251_200_000; // 2024-03-01 (leap year)
        assert_eq!(Timeframe::Mo1.floor(jan + 5 * DAY), jan);
        assert_eq!(Timeframe::Mo1.next(jan), feb);
        assert_eq!(Timeframe::Mo1.next(feb), mar);
        assert_eq!(Timeframe::Mo1.ceil(jan + 1), feb);
        assert_eq!(Timeframe::Mo1.slots(jan, mar), 2);
    }

    #[test]
    fn floor_ceil_negative_and_exact() {
        let m = Timeframe::M1;
        assert_eq!(m.floor(-1), -MIN);
        assert_eq!(m.ceil(1), MIN);
        assert_eq!(m.ceil(MIN), MIN);
        assert_eq!(m.slots(0, 10 * MIN), 10);
    }

    mod props {
        use proptest::prelude::*;

        use super::super::*;

        /// About ±285 000 years around the epoch for fixed timeframes; the calendar month
        /// within chrono's years.
        fn instant(tf: Timeframe) -> std::ops::Range<i64> {
            match tf {
                Timeframe::Mo1 => -8_000_000_000_000_000..8_000_000_000_000_000,
                _ => -(1i64 << 53)..(1i64 << 53),
            }
        }

        fn tf_and_instant() -> impl Strategy<Value = (Timeframe, i64)> {
            proptest::sample::select(Timeframe::ALL.to_vec())
                .prop_flat_map(|tf| (Just(tf), instant(tf)))
        }

        proptest! {
            #[test]
            fn any_text_is_a_timeframe_or_an_error_naming_it(s in any::<String>()) {
                match s.parse::<Timeframe>() {
                    Ok(tf) => prop_assert_eq!(tf.as_str(), s),
                    Err(e) => prop_assert_eq!(e.given, s),
                }
            }

            #[test]
            fn floor_next_and_ceil_bracket_the_instant((tf, t) in tf_and_instant()) {
                let f = tf.floor(t);
                prop_assert!(f <= t, "{tf}: floor({t}) = {f}");
                prop_assert!(tf.is_aligned(f));
                let n = tf.next(f);
                prop_assert!(t < n, "{tf}: next(floor({t})) = {n}");
                prop_assert!(tf.is_aligned(n));
                let c = tf.ceil(t);
                prop_assert!(c >= t && (c == f || c == n));
                prop_assert_eq!(tf.back(n, 1), f);
                prop_assert_eq!(tf.slots(f, n), 1);
            }
        }
    }
}
