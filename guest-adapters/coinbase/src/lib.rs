//! Coinbase Advanced Trade OHLCV adapter: public
//! `GET /api/v3/brokerage/market/products/{product_id}/candles?start=&end=&granularity=&limit=`.
//!
//! - `start`/`end` are UNIX seconds; a request may span at most 350 buckets (351 →
//!   `400 INVALID_ARGUMENT "number of candles requested should be less than 350"`), and
//!   `limit` (default and max 350) caps the rows. Rows come **newest first** as
//!   `{"candles":[{"start","low","high","open","close","volume"}]}`, all strings.
//! - Paging goes **backwards** from the window end in ranges of at most `limit` buckets
//!   (`[s, e)` sent as `start=s`, `end=e-1 s`, so the bucket opening at `e` is never
//!   asked for). A range that small is answered completely, so each page proves its
//!   whole range (`covered = [s, e)`), empty buckets included (Coinbase publishes no
//!   candle for a bucket without trades). The next page is the range just below; the
//!   range start strictly decreases, so paging cannot loop. (ccxt instead keeps `end`
//!   fixed and moves `start` forward, which only works while the exchange returns the
//!   oldest rows first; with newest-first rows it skips candles.)
//! - Volume: `volume` is in base units (BTC for BTC-USD).
//! - Timeframes: ONE_MINUTE … ONE_DAY, plus FOUR_HOUR (in the current API reference).
//! - Rate limit: public endpoints allow 10 requests per second per IP (600 per minute,
//!   weight 1, no used-weight header); a 429 waits `Retry-After`, else 1 s.
//! - Errors `{"error":"INVALID_ARGUMENT","error_details":..,"message":..}` carry gRPC
//!   status names: `exchange(gRPC code number, "NAME: message")`; NOT_FOUND (unknown
//!   product) → `unknown-symbol`; RESOURCE_EXHAUSTED / 429 → `rate-limited`.
//! - Live: REST polling of the newest two buckets every `min(timeframe, 10 s)`; this
//!   needs no clock, so the poll request carries no `start`/`end` (the API documents both
//!   as required: the host must add them before sending it). `live-parse` returns no
//!   candles (no WebSocket: Advanced Trade's `candles` channel only has 5-minute buckets).

use seamless_adapter_kit::envelope::envelope;
use seamless_adapter_kit::paging::{self, Span};
use seamless_adapter_kit::rows::{Keys, object_rows};
use seamless_adapter_kit::timeframe::Timeframe::{self, *};
use seamless_adapter_kit::wire::{Intervals, hint, http_error};
use seamless_adapter_kit::{AdapterError as E, AdapterInfo, Market, PollPlan, Query};
use seamless_adapter_kit::{Page, Request, Response, Window, query_param};
use seamless_adapter_kit::{retry_after_ms, symbol, wire::poll_interval_ms};

pub const REST_BASE: &str = "https://api.coinbase.com";
pub const MAX_LIMIT: u32 = 350;
/// Unified timeframe → Coinbase granularity.
pub const INTERVALS: Intervals = Intervals(&[
    (M1, "ONE_MINUTE"),
    (M5, "FIVE_MINUTE"),
    (M15, "FIFTEEN_MINUTE"),
    (M30, "THIRTY_MINUTE"),
    (H1, "ONE_HOUR"),
    (H2, "TWO_HOUR"),
    (H4, "FOUR_HOUR"),
    (H6, "SIX_HOUR"),
    (D1, "ONE_DAY"),
]);
const KEYS: Keys = Keys {
    key: ["start", "open", "high", "low", "close", "volume"],
    time_unit_ms: 1000,
};
/// gRPC status names, in code order (Coinbase's `error` values).
const GRPC: &str = "OK CANCELLED UNKNOWN INVALID_ARGUMENT DEADLINE_EXCEEDED NOT_FOUND ALREADY_EXISTS \
    PERMISSION_DENIED RESOURCE_EXHAUSTED FAILED_PRECONDITION ABORTED OUT_OF_RANGE UNIMPLEMENTED \
    INTERNAL UNAVAILABLE DATA_LOSS UNAUTHENTICATED";

pub fn info() -> AdapterInfo {
    AdapterInfo {
        id: "coinbase".into(),
        name: "Coinbase Advanced Trade".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        base_urls: vec![REST_BASE.into()],
        timeframes: INTERVALS.names(),
        max_candles_per_request: MAX_LIMIT,
        rate_limit: hint(600, 1),
        // Followed by REST polling only (see `live_poll`).
        live_timeframes: Vec::new(),
    }
}

/// The timeframe, its duration in ms and its granularity name.
pub fn timeframe(name: &str) -> Result<(Timeframe, i64, &'static str), E> {
    let (tf, g) = INTERVALS.get(name)?;
    Ok((tf, tf.duration_ms().unwrap_or(86_400_000), g))
}

/// `BTC/USD` (or `BTC-USD`) → `BTC-USD`.
pub fn product_id(unified: &str) -> Result<String, E> {
    let id = symbol::join_upper(&unified.replacen('-', "/", 1), "-");
    id.ok_or_else(|| E::UnknownSymbol(format!("{unified:?} is not a spot symbol like BTC/USD")))
}

fn url(market: &Market, q: Query) -> Result<String, E> {
    let id = product_id(&market.symbol)?;
    Ok(q.url(&format!(
        "{REST_BASE}/api/v3/brokerage/market/products/{id}/candles"
    )))
}

/// The request for the buckets opening in `[s, e)` (ms, on the grid).
fn range(market: &Market, g: &str, (s, e): (i64, i64), limit: u32) -> Result<Request, E> {
    let q = Query::new()
        .push("start", s.div_euclid(1000))
        .push("end", e.div_euclid(1000) - 1);
    let q = q.push("granularity", g).push("limit", limit);
    Ok(Request::get(url(market, q)?))
}

/// The first (newest) page of `window`: its last `limit` buckets.
pub fn plan(market: &Market, window: Window, limit: u32) -> Result<Request, E> {
    let ((_, d, g), w) = (timeframe(&market.timeframe)?, paging::nonempty(window)?);
    let limit = limit.clamp(1, MAX_LIMIT);
    let start = w.end.saturating_sub(d * i64::from(limit)).max(w.start);
    range(market, g, (start, w.end), limit)
}

pub fn parse(market: &Market, window: Window, req: &Request, resp: &Response) -> Result<Page, E> {
    let (tf, d, g) = timeframe(&market.timeframe)?;
    if resp.status != 200 {
        return Err(error(resp));
    }
    let (_, rows) = envelope(&resp.body, "error", &["candles"], |s| object_rows(s, &KEYS))?;
    let rows = rows.ok_or_else(|| E::Malformed("no \"candles\" in the body".into()))?;
    let param = |k| query_param(&req.url, k).and_then(|v| v.parse::<i64>().ok());
    let limit = param("limit").map_or(MAX_LIMIT, |l| l.clamp(1, i64::from(MAX_LIMIT)) as u32);
    let lo = param("start").map_or(window.start, |v| v.saturating_mul(1000));
    let hi = param("end").map_or(window.end, |v| v.saturating_add(1).saturating_mul(1000));
    // The range has at most `limit` buckets: the answer is complete for all of it.
    let mut rows = paging::normalize(tf, rows)?;
    rows.retain(|c| c.open_time >= lo); // rows before the range were not asked for
    let span = Span {
        start: lo,
        end: hi,
        limit: usize::MAX,
    };
    let p = paging::forward(tf, window, span, rows);
    let below = window.start.max(lo.saturating_sub(d * i64::from(limit)));
    let next = (lo > window.start)
        .then(|| range(market, g, (below, lo), limit))
        .transpose()?;
    Ok(p.page(next))
}

/// A non-200 answer → the typed error.
pub fn error(r: &Response) -> E {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
    let (name, mut message) = (text("error"), text("message"));
    if message.is_empty() {
        message = text("error_details");
    }
    let code = GRPC
        .split_whitespace()
        .position(|c| c == name)
        .map(|i| i as i64);
    match (code, name.as_str()) {
        _ if r.status == 429 || name == "RESOURCE_EXHAUSTED" => {
            E::RateLimited(retry_after_ms(&r.headers).unwrap_or(1_000))
        }
        (Some(_), "NOT_FOUND") => E::UnknownSymbol(message),
        (Some(_), "INVALID_ARGUMENT") if message.contains("granularity") => {
            E::UnsupportedTimeframe(INTERVALS.names())
        }
        (Some(code), _) => E::Exchange {
            code,
            message: format!("{name}: {message}"),
        },
        (None, _) if message.is_empty() => http_error(r.status, &r.body),
        (None, _) => E::Exchange {
            code: i64::from(r.status),
            message,
        },
    }
}

/// Poll the newest two buckets every `min(timeframe, 10 s)` (see the crate docs).
pub fn live_poll(market: &Market) -> Result<PollPlan, E> {
    let (tf, _, g) = timeframe(&market.timeframe)?;
    let q = Query::new().push("granularity", g).push("limit", 2);
    let request = Request::get(url(market, q)?);
    Ok(PollPlan {
        request,
        interval_ms: poll_interval_ms(tf),
    })
}

#[cfg(target_arch = "wasm32")]
seamless_adapter_kit::export_adapter!("../../wit", poll);

#[cfg(test)]
mod tests;
