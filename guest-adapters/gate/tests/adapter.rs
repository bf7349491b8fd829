//! info, time slices, the 10,000-point history limit, live polling and the parse timing.

use gate_adapter::{info, live_poll, parse, plan};
use seamless_adapter_kit::{AdapterError, Market, PollPlan, Response, Window, query_param};
use seamless_adapter_testkit::{ok, time_parse};

const T0: i64 = 1_704_067_200_000;
const M: i64 = 60_000;

fn m(symbol: &str, tf: &str) -> Market {
    Market::new("gate", symbol, tf)
}

fn body(first: i64, step: i64, n: usize) -> Vec<u8> {
    let rows: Vec<String> = (0..n as i64)
        .map(|i| {
            let p = 42_000.0 + (i % 97) as f64 * 0.1;
            let t = (first + i * step) / 1000;
            format!(
                r#"["{t}","63007.1250","{:.2}","{:.2}","{:.2}","{p:.2}","1.5000","true"]"#,
                p + 1.0,
                p + 5.0,
                p - 5.0
            )
        })
        .collect();
    format!("[{}]", rows.join(",")).into_bytes()
}

#[test]
fn info_and_symbols() {
    let i = info();
    assert_eq!((i.id.as_str(), i.max_candles_per_request), ("gate", 1000));
    assert_eq!(i.base_urls, ["https://api.gateio.ws"]);
    assert_eq!(i.timeframes.join(" "), "1m 5m 15m 30m 1h 4h 8h 1d 1M");
    assert_eq!(
        (i.rate_limit.budget_per_minute, i.rate_limit.request_weight),
        (1200, 1)
    );
    let w = Window {
        start: T0,
        end: T0 + M,
    };
    for (sym, id) in [
        ("BTC/USDT", "BTC_USDT"),
        ("eth/usdt", "ETH_USDT"),
        ("SOL_USDT", "SOL_USDT"),
    ] {
        assert_eq!(
            query_param(&plan(&m(sym, "1m"), w, 10).unwrap().url, "currency_pair"),
            Some(id)
        );
    }
    for bad in ["BTCUSDT", "BTC/USDT:USDT", "", "BTC_US DT"] {
        assert!(
            matches!(
                plan(&m(bad, "1m"), w, 10),
                Err(AdapterError::UnknownSymbol(_))
            ),
            "{bad}"
        );
    }
    assert!(
        matches!(plan(&m("BTC/USDT", "1w"), w, 10), Err(AdapterError::UnsupportedTimeframe(l)) if l.len() == 9)
    );
}

#[test]
fn slices_of_at_most_limit_points() {
    let w = Window {
        start: T0,
        end: T0 + 2500 * M,
    };
    let r = plan(&m("BTC/USDT", "1m"), w, 5000).unwrap();
    let s = T0 / 1000;
    assert_eq!(
        r.url,
        format!(
            "https://api.gateio.ws/api/v4/spot/candlesticks?currency_pair=BTC_USDT&interval=1m&from={s}&to={}",
            s + 60_000 - 1
        )
    );
    // A slice with a gap at its end still proves the whole slice.
    let p = parse(&m("BTC/USDT", "1m"), w, &r, &ok(body(T0, M, 900))).unwrap();
    assert_eq!(
        (p.candles.len(), p.covered),
        (
            900,
            Window {
                start: T0,
                end: T0 + 1000 * M
            }
        )
    );
    let next = p.next.unwrap();
    assert_eq!(
        (query_param(&next.url, "from"), query_param(&next.url, "to")),
        (Some("1704127200"), Some("1704187199"))
    );
    let last = parse(
        &m("BTC/USDT", "1m"),
        w,
        &next,
        &ok(body(T0 + 1000 * M, M, 1000)),
    )
    .unwrap()
    .next
    .unwrap();
    assert_eq!(
        query_param(&last.url, "to"),
        Some(((w.end - 1) / 1000).to_string().as_str())
    );
    let p = parse(
        &m("BTC/USDT", "1m"),
        w,
        &last,
        &ok(body(T0 + 2000 * M, M, 500)),
    )
    .unwrap();
    assert_eq!((p.covered.end, p.next), (w.end, None));
    // Months slice by calendar months.
    let w = Window {
        start: T0,
        end: T0 + 400 * 86_400_000,
    };
    let r = plan(&m("BTC/USDT", "1M"), w, 2).unwrap();
    assert_eq!(query_param(&r.url, "to"), Some("1709251199")); // 2024-03-01 − 1 s
}

#[test]
fn history_beyond_10000_points_is_unavailable() {
    let w = Window {
        start: T0 - 20_000 * M,
        end: T0 - 19_000 * M,
    };
    let r = plan(&m("BTC/USDT", "1m"), w, 1000).unwrap();
    let refusal = |date: Option<&str>| {
        Response {
        status: 400,
        headers: date.map(|d| vec![("Date".to_owned(), d.to_owned())]).unwrap_or_default(),
        body: br#"{"label":"INVALID_PARAM_VALUE","message":"Candlestick too long ago. Maximum 10000 points ago are allowed"}"#.to_vec(),
    }
    };
    let e = parse(
        &m("BTC/USDT", "1m"),
        w,
        &r,
        &refusal(Some("Mon, 01 Jan 2024 00:00:30 GMT")),
    )
    .unwrap_err();
    assert_eq!(
        e,
        AdapterError::UnavailableBefore(T0 - 10_000 * M + M),
        "the first open at or after now − 10000 min"
    );
    let e = parse(
        &m("BTC/USDT", "1h"),
        w,
        &r,
        &refusal(Some("Mon, 01 Jan 2024 00:00:00 GMT")),
    )
    .unwrap_err();
    assert_eq!(e, AdapterError::UnavailableBefore(T0 - 10_000 * 3_600_000));
    assert!(matches!(
        parse(&m("BTC/USDT", "1m"), w, &r, &refusal(None)),
        Err(AdapterError::Exchange { code: 400, .. })
    ));
}

#[test]
fn live_polls_the_newest_rows() {
    let mk = m("BTC/USDT", "1d");
    let PollPlan {
        request,
        interval_ms,
    } = live_poll(&mk).unwrap();
    assert_eq!(
        request.url,
        "https://api.gateio.ws/api/v4/spot/candlesticks?currency_pair=BTC_USDT&interval=1d&limit=10"
    );
    assert_eq!(interval_ms, 10_000);
    let w = Window {
        start: T0,
        end: T0 + 100 * 86_400_000,
    };
    let p = parse(
        &mk,
        w,
        &request,
        &ok(body(T0 + 90 * 86_400_000, 86_400_000, 10)),
    )
    .unwrap();
    assert_eq!(
        (p.candles.len(), p.covered.start, p.next),
        (10, T0 + 90 * 86_400_000, None)
    );
}

/// `cargo test -p gate-adapter --release --test adapter -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release"]
fn parse_speed() {
    let (mk, w) = (
        m("BTC/USDT", "1m"),
        Window {
            start: T0,
            end: T0 + 2000 * M,
        },
    );
    let (r, b) = (plan(&mk, w, 1000).unwrap(), ok(body(T0, M, 1000)));
    time_parse("gate", &b, 2000, |b| {
        std::hint::black_box(parse(&mk, w, &r, b).unwrap());
    });
}

#[test]
fn off_grid_and_out_of_range_open_times_are_malformed() {
    // The adapter refuses what the host's contract check would (found by tests/all/fuzz.rs
    // in other adapters).
    let w = Window {
        start: T0,
        end: T0 + 60 * M,
    };
    let r = plan(&m("BTC/USDT", "1m"), w, 1000).unwrap();
    // Gate sends seconds: one second past the minute is off the 1m grid.
    for (first, want) in [
        (T0 + 1000, "not on the 1m grid"),
        (-62_135_596_860_000, "outside years 1 to 9999"),
    ] {
        match parse(&m("BTC/USDT", "1m"), w, &r, &ok(body(first, M, 3))) {
            Err(AdapterError::Malformed(d)) => assert!(d.contains(want), "{first}: {d}"),
            other => panic!("{first}: {other:?}"),
        }
    }
}
