//! Conformance against ccxt 4.5.90's Bybit vectors
//! (`tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json` at the workspace root).
//!
//! - `response` vectors: the same payload parses to exactly ccxt's candles (spot and linear).
//! - `request` vectors: seamless's first request agrees with ccxt's wherever both express
//!   the same thing; the differences are Bybit's documented rules (see the comments).
//! - `pagination` vectors: ccxt's fixed pages skip candles on this newest-first endpoint;
//!   seamless pages backwards and gets every candle once.

use std::collections::BTreeSet;

use bybit_adapter::{parse, plan};
use seamless_adapter_kit::{Market, Request, Window, query_param};
use seamless_adapter_testkit::ccxt::{
    Adapter, Tally, check_responses, limit_or, list, market, vectors,
    window_since_limit as window_of,
};
use seamless_adapter_testkit::{MINUTE, ok, walk_backwards};

/// How the ccxt vector runner drives this adapter.
const BYBIT: Adapter = Adapter {
    vectors: "bybit",
    plan,
    parse,
    window: window_of,
    default_limit: 1000,
};

#[test]
fn response_vectors_parse_to_ccxt_candles() {
    let tally = check_responses("bybit", |v| BYBIT.answer(v));
    assert_eq!(
        tally,
        Tally {
            parsed: 8,
            refused: 0
        }
    );
}

#[test]
fn request_vectors_agree_with_ccxt() {
    let v = vectors("bybit");
    let mut compared = 0;
    for vec in list(&v, "request") {
        let desc = vec["description"].as_str().unwrap_or("?");
        let args = &vec["args"];
        if args["since"].is_null() {
            // ccxt without `since` asks for "the latest candles"; seamless always plans a
            // window (live following polls the newest page instead).
            continue;
        }
        let (m, w) = (market("bybit", args), window_of(args));
        let limit = limit_or(args, 1000);
        let r = plan(&m, w, limit).expect(desc);
        let q = &vec["query"];
        assert!(
            r.url.starts_with("https://api.bybit.com/v5/market/kline?"),
            "{desc}"
        );
        for key in ["category", "symbol", "interval", "start"] {
            assert_eq!(query_param(&r.url, key), q[key].as_str(), "{desc}: {key}");
        }
        // Bybit allows at most 1000 rows; ccxt forwards 5000 unchanged. Without a limit ccxt
        // asks for Bybit's default 200, the host for the adapter's maximum.
        let want_limit = match args["limit"].as_u64() {
            Some(_) => q["limit"]
                .as_str()
                .map(|l| l.parse::<u32>().unwrap().min(1000)),
            None => Some(1000),
        };
        assert_eq!(
            query_param(&r.url, "limit").map(|l| l.parse::<u32>().unwrap()),
            want_limit,
            "{desc}"
        );
        // `end` is inclusive on both sides: with `until` ccxt sends it as is, and seamless sends
        // window end − 1 = until. Without `until` ccxt lets Bybit run to now, which on this
        // newest-first endpoint returns the newest `limit` candles, not those after `since`;
        // seamless bounds the request by its window (since + limit candles).
        let end = query_param(&r.url, "end").map(|e| e.parse::<i64>().unwrap());
        match q["end"].as_str() {
            Some(e) => assert_eq!(end, e.parse().ok(), "{desc}"),
            None => assert_eq!(end, Some(w.end - 1), "{desc}"),
        }
        compared += 1;
    }
    assert_eq!(compared, 10);
}

/// Body of 1m rows opening at `opens`, newest first.
fn rows(opens: &[i64]) -> Vec<u8> {
    let rows: Vec<String> = opens
        .iter()
        .rev()
        .map(|t| format!(r#"["{t}","42000.1","42025.5","41987.25","42004.75","1.5","63007.125"]"#))
        .collect();
    format!(r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"spot","symbol":"BTCUSDT","list":[{}]}},"time":0}}"#, rows.join(","))
        .into_bytes()
}

/// A 1m Bybit on `[day, day + 1440 min)`: the newest `limit` candles with
/// `start <= open <= end`, newest first, skipping the `missing` minutes.
fn exchange(url: &str, day: i64, missing: &BTreeSet<i64>) -> Vec<u8> {
    let num = |k| query_param(url, k).and_then(|v| v.parse::<i64>().ok());
    let (start, end, limit) = (
        num("start").unwrap_or(0),
        num("end").unwrap_or(i64::MAX),
        num("limit").unwrap_or(200),
    );
    let mut opens: Vec<i64> = (0..1440)
        .map(|i| day + i * MINUTE)
        .filter(|t| (start..=end).contains(t) && !missing.contains(t))
        .collect();
    let keep = opens.len().saturating_sub(limit as usize);
    opens.drain(..keep);
    rows(&opens)
}

/// Follow `next` from `plan`: the candles' opens and the number of requests. The covered
/// ranges tile the window from its end down to its start.
fn walk(m: &Market, w: Window, missing: &BTreeSet<i64>) -> (Vec<i64>, usize) {
    walk_backwards(w, plan(m, w, 1000).expect("plan"), 10, |r| {
        parse(m, w, r, &ok(exchange(&r.url, w.start, missing))).expect("page")
    })
}

#[test]
fn pagination_pages_backwards_where_ccxt_skips() {
    let v = vectors("bybit");
    for vec in list(&v, "pagination") {
        let args = &vec["args"];
        let (m, w) = (market("bybit", args), window_of(args)); // one day of 1m candles
        assert_eq!(w.end - w.start, 1440 * MINUTE);
        let ccxt: Vec<&str> = list(vec, "requests")
            .iter()
            .map(|r| r["url"].as_str().expect("url"))
            .collect();
        assert_eq!(ccxt.len(), 2);
        let missing: BTreeSet<i64> = (100..110).map(|i| w.start + i * MINUTE).collect();
        // seamless: two pages backwards, every existing minute once, ascending.
        let (opens, sent) = walk(&m, w, &missing);
        assert_eq!(sent, 2);
        let want: Vec<i64> = (0..1440)
            .map(|i| w.start + i * MINUTE)
            .filter(|t| !missing.contains(t))
            .collect();
        assert_eq!(opens, want);
        // ccxt 4.5.90 keeps `end` and moves `start` by 1000 minutes. Bybit answers each page
        // with the newest 1000 candles of [start, end]: the first page is minutes 440..1439,
        // the second 1000..1439 again, and minutes 0..439 are never requested.
        let mut got = BTreeSet::new();
        for url in ccxt {
            let page = parse(
                &m,
                w,
                &Request::get(url),
                &ok(exchange(url, w.start, &missing)),
            )
            .expect("ccxt page");
            got.extend(page.candles.iter().map(|c| c.open_time));
        }
        let skipped = want.iter().filter(|t| !got.contains(t)).count();
        assert_eq!(
            skipped,
            440 - missing.len(),
            "ccxt's fixed pages skip the oldest minutes"
        );
    }
}
