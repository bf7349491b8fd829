//! Memory (`rss`): peak RSS of a one-year 1m backfill by the `seamless` binary, vs an idle
//! run and the 200 MiB budget.

use std::time::{Duration, Instant};

use exchange_sim::{SimConfig, Simulator};

use crate::guest_dir;

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

pub(crate) async fn bench_rss() {
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
