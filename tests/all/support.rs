//! Shared helpers: where the guest components are, a component host for tests, a
//! simulator, and running the `seamless` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use exchange_sim::Simulator;
use seamless::components::{ComponentHost, SandboxLimits};
use seamless::domain::{Candle, NodeId, Window};
use seamless::net::RetryPolicy;
use seamless::provider::{AdapterRegistry, Provider};
use seamless::store::AnyStore;

/// The workspace's `target` folder (`CARGO_TARGET_DIR` when set).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap()
                .join("target")
        })
}

/// The folder `just guests` builds components into.
pub fn guest_dir() -> PathBuf {
    target_dir().join("wasm32-wasip2").join("guest")
}

/// Path of a built guest component, with a clear failure when it was not built.
pub fn guest(name: &str) -> PathBuf {
    let p = guest_dir().join(format!("{name}.wasm"));
    assert!(
        p.is_file(),
        "{} is missing: build the guest components first with `just guests`",
        p.display()
    );
    p
}

/// The compiled-component cache shared by the tests of this run (compiles each component
/// once): `SEAMLESS_TEST_CACHE_DIR`, else `SEAMLESS_CACHE_DIR`, else
/// `target/test-component-cache`. `.ci/run` points it at a new empty folder, so the suite
/// sees what a new user sees: every component compiled on first use.
pub fn cache_dir() -> PathBuf {
    let p = ["SEAMLESS_TEST_CACHE_DIR", "SEAMLESS_CACHE_DIR"]
        .iter()
        .find_map(|v| std::env::var_os(v).filter(|d| !d.is_empty()))
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("test-component-cache"));
    std::fs::create_dir_all(&p)
        .unwrap_or_else(|e| panic!("cannot create the component cache {}: {e}", p.display()));
    p
}

/// How long a test waits for a child or a task to reach an observable point when that
/// includes starting up: compiling the guest components with an empty cache on a loaded
/// machine takes tens of seconds, and a test waits for the event, not for a guess.
pub const STARTUP: Duration = Duration::from_secs(180);

/// Polls `ready` every 20 ms until it holds; fails after `limit`, naming `what` and the
/// `context` (a log, say) it is given at that point.
pub async fn wait_until(
    what: &str,
    limit: Duration,
    mut ready: impl FnMut() -> bool,
    context: impl FnOnce() -> String,
) {
    let t = std::time::Instant::now();
    while !ready() {
        if t.elapsed() > limit {
            panic!("waited {limit:?} for {what}; {}", context());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Ledger rows (stored ranges) in the SQLite store at `db`: 0 while the file or its
/// tables do not exist yet. Read without creating anything, so a child process writing
/// the file is not disturbed.
pub fn ledger_rows(db: &Path) -> i64 {
    use rusqlite::OpenFlags;
    if !db.is_file() {
        return 0;
    }
    rusqlite::Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .and_then(|c| c.query_row("SELECT count(*) FROM coverage", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// Open times of every candle of `node` stored in the SQLite file at `db` with open time in
/// `[start, end)`, as stored: loose rows and the candles of sealed blocks, ascending, each
/// place counted (a candle kept twice appears twice). Empty while the file or its tables do
/// not exist yet.
pub fn stored_open_times(db: &Path, node: &NodeId, start: i64, end: i64) -> Vec<i64> {
    use rusqlite::OpenFlags;
    if !db.is_file() {
        return Vec::new();
    }
    let Ok(c) = rusqlite::Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_WRITE) else {
        return Vec::new();
    };
    let id = node.to_string();
    let mut times: Vec<i64> = c
        .prepare(
            "SELECT open_time FROM candles JOIN nodes ON nodes.id = candles.node
             WHERE nodes.node_id = ?1 AND open_time >= ?2 AND open_time < ?3",
        )
        .and_then(|mut st| {
            st.query_map(rusqlite::params![id, start, end], |r| r.get(0))?
                .collect()
        })
        .unwrap_or_default();
    let blobs: Vec<Vec<u8>> = c
        .prepare(
            "SELECT data FROM candle_blocks JOIN nodes ON nodes.id = candle_blocks.node
             WHERE nodes.node_id = ?1",
        )
        .and_then(|mut st| st.query_map([&id], |r| r.get(0))?.collect())
        .unwrap_or_default();
    for b in blobs {
        let mut candles = Vec::new();
        seamless::domain::block::decode(&b, &mut candles).expect("a whole block");
        times.extend(
            candles
                .iter()
                .map(|k| k.open_time)
                .filter(|t| (start..end).contains(t)),
        );
    }
    times.sort_unstable();
    times
}

/// A component host with short limits, so misbehaving guests fail fast.
pub fn host(memory_mb: usize, timeout_ms: u64) -> ComponentHost {
    ComponentHost::new(
        SandboxLimits {
            memory_bytes: memory_mb << 20,
            call_timeout: Duration::from_millis(timeout_ms),
        },
        Some(cache_dir()),
    )
    .unwrap()
}

/// Run the `seamless` binary with the test adapter folder and cache.
pub fn seamless(args: &[&str], store: &Path) -> Output {
    seamless_with_stdin(args, store, None)
}

/// The `seamless` command with the test adapter folder, cache and store set.
pub fn seamless_command(args: &[&str], store: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_seamless"));
    c.args(args)
        .env("SEAMLESS_ADAPTER_DIR", guest_dir())
        .env("SEAMLESS_CACHE_DIR", cache_dir())
        .env("SEAMLESS_STORE", format!("sqlite:{}", store.display()))
        .env_remove("SEAMLESS_LOG")
        .env_remove("SEAMLESS_CONFIG");
    c
}

/// A child process that is killed (SIGKILL) and reaped when dropped, so a test that fails
/// while its child runs leaves no process behind.
pub struct KillOnDrop(pub std::process::Child);

impl std::ops::Deref for KillOnDrop {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn seamless_with_stdin(args: &[&str], store: &Path, stdin: Option<&[u8]>) -> Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = seamless_command(args, store)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawning seamless");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(data) = stdin {
        pipe.write_all(data).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

/// Compiles the Binance adapter into [`cache_dir`] with the `seamless` binary itself
/// (`adapters inspect`), so a test that times child processes does not time a first
/// compile.
pub fn warm_binance_adapter() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = guest("binance_adapter");
    let o = seamless(
        &["adapters", "inspect", wasm.to_str().unwrap()],
        &dir.path().join("warm.db"),
    );
    assert!(o.status.success(), "{}", text(&o).1);
}

/// stdout and stderr as text, for assertion messages.
pub fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

pub const JAN1_2024: i64 = 1_704_067_200_000;
pub const MIN: i64 = 60_000;
pub const DAY: i64 = 86_400_000;

pub const KLINES: &str = "/api/v3/klines";

/// A provider over a fresh SQLite file, Binance pointed at `sim`, with quick retries.
pub fn provider(sim: &Simulator, db: &Path) -> Provider {
    provider_with(&format!("binance={}", sim.base_url()), vec![], db)
}

/// A provider over a fresh SQLite file with the exchange URL override `spec`
/// (`EXCHANGE=URL`), the built-in adapters plus `extra` component files, and quick retries.
pub fn provider_with(spec: &str, extra: Vec<PathBuf>, db: &Path) -> Provider {
    let mut reg = AdapterRegistry::new(host(256, 2000), vec![guest_dir()], extra);
    reg.add_override(spec).unwrap();
    Provider::new(
        AnyStore::open(&format!("sqlite:{}", db.display())).unwrap(),
        reg,
    )
    .with_retry(RetryPolicy {
        max_attempts: 8,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    })
}

/// The simulator's closed candles of `node` in `w`, as host candles.
pub fn truth(sim: &Simulator, node: &NodeId, w: Window) -> Vec<Candle> {
    sim.truth(&node.symbol, node.timeframe.as_str(), w.start, w.end)
        .into_iter()
        .map(candle)
        .collect()
}

/// A simulator candle as the host's (the same six numbers; the host does not link the
/// simulator, so the conversion lives with the tests).
pub fn candle(c: exchange_sim::SimCandle) -> Candle {
    Candle {
        open_time: c.open_time,
        open: c.open,
        high: c.high,
        low: c.low,
        close: c.close,
        volume: c.volume,
    }
}

/// The stores the provider suite runs against: every behaviour test runs on both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Sqlite,
    QuestDb,
}

/// A provider (Binance pointed at `sim`) over a fresh store of `kind`: a SQLite file in
/// `dir`, or a fresh table set in the QuestDB server of `SEAMLESS_TEST_QUESTDB`.
pub fn provider_in(kind: StoreKind, sim: &Simulator, dir: &Path, name: &str) -> Provider {
    use std::sync::atomic::{AtomicU64, Ordering};
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let url = match kind {
        StoreKind::Sqlite => format!("sqlite:{}", dir.join(format!("{name}.db")).display()),
        StoreKind::QuestDb => {
            let base = std::env::var("SEAMLESS_TEST_QUESTDB").expect(
                "SEAMLESS_TEST_QUESTDB is not set: run the suite with `just test` (or `scripts/services.sh up questdb` and export what `scripts/services.sh env` prints)",
            );
            let sep = if base.contains('?') { '&' } else { '?' };
            let table = format!(
                "t{}_{}_{name}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::Relaxed)
            );
            format!("{base}{sep}table={table}")
        }
    };
    let mut reg = AdapterRegistry::new(host(256, 2000), vec![guest_dir()], vec![]);
    reg.add_override(&format!("binance={}", sim.base_url()))
        .unwrap();
    Provider::new(AnyStore::open(&url).unwrap(), reg).with_retry(RetryPolicy {
        max_attempts: 8,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    })
}

/// Generate, for each async test body `name(kind)`, one test per store:
/// `sqlite::name` and `questdb::name`.
#[macro_export]
macro_rules! store_suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() { super::$name($crate::support::StoreKind::Sqlite).await })*
        }
        mod questdb {
            $(#[tokio::test(flavor = "multi_thread")]
            async fn $name() { super::$name($crate::support::StoreKind::QuestDb).await })*
        }
    };
}

/// `SEAMLESS_TEST_REDIS` with database `db`; fails (never skips) when it is not set. Redis
/// calls may take 2 s before a process counts Redis as down (the default 200 ms is a guess a
/// loaded machine breaks: a worker would then fetch without its lease, twice). Each test
/// module keeps to its own databases (cluster 11-15, jobs 5-9).
pub fn test_redis(db: u32) -> String {
    let url = std::env::var("SEAMLESS_TEST_REDIS").unwrap_or_else(|_| {
        panic!(
            "SEAMLESS_TEST_REDIS is not set: the cluster and job tests need a real Redis. Run \
             `just test`, or `scripts/services.sh up redis && eval \"$(scripts/services.sh env)\"` \
             and run the tests again"
        )
    });
    let url = url.split('?').next().unwrap().trim_end_matches('/');
    // Drop a database number the variable may carry.
    let url = match url.rsplit_once('/') {
        Some((head, tail)) if !head.ends_with('/') && tail.chars().all(|c| c.is_ascii_digit()) => {
            head
        }
        _ => url,
    };
    format!("{url}/{db}?timeout_ms=2000")
}

/// `N` distinct free ports on 127.0.0.1 (the listeners stay bound until all are chosen:
/// asked one at a time, the kernel may hand out the same port twice).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().unwrap().port())
}

/// A simulator on a fast clock (one simulated minute per 100 ms from 2024-01-11 00:00:15,
/// WebSocket updates every 10 ms) and a provider over `db` that reads its clock.
pub async fn fast_clock_provider(db: &Path) -> (std::sync::Arc<Simulator>, Provider) {
    let cfg = exchange_sim::SimConfig::default()
        .with_clock_fast(JAN1_2024 + 10 * DAY + 15_000, 600)
        .with_ws_update_ms(10);
    let sim = std::sync::Arc::new(Simulator::start(cfg).await.unwrap());
    let clock = sim.clone();
    let p = provider(&sim, db).with_clock(seamless::domain::Clock::from_fn(move || clock.now_ms()));
    (sim, p)
}

/// The HTTP data API over `provider`, in process, on a free loopback port, without a token.
pub async fn api_server(provider: Provider) -> seamless::api::ApiServer {
    seamless::api::serve(
        "127.0.0.1:0".parse().unwrap(),
        seamless::api::ApiState {
            provider,
            sla: Default::default(),
            token: None,
            streams: Default::default(),
        },
    )
    .await
    .unwrap()
}
