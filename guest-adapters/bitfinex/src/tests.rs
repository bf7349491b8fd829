//! Unit tests of the Bitfinex adapter (plain Rust, run natively).

use super::*;
use seamless_adapter_testkit::{ok, time_parse, url_num as p};

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00Z, a Monday
const M: i64 = 60_000;

fn m(tf: &str) -> Market {
    Market::new("bitfinex", "BTC/USD", tf)
}

/// A body of `n` rows `[MTS, OPEN, CLOSE, HIGH, LOW, VOLUME]` from `first`, ascending.
pub fn sample(first: i64, step: i64, n: usize) -> Vec<u8> {
    let rows: Vec<String> = (0..n as i64)
        .map(|i| {
            let o = 42_000.0 + (i % 97) as f64 * 0.1;
            format!(
                "[{},{o:.1},{:.1},{:.1},{:.1},{:.8}]",
                first + i * step,
                o + 1.5,
                o + 12.5,
                o - 10.5,
                0.5 + (i % 17) as f64 * 0.125
            )
        })
        .collect();
    format!("[{}]", rows.join(",")).into_bytes()
}

#[test]
fn info_is_complete() {
    let i = info();
    assert_eq!(i.id, "bitfinex");
    assert_eq!(i.base_urls, ["https://api-pub.bitfinex.com"]);
    assert_eq!(i.timeframes.join(" "), "1m 5m 15m 30m 1h 6h 12h 1d 1w 1M");
    assert_eq!(i.max_candles_per_request, 10_000);
    assert_eq!(
        (i.rate_limit.budget_per_minute, i.rate_limit.request_weight),
        (30, 1)
    );
}

#[test]
fn plans_ascending_pages() {
    let w = Window {
        start: T0,
        end: T0 + 86_400_000,
    };
    let r = plan(&m("1m"), w, 10_000).unwrap();
    assert_eq!(
        r.url,
        "https://api-pub.bitfinex.com/v2/candles/trade:1m:tBTCUSD/hist?start=1704067200000&end=1704153599999&limit=10000&sort=1"
    );
    assert_eq!(
        p(&plan(&m("1d"), w, 99_999).unwrap().url, "limit"),
        Some(10_000)
    );
    assert!(
        plan(&m("1d"), w, 5)
            .unwrap()
            .url
            .contains("trade:1D:tBTCUSD")
    );
    assert!(
        plan(&m("1w"), w, 5)
            .unwrap()
            .url
            .contains("trade:1W:tBTCUSD")
    );
    assert_eq!(symbol_id("BTC/USDT").unwrap(), "tBTCUST");
    assert_eq!(symbol_id("eth/usdc").unwrap(), "tETHUDC");
    assert_eq!(symbol_id("DOGE/USD").unwrap(), "tDOGE:USD");
    for bad in ["", "BTCUSD", "BTC/USD:USD", "B C/USD"] {
        assert!(matches!(symbol_id(bad), Err(E::UnknownSymbol(_))), "{bad}");
    }
    match plan(&m("4h"), w, 5) {
        Err(E::UnsupportedTimeframe(l)) => assert_eq!(l.len(), 10),
        other => panic!("{other:?}"),
    }
}

#[test]
fn walks_full_pages_forward() {
    let w = Window {
        start: T0,
        end: T0 + 25 * M,
    };
    let mk = m("1m");
    let mut req = plan(&mk, w, 10).unwrap();
    let mut got = Vec::new();
    for _ in 0..5 {
        let s = p(&req.url, "start").unwrap();
        let n = ((w.end - s) / M).min(10) as usize;
        let page = parse(&mk, w, &req, &ok(sample(s, M, n))).unwrap();
        assert_eq!(page.covered.start, s);
        got.extend(page.candles.iter().map(|c| c.open_time));
        match page.next {
            Some(n) => req = n,
            None => {
                assert_eq!(page.covered.end, w.end);
                break;
            }
        }
    }
    assert_eq!(got, (0..25).map(|i| T0 + i * M).collect::<Vec<_>>());
}

#[test]
fn reads_close_before_high_and_any_order() {
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let req = plan(&m("1m"), w, 100).unwrap();
    let body = "[[1704067260000,2,2.5,3,1,0.25],[1704067200000,1,1.5,2,0.5,0.125]]";
    let pg = parse(&m("1m"), w, &req, &ok(body)).unwrap();
    let c = pg.candles[0];
    assert_eq!(
        (c.open_time, c.open, c.high, c.low, c.close, c.volume),
        (T0, 1.0, 2.0, 0.5, 1.5, 0.125)
    );
    assert_eq!(pg.candles[1].open_time, T0 + M);
    assert_eq!(pg.covered, w);
    // A poll page (newest first, no sort=1) proves only what it holds.
    let PollPlan {
        request: poll,
        interval_ms,
    } = live_poll(&m("1m")).unwrap();
    assert_eq!(interval_ms, 10_000);
    assert_eq!(
        poll.url,
        "https://api-pub.bitfinex.com/v2/candles/trade:1m:tBTCUSD/hist?limit=2"
    );
    let pg = parse(
        &m("1m"),
        w,
        &poll,
        &ok("[[1704067740000,1,1,1,1,1],[1704067680000,1,1,1,1,1]]"),
    )
    .unwrap();
    assert_eq!(
        pg.covered,
        Window {
            start: T0 + 8 * M,
            end: w.end
        }
    );
    assert!(pg.next.is_none());
}

#[test]
fn errors() {
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let req = plan(&m("1m"), w, 100).unwrap();
    let e = |status: u16, h: &[(&str, &str)], body: &str| {
        let r = Response {
            status,
            headers: h
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
        };
        parse(&m("1m"), w, &req, &r).unwrap_err()
    };
    assert_eq!(
        e(500, &[], r#"["error",10020,"symbol: invalid"]"#),
        E::UnknownSymbol("symbol: invalid".into())
    );
    assert!(matches!(
        e(500, &[], r#"["error",10020,"time_interval: invalid"]"#),
        E::UnsupportedTimeframe(_)
    ));
    assert_eq!(
        e(500, &[], r#"["error",10020,"limit: invalid"]"#),
        E::Exchange {
            code: 10020,
            message: "limit: invalid".into()
        }
    );
    assert_eq!(
        e(200, &[], r#"["error",10020,"limit: invalid"]"#),
        E::Exchange {
            code: 10020,
            message: "limit: invalid".into()
        }
    );
    assert_eq!(
        e(429, &[], r#"["error",11010,"ERR_RATE_LIMIT"]"#),
        E::RateLimited(60_000)
    );
    assert_eq!(
        e(
            429,
            &[("Retry-After", "1")],
            r#"{"error":"ERR_RATE_LIMIT"}"#
        ),
        E::RateLimited(1000)
    );
    assert_eq!(
        e(502, &[], "<html>"),
        E::Exchange {
            code: 502,
            message: "<html>".into()
        }
    );
    let body = sample(T0, M, 5);
    for bad in [
        &b""[..],
        b"{}",
        b"[1]",
        b"[[1,2,3]]",
        &body[..body.len() / 2],
        b"[[1704067200001,1,1,1,1,1]]",
    ] {
        assert!(
            matches!(parse(&m("1m"), w, &req, &ok(bad)), Err(E::Malformed(_))),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

/// `cargo test -p bitfinex-adapter --release -- --ignored --nocapture parse_speed`
#[test]
#[ignore = "timing; run in release"]
fn parse_speed() {
    let w = Window {
        start: T0,
        end: T0 + 1000 * M,
    };
    let req = plan(&m("1m"), w, 1000).unwrap();
    let resp = ok(sample(T0, M, 1000));
    time_parse("bitfinex", &resp, 2000, |resp| {
        let p = parse(&m("1m"), w, &req, resp);
        assert!(matches!(p, Ok(ref p) if p.candles.len() == 1000));
    });
}
