//! Host benchmarks. Every figure is printed next to a baseline measured in the same run,
//! as a ratio. Run with `just bench` (builds the guest components first); the results
//! are recorded in docs/benchmarks.md.
//!
//! - component load: cold Cranelift compile vs cached (deserialize) vs one instantiation;
//! - Binance klines parse of a 1000-row page: WASM component vs the same code native;
//! - fetch of 30 days of 1m candles from the simulator into SQLite vs a plain HTTP walk
//!   of the same pages that only downloads the bytes;
//! - coverage planning of one window over a ledger of 10,000 ranges, vs the 1 ms budget;
//! - peak RSS of a one-year 1m backfill by the `seamless` binary, vs an idle run and the
//!   200 MiB budget.
//!
//! - QuestDB (when `SEAMLESS_TEST_QUESTDB` is set, as `just bench` does): ILP/HTTP ingest
//!   through the store vs PG-wire INSERT batches, and the read rate of a one-year window.
//!
//! - strategy: the SMA-cross strategy (fast 10, slow 30) over 1,000,000 candles in memory,
//!   natively vs the WASM component through the host (columns built per batch, pre-built,
//!   and the call + copy alone), an end-to-end `seamless::strategy::run` over one
//!   year of 1m candles from a warm SQLite store, vs the native rate, and two-input runs
//!   (sma-cross over two series, the spread) vs the one-input run;
//! - live: latency from a candle closing on the simulated exchange (fast clock, WebSocket
//!   updates every 1 ms) to the strategy's `on-candles` returning for it through a
//!   `LiveSession`, vs a bare WebSocket client reading the same stream.
//! - read: 30 days of 1m from a warm SQLite store (`Provider::fetch`, `CandleStore::read`,
//!   the fingerprint) vs reading the same candles from the Parquet export.
//! - api: windows of one day served by the HTTP data API (JSON, Arrow; 1 and 32 clients)
//!   vs reading the same windows from the store directly.
//!
//! - python: the SMA cross as a Python component (componentize-py) next to the Rust one:
//!   first load, cached start and candles/s.
//!
//! - universe: 1,000 series live in one process over shared connections (time to all
//!   live, latency to stored, CPU, RSS, seam repair after a drop of every connection).
//!
//! `cargo bench -p seamless --bench host -- SECTION...` runs only the named sections
//! (load, parse, fetch, read, plan, rss, questdb, strategy, python, live, universe, api).
//!
//! One module per section in `benches/host/` (this file is the crate root, hence the paths).

#[path = "host/api.rs"]
mod api;
#[path = "host/fetch.rs"]
mod fetch;
#[path = "host/live.rs"]
mod live;
#[path = "host/load.rs"]
mod load;
#[path = "host/parse.rs"]
mod parse;
#[path = "host/plan.rs"]
mod plan;
#[path = "host/python.rs"]
mod python;
#[path = "host/questdb.rs"]
mod questdb;
#[path = "host/read.rs"]
mod read;
#[path = "host/rss.rs"]
mod rss;
#[path = "host/strategy.rs"]
mod strategy;
#[path = "host/universe.rs"]
mod universe;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use seamless::components::{ComponentHost, SandboxLimits};
use seamless::domain::NodeId;

const JAN1_2024: i64 = 1_704_067_200_000;
const MIN: i64 = 60_000;
const DAY: i64 = 1440 * MIN;

fn guest_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    root.join("target").join("wasm32-wasip2").join("guest")
}

/// Mean time of `f` over `n` runs after `n / 10 + 1` warm-up runs.
fn mean(n: u32, mut f: impl FnMut()) -> Duration {
    for _ in 0..n / 10 + 1 {
        f();
    }
    let t = Instant::now();
    for _ in 0..n {
        f();
    }
    t.elapsed() / n
}

fn us(d: Duration) -> String {
    format!("{:.1} µs", d.as_secs_f64() * 1e6)
}

fn main() {
    let wanted: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let run = |name: &str| wanted.is_empty() || wanted.iter().any(|w| w == name);
    let wasm_path = guest_dir().join("binance_adapter.wasm");
    let wasm = std::fs::read(&wasm_path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build the guests first with `just guests`",
            wasm_path.display()
        )
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    let cache = tempfile::tempdir().unwrap();
    let cached_host =
        ComponentHost::new(SandboxLimits::default(), Some(cache.path().to_path_buf())).unwrap();
    let adapter = cached_host.load_adapter("binance", &wasm).unwrap();
    let node: NodeId = "ohlcv:binance:BTC/USDT:1m".parse().unwrap();

    if run("load") {
        load::bench_load(&wasm, &cached_host, &adapter);
    }
    if run("parse") {
        parse::bench_parse(&adapter, &node);
    }
    if run("fetch") {
        rt.block_on(fetch::bench_fetch(&cached_host, &node));
    }
    if run("read") {
        read::bench_read(&rt, &cached_host, &node);
    }
    if run("plan") {
        plan::bench_plan();
    }
    if run("rss") {
        rt.block_on(rss::bench_rss());
    }
    if run("strategy") {
        strategy::bench_strategy(&rt, &cached_host);
    }
    if run("python") {
        python::bench_python(&rt);
    }
    if run("live") {
        rt.block_on(live::bench_live(&cached_host));
    }
    if run("universe") {
        rt.block_on(universe::bench_universe(&cached_host));
    }
    if run("api") {
        rt.block_on(api::bench_api(&cached_host, &node));
    }
    if run("questdb") {
        match std::env::var("SEAMLESS_TEST_QUESTDB") {
            Ok(url) => rt.block_on(questdb::bench_questdb(&url)),
            Err(_) => println!(
                "questdb: skipped (no SEAMLESS_TEST_QUESTDB; run `just bench`, which starts QuestDB)"
            ),
        }
    }
}

/// A simulator candle as the host's (the host does not link the simulator).
fn sim_candle(c: exchange_sim::SimCandle) -> seamless::domain::Candle {
    seamless::domain::Candle {
        open_time: c.open_time,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
        volume: c.volume,
    }
}
