//! Many series live (`universe`): 1,000 Binance series (200 symbols × 1m, 3m, 5m, 15m,
//! 30m) followed by one `LiveGroup` on the simulator's fast clock: connections opened, the
//! time until every series is live, latency from a candle closing to it being stored and
//! emitted (next to a bare WebSocket client reading the same streams), CPU per 1,000
//! closed candles, peak RSS, and the REST requests spent repairing the seams after every
//! connection is dropped at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use exchange_sim::{MarketSpec, SimConfig, Simulator};
use seamless::components::ComponentHost;
use seamless::domain::{Clock, NodeId};
use seamless::live::{GroupUpdate, LiveGroup, LiveUpdate, SessionOptions};
use seamless::provider::{AdapterRegistry, Provider};
use seamless::store::AnyStore;

use crate::{DAY, JAN1_2024, MIN, guest_dir};

const SYMBOLS: usize = 200;
const TIMEFRAMES: [&str; 5] = ["1m", "3m", "5m", "15m", "30m"];
/// A 1m candle closes every second of wall time.
const SPEED: u32 = 60;
/// Wall ms between two updates of a stream (the real Binance sends about one a second).
const UPDATE_MS: u64 = 250;

fn wall_now_ms() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        * 1e3
}

fn percentiles(v: &[f64]) -> (f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let at = |p: f64| s[((p * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
    (at(0.50), at(0.99))
}

/// User + system CPU time of this process so far, from /proc (clock ticks of 10 ms).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime), counted after the command name.
    (ticks(11) + ticks(12)) * 10.0
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .unwrap_or(0.0)
        / 1024.0
}

pub(crate) async fn bench_universe(cached_host: &ComponentHost) {
    use futures_util::StreamExt;
    let origin = JAN1_2024 + 10 * DAY + 15_000;
    let mut cfg = SimConfig::default()
        .with_ws_update_ms(UPDATE_MS)
        .with_weight_budget(10_000_000);
    let symbols: Vec<String> = (0..SYMBOLS).map(|i| format!("U{i}/USDT")).collect();
    for (i, s) in symbols.iter().enumerate() {
        cfg = cfg.with_market(MarketSpec::new(s, JAN1_2024, 10.0 + i as f64));
    }
    let sim = Arc::new(Simulator::start(cfg).await.unwrap());
    let clock = exchange_sim::Clock::fast(origin, SPEED);
    sim.set_clock(clock);
    let exchange_sim::Clock::Fast { wall_origin_ms, .. } = clock else {
        unreachable!()
    };
    let wall_at = move |t: i64| wall_origin_ms as f64 + (t - origin) as f64 / f64::from(SPEED);
    let dir = tempfile::tempdir().unwrap();
    let mut reg = AdapterRegistry::new(cached_host.clone(), vec![guest_dir()], vec![]);
    reg.add_override(&format!("binance={}", sim.base_url()))
        .unwrap();
    let clock_sim = sim.clone();
    let provider = Provider::new(
        AnyStore::open(&format!("sqlite:{}", dir.path().join("u.db").display())).unwrap(),
        reg,
    )
    .with_clock(Clock::from_fn(move || clock_sim.now_ms()));
    let from = origin - origin % (30 * MIN) - 30 * MIN;
    let mut series = Vec::new();
    for s in &symbols {
        for tf in TIMEFRAMES {
            series.push((NodeId::new("binance", s, tf).unwrap(), from));
        }
    }
    let n = series.len();
    // Baseline: a bare client on the 1m streams of the first 200 symbols (one combined
    // connection), noting when each closed kline frame arrives.
    let streams: Vec<String> = symbols
        .iter()
        .map(|s| format!("{}@kline_1m", s.replace('/', "").to_lowercase()))
        .collect();
    let url = format!("{}/stream?streams={}", sim.ws_url(), streams.join("/"));
    let (mut ws, _) = tokio_tungstenite::connect_async_with_config(url.as_str(), None, true)
        .await
        .unwrap();
    let bare = tokio::spawn(async move {
        let mut seen: HashMap<(String, i64), f64> = HashMap::new();
        while let Some(Ok(msg)) = ws.next().await {
            let tokio_tungstenite::tungstenite::Message::Text(text) = msg else {
                continue;
            };
            let now = wall_now_ms();
            let v: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
            let k = &v["data"]["k"];
            if k["x"] == true {
                let key = (
                    v["stream"].as_str().unwrap_or_default().to_string(),
                    k["t"].as_i64().unwrap_or_default(),
                );
                seen.entry(key).or_insert(now);
            }
        }
        seen
    });

    let cpu0 = cpu_ms();
    let t0 = Instant::now();
    // Reconnect 3 s (3 market minutes) after a drop, so that the drop loses candles of
    // the shorter timeframes and their seams must be repaired over REST.
    let opts = SessionOptions {
        updates_capacity: 65_536,
        feed: seamless::live::FeedOptions {
            backoff_min: Duration::from_secs(3),
            backoff_max: Duration::from_secs(3),
            ..seamless::live::FeedOptions::default()
        },
        ..SessionOptions::default()
    };
    let (group, plans, mut rx) = LiveGroup::start(provider.clone(), series.clone(), opts)
        .await
        .unwrap();
    let started = t0.elapsed();
    // Phase 1: until every series has a live closed candle (after its seam).
    let mut live_since: Vec<Option<Instant>> = vec![None; n];
    let mut backfilled_left = vec![0usize; n];
    let mut host_lat: BTreeMap<(usize, i64), f64> = BTreeMap::new();
    let mut closed_total = 0u64;
    let mut live_closed = 0u64;
    let mut all_live = None;
    let mut phase_cpu0 = 0.0;
    let mut phase_closed0 = 0;
    let steady = Duration::from_secs(20);
    let mut steady_end = None;
    while steady_end.is_none_or(|e: Instant| Instant::now() < e) {
        let Ok(Some(GroupUpdate { index, update })) =
            tokio::time::timeout(Duration::from_secs(30), rx.recv()).await
        else {
            panic!("no update for 30 s");
        };
        match update {
            LiveUpdate::Backfilled { candles, .. } => backfilled_left[index] += candles,
            LiveUpdate::Closed(c) => {
                closed_total += 1;
                if backfilled_left[index] > 0 {
                    backfilled_left[index] -= 1;
                    continue;
                }
                live_closed += 1;
                let tf = series[index].0.timeframe;
                host_lat.insert(
                    (index, c.open_time),
                    wall_now_ms() - wall_at(tf.next(c.open_time)),
                );
                if live_since[index].is_none() {
                    live_since[index] = Some(Instant::now());
                    if live_since.iter().all(Option::is_some) {
                        all_live = Some(t0.elapsed());
                        phase_cpu0 = cpu_ms();
                        phase_closed0 = closed_total;
                        steady_end = Some(Instant::now() + steady);
                    }
                }
            }
            _ => {}
        }
    }
    let steady_cpu = cpu_ms() - phase_cpu0;
    let steady_closed = closed_total - phase_closed0;
    // Phase 2: drop every connection at once; count the REST requests until every series
    // has emitted past the outage.
    let requests0 = sim.requests("/api/v3/klines");
    let dropped = sim.drop_websockets();
    let drop_market = sim.now_ms();
    let mut repaired: Vec<bool> = vec![false; n];
    let mut repairs = 0usize;
    let t_drop = Instant::now();
    while repaired.iter().any(|r| !r) {
        let Ok(Some(GroupUpdate { index, update })) =
            tokio::time::timeout(Duration::from_secs(30), rx.recv()).await
        else {
            panic!("no update for 30 s after the drop");
        };
        match update {
            LiveUpdate::Backfilled { .. } => repairs += 1,
            LiveUpdate::Closed(c) => {
                let tf = series[index].0.timeframe;
                // Past the outage: a candle that opened after the drop has closed.
                if c.open_time > drop_market && tf.next(c.open_time) <= sim.now_ms() {
                    repaired[index] = true;
                }
            }
            _ => {}
        }
    }
    let repair_took = t_drop.elapsed();
    let repair_requests = sim.requests("/api/v3/klines") - requests0;
    let connections = sim.ws_connections();
    let _ = group.stop().await;
    bare.abort();
    let bare_seen = bare.await.unwrap_or_default();
    // Host latency vs the bare client for the same candles (the 1m series of each symbol).
    let mut paired = Vec::new();
    for ((index, open), host) in &host_lat {
        let (node, _) = &series[*index];
        if node.timeframe.as_str() != "1m" {
            continue;
        }
        let key = (
            format!("{}@kline_1m", node.symbol.replace('/', "").to_lowercase()),
            *open,
        );
        if let Some(at) = bare_seen.get(&key) {
            let close = wall_at(node.timeframe.next(*open));
            paired.push((at - close, *host));
        }
    }
    let host_all: Vec<f64> = host_lat.values().copied().collect();
    let (hp50, hp99) = percentiles(&host_all);
    let bare_l: Vec<f64> = paired.iter().map(|p| p.0).collect();
    let added: Vec<f64> = paired.iter().map(|p| p.1 - p.0).collect();
    println!(
        "universe: {n} Binance series ({SYMBOLS} symbols x {}) in one process, fast clock (1m closes every {} ms), stream updates every {UPDATE_MS} ms:",
        TIMEFRAMES.join(","),
        60_000 / SPEED
    );
    println!(
        "  plan: {:?}; started in {:.0} ms; every series live (seam backfilled, a live candle stored) after {:.1} s",
        plans["binance"],
        started.as_secs_f64() * 1e3,
        all_live.map_or(f64::NAN, |d| d.as_secs_f64())
    );
    println!(
        "  close → stored and emitted, all series ({} live candles): p50 {hp50:.1} ms, p99 {hp99:.1} ms (includes waiting for the next stream update, up to {UPDATE_MS} ms)",
        host_all.len()
    );
    if !paired.is_empty() {
        let (bp50, bp99) = percentiles(&bare_l);
        let (ap50, ap99) = percentiles(&added);
        println!(
            "  same 1m candles ({}): bare client frame p50 {bp50:.1} ms / p99 {bp99:.1} ms (baseline); added by the host (frame → stored and emitted) p50 {ap50:.1} ms / p99 {ap99:.1} ms (goal p99 < 20 ms)",
            paired.len()
        );
    }
    println!(
        "  steady {:.0} s: {steady_closed} closed candles, CPU {:.0} ms = {:.0} ms per 1,000 closed candles (process total, simulator included; {live_closed} live candles in all)",
        steady.as_secs_f64(),
        steady_cpu,
        steady_cpu / steady_closed.max(1) as f64 * 1000.0
    );
    println!(
        "  drop of all {dropped} connections at once: {repair_requests} REST requests for {repairs} repairs of {n} series (goal: one request per series and lost range), all past the outage in {:.1} s; connections opened in all: {connections} (bare client 1)",
        repair_took.as_secs_f64()
    );
    println!(
        "  peak RSS of the bench process (simulator and store included): {:.0} MiB (goal < 300 MiB); CPU since the start {:.1} s",
        peak_rss_mib(),
        (cpu_ms() - cpu0) / 1e3
    );
}
