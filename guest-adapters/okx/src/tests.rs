use super::*;
use seamless_adapter_testkit::{opens, resp, time_parse};

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00Z, a Monday
const M: i64 = 60_000;

fn m(symbol: &str, tf: &str) -> Market {
    Market::new("okx", symbol, tf)
}

/// A success body with rows opening at `opens` (newest first like OKX); `forming` marks the
/// newest row unconfirmed.
fn body(opens: &[i64], forming: bool) -> String {
    let rows: Vec<String> = opens
        .iter()
        .rev()
        .enumerate()
        .map(|(i, t)| {
            let confirm = if forming && i == 0 { "0" } else { "1" };
            format!(r#"["{t}","42000.1","42025.5","41987.25","42004.75","150","1.5","63007.125","{confirm}"]"#)
        })
        .collect();
    format!(r#"{{"code":"0","msg":"","data":[{}]}}"#, rows.join(","))
}

fn param(r: &Request, k: &str) -> Option<String> {
    query_param(&r.url, k).map(str::to_owned)
}

#[test]
fn info_and_plan() {
    let i = info();
    assert_eq!((i.id.as_str(), i.max_candles_per_request), ("okx", 100));
    assert_eq!(
        i.timeframes.join(" "),
        "1m 3m 5m 15m 30m 1h 2h 4h 6h 12h 1d 1w 1M"
    );
    assert_eq!(
        i.base_urls,
        ["https://www.okx.com", "wss://ws.okx.com:8443"]
    );
    let w = Window {
        start: T0,
        end: T0 + 1440 * M,
    };
    let r = plan(&m("BTC/USDT", "1m"), w, 1000).unwrap();
    assert_eq!(
        r.url,
        "https://www.okx.com/api/v5/market/history-candles?instId=BTC-USDT&bar=1m\
         &after=1704153600000&before=1704067199999&limit=100"
    );
    let swap = plan(&m("BTC/USDT:USDT", "1d"), w, 7).unwrap();
    assert!(swap.url.contains("instId=BTC-USDT-SWAP&bar=1Dutc") && swap.url.ends_with("limit=7"));
    assert!(
        plan(&m("BTC/USD:BTC", "1w"), w, 7)
            .unwrap()
            .url
            .contains("instId=BTC-USD-SWAP&bar=1Wutc")
    );
    for bad in ["", "BTC-USDT", "BTC/USDT:ETH"] {
        assert!(
            matches!(plan(&m(bad, "1m"), w, 10), Err(E::UnknownSymbol(_))),
            "{bad}"
        );
    }
    assert!(
        matches!(plan(&m("BTC/USDT", "8h"), w, 10), Err(E::UnsupportedTimeframe(l)) if l.len() == 13)
    );
}

#[test]
fn history_pages_backwards() {
    let mk = m("BTC/USDT", "1m");
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let req = plan(&mk, w, 3).unwrap();
    let p = parse(
        &mk,
        w,
        &req,
        &resp(
            200,
            &[],
            &body(&[T0 + 7 * M, T0 + 8 * M, T0 + 9 * M], false),
        ),
    )
    .unwrap();
    assert_eq!(opens(&p), [T0 + 7 * M, T0 + 8 * M, T0 + 9 * M]);
    assert_eq!(
        p.covered,
        Window {
            start: T0 + 7 * M,
            end: w.end
        }
    );
    let next = p.next.unwrap();
    assert_eq!(param(&next, "after").as_deref(), Some("1704067620000"));
    assert_eq!(param(&next, "before").as_deref(), Some("1704067199999"));
    assert!(next.url.contains(HISTORY));
    let p = parse(&mk, w, &next, &resp(200, &[], &body(&[T0 + 5 * M], false))).unwrap();
    assert_eq!(
        (p.covered, p.next),
        (
            Window {
                start: T0,
                end: T0 + 7 * M
            },
            None
        )
    );
    // Swap volume is volCcy (base), not vol (contracts).
    let sw = m("BTC/USDT:USDT", "1m");
    let p = parse(
        &sw,
        w,
        &plan(&sw, w, 3).unwrap(),
        &resp(200, &[], &body(&[T0], false)),
    )
    .unwrap();
    assert_eq!(p.candles[0].volume, 1.5);
    let p = parse(&mk, w, &req, &resp(200, &[], &body(&[T0], false))).unwrap();
    assert_eq!(p.candles[0].volume, 150.0);
}

#[test]
fn the_forming_candle_is_dropped_and_still_counts_for_the_page() {
    let mk = m("BTC/USDT", "1m");
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let req = plan(&mk, w, 3).unwrap();
    // Three rows, the newest forming: a full page proving [T0+7, T0+9).
    let p = parse(
        &mk,
        w,
        &req,
        &resp(200, &[], &body(&[T0 + 7 * M, T0 + 8 * M, T0 + 9 * M], true)),
    )
    .unwrap();
    assert_eq!(opens(&p), [T0 + 7 * M, T0 + 8 * M]);
    assert_eq!(
        p.covered,
        Window {
            start: T0 + 7 * M,
            end: T0 + 9 * M
        }
    );
    assert_eq!(
        param(p.next.as_ref().unwrap(), "after").as_deref(),
        Some("1704067620000")
    );
    // A one-row page holding only the forming candle proves nothing; the next ends below it.
    let one = plan(&mk, w, 1).unwrap();
    let p = parse(&mk, w, &one, &resp(200, &[], &body(&[T0 + 9 * M], true))).unwrap();
    assert!(p.candles.is_empty() && p.covered.start == p.covered.end);
    assert_eq!(
        param(p.next.as_ref().unwrap(), "after").as_deref(),
        Some("1704067740000")
    );
    // Short page with a forming candle: proven down to the window start, up to the forming one.
    let p = parse(
        &mk,
        w,
        &req,
        &resp(200, &[], &body(&[T0 + 8 * M, T0 + 9 * M], true)),
    )
    .unwrap();
    assert_eq!(
        (p.covered, p.next),
        (
            Window {
                start: T0,
                end: T0 + 9 * M
            },
            None
        )
    );
}

#[test]
fn recent_candles_prove_only_inside_their_horizon() {
    let mk = m("BTC/USDT", "1m");
    // Date: 2024-01-02T00:00:30Z → horizon = 2024-01-02T00:00 − 1439 min = T0 + 1 min.
    let date = [("Date", "Tue, 02 Jan 2024 00:00:30 GMT")];
    let horizon = T0 + M;
    let w = Window {
        start: T0 - 10 * M,
        end: T0 + 10 * M,
    };
    let req = Request::get(format!(
        "{REST_BASE}{CANDLES}?instId=BTC-USDT&bar=1m&after={}&before={}&limit=300",
        w.end,
        w.start - 1
    ));
    let rows: Vec<i64> = (1..10).map(|i| T0 + i * M).collect();
    let p = parse(&mk, w, &req, &resp(200, &date, &body(&rows, false))).unwrap();
    assert_eq!(
        p.covered,
        Window {
            start: horizon,
            end: w.end
        },
        "proven down to the horizon only"
    );
    let next = p.next.unwrap();
    assert!(
        next.url.contains(HISTORY),
        "older candles come from history-candles"
    );
    assert_eq!(
        (
            param(&next, "after").as_deref(),
            param(&next, "limit").as_deref()
        ),
        (Some("1704067260000"), Some("100"))
    );
    // No Date header: only the rows prove anything.
    let p = parse(&mk, w, &req, &resp(200, &[], &body(&rows[3..], false))).unwrap();
    assert_eq!(
        p.covered,
        Window {
            start: T0 + 4 * M,
            end: w.end
        }
    );
    // Empty and entirely older than the horizon: nothing proven, history continues.
    let old = Window {
        start: T0 - 100 * M,
        end: T0 - 50 * M,
    };
    let req = Request::get(format!(
        "{REST_BASE}{CANDLES}?instId=BTC-USDT&bar=1m&after={}&limit=300",
        old.end
    ));
    let p = parse(&mk, old, &req, &resp(200, &date, &body(&[], false))).unwrap();
    assert_eq!(p.covered.start, p.covered.end);
    assert!(p.next.unwrap().url.contains(HISTORY));
    // Full recent page whose next range is still inside the horizon: stays on /candles.
    let w = Window {
        start: T0 + 2 * M,
        end: T0 + 10 * M,
    };
    let req = Request::get(format!(
        "{REST_BASE}{CANDLES}?instId=BTC-USDT&bar=1m&after={}&limit=3",
        w.end
    ));
    let p = parse(&mk, w, &req, &resp(200, &date, &body(&rows[6..], false))).unwrap();
    assert!(p.next.unwrap().url.contains(CANDLES));
}

#[test]
fn errors() {
    let e = |s, h: &[(&str, &str)], b| error(&resp(s, h, b));
    assert_eq!(
        e(429, &[], r#"{"msg":"Too Many Requests","code":"50011"}"#),
        E::RateLimited(2_000)
    );
    assert_eq!(e(429, &[("Retry-After", "1")], ""), E::RateLimited(1_000));
    let unknown = r#"{"code":"51001","msg":"Instrument ID doesn't exist.","data":[]}"#;
    assert_eq!(
        e(200, &[], unknown),
        E::UnknownSymbol("Instrument ID doesn't exist.".into())
    );
    assert!(matches!(
        e(
            200,
            &[],
            r#"{"code":"51000","msg":"Parameter bar error","data":[]}"#
        ),
        E::UnsupportedTimeframe(_)
    ));
    assert_eq!(
        e(
            200,
            &[],
            r#"{"code":"51000","msg":"Parameter after error","data":[]}"#
        ),
        E::Exchange {
            code: 51000,
            message: "Parameter after error".into()
        }
    );
    assert_eq!(
        e(503, &[], "<html/>"),
        E::Exchange {
            code: 503,
            message: "<html/>".into()
        }
    );
    let mk = m("BTC/USDT", "1m");
    let w = Window {
        start: T0,
        end: T0 + M,
    };
    let req = plan(&mk, w, 1).unwrap();
    assert_eq!(
        parse(&mk, w, &req, &resp(200, &[], unknown)).unwrap_err(),
        E::UnknownSymbol("Instrument ID doesn't exist.".into())
    );
    for bad in [
        "",
        "{}",
        "[]",
        r#"{"code":"0"}"#,
        r#"{"code":"0","data":[["1","2"]]}"#,
    ] {
        assert!(
            matches!(
                parse(&mk, w, &req, &resp(200, &[], bad)),
                Err(E::Malformed(_))
            ),
            "{bad}"
        );
    }
    assert!(matches!(
        parse(&mk, w, &req, &resp(200, &[], &body(&[T0 + 7], false))),
        Err(E::Malformed(_))
    ));
}

#[test]
fn live_polls_recent_candles() {
    let PollPlan {
        request,
        interval_ms,
    } = live_poll(&m("BTC/USDT", "1m")).unwrap();
    assert_eq!(
        request.url,
        "https://www.okx.com/api/v5/market/candles?instId=BTC-USDT&bar=1m&limit=2"
    );
    assert_eq!(interval_ms, 10_000);
}

/// `cargo test -p okx-adapter --release -- --ignored --nocapture parse_speed`
#[test]
#[ignore = "timing; run in release"]
fn parse_speed() {
    let mk = m("BTC/USDT", "1m");
    let w = Window {
        start: T0,
        end: T0 + 1000 * M,
    };
    let req = Request::get(format!(
        "{REST_BASE}{HISTORY}?instId=BTC-USDT&bar=1m&after={}&limit=1000",
        w.end
    ));
    let r = resp(
        200,
        &[],
        &body(&(0..1000).map(|i| T0 + i * M).collect::<Vec<_>>(), false),
    );
    time_parse("okx", &r, 2000, |r| {
        std::hint::black_box(parse(&mk, w, &req, r).unwrap());
    });
}
