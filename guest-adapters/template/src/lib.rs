//! TEMPLATE adapter for a made-up exchange, "example" (see README.md). Its API, also
//! served by the simulator under `/example`:
//!
//! `GET /candles?market=BTC-USDT&tf=1m&from=<ms>&to=<ms>&limit=<1..500>` →
//! `{"candles":[[open_ms, open, high, low, close, base_volume], ...]}`, oldest first,
//! rows with `from <= open < to` (without `from`/`to`: the newest `limit` rows).
//! Errors: `{"error":{"code":1001,"message":"unknown market"}}`; HTTP 429 with
//! `Retry-After` when over 1200 requests a minute.
//!
//! Everything is plain Rust over the kit's types (so `cargo test` runs natively); the
//! `export_adapter!` line at the end makes the WebAssembly component.

use seamless_adapter_kit::envelope::envelope;
use seamless_adapter_kit::paging::{self, Span};
use seamless_adapter_kit::rows::{Layout, array_rows};
use seamless_adapter_kit::timeframe::Timeframe::*;
use seamless_adapter_kit::wire::{Intervals, hint, http_error};
use seamless_adapter_kit::{AdapterError as E, AdapterInfo, Market, PollPlan, Query};
use seamless_adapter_kit::{Page, Request, Response, Window, query_param};
use seamless_adapter_kit::{retry_after_ms, symbol, wire::poll_interval_ms};

/// Every URL we produce starts with this (the host refuses others; users can map it,
/// e.g. `--exchange-url example=http://127.0.0.1:8080/example`).
pub const BASE: &str = "https://api.example.com";
/// The exchange's largest page.
pub const MAX_LIMIT: u32 = 500;
/// Unified timeframe → the exchange's spelling (the same here).
const INTERVALS: Intervals = Intervals(&[
    (M1, "1m"),
    (M5, "5m"),
    (M15, "15m"),
    (H1, "1h"),
    (H4, "4h"),
    (D1, "1d"),
]);

/// Called once at load: who we are and what we may do.
pub fn info() -> AdapterInfo {
    AdapterInfo {
        id: "example".into(), // node ids read ohlcv:example:BTC/USDT:1m
        name: "Example Exchange (template)".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        base_urls: vec![BASE.into()],
        timeframes: INTERVALS.names(),
        max_candles_per_request: MAX_LIMIT,
        rate_limit: hint(1200, 1),
        // Followed by REST polling only (see `live_poll`).
        live_timeframes: Vec::new(),
    }
}

/// The request for rows opening in `[from, to)` (`None`: the newest rows).
fn request(market: &Market, span: Option<(i64, i64)>, limit: u32) -> Result<Request, E> {
    let (_, tf) = INTERVALS.get(&market.timeframe)?; // or `unsupported-timeframe`
    let id = symbol::join_upper(&market.symbol, "-") // BTC/USDT → BTC-USDT
        .ok_or_else(|| E::UnknownSymbol(market.symbol.clone()))?;
    let mut q = Query::new().push("market", id).push("tf", tf);
    if let Some((from, to)) = span {
        q = q.push("from", from).push("to", to);
    }
    Ok(Request::get(
        q.push("limit", limit).url(&format!("{BASE}/candles")),
    ))
}

/// The first request of a window (the host gives aligned, half-open windows).
pub fn plan(market: &Market, window: Window, limit: u32) -> Result<Request, E> {
    let w = paging::nonempty(window)?;
    request(market, Some((w.start, w.end)), limit.clamp(1, MAX_LIMIT))
}

/// One response → candles, the range it proves complete, and the next request.
pub fn parse(market: &Market, window: Window, req: &Request, resp: &Response) -> Result<Page, E> {
    let (tf, _) = INTERVALS.get(&market.timeframe)?;
    if resp.status != 200 {
        return Err(error(resp));
    }
    // Read the rows at `candles` without building a DOM; anything odd is `malformed`.
    let layout = Layout::OHLCV_MS; // [t, o, h, l, c, v], time in ms
    let (_, rows) = envelope(&resp.body, "error", &["candles"], |s| {
        array_rows(s, &layout)
    })?;
    let rows = rows.ok_or_else(|| E::Malformed("no \"candles\" in the body".into()))?;
    // What we asked for: we wrote these parameters ourselves in `request`.
    let param = |k| query_param(&req.url, k).and_then(|v| v.parse::<i64>().ok());
    let limit = param("limit").map_or(MAX_LIMIT, |l| l.clamp(1, MAX_LIMIT.into()) as u32);
    // Sorted, unique, on the grid (an off-grid row is `malformed`).
    let mut rows = paging::normalize(tf, rows)?;
    let Some((from, to)) = param("from").zip(param("to")) else {
        // A live poll: the newest `limit` rows prove only [first row, window end).
        let span = Span {
            start: window.start,
            end: window.end,
            limit: limit as usize,
        };
        return Ok(paging::backward(tf, window, span, rows).page(None));
    };
    // Oldest-first pages: a full page proves [from, last open + tf) and continues
    // there; a short one proves [from, to). The kit does this bookkeeping.
    rows.retain(|c| c.open_time >= from); // rows before `from` were not asked for
    let span = Span {
        start: from,
        end: to,
        limit: limit as usize,
    };
    let p = paging::forward(tf, window, span, rows);
    let next = p
        .next
        .map(|from| request(market, Some((from, to)), limit))
        .transpose()?;
    Ok(p.page(next))
}

/// A non-200 answer → the typed error the host acts on (wait, surface, give up).
fn error(resp: &Response) -> E {
    if resp.status == 429 {
        return E::RateLimited(retry_after_ms(&resp.headers).unwrap_or(1000));
    }
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    match (v["error"]["code"].as_i64(), v["error"]["message"].as_str()) {
        (Some(1001), Some(m)) => E::UnknownSymbol(m.into()),
        (Some(1002), _) => E::UnsupportedTimeframe(INTERVALS.names()),
        (Some(code), Some(m)) => E::Exchange {
            code,
            message: m.into(),
        },
        _ => http_error(resp.status, &resp.body), // not our format: status + excerpt
    }
}

/// Following live: poll the newest rows every `min(timeframe, 10 s)`.
pub fn live_poll(market: &Market) -> Result<PollPlan, E> {
    let (tf, _) = INTERVALS.get(&market.timeframe)?;
    Ok(PollPlan {
        request: request(market, None, 2)?,
        interval_ms: poll_interval_ms(tf),
    })
}

// The component: WIT bindings + a `Guest` impl calling the functions above. `poll`:
// no WebSocket, so the exported `live-parse` returns no candles.
#[cfg(target_arch = "wasm32")]
seamless_adapter_kit::export_adapter!("../../wit", poll);

#[cfg(test)]
mod tests;
