//! Conformance against ccxt 4.5.90's MEXC vectors (`exchanges.mexc` in
//! `tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json` at the workspace root). The spot
//! adapter serves `/api/v3/klines`; ccxt's swap vectors use the separate contract API
//! (`/api/v1/contract/kline`), whose symbols the adapter refuses.

use mexc_adapter::{parse, plan};
use seamless_adapter_kit::{AdapterError, Market, Request, query_param};
use seamless_adapter_testkit::ccxt::{
    Adapter, Tally, check_responses, limit_or, list, market, vectors, window_until as window_of,
};
use seamless_adapter_testkit::{MINUTE, ok};

/// How the ccxt vector runner drives this adapter.
const MEXC: Adapter = Adapter {
    vectors: "mexc",
    plan,
    parse,
    window: window_of,
    default_limit: 500,
};

#[test]
fn response_vectors_parse_to_ccxt_candles() {
    // Spot only: other market types are refused as unknown symbols.
    let tally = check_responses("mexc", |v| match v["market_type"] != "spot" {
        true => MEXC.refusal(v),
        false => MEXC.answer(v),
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
    let v = vectors("mexc");
    let mut compared = 0;
    for vec in list(&v, "request") {
        let desc = vec["description"].as_str().unwrap();
        let args = &vec["args"];
        let m = market("mexc", args);
        let w = window_of(args);
        if vec["market_type"] != "spot" {
            assert!(
                matches!(plan(&m, w, 10), Err(AdapterError::UnknownSymbol(_))),
                "{desc}"
            );
            continue;
        }
        if args["since"].is_null() {
            continue; // ccxt's "latest candles": seamless always plans an explicit window.
        }
        let r = plan(&m, w, limit_or(args, 500)).unwrap();
        let q = &vec["query"];
        assert!(
            r.url.starts_with("https://api.mexc.com/api/v3/klines?"),
            "{desc}"
        );
        for key in ["symbol", "interval", "startTime"] {
            assert_eq!(query_param(&r.url, key), q[key].as_str(), "{desc}: {key}");
        }
        // ccxt forwards any limit (5000 here); MEXC returns at most 500 rows, so the
        // adapter never asks for more (a cut page would otherwise look complete).
        let want = args["limit"]
            .as_u64()
            .map_or(500, |l| l.min(500))
            .to_string();
        assert_eq!(query_param(&r.url, "limit"), Some(want.as_str()), "{desc}");
        // endTime is exclusive: with `until`, ccxt sends until + 1 = the window end, as
        // seamless does; without, ccxt guesses from its clock, seamless uses the window.
        if args["params"]["until"].is_i64() {
            assert_eq!(
                query_param(&r.url, "endTime"),
                q["endTime"].as_str(),
                "{desc}"
            );
        }
        assert_eq!(
            query_param(&r.url, "endTime"),
            Some(w.end.to_string().as_str()),
            "{desc}"
        );
        compared += 1;
    }
    assert_eq!(compared, 5);
}

/// A 1m MEXC: rows with `startTime <= open < endTime`, at most min(limit, 500).
fn exchange(url: &str) -> Vec<u8> {
    let num = |k| query_param(url, k).and_then(|v| v.parse::<i64>().ok());
    let (start, end) = (
        num("startTime").unwrap(),
        num("endTime").unwrap_or(i64::MAX),
    );
    let first = start + (MINUTE - start.rem_euclid(MINUTE)) % MINUTE;
    let rows: Vec<String> = (0..)
        .map(|i| first + i * MINUTE)
        .take_while(|&t| t < end)
        .take(num("limit").unwrap_or(500).min(500) as usize)
        .map(|t| {
            format!(
                r#"[{t},"1.0","2.0","0.5","1.5","3.0",{},"4.5"]"#,
                t + MINUTE
            )
        })
        .collect();
    format!("[{}]", rows.join(",")).into_bytes()
}

#[test]
fn pagination_covers_the_day_on_the_grid() {
    let v = vectors("mexc");
    let vec = list(&v, "pagination")
        .iter()
        .find(|p| p["market_type"] == "spot")
        .unwrap();
    let w = window_of(&vec["args"]);
    let ccxt: Vec<&str> = list(vec, "requests")
        .iter()
        .map(|r| r["url"].as_str().unwrap())
        .collect();
    let m = Market::new("mexc", "BTC/USDT", "1m");
    let mut req = Some(plan(&m, w, 500).unwrap());
    let (mut sent, mut opens, mut covered_to): (Vec<Request>, Vec<i64>, i64) =
        (vec![], vec![], w.start);
    while let Some(r) = req {
        assert!(sent.len() < 10);
        let page = parse(&m, w, &r, &ok(exchange(&r.url))).unwrap();
        assert_eq!(page.covered.start, covered_to);
        covered_to = page.covered.end;
        opens.extend(page.candles.iter().map(|c| c.open_time));
        sent.push(r);
        req = page.next;
    }
    assert_eq!(covered_to, w.end);
    assert_eq!(
        opens,
        (0..1440).map(|i| w.start + i * MINUTE).collect::<Vec<_>>()
    );
    // Three pages like ccxt, but ccxt fixes each startTime by arithmetic, one ms off the
    // grid per page (since + k × 500 min − k); seamless starts each page at the open
    // after the last row received.
    assert_eq!(sent.len(), ccxt.len());
    let starts = |urls: Vec<&str>| {
        urls.iter()
            .map(|u| query_param(u, "startTime").unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        starts(ccxt.clone()),
        ["1704067200000", "1704097199999", "1704127199998"]
    );
    assert_eq!(
        starts(sent.iter().map(|r| r.url.as_str()).collect()),
        ["1704067200000", "1704097200000", "1704127200000"]
    );
}
