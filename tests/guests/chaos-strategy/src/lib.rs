//! `chaos-strategy`: a test-only strategy node that misbehaves on demand, so the
//! host's sandbox (deadlines, memory caps, trap handling, history bounds, input
//! checks) can be tested against a real strategy component.
//!
//! Config: `node` (default `ohlcv:binance:BTC/USDT:1m`), `mode` (default `none`),
//! `at` (open time in ms, default 0). One input, warm-up 5 in every mode.
//!
//! Every non-warm-up candle emits `tick` (value = close, time = open time), so a
//! test sees exactly which candles were delivered. On top of that, by `mode`:
//! - `loop`, `oom`, `panic`, `error`: when a non-warm-up batch holds a candle
//!   opening at `at`, before anything else: spin forever; allocate (and touch)
//!   memory until allocation fails; `panic!("chaos at {at}")`; or return
//!   `Err("chaos error at {at}")`.
//! - `peek`: for each non-warm-up batch whose last candle opens at `t`, call
//!   `history::range(0, [t - 10 tf, t + 10 tf))` and
//!   `history::last(0, 5, t + 10 tf)` (`tf` from the node's timeframe, units
//!   s/m/h/d/w) and emit `peek` at `t` with value = the largest open time either
//!   returned (-1 if none) and note `range=N last=M`. A history error fails the
//!   batch.
//! - `bad-input`: for each non-warm-up batch whose last candle opens at `t`, call
//!   `history::range(7, [t - 10 tf, t))` and emit `history-error` at `t` with the
//!   error message as note (or `history-ok` with `candles=N` if the host answered).
//!
//! Built for wasm32 only: natively the crate is empty.
#![cfg(target_arch = "wasm32")]

use std::hint::black_box;

use seamless_strategy_kit::{Columns, Config, History, Input, Signal, Strategy};

/// How to misbehave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    None,
    Loop,
    Oom,
    Panic,
    Error,
    Peek,
    BadInput,
}

struct Chaos {
    mode: Mode,
    at: i64,
    /// The node's timeframe in ms (needed by `peek` and `bad-input` only).
    tf_ms: i64,
}

impl Strategy for Chaos {
    fn init(config: &[(String, String)]) -> Result<(Self, Vec<Input>), String> {
        let c = Config::new(config, &["node", "mode", "at"])?;
        let node = c.node("node", seamless_strategy_kit::DEFAULT_NODE)?;
        let mode = match c.choice(
            "mode",
            &["none", "loop", "oom", "panic", "error", "peek", "bad-input"],
            "none",
        )? {
            "loop" => Mode::Loop,
            "oom" => Mode::Oom,
            "panic" => Mode::Panic,
            "error" => Mode::Error,
            "peek" => Mode::Peek,
            "bad-input" => Mode::BadInput,
            _ => Mode::None,
        };
        let at = c.i64("at", 0)?;
        let tf_ms = match node.timeframe_ms() {
            Some(ms) => ms,
            None if matches!(mode, Mode::Peek | Mode::BadInput) => {
                return Err(format!(
                    "config key `node`: timeframe `{}` has no fixed length, which mode `peek`/`bad-input` needs; use one in s, m, h, d or w, e.g. 1m",
                    node.timeframe
                ));
            }
            None => 0,
        };
        Ok((
            Chaos { mode, at, tf_ms },
            vec![Input {
                node_id: node.to_string(),
                warmup: 5,
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
        if warmup {
            return Ok(());
        }
        let at = self.at;
        if batch.open_time.contains(&at) {
            match self.mode {
                Mode::Loop => spin(),
                Mode::Oom => exhaust_memory(),
                Mode::Panic => panic!("chaos at {at}"),
                Mode::Error => return Err(format!("chaos error at {at}")),
                _ => {}
            }
        }
        for (&t, &c) in batch.open_time.iter().zip(&batch.close) {
            out.push(signal(t, input, "tick", c, String::new()));
        }
        let Some(&t) = batch.open_time.last() else {
            return Ok(());
        };
        let span = self.tf_ms.saturating_mul(10);
        match self.mode {
            Mode::Peek => {
                let range = history
                    .range(0, t.saturating_sub(span), t.saturating_add(span))
                    .map_err(|e| format!("chaos peek: history range failed: {e}"))?;
                let last = history
                    .last(0, 5, t.saturating_add(span))
                    .map_err(|e| format!("chaos peek: history last failed: {e}"))?;
                let newest = range
                    .open_time
                    .iter()
                    .chain(&last.open_time)
                    .copied()
                    .max()
                    .map_or(-1.0, |m| m as f64);
                let note = format!("range={} last={}", range.len(), last.len());
                out.push(signal(t, input, "peek", newest, note));
            }
            Mode::BadInput => {
                let s = match history.range(7, t.saturating_sub(span), t) {
                    Err(e) => signal(t, input, "history-error", -1.0, e),
                    Ok(c) => signal(
                        t,
                        input,
                        "history-ok",
                        c.len() as f64,
                        format!("candles={}", c.len()),
                    ),
                };
                out.push(s);
            }
            _ => {}
        }
        Ok(())
    }
}

fn signal(time: i64, input: u32, action: &str, value: f64, note: String) -> Signal {
    Signal {
        time,
        input,
        action: action.to_owned(),
        value,
        note,
    }
}

/// Spin forever (until the host's deadline stops the instance).
fn spin() -> ! {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Allocate and touch 16 MiB blocks until allocation fails (the host's memory cap
/// turns that into a trap).
fn exhaust_memory() -> ! {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut v = vec![1u8; 16 << 20];
        for i in (0..v.len()).step_by(4096) {
            v[i] = black_box(2);
        }
        blocks.push(black_box(v));
    }
}

seamless_strategy_kit::export_strategy!(Chaos, "../../../wit");
