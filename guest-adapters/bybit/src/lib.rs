//! Bybit v5 OHLCV adapter: `GET /v5/market/kline` (spot, USDT/USDC linear and inverse).
//!
//! - Request: `category` (`spot` for `BTC/USDT`, `linear` for `BTC/USDT:USDT`, `inverse`
//!   for `BTC/USD:BTC`), `symbol` (`BTCUSDT`), `interval` (`1 3 5 15 30 60 120 240 360 720
//!   D W M`), `start`/`end` in ms (both inclusive: seamless sends `end = window end − 1`),
//!   `limit` 1..=1000 (default 200).
//! - Rows `result.list[] = ["startMs","o","h","l","c","volume","turnover"]` come **newest
//!   first**, and a range holding more than `limit` candles gives its newest `limit`. So
//!   paging goes **backwards**: a full page proves `[oldest row, end]`, the next request
//!   keeps `start` and moves `end` below the oldest row; a short page proves the rest down
//!   to the window start (kit `paging::backward`). ccxt 4.5.90 instead keeps `end` and moves
//!   `start` forward by fixed steps: on this newest-first endpoint every page is the newest
//!   `limit` rows again, so it skips the older candles of the range.
//! - Volume (base units): `volume` (field 5) for spot (coins) and linear (one contract = one
//!   coin); for inverse contracts `volume` counts USD contracts, so `turnover` (field 6,
//!   in the base coin) is used.
//! - Weeks open on Monday 00:00 UTC, months on the 1st; rows off the unified grid are refused.
//! - Rate limit: 600 requests per 5 s per IP. The host's limiter allows a burst of half
//!   the per-minute budget, so the hint is 1000/min (≤ 500 + refill in any 5 s), weight 1;
//!   the `X-Bapi-Limit-Status` header counts what is *left*, so no used-weight header.
//!   `retCode` 10006 ("Too many visits!") → `rate-limited(X-Bapi-Limit-Reset-Timestamp −
//!   body time)` (else `Retry-After`, else 1 s); HTTP 403 ("access too frequent", an IP ban)
//!   → `rate-limited(10 min)`, the documented minimum wait.
//! - Errors: `retCode` 10001 naming the symbol → `unknown-symbol`, naming the interval or
//!   period → `unsupported-timeframe`; any other → `exchange(retCode, retMsg)`.
//! - Live: REST polling of the newest two candles every `min(timeframe, 10 s)` (no
//!   WebSocket; `live_parse` returns no candles).

use seamless_adapter_kit::envelope::envelope;
use seamless_adapter_kit::num::value_i64;
use seamless_adapter_kit::paging::{Span, backward, nonempty, normalize};
use seamless_adapter_kit::rows::{Layout, array_rows};
use seamless_adapter_kit::timeframe::Timeframe;
use seamless_adapter_kit::wire::{Intervals, excerpt, hint, poll};
use seamless_adapter_kit::{AdapterError as E, AdapterInfo, Market, Page, PollPlan};
use seamless_adapter_kit::{Query, Request, Response, Window, header};
use seamless_adapter_kit::{query_param, retry_after_ms, set_query_param, symbol};

pub const REST_BASE: &str = "https://api.bybit.com";
pub const KLINE_PATH: &str = "/v5/market/kline";
pub const MAX_LIMIT: u32 = 1000;
pub const DEFAULT_LIMIT: u32 = 200;
/// Wait after an IP ban (HTTP 403): "wait for at least 10 minutes".
pub const IP_BAN_MS: u64 = 600_000;
/// Unified timeframe → Bybit interval.
pub const INTERVALS: Intervals = Intervals(&[
    (Timeframe::M1, "1"),
    (Timeframe::M3, "3"),
    (Timeframe::M5, "5"),
    (Timeframe::M15, "15"),
    (Timeframe::M30, "30"),
    (Timeframe::H1, "60"),
    (Timeframe::H2, "120"),
    (Timeframe::H4, "240"),
    (Timeframe::H6, "360"),
    (Timeframe::H12, "720"),
    (Timeframe::D1, "D"),
    (Timeframe::W1, "W"),
    (Timeframe::Month, "M"),
]);

pub fn info() -> AdapterInfo {
    AdapterInfo {
        id: "bybit".into(),
        name: "Bybit".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        base_urls: vec![REST_BASE.into(), live::WS_BASE.into()],
        timeframes: INTERVALS.names(),
        max_candles_per_request: MAX_LIMIT,
        rate_limit: hint(1000, 1),
        // Spot and linear markets stream every timeframe (`live_plan`); inverse ones poll.
        live_timeframes: INTERVALS.names(),
    }
}

pub fn timeframe(name: &str) -> Result<(Timeframe, &'static str), E> {
    INTERVALS.get(name)
}

/// Category, symbol id and the row layout (which field holds the base volume).
pub fn instrument(unified: &str) -> Result<(&'static str, String, Layout), E> {
    let bad = || {
        E::UnknownSymbol(format!(
            "{unified:?} is not like BTC/USDT, BTC/USDT:USDT or BTC/USD:BTC"
        ))
    };
    let p = symbol::split(unified).ok_or_else(bad)?;
    let id = format!("{}{}", p.base, p.quote).to_ascii_uppercase();
    let layout = |v| Layout {
        index: [0, 1, 2, 3, 4, v],
        time_unit_ms: 1,
    };
    match p.settle {
        None => Ok(("spot", id, layout(5))),
        Some(s) if s.eq_ignore_ascii_case(p.quote) => Ok(("linear", id, layout(5))),
        Some(s) if s.eq_ignore_ascii_case(p.base) => Ok(("inverse", id, layout(6))),
        Some(_) => Err(bad()),
    }
}

fn kline_url(market: &Market, extra: Query) -> Result<String, E> {
    let (_, interval) = timeframe(&market.timeframe)?;
    let (category, id, _) = instrument(&market.symbol)?;
    let q = format!("category={category}&symbol={id}&interval={interval}&{extra}");
    Ok(format!(
        "{REST_BASE}{KLINE_PATH}?{}",
        q.trim_end_matches('&')
    ))
}

/// The newest page of `window`: `start` = window start, `end` = window end − 1.
pub fn plan(market: &Market, window: Window, limit: u32) -> Result<Request, E> {
    let window = nonempty(window)?;
    let q = Query::new()
        .push("start", window.start)
        .push("end", window.end - 1);
    Ok(Request::get(kline_url(
        market,
        q.push("limit", limit.clamp(1, MAX_LIMIT)),
    )?))
}

pub fn parse(
    market: &Market,
    window: Window,
    request: &Request,
    response: &Response,
) -> Result<Page, E> {
    let (tf, _) = timeframe(&market.timeframe)?;
    let (_, _, layout) = instrument(&market.symbol)?;
    if response.status != 200 {
        return Err(error(response));
    }
    let (code, rows) = envelope(&response.body, "retCode", &["result", "list"], |s| {
        array_rows(s, &layout)
    })?;
    match code {
        Some(b"0") => {}
        Some(_) => return Err(error(response)),
        None => return Err(E::Malformed("no retCode in the body".into())),
    }
    let rows = rows.ok_or_else(|| E::Malformed("no result.list in the body".into()))?;
    let rows = normalize(tf, rows)?;
    let int = |k| query_param(&request.url, k).and_then(|v| v.parse::<i64>().ok());
    let limit = int("limit").map_or(DEFAULT_LIMIT, |l| l.clamp(1, MAX_LIMIT.into()) as u32);
    let span = Span {
        start: int("start").unwrap_or(window.start),
        end: int("end").map_or(window.end, |e| e.saturating_add(1)),
        limit: limit as usize,
    };
    let p = backward(tf, window, span, rows);
    let next = p.next.map(|end| Request {
        url: set_query_param(&request.url, "end", &(end - 1).to_string()),
        ..request.clone()
    });
    Ok(p.page(next))
}

/// An error answer (HTTP error, or `retCode` ≠ 0) → the typed error.
pub fn error(r: &Response) -> E {
    if r.status == 403 {
        return E::RateLimited(IP_BAN_MS);
    }
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let msg = v
        .get("retMsg")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_owned();
    let lower = msg.to_ascii_lowercase();
    match v.get("retCode").and_then(value_i64) {
        Some(10006) => {
            let reset = header(&r.headers, "x-bapi-limit-reset-timestamp")
                .and_then(|t| t.parse::<i64>().ok());
            let wait = reset
                .zip(v.get("time").and_then(value_i64))
                .map(|(a, b)| a.saturating_sub(b).max(0) as u64);
            E::RateLimited(wait.or_else(|| retry_after_ms(&r.headers)).unwrap_or(1_000))
        }
        Some(10001) if lower.contains("symbol") => E::UnknownSymbol(msg),
        Some(10001) if lower.contains("interval") || lower.contains("period") => {
            E::UnsupportedTimeframe(INTERVALS.names())
        }
        Some(code) => E::Exchange { code, message: msg },
        None if r.status == 429 => E::RateLimited(retry_after_ms(&r.headers).unwrap_or(1_000)),
        None => E::Exchange {
            code: r.status.into(),
            message: excerpt(&r.body),
        },
    }
}

/// Poll the newest two candles every `min(timeframe, 10 s)`.
pub fn live_poll(market: &Market) -> Result<PollPlan, E> {
    let (tf, _) = timeframe(&market.timeframe)?;
    let request = Request::get(kline_url(market, Query::new().push("limit", 2))?);
    Ok(poll(request, tf))
}

pub mod live;
pub use live::{live_parse, live_plan};

#[cfg(target_arch = "wasm32")]
seamless_adapter_kit::export_adapter!("../../wit");

#[cfg(test)]
mod tests;
