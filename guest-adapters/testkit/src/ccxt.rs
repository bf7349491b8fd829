//! ccxt's OHLCV conformance vectors and the helpers every adapter's `tests/ccxt.rs` uses:
//! [`check_responses`] runs every `response` vector of an exchange through the adapter
//! (one [`Adapter`] table per crate says how) and compares the candles with ccxt's.

use seamless_adapter_kit::{
    AdapterError, Candle, Market, Page, Request, Response, Window, query_param,
};
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

/// What a vector test needs of an adapter: its vectors, its `plan` and `parse`, how a
/// vector's arguments become a window, and the page size for a vector without `limit`.
#[derive(Clone, Copy)]
pub struct Adapter {
    /// The exchange's entry in the vectors file (and the market's exchange id).
    pub vectors: &'static str,
    pub plan: fn(&Market, Window, u32) -> Result<Request, AdapterError>,
    pub parse: fn(&Market, Window, &Request, &Response) -> Result<Page, AdapterError>,
    /// A vector's `args` as a window ([`window_since_limit`] or [`window_until`]).
    pub window: fn(&Value) -> Window,
    /// The page size planned for a vector without `limit`.
    pub default_limit: u32,
}

impl Adapter {
    /// Plan the first request of `window` for `market` (the vector's `limit`, or
    /// [`Adapter::default_limit`]) and parse the vector's recorded body as its answer.
    pub fn candles(&self, vector: &Value, market: &Market, window: Window) -> Vec<Candle> {
        let limit = limit_or(&vector["args"], self.default_limit);
        let request = (self.plan)(market, window, limit).expect("plan");
        self.candles_for(vector, market, window, &request)
    }

    /// Parse the vector's recorded body as the answer to `request`.
    pub fn candles_for(
        &self,
        vector: &Value,
        market: &Market,
        window: Window,
        request: &Request,
    ) -> Vec<Candle> {
        let body = crate::ok(response_body(vector));
        let page = (self.parse)(market, window, request, &body);
        page.unwrap_or_else(|e| panic!("{}: {e:?}", label(vector)))
            .candles
    }

    /// The usual answer: the market of the vector's `symbol`/`timeframe`, the window of
    /// its arguments, the first request, its candles.
    pub fn answer(&self, vector: &Value) -> Answer {
        let args = &vector["args"];
        let (m, w) = (market(self.vectors, args), (self.window)(args));
        Answer::Parsed(self.candles(vector, &m, w))
    }

    /// `plan` for the vector's market refuses it as an unknown symbol (a market type the
    /// adapter does not serve).
    pub fn refusal(&self, vector: &Value) -> Answer {
        let args = &vector["args"];
        let (m, w) = (market(self.vectors, args), (self.window)(args));
        match (self.plan)(&m, w, 10) {
            Err(e) => Answer::Refused(e),
            Ok(r) => panic!(
                "{}: planned {} for a market it does not serve",
                label(vector),
                r.url
            ),
        }
    }
}

/// How an adapter answered one response vector.
#[derive(Debug)]
pub enum Answer {
    /// Candles that must equal the vector's `parsed` rows (open times as exact integers).
    Parsed(Vec<Candle>),
    /// Candles that must equal these rows instead (a documented difference from ccxt).
    Differs(Vec<Candle>, Vec<Vec<f64>>),
    /// The adapter refused the market (`plan` said `unknown-symbol`).
    Refused(AdapterError),
}

/// How many response vectors were parsed and compared, and how many refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tally {
    pub parsed: usize,
    pub refused: usize,
}

/// `market_type description` of a vector, for failure messages.
pub fn label(vector: &Value) -> String {
    let desc = vector["description"].as_str().unwrap_or("?");
    match vector["market_type"].as_str() {
        Some(t) => format!("{t} {desc}"),
        None => desc.to_string(),
    }
}

/// Every `response` vector of `exchange`, answered by `answer` and checked: parsed candles
/// equal ccxt's rows (or the documented ones), refusals are `unknown-symbol`. Returns the
/// tally for the caller to pin.
pub fn check_responses(exchange: &str, mut answer: impl FnMut(&Value) -> Answer) -> Tally {
    let v = vectors(exchange);
    let mut tally = Tally {
        parsed: 0,
        refused: 0,
    };
    for vector in list(&v, "response") {
        let context = label(vector);
        match answer(vector) {
            Answer::Parsed(candles) => {
                assert_parsed_candles(&candles, vector, &context);
                for (c, row) in candles.iter().zip(list(vector, "parsed")) {
                    assert_eq!(Some(c.open_time), row[0].as_i64(), "{context}");
                }
                tally.parsed += 1;
            }
            Answer::Differs(candles, want) => {
                assert_eq!(candle_rows(&candles), want, "{context}");
                tally.parsed += 1;
            }
            Answer::Refused(e) => {
                assert!(
                    matches!(e, AdapterError::UnknownSymbol(_)),
                    "{context}: {e:?}"
                );
                tally.refused += 1;
            }
        }
    }
    tally
}
