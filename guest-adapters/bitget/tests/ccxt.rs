//! Conformance against ccxt 4.5.90's Bitget vectors (`exchanges.bitget` in
//! `tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json` at the workspace root; ccxt's clock
//! frozen at 2025-01-01, `frozen_now_ms`).

use bitget_adapter::{HISTORY_PATH, RECENT_PATH, parse, plan};
use seamless_adapter_kit::{AdapterError, Market, Request, Window, query_param};
use seamless_adapter_testkit::ccxt::{
    Adapter, Answer, Tally, check_responses, limit_or, list, market, parsed_rows, vectors,
    window_until as window_of,
};
use seamless_adapter_testkit::{MINUTE, ok};

const DAY: i64 = 86_400_000;

fn envelope(now: i64, rows: &str) -> String {
    format!(r#"{{"code":"00000","msg":"success","requestTime":{now},"data":{rows}}}"#)
}

/// The history request the adapter sends after the recent endpoint, answering at `now`,
/// showed the window to be beyond its reach.
fn history_request(m: &Market, w: Window, limit: u32, now: i64) -> Request {
    let first = plan(m, w, limit).unwrap();
    assert!(first.url.contains(RECENT_PATH));
    let page = parse(m, w, &first, &ok(envelope(now, "[]"))).unwrap();
    assert!(page.candles.is_empty());
    let next = page.next.expect("history follows");
    assert!(next.url.contains(HISTORY_PATH), "{}", next.url);
    next
}

/// How the ccxt vector runner drives this adapter.
const BITGET: Adapter = Adapter {
    vectors: "bitget",
    plan,
    parse,
    window: window_of,
    default_limit: 1000,
};

#[test]
fn response_vectors_parse_to_ccxt_candles() {
    let v = vectors("bitget");
    let now = v["frozen_now_ms"].as_i64().unwrap();
    let first = parsed_rows(&list(&v, "response")[0]);
    // Spot rows have 8 fields, swap rows 7: the same first six, parsed alike.
    let tally = check_responses("bitget", |vec| {
        let args = &vec["args"];
        let m = Market::new("bitget", "BTC/USDT", args["timeframe"].as_str().unwrap());
        let w = window_of(args);
        // The payload's rows (2024-01-01) are older than the recent endpoint reaches at
        // ccxt's frozen now (2025-01-01): they come from history-candles.
        let request = history_request(&m, w, limit_or(args, BITGET.default_limit), now);
        let got = BITGET.candles_for(vec, &m, w, &request);
        if args["limit"] == 3 {
            // ccxt keeps the *first* three of five rows client-side. Bitget answers with
            // the newest `limit` rows before endTime ("the exchange aligns from endTime",
            // ccxt's own comment): given more rows than asked for, the newest are the
            // ones Bitget's semantics select, and never the oldest.
            return Answer::Differs(got, first[2..].to_vec());
        }
        Answer::Parsed(got)
    });
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
    let v = vectors("bitget");
    let now = v["frozen_now_ms"].as_i64().unwrap();
    let mut compared = 0;
    for vec in list(&v, "request") {
        let desc = vec["description"].as_str().unwrap();
        let args = &vec["args"];
        let m = market("bitget", args);
        let w = window_of(args);
        if vec["market_type"] != "spot" {
            // ccxt's swap vectors use the mix API; the spot adapter refuses the symbol.
            assert!(
                matches!(plan(&m, w, 10), Err(AdapterError::UnknownSymbol(_))),
                "{desc}"
            );
            continue;
        }
        if args["since"].is_null() {
            continue; // ccxt's "latest candles": seamless always plans an explicit window.
        }
        let limit = limit_or(args, 1000);
        let q = &vec["query"];
        let ccxt_url = vec["url"].as_str().unwrap();
        let first = plan(&m, w, limit).unwrap();
        // Same symbol and UTC-aligned granularity (`1Dutc` for 1d) as ccxt.
        for key in ["symbol", "granularity"] {
            assert_eq!(
                query_param(&first.url, key),
                q[key].as_str(),
                "{desc}: {key}"
            );
        }
        if ccxt_url.contains("/history-candles") {
            // ccxt picks history-candles from its own clock; the adapter has none and
            // learns the same from the recent endpoint's `requestTime`: one request later
            // it asks history-candles, ending at the window end (or the reach of the recent
            // endpoint), at most 200 rows.
            let h = history_request(&m, w, limit, now);
            let days = bitget_adapter::granularity(args["timeframe"].as_str().unwrap())
                .unwrap()
                .2;
            let reach = now - (days - 1) * DAY; // on every grid here
            let end = w.end.min(reach) - 1;
            assert_eq!(
                query_param(&h.url, "endTime"),
                Some(end.to_string().as_str()),
                "{desc}"
            );
            assert_eq!(
                query_param(&h.url, "granularity"),
                q["granularity"].as_str(),
                "{desc}"
            );
            assert!(
                query_param(&h.url, "limit")
                    .unwrap()
                    .parse::<u32>()
                    .unwrap()
                    <= 200,
                "{desc}"
            );
        } else {
            assert_eq!(
                query_param(&first.url, "startTime"),
                q["startTime"].as_str(),
                "{desc}"
            );
            assert_eq!(
                query_param(&first.url, "limit"),
                q["limit"].as_str(),
                "{desc}"
            );
        }
        compared += 1;
    }
    assert_eq!(compared, 5);
}

/// A 1m Bitget at `now` with every minute traded: both endpoints return the newest
/// `limit` rows with open ≤ endTime; `candles` only back to `now − 30 days` and not
/// before `startTime`.
fn exchange(url: &str, now: i64) -> String {
    let num = |k| query_param(url, k).and_then(|v| v.parse::<i64>().ok());
    let end = num("endTime").unwrap_or(now);
    let lower = match url.contains(HISTORY_PATH) {
        true => i64::MIN,
        false => num("startTime").unwrap_or(i64::MIN).max(now - 30 * DAY),
    };
    let last = end - end.rem_euclid(MINUTE);
    let mut opens: Vec<i64> = (0..num("limit").unwrap_or(100))
        .map(|i| last - i * MINUTE)
        .filter(|&t| t >= lower)
        .collect();
    opens.reverse();
    let rows: Vec<String> = opens
        .iter()
        .map(|t| format!(r#"["{t}","1","2","0.5","1.5","3","4.5","4.5"]"#))
        .collect();
    envelope(now, &format!("[{}]", rows.join(",")))
}

#[test]
fn pagination_walks_back_through_history_without_repeating() {
    let v = vectors("bitget");
    let now = v["frozen_now_ms"].as_i64().unwrap();
    let vec = list(&v, "pagination")
        .iter()
        .find(|p| p["market_type"] == "spot")
        .unwrap();
    let w = window_of(&vec["args"]);
    let ccxt: Vec<&str> = list(vec, "requests")
        .iter()
        .map(|r| r["url"].as_str().unwrap())
        .collect();
    // ccxt 4.5.90 sends the very same request eight times (startTime fixed at
    // until − 200 min): its deterministic paginator never advances on Bitget.
    assert_eq!(ccxt.len(), 8);
    assert!(ccxt.iter().all(|u| *u == ccxt[0]));
    let m = Market::new("bitget", "BTC/USDT", "1m");
    let mut req = Some(plan(&m, w, 1000).unwrap());
    let (mut sent, mut opens, mut covered_from) = (Vec::<Request>::new(), Vec::<i64>::new(), w.end);
    while let Some(r) = req {
        assert!(sent.len() < 20, "paging terminates");
        let page = parse(&m, w, &r, &ok(exchange(&r.url, now))).unwrap();
        // Pages go backwards: each proves the range right below the previous one.
        if page.covered.start < page.covered.end {
            assert_eq!(
                page.covered.end, covered_from,
                "covered ranges tile the window"
            );
            covered_from = page.covered.start;
        }
        opens.splice(0..0, page.candles.iter().map(|c| c.open_time));
        sent.push(r);
        req = page.next;
    }
    assert_eq!(covered_from, w.start);
    assert_eq!(
        opens,
        (0..1440).map(|i| w.start + i * MINUTE).collect::<Vec<_>>()
    );
    // One recent request (beyond its reach: empty), then 8 history pages of ≤ 200 rows.
    assert_eq!(sent.len(), 9);
    assert!(
        sent[0].url.contains(RECENT_PATH) && sent[1..].iter().all(|r| r.url.contains(HISTORY_PATH))
    );
    let ends: Vec<i64> = sent[1..]
        .iter()
        .map(|r| query_param(&r.url, "endTime").unwrap().parse().unwrap())
        .collect();
    assert!(
        ends.windows(2).all(|e| e[1] == e[0] - 200 * MINUTE),
        "{ends:?}"
    );
}
