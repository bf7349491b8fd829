//! Bitfinex OHLCV adapter: `GET /v2/candles/trade:{tf}:{symbol}/hist?start=&end=&limit=&sort=1`.
//!
//! - `start`/`end` are inclusive ms bounds, `limit` at most 10,000, `sort=1` returns the
//!   oldest rows first (without it: newest first). Rows are
//!   `[MTS, OPEN, CLOSE, HIGH, LOW, VOLUME]`: **close before high**. Intervals without
//!   trades have no row.
//! - Paging is ascending (`sort=1`) from the window start: a full page proves
//!   `[start, last open + tf)` and the next request starts there; a short page proves
//!   the rest of the request. Pages without `sort=1` (live polling) are read as
//!   newest-first pages. Rows are sorted whatever order they arrive in.
//! - Symbols: `t{BASE}{QUOTE}`, or `t{BASE}:{QUOTE}` when a code is longer than three
//!   letters; Bitfinex calls USDT `UST` and USDC `UDC` (`BTC/USDT` → `tBTCUST`).
//! - Volume: `VOLUME` is in base units.
//! - Timeframes: 1m 5m 15m 30m 1h 6h 12h 1D 1W 1M (3h and 14D have no unified name).
//!   `1W` candles must open on Mondays like seamless's `1w`; a row off the grid is
//!   reported as `malformed`, never stored.
//! - Rate limit: the candles endpoint allows about 30 requests per minute per IP (weight
//!   1, no header). HTTP 429 or error 11010 (`ERR_RATE_LIMIT`) → `rate-limited`:
//!   `Retry-After` when sent, else 60 s (Bitfinex blocks an IP for 60 s).
//! - Errors `["error", code, "message"]` → `exchange(code, message)`; `symbol: invalid`
//!   → `unknown-symbol`, `time_interval: invalid` → `unsupported-timeframe`.
//! - Live: REST polling of the newest two candles every `min(timeframe, 10 s)`;
//!   `live-parse` returns no candles (no WebSocket).

use seamless_adapter_kit::paging::{self, Span};
use seamless_adapter_kit::rows::{Layout, array_body};
use seamless_adapter_kit::timeframe::Timeframe::*;
use seamless_adapter_kit::wire::{Intervals, hint, http_error};
use seamless_adapter_kit::{AdapterError as E, AdapterInfo, Market, PollPlan, Query};
use seamless_adapter_kit::{Page, Request, Response, Window, query_param};
use seamless_adapter_kit::{retry_after_ms, symbol, wire::poll_interval_ms};

pub const REST_BASE: &str = "https://api-pub.bitfinex.com";
pub const MAX_LIMIT: u32 = 10_000;
/// Unified timeframe → Bitfinex spelling.
pub const INTERVALS: Intervals = Intervals(&[
    (M1, "1m"),
    (M5, "5m"),
    (M15, "15m"),
    (M30, "30m"),
    (H1, "1h"),
    (H6, "6h"),
    (H12, "12h"),
    (D1, "1D"),
    (W1, "1W"),
    (Month, "1M"),
]);
/// Wait after a rate-limit answer without `Retry-After` (Bitfinex's 60 s block).
pub const DEFAULT_RETRY_MS: u64 = 60_000;
/// Bitfinex's rate-limit error code.
pub const ERR_RATE_LIMIT: i64 = 11010;
const LAYOUT: Layout = Layout {
    index: [0, 1, 3, 4, 2, 5],
    time_unit_ms: 1,
};

pub fn info() -> AdapterInfo {
    AdapterInfo {
        id: "bitfinex".into(),
        name: "Bitfinex".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        base_urls: vec![REST_BASE.into()],
        timeframes: INTERVALS.names(),
        max_candles_per_request: MAX_LIMIT,
        rate_limit: hint(30, 1),
        // Followed by REST polling only (see `live_poll`).
        live_timeframes: Vec::new(),
    }
}

/// `BTC/USDT` → `tBTCUST`, `DOGE/USD` → `tDOGE:USD`.
pub fn symbol_id(unified: &str) -> Result<String, E> {
    let code = |c: &str| match c.to_ascii_uppercase().as_str() {
        "USDT" => "UST".to_owned(),
        "USDC" => "UDC".to_owned(),
        c => c.to_owned(),
    };
    let pair = symbol::split(unified).filter(|p| p.settle.is_none());
    let pair = pair.ok_or_else(|| {
        E::UnknownSymbol(format!("{unified:?} is not a spot symbol like BTC/USD"))
    })?;
    let (b, q) = (code(pair.base), code(pair.quote));
    Ok(if b.len() > 3 || q.len() > 3 {
        format!("t{b}:{q}")
    } else {
        format!("t{b}{q}")
    })
}

fn url(market: &Market, q: Query) -> Result<String, E> {
    let ((_, tf), sym) = (
        INTERVALS.get(&market.timeframe)?,
        symbol_id(&market.symbol)?,
    );
    Ok(q.url(&format!("{REST_BASE}/v2/candles/trade:{tf}:{sym}/hist")))
}

/// Oldest first (`sort=1`), rows opening in `[start, end)`.
fn page(market: &Market, (start, end): (i64, i64), limit: u32) -> Result<Request, E> {
    let q = Query::new().push("start", start).push("end", end - 1);
    Ok(Request::get(url(
        market,
        q.push("limit", limit).push("sort", 1),
    )?))
}

pub fn plan(market: &Market, window: Window, limit: u32) -> Result<Request, E> {
    let w = paging::nonempty(window)?;
    page(market, (w.start, w.end), limit.clamp(1, MAX_LIMIT))
}

pub fn parse(market: &Market, window: Window, req: &Request, resp: &Response) -> Result<Page, E> {
    let (tf, _) = INTERVALS.get(&market.timeframe)?;
    if resp.status != 200 || resp.body.starts_with(b"[\"error\"") {
        return Err(error(resp));
    }
    let rows = array_body(&resp.body, &LAYOUT)?;
    let param = |k| query_param(&req.url, k).and_then(|v| v.parse::<i64>().ok());
    let limit = param("limit").map_or(100, |l| l.clamp(1, i64::from(MAX_LIMIT)) as u32);
    let span = Span {
        start: param("start").unwrap_or(window.start),
        end: param("end").map_or(window.end, |e| e.saturating_add(1)),
        limit: limit as usize,
    };
    // Sorted, unique, on the grid; rows before the asked range were not asked for.
    let mut rows = paging::normalize(tf, rows)?;
    rows.retain(|c| c.open_time >= span.start);
    if param("sort") != Some(1) {
        // Newest first (live polling): proves only what it holds, no next page.
        let p = paging::backward(tf, window, span, rows);
        return Ok(p.page(None));
    }
    let p = paging::forward(tf, window, span, rows);
    let next = p
        .next
        .map(|n| page(market, (n, span.end), limit))
        .transpose()?;
    Ok(p.page(next))
}

/// An error answer (`["error", code, "message"]`, or anything else) → the typed error.
pub fn error(r: &Response) -> E {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let (code, msg) = match (v[0].as_str(), v[1].as_i64()) {
        (Some("error"), Some(code)) => (Some(code), v[2].as_str().unwrap_or_default()),
        _ => (None, ""),
    };
    if r.status == 429 || code == Some(ERR_RATE_LIMIT) {
        return E::RateLimited(retry_after_ms(&r.headers).unwrap_or(DEFAULT_RETRY_MS));
    }
    match code {
        Some(_) if msg.starts_with("symbol: invalid") => E::UnknownSymbol(msg.into()),
        Some(_) if msg.starts_with("time_interval: invalid") => {
            E::UnsupportedTimeframe(INTERVALS.names())
        }
        Some(code) => E::Exchange {
            code,
            message: msg.into(),
        },
        None => http_error(r.status, &r.body),
    }
}

/// Poll the newest two candles every `min(timeframe, 10 s)`.
pub fn live_poll(market: &Market) -> Result<PollPlan, E> {
    let (tf, _) = INTERVALS.get(&market.timeframe)?;
    let request = Request::get(url(market, Query::new().push("limit", 2))?);
    Ok(PollPlan {
        request,
        interval_ms: poll_interval_ms(tf),
    })
}

#[cfg(target_arch = "wasm32")]
seamless_adapter_kit::export_adapter!("../../wit", poll);

#[cfg(test)]
mod tests;
