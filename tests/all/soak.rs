//! Chaos soak: real `seamless worker` processes backfilling jobs from `backfill --enqueue`,
//! real `seamless live` processes following 1s candles over the simulator's WebSocket, one
//! private Redis and one private QuestDB (so they can be restarted), while the run injects
//! 429s, 418s, 503s, truncated and malformed bodies, WebSocket drops, a Redis restart, a
//! QuestDB restart and a `kill -9` of a worker. At the end every stored series equals the
//! simulator's truth (no candle lost, none twice) and the ledger is complete.
//!
//! `SEAMLESS_SOAK_SECS` sets the length of the fault phase (default 60; `just soak` runs
//! longer). The soak prints the faults survived as a Markdown table (`docs/reliability.md`
//! keeps a copy with the command).
//!
//! What the soak does besides injecting faults, as an operator would: a worker killed with -9
//! is replaced by a new one; a `live` process that exits (none has so far) is started again
//! with the same `--from`. Nothing else: after the fault phase the job queue alone (a killed
//! worker's job claimed by another once its 5 s lease runs out, a failed run run again) must
//! finish every job, with none in the dead letters.
//!
//! Needs `redis-server`, Java 17+ and the QuestDB jar (`scripts/services.sh up questdb` fetches
//! it; `SEAMLESS_TEST_QUESTDB_JAR` or `target/services/questdb/jar` names it).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use exchange_sim::{Faults, SimConfig, Simulator};
use seamless::domain::{NodeId, Window};
use seamless::store::{AnyStore, CandleStore};
use tokio::sync::watch;

use crate::support::{KLINES, MIN, seamless_command, truth};

/// Symbols backfilled (1m) and followed live (1s).
const BACKFILL_SYMBOLS: [&str; 4] = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BNB/USDT"];
const LIVE_SYMBOLS: [&str; 2] = ["BTC/USDT", "ETH/USDT"];
const WORKERS: usize = 3;
/// One wave of jobs: this many 1m candles per symbol (8 pages of 1000).
const WAVE_MS: i64 = 8000 * MIN;
/// The first wave starts here (2024-01-01, chunk-aligned).
const FIRST_WAVE: i64 = 1_704_067_200_000 / (1000 * MIN) * (1000 * MIN);

/// The faults of the whole run; each every-N counts candle requests (see `exchange_sim::faults`).
fn chaos_faults() -> Faults {
    Faults {
        error_every_n: Some(7),
        error_status: 503,
        malformed_every_n: Some(11),
        truncate_every_n: Some(13),
        rate_limit_every_n: Some(17),
        ban_every_n: Some(71),
        ws_drop_every_n: Some(40),
        ..Faults::default()
    }
}

fn wait_port(port: u16, limit: Duration, what: &str) {
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < limit,
            "{what} did not listen on {port} within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A private `redis-server` that keeps its data across a restart (append-only file), as a
/// job queue's Redis must.
struct SoakRedis {
    port: u16,
    dir: PathBuf,
    child: Option<std::process::Child>,
}

impl SoakRedis {
    fn start(dir: &Path) -> SoakRedis {
        let dir = dir.join("redis");
        std::fs::create_dir_all(&dir).unwrap();
        let mut r = SoakRedis {
            port: crate::support::free_ports::<1>()[0],
            dir,
            child: None,
        };
        r.up();
        r
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0?lease_ms=3000", self.port)
    }

    fn up(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--bind",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--save",
                "",
            ])
            .args(["--appendonly", "yes", "--appendfsync", "always"])
            .arg("--dir")
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start redis-server ({e}): apt-get install redis-server")
            });
        self.child = Some(child);
        wait_port(self.port, Duration::from_secs(20), "redis-server");
    }

    /// Stop as an operator's restart does (SHUTDOWN, the append-only file kept).
    fn down(&mut self) {
        let _ = std::process::Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown"])
            .output();
        if let Some(mut c) = self.child.take() {
            let t = Instant::now();
            while c.try_wait().ok().flatten().is_none() && t.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for SoakRedis {
    fn drop(&mut self) {
        self.down();
    }
}

/// The QuestDB server jar: `SEAMLESS_TEST_QUESTDB_JAR`, `target/services/questdb/jar`, or the
/// newest 9.3 jar in `~/.cache/seamless/questdb`.
fn questdb_jar() -> PathBuf {
    if let Some(j) = std::env::var_os("SEAMLESS_TEST_QUESTDB_JAR") {
        return PathBuf::from(j);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    if let Ok(j) = std::fs::read_to_string(root.join("target/services/questdb/jar")) {
        return PathBuf::from(j.trim());
    }
    let cache = std::env::var_os("QUESTDB_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cache/seamless/questdb")))
        .expect("HOME is set");
    let mut jars: Vec<PathBuf> = std::fs::read_dir(&cache)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    jars.retain(|p| p.extension().is_some_and(|e| e == "jar"));
    jars.sort();
    jars.pop().unwrap_or_else(|| {
        panic!("no QuestDB jar: run `scripts/services.sh up questdb` once (it downloads it) or set SEAMLESS_TEST_QUESTDB_JAR")
    })
}

/// A private QuestDB on free ports with its own data folder, restartable on the same ports.
struct SoakQuestDb {
    dir: PathBuf,
    jar: PathBuf,
    http: u16,
    pg: u16,
    child: Option<std::process::Child>,
}

impl SoakQuestDb {
    fn start(dir: &Path) -> SoakQuestDb {
        let dir = dir.join("questdb");
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        let [http, pg, ilp, min] = crate::support::free_ports::<4>();
        std::fs::write(
            dir.join("conf/server.conf"),
            format!(
                "http.net.bind.to=127.0.0.1:{http}\npg.net.bind.to=127.0.0.1:{pg}\n\
                 line.tcp.net.bind.to=127.0.0.1:{ilp}\nhttp.min.net.bind.to=127.0.0.1:{min}\n\
                 line.udp.enabled=false\ntelemetry.enabled=false\n"
            ),
        )
        .unwrap();
        let mut q = SoakQuestDb {
            dir,
            jar: questdb_jar(),
            http,
            pg,
            child: None,
        };
        q.up();
        q
    }

    fn url(&self) -> String {
        format!(
            "questdb://127.0.0.1:{}?pg={}&table=soak",
            self.http, self.pg
        )
    }

    fn up(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("server.log"))
            .unwrap();
        let child = std::process::Command::new("java")
            .args(["-Xms128m", "-Xmx1g", "-p"])
            .arg(&self.jar)
            .args(["-m", "io.questdb/io.questdb.ServerMain", "-d"])
            .arg(&self.dir)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start java ({e}): QuestDB needs Java 17+"));
        self.child = Some(child);
        wait_port(self.http, Duration::from_secs(90), "QuestDB HTTP");
        wait_port(self.pg, Duration::from_secs(30), "QuestDB PG");
    }

    /// Stop with SIGTERM (as a service manager does), SIGKILL after 20 s.
    fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            signal(c.id(), "TERM");
            let t = Instant::now();
            while c.try_wait().ok().flatten().is_none() && t.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for SoakQuestDb {
    fn drop(&mut self) {
        self.down();
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status();
}

/// What the soak's processes share.
struct Env {
    sim_url: String,
    redis_url: String,
    store_url: String,
    dir: PathBuf,
}

impl Env {
    /// `seamless ARGS` with the store, the simulator as Binance, quick retries, stderr to `log`.
    fn command(&self, args: &[&str], log: &str, stdout: Option<&str>) -> tokio::process::Child {
        let mut all: Vec<&str> = args.to_vec();
        let ex = format!("binance={}", self.sim_url);
        all.extend(["--exchange-url", &ex, "--log", "seamless=info"]);
        let mut c = seamless_command(&all, &self.dir.join("unused.db"));
        let open = |name: &str| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(self.dir.join(name))
                .unwrap()
        };
        c.env("SEAMLESS_STORE", &self.store_url)
            .env("SEAMLESS_BACKFILL_MAX_ATTEMPTS", "12")
            .env("SEAMLESS_BACKFILL_RETRY_BASE_MS", "50")
            .env("SEAMLESS_BACKFILL_RETRY_MAX_MS", "1000")
            .stdout(match stdout {
                Some(f) => Stdio::from(open(f)),
                None => Stdio::null(),
            })
            .stderr(Stdio::from(open(log)));
        tokio::process::Command::from(c)
            .kill_on_drop(true)
            .spawn()
            .expect("spawning seamless")
    }

    fn worker(&self, i: usize) -> tokio::process::Child {
        let r = self.redis_url.clone();
        self.command(
            &[
                "worker",
                "--jobs",
                "2",
                "--concurrency",
                "2",
                "--redis",
                &r,
                "--job-lease",
                "5s",
                "--max-attempts",
                "10",
            ],
            &format!("worker{i}.log"),
            None,
        )
    }

    /// Enqueue the jobs of wave `k` (every backfill symbol over its window) and wait for the
    /// command to finish.
    async fn enqueue(&self, k: i64) {
        let w = wave(k);
        let (s, e) = (w.start.to_string(), w.end.to_string());
        let symbols = BACKFILL_SYMBOLS.join(",");
        let r = self.redis_url.clone();
        let log = format!("enqueue{k}.log");
        let child = self.command(
            &[
                "backfill",
                "--exchange",
                "binance",
                "--symbols",
                &symbols,
                "--timeframes",
                "1m",
                "--start",
                &s,
                "--end",
                &e,
                "--redis",
                &r,
                "--enqueue",
            ],
            &log,
            None,
        );
        let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
            .await
            .expect("enqueue finished")
            .unwrap();
        assert!(out.status.success(), "enqueue {k}: {}", self.read(&log));
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.join(name)).unwrap_or_default()
    }
}

fn wave(k: i64) -> Window {
    Window::new(FIRST_WAVE + k * WAVE_MS, FIRST_WAVE + (k + 1) * WAVE_MS).unwrap()
}

fn backfill_node(symbol: &str) -> NodeId {
    NodeId::new("binance", symbol, "1m").unwrap()
}

fn live_node(symbol: &str) -> NodeId {
    NodeId::new("binance", symbol, "1s").unwrap()
}

/// Keeps one `seamless live` process running (started again when it exits) until told to
/// stop; counts the starts.
fn supervise_live(
    env: Arc<Env>,
    symbol: &'static str,
    from: i64,
    mut stop: watch::Receiver<bool>,
    starts: Arc<AtomicU64>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let node = live_node(symbol).to_string();
        let from = from.to_string();
        let tag = symbol.replace('/', "");
        loop {
            starts.fetch_add(1, Ordering::Relaxed);
            let mut child = env.command(
                &[
                    "live", "--node", &node, "--from", &from, "--format", "jsonl",
                ],
                &format!("live-{tag}.log"),
                Some(&format!("live-{tag}.jsonl")),
            );
            tokio::select! {
                _ = child.wait() => {
                    // Exited on its own (a store write failed while QuestDB was down):
                    // start it again, as a service manager would, after a short pause.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                _ = stop.changed() => {
                    if let Some(pid) = child.id() {
                        signal(pid, "TERM");
                    }
                    let _ = tokio::time::timeout(Duration::from_secs(20), child.wait()).await;
                    return;
                }
            }
            if *stop.borrow() {
                return;
            }
        }
    })
}

/// A worker's pid holds a chunk lease (it is inside a job).
async fn holds_a_lease(redis_url: &str, pid: u32) -> bool {
    let Ok(client) = redis::Client::open(redis_url.split('?').next().unwrap()) else {
        return false;
    };
    let Ok(mut c) = client.get_multiplexed_async_connection().await else {
        return false;
    };
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("seamless:lease:*")
        .query_async(&mut c)
        .await
        .unwrap_or_default();
    for k in keys {
        let v: Option<String> = redis::cmd("GET")
            .arg(&k)
            .query_async(&mut c)
            .await
            .unwrap_or_default();
        if v.is_some_and(|v| v.contains(&format!(":{pid}:"))) {
            return true;
        }
    }
    false
}

/// Waits until the ledger of every backfill node knows all of `waves`.
async fn wait_backfilled(store: &AnyStore, waves: i64, limit: Duration, env: &Env) {
    let t = Instant::now();
    loop {
        let mut missing = Vec::new();
        for k in 0..waves {
            for s in BACKFILL_SYMBOLS {
                let n = backfill_node(s);
                match store.ledger(&n, wave(k)).await {
                    Ok(l) if l.missing(wave(k)).is_empty() => {}
                    Ok(l) => missing.push(format!("{n} {:?}", l.missing(wave(k)).ranges())),
                    Err(e) => missing.push(format!("{n}: {e}")),
                }
            }
        }
        if missing.is_empty() {
            return;
        }
        if t.elapsed() > limit {
            let logs: Vec<String> = (0..WORKERS + 64)
                .map(|i| env.read(&format!("worker{i}.log")))
                .collect();
            panic!(
                "backfill incomplete after {limit:?}: {missing:?}\nworker logs:\n{}",
                logs.join("\n---\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Entries in the job stream and in the dead-letter stream.
async fn queue_lengths(redis_url: &str) -> (u64, u64) {
    let client = redis::Client::open(redis_url.split('?').next().unwrap()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let mut len = async |key: &str| -> u64 {
        redis::cmd("XLEN")
            .arg(key)
            .query_async(&mut c)
            .await
            .unwrap_or(0)
    };
    let queued = len(seamless::coord::jobs::QUEUE_KEY).await;
    let dead = len(seamless::coord::jobs::DEAD_KEY).await;
    (queued, dead)
}

#[tokio::test(flavor = "multi_thread")]
async fn soak_every_series_equals_the_truth_after_the_faults() {
    let secs: u64 = std::env::var("SEAMLESS_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let run = Duration::from_secs(secs);
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let mut redis = SoakRedis::start(&dir);
    let mut questdb: SoakQuestDb = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || SoakQuestDb::start(&dir)
    })
    .await
    .unwrap();
    let sim = Arc::new(
        Simulator::start(SimConfig {
            ban_after_429s: 1_000_000,
            faults: chaos_faults(),
            ..SimConfig::default()
        })
        .await
        .unwrap(),
    );
    let env = Arc::new(Env {
        sim_url: sim.base_url(),
        redis_url: redis.url(),
        store_url: questdb.url(),
        dir: dir.clone(),
    });
    let setup = started.elapsed();

    // Workers and live followers.
    let mut workers: Vec<tokio::process::Child> = (0..WORKERS).map(|i| env.worker(i)).collect();
    let (stop_tx, stop_rx) = watch::channel(false);
    let live_starts = Arc::new(AtomicU64::new(0));
    let live_from = (seamless::domain::now_ms() / 1000 - 30) * 1000;
    let followers: Vec<_> = LIVE_SYMBOLS
        .iter()
        .map(|s| {
            supervise_live(
                env.clone(),
                s,
                live_from,
                stop_rx.clone(),
                live_starts.clone(),
            )
        })
        .collect();

    // The fault schedule, in fractions of the run.
    let at = |f: f64| run.mul_f64(f);
    let chaos = Instant::now();
    let mut waves = 0i64;
    let (mut redis_restarts, mut questdb_restarts, mut kills) = (0u64, 0u64, 0u64);
    let mut kills_in_job = 0u64;
    // One cycle per started minute of the run: seven waves of jobs, two WebSocket drops, a
    // kill -9, a Redis restart and a QuestDB restart.
    const CYCLE: [(f64, &str); 11] = [
        (0.02, "wave"),
        (0.15, "wave"),
        (0.16, "kill"),
        (0.2, "ws-drop"),
        (0.3, "wave"),
        (0.4, "redis"),
        (0.45, "wave"),
        (0.55, "questdb"),
        (0.6, "wave"),
        (0.7, "ws-drop"),
        (0.75, "wave"),
    ];
    let cycles = secs.div_ceil(60).max(1);
    let mut events: Vec<(f64, &str)> = (0..cycles)
        .flat_map(|c| {
            CYCLE
                .iter()
                .map(move |(f, what)| ((c as f64 + f) / cycles as f64, *what))
        })
        .collect();
    events.reverse();
    while let Some((f, what)) = events.pop() {
        let due = at(f);
        if chaos.elapsed() < due {
            tokio::time::sleep(due - chaos.elapsed()).await;
        }
        eprintln!("soak {:>6.1} s: {what}", chaos.elapsed().as_secs_f64());
        match what {
            "wave" => {
                env.enqueue(waves).await;
                waves += 1;
            }
            "ws-drop" => {
                sim.drop_websockets();
            }
            "kill" => {
                // kill -9 a worker while it is inside a job (holds a chunk lease); the
                // first one after 10 s without any.
                let t = Instant::now();
                let mut victim = 0;
                let mut in_job = false;
                'find: while t.elapsed() < Duration::from_secs(10) {
                    for (i, w) in workers.iter().enumerate() {
                        if holds_a_lease(&env.redis_url, w.id().unwrap()).await {
                            (victim, in_job) = (i, true);
                            break 'find;
                        }
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                workers[victim].start_kill().unwrap(); // SIGKILL
                workers[victim].wait().await.unwrap();
                kills += 1;
                kills_in_job += u64::from(in_job);
                // The replacement logs to a file of its own.
                workers[victim] = env.worker(WORKERS + kills as usize);
            }
            "redis" => {
                redis.down();
                tokio::time::sleep(Duration::from_secs(2)).await;
                redis.up();
                redis_restarts += 1;
            }
            "questdb" => {
                questdb = tokio::task::spawn_blocking(move || {
                    let mut q = questdb;
                    q.down();
                    q.up();
                    q
                })
                .await
                .unwrap();
                questdb_restarts += 1;
            }
            _ => unreachable!(),
        }
    }
    if chaos.elapsed() < run {
        tokio::time::sleep(run - chaos.elapsed()).await;
    }

    // Faults off (what was injected is counted by the simulator as it applied it).
    let requests = sim.requests(KLINES);
    sim.set_faults(Faults::default());
    let ws_connections = sim.ws_connections();
    let observed = (
        sim.status_count(429),
        sim.status_count(418),
        sim.status_count(503),
    );
    let _ = stop_tx.send(true);
    for f in followers {
        f.await.unwrap();
    }
    let live_end = seamless::domain::now_ms();
    let starts = live_starts.load(Ordering::Relaxed);

    // The queue alone finishes every job: a killed worker's job is claimed by another once
    // its lease runs out, a failed run (a write while QuestDB was down) is run again.
    let before_drain = sim.requests(KLINES);
    let store = AnyStore::open(&env.store_url).unwrap();
    wait_backfilled(&store, waves, Duration::from_secs(180), &env).await;
    let drain_pages = sim.requests(KLINES) - before_drain;
    let (queued, dead) = queue_lengths(&env.redis_url).await;
    assert_eq!(
        dead,
        0,
        "jobs went to the dead letters; worker logs:\n{}",
        (0..WORKERS + 64)
            .map(|i| env.read(&format!("worker{i}.log")))
            .collect::<Vec<_>>()
            .join("\n---\n")
    );
    for mut w in workers {
        if let Some(pid) = w.id() {
            signal(pid, "TERM");
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), w.wait()).await;
    }

    // Every series equals the truth: the backfilled 1m windows and the live 1s series.
    let mut candles = 0usize;
    for s in BACKFILL_SYMBOLS {
        let n = backfill_node(s);
        let w = Window::new(wave(0).start, wave(waves - 1).end).unwrap();
        let got = store.read(&n, w).await.unwrap();
        let want = truth(&sim, &n, w);
        assert_eq!(
            got.len(),
            want.len(),
            "{n}: stored {} candles, the exchange has {}",
            got.len(),
            want.len()
        );
        assert!(
            got == want,
            "{n}: stored candles differ from the simulator's"
        );
        let ledger = store.ledger(&n, w).await.unwrap();
        assert!(ledger.missing(w).is_empty(), "{n}: ledger incomplete");
        candles += got.len();
    }
    for s in LIVE_SYMBOLS {
        let n = live_node(s);
        let w = Window::new(live_from, live_end).unwrap();
        let ledger = store.ledger(&n, w).await.unwrap();
        // The live series is complete from `from` up to what the ledger reached.
        let reached = ledger
            .known()
            .ranges()
            .first()
            .filter(|r| r.0 == live_from)
            .map(|r| r.1)
            .unwrap_or_else(|| {
                panic!(
                    "{n}: nothing stored from {live_from}; log:\n{}",
                    env.read(&format!("live-{}.log", s.replace('/', "")))
                )
            });
        assert!(
            reached >= live_from + 10_000,
            "{n}: live series reached only {} s",
            (reached - live_from) / 1000
        );
        let w = Window::new(live_from, reached).unwrap();
        let got = store.read(&n, w).await.unwrap();
        let want = truth(&sim, &n, w);
        assert_eq!(
            got.len(),
            want.len(),
            "{n}: stored {} candles, the exchange has {}",
            got.len(),
            want.len()
        );
        assert!(
            got == want,
            "{n}: stored live candles differ from the simulator's"
        );
        // Nothing stored past the complete part that the exchange does not have either.
        let after = store
            .read(&n, Window::new(reached, live_end + 60_000).unwrap())
            .await
            .unwrap();
        let want_after = truth(&sim, &n, Window::new(reached, live_end + 60_000).unwrap());
        assert!(
            after.iter().all(|c| want_after.contains(c)),
            "{n}: a stored candle after {reached} differs from the simulator's"
        );
        candles += got.len();
    }
    drop(questdb);
    drop(redis);

    // The faults the simulator injected, exact (counted as applied; none since they stopped).
    let exchange_sim::Injected {
        rate_limited: r429,
        banned: r418,
        error: r5xx,
        truncated,
        malformed,
        ws_drop,
        ws_drop_commanded,
    } = sim.injected();
    let total = started.elapsed();
    let table = format!(
        "| fault | count |\n| --- | --- |\n\
         | 429 (rate limited, Retry-After 1) | {r429} |\n\
         | 418 (banned, Retry-After 1) | {r418} |\n\
         | 503 | {r5xx} |\n\
         | truncated body (200) | {truncated} |\n\
         | malformed body (200) | {malformed} |\n\
         | WebSocket drops (every 40th frame and dropped by the run) | {} |\n\
         | Redis restart | {redis_restarts} |\n\
         | QuestDB restart | {questdb_restarts} |\n\
         | kill -9 of a worker ({kills_in_job} inside a job) | {kills} |\n",
        ws_drop + ws_drop_commanded,
    );
    eprintln!(
        "\nsoak: {secs} s of faults ({:.0} s in all, {:.0} s setup); {requests} candle requests in the fault phase \
         (simulator saw 429: {}, 418: {}, 503: {}); {ws_connections} WebSocket connections, {} live process starts; \
         {waves} waves of {} jobs; pages fetched after the faults stopped: {drain_pages}; jobs left in the queue: {queued}, dead letters: {dead}; {candles} candles checked, 0 lost, 0 duplicated\n\n{table}",
        total.as_secs_f64(),
        setup.as_secs_f64(),
        observed.0,
        observed.1,
        observed.2,
        starts,
        BACKFILL_SYMBOLS.len(),
    );
    assert!(
        r429 > 0 && r418 > 0 && r5xx > 0 && truncated > 0 && malformed > 0,
        "too few requests for every fault: {requests}"
    );
    sim.set_faults(Faults::default());
}
