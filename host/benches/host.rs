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
//! `cargo bench -p seamless --bench host -- SECTION...` runs only the named sections
//! (load, parse, fetch, plan, rss, questdb).

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

async fn bench_fetch(cached_host: &ComponentHost, node: &NodeId) {
    // --- 30 days of 1m from the simulator into SQLite ---
    {
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
        let raw = t.elapsed();
        let candles = (w.len_ms() / MIN) as f64;
        let dir = tempfile::tempdir().unwrap();
        let mut reg = AdapterRegistry::new(cached_host.clone(), vec![guest_dir()], vec![]);
        reg.add_override(&format!("binance={}", sim.base_url()))
            .unwrap();
        let store =
            AnyStore::open(&format!("sqlite:{}", dir.path().join("b.db").display())).unwrap();
        let provider = Provider::new(store, reg);
        let t = Instant::now();
        let got = provider
            .fetch(node, w, &FetchOptions::default())
            .await
            .unwrap();
        let ours = t.elapsed();
        assert_eq!(got.candles.len() as f64, candles);
        println!(
            "fetch 30 days of 1m ({candles} candles, {} pages, {} MiB):",
            got.metadata.requests,
            bytes >> 20
        );
        println!(
            "  raw HTTP walk           {:>9.0} candles/s  (baseline)",
            candles / raw.as_secs_f64()
        );
        println!(
            "  seamless fetch→SQLite   {:>9.0} candles/s  {:.2}x of raw",
            candles / ours.as_secs_f64(),
            raw.as_secs_f64() / ours.as_secs_f64()
        );
        sim.shutdown().await;
    }
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
