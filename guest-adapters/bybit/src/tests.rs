use super::*;
use seamless_adapter_kit::Candle;
use seamless_adapter_testkit::{ok, opens, resp, time_parse};

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00Z, a Monday
const M: i64 = 60_000;

fn m(symbol: &str, tf: &str) -> Market {
    Market::new("bybit", symbol, tf)
}

/// A success body with rows opening at `opens`, given newest first like Bybit.
fn body(opens: &[i64]) -> String {
    let rows: Vec<String> = opens
        .iter()
        .rev()
        .map(|t| {
            format!(r#"["{t}","42000.10","42025.50","41987.25","42004.75","1.5","63007.125"]"#)
        })
        .collect();
    format!(
        r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"spot","symbol":"BTCUSDT","list":[{}]}},"retExtInfo":{{}},"time":1735689600000}}"#,
        rows.join(",")
    )
}

#[test]
fn info_is_complete() {
    let i = info();
    assert_eq!(
        (i.id.as_str(), i.base_urls.as_slice()),
        (
            "bybit",
            &[
                "https://api.bybit.com".to_owned(),
                "wss://stream.bybit.com".to_owned()
            ][..]
        )
    );
    assert_eq!(
        i.timeframes.join(" "),
        "1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w 1M"
    );
    assert_eq!(i.max_candles_per_request, 1000);
    assert_eq!(
        (i.rate_limit.budget_per_minute, i.rate_limit.request_weight),
        (1000, 1)
    );
    assert_eq!(i.rate_limit.used_weight_header, None);
}

#[test]
fn plans_categories_and_clamps() {
    let w = Window {
        start: T0,
        end: T0 + 1440 * M,
    };
    let r = plan(&m("BTC/USDT", "1m"), w, 1000).unwrap();
    assert_eq!(
        r.url,
        "https://api.bybit.com/v5/market/kline?category=spot&symbol=BTCUSDT&interval=1\
         &start=1704067200000&end=1704153599999&limit=1000"
    );
    let lin = plan(&m("BTC/USDT:USDT", "1d"), w, 5000).unwrap();
    assert!(
        lin.url
            .contains("category=linear&symbol=BTCUSDT&interval=D")
            && lin.url.ends_with("limit=1000")
    );
    let inv = plan(&m("btc/usd:btc", "1M"), w, 0).unwrap();
    assert!(
        inv.url
            .contains("category=inverse&symbol=BTCUSD&interval=M")
            && inv.url.ends_with("limit=1")
    );
    for bad in ["", "BTCUSDT", "BTC/USDT:ETH", "BTC/US DT", "../x/y"] {
        assert!(
            matches!(plan(&m(bad, "1m"), w, 10), Err(E::UnknownSymbol(_))),
            "{bad}"
        );
    }
    match plan(&m("BTC/USDT", "8h"), w, 10) {
        Err(E::UnsupportedTimeframe(l)) => assert_eq!(l.len(), 13),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        plan(&m("BTC/USDT", "1m"), Window { start: T0, end: T0 }, 10),
        Err(E::Malformed(_))
    ));
}

#[test]
fn pages_backwards_from_the_window_end() {
    let mk = m("BTC/USDT", "1m");
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let req = plan(&mk, w, 4).unwrap();
    // Full page: the newest four; the next request keeps `start`, ends below the oldest row.
    let p = parse(
        &mk,
        w,
        &req,
        &ok(body(&[T0 + 6 * M, T0 + 7 * M, T0 + 8 * M, T0 + 9 * M])),
    )
    .unwrap();
    assert_eq!(opens(&p), [T0 + 6 * M, T0 + 7 * M, T0 + 8 * M, T0 + 9 * M]);
    assert_eq!(
        p.covered,
        Window {
            start: T0 + 6 * M,
            end: w.end
        }
    );
    let next = p.next.unwrap();
    assert_eq!(query_param(&next.url, "end"), Some("1704067559999"));
    assert_eq!(query_param(&next.url, "start"), Some("1704067200000"));
    // Short page (downtime before the listing): proven down to the window start.
    let p = parse(&mk, w, &next, &ok(body(&[T0 + 4 * M, T0 + 5 * M]))).unwrap();
    assert_eq!(
        p.covered,
        Window {
            start: T0,
            end: T0 + 6 * M
        }
    );
    assert!(p.next.is_none());
    // Empty page: the whole range is known empty.
    let p = parse(&mk, w, &req, &ok(body(&[]))).unwrap();
    assert_eq!((p.candles.len(), p.covered, p.next), (0, w, None));
}

#[test]
fn volumes_and_grid() {
    let w = Window {
        start: T0,
        end: T0 + 2 * M,
    };
    let inv = m("BTC/USD:BTC", "1m");
    let p = parse(&inv, w, &plan(&inv, w, 10).unwrap(), &ok(body(&[T0]))).unwrap();
    assert_eq!(
        p.candles[0].volume, 63007.125,
        "inverse: turnover is the base volume"
    );
    let spot = m("BTC/USDT", "1m");
    let req = plan(&spot, w, 10).unwrap();
    let p = parse(&spot, w, &req, &ok(body(&[T0]))).unwrap();
    assert_eq!(
        p.candles[0],
        Candle {
            open_time: T0,
            open: 42000.10,
            high: 42025.50,
            low: 41987.25,
            close: 42004.75,
            volume: 1.5
        }
    );
    assert!(
        matches!(parse(&spot, w, &req, &ok(body(&[T0 + 1]))), Err(E::Malformed(d)) if d.contains("grid"))
    );
    for bad in [
        "",
        "[]",
        "{}",
        r#"{"retCode":0,"result":{}}"#,
        r#"{"retCode":0,"result":{"list":[["1"]]}}"#,
    ] {
        assert!(
            matches!(parse(&spot, w, &req, &ok(bad)), Err(E::Malformed(_))),
            "{bad}"
        );
    }
}

#[test]
fn errors() {
    let e = |r: Response| error(&r);
    let limited = r#"{"retCode":10006,"retMsg":"Too many visits!","result":{},"retExtInfo":{},"time":1672738134000}"#;
    assert_eq!(
        e(resp(
            200,
            &[("X-Bapi-Limit-Reset-Timestamp", "1672738134824")],
            limited
        )),
        E::RateLimited(824)
    );
    assert_eq!(e(resp(200, &[], limited)), E::RateLimited(1_000));
    assert_eq!(
        e(resp(403, &[], "access too frequent")),
        E::RateLimited(600_000)
    );
    assert_eq!(
        e(resp(429, &[("Retry-After", "3")], "")),
        E::RateLimited(3_000)
    );
    let sym = r#"{"retCode":10001,"retMsg":"Not supported symbols","result":{},"time":1}"#;
    assert_eq!(
        e(resp(200, &[], sym)),
        E::UnknownSymbol("Not supported symbols".into())
    );
    let per = r#"{"retCode":10001,"retMsg":"Invalid period!","result":{},"time":1}"#;
    assert!(matches!(e(resp(200, &[], per)), E::UnsupportedTimeframe(l) if l.len() == 13));
    let other = r#"{"retCode":10016,"retMsg":"Server error.","result":{}}"#;
    assert_eq!(
        e(resp(500, &[], other)),
        E::Exchange {
            code: 10016,
            message: "Server error.".into()
        }
    );
    assert_eq!(
        e(resp(502, &[], "<html>bad</html>")),
        E::Exchange {
            code: 502,
            message: "<html>bad</html>".into()
        }
    );
    // An error body with HTTP 200 goes through parse too.
    let w = Window {
        start: T0,
        end: T0 + M,
    };
    let mk = m("BTC/USDT", "1m");
    let req = plan(&mk, w, 1).unwrap();
    assert_eq!(
        parse(&mk, w, &req, &resp(200, &[], sym)).unwrap_err(),
        E::UnknownSymbol("Not supported symbols".into())
    );
}

#[test]
fn live_polls_the_newest_candles() {
    let PollPlan {
        request,
        interval_ms,
    } = live_poll(&m("ETH/USDT", "1h")).unwrap();
    assert_eq!(
        request.url,
        "https://api.bybit.com/v5/market/kline?category=spot&symbol=ETHUSDT&interval=60&limit=2"
    );
    assert_eq!(interval_ms, 10_000);
    assert!(live_poll(&m("ETH/USDT", "8h")).is_err());
}

/// `cargo test -p bybit-adapter --release -- --ignored --nocapture parse_speed`
#[test]
#[ignore = "timing; run in release"]
fn parse_speed() {
    let mk = m("BTC/USDT", "1m");
    let w = Window {
        start: T0,
        end: T0 + 1000 * M,
    };
    let req = plan(&mk, w, 1000).unwrap();
    let r = ok(body(&(0..1000).map(|i| T0 + i * M).collect::<Vec<_>>()));
    time_parse("bybit", &r, 2000, |r| {
        std::hint::black_box(parse(&mk, w, &req, r).unwrap());
    });
}
