//! Unit tests of the Coinbase adapter (plain Rust, run natively).

use super::*;
use seamless_adapter_kit::Candle;
use seamless_adapter_testkit::{ok, opens, url_num as p};

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00Z
const M: i64 = 60_000;

fn m(tf: &str) -> Market {
    Market::new("coinbase", "BTC/USD", tf)
}

/// A body of `n` candles opening at `first`, `step` apart, newest first (like Coinbase).
pub fn sample(first: i64, step: i64, n: usize) -> Vec<u8> {
    let rows: Vec<String> = (0..n as i64)
        .rev()
        .map(|i| {
            let o = 42_000.0 + (i % 97) as f64 * 0.25;
            format!(
                r#"{{"start":"{}","low":"{:.2}","high":"{:.2}","open":"{o:.2}","close":"{:.2}","volume":"{:.8}"}}"#,
                (first + i * step) / 1000,
                o - 10.5,
                o + 12.25,
                o + 1.5,
                1.5 + (i % 17) as f64 * 0.125
            )
        })
        .collect();
    format!(r#"{{"candles":[{}]}}"#, rows.join(",")).into_bytes()
}

#[test]
fn info_is_complete() {
    let i = info();
    assert_eq!(i.id, "coinbase");
    assert_eq!(i.base_urls, ["https://api.coinbase.com"]);
    assert_eq!(i.timeframes.join(" "), "1m 5m 15m 30m 1h 2h 4h 6h 1d");
    assert_eq!(i.max_candles_per_request, 350);
    assert_eq!(
        (i.rate_limit.budget_per_minute, i.rate_limit.request_weight),
        (600, 1)
    );
    assert_eq!(i.rate_limit.used_weight_header, None);
}

#[test]
fn plans_the_newest_range_of_the_window() {
    let w = Window {
        start: T0,
        end: T0 + 1000 * M,
    };
    let r = plan(&m("1m"), w, 350).unwrap();
    assert_eq!(
        r.url,
        format!(
            "https://api.coinbase.com/api/v3/brokerage/market/products/BTC-USD/candles?start={}&end={}&granularity=ONE_MINUTE&limit=350",
            (w.end - 350 * M) / 1000,
            w.end / 1000 - 1
        )
    );
    // A small window is one range; the limit is clamped.
    let small = Window {
        start: T0,
        end: T0 + 5 * M,
    };
    let r = plan(&m("1m"), small, 5000).unwrap();
    assert_eq!(
        (p(&r.url, "start"), p(&r.url, "end")),
        (Some(T0 / 1000), Some(T0 / 1000 + 299))
    );
    assert_eq!(p(&r.url, "limit"), Some(350));
    assert_eq!(
        p(&plan(&m("1m"), small, 0).unwrap().url, "start"),
        Some(T0 / 1000 + 240)
    );
    // The bucket count never exceeds 350: (end - start) / granularity < 350.
    let r = plan(&m("1d"), Window { start: 0, end: T0 }, 350).unwrap();
    let (s, e) = (p(&r.url, "start").unwrap(), p(&r.url, "end").unwrap());
    assert!((e - s) / 86_400 < 350);
    assert!(r.url.contains("granularity=ONE_DAY"));
}

#[test]
fn rejects_bad_input() {
    let w = Window {
        start: T0,
        end: T0 + M,
    };
    match plan(&m("3m"), w, 10) {
        Err(E::UnsupportedTimeframe(l)) => assert_eq!(l.len(), 9),
        other => panic!("{other:?}"),
    }
    for bad in ["", "BTC", "BTC/USD:USD", "B TC/USD", "BTC-"] {
        assert!(
            matches!(
                plan(&Market::new("coinbase", bad, "1m"), w, 10),
                Err(E::UnknownSymbol(_))
            ),
            "{bad}"
        );
    }
    assert_eq!(product_id("eth-usd").unwrap(), "ETH-USD");
    assert!(matches!(
        plan(&m("1m"), Window { start: 5, end: 5 }, 10),
        Err(E::Malformed(_))
    ));
}

#[test]
fn pages_backwards_without_holes_or_overlaps() {
    let w = Window {
        start: T0,
        end: T0 + 800 * M,
    };
    let mk = m("1m");
    let mut req = plan(&mk, w, 350).unwrap();
    let mut got: Vec<i64> = Vec::new();
    let mut covered = Vec::new();
    for _ in 0..10 {
        let (s, e) = (
            p(&req.url, "start").unwrap() * 1000,
            (p(&req.url, "end").unwrap() + 1) * 1000,
        );
        let page = parse(&mk, w, &req, &ok(sample(s, M, ((e - s) / M) as usize))).unwrap();
        assert_eq!(page.covered, Window { start: s, end: e });
        got.splice(0..0, opens(&page));
        covered.push(page.covered);
        match page.next {
            Some(n) => req = n,
            None => break,
        }
    }
    assert_eq!(got, (0..800).map(|i| T0 + i * M).collect::<Vec<_>>());
    assert_eq!(covered.len(), 3);
    assert_eq!(
        covered[2],
        Window {
            start: T0,
            end: T0 + 100 * M
        }
    );
}

#[test]
fn gaps_and_foreign_rows() {
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let mk = m("1m");
    let req = plan(&mk, w, 350).unwrap();
    // Empty: the whole range is proven empty.
    let page = parse(&mk, w, &req, &ok(r#"{"candles":[]}"#)).unwrap();
    assert!(page.candles.is_empty() && page.next.is_none());
    assert_eq!(page.covered, w);
    // Rows outside the request range are dropped; repeats are dropped; order fixed.
    let mut body = String::from_utf8(sample(T0 - 2 * M, M, 14)).unwrap();
    body = body.replacen(
        "[",
        &format!(
            r#"[{{"start":"{}","low":"1","high":"2","open":"1","close":"1","volume":"1"}},"#,
            (T0 + 3 * M) / 1000
        ),
        1,
    );
    let page = parse(&mk, w, &req, &ok(body)).unwrap();
    assert_eq!(
        opens(&page),
        (0..10).map(|i| T0 + i * M).collect::<Vec<_>>()
    );
    // Off-grid rows are malformed.
    let bad = r#"{"candles":[{"start":"1704067201","low":"1","high":"2","open":"1","close":"1","volume":"1"}]}"#;
    assert!(matches!(
        parse(&mk, w, &req, &ok(bad)),
        Err(E::Malformed(_))
    ));
}

#[test]
fn malformed_bodies() {
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let mk = m("1m");
    let req = plan(&mk, w, 350).unwrap();
    let body = sample(T0, M, 5);
    for bad in [
        &b""[..],
        b"[]",
        b"{}",
        b"<html>",
        &body[..body.len() / 2],
        br#"{"candles":[{"start":"1704067200"}]}"#,
    ] {
        assert!(
            matches!(parse(&mk, w, &req, &ok(bad)), Err(E::Malformed(_))),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
}

#[test]
fn error_mapping() {
    let r = |status: u16, h: &[(&str, &str)], body: &str| Response {
        status,
        headers: h
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        body: body.as_bytes().to_vec(),
    };
    let bad = r#"{"error":"INVALID_ARGUMENT","error_details":"start and end argument is invalid - number of candles requested should be less than 350","message":"start and end argument is invalid - number of candles requested should be less than 350"}"#;
    assert_eq!(
        error(&r(400, &[], bad)),
        E::Exchange {
            code: 3,
            message: "INVALID_ARGUMENT: start and end argument is invalid - number of candles requested should be less than 350".into()
        }
    );
    let nf = r#"{"error":"NOT_FOUND","error_details":"Product NOPE-USD not supported","message":"Product NOPE-USD not supported"}"#;
    assert_eq!(
        error(&r(404, &[], nf)),
        E::UnknownSymbol("Product NOPE-USD not supported".into())
    );
    assert_eq!(
        error(&r(429, &[("Retry-After", "3")], "")),
        E::RateLimited(3000)
    );
    assert_eq!(error(&r(429, &[], "<html>")), E::RateLimited(1000));
    let gran = r#"{"error":"INVALID_ARGUMENT","message":"Unsupported granularity"}"#;
    assert!(matches!(
        error(&r(400, &[], gran)),
        E::UnsupportedTimeframe(_)
    ));
    assert_eq!(
        error(&r(502, &[], "Bad Gateway")),
        E::Exchange {
            code: 502,
            message: "Bad Gateway".into()
        }
    );
    let other = r#"{"error":"INTERNAL","message":"oops"}"#;
    assert_eq!(
        error(&r(500, &[], other)),
        E::Exchange {
            code: 13,
            message: "INTERNAL: oops".into()
        }
    );
}

#[test]
fn live_polls_the_newest_buckets() {
    let PollPlan {
        request,
        interval_ms,
    } = live_poll(&m("5m")).unwrap();
    assert_eq!(interval_ms, 10_000);
    assert!(
        request
            .url
            .ends_with("/products/BTC-USD/candles?granularity=FIVE_MINUTE&limit=2")
    );
    assert!(live_poll(&m("1w")).is_err());
}

/// `cargo test -p coinbase-adapter --release -- --ignored --nocapture parse_speed`
#[test]
#[ignore = "timing; run in release"]
fn parse_speed() {
    let mk = m("1m");
    let w = Window {
        start: T0,
        end: T0 + 1000 * M,
    };
    let req = Request::get(format!(
        "https://api.coinbase.com/api/v3/brokerage/market/products/BTC-USD/candles?start={}&end={}&granularity=ONE_MINUTE&limit=1000",
        T0 / 1000,
        (T0 + 1000 * M) / 1000 - 1
    ));
    let resp = ok(sample(T0, M, 1000));
    let runs = 2000u32;
    let mut n = 0;
    let t = std::time::Instant::now();
    for _ in 0..runs {
        let page: Vec<Candle> = parse(&mk, w, &req, std::hint::black_box(&resp))
            .unwrap()
            .candles;
        n += page.len();
    }
    assert_eq!(n, 1000 * runs as usize);
    println!(
        "coinbase parse: 1000 rows, {} bytes: {:?} per page",
        resp.body.len(),
        t.elapsed() / runs
    );
}
