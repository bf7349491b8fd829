//! `spread`: a two-input pairs strategy on the z-score of the close ratio `a / b`.
//!
//! Config: `a` (default `ohlcv:binance:BTC/USDT:1m`), `b` (default
//! `ohlcv:binance:ETH/USDT:1m`), `window` (default 60, at least 2), `entry`
//! (default 2.0, above 0) and `exit` (default 0.5, from 0 to `entry`). Inputs:
//! `[a, b]`, each with warm-up `window`.
//!
//! Semantics (exact; only `+ - * /` and `sqrt`, so native and wasm agree bit for
//! bit): candles of both inputs arrive merged by open time (ties: `a` first). When
//! a candle of input `k` at open time `t` arrives and the latest candle seen of the
//! other input opens at `t` too, the pair at `t` is complete: `r = close_a /
//! close_b` joins the last `window` ratios. Once `window` ratios exist: `mean` =
//! (sum oldest first from 0.0) / window, `var` = (sum oldest first of
//! `(r_j - mean)^2`) / window, `std = sqrt(var)`, and if `std > 0`,
//! `z = (r - mean) / std`. Flat and `z > entry` → `short-spread` (short); flat and
//! `z < -entry` → `long-spread` (long); long or short and `|z| < exit` → `exit`
//! (flat). `value` = z, `time` = t, `input` = k. Warm-up pairs only fill the window.
//!
//! The core, [`Spread`], is plain Rust (natively testable); the `strategy-node`
//! export is compiled for `wasm32` only.

use seamless_strategy_kit::{Batch, Columns, Config, History, Input, Ring, Signal, Strategy};

/// Largest `window` accepted.
pub const MAX_WINDOW: u32 = 1_000_000;

/// The spread position.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Position {
    Flat,
    /// Long `a`, short `b` (the ratio is low).
    Long,
    /// Short `a`, long `b` (the ratio is high).
    Short,
}

/// The pairing and z-score state.
#[derive(Clone, Debug)]
pub struct Spread {
    window: usize,
    window_f: f64,
    entry: f64,
    exit: f64,
    ratios: Ring<f64>,
    /// Latest (open time, close) seen of each input.
    latest: [Option<(i64, f64)>; 2],
    position: Position,
}

impl Spread {
    /// A spread over the last `window` (≥ 2) ratios, entering beyond `entry`
    /// (> 0) standard deviations and leaving within `exit` (0 ≤ exit ≤ entry).
    pub fn new(window: usize, entry: f64, exit: f64) -> Result<Self, String> {
        if window < 2 {
            return Err(format!(
                "config key `window` must be at least 2, got {window}; e.g. window=60"
            ));
        }
        if !(entry.is_finite() && entry > 0.0) {
            return Err(format!(
                "config key `entry` must be a number above 0, got {entry}; e.g. entry=2"
            ));
        }
        if !(exit.is_finite() && exit >= 0.0 && exit <= entry) {
            return Err(format!(
                "config key `exit` must be from 0 to `entry` ({entry}), got {exit}; e.g. exit=0.5"
            ));
        }
        Ok(Spread {
            window,
            window_f: window as f64,
            entry,
            exit,
            ratios: Ring::new(window),
            latest: [None, None],
            position: Position::Flat,
        })
    }

    /// The ratio window length.
    pub fn window(&self) -> usize {
        self.window
    }

    /// The entry threshold (standard deviations).
    pub fn entry(&self) -> f64 {
        self.entry
    }

    /// The exit threshold (standard deviations).
    pub fn exit(&self) -> f64 {
        self.exit
    }

    /// The current position.
    pub fn position(&self) -> Position {
        self.position
    }

    /// The ratios held, oldest first.
    pub fn ratios(&self) -> &[f64] {
        self.ratios.as_slice()
    }

    /// Feed candles of input `input` (0 = a, 1 = b; open times and closes of the
    /// same length, ascending) and push signals to `out`. With `warmup`, completed
    /// pairs only fill the ratio window.
    pub fn on_candles(
        &mut self,
        input: u32,
        open_time: &[i64],
        close: &[f64],
        warmup: bool,
        out: &mut Vec<Signal>,
    ) -> Result<(), String> {
        if input > 1 {
            return Err(format!(
                "input {input} does not exist: this strategy has two inputs (0 = a, 1 = b)"
            ));
        }
        if open_time.len() != close.len() {
            return Err(format!(
                "malformed candle columns: {} open times but {} closes",
                open_time.len(),
                close.len()
            ));
        }
        let k = input as usize;
        for (&t, &c) in open_time.iter().zip(close) {
            self.latest[k] = Some((t, c));
            let Some((other_t, other_c)) = self.latest[1 - k] else {
                continue;
            };
            if other_t != t {
                continue;
            }
            let (ca, cb) = if k == 0 { (c, other_c) } else { (other_c, c) };
            let r = ca / cb;
            self.ratios.push(r);
            if warmup || !self.ratios.is_full() {
                continue;
            }
            if let Some(z) = self.z(r) {
                self.decide(t, input, z, out);
            }
        }
        Ok(())
    }

    /// The z-score of `r` against the full window (`None` if the window is flat).
    fn z(&self, r: f64) -> Option<f64> {
        let w = self.ratios.as_slice();
        let mut sum = 0.0f64;
        for &x in w {
            sum += x;
        }
        let mean = sum / self.window_f;
        let mut sq = 0.0f64;
        for &x in w {
            let d = x - mean;
            sq += d * d;
        }
        let std = (sq / self.window_f).sqrt();
        (std > 0.0).then(|| (r - mean) / std)
    }

    fn decide(&mut self, time: i64, input: u32, z: f64, out: &mut Vec<Signal>) {
        let (entry, exit) = (self.entry, self.exit);
        let (action, position, note) = match self.position {
            Position::Flat if z > entry => (
                "short-spread",
                Position::Short,
                format!("z {z:.4} > {entry}: short a, long b"),
            ),
            Position::Flat if z < -entry => (
                "long-spread",
                Position::Long,
                format!("z {z:.4} < -{entry}: long a, short b"),
            ),
            Position::Long | Position::Short if z.abs() < exit => (
                "exit",
                Position::Flat,
                format!("|z| {:.4} < {exit}: close the spread", z.abs()),
            ),
            _ => return,
        };
        self.position = position;
        out.push(Signal {
            time,
            input,
            action: action.to_owned(),
            value: z,
            note,
        });
    }
}

impl Strategy for Spread {
    fn init(config: &[(String, String)]) -> Result<(Self, Vec<Input>), String> {
        let c = Config::new(config, &["a", "b", "window", "entry", "exit"])?;
        let a = c.node("a", "ohlcv:binance:BTC/USDT:1m")?;
        let b = c.node("b", "ohlcv:binance:ETH/USDT:1m")?;
        let window = c.u32_in("window", 60, 2, MAX_WINDOW)?;
        let entry = c.f64("entry", 2.0)?;
        let exit = c.f64("exit", 0.5)?;
        let s = Spread::new(window as usize, entry, exit)?;
        Ok((
            s,
            vec![
                Input {
                    node_id: a.to_string(),
                    warmup: window,
                },
                Input {
                    node_id: b.to_string(),
                    warmup: window,
                },
            ],
        ))
    }

    fn on_candles(
        &mut self,
        input: u32,
        batch: &Columns,
        warmup: bool,
        _history: &mut dyn History,
        out: &mut Vec<Signal>,
    ) -> Result<(), String> {
        batch.check()?;
        Spread::on_candles(self, input, &batch.open_time, &batch.close, warmup, out)
    }

    /// Runs of the batch straight from its columns (no per-run copy): the two inputs
    /// usually alternate row by row.
    fn on_batch(
        &mut self,
        batch: Batch,
        warmup: bool,
        _history: &mut dyn History,
        out: &mut Vec<Signal>,
    ) -> Result<(), String> {
        let (t, c) = (&batch.candles.open_time, &batch.candles.close);
        for (input, rows) in batch.runs() {
            Spread::on_candles(self, input, &t[rows.clone()], &c[rows], warmup, out)?;
        }
        Ok(())
    }
}

#[cfg(target_arch = "wasm32")]
mod component {
    //! The `strategy-node` component export.
    seamless_strategy_kit::export_strategy!(super::Spread, "../../wit");
}

#[cfg(test)]
mod tests;
