//! The unified timeframe table and its time grid.
//!
//! Fixed timeframes (`1s` … `1w`) are multiples of a constant duration. Their grid
//! is the epoch grid, except `1w`, whose candles open on Monday 00:00 UTC
//! (`open % 604_800_000 == 345_600_000`; the epoch was a Thursday). `3d` uses the
//! plain epoch grid. `1M` is the calendar month: candles open on the first day of
//! each month at 00:00 UTC.

use core::fmt;
use core::str::FromStr;

use crate::civil;

/// Milliseconds in one week.
pub const WEEK_MS: i64 = 604_800_000;
/// Offset of the Monday week grid from the epoch (4 days).
pub const WEEK_OFFSET_MS: i64 = 345_600_000;
/// The earliest open time a candle may have: 0001-01-01T00:00:00Z (the host's contract
/// range; no exchange has data before it).
pub const MIN_OPEN_MS: i64 = -62_135_596_800_000;
/// The latest open time a candle may have: 9999-12-01T00:00:00Z, the last month's open.
pub const MAX_OPEN_MS: i64 = 253_399_622_400_000;

/// A unified timeframe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
    /// Calendar month (`1M`).
    Month,
}

/// Every unified timeframe, shortest first.
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
    Timeframe::Month,
];

impl Timeframe {
    /// Parse a unified name (`1s 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M`).
    /// Case matters: `1m` is a minute, `1M` a month.
    pub fn parse(name: &str) -> Option<Self> {
        ALL.into_iter().find(|tf| tf.as_str() == name)
    }

    /// The unified name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::S1 => "1s",
            Self::M1 => "1m",
            Self::M3 => "3m",
            Self::M5 => "5m",
            Self::M15 => "15m",
            Self::M30 => "30m",
            Self::H1 => "1h",
            Self::H2 => "2h",
            Self::H4 => "4h",
            Self::H6 => "6h",
            Self::H8 => "8h",
            Self::H12 => "12h",
            Self::D1 => "1d",
            Self::D3 => "3d",
            Self::W1 => "1w",
            Self::Month => "1M",
        }
    }

    /// Duration in ms; `None` for `1M`, whose length depends on the month.
    pub const fn duration_ms(self) -> Option<i64> {
        const S: i64 = 1_000;
        const M: i64 = 60 * S;
        const H: i64 = 60 * M;
        const D: i64 = 24 * H;
        Some(match self {
            Self::S1 => S,
            Self::M1 => M,
            Self::M3 => 3 * M,
            Self::M5 => 5 * M,
            Self::M15 => 15 * M,
            Self::M30 => 30 * M,
            Self::H1 => H,
            Self::H2 => 2 * H,
            Self::H4 => 4 * H,
            Self::H6 => 6 * H,
            Self::H8 => 8 * H,
            Self::H12 => 12 * H,
            Self::D1 => D,
            Self::D3 => 3 * D,
            Self::W1 => 7 * D,
            Self::Month => return None,
        })
    }

    /// Open time of the candle containing `t_ms` (`None` on overflow).
    pub fn floor(self, t_ms: i64) -> Option<i64> {
        match self.duration_ms() {
            Some(d) => {
                let offset = if self == Self::W1 { WEEK_OFFSET_MS } else { 0 };
                let r = (t_ms.rem_euclid(d) - offset).rem_euclid(d);
                t_ms.checked_sub(r)
            }
            None => civil::month_floor(t_ms),
        }
    }

    /// Open time of the candle after the one opening at `open_ms`: `open_ms +
    /// duration` for fixed timeframes, the next month's first day for `1M`.
    /// `None` on overflow.
    pub fn next_open(self, open_ms: i64) -> Option<i64> {
        match self.duration_ms() {
            Some(d) => open_ms.checked_add(d),
            None => civil::next_month_start(open_ms),
        }
    }

    /// Whether `t_ms` lies on this timeframe's grid.
    pub fn is_aligned(self, t_ms: i64) -> bool {
        self.floor(t_ms) == Some(t_ms)
    }

    /// Whether `t_ms` is a possible open time: inside [`MIN_OPEN_MS`]`..=`[`MAX_OPEN_MS`]
    /// (years 1 to 9999) and on this timeframe's grid.
    pub fn is_open_time(self, t_ms: i64) -> bool {
        (MIN_OPEN_MS..=MAX_OPEN_MS).contains(&t_ms) && self.is_aligned(t_ms)
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error of [`Timeframe::from_str`]: the name is not a unified timeframe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownTimeframe;

impl FromStr for Timeframe {
    type Err = UnknownTimeframe;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s).ok_or(UnknownTimeframe)
    }
}

/// Open time of the candle of `tf` containing `t_ms`.
pub fn floor(tf: Timeframe, t_ms: i64) -> Option<i64> {
    tf.floor(t_ms)
}

/// Open time of the candle of `tf` after the one opening at `open_ms`.
pub fn next_open(tf: Timeframe, open_ms: i64) -> Option<i64> {
    tf.next_open(open_ms)
}

/// Unified names of `tfs`, as owned strings (for `unsupported-timeframe`).
pub fn names(tfs: &[Timeframe]) -> Vec<String> {
    tfs.iter().map(|tf| tf.as_str().to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JAN_1_2024: i64 = 1_704_067_200_000; // a Monday

    #[test]
    fn names_round_trip() {
        for tf in ALL {
            assert_eq!(Timeframe::parse(tf.as_str()), Some(tf));
            assert_eq!(tf.to_string().parse::<Timeframe>(), Ok(tf));
        }
        assert_eq!(Timeframe::parse("1H"), None);
        assert_eq!(Timeframe::parse(""), None);
        assert_eq!(names(&ALL).len(), 16);
    }

    #[test]
    fn fixed_grid() {
        let tf = Timeframe::M5;
        assert_eq!(tf.floor(JAN_1_2024 + 299_999), Some(JAN_1_2024));
        assert_eq!(tf.floor(JAN_1_2024 + 300_000), Some(JAN_1_2024 + 300_000));
        assert_eq!(tf.floor(-1), Some(-300_000));
        assert_eq!(tf.next_open(JAN_1_2024), Some(JAN_1_2024 + 300_000));
        assert!(tf.is_aligned(JAN_1_2024));
        assert!(!tf.is_aligned(JAN_1_2024 + 1));
        assert_eq!(Timeframe::M1.next_open(i64::MAX), None);
        assert_eq!(Timeframe::M1.floor(i64::MIN), None);
    }

    #[test]
    fn week_grid_is_monday() {
        let w = Timeframe::W1;
        assert_eq!(JAN_1_2024 % WEEK_MS, WEEK_OFFSET_MS);
        assert_eq!(w.floor(JAN_1_2024 + 3 * 86_400_000), Some(JAN_1_2024));
        assert_eq!(w.floor(JAN_1_2024 - 1), Some(JAN_1_2024 - WEEK_MS));
        assert_eq!(w.next_open(JAN_1_2024), Some(JAN_1_2024 + WEEK_MS));
        assert!(w.is_aligned(WEEK_OFFSET_MS));
        assert!(!w.is_aligned(0)); // 1970-01-01 was a Thursday
        assert_eq!(w.floor(0), Some(WEEK_OFFSET_MS - WEEK_MS));
    }

    #[test]
    fn month_grid_is_calendar() {
        let m = Timeframe::Month;
        let feb_1 = 1_706_745_600_000;
        let mar_1 = 1_709_251_200_000; // 2024 is a leap year: Feb has 29 days
        assert_eq!(m.next_open(JAN_1_2024), Some(feb_1));
        assert_eq!(m.next_open(feb_1), Some(mar_1));
        assert_eq!(m.floor(mar_1 - 1), Some(feb_1));
        assert!(m.is_aligned(mar_1));
        assert!(!m.is_aligned(mar_1 + 86_400_000));
        // December → January of the next year.
        assert_eq!(m.next_open(1_733_011_200_000), Some(1_735_689_600_000));
        assert_eq!(m.duration_ms(), None);
    }

    #[test]
    fn open_time_range_is_years_1_to_9999() {
        assert_eq!(civil::days_from_civil(1, 1, 1) * 86_400_000, MIN_OPEN_MS);
        assert_eq!(
            civil::days_from_civil(9999, 12, 1) * 86_400_000,
            MAX_OPEN_MS
        );
        for tf in ALL {
            assert!(!tf.is_open_time(i64::MIN), "{tf}");
            assert!(!tf.is_open_time(i64::MAX), "{tf}");
            let open = tf.floor(JAN_1_2024).unwrap();
            assert!(tf.is_open_time(open), "{tf}");
            assert!(!tf.is_open_time(open + 1), "{tf}");
        }
        assert!(Timeframe::D1.is_open_time(MIN_OPEN_MS));
        assert!(!Timeframe::D1.is_open_time(MIN_OPEN_MS - 86_400_000));
        assert!(Timeframe::Month.is_open_time(MAX_OPEN_MS));
        assert!(!Timeframe::D1.is_open_time(MAX_OPEN_MS + 86_400_000));
    }
}
