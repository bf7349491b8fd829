//! Conformance of a served frame: sort, drop duplicates (keep the last), drop off-grid
//! and unclosed candles, check OHLC sanity, count gaps. The report holds flag counts and
//! warnings; a flagged frame is refused unless the caller accepts partial data.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::{Candle, RangeSet, Timeframe, Window, dedup_keep_last, format_ms};

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
    candles: Vec<Candle>,
) -> (Vec<Candle>, ConformanceReport) {
    let mut r = ConformanceReport::default();
    let end = closed_end.min(window.end);
    let mut scan = Scan::of(tf, window, end, &candles);
    let dedup = if scan.clean {
        candles
    } else {
        let fixed = normalise(tf, window, closed_end, candles, &mut r);
        scan = Scan::of(tf, window, end, &fixed);
        fixed
    };
    let Scan { nbad, runs, .. } = scan;
    r.flag("invalid_ohlc", nbad, || {
        let first = dedup.iter().find(|c| !c.is_sane()).map_or(0, |c| c.open_time);
        format!("{nbad} candles fail OHLC sanity (finite, low ≤ open,close ≤ high, volume ≥ 0), first at {}", format_ms(first))
    });
    // Gaps: closed grid slots without a candle, outside the known-empty ranges: the closed
    // window minus the candles' runs minus the known-empty ranges.
    let held = RangeSet::from_ranges(runs);
    let holes = held
        .gaps_in(window.start, end.max(window.start))
        .subtract(known_empty);
    let mut gaps = 0u64;
    let mut first_gap = None;
    for (s, e) in holes.ranges() {
        let slots = tf.slots(tf.ceil(*s), tf.ceil(*e)) as u64;
        if slots > 0 && first_gap.is_none() {
            first_gap = Some(*s);
        }
        gaps += slots;
    }
    r.flag("gap", gaps, || {
        format!(
            "{gaps} closed grid slots have no candle, first at {}",
            format_ms(first_gap.unwrap_or(window.start))
        )
    });
    (dedup, r)
}

/// Sort, drop duplicates (the last kept), candles off the grid or outside the window, and
/// unclosed ones, flagging each kind in `r`.
fn normalise(
    tf: Timeframe,
    window: Window,
    closed_end: i64,
    mut candles: Vec<Candle>,
    r: &mut ConformanceReport,
) -> Vec<Candle> {
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
    dedup_keep_last(&mut candles);
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
    dedup
}

/// One pass over the candles (a frame is megabytes: every pass costs memory bandwidth).
struct Scan {
    /// Strictly ascending, on the grid, inside the window and closed: nothing to normalise.
    clean: bool,
    /// Candles failing OHLC sanity.
    nbad: u64,
    /// Runs of candles in consecutive grid slots, as `[first open, end of last)`.
    runs: Vec<(i64, i64)>,
}

impl Scan {
    /// Scan `candles` of `tf` for `window`, closed before `end`.
    fn of(tf: Timeframe, window: Window, end: i64, candles: &[Candle]) -> Scan {
        let step = tf.fixed_ms();
        let mut clean = true;
        let mut nbad = 0u64;
        let mut runs = Vec::new();
        // The run in progress, and the previous candle's open time.
        let mut run: Option<(i64, i64)> = None;
        let mut prev = i64::MIN;
        for c in candles {
            nbad += u64::from(!c.is_sane());
            let t = c.open_time;
            // The slot right after the previous candle is on the grid and later: only a
            // discontinuity needs checking.
            if run.is_none_or(|(_, e)| e != t) {
                clean &= t > prev && tf.is_aligned(t);
                if let Some(r) = run {
                    runs.push(r);
                }
                run = Some((t, t));
            }
            let next = match step {
                Some(step) => t.saturating_add(step),
                None => tf.next(t),
            };
            if let Some(r) = &mut run {
                r.1 = next;
            }
            prev = t;
        }
        runs.extend(run);
        if let (Some(first), Some(last)) = (candles.first(), candles.last()) {
            clean &= first.open_time >= window.start && last.open_time < end;
        }
        Scan { clean, nbad, runs }
    }
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

    proptest::proptest! {
        /// The fast path is sound: whatever `Scan` calls clean, normalising leaves as it is
        /// and flags nothing.
        #[test]
        fn clean_input_is_what_normalising_would_leave(
            times in proptest::collection::vec(0i64..40, 0..30),
            sorted in proptest::bool::ANY,
            odd in 0i64..3,
            closed in 0i64..45,
        ) {
            let mut times: Vec<i64> = times.into_iter().map(|t| t * M + if t % 7 == 0 { odd } else { 0 }).collect();
            if sorted {
                times.sort();
                times.dedup();
            }
            let candles: Vec<Candle> = times.iter().map(|&t| c(t, 1.0)).collect();
            let window = Window { start: 2 * M, end: 38 * M };
            let closed_end = closed * M;
            if Scan::of(Timeframe::M1, window, closed_end.min(window.end), &candles).clean {
                let mut r = ConformanceReport::default();
                let out = normalise(Timeframe::M1, window, closed_end, candles.clone(), &mut r);
                proptest::prop_assert_eq!(out, candles);
                proptest::prop_assert!(!r.is_flagged());
            }
        }
    }
}
