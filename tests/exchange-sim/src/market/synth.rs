//! Generation of the synthetic series (see the parent module doc for the model): hashing, the
//! day-anchor tree, the intraday minute path, minute candles and their one-second split.

use super::{Bar, Market};
use crate::timeframe::DAY_MS;

// ---------------------------------------------------------------------------------------------
// Hashing and distributions

/// splitmix64 finaliser.
#[inline]
pub(super) fn mix(z: u64) -> u64 {
    let mut z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Approximately standard normal (Irwin–Hall of four 16-bit uniforms, variance 1).
#[inline]
fn gauss(h: u64) -> f64 {
    let s = (h & 0xFFFF) + ((h >> 16) & 0xFFFF) + ((h >> 32) & 0xFFFF) + (h >> 48);
    (s as f64 / 65_536.0 - 2.0) * 1.732_050_807_568_877_2
}

/// Uniform in [0, 1).
#[inline]
fn unit(h: u64) -> f64 {
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// FNV-1a: a stable string hash (std's hasher is not guaranteed stable across releases).
pub(super) fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xCBF2_9CE4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01B3)
    })
}

const TAG_DAY: u64 = 0xDA7_0000_0000_0001;
const TAG_SEC: u64 = 0x5EC_0000_0000_0002;
const TAG_ROOT: u64 = 0x2007_0000_0000_0003;
const TAG_ACTIVITY: u64 = 0xAC7_0000_0000_0004;

// ---------------------------------------------------------------------------------------------
// Model parameters

/// Daily log-price volatility of the day anchors.
const DAY_SIGMA: f64 = 0.028;
/// Per-minute log-price volatility inside a day.
const MINUTE_SIGMA: f64 = 0.0008;
/// Wick size relative to the per-minute volatility.
const WICK: f64 = 0.6 * MINUTE_SIGMA;
/// Typical quote volume per minute (USDT).
const QUOTE_PER_MINUTE: f64 = 60_000.0;
/// Typical quote size of one trade.
const AVG_TRADE_QUOTE: f64 = 400.0;
/// Cap on one minute's volume units: 44,640 minutes (a 31-day month) stay below 2^53.
const MAX_MINUTE_VOLUME: f64 = 100_000_000_000.0;
/// Cap on prices in ticks (well below 2^53).
const MAX_TICKS: f64 = 1e15;
/// The day tree spans 2^17 days (1790..2149); days outside are clamped.
const TREE_SPAN: i64 = 1 << 17;

impl Market {
    /// Brownian level at UTC midnight of `day` (midpoint displacement, O(log span)).
    pub(super) fn level(&self, day: i64) -> f64 {
        let target = (day + TREE_SPAN / 2).clamp(0, TREE_SPAN);
        let (mut lo, mut hi) = (0i64, TREE_SPAN);
        let mut v_lo = 0.0;
        let mut v_hi = gauss(mix(self.key ^ TAG_ROOT)) * DAY_SIGMA * (TREE_SPAN as f64).sqrt();
        loop {
            if target == lo {
                return v_lo;
            }
            if target == hi {
                return v_hi;
            }
            let mid = (lo + hi) / 2;
            let sd = DAY_SIGMA * ((hi - lo) as f64).sqrt() / 2.0;
            let v_mid = (v_lo + v_hi) / 2.0 + gauss(mix(self.key ^ mix(mid as u64))) * sd;
            if target < mid {
                hi = mid;
                v_hi = v_mid;
            } else {
                lo = mid;
                v_lo = v_mid;
            }
        }
    }

    /// Log price at UTC midnight of `day`.
    pub(super) fn log_open(&self, day: i64) -> f64 {
        self.log_offset + self.level(day)
    }

    pub(super) fn ticks(&self, log_price: f64) -> i64 {
        (log_price.exp() * self.price_scale)
            .round()
            .clamp(1.0, MAX_TICKS) as i64
    }

    /// The price path of `day` (`None` when the whole day has no candle): 1441 tick values,
    /// minute `m` opens at `ticks[m]` and closes at `ticks[m + 1]`.
    pub(super) fn day_path(&self, day: i64, ticks: &mut Vec<i64>) -> Option<(u64, f64)> {
        let start = day * DAY_MS;
        if start + DAY_MS <= self.listing {
            return None;
        }
        if let Some((_, end)) = self.gap_containing(start)
            && end >= start + DAY_MS
        {
            return None;
        }
        let l0 = self.log_open(day);
        let l1 = self.log_open(day + 1);
        let dk = mix(self.key ^ mix(day as u64 ^ TAG_DAY));
        let mut walk = [0f64; 1441];
        for k in 1..=1440 {
            walk[k] = walk[k - 1] + gauss(mix(dk.wrapping_add(k as u64)));
        }
        let drift = walk[1440];
        ticks.clear();
        ticks.extend(walk.iter().enumerate().map(|(k, w)| {
            let f = k as f64 / 1440.0;
            self.ticks(l0 + (l1 - l0) * f + MINUTE_SIGMA * (w - drift * f))
        }));
        ticks[0] = self.ticks(l0);
        ticks[1440] = self.ticks(l1);
        let activity = (0.35 * gauss(mix(dk ^ TAG_ACTIVITY))).exp();
        Some((dk, activity))
    }

    pub(super) fn minute_bar(
        &self,
        dk: u64,
        m: usize,
        open: i64,
        close: i64,
        activity: f64,
    ) -> Bar {
        let h = mix(dk ^ (m as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let top = open.max(close);
        let bot = open.min(close);
        let high = top + (gauss(mix(h ^ 1)).abs() * WICK * top as f64).round() as i64;
        let low = (bot - (gauss(mix(h ^ 2)).abs() * WICK * bot as f64).round() as i64).max(1);
        let price = (open + close) as f64 / 2.0 / self.price_scale;
        let ret = (close - open).abs() as f64 / open as f64;
        let season = season(m);
        let quote = QUOTE_PER_MINUTE
            * activity
            * season
            * (0.55 * gauss(mix(h ^ 3))).exp()
            * (1.0 + 150.0 * ret);
        let volume = (quote / price * self.volume_scale)
            .round()
            .clamp(1.0, MAX_MINUTE_VOLUME) as u64;
        let vwap = ((open + high + low + close) / 4) as u128;
        let trades = (quote / AVG_TRADE_QUOTE * (0.7 + 0.6 * unit(mix(h ^ 4))))
            .round()
            .max(1.0) as u64;
        let taker_base = ((volume as f64 * (0.35 + 0.3 * unit(mix(h ^ 5)))) as u64).min(volume);
        Bar {
            open,
            high,
            low,
            close,
            volume,
            quote_volume: u128::from(volume) * vwap,
            trades,
            taker_base,
            taker_quote: u128::from(taker_base) * vwap,
        }
    }

    /// The 60 one-second candles of the minute opening at `minute` whose 1m candle is `bar`.
    pub(super) fn seconds(&self, minute: i64, bar: &Bar) -> [Bar; 60] {
        let h = mix(self.key ^ mix(minute as u64 ^ TAG_SEC));
        let (open, close, hi, lo) = (bar.open, bar.close, bar.high, bar.low);
        let step = MINUTE_SIGMA / 60f64.sqrt() * open as f64;
        let mut walk = [0f64; 61];
        for j in 1..=60 {
            walk[j] = walk[j - 1] + gauss(mix(h.wrapping_add(j as u64)));
        }
        let mut path = [0i64; 61];
        for (j, p) in path.iter_mut().enumerate() {
            let f = j as f64 / 60.0;
            let y = open as f64 + (close - open) as f64 * f + step * (walk[j] - walk[60] * f);
            *p = (y.round() as i64).clamp(lo, hi);
        }
        path[0] = open;
        path[60] = close;
        let mut weights = [0u128; 60];
        for (j, w) in weights.iter_mut().enumerate() {
            *w = 1 + u128::from(mix(h ^ (j as u64 + 100)) >> 56);
        }
        let volume = split(u128::from(bar.volume), &weights);
        let quote = split(bar.quote_volume, &weights);
        let trades = split(u128::from(bar.trades), &weights);
        let taker_base = split(u128::from(bar.taker_base), &weights);
        let taker_quote = split(bar.taker_quote, &weights);
        let mut out = [*bar; 60];
        for (j, s) in out.iter_mut().enumerate() {
            let (o, c) = (path[j], path[j + 1]);
            let wick = (gauss(mix(h ^ (j as u64 + 200))).abs() * step * 0.5).round() as i64;
            *s = Bar {
                open: o,
                high: (o.max(c) + wick).min(hi),
                low: (o.min(c) - wick).max(lo),
                close: c,
                volume: volume[j] as u64,
                quote_volume: quote[j],
                trades: trades[j] as u64,
                taker_base: taker_base[j] as u64,
                taker_quote: taker_quote[j],
            };
        }
        out[(mix(h ^ 0x51) % 60) as usize].high = hi;
        out[(mix(h ^ 0x52) % 60) as usize].low = lo;
        out
    }
}

/// Splits `total` by `weights`; the rounding remainder goes to the last part, so parts sum exactly.
fn split(total: u128, weights: &[u128; 60]) -> [u128; 60] {
    let sum: u128 = weights.iter().sum();
    let mut out = [0u128; 60];
    let mut given = 0;
    for (o, w) in out.iter_mut().zip(weights) {
        *o = total * w / sum;
        given += *o;
    }
    out[59] += total - given;
    out
}

/// Intraday volume seasonality (busiest around 14:30 UTC), one factor per minute of the day.
fn season(m: usize) -> f64 {
    static TABLE: std::sync::OnceLock<Vec<f64>> = std::sync::OnceLock::new();
    let t = TABLE.get_or_init(|| {
        (0..1440)
            .map(|m| 1.0 + 0.45 * (std::f64::consts::TAU * (m as f64 / 1440.0 - 0.6)).cos())
            .collect()
    });
    t[m % 1440]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_exact() {
        let w = [3u128; 60];
        let parts = split(1_000_003, &w);
        assert_eq!(parts.iter().sum::<u128>(), 1_000_003);
        assert!(parts.iter().all(|p| *p >= 16_666));
    }
}
