//! info, planning, paging edge cases, live polling and the parse timing of the adapter.

use binanceusdm_adapter::{info, live_poll, parse, plan, request_weight, symbol_id};
use seamless_adapter_kit::{AdapterError, Market, PollPlan, Window, query_param};
use seamless_adapter_testkit::{ok, time_parse};

const T0: i64 = 1_704_067_200_000;
const M: i64 = 60_000;

fn m(symbol: &str, tf: &str) -> Market {
    Market::new("binanceusdm", symbol, tf)
}

fn body(first: i64, step: i64, n: usize) -> Vec<u8> {
    let rows: Vec<String> = (0..n as i64)
        .map(|i| {
            let t = first + i * step;
            let p = 42_000.0 + (i % 97) as f64 * 0.1;
            format!(
                r#"[{t},"{p:.1}","{:.1}","{:.1}","{:.1}","{:.3}",{},"123.45",10,"0.5","20.1","0"]"#,
                p + 5.0,
                p - 5.0,
                p + 1.0,
                1.0 + (i % 7) as f64,
                t + step - 1
            )
        })
        .collect();
    format!("[{}]", rows.join(",")).into_bytes()
}

#[test]
fn info_symbols_and_weights() {
    let i = info();
    assert_eq!(
        (i.id.as_str(), i.max_candles_per_request),
        ("binanceusdm", 1500)
    );
    assert_eq!(i.base_urls, ["https://fapi.binance.com"]);
    assert_eq!(
        i.timeframes.join(" "),
        "1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M"
    );
    assert_eq!(
        (i.rate_limit.budget_per_minute, i.rate_limit.request_weight),
        (2400, 10)
    );
    assert_eq!(
        i.rate_limit.used_weight_header.as_deref(),
        Some("x-mbx-used-weight-1m")
    );
    assert_eq!(
        [
            request_weight(1),
            request_weight(100),
            request_weight(1000),
            request_weight(1001)
        ],
        [1, 2, 5, 10]
    );
    assert_eq!(symbol_id("BTC/USDT:USDT").unwrap(), "BTCUSDT");
    assert_eq!(symbol_id("eth/usdc:usdc").unwrap(), "ETHUSDC");
    assert_eq!(symbol_id("BTCUSDT").unwrap(), "BTCUSDT");
    for bad in ["BTC/USDT", "BTC/USD:BTC", "", "BTC&x", "BTC/USDT:"] {
        assert!(
            matches!(symbol_id(bad), Err(AdapterError::UnknownSymbol(_))),
            "{bad}"
        );
    }
    let w = Window {
        start: T0,
        end: T0 + M,
    };
    match plan(&m("BTC/USDT:USDT", "1s"), w, 10) {
        Err(AdapterError::UnsupportedTimeframe(l)) => assert_eq!(l.len(), 15),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        plan(&m("BTC/USDT:USDT", "1m"), Window { start: T0, end: T0 }, 10),
        Err(AdapterError::Malformed(_))
    ));
}

#[test]
fn plans_and_pages_forwards() {
    let w = Window {
        start: T0,
        end: T0 + 3000 * M,
    };
    let r = plan(&m("BTC/USDT:USDT", "1m"), w, 5000).unwrap();
    assert_eq!(
        r.url,
        format!(
            "https://fapi.binance.com/fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime={T0}&endTime={}&limit=1500",
            w.end - 1
        )
    );
    let p = parse(&m("BTC/USDT:USDT", "1m"), w, &r, &ok(body(T0, M, 1500))).unwrap();
    assert_eq!(
        (p.candles.len(), p.covered),
        (
            1500,
            Window {
                start: T0,
                end: T0 + 1500 * M
            }
        )
    );
    let next = p.next.unwrap();
    assert_eq!(
        query_param(&next.url, "startTime"),
        Some((T0 + 1500 * M).to_string().as_str())
    );
    let p = parse(
        &m("BTC/USDT:USDT", "1m"),
        w,
        &next,
        &ok(body(T0 + 1500 * M, M, 1400)),
    )
    .unwrap();
    assert_eq!((p.covered.end, p.next), (w.end, None));
    // A page that does not advance ends paging.
    let p = parse(
        &m("BTC/USDT:USDT", "1m"),
        w,
        &r,
        &ok(body(T0 - 1500 * M, M, 1500)),
    )
    .unwrap();
    assert!(p.candles.is_empty() && p.next.is_none());
}

#[test]
fn live_polls_the_newest_rows() {
    let mk = m("ETH/USDT:USDT", "1h");
    let PollPlan {
        request,
        interval_ms,
    } = live_poll(&mk).unwrap();
    assert_eq!(interval_ms, 10_000);
    assert_eq!(
        request.url,
        "https://fapi.binance.com/fapi/v1/klines?symbol=ETHUSDT&interval=1h&limit=10"
    );
    let w = Window {
        start: T0,
        end: T0 + 100 * 3_600_000,
    };
    let p = parse(
        &mk,
        w,
        &request,
        &ok(body(T0 + 90 * 3_600_000, 3_600_000, 10)),
    )
    .unwrap();
    assert_eq!(
        (p.candles.len(), p.covered.start, p.next),
        (10, T0 + 90 * 3_600_000, None)
    );
}

/// `cargo test -p binanceusdm-adapter --release --test adapter -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release"]
fn parse_speed() {
    let (mk, w) = (
        m("BTC/USDT:USDT", "1m"),
        Window {
            start: T0,
            end: T0 + 2000 * M,
        },
    );
    let (r, b) = (plan(&mk, w, 1000).unwrap(), ok(body(T0, M, 1000)));
    time_parse("binanceusdm", &b, 2000, |b| {
        std::hint::black_box(parse(&mk, w, &r, b).unwrap());
    });
}

#[test]
fn off_grid_and_out_of_range_open_times_are_malformed() {
    // Found by tests/all/fuzz.rs: off-grid opens (1704067260080 on the 1m grid) passed
    // through `parse` and only the host's contract check refused them.
    let w = Window {
        start: T0,
        end: T0 + 60 * M,
    };
    let r = plan(&m("BTC/USDT:USDT", "1m"), w, 1500).unwrap();
    for (first, want) in [
        (1_704_067_260_080, "not on the 1m grid"),
        (T0 + 1, "not on the 1m grid"),
        (i64::MIN, "outside years 1 to 9999"),
    ] {
        match parse(&m("BTC/USDT:USDT", "1m"), w, &r, &ok(body(first, M, 3))) {
            Err(AdapterError::Malformed(d)) => assert!(d.contains(want), "{first}: {d}"),
            other => panic!("{first}: {other:?}"),
        }
    }
    // Polled pages (no startTime) are checked too.
    let PollPlan { request, .. } = live_poll(&m("BTC/USDT:USDT", "1h")).unwrap();
    assert!(matches!(
        parse(
            &m("BTC/USDT:USDT", "1h"),
            w,
            &request,
            &ok(body(T0 + M, M, 2))
        ),
        Err(AdapterError::Malformed(_))
    ));
}
