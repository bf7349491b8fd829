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
//!   and the call + copy alone), and an end-to-end `seamless::strategy::run` over one
//!   year of 1m candles from a warm SQLite store, vs the native rate;
//! - live: latency from a candle closing on the simulated exchange (fast clock, WebSocket
//!   updates every 1 ms) to the strategy's `on-candles` returning for it through a
//!   `LiveSession`, vs a bare WebSocket client reading the same stream.
//!
//! `cargo bench -p seamless --bench host -- SECTION...` runs only the named sections
//! (load, parse, fetch, plan, rss, questdb, strategy, live).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use exchange_sim::{SimConfig, Simulator};
use seamless::components::{ComponentHost, HttpResponse, SandboxLimits};
use seamless::domain::{NodeId, RangeSet, Window};
use seamless::provider::{AdapterRegistry, FetchOptions, Provider};
use seamless::store::AnyStore;

const JAN1_2024: i64 = 1_704_067_200_000;
const MIN: i64 = 60_000;

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
        bench_load(&wasm, &cached_host, &adapter);
    }
    if run("parse") {
        bench_parse(&adapter, &node);
    }
    if run("fetch") {
        rt.block_on(bench_fetch(&cached_host, &node));
    }
    if run("plan") {
        bench_plan();
    }
    if run("rss") {
        rt.block_on(bench_rss());
    }
    if run("strategy") {
        bench_strategy(&rt, &cached_host);
    }
    if run("live") {
        rt.block_on(bench_live(&cached_host));
    }
    if run("questdb") {
        match std::env::var("SEAMLESS_TEST_QUESTDB") {
            Ok(url) => rt.block_on(bench_questdb(&url)),
            Err(_) => println!(
                "questdb: skipped (no SEAMLESS_TEST_QUESTDB; run `just bench`, which starts QuestDB)"
            ),
        }
    }
}

async fn bench_questdb(base: &str) {
    use seamless::store::CandleStore;
    // --- QuestDB ingest (ILP/HTTP through the store) vs PG-wire INSERT batches; read rate ---
    let node: NodeId = "ohlcv:bench:BTC/USDT:1m".parse().unwrap();
    let year = 525_600i64;
    let candles: Vec<seamless::domain::Candle> = (0..year)
        .map(|i| {
            let p = 40_000.0 + (i % 1000) as f64 * 0.5;
            seamless::domain::Candle {
                open_time: JAN1_2024 + i * MIN,
                open: p,
                high: p + 10.0,
                low: p - 10.0,
                close: p + 1.0,
                volume: 1.5,
            }
        })
        .collect();
    let sep = if base.contains('?') { '&' } else { '?' };
    let table = format!("bench_{}", std::process::id());
    let store = AnyStore::open(&format!("{base}{sep}table={table}")).unwrap();
    // Warm up: create the tables.
    store
        .write_page(
            &node,
            candles[..1].to_vec(),
            Window::new(JAN1_2024, JAN1_2024 + MIN).unwrap(),
        )
        .await
        .unwrap();
    let t = Instant::now();
    for chunk in candles.chunks(10_000) {
        let w = Window::new(chunk[0].open_time, chunk[chunk.len() - 1].open_time + MIN).unwrap();
        store.write_page(&node, chunk.to_vec(), w).await.unwrap();
    }
    let ilp = t.elapsed();
    // Baseline: the same rows as multi-row PG-wire INSERTs (1000 rows each), 10% of the year.
    let cfg = seamless::store::QuestDbConfig::parse(base).unwrap();
    let (client, conn) = tokio_postgres::connect(
        &format!(
            "host={} port={} user={} password={} dbname=qdb",
            cfg.host, cfg.pg_port, cfg.user, cfg.password
        ),
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(conn);
    let pg_table = format!("{table}_pg");
    client
        .batch_execute(&format!(
            "CREATE TABLE {pg_table} (exchange SYMBOL, symbol SYMBOL, timeframe SYMBOL, open DOUBLE, high DOUBLE, low DOUBLE, \
             close DOUBLE, volume DOUBLE, ts TIMESTAMP) TIMESTAMP(ts) PARTITION BY DAY WAL DEDUP UPSERT KEYS(ts, exchange, symbol, timeframe)"
        ))
        .await
        .unwrap();
    let sample = &candles[..52_560];
    let t = Instant::now();
    for chunk in sample.chunks(1000) {
        let mut sql = format!("INSERT INTO {pg_table} VALUES ");
        for (i, c) in chunk.iter().enumerate() {
            let ts = chrono::DateTime::from_timestamp_millis(c.open_time)
                .unwrap()
                .naive_utc();
            sql.push_str(&format!(
                "{}('bench','BTC/USDT','1m',{},{},{},{},{},'{}')",
                if i > 0 { "," } else { "" },
                c.open,
                c.high,
                c.low,
                c.close,
                c.volume,
                ts.format("%Y-%m-%dT%H:%M:%S%.6fZ")
            ));
        }
        client.batch_execute(&sql).await.unwrap();
    }
    client
        .batch_execute(&format!("SELECT wait_wal_table('{pg_table}')"))
        .await
        .unwrap();
    let pg = t.elapsed();
    let w = Window::new(JAN1_2024, JAN1_2024 + year * MIN).unwrap();
    let t = Instant::now();
    let got = store.read(&node, w).await.unwrap();
    let read = t.elapsed();
    assert_eq!(got.len() as i64, year);
    let rate = |n: usize, d: Duration| n as f64 / d.as_secs_f64();
    println!("questdb ingest and read (one year of 1m = {year} candles):");
    println!(
        "  PG-wire INSERT batches  {:>9.0} candles/s  (baseline, {} candles)",
        rate(sample.len(), pg),
        sample.len()
    );
    println!(
        "  ILP/HTTP via the store  {:>9.0} candles/s  {:.1}x of PG wire",
        rate(year as usize, ilp),
        rate(year as usize, ilp) / rate(sample.len(), pg)
    );
    println!(
        "  read the year (PG wire) {:>9.0} candles/s  {:.1}x of PG-wire ingest",
        rate(got.len(), read),
        rate(got.len(), read) / rate(sample.len(), pg)
    );
}

fn bench_load(wasm: &[u8], cached_host: &ComponentHost, adapter: &seamless::components::Adapter) {
    // --- component load and instantiation ---
    let cold_host = ComponentHost::new(SandboxLimits::default(), None).unwrap();
    let cold = mean(3, || {
        cold_host.load_adapter("binance", wasm).unwrap();
    });
    let cached = mean(20, || {
        cached_host.load_adapter("binance", wasm).unwrap();
    });
    let inst = mean(2000, || adapter.check_instantiate().unwrap());
    println!("component load (binance, {} KiB):", wasm.len() / 1024);
    println!("  cold compile            {:>12}  (baseline)", us(cold));
    println!(
        "  cached load             {:>12}  {:.4}x of cold",
        us(cached),
        cached.as_secs_f64() / cold.as_secs_f64()
    );
    println!(
        "  instantiate (pre, pool) {:>12}  {:.5}x of cold",
        us(inst),
        inst.as_secs_f64() / cold.as_secs_f64()
    );
}

fn bench_parse(adapter: &seamless::components::Adapter, node: &NodeId) {
    // --- parse of a 1000-row page ---
    let body = binance_adapter::sample::sample_klines(JAN1_2024, MIN, 1000);
    let window = Window::new(JAN1_2024, JAN1_2024 + 1000 * MIN).unwrap();
    let req = adapter.plan(node, window, 1000).unwrap().unwrap();
    let native = mean(300, || {
        let c = binance_adapter::parse_klines(std::hint::black_box(&body)).unwrap();
        assert_eq!(c.len(), 1000);
    });
    let in_wasm = mean(300, || {
        let resp = HttpResponse {
            status: 200,
            headers: vec![],
            body: body.clone(),
        };
        let page = adapter.parse(node, window, &req, resp).unwrap().unwrap();
        assert_eq!(page.candles.len(), 1000);
    });
    println!("binance parse, 1000-row page ({} KiB):", body.len() / 1024);
    println!("  native                  {:>12}  (baseline)", us(native));
    println!(
        "  wasm (host call)        {:>12}  {:.2}x of native",
        us(in_wasm),
        in_wasm.as_secs_f64() / native.as_secs_f64()
    );
}

fn wal_of(db: &std::path::Path) -> std::path::PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

async fn bench_fetch(cached_host: &ComponentHost, node: &NodeId) {
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

fn bench_plan() {
    // --- coverage planning over a ledger of 10,000 ranges ---
    let mut present = RangeSet::new();
    let mut empty = RangeSet::new();
    for i in 0..10_000i64 {
        present.insert(i * 10 * MIN, i * 10 * MIN + 6 * MIN);
        empty.insert(i * 10 * MIN + 6 * MIN, i * 10 * MIN + 7 * MIN);
    }
    let ledger = seamless::store::Ledger { present, empty };
    let w = Window::new(0, 100_000 * MIN).unwrap();
    let plan = mean(200, || {
        let missing = ledger.missing(std::hint::black_box(w));
        let c = seamless::provider::chunks(seamless::domain::Timeframe::M1, 1000, &missing);
        assert_eq!(c.len(), 10_000);
    });
    let budget = Duration::from_millis(1);
    println!("coverage planning, window over 10,000 present + 10,000 empty ranges:");
    println!("  budget                  {:>12}  (baseline)", us(budget));
    println!(
        "  missing + chunks        {:>12}  {:.3}x of budget",
        us(plan),
        plan.as_secs_f64() / budget.as_secs_f64()
    );
}

/// Peak resident memory (VmHWM) of a child process, polled until it exits.
fn peak_rss_kib(mut child: std::process::Child) -> (u64, std::process::ExitStatus) {
    let path = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        if let Ok(s) = std::fs::read_to_string(&path)
            && let Some(v) = s.lines().find_map(|l| l.strip_prefix("VmHWM:"))
        {
            peak = peak.max(v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            return (peak, status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

async fn bench_rss() {
    // --- peak RSS of a one-year 1m backfill by the binary ---
    let sim = Simulator::start(SimConfig {
        weight_budget_per_minute: 10_000_000,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_seamless"))
            .args(args)
            .env("SEAMLESS_ADAPTER_DIR", guest_dir())
            .env(
                "SEAMLESS_STORE",
                format!("sqlite:{}", dir.path().join("rss.db").display()),
            )
            .env("SEAMLESS_RATELIMIT_BINANCE_DISABLED", "true")
            .env_remove("SEAMLESS_CONFIG")
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    // Baseline: the same binary started and idle (serving /metrics) for half a second.
    let idle_child = run(&["serve", "--metrics", "127.0.0.1:0", "-q"]);
    let pid = idle_child.id();
    std::thread::sleep(Duration::from_millis(500));
    let _ = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status();
    let (idle, _) = peak_rss_kib(idle_child);
    let url = format!("binance={}", sim.base_url());
    let dir2 = dir.path().to_path_buf();
    let t = Instant::now();
    let (peak, status) = tokio::task::spawn_blocking(move || {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_seamless"))
            .args([
                "backfill",
                "--node",
                "ohlcv:binance:BTC/USDT:1m",
                "--start",
                "2023-01-01",
                "--end",
                "2024-01-01",
                "-q",
            ])
            .args(["--exchange-url", &url])
            .env("SEAMLESS_ADAPTER_DIR", guest_dir())
            .env(
                "SEAMLESS_STORE",
                format!("sqlite:{}", dir2.join("rss.db").display()),
            )
            .env("SEAMLESS_RATELIMIT_BINANCE_DISABLED", "true")
            .env_remove("SEAMLESS_CONFIG")
            .spawn()
            .unwrap();
        peak_rss_kib(child)
    })
    .await
    .unwrap();
    let took = t.elapsed();
    assert!(status.success());
    println!(
        "one-year 1m backfill (525,600 candles) by `seamless backfill`, {:.1} s, {:.0} candles/s:",
        took.as_secs_f64(),
        525_600.0 / took.as_secs_f64()
    );
    println!(
        "  idle process peak RSS   {:>9.1} MiB  (baseline)",
        idle as f64 / 1024.0
    );
    println!(
        "  backfill peak RSS       {:>9.1} MiB  {:.2}x of idle, {:.2}x of the 200 MiB budget",
        peak as f64 / 1024.0,
        peak as f64 / idle as f64,
        peak as f64 / 1024.0 / 200.0
    );
    sim.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// Strategies and live latency
// ---------------------------------------------------------------------------------------

const DAY: i64 = 1440 * MIN;
const JAN1_2022: i64 = 1_640_995_200_000;
const JAN1_2023: i64 = 1_672_531_200_000;
/// Candles per `on-candles` call (the runner's default batch).
const BATCH: usize = 4096;

/// No history for the bench's strategy instances (sma-cross never asks).
struct NoHistory;

impl seamless::components::HistorySource for NoHistory {
    fn range(&mut self, _: u32, _: Window) -> Result<Vec<seamless::domain::Candle>, String> {
        Err("no history in the benchmark".into())
    }
    fn last(&mut self, _: u32, _: u32, _: i64) -> Result<Vec<seamless::domain::Candle>, String> {
        Err("no history in the benchmark".into())
    }
}

fn sma_config() -> Vec<(String, String)> {
    vec![
        ("fast".to_string(), "10".to_string()),
        ("slow".to_string(), "30".to_string()),
    ]
}

/// A fresh sma-cross instance (fast 10, slow 30).
fn sma_instance(
    component: &seamless::components::StrategyComponent,
) -> seamless::components::StrategyInstance {
    let mut inst = component.instantiate(Box::new(NoHistory)).unwrap();
    let inputs = inst.init(&sma_config()).unwrap().unwrap();
    assert_eq!(inputs[0].warmup, 30);
    inst
}

/// (time, action, value bits) of a signal, for exact comparisons.
type Sig = (i64, String, u64);

fn sigs_native(s: &[seamless_strategy_kit::Signal]) -> Vec<Sig> {
    s.iter()
        .map(|s| (s.time, s.action.clone(), s.value.to_bits()))
        .collect()
}

fn sigs_host(s: &[seamless::components::Signal]) -> Vec<Sig> {
    s.iter()
        .map(|s| (s.time, s.action.clone(), s.value.to_bits()))
        .collect()
}

/// Mean time of `run` over `reps` runs after one warm-up, each on a fresh state from
/// `setup`; returns it with the output of the last run.
fn timed<S, R>(
    reps: u32,
    mut setup: impl FnMut() -> S,
    mut run: impl FnMut(&mut S) -> R,
) -> (Duration, R) {
    let mut s = setup();
    let mut out = run(&mut s);
    let mut total = Duration::ZERO;
    for _ in 0..reps {
        let mut s = setup();
        let t = Instant::now();
        out = std::hint::black_box(run(&mut s));
        total += t.elapsed();
    }
    (total / reps, out)
}

fn rate(n: usize, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64()
}

fn mcs(r: f64) -> String {
    format!("{:.2} M candles/s", r / 1e6)
}

fn bench_strategy(rt: &tokio::runtime::Runtime, cached_host: &ComponentHost) {
    use seamless::store::CandleStore;
    // --- SMA cross in memory: native vs the WASM component through the host ---
    let sim = rt
        .block_on(Simulator::start(SimConfig {
            weight_budget_per_minute: 10_000_000,
            ..SimConfig::default()
        }))
        .unwrap();
    let n = 1_000_000i64;
    let candles: Vec<seamless::domain::Candle> = sim
        .truth("BTC/USDT", "1m", JAN1_2022, JAN1_2022 + n * MIN)
        .into_iter()
        .map(sim_candle)
        .collect();
    assert_eq!(candles.len() as i64, n);
    let times: Vec<i64> = candles.iter().map(|c| c.open_time).collect();
    let closes: Vec<f64> = candles.iter().map(|c| c.close).collect();
    let wasm_path = guest_dir().join("sma_cross_strategy.wasm");
    let component = cached_host
        .load_strategy_file(&wasm_path)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}; build the guests first with `just guests`",
                wasm_path.display()
            )
        });
    let reps = 10;

    // (a) Baseline: the same Rust, native, over the same batches.
    let (native, native_sigs) = timed(
        reps,
        || sma_cross_strategy::SmaCross::new(10, 30).unwrap(),
        |s| {
            let mut out = Vec::new();
            for (t, c) in times.chunks(BATCH).zip(closes.chunks(BATCH)) {
                s.on_candles(t, c, false, &mut out);
            }
            out
        },
    );
    // (b) The component, columns built per batch (as the runner does).
    let (wasm, wasm_sigs) = timed(
        reps,
        || sma_instance(&component),
        |inst| {
            let mut out = Vec::new();
            for b in candles.chunks(BATCH) {
                let cols = seamless::components::columns(b);
                out.extend(inst.on_candles(0, &cols, false).unwrap().unwrap());
            }
            out
        },
    );
    // (c) The component with the columns built beforehand.
    let prebuilt: Vec<_> = candles
        .chunks(BATCH)
        .map(seamless::components::columns)
        .collect();
    let (wasm_pre, pre_sigs) = timed(
        reps,
        || sma_instance(&component),
        |inst| {
            let mut out = Vec::new();
            for cols in &prebuilt {
                out.extend(inst.on_candles(0, cols, false).unwrap().unwrap());
            }
            out
        },
    );
    // Where the time goes: the call and the copy of the columns into the guest alone
    // (input 1 does not exist: the guest refuses at once, before looking at a candle)...
    let (copy_only, _) = timed(
        reps,
        || sma_instance(&component),
        |inst| {
            for cols in &prebuilt {
                assert!(inst.on_candles(1, cols, false).unwrap().is_err());
            }
        },
    );
    // ... and the fixed cost of one call (a one-candle batch).
    let one = seamless::components::columns(&candles[..1]);
    let mut inst = sma_instance(&component);
    let per_call = mean(20_000, || {
        inst.on_candles(1, &one, false).unwrap().unwrap_err();
    });
    // ... and the guest alone on a bench-local engine, with and without the epoch
    // checks the sandbox's deadlines need (columns pre-built).
    let wasm_bytes = std::fs::read(&wasm_path).unwrap();
    let bare_cols: Vec<bare::CandleColumns> = prebuilt.iter().map(bare::columns).collect();
    let bare_time = |epoch: bool| {
        let h = bare::Host::new(&wasm_bytes, epoch, SandboxLimits::default().memory_bytes);
        let (d, signals) = timed(
            reps,
            || h.instance(),
            |inst| bare_cols.iter().map(|c| inst.on_candles(c)).sum::<usize>(),
        );
        assert_eq!(signals, native_sigs.len());
        d
    };
    let bare_epoch = bare_time(true);
    let bare_no_epoch = bare_time(false);
    let nb = prebuilt.len();
    let nat = sigs_native(&native_sigs);
    let identical = nat == sigs_host(&wasm_sigs) && nat == sigs_host(&pre_sigs);
    let first_last = |s: &[Sig]| {
        format!(
            "{}..{}",
            seamless::domain::format_ms(s[0].0),
            seamless::domain::format_ms(s[s.len() - 1].0)
        )
    };
    let (rn, rw, rp) = (
        rate(n as usize, native),
        rate(n as usize, wasm),
        rate(n as usize, wasm_pre),
    );
    println!(
        "sma-cross (fast 10, slow 30), {n} candles of BTC/USDT 1m in memory, {nb} batches of {BATCH}:"
    );
    println!(
        "  native SmaCross::on_candles   {:>18}  (baseline; {:.1} ns/candle)",
        mcs(rn),
        native.as_secs_f64() * 1e9 / n as f64
    );
    println!(
        "  wasm, columns per batch       {:>18}  {:.2}x of native time",
        mcs(rw),
        wasm.as_secs_f64() / native.as_secs_f64()
    );
    println!(
        "  wasm, columns pre-built       {:>18}  {:.2}x of native time",
        mcs(rp),
        wasm_pre.as_secs_f64() / native.as_secs_f64()
    );
    println!(
        "  split of the per-batch run: build columns {:.1} ms, call + copy in {:.1} ms ({} per call, {:.1} µs fixed), guest compute {:.1} ms (native {:.1} ms)",
        (wasm.as_secs_f64() - wasm_pre.as_secs_f64()) * 1e3,
        copy_only.as_secs_f64() * 1e3,
        us(copy_only / nb as u32),
        per_call.as_secs_f64() * 1e6,
        (wasm_pre.as_secs_f64() - copy_only.as_secs_f64()) * 1e3,
        native.as_secs_f64() * 1e3,
    );
    println!(
        "  bench-local engine, pre-built: with epoch checks {:.1} ms ({:.2}x of native), without {:.1} ms ({:.2}x of native)",
        bare_epoch.as_secs_f64() * 1e3,
        bare_epoch.as_secs_f64() / native.as_secs_f64(),
        bare_no_epoch.as_secs_f64() * 1e3,
        bare_no_epoch.as_secs_f64() / native.as_secs_f64(),
    );
    println!(
        "  signals: native {}, wasm {} ({}): {}",
        nat.len(),
        wasm_sigs.len(),
        first_last(&nat),
        if identical {
            "identical (times, actions, values bit for bit)"
        } else {
            "DIFFERENT"
        }
    );
    assert!(identical, "native and WASM signals differ");

    // (d) End to end: `seamless::strategy::run` over one year from a warm SQLite store.
    let node: NodeId = "ohlcv:binance:BTC/USDT:1m".parse().unwrap();
    let year = Window::new(JAN1_2023, JAN1_2023 + 365 * DAY).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut reg = AdapterRegistry::new(cached_host.clone(), vec![guest_dir()], vec![]);
    reg.add_override(&format!("binance={}", sim.base_url()))
        .unwrap();
    let store = AnyStore::open(&format!("sqlite:{}", dir.path().join("y.db").display())).unwrap();
    let provider = Provider::new(store, reg);
    // Warm the store (not timed): the year and a day before it (the warm-up).
    let t = Instant::now();
    let with_warmup = Window::new(year.start - DAY, year.end).unwrap();
    let out = rt
        .block_on(provider.backfill(&node, with_warmup, None))
        .unwrap();
    assert!(out.errors.is_empty(), "{:?}", out.errors);
    let warm_took = t.elapsed();
    // The store read of the same rows alone, for the split of the load phase.
    let read_window = Window::new(year.start - 30 * MIN, year.end).unwrap();
    let (read, rows) = timed(
        3,
        || (),
        |_| {
            rt.block_on(provider.store().read(&node, read_window))
                .unwrap()
                .len()
        },
    );
    // ... the fingerprint and the conformance pass over the same rows.
    let rows_read = rt
        .block_on(provider.store().read(&node, read_window))
        .unwrap();
    let (fp, _) = timed(
        3,
        || (),
        |_| seamless::provider::fingerprint(&node, read_window, &rows_read),
    );
    let (conf, _) = timed(
        3,
        || rows_read.clone(),
        |rows| {
            seamless::provider::conformance::check(
                node.timeframe,
                read_window,
                read_window.end,
                &RangeSet::new(),
                std::mem::take(rows),
            )
            .0
            .len()
        },
    );
    let run_reps = 3;
    let mut opts = seamless::strategy::RunOptions::new(year);
    opts.config = sma_config();
    let (mut whole, mut load, mut deliver) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut report = None;
    for i in 0..=run_reps {
        let t = Instant::now();
        let r = rt
            .block_on(seamless::strategy::run(&provider, &component, opts.clone()))
            .unwrap();
        let took = t.elapsed();
        if i > 0 {
            whole += took;
            load += r.load;
            deliver += r.deliver;
        }
        report = Some(r);
    }
    let (whole, load, deliver) = (whole / run_reps, load / run_reps, deliver / run_reps);
    let r = report.unwrap();
    let yc = r.candles;
    assert_eq!(yc, 525_600);
    assert_eq!(r.inputs[0].warmup_rows, 30);
    // The same year natively (30 warm-up candles, then the year).
    let truth: Vec<seamless::domain::Candle> = sim
        .truth("BTC/USDT", "1m", read_window.start, read_window.end)
        .into_iter()
        .map(sim_candle)
        .collect();
    let mut s = sma_cross_strategy::SmaCross::new(10, 30).unwrap();
    let mut want = Vec::new();
    let tt: Vec<i64> = truth.iter().map(|c| c.open_time).collect();
    let cc: Vec<f64> = truth.iter().map(|c| c.close).collect();
    s.on_candles(&tt[..30], &cc[..30], true, &mut want);
    s.on_candles(&tt[30..], &cc[30..], false, &mut want);
    let got: Vec<seamless::components::Signal> =
        r.signals.iter().map(|s| s.signal.clone()).collect();
    let same = sigs_native(&want) == sigs_host(&got);
    println!(
        "end to end: `seamless::strategy::run` of sma-cross over one year of 1m ({yc} candles + 30 warm-up) from a warm SQLite store (warmed in {:.1} s, not timed), mean of {run_reps}:",
        warm_took.as_secs_f64()
    );
    println!(
        "  native, in memory             {:>18}  (baseline, line 1)",
        mcs(rn)
    );
    println!(
        "  whole run (load + deliver)    {:>18}  {:.2}x of native rate; {:.0} ms = load {:.0} ms + deliver {:.0} ms + {:.0} ms start-up",
        mcs(rate(yc, whole)),
        rate(yc, whole) / rn,
        whole.as_secs_f64() * 1e3,
        load.as_secs_f64() * 1e3,
        deliver.as_secs_f64() * 1e3,
        (whole.as_secs_f64() - load.as_secs_f64() - deliver.as_secs_f64()) * 1e3
    );
    println!(
        "  deliver only                  {:>18}  {:.2}x of native rate",
        mcs(rate(yc, deliver)),
        rate(yc, deliver) / rn
    );
    println!(
        "  load only                     {:>18}  {:.2}x of native rate; of it, measured alone: SQLite read of the {rows} rows {:.0} ms, fingerprint {:.0} ms, conformance pass {:.0} ms",
        mcs(rate(yc, load)),
        rate(yc, load) / rn,
        read.as_secs_f64() * 1e3,
        fp.as_secs_f64() * 1e3,
        conf.as_secs_f64() * 1e3
    );
    println!(
        "  signals: run {}, native over the same candles {}: {}",
        got.len(),
        want.len(),
        if same { "identical" } else { "DIFFERENT" }
    );
    assert!(same, "end-to-end signals differ from native");
    rt.block_on(sim.shutdown());
}

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
        .map(sim_candle)
        .collect();
    inst.on_candles(0, &seamless::components::columns(&warm), true)
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
                    .on_candles(0, &seamless::components::columns(&[c]), false)
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

async fn bench_live(cached_host: &ComponentHost) {
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

/// The sma-cross component on a bench-local engine configured like the host's (pooling
/// allocator, same memory cap), with or without epoch interruption: how much of the
/// guest's time the deadline checks cost. Deny-all WASI, no history, no call deadline.
mod bare {
    use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
    use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Store};
    use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

    wasmtime::component::bindgen!({ world: "strategy-node", path: "../wit" });

    use self::seamless::market::{history, log, types};

    pub struct State {
        wasi: WasiCtx,
        table: ResourceTable,
    }

    impl WasiView for State {
        fn ctx(&mut self) -> WasiCtxView<'_> {
            WasiCtxView {
                ctx: &mut self.wasi,
                table: &mut self.table,
            }
        }
    }

    impl types::Host for State {}

    impl log::Host for State {
        fn log(&mut self, _: log::Level, _: String) {}
    }

    impl history::Host for State {
        fn range(&mut self, _: u32, _: history::Window) -> Result<types::CandleColumns, String> {
            Err("no history in the benchmark".into())
        }
        fn last(&mut self, _: u32, _: u32, _: i64) -> Result<types::CandleColumns, String> {
            Err("no history in the benchmark".into())
        }
    }

    pub use types::CandleColumns;

    /// An initialised sma-cross instance (fast 10, slow 30).
    pub struct Instance {
        store: Store<State>,
        node: StrategyNode,
    }

    impl Instance {
        pub fn on_candles(&mut self, batch: &CandleColumns) -> usize {
            self.node
                .seamless_market_strategy()
                .call_on_candles(&mut self.store, 0, batch, false)
                .unwrap()
                .unwrap()
                .len()
        }
    }

    pub struct Host {
        engine: Engine,
        pre: StrategyNodePre<State>,
        epoch: bool,
    }

    impl Host {
        pub fn new(wasm: &[u8], epoch: bool, memory_bytes: usize) -> Host {
            let mut config = Config::new();
            config.wasm_component_model(true);
            config.epoch_interruption(epoch);
            let mut pool = PoolingAllocationConfig::default();
            pool.total_component_instances(16);
            pool.total_core_instances(32);
            pool.total_memories(16);
            pool.total_tables(32);
            pool.max_memory_size(memory_bytes);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
            let engine = Engine::new(&config).unwrap();
            let component = Component::new(&engine, wasm).unwrap();
            let mut linker = Linker::new(&engine);
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker).unwrap();
            StrategyNode::add_to_linker::<_, HasSelf<State>>(&mut linker, |s| s).unwrap();
            let pre = StrategyNodePre::new(linker.instantiate_pre(&component).unwrap()).unwrap();
            Host { engine, pre, epoch }
        }

        pub fn instance(&self) -> Instance {
            let state = State {
                wasi: WasiCtx::builder().build(),
                table: ResourceTable::new(),
            };
            let mut store = Store::new(&self.engine, state);
            if self.epoch {
                // Checked at every function entry and loop back-edge; never reached.
                store.set_epoch_deadline(u64::MAX / 2);
                store.epoch_deadline_trap();
            }
            let node = self.pre.instantiate(&mut store).unwrap();
            let config = super::sma_config();
            node.seamless_market_strategy()
                .call_init(&mut store, &config)
                .unwrap()
                .unwrap();
            Instance { store, node }
        }
    }

    /// The host's columns as this engine's (same record, separate bindings).
    pub fn columns(c: &::seamless::components::CandleColumns) -> CandleColumns {
        CandleColumns {
            open_time: c.open_time.clone(),
            open: c.open.clone(),
            high: c.high.clone(),
            low: c.low.clone(),
            close: c.close.clone(),
            volume: c.volume.clone(),
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
