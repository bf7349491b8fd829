//! ccxt's OHLCV conformance vectors and the helpers every adapter's `tests/ccxt.rs` uses.

use seamless_adapter_kit::{Candle, Market, Window, query_param};
use serde_json::Value;

use crate::MINUTE;

/// The ccxt release the vectors were recorded with.
pub const CCXT_VERSION: &str = "4.5.90";

/// The vectors of `exchange` (its entry under `exchanges`), after checking the file's
/// ccxt version.
pub fn vectors(exchange: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json");
    let text = std::fs::read_to_string(&path).expect("ccxt vectors present");
    let v: Value = serde_json::from_str(&text).expect("vectors are JSON");
    assert_eq!(v["ccxt_version"], CCXT_VERSION);
    v["exchanges"][exchange].clone()
}

/// The vector list (or any array) under `key`.
pub fn list<'a>(v: &'a Value, key: &str) -> &'a Vec<Value> {
    v[key].as_array().expect("vector list")
}

/// Milliseconds of the timeframes the vectors use.
pub fn tf_ms(tf: &str) -> i64 {
    match tf {
        "1m" => MINUTE,
        "1h" => 60 * MINUTE,
        "1d" => 1440 * MINUTE,
        other => panic!("timeframe {other} not in the vectors"),
    }
}

/// ccxt's `until` is inclusive; seamless windows are half-open: `[since, until + 1)`.
/// Without `since` the window starts at 0, without `until` it is open-ended.
pub fn window_until(args: &Value) -> Window {
    Window {
        start: args["since"].as_i64().unwrap_or(0),
        end: args["params"]["until"]
            .as_i64()
            .map_or(i64::MAX, |until| until + 1),
    }
}

/// ccxt's arguments as a seamless window: `since` is the start; `until` is inclusive, so the
/// end is `until + 1`; `since` with a `limit` asks for the first `limit` candles.
pub fn window_since_limit(args: &Value) -> Window {
    let since = args["since"].as_i64();
    let limit = args["limit"].as_i64();
    let end = match (args["params"]["until"].as_i64(), since, limit) {
        (Some(until), _, _) => until + 1,
        (None, Some(s), Some(l)) => s + l * tf_ms(args["timeframe"].as_str().expect("tf")),
        _ => i64::MAX,
    };
    Window {
        start: since.unwrap_or(0),
        end,
    }
}

/// The market of a vector's `args` (`symbol`, `timeframe`) on `exchange`.
pub fn market(exchange: &str, args: &Value) -> Market {
    Market::new(
        exchange,
        args["symbol"].as_str().expect("symbol"),
        args["timeframe"].as_str().expect("tf"),
    )
}

/// Candles as ccxt's rows: `[open_time, open, high, low, close, volume]`.
pub fn candle_rows(candles: &[Candle]) -> Vec<Vec<f64>> {
    candles
        .iter()
        .map(|c| vec![c.open_time as f64, c.open, c.high, c.low, c.close, c.volume])
        .collect()
}

/// A response vector's expected candles (its `parsed` rows) as numbers.
pub fn parsed_rows(vector: &Value) -> Vec<Vec<f64>> {
    list(vector, "parsed")
        .iter()
        .map(|r| {
            r.as_array()
                .expect("row")
                .iter()
                .map(|x| x.as_f64().expect("number"))
                .collect()
        })
        .collect()
}

/// The body a response vector's `http_response` was recorded with.
pub fn response_body(vector: &Value) -> Vec<u8> {
    serde_json::to_vec(&vector["http_response"]).expect("serialize")
}

/// The `limit` argument of a vector, or `default`.
pub fn limit_or(args: &Value, default: u32) -> u32 {
    args["limit"].as_u64().map_or(default, |l| l as u32)
}

/// An integer query parameter of `url`, if present and numeric.
pub fn query_num(url: &str, key: &str) -> Option<i64> {
    query_param(url, key).and_then(|v| v.parse::<i64>().ok())
}

/// Assert that `candles` are exactly the response vector's `parsed` rows; `context` labels
/// a failure.
pub fn assert_parsed_candles(candles: &[Candle], vector: &Value, context: &str) {
    let got: Vec<Vec<f64>> = candle_rows(candles);
    let want: Vec<Vec<f64>> = parsed_rows(vector);
    assert_eq!(got, want, "{context}");
}
