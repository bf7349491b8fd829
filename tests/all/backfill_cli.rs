//! `seamless backfill`, `coverage`, `config show` and `serve` as a user runs them:
//! killed with SIGKILL in the middle and resumed, reported, configured from a file.

use exchange_sim::{Faults, SimConfig, Simulator};
use seamless::domain::{NodeId, Window};
use seamless::provider::{FetchOptions, Strategy, chunks};

use crate::support::{
    JAN1_2024, KLINES, KillOnDrop, STARTUP, ledger_rows, provider, seamless, seamless_command,
    text, truth, wait_until,
};

#[tokio::test(flavor = "multi_thread")]
async fn backfill_killed_midway_resumes_without_refetching_a_stored_page() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.set_faults(Faults {
        latency_ms: 40,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let url = format!("binance={}", sim.base_url());
    let args = [
        "backfill",
        "--node",
        "ohlcv:binance:BTC/USDT:1m",
        "--start",
        "2024-01-01",
        "--end",
        "2024-01-31",
        "--exchange-url",
        &url,
        "--concurrency",
        "2",
        "--quiet",
    ];
    let mut child = KillOnDrop(seamless_command(&args, &db).spawn().unwrap());
    // Kill it once its first page is in the ledger (however long compiling the adapter
    // took), or find out that it ended before that.
    let mut ended = None;
    wait_until(
        "the backfill's first stored page",
        STARTUP,
        || {
            ended = child.try_wait().unwrap();
            ended.is_some() || ledger_rows(&db) > 0
        },
        || format!("{} requests so far", sim.requests(KLINES)),
    )
    .await;
    let status = match ended {
        Some(status) => status,
        None => {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap()
        }
    };
    assert!(
        !status.success(),
        "the backfill finished before the kill; make it longer"
    );
    let first_run = sim.requests(KLINES);
    assert!(first_run > 0);

    let node: NodeId = "ohlcv:binance:BTC/USDT:1m".parse().unwrap();
    let w = Window::new(JAN1_2024, JAN1_2024 + 30 * 86_400_000).unwrap();
    let p = provider(&sim, &db);
    let missing = p.coverage(&node, w).await.unwrap().missing(w);
    assert!(!missing.is_empty(), "nothing left to resume");
    let expected = chunks(node.timeframe, 1000, &missing).len() as u64;
    sim.reset_counts();
    sim.set_faults(Faults::default());
    let o = seamless(&args, &db);
    assert!(o.status.success(), "{}", text(&o).1);
    // Exactly the chunks the ledger lacked: no stored page was fetched twice.
    assert_eq!(
        sim.requests(KLINES),
        expected,
        "first run made {first_run} requests"
    );
    let got = p
        .fetch(
            &node,
            w,
            &FetchOptions {
                strategy: Strategy::FailFast,
                ..FetchOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(got.candles, truth(&sim, &node, w));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn backfill_several_nodes_then_coverage_reports_them() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let url = format!("binance={}", sim.base_url());
    let o = seamless(
        &[
            "backfill",
            "--exchange",
            "binance",
            "--symbols",
            "BTC/USDT,ETH/USDT",
            "--timeframes",
            "1m,1h",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-03",
            "--exchange-url",
            &url,
        ],
        &db,
    );
    let (_, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for n in ["BTC/USDT:1m", "ETH/USDT:1m", "BTC/USDT:1h", "ETH/USDT:1h"] {
        assert!(
            err.contains(&format!("ohlcv:binance:{n}")),
            "{n} not reported in {err}"
        );
    }
    let o = seamless(
        &[
            "coverage",
            "--node",
            "ohlcv:binance:ETH/USDT:1h",
            "--start",
            "2023-12-31",
            "--end",
            "2024-01-04",
            "--format",
            "json",
        ],
        &db,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let d = 86_400_000i64;
    assert_eq!(
        v["present"],
        serde_json::json!([[JAN1_2024, JAN1_2024 + 2 * d]])
    );
    assert_eq!(
        v["missing"],
        serde_json::json!([
            [JAN1_2024 - d, JAN1_2024],
            [JAN1_2024 + 2 * d, JAN1_2024 + 3 * d]
        ])
    );
    let o = seamless(&["coverage", "--node", "ohlcv:binance:ETH/USDT:1h"], &db);
    let (out, _) = text(&o);
    assert!(
        out.contains("present") && out.contains("2024-01-01T00:00:00Z") && out.contains("48"),
        "{out}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn config_file_env_and_flags_with_sources() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let cfg = dir.path().join("seamless.toml");
    std::fs::write(
        &cfg,
        format!("[exchange_urls]\nbinance = \"{}\"\n[backfill]\nconcurrency = 3\n[sla]\ntotal_ms = 60000\n", sim.base_url()),
    )
    .unwrap();
    let cfg_s = cfg.to_str().unwrap();
    // The exchange URL comes from the file: no --exchange-url needed.
    let o = seamless(
        &[
            "--config-file",
            cfg_s,
            "fetch",
            "--node",
            "ohlcv:binance:BTC/USDT:1h",
            "--start",
            "2024-01-01",
            "--end",
            "2024-01-02",
            "-q",
        ],
        &db,
    );
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out.lines().count(), 25, "header + 24 hourly rows");
    let o = seamless_command(
        &[
            "config",
            "show",
            "--config-file",
            cfg_s,
            "--concurrency",
            "5",
        ],
        &db,
    )
    .env("SEAMLESS_SLA_TOTAL_MS", "1234")
    .output()
    .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        out.contains("backfill.concurrency = 5  # flag --concurrency"),
        "{out}"
    );
    assert!(
        out.contains("sla.total_ms = 1234  # env SEAMLESS_SLA_TOTAL_MS"),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "exchange_urls.binance = \"{}\"  # file",
            sim.base_url()
        )),
        "{out}"
    );
    assert!(
        out.contains("store = ") && out.contains("# env SEAMLESS_STORE"),
        "{out}"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_exposes_prometheus_metrics() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let mut child = KillOnDrop(
        seamless_command(
            &[
                "serve",
                "--metrics",
                "127.0.0.1:0",
                "--listen",
                "127.0.0.1:0",
            ],
            &dir.path().join("s.db"),
        )
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap(),
    );
    // The reader stays open to the end: a closed pipe would fail the process's next line.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let url = line
        .trim()
        .strip_prefix("metrics: ")
        .unwrap_or_else(|| panic!("{line}"))
        .to_string();
    line.clear();
    stderr.read_line(&mut line).unwrap();
    assert!(line.starts_with("api: http://127.0.0.1:"), "{line}");
    seamless::net::install_crypto();
    let resp = reqwest::get(&url).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    child.kill().unwrap();
    child.wait().unwrap();
}
