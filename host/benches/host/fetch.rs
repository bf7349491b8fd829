//! Fetch (`fetch`): 30 days of 1m candles from the simulator into SQLite (and
//! `Provider::backfill` alone) vs a plain HTTP walk of the same pages that only downloads
//! the bytes.

use std::time::{Duration, Instant};

use exchange_sim::{SimConfig, Simulator};
use seamless::components::ComponentHost;
use seamless::domain::{NodeId, Window};
use seamless::provider::{AdapterRegistry, FetchOptions, Provider};
use seamless::store::AnyStore;

use crate::{JAN1_2024, MIN, guest_dir};

fn wal_of(db: &std::path::Path) -> std::path::PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

pub(crate) async fn bench_fetch(cached_host: &ComponentHost, node: &NodeId) {
    // --- 30 days of 1m from the simulator into SQLite ---
    // Both sides: one untimed warm-up run, then the median of RUNS runs (a fresh SQLite
    // file per seamless run), so neither pays one-time costs (connection set-up, adapter
    // load) in the figure.
    const RUNS: usize = 15;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let w = Window::new(JAN1_2024, JAN1_2024 + 30 * 1440 * MIN).unwrap();
    let candles = (w.len_ms() / MIN) as f64;
    seamless::net::install_crypto();
    let client = reqwest::Client::new();
    // Baseline: walk the same pages, download bytes only.
    let walk = || async {
        let mut bytes = 0usize;
        let mut start = w.start;
        while start < w.end {
            let url = format!(
                "{}/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={start}&endTime={}&limit=1000",
                sim.base_url(),
                w.end - 1
            );
            bytes += client
                .get(url)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .len();
            start += 1000 * MIN;
        }
        bytes
    };
    let dir = tempfile::tempdir().unwrap();
    let mut reg = AdapterRegistry::new(cached_host.clone(), vec![guest_dir()], vec![]);
    reg.add_override(&format!("binance={}", sim.base_url()))
        .unwrap();
    let base = Provider::new(
        AnyStore::open(&format!("sqlite:{}", dir.path().join("b0.db").display())).unwrap(),
        reg,
    );
    // `serve`: `Provider::fetch` (storage, backfill, then the frame served back with
    // conformance and fingerprint). Otherwise `Provider::backfill` (what `seamless
    // backfill` runs: fetch, parse and store every page, nothing served back).
    let mut n = 0;
    let mut ours = |serve: bool| {
        n += 1;
        let path = dir.path().join(format!("b{n}.db"));
        let store = AnyStore::open(&format!("sqlite:{}", path.display())).unwrap();
        let provider = base.clone().with_store(store);
        async move {
            let t = Instant::now();
            let (got, requests) = if serve {
                let f = provider
                    .fetch(node, w, &FetchOptions::default())
                    .await
                    .unwrap();
                (f.candles.len(), f.metadata.requests)
            } else {
                let o = provider.backfill(node, w, None).await.unwrap();
                assert!(o.errors.is_empty(), "{:?}", o.errors);
                (o.stats.candles, o.stats.requests)
            };
            let took = t.elapsed();
            // Closing the store (its final checkpoint) is not timed, and is over before
            // the next timed walk starts.
            drop(provider);
            assert!(!wal_of(&path).exists(), "the store closed");
            (took, got, requests)
        }
    };
    let bytes = walk().await;
    let _ = ours(true).await;
    let _ = ours(false).await;
    let (mut raws, mut fetches, mut backfills) = (Vec::new(), Vec::new(), Vec::new());
    let mut requests = 0;
    for _ in 0..RUNS {
        let t = Instant::now();
        walk().await;
        raws.push(t.elapsed());
        let (d, got, req) = ours(true).await;
        assert_eq!(got as f64, candles);
        requests = req;
        fetches.push(d);
        let (d, got, _) = ours(false).await;
        assert_eq!(got as f64, candles);
        backfills.push(d);
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (raw, fetch, backfill) = (
        median(&mut raws),
        median(&mut fetches),
        median(&mut backfills),
    );
    println!(
        "fetch 30 days of 1m ({candles} candles, {requests} pages, {} MiB), median of {RUNS} after a warm-up:",
        bytes >> 20
    );
    println!(
        "  raw HTTP walk           {:>9.0} candles/s  (baseline)",
        candles / raw.as_secs_f64()
    );
    println!(
        "  seamless backfill→SQLite {:>8.0} candles/s  {:.2}x of raw",
        candles / backfill.as_secs_f64(),
        raw.as_secs_f64() / backfill.as_secs_f64()
    );
    println!(
        "  seamless fetch→SQLite   {:>9.0} candles/s  {:.2}x of raw (backfill + the frame served back)",
        candles / fetch.as_secs_f64(),
        raw.as_secs_f64() / fetch.as_secs_f64()
    );
    sim.shutdown().await;
}
