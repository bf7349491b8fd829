//! Provider behaviour (issue: the seamless provider) against the simulator and SQLite:
//! gaps at both ends and in the middle, strategies, SLA modes, fault kinds, rate limits,
//! fingerprints. Results are complete, or the metadata says exactly what is missing;
//! never a duplicate, never a hole presented as complete.

use std::time::{Duration, Instant};

use exchange_sim::{Faults, SimConfig, Simulator};
use seamless::domain::{Candle, NodeId, RangeSet, Window};
use seamless::net::HttpClient;
use seamless::provider::{
    FetchOptions, LimitOverride, OnViolation, Phase, ProviderError, Sla, Strategy, chunks,
};
use seamless::store::CandleStore;

use crate::support::{DAY, JAN1_2024, KLINES, MIN, StoreKind, provider_in, truth};

fn node(s: &str) -> NodeId {
    s.parse().unwrap()
}

fn opts(strategy: Strategy) -> FetchOptions {
    FetchOptions {
        strategy,
        ..FetchOptions::default()
    }
}

/// Every closed slot is either a served candle or listed as missing: no hole is hidden.
fn assert_accounted(tf_ms: i64, w: Window, candles: &[Candle], missing: &RangeSet) {
    let mut seen = RangeSet::new();
    for c in candles {
        seen.insert(c.open_time, c.open_time + tf_ms);
    }
    let all = seen.union(missing);
    assert!(
        all.covers(w.start, w.end),
        "slots neither served nor reported missing: {:?}",
        all.gaps_in(w.start, w.end)
    );
    for pair in candles.windows(2) {
        assert!(
            pair[0].open_time < pair[1].open_time,
            "duplicate or disorder at {}",
            pair[1].open_time
        );
    }
}

async fn gaps_at_both_ends_and_in_the_middle_are_fetched_exactly(kind: StoreKind) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "s");
    let n = node("ohlcv:binance:BTC/USDT:1m");
    let d = |k: i64| JAN1_2024 + k * DAY;
    for (a, b) in [(1, 2), (3, 4)] {
        p.fetch(
            &n,
            Window::new(d(a), d(b)).unwrap(),
            &opts(Strategy::AutoBackfill),
        )
        .await
        .unwrap();
    }
    let w = Window::new(d(0), d(5)).unwrap();
    let before = p.coverage(&n, w).await.unwrap();
    let missing = before.missing(w);
    assert_eq!(
        missing.ranges(),
        &[(d(0), d(1)), (d(2), d(3)), (d(4), d(5))]
    );
    sim.reset_counts();
    let got = p.fetch(&n, w, &opts(Strategy::Seamless)).await.unwrap();
    assert_eq!(got.candles, truth(&sim, &n, w));
    // One request per missing chunk, none for stored ranges.
    assert_eq!(
        sim.requests(KLINES),
        chunks(n.timeframe, 1000, &missing).len() as u64
    );
    assert_eq!(got.metadata.from_store, 2 * 1440);
    assert!(!got.metadata.partial && got.metadata.missing.is_empty());
    assert_eq!(got.metadata.coverage_ratio, 1.0);
    // The served frame is visible in the Prometheus exposition.
    seamless::metrics::install();
    p.fetch(&n, w, &opts(Strategy::FailFast)).await.unwrap();
    let text = seamless::metrics::render();
    let id = r#"node_id="ohlcv:binance:BTC/USDT:1m""#;
    assert!(
        text.contains(&format!("seamless_coverage_ratio{{{id}}} 1")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "seamless_sla_deadline_seconds_count{{{id},phase=\"total\"}}"
        )),
        "{text}"
    );
    sim.shutdown().await;
}

async fn fail_fast_serves_storage_only_and_names_the_missing_ranges(kind: StoreKind) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "s");
    let n = node("ohlcv:binance:ETH/USDT:1m");
    let stored = Window::new(JAN1_2024, JAN1_2024 + 600 * MIN).unwrap();
    p.fetch(&n, stored, &opts(Strategy::AutoBackfill))
        .await
        .unwrap();
    sim.reset_counts();
    let w = Window::new(JAN1_2024, JAN1_2024 + 1000 * MIN).unwrap();
    let err = p
        .fetch(&n, w, &opts(Strategy::FailFast))
        .await
        .err()
        .expect("incomplete must fail");
    match &err {
        ProviderError::Incomplete { missing, .. } => {
            assert_eq!(missing.ranges(), &[(stored.end, w.end)])
        }
        e => panic!("expected Incomplete, got {e}"),
    }
    assert!(err.is_incomplete());
    assert!(err.to_string().contains("`partial_ok`"), "{err}");
    assert_eq!(sim.requests(KLINES), 0, "fail-fast never fetches");
    let got = p
        .fetch(
            &n,
            w,
            &FetchOptions {
                strategy: Strategy::FailFast,
                partial_ok: true,
                ..FetchOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(got.candles, truth(&sim, &n, stored));
    assert!(got.metadata.partial);
    assert_eq!(got.metadata.missing.ranges(), &[(stored.end, w.end)]);
    assert_eq!(got.metadata.missing_bars, 400);
    assert!((got.metadata.coverage_ratio - 0.6).abs() < 1e-9);
    assert_accounted(MIN, w, &got.candles, &got.metadata.missing);
    sim.shutdown().await;
}

async fn partial_fill_serves_now_and_backfills_in_the_background(kind: StoreKind) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "s");
    let n = node("ohlcv:binance:SOL/USDT:1m");
    let w = Window::new(JAN1_2024, JAN1_2024 + 3 * DAY).unwrap();
    let got = p.fetch(&n, w, &opts(Strategy::PartialFill)).await.unwrap();
    assert!(got.metadata.partial);
    assert_eq!(
        got.metadata.downgrade.as_ref().unwrap().mode,
        "partial-fill"
    );
    assert_accounted(MIN, w, &got.candles, &got.metadata.missing);
    let outcome = got
        .background
        .expect("a background backfill")
        .await
        .unwrap();
    assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    // Now storage alone serves it complete.
    let again = p.fetch(&n, w, &opts(Strategy::FailFast)).await.unwrap();
    assert_eq!(again.candles, truth(&sim, &n, w));
    assert!(!again.metadata.partial);
    sim.shutdown().await;
}

/// A slow exchange against a 300 ms backfill budget, in each on-violation mode.
async fn sla_modes_on_a_slow_backfill(kind: StoreKind) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.set_faults(Faults {
        latency_ms: 150,
        ..Faults::default()
    });
    let w = Window::new(JAN1_2024, JAN1_2024 + 10 * DAY).unwrap();
    let n = node("ohlcv:binance:BNB/USDT:1m");
    let sla = |mode| Sla {
        backfill: Some(Duration::from_millis(300)),
        on_violation: mode,
        ..Sla::default()
    };

    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "a").with_concurrency(2);
    // Timed below: load (maybe compile) the adapter first.
    p.exchange(&n).unwrap();
    let t = Instant::now();
    let err = p
        .fetch(
            &n,
            w,
            &FetchOptions {
                sla: sla(OnViolation::FailFast),
                ..FetchOptions::default()
            },
        )
        .await
        .err()
        .expect("the budget is broken");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "fail-fast must not wait for the backfill: {:?}",
        t.elapsed()
    );
    match &err {
        ProviderError::Sla {
            phase: Phase::Backfill,
            budget_ms: 300,
            elapsed_ms,
            ..
        } => assert!(*elapsed_ms >= 300),
        e => panic!("expected an SLA error, got {e}"),
    }
    assert!(
        err.to_string().contains("backfill") && err.to_string().contains("budget 300 ms"),
        "{err}"
    );

    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "b").with_concurrency(2);
    // Pages must arrive inside the 300 ms: load the adapter before the clock runs.
    p.exchange(&n).unwrap();
    let got = p
        .fetch(
            &n,
            w,
            &FetchOptions {
                sla: sla(OnViolation::PartialFill),
                ..FetchOptions::default()
            },
        )
        .await
        .unwrap();
    let d = got.metadata.downgrade.clone().expect("downgraded");
    assert_eq!(
        (d.mode.as_str(), d.phase, d.budget_ms),
        ("partial-fill", Some(Phase::Backfill), Some(300))
    );
    assert!(got.metadata.partial && !got.candles.is_empty() && !got.metadata.missing.is_empty());
    assert_accounted(MIN, w, &got.candles, &got.metadata.missing);
    let all = truth(&sim, &n, w);
    assert!(got.candles.iter().all(|c| {
        all.binary_search_by_key(&c.open_time, |t| t.open_time)
            .map(|i| all[i] == *c)
            .unwrap_or(false)
    }));

    // hold: the pages that did arrive are stored but not served in this frame.
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "c").with_concurrency(2);
    let got = p
        .fetch(
            &n,
            w,
            &FetchOptions {
                sla: sla(OnViolation::Hold),
                ..FetchOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(got.metadata.downgrade.as_ref().unwrap().mode, "hold");
    assert!(got.candles.is_empty(), "hold returns nothing new");
    assert_eq!(got.metadata.missing.ranges(), &[(w.start, w.end)]);
    sim.shutdown().await;
}

async fn max_missing_bars_guard(kind: StoreKind) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "s");
    let n = node("ohlcv:binance:BTC/USDT:1h");
    let w = Window::new(JAN1_2024, JAN1_2024 + 2 * DAY).unwrap();
    let sla = Sla {
        max_missing_bars: Some(10),
        ..Sla::default()
    };
    let o = FetchOptions {
        strategy: Strategy::FailFast,
        partial_ok: true,
        sla,
        ..FetchOptions::default()
    };
    let err = p
        .fetch(&n, w, &o)
        .await
        .err()
        .expect("48 missing bars > 10");
    assert!(
        matches!(
            err,
            ProviderError::Sla {
                phase: Phase::Coverage,
                elapsed_ms: 48,
                budget_ms: 10,
                ..
            }
        ),
        "{err}"
    );
    sim.shutdown().await;
}

/// 429 + Retry-After and 418 bans during a multi-page backfill: completed pages are
/// kept, waits are honoured, the result is complete.
async fn rate_limit_answers_are_honoured(kind: StoreKind) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.set_faults(Faults {
        rate_limit_every_n: Some(4),
        ban_every_n: Some(7),
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "s");
    let n = node("ohlcv:binance:ETH/USDT:1m");
    let w = Window::new(JAN1_2024, JAN1_2024 + 4 * DAY).unwrap();
    let t = Instant::now();
    let got = p.fetch(&n, w, &FetchOptions::default()).await.unwrap();
    assert_eq!(got.candles, truth(&sim, &n, w));
    assert!(
        sim.status_count(429) >= 1 && sim.status_count(418) >= 1,
        "the faults fired"
    );
    // Retry-After: 1 s was honoured at least once.
    assert!(
        t.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t.elapsed()
    );
    sim.shutdown().await;
}

/// An exchange slower than the HTTP timeout: every attempt times out; the error names
/// exactly what is missing, and with --partial-ok the frame says so.
async fn timeouts_leave_an_exact_missing_report(kind: StoreKind) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "s")
        .with_http(HttpClient::new(Duration::from_millis(100)));
    let n = node("ohlcv:binance:BTC/USDT:1m");
    let stored = Window::new(JAN1_2024, JAN1_2024 + 1000 * MIN).unwrap();
    p.fetch(&n, stored, &FetchOptions::default()).await.unwrap();
    sim.set_faults(Faults {
        latency_ms: 400,
        ..Faults::default()
    });
    let w = Window::new(JAN1_2024, JAN1_2024 + 2000 * MIN).unwrap();
    let err = p
        .fetch(&n, w, &FetchOptions::default())
        .await
        .err()
        .expect("times out");
    match &err {
        ProviderError::Incomplete { missing, cause, .. } => {
            assert_eq!(missing.ranges(), &[(stored.end, w.end)]);
            assert!(
                cause.as_deref().unwrap_or_default().contains("no answer"),
                "{cause:?}"
            );
        }
        e => panic!("expected Incomplete, got {e}"),
    }
    let got = p
        .fetch(
            &n,
            w,
            &FetchOptions {
                partial_ok: true,
                ..FetchOptions::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(got.candles, truth(&sim, &n, stored));
    assert_eq!(got.metadata.missing.ranges(), &[(stored.end, w.end)]);
    assert!(got.metadata.partial);
    sim.shutdown().await;
}

/// With the limiter set to the simulator's budget, one process never gets a 429, even
/// for a run that needs many windows of budget.
async fn the_weight_budget_is_never_exceeded(kind: StoreKind) {
    // 40 weight per 1 s window = 20 requests/s at weight 2; 60 pages need ≥ 3 windows.
    let cfg = SimConfig {
        weight_budget_per_minute: 40,
        weight_window_ms: 1000,
        ..SimConfig::default()
    };
    let sim = Simulator::start(cfg).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = provider_in(kind, &sim, dir.path(), "s")
        .with_concurrency(4)
        .with_rate_limit(
            "binance",
            LimitOverride {
                budget: Some(40),
                window_ms: Some(1000),
                ..LimitOverride::default()
            },
        );
    let n = node("ohlcv:binance:BTC/USDT:1m");
    let w = Window::new(JAN1_2024, JAN1_2024 + 60_000 * MIN).unwrap();
    let t = Instant::now();
    let got = p.fetch(&n, w, &FetchOptions::default()).await.unwrap();
    let took = t.elapsed();
    assert_eq!(got.candles.len(), 60_000);
    assert_eq!(
        sim.status_count(429),
        0,
        "a 429 means the budget was exceeded"
    );
    assert_eq!(sim.status_count(418), 0);
    let pages = sim.requests(KLINES);
    assert!(pages >= 60);
    // Unthrottled this takes well under a second; throttled it needs ≥ pages*2/40 - 1 windows.
    assert!(
        took >= Duration::from_millis(((pages * 2 / 40).saturating_sub(1)) * 1000 * 8 / 10),
        "{took:?} for {pages} pages"
    );
    sim.shutdown().await;
}

async fn fingerprint_is_equal_for_equal_data_and_changes_with_one_candle(kind: StoreKind) {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (
        provider_in(kind, &sim, dirs.0.path(), "a"),
        provider_in(kind, &sim, dirs.1.path(), "b"),
    );
    let n = node("ohlcv:binance:BTC/USDT:15m");
    let w = Window::new(JAN1_2024, JAN1_2024 + 7 * DAY).unwrap();
    let fa = a.fetch(&n, w, &FetchOptions::default()).await.unwrap();
    let fb = b.fetch(&n, w, &FetchOptions::default()).await.unwrap();
    assert_eq!(fa.metadata.fingerprint, fb.metadata.fingerprint);
    assert!(fa.metadata.fingerprint.starts_with("sha256:"));
    // Change one stored candle's close in b.
    let mut c = fb.candles[100];
    c.close += 0.01;
    c.high = c.high.max(c.close);
    let slot = Window {
        start: c.open_time,
        end: c.open_time + 15 * MIN,
    };
    b.store().write_page(&n, vec![c], slot).await.unwrap();
    let fb2 = b.fetch(&n, w, &FetchOptions::default()).await.unwrap();
    assert_ne!(fa.metadata.fingerprint, fb2.metadata.fingerprint);
    sim.shutdown().await;
}

#[test]
fn coverage_planning_over_10000_ledger_ranges_is_fast() {
    // Not a benchmark (that is in benches/): a guard that planning stays sub-linear-ish.
    let mut ledger = RangeSet::new();
    for i in 0..10_000i64 {
        ledger.insert(i * 10 * MIN, i * 10 * MIN + 7 * MIN);
    }
    let t = Instant::now();
    let missing = ledger.gaps_in(0, 100_000 * MIN);
    let took = t.elapsed();
    assert_eq!(missing.len(), 10_000);
    assert_eq!(missing.total(), 10_000 * 3 * MIN);
    assert!(took < Duration::from_millis(50), "{took:?}");
}

crate::store_suite!(
    gaps_at_both_ends_and_in_the_middle_are_fetched_exactly,
    fail_fast_serves_storage_only_and_names_the_missing_ranges,
    partial_fill_serves_now_and_backfills_in_the_background,
    sla_modes_on_a_slow_backfill,
    max_missing_bars_guard,
    rate_limit_answers_are_honoured,
    timeouts_leave_an_exact_missing_report,
    the_weight_budget_is_never_exceeded,
    fingerprint_is_equal_for_equal_data_and_changes_with_one_candle
);
