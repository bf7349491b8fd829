//! Timeframes and their UTC time grids.
//!
//! The simulator knows the union of the timeframes the supported exchanges serve (Binance's set:
//! `1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M`). Exchange modules map their own spellings
//! onto [`Timeframe`]; the grid rules live here so that every exchange aggregates identically:
//!
//! - fixed timeframes (`1s` … `3d`) open at multiples of their length since the epoch
//!   (`open_time % tf == 0`; `3d` too, as Binance does);
//! - `1w` opens on Mondays 00:00 UTC (`open_time % 604_800_000 == 345_600_000`);
//! - `1M` opens on the first day of each calendar month, 00:00 UTC.
//!
//! All arithmetic is on `i64` milliseconds and uses euclidean division, so times before the epoch
//! behave (the simulator clamps request times to a sane range before they get here anyway).

/// One second in ms.
pub const SECOND_MS: i64 = 1_000;
/// One minute in ms.
pub const MINUTE_MS: i64 = 60_000;
/// One hour in ms.
pub const HOUR_MS: i64 = 3_600_000;
/// One day in ms.
pub const DAY_MS: i64 = 86_400_000;
/// One week in ms.
pub const WEEK_MS: i64 = 604_800_000;
/// Offset of Monday 00:00 UTC within the epoch-aligned week (1970-01-01 was a Thursday).
pub const WEEK_OFFSET_MS: i64 = 345_600_000;

/// A candle timeframe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
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

    /// The canonical spelling (`1s`, `1m`, …, `1w`, `1M`), shared by seamless and Binance.
    pub fn name(self) -> &'static str {
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

    /// Parses the canonical spelling (case-sensitive: `1m` is a minute, `1M` a month).
    pub fn parse(s: &str) -> Option<Timeframe> {
        Timeframe::ALL.into_iter().find(|tf| tf.name() == s)
    }

    /// Length in ms for fixed timeframes; `None` for the calendar month.
    pub fn fixed_ms(self) -> Option<i64> {
        Some(match self {
            Timeframe::S1 => SECOND_MS,
            Timeframe::M1 => MINUTE_MS,
            Timeframe::M3 => 3 * MINUTE_MS,
            Timeframe::M5 => 5 * MINUTE_MS,
            Timeframe::M15 => 15 * MINUTE_MS,
            Timeframe::M30 => 30 * MINUTE_MS,
            Timeframe::H1 => HOUR_MS,
            Timeframe::H2 => 2 * HOUR_MS,
            Timeframe::H4 => 4 * HOUR_MS,
            Timeframe::H6 => 6 * HOUR_MS,
            Timeframe::H8 => 8 * HOUR_MS,
            Timeframe::H12 => 12 * HOUR_MS,
            Timeframe::D1 => DAY_MS,
            Timeframe::D3 => 3 * DAY_MS,
            Timeframe::W1 => WEEK_MS,
            Timeframe::Mo1 => return None,
        })
    }

    /// Open time of the candle that contains `t`.
    pub fn floor(self, t: i64) -> i64 {
        match self {
            Timeframe::W1 => (t - WEEK_OFFSET_MS).div_euclid(WEEK_MS) * WEEK_MS + WEEK_OFFSET_MS,
            Timeframe::Mo1 => {
                let (y, m, _) = civil_from_days(t.div_euclid(DAY_MS));
                days_from_civil(y, m, 1) * DAY_MS
            }
            fixed => {
                let ms = fixed.fixed_ms().unwrap_or(MINUTE_MS);
                t.div_euclid(ms) * ms
            }
        }
    }

    /// Open time of the candle after the one opening at `open` (= that candle's close time + 1).
    pub fn next(self, open: i64) -> i64 {
        match self {
            Timeframe::Mo1 => {
                let (y, m, _) = civil_from_days(open.div_euclid(DAY_MS));
                let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                days_from_civil(y, m, 1) * DAY_MS
            }
            fixed => open + fixed.fixed_ms().unwrap_or(MINUTE_MS),
        }
    }

    /// The first grid point (candle open) at or after `t`.
    pub fn ceil(self, t: i64) -> i64 {
        let f = self.floor(t);
        if f == t { f } else { self.next(f) }
    }
}

impl std::fmt::Display for Timeframe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Proleptic Gregorian `(year, month, day)` of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for tf in Timeframe::ALL {
            assert_eq!(Timeframe::parse(tf.name()), Some(tf));
        }
        assert_eq!(Timeframe::parse("1H"), None);
        assert_eq!(Timeframe::parse(""), None);
        assert_ne!(Timeframe::parse("1m"), Timeframe::parse("1M"));
    }

    #[test]
    fn civil_conversions() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2017-08-17 = 17395 days.
        assert_eq!(days_from_civil(2017, 8, 17), 17_395);
        for z in (-800_000..800_000).step_by(997) {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn week_grid_is_monday() {
        // 2024-01-01 was a Monday.
        let monday = days_from_civil(2024, 1, 1) * DAY_MS;
        assert_eq!(monday % WEEK_MS, WEEK_OFFSET_MS);
        assert_eq!(Timeframe::W1.floor(monday + 3 * DAY_MS), monday);
        assert_eq!(Timeframe::W1.floor(monday - 1), monday - WEEK_MS);
        assert_eq!(Timeframe::W1.ceil(monday + 1), monday + WEEK_MS);
    }

    #[test]
    fn month_grid() {
        let feb = days_from_civil(2024, 2, 1) * DAY_MS;
        let mar = days_from_civil(2024, 3, 1) * DAY_MS;
        assert_eq!(Timeframe::Mo1.floor(feb + 28 * DAY_MS + 5), feb);
        assert_eq!(Timeframe::Mo1.next(feb), mar); // leap February: 29 days
        assert_eq!(mar - feb, 29 * DAY_MS);
        let dec = days_from_civil(2023, 12, 1) * DAY_MS;
        assert_eq!(
            Timeframe::Mo1.next(dec),
            days_from_civil(2024, 1, 1) * DAY_MS
        );
        assert_eq!(Timeframe::Mo1.ceil(feb), feb);
        assert_eq!(Timeframe::Mo1.ceil(feb + 1), mar);
    }

    #[test]
    fn fixed_grids_are_epoch_aligned() {
        let t = 1_700_000_123_456;
        for tf in Timeframe::ALL {
            let f = tf.floor(t);
            assert!(f <= t && t < tf.next(f), "{tf}");
            if let Some(ms) = tf.fixed_ms()
                && tf != Timeframe::W1
            {
                assert_eq!(f % ms, 0, "{tf}");
            }
            assert_eq!(tf.ceil(f), f);
            assert_eq!(tf.ceil(f + 1), tf.next(f));
        }
    }
}
