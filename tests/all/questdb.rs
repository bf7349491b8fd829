//! QuestDB-specific guarantees, against real servers: a resent batch cannot duplicate
//! anything (DEDUP UPSERT KEYS), and a QuestDB restart in the middle of a backfill loses
//! nothing (writes and reads retry until the server is back; the backfill completes).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use exchange_sim::{Faults, SimConfig, Simulator};
use seamless::domain::{Candle, NodeId, Window};
use seamless::provider::{FetchOptions, Strategy};
use seamless::store::{AnyStore, CandleStore};

use crate::support::{JAN1_2024, MIN, STARTUP, StoreKind, provider_in, truth};

/// A private QuestDB server (own ports and data folder) that a test may stop and restart.
struct PrivateQuestDb {
    jar: PathBuf,
    dir: PathBuf,
    http: u16,
    pg: u16,
    child: Option<Child>,
}

impl PrivateQuestDb {
    fn start(dir: &Path) -> Self {
        let jar = std::env::var("SEAMLESS_TEST_QUESTDB_JAR")
            .expect("SEAMLESS_TEST_QUESTDB_JAR is not set: run the suite with `just test` (scripts/services.sh exports it)");
        let [http, pg, ilp, min] = crate::support::free_ports::<4>();
        std::fs::create_dir_all(dir.join("conf")).unwrap();
        std::fs::write(
            dir.join("conf/server.conf"),
            format!(
                "http.net.bind.to=127.0.0.1:{http}\npg.net.bind.to=127.0.0.1:{pg}\nline.tcp.net.bind.to=127.0.0.1:{}\n\
                 http.min.net.bind.to=127.0.0.1:{}\nline.udp.enabled=false\ntelemetry.enabled=false\n",
                ilp, min
            ),
        )
        .unwrap();
        let mut q = PrivateQuestDb {
            jar: jar.into(),
            dir: dir.to_path_buf(),
            http,
            pg,
            child: None,
        };
        q.spawn();
        q
    }

    fn spawn(&mut self) {
        let child = Command::new("java")
            .args(["-Xms128m", "-Xmx1g", "-p"])
            .arg(&self.jar)
            .args(["-m", "io.questdb/io.questdb.ServerMain", "-d"])
            .arg(&self.dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting java");
        self.child = Some(child);
        for _ in 0..300 {
            if std::net::TcpStream::connect(("127.0.0.1", self.pg)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("private QuestDB did not start");
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn url(&self) -> String {
        format!("questdb://127.0.0.1:{}?pg={}", self.http, self.pg)
    }
}

impl Drop for PrivateQuestDb {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resent_page_cannot_duplicate_anything() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(StoreKind::QuestDb, &sim, dir.path(), "dedup");
    let n: NodeId = "ohlcv:binance:ETH/USDT:1m".parse().unwrap();
    let w = Window::new(JAN1_2024, JAN1_2024 + 1000 * MIN).unwrap();
    let want = truth(&sim, &n, w);
    for _ in 0..3 {
        p.store().write_page(&n, want.clone(), w).await.unwrap();
    }
    let got = p.store().read(&n, w).await.unwrap();
    assert_eq!(got, want, "three writes of one page read back once");
    sim.shutdown().await;
}

/// Doubles cross ILP exactly, whichever protocol version the store chose (QuestDB 9.3.4
/// announces version 2: binary doubles), the awkward ones included.
#[tokio::test(flavor = "multi_thread")]
async fn every_double_reads_back_bit_for_bit() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(StoreKind::QuestDb, &sim, dir.path(), "bits");
    let n: NodeId = "ohlcv:binance:BTC/USDT:1m".parse().unwrap();
    let values = [
        0.1 + 0.2,
        1e-7,
        1e21,
        123_456_789.123_456_78,
        f64::MIN_POSITIVE,
        f64::MAX,
        5e-324,
        0.0,
    ];
    let candles: Vec<Candle> = values
        .iter()
        .enumerate()
        .map(|(i, &v)| Candle {
            open_time: JAN1_2024 + i as i64 * MIN,
            open: v,
            high: v,
            low: v,
            close: v,
            volume: v,
        })
        .collect();
    let w = Window::new(JAN1_2024, JAN1_2024 + values.len() as i64 * MIN).unwrap();
    p.store().write_page(&n, candles.clone(), w).await.unwrap();
    let got = p.store().read(&n, w).await.unwrap();
    assert_eq!(got.len(), candles.len());
    for (g, c) in got.iter().zip(&candles) {
        for (a, b) in [
            (g.open, c.open),
            (g.high, c.high),
            (g.low, c.low),
            (g.close, c.close),
            (g.volume, c.volume),
        ] {
            assert_eq!(a.to_bits(), b.to_bits(), "{b:e} read back as {a:e}");
        }
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_questdb_restart_during_a_backfill_loses_nothing() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.set_faults(Faults {
        latency_ms: 40,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let mut q = tokio::task::block_in_place(|| PrivateQuestDb::start(&dir.path().join("qdb")));
    let mut reg = seamless::provider::AdapterRegistry::new(
        crate::support::host(256, 2000),
        vec![crate::support::guest_dir()],
        vec![],
    );
    reg.add_override(&format!("binance={}", sim.base_url()))
        .unwrap();
    let p = seamless::provider::Provider::new(AnyStore::open(&q.url()).unwrap(), reg)
        .with_concurrency(2);
    let n: NodeId = "ohlcv:binance:BTC/USDT:1m".parse().unwrap();
    let w = Window::new(JAN1_2024, JAN1_2024 + 20 * 1440 * MIN).unwrap();
    let job = {
        let (p, n) = (p.clone(), n.clone());
        tokio::spawn(async move { p.backfill(&n, w, None).await })
    };
    // Restart the server once the backfill has stored something (a ledger row), however
    // long the adapter took to compile.
    let t = std::time::Instant::now();
    while !job.is_finished() && p.store().ledger(&n, w).await.unwrap().known().is_empty() {
        assert!(
            t.elapsed() < STARTUP,
            "no page stored after {STARTUP:?}: {} requests so far",
            sim.requests(crate::support::KLINES)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        !job.is_finished(),
        "the backfill finished before the restart; make it longer"
    );
    tokio::task::block_in_place(|| {
        q.kill();
        std::thread::sleep(Duration::from_millis(500));
        q.spawn();
    });
    let outcome = tokio::time::timeout(Duration::from_secs(120), job)
        .await
        .expect("backfill hung")
        .unwrap()
        .unwrap();
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    let got = p
        .fetch(
            &n,
            w,
            &FetchOptions {
                strategy: Strategy::FailFast,
                ..FetchOptions::default()
            },
        )
        .await
        .unwrap();
    let want: Vec<Candle> = truth(&sim, &n, w);
    assert_eq!(
        got.candles.len(),
        want.len(),
        "nothing lost, nothing duplicated"
    );
    assert_eq!(got.candles, want);
    sim.shutdown().await;
}
