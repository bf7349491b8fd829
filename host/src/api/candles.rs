//! `GET /v1/candles` and `GET /v1/coverage`: the query parsed into a node and a window
//! exactly as the CLI parses `--node/--start/--end` (any time form it accepts, aligned to the
//! grid), served through the provider and the live layer as `seamless fetch` serves them.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::encode::{Encoding, encode};
use super::{ApiState, json, problem};
use crate::domain::{NodeId, Window, now_ms, parse_time};
use crate::provider::{FetchOptions, ProviderError, Strategy};

/// Most candles one `/v1/candles` call may ask for (a year of 1m is 525,600).
pub const MAX_CANDLES: i64 = 2_000_000;

/// The query's `(name, value)` pairs.
type Params = Query<Vec<(String, String)>>;

/// A refused query: 400 with the message.
struct BadRequest(String);

impl From<BadRequest> for Response {
    fn from(b: BadRequest) -> Response {
        problem(StatusCode::BAD_REQUEST, b.0)
    }
}

/// The one value of `name`, if given; a repeated or unknown parameter is refused.
struct QueryParams<'a> {
    pairs: &'a [(String, String)],
}

impl<'a> QueryParams<'a> {
    fn new(pairs: &'a [(String, String)], allowed: &[&str]) -> Result<Self, BadRequest> {
        for (i, (k, _)) in pairs.iter().enumerate() {
            if !allowed.contains(&k.as_str()) {
                return Err(BadRequest(format!(
                    "unknown parameter '{k}': use {}",
                    allowed.join(", ")
                )));
            }
            if pairs[..i].iter().any(|(p, _)| p == k) {
                return Err(BadRequest(format!(
                    "parameter '{k}' given twice: give it once"
                )));
            }
        }
        Ok(QueryParams { pairs })
    }

    fn get(&self, name: &str) -> Option<&'a str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn node(&self) -> Result<NodeId, BadRequest> {
        let raw = self.get("node").ok_or_else(|| {
            BadRequest("missing parameter 'node': add node=ohlcv:EXCHANGE:SYMBOL:TIMEFRAME, e.g. node=ohlcv:binance:BTC/USDT:1m".into())
        })?;
        raw.parse()
            .map_err(|e| BadRequest(format!("bad node '{raw}': {e}")))
    }

    fn time(&self, name: &str, now: i64) -> Result<Option<i64>, BadRequest> {
        self.get(name)
            .map(|v| {
                parse_time(v, now).map_err(|e| {
                    BadRequest(format!(
                        "bad {name} '{v}': {e}; use ISO-8601 (2024-01-01T00:00:00Z), a date, epoch s or ms, or relative (-7d, now)"
                    ))
                })
            })
            .transpose()
    }

    fn flag(&self, name: &str) -> Result<bool, BadRequest> {
        match self.get(name) {
            None | Some("false") | Some("0") => Ok(false),
            Some("true") | Some("1") | Some("") => Ok(true),
            Some(v) => Err(BadRequest(format!("bad {name} '{v}': use true or false"))),
        }
    }
}

/// `[start, end)` aligned to the node's grid, refusing empty, reversed and oversized windows.
fn window(q: &QueryParams<'_>, node: &NodeId, now: i64) -> Result<Window, BadRequest> {
    let start = q.time("start", now)?.ok_or_else(|| {
        BadRequest("missing parameter 'start': add start=2024-01-01 (or any time form)".into())
    })?;
    let end = q.time("end", now)?.unwrap_or(now);
    let w = Window::new(start, end)
        .map_err(|e| BadRequest(format!("bad window: {e}; start must be before end")))?;
    let (w, _) = w.align(node.timeframe);
    let slots = node.timeframe.slots(w.start, w.end);
    if slots > MAX_CANDLES {
        return Err(BadRequest(format!(
            "window of {slots} {} candles is over the limit of {MAX_CANDLES} per request: ask for it in parts",
            node.timeframe
        )));
    }
    Ok(w)
}

/// The HTTP status of a provider error: 400 bad input, 409 incomplete, 502 the exchange.
fn failure(e: ProviderError) -> Response {
    let status = if e.is_bad_input() {
        StatusCode::BAD_REQUEST
    } else if e.is_incomplete() {
        StatusCode::CONFLICT
    } else {
        StatusCode::BAD_GATEWAY
    };
    let mut text = e.to_string();
    if let Some(r) = e.remedy() {
        text = text.replacen(&r.to_string(), "add partial_ok=true", 1);
    }
    let missing = match &e {
        ProviderError::Incomplete { missing, .. } => serde_json::to_value(missing).ok(),
        _ => None,
    };
    json(
        status,
        &serde_json::json!({ "error": text, "missing": missing }),
    )
}

/// The node of a `/v1/stream` query (its only parameter), or why the query is refused.
pub(super) fn stream_node(pairs: &[(String, String)]) -> Result<NodeId, String> {
    let q = QueryParams::new(pairs, &["node"]).map_err(|b| b.0)?;
    q.node().map_err(|b| b.0)
}

/// `GET /v1/candles`.
pub async fn candles(State(s): State<Arc<ApiState>>, Query(pairs): Params) -> Response {
    let q = match QueryParams::new(
        &pairs,
        &["node", "start", "end", "strategy", "partial_ok", "format"],
    ) {
        Ok(q) => q,
        Err(b) => return b.into(),
    };
    let now = now_ms();
    let parsed = (|| {
        let node = q.node()?;
        let w = window(&q, &node, now)?;
        let strategy = match q.get("strategy") {
            None => Strategy::Seamless,
            Some(v) => v
                .parse()
                .map_err(|e| BadRequest(format!("bad strategy '{v}': {e}")))?,
        };
        let encoding = match q.get("format") {
            None => Encoding::Json,
            Some(v) => v.parse().map_err(BadRequest)?,
        };
        Ok::<_, BadRequest>((node, w, strategy, q.flag("partial_ok")?, encoding))
    })();
    let (node, w, strategy, partial_ok, encoding) = match parsed {
        Ok(p) => p,
        Err(b) => return b.into(),
    };
    let span = tracing::info_span!("api_candles", exchange = %node.exchange, symbol = %node.symbol, timeframe = %node.timeframe);
    let _g = span.enter();
    let opts = FetchOptions {
        strategy,
        partial_ok,
        sla: s.sla.clone(),
        include_forming: false,
    };
    match crate::live::fetch_with_live(&s.provider, &node, w, &opts).await {
        Ok(f) => encode(encoding, &f.candles, &f.metadata),
        Err(e) => failure(e),
    }
}

/// `GET /v1/coverage`: what the ledger holds over the window (default: from the first range
/// it knows to now).
pub async fn coverage(State(s): State<Arc<ApiState>>, Query(pairs): Params) -> Response {
    let q = match QueryParams::new(&pairs, &["node", "start", "end"]) {
        Ok(q) => q,
        Err(b) => return b.into(),
    };
    let now = now_ms();
    let node = match q.node() {
        Ok(n) => n,
        Err(b) => return b.into(),
    };
    let (start, end) = match (q.time("start", now), q.time("end", now)) {
        (Ok(s), Ok(e)) => (s, e.unwrap_or(now)),
        (Err(b), _) | (_, Err(b)) => return b.into(),
    };
    let report = match s.provider.coverage_report(&node, start, end).await {
        Ok(r) => r,
        Err(e) => return failure(e),
    };
    let v = serde_json::to_value(&report).unwrap_or_default();
    json(StatusCode::OK, &v)
}
