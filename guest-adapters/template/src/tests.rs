//! Native unit tests: `cargo test -p adapter-template`.

use super::*;
use seamless_adapter_kit::AdapterError;
use seamless_adapter_testkit::ok;

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00Z
const M: i64 = 60_000;

fn m(tf: &str) -> Market {
    Market::new("example", "BTC/USDT", tf)
}

/// `{"candles":[...]}` with `n` one-minute rows from `first`.
fn body(first: i64, n: i64) -> String {
    let rows: Vec<String> = (0..n)
        .map(|i| format!("[{},1.5,2.5,0.5,2.0,{}.25]", first + i * M, i))
        .collect();
    format!(r#"{{"candles":[{}]}}"#, rows.join(","))
}

fn err(status: u16, headers: &[(&str, &str)], b: &str) -> AdapterError {
    let r = Response {
        status,
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: b.as_bytes().to_vec(),
    };
    let w = Window {
        start: T0,
        end: T0 + M,
    };
    parse(&m("1m"), w, &plan(&m("1m"), w, 1).unwrap(), &r).unwrap_err()
}

#[test]
fn info_and_plan() {
    let i = info();
    assert_eq!((i.id.as_str(), i.max_candles_per_request), ("example", 500));
    assert_eq!(i.timeframes.join(" "), "1m 5m 15m 1h 4h 1d");
    let w = Window {
        start: T0,
        end: T0 + 1000 * M,
    };
    let r = plan(&m("1m"), w, 9999).unwrap();
    assert_eq!(
        r.url,
        "https://api.example.com/candles?market=BTC-USDT&tf=1m&from=1704067200000&to=1704127200000&limit=500"
    );
    assert!(matches!(
        plan(&m("3d"), w, 10),
        Err(AdapterError::UnsupportedTimeframe(_))
    ));
    assert!(matches!(
        plan(&Market::new("example", "BTC", "1m"), w, 10),
        Err(AdapterError::UnknownSymbol(_))
    ));
}

#[test]
fn pages_forward_until_a_short_page() {
    let w = Window {
        start: T0,
        end: T0 + 5 * M,
    };
    let req = plan(&m("1m"), w, 3).unwrap();
    let p = parse(&m("1m"), w, &req, &ok(body(T0, 3))).unwrap();
    assert_eq!(p.candles.len(), 3);
    assert_eq!(p.candles[2].volume, 2.25);
    assert_eq!(
        p.covered,
        Window {
            start: T0,
            end: T0 + 3 * M
        }
    );
    let next = p.next.unwrap();
    assert!(
        next.url
            .contains("from=1704067380000&to=1704067500000&limit=3")
    );
    let p = parse(&m("1m"), w, &next, &ok(body(T0 + 3 * M, 1))).unwrap();
    assert_eq!(
        p.covered,
        Window {
            start: T0 + 3 * M,
            end: w.end
        }
    );
    assert!(p.next.is_none());
}

#[test]
fn errors_are_typed() {
    assert_eq!(
        err(
            400,
            &[],
            r#"{"error":{"code":1001,"message":"unknown market"}}"#
        ),
        AdapterError::UnknownSymbol("unknown market".into())
    );
    assert!(matches!(
        err(400, &[], r#"{"error":{"code":1002,"message":"bad tf"}}"#),
        AdapterError::UnsupportedTimeframe(_)
    ));
    assert_eq!(
        err(
            400,
            &[],
            r#"{"error":{"code":1003,"message":"limit must be 1..500"}}"#
        ),
        AdapterError::Exchange {
            code: 1003,
            message: "limit must be 1..500".into()
        }
    );
    assert_eq!(
        err(429, &[("Retry-After", "2")], ""),
        AdapterError::RateLimited(2000)
    );
    assert_eq!(
        err(503, &[], "busy"),
        AdapterError::Exchange {
            code: 503,
            message: "busy".into()
        }
    );
    for bad in [
        "",
        "{}",
        "[]",
        r#"{"candles":[[1,2]]}"#,
        r#"{"candles":[[1704067200000,1,2,0.5,1.5,1]"#,
    ] {
        assert!(
            matches!(err(200, &[], bad), AdapterError::Malformed(_)),
            "{bad}"
        );
    }
}

#[test]
fn live_polls_newest_rows() {
    let PollPlan {
        request,
        interval_ms,
    } = live_poll(&m("1h")).unwrap();
    assert_eq!(
        request.url,
        "https://api.example.com/candles?market=BTC-USDT&tf=1h&limit=2"
    );
    assert_eq!(interval_ms, 10_000);
    let w = Window {
        start: T0,
        end: T0 + 10 * M,
    };
    let p = parse(&m("1m"), w, &request, &ok(body(T0 + 8 * M, 2))).unwrap();
    assert_eq!(
        p.covered,
        Window {
            start: T0 + 8 * M,
            end: w.end
        }
    );
}
