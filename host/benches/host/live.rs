//! Live (`live`): latency from a candle closing on the simulated exchange to the strategy's
//! `on-candles` returning for it through a `LiveSession`, vs a bare WebSocket client reading
//! the same stream.

use std::time::{Duration, Instant};

use exchange_sim::{SimConfig, Simulator};
use seamless::components::ComponentHost;
use seamless::domain::NodeId;
use seamless::provider::{AdapterRegistry, Provider};
use seamless::store::AnyStore;

use crate::strategy::sma_instance;
use crate::{DAY, JAN1_2024, MIN, guest_dir};

/// Wall time now in ms since the epoch, with sub-ms precision.
fn wall_now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3
}

/// (p50, p99, max) of `v` (nearest rank).
fn percentiles(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let at = |p: f64| s[((p * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
    (at(0.50), at(0.99), s[s.len() - 1])
}

/// What one live measurement saw: per live candle (paired by open time), the bare
/// client's latency and the host's, in ms; and counts for the printout.
struct LiveRun {
    paired: Vec<(f64, f64)>,
    took: Duration,
    seam: usize,
    skipped: usize,
    catchup: usize,
    signals: usize,
    stats: seamless::live::SessionStats,
}

/// Latency from a candle closing on the simulator (fast clock, WebSocket updates every
/// 1 ms, server pings every `ping_ms`) to a WASM sma-cross instance's `on-candles`
/// returning for it through a `LiveSession`; and, as the baseline, to a bare WebSocket
/// client reading the same stream in the same process, for the same candles.
async fn live_run(cached_host: &ComponentHost, ping_ms: u64, want: usize) -> LiveRun {
    use futures_util::StreamExt;
    use seamless::live::{LiveSession, LiveUpdate, SessionOptions};
    use std::collections::BTreeMap;
    use std::sync::Arc;
    use tokio_tungstenite::tungstenite::Message;

    const SPEED: u32 = 600; // a 1m candle closes every 100 ms of wall time
    let origin = JAN1_2024 + 10 * DAY + 15_000;
    let cfg = SimConfig::default()
        .with_ws_update_ms(1)
        .with_ws_ping_ms(ping_ms);
    let sim = Arc::new(Simulator::start(cfg).await.unwrap());
    let clock = exchange_sim::Clock::fast(origin, SPEED);
    sim.set_clock(clock);
    let exchange_sim::Clock::Fast { wall_origin_ms, .. } = clock else {
        unreachable!()
    };
    // The wall time at which the simulator's clock reaches market time `t`.
    let wall_at = move |t: i64| wall_origin_ms as f64 + (t - origin) as f64 / f64::from(SPEED);
    let node: NodeId = "ohlcv:binance:BTC/USDT:1m".parse().unwrap();

    // Baseline: a bare client (tokio-tungstenite, Nagle off like the host's feed).
    let url = format!("{}/ws/btcusdt@kline_1m", sim.ws_url());
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url.as_str(), None, true)
        .await
        .unwrap();
    let bare = tokio::spawn(async move {
        let mut lat = BTreeMap::new();
        while let Some(Ok(msg)) = ws.next().await {
            if let Message::Text(text) = msg {
                let now = wall_now_ms();
                let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap();
                if v["k"]["x"].as_bool() == Some(true) {
                    let open = v["k"]["t"].as_i64().unwrap();
                    lat.insert(open, now - wall_at(open + MIN));
                    if lat.len() >= want + 40 {
                        break;
                    }
                }
            }
        }
        lat
    });

    // The host: a provider on the simulator's clock, a session from now, a WASM
    // sma-cross instance warmed on the 30 candles before it.
    let dir = tempfile::tempdir().unwrap();
    let mut reg = AdapterRegistry::new(cached_host.clone(), vec![guest_dir()], vec![]);
    reg.add_override(&format!("binance={}", sim.base_url()))
        .unwrap();
    let store = AnyStore::open(&format!("sqlite:{}", dir.path().join("l.db").display())).unwrap();
    let clock_sim = sim.clone();
    let provider = Provider::new(store, reg)
        .with_clock(seamless::domain::Clock::from_fn(move || clock_sim.now_ms()));
    let component = cached_host
        .load_strategy_file(&guest_dir().join("sma_cross_strategy.wasm"))
        .unwrap();
    let mut inst = sma_instance(&component);
    let from = sim.now_ms() / MIN * MIN;
    let warm: Vec<seamless::domain::Candle> = sim
        .truth("BTC/USDT", "1m", from - 30 * MIN, from)
        .into_iter()
        .map(crate::sim_candle)
        .collect();
    inst.on_candles(&seamless::components::batch_of(0, &warm), true)
        .unwrap()
        .unwrap();
    let (session, mut rx) = LiveSession::start(provider, node, from, SessionOptions::default())
        .await
        .unwrap();
    let mut host_lat: BTreeMap<i64, f64> = BTreeMap::new();
    let (mut seam, mut catchup, mut signals, mut skipped) = (0usize, 0usize, 0usize, 0usize);
    let mut backfilled_left = 0usize;
    let mut last_open = None;
    let t0 = Instant::now();
    while host_lat.len() < want {
        let u = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a live update within 10 s")
            .expect("the session is running");
        match u {
            LiveUpdate::Backfilled { start, candles, .. } => {
                backfilled_left += candles;
                if start == from {
                    seam += candles;
                } else {
                    catchup += candles;
                }
            }
            LiveUpdate::Closed(c) => {
                let out = inst
                    .on_candles(&seamless::components::batch_of(0, &[c]), false)
                    .unwrap()
                    .unwrap();
                let lat = wall_now_ms() - wall_at(c.open_time + MIN);
                signals += out.len();
                if let Some(prev) = last_open {
                    assert_eq!(c.open_time, prev + MIN, "gap or duplicate");
                }
                last_open = Some(c.open_time);
                if backfilled_left > 0 {
                    // Seam candles (and any caught up over REST) are not live arrivals.
                    backfilled_left -= 1;
                } else if skipped < 3 {
                    skipped += 1; // the first live candles warm the path up
                } else {
                    host_lat.insert(c.open_time, lat);
                }
            }
            _ => {}
        }
    }
    let took = t0.elapsed();
    let summary = session.stop().await.unwrap();
    let bare_lat = tokio::time::timeout(Duration::from_secs(20), bare)
        .await
        .expect("the bare client finishes")
        .unwrap();
    sim.drop_websockets();
    LiveRun {
        paired: host_lat
            .iter()
            .filter_map(|(t, h)| bare_lat.get(t).map(|b| (*b, *h)))
            .collect(),
        took,
        seam,
        skipped,
        catchup,
        signals,
        stats: summary.stats,
    }
}

pub(crate) async fn bench_live(cached_host: &ComponentHost) {
    // --- latency from a candle's close on the exchange to `on-candles` returning ---
    println!(
        "live: candle close on the simulator (1m at speed 600 = a close every 100 ms, WebSocket updates every 1 ms) → wasm sma-cross on-candles returned, live candles only:"
    );
    for (ping_ms, want, what) in [
        (600_000, 200, "no server ping during the run"),
        (
            2_000,
            100,
            "server pings every 2 s (the simulator's default: 20 s)",
        ),
    ] {
        let r = live_run(cached_host, ping_ms, want).await;
        let b: Vec<f64> = r.paired.iter().map(|p| p.0).collect();
        let h: Vec<f64> = r.paired.iter().map(|p| p.1).collect();
        let d: Vec<f64> = r.paired.iter().map(|p| p.1 - p.0).collect();
        let (bp50, bp99, bmax) = percentiles(&b);
        let (hp50, hp99, hmax) = percentiles(&h);
        let (dp50, dp99, dmax) = percentiles(&d);
        println!(
            "  {what}: {} candles in {:.1} s ({} seam + {} warm-up not counted, {} caught up over REST, {} written live, {} signals):",
            r.paired.len(),
            r.took.as_secs_f64(),
            r.seam,
            r.skipped,
            r.catchup,
            r.stats.live_written,
            r.signals
        );
        println!(
            "    bare WebSocket client         p50 {bp50:>6.2} ms  p99 {bp99:>6.2} ms  max {bmax:>6.2} ms  (baseline)"
        );
        println!(
            "    LiveSession → on-candles      p50 {hp50:>6.2} ms  p99 {hp99:>6.2} ms  max {hmax:>6.2} ms  {:.2}x / {:.2}x of baseline p50 / p99",
            hp50 / bp50,
            hp99 / bp99
        );
        println!(
            "    added by the host, per candle p50 {dp50:>6.2} ms  p99 {dp99:>6.2} ms  max {dmax:>6.2} ms"
        );
    }
}
