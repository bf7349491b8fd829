use super::*;
use seamless_adapter_kit::Candle;
use seamless_adapter_testkit::{param, resp, time_parse};

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00Z
const M: i64 = 60_000;

fn m(symbol: &str, tf: &str) -> Market {
    Market::new("htx", symbol, tf)
}

/// A success body with rows opening at `opens` (ms), newest first like HTX.
fn body(opens: &[i64]) -> String {
    let rows: Vec<String> = opens
        .iter()
        .rev()
        .map(|t| {
            format!(
                r#"{{"id":{},"open":42000.1,"close":42004.75,"low":41987.25,"high":42025.5,"amount":1.5,"vol":63007.125,"count":100}}"#,
                t / 1000
            )
        })
        .collect();
    format!(
        r#"{{"ch":"market.btcusdt.kline.1min","status":"ok","ts":1735689600000,"data":[{}]}}"#,
        rows.join(",")
    )
}

#[test]
fn info_and_plan() {
    let i = info();
    assert_eq!((i.id.as_str(), i.max_candles_per_request), ("htx", 1000));
    assert_eq!(i.timeframes.join(" "), "1m 5m 15m 30m 1h 4h");
    assert_eq!(i.base_urls, ["https://api.huobi.pro"]);
    let w = Window {
        start: T0,
        end: T0 + 1440 * M,
    };
    let r = plan(&m("BTC/USDT", "1m"), w, 5000).unwrap();
    assert_eq!(
        r.url,
        "https://api.huobi.pro/market/history/candles?symbol=btcusdt&period=1min&from=1704093600&to=1704153599&size=1000"
    );
    let r = plan(&m("ETH/USDT", "4h"), w, 10).unwrap();
    assert_eq!(
        (param(&r, "from"), param(&r, "size")),
        (Some(T0 / 1000), Some(10))
    );
    assert!(matches!(
        plan(&m("BTC/USDT:USDT", "1m"), w, 10),
        Err(E::UnknownSymbol(_))
    ));
    for tf in ["1d", "1w", "1M", "3m"] {
        assert!(
            matches!(plan(&m("BTC/USDT", tf), w, 10), Err(E::UnsupportedTimeframe(l)) if l.len() == 6),
            "{tf}"
        );
    }
}

#[test]
fn ranges_page_backwards() {
    let mk = m("BTC/USDT", "1m");
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let req = plan(&mk, w, 4).unwrap();
    let p = parse(
        &mk,
        w,
        &req,
        &resp(200, &[], &body(&[T0 + 6 * M, T0 + 9 * M])),
    )
    .unwrap();
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
        (
            param(&next, "from"),
            param(&next, "to"),
            param(&next, "size")
        ),
        (
            Some((T0 + 2 * M) / 1000),
            Some((T0 + 6 * M) / 1000 - 1),
            Some(4)
        )
    );
    let p = parse(&mk, w, &next, &resp(200, &[], &body(&[]))).unwrap();
    let last = p.next.unwrap();
    assert_eq!(
        (param(&last, "from"), param(&last, "size")),
        (Some(T0 / 1000), Some(4))
    );
    let p = parse(&mk, w, &last, &resp(200, &[], &body(&[T0, T0 + M]))).unwrap();
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
}

#[test]
fn an_ignored_window_is_unavailable_history_not_short_data() {
    let mk = m("BTC/USDT", "1m");
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let req = plan(&mk, w, 3).unwrap(); // [T0+7, T0+10)
    // The newest three candles of the market, far newer than the range: the range cannot be served.
    let newest = [T0 + 100 * M, T0 + 101 * M, T0 + 102 * M];
    assert_eq!(
        parse(&mk, w, &req, &resp(200, &[], &body(&newest))).unwrap_err(),
        E::UnavailableBefore(T0 + 100 * M)
    );
    // The newest candles still reach back over the range (clipped by the window start): served.
    let reach: Vec<i64> = (3..12).map(|i| T0 + i * M).collect();
    let short = Window {
        start: T0 + 3 * M,
        end: T0 + 10 * M,
    };
    let req9 = plan(&mk, short, 9).unwrap(); // [T0+3, T0+10), size 9
    let p = parse(&mk, short, &req9, &resp(200, &[], &body(&reach))).unwrap();
    assert_eq!(p.candles.len(), 7);
    assert_eq!((p.covered, p.next), (short, None));
    // Fewer rows than asked for: that is the whole history, the range is proven.
    let p = parse(&mk, w, &req, &resp(200, &[], &body(&[T0 + 50 * M]))).unwrap();
    assert_eq!(
        p.covered,
        Window {
            start: T0 + 7 * M,
            end: w.end
        }
    );
}

#[test]
fn errors() {
    fn e(s: u16, h: &[(&str, &str)], b: &str) -> E {
        error(&resp(s, h, b))
    }
    let err = |code: &str, msg: &str| {
        format!(r#"{{"status":"error","err-code":"{code}","err-msg":"{msg}","data":null}}"#)
    };
    assert_eq!(
        e(200, &[], &err("invalid-parameter", "invalid symbol")),
        E::UnknownSymbol("invalid symbol".into())
    );
    assert!(matches!(
        e(200, &[], &err("invalid-parameter", "invalid period")),
        E::UnsupportedTimeframe(_)
    ));
    assert_eq!(
        e(
            200,
            &[],
            &err("invalid-parameter", "invalid size,valid range: [1, 2000]")
        ),
        E::Exchange {
            code: 200,
            message: "invalid-parameter: invalid size,valid range: [1, 2000]".into()
        }
    );
    assert_eq!(e(429, &[("Retry-After", "2")], ""), E::RateLimited(2_000));
    assert_eq!(
        e(200, &[], &err("api-request-limit", "too many requests")),
        E::RateLimited(1_000)
    );
    assert_eq!(
        e(503, &[], "down"),
        E::Exchange {
            code: 503,
            message: "down".into()
        }
    );
    let mk = m("BTC/USDT", "1m");
    let w = Window {
        start: T0,
        end: T0 + M,
    };
    let req = plan(&mk, w, 1).unwrap();
    assert!(matches!(
        parse(
            &mk,
            w,
            &req,
            &resp(200, &[], &err("invalid-parameter", "invalid symbol"))
        ),
        Err(E::UnknownSymbol(_))
    ));
    for bad in [
        "",
        "[]",
        "{}",
        r#"{"status":"ok"}"#,
        r#"{"status":"ok","data":[{"id":1}]}"#,
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
fn live_polls_the_documented_endpoint() {
    let PollPlan {
        request,
        interval_ms,
    } = live_poll(&m("BTC/USDT", "1m")).unwrap();
    assert_eq!(
        request.url,
        "https://api.huobi.pro/market/history/kline?symbol=btcusdt&period=1min&size=2"
    );
    assert_eq!(interval_ms, 10_000);
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let p = parse(
        &m("BTC/USDT", "1m"),
        w,
        &request,
        &resp(200, &[], &body(&[T0 + 8 * M, T0 + 9 * M])),
    )
    .unwrap();
    assert_eq!((p.candles.len(), p.covered.start), (2, T0 + 8 * M));
}

/// `cargo test -p htx-adapter --release -- --ignored --nocapture parse_speed`
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
    time_parse("htx", &r, 2000, |r| {
        std::hint::black_box(parse(&mk, w, &req, r).unwrap());
    });
}
