//! Deterministic synthetic markets, shared by every simulated exchange.
//!
//! # Model
//!
//! Each market is a geometric random walk whose every value is a pure function of
//! `(seed, symbol, time)`, so any page anywhere in time is computed in O(page), without walking
//! from the listing:
//!
//! 1. **Day anchors.** The log price at each UTC midnight comes from a Brownian motion over day
//!    indices built by *midpoint displacement* (Lévy's construction of a Brownian bridge tree): the
//!    root spans 2^17 days around the epoch, and each dyadic midpoint is the mean of its two
//!    ends plus a hash-derived normal step with the bridge's variance. The anchor of one day is
//!    found by descending the tree: 17 hashes, O(log days). Prices are normalised so that the
//!    listing day opens at `base_price`. Daily volatility is 2.8 %.
//! 2. **Minutes.** Within a day, a 1440-step hash-driven walk is pinned as a Brownian bridge to
//!    the day's open and the next day's open, so minute `m` opens at the bridge value at `m` and
//!    closes at the value at `m + 1` (a minute's open is the previous close, across days too,
//!    except after downtime). Wicks, volume (intraday seasonality, a per-day activity factor,
//!    log-normal noise, more volume on bigger moves), trade counts and taker volume are
//!    hash-derived per minute. A whole day costs ~1440 hashes and exps, i.e. tens of µs.
//! 3. **Seconds.** A minute's 60 one-second candles are a bridge from its open to its close clamped
//!    into its `[low, high]`, with one second touching the high and one the low, and its
//!    volume/trades/taker volume split by hash weights with the remainder on the last second: the
//!    60 seconds aggregate *exactly* to the minute.
//! 4. **Every other timeframe** is the exact aggregate of its existing 1m candles (open of the first,
//!    close of the last, max high, min low, sums). Hour aggregates are cached per (market, day)
//!    lazily, so day/week/month candles cost 24 cached aggregates per day after the first visit.
//!
//! # Numbers
//!
//! Prices are integer *ticks* (`10^-price_decimals`) and volumes integer *units*
//! (`10^-volume_decimals`); both decimal counts are derived from `base_price` (BTC at 4261: 2 and 6;
//! BNB at 1.5: 4 and 3). Aggregation is exact integer arithmetic, and the `f64` of a value is
//! `units as f64 / 10^decimals`, which is the correctly rounded value of the decimal string the
//! exchanges print: parsing the JSON string gives exactly the `f64` that `truth()` returns. Volumes
//! per minute are capped so that a month's sum stays below 2^53.
//!
//! # Existence
//!
//! A 1m candle exists iff its open is at or after the listing (rounded up to a minute) and not inside
//! a gap (`[start, end)` of ms, matched on the minute's open time). A higher-timeframe candle exists
//! iff at least one of its minutes exists; a 1s candle iff its minute exists. Against the market
//! clock `now`, a candle is *closed* when `open_time + tf <= now`; the one containing `now` is
//! *forming*.
//!
//! # Forming candles
//!
//! A forming candle is a deterministic partial view of its final self, the same for REST pages and
//! WebSocket updates: the aggregate of the seconds that ended at or before `now`, plus the part of
//! the second containing `now` that has elapsed (fraction `e = (now - second_open) / 1000`, see
//! [`partial_second`]: open = the second's open, close = open + (close − open)·e truncated toward
//! the open, high/low = max/min of that open and close, volume, quote volume, trades and taker
//! volumes = floor(value·e)). So the forming open equals the final open, its high never exceeds
//! the final high, its low never goes below the final low, its volumes grow monotonically to the
//! final ones, and while anything is left to trade it differs from the final candle (a client that
//! stores a forming candle as closed is caught by comparing with `truth`). Nothing of a candle
//! exists before its first existing millisecond has passed: at `now == open_time` it is absent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::timeframe::{DAY_MS, HOUR_MS, MINUTE_MS, SECOND_MS, Timeframe};

mod synth;

use synth::{fnv1a, mix};

/// A market to simulate.
#[derive(Clone, Debug, PartialEq)]
pub struct MarketSpec {
    /// Unified symbol, `BASE/QUOTE` (e.g. `BTC/USDT`).
    pub symbol: String,
    /// First instant with candles, ms (rounded up to a minute).
    pub listing_ms: i64,
    /// Price at the listing; also sets the tick and lot decimals.
    pub base_price: f64,
    /// Half-open `[start, end)` ms ranges without candles (exchange downtime).
    pub gaps: Vec<(i64, i64)>,
}

impl MarketSpec {
    /// A market without gaps.
    pub fn new(symbol: impl Into<String>, listing_ms: i64, base_price: f64) -> Self {
        MarketSpec {
            symbol: symbol.into(),
            listing_ms,
            base_price,
            gaps: Vec::new(),
        }
    }

    /// Adds a downtime gap `[start_ms, end_ms)`.
    pub fn with_gap(mut self, start_ms: i64, end_ms: i64) -> Self {
        self.gaps.push((start_ms, end_ms));
        self
    }

    /// The default markets: BTC/USDT, ETH/USDT, SOL/USDT, BNB/USDT with their Binance listings.
    pub fn defaults() -> Vec<MarketSpec> {
        vec![
            // 2017-08-17T04:00Z
            MarketSpec::new("BTC/USDT", 1_502_942_400_000, 4261.48),
            MarketSpec::new("ETH/USDT", 1_502_942_400_000, 301.13),
            // 2020-08-11T06:00Z
            MarketSpec::new("SOL/USDT", 1_597_125_600_000, 2.85),
            // 2017-11-06T04:00Z
            MarketSpec::new("BNB/USDT", 1_509_940_800_000, 1.5),
        ]
    }
}

/// One candle as `truth()` reports it (the values the JSON strings parse to).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SimCandle {
    pub open_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

/// Exact OHLCV values of one candle in integer ticks/units (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bar {
    pub open: i64,
    pub high: i64,
    pub low: i64,
    pub close: i64,
    /// Base volume in units of `10^-volume_decimals`.
    pub volume: u64,
    /// Quote volume in units of `10^-(price_decimals + volume_decimals)`.
    pub quote_volume: u128,
    pub trades: u64,
    /// Taker buy base volume, same units as `volume`.
    pub taker_base: u64,
    /// Taker buy quote volume, same units as `quote_volume`.
    pub taker_quote: u128,
}

impl Bar {
    /// Extends `self` with a later bar.
    pub fn merge(&mut self, later: &Bar) {
        self.high = self.high.max(later.high);
        self.low = self.low.min(later.low);
        self.close = later.close;
        self.volume += later.volume;
        self.quote_volume += later.quote_volume;
        self.trades += later.trades;
        self.taker_base += later.taker_base;
        self.taker_quote += later.taker_quote;
    }
}

fn merge_into(acc: &mut Option<Bar>, b: &Bar) {
    match acc {
        Some(a) => a.merge(b),
        None => *acc = Some(*b),
    }
}

/// A candle of some timeframe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candle {
    pub open_time: i64,
    pub bar: Bar,
    /// `false` for the forming candle (contains the market clock's now).
    pub closed: bool,
}

/// Hour-aggregate cache entries per market before the cache is dropped and rebuilt.
const CACHE_DAYS: usize = 60_000;
/// Request times are clamped to ±this many ms (about 285,000 years) to keep arithmetic in range.
const TIME_LIMIT: i64 = 1 << 53;

type DayHours = [Option<Bar>; 24];

/// One synthetic market.
pub struct Market {
    symbol: String,
    base: String,
    quote: String,
    key: u64,
    price_decimals: u32,
    volume_decimals: u32,
    price_scale: f64,
    volume_scale: f64,
    /// First minute with a candle.
    listing: i64,
    /// Sorted, merged, non-empty gaps.
    gaps: Vec<(i64, i64)>,
    /// ln(base_price) - level(listing day).
    log_offset: f64,
    hours: Mutex<HashMap<i64, Arc<DayHours>>>,
}

impl std::fmt::Debug for Market {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Market")
            .field("symbol", &self.symbol)
            .field("listing", &self.listing)
            .field("price_decimals", &self.price_decimals)
            .field("volume_decimals", &self.volume_decimals)
            .field("gaps", &self.gaps)
            .finish()
    }
}

fn floor_to(t: i64, step: i64) -> i64 {
    t.div_euclid(step) * step
}

fn ceil_to(t: i64, step: i64) -> i64 {
    let f = floor_to(t, step);
    if f == t { f } else { f + step }
}

impl Market {
    /// Builds a market from its spec; `seed` selects the universe.
    pub fn new(seed: u64, spec: &MarketSpec) -> Market {
        let base_price = if spec.base_price.is_finite() && spec.base_price > 0.0 {
            spec.base_price
        } else {
            1.0
        };
        let magnitude = base_price.log10().floor() as i64;
        let price_decimals = (4 - magnitude).clamp(2, 8) as u32;
        let volume_decimals = (magnitude + 3).clamp(0, 8) as u32;
        let (base, quote) = match spec.symbol.split_once('/') {
            Some((b, q)) => (b.to_string(), q.to_string()),
            None => (spec.symbol.clone(), String::new()),
        };
        let mut gaps: Vec<(i64, i64)> = spec
            .gaps
            .iter()
            .copied()
            .filter(|(s, e)| s < e)
            .map(|(s, e)| {
                (
                    s.clamp(-TIME_LIMIT, TIME_LIMIT),
                    e.clamp(-TIME_LIMIT, TIME_LIMIT),
                )
            })
            .collect();
        gaps.sort_unstable();
        let mut merged: Vec<(i64, i64)> = Vec::with_capacity(gaps.len());
        for (s, e) in gaps {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let listing = ceil_to(spec.listing_ms.clamp(-TIME_LIMIT, TIME_LIMIT), MINUTE_MS);
        let mut m = Market {
            symbol: spec.symbol.clone(),
            base,
            quote,
            key: mix(seed ^ mix(fnv1a(&spec.symbol))),
            price_decimals,
            volume_decimals,
            price_scale: 10f64.powi(price_decimals as i32),
            volume_scale: 10f64.powi(volume_decimals as i32),
            listing,
            gaps: merged,
            log_offset: 0.0,
            hours: Mutex::new(HashMap::new()),
        };
        m.log_offset = base_price.ln() - m.level(listing.div_euclid(DAY_MS));
        m
    }

    /// Unified symbol (`BTC/USDT`).
    pub fn symbol(&self) -> &str {
        &self.symbol
    }

    /// Base asset (`BTC`).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Quote asset (`USDT`).
    pub fn quote(&self) -> &str {
        &self.quote
    }

    /// Decimals of a price tick.
    pub fn price_decimals(&self) -> u32 {
        self.price_decimals
    }

    /// Decimals of a volume unit.
    pub fn volume_decimals(&self) -> u32 {
        self.volume_decimals
    }

    /// Open time of the first 1m candle.
    pub fn listing_ms(&self) -> i64 {
        self.listing
    }

    /// Price of `ticks` as the exchange's decimal string parses.
    pub fn price_f64(&self, ticks: i64) -> f64 {
        ticks as f64 / self.price_scale
    }

    /// Volume of `units` as the exchange's decimal string parses.
    pub fn volume_f64(&self, units: u64) -> f64 {
        units as f64 / self.volume_scale
    }

    /// The `f64` view of a candle.
    pub fn to_sim(&self, c: &Candle) -> SimCandle {
        SimCandle {
            open_time: c.open_time,
            open: self.price_f64(c.bar.open),
            high: self.price_f64(c.bar.high),
            low: self.price_f64(c.bar.low),
            close: self.price_f64(c.bar.close),
            volume: self.volume_f64(c.bar.volume),
        }
    }

    // -----------------------------------------------------------------------------------------
    // Existence

    fn gap_containing(&self, t: i64) -> Option<(i64, i64)> {
        let i = self.gaps.partition_point(|g| g.0 <= t);
        (i > 0 && self.gaps[i - 1].1 > t).then(|| self.gaps[i - 1])
    }

    /// Whether the 1m candle opening at `minute` exists.
    pub fn minute_exists(&self, minute: i64) -> bool {
        minute >= self.listing && self.gap_containing(minute).is_none()
    }

    /// First existing minute at or after the minute-aligned `t`.
    fn next_minute(&self, t: i64) -> i64 {
        let mut t = t.max(self.listing);
        while let Some((_, end)) = self.gap_containing(t) {
            t = ceil_to(end, MINUTE_MS);
        }
        t
    }

    /// Last existing minute at or before the minute-aligned `t`.
    fn prev_minute(&self, mut t: i64) -> Option<i64> {
        loop {
            if t < self.listing {
                return None;
            }
            match self.gap_containing(t) {
                Some((start, _)) => t = floor_to(start - 1, MINUTE_MS),
                None => return Some(t),
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Aggregation

    fn day_hours(&self, day: i64, cur: &mut Cursor) -> Arc<DayHours> {
        if let Some(h) = self.lock_hours().get(&day) {
            return h.clone();
        }
        let mut hours: DayHours = [None; 24];
        for (h, slot) in hours.iter_mut().enumerate() {
            for m in h * 60..h * 60 + 60 {
                if let Some(b) = cur.minute(self, day, m) {
                    merge_into(slot, &b);
                }
            }
        }
        let hours = Arc::new(hours);
        let mut cache = self.lock_hours();
        if cache.len() >= CACHE_DAYS {
            cache.clear();
        }
        cache.insert(day, hours.clone());
        hours
    }

    fn lock_hours(&self) -> std::sync::MutexGuard<'_, HashMap<i64, Arc<DayHours>>> {
        // The cache holds only derived data: a poisoned lock is still usable.
        self.hours.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Aggregate of the existing minutes opening in `[a, b)` (minute-aligned).
    fn agg(&self, cur: &mut Cursor, a: i64, b: i64) -> Option<Bar> {
        let mut acc = None;
        let mut t = a.max(self.listing);
        while t < b {
            if t.rem_euclid(DAY_MS) == 0 && t + DAY_MS <= b {
                for h in self.day_hours(t.div_euclid(DAY_MS), cur).iter().flatten() {
                    merge_into(&mut acc, h);
                }
                t += DAY_MS;
            } else if t.rem_euclid(HOUR_MS) == 0 && t + HOUR_MS <= b {
                let hours = self.day_hours(t.div_euclid(DAY_MS), cur);
                if let Some(h) = &hours[(t.rem_euclid(DAY_MS) / HOUR_MS) as usize] {
                    merge_into(&mut acc, h);
                }
                t += HOUR_MS;
            } else {
                let stop = b.min(floor_to(t, HOUR_MS) + HOUR_MS);
                let day = t.div_euclid(DAY_MS);
                let first = ((t - day * DAY_MS) / MINUTE_MS) as usize;
                let last = ((stop - day * DAY_MS) / MINUTE_MS) as usize;
                for m in first..last {
                    if let Some(b) = cur.minute(self, day, m) {
                        merge_into(&mut acc, &b);
                    }
                }
                t = stop;
            }
        }
        acc
    }

    /// The candle of `tf` (not 1s) opening at `open`, as of `now`.
    fn candle_at(&self, cur: &mut Cursor, tf: Timeframe, open: i64, now: i64) -> Option<Candle> {
        let end = tf.next(open);
        if end <= now {
            let bar = self.agg(cur, open, end)?;
            return Some(Candle {
                open_time: open,
                bar,
                closed: true,
            });
        }
        let minute = floor_to(now, MINUTE_MS);
        let mut acc = self.agg(cur, open, minute);
        if now > minute
            && let Some(bar) = cur.bar(self, minute)
        {
            let secs = self.seconds(minute, &bar);
            // 0 < now - minute < 60 s: `full` < 60 seconds ended, the next one is partial.
            let full = ((now - minute) / SECOND_MS) as usize;
            for s in &secs[..full] {
                merge_into(&mut acc, s);
            }
            let elapsed = (now - minute) % SECOND_MS;
            if elapsed > 0 {
                merge_into(&mut acc, &partial_second(&secs[full], elapsed));
            }
        }
        acc.map(|bar| Candle {
            open_time: open,
            bar,
            closed: false,
        })
    }

    // -----------------------------------------------------------------------------------------
    // Queries

    /// Up to `limit` candles of `tf` with `from <= open_time <= to`, ascending, as of `now`
    /// (the forming candle included, marked `closed: false`).
    pub fn candles_from(
        &self,
        tf: Timeframe,
        from: i64,
        to: i64,
        now: i64,
        limit: usize,
    ) -> Vec<Candle> {
        let (from, to, now) = (clamp_t(from), clamp_t(to), clamp_t(now));
        let mut out = Vec::with_capacity(limit.min(1000));
        let mut cur = Cursor::default();
        if limit == 0 || from > to {
            return out;
        }
        if tf == Timeframe::S1 {
            let mut t = ceil_to(from, SECOND_MS);
            loop {
                let m = self.next_minute(floor_to(t, MINUTE_MS));
                if m >= now || m > to {
                    return out;
                }
                let Some(bar) = cur.bar(self, m) else {
                    return out;
                };
                let first = ((t.max(m) - m) / SECOND_MS) as usize;
                for (j, s) in self.seconds(m, &bar).iter().enumerate().skip(first) {
                    let open_time = m + j as i64 * SECOND_MS;
                    if open_time > to || open_time >= now {
                        return out;
                    }
                    out.push(second_candle(open_time, s, now));
                    if out.len() >= limit {
                        return out;
                    }
                }
                t = m + MINUTE_MS;
            }
        }
        let mut t = tf.ceil(from);
        while out.len() < limit {
            let m = self.next_minute(t);
            if m >= now {
                break;
            }
            let open = tf.floor(m);
            if open > to {
                break;
            }
            if let Some(c) = self.candle_at(&mut cur, tf, open, now) {
                out.push(c);
            }
            t = tf.next(open);
        }
        out
    }

    /// The newest `limit` candles of `tf` with `open_time <= to`, ascending, as of `now`
    /// (the forming candle included, marked `closed: false`).
    pub fn candles_before(&self, tf: Timeframe, to: i64, now: i64, limit: usize) -> Vec<Candle> {
        let (to, now) = (clamp_t(to), clamp_t(now));
        let mut out = Vec::with_capacity(limit.min(1000));
        let mut cur = Cursor::default();
        let last = to.min(now - 1);
        if tf == Timeframe::S1 {
            let mut t = last;
            while out.len() < limit {
                let Some(m) = self.prev_minute(floor_to(t, MINUTE_MS)) else {
                    break;
                };
                let Some(bar) = cur.bar(self, m) else { break };
                let top = ((t - m) / SECOND_MS).min(59) as usize;
                let secs = self.seconds(m, &bar);
                for j in (0..=top).rev() {
                    let open_time = m + j as i64 * SECOND_MS;
                    out.push(second_candle(open_time, &secs[j], now));
                    if out.len() >= limit {
                        break;
                    }
                }
                t = m - 1;
            }
        } else {
            // The candle containing `last` may hold minutes after `to` only: it still counts.
            let mut open = tf.floor(last);
            while out.len() < limit {
                if let Some(c) = self.candle_at(&mut cur, tf, open, now) {
                    out.push(c);
                }
                let Some(m) = self.prev_minute(floor_to(open - 1, MINUTE_MS)) else {
                    break;
                };
                open = tf.floor(m);
            }
        }
        out.reverse();
        out
    }

    /// Every closed candle of `tf` with `start <= open_time < end` as of `now`.
    pub fn closed_candles(&self, tf: Timeframe, start: i64, end: i64, now: i64) -> Vec<Candle> {
        if end <= start {
            return Vec::new();
        }
        let mut v = self.candles_from(tf, start, end - 1, now, usize::MAX);
        v.retain(|c| c.closed);
        v
    }
}

/// The part of the 1s bar `s` traded in its first `elapsed_ms` (clamped to 0..=1000) ms, the
/// building block of every forming candle (see the module doc): open = `s.open`; close =
/// `s.open + (s.close - s.open) * elapsed / 1000` (truncated toward the open); high/low = max/min
/// of that open and close; volume, quote volume, trades and taker volumes scaled by
/// `elapsed / 1000`, rounded down. `elapsed_ms = 1000` gives `s` itself.
pub fn partial_second(s: &Bar, elapsed_ms: i64) -> Bar {
    let e = elapsed_ms.clamp(0, SECOND_MS);
    if e == SECOND_MS {
        return *s;
    }
    let scale = |v: u128| v * e as u128 / SECOND_MS as u128;
    let scale64 = |v: u64| scale(u128::from(v)) as u64;
    let close = s.open + (s.close - s.open) * e / SECOND_MS;
    Bar {
        open: s.open,
        high: s.open.max(close),
        low: s.open.min(close),
        close,
        volume: scale64(s.volume),
        quote_volume: scale(s.quote_volume),
        trades: scale64(s.trades),
        taker_base: scale64(s.taker_base),
        taker_quote: scale(s.taker_quote),
    }
}

/// The 1s candle opening at `open_time` with final bar `s`, as of `now` (`open_time < now`).
fn second_candle(open_time: i64, s: &Bar, now: i64) -> Candle {
    let closed = open_time + SECOND_MS <= now;
    Candle {
        open_time,
        bar: if closed {
            *s
        } else {
            partial_second(s, now - open_time)
        },
        closed,
    }
}

fn clamp_t(t: i64) -> i64 {
    t.clamp(-TIME_LIMIT, TIME_LIMIT)
}

/// Memo of the last visited day: its price path, and its minutes computed lazily, so a query
/// computes each needed minute once and a 1000-minute page costs ~1000 minutes, not whole days.
#[derive(Default)]
struct Cursor {
    day: Option<i64>,
    /// `(day key, activity)`, or `None` when the day has no candles.
    params: Option<(u64, f64)>,
    ticks: Vec<i64>,
    bars: Vec<Option<Bar>>,
    done: [u64; 23],
}

impl Cursor {
    /// The 1m candle `m` (0..1440) of `day`, if it exists.
    fn minute(&mut self, market: &Market, day: i64, m: usize) -> Option<Bar> {
        if self.day != Some(day) {
            self.day = Some(day);
            self.params = market.day_path(day, &mut self.ticks);
            self.done = [0; 23];
            if self.bars.len() != 1440 {
                self.bars = vec![None; 1440];
            }
        }
        let (dk, activity) = self.params?;
        let bit = 1u64 << (m % 64);
        if self.done[m / 64] & bit == 0 {
            self.done[m / 64] |= bit;
            self.bars[m] = market
                .minute_exists(day * DAY_MS + m as i64 * MINUTE_MS)
                .then(|| market.minute_bar(dk, m, self.ticks[m], self.ticks[m + 1], activity));
        }
        self.bars[m]
    }

    fn bar(&mut self, market: &Market, minute: i64) -> Option<Bar> {
        let day = minute.div_euclid(DAY_MS);
        self.minute(market, day, ((minute - day * DAY_MS) / MINUTE_MS) as usize)
    }
}

/// The markets of one simulator.
#[derive(Debug)]
pub struct Markets {
    list: Vec<Market>,
}

impl Markets {
    /// Builds every market (the first spec wins on a duplicate symbol).
    pub fn new(seed: u64, specs: &[MarketSpec]) -> Markets {
        let mut list: Vec<Market> = Vec::with_capacity(specs.len());
        for spec in specs {
            if !list.iter().any(|m| m.symbol == spec.symbol) {
                list.push(Market::new(seed, spec));
            }
        }
        Markets { list }
    }

    /// The market with this unified symbol.
    pub fn get(&self, symbol: &str) -> Option<&Market> {
        self.list.iter().find(|m| m.symbol == symbol)
    }

    /// All markets, in configuration order.
    pub fn iter(&self) -> impl Iterator<Item = &Market> {
        self.list.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeframe::{WEEK_MS, days_from_civil};
    use std::time::Instant;

    const LISTING: i64 = 1_502_942_400_000;

    fn btc(seed: u64) -> Market {
        Market::new(seed, &MarketSpec::new("BTC/USDT", LISTING, 4261.48))
    }

    fn ms(y: i64, m: u32, d: u32) -> i64 {
        days_from_civil(y, m, d) * DAY_MS
    }

    fn aggregate(cs: &[Candle]) -> Bar {
        let mut acc = cs[0].bar;
        for c in &cs[1..] {
            acc.merge(&c.bar);
        }
        acc
    }

    fn check_ohlc(c: &Candle) {
        let b = &c.bar;
        assert!(b.low >= 1, "{c:?}");
        assert!(b.low <= b.open.min(b.close), "{c:?}");
        assert!(b.high >= b.open.max(b.close), "{c:?}");
        assert!(b.taker_base <= b.volume || b.volume == 0, "{c:?}");
    }

    #[test]
    fn deterministic_per_seed() {
        let now = ms(2024, 6, 1);
        let start = ms(2024, 3, 10) + 7 * HOUR_MS;
        let a = btc(42).candles_from(Timeframe::M1, start, now, now, 1000);
        let b = btc(42).candles_from(Timeframe::M1, start, now, now, 1000);
        let c = btc(43).candles_from(Timeframe::M1, start, now, now, 1000);
        assert_eq!(a.len(), 1000);
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Different symbols differ too.
        let eth = Market::new(42, &MarketSpec::new("ETH/USDT", LISTING, 4261.48));
        assert_ne!(a, eth.candles_from(Timeframe::M1, start, now, now, 1000));
    }

    #[test]
    fn listing_price_is_base_price() {
        let m = btc(42);
        let c = m.candles_from(Timeframe::M1, 0, i64::MAX, ms(2018, 1, 1), 1);
        assert_eq!(c[0].open_time, LISTING);
        // The listing day opens at the base price; by 04:00 the price has moved a little.
        let day_open = m.ticks(m.log_open(LISTING.div_euclid(DAY_MS)));
        assert_eq!(day_open, 426_148);
        let rel = (m.price_f64(c[0].bar.open) / 4261.48 - 1.0).abs();
        assert!(rel < 0.2, "{rel}");
    }

    #[test]
    fn random_access_is_fast_and_stateless() {
        let now = ms(2026, 1, 1);
        let start = ms(2024, 7, 15) + 123 * MINUTE_MS;
        // A fresh market: nothing cached, nothing walked since 2017.
        let fresh = btc(7);
        let t0 = Instant::now();
        let page = fresh.candles_from(Timeframe::M1, start, now, now, 1000);
        let took = t0.elapsed();
        println!("1000 x 1m candles in 2024 on a fresh market: {took:?}");
        assert_eq!(page.len(), 1000);
        assert!(took.as_secs() < 5, "way too slow: {took:?}");
        // Same page after visiting other history first: identical.
        let warm = btc(7);
        let _ = warm.candles_from(Timeframe::H1, ms(2018, 1, 1), now, now, 1000);
        assert_eq!(
            warm.candles_from(Timeframe::M1, start, now, now, 1000),
            page
        );
        // Pages are contiguous: the minute after the page starts the next page.
        let next = fresh.candles_from(Timeframe::M1, page[999].open_time + 1, now, now, 1);
        assert_eq!(next[0].open_time, page[999].open_time + MINUTE_MS);
        assert_eq!(next[0].bar.open, page[999].bar.close);
    }

    #[test]
    fn ohlc_consistent_and_continuous() {
        let m = btc(42);
        let now = ms(2025, 1, 1);
        for start in [
            LISTING,
            ms(2019, 5, 5) - 500 * MINUTE_MS,
            ms(2023, 12, 31) + 1,
        ] {
            let page = m.candles_from(Timeframe::M1, start, now, now, 5000);
            assert_eq!(page.len(), 5000);
            for w in page.windows(2) {
                check_ohlc(&w[0]);
                assert_eq!(w[1].open_time, w[0].open_time + MINUTE_MS);
                assert_eq!(
                    w[1].bar.open, w[0].bar.close,
                    "continuous at {}",
                    w[1].open_time
                );
            }
            let vols: Vec<u64> = page.iter().map(|c| c.bar.volume).collect();
            assert!(vols.iter().all(|v| *v > 0));
            assert!(vols.iter().max() > vols.iter().min());
        }
        // Ten years of daily candles: finite, positive, consistent.
        let days = m.candles_from(Timeframe::D1, 0, now, now, 10_000);
        assert_eq!(days.len() as i64, (now - ms(2017, 8, 17)) / DAY_MS);
        for c in &days {
            check_ohlc(c);
            let s = m.to_sim(c);
            assert!(s.low > 0.0 && s.high.is_finite() && s.volume > 0.0);
        }
    }

    #[test]
    fn higher_timeframes_aggregate_minutes() {
        let m = btc(42);
        let now = ms(2025, 1, 1);
        let hour = ms(2024, 2, 29) + 13 * HOUR_MS;
        let h1 = m.candles_from(Timeframe::H1, hour, hour, now, 10);
        let mins = m.candles_from(Timeframe::M1, hour, hour + HOUR_MS - 1, now, 1000);
        assert_eq!(h1.len(), 1);
        assert_eq!(mins.len(), 60);
        assert_eq!(h1[0].bar, aggregate(&mins));
        // Every timeframe from 3m to 1M equals the aggregate of its 1m candles.
        for tf in Timeframe::ALL {
            if matches!(tf, Timeframe::S1 | Timeframe::M1) {
                continue;
            }
            let c = m.candles_from(tf, ms(2024, 5, 1) + 1, now, now, 1)[0];
            let end = tf.next(c.open_time);
            let mins = m.closed_candles(Timeframe::M1, c.open_time, end, now);
            assert_eq!(c.bar, aggregate(&mins), "{tf}");
            assert_eq!(tf.floor(c.open_time), c.open_time);
        }
        // 1m equals the aggregate of its 60 seconds.
        let secs = m.candles_from(Timeframe::S1, hour, hour + MINUTE_MS - 1, now, 100);
        assert_eq!(secs.len(), 60);
        secs.iter().for_each(check_ohlc);
        assert_eq!(aggregate(&secs), mins_first(&m, hour, now));
        // Weeks open on Mondays, months on the 1st.
        let w = m.candles_from(Timeframe::W1, ms(2024, 1, 3), now, now, 3);
        assert!(w.iter().all(|c| c.open_time % WEEK_MS == 345_600_000));
        let mo = m.candles_from(Timeframe::Mo1, ms(2024, 1, 3), now, now, 3);
        assert_eq!(
            mo.iter().map(|c| c.open_time).collect::<Vec<_>>(),
            [ms(2024, 2, 1), ms(2024, 3, 1), ms(2024, 4, 1)]
        );
    }

    fn mins_first(m: &Market, t: i64, now: i64) -> Bar {
        m.candles_from(Timeframe::M1, t, t, now, 1)[0].bar
    }

    #[test]
    fn listing_start() {
        let m = btc(42);
        let now = ms(2024, 1, 1);
        assert!(
            m.candles_from(Timeframe::M1, 0, LISTING - 1, now, 1000)
                .is_empty()
        );
        assert!(
            m.candles_before(Timeframe::M1, LISTING - 1, now, 1000)
                .is_empty()
        );
        let d = m.candles_from(Timeframe::D1, 0, now, now, 1)[0];
        assert_eq!(d.open_time, ms(2017, 8, 17));
        let mins = m.closed_candles(Timeframe::M1, ms(2017, 8, 17), ms(2017, 8, 18), now);
        assert_eq!(mins.len(), 20 * 60);
        assert_eq!(mins[0].open_time, LISTING);
        assert_eq!(d.bar, aggregate(&mins));
        let s = m.candles_from(Timeframe::S1, 0, now, now, 1)[0];
        assert_eq!(s.open_time, LISTING);
    }

    #[test]
    fn gaps_remove_candles() {
        let g0 = ms(2024, 3, 1) + 10 * HOUR_MS;
        let g1 = g0 + 2 * HOUR_MS + 30 * MINUTE_MS;
        let spec = MarketSpec::new("BTC/USDT", LISTING, 4261.48).with_gap(g0, g1);
        let m = Market::new(42, &spec);
        let plain = btc(42);
        let now = ms(2025, 1, 1);
        let mins = m.candles_from(Timeframe::M1, g0 - HOUR_MS, now, now, 1000);
        assert!(mins.iter().all(|c| c.open_time < g0 || c.open_time >= g1));
        assert_eq!(mins[59].open_time, g0 - MINUTE_MS);
        assert_eq!(mins[60].open_time, g1);
        // Outside the gap the data is unchanged.
        let base = plain.candles_from(Timeframe::M1, g1, now, now, 10);
        assert_eq!(&mins[60..70], &base[..]);
        // 1h: the two hours fully inside are missing, the half hour aggregates the rest.
        let hours = m.candles_from(Timeframe::H1, g0 - HOUR_MS, now, now, 4);
        let opens: Vec<i64> = hours.iter().map(|c| c.open_time).collect();
        assert_eq!(
            opens,
            [
                g0 - HOUR_MS,
                g0 + 2 * HOUR_MS,
                g0 + 3 * HOUR_MS,
                g0 + 4 * HOUR_MS
            ]
        );
        let half = m.closed_candles(Timeframe::M1, g0 + 2 * HOUR_MS, g0 + 3 * HOUR_MS, now);
        assert_eq!(half.len(), 30);
        assert_eq!(hours[1].bar, aggregate(&half));
        // Descending queries skip the gap too.
        let back = m.candles_before(Timeframe::H1, g0 + 2 * HOUR_MS, now, 2);
        assert_eq!(
            back.iter().map(|c| c.open_time).collect::<Vec<_>>(),
            [g0 - HOUR_MS, g0 + 2 * HOUR_MS]
        );
        // 1s inside the gap: none.
        assert!(
            m.candles_from(Timeframe::S1, g0, g1 - 1, now, 10)
                .is_empty()
        );
        // A multi-day gap is skipped without generating it.
        let long = Market::new(
            42,
            &MarketSpec::new("X/USDT", LISTING, 10.0).with_gap(LISTING, ms(2030, 1, 1)),
        );
        assert!(long.candles_from(Timeframe::M1, 0, now, now, 10).is_empty());
        assert!(long.candles_before(Timeframe::M1, now, now, 10).is_empty());
    }

    #[test]
    fn forming_candle() {
        let m = btc(42);
        let now = ms(2024, 3, 1) + 5 * HOUR_MS + 17 * MINUTE_MS + 12_345;
        let hour = floor_to(now, HOUR_MS);
        let h = m.candles_from(Timeframe::H1, hour - HOUR_MS, now + DAY_MS, now, 10);
        assert_eq!(h.len(), 2);
        assert!(h[0].closed);
        assert!(!h[1].closed);
        let mins = m.candles_from(Timeframe::M1, hour, now, now, 100);
        assert_eq!(mins.len(), 18);
        assert!(mins[..17].iter().all(|c| c.closed));
        assert!(!mins[17].closed);
        assert_eq!(h[1].bar, aggregate(&mins));
        // The forming minute is the first 12 seconds of the full minute and 345 ms of the 13th.
        let later = m.candles_from(
            Timeframe::S1,
            mins[17].open_time,
            mins[17].open_time + MINUTE_MS,
            now + DAY_MS,
            60,
        );
        let mut part = aggregate(&later[..12]);
        part.merge(&partial_second(&later[12].bar, 345));
        assert_eq!(part, mins[17].bar);
        // ... which is a strict partial view of the final minute.
        let fin = m.closed_candles(
            Timeframe::M1,
            mins[17].open_time,
            now + DAY_MS,
            now + DAY_MS,
        )[0];
        assert_eq!(fin.bar.open, part.open);
        assert!(part.high <= fin.bar.high && part.low >= fin.bar.low);
        assert!(part.volume < fin.bar.volume && part.trades < fin.bar.trades);
        // The forming 1s candle is partial too.
        let sec = m.candles_from(Timeframe::S1, now - 345, now, now, 1)[0];
        assert!(!sec.closed);
        assert_eq!(sec.bar, partial_second(&later[12].bar, 345));
        assert_ne!(sec.bar, later[12].bar);
        // truth-style queries exclude it.
        assert_eq!(
            m.closed_candles(Timeframe::M1, hour, now + DAY_MS, now)
                .len(),
            17
        );
        // Exactly on a boundary nothing is forming.
        let edge = hour + HOUR_MS;
        let e = m.candles_from(Timeframe::M1, edge - MINUTE_MS, edge + HOUR_MS, edge, 10);
        assert_eq!(e.len(), 1);
        assert!(e[0].closed);
    }

    #[test]
    fn descending_matches_ascending() {
        let m = btc(42);
        let now = ms(2024, 9, 9) + 12_345_678;
        for tf in [
            Timeframe::S1,
            Timeframe::M1,
            Timeframe::M15,
            Timeframe::H4,
            Timeframe::D1,
            Timeframe::W1,
        ] {
            let tail = m.candles_before(tf, now, now, 50);
            assert_eq!(tail.len(), 50, "{tf}");
            let fwd = m.candles_from(tf, tail[0].open_time, now, now, 1000);
            assert_eq!(tail, fwd, "{tf}");
            assert!(!tail[49].closed);
            let to = tail[20].open_time + 1;
            let mid = m.candles_before(tf, to, now, 5);
            assert_eq!(&mid[..], &tail[16..21], "{tf}");
        }
    }

    #[test]
    fn decimals_follow_price() {
        let m = Market::new(1, &MarketSpec::new("BNB/USDT", 0, 1.5));
        assert_eq!((m.price_decimals(), m.volume_decimals()), (4, 3));
        assert_eq!((btc(1).price_decimals(), btc(1).volume_decimals()), (2, 6));
        let bad = Market::new(1, &MarketSpec::new("BAD", 0, f64::NAN));
        assert_eq!(bad.base(), "BAD");
        assert!(
            !bad.candles_from(Timeframe::H1, 0, 10 * DAY_MS, 10 * DAY_MS, 5)
                .is_empty()
        );
    }
}
