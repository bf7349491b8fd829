//! The live feed and the history→live handoff against the simulator's WebSocket streams
//! and REST API, with the real Binance adapter component and a real SQLite file. The
//! simulator runs a fast market clock (1m candles close every 100 ms of wall time) and the
//! provider reads that clock, so "closed" means the same thing on both sides.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use exchange_sim::{Faults, SimConfig, Simulator};
use seamless::domain::{Candle, Clock, NodeId, Window};
use seamless::live::{
    FeedEvent, FeedOptions, FeedSource, LiveFeed, LiveSession, LiveUpdate, SessionOptions,
};
use seamless::provider::{AdapterRegistry, Provider};
use seamless::store::{AnyStore, CandleStore};

use crate::support::{DAY, JAN1_2024, MIN, STARTUP, guest_dir, host, provider, truth};

/// Market time at the start of each test: a minute boundary plus a bit.
const ORIGIN: i64 = JAN1_2024 + 10 * DAY + 15_000;
/// Market ms per wall ms: a 1m candle closes every 100 ms.
const SPEED: u32 = 600;

fn node() -> NodeId {
    "ohlcv:binance:BTC/USDT:1m".parse().unwrap()
}

/// A fast-clock simulator (WebSocket updates every 10 ms) and a provider over a fresh
/// SQLite file that reads the simulator's clock.
async fn setup(cfg: SimConfig) -> (Arc<Simulator>, Provider, tempfile::TempDir) {
    let sim = Arc::new(Simulator::start(cfg).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let clock_sim = sim.clone();
    let p = provider(&sim, &dir.path().join("live.db"))
        .with_clock(Clock::from_fn(move || clock_sim.now_ms()));
    (sim, p, dir)
}

fn fast() -> SimConfig {
    SimConfig::default()
        .with_clock_fast(ORIGIN, SPEED)
        .with_ws_update_ms(10)
}

fn feed_opts() -> FeedOptions {
    FeedOptions {
        backoff_min: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        ..FeedOptions::default()
    }
}

async fn recv<T>(rx: &mut tokio::sync::mpsc::Receiver<T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("an update within 10 s")
        .expect("the channel is open")
}

/// Every candle has the next open time of the 1m grid.
fn assert_contiguous(c: &[Candle]) {
    for w in c.windows(2) {
        assert_eq!(
            w[1].open_time,
            w[0].open_time + MIN,
            "gap or duplicate after {}",
            w[0].open_time
        );
    }
}

/// Every stored candle of `node` from `from` on is a closed candle equal to the
/// exchange's (a stored forming candle would differ, or not be closed yet).
async fn assert_store_holds_only_truth(sim: &Simulator, p: &Provider, from: i64) {
    let far = Window {
        start: from,
        end: from + 1000 * MIN,
    };
    let want: BTreeMap<i64, Candle> = truth(sim, &node(), far)
        .into_iter()
        .map(|c| (c.open_time, c))
        .collect();
    let stored = p.store().read(&node(), far).await.unwrap();
    for c in &stored {
        assert_eq!(
            want.get(&c.open_time),
            Some(c),
            "stored candle at {} is not the closed truth",
            c.open_time
        );
    }
}

/// Checks a session's output: the `Closed` updates run contiguously from `from`, equal
/// the store and the exchange's truth over `[from, end)`, and the ledger knows all of it.
/// The first `n` closed candles of a polling session (which must never disconnect).
async fn polled(rx: &mut tokio::sync::mpsc::Receiver<LiveUpdate>, n: usize) -> Vec<Candle> {
    let mut closed = Vec::new();
    while closed.len() < n {
        match recv(rx).await {
            LiveUpdate::Connected { source } => {
                assert_eq!(source, FeedSource::Poll { interval_ms: 30 })
            }
            LiveUpdate::Closed(c) => closed.push(c),
            LiveUpdate::Disconnected { reason } => panic!("poll failed: {reason}"),
            _ => {}
        }
    }
    closed
}

async fn assert_served(sim: &Simulator, p: &Provider, from: i64, closed: &[Candle]) -> i64 {
    assert_eq!(closed.first().map(|c| c.open_time), Some(from));
    assert_contiguous(closed);
    let end = closed.last().unwrap().open_time + MIN;
    let w = Window { start: from, end };
    let want = truth(sim, &node(), w);
    assert_eq!(closed.len(), want.len());
    assert_eq!(
        closed,
        want.as_slice(),
        "emitted series differs from the truth"
    );
    let stored = p.store().read(&node(), w).await.unwrap();
    assert_eq!(stored, want, "stored series differs from the truth");
    let ledger = p.store().ledger(&node(), w).await.unwrap();
    assert!(ledger.missing(w).is_empty(), "ledger holes: {ledger:?}");
    assert_store_holds_only_truth(sim, p, from).await;
    end
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_feed_sends_forming_then_exact_closed_candles() {
    let (sim, p, _dir) = setup(fast()).await;
    let t0 = Instant::now();
    let (feed, mut rx) = LiveFeed::for_provider(&p, &node(), feed_opts()).unwrap();
    let ws_base = sim.base_url().replacen("http", "ws", 1);
    assert_eq!(
        recv(&mut rx).await,
        FeedEvent::Connected {
            source: FeedSource::WebSocket {
                url: format!("{ws_base}/ws/btcusdt@kline_1m")
            }
        }
    );
    let mut closed = Vec::new();
    let mut forming_before_close = 0;
    let mut forming_open = None;
    while closed.len() < 8 {
        match recv(&mut rx).await {
            FeedEvent::Candle {
                candle,
                closed: false,
                ..
            } => forming_open = Some(candle.open_time),
            FeedEvent::Candle {
                candle,
                closed: true,
                ..
            } => {
                if forming_open == Some(candle.open_time) {
                    forming_before_close += 1;
                }
                closed.push(candle);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let elapsed = t0.elapsed();
    assert_contiguous(&closed);
    let w = Window {
        start: closed[0].open_time,
        end: closed[7].open_time + MIN,
    };
    assert_eq!(closed, truth(&sim, &node(), w));
    assert!(forming_before_close >= 7, "{forming_before_close}");
    let c = feed.stop().await;
    assert_eq!(c.rejected_frames, 0);
    assert_eq!(c.connects, 1);
    assert_eq!(sim.ws_connections(), 1);
    eprintln!("8 closed candles over the WebSocket in {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn session_survives_two_disconnects_without_holes_or_duplicates() {
    let (sim, p, _dir) = setup(fast()).await;
    let from = ORIGIN - ORIGIN % MIN - 30 * MIN;
    let opts = SessionOptions {
        // Reconnect after 250-500 ms: a few candles close while the feed is down.
        feed: FeedOptions {
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_millis(500),
            ..FeedOptions::default()
        },
        retry_min: Duration::from_millis(20),
        ..SessionOptions::default()
    };
    let t0 = Instant::now();
    let (session, mut rx) = LiveSession::start(p.clone(), node(), from, opts)
        .await
        .unwrap();
    let mut closed: Vec<Candle> = Vec::new();
    let (mut connects, mut disconnects, mut backfills) = (0, 0, Vec::new());
    let mut drops = 0;
    let mut drop_at = 30 + 5; // the seam, then 5 live candles
    let mut forming = 0;
    while closed.len() < 30 + 25 {
        match recv(&mut rx).await {
            LiveUpdate::Connected { source } => {
                assert!(matches!(source, FeedSource::WebSocket { .. }), "{source:?}");
                connects += 1;
            }
            LiveUpdate::Disconnected { .. } => disconnects += 1,
            LiveUpdate::Forming(c) => {
                forming += 1;
                // The live state shows a forming candle the store never gets.
                assert!(c.open_time >= closed.last().map_or(from, |l| l.open_time + MIN));
            }
            LiveUpdate::Closed(c) => {
                closed.push(c);
                if closed.len() == drop_at && drops < 2 {
                    assert_eq!(sim.drop_websockets(), 1);
                    drops += 1;
                    drop_at += 7;
                }
            }
            LiveUpdate::Backfilled {
                start,
                end,
                candles,
            } => backfills.push((start, end, candles)),
        }
    }
    let elapsed = t0.elapsed();
    let state = session.snapshot();
    let summary = session.stop().await.unwrap();
    assert_eq!((connects, disconnects), (3, 2), "{summary:?}");
    assert_eq!(sim.ws_connections(), 3);
    assert!(forming > 0);
    // The seam, then one catch-up of the lost range after each reconnect.
    // (The seam ends at the feed's first candle: 30 or a few more as the clock runs.)
    assert_eq!(backfills[0].0, from, "{backfills:?}");
    assert!(backfills.len() >= 3, "{backfills:?}");
    assert!(
        backfills
            .iter()
            .all(|&(s, e, n)| e > s && n as i64 == (e - s) / MIN),
        "{backfills:?}"
    );
    assert!(backfills[0].2 >= 30, "{backfills:?}");
    assert_eq!(summary.stats.duplicates, 0, "{summary:?}");
    let end = assert_served(&sim, &p, from, &closed).await;
    assert_eq!(state.last_closed.map(|c| c.open_time + MIN), Some(end));
    eprintln!(
        "session: {} closed candles ({} live, {} via REST) across 2 drops in {elapsed:?}; {summary:?}",
        closed.len(),
        summary.stats.live_written,
        summary.stats.backfilled
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rest_polling_fallback_serves_the_truth() {
    let (sim, p, _dir) = setup(fast()).await;
    let from = ORIGIN - ORIGIN % MIN - 20 * MIN;
    let opts = SessionOptions {
        feed: FeedOptions {
            force_poll: true,
            poll_interval: Some(Duration::from_millis(30)),
            ..feed_opts()
        },
        ..SessionOptions::default()
    };
    let t0 = Instant::now();
    let (session, mut rx) = LiveSession::start(p.clone(), node(), from, opts)
        .await
        .unwrap();
    let closed = polled(&mut rx, 20 + 15).await;
    let elapsed = t0.elapsed();
    let summary = session.stop().await.unwrap();
    assert_served(&sim, &p, from, &closed).await;
    assert_eq!(sim.ws_connections(), 0, "polling must not open a WebSocket");
    assert_eq!(summary.feed.rejected_frames, 0);
    eprintln!(
        "polling: {} closed candles in {elapsed:?}; {summary:?}",
        closed.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn silent_websocket_is_dropped_after_the_idle_timeout_and_reconnected() {
    // Updates every 2 s of wall time and no pings: the connection goes quiet.
    let cfg = fast().with_ws_update_ms(2_000).with_ws_ping_ms(60_000);
    let (sim, p, _dir) = setup(cfg).await;
    let opts = FeedOptions {
        idle_timeout: Duration::from_millis(200),
        ..feed_opts()
    };
    let (feed, mut rx) = LiveFeed::for_provider(&p, &node(), opts).unwrap();
    // Timed from the first connection (not from the adapter's load, which may compile it).
    let first = recv(&mut rx).await;
    assert!(matches!(first, FeedEvent::Connected { .. }), "{first:?}");
    let t0 = Instant::now();
    let mut seen = vec![first];
    while seen
        .iter()
        .filter(|e| matches!(e, FeedEvent::Connected { .. }))
        .count()
        < 2
    {
        let ev = recv(&mut rx).await;
        if let FeedEvent::Disconnected { reason } = &ev {
            assert!(reason.contains("idle"), "{reason}");
        }
        seen.push(ev);
    }
    let elapsed = t0.elapsed();
    assert!(
        matches!(
            seen.as_slice(),
            [
                FeedEvent::Connected { .. },
                ..,
                FeedEvent::Disconnected { .. },
                FeedEvent::Connected { .. }
            ]
        ),
        "{seen:?}"
    );
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    // The client reports `Connected` once the handshake is answered; the simulator counts the
    // connection when its upgraded socket task runs, which can come a moment later.
    crate::support::wait_until(
        "the simulator to count the second WebSocket connection",
        Duration::from_secs(30),
        || sim.ws_connections() >= 2,
        || format!("{} connections counted", sim.ws_connections()),
    )
    .await;
    feed.stop().await;
    eprintln!("idle reconnect after {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn adapter_poll_plan_serves_the_truth() {
    // binanceusdm has no WebSocket plan: its live-plan asks for REST polling.
    let sim = Arc::new(Simulator::start(fast()).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut reg = AdapterRegistry::new(host(256, 2000), vec![guest_dir()], vec![]);
    reg.add_override(&format!("binanceusdm={}/binanceusdm", sim.base_url()))
        .unwrap();
    let clock_sim = sim.clone();
    let store =
        AnyStore::open(&format!("sqlite:{}", dir.path().join("usdm.db").display())).unwrap();
    let p = Provider::new(store, reg).with_clock(Clock::from_fn(move || clock_sim.now_ms()));
    let node: NodeId = "ohlcv:binanceusdm:BTC/USDT:USDT:1m".parse().unwrap();
    let from = ORIGIN - ORIGIN % MIN - 20 * MIN;
    let opts = SessionOptions {
        feed: FeedOptions {
            poll_interval: Some(Duration::from_millis(30)),
            ..feed_opts()
        },
        ..SessionOptions::default()
    };
    let t0 = Instant::now();
    let (session, mut rx) = LiveSession::start(p.clone(), node.clone(), from, opts)
        .await
        .unwrap();
    let closed = polled(&mut rx, 20 + 10).await;
    let elapsed = t0.elapsed();
    let summary = session.stop().await.unwrap();
    assert_contiguous(&closed);
    assert_eq!(closed[0].open_time, from);
    let w = Window {
        start: from,
        end: closed[closed.len() - 1].open_time + MIN,
    };
    let want: Vec<Candle> = sim
        .truth("BTC/USDT", "1m", w.start, w.end)
        .into_iter()
        .map(crate::support::candle)
        .collect();
    assert_eq!(closed, want);
    assert_eq!(p.store().read(&node, w).await.unwrap(), want);
    assert_eq!(summary.feed.rejected_frames, 0);
    assert!(summary.stats.live_written > 0, "{summary:?}");
    eprintln!(
        "adapter poll plan: {} closed candles in {elapsed:?}; {summary:?}",
        closed.len()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn session_under_a_flapping_websocket_stays_exact() {
    // Every connection dies after its 15th kline frame (about 1.5 candles at this pace).
    let faults = exchange_sim::Faults {
        ws_drop_every_n: Some(15),
        ..exchange_sim::Faults::default()
    };
    let (sim, p, _dir) = setup(fast().with_faults(faults)).await;
    let from = ORIGIN - ORIGIN % MIN - 10 * MIN;
    let opts = SessionOptions {
        feed: feed_opts(),
        retry_min: Duration::from_millis(20),
        ..SessionOptions::default()
    };
    let t0 = Instant::now();
    let (session, mut rx) = LiveSession::start(p.clone(), node(), from, opts)
        .await
        .unwrap();
    let mut closed = Vec::new();
    while closed.len() < 10 + 20 {
        if let LiveUpdate::Closed(c) = recv(&mut rx).await {
            closed.push(c);
        }
    }
    let elapsed = t0.elapsed();
    let summary = session.stop().await.unwrap();
    assert_served(&sim, &p, from, &closed).await;
    assert!(summary.stats.disconnects >= 5, "{summary:?}");
    assert!(sim.ws_connections() >= 6);
    eprintln!(
        "flapping: {} closed candles, {} reconnects in {elapsed:?}; {summary:?}",
        closed.len(),
        summary.stats.disconnects
    );
}

/// `seamless fetch` (strategy seamless, the default) over a window reaching now: the
/// closed candles from storage and backfill, then the forming candle from the live feed
/// with `--include-forming`, marked, and never stored.
#[tokio::test(flavor = "multi_thread")]
async fn cli_fetch_includes_the_forming_candle_from_the_live_phase() {
    let sim = Simulator::start(SimConfig::default().with_ws_update_ms(50))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("f.db");
    let url = format!("binance={}", sim.base_url());
    let args = [
        "fetch",
        "--node",
        "ohlcv:binance:BTC/USDT:1m",
        "--start",
        "-10m",
        "--format",
        "jsonl",
        "--include-forming",
        "--metadata",
        "-",
        "--exchange-url",
        &url,
    ];
    let o = crate::support::seamless(&args, &db);
    let (stdout, stderr) = crate::support::text(&o);
    assert!(o.status.success(), "{stdout}\n{stderr}");
    let rows: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let last = rows.last().unwrap();
    assert_eq!(last["state"], "forming", "{stdout}");
    let forming_open = last["open_time"].as_i64().unwrap();
    assert!(
        rows[..rows.len() - 1]
            .iter()
            .all(|r| r["state"] == "closed")
    );
    assert!(
        rows.len() >= 10,
        "10 closed minutes + the forming one: {}",
        rows.len()
    );
    // The closed rows equal the exchange's candles and end right before the forming one.
    let closed_last = rows[rows.len() - 2]["open_time"].as_i64().unwrap();
    assert_eq!(closed_last + MIN, forming_open);
    let want = truth(
        &sim,
        &node(),
        Window::new(closed_last, forming_open).unwrap(),
    );
    assert_eq!(
        rows[rows.len() - 2]["close"].as_f64().unwrap(),
        want[0].close
    );
    assert!(
        stderr.contains("\"live\"") && stderr.contains("websocket ws://127.0.0.1"),
        "{stderr}"
    );
    assert!(stderr.contains("forming candle"), "{stderr}");

    // Nothing at the forming open time was stored (it may have closed since: check the
    // store directly, before that candle closes in the store through a later fetch).
    let store = AnyStore::open(&format!("sqlite:{}", db.display())).unwrap();
    let stored = store
        .read(
            &node(),
            Window::new(forming_open, forming_open + MIN).unwrap(),
        )
        .await
        .unwrap();
    assert!(
        stored.iter().all(|c| sim.now_ms() >= c.open_time + MIN),
        "a forming candle was stored: {stored:?}"
    );
    sim.shutdown().await;
}

/// Polls take their weight from the exchange's limiter like backfills: polling every
/// 5 ms against a budget of 20 requests per second sends about 20 per second, not 200.
#[tokio::test(flavor = "multi_thread")]
async fn polls_are_rate_limited_with_the_exchanges_budget() {
    let (sim, p, _dir) = setup(fast()).await;
    let p = p.with_rate_limit(
        "binance",
        seamless::provider::LimitOverride {
            budget: Some(20),
            window_ms: Some(1_000),
            weight: Some(1),
            ..Default::default()
        },
    );
    let opts = FeedOptions {
        force_poll: true,
        poll_interval: Some(Duration::from_millis(5)),
        ..feed_opts()
    };
    sim.reset_counts();
    let (feed, mut rx) = LiveFeed::for_provider(&p, &node(), opts).unwrap();
    // The second counted opens at the first poll the simulator sees.
    let t = Instant::now();
    while sim.requests(crate::support::KLINES) == 0 {
        assert!(t.elapsed() < STARTUP, "no poll reached the simulator");
        let _ = tokio::time::timeout(Duration::from_millis(5), rx.recv()).await;
    }
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_millis(1_000) {
        let _ = tokio::time::timeout(Duration::from_millis(50), rx.recv()).await;
    }
    feed.stop().await;
    let sent = sim.requests(crate::support::KLINES);
    // Burst (half the budget) plus one second of refill, with slack for timing.
    assert!((5..=40).contains(&sent), "{sent} polls in one second");
    assert_eq!(sim.status_count(429), 0);
}

/// A poll answered 429 (or 418) with `Retry-After: 1` pauses the whole exchange key for
/// that long, not only the feed that got it: a backfill of another symbol through the
/// same provider (same key) sends nothing until the pause is over. The 418 case also
/// shows the answer's `Retry-After` is honoured rather than the limiter's 2-minute
/// default for a ban without one.
#[tokio::test(flavor = "multi_thread")]
async fn a_rate_limited_poll_pauses_the_whole_exchange_key_for_its_retry_after() {
    let cases = [
        (
            429,
            Faults {
                rate_limit_every_n: Some(2),
                ..Faults::default()
            },
        ),
        (
            418,
            Faults {
                ban_every_n: Some(2),
                ..Faults::default()
            },
        ),
    ];
    for (status, faults) in cases {
        let (sim, p, _dir) = setup(fast()).await;
        // The second candle request is refused with `Retry-After: 1`.
        sim.set_faults(faults);
        let opts = FeedOptions {
            force_poll: true,
            poll_interval: Some(Duration::from_millis(20)),
            ..feed_opts()
        };
        let (feed, mut rx) = LiveFeed::for_provider(&p, &node(), opts).unwrap();
        // The feed reports the outage once the gateway has paused the key.
        loop {
            if let FeedEvent::Disconnected { reason } = recv(&mut rx).await {
                assert!(reason.contains("rate limited"), "{status}: {reason}");
                break;
            }
        }
        let paused_at = Instant::now();
        sim.set_faults(Faults::default());
        let before = sim.requests(crate::support::KLINES);
        assert_eq!(sim.status_count(status), 1);

        // Another user of the key: a backfill of ETH/USDT through the same provider.
        let eth: NodeId = "ohlcv:binance:ETH/USDT:1m".parse().unwrap();
        let end = node().timeframe.floor(p.now());
        let w = Window::new(end - 5 * MIN, end).unwrap();
        let p2 = p.clone();
        let backfill = tokio::spawn(async move { p2.backfill(&eth, w, None).await });

        // The next candle request (the backfill's or the feed's) waits for the pause.
        let deadline = Instant::now() + Duration::from_secs(10);
        while sim.requests(crate::support::KLINES) == before {
            assert!(
                Instant::now() < deadline,
                "{status}: no request within 10 s of a 1 s pause"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        let gap = paused_at.elapsed();
        assert!(
            gap >= Duration::from_millis(900),
            "{status}: a request was sent {gap:?} into a 1 s pause of the key"
        );
        let outcome = backfill.await.unwrap().unwrap();
        assert!(outcome.errors.is_empty(), "{status}: {:?}", outcome.errors);
        assert_eq!(outcome.stats.candles, 5);
        feed.stop().await;
        eprintln!("{status}: the key resumed {gap:?} after the pause began");
    }
}

/// Many series in one process: 210 Binance series (70 symbols × 1m, 3m, 5m) share the
/// connections the adapter plans (200 streams per connection → 2), survive two forced drops
/// of every connection, and each stored and emitted series equals the exchange's truth
/// from its start, with no forming candle stored. A series the venue cannot stream is
/// refused alone.
#[tokio::test(flavor = "multi_thread")]
async fn a_group_of_210_series_shares_two_connections_and_stays_exact_across_drops() {
    use exchange_sim::MarketSpec;
    use seamless::live::{GroupUpdate, LiveGroup};
    // 1m closes every 500 ms of wall time: 210 series close ~215 candles per second.
    const GROUP_SPEED: u32 = 120;
    let mut cfg = SimConfig::default()
        .with_clock_fast(ORIGIN, GROUP_SPEED)
        .with_ws_update_ms(50);
    for i in 0..70 {
        cfg = cfg.with_market(MarketSpec::new(
            format!("C{i}/USDT"),
            JAN1_2024,
            10.0 + i as f64,
        ));
    }
    let (sim, p, _dir) = setup(cfg).await;
    let five = 5 * MIN;
    let from = ORIGIN - ORIGIN % five - 2 * five;
    let mut series: Vec<(NodeId, i64)> = Vec::new();
    for i in 0..70 {
        for tf in ["1m", "3m", "5m"] {
            let n = NodeId::new("binance", &format!("C{i}/USDT"), tf).unwrap();
            series.push((n, from));
        }
    }
    let opts = SessionOptions {
        feed: FeedOptions {
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_millis(200),
            ..FeedOptions::default()
        },
        retry_min: Duration::from_millis(20),
        ..SessionOptions::default()
    };
    let (group, plans, mut rx) = LiveGroup::start(p.clone(), series.clone(), opts)
        .await
        .unwrap();
    let plan = &plans["binance"];
    assert_eq!(plan.connections, vec![200, 10], "{plans:?}");
    assert_eq!(plan.own_feeds, 0);
    // Run until every series has closed candles up to `end` (market time), dropping every
    // connection twice on the way.
    let end = from + 5 * five;
    let mut closed: Vec<Vec<Candle>> = vec![Vec::new(); series.len()];
    let (mut drops, mut disconnects) = (0, 0);
    let mut per_series = vec![0u32; series.len()];
    let t0 = Instant::now();
    while closed
        .iter()
        .zip(&series)
        .any(|(c, (n, _))| c.last().is_none_or(|l| n.timeframe.next(l.open_time) < end))
    {
        assert!(t0.elapsed() < Duration::from_secs(120), "too slow");
        let GroupUpdate { index, update } = recv(&mut rx).await;
        match update {
            LiveUpdate::Closed(c) => {
                closed[index].push(c);
                // Drops keyed to series 0's (1m) progress: after 2 and 5 minutes live,
                // each once both connections are up.
                if index == 0 && sim.ws_open() == 2 {
                    let live_minutes = (c.open_time - (ORIGIN - ORIGIN % MIN)) / MIN;
                    if (live_minutes >= 2 && drops == 0) || (live_minutes >= 5 && drops == 1) {
                        assert_eq!(sim.drop_websockets(), 2);
                        drops += 1;
                    }
                }
            }
            LiveUpdate::Disconnected { .. } => {
                disconnects += 1;
                per_series[index] += 1;
            }
            _ => {}
        }
    }
    let results = group.stop().await;
    assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
    assert_eq!(drops, 2);
    assert!(
        per_series.iter().all(|d| *d >= 2),
        "a series missed a drop: {per_series:?}"
    );
    assert!(
        disconnects >= 2 * 210,
        "every series saw both drops: {disconnects}"
    );
    assert_eq!(
        sim.ws_connections(),
        6,
        "2 connections, opened 3 times each"
    );
    for ((node, from), got) in series.iter().zip(&closed) {
        let last = got.last().unwrap().open_time;
        let w = Window {
            start: node.timeframe.floor(*from),
            end: node.timeframe.next(last),
        };
        let want = truth(&sim, node, w);
        assert_eq!(got, &want, "{node}: emitted series differs from the truth");
        let stored = p.store().read(node, w).await.unwrap();
        assert_eq!(stored, want, "{node}: stored series differs from the truth");
        // Nothing past the last closed candle is stored (a forming candle never is).
        let after = Window {
            start: w.end,
            end: w.end + 100 * five,
        };
        let later = p.store().read(node, after).await.unwrap();
        let truth_later = truth(&sim, node, after);
        assert!(
            later.iter().all(|c| truth_later.contains(c)),
            "{node}: a stored candle past the served ones is not the closed truth"
        );
    }
    eprintln!(
        "group: 210 series, {} closed candles, {disconnects} disconnect events, in {:?}",
        closed.iter().map(Vec::len).sum::<usize>(),
        t0.elapsed()
    );
}

/// A symbol the exchange does not know ends its series with a clear error (the REST seam
/// is refused as an unknown symbol) and the other series of the group go on.
#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_symbol_ends_its_series_alone() {
    use seamless::live::{GroupUpdate, LiveGroup};
    let (sim, p, _dir) = setup(fast()).await;
    let from = ORIGIN - ORIGIN % MIN;
    let good: NodeId = node();
    let eth: NodeId = "ohlcv:binance:ETH/USDT:1m".parse().unwrap();
    // Unknown to the simulator's exchange: its REST seam is refused.
    let bad: NodeId = "ohlcv:binance:NOPE/USDT:1m".parse().unwrap();
    let (group, plans, mut rx) = LiveGroup::start(
        p.clone(),
        vec![(good.clone(), from), (bad, from), (eth.clone(), from)],
        SessionOptions {
            feed: feed_opts(),
            silent_start: Duration::from_millis(300),
            ..SessionOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(plans["binance"].connections, vec![3]);
    let mut got = [0usize; 3];
    let t0 = Instant::now();
    while got[0] < 5 || got[2] < 5 {
        assert!(t0.elapsed() < Duration::from_secs(60));
        if let GroupUpdate {
            index,
            update: LiveUpdate::Closed(_),
        } = recv(&mut rx).await
        {
            got[index] += 1;
        }
    }
    assert_eq!(got[1], 0, "the unknown symbol served candles");
    assert!(
        group.sessions()[1].is_finished(),
        "the unknown symbol's session still runs"
    );
    let results = group.stop().await;
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    let e = results[1].as_ref().unwrap_err().to_string();
    assert!(
        e.contains("NOPE/USDT") && e.contains("refused") && e.to_lowercase().contains("symbol"),
        "{e}"
    );
    drop(sim);
}

/// A group of `names` on `venue` (served under `/{venue}` by the simulator) on shared
/// connections (`connections`: series per connection): two forced drops of every
/// connection, each one after the feeds are back; every series but the last (an unknown
/// market, refused by the venue) emits and stores exactly the exchange's truth.
async fn group_across_two_drops(venue: &str, names: &[&str], connections: Vec<usize>) {
    use seamless::live::{GroupUpdate, LiveGroup};
    let sim = Arc::new(
        Simulator::start(
            SimConfig::default()
                .with_clock_fast(ORIGIN, SPEED)
                .with_ws_update_ms(50),
        )
        .await
        .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let clock_sim = sim.clone();
    let p = crate::support::provider_with(
        &format!("{venue}={}/{venue}", sim.base_url()),
        vec![],
        &dir.path().join("group.db"),
    )
    .with_clock(Clock::from_fn(move || clock_sim.now_ms()));
    let from = ORIGIN - ORIGIN % (5 * MIN) - 10 * MIN;
    let series: Vec<(NodeId, i64)> = names.iter().map(|n| (n.parse().unwrap(), from)).collect();
    let (group, plans, mut rx) = LiveGroup::start(
        p.clone(),
        series.clone(),
        SessionOptions {
            feed: feed_opts(),
            retry_min: Duration::from_millis(20),
            ..SessionOptions::default()
        },
    )
    .await
    .unwrap();
    let n_conn = connections.len() as u64;
    assert_eq!(plans[venue].connections, connections, "{plans:?}");
    let unknown = series.len() - 1;
    let good: Vec<usize> = (0..unknown).collect();
    let mut closed: Vec<Vec<Candle>> = vec![Vec::new(); series.len()];
    // Drop every connection, wait until series 0 is connected again and 3 more minutes
    // passed, drop again; then run 10 more market minutes past the second reconnect.
    let (mut drops, mut reconnected, mut next_drop) = (0, 0, 3i64);
    let mut end = i64::MAX;
    let t0 = Instant::now();
    while reconnected < 2
        || good.iter().any(|&i| {
            closed[i]
                .last()
                .is_none_or(|l| series[i].0.timeframe.next(l.open_time) < end)
        })
    {
        assert!(t0.elapsed() < Duration::from_secs(60), "too slow");
        let GroupUpdate { index, update } = recv(&mut rx).await;
        match update {
            LiveUpdate::Connected { .. } if index == 0 && drops > reconnected => {
                reconnected += 1;
                let now = sim.now_ms();
                next_drop = (now - (ORIGIN - ORIGIN % MIN)) / MIN + 3;
                if reconnected == 2 {
                    end = now - now % (5 * MIN) + 10 * MIN;
                }
            }
            LiveUpdate::Closed(c) => {
                closed[index].push(c);
                let live = (c.open_time - (ORIGIN - ORIGIN % MIN)) / MIN;
                if index == 0
                    && drops == reconnected
                    && drops < 2
                    && live >= next_drop
                    && sim.ws_open() == n_conn
                {
                    assert_eq!(sim.drop_websockets(), n_conn);
                    drops += 1;
                }
            }
            _ => {}
        }
    }
    assert!(
        group.sessions()[unknown].is_finished(),
        "{} still runs",
        names[unknown]
    );
    let results = group.stop().await;
    let e = results[unknown].as_ref().unwrap_err().to_string();
    assert!(e.contains("NOPE/USDT") && e.contains("refused"), "{e}");
    for &i in &good {
        assert!(results[i].is_ok(), "{:?}", results[i]);
        let node = &series[i].0;
        let got = &closed[i];
        let w = Window {
            start: node.timeframe.floor(from),
            end: node.timeframe.next(got.last().unwrap().open_time),
        };
        // Swaps and linear markets serve the spot market's data.
        let spot = node.symbol.split(':').next().unwrap();
        let want: Vec<Candle> = sim
            .truth(spot, node.timeframe.as_str(), w.start, w.end)
            .into_iter()
            .map(crate::support::candle)
            .collect();
        assert_eq!(got, &want, "{node}: emitted series differs from the truth");
        assert_eq!(
            p.store().read(node, w).await.unwrap(),
            want,
            "{node}: stored series differs from the truth"
        );
    }
    assert_eq!(
        sim.ws_connections(),
        3 * n_conn,
        "{n_conn} connections, opened 3 times each"
    );
}

/// Bybit's v5 public WebSocket (subscribe messages, several candles per frame, `confirm`):
/// spot and linear series on connections by category; an unknown topic fails Bybit's whole
/// subscribe request, is refused, and the others are subscribed again.
#[tokio::test(flavor = "multi_thread")]
async fn bybit_series_stream_over_v5_topics_and_stay_exact_across_drops() {
    group_across_two_drops(
        "bybit",
        &[
            "ohlcv:bybit:BTC/USDT:1m",
            "ohlcv:bybit:ETH/USDT:1m",
            "ohlcv:bybit:ETH/USDT:5m",
            "ohlcv:bybit:SOL/USDT:3m",
            "ohlcv:bybit:BTC/USDT:USDT:1m",
            "ohlcv:bybit:NOPE/USDT:1m",
        ],
        vec![5, 1],
    )
    .await;
}

/// OKX's business WebSocket (`candle{bar}` channels, rows newest first, `confirm`, the text
/// `ping` heartbeat): spot and swap series on one connection; an unknown instrument is
/// refused by its error event.
#[tokio::test(flavor = "multi_thread")]
async fn okx_series_stream_over_candle_channels_and_stay_exact_across_drops() {
    group_across_two_drops(
        "okx",
        &[
            "ohlcv:okx:BTC/USDT:1m",
            "ohlcv:okx:ETH/USDT:1m",
            "ohlcv:okx:ETH/USDT:5m",
            "ohlcv:okx:SOL/USDT:3m",
            "ohlcv:okx:BTC/USDT:USDT:1m",
            "ohlcv:okx:NOPE/USDT:1m",
        ],
        vec![6],
    )
    .await;
}

/// 360 series on three venues in one process (Binance, Bybit, OKX: 40 symbols × 1m, 3m, 5m
/// each), every connection dropped twice: the connections are as few as the venues' limits
/// allow (Bybit's 100 topics per connection spread its 120 series over two, never refusing
/// one), and every emitted and stored series equals the exchange's truth.
#[tokio::test(flavor = "multi_thread")]
async fn three_venues_360_series_share_connections_and_stay_exact() {
    use exchange_sim::MarketSpec;
    use seamless::live::{GroupUpdate, LiveGroup};
    const GROUP_SPEED: u32 = 120;
    let mut cfg = SimConfig::default()
        .with_clock_fast(ORIGIN, GROUP_SPEED)
        .with_ws_update_ms(200);
    for i in 0..40 {
        cfg = cfg.with_market(MarketSpec::new(
            format!("V{i}/USDT"),
            JAN1_2024,
            20.0 + i as f64,
        ));
    }
    let sim = Arc::new(Simulator::start(cfg).await.unwrap());
    let dir = tempfile::tempdir().unwrap();
    let mut reg = AdapterRegistry::new(host(256, 2000), vec![guest_dir()], vec![]);
    for venue in ["binance", "bybit", "okx"] {
        let base = if venue == "binance" {
            sim.base_url()
        } else {
            format!("{}/{venue}", sim.base_url())
        };
        reg.add_override(&format!("{venue}={base}")).unwrap();
    }
    let clock_sim = sim.clone();
    let p = Provider::new(
        AnyStore::open(&format!("sqlite:{}", dir.path().join("three.db").display())).unwrap(),
        reg,
    )
    .with_clock(Clock::from_fn(move || clock_sim.now_ms()));
    let from = ORIGIN - ORIGIN % (5 * MIN) - 10 * MIN;
    let mut series = Vec::new();
    for venue in ["binance", "bybit", "okx"] {
        for i in 0..40 {
            for tf in ["1m", "3m", "5m"] {
                series.push((NodeId::new(venue, &format!("V{i}/USDT"), tf).unwrap(), from));
            }
        }
    }
    let (group, plans, mut rx) = LiveGroup::start(
        p.clone(),
        series.clone(),
        SessionOptions {
            feed: FeedOptions {
                backoff_min: Duration::from_millis(100),
                backoff_max: Duration::from_millis(200),
                ..FeedOptions::default()
            },
            retry_min: Duration::from_millis(20),
            ..SessionOptions::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(plans["binance"].connections, vec![120], "{plans:?}");
    assert_eq!(plans["bybit"].connections, vec![100, 20], "{plans:?}");
    assert_eq!(plans["okx"].connections, vec![100, 20], "{plans:?}");
    let conns = 5;
    let mut closed: Vec<Vec<Candle>> = vec![Vec::new(); series.len()];
    let mut drops = 0;
    let mut last_drop = Instant::now();
    let mut end = i64::MAX;
    let t0 = Instant::now();
    while drops < 2
        || closed
            .iter()
            .zip(&series)
            .any(|(c, (n, _))| c.last().is_none_or(|l| n.timeframe.next(l.open_time) < end))
    {
        assert!(t0.elapsed() < Duration::from_secs(120), "too slow");
        let GroupUpdate { index, update } = recv(&mut rx).await;
        if let LiveUpdate::Closed(c) = update {
            closed[index].push(c);
        }
        if drops < 2
            && sim.ws_open() == conns
            && last_drop.elapsed() > Duration::from_millis(1500)
            && t0.elapsed() > Duration::from_secs(2)
        {
            assert_eq!(sim.drop_websockets(), conns);
            drops += 1;
            last_drop = Instant::now();
            if drops == 2 {
                let now = sim.now_ms();
                end = now - now % (5 * MIN) + 10 * MIN;
            }
        }
    }
    let results = group.stop().await;
    assert!(results.iter().all(|r| r.is_ok()), "a series ended");
    assert_eq!(
        sim.ws_connections(),
        3 * conns,
        "5 connections, opened 3 times each"
    );
    for ((node, from), got) in series.iter().zip(&closed) {
        let w = Window {
            start: node.timeframe.floor(*from),
            end: node.timeframe.next(got.last().unwrap().open_time),
        };
        let want = truth(&sim, node, w);
        assert_eq!(got, &want, "{node}: emitted series differs from the truth");
        assert_eq!(
            p.store().read(node, w).await.unwrap(),
            want,
            "{node}: stored series differs from the truth"
        );
    }
}

/// The rest of the live contract, through the real feed and a test adapter (the chaos
/// component's `STREAM` market): a plan that asks for a token over REST first and connects
/// with it, a subscribe message, an alias announced by the venue and used by later frames,
/// binary frames, an in-band `ping` answered with the adapter's reply, the declared
/// heartbeat sent, and candles closed by the next one (no closed flag).
#[tokio::test(flavor = "multi_thread")]
// tungstenite's handshake callback type fixes its (large) error type.
#[allow(clippy::result_large_err)]
async fn prepare_aliases_replies_binary_frames_heartbeats_and_closed_by_next() {
    use futures_util::{SinkExt, StreamExt};
    use seamless::domain::Timeframe;
    use seamless::net::BaseMap;
    use seamless::provider::Exchange;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::Message;

    let t0 = JAN1_2024;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let seen = seen_tx.clone();
            tokio::spawn(async move {
                let mut head = [0u8; 16];
                let n = tcp.peek(&mut head).await.unwrap_or(0);
                if head[..n].starts_with(b"GET /token") {
                    let mut buf = vec![0u8; 4096];
                    let _ = tcp.read(&mut buf).await;
                    let _ = tcp
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 4\r\nconnection: close\r\n\r\nT123")
                        .await;
                    let _ = seen.send("token".into());
                    return;
                }
                let seen_uri = seen.clone();
                let callback =
                    move |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                          resp| {
                        let _ = seen_uri.send(format!("uri {}", req.uri()));
                        Ok(resp)
                    };
                let Ok(ws) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
                    return;
                };
                let (mut tx, mut rx) = ws.split();
                let seen_msgs = seen.clone();
                tokio::spawn(async move {
                    while let Some(Ok(m)) = rx.next().await {
                        if let Message::Text(t) = m {
                            let _ = seen_msgs.send(format!("msg {t}"));
                        }
                    }
                });
                let frames = [
                    Message::text("alias 7 STREAM"),
                    // Forming candle of t0 (binary), an in-band ping, then the next candle,
                    // which closes t0.
                    Message::binary(format!("7 {}", t0 + 1_000).into_bytes()),
                    Message::text("ping 1"),
                    Message::text(format!("7 {}", t0 + 61_000)),
                ];
                for f in frames {
                    let _ = tx.send(f).await;
                }
                tokio::time::sleep(Duration::from_secs(20)).await;
            });
        }
    });
    let adapter = Arc::new(
        host(256, 2000)
            .load_adapter_file(&crate::support::guest("chaos_guest"))
            .unwrap(),
    );
    let mut bases = BaseMap::default();
    bases.insert("http://chaos.invalid", &format!("http://{addr}"));
    bases.insert("ws://chaos.invalid", &format!("ws://{addr}"));
    let node = NodeId {
        exchange: "chaos".into(),
        symbol: "STREAM".into(),
        timeframe: Timeframe::M1,
    };
    let (handle, mut rx) = LiveFeed::spawn(
        node,
        Exchange { adapter, bases },
        Clock::Fixed(t0 + 61_000),
        feed_opts(),
    );
    match recv(&mut rx).await {
        FeedEvent::Connected {
            source: FeedSource::WebSocket { url },
        } => assert_eq!(url, format!("ws://{addr}/ws?token=T123")),
        other => panic!("expected the WebSocket, got {other:?}"),
    }
    let mut got = Vec::new();
    while got.len() < 3 {
        if let FeedEvent::Candle { candle, closed, .. } = recv(&mut rx).await {
            got.push((candle.open_time, closed));
        }
    }
    assert_eq!(got, vec![(t0, false), (t0, true), (t0 + MIN, false)]);
    // What the venue saw: the token request, the token in the URL, the subscribe message,
    // the reply to its ping, and the heartbeat.
    let mut saw = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !saw.iter().any(|s: &String| s == "msg hb") && Instant::now() < deadline {
        if let Ok(Some(s)) = tokio::time::timeout(Duration::from_secs(1), seen.recv()).await {
            saw.push(s);
        }
    }
    for want in [
        "token",
        "uri /ws?token=T123",
        "msg sub STREAM",
        "msg pong 1",
        "msg hb",
    ] {
        assert!(
            saw.iter().any(|s| s == want),
            "the venue never saw {want:?}: {saw:?}"
        );
    }
    handle.stop().await;
}
