//! Conformance against ccxt 4.5.90's KuCoin vectors
//! (`tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json` at the workspace root).
//!
//! - `response` vectors: the same payload parses to exactly ccxt's candles.
//! - `request` vectors: seamless's first request agrees with ccxt's wherever both express
//!   the same thing; the differences are KuCoin's documented rules (see the comments).
//! - `pagination` vector: ccxt asks one 1500-minute range (ignoring `until`); seamless pages
//!   backwards in ranges of at most `limit` candles; both get every candle of the day.

use std::collections::BTreeSet;

use kucoin_adapter::{parse, plan};
use seamless_adapter_kit::{Market, Request, Window, query_param};
use seamless_adapter_testkit::ccxt::{
    Adapter, Tally, check_responses, limit_or, list, market, tf_ms, vectors,
    window_since_limit as window_of,
};
use seamless_adapter_testkit::{MINUTE, ok, walk_backwards};

/// How the ccxt vector runner drives this adapter.
const KUCOIN: Adapter = Adapter {
    vectors: "kucoin",
    plan,
    parse,
    window: window_of,
    default_limit: 1000,
};

#[test]
fn response_vectors_parse_to_ccxt_candles() {
    let tally = check_responses("kucoin", |v| KUCOIN.answer(v));
    assert_eq!(
        tally,
        Tally {
            parsed: 4,
            refused: 0
        }
    );
}

#[test]
fn request_vectors_agree_with_ccxt() {
    let v = vectors("kucoin");
    let mut compared = 0;
    for vec in list(&v, "request") {
        let desc = vec["description"].as_str().unwrap_or("?");
        let args = &vec["args"];
        if args["since"].is_null() {
            // ccxt without `since` asks for "the latest candles"; seamless always plans a
            // window (live following polls the newest page instead).
            continue;
        }
        let (m, w) = (market("kucoin", args), window_of(args));
        let limit = limit_or(args, 1000);
        let r = plan(&m, w, limit).expect(desc);
        let q = &vec["query"];
        assert!(
            r.url
                .starts_with("https://api.kucoin.com/api/v1/market/candles?"),
            "{desc}"
        );
        for key in ["symbol", "type"] {
            assert_eq!(query_param(&r.url, key), q[key].as_str(), "{desc}: {key}");
        }
        let num = |k| query_param(&r.url, k).map(|v| v.parse::<i64>().unwrap());
        let ccxt = |k: &str| q[k].as_str().map(|v| v.parse::<i64>().unwrap());
        // The first page is the newest range of at most `limit` (≤ 1500) candles of the window:
        // ccxt's `startAt` unless the window holds more (5000 candles asked for).
        let limit = limit.min(1500);
        let first =
            (w.end - i64::from(limit) * tf_ms(args["timeframe"].as_str().unwrap())).max(w.start);
        assert_eq!(num("startAt"), Some(first / 1000), "{desc}");
        if limit < 1500 || args["limit"].is_null() {
            assert_eq!(num("startAt"), ccxt("startAt"), "{desc}");
        }
        // `endAt`: seamless sends the window end − 1 s (the candle opening at the end is not
        // the window's). ccxt sends `since + limit·tf` and, given `until`, still
        // `since + 1500·tf`, passing `until` on as a parameter KuCoin does not know: the
        // range runs past `until` and ccxt filters the extra candles afterwards.
        assert_eq!(num("endAt"), Some((w.end - 1).div_euclid(1000)), "{desc}");
        match args["params"]["until"].as_i64() {
            Some(until) => assert_eq!(
                q["until"].as_str(),
                Some(until.to_string().as_str()),
                "{desc}"
            ),
            None if limit < 1500 => {
                assert_eq!(num("endAt").map(|e| e + 1), ccxt("endAt"), "{desc}")
            }
            None => {}
        }
        compared += 1;
    }
    assert_eq!(compared, 5);
}

/// Body of 1m rows opening at `opens`, newest first.
fn rows(opens: &[i64]) -> Vec<u8> {
    let rows: Vec<String> = opens
        .iter()
        .rev()
        .map(|t| {
            format!(
                r#"["{}","42000.1","42004.75","42025.5","41987.25","1.5","63007.125"]"#,
                t / 1000
            )
        })
        .collect();
    format!(r#"{{"code":"200000","data":[{}]}}"#, rows.join(",")).into_bytes()
}

/// A 1m KuCoin on `[day, day + 1440 min)`: the newest 1500 candles with
/// `startAt <= open <= endAt` (seconds), newest first, skipping the `missing` minutes.
fn exchange(url: &str, day: i64, missing: &BTreeSet<i64>) -> Vec<u8> {
    let num = |k| query_param(url, k).and_then(|v| v.parse::<i64>().ok());
    let (start, end) = (
        num("startAt").unwrap_or(0) * 1000,
        num("endAt").map_or(i64::MAX, |e| e * 1000),
    );
    let mut opens: Vec<i64> = (0..1440)
        .map(|i| day + i * MINUTE)
        .filter(|t| (start..=end).contains(t) && !missing.contains(t))
        .collect();
    let keep = opens.len().saturating_sub(1500);
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
    let v = vectors("kucoin");
    for vec in list(&v, "pagination") {
        let args = &vec["args"];
        let (m, w) = (market("kucoin", args), window_of(args)); // one day of 1m candles
        assert_eq!(w.end - w.start, 1440 * MINUTE);
        let ccxt: Vec<&str> = list(vec, "requests")
            .iter()
            .map(|r| r["url"].as_str().expect("url"))
            .collect();
        assert_eq!(ccxt.len(), 1);
        let missing: BTreeSet<i64> = (100..110).map(|i| w.start + i * MINUTE).collect();
        // seamless: two ranges backwards (1000 + 440 minutes), every existing minute once.
        let (opens, sent) = walk(&m, w, &missing);
        assert_eq!(sent, 2);
        let want: Vec<i64> = (0..1440)
            .map(|i| w.start + i * MINUTE)
            .filter(|t| !missing.contains(t))
            .collect();
        assert_eq!(opens, want);
        // ccxt's single 1500-minute range holds the whole day here.
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
        assert_eq!(skipped, 0);
    }
}
