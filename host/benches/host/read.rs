//! Warm read (`read`): 30 days of 1m (43,200 candles) already in a SQLite store, served by
//! `Provider::fetch` (the whole warm path: ledger, read, conformance, metadata with its
//! fingerprint) and by `CandleStore::read` alone, against reading the same candles from the
//! Parquet file `seamless fetch --format parquet` writes (`export::read_parquet`), in the
//! same run. The store was filled by another `Provider`, closed before the reads. The
//! fingerprint alone is timed too, since every served frame pays it.

use std::time::{Duration, Instant};

use exchange_sim::{SimConfig, Simulator};
use seamless::components::ComponentHost;
use seamless::domain::{NodeId, Window};
use seamless::export::{read_parquet, write_parquet};
use seamless::provider::{AdapterRegistry, FetchOptions, Provider, fingerprint};
use seamless::store::{AnyStore, CandleStore};

use crate::{DAY, JAN1_2024, guest_dir};

const RUNS: usize = 41;

fn median(mut f: impl FnMut() -> usize, expect: usize) -> Duration {
    let mut times = Vec::with_capacity(RUNS);
    for _ in 0..3 {
        assert_eq!(f(), expect);
    }
    for _ in 0..RUNS {
        let t = Instant::now();
        assert_eq!(f(), expect);
        times.push(t.elapsed());
    }
    times.sort();
    times[RUNS / 2]
}

pub(crate) fn bench_read(rt: &tokio::runtime::Runtime, cached_host: &ComponentHost, node: &NodeId) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("read.db").display());
    let w = Window::new(JAN1_2024, JAN1_2024 + 30 * DAY).unwrap();
    // Backfill the window, then close that provider (its store checkpoints and closes):
    // the warm reads below open the file as a later run would.
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    let open = || {
        let mut reg = AdapterRegistry::new(cached_host.clone(), vec![guest_dir()], vec![]);
        reg.add_override(&format!("binance={}", sim.base_url()))
            .unwrap();
        Provider::new(AnyStore::open(&url).unwrap(), reg)
    };
    rt.block_on(open().fetch(node, w, &FetchOptions::default()))
        .unwrap();
    let (provider, store) = (open(), AnyStore::open(&url).unwrap());
    let rows = (w.len_ms() / 60_000) as usize;
    let fetched = rt
        .block_on(provider.fetch(node, w, &FetchOptions::default()))
        .unwrap();
    let parquet = dir.path().join("window.parquet");
    write_parquet(
        &parquet,
        &node.to_string(),
        &fetched.metadata.fingerprint,
        &fetched.candles,
        &serde_json::json!({}),
    )
    .unwrap();

    let base = median(|| read_parquet(&parquet).unwrap().0.len(), rows);
    let fetch = median(
        || {
            rt.block_on(provider.fetch(node, w, &FetchOptions::default()))
                .unwrap()
                .candles
                .len()
        },
        rows,
    );
    let read = median(|| rt.block_on(store.read(node, w)).unwrap().len(), rows);
    let fp = median(
        || {
            fingerprint(node, w, &fetched.candles);
            rows
        },
        rows,
    );
    let line = |what: &str, d: Duration, baseline: bool| {
        let rate = rows as f64 / d.as_secs_f64() / 1e6;
        let ratio = if baseline {
            "(baseline)".to_string()
        } else {
            format!(
                "{:.2}x the Parquet read",
                base.as_secs_f64() / d.as_secs_f64()
            )
        };
        println!(
            "read 30d 1m: {what:<34} {:>8.2} ms {rate:>6.1} M candles/s  {ratio}",
            d.as_secs_f64() * 1e3
        );
    };
    line("Parquet file -> candles", base, true);
    line("Provider::fetch (warm, whole path)", fetch, false);
    line("CandleStore::read (SQLite)", read, false);
    line("fingerprint alone", fp, false);
}
