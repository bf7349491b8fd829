//! Conformance against ccxt 4.5.90's USDⓈ-M vectors (`exchanges.binance`, market type
//! `swap`, in `tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json` at the workspace root).

use std::collections::BTreeSet;

use binanceusdm_adapter::{parse, plan};
use seamless_adapter_kit::{AdapterError, Market, Request, Window, query_param};
use seamless_adapter_testkit::ccxt::{
    Adapter, Answer, Tally, check_responses, limit_or, list, market as market_of, vectors,
    window_until as window_of,
};
use seamless_adapter_testkit::{MINUTE, ok};

fn market(tf: &str) -> Market {
    Market::new("binanceusdm", "BTC/USDT:USDT", tf)
}

/// How the ccxt vector runner drives this adapter.
const BINANCEUSDM: Adapter = Adapter {
    vectors: "binance",
    plan,
    parse,
    window: window_of,
    default_limit: 1500,
};

#[test]
fn response_vectors_parse_to_ccxt_candles() {
    // Spot and swap payloads share the row format; both must parse identically.
    let tally = check_responses("binance", |v| {
        let m = market(v["args"]["timeframe"].as_str().unwrap());
        Answer::Parsed(BINANCEUSDM.candles(v, &m, window_of(&v["args"])))
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
    let v = vectors("binance");
    let mut compared = 0;
    for vec in list(&v, "request") {
        let desc = vec["description"].as_str().unwrap();
        let args = &vec["args"];
        let m = market_of("binanceusdm", args);
        let w = window_of(args);
        if vec["market_type"] == "spot" {
            // A spot symbol is not a futures market: refused, never silently mapped.
            assert!(
                matches!(plan(&m, w, 10), Err(AdapterError::UnknownSymbol(_))),
                "{desc}"
            );
            continue;
        }
        if args["since"].is_null() {
            continue; // ccxt's "latest candles": seamless always plans an explicit window.
        }
        let limit = limit_or(args, 1500);
        let r = plan(&m, w, limit).unwrap();
        let q = &vec["query"];
        assert!(
            r.url
                .starts_with("https://fapi.binance.com/fapi/v1/klines?"),
            "{desc}"
        );
        for key in ["symbol", "interval", "startTime"] {
            assert_eq!(query_param(&r.url, key), q[key].as_str(), "{desc}: {key}");
        }
        // ccxt 4.5.90 caps fapi pages at 1000; Binance documents 1500 for /fapi/v1/klines
        // ("Default 500; max 1500"), which the adapter uses when asked for more.
        let want_limit = args["limit"].as_u64().map_or(1500, |l| l.min(1500));
        assert_eq!(
            query_param(&r.url, "limit"),
            Some(want_limit.to_string().as_str()),
            "{desc}"
        );
        if want_limit <= 1000 {
            assert_eq!(query_param(&r.url, "limit"), q["limit"].as_str(), "{desc}");
        }
        // With `until`: the same inclusive endTime; without, seamless bounds the window.
        let end = q["endTime"]
            .as_str()
            .map_or((w.end - 1).to_string(), str::to_owned);
        assert_eq!(query_param(&r.url, "endTime"), Some(end.as_str()), "{desc}");
        compared += 1;
    }
    assert_eq!(compared, 5);
}

/// A 1m fapi: rows with `startTime <= open <= endTime`, at most `limit`, minus `missing`.
fn exchange(url: &str, missing: &BTreeSet<i64>) -> Vec<u8> {
    let num = |k| query_param(url, k).and_then(|v| v.parse::<i64>().ok());
    let (start, end) = (
        num("startTime").unwrap(),
        num("endTime").unwrap_or(i64::MAX),
    );
    let first = start + (MINUTE - start.rem_euclid(MINUTE)) % MINUTE;
    let rows: Vec<String> = (0..)
        .map(|i| first + i * MINUTE)
        .take_while(|&t| t <= end)
        .filter(|t| !missing.contains(t))
        .take(num("limit").unwrap_or(500) as usize)
        .map(|t| {
            format!(
                r#"[{t},"1.0","2.0","0.5","1.5","3.0",{},"4.5",1,"1","1","0"]"#,
                t + MINUTE - 1
            )
        })
        .collect();
    format!("[{}]", rows.join(",")).into_bytes()
}

fn walk(m: &Market, w: Window, limit: u32, missing: &BTreeSet<i64>) -> (Vec<Request>, Vec<i64>) {
    let mut req = Some(plan(m, w, limit).unwrap());
    let (mut sent, mut opens, mut covered_to) = (vec![], vec![], w.start);
    while let Some(r) = req {
        assert!(sent.len() < 20, "paging terminates");
        let page = parse(m, w, &r, &ok(exchange(&r.url, missing))).unwrap();
        assert_eq!(
            page.covered.start, covered_to,
            "covered ranges tile the window"
        );
        covered_to = page.covered.end;
        opens.extend(page.candles.iter().map(|c| c.open_time));
        sent.push(r);
        req = page.next;
    }
    assert_eq!(covered_to, w.end);
    (sent, opens)
}

#[test]
fn pagination_covers_the_day_without_overlap() {
    let v = vectors("binance");
    let vec = list(&v, "pagination")
        .iter()
        .find(|p| p["market_type"] == "swap")
        .unwrap();
    let w = window_of(&vec["args"]);
    let ccxt: Vec<&str> = list(vec, "requests")
        .iter()
        .map(|r| r["url"].as_str().unwrap())
        .collect();
    let m = market("1m");
    // seamless asks for 1500 rows: the whole day (1440 minutes) in one request; ccxt
    // needs two pages of 1000, the second at a fixed off-grid startTime (since + 1000 min − 1).
    let (sent, opens) = walk(&m, w, 1500, &BTreeSet::new());
    assert_eq!((sent.len(), ccxt.len()), (1, 2));
    assert_eq!(query_param(ccxt[1], "startTime"), Some("1704127199999"));
    for key in ["symbol", "interval", "startTime", "endTime"] {
        assert_eq!(
            query_param(&sent[0].url, key),
            query_param(ccxt[0], key),
            "{key}"
        );
    }
    assert_eq!(
        opens,
        (0..1440).map(|i| w.start + i * MINUTE).collect::<Vec<_>>()
    );
    // With pages of 1000 and downtime, the next page starts after the last row received:
    // no overlap (ccxt's fixed second page would repeat the 10 shifted candles), no hole.
    let missing: BTreeSet<i64> = (100..110).map(|i| w.start + i * MINUTE).collect();
    let (sent, opens) = walk(&m, w, 1000, &missing);
    assert_eq!(sent.len(), 2);
    assert_eq!(
        query_param(&sent[1].url, "startTime"),
        Some("1704127800000")
    );
    let want: Vec<i64> = (0..1440)
        .map(|i| w.start + i * MINUTE)
        .filter(|t| !missing.contains(t))
        .collect();
    assert_eq!(opens, want);
}
