//! Conformance against ccxt 4.5.90's MEXC vectors (`exchanges.mexc` in
//! `tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json` at the workspace root). The spot
//! adapter serves `/api/v3/klines`; ccxt's swap vectors use the separate contract API
//! (`/api/v1/contract/kline`), whose symbols the adapter refuses.

use mexc_adapter::{parse, plan};
use seamless_adapter_kit::{AdapterError, Market, Request, Response, Window, query_param};
use serde_json::Value;

const MINUTE: i64 = 60_000;

fn vectors() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert_eq!(v["ccxt_version"], "4.5.90");
    v["exchanges"]["mexc"].clone()
}

fn list<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key].as_array().expect("vector list")
}

fn ok(body: Vec<u8>) -> Response {
    Response {
        status: 200,
        headers: vec![],
        body,
    }
}

/// ccxt's `until` is inclusive; seamless windows are half-open: `[since, until + 1)`.
fn window_of(args: &Value) -> Window {
    Window {
        start: args["since"].as_i64().unwrap_or(0),
        end: args["params"]["until"].as_i64().map_or(i64::MAX, |u| u + 1),
    }
}

#[test]
fn response_vectors_parse_to_ccxt_candles() {
    let v = vectors();
    let mut n = 0;
    for vec in list(&v, "response") {
        let desc = vec["description"].as_str().unwrap();
        let args = &vec["args"];
        let m = Market::new(
            "mexc",
            args["symbol"].as_str().unwrap(),
            args["timeframe"].as_str().unwrap(),
        );
        let window = window_of(args);
        if vec["market_type"] != "spot" {
            assert!(
                matches!(plan(&m, window, 10), Err(AdapterError::UnknownSymbol(_))),
                "{desc}"
            );
            continue;
        }
        let limit = args["limit"].as_u64().map_or(500, |l| l as u32);
        let request = plan(&m, window, limit).unwrap();
        let body = serde_json::to_vec(&vec["http_response"]).unwrap();
        let page = parse(&m, window, &request, &ok(body)).expect(desc);
        let got: Vec<Vec<f64>> = page
            .candles
            .iter()
            .map(|c| vec![c.open_time as f64, c.open, c.high, c.low, c.close, c.volume])
            .collect();
        let want: Vec<Vec<f64>> = serde_json::from_value(vec["parsed"].clone()).unwrap();
        assert_eq!(got, want, "{desc}");
        n += 1;
    }
    assert_eq!(n, 4);
}

#[test]
fn request_vectors_agree_with_ccxt() {
    let v = vectors();
    let mut compared = 0;
    for vec in list(&v, "request") {
        let desc = vec["description"].as_str().unwrap();
        let args = &vec["args"];
        let m = Market::new(
            "mexc",
            args["symbol"].as_str().unwrap(),
            args["timeframe"].as_str().unwrap(),
        );
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
        let r = plan(&m, w, args["limit"].as_u64().map_or(500, |l| l as u32)).unwrap();
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
    let v = vectors();
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
