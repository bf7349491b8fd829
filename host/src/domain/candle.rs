//! The OHLCV candle as the host stores and serves it.

use serde::{Deserialize, Serialize};

/// One OHLCV candle. `open_time` is ms since the epoch (UTC) on the timeframe grid;
/// `volume` is in base units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Candle {
    pub open_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl Candle {
    /// True when every price and the volume are finite, `low <= open, close <= high`
    /// and `volume >= 0`.
    pub fn is_sane(&self) -> bool {
        // Without branches (checked for every candle served); with no NaN left,
        // `low <= min(open, close)` is two comparisons.
        let (o, h, l, c, v) = (self.open, self.high, self.low, self.close, self.volume);
        let finite = o.is_finite() & h.is_finite() & l.is_finite() & c.is_finite() & v.is_finite();
        finite & (l <= o) & (l <= c) & (h >= o) & (h >= c) & (l <= h) & (v >= 0.0)
    }
}

/// Drop all but the last of each run of candles with equal open times, in place (on
/// sorted candles: one candle per time, the last written winning, as `INSERT OR REPLACE`).
pub fn dedup_keep_last(candles: &mut Vec<Candle>) {
    candles.dedup_by(|next, kept| {
        if next.open_time == kept.open_time {
            *kept = *next;
            true
        } else {
            false
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(o: f64, h: f64, l: f64, cl: f64, v: f64) -> Candle {
        Candle {
            open_time: 0,
            open: o,
            high: h,
            low: l,
            close: cl,
            volume: v,
        }
    }

    #[test]
    fn sanity() {
        assert!(c(10.0, 12.0, 9.0, 11.0, 1.0).is_sane());
        assert!(!c(10.0, 9.5, 9.0, 11.0, 1.0).is_sane(), "high below close");
        assert!(!c(10.0, 12.0, 10.5, 11.0, 1.0).is_sane(), "low above open");
        assert!(!c(10.0, 12.0, 9.0, f64::NAN, 1.0).is_sane());
        assert!(!c(10.0, 12.0, 9.0, 11.0, -1.0).is_sane());
    }

    proptest::proptest! {
        /// The branch-free test is the definition, for any values (infinities and NaN too).
        #[test]
        fn is_sane_is_the_plain_definition(
            v in proptest::collection::vec(
                proptest::prop_oneof![
                    -3.0f64..3.0,
                    proptest::sample::select(vec![f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0, -0.0, 1.0])
                ],
                5,
            )
        ) {
            let k = c(v[0], v[1], v[2], v[3], v[4]);
            let plain = v.iter().all(|x| x.is_finite())
                && k.low <= k.open.min(k.close)
                && k.high >= k.open.max(k.close)
                && k.low <= k.high
                && k.volume >= 0.0;
            proptest::prop_assert_eq!(k.is_sane(), plain);
        }
    }

    #[test]
    fn dedup_keeps_the_last_of_equal_times() {
        let mut v = vec![c(1.0, 1.0, 1.0, 1.0, 0.0), c(2.0, 2.0, 2.0, 2.0, 0.0)];
        v[1].open_time = 0;
        v.push(Candle {
            open_time: 60_000,
            ..v[0]
        });
        dedup_keep_last(&mut v);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].open_time, v[0].close), (0, 2.0));
        assert_eq!(v[1].open_time, 60_000);
    }
}
