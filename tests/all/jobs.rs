//! The cluster's job queue (a Redis stream with a consumer group) over a real Redis: a worker
//! killed with SIGKILL mid-job loses nothing (another claims and finishes the job, no page
//! fetched twice beyond those in flight at the kill); a worker stopped with SIGTERM releases
//! its job at once; jobs that cannot succeed, or that fail every attempt, end in the dead
//! letters; jobs in the old Redis list are moved to the stream.
//!
//! Needs a Redis: `SEAMLESS_TEST_REDIS=redis://127.0.0.1:PORT` (`just test` starts one; by
//! hand: `scripts/services.sh up redis && eval "$(scripts/services.sh env)"`). Each test
//! uses its own database number (5 to 9) and flushes it first.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use exchange_sim::{Faults, SimConfig, Simulator};
use seamless::coord::jobs::{DEAD_KEY, LEGACY_LIST_KEY, QUEUE_KEY};
use seamless::coord::{Cluster, Job, JobPolicy, Renewal};
use seamless::domain::{NodeId, Window};

use crate::support::{
    JAN1_2024, KLINES, MIN, provider, seamless_command, stored_open_times, text, truth,
};

/// One page (and chunk) of 1m candles.
const PAGE: i64 = 1000 * MIN;

/// A page-aligned start near 2024-01-01.
fn base() -> i64 {
    (JAN1_2024 / PAGE + 1) * PAGE
}

use crate::support::test_redis;

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap_or_else(|e| {
            panic!("cannot reach Redis at {url}: {e}; start it with `scripts/services.sh up redis`")
        })
}

async fn flush(url: &str) {
    let mut c = redis_conn(url.split('?').next().unwrap()).await;
    let _: () = redis::cmd("FLUSHDB").query_async(&mut c).await.unwrap();
}

fn read(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

/// `seamless …` as a tokio child (killed on drop), stderr to `log`.
fn spawn(args: &[&str], db: &Path, log: &Path) -> tokio::process::Child {
    let mut c = seamless_command(args, db);
    c.stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    tokio::process::Command::from(c)
        .kill_on_drop(true)
        .spawn()
        .expect("spawning seamless")
}

async fn wait_ok(child: tokio::process::Child, log: &Path, limit: Duration) {
    let out = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("timed out; log:\n{}", read(log)))
        .unwrap();
    assert!(
        out.status.success(),
        "exit {:?}; log:\n{}",
        out.status,
        read(log)
    );
}

/// Poll `cond` every 20 ms until it holds; panic with `what` and the log after `limit`.
async fn wait_until<F, Fut>(what: &str, log: &Path, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t = Instant::now();
    while !cond().await {
        assert!(
            t.elapsed() < limit,
            "{what}: not within {limit:?}; log:\n{}",
            read(log)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `seamless jobs --format json`.
fn jobs_json(redis: &str, db: &Path) -> serde_json::Value {
    let out = seamless_command(&["jobs", "--redis", redis, "--format", "json"], db)
        .output()
        .unwrap();
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Pages (candles / 1000) of `node` stored in the SQLite file, and whether each open time
/// is stored once.
fn stored_pages(db: &Path, node: &NodeId) -> (i64, bool) {
    let mut times = stored_open_times(db, node, i64::MIN, i64::MAX);
    let rows = times.len() as i64;
    times.dedup();
    (rows / 1000, rows == times.len() as i64)
}

fn node() -> NodeId {
    NodeId::new("binance", "BTC/USDT", "1m").unwrap()
}

/// A simulator answering every candle request after `latency_ms`.
async fn slow_sim(latency_ms: u64) -> Simulator {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.set_faults(Faults {
        latency_ms,
        ..Faults::default()
    });
    sim
}

/// Enqueue one job of `pages` pages of BTC/USDT 1m with the real `backfill --enqueue`.
async fn enqueue(sim: &Simulator, redis: &str, db: &Path, dir: &Path, pages: i64) -> Window {
    let w = Window::new(base(), base() + pages * PAGE).unwrap();
    let (s, e) = (w.start.to_string(), w.end.to_string());
    let ex = format!("binance={}", sim.base_url());
    let log = dir.join("enqueue.log");
    let args = [
        "backfill",
        "--node",
        "ohlcv:binance:BTC/USDT:1m",
        "--start",
        &s,
        "--end",
        &e,
        "--exchange-url",
        &ex,
        "--redis",
        redis,
        "--enqueue",
    ];
    wait_ok(spawn(&args, db, &log), &log, Duration::from_secs(60)).await;
    w
}

fn worker_args<'a>(redis: &'a str, ex: &'a str, lease: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "worker",
        "--redis",
        redis,
        "--exchange-url",
        ex,
        "--concurrency",
        "2",
        "--job-lease",
        lease,
        "--log",
        "seamless=info",
    ];
    a.extend_from_slice(extra);
    a
}

/// The whole window stored once and equal to the simulator's.
async fn assert_complete(sim: &Simulator, db: &Path, w: Window) {
    let p = provider(sim, db);
    let ledger = p.coverage(&node(), w).await.unwrap();
    assert!(
        ledger.missing(w).is_empty(),
        "missing {:?}",
        ledger.missing(w)
    );
    let got = p
        .fetch(
            &node(),
            w,
            &seamless::provider::FetchOptions {
                strategy: seamless::provider::Strategy::FailFast,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(
        got.candles == truth(sim, &node(), w),
        "stored candles differ"
    );
    let (pages, once) = stored_pages(db, &node());
    assert!(once, "a candle is stored twice");
    assert_eq!(pages, (w.end - w.start) / PAGE);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_job_loses_nothing_and_no_page_is_fetched_twice() {
    // Chunk leases of 1 s, so the dead worker's chunk leases expire soon after the kill.
    let redis = format!("{}&lease_ms=1000", test_redis(5));
    flush(&redis).await;
    let sim = slow_sim(150).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    const PAGES: i64 = 30;
    let w = enqueue(&sim, &redis, &db, dir.path(), PAGES).await;
    let ex = format!("binance={}", sim.base_url());

    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let mut a = spawn(&worker_args(&redis, &ex, "1s", &[]), &db, &log_a);
    let pid_a = a.id().unwrap();
    // Mid-job: A has stored its first pages (the ledger says so), and has more to go.
    wait_until("A stores 3 pages", &log_a, Duration::from_secs(60), || {
        let db = db.clone();
        async move { stored_pages(&db, &node()).0 >= 3 }
    })
    .await;
    a.start_kill().unwrap(); // SIGKILL
    a.wait().await.unwrap();
    let (stored_at_kill, _) = stored_pages(&db, &node());
    let requests_at_kill = sim.requests(KLINES) as i64;
    let in_flight = requests_at_kill - stored_at_kill;
    assert!(
        stored_at_kill < PAGES,
        "A finished before the kill; make it slower"
    );
    // The queue shows the job held by the dead worker.
    let status = jobs_json(&redis, &db);
    let running = status["running"].as_array().unwrap();
    assert_eq!(running.len(), 1, "{status:#}");
    assert!(
        running[0]["worker"]
            .as_str()
            .unwrap()
            .contains(&format!(":{pid_a}:")),
        "{status:#}"
    );
    assert_eq!(running[0]["attempt"], 1, "{status:#}");

    // B claims the job once its lease has passed and finishes it.
    let b = spawn(
        &worker_args(&redis, &ex, "1s", &["--max-jobs", "1"]),
        &db,
        &log_b,
    );
    wait_ok(b, &log_b, Duration::from_secs(120)).await;
    let log = read(&log_b);
    assert!(
        log.contains("claimed job") && log.contains("attempt 2 of 3"),
        "{log}"
    );
    assert_complete(&sim, &db, w).await;
    // B fetched exactly the pages A had not stored: nothing fetched twice except the
    // requests A had in flight when it died (at most its --concurrency).
    let total = sim.requests(KLINES) as i64;
    assert_eq!(
        total,
        requests_at_kill + (PAGES - stored_at_kill),
        "A: {requests_at_kill} requests, {stored_at_kill} pages stored at the kill; B log:\n{log}"
    );
    assert!((0..=2).contains(&in_flight), "{in_flight} in flight");
    eprintln!(
        "kill -9 mid-job: {stored_at_kill}/{PAGES} pages stored at the kill, {in_flight} request(s) in flight, \
         {total} requests in all"
    );
    let status = jobs_json(&redis, &db);
    assert_eq!(
        status["counts"],
        serde_json::json!({"pending": 0, "running": 0, "failed": 0}),
        "{status:#}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_worker_releases_its_job_at_once() {
    let redis = test_redis(6);
    flush(&redis).await;
    let sim = slow_sim(150).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let w = enqueue(&sim, &redis, &db, dir.path(), 20).await;
    let ex = format!("binance={}", sim.base_url());
    let (log_a, log_b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    // The default lease (30 s): B takes the job long before it would expire.
    let a = spawn(&worker_args(&redis, &ex, "30s", &[]), &db, &log_a);
    wait_until("A stores a page", &log_a, Duration::from_secs(60), || {
        let db = db.clone();
        async move { stored_pages(&db, &node()).0 >= 1 }
    })
    .await;
    let pid = a.id().unwrap();
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    wait_ok(a, &log_a, Duration::from_secs(10)).await;
    let stopped = Instant::now();
    let log = read(&log_a);
    assert!(
        log.contains("1 unfinished job(s) released to other workers"),
        "{log}"
    );
    let b = spawn(
        &worker_args(&redis, &ex, "30s", &["--max-jobs", "1"]),
        &db,
        &log_b,
    );
    wait_ok(b, &log_b, Duration::from_secs(60)).await;
    let took = stopped.elapsed();
    let log = read(&log_b);
    // Claimed at once, and the stopped run did not count as an attempt.
    assert!(log.contains("attempt 1 of 3"), "{log}");
    assert!(took < Duration::from_secs(25), "B took {took:?}");
    assert_complete(&sim, &db, w).await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_that_cannot_succeed_go_to_the_dead_letters_and_the_old_list_is_moved() {
    let redis = test_redis(7);
    flush(&redis).await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    // A malformed job and a good one in the list of older versions, an unknown exchange on
    // the stream.
    let good = Job {
        node: node().to_string(),
        start: base(),
        end: base() + 2 * PAGE,
    };
    let mut c = redis_conn(&redis).await;
    let _: () = redis::cmd("RPUSH")
        .arg(LEGACY_LIST_KEY)
        .arg("not a job")
        .arg(good.to_json())
        .query_async(&mut c)
        .await
        .unwrap();
    let cluster = Cluster::open(&redis).unwrap();
    cluster
        .enqueue(&[Job {
            node: "ohlcv:nosuchexchange:BTC/USDT:1m".into(),
            start: base(),
            end: base() + PAGE,
        }])
        .await
        .unwrap();
    let ex = format!("binance={}", sim.base_url());
    let log = dir.path().join("w.log");
    let wk = spawn(
        &worker_args(&redis, &ex, "30s", &["--max-jobs", "3"]),
        &db,
        &log,
    );
    wait_ok(wk, &log, Duration::from_secs(60)).await;
    let text = read(&log);
    assert!(text.contains("moved 2 job(s) from the old list"), "{text}");
    let exists: i64 = redis::cmd("EXISTS")
        .arg(LEGACY_LIST_KEY)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(exists, 0);
    assert_complete(&sim, &db, Window::new(good.start, good.end).unwrap()).await;
    let status = jobs_json(&redis, &db);
    assert_eq!(
        status["counts"],
        serde_json::json!({"pending": 0, "running": 0, "failed": 2}),
        "{status:#}"
    );
    let failed = status["failed"].as_array().unwrap();
    let errors: Vec<&str> = failed
        .iter()
        .map(|f| f["error"].as_str().unwrap())
        .collect();
    assert!(failed.iter().any(|f| f["raw"] == "not a job"), "{status:#}");
    assert!(
        errors.iter().any(|e| e.contains("nosuchexchange")),
        "{errors:?}"
    );
    assert!(failed.iter().all(|f| f["attempts"] == 1), "{status:#}");
    // The table form says the same.
    let out = seamless_command(&["jobs", "--redis", &redis], &db)
        .output()
        .unwrap();
    let (stdout, _) = crate::support::text(&out);
    assert!(stdout.contains("pending: 0"), "{stdout}");
    assert!(stdout.contains("failed: 2"), "{stdout}");
    assert!(stdout.contains("malformed: not a job"), "{stdout}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_failing_every_attempt_ends_in_the_dead_letters_with_its_last_error() {
    let redis = test_redis(8);
    flush(&redis).await;
    let cluster = Cluster::open(&redis).unwrap();
    let policy = JobPolicy {
        lease: Duration::from_millis(100),
        max_attempts: 3,
    };
    let job = Job {
        node: node().to_string(),
        start: base(),
        end: base() + PAGE,
    };
    cluster.enqueue(std::slice::from_ref(&job)).await.unwrap();
    let mut reader = cluster.job_reader("w1", Duration::from_millis(100));
    let d = reader.next().await.unwrap().expect("the job is delivered");
    assert_eq!((d.attempt, d.claimed), (1, false));
    assert_eq!(d.job().unwrap(), job);
    assert!(reader.next().await.unwrap().is_none(), "delivered twice");

    // Leases: the holder renews; another consumer's renewal finds it taken.
    assert_eq!(
        cluster
            .renew_jobs("w1", std::slice::from_ref(&d.id))
            .await
            .unwrap(),
        vec![Renewal::Held]
    );
    assert_eq!(
        cluster
            .renew_jobs("w2", std::slice::from_ref(&d.id))
            .await
            .unwrap(),
        vec![Renewal::Taken("w1".into())]
    );
    // Not claimable while renewed.
    assert!(cluster.claim_stale("w2", &policy).await.unwrap().is_none());

    // Two failed attempts: each is retried (claimed again) once the lease has passed.
    let mut d = d;
    for attempt in 1..=2u32 {
        let holder = format!("w{attempt}");
        assert!(
            cluster
                .retry_job_later(&holder, &d.id, &format!("boom {attempt}"))
                .await
                .unwrap()
        );
        let next = format!("w{}", attempt + 1);
        let t = Instant::now();
        d = loop {
            if let Some(c) = cluster.claim_stale(&next, &policy).await.unwrap() {
                break c;
            }
            assert!(t.elapsed() < Duration::from_secs(10), "never claimable");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        assert!(
            t.elapsed() >= Duration::from_millis(60),
            "claimed before the lease passed"
        );
        assert_eq!((d.attempt, d.claimed), (attempt + 1, true));
        let s = cluster.queue_status(10).await.unwrap();
        assert_eq!(s.running[0].worker, next);
        assert_eq!(
            s.running[0].last_error.as_deref(),
            Some(format!("boom {attempt}").as_str())
        );
    }
    // A clean stop does not count as an attempt.
    assert!(cluster.release_job("w3", &d, &policy).await.unwrap());
    let again = cluster.claim_stale("w4", &policy).await.unwrap().unwrap();
    assert_eq!(again.attempt, 3);
    // Killed on the third attempt: the claim after it finds the attempts used up.
    let t = Instant::now();
    let d = loop {
        if let Some(c) = cluster.claim_stale("w5", &policy).await.unwrap() {
            break c;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "never claimable");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(d.attempt, 4);
    cluster.dead_letter("w5", &d, None).await.unwrap();
    let s = cluster.queue_status(10).await.unwrap();
    assert_eq!((s.pending, s.running_count, s.failed_count), (0, 0, 1));
    assert_eq!(s.failed[0].attempts, 4);
    assert_eq!(s.failed[0].job, job.to_json());
    assert_eq!(
        s.failed[0].error,
        "gave up after 4 attempts; last error: boom 2"
    );
    // Gone from the queue for good.
    let mut c = redis_conn(&redis).await;
    let len: i64 = redis::cmd("XLEN")
        .arg(QUEUE_KEY)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(len, 0);
    let dead: i64 = redis::cmd("XLEN")
        .arg(DEAD_KEY)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(dead, 1);
    assert_eq!(
        cluster
            .renew_jobs("w5", std::slice::from_ref(&d.id))
            .await
            .unwrap(),
        vec![Renewal::Gone]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_old_list_moves_to_the_stream_in_order_and_only_once() {
    let redis = test_redis(9);
    flush(&redis).await;
    let mut c = redis_conn(&redis).await;
    // More than one batch of the migration script.
    let items: Vec<String> = (0..2500)
        .map(|i| {
            Job {
                node: node().to_string(),
                start: i * PAGE,
                end: (i + 1) * PAGE,
            }
            .to_json()
        })
        .collect();
    let _: () = redis::cmd("RPUSH")
        .arg(LEGACY_LIST_KEY)
        .arg(&items)
        .query_async(&mut c)
        .await
        .unwrap();
    let cluster = Cluster::open(&redis).unwrap();
    assert_eq!(cluster.migrate_legacy_list().await.unwrap(), 2500);
    assert_eq!(cluster.migrate_legacy_list().await.unwrap(), 0);
    let s = cluster.queue_status(3000).await.unwrap();
    assert_eq!((s.pending, s.running_count), (2500, 0));
    let moved: Vec<String> = s.waiting.into_iter().map(|w| w.job).collect();
    assert_eq!(moved, items);
    // Workers read them first in, first out.
    let mut reader = cluster.job_reader("w", Duration::from_millis(100));
    let d = reader.next().await.unwrap().unwrap();
    assert_eq!(d.raw, items[0]);
    let s = cluster.queue_status(1).await.unwrap();
    assert_eq!((s.pending, s.running_count), (2499, 1));
    assert_eq!(s.waiting[0].job, items[1]);
}
