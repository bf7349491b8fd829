//! `sma-cross`: a moving-average crossover strategy node.
//!
//! Config: `node` (default `ohlcv:binance:BTC/USDT:1m`), or `nodes` (comma-separated
//! node ids: one independent crossover per node), `fast` (default 10), `slow` (default
//! 30), with `1 <= fast < slow`. One input per node, warm-up `slow` candles each.
//!
//! Semantics (exact; the host's tests recompute them independently): the last
//! `slow` closes are kept. After candle `i`'s close is added, once `slow` closes
//! have been seen, `fast_i` = (sum of the last `fast` closes, oldest first, from
//! `0.0`) / `fast`, `slow_i` likewise over the last `slow`, and
//! `d_i = fast_i - slow_i`. When `d_{i-1}` exists, `d_{i-1} <= 0 && d_i > 0` emits
//! `buy` and `d_{i-1} >= 0 && d_i < 0` emits `sell`, with `value` = close,
//! `time` = open time, `input` = the node's index (0 for `node`). Warm-up batches update the state (including
//! `d`) but emit nothing.
//!
//! The core, [`SmaCross`], is plain Rust on slices (natively callable for tests
//! and benchmarks); [`SmaCrossNode`] holds one per input and is the strategy the
//! `strategy-node` export (compiled for `wasm32` only) configures.

use seamless_strategy_kit::{Batch, Columns, Config, History, Input, Ring, Signal, Strategy};

/// Largest `slow` accepted (the state holds `2 * slow` closes).
pub const MAX_PERIOD: u32 = 1_000_000;

/// The crossover state: the last `slow` closes and the previous difference.
#[derive(Clone, Debug)]
pub struct SmaCross {
    fast: usize,
    slow: usize,
    fast_f: f64,
    slow_f: f64,
    closes: Ring<f64>,
    prev_d: Option<f64>,
    /// The input index its signals carry.
    input: u32,
    note_buy: String,
    note_sell: String,
}

impl SmaCross {
    /// A crossover of SMA `fast` over SMA `slow`; needs `1 <= fast < slow`.
    pub fn new(fast: usize, slow: usize) -> Result<Self, String> {
        if fast == 0 {
            return Err("config key `fast` must be at least 1; e.g. fast=10".to_owned());
        }
        if fast >= slow {
            return Err(format!(
                "config key `fast` ({fast}) must be smaller than `slow` ({slow}); e.g. fast=10 slow=30"
            ));
        }
        Ok(SmaCross {
            fast,
            slow,
            fast_f: fast as f64,
            slow_f: slow as f64,
            closes: Ring::new(slow),
            prev_d: None,
            input: 0,
            note_buy: format!("sma{fast} crossed above sma{slow}"),
            note_sell: format!("sma{fast} crossed below sma{slow}"),
        })
    }

    /// The `fast` period.
    pub fn fast(&self) -> usize {
        self.fast
    }

    /// The `slow` period.
    pub fn slow(&self) -> usize {
        self.slow
    }

    /// Feed candles (open times and closes, same length, ascending) and push the
    /// crossings to `out` (`input` 0 unless this crossover follows another input of a
    /// [`SmaCrossNode`]). With `warmup` the state advances and nothing
    /// is pushed. No allocation per candle (only per signal).
    ///
    /// # Panics
    /// If the slices differ in length.
    pub fn on_candles(
        &mut self,
        open_time: &[i64],
        close: &[f64],
        warmup: bool,
        out: &mut Vec<Signal>,
    ) {
        assert_eq!(
            open_time.len(),
            close.len(),
            "open_time and close differ in length"
        );
        for (&t, &c) in open_time.iter().zip(close) {
            self.step(t, c, warmup, out);
        }
    }

    /// Feed one candle (see [`SmaCross::on_candles`]).
    #[inline(always)]
    pub fn step(&mut self, t: i64, c: f64, warmup: bool, out: &mut Vec<Signal>) {
        self.closes.push(c);
        if !self.closes.is_full() {
            return;
        }
        let (older, recent) = self.closes.as_slice().split_at(self.slow - self.fast);
        // Two independent chains: the slow sum over all, the fast sum over the
        // last `fast`; both strictly oldest → newest from 0.0.
        let s = add_in_order(0.0, older);
        let (s, f) = add_both_in_order(s, 0.0, recent);
        let d = f / self.fast_f - s / self.slow_f;
        if let Some(p) = self.prev_d.replace(d)
            && !warmup
        {
            if p <= 0.0 && d > 0.0 {
                out.push(self.signal(t, "buy", c, true));
            } else if p >= 0.0 && d < 0.0 {
                out.push(self.signal(t, "sell", c, false));
            }
        }
    }

    #[cold]
    fn signal(&self, time: i64, action: &str, close: f64, up: bool) -> Signal {
        Signal {
            time,
            input: self.input,
            action: action.to_owned(),
            value: close,
            note: if up { &self.note_buy } else { &self.note_sell }.clone(),
        }
    }
}

/// The configured strategy: one [`SmaCross`] per input.
#[derive(Clone, Debug)]
pub struct SmaCrossNode {
    per_input: Vec<SmaCross>,
}

impl SmaCrossNode {
    /// The crossover of `input`, or an error naming the inputs there are.
    fn of(&mut self, input: u32) -> Result<&mut SmaCross, String> {
        let n = self.per_input.len();
        self.per_input.get_mut(input as usize).ok_or_else(|| {
            format!("input {input} does not exist: this strategy has {n} input(s) (0..{n})")
        })
    }
}

impl Strategy for SmaCrossNode {
    fn init(config: &[(String, String)]) -> Result<(Self, Vec<Input>), String> {
        let c = Config::new(config, &["node", "nodes", "fast", "slow"])?;
        let mut nodes = c.nodes("nodes")?;
        match (c.raw("node"), nodes.is_empty()) {
            (Some(_), false) => {
                return Err(
                    "config keys `node` and `nodes` both given: use `node` for one input or `nodes` for several".to_owned(),
                );
            }
            (_, true) => nodes.push(c.node("node", seamless_strategy_kit::DEFAULT_NODE)?),
            (None, false) => {}
        }
        let fast = c.u32_in("fast", 10, 1, MAX_PERIOD)?;
        let slow = c.u32_in("slow", 30, 2, MAX_PERIOD)?;
        let one = SmaCross::new(fast as usize, slow as usize)?;
        let inputs = nodes
            .iter()
            .map(|n| Input {
                node_id: n.to_string(),
                warmup: slow,
            })
            .collect();
        let per_input = (0..nodes.len())
            .map(|i| SmaCross {
                input: i as u32,
                ..one.clone()
            })
            .collect();
        Ok((SmaCrossNode { per_input }, inputs))
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
        self.of(input)?
            .on_candles(&batch.open_time, &batch.close, warmup, out);
        Ok(())
    }

    /// Rows straight from the batch's columns, each to its input's crossover (no
    /// per-run copy; one input is one loop).
    fn on_batch(
        &mut self,
        batch: Batch,
        warmup: bool,
        _history: &mut dyn History,
        out: &mut Vec<Signal>,
    ) -> Result<(), String> {
        let (t, c) = (&batch.candles.open_time, &batch.candles.close);
        if let [one] = self.per_input.as_mut_slice() {
            if let Some(bad) = batch.inputs.iter().find(|i| **i != 0) {
                return Err(format!(
                    "input {bad} does not exist: this strategy has 1 input(s) (0..1)"
                ));
            }
            one.on_candles(t, c, warmup, out);
            return Ok(());
        }
        for ((&input, &t), &c) in batch.inputs.iter().zip(t).zip(c) {
            self.of(input)?.step(t, c, warmup, out);
        }
        Ok(())
    }
}

/// `acc + xs[0] + xs[1] + …`, strictly in order (so the result is bit-identical to the
/// plain loop), unrolled by 8: in WASM every loop back-edge carries the sandbox's
/// deadline (epoch) check, so fewer back-edges are measurably faster.
#[inline(always)]
fn add_in_order(mut acc: f64, xs: &[f64]) -> f64 {
    let mut chunks = xs.chunks_exact(8);
    for c in &mut chunks {
        acc += c[0];
        acc += c[1];
        acc += c[2];
        acc += c[3];
        acc += c[4];
        acc += c[5];
        acc += c[6];
        acc += c[7];
    }
    // The remainder (0–7 values) straight-line: a loop here would add a back-edge, and so
    // an epoch check, per value.
    let r = chunks.remainder();
    match r.len() {
        0 => {}
        1 => acc += r[0],
        2 => {
            acc += r[0];
            acc += r[1];
        }
        3 => {
            acc += r[0];
            acc += r[1];
            acc += r[2];
        }
        4 => {
            acc += r[0];
            acc += r[1];
            acc += r[2];
            acc += r[3];
        }
        5 => {
            acc += r[0];
            acc += r[1];
            acc += r[2];
            acc += r[3];
            acc += r[4];
        }
        6 => {
            acc += r[0];
            acc += r[1];
            acc += r[2];
            acc += r[3];
            acc += r[4];
            acc += r[5];
        }
        _ => {
            acc += r[0];
            acc += r[1];
            acc += r[2];
            acc += r[3];
            acc += r[4];
            acc += r[5];
            acc += r[6];
        }
    }
    acc
}

/// Two in-order sums over the same values (see [`add_in_order`]).
#[inline(always)]
fn add_both_in_order(mut a: f64, mut b: f64, xs: &[f64]) -> (f64, f64) {
    let mut chunks = xs.chunks_exact(4);
    for c in &mut chunks {
        a += c[0];
        b += c[0];
        a += c[1];
        b += c[1];
        a += c[2];
        b += c[2];
        a += c[3];
        b += c[3];
    }
    // The remainder (0–3 values) straight-line, as in `add_in_order`.
    let r = chunks.remainder();
    if let Some(&x) = r.first() {
        a += x;
        b += x;
    }
    if let Some(&x) = r.get(1) {
        a += x;
        b += x;
    }
    if let Some(&x) = r.get(2) {
        a += x;
        b += x;
    }
    (a, b)
}

#[cfg(target_arch = "wasm32")]
mod component {
    //! The `strategy-node` component export.
    seamless_strategy_kit::export_strategy!(super::SmaCrossNode, "../../wit");
}

#[cfg(test)]
mod tests;
