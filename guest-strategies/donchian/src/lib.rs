//! `donchian`: a Donchian channel breakout strategy node.
//!
//! Config: `node` (default `ohlcv:binance:BTC/USDT:1m`), `period` (default 20,
//! at least 1), `channel` = `buffer` (default) | `history`.
//!
//! Semantics: the channel at candle `i` is the highest high and the lowest low of
//! the `period` candles before `i` (not including `i`); without `period` previous
//! candles there is no channel and nothing happens. The position starts flat. If
//! `close_i > upper` and the position is not long → `long` (position long); else
//! if `close_i < lower` and the position is not short → `short` (position short).
//! `value` = close, `time` = open time, `input` = 0.
//!
//! Where the previous candles come from:
//! - `buffer`: warm-up `period`; the strategy keeps the last `period` highs and
//!   lows itself (warm-up candles only fill them).
//! - `history`: warm-up 0; for each candle it asks the host
//!   `history::last(0, period, open_time)`. Fewer than `period` candles back →
//!   nothing for that candle; an error is returned as the batch's error.
//!
//! Both give the same signals once `period` previous candles exist. The core,
//! [`Donchian`], is plain Rust (natively testable); the `strategy-node` export is
//! compiled for `wasm32` only.

use seamless_strategy_kit::{Columns, Config, History, Input, Ring, Signal, Strategy};

/// Largest `period` accepted.
pub const MAX_PERIOD: u32 = 1_000_000;

/// Where the channel's previous candles come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// Kept by the strategy from the candles it was given (warm-up `period`).
    Buffer,
    /// Asked from the host for every candle (`history::last`, warm-up 0).
    History,
}

/// The position the strategy holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    Flat,
    Long,
    Short,
}

/// The breakout state.
#[derive(Clone, Debug)]
pub struct Donchian {
    period: usize,
    channel: Channel,
    highs: Ring<f64>,
    lows: Ring<f64>,
    position: Position,
}

/// Highest and lowest value of `highs` / `lows` (ignoring NaN).
fn bounds(highs: &[f64], lows: &[f64]) -> (f64, f64) {
    let upper = highs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let lower = lows.iter().copied().fold(f64::INFINITY, f64::min);
    (upper, lower)
}

impl Donchian {
    /// A breakout over the last `period` (≥ 1) candles.
    pub fn new(period: usize, channel: Channel) -> Result<Self, String> {
        if period == 0 {
            return Err("config key `period` must be at least 1; e.g. period=20".to_owned());
        }
        // The buffer is unused in history mode.
        let cap = if channel == Channel::Buffer {
            period
        } else {
            1
        };
        Ok(Donchian {
            period,
            channel,
            highs: Ring::new(cap),
            lows: Ring::new(cap),
            position: Position::Flat,
        })
    }

    /// The channel length.
    pub fn period(&self) -> usize {
        self.period
    }

    /// Where the channel comes from.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The current position.
    pub fn position(&self) -> Position {
        self.position
    }

    /// Candles needed before the first candle of a run.
    pub fn warmup(&self) -> u32 {
        match self.channel {
            Channel::Buffer => self.period as u32,
            Channel::History => 0,
        }
    }

    /// Feed candles (ascending) and push the breakouts to `out`. With `warmup`
    /// only the buffer is filled. In `history` mode `history` is asked for the
    /// previous `period` candles of every non-warm-up candle; its error is returned.
    /// Columns of different lengths are refused.
    pub fn on_candles(
        &mut self,
        batch: &Columns,
        warmup: bool,
        history: &mut dyn History,
        out: &mut Vec<Signal>,
    ) -> Result<(), String> {
        let n = batch.check()?;
        let (open_time, high, low, close) =
            (&batch.open_time, &batch.high, &batch.low, &batch.close);
        for i in 0..n {
            let (t, c) = (open_time[i], close[i]);
            match self.channel {
                Channel::Buffer => {
                    if !warmup && self.highs.is_full() {
                        let (upper, lower) = bounds(self.highs.as_slice(), self.lows.as_slice());
                        self.decide(t, c, upper, lower, out);
                    }
                    self.highs.push(high[i]);
                    self.lows.push(low[i]);
                }
                Channel::History => {
                    if warmup {
                        continue;
                    }
                    let prev = history.last(0, self.period as u32, t)?;
                    prev.check()?;
                    if prev.len() < self.period {
                        continue;
                    }
                    let from = prev.len() - self.period;
                    let (upper, lower) = bounds(&prev.high[from..], &prev.low[from..]);
                    self.decide(t, c, upper, lower, out);
                }
            }
        }
        Ok(())
    }

    fn decide(&mut self, time: i64, close: f64, upper: f64, lower: f64, out: &mut Vec<Signal>) {
        let p = self.period;
        let (action, note) = if close > upper && self.position != Position::Long {
            self.position = Position::Long;
            (
                "long",
                format!("close {close} broke above the {p}-candle high {upper}"),
            )
        } else if close < lower && self.position != Position::Short {
            self.position = Position::Short;
            (
                "short",
                format!("close {close} broke below the {p}-candle low {lower}"),
            )
        } else {
            return;
        };
        out.push(Signal {
            time,
            input: 0,
            action: action.to_owned(),
            value: close,
            note,
        });
    }
}

impl Strategy for Donchian {
    fn init(config: &[(String, String)]) -> Result<(Self, Vec<Input>), String> {
        let c = Config::new(config, &["node", "period", "channel"])?;
        let node = c.node("node", seamless_strategy_kit::DEFAULT_NODE)?;
        let period = c.u32_in("period", 20, 1, MAX_PERIOD)?;
        let channel = match c.choice("channel", &["buffer", "history"], "buffer")? {
            "history" => Channel::History,
            _ => Channel::Buffer,
        };
        let d = Donchian::new(period as usize, channel)?;
        let warmup = d.warmup();
        Ok((
            d,
            vec![Input {
                node_id: node.to_string(),
                warmup,
            }],
        ))
    }

    fn on_candles(
        &mut self,
        input: u32,
        batch: &Columns,
        warmup: bool,
        history: &mut dyn History,
        out: &mut Vec<Signal>,
    ) -> Result<(), String> {
        seamless_strategy_kit::single_input(input)?;
        Donchian::on_candles(self, batch, warmup, history, out)
    }
}

#[cfg(target_arch = "wasm32")]
mod component {
    //! The `strategy-node` component export.
    seamless_strategy_kit::export_strategy!(super::Donchian, "../../wit");
}

#[cfg(test)]
mod tests;
