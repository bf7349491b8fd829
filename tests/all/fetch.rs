//! The provider end to end: the Binance adapter component against the simulator, into
//! a real SQLite file. Candles must equal the simulator's truth exactly.

use exchange_sim::{Faults, MarketSpec, SimConfig, Simulator};
use seamless::domain::{Candle, NodeId, Window};
use seamless::provider::FetchOptions;

use crate::support::{DAY, JAN1_2024, MIN, StoreKind, provider_in};

use crate::support::{KLINES, truth};

fn assert_ascending_unique(c: &[Candle]) {
    for w in c.windows(2) {
        assert!(
            w[0].open_time < w[1].open_time,
            "not strictly ascending at {}",
            w[1].open_time
        );
    }
}

async fn window_equals_truth_and_second_fetch_makes_no_request(kind: StoreKind) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "s");
    let node: NodeId = "ohlcv:binance:BTC/USDT:1m".parse().unwrap();
    let w = Window::new(JAN1_2024, JAN1_2024 + 2 * DAY).unwrap();
    let got = p.fetch(&node, w, &FetchOptions::default()).await.unwrap();
    let want = truth(&sim, &node, w);
    assert_eq!(want.len(), 2880);
    assert_eq!(got.candles, want);
    assert_eq!(sim.requests(KLINES), 3, "2880 candles at 1000 per page");
    assert!(
        got.metadata.missing.is_empty() && got.metadata.empty.is_empty(),
        "{:?}",
        got.metadata
    );
    sim.reset_counts();
    let again = p.fetch(&node, w, &FetchOptions::default()).await.unwrap();
    assert_eq!(again.candles, want);
    assert_eq!(sim.requests(KLINES), 0);
    assert_eq!(again.metadata.from_store, 2880);
    assert_eq!(
        p.series().await.unwrap(),
        vec![node.clone()],
        "the store lists the series"
    );
    sim.shutdown().await;
}

async fn only_the_missing_parts_are_fetched(kind: StoreKind) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "s");
    let node: NodeId = "ohlcv:binance:ETH/USDT:1m".parse().unwrap();
    p.fetch(
        &node,
        Window::new(JAN1_2024 + DAY, JAN1_2024 + 2 * DAY).unwrap(),
        &FetchOptions::default(),
    )
    .await
    .unwrap();
    sim.reset_counts();
    let w = Window::new(JAN1_2024, JAN1_2024 + 3 * DAY).unwrap();
    let got = p.fetch(&node, w, &FetchOptions::default()).await.unwrap();
    assert_eq!(got.candles, truth(&sim, &node, w));
    // Day 0 and day 2 are missing: 1440 candles each = 2 pages each.
    assert_eq!(sim.requests(KLINES), 4);
    assert_eq!(got.metadata.from_store, 1440);
    assert_eq!(got.metadata.fetched, 2880);
    sim.shutdown().await;
}

async fn listing_start_and_downtime_give_exactly_the_candles_that_exist(kind: StoreKind) {
    let listing = JAN1_2024 + 6 * 60 * MIN;
    let gap = (JAN1_2024 + 10 * 60 * MIN, JAN1_2024 + 12 * 60 * MIN);
    let mut cfg = SimConfig::default();
    cfg.markets.push(MarketSpec {
        symbol: "NEW/USDT".into(),
        listing_ms: listing,
        base_price: 3.5,
        gaps: vec![gap],
    });
    let sim = Simulator::start(cfg).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "s");
    let node: NodeId = "ohlcv:binance:NEW/USDT:1m".parse().unwrap();
    let w = Window::new(JAN1_2024, JAN1_2024 + DAY).unwrap();
    let got = p.fetch(&node, w, &FetchOptions::default()).await.unwrap();
    assert_ascending_unique(&got.candles);
    assert_eq!(got.candles, truth(&sim, &node, w));
    assert_eq!(got.candles.len(), (24 - 6 - 2) * 60);
    assert_eq!(got.candles[0].open_time, listing);
    assert!(
        got.candles
            .iter()
            .all(|c| c.open_time < gap.0 || c.open_time >= gap.1)
    );
    assert_eq!(got.metadata.empty.ranges(), &[(JAN1_2024, listing), gap]);
    assert!(got.metadata.missing.is_empty());
    // Empty ranges are known: never fetched again.
    sim.reset_counts();
    p.fetch(&node, w, &FetchOptions::default()).await.unwrap();
    assert_eq!(sim.requests(KLINES), 0);
    sim.shutdown().await;
}

async fn transient_faults_are_retried_to_a_complete_window(kind: StoreKind) {
    let cfg = SimConfig {
        faults: Faults {
            error_every_n: Some(3),
            error_status: 503,
            truncate_every_n: Some(4),
            malformed_every_n: Some(7),
            ..Faults::default()
        },
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "s");
    let node: NodeId = "ohlcv:binance:SOL/USDT:1m".parse().unwrap();
    let w = Window::new(JAN1_2024, JAN1_2024 + 5 * DAY).unwrap();
    let got = p.fetch(&node, w, &FetchOptions::default()).await.unwrap();
    assert_eq!(got.candles, truth(&sim, &node, w));
    assert!(
        got.metadata.requests > 8,
        "faults should have cost retries: {}",
        got.metadata.requests
    );
    assert!(sim.status_count(503) > 0);
    sim.shutdown().await;
}

async fn higher_timeframes_match_truth(kind: StoreKind) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "s");
    for (tf, days) in [("1h", 60), ("1d", 400), ("1w", 210)] {
        let node: NodeId = format!("ohlcv:binance:BTC/USDT:{tf}").parse().unwrap();
        let (w, _) = Window::new(JAN1_2024 - days * DAY, JAN1_2024)
            .unwrap()
            .align(node.timeframe);
        let got = p.fetch(&node, w, &FetchOptions::default()).await.unwrap();
        assert_eq!(got.candles, truth(&sim, &node, w), "{tf}");
        assert!(!got.candles.is_empty());
    }
    sim.shutdown().await;
}

crate::store_suite!(
    window_equals_truth_and_second_fetch_makes_no_request,
    only_the_missing_parts_are_fetched,
    listing_start_and_downtime_give_exactly_the_candles_that_exist,
    transient_faults_are_retried_to_a_complete_window,
    higher_timeframes_match_truth
);
