//! Unit tests: exact crossing semantics against a naive reference, ties at zero,
//! warm-up, batch splitting and configuration errors.

use super::*;
use seamless_strategy_kit::{Batch, NoHistory};

fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Deterministic pseudo-random walk of closes.
fn walk(n: usize, seed: u64) -> Vec<f64> {
    let mut x = seed;
    let mut p = 100.0;
    (0..n)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (x >> 11) as f64 / (1u64 << 53) as f64;
            p += (u - 0.5) * 2.0;
            (p * 100.0f64).round() / 100.0
        })
        .collect()
}

/// The semantics written out directly over the whole history.
fn reference(fast: usize, slow: usize, t: &[i64], c: &[f64]) -> Vec<(i64, &'static str, f64)> {
    let sma = |end: usize, n: usize| {
        let mut s = 0.0;
        for &x in &c[end + 1 - n..=end] {
            s += x;
        }
        s / n as f64
    };
    let mut out = Vec::new();
    let mut prev: Option<f64> = None;
    for i in 0..c.len() {
        if i + 1 < slow {
            continue;
        }
        let d = sma(i, fast) - sma(i, slow);
        if let Some(p) = prev {
            if p <= 0.0 && d > 0.0 {
                out.push((t[i], "buy", c[i]));
            } else if p >= 0.0 && d < 0.0 {
                out.push((t[i], "sell", c[i]));
            }
        }
        prev = Some(d);
    }
    out
}

fn run(s: &mut SmaCross, t: &[i64], c: &[f64], warmup: bool) -> Vec<Signal> {
    let mut out = Vec::new();
    s.on_candles(t, c, warmup, &mut out);
    out
}

#[test]
fn matches_reference_exactly() {
    for (fast, slow, seed) in [(10, 30, 1), (3, 7, 2), (1, 2, 3), (29, 30, 4)] {
        let c = walk(5000, seed);
        let t: Vec<i64> = (0..c.len() as i64)
            .map(|i| 1_700_000_000_000 + i * 60_000)
            .collect();
        let mut s = SmaCross::new(fast, slow).unwrap();
        let got = run(&mut s, &t, &c, false);
        let want = reference(fast, slow, &t, &c);
        assert!(!want.is_empty(), "the walk should cross for {fast}/{slow}");
        assert_eq!(got.len(), want.len(), "{fast}/{slow}");
        for (g, (wt, wa, wv)) in got.iter().zip(&want) {
            assert_eq!((g.time, g.action.as_str(), g.input), (*wt, *wa, 0));
            assert_eq!(g.value.to_bits(), wv.to_bits());
        }
    }
}

#[test]
fn ties_at_zero_signal_once() {
    // fast=1, slow=2: d_i = c_i - (c_{i-1} + c_i) / 2, the sign of the last change.
    let c = [10.0, 9.0, 9.0, 10.0, 10.0, 9.0, 9.0, 9.0];
    let t: Vec<i64> = (0..c.len() as i64).collect();
    let mut s = SmaCross::new(1, 2).unwrap();
    let got = run(&mut s, &t, &c, false);
    let got: Vec<(i64, &str, f64)> = got
        .iter()
        .map(|g| (g.time, g.action.as_str(), g.value))
        .collect();
    // d: -, -0.5, 0, 0.5 (buy: 0 <= 0 → > 0), 0, -0.5 (sell: 0 >= 0 → < 0), 0, 0.
    assert_eq!(got, vec![(3, "buy", 10.0), (5, "sell", 9.0)]);
}

#[test]
fn notes_name_the_periods() {
    let c = [1.0, 2.0, 3.0, 2.0, 1.0, 0.5];
    let t = [0, 1, 2, 3, 4, 5];
    let mut s = SmaCross::new(1, 3).unwrap();
    let got = run(&mut s, &t, &c, false);
    assert_eq!(got[0].action, "sell");
    assert_eq!(got[0].note, "sma1 crossed below sma3");
    let mut s = SmaCross::new(1, 3).unwrap();
    let got = run(&mut s, &t[..4], &[3.0, 2.0, 1.0, 2.0], false);
    assert_eq!(got[0].note, "sma1 crossed above sma3");
}

#[test]
fn needs_slow_plus_one_closes() {
    // A crossing can only be seen from the (slow+1)-th close on.
    let mut s = SmaCross::new(1, 2).unwrap();
    assert!(run(&mut s, &[0, 1], &[1.0, 2.0], false).is_empty());
    let got = run(&mut s, &[2], &[1.0], false);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].action, "sell");
}

#[test]
fn warmup_updates_state_but_is_silent() {
    let c = walk(600, 7);
    let t: Vec<i64> = (0..600).collect();
    let want = reference(10, 30, &t, &c);
    let split = want[0].0 as usize; // the first crossing is delivered as warm-up
    let mut s = SmaCross::new(10, 30).unwrap();
    assert!(run(&mut s, &t[..=split], &c[..=split], true).is_empty());
    let got = run(&mut s, &t[split + 1..], &c[split + 1..], false);
    let got: Vec<i64> = got.iter().map(|g| g.time).collect();
    let want: Vec<i64> = want[1..].iter().map(|w| w.0).collect();
    assert_eq!(got, want);

    // A crossing right at the first live candle is found via the warm-up's d.
    let second = want[0] as usize;
    let mut s = SmaCross::new(10, 30).unwrap();
    run(&mut s, &t[..second], &c[..second], true);
    let got = run(&mut s, &t[second..=second], &c[second..=second], false);
    assert_eq!(got.len(), 1);
}

#[test]
fn batch_boundaries_do_not_matter() {
    let c = walk(2000, 11);
    let t: Vec<i64> = (0..2000).collect();
    let mut whole = SmaCross::new(5, 20).unwrap();
    let all = run(&mut whole, &t, &c, false);
    let mut pieces = SmaCross::new(5, 20).unwrap();
    let mut got = Vec::new();
    let mut i = 0;
    for n in [1usize, 2, 3, 17, 64].iter().cycle() {
        if i >= c.len() {
            break;
        }
        let j = (i + n).min(c.len());
        got.extend(run(&mut pieces, &t[i..j], &c[i..j], false));
        i = j;
    }
    assert_eq!(got, all);
}

#[test]
fn constructor_checks_periods() {
    assert!(
        SmaCross::new(0, 5)
            .unwrap_err()
            .contains("`fast` must be at least 1")
    );
    let e = SmaCross::new(5, 5).unwrap_err();
    assert!(
        e.contains("`fast` (5) must be smaller than `slow` (5)"),
        "{e}"
    );
    assert!(SmaCross::new(6, 5).is_err());
    let s = SmaCross::new(2, 5).unwrap();
    assert_eq!((s.fast(), s.slow()), (2, 5));
}

#[test]
fn init_defaults_and_errors() {
    let (s, inputs) = <SmaCrossNode as Strategy>::init(&[]).unwrap();
    assert_eq!((s.per_input[0].fast(), s.per_input[0].slow()), (10, 30));
    assert_eq!(
        inputs,
        vec![Input {
            node_id: "ohlcv:binance:BTC/USDT:1m".into(),
            warmup: 30
        }]
    );
    let (_, inputs) = <SmaCrossNode as Strategy>::init(&pairs(&[
        ("node", "ohlcv:bybit:ETH/USDT:5m"),
        ("fast", "3"),
        ("slow", "8"),
    ]))
    .unwrap();
    assert_eq!(inputs[0].node_id, "ohlcv:bybit:ETH/USDT:5m");
    assert_eq!(inputs[0].warmup, 8);

    let err = |kv: &[(&str, &str)]| <SmaCrossNode as Strategy>::init(&pairs(kv)).unwrap_err();
    assert_eq!(
        err(&[("period", "3")]),
        "unknown config key `period`; valid keys are: node, nodes, fast, slow"
    );
    assert!(err(&[("fast", "0")]).contains("`fast`"));
    assert!(err(&[("fast", "30")]).contains("must be smaller than `slow` (30)"));
    assert!(err(&[("fast", "x")]).contains("`fast` expects a whole number"));
    assert!(err(&[("slow", "-1")]).contains("`slow` expects a whole number"));
    assert!(err(&[("node", "BTC")]).contains("config key `node`"));
    assert!(err(&[("nodes", "ohlcv:binance:BTC/USDT:1m,x")]).contains("config key `nodes`"));
    assert!(
        err(&[(
            "nodes",
            "ohlcv:binance:BTC/USDT:1m,ohlcv:binance:BTC/USDT:1m"
        )])
        .contains("twice")
    );
    assert!(
        err(&[
            ("node", "ohlcv:binance:BTC/USDT:1m"),
            ("nodes", "ohlcv:binance:ETH/USDT:1m")
        ])
        .contains("both given")
    );
}

#[test]
fn several_nodes_are_independent_crossovers() {
    let (mut s, inputs) = <SmaCrossNode as Strategy>::init(&pairs(&[
        (
            "nodes",
            "ohlcv:binance:BTC/USDT:1m, ohlcv:binance:ETH/USDT:1m",
        ),
        ("fast", "1"),
        ("slow", "2"),
    ]))
    .unwrap();
    assert_eq!(inputs.len(), 2);
    assert_eq!(inputs[1].node_id, "ohlcv:binance:ETH/USDT:1m");
    // Input 0 rises at t=2, input 1 falls at t=2; rows interleaved as the host merges them.
    let mut b = Batch::default();
    for (t, c0, c1) in [(0, 10.0, 10.0), (1, 9.0, 11.0), (2, 10.0, 10.0)] {
        b.inputs.extend([0, 1]);
        b.candles.push(t, c0, c0, c0, c0, 1.0);
        b.candles.push(t, c1, c1, c1, c1, 1.0);
    }
    let mut out = Vec::new();
    Strategy::on_batch(&mut s, b, false, &mut NoHistory, &mut out).unwrap();
    let got: Vec<(i64, u32, &str)> = out
        .iter()
        .map(|s| (s.time, s.input, s.action.as_str()))
        .collect();
    assert_eq!(got, vec![(2, 0, "buy"), (2, 1, "sell")]);
    let mut three = Batch::default();
    three.inputs.push(2);
    three.candles.push(3, 1.0, 1.0, 1.0, 1.0, 1.0);
    let e = Strategy::on_batch(&mut s, three, false, &mut NoHistory, &mut out).unwrap_err();
    assert!(e.contains("input 2 does not exist"), "{e}");
}

#[test]
fn strategy_path_checks_input_and_columns() {
    let (mut s, _) =
        <SmaCrossNode as Strategy>::init(&pairs(&[("fast", "1"), ("slow", "2")])).unwrap();
    let mut b = Columns::default();
    for (t, c) in [(0, 10.0), (1, 9.0), (2, 10.0)] {
        b.push(t, c, c, c, c, 1.0);
    }
    let mut out = Vec::new();
    assert!(Strategy::on_candles(&mut s, 1, &b, false, &mut NoHistory, &mut out).is_err());
    Strategy::on_candles(&mut s, 0, &b, false, &mut NoHistory, &mut out).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!((out[0].time, out[0].action.as_str()), (2, "buy"));
    b.close.pop();
    assert!(Strategy::on_candles(&mut s, 0, &b, false, &mut NoHistory, &mut out).is_err());
}
