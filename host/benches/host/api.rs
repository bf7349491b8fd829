//! HTTP data API (`api`): windows of one day of 1m served by `seamless serve`'s router from a
//! warm SQLite store, JSON vs Arrow, for 1 and 32 concurrent clients (p50/p99 latency and
//! windows/s), against reading the same windows from the store directly in the same run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use exchange_sim::{SimConfig, Simulator};
use seamless::api::{ApiState, serve};
use seamless::components::ComponentHost;
use seamless::domain::{NodeId, Window};
use seamless::provider::{AdapterRegistry, FetchOptions, Provider};
use seamless::store::{AnyStore, CandleStore};

use crate::{DAY, JAN1_2024, guest_dir};

/// Days stored; every request asks for one of them (round robin).
const DAYS: i64 = 20;
/// Requests per client per measurement.
const PER_CLIENT: usize = 200;

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Latencies and windows/s of `clients` clients each asking `PER_CLIENT` windows.
async fn measure<F, Fut>(clients: usize, ask: F) -> (Vec<Duration>, f64)
where
    F: Fn(i64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = usize> + Send,
{
    let t = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for c in 0..clients {
        let ask = ask.clone();
        tasks.spawn(async move {
            let mut lat = Vec::with_capacity(PER_CLIENT);
            for i in 0..PER_CLIENT {
                let day = ((c * PER_CLIENT + i) as i64) % DAYS;
                let t = Instant::now();
                let rows = ask(JAN1_2024 + day * DAY).await;
                assert_eq!(rows, 1440);
                lat.push(t.elapsed());
            }
            lat
        });
    }
    let mut all = Vec::new();
    while let Some(l) = tasks.join_next().await {
        all.extend(l.unwrap());
    }
    let secs = t.elapsed().as_secs_f64();
    all.sort();
    let rate = all.len() as f64 / secs;
    (all, rate)
}

pub(crate) async fn bench_api(cached_host: &ComponentHost, node: &NodeId) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("api.db").display());
    let mut reg = AdapterRegistry::new(cached_host.clone(), vec![guest_dir()], vec![]);
    reg.add_override(&format!("binance={}", sim.base_url()))
        .unwrap();
    let provider = Provider::new(AnyStore::open(&url).unwrap(), reg);
    let all = Window::new(JAN1_2024, JAN1_2024 + DAYS * DAY).unwrap();
    provider
        .fetch(node, all, &FetchOptions::default())
        .await
        .unwrap();
    let server = serve(
        "127.0.0.1:0".parse().unwrap(),
        ApiState {
            provider: provider.clone(),
            sla: Default::default(),
            token: None,
            streams: Default::default(),
        },
    )
    .await
    .unwrap();
    let base = format!("http://{}", server.addr());
    seamless::net::install_crypto();
    let http = reqwest::Client::new();

    // Baseline: the store itself.
    let store = Arc::new(AnyStore::open(&url).unwrap());
    let direct = {
        let (store, node) = (store.clone(), node.clone());
        move |start: i64| {
            let (store, node) = (store.clone(), node.clone());
            async move {
                let w = Window::new(start, start + DAY).unwrap();
                store.read(&node, w).await.unwrap().len()
            }
        }
    };
    let via_api = |format: &'static str| {
        let (http, base, node) = (http.clone(), base.clone(), node.to_string());
        move |start: i64| {
            let (http, base, node) = (http.clone(), base.clone(), node.clone());
            async move {
                let url = format!(
                    "{base}/v1/candles?node={node}&start={start}&end={}&strategy=fail-fast&format={format}",
                    start + DAY
                );
                let resp = http.get(url).send().await.unwrap();
                assert_eq!(resp.status(), 200);
                let bytes = resp.bytes().await.unwrap();
                match format {
                    "arrow" => {
                        let r = arrow_ipc::reader::StreamReader::try_new(
                            std::io::Cursor::new(bytes),
                            None,
                        )
                        .unwrap();
                        r.map(|b| b.unwrap().num_rows()).sum()
                    }
                    _ => {
                        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                        v["candles"].as_array().unwrap().len()
                    }
                }
            }
        }
    };
    // Warm-up: every day once through each path.
    let _ = measure(1, direct.clone()).await;
    let _ = measure(1, via_api("arrow")).await;
    println!(
        "data API: windows of one day of 1m ({} candles) from a warm SQLite store, {DAYS} days stored:",
        1440
    );
    for clients in [1usize, 32] {
        let (lat, base_rate) = measure(clients, direct.clone()).await;
        println!(
            "  {clients:>2} client(s) direct store read   p50 {:>9}  p99 {:>9}  {:>7.0} windows/s  (baseline)",
            ms(pct(&lat, 0.5)),
            ms(pct(&lat, 0.99)),
            base_rate
        );
        for format in ["arrow", "json"] {
            let (lat, rate) = measure(clients, via_api(format)).await;
            println!(
                "  {clients:>2} client(s) GET /v1/candles {format:<5} p50 {:>9}  p99 {:>9}  {:>7.0} windows/s  {:.2}x of the direct read",
                ms(pct(&lat, 0.5)),
                ms(pct(&lat, 0.99)),
                rate,
                rate / base_rate
            );
        }
    }
    server.shutdown().await;
    sim.shutdown().await;
}
