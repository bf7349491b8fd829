//! The binanceusdm, MEXC, Bitget and Gate adapters end to end against the simulator, on
//! `BASE/USDT` markets at a fixed clock (2024-03-01): the real components through
//! `seamless::provider::Provider` into SQLite, and once through the `seamless` binary.
//! Candles must equal the simulator's truth exactly.

use exchange_sim::{Faults, MarketSpec, SimConfig, Simulator};
use seamless::components::AdapterError;
use seamless::domain::{Candle, NodeId, Window};
use seamless::provider::{FetchOptions, Provider, ProviderError};

use crate::support::{DAY, MIN, guest, seamless, text};

/// The simulator's (and the provider's) clock: 2024-03-01T00:00Z.
const NOW: i64 = 1_709_251_200_000;
const HOUR: i64 = 60 * MIN;

/// One venue of this module.
struct Venue {
    id: &'static str,
    /// Node symbol of a unified `BASE/USDT` market.
    suffix: &'static str,
    /// Candle endpoint paths in the simulator (counted per path).
    paths: &'static [&'static str],
    /// A timeframe the exchange does not serve, and how many it does.
    unsupported: (&'static str, usize),
}

const BINANCEUSDM: Venue = Venue {
    id: "binanceusdm",
    suffix: ":USDT",
    paths: &["/binanceusdm/fapi/v1/klines"],
    unsupported: ("1s", 15),
};
const MEXC: Venue = Venue {
    id: "mexc",
    suffix: "",
    paths: &["/mexc/api/v3/klines"],
    unsupported: ("3m", 9),
};
const BITGET: Venue = Venue {
    id: "bitget",
    suffix: "",
    paths: &[
        "/bitget/api/v2/spot/market/candles",
        "/bitget/api/v2/spot/market/history-candles",
    ],
    unsupported: ("2h", 13),
};
const GATE: Venue = Venue {
    id: "gate",
    suffix: "",
    paths: &["/gate/api/v4/spot/candlesticks"],
    unsupported: ("1w", 9),
};

impl Venue {
    fn node(&self, base: &str, tf: &str) -> NodeId {
        format!("ohlcv:{}:{base}/USDT{}:{tf}", self.id, self.suffix)
            .parse()
            .unwrap()
    }

    fn requests(&self, sim: &Simulator) -> u64 {
        self.paths.iter().map(|p| sim.requests(p)).sum()
    }

    /// A provider over a fresh SQLite file with this venue pointed at `sim`.
    fn provider(&self, sim: &Simulator, db: &std::path::Path) -> Provider {
        guest(&format!("{}_adapter", self.id));
        crate::support::provider_with(&format!("{0}={1}/{0}", self.id, sim.base_url()), vec![], db)
            .with_now(NOW)
    }
}

/// The simulator's closed candles of `BASE/USDT` in `w`, as host candles.
fn truth(sim: &Simulator, base: &str, tf: &str, w: Window) -> Vec<Candle> {
    sim.truth(&format!("{base}/USDT"), tf, w.start, w.end)
        .into_iter()
        .map(crate::support::candle)
        .collect()
}

fn config(listing: i64, gap: (i64, i64)) -> SimConfig {
    SimConfig::default()
        .with_clock_fixed(NOW)
        .with_market(MarketSpec::new("NEW/USDT", listing, 3.5).with_gap(gap.0, gap.1))
}

/// A multi-page 1m window over a market listed inside it and down for two hours: exactly
/// the truth, the time before the listing and the downtime known empty, nothing missing.
async fn listing_and_gap(v: &Venue, w: Window, min_requests: u64) -> Simulator {
    let listing = w.start + 6 * HOUR + 17 * MIN;
    let gap = (w.start + 30 * HOUR, w.start + 32 * HOUR);
    let sim = Simulator::start(config(listing, gap)).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = v.provider(&sim, &dir.path().join("s.db"));
    let node = v.node("NEW", "1m");
    let got = p.fetch(&node, w, &FetchOptions::default()).await.unwrap();
    let want = truth(&sim, "NEW", "1m", w);
    assert_eq!(want.len() as i64, (w.end - listing) / MIN - 120, "{}", v.id);
    assert_eq!(got.candles, want, "{}", v.id);
    assert!(
        got.candles
            .windows(2)
            .all(|c| c[0].open_time < c[1].open_time)
    );
    assert!(
        got.metadata.missing.is_empty(),
        "{}: {:?}",
        v.id,
        got.metadata.missing
    );
    assert_eq!(
        got.metadata.empty.ranges(),
        &[(w.start, listing), gap],
        "{}",
        v.id
    );
    assert!(
        v.requests(&sim) >= min_requests,
        "{}: {} requests",
        v.id,
        v.requests(&sim)
    );
    // Everything is known now: a second fetch sends nothing.
    sim.reset_counts();
    let again = p.fetch(&node, w, &FetchOptions::default()).await.unwrap();
    assert_eq!(
        (again.candles.len(), v.requests(&sim)),
        (want.len(), 0),
        "{}",
        v.id
    );
    sim
}

fn days(a: i64, b: i64) -> Window {
    Window::new(NOW - a * DAY, NOW - b * DAY).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn binanceusdm_window_across_listing_and_gap() {
    // 2880 minutes at 1500 per page.
    listing_and_gap(&BINANCEUSDM, days(3, 1), 2)
        .await
        .shutdown()
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn mexc_window_across_listing_and_gap() {
    // 2880 minutes at 500 per page.
    listing_and_gap(&MEXC, days(3, 1), 5).await.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bitget_window_across_listing_gap_and_the_recent_reach() {
    // 1m candles on the recent endpoint reach back 30 days: this window needs both
    // endpoints, history-candles (200 per page) for its older half.
    let sim = listing_and_gap(&BITGET, days(31, 28), 10).await;
    sim.shutdown().await;
    let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = BITGET.provider(&sim, &dir.path().join("s.db"));
    let w = Window::new(NOW - 31 * DAY, NOW - 29 * DAY + 12 * HOUR).unwrap();
    let got = p
        .fetch(&BITGET.node("BTC", "1m"), w, &FetchOptions::default())
        .await
        .unwrap();
    assert_eq!(got.candles, truth(&sim, "BTC", "1m", w));
    assert!(sim.requests(BITGET.paths[0]) > 0 && sim.requests(BITGET.paths[1]) > 0);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gate_window_across_listing_and_gap() {
    // 2880 minutes in slices of 1000, within Gate's last 10,000 points.
    listing_and_gap(&GATE, days(5, 3), 3).await.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn gate_history_beyond_10000_points_is_reported_not_short() {
    let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = GATE.provider(&sim, &dir.path().join("s.db"));
    let node = GATE.node("BTC", "1m");
    let w = days(9, 5);
    let oldest = NOW - 10_000 * MIN;
    match p.fetch(&node, w, &FetchOptions::default()).await {
        Err(ProviderError::Incomplete { missing, cause, .. }) => {
            let cause = cause.unwrap_or_default();
            assert!(
                cause.contains("no data before 2024-02-23T01:20:00Z"),
                "{cause}"
            );
            assert_eq!(missing.ranges()[0].0, w.start);
            assert!(missing.ranges().last().unwrap().1 > oldest);
        }
        other => panic!("{:?}", other.map(|f| f.candles.len())),
    }
    // What the endpoint still serves is complete and exact.
    let opts = FetchOptions {
        partial_ok: true,
        ..FetchOptions::default()
    };
    let got = p.fetch(&node, w, &opts).await.unwrap();
    let served = got.metadata.missing.ranges().last().unwrap().1;
    assert_eq!(
        got.candles,
        truth(&sim, "BTC", "1m", Window::new(served, w.end).unwrap())
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn unsupported_timeframes_name_the_supported_ones() {
    let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for v in [&BINANCEUSDM, &MEXC, &BITGET, &GATE] {
        let p = v.provider(&sim, &dir.path().join(format!("{}.db", v.id)));
        let (tf, n) = v.unsupported;
        let supported = match p
            .fetch(&v.node("BTC", tf), days(2, 1), &FetchOptions::default())
            .await
        {
            Err(ProviderError::UnsupportedTimeframe { supported, .. }) => supported,
            Err(ProviderError::Exchange {
                error: AdapterError::UnsupportedTimeframe(l),
                ..
            }) => l,
            other => panic!("{}: {:?}", v.id, other.map(|f| f.candles.len())),
        };
        assert_eq!(supported.len(), n, "{}: {supported:?}", v.id);
        assert!(
            supported.contains(&"1m".to_owned()) && !supported.contains(&tf.to_owned()),
            "{}",
            v.id
        );
    }
    assert_eq!(
        sim.status_count(200) + sim.status_count(400),
        0,
        "refused before any request"
    );
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_faults_during_multi_page_fetches_end_complete() {
    let cfg = SimConfig::default()
        .with_clock_fixed(NOW)
        .with_faults(Faults {
            rate_limit_every_n: Some(3),
            ..Faults::default()
        });
    let sim = Simulator::start(cfg).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (v, w) in [
        (
            &BINANCEUSDM,
            Window::new(NOW - 4 * DAY, NOW - 2 * DAY).unwrap(),
        ),
        (&MEXC, Window::new(NOW - 2 * DAY, NOW - DAY).unwrap()),
        (
            &BITGET,
            Window::new(NOW - 31 * DAY, NOW - 30 * DAY + 2 * HOUR).unwrap(),
        ),
        (
            &GATE,
            Window::new(NOW - 2 * DAY, NOW - DAY + 12 * HOUR).unwrap(),
        ),
    ] {
        sim.reset_counts();
        let p = v.provider(&sim, &dir.path().join(format!("{}.db", v.id)));
        let got = p
            .fetch(&v.node("ETH", "1m"), w, &FetchOptions::default())
            .await
            .unwrap();
        assert_eq!(got.candles, truth(&sim, "ETH", "1m", w), "{}", v.id);
        assert!(
            sim.status_count(429) >= 1,
            "{}: the fault must have hit",
            v.id
        );
        assert!(got.metadata.missing.is_empty(), "{}", v.id);
    }
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_fetches_each_venue() {
    let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let (start, end) = ((NOW - 20 * DAY).to_string(), (NOW - 10 * DAY).to_string());
    for v in [&BINANCEUSDM, &MEXC, &BITGET, &GATE] {
        guest(&format!("{}_adapter", v.id));
        let node = v.node("SOL", "1h").to_string();
        let url = format!("{0}={1}/{0}", v.id, sim.base_url());
        let args = [
            "fetch",
            "--node",
            &node,
            "--start",
            &start,
            "--end",
            &end,
            "--exchange-url",
            &url,
            "--format",
            "jsonl",
        ];
        let o = seamless(&args, &db);
        let (out, err) = text(&o);
        assert!(o.status.success(), "{}: {err}", v.id);
        let rows: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let want = truth(
            &sim,
            "SOL",
            "1h",
            Window::new(NOW - 20 * DAY, NOW - 10 * DAY).unwrap(),
        );
        assert_eq!(rows.len(), want.len(), "{}", v.id);
        assert_eq!(rows.len(), 240);
        for (r, c) in rows.iter().zip(&want) {
            assert_eq!(r["open_time"].as_i64(), Some(c.open_time), "{}", v.id);
            assert_eq!(r["close"].as_f64(), Some(c.close), "{}", v.id);
            assert_eq!(r["volume"].as_f64(), Some(c.volume), "{}", v.id);
        }
        assert!(v.requests(&sim) >= 1, "{}", v.id);
    }
    sim.shutdown().await;
}
