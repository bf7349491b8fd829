use super::*;
use seamless_adapter_kit::Candle;
use seamless_adapter_testkit::{param, resp, time_parse};

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00Z
const M: i64 = 60_000;

fn m(symbol: &str, tf: &str) -> Market {
    Market::new("kucoin", symbol, tf)
}

/// A success body with rows opening at `opens` (ms), newest first like KuCoin.
fn body(opens: &[i64]) -> String {
    let rows: Vec<String> = opens
        .iter()
        .rev()
        .map(|t| {
            format!(
                r#"["{}","42000.1","42004.75","42025.5","41987.25","1.5","63007.125"]"#,
                t / 1000
            )
        })
        .collect();
    format!(r#"{{"code":"200000","data":[{}]}}"#, rows.join(","))
}

#[test]
fn info_and_plan() {
    let i = info();
    assert_eq!((i.id.as_str(), i.max_candles_per_request), ("kucoin", 1500));
    assert_eq!(
        i.timeframes.join(" "),
        "1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d"
    );
    assert_eq!(
        (i.rate_limit.budget_per_minute, i.rate_limit.request_weight),
        (2000, 3)
    );
    let w = Window {
        start: T0,
        end: T0 + 1440 * M,
    };
    let r = plan(&m("BTC/USDT", "1m"), w, 1000).unwrap();
    assert_eq!(
        r.url,
        "https://api.kucoin.com/api/v1/market/candles?symbol=BTC-USDT&type=1min&startAt=1704093600&endAt=1704153599"
    );
    // The limit is clamped to 1500 and the range to the window.
    let r = plan(&m("ETH/USDT", "1h"), w, 9000).unwrap();
    assert_eq!(
        (param(&r, "startAt"), param(&r, "endAt")),
        (Some(T0 / 1000), Some(1704153599))
    );
    assert!(matches!(
        plan(&m("BTC/USDT:USDT", "1m"), w, 10),
        Err(E::UnknownSymbol(_))
    ));
    assert!(
        matches!(plan(&m("BTC/USDT", "1w"), w, 10), Err(E::UnsupportedTimeframe(l)) if l.len() == 12)
    );
    assert!(matches!(
        plan(&m("BTC/USDT", "1M"), w, 10),
        Err(E::UnsupportedTimeframe(_))
    ));
}

#[test]
fn ranges_page_backwards_and_prove_themselves() {
    let mk = m("BTC/USDT", "1m");
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let req = plan(&mk, w, 4).unwrap();
    assert_eq!(
        (param(&req, "startAt"), param(&req, "endAt")),
        (Some((T0 + 6 * M) / 1000), Some((T0 + 10 * M) / 1000 - 1))
    );
    // A downtime row missing inside the range: still proven (recorded as empty).
    let p = parse(
        &mk,
        w,
        &req,
        &resp(200, &[], &body(&[T0 + 6 * M, T0 + 8 * M, T0 + 9 * M])),
    )
    .unwrap();
    assert_eq!(
        p.candles.iter().map(|c| c.open_time).collect::<Vec<_>>(),
        [T0 + 6 * M, T0 + 8 * M, T0 + 9 * M]
    );
    assert_eq!(
        p.candles[0],
        Candle {
            open_time: T0 + 6 * M,
            open: 42000.1,
            high: 42025.5,
            low: 41987.25,
            close: 42004.75,
            volume: 1.5
        }
    );
    assert_eq!(
        p.covered,
        Window {
            start: T0 + 6 * M,
            end: w.end
        }
    );
    let next = p.next.unwrap();
    assert_eq!(
        (param(&next, "startAt"), param(&next, "endAt")),
        (Some((T0 + 2 * M) / 1000), Some((T0 + 6 * M) / 1000 - 1))
    );
    let p = parse(&mk, w, &next, &resp(200, &[], &body(&[]))).unwrap();
    assert_eq!(
        p.covered,
        Window {
            start: T0 + 2 * M,
            end: T0 + 6 * M
        }
    );
    let last = p.next.unwrap();
    assert_eq!(param(&last, "startAt"), Some(T0 / 1000));
    let p = parse(&mk, w, &last, &resp(200, &[], &body(&[T0 + M]))).unwrap();
    assert_eq!(
        (p.covered, p.next),
        (
            Window {
                start: T0,
                end: T0 + 2 * M
            },
            None
        )
    );
    // Off-grid rows are refused; rows outside the window are dropped.
    assert!(matches!(
        parse(&mk, w, &req, &resp(200, &[], &body(&[T0 + 6 * M + 1000]))),
        Err(E::Malformed(_))
    ));
    let p = parse(
        &mk,
        w,
        &req,
        &resp(200, &[], &body(&[T0 + 10 * M, T0 + 11 * M])),
    )
    .unwrap();
    assert!(p.candles.is_empty());
}

#[test]
fn errors() {
    let e = |s, h: &[(&str, &str)], b| error(&resp(s, h, b));
    let limited = r#"{"code":"429000","msg":"Too Many Requests"}"#;
    assert_eq!(
        e(429, &[("gw-ratelimit-reset", "1250")], limited),
        E::RateLimited(1_250)
    );
    assert_eq!(e(429, &[], limited), E::RateLimited(1_000));
    assert_eq!(
        e(200, &[("Retry-After", "2")], limited),
        E::RateLimited(2_000)
    );
    let pair = r#"{"code":"400100","msg":"This pair is not provided at present"}"#;
    assert_eq!(
        e(400, &[], pair),
        E::UnknownSymbol("This pair is not provided at present".into())
    );
    assert!(matches!(
        e(200, &[], r#"{"code":"400100","msg":"Unsupported type"}"#),
        E::UnsupportedTimeframe(_)
    ));
    assert_eq!(
        e(200, &[], r#"{"code":"400001","msg":"x"}"#),
        E::Exchange {
            code: 400001,
            message: "x".into()
        }
    );
    assert_eq!(
        e(502, &[], "bad gateway"),
        E::Exchange {
            code: 502,
            message: "bad gateway".into()
        }
    );
    let mk = m("BTC/USDT", "1m");
    let w = Window {
        start: T0,
        end: T0 + M,
    };
    let req = plan(&mk, w, 1).unwrap();
    assert!(matches!(
        parse(&mk, w, &req, &resp(200, &[], pair)),
        Err(E::UnknownSymbol(_))
    ));
    for bad in [
        "",
        "[]",
        "{}",
        r#"{"code":"200000"}"#,
        r#"{"code":"200000","data":[["1"]]}"#,
    ] {
        assert!(
            matches!(
                parse(&mk, w, &req, &resp(200, &[], bad)),
                Err(E::Malformed(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn live_polls_without_a_range() {
    let PollPlan {
        request,
        interval_ms,
    } = live_poll(&m("BTC/USDT", "5m")).unwrap();
    assert_eq!(
        request.url,
        "https://api.kucoin.com/api/v1/market/candles?symbol=BTC-USDT&type=5min"
    );
    assert_eq!(interval_ms, 10_000);
    // A poll proves only what its rows span.
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let p = parse(
        &m("BTC/USDT", "5m"),
        w,
        &request,
        &resp(200, &[], &body(&[T0 + 5 * M])),
    )
    .unwrap();
    assert_eq!(
        p.covered,
        Window {
            start: T0 + 5 * M,
            end: w.end
        }
    );
}

/// `cargo test -p kucoin-adapter --release -- --ignored --nocapture parse_speed`
#[test]
#[ignore = "timing; run in release"]
fn parse_speed() {
    let mk = m("BTC/USDT", "1m");
    let w = Window {
        start: T0,
        end: T0 + 1000 * M,
    };
    let req = plan(&mk, w, 1000).unwrap();
    let r = resp(
        200,
        &[],
        &body(&(0..1000).map(|i| T0 + i * M).collect::<Vec<_>>()),
    );
    time_parse("kucoin", &r, 2000, |r| {
        std::hint::black_box(parse(&mk, w, &req, r).unwrap());
    });
}
