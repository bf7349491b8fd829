//! info, backwards paging on both endpoints, the recent → history switch, live polling
//! and the parse timing of the adapter.

use bitget_adapter::{HISTORY_PATH, RECENT_PATH, info, live_poll, parse, plan};
use seamless_adapter_kit::{
    AdapterError, Market, PollPlan, Request, Response, Window, query_param,
};
use seamless_adapter_testkit::time_parse;

const T0: i64 = 1_704_067_200_000;
const M: i64 = 60_000;
const DAY: i64 = 86_400_000;

fn m(tf: &str) -> Market {
    Market::new("bitget", "BTC/USDT", tf)
}

fn body(now: Option<i64>, first: i64, step: i64, n: usize) -> Response {
    let rows: Vec<String> = (0..n as i64)
        .map(|i| {
            let p = 42_000.0 + (i % 97) as f64 * 0.1;
            format!(
                r#"["{}","{p:.2}","{:.2}","{:.2}","{:.2}","1.5000","63007.1","63007.1"]"#,
                first + i * step,
                p + 5.0,
                p - 5.0,
                p + 1.0
            )
        })
        .collect();
    let time = now.map_or(String::new(), |t| format!(r#""requestTime":{t},"#));
    let b = format!(
        r#"{{"code":"00000","msg":"success",{time}"data":[{}]}}"#,
        rows.join(",")
    );
    Response {
        status: 200,
        headers: vec![],
        body: b.into_bytes(),
    }
}

fn end_of(r: &Request) -> i64 {
    query_param(&r.url, "endTime").unwrap().parse().unwrap()
}

#[test]
fn info_and_granularities() {
    let i = info();
    assert_eq!((i.id.as_str(), i.max_candles_per_request), ("bitget", 1000));
    assert_eq!(
        i.timeframes.join(" "),
        "1m 3m 5m 15m 30m 1h 4h 6h 12h 1d 3d 1w 1M"
    );
    assert_eq!(
        (i.rate_limit.budget_per_minute, i.rate_limit.request_weight),
        (1200, 1)
    );
    let w = Window {
        start: T0,
        end: T0 + DAY,
    };
    let r = plan(&m("1d"), w, 5000).unwrap();
    assert_eq!(
        r.url,
        format!(
            "https://api.bitget.com{RECENT_PATH}?symbol=BTCUSDT&granularity=1Dutc&startTime={T0}&endTime={}&limit=1000",
            w.end - 1
        )
    );
    assert!(
        matches!(plan(&m("2h"), w, 10), Err(AdapterError::UnsupportedTimeframe(l)) if l.len() == 13)
    );
    assert!(matches!(
        plan(&Market::new("bitget", "BTC/USDT:USDT", "1m"), w, 10),
        Err(AdapterError::UnknownSymbol(_))
    ));
}

#[test]
fn recent_pages_go_backwards_then_history_takes_over() {
    let now = T0 + 40 * DAY;
    // 3000 minutes ending 1 day before now: all within the 30-day reach.
    let w = Window {
        start: now - DAY - 3000 * M,
        end: now - DAY,
    };
    let r = plan(&m("1m"), w, 1000).unwrap();
    let p = parse(&m("1m"), w, &r, &body(Some(now), w.end - 1000 * M, M, 1000)).unwrap();
    assert_eq!(
        p.covered,
        Window {
            start: w.end - 1000 * M,
            end: w.end
        }
    );
    let next = p.next.unwrap();
    assert!(next.url.contains(RECENT_PATH));
    assert_eq!(
        (end_of(&next), query_param(&next.url, "startTime")),
        (w.end - 1000 * M - 1, Some(w.start.to_string().as_str()))
    );
    // A short page proves the rest of the window.
    let p = parse(
        &m("1m"),
        w,
        &next,
        &body(Some(now), w.start + 1500 * M, M, 500),
    )
    .unwrap();
    assert_eq!(
        (p.covered, p.next),
        (
            Window {
                start: w.start,
                end: w.end - 1000 * M
            },
            None
        )
    );
    // A window reaching beyond 29 days: the recent endpoint is trusted down to
    // now − 29 days only; older rows it sent are dropped and history follows.
    let w = Window {
        start: now - 35 * DAY,
        end: now - 20 * DAY,
    };
    let reach = now - 29 * DAY;
    let r = plan(&m("1m"), w, 1000).unwrap();
    let p = parse(&m("1m"), w, &r, &body(Some(now), reach - 10 * M, M, 20)).unwrap();
    assert_eq!(p.candles.first().map(|c| c.open_time), Some(reach));
    assert_eq!(
        p.covered,
        Window {
            start: reach,
            end: w.end
        }
    );
    let h = p.next.unwrap();
    assert!(h.url.contains(HISTORY_PATH) && query_param(&h.url, "startTime").is_none());
    assert_eq!(
        (end_of(&h), query_param(&h.url, "limit")),
        (reach - 1, Some("200"))
    );
    // History pages go backwards by 200 and stop at the window start.
    let p = parse(&m("1m"), w, &h, &body(Some(now), reach - 200 * M, M, 200)).unwrap();
    assert_eq!(end_of(p.next.as_ref().unwrap()), reach - 200 * M - 1);
    let p = parse(&m("1m"), w, &h, &body(Some(now), w.start - 100 * M, M, 200)).unwrap();
    assert_eq!(
        (p.candles.len(), p.covered.start, p.next),
        (100, w.start, None)
    );
}

#[test]
fn without_request_time_only_rows_prove_anything() {
    let w = Window {
        start: T0,
        end: T0 + 100 * M,
    };
    let r = plan(&m("1m"), w, 1000).unwrap();
    let p = parse(&m("1m"), w, &r, &body(None, T0 + 50 * M, M, 50)).unwrap();
    assert_eq!(
        p.covered,
        Window {
            start: T0 + 50 * M,
            end: w.end
        }
    );
    let h = p.next.unwrap();
    assert!(h.url.contains(HISTORY_PATH));
    assert_eq!(end_of(&h), T0 + 50 * M - 1);
    // An empty history page proves the rest empty (before the listing).
    let p = parse(&m("1m"), w, &h, &body(None, 0, M, 0)).unwrap();
    assert_eq!(
        (p.covered, p.next),
        (
            Window {
                start: T0,
                end: T0 + 50 * M
            },
            None
        )
    );
}

#[test]
fn unreadable_success_bodies_are_malformed() {
    let w = Window {
        start: T0,
        end: T0 + 100 * M,
    };
    let r = plan(&m("1m"), w, 1000).unwrap();
    for b in [
        &b"<html>oops</html>"[..],
        b"[]",
        br#"{"code":"00000","msg":"success"}"#,
        br#"{"code":"00000","data":[["x"]]}"#,
    ] {
        let resp = Response {
            status: 200,
            headers: vec![],
            body: b.to_vec(),
        };
        assert!(
            matches!(
                parse(&m("1m"), w, &r, &resp),
                Err(AdapterError::Malformed(_))
            ),
            "{}",
            String::from_utf8_lossy(b)
        );
    }
}

#[test]
fn live_polls_the_newest_rows() {
    let PollPlan {
        request,
        interval_ms,
    } = live_poll(&m("5m")).unwrap();
    assert_eq!(
        request.url,
        format!("https://api.bitget.com{RECENT_PATH}?symbol=BTCUSDT&granularity=5min&limit=10")
    );
    assert_eq!(interval_ms, 10_000);
    let w = Window {
        start: T0,
        end: T0 + DAY,
    };
    let p = parse(
        &m("5m"),
        w,
        &request,
        &body(Some(T0 + DAY), T0 + DAY - 50 * 60_000, 5 * 60_000, 10),
    )
    .unwrap();
    assert_eq!((p.candles.len(), p.next), (10, None));
}

/// `cargo test -p bitget-adapter --release --test adapter -- --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release"]
fn parse_speed() {
    let now = T0 + 10 * DAY;
    let w = Window {
        start: T0 + DAY,
        end: T0 + DAY + 1000 * M,
    };
    let (r, b) = (
        plan(&m("1m"), w, 1000).unwrap(),
        body(Some(now), w.start, M, 1000),
    );
    time_parse("bitget", &b, 2000, |b| {
        std::hint::black_box(parse(&m("1m"), w, &r, b).unwrap());
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
    let r = plan(&m("1m"), w, 100).unwrap();
    for (first, want) in [
        (T0 + 80, "not on the 1m grid"),
        (i64::MIN, "outside years 1 to 9999"),
    ] {
        match parse(&m("1m"), w, &r, &body(None, first, M, 3)) {
            Err(AdapterError::Malformed(d)) => assert!(d.contains(want), "{first}: {d}"),
            other => panic!("{first}: {other:?}"),
        }
    }
}
