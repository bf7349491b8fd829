//! Conformance of a served frame: sort, drop duplicates (keep the last), drop off-grid
//! and unclosed candles, check OHLC sanity, count gaps. The report holds flag counts and
//! warnings; a flagged frame is refused unless the caller accepts partial data.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::{Candle, RangeSet, Timeframe, Window, format_ms};

/// Flag counts and warnings of one frame.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ConformanceReport {
    /// Flag type → count. Types: `unsorted`, `duplicate`, `off_grid`, `unclosed`,
    /// `invalid_ohlc`, `gap` (grid slots without a candle that the ledger does not know
    /// to be empty).
    pub flags: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
}

impl ConformanceReport {
    /// True when any flag was raised.
    pub fn is_flagged(&self) -> bool {
        self.flags.values().any(|&n| n > 0)
    }

    fn flag(&mut self, kind: &str, n: u64, warning: impl FnOnce() -> String) {
        if n > 0 {
            *self.flags.entry(kind.to_string()).or_default() += n;
            self.warnings.push(warning());
        }
    }
}

/// Normalise `candles` for `window` of timeframe `tf` (closed before `closed_end`) and
/// report what was wrong. `known_empty` are ranges the exchange has no data for; slots
/// there are not gaps. Invalid-OHLC candles are kept (and flagged): dropping them would
/// hide the exchange's data.
pub fn check(
    tf: Timeframe,
    window: Window,
    closed_end: i64,
    known_empty: &RangeSet,
    mut candles: Vec<Candle>,
) -> (Vec<Candle>, ConformanceReport) {
    let mut r = ConformanceReport::default();
    let unsorted = candles
        .windows(2)
        .filter(|w| w[0].open_time > w[1].open_time)
        .count() as u64;
    if unsorted > 0 {
        candles.sort_by_key(|c| c.open_time); // stable: among equal times the last stays last
    }
    r.flag("unsorted", unsorted, || {
        format!("{unsorted} candles out of order; sorted")
    });
    let before = candles.len();
    // In place; among equal open times the last one stays.
    candles.dedup_by(|next, kept| {
        if next.open_time == kept.open_time {
            *kept = *next;
            true
        } else {
            false
        }
    });
    let mut dedup = candles;
    let dups = (before - dedup.len()) as u64;
    r.flag("duplicate", dups, || {
        format!("{dups} duplicate candles dropped (kept the last)")
    });
    let before = dedup.len();
    dedup.retain(|c| tf.is_aligned(c.open_time) && window.contains(c.open_time));
    let off = (before - dedup.len()) as u64;
    r.flag("off_grid", off, || {
        format!("{off} candles off the {tf} grid or outside the window dropped")
    });
    let before = dedup.len();
    dedup.retain(|c| c.open_time < closed_end);
    let unclosed = (before - dedup.len()) as u64;
    r.flag("unclosed", unclosed, || {
        format!("{unclosed} unclosed candles dropped")
    });
    let bad: Vec<i64> = dedup
        .iter()
        .filter(|c| !c.is_sane())
        .map(|c| c.open_time)
        .collect();
    let nbad = bad.len() as u64;
    r.flag("invalid_ohlc", nbad, || {
        format!("{nbad} candles fail OHLC sanity (finite, low ≤ open,close ≤ high, volume ≥ 0), first at {}", format_ms(bad[0]))
    });
    // Gaps: closed grid slots without a candle, outside the known-empty ranges.
    let end = closed_end.min(window.end);
    let mut gaps = 0u64;
    let mut first_gap = None;
    let mut expect = window.start;
    let mut count_gap = |from: i64, to: i64, gaps: &mut u64| {
        for (s, e) in known_empty.gaps_in(from, to).ranges() {
            let slots = tf.slots(tf.ceil(*s), tf.ceil(*e)) as u64;
            if slots > 0 && first_gap.is_none() {
                first_gap = Some(*s);
            }
            *gaps += slots;
        }
    };
    for c in &dedup {
        if c.open_time > expect {
            count_gap(expect, c.open_time, &mut gaps);
        }
        expect = tf.next(c.open_time);
    }
    if expect < end {
        count_gap(expect, end, &mut gaps);
    }
    r.flag("gap", gaps, || {
        format!(
            "{gaps} closed grid slots have no candle, first at {}",
            format_ms(first_gap.unwrap_or(window.start))
        )
    });
    (dedup, r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 60_000;

    fn c(t: i64, close: f64) -> Candle {
        Candle {
            open_time: t,
            open: close,
            high: close + 1.0,
            low: close - 1.0,
            close,
            volume: 1.0,
        }
    }

    #[test]
    fn clean_frame_has_no_flags() {
        let v: Vec<Candle> = (0..10).map(|i| c(i * M, 1.0)).collect();
        let (out, r) = check(
            Timeframe::M1,
            Window {
                start: 0,
                end: 10 * M,
            },
            10 * M,
            &RangeSet::new(),
            v.clone(),
        );
        assert_eq!(out, v);
        assert!(!r.is_flagged(), "{r:?}");
    }

    #[test]
    fn every_flag_is_counted() {
        let mut bad = c(5 * M, 1.0);
        bad.high = 0.0;
        let v = vec![
            c(2 * M, 1.0),
            c(M, 1.0),
            c(M, 2.0),
            c(3 * M + 7, 1.0),
            bad,
            c(9 * M, 1.0),
        ];
        let (out, r) = check(
            Timeframe::M1,
            Window {
                start: 0,
                end: 10 * M,
            },
            9 * M,
            &RangeSet::new(),
            v,
        );
        assert_eq!(
            out.iter().map(|c| c.open_time).collect::<Vec<_>>(),
            vec![M, 2 * M, 5 * M]
        );
        assert_eq!(out[0].close, 2.0, "the last duplicate wins");
        let f = |k: &str| r.flags.get(k).copied().unwrap_or(0);
        assert_eq!(f("unsorted"), 1);
        assert_eq!(f("duplicate"), 1);
        assert_eq!(f("off_grid"), 1);
        assert_eq!(f("unclosed"), 1);
        assert_eq!(f("invalid_ohlc"), 1);
        // Slots 0, 3, 4, 6, 7, 8 are empty and closed (9 is not closed).
        assert_eq!(f("gap"), 6);
        assert!(r.is_flagged());
        assert_eq!(r.warnings.len(), 6);
    }

    #[test]
    fn known_empty_ranges_are_not_gaps() {
        let v = vec![c(3 * M, 1.0), c(4 * M, 1.0)];
        let empty = RangeSet::from_ranges([(0, 3 * M), (5 * M, 10 * M)]);
        let (_, r) = check(
            Timeframe::M1,
            Window {
                start: 0,
                end: 10 * M,
            },
            10 * M,
            &empty,
            v,
        );
        assert!(!r.is_flagged(), "{r:?}");
    }
}
