//! Strategy runs end to end: the example strategy components over the simulator's data,
//! with their expected signals computed independently here from the simulator's truth;
//! determinism; the sandbox (deadline, memory, panics) with `--on-error`; the history
//! import's no-look-ahead bound.

use exchange_sim::{SimConfig, Simulator};
use seamless::components::StrategyComponent;
use seamless::domain::{Candle, NodeId, Window};
use seamless::provider::Provider;
use seamless::strategy::{self as runner, OnError, RunError, RunOptions, RunReport};

use crate::support::{DAY, JAN1_2024, MIN, guest, host, provider, seamless, text, truth};

fn load(p: &Provider, name: &str) -> StrategyComponent {
    p.registry()
        .host()
        .load_strategy_file(&guest(name))
        .unwrap()
}

fn opts(w: Window, config: &[(&str, &str)]) -> RunOptions {
    let mut o = RunOptions::new(w);
    o.config = config
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    o
}

/// (time, input, action, value) of every signal.
fn got(r: &RunReport) -> Vec<(i64, u32, String, f64)> {
    r.signals
        .iter()
        .map(|s| {
            (
                s.signal.time,
                s.signal.input,
                s.signal.action.clone(),
                s.signal.value,
            )
        })
        .collect()
}

fn node(s: &str) -> NodeId {
    s.parse().unwrap()
}

// ---- independent reference implementations (straight from the strategies' specs) ----

fn mean(xs: &[f64]) -> f64 {
    let mut s = 0.0;
    for x in xs {
        s += x;
    }
    s / xs.len() as f64
}

/// SMA cross over `all` (warm-up then run); signals only for candles at or after `start`.
fn sma_expected(
    all: &[Candle],
    fast: usize,
    slow: usize,
    start: i64,
) -> Vec<(i64, u32, String, f64)> {
    let closes: Vec<f64> = all.iter().map(|c| c.close).collect();
    let d = |i: usize| mean(&closes[i + 1 - fast..=i]) - mean(&closes[i + 1 - slow..=i]);
    let mut out = Vec::new();
    for i in slow..closes.len() {
        if all[i].open_time < start {
            continue;
        }
        let (prev, now) = (d(i - 1), d(i));
        if prev <= 0.0 && now > 0.0 {
            out.push((all[i].open_time, 0, "buy".to_string(), closes[i]));
        } else if prev >= 0.0 && now < 0.0 {
            out.push((all[i].open_time, 0, "sell".to_string(), closes[i]));
        }
    }
    out
}

fn donchian_expected(all: &[Candle], period: usize, start: i64) -> Vec<(i64, u32, String, f64)> {
    let mut pos = 0; // 0 flat, 1 long, -1 short
    let mut out = Vec::new();
    for i in period..all.len() {
        let prev = &all[i - period..i];
        let upper = prev.iter().map(|c| c.high).fold(f64::MIN, f64::max);
        let lower = prev.iter().map(|c| c.low).fold(f64::MAX, f64::min);
        let c = &all[i];
        let signal = if c.close > upper && pos != 1 {
            pos = 1;
            Some("long")
        } else if c.close < lower && pos != -1 {
            pos = -1;
            Some("short")
        } else {
            None
        };
        if let Some(a) = signal
            && c.open_time >= start
        {
            out.push((c.open_time, 0, a.to_string(), c.close));
        }
    }
    out
}

fn spread_expected(
    a: &[Candle],
    b: &[Candle],
    window: usize,
    entry: f64,
    exit: f64,
    start: i64,
) -> Vec<(i64, u32, String, f64)> {
    let mut ratios: Vec<f64> = Vec::new();
    let mut pos = 0;
    let mut out = Vec::new();
    for ca in a {
        // Ties go a then b, so the pair completes on b's candle (input 1).
        let Some(cb) = b.iter().find(|c| c.open_time == ca.open_time) else {
            continue;
        };
        let r = ca.close / cb.close;
        ratios.push(r);
        // Warm-up pairs only fill the window (no position changes).
        if ratios.len() < window || ca.open_time < start {
            continue;
        }
        let w = &ratios[ratios.len() - window..];
        let m = mean(w);
        let mut var = 0.0;
        for x in w {
            var += (x - m) * (x - m);
        }
        let sd = (var / window as f64).sqrt();
        if sd <= 0.0 {
            continue;
        }
        let z = (r - m) / sd;
        let action = if pos == 0 && z > entry {
            pos = -1;
            Some("short-spread")
        } else if pos == 0 && z < -entry {
            pos = 1;
            Some("long-spread")
        } else if pos != 0 && z.abs() < exit {
            pos = 0;
            Some("exit")
        } else {
            None
        };
        if let Some(act) = action {
            out.push((ca.open_time, 1, act.to_string(), z));
        }
    }
    out
}

// ---- the example strategies ----

#[tokio::test(flavor = "multi_thread")]
async fn sma_cross_signals_match_an_independent_computation() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&sim, &dir.path().join("s.db"));
    let s = load(&p, "sma_cross_strategy");
    let w = Window::new(JAN1_2024, JAN1_2024 + DAY).unwrap();
    let r = runner::run(&p, &s, opts(w, &[("fast", "5"), ("slow", "20")]))
        .await
        .unwrap();
    let n = node("ohlcv:binance:BTC/USDT:1m");
    let all = truth(&sim, &n, Window::new(JAN1_2024 - 20 * MIN, w.end).unwrap());
    let want = sma_expected(&all, 5, 20, w.start);
    assert!(
        want.len() > 20,
        "the window should cross often: {}",
        want.len()
    );
    assert_eq!(got(&r), want);
    assert_eq!(r.candles, 1440);
    assert_eq!(r.inputs[0].warmup_rows, 20);
    assert!(r.inputs[0].fingerprint.starts_with("sha256:"));
    assert!(r.signals.iter().all(|s| s.node == n.to_string()));

    // Deterministic: a second run (now from the store) gives the same signals and
    // fingerprint.
    let again = runner::run(&p, &s, opts(w, &[("fast", "5"), ("slow", "20")]))
        .await
        .unwrap();
    assert_eq!(again.signals, r.signals);
    assert_eq!(again.inputs[0].fingerprint, r.inputs[0].fingerprint);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn donchian_signals_match_and_history_mode_agrees() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&sim, &dir.path().join("s.db"));
    let s = load(&p, "donchian_strategy");
    let n = node("ohlcv:binance:ETH/USDT:5m");
    let w = Window::new(JAN1_2024, JAN1_2024 + 2 * DAY).unwrap();
    let cfg = [("node", "ohlcv:binance:ETH/USDT:5m"), ("period", "12")];
    let r = runner::run(&p, &s, opts(w, &cfg)).await.unwrap();
    let all = truth(
        &sim,
        &n,
        Window::new(JAN1_2024 - 12 * 5 * MIN, w.end).unwrap(),
    );
    let want = donchian_expected(&all, 12, w.start);
    assert!(want.len() > 4, "{}", want.len());
    assert_eq!(got(&r), want);

    // The same channel read through the history import (bounded to closed candles
    // before each one) gives the same signals.
    let mut o = opts(
        w,
        &[
            ("node", "ohlcv:binance:ETH/USDT:5m"),
            ("period", "12"),
            ("channel", "history"),
        ],
    );
    o.batch_size = 50;
    let h = runner::run(&p, &s, o).await.unwrap();
    assert_eq!(h.inputs[0].warmup_requested, 0);
    assert_eq!(got(&h), want);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn two_input_spread_signals_match_an_independent_computation() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&sim, &dir.path().join("s.db"));
    let s = load(&p, "spread_strategy");
    let w = Window::new(JAN1_2024, JAN1_2024 + DAY).unwrap();
    let cfg = [("window", "30"), ("entry", "1.5"), ("exit", "0.3")];
    let r = runner::run(&p, &s, opts(w, &cfg)).await.unwrap();
    let warm = Window::new(JAN1_2024 - 30 * MIN, w.end).unwrap();
    let a = truth(&sim, &node("ohlcv:binance:BTC/USDT:1m"), warm);
    let b = truth(&sim, &node("ohlcv:binance:ETH/USDT:1m"), warm);
    let want = spread_expected(&a, &b, 30, 1.5, 0.3, w.start);
    assert!(want.len() > 4, "{}", want.len());
    assert_eq!(got(&r), want);
    assert_eq!(r.inputs.len(), 2);
    assert_eq!(r.candles, 2 * 1440);
    assert!(
        r.signals
            .iter()
            .all(|s| s.node == "ohlcv:binance:ETH/USDT:1m"),
        "signals carry the node of the input that completed the pair"
    );
    sim.shutdown().await;
}

// ---- sandbox and --on-error ----

async fn chaos_run(
    mode: &str,
    on_error: OnError,
    batch: usize,
) -> (Simulator, Result<RunReport, RunError>, Window) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut reg = seamless::provider::AdapterRegistry::new(
        host(64, 300),
        vec![crate::support::guest_dir()],
        vec![],
    );
    reg.add_override(&format!("binance={}", sim.base_url()))
        .unwrap();
    let p = Provider::new(
        seamless::store::AnyStore::open(&format!("sqlite:{}", dir.path().join("c.db").display()))
            .unwrap(),
        reg,
    );
    let s = load(&p, "chaos_strategy");
    let w = Window::new(JAN1_2024, JAN1_2024 + 100 * MIN).unwrap();
    let at = (JAN1_2024 + 42 * MIN).to_string();
    let mut o = opts(w, &[("mode", mode), ("at", &at)]);
    o.on_error = on_error;
    o.batch_size = batch;
    let r = runner::run(&p, &s, o).await;
    (sim, r, w)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_misbehaving_strategy_stops_the_run_naming_the_call_and_candles() {
    for (mode, expect) in [
        ("panic", "guest panicked"),
        ("loop", "deadline exceeded"),
        ("oom", "memory limit exceeded"),
        ("error", "chaos error at"),
    ] {
        let (sim, r, _) = chaos_run(mode, OnError::Stop, 10).await;
        let e = r.err().expect("the run must fail").to_string();
        assert!(e.contains("chaos"), "{mode}: names the strategy: {e}");
        assert!(e.contains("on-candles"), "{mode}: names the call: {e}");
        // Batch of 10 from the window start: candles 40..=49 hold the bad one.
        assert!(
            e.contains("2024-01-01T00:40:00Z..=2024-01-01T00:49:00Z"),
            "{mode}: names the candle times: {e}"
        );
        assert!(e.contains(expect), "{mode}: says what happened: {e}");
        assert!(
            e.contains("`on_error` to skip"),
            "{mode}: says the fix: {e}"
        );
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn on_error_skip_drops_only_the_failed_batch() {
    for mode in ["panic", "loop", "error"] {
        let (sim, r, w) = chaos_run(mode, OnError::Skip, 10).await;
        let r = r.unwrap();
        let ticks: Vec<i64> = r
            .signals
            .iter()
            .filter(|s| s.signal.action == "tick")
            .map(|s| s.signal.time)
            .collect();
        let want: Vec<i64> = (0..100)
            .filter(|i| !(40..50).contains(i))
            .map(|i| w.start + i * MIN)
            .collect();
        assert_eq!(ticks, want, "{mode}");
        assert_eq!(r.skipped.len(), 1, "{mode}");
        assert_eq!(r.skipped[0].first, w.start + 40 * MIN);
        sim.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn history_never_reaches_past_the_candle_being_processed() {
    let (sim, r, w) = chaos_run("peek", OnError::Stop, 7).await;
    let r = r.unwrap();
    let peeks: Vec<_> = r
        .signals
        .iter()
        .filter(|s| s.signal.action == "peek")
        .collect();
    assert_eq!(peeks.len(), 100usize.div_ceil(7));
    for s in &peeks {
        // The newest candle the strategy could read is the one it is processing.
        assert_eq!(s.signal.value as i64, s.signal.time, "{:?}", s.signal);
        assert!(s.signal.time >= w.start);
    }
    sim.shutdown().await;

    let (sim, r, _) = chaos_run("bad-input", OnError::Stop, 100).await;
    let r = r.unwrap();
    let e = r
        .signals
        .iter()
        .find(|s| s.signal.action == "history-error")
        .unwrap();
    assert!(
        e.signal.note.contains("input 7 does not exist"),
        "{}",
        e.signal.note
    );
    sim.shutdown().await;
}

// ---- the command line ----

#[tokio::test(flavor = "multi_thread")]
async fn cli_run_is_byte_for_byte_deterministic_and_prints_fingerprints() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let url = format!("binance={}", sim.base_url());
    let run = |out: &str| {
        let out = dir.path().join(out);
        let o = seamless(
            &[
                "run",
                "sma-cross",
                "--start",
                "2024-01-01",
                "--end",
                "2024-01-02",
                "--config",
                "fast=5",
                "--config",
                "slow=20",
                "--exchange-url",
                &url,
                "--output",
                out.to_str().unwrap(),
            ],
            &db,
        );
        let (stdout, stderr) = text(&o);
        assert!(o.status.success(), "{stdout}\n{stderr}");
        (std::fs::read(out).unwrap(), stderr)
    };
    let (a, err_a) = run("a.jsonl");
    let (b, err_b) = run("b.jsonl");
    assert_eq!(a, b);
    assert!(!a.is_empty());
    let fp = |e: &str| {
        e.lines()
            .find(|l| l.contains("fingerprint"))
            .unwrap()
            .to_string()
    };
    assert!(fp(&err_a).contains("ohlcv:binance:BTC/USDT:1m"), "{err_a}");
    assert_eq!(fp(&err_a), fp(&err_b));
    let first: serde_json::Value =
        serde_json::from_slice(a.split(|b| *b == b'\n').next().unwrap()).unwrap();
    assert!(first["action"] == "buy" || first["action"] == "sell");
    assert_eq!(first["node"], "ohlcv:binance:BTC/USDT:1m");

    // CSV.
    let csv = dir.path().join("s.csv");
    let o = seamless(
        &[
            "run",
            "sma-cross",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
            "-c",
            "fast=5",
            "-c",
            "slow=20",
            "--exchange-url",
            &url,
            "-o",
            csv.to_str().unwrap(),
            "-q",
        ],
        &db,
    );
    assert!(o.status.success());
    let csv = std::fs::read_to_string(csv).unwrap();
    assert!(csv.starts_with("time,time_iso,node,input,action,value,note\n"));
    assert_eq!(
        csv.lines().count() - 1,
        a.split(|b| *b == b'\n').filter(|l| !l.is_empty()).count()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_run_bad_input_is_explained() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bad.db");
    let url = format!("binance={}", sim.base_url());
    let cases: [(&[&str], &str); 4] = [
        (
            &[
                "run",
                "nope",
                "--start",
                "2024-01-01",
                "--end",
                "2024-01-02",
            ],
            "sma-cross",
        ),
        (
            &[
                "run",
                "sma-cross",
                "--start",
                "2024-01-01",
                "--end",
                "2024-01-02",
                "-c",
                "fast=50",
                "-c",
                "slow=10",
            ],
            "fast",
        ),
        (
            &[
                "run",
                "sma-cross",
                "--start",
                "2024-01-01",
                "--end",
                "2024-01-02",
                "-c",
                "speed=3",
            ],
            "speed",
        ),
        (
            &["run", "sma-cross", "--start", "2024-01-01", "-c", "fast"],
            "KEY=VALUE",
        ),
    ];
    for (args, needle) in cases {
        let mut args = args.to_vec();
        args.extend(["--exchange-url", &url]);
        let o = seamless(&args, &db);
        let (_, stderr) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // A strategy that fails at run time exits 1 with the candle time.
    let o = seamless(
        &[
            "run",
            crate::support::guest("chaos_strategy").to_str().unwrap(),
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-01T02:00:00Z",
            "-c",
            "mode=panic",
            "-c",
            &format!("at={}", JAN1_2024 + 30 * MIN),
            "--exchange-url",
            &url,
        ],
        &db,
    );
    let (_, stderr) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("guest panicked") && stderr.contains("2024-01-01T00:"),
        "{stderr}"
    );
    sim.shutdown().await;
}

// ---- live ----

#[tokio::test(flavor = "multi_thread")]
async fn a_live_run_gives_the_same_signals_as_a_replay_of_the_same_period() {
    use seamless::domain::Clock;
    use seamless::strategy::LiveRun;
    use std::sync::Arc;

    // 1m candles close every 200 ms of wall time; the host reads the simulator's clock.
    let origin = JAN1_2024 + 10 * DAY + 15_000;
    let sim = Arc::new(
        Simulator::start(
            SimConfig::default()
                .with_clock_fast(origin, 300)
                .with_ws_update_ms(10),
        )
        .await
        .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let clock_sim = sim.clone();
    let p = provider(&sim, &dir.path().join("live.db"))
        .with_clock(Clock::from_fn(move || clock_sim.now_ms()));
    let s = load(&p, "spread_strategy");
    // Loading the components may have compiled them (an empty cache): the market clock
    // starts again at `origin` now that they are loaded, so the live part is not spent
    // compiling.
    p.exchange(&"ohlcv:binance:BTC/USDT:1m".parse().unwrap())
        .unwrap();
    sim.set_clock(exchange_sim::Clock::fast(origin, 300));
    // Two inputs: 40 minutes of history, then ~25 minutes live (5 s of wall time).
    let start = origin - origin % MIN - 40 * MIN;
    let until = origin - origin % MIN + 25 * MIN;
    let cfg = [("window", "10"), ("entry", "1.0"), ("exit", "0.5")];
    let mut o = opts(Window::new(start, sim.now_ms()).unwrap(), &cfg);
    o.live = Some(LiveRun {
        until: Some(until),
        ..LiveRun::default()
    });
    let live = tokio::time::timeout(std::time::Duration::from_secs(30), runner::run(&p, &s, o))
        .await
        .expect("the live run reaches its end")
        .unwrap();
    assert!(
        sim.ws_connections() >= 2,
        "both inputs followed the WebSocket"
    );
    // Every candle of both inputs in [start, until) was delivered exactly once.
    assert_eq!(live.candles, 2 * ((until - start) / MIN) as usize);
    // How many arrive live depends on how long the history phase took on a busy
    // machine (a CI run once spent 6 of the 25 minutes there); a third is the floor.
    assert!(
        live.live_candles >= 2 * 8,
        "a good part of the 25 minutes arrived live: {}",
        live.live_candles
    );

    // Replay of the same period from a fresh store, after the fact.
    let dir2 = tempfile::tempdir().unwrap();
    let p2 = provider(&sim, &dir2.path().join("replay.db")).with_now(until + MIN);
    let replay = runner::run(&p2, &s, opts(Window::new(start, until).unwrap(), &cfg))
        .await
        .unwrap();
    assert!(
        !replay.signals.is_empty(),
        "the period should produce signals"
    );
    assert_eq!(got(&live), got(&replay));
    assert_eq!(live.candles, replay.candles);
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_live_prints_closed_candles_equal_to_the_exchange() {
    // Real time, 1s candles: three close in about three seconds.
    let sim = Simulator::start(SimConfig::default().with_ws_update_ms(50))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let url = format!("binance={}", sim.base_url());
    let o = seamless(
        &[
            "live",
            "--node",
            "ohlcv:binance:BTC/USDT:1s",
            "--count",
            "3",
            "--forming",
            "--format",
            "jsonl",
            "--duration",
            "20s",
            "--exchange-url",
            &url,
        ],
        &db,
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let closed: Vec<&serde_json::Value> = rows.iter().filter(|r| r["state"] == "closed").collect();
    assert_eq!(closed.len(), 3, "{stdout}");
    assert!(
        rows.iter().any(|r| r["state"] == "forming"),
        "--forming prints updates"
    );
    let n = node("ohlcv:binance:BTC/USDT:1s");
    let first = closed[0]["open_time"].as_i64().unwrap();
    let want = truth(&sim, &n, Window::new(first, first + 3_000).unwrap());
    for (row, c) in closed.iter().zip(&want) {
        assert_eq!(row["open_time"].as_i64().unwrap(), c.open_time);
        assert_eq!(row["close"].as_f64().unwrap(), c.close);
        assert_eq!(row["volume"].as_f64().unwrap(), c.volume);
    }
    assert!(stderr.contains("connected: ws://127.0.0.1"), "{stderr}");
    // The closed candles were stored (and no forming one).
    let o = seamless(
        &[
            "fetch",
            "--node",
            "ohlcv:binance:BTC/USDT:1s",
            "--start",
            &first.to_string(),
            "--end",
            &(first + 3_000).to_string(),
            "--strategy",
            "fail-fast",
            "--format",
            "jsonl",
            "--exchange-url",
            &url,
        ],
        &db,
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stderr}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_live_follows_several_series_in_one_process() {
    // Real time, 1s candles of three symbols and two timeframes on one connection.
    let sim = Simulator::start(SimConfig::default().with_ws_update_ms(50))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("live.db");
    let url = format!("binance={}", sim.base_url());
    let nodes_file = dir.path().join("nodes.txt");
    std::fs::write(
        &nodes_file,
        "# one more, from a file\nohlcv:binance:SOL/USDT:1s\n\n",
    )
    .unwrap();
    let o = seamless(
        &[
            "live",
            "--exchange",
            "binance",
            "--symbols",
            "BTC/USDT,ETH/USDT",
            "--timeframes",
            "1s",
            "--nodes-file",
            nodes_file.to_str().unwrap(),
            "--count",
            "9",
            "--format",
            "jsonl",
            "--duration",
            "30s",
            "--exchange-url",
            &url,
        ],
        &db,
    );
    let (stdout, stderr) = text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("binance: 3 series on 1 WebSocket connection(s)"),
        "{stderr}"
    );
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 9, "{stdout}");
    let mut seen = std::collections::BTreeSet::new();
    for r in &rows {
        assert_eq!(r["state"], "closed");
        let n = node(r["node"].as_str().unwrap());
        seen.insert(n.to_string());
        let t = r["open_time"].as_i64().unwrap();
        let want = truth(&sim, &n, Window::new(t, t + 1_000).unwrap());
        assert_eq!(r["close"].as_f64().unwrap(), want[0].close, "{n} at {t}");
        assert_eq!(r["volume"].as_f64().unwrap(), want[0].volume, "{n} at {t}");
    }
    assert_eq!(seen.len(), 3, "every series printed candles: {seen:?}");
    // Bad input: an incomplete selection names what is missing.
    let o = seamless(
        &["live", "--exchange", "binance", "--symbols", "BTC/USDT"],
        &db,
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("--timeframes"), "{}", text(&o).1);
    sim.shutdown().await;
}
