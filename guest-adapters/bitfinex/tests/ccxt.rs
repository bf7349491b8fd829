//! Conformance against ccxt 4.5.90's Bitfinex vectors
//! (`tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json` at the workspace root).
//!
//! - `response` vectors: the same payloads (newest first or `sort=1` ascending) parse
//!   to exactly ccxt's candles.
//! - `request` vectors: same base, candle key, `start`, `limit`, `sort=1`, and `end`
//!   = ccxt's inclusive `until`; seamless always bounds a request by its window end.
//! - `pagination`: one request of up to 10,000 rows covers the day, as in ccxt.
//!
//! Weekly candles: ccxt spells 1w `7D`; seamless uses `1W`, the spelling in Bitfinex's
//! current reference (both name the same candles).

use bitfinex_adapter::{parse, plan};
use seamless_adapter_kit::{Market, Window, query_param};
use seamless_adapter_testkit::ccxt::{
    Adapter, Answer, Tally, check_responses, list, tf_ms, vectors,
};
use serde_json::Value;

/// How the ccxt vector runner drives this adapter (windows: see [`window_of`]).
const BITFINEX: Adapter = Adapter {
    vectors: "bitfinex",
    plan,
    parse,
    window: window_of,
    default_limit: 10_000,
};

/// `since` + `limit` candles (the default limit without one); without `since` a window
/// ending at 2025-01-01.
fn window_of(args: &Value) -> Window {
    let tf = args["timeframe"].as_str().expect("tf");
    let limit = args["limit"].as_u64().map_or(10_000, |l| l as u32);
    Window {
        start: args["since"].as_i64().unwrap_or(0),
        end: args["since"]
            .as_i64()
            .map_or(1_735_689_600_000, |s| s + i64::from(limit) * tf_ms(tf)),
    }
}

#[test]
fn response_vectors_parse_to_ccxt_candles() {
    let tally = check_responses("bitfinex", |v| {
        let market = Market::new(
            "bitfinex",
            "BTC/USD",
            v["args"]["timeframe"].as_str().expect("tf"),
        );
        Answer::Parsed(BITFINEX.candles(v, &market, window_of(&v["args"])))
    });
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
    let v = vectors("bitfinex");
    let mut compared = 0;
    for vec in list(&v, "request")
        .iter()
        .chain(list(&v, "pagination").iter())
    {
        let desc = vec["description"].as_str().unwrap_or("?");
        let args = &vec["args"];
        let Some(since) = args["since"].as_i64() else {
            continue; // seamless plans explicit windows only
        };
        let url = vec["url"]
            .as_str()
            .or_else(|| vec["requests"][0]["url"].as_str())
            .expect("url");
        let tf = args["timeframe"].as_str().expect("tf");
        let market = Market::new("bitfinex", "BTC/USD", tf);
        let limit = args["limit"].as_u64().map_or(10_000, |l| l as u32);
        let until = args["params"]["until"].as_i64();
        let end = until.map_or(since + i64::from(limit) * tf_ms(tf), |u| u + 1);
        let r = plan(&market, Window { start: since, end }, limit).expect(desc);
        assert_eq!(r.url.split('?').next(), url.split('?').next(), "{desc}");
        for key in ["start", "limit", "sort"] {
            assert_eq!(
                query_param(&r.url, key),
                query_param(url, key),
                "{desc}: {key}"
            );
        }
        match query_param(url, "end") {
            Some(e) => assert_eq!(query_param(&r.url, "end"), Some(e), "{desc}"),
            None => assert_eq!(
                query_param(&r.url, "end"),
                Some((end - 1).to_string().as_str()),
                "{desc}"
            ),
        }
        compared += 1;
    }
    assert_eq!(compared, 6);
}
