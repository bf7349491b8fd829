//! Unit tests of the Kraken adapter (plain Rust, run natively).

use super::*;
use seamless_adapter_testkit::{ok, time_parse};

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00Z
const M: i64 = 60_000;

fn m(tf: &str) -> Market {
    Market::new("kraken", "BTC/USD", tf)
}

/// A Kraken body of `n` candles opening at `first`, `step` apart, under `key`.
pub fn sample(key: &str, first: i64, step: i64, n: usize) -> Vec<u8> {
    let rows: Vec<String> = (0..n as i64)
        .map(|i| {
            let o = 42_000.0 + (i % 97) as f64 * 0.1;
            format!(
                r#"[{},"{o:.1}","{:.1}","{:.1}","{:.1}","{:.1}","{:.8}",{}]"#,
                (first + i * step) / 1000,
                o + 12.5,
                o - 10.5,
                o + 1.5,
                o + 0.7,
                1.5 + (i % 17) as f64 * 0.125,
                10 + i % 50
            )
        })
        .collect();
    let last = (first + (n as i64 - 2).max(0) * step) / 1000;
    format!(
        r#"{{"error":[],"result":{{"{key}":[{}],"last":{last}}}}}"#,
        rows.join(",")
    )
    .into_bytes()
}

#[test]
fn info_is_complete() {
    let i = info();
    assert_eq!(i.id, "kraken");
    assert_eq!(i.base_urls, ["https://api.kraken.com"]);
    assert_eq!(i.timeframes.join(" "), "1m 5m 15m 30m 1h 4h 1d");
    assert_eq!(i.max_candles_per_request, 720);
    assert_eq!(
        (i.rate_limit.budget_per_minute, i.rate_limit.request_weight),
        (60, 1)
    );
}

#[test]
fn plans_one_request_from_the_window_start() {
    let w = Window {
        start: T0,
        end: T0 + 100 * M,
    };
    let r = plan(&m("1m"), w, 720).unwrap();
    assert_eq!(
        r.url,
        "https://api.kraken.com/0/public/OHLC?pair=XBTUSD&interval=1&since=1704067140"
    );
    let r = plan(&m("1d"), w, 720).unwrap();
    assert!(
        r.url
            .ends_with("pair=XBTUSD&interval=1440&since=1703980800")
    );
    assert_eq!(pair("ETH/USDT").unwrap(), "ETHUSDT");
    assert_eq!(pair("doge/usd").unwrap(), "XDGUSD");
    assert_eq!(pair("XXBTZUSD").unwrap(), "XXBTZUSD");
    for bad in ["", "BTC/", "BTC/USD:USD", "A B", "BTC/USD/X"] {
        assert!(matches!(pair(bad), Err(E::UnknownSymbol(_))), "{bad}");
    }
    match plan(&m("1w"), w, 10) {
        Err(E::UnsupportedTimeframe(l)) => assert_eq!(l.len(), 7),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        plan(&m("1m"), Window { start: 1, end: 1 }, 1),
        Err(E::Malformed(_))
    ));
}

#[test]
fn one_page_proves_the_window() {
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let req = plan(&m("1m"), w, 720).unwrap();
    // Kraken returns from one interval before the window up to now (incl. the forming one).
    let p = parse(&m("1m"), w, &req, &ok(sample("XXBTZUSD", T0 - M, M, 30))).unwrap();
    assert_eq!(p.covered, w);
    assert_eq!(p.candles.len(), 10);
    assert_eq!(p.candles[0].open_time, T0);
    assert_eq!(p.candles[0].volume, 1.625);
    assert!(p.next.is_none());
    // Listing inside the window: fewer than 720 rows, the early part is proven empty.
    let p = parse(&m("1m"), w, &req, &ok(sample("XBTUSD", T0 + 5 * M, M, 3))).unwrap();
    assert_eq!(p.covered, w);
    assert_eq!(p.candles.len(), 3);
    let p = parse(
        &m("1m"),
        w,
        &req,
        &ok(r#"{"error":[],"result":{"XXBTZUSD":[],"last":0}}"#),
    )
    .unwrap();
    assert!(p.candles.is_empty());
    assert_eq!(p.covered, w);
}

#[test]
fn older_than_720_candles_is_unavailable() {
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let req = plan(&m("1m"), w, 720).unwrap();
    let newest = T0 + 5 * M;
    let body = sample("XXBTZUSD", newest, M, 720);
    assert_eq!(
        parse(&m("1m"), w, &req, &ok(body)).unwrap_err(),
        E::UnavailableBefore(newest)
    );
    // Exactly reaching back to the window start is fine.
    let body = sample("XXBTZUSD", T0, M, 720);
    assert_eq!(
        parse(&m("1m"), w, &req, &ok(body)).unwrap().candles.len(),
        10
    );
}

#[test]
fn errors() {
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let req = plan(&m("1m"), w, 720).unwrap();
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
        e(200, &[], r#"{"error":["EQuery:Unknown asset pair"]}"#),
        E::UnknownSymbol("EQuery:Unknown asset pair".into())
    );
    assert_eq!(
        e(200, &[], r#"{"error":["EGeneral:Too many requests"]}"#),
        E::RateLimited(5000)
    );
    assert_eq!(
        e(
            429,
            &[("Retry-After", "2")],
            r#"{"error":["EAPI:Rate limit exceeded"]}"#
        ),
        E::RateLimited(2000)
    );
    assert_eq!(
        e(
            200,
            &[],
            r#"{"error":["EGeneral:Invalid arguments","EService:Busy"]}"#
        ),
        E::Exchange {
            code: 200,
            message: "EGeneral:Invalid arguments; EService:Busy".into()
        }
    );
    assert_eq!(
        e(503, &[], "<html>down</html>"),
        E::Exchange {
            code: 503,
            message: "<html>down</html>".into()
        }
    );
    for bad in [
        "",
        "[]",
        "{}",
        r#"{"error":[],"result":{"last":5}}"#,
        r#"{"error":[],"result":{"X":[[1704067200,"1"]]}}"#,
    ] {
        assert!(matches!(e(200, &[], bad), E::Malformed(_)), "{bad}");
    }
    let body = sample("XXBTZUSD", T0, M, 5);
    assert!(matches!(
        e(200, &[], &String::from_utf8_lossy(&body[..body.len() / 2])),
        E::Malformed(_)
    ));
    let off =
        r#"{"error":[],"result":{"XXBTZUSD":[[1704067201,"1","2","0.5","1","1","1",1]],"last":1}}"#;
    assert!(matches!(e(200, &[], off), E::Malformed(_)));
}

#[test]
fn live_polls_the_newest_candles() {
    let PollPlan {
        request,
        interval_ms,
    } = live_poll(&m("1h")).unwrap();
    assert_eq!(
        request.url,
        "https://api.kraken.com/0/public/OHLC?pair=XBTUSD&interval=60"
    );
    assert_eq!(interval_ms, 10_000);
}

/// `cargo test -p kraken-adapter --release -- --ignored --nocapture parse_speed`
#[test]
#[ignore = "timing; run in release"]
fn parse_speed() {
    let w = Window {
        start: T0,
        end: T0 + 1000 * M,
    };
    let req = plan(&m("1m"), w, 720).unwrap();
    let resp = ok(sample("XXBTZUSD", T0, M, 1000));
    time_parse("kraken", &resp, 2000, |resp| {
        // 1000 rows (more than Kraken's 720) to compare with the other adapters.
        let p = parse(&m("1m"), w, &req, resp);
        assert!(matches!(p, Ok(ref p) if p.candles.len() == 1000));
    });
}
