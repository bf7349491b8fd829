//! The Coinbase, Kraken and Bitfinex adapters and the third-party adapter template
//! ("example") end to end against the simulator, on USD-quoted markets: each through the
//! real host (provider, sandbox, SQLite) and once through the `seamless` binary. Candles
//! must equal the simulator's truth exactly: no duplicate, no hole.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use exchange_sim::{Faults, MarketSpec, SimConfig, Simulator};
use seamless::components::AdapterError;
use seamless::domain::{NodeId, Window};
use seamless::provider::{FetchOptions, LimitOverride, Provider, ProviderError};

use crate::support::{DAY, JAN1_2024, MIN, guest, seamless, text, truth};

const HOUR: i64 = 60 * MIN;
/// A market listed 6 h into 2024 with a 2 h downtime gap that evening.
const LISTING: i64 = JAN1_2024 + 6 * HOUR;
const GAP: (i64, i64) = (JAN1_2024 + 20 * HOUR, JAN1_2024 + 22 * HOUR);

fn node(s: &str) -> NodeId {
    s.parse().unwrap()
}

/// The USD markets these venues quote, plus `NEW/USD` (listing + gap) and `NEW/USDT`.
fn config() -> SimConfig {
    let mut cfg = SimConfig::default()
        .with_market(MarketSpec::new("BTC/USD", 1_502_942_400_000, 4000.0))
        .with_market(MarketSpec::new("ETH/USD", 1_502_942_400_000, 300.0));
    for sym in ["NEW/USD", "NEW/USDT"] {
        cfg.markets.push(MarketSpec {
            symbol: sym.into(),
            listing_ms: LISTING,
            base_price: 3.5,
            gaps: vec![GAP],
        });
    }
    cfg
}

/// A provider over a fresh SQLite file with `id` pointed at `sim`'s `/{venue}` routes,
/// quick retries, and no client-side limiter (the simulator's answers are under test).
fn provider(sim: &Simulator, db: &Path, id: &str, venue: &str, extra: Option<PathBuf>) -> Provider {
    crate::support::provider_with(
        &format!("{id}={}/{venue}", sim.base_url()),
        extra.into_iter().collect(),
        db,
    )
    .with_rate_limit(
        id,
        LimitOverride {
            disabled: Some(true),
            ..LimitOverride::default()
        },
    )
}

/// Fetch `w` of `n` and compare with the truth; returns the requests made to `path`.
async fn fetch_equals_truth(
    p: &Provider,
    sim: &Simulator,
    n: &NodeId,
    w: Window,
) -> seamless::provider::Fetched {
    let got = p
        .fetch(n, w, &FetchOptions::default())
        .await
        .unwrap_or_else(|e| panic!("{n}: {e}"));
    let want = truth(sim, n, w);
    assert!(!want.is_empty(), "{n}: the truth is empty: bad test window");
    assert_eq!(got.candles.len(), want.len(), "{n}");
    assert_eq!(got.candles, want, "{n}");
    assert!(
        got.candles
            .windows(2)
            .all(|c| c[0].open_time < c[1].open_time),
        "{n}: ascending, unique"
    );
    assert!(
        got.metadata.missing.is_empty(),
        "{n}: {:?}",
        got.metadata.missing
    );
    got
}

/// An unsupported timeframe is refused, naming the supported ones.
async fn refuses_timeframe(p: &Provider, n: &str, supported: &str) {
    let w = Window::new(JAN1_2024, JAN1_2024 + DAY).unwrap();
    let Err(err) = p.fetch(&node(n), w, &FetchOptions::default()).await else {
        panic!("{n}: an unsupported timeframe was accepted");
    };
    let list = match &err {
        ProviderError::UnsupportedTimeframe { supported, .. } => supported.join(" "),
        ProviderError::Exchange {
            error: AdapterError::UnsupportedTimeframe(l),
            ..
        } => l.join(" "),
        e => panic!("{n}: expected an unsupported timeframe, got {e}"),
    };
    assert_eq!(list, supported, "{n}");
}

/// `seamless fetch` through the binary, `--format jsonl`: the rows equal the truth.
fn cli_fetch(sim: &Simulator, n: &str, venue_url: &str, start: i64, end: i64, extra: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cli.db");
    let (s, e) = (start.to_string(), end.to_string());
    let mut args = vec![
        "fetch",
        "--node",
        n,
        "--start",
        &s,
        "--end",
        &e,
        "--exchange-url",
        venue_url,
        "--format",
        "jsonl",
    ];
    args.extend_from_slice(extra);
    let o = seamless(&args, &db);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{n}: {err}");
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let nd = node(n);
    let want = sim.truth(&nd.symbol, nd.timeframe.as_str(), start, end);
    assert_eq!(rows.len(), want.len(), "{n}");
    for (r, c) in rows.iter().zip(&want) {
        assert_eq!(r["open_time"].as_i64(), Some(c.open_time), "{n}");
        assert_eq!(r["close"].as_f64(), Some(c.close), "{n}");
        assert_eq!(r["volume"].as_f64(), Some(c.volume), "{n}");
    }
}

// ------------------------------------------------------------------------------------
// Coinbase

const COINBASE: &str = "/coinbase/api/v3/brokerage/market/products/NEW-USD/candles";

#[tokio::test(flavor = "multi_thread")]
async fn coinbase_pages_backwards_across_listing_and_gap() {
    let sim = Simulator::start(config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&sim, &dir.path().join("c.db"), "coinbase", "coinbase", None);
    let n = node("ohlcv:coinbase:NEW/USD:1m");
    let w = Window::new(JAN1_2024, JAN1_2024 + DAY).unwrap();
    let got = fetch_equals_truth(&p, &sim, &n, w).await;
    assert_eq!(got.candles.len(), (24 - 6 - 2) * 60);
    assert_eq!(got.candles[0].open_time, LISTING);
    assert_eq!(got.metadata.empty.ranges(), &[(JAN1_2024, LISTING), GAP]);
    // 1440 buckets, at most 350 per request: 5 requests (chunks of 350 on the grid).
    assert_eq!(sim.requests(COINBASE), 5);
    // Hourly and daily candles of a long-listed market, several pages.
    let h = Window::new(JAN1_2024, JAN1_2024 + 40 * DAY).unwrap();
    fetch_equals_truth(&p, &sim, &node("ohlcv:coinbase:BTC/USD:1h"), h).await;
    refuses_timeframe(
        &p,
        "ohlcv:coinbase:BTC/USD:1w",
        "1m 5m 15m 30m 1h 2h 4h 6h 1d",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn coinbase_rate_limits_are_waited_out() {
    let sim = Simulator::start(config()).await.unwrap();
    sim.set_faults(Faults {
        rate_limit_every_n: Some(3),
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&sim, &dir.path().join("c.db"), "coinbase", "coinbase", None);
    let t = Instant::now();
    let w = Window::new(JAN1_2024, JAN1_2024 + DAY).unwrap();
    fetch_equals_truth(&p, &sim, &node("ohlcv:coinbase:ETH/USD:1m"), w).await;
    assert!(sim.status_count(429) >= 2, "the faults fired");
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 honoured: {:?}",
        t.elapsed()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn coinbase_cli_fetch() {
    let sim = Simulator::start(config()).await.unwrap();
    let url = format!("coinbase={}/coinbase", sim.base_url());
    cli_fetch(
        &sim,
        "ohlcv:coinbase:BTC/USD:5m",
        &url,
        JAN1_2024,
        JAN1_2024 + 2 * DAY,
        &[],
    );
    sim.shutdown().await;
}

// ------------------------------------------------------------------------------------
// Kraken

/// Kraken serves only the newest 720 candles: tests pin the market clock.
const NOW: i64 = JAN1_2024 + 10 * DAY + 7 * HOUR + 13 * MIN + 20_000;

fn kraken_config() -> SimConfig {
    let mut cfg = config().with_clock_fixed(NOW);
    // Listed 5 h before NOW, with 30 min of downtime: inside the newest 720 minutes.
    let listing = NOW - NOW % MIN - 5 * HOUR;
    cfg.markets.push(MarketSpec {
        symbol: "RECENT/USD".into(),
        listing_ms: listing,
        base_price: 12.0,
        gaps: vec![(listing + HOUR, listing + HOUR + 30 * MIN)],
    });
    cfg
}

#[tokio::test(flavor = "multi_thread")]
async fn kraken_serves_the_newest_720_and_says_so_before() {
    let sim = Simulator::start(kraken_config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&sim, &dir.path().join("k.db"), "kraken", "kraken", None);
    let forming = NOW - NOW % MIN;
    let listing = forming - 5 * HOUR;
    // Across the listing and the gap, inside the newest 720 minutes.
    let n = node("ohlcv:kraken:RECENT/USD:1m");
    let w = Window::new(forming - 600 * MIN, forming).unwrap();
    let got = fetch_equals_truth(&p, &sim, &n, w).await;
    assert_eq!(got.candles[0].open_time, listing);
    assert_eq!(got.candles.len(), 300 - 30);
    assert_eq!(
        got.metadata.empty.ranges(),
        &[
            (w.start, listing),
            (listing + HOUR, listing + HOUR + 30 * MIN)
        ]
    );
    // Hourly candles across two chunks (720 h each on the grid).
    let h = Window::new(NOW - NOW % HOUR - 200 * HOUR, NOW - NOW % HOUR).unwrap();
    fetch_equals_truth(&p, &sim, &node("ohlcv:kraken:BTC/USD:1h"), h).await;
    // Older than the newest 720 candles: refused, naming the oldest candle served
    // (the adapter's `unavailable-before`), never silently short.
    let old = Window::new(forming - 2000 * MIN, forming - 1000 * MIN).unwrap();
    let oldest = seamless::domain::format_ms(forming - 719 * MIN);
    match p
        .fetch(
            &node("ohlcv:kraken:BTC/USD:1m"),
            old,
            &FetchOptions::default(),
        )
        .await
        .err()
    {
        Some(ProviderError::Exchange {
            error: AdapterError::UnavailableBefore(t),
            ..
        }) => {
            assert_eq!(t, forming - 719 * MIN)
        }
        Some(ProviderError::Incomplete { missing, cause, .. }) => {
            assert_eq!(missing.ranges(), &[(old.start, old.end)]);
            let cause = cause.unwrap_or_default();
            assert!(
                cause.contains(&format!("serves no data before {oldest}")),
                "{cause}"
            );
        }
        other => panic!("expected unavailable-before, got {other:?}"),
    }
    refuses_timeframe(&p, "ohlcv:kraken:BTC/USD:1w", "1m 5m 15m 30m 1h 4h 1d").await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kraken_rate_limits_are_waited_out() {
    let sim = Simulator::start(kraken_config()).await.unwrap();
    sim.set_faults(Faults {
        rate_limit_every_n: Some(2),
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&sim, &dir.path().join("k.db"), "kraken", "kraken", None);
    let t = Instant::now();
    // 690 hours over two grid chunks: two requests, the second answered 429 first.
    let end = NOW - NOW % HOUR;
    let h = Window::new(end - 690 * HOUR, end).unwrap();
    fetch_equals_truth(&p, &sim, &node("ohlcv:kraken:ETH/USD:1h"), h).await;
    assert!(sim.status_count(429) >= 1, "the fault fired");
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 honoured: {:?}",
        t.elapsed()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kraken_cli_fetch() {
    // The binary's clock is the wall clock: so is the simulator's here.
    let sim = Simulator::start(config()).await.unwrap();
    let url = format!("kraken={}/kraken", sim.base_url());
    let now = sim.now_ms();
    let end = now - now % (15 * MIN) - 15 * MIN;
    cli_fetch(
        &sim,
        "ohlcv:kraken:BTC/USD:15m",
        &url,
        end - 100 * 15 * MIN,
        end,
        &[],
    );
    sim.shutdown().await;
}

// ------------------------------------------------------------------------------------
// Bitfinex

#[tokio::test(flavor = "multi_thread")]
async fn bitfinex_pages_forward_across_listing_and_gap() {
    let sim = Simulator::start(config()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider(&sim, &dir.path().join("b.db"), "bitfinex", "bitfinex", None);
    // 8 days of minutes: more than 10,000, so two chunks/pages; USDT is "UST".
    let n = node("ohlcv:bitfinex:NEW/USDT:1m");
    let w = Window::new(JAN1_2024, JAN1_2024 + 8 * DAY).unwrap();
    let got = fetch_equals_truth(&p, &sim, &n, w).await;
    assert_eq!(got.candles[0].open_time, LISTING);
    assert_eq!(got.metadata.empty.ranges(), &[(JAN1_2024, LISTING), GAP]);
    assert_eq!(
        sim.requests("/bitfinex/v2/candles/trade:1m:tNEWUST/hist"),
        2
    );
    // Weeks (Monday grid) and calendar months.
    let y = Window::new(JAN1_2024, JAN1_2024 + 364 * DAY).unwrap();
    fetch_equals_truth(&p, &sim, &node("ohlcv:bitfinex:BTC/USD:1w"), y).await;
    fetch_equals_truth(
        &p,
        &sim,
        &node("ohlcv:bitfinex:BTC/USD:1M"),
        Window::new(1_672_531_200_000, JAN1_2024 + 366 * DAY).unwrap(),
    )
    .await;
    refuses_timeframe(
        &p,
        "ohlcv:bitfinex:BTC/USD:4h",
        "1m 5m 15m 30m 1h 6h 12h 1d 1w 1M",
    )
    .await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bitfinex_rate_limits_are_waited_out() {
    let sim = Simulator::start(config()).await.unwrap();
    sim.set_faults(Faults {
        rate_limit_every_n: Some(2),
        ban_every_n: Some(5),
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let p =
        provider(&sim, &dir.path().join("b.db"), "bitfinex", "bitfinex", None).with_concurrency(1);
    let t = Instant::now();
    let w = Window::new(JAN1_2024, JAN1_2024 + 15 * DAY).unwrap();
    fetch_equals_truth(&p, &sim, &node("ohlcv:bitfinex:BTC/USD:1m"), w).await;
    assert!(sim.status_count(429) >= 2, "the faults fired");
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "Retry-After: 1 honoured: {:?}",
        t.elapsed()
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bitfinex_cli_fetch() {
    let sim = Simulator::start(config()).await.unwrap();
    let url = format!("bitfinex={}/bitfinex", sim.base_url());
    cli_fetch(
        &sim,
        "ohlcv:bitfinex:ETH/USD:1h",
        &url,
        JAN1_2024,
        JAN1_2024 + 20 * DAY,
        &[],
    );
    sim.shutdown().await;
}

// ------------------------------------------------------------------------------------
// The third-party adapter template ("example"), loaded by path

#[tokio::test(flavor = "multi_thread")]
async fn template_adapter_loaded_by_path() {
    let sim = Simulator::start(config()).await.unwrap();
    sim.set_faults(Faults {
        rate_limit_every_n: Some(4),
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let path = guest("adapter_template");
    let p = provider(
        &sim,
        &dir.path().join("t.db"),
        "example",
        "example",
        Some(path.clone()),
    );
    // 1440 minutes at 500 per page, across the listing and the gap, with a 429.
    let n = node("ohlcv:example:NEW/USDT:1m");
    let w = Window::new(JAN1_2024, JAN1_2024 + DAY).unwrap();
    let got = fetch_equals_truth(&p, &sim, &n, w).await;
    assert_eq!(got.metadata.empty.ranges(), &[(JAN1_2024, LISTING), GAP]);
    assert!(sim.status_count(429) >= 1, "the fault fired");
    refuses_timeframe(&p, "ohlcv:example:BTC/USDT:1w", "1m 5m 15m 1h 4h 1d").await;
    sim.set_faults(Faults::default());
    let url = format!("example={}/example", sim.base_url());
    let path = path.to_str().unwrap();
    cli_fetch(
        &sim,
        "ohlcv:example:BTC/USDT:1h",
        &url,
        JAN1_2024,
        JAN1_2024 + 10 * DAY,
        &["--adapter", path],
    );
    sim.shutdown().await;
}
