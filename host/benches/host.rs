//! Host benchmarks. Every figure is printed next to a baseline measured in the same run,
//! as a ratio. Run with `just bench` (builds the guest components first); the results
//! are recorded in docs/benchmarks.md.
//!
//! - component load: cold Cranelift compile vs cached (deserialize) vs one instantiation;
//! - Binance klines parse of a 1000-row page: WASM component vs the same code native;
//! - fetch of 30 days of 1m candles from the simulator into SQLite vs a plain HTTP walk
//!   of the same pages that only downloads the bytes.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use exchange_sim::{SimConfig, Simulator};
use seamless::components::{ComponentHost, HttpResponse, SandboxLimits};
use seamless::domain::{NodeId, Window};
use seamless::provider::{AdapterRegistry, FetchOptions, Provider};
use seamless::store::AnyStore;

const JAN1_2024: i64 = 1_704_067_200_000;
const MIN: i64 = 60_000;

fn guest_dir() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
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
    let wasm_path = guest_dir().join("binance_adapter.wasm");
    let wasm = std::fs::read(&wasm_path)
        .unwrap_or_else(|e| panic!("{}: {e}; build the guests first with `just guests`", wasm_path.display()));
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();

    // --- component load and instantiation ---
    let cold_host = ComponentHost::new(SandboxLimits::default(), None).unwrap();
    let cold = mean(3, || {
        cold_host.load_adapter("binance", &wasm).unwrap();
    });
    let cache = tempfile::tempdir().unwrap();
    let cached_host = ComponentHost::new(SandboxLimits::default(), Some(cache.path().to_path_buf())).unwrap();
    let adapter = cached_host.load_adapter("binance", &wasm).unwrap();
    let cached = mean(20, || {
        cached_host.load_adapter("binance", &wasm).unwrap();
    });
    let inst = mean(2000, || adapter.check_instantiate().unwrap());
    println!("component load (binance, {} KiB):", wasm.len() / 1024);
    println!("  cold compile            {:>12}  (baseline)", us(cold));
    println!("  cached load             {:>12}  {:.4}x of cold", us(cached), cached.as_secs_f64() / cold.as_secs_f64());
    println!("  instantiate (pre, pool) {:>12}  {:.5}x of cold", us(inst), inst.as_secs_f64() / cold.as_secs_f64());

    // --- parse of a 1000-row page ---
    let node: NodeId = "ohlcv:binance:BTC/USDT:1m".parse().unwrap();
    let body = binance_adapter::sample::sample_klines(JAN1_2024, MIN, 1000);
    let window = Window::new(JAN1_2024, JAN1_2024 + 1000 * MIN).unwrap();
    let req = adapter.plan(&node, window, 1000).unwrap().unwrap();
    let native = mean(300, || {
        let c = binance_adapter::parse_klines(std::hint::black_box(&body)).unwrap();
        assert_eq!(c.len(), 1000);
    });
    let in_wasm = mean(300, || {
        let resp = HttpResponse { status: 200, headers: vec![], body: body.clone() };
        let page = adapter.parse(&node, window, &req, resp).unwrap().unwrap();
        assert_eq!(page.candles.len(), 1000);
    });
    println!("binance parse, 1000-row page ({} KiB):", body.len() / 1024);
    println!("  native                  {:>12}  (baseline)", us(native));
    println!(
        "  wasm (instantiate+call) {:>12}  {:.2}x of native",
        us(in_wasm),
        in_wasm.as_secs_f64() / native.as_secs_f64()
    );

    // --- 30 days of 1m from the simulator into SQLite ---
    rt.block_on(async {
        let sim = Simulator::start(SimConfig::default()).await.unwrap();
        let w = Window::new(JAN1_2024, JAN1_2024 + 30 * 1440 * MIN).unwrap();
        // Baseline: walk the same pages, download bytes only.
        seamless::net::install_crypto();
        let client = reqwest::Client::new();
        let t = Instant::now();
        let mut bytes = 0usize;
        let mut start = w.start;
        while start < w.end {
            let url = format!(
                "{}/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={start}&endTime={}&limit=1000",
                sim.base_url(),
                w.end - 1
            );
            bytes += client.get(url).send().await.unwrap().bytes().await.unwrap().len();
            start += 1000 * MIN;
        }
        let raw = t.elapsed();
        let candles = (w.len_ms() / MIN) as f64;
        let dir = tempfile::tempdir().unwrap();
        let mut reg = AdapterRegistry::new(cached_host.clone(), vec![guest_dir()], vec![]);
        reg.add_override(&format!("binance={}", sim.base_url())).unwrap();
        let store = AnyStore::open(&format!("sqlite:{}", dir.path().join("b.db").display())).unwrap();
        let provider = Provider::new(store, reg);
        let t = Instant::now();
        let got = provider.fetch(&node, w, &FetchOptions::default()).await.unwrap();
        let ours = t.elapsed();
        assert_eq!(got.candles.len() as f64, candles);
        println!("fetch 30 days of 1m ({candles} candles, {} pages, {} MiB):", got.metadata.requests, bytes >> 20);
        println!("  raw HTTP walk           {:>9.0} candles/s  (baseline)", candles / raw.as_secs_f64());
        println!(
            "  seamless fetch→SQLite   {:>9.0} candles/s  {:.2}x of raw",
            candles / ours.as_secs_f64(),
            raw.as_secs_f64() / ours.as_secs_f64()
        );
        sim.shutdown().await;
    });
}
