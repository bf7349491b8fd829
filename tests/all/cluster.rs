//! Cluster mode over a real Redis: several real `seamless` processes share one exchange
//! budget and never fetch a chunk twice; a killed worker's chunk is taken over after its
//! lease expires; a Redis outage is survived under local limits and rejoined.
//!
//! Needs a Redis: `SEAMLESS_TEST_REDIS=redis://127.0.0.1:PORT` (`just test` starts one;
//! by hand: `scripts/services.sh up redis && export $(scripts/services.sh env)`). The
//! outage test starts its own `redis-server` on a free port, so it can stop and restart it.
//! Each test uses its own Redis database number and flushes it first.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use exchange_sim::{Faults, SimConfig, Simulator};
use seamless::coord::Cluster;
use seamless::domain::{NodeId, Window};
use seamless::provider::{FetchOptions, Strategy, chunks};
use seamless::ratelimit::LimitSpec;
use seamless::ratelimit::redis::{Grant, SharedBucket};

use crate::support::{
    JAN1_2024, KLINES, MIN, STARTUP, provider, seamless_command, stored_open_times, truth,
    wait_until,
};

/// One chunk of 1m candles (1000 per page).
const CHUNK: i64 = 1000 * MIN;

/// A chunk-aligned start near 2024-01-01.
fn base() -> i64 {
    (JAN1_2024 / CHUNK + 1) * CHUNK
}

use crate::support::test_redis;

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    // The test's own checks wait as long as a loaded machine needs.
    let cfg = redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(10)))
        .set_response_timeout(Some(Duration::from_secs(10)));
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
        .unwrap_or_else(|e| {
            panic!("cannot reach Redis at {url}: {e}; start it with `scripts/services.sh up redis`")
        })
}

async fn flush(url: &str) {
    let mut c = redis_conn(url).await;
    let _: () = redis::cmd("FLUSHDB").query_async(&mut c).await.unwrap();
}

/// A simulator with a small weight budget per 1 s window and no bans (429s only).
async fn budget_sim(budget: u32) -> Simulator {
    let cfg = SimConfig {
        weight_budget_per_minute: budget,
        weight_window_ms: 1000,
        ban_after_429s: 1_000_000,
        ..SimConfig::default()
    };
    Simulator::start(cfg).await.unwrap()
}

/// `seamless …` as a tokio child, stderr to `log`, with the limiter set to `budget` per 1 s.
fn spawn(args: &[String], db: &Path, budget: Option<u32>, log: &Path) -> tokio::process::Child {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = seamless_command(&args, db);
    if let Some(b) = budget {
        c.env("SEAMLESS_RATELIMIT_BINANCE_BUDGET", b.to_string())
            .env("SEAMLESS_RATELIMIT_BINANCE_WINDOW_MS", "1000");
    }
    c.stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    tokio::process::Command::from(c)
        .kill_on_drop(true)
        .spawn()
        .expect("spawning seamless")
}

fn backfill_args(
    symbols: &str,
    start: i64,
    end: i64,
    sim: &Simulator,
    redis: Option<&str>,
) -> Vec<String> {
    let mut a: Vec<String> = [
        "backfill",
        "--exchange",
        "binance",
        "--symbols",
        symbols,
        "--timeframes",
        "1m",
        "--start",
        &start.to_string(),
        "--end",
        &end.to_string(),
        "--exchange-url",
        &format!("binance={}", sim.base_url()),
        "--concurrency",
        "4",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(r) = redis {
        a.extend(["--redis".to_string(), r.to_string()]);
    }
    a
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

async fn wait_ok(child: tokio::process::Child, log: &Path, limit: Duration) {
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("timed out; log:\n{}", read(log)));
    let out = out.unwrap();
    assert!(
        out.status.success(),
        "exit {:?}; log:\n{}",
        out.status,
        read(log)
    );
}

/// Every candle of `node` in `w` is stored exactly once and equals the simulator's.
async fn assert_stored_once(sim: &Simulator, db: &Path, node: &NodeId, w: Window) {
    let p = provider(sim, db);
    let got = p
        .fetch(
            node,
            w,
            &FetchOptions {
                strategy: Strategy::FailFast,
                ..FetchOptions::default()
            },
        )
        .await
        .unwrap();
    let want = truth(sim, node, w);
    assert_eq!(got.candles.len(), want.len(), "{node}");
    assert!(
        got.candles == want,
        "{node}: stored candles differ from the simulator's"
    );
    // And in the file itself: each open time stored once (a row or in a sealed block).
    let mut times = stored_open_times(db, node, w.start, w.end);
    let rows = times.len() as i64;
    times.dedup();
    let distinct = times.len() as i64;
    assert_eq!(
        (rows, distinct),
        (want.len() as i64, want.len() as i64),
        "{node}"
    );
}

fn node(symbol: &str) -> NodeId {
    NodeId::new("binance", symbol, "1m").unwrap()
}

/// Run three `seamless backfill` processes over overlapping windows [0,30), [10,40),
/// [20,50) chunks of two symbols; returns (elapsed, 429s, requests).
async fn three_overlapping(
    sim: &Simulator,
    dir: &Path,
    redis: Option<&str>,
    budget: u32,
) -> Duration {
    three_overlapping_on(sim, dir, redis, budget, None).await
}

/// As [`three_overlapping`], with the processes on store `store` (a URL) instead of the
/// SQLite file `dir/s.db`.
async fn three_overlapping_on(
    sim: &Simulator,
    dir: &Path,
    redis: Option<&str>,
    budget: u32,
    store: Option<&str>,
) -> Duration {
    let db = dir.join("s.db");
    let t = Instant::now();
    let mut children = Vec::new();
    for i in 0..3 {
        let (s, e) = (base() + i * 10 * CHUNK, base() + (i * 10 + 30) * CHUNK);
        let log = dir.join(format!("p{i}.log"));
        let mut args = backfill_args("BTC/USDT,ETH/USDT", s, e, sim, redis);
        if let Some(url) = store {
            args.extend(["--store".to_string(), url.to_string()]);
        }
        children.push((spawn(&args, &db, Some(budget), &log), log));
    }
    for (c, log) in children {
        wait_ok(c, &log, Duration::from_secs(120)).await;
    }
    t.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_workers_fetch_every_page_once_under_one_budget() {
    let redis = test_redis(11);
    flush(&redis).await;
    // 100 weight per second, 2 per request. Alone, a process bursts 50 weight and then
    // spends 45/s: three uncoordinated ones burst 150 > 100 in their first second.
    const BUDGET: u32 = 100;
    let union = Window::new(base(), base() + 50 * CHUNK).unwrap();
    let expected: u64 = 2 * chunks(
        node("BTC/USDT").timeframe,
        1000,
        &seamless::domain::RangeSet::from_ranges([(union.start, union.end)]),
    )
    .len() as u64;
    assert_eq!(expected, 100);

    let sim = budget_sim(BUDGET).await;
    let dir = tempfile::tempdir().unwrap();
    let took = three_overlapping(&sim, dir.path(), Some(&redis), BUDGET).await;
    let (requests, limited, banned) = (
        sim.requests(KLINES),
        sim.status_count(429),
        sim.status_count(418),
    );
    assert_eq!(
        requests, expected,
        "every page once: {requests} requests for {expected} chunks"
    );
    assert_eq!((limited, banned), (0, 0), "the shared budget was exceeded");
    for s in ["BTC/USDT", "ETH/USDT"] {
        assert_stored_once(&sim, &dir.path().join("s.db"), &node(s), union).await;
    }
    // The leases are all released.
    let mut c = redis_conn(&redis).await;
    let left: Vec<String> = redis::cmd("KEYS")
        .arg("seamless:lease:*")
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(left.is_empty(), "{left:?}");

    // Control: the same three processes without Redis exceed the budget (and refetch the overlaps).
    let control = budget_sim(BUDGET).await;
    let cdir = tempfile::tempdir().unwrap();
    let control_took = three_overlapping(&control, cdir.path(), None, BUDGET).await;
    let (c_requests, c_limited) = (control.requests(KLINES), control.status_count(429));
    eprintln!(
        "3 workers over 100 chunks, budget {BUDGET}/s: with Redis {took:?}, {requests} requests, {limited} 429s; \
         without: {control_took:?}, {c_requests} requests, {c_limited} 429s"
    );
    assert!(
        c_limited > 0,
        "without coordination the three processes should have been refused"
    );
    assert!(
        c_requests > expected,
        "without coordination the overlaps are fetched twice"
    );
    sim.shutdown().await;
    control.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn three_workers_against_one_under_the_same_budget() {
    // Throughput under one exchange budget: the budget, not the number of workers, sets the
    // pace; coordination must not cost more than a little of it.
    let redis = test_redis(12);
    flush(&redis).await;
    // Both runs are timed: neither may include compiling the adapter.
    crate::support::warm_binance_adapter();
    const BUDGET: u32 = 100;
    let sim = budget_sim(BUDGET).await;
    let dir = tempfile::tempdir().unwrap();
    let three = three_overlapping(&sim, dir.path(), Some(&redis), BUDGET).await;
    assert_eq!(sim.status_count(429), 0);

    flush(&redis).await;
    let one_sim = budget_sim(BUDGET).await;
    let one_dir = tempfile::tempdir().unwrap();
    let log = one_dir.path().join("one.log");
    let t = Instant::now();
    let child = spawn(
        &backfill_args(
            "BTC/USDT,ETH/USDT",
            base(),
            base() + 50 * CHUNK,
            &one_sim,
            Some(&redis),
        ),
        &one_dir.path().join("s.db"),
        Some(BUDGET),
        &log,
    );
    wait_ok(child, &log, Duration::from_secs(120)).await;
    let one = t.elapsed();
    assert_eq!(one_sim.requests(KLINES), sim.requests(KLINES));
    let candles = 100_000.0;
    eprintln!(
        "budget {BUDGET}/s, 100 pages: 3 workers {:.2} s ({:.0} candles/s), 1 worker {:.2} s ({:.0} candles/s), ratio {:.2}",
        three.as_secs_f64(),
        candles / three.as_secs_f64(),
        one.as_secs_f64(),
        candles / one.as_secs_f64(),
        one.as_secs_f64() / three.as_secs_f64()
    );
    // Both are paced by the one budget (100 pages need ≥ (200 - 50) / 45 ≈ 3.3 s).
    assert!(
        three >= Duration::from_millis(3000) && one >= Duration::from_millis(3000),
        "{three:?} {one:?}"
    );
    assert!(
        three.as_secs_f64() < one.as_secs_f64() * 1.5,
        "3 workers {three:?} vs 1 worker {one:?}"
    );
    sim.shutdown().await;
    one_sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_killed_workers_chunk_is_taken_over_after_its_lease_expires() {
    let redis = format!("{}&lease_ms=4000", test_redis(13));
    flush(&redis).await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    // Every request takes 5 s: A is still inside its chunks while B starts and sees them
    // leased, even on a loaded machine.
    sim.set_faults(Faults {
        latency_ms: 5000,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let n = node("BTC/USDT");
    let w = Window::new(base(), base() + 4 * CHUNK).unwrap();
    let mut args = backfill_args("BTC/USDT", w.start, w.end, &sim, Some(&redis));
    if let Some(c) = args.iter_mut().skip_while(|a| *a != "--concurrency").nth(1) {
        *c = "2".into();
    }

    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let mut a = spawn(&args, &db, None, &log_a);
    let pid_a = a.id().unwrap();
    let mut c = redis_conn(&redis).await;
    let pattern = format!("seamless:lease:{n}:*");
    // Wait until A holds two chunk leases (its requests then take 5 s).
    let held = {
        let t = Instant::now();
        loop {
            let keys: Vec<String> = redis::cmd("KEYS")
                .arg(&pattern)
                .query_async(&mut c)
                .await
                .unwrap();
            let mut mine = Vec::new();
            for k in keys {
                let v: Option<String> =
                    redis::cmd("GET").arg(&k).query_async(&mut c).await.unwrap();
                if v.is_some_and(|v| v.contains(&format!(":{pid_a}:"))) {
                    mine.push(k);
                }
            }
            if mine.len() == 2 {
                break mine;
            }
            assert!(
                t.elapsed() < STARTUP,
                "A never took two leases; log:\n{}",
                read(&log_a)
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    // B logs (at debug) each chunk it finds leased by another worker: kill A once B has
    // seen both of A's chunks held.
    args.extend(["--log".into(), "seamless=debug".into()]);
    let b = spawn(&args, &db, None, &log_b);
    wait_until(
        "B to find A's two chunks leased",
        STARTUP,
        || {
            read(&log_b)
                .matches("chunk leased by another worker")
                .count()
                >= 2
        },
        || format!("B's log:\n{}", read(&log_b)),
    )
    .await;
    // A is still inside its chunks (nothing stored yet) when it dies.
    let p = provider(&sim, &db);
    assert_eq!(
        p.coverage(&n, w).await.unwrap().missing(w).len(),
        1,
        "A stored a page before the kill; make it slower"
    );
    a.start_kill().unwrap(); // SIGKILL
    let killed = Instant::now();
    a.wait().await.unwrap();
    let mut ttl_left = u64::MAX;
    for k in &held {
        let pttl: i64 = redis::cmd("PTTL").arg(k).query_async(&mut c).await.unwrap();
        assert!(pttl > 0, "A's lease {k} is already gone at the kill");
        ttl_left = ttl_left.min(pttl as u64);
    }
    wait_ok(b, &log_b, Duration::from_secs(60)).await;
    let took = killed.elapsed();
    let log = read(&log_b);
    // B took over both of A's chunks, and only after their leases expired.
    assert_eq!(log.matches("taking over").count(), 2, "{log}");
    assert!(
        took >= Duration::from_millis(ttl_left),
        "B finished {took:?} after the kill, A's leases had {ttl_left} ms left"
    );
    assert_stored_once(&sim, &db, &n, w).await;
    // 4 chunks fetched by B + A's two requests that died with it: nothing else.
    assert_eq!(sim.requests(KLINES), 4 + 2);
    let left: Vec<String> = redis::cmd("KEYS")
        .arg(&pattern)
        .query_async(&mut c)
        .await
        .unwrap();
    assert!(left.is_empty(), "leases left behind: {left:?}");
    sim.shutdown().await;
}

/// A private `redis-server` on a free loopback port, stoppable and restartable.
struct PrivateRedis {
    port: u16,
    dir: PathBuf,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    fn start(dir: &Path) -> PrivateRedis {
        let [port] = crate::support::free_ports::<1>();
        let mut r = PrivateRedis {
            port,
            dir: dir.to_path_buf(),
            child: None,
        };
        r.up();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn up(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string(), "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server ({e}): install it (apt-get install redis-server) or run `just test`"));
        self.child = Some(child);
        let t = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "redis-server did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn down(&mut self) {
        let _ = std::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown", "nosave"])
            .output();
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.down();
    }
}

/// The `metrics: URL` line a process prints on start.
async fn metrics_url(log: &Path) -> String {
    let t = Instant::now();
    loop {
        if let Some(l) = read(log)
            .lines()
            .find_map(|l| l.strip_prefix("metrics: ").map(str::to_string))
        {
            return l;
        }
        assert!(
            t.elapsed() < STARTUP,
            "no metrics line; log:\n{}",
            read(log)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_complete(
    sim: &Simulator,
    db: &Path,
    nodes: &[NodeId],
    w: Window,
    limit: Duration,
    logs: &[&Path],
) {
    let p = provider(sim, db);
    let t = Instant::now();
    loop {
        let mut done = true;
        for n in nodes {
            done &= p.coverage(n, w).await.unwrap().missing(w).is_empty();
        }
        if done {
            return;
        }
        let all: Vec<String> = logs.iter().map(|l| read(l)).collect();
        assert!(
            t.elapsed() < limit,
            "jobs not done in {limit:?}; logs:\n{}",
            all.join("\n---\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_stopped_mid_run_workers_finish_under_local_limits_and_rejoin() {
    let dir = tempfile::tempdir().unwrap();
    let mut redis = PrivateRedis::start(dir.path());
    let url = redis.url();
    const BUDGET: u32 = 100;
    let sim = budget_sim(BUDGET).await;
    let db = dir.path().join("s.db");
    let ex = format!("binance={}", sim.base_url());
    let worker_args: Vec<String> = [
        "worker",
        "--redis",
        &url,
        "--exchange-url",
        &ex,
        "--metrics",
        "127.0.0.1:0",
        "--log",
        "seamless=info",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let logs: Vec<PathBuf> = (0..2)
        .map(|i| dir.path().join(format!("w{i}.log")))
        .collect();
    let workers: Vec<_> = logs
        .iter()
        .map(|l| spawn(&worker_args, &db, Some(BUDGET), l))
        .collect();
    let mut metrics = Vec::new();
    for l in &logs {
        metrics.push(metrics_url(l).await);
    }

    // Two jobs of 40 pages each: ~80 requests at 22.5/s once the burst is spent.
    let w = Window::new(base(), base() + 40 * CHUNK).unwrap();
    let nodes = [node("BTC/USDT"), node("ETH/USDT")];
    let enqueue = |symbols: &str, w: Window, log: &str| {
        let mut a = backfill_args(symbols, w.start, w.end, &sim, Some(&url));
        a.push("--enqueue".into());
        spawn(&a, &db, None, &dir.path().join(log))
    };
    wait_ok(
        enqueue("BTC/USDT,ETH/USDT", w, "enqueue1.log"),
        &dir.path().join("enqueue1.log"),
        STARTUP,
    )
    .await;

    // Stop Redis once the jobs are under way; bring it back once both workers have fallen
    // back to local limits (a line each) and requests went on meanwhile.
    let t = Instant::now();
    while sim.requests(KLINES) < 20 {
        assert!(
            t.elapsed() < STARTUP,
            "the jobs did not start; logs:\n{}\n{}",
            read(&logs[0]),
            read(&logs[1])
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    redis.down();
    let at_stop = sim.requests(KLINES);
    let down = Instant::now();
    let fell_back = |l: &PathBuf| read(l).contains("falling back to local limiting");
    wait_until(
        "both workers to fall back to local limits and fetch while Redis is down",
        Duration::from_secs(60),
        || logs.iter().all(fell_back) && sim.requests(KLINES) > at_stop,
        || {
            format!(
                "{} requests since the stop; logs:\n{}\n---\n{}",
                sim.requests(KLINES) - at_stop,
                read(&logs[0]),
                read(&logs[1])
            )
        },
    )
    .await;
    let during = sim.requests(KLINES) - at_stop;
    let down_for = down.elapsed();
    redis.up();
    let log_refs: Vec<&Path> = logs.iter().map(PathBuf::as_path).collect();
    wait_complete(&sim, &db, &nodes, w, Duration::from_secs(60), &log_refs).await;
    assert!(during > 0, "nothing was fetched while Redis was down");
    for n in &nodes {
        assert_stored_once(&sim, &db, n, w).await;
    }

    // After the restart the workers take jobs again (and use the shared limiter again).
    let w2 = Window::new(base(), base() + 10 * CHUNK).unwrap();
    wait_ok(
        enqueue("SOL/USDT", w2, "enqueue2.log"),
        &dir.path().join("enqueue2.log"),
        STARTUP,
    )
    .await;
    wait_complete(
        &sim,
        &db,
        &[node("SOL/USDT")],
        w2,
        Duration::from_secs(60),
        &log_refs,
    )
    .await;
    assert_stored_once(&sim, &db, &node("SOL/USDT"), w2).await;

    // Counted once per worker (one outage), in the metrics of each.
    seamless::net::install_crypto();
    for m in &metrics {
        let text = reqwest::get(m).await.unwrap().text().await.unwrap();
        assert!(
            text.contains(r#"seamless_ratelimit_fallback_total{key="binance"} 1"#),
            "{m}:\n{text}"
        );
    }
    // Clean exit on SIGTERM.
    for wk in workers {
        let pid = wk.id().unwrap();
        std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        let out = tokio::time::timeout(Duration::from_secs(10), wk.wait_with_output())
            .await
            .expect("worker did not stop on SIGTERM")
            .unwrap();
        assert!(out.status.success(), "{:?}", out.status);
    }
    let all: Vec<String> = logs.iter().map(|l| read(l)).collect();
    if std::env::var_os("CLUSTER_TEST_SHOW_LOGS").is_some() {
        eprintln!("{}", all.join("\n---\n"));
    }
    for log in &all {
        // Logged once per outage.
        assert_eq!(
            log.matches("falling back to local limiting").count(),
            1,
            "{log}"
        );
        assert!(log.contains("worker stopped"), "{log}");
    }
    assert!(
        all.iter()
            .any(|l| l.contains("rejoined the cluster rate limiter")),
        "{}",
        all.join("\n---\n")
    );
    eprintln!(
        "Redis outage: {during} requests in {down_for:?} while down; 429s {} (budget {BUDGET}/s)",
        sim.status_count(429)
    );
    assert_eq!(sim.status_count(418), 0);
    sim.shutdown().await;
}

/// The shared GCRA over real Redis, driven by three independent connections (three
/// workers): the spend in every 1 s window stays under 95% of the budget, the budget is
/// used (no starvation), and one acquire is one quick round trip.
#[tokio::test(flavor = "multi_thread")]
async fn shared_bucket_keeps_three_workers_under_the_budget_and_is_fast() {
    let redis = test_redis(14);
    flush(&redis).await;
    let spec = LimitSpec {
        budget: 200,
        window: Duration::from_secs(1),
        weight: 2,
        used_weight_header: None,
        share: None,
        disabled: false,
    };
    // Latency: three workers acquiring back to back from a budget they cannot exhaust.
    let big = LimitSpec {
        budget: 1_000_000_000,
        ..spec.clone()
    };
    let mut tasks = Vec::new();
    for _ in 0..3 {
        let bucket = SharedBucket::new(Cluster::open(&redis).unwrap(), "latency", &big);
        tasks.push(tokio::spawn(async move {
            bucket.acquire().await.expect("Redis answers"); // connect + load the script
            let mut lat = Vec::with_capacity(2000);
            for _ in 0..2000 {
                let t = Instant::now();
                let g = bucket.acquire().await.expect("Redis answers");
                lat.push(t.elapsed());
                assert_eq!(g, Grant::Go(Duration::ZERO));
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    let t = Instant::now();
    for task in tasks {
        lat.extend(task.await.unwrap());
    }
    let rate = lat.len() as f64 / t.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: f64| lat[((lat.len() as f64 - 1.0) * p) as usize];
    eprintln!(
        "Redis acquire latency, 3 workers, {} acquires: p50 {:?}, p99 {:?}, max {:?} ({rate:.0} acquires/s)",
        lat.len(),
        pct(0.50),
        pct(0.99),
        lat.last().unwrap()
    );
    assert!(pct(0.99) < Duration::from_millis(50), "p99 {:?}", pct(0.99));

    // The budget: three workers contending for 200 weight per second. The window opens
    // once all three are connected (connecting is not part of the rate).
    let mut buckets = Vec::new();
    for _ in 0..3 {
        let bucket = SharedBucket::new(Cluster::open(&redis).unwrap(), "bench", &spec);
        bucket.cluster().ping().await.expect("Redis answers");
        buckets.push(bucket);
    }
    let start = Instant::now();
    let run_for = Duration::from_millis(2500);
    let mut tasks = Vec::new();
    for bucket in buckets {
        tasks.push(tokio::spawn(async move {
            let mut sent = Vec::new();
            while start.elapsed() < run_for {
                match bucket.acquire().await.expect("Redis answers") {
                    Grant::Go(wait) => {
                        tokio::time::sleep(wait).await;
                        sent.push(start.elapsed());
                    }
                    Grant::Retry(d) | Grant::Paused(d) => tokio::time::sleep(d).await,
                }
            }
            (sent, bucket.workers())
        }));
    }
    let mut sent = Vec::new();
    for t in tasks {
        let (s, workers) = t.await.unwrap();
        assert_eq!(workers, 3);
        sent.extend(s);
    }
    sent.sort();
    for (i, t) in sent.iter().enumerate() {
        let n = sent[i..]
            .iter()
            .take_while(|u| **u < *t + Duration::from_secs(1))
            .count();
        assert!(n * 2 <= 190, "{n} requests within 1 s of {t:?}");
    }
    // Burst (100 weight) + 90 weight/s over ~2.5 s ≈ 160 requests.
    assert!(
        sent.len() >= 140,
        "only {} requests in {run_for:?}",
        sent.len()
    );
}

/// The same three processes with one real QuestDB as the shared store: every page once,
/// no 429, and QuestDB holds every candle exactly once.
#[tokio::test(flavor = "multi_thread")]
async fn three_workers_share_one_questdb_and_fetch_every_page_once() {
    use seamless::store::CandleStore;
    // Its own database: sharing one with a test that runs alongside lets that test's
    // FLUSHDB drop this one's leases mid-run (and pages are fetched twice).
    let redis = test_redis(15);
    flush(&redis).await;
    const BUDGET: u32 = 100;
    let base_url = std::env::var("SEAMLESS_TEST_QUESTDB")
        .expect("SEAMLESS_TEST_QUESTDB is not set: run the suite with `just test` (scripts/services.sh up questdb)");
    let sep = if base_url.contains('?') { '&' } else { '?' };
    let url = format!("{base_url}{sep}table=cluster_{}", std::process::id());
    let union = Window::new(base(), base() + 50 * CHUNK).unwrap();
    let sim = budget_sim(BUDGET).await;
    let dir = tempfile::tempdir().unwrap();
    three_overlapping_on(&sim, dir.path(), Some(&redis), BUDGET, Some(&url)).await;
    assert_eq!(sim.requests(KLINES), 100, "every page once");
    assert_eq!(
        (sim.status_count(429), sim.status_count(418)),
        (0, 0),
        "the shared budget was exceeded"
    );
    let store = seamless::store::AnyStore::open(&url).unwrap();
    for s in ["BTC/USDT", "ETH/USDT"] {
        let got = store.read(&node(s), union).await.unwrap();
        let want = truth(&sim, &node(s), union);
        assert_eq!(got.len(), want.len(), "{s}: one row per candle in QuestDB");
        assert!(
            got == want,
            "{s}: stored candles differ from the simulator's"
        );
        let ledger = store.ledger(&node(s), union).await.unwrap();
        assert!(ledger.missing(union).is_empty(), "{s}: ledger incomplete");
    }
}
