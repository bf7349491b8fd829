//! Unit tests: the channel against a naive reference, buffer vs history mode,
//! short history, history errors, and configuration errors.

use super::*;
use seamless_strategy_kit::{MemoryHistory, NoHistory};

fn pairs(kv: &[(&str, &str)]) -> Vec<(String, String)> {
    kv.iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Deterministic random walk of candles, one a minute.
fn walk(n: usize, seed: u64) -> Columns {
    let mut x = seed;
    let mut rnd = || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut c = Columns::default();
    let mut p = 100.0;
    for i in 0..n {
        let o = p;
        p += (rnd() - 0.5) * 2.0;
        let h = o.max(p) + rnd();
        let l = o.min(p) - rnd();
        c.push(1_700_000_000_000 + i as i64 * 60_000, o, h, l, p, 1.0);
    }
    c
}

/// The semantics written out directly, starting at candle `from` (flat).
fn reference(period: usize, c: &Columns, from: usize) -> Vec<(i64, &'static str, f64)> {
    let mut out = Vec::new();
    let mut pos = 0i8;
    for i in from.max(period)..c.len() {
        let upper = c.high[i - period..i]
            .iter()
            .fold(f64::MIN, |a, &b| a.max(b));
        let lower = c.low[i - period..i].iter().fold(f64::MAX, |a, &b| a.min(b));
        if c.close[i] > upper && pos != 1 {
            pos = 1;
            out.push((c.open_time[i], "long", c.close[i]));
        } else if c.close[i] < lower && pos != -1 {
            pos = -1;
            out.push((c.open_time[i], "short", c.close[i]));
        }
    }
    out
}

fn simple(out: &[Signal]) -> Vec<(i64, &str, f64)> {
    out.iter()
        .map(|s| (s.time, s.action.as_str(), s.value))
        .collect()
}

#[test]
fn buffer_matches_reference() {
    for (period, seed) in [(20, 1), (1, 2), (5, 3), (55, 4)] {
        let c = walk(3000, seed);
        let mut d = Donchian::new(period, Channel::Buffer).unwrap();
        let mut out = Vec::new();
        d.on_candles(&c, false, &mut NoHistory, &mut out).unwrap();
        let want = reference(period, &c, 0);
        assert!(
            want.len() > 4,
            "the walk should break out for period {period}"
        );
        assert_eq!(simple(&out), want, "period {period}");
        assert!(out.iter().all(|s| s.input == 0));
    }
}

#[test]
fn hand_example() {
    // period 2: channel = high/low of the two previous candles.
    let mut c = Columns::default();
    for (t, h, l, cl) in [
        (0, 10.0, 8.0, 9.0),
        (1, 11.0, 9.0, 10.0),
        (2, 12.0, 9.0, 11.5),  // upper 11 → long
        (3, 13.0, 10.0, 12.5), // upper 12 → already long, nothing
        (4, 12.0, 10.0, 11.0), // inside [9, 13]
        (5, 11.0, 9.0, 9.5),   // lower 10 → short
        (6, 10.0, 8.0, 8.5),   // lower 9 → already short
        (7, 10.0, 8.0, 10.0),  // inside [8, 11]
        (8, 12.0, 9.0, 10.5),  // upper 10 → long
    ] {
        c.push(t, cl, h, l, cl, 1.0);
    }
    let mut d = Donchian::new(2, Channel::Buffer).unwrap();
    let mut out = Vec::new();
    d.on_candles(&c, false, &mut NoHistory, &mut out).unwrap();
    assert_eq!(
        simple(&out),
        vec![(2, "long", 11.5), (5, "short", 9.5), (8, "long", 10.5)]
    );
    assert_eq!(d.position(), Position::Long);
    assert!(
        out[0].note.contains("above the 2-candle high 11"),
        "{}",
        out[0].note
    );
}

#[test]
fn warmup_only_fills_the_buffer() {
    let c = walk(1000, 5);
    let want = reference(20, &c, 300);
    let mut d = Donchian::new(20, Channel::Buffer).unwrap();
    let mut out = Vec::new();
    d.on_candles(&c.rows(280, 300), true, &mut NoHistory, &mut out)
        .unwrap();
    assert!(out.is_empty());
    assert_eq!(d.position(), Position::Flat);
    for chunk in (300..1000).step_by(7) {
        d.on_candles(&c.rows(chunk, chunk + 7), false, &mut NoHistory, &mut out)
            .unwrap();
    }
    assert_eq!(simple(&out), want);
}

#[test]
fn history_mode_equals_buffer_mode() {
    let c = walk(2000, 9);
    let (period, start) = (20, 500);
    let mut buffer = Donchian::new(period, Channel::Buffer).unwrap();
    let mut b_out = Vec::new();
    buffer
        .on_candles(
            &c.rows(start - period, start),
            true,
            &mut NoHistory,
            &mut b_out,
        )
        .unwrap();
    buffer
        .on_candles(&c.rows(start, c.len()), false, &mut NoHistory, &mut b_out)
        .unwrap();

    let mut history = Donchian::new(period, Channel::History).unwrap();
    assert_eq!(history.warmup(), 0);
    let mut host = MemoryHistory::new(vec![c.clone()]);
    let mut h_out = Vec::new();
    for i in (start..c.len()).step_by(13) {
        history
            .on_candles(&c.rows(i, i + 13), false, &mut host, &mut h_out)
            .unwrap();
    }
    assert_eq!(host.calls, c.len() - start);
    assert!(b_out.len() > 4);
    assert_eq!(h_out, b_out);
    assert_eq!(simple(&h_out), reference(period, &c, start));
}

#[test]
fn history_mode_short_history_is_skipped() {
    let c = walk(200, 13);
    let mut d = Donchian::new(20, Channel::History).unwrap();
    let mut host = MemoryHistory::new(vec![c.clone()]);
    let mut out = Vec::new();
    // From the very first candle: the first 20 have too little history.
    d.on_candles(&c, false, &mut host, &mut out).unwrap();
    assert_eq!(simple(&out), reference(20, &c, 0));
    assert!(out.iter().all(|s| s.time >= c.open_time[20]));
}

#[test]
fn history_errors_are_returned() {
    let c = walk(50, 17);
    let mut d = Donchian::new(5, Channel::History).unwrap();
    let mut out = Vec::new();
    let e = d
        .on_candles(&c, false, &mut NoHistory, &mut out)
        .unwrap_err();
    assert_eq!(e, "history is not available");
    // Warm-up candles never ask (history mode wants none).
    d.on_candles(&c, true, &mut NoHistory, &mut out).unwrap();
}

#[test]
fn uneven_columns_are_refused() {
    let mut c = walk(10, 1);
    c.high.pop();
    let mut d = Donchian::new(3, Channel::Buffer).unwrap();
    assert!(
        d.on_candles(&c, false, &mut NoHistory, &mut Vec::new())
            .is_err()
    );
}

#[test]
fn init_defaults_and_errors() {
    let (d, inputs) = <Donchian as Strategy>::init(&[]).unwrap();
    assert_eq!((d.period(), d.channel()), (20, Channel::Buffer));
    assert_eq!(
        inputs,
        vec![Input {
            node_id: "ohlcv:binance:BTC/USDT:1m".into(),
            warmup: 20
        }]
    );
    let (d, inputs) =
        <Donchian as Strategy>::init(&pairs(&[("period", "7"), ("channel", "history")])).unwrap();
    assert_eq!((d.period(), d.channel()), (7, Channel::History));
    assert_eq!(inputs[0].warmup, 0);

    let err = |kv: &[(&str, &str)]| <Donchian as Strategy>::init(&pairs(kv)).unwrap_err();
    assert!(err(&[("period", "0")]).contains("`period` expects a whole number from 1"));
    assert!(err(&[("channel", "ring")]).contains("expects one of buffer, history, got `ring`"));
    assert_eq!(
        err(&[("fast", "1")]),
        "unknown config key `fast`; valid keys are: node, period, channel"
    );
    assert!(Donchian::new(0, Channel::Buffer).is_err());

    let (mut d, _) = <Donchian as Strategy>::init(&[]).unwrap();
    assert!(
        Strategy::on_candles(
            &mut d,
            2,
            &walk(3, 1),
            false,
            &mut NoHistory,
            &mut Vec::new()
        )
        .is_err()
    );
}
