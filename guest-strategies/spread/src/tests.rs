//! Unit tests: pairing (ties, gaps, either arrival order), the z-score against a
//! naive reference, position changes, warm-up and configuration errors.

use super::*;
use seamless_strategy_kit::NoHistory;

fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Feed one candle.
fn feed(s: &mut Spread, k: u32, t: i64, c: f64, warmup: bool) -> Vec<Signal> {
    let mut out = Vec::new();
    s.on_candles(k, &[t], &[c], warmup, &mut out).unwrap();
    out
}

fn simple(out: &[Signal]) -> Vec<(i64, u32, &str)> {
    out.iter()
        .map(|s| (s.time, s.input, s.action.as_str()))
        .collect()
}

#[test]
fn hand_example() {
    // b = 100 throughout, so r = a / 100 exactly.
    let mut s = Spread::new(3, 1.2, 0.5).unwrap();
    let mut out = Vec::new();
    for (t, a) in [(0, 100.0), (1, 100.0), (2, 200.0), (3, 150.0), (4, 50.0)] {
        out.extend(feed(&mut s, 0, t, a, false));
        out.extend(feed(&mut s, 1, t, 100.0, false));
    }
    assert_eq!(
        simple(&out),
        vec![
            (2, 1, "short-spread"),
            (3, 1, "exit"),
            (4, 1, "long-spread")
        ]
    );
    // [1, 1, 2]: mean 4/3, std sqrt(2/9) → z = sqrt(2).
    assert!(
        (out[0].value - 2f64.sqrt()).abs() < 1e-12,
        "{}",
        out[0].value
    );
    assert_eq!(out[1].value, 0.0); // [1, 2, 1.5]: r is the mean
    // [2, 1.5, 0.5]: mean 4/3, var 7/18.
    let want = (0.5 - 4.0 / 3.0) / (7.0f64 / 18.0).sqrt();
    assert!((out[2].value - want).abs() < 1e-12, "{}", out[2].value);
    assert_eq!(s.position(), Position::Long);
    assert_eq!(s.ratios(), &[2.0, 1.5, 0.5]);
}

#[test]
fn pair_completes_on_the_later_candle_either_way() {
    let mut s = Spread::new(2, 0.5, 0.1).unwrap();
    // b first, then a: the pair completes on input 0.
    assert!(feed(&mut s, 1, 0, 100.0, false).is_empty());
    assert!(feed(&mut s, 0, 0, 100.0, false).is_empty());
    assert!(feed(&mut s, 1, 1, 100.0, false).is_empty());
    let out = feed(&mut s, 0, 1, 110.0, false);
    // window 2: z of the newer ratio is +1.
    assert_eq!(simple(&out), vec![(1, 0, "short-spread")]);
    assert_eq!(out[0].value, 1.0);
}

#[test]
fn gaps_do_not_pair() {
    let mut s = Spread::new(2, 0.5, 0.1).unwrap();
    feed(&mut s, 0, 0, 100.0, false);
    feed(&mut s, 1, 0, 50.0, false); // pair at 0
    feed(&mut s, 0, 1, 100.0, false); // a only at 1
    feed(&mut s, 1, 2, 50.0, false); // b only at 2: latest a is at 1
    assert_eq!(s.ratios(), &[2.0]);
    feed(&mut s, 0, 3, 100.0, false);
    feed(&mut s, 1, 3, 40.0, false); // pair at 3
    assert_eq!(s.ratios(), &[2.0, 2.5]);
}

#[test]
fn flat_window_gives_no_z() {
    let mut s = Spread::new(5, 1.0, 0.5).unwrap();
    for t in 0..20 {
        feed(&mut s, 0, t, 3.0, false);
        assert!(feed(&mut s, 1, t, 1.5, false).is_empty());
    }
}

/// Deterministic random walk with occasional missing candles.
fn series(n: usize, seed: u64, start: f64) -> Vec<(i64, f64)> {
    let mut x = seed;
    let mut p = start;
    let mut out = Vec::new();
    for i in 0..n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let u = (x >> 11) as f64 / (1u64 << 53) as f64;
        p *= 1.0 + (u - 0.5) * 0.01;
        if !x.is_multiple_of(17) {
            out.push((i as i64 * 60_000, (p * 100.0f64).round() / 100.0));
        }
    }
    out
}

/// The semantics written out directly: pairs are the common open times.
fn reference(
    a: &[(i64, f64)],
    b: &[(i64, f64)],
    window: usize,
    entry: f64,
    exit: f64,
    live_from: i64,
) -> Vec<(i64, &'static str, u64)> {
    let mut ratios = Vec::new();
    let mut out = Vec::new();
    let mut pos = 0i8;
    for &(t, ca) in a {
        let Some(&(_, cb)) = b.iter().find(|(tb, _)| *tb == t) else {
            continue;
        };
        ratios.push(ca / cb);
        if ratios.len() < window || t < live_from {
            continue;
        }
        let w = &ratios[ratios.len() - window..];
        let mut sum = 0.0;
        for &r in w {
            sum += r;
        }
        let mean = sum / window as f64;
        let mut sq = 0.0;
        for &r in w {
            sq += (r - mean) * (r - mean);
        }
        let std = (sq / window as f64).sqrt();
        if std <= 0.0 {
            continue;
        }
        let z = (ca / cb - mean) / std;
        let action = match pos {
            0 if z > entry => {
                pos = -1;
                "short-spread"
            }
            0 if z < -entry => {
                pos = 1;
                "long-spread"
            }
            _ if pos != 0 && z.abs() < exit => {
                pos = 0;
                "exit"
            }
            _ => continue,
        };
        out.push((t, action, z.to_bits()));
    }
    out
}

/// Deliver `a` and `b` merged by open time (ties: a first), one candle per call,
/// warm-up for open times before `live_from`.
fn run(s: &mut Spread, a: &[(i64, f64)], b: &[(i64, f64)], live_from: i64) -> Vec<Signal> {
    let mut merged: Vec<(i64, u32, f64)> = a.iter().map(|&(t, c)| (t, 0, c)).collect();
    merged.extend(b.iter().map(|&(t, c)| (t, 1, c)));
    merged.sort_by_key(|&(t, k, _)| (t, k));
    let mut out = Vec::new();
    for (t, k, c) in merged {
        out.extend(feed(s, k, t, c, t < live_from));
    }
    out
}

#[test]
fn matches_reference_exactly() {
    let a = series(4000, 1, 40_000.0);
    let b = series(4000, 2, 2_000.0);
    for (window, entry, exit, live_from) in [
        (60, 2.0, 0.5, 0),
        (20, 1.5, 0.2, 600_000 * 60),
        (3, 1.0, 0.9, 0),
    ] {
        let mut s = Spread::new(window, entry, exit).unwrap();
        let got = run(&mut s, &a, &b, live_from);
        let want = reference(&a, &b, window, entry, exit, live_from);
        assert!(want.len() > 5, "window {window}: {} signals", want.len());
        let got: Vec<(i64, &str, u64)> = got
            .iter()
            .map(|g| (g.time, g.action.as_str(), g.value.to_bits()))
            .collect();
        assert_eq!(got, want, "window {window}");
    }
}

#[test]
fn warmup_fills_the_window_silently() {
    let mut s = Spread::new(3, 1.2, 0.5).unwrap();
    for (t, a) in [(0, 100.0), (1, 100.0), (2, 200.0)] {
        assert!(feed(&mut s, 0, t, a, true).is_empty());
        assert!(feed(&mut s, 1, t, 100.0, true).is_empty());
    }
    assert_eq!(s.position(), Position::Flat);
    assert_eq!(s.ratios(), &[1.0, 1.0, 2.0]);
    // The first live pair is scored against the warm-up ratios: [1, 2, 3].
    feed(&mut s, 0, 3, 300.0, false);
    let out = feed(&mut s, 1, 3, 100.0, false);
    assert_eq!(simple(&out), vec![(3, 1, "short-spread")]);
}

#[test]
fn bad_input_and_columns() {
    let mut s = Spread::new(3, 1.0, 0.5).unwrap();
    let mut out = Vec::new();
    let e = s.on_candles(2, &[0], &[1.0], false, &mut out).unwrap_err();
    assert!(e.contains("input 2 does not exist"), "{e}");
    assert!(s.on_candles(0, &[0, 1], &[1.0], false, &mut out).is_err());
    let mut c = Columns::default();
    c.push(0, 1.0, 1.0, 1.0, 1.0, 1.0);
    c.volume.clear();
    assert!(Strategy::on_candles(&mut s, 0, &c, false, &mut NoHistory, &mut out).is_err());
}

#[test]
fn init_defaults_and_errors() {
    let (s, inputs) = <Spread as Strategy>::init(&[]).unwrap();
    assert_eq!((s.window(), s.entry(), s.exit()), (60, 2.0, 0.5));
    assert_eq!(
        inputs,
        vec![
            Input {
                node_id: "ohlcv:binance:BTC/USDT:1m".into(),
                warmup: 60
            },
            Input {
                node_id: "ohlcv:binance:ETH/USDT:1m".into(),
                warmup: 60
            },
        ]
    );
    let (s, inputs) = <Spread as Strategy>::init(&pairs(&[
        ("a", "ohlcv:okx:SOL/USDT:5m"),
        ("window", "10"),
        ("entry", "1.5"),
        ("exit", "0"),
    ]))
    .unwrap();
    assert_eq!((s.window(), s.entry(), s.exit()), (10, 1.5, 0.0));
    assert_eq!(inputs[0].node_id, "ohlcv:okx:SOL/USDT:5m");
    assert_eq!(inputs[1].warmup, 10);

    let err = |kv: &[(&str, &str)]| <Spread as Strategy>::init(&pairs(kv)).unwrap_err();
    assert!(err(&[("window", "1")]).contains("`window` expects a whole number from 2"));
    assert!(err(&[("entry", "0")]).contains("`entry` must be a number above 0"));
    assert!(err(&[("entry", "two")]).contains("`entry` expects a finite number, got `two`"));
    assert!(err(&[("exit", "3")]).contains("`exit` must be from 0 to `entry` (2)"));
    assert!(err(&[("exit", "-0.1")]).contains("`exit`"));
    assert!(err(&[("b", "ohlcv:binance:ETHUSDT:1m")]).contains("config key `b`"));
    assert_eq!(
        err(&[("c", "x")]),
        "unknown config key `c`; valid keys are: a, b, window, entry, exit"
    );
}
