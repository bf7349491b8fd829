//! Conformance against ccxt 4.5.90's HTX vectors
//! (`tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json` at the workspace root).
//!
//! - `response` vectors: the same spot payload parses to exactly ccxt's candles. Swaps are a
//!   different API (`api.hbdm.vn/linear-swap-ex`) this spot adapter refuses.
//! - `request` vectors: seamless's first request agrees with ccxt's wherever both express
//!   the same thing; the differences are HTX's documented rules (see the comments).
//! - `pagination` vectors: ccxt's fixed pages skip candles on this newest-first endpoint;
//!   seamless pages backwards and gets every candle once.

use std::collections::BTreeSet;

use htx_adapter::{parse, plan};
use seamless_adapter_kit::{AdapterError, Market, Request, Window, query_param};
use seamless_adapter_testkit::ccxt::{
    Adapter, Tally, check_responses, limit_or, list, market, vectors,
    window_since_limit as window_of,
};
use seamless_adapter_testkit::{MINUTE, ok, walk_backwards};

/// How the ccxt vector runner drives this adapter.
const HTX: Adapter = Adapter {
    vectors: "htx",
    plan,
    parse,
    window: window_of,
    default_limit: 1000,
};

#[test]
fn response_vectors_parse_to_ccxt_candles() {
    // Spot only: swap markets are refused as unknown symbols.
    let tally = check_responses("htx", |v| match v["market_type"] == "swap" {
        true => HTX.refusal(v),
        false => HTX.answer(v),
    });
    assert_eq!(
        tally,
        Tally {
            parsed: 4,
            refused: 4
        }
    );
}

#[test]
fn request_vectors_agree_with_ccxt() {
    let v = vectors("htx");
    let mut compared = 0;
    for vec in list(&v, "request") {
        let desc = vec["description"].as_str().unwrap_or("?");
        let args = &vec["args"];
        if args["since"].is_null() {
            // ccxt without `since` asks for "the latest candles"; seamless always plans a
            // window (live following polls the newest page instead).
            continue;
        }
        let (m, w) = (market("htx", args), window_of(args));
        if vec["market_type"] == "swap" {
            let refused = matches!(
                plan(&m, w, 10),
                Err(AdapterError::UnknownSymbol(_) | AdapterError::UnsupportedTimeframe(_))
            );
            assert!(refused, "{desc}");
            continue;
        }
        let limit = limit_or(args, 1000);
        if m.timeframe == "1d" {
            // HTX's `1day` candles open at 00:00 UTC+8 (16:00 UTC), off the unified day grid:
            // ccxt serves them as "1d", seamless refuses the timeframe (see the crate docs).
            assert!(
                matches!(
                    plan(&m, w, limit),
                    Err(AdapterError::UnsupportedTimeframe(_))
                ),
                "{desc}"
            );
            continue;
        }
        let r = plan(&m, w, limit).expect(desc);
        let q = &vec["query"];
        assert!(
            r.url
                .starts_with("https://api.huobi.pro/market/history/candles?"),
            "{desc}"
        );
        for key in ["symbol", "period"] {
            assert_eq!(query_param(&r.url, key), q[key].as_str(), "{desc}: {key}");
        }
        // The first page is the newest range of at most 1000 candles of the window: ccxt's
        // `from` unless the window holds more (5000 candles asked for).
        if limit <= 1000 {
            assert_eq!(query_param(&r.url, "from"), q["from"].as_str(), "{desc}");
        }
        // `size`: both cap it at 1000 on this endpoint; without a limit ccxt lets HTX default
        // to 150, the host asks for the adapter's maximum.
        let size = query_param(&r.url, "size").map(|v| v.parse::<u32>().unwrap());
        assert_eq!(
            size,
            Some(
                q["size"]
                    .as_str()
                    .map_or(1000, |v| v.parse::<u32>().unwrap())
            ),
            "{desc}"
        );
        // `to` (seconds, inclusive): ccxt sends `until` when given, nothing otherwise (HTX then
        // answers the newest `size` candles, the pitfall); seamless always bounds the range.
        let to = query_param(&r.url, "to").map(|v| v.parse::<i64>().unwrap());
        assert_eq!(to, Some((w.end - 1).div_euclid(1000)), "{desc}");
        if let Some(ccxt_to) = q["to"].as_str() {
            assert_eq!(to, ccxt_to.parse().ok(), "{desc}");
        }
        compared += 1;
    }
    assert_eq!(compared, 4);
}

/// Body of 1m rows opening at `opens`, newest first.
fn rows(opens: &[i64]) -> Vec<u8> {
    let rows: Vec<String> = opens
        .iter()
        .rev()
        .map(|t| {
            format!(r#"{{"id":{},"open":42000.1,"close":42004.75,"low":41987.25,"high":42025.5,"amount":1.5,"vol":63007.125,"count":1}}"#, t / 1000)
        })
        .collect();
    format!(
        r#"{{"ch":"market.btcusdt.kline.1min","status":"ok","ts":0,"data":[{}]}}"#,
        rows.join(",")
    )
    .into_bytes()
}

/// A 1m HTX `/market/history/candles` on `[day, day + 1440 min)`: the newest `size` candles
/// with `from <= open <= to` (seconds), newest first, skipping the `missing` minutes.
fn exchange(url: &str, day: i64, missing: &BTreeSet<i64>) -> Vec<u8> {
    let num = |k| query_param(url, k).and_then(|v| v.parse::<i64>().ok());
    let (from, to) = (
        num("from").unwrap_or(0) * 1000,
        num("to").map_or(i64::MAX, |e| e * 1000),
    );
    let mut opens: Vec<i64> = (0..1440)
        .map(|i| day + i * MINUTE)
        .filter(|t| (from..=to).contains(t) && !missing.contains(t))
        .collect();
    let keep = opens
        .len()
        .saturating_sub(num("size").unwrap_or(150) as usize);
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
    let v = vectors("htx");
    for vec in list(&v, "pagination")
        .iter()
        .filter(|p| p["market_type"] == "spot")
    {
        let args = &vec["args"];
        let (m, w) = (market("htx", args), window_of(args)); // one day of 1m candles
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
        // ccxt 4.5.90 keeps `to` and moves `from` by 1000 minutes (minus one second). HTX
        // answers each page with the newest 1000 candles of [from, to]: the first page is
        // minutes 440..1439, the second 1000..1439 again; minutes 0..439 are never received.
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
