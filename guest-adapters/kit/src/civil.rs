//! Proleptic Gregorian calendar arithmetic on day numbers (days since 1970-01-01).
//!
//! Howard Hinnant's `days_from_civil` / `civil_from_days` algorithms, exact for
//! every date whose day number fits the ranges used by millisecond timestamps.

/// Milliseconds in one day.
pub const DAY_MS: i64 = 86_400_000;

/// Day number (days since 1970-01-01) of `year-month-day`; `month` is 1..=12,
/// `day` 1..=31 (not range-checked beyond that).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (month, day) = (i64::from(month), i64::from(day));
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400; // [0, 399]
    let mp = (month + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + day - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// `(year, month, day)` of a day number (days since 1970-01-01).
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    // Both values are small and non-negative by construction.
    (year, month as u32, day as u32)
}

/// Start (ms) of the UTC calendar month containing `t_ms`, or `None` on overflow.
pub fn month_floor(t_ms: i64) -> Option<i64> {
    let (y, m, _) = civil_from_days(t_ms.div_euclid(DAY_MS));
    days_from_civil(y, m, 1).checked_mul(DAY_MS)
}

/// Start (ms) of the UTC calendar month after the one containing `t_ms`.
pub fn next_month_start(t_ms: i64) -> Option<i64> {
    let (y, m, _) = civil_from_days(t_ms.div_euclid(DAY_MS));
    let (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    days_from_civil(y, m, 1).checked_mul(DAY_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        // 2024-01-01 = 1704067200000 ms.
        assert_eq!(days_from_civil(2024, 1, 1) * DAY_MS, 1_704_067_200_000);
        // Leap day and the day after.
        let leap = days_from_civil(2024, 2, 29);
        assert_eq!(civil_from_days(leap), (2024, 2, 29));
        assert_eq!(civil_from_days(leap + 1), (2024, 3, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }

    #[test]
    fn round_trips_over_centuries() {
        for d in (-800_000..800_000).step_by(997) {
            let (y, m, dd) = civil_from_days(d);
            assert_eq!(days_from_civil(y, m, dd), d);
        }
    }

    #[test]
    fn months() {
        let mid_feb = 1_708_000_000_000; // 2024-02-15
        assert_eq!(month_floor(mid_feb), Some(1_706_745_600_000)); // 2024-02-01
        assert_eq!(next_month_start(mid_feb), Some(1_709_251_200_000)); // 2024-03-01
        assert_eq!(next_month_start(1_733_011_200_000), Some(1_735_689_600_000)); // Dec → Jan
        assert_eq!(month_floor(-1), Some(-2_678_400_000)); // 1969-12-01
        assert!(month_floor(i64::MAX).is_some());
        assert!(next_month_start(i64::MAX).is_none());
        assert!(month_floor(i64::MIN).is_none());
    }
}
