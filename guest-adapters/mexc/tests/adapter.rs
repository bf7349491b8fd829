//! info, planning, the 500-row cap, live polling and the parse timing of the adapter.

use mexc_adapter::{info, interval, live_poll, parse, plan};
use seamless_adapter_kit::{AdapterError, Market, PollPlan, Window, query_param};
use seamless_adapter_testkit::{ok, time_parse};

const T0: i64 = 1_704_067_200_000;
const M: i64 = 60_000;

fn m(symbol: &str, tf: &str) -> Market {
    Market::new("mexc", symbol, tf)
}

fn body(first: i64, step: i64, n: usize) -> Vec<u8> {
    let rows: Vec<String> = (0..n as i64)
        .map(|i| {
            let t = first + i * step;
            let p = 42_000.0 + (i % 97) as f64 * 0.1;
            format!(
                r#"[{t},"{p:.2}","{:.2}","{:.2}","{:.2}","{:.4}",{},"63007.1250"]"#,
                p + 5.0,
                p - 5.0,
                p + 1.0,
                1.5,
                t + step
            )
        })
        .collect();
    format!("[{}]", rows.join(",")).into_bytes()
}

#[test]
fn info_and_intervals() {
    let i = info();
    assert_eq!((i.id.as_str(), i.max_candles_per_request), ("mexc", 500));
    assert_eq!(i.base_urls, ["https://api.mexc.com"]);
    assert_eq!(i.timeframes.join(" "), "1m 5m 15m 30m 1h 4h 1d 1w 1M");
    assert_eq!(
        (
            i.rate_limit.budget_per_minute,
            i.rate_limit.request_weight,
            i.rate_limit.used_weight_header
        ),
        (3000, 1, None)
    );
    assert_eq!(interval("1h").unwrap().1, "60m");
    assert_eq!(interval("1w").unwrap().1, "1W");
    assert!(matches!(interval("8h"), Err(AdapterError::UnsupportedTimeframe(l)) if l.len() == 9));
    let w = Window {
        start: T0,
        end: T0 + M,
    };
    for bad in ["BTC/USDT:USDT", "BTC USDT", ""] {
        assert!(
            matches!(
                plan(&m(bad, "1m"), w, 10),
                Err(AdapterError::UnknownSymbol(_))
            ),
            "{bad}"
        );
    }
}

#[test]
fn pages_of_at_most_500() {
    let w = Window {
        start: T0,
        end: T0 + 2000 * M,
    };
    let r = plan(&m("BTC/USDT", "1m"), w, 1000).unwrap();
    assert_eq!(
        r.url,
        format!(
            "https://api.mexc.com/api/v3/klines?symbol=BTCUSDT&interval=1m&startTime={T0}&endTime={}&limit=500",
            w.end
        )
    );
    let p = parse(&m("BTC/USDT", "1m"), w, &r, &ok(body(T0, M, 500))).unwrap();
    assert_eq!(
        p.covered,
        Window {
            start: T0,
            end: T0 + 500 * M
        }
    );
    assert_eq!(
        query_param(&p.next.unwrap().url, "startTime"),
        Some((T0 + 500 * M).to_string().as_str())
    );
    // Even a hand-made request for 1000 rows: 500 rows are a full page, not the end.
    let big = r.url.replace("limit=500", "limit=1000");
    let p = parse(
        &m("BTC/USDT", "1m"),
        w,
        &seamless_adapter_kit::Request::get(big),
        &ok(body(T0, M, 500)),
    )
    .unwrap();
    assert!(p.next.is_some());
    assert_eq!(p.covered.end, T0 + 500 * M);
}

#[test]
fn live_polls_the_newest_rows() {
    let mk = m("SOL/USDT", "1M");
    let PollPlan {
        request,
        interval_ms,
    } = live_poll(&mk).unwrap();
    assert_eq!(
        (request.url.as_str(), interval_ms),
        (
            "https://api.mexc.com/api/v3/klines?symbol=SOLUSDT&interval=1M&limit=10",
            10_000
        )
    );
}

/// `cargo test -p mexc-adapter --release --test adapter -- --ignored --nocapture`.
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
    let r = plan(&mk, w, 500).unwrap();
    let r = seamless_adapter_kit::Request::get(r.url.replace("limit=500", "limit=1000"));
    let b = ok(body(T0, M, 1000));
    time_parse("mexc", &b, 2000, |b| {
        std::hint::black_box(parse(&mk, w, &r, b).unwrap());
    });
}

#[test]
fn off_grid_and_out_of_range_open_times_are_malformed() {
    // The adapter refuses what the host's contract check would (found by tests/all/fuzz.rs
    // in binanceusdm, which reads the same rows).
    let w = Window {
        start: T0,
        end: T0 + 60 * M,
    };
    let r = plan(&m("BTC/USDT", "1m"), w, 500).unwrap();
    for (first, want) in [
        (1_704_067_260_080, "not on the 1m grid"),
        (i64::MIN, "outside years 1 to 9999"),
    ] {
        match parse(&m("BTC/USDT", "1m"), w, &r, &ok(body(first, M, 3))) {
            Err(AdapterError::Malformed(d)) => assert!(d.contains(want), "{first}: {d}"),
            other => panic!("{first}: {other:?}"),
        }
    }
}
