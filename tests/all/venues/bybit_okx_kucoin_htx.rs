//! The Bybit, OKX, KuCoin and HTX adapters end to end against the simulator, one table
//! entry each and the same four tests per venue (`venue_tests!`).
//!
//! Each venue goes through the real host (`Provider` over SQLite, the guest component from
//! `just guests`, the simulator speaking the exchange's REST format under `/{id}`):
//! - windows that need several pages, across the listing start and a downtime gap, equal
//!   the simulator's truth exactly (no duplicate, no hole, nothing missing);
//! - an unsupported timeframe is refused naming the supported ones; an unknown symbol is
//!   the exchange's own answer mapped to `unknown-symbol`;
//! - rate-limit answers during a multi-page fetch are waited out and the result is complete;
//! - the `seamless fetch` binary serves a window through `--exchange-url`.

use std::time::{Duration, Instant};

use exchange_sim::{Faults, SimConfig, Simulator};
use seamless::components::AdapterError;
use seamless::domain::{NodeId, Window};
use seamless::provider::{FetchOptions, Provider, ProviderError};

use crate::support::{DAY, JAN1_2024, MIN, seamless, text, truth};

/// SOL/USDT's listing in the simulator (2020-08-11T06:00Z).
const SOL_LISTING: i64 = 1_597_125_600_000;

struct Venue {
    id: &'static str,
    /// Candle endpoints, as the simulator counts them.
    paths: &'static [&'static str],
    /// The adapter's max-candles-per-request.
    max: i64,
    /// A unified timeframe the venue does not serve.
    unsupported: &'static str,
    /// What the adapter serves.
    timeframes: &'static str,
    /// Wait the adapter derives from the venue's rate-limit answer.
    rate_limit_wait_ms: u64,
}

const BYBIT: Venue = Venue {
    id: "bybit",
    paths: &["/bybit/v5/market/kline"],
    max: 1000,
    unsupported: "8h",
    timeframes: "1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w 1M",
    rate_limit_wait_ms: 1000,
};
const OKX: Venue = Venue {
    id: "okx",
    paths: &[
        "/okx/api/v5/market/history-candles",
        "/okx/api/v5/market/candles",
    ],
    max: 100,
    unsupported: "8h",
    timeframes: "1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w 1M",
    rate_limit_wait_ms: 2000,
};
const KUCOIN: Venue = Venue {
    id: "kucoin",
    paths: &["/kucoin/api/v1/market/candles"],
    max: 1500,
    unsupported: "1w",
    timeframes: "1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d",
    rate_limit_wait_ms: 1000,
};
const HTX: Venue = Venue {
    id: "htx",
    paths: &["/htx/market/history/candles", "/htx/market/history/kline"],
    max: 1000,
    unsupported: "1d",
    timeframes: "1m 5m 15m 30m 1h 4h",
    rate_limit_wait_ms: 1000,
};

fn node(v: &Venue, symbol: &str, tf: &str) -> NodeId {
    format!("ohlcv:{}:{symbol}:{tf}", v.id).parse().unwrap()
}

/// A provider over a fresh SQLite file with the venue pointed at the simulator.
fn provider(sim: &Simulator, db: &std::path::Path, v: &Venue) -> Provider {
    crate::support::provider_with(
        &format!("{id}={}/{id}", sim.base_url(), id = v.id),
        vec![],
        db,
    )
}

fn requests(sim: &Simulator, v: &Venue) -> u64 {
    v.paths.iter().map(|p| sim.requests(p)).sum()
}

/// Windows across SOL/USDT's listing and a 3-hour downtime, on 1m and 1h: every candle once.
async fn listing_and_gap(v: &Venue) {
    let gap = (SOL_LISTING + 10 * 3_600_000, SOL_LISTING + 13 * 3_600_000);
    let sim = Simulator::start(SimConfig::default().with_gap("SOL/USDT", gap.0, gap.1))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&sim, &dir.path().join("s.db"), v);
    for (tf, w) in [
        (
            "1m",
            Window::new(SOL_LISTING - DAY / 2, SOL_LISTING + DAY).unwrap(),
        ),
        (
            "1h",
            Window::new(SOL_LISTING - 20 * DAY, SOL_LISTING + 80 * DAY).unwrap(),
        ),
    ] {
        let n = node(v, "SOL/USDT", tf);
        sim.reset_counts();
        let got = p
            .fetch(&n, w, &FetchOptions::default())
            .await
            .unwrap_or_else(|e| panic!("{n}: {e}"));
        let want = truth(&sim, &n, w);
        assert!(!want.is_empty() && want[0].open_time >= SOL_LISTING);
        assert_eq!(got.candles.len(), want.len(), "{n}");
        assert_eq!(got.candles, want, "{n}");
        assert!(
            got.metadata.missing.is_empty() && !got.metadata.partial,
            "{n}: {:?}",
            got.metadata.missing
        );
        let slots = (w.end - w.start)
            / tf.parse::<seamless::domain::Timeframe>()
                .unwrap()
                .nominal_ms();
        assert!(
            requests(&sim, v) as i64 >= slots / v.max,
            "{n}: several pages"
        );
        if tf == "1m" {
            assert!(
                got.candles
                    .iter()
                    .all(|c| c.open_time < gap.0 || c.open_time >= gap.1),
                "{n}: nothing in the gap"
            );
        }
    }
    sim.shutdown().await;
}

/// Unsupported timeframe and unknown symbol are typed, and name what is supported.
async fn bad_input(v: &Venue) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&sim, &dir.path().join("s.db"), v);
    let w = Window::new(JAN1_2024, JAN1_2024 + DAY).unwrap();
    let supported: Vec<String> = v.timeframes.split(' ').map(str::to_owned).collect();
    match p
        .fetch(
            &node(v, "BTC/USDT", v.unsupported),
            w,
            &FetchOptions::default(),
        )
        .await
    {
        Err(ProviderError::UnsupportedTimeframe { supported: s, .. }) => assert_eq!(s, supported),
        Err(ProviderError::Exchange {
            error: AdapterError::UnsupportedTimeframe(s),
            ..
        }) => assert_eq!(s, supported),
        other => panic!("{}: expected unsupported-timeframe, got {other:?}", v.id),
    }
    let n = node(v, "XYZ/USDT", "1h");
    match p.fetch(&n, w, &FetchOptions::default()).await {
        Err(
            e @ ProviderError::Exchange {
                error: AdapterError::UnknownSymbol(_),
                ..
            },
        ) => assert!(e.is_bad_input()),
        other => panic!("{n}: expected unknown-symbol, got {other:?}"),
    }
    sim.shutdown().await;
}

/// Every second candle request is answered with the venue's rate-limit error.
async fn rate_limited(v: &Venue) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.set_faults(Faults {
        rate_limit_every_n: Some(2),
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&sim, &dir.path().join("s.db"), v);
    let n = node(v, "ETH/USDT", "1m");
    let w = Window::new(JAN1_2024, JAN1_2024 + 4 * v.max * MIN).unwrap();
    let t = Instant::now();
    let got = p
        .fetch(&n, w, &FetchOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{n}: {e}"));
    assert_eq!(got.candles, truth(&sim, &n, w), "{n}");
    assert!(
        requests(&sim, v) >= 6,
        "{n}: 4 pages and their rate-limited attempts"
    );
    let waited = Duration::from_millis(v.rate_limit_wait_ms * 8 / 10);
    assert!(
        t.elapsed() >= waited,
        "{n}: the venue's wait was honoured ({:?})",
        t.elapsed()
    );
    sim.shutdown().await;
}

/// `seamless fetch` through `--exchange-url`.
async fn cli(v: &Venue) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let url = format!("{id}={}/{id}", sim.base_url(), id = v.id);
    let n = format!("ohlcv:{}:BTC/USDT:1h", v.id);
    let args = [
        "fetch",
        "--node",
        &n,
        "--start",
        "2024-01-01",
        "--end",
        "2024-03-01",
        "--exchange-url",
        &url,
        "--format",
        "jsonl",
    ];
    let o = seamless(&args, &db);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{n}: {err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let want = sim.truth("BTC/USDT", "1h", JAN1_2024, 1_709_251_200_000);
    assert_eq!(lines.len(), want.len(), "{n}");
    for (l, c) in lines.iter().zip(&want) {
        assert_eq!(l["open_time"].as_i64(), Some(c.open_time));
        assert_eq!(
            (l["close"].as_f64(), l["volume"].as_f64()),
            (Some(c.close), Some(c.volume))
        );
    }
    assert!(requests(&sim, v) >= 2, "{n}: several pages");
    sim.shutdown().await;
}

macro_rules! venue_tests {
    ($($name:ident => $v:expr;)*) => {$(
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn windows_across_listing_and_gap_are_exact() {
                listing_and_gap(&$v).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn bad_timeframe_and_symbol_are_typed() {
                bad_input(&$v).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn rate_limits_are_waited_out_and_the_fetch_completes() {
                rate_limited(&$v).await
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn cli_fetch() {
                cli(&$v).await
            }
        }
    )*};
}

venue_tests! {
    bybit => BYBIT;
    okx => OKX;
    kucoin => KUCOIN;
    htx => HTX;
}
