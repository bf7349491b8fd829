//! KuCoin spot OHLCV adapter: `GET /api/v1/market/candles`.
//!
//! - Request: `symbol` (`BTC-USDT`), `type` (`1min 3min 5min 15min 30min 1hour 2hour 4hour
//!   6hour 8hour 12hour 1day`), `startAt`/`endAt` in seconds. There is no `limit`: a range
//!   returns at most 1500 candles. `1week` is not served: KuCoin's weeks open on Thursday
//!   00:00 UTC (epoch-aligned; Kucoin/kucoin-api-docs issues #350 and #373), off the unified
//!   Monday grid. `1month` is not in KuCoin's documented list.
//! - Rows `data[] = ["time_s","open","close","high","low","volume","turnover"]` (close
//!   before high) come **newest first**. Paging goes **backwards** in ranges of at most
//!   `limit` (≤ 1500) candles: `[s, e)` is sent as `startAt=s`, `endAt=e−1 ms` in whole seconds, so a range
//!   is always answered completely, whichever rows KuCoin would keep from a larger one, and
//!   each page proves its whole range; the next range ends where this one starts. (ccxt
//!   4.5.90 sends `startAt=since`, `endAt=since+limit·tf` and, with `until`, keeps the same
//!   range on every page.) A request without `startAt` (the live poll) proves only its rows.
//! - Volume (base units): `volume` (field 5; `turnover` is in the quote currency).
//! - Rate limit: the public resource pool allows 2000 weight per 30 s per IP and a candles
//!   request weighs 3: hint 2000/min (the host bursts half of it), weight 3. The
//!   `gw-ratelimit-remaining` header counts what is *left*: no used-weight header.
//!   HTTP 429 / code 429000 → `rate-limited(gw-ratelimit-reset ms, else Retry-After, else 1 s)`.
//! - Errors `{"code":"400100","msg":".."}`: a message about the pair or symbol →
//!   `unknown-symbol`, about the type → `unsupported-timeframe`; others `exchange(code, msg)`.
//! - Live: REST polling every `min(timeframe, 10 s)` of the newest candles (KuCoin has no
//!   row limit, so a poll returns up to 1500 rows; its WebSocket needs a token from a POST
//!   first, which the live-plan contract cannot express). `live_parse` returns no candles.

use seamless_adapter_kit::envelope::envelope;
use seamless_adapter_kit::num::value_i64;
use seamless_adapter_kit::paging::{Span, backward, nonempty, normalize};
use seamless_adapter_kit::rows::{Layout, array_rows};
use seamless_adapter_kit::timeframe::Timeframe;
use seamless_adapter_kit::wire::{Intervals, excerpt, hint, poll};
use seamless_adapter_kit::{AdapterError as E, AdapterInfo, Market, Page, PollPlan};
use seamless_adapter_kit::{Query, Request, Response, Window, header};
use seamless_adapter_kit::{query_param, retry_after_ms, symbol};

pub const REST_BASE: &str = "https://api.kucoin.com";
pub const CANDLES_PATH: &str = "/api/v1/market/candles";
pub const MAX_LIMIT: u32 = 1500;
/// Unified timeframe → KuCoin type.
pub const INTERVALS: Intervals = Intervals(&[
    (Timeframe::M1, "1min"),
    (Timeframe::M3, "3min"),
    (Timeframe::M5, "5min"),
    (Timeframe::M15, "15min"),
    (Timeframe::M30, "30min"),
    (Timeframe::H1, "1hour"),
    (Timeframe::H2, "2hour"),
    (Timeframe::H4, "4hour"),
    (Timeframe::H6, "6hour"),
    (Timeframe::H8, "8hour"),
    (Timeframe::H12, "12hour"),
    (Timeframe::D1, "1day"),
]);
/// time, open, high, low, close, volume of `[t, open, close, high, low, volume, turnover]`.
const LAYOUT: Layout = Layout {
    index: [0, 1, 3, 4, 2, 5],
    time_unit_ms: 1000,
};

pub fn info() -> AdapterInfo {
    AdapterInfo {
        id: "kucoin".into(),
        name: "KuCoin".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        base_urls: vec![REST_BASE.into()],
        timeframes: INTERVALS.names(),
        max_candles_per_request: MAX_LIMIT,
        rate_limit: hint(2000, 3),
        // Followed by REST polling only (see `live_poll`).
        live_timeframes: Vec::new(),
    }
}

/// The timeframe, its duration in ms and its KuCoin type.
pub fn timeframe(name: &str) -> Result<(Timeframe, i64, &'static str), E> {
    let (tf, ty) = INTERVALS.get(name)?;
    let d = tf
        .duration_ms()
        .ok_or_else(|| E::UnsupportedTimeframe(INTERVALS.names()))?;
    Ok((tf, d, ty))
}

/// `BTC/USDT` → `BTC-USDT` (spot only).
pub fn symbol_id(unified: &str) -> Result<String, E> {
    symbol::join_upper(unified, "-")
        .ok_or_else(|| E::UnknownSymbol(format!("{unified:?} is not a spot symbol like BTC/USDT")))
}

fn url(market: &Market, q: Query) -> Result<String, E> {
    let (_, _, ty) = timeframe(&market.timeframe)?;
    Ok(format!(
        "{REST_BASE}{CANDLES_PATH}?symbol={}&type={ty}&{q}",
        symbol_id(&market.symbol)?
    )
    .trim_end_matches('&')
    .to_owned())
}

/// The range of at most `limit` candles of `window` ending at `end`.
fn range(market: &Market, window: Window, end: i64, limit: u32) -> Result<Request, E> {
    let (_, d, _) = timeframe(&market.timeframe)?;
    let start = end
        .saturating_sub(d * i64::from(limit.clamp(1, MAX_LIMIT)))
        .max(window.start);
    let q = Query::new()
        .push("startAt", start.div_euclid(1000))
        .push("endAt", (end - 1).div_euclid(1000));
    Ok(Request::get(url(market, q)?))
}

/// The newest range of `window`: its last `limit` candles.
pub fn plan(market: &Market, window: Window, limit: u32) -> Result<Request, E> {
    let window = nonempty(window)?;
    range(market, window, window.end, limit)
}

pub fn parse(
    market: &Market,
    window: Window,
    request: &Request,
    response: &Response,
) -> Result<Page, E> {
    let (tf, d, _) = timeframe(&market.timeframe)?;
    if response.status != 200 {
        return Err(error(response));
    }
    let (code, rows) = envelope(&response.body, "code", &["data"], |s| {
        array_rows(s, &LAYOUT)
    })?;
    match code {
        Some(b"200000") => {}
        Some(_) => return Err(error(response)),
        None => return Err(E::Malformed("no code in the body".into())),
    }
    let rows = rows.ok_or_else(|| E::Malformed("no data in the body".into()))?;
    let rows = normalize(tf, rows)?;
    let int = |k| query_param(&request.url, k).and_then(|v| v.parse::<i64>().ok());
    let end = int("endAt").map_or(window.end, |e| e.saturating_add(1).saturating_mul(1000));
    let oldest = rows.iter().map(|c| c.open_time).min().unwrap_or(end);
    // The range is never larger than one answer: it is complete (see the crate docs).
    let start = int("startAt").map_or(oldest, |s| s.saturating_mul(1000));
    let p = backward(
        tf,
        window,
        Span {
            start,
            end,
            limit: usize::MAX,
        },
        rows,
    );
    let slots = ((end - start) / d).clamp(1, MAX_LIMIT.into()) as u32;
    let next = (start > window.start && start < end)
        .then(|| range(market, window, start, slots))
        .transpose()?;
    Ok(p.page(next))
}

/// An error answer (HTTP error, or `code` ≠ "200000") → the typed error.
pub fn error(r: &Response) -> E {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let msg = v
        .get("msg")
        .and_then(|m| m.as_str())
        .unwrap_or_default()
        .to_owned();
    let lower = msg.to_ascii_lowercase();
    match v.get("code").and_then(value_i64) {
        code if r.status == 429 || code == Some(429000) => {
            let reset =
                header(&r.headers, "gw-ratelimit-reset").and_then(|v| v.trim().parse::<u64>().ok());
            E::RateLimited(
                reset
                    .or_else(|| retry_after_ms(&r.headers))
                    .unwrap_or(1_000),
            )
        }
        Some(400100) if lower.contains("pair") || lower.contains("symbol") => E::UnknownSymbol(msg),
        Some(400100) if lower.contains("type") => E::UnsupportedTimeframe(INTERVALS.names()),
        Some(code) => E::Exchange { code, message: msg },
        None => E::Exchange {
            code: r.status.into(),
            message: excerpt(&r.body),
        },
    }
}

/// Poll the newest candles every `min(timeframe, 10 s)` (see the crate docs).
pub fn live_poll(market: &Market) -> Result<PollPlan, E> {
    let (tf, _, _) = timeframe(&market.timeframe)?;
    Ok(poll(Request::get(url(market, Query::new())?), tf))
}

#[cfg(target_arch = "wasm32")]
seamless_adapter_kit::export_adapter!("../../wit", poll);

#[cfg(test)]
mod tests;
