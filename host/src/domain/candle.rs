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
        let finite = [self.open, self.high, self.low, self.close, self.volume]
            .iter()
            .all(|v| v.is_finite());
        finite
            && self.low <= self.open.min(self.close)
            && self.high >= self.open.max(self.close)
            && self.low <= self.high
            && self.volume >= 0.0
    }
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
}
