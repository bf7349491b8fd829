//! HTX (Huobi) spot OHLCV adapter: `GET /market/history/candles`.
//!
//! - Endpoints. HTX documents only `/market/history/kline` (`symbol`, `period`, `size`
//!   1..=2000): the newest `size` candles, no time window, so deep history cannot be reached
//!   through it. ccxt's default spot endpoint (4.5.x, `useHistoricalEndpointForSpot`) is the
//!   undocumented `/market/history/candles`, which takes `from`/`to` (seconds, inclusive)
//!   alongside `size` capped at 1000 (ccxt's `htx.ts` comments; third-party notes: sizes
//!   over 1000 answer empty). This adapter uses it in ranges of at most `size` candles, and
//!   guards against it ignoring the window: rows newer than `to` mean "newest `size` only",
//!   and then a range older than the oldest row is `unavailable-before(oldest open)` (like
//!   Kraken), never silently short data. Live polling uses the documented `/kline`.
//! - Rows `data[] = {"id":open_s,"open","close","low","high","amount","vol","count"}`, newest
//!   first. Pages go **backwards** in ranges of at most `limit` candles (`[s, e)` as
//!   `from=s`, `to=e−1 ms` in whole seconds), each proving its whole range; the next ends where it starts.
//! - Timeframes: `1min 5min 15min 30min 60min 4hour`. `1day`, `1week` and `1mon` are not
//!   served: HTX opens them at 00:00 UTC+8 (16:00 UTC), off the unified grid.
//! - Volume (base units): `amount` (`vol` is the quote turnover).
//! - Rate limit: the spot docs give no public per-IP figure for market data; the hint
//!   follows ccxt's pacing (100 ms: 600/min, weight 1). `X-HB-RateLimit-Requests-Remain`
//!   counts what is left: no used-weight header. HTTP 429 (or an `err-code` about the
//!   limit) → `rate-limited(Retry-After, else 1 s)`.
//! - Errors `{"status":"error","err-code":"invalid-parameter","err-msg":"invalid symbol"}`
//!   → `unknown-symbol`; `invalid period` → `unsupported-timeframe`; others
//!   `exchange(HTTP status, "err-code: err-msg")` (HTX codes are words, not numbers).
//! - Live: REST polling of `/market/history/kline?size=2` every `min(timeframe, 10 s)`;
//!   `live_parse` returns no candles (the WebSocket sends gzip frames).

use seamless_adapter_kit::envelope::envelope;
use seamless_adapter_kit::paging::{Span, backward, nonempty, normalize};
use seamless_adapter_kit::rows::{Keys, object_rows};
use seamless_adapter_kit::timeframe::Timeframe;
use seamless_adapter_kit::wire::{Intervals, excerpt, hint, poll};
use seamless_adapter_kit::{AdapterError as E, AdapterInfo, Market, Page, PollPlan};
use seamless_adapter_kit::{Query, Request, Response, Window};
use seamless_adapter_kit::{query_param, retry_after_ms, symbol};

pub const REST_BASE: &str = "https://api.huobi.pro";
pub const CANDLES_PATH: &str = "/market/history/candles";
pub const KLINE_PATH: &str = "/market/history/kline";
pub const MAX_SIZE: u32 = 1000;
/// Unified timeframe → HTX period.
pub const INTERVALS: Intervals = Intervals(&[
    (Timeframe::M1, "1min"),
    (Timeframe::M5, "5min"),
    (Timeframe::M15, "15min"),
    (Timeframe::M30, "30min"),
    (Timeframe::H1, "60min"),
    (Timeframe::H4, "4hour"),
]);
const KEYS: Keys = Keys {
    key: ["id", "open", "high", "low", "close", "amount"],
    time_unit_ms: 1000,
};

pub fn info() -> AdapterInfo {
    AdapterInfo {
        id: "htx".into(),
        name: "HTX".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        base_urls: vec![REST_BASE.into()],
        timeframes: INTERVALS.names(),
        max_candles_per_request: MAX_SIZE,
        rate_limit: hint(600, 1),
        // Followed by REST polling only (see `live_poll`).
        live_timeframes: Vec::new(),
    }
}

/// The timeframe, its duration in ms and its HTX period.
pub fn timeframe(name: &str) -> Result<(Timeframe, i64, &'static str), E> {
    let (tf, p) = INTERVALS.get(name)?;
    let d = tf
        .duration_ms()
        .ok_or_else(|| E::UnsupportedTimeframe(INTERVALS.names()))?;
    Ok((tf, d, p))
}

/// `BTC/USDT` → `btcusdt` (spot only).
pub fn symbol_id(unified: &str) -> Result<String, E> {
    let id = symbol::join_upper(unified, "").map(|s| s.to_ascii_lowercase());
    id.ok_or_else(|| E::UnknownSymbol(format!("{unified:?} is not a spot symbol like BTC/USDT")))
}

fn url(market: &Market, path: &str, q: Query) -> Result<String, E> {
    let (_, _, period) = timeframe(&market.timeframe)?;
    Ok(format!(
        "{REST_BASE}{path}?symbol={}&period={period}&{q}",
        symbol_id(&market.symbol)?
    ))
}

/// The range of at most `limit` candles of `window` ending at `end`.
fn range(market: &Market, window: Window, end: i64, limit: u32) -> Result<Request, E> {
    let (_, d, _) = timeframe(&market.timeframe)?;
    let size = limit.clamp(1, MAX_SIZE);
    let start = end.saturating_sub(d * i64::from(size)).max(window.start);
    let q = Query::new()
        .push("from", start.div_euclid(1000))
        .push("to", (end - 1).div_euclid(1000));
    Ok(Request::get(url(
        market,
        CANDLES_PATH,
        q.push("size", size),
    )?))
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
    let (status, rows) = envelope(&response.body, "status", &["data"], |s| {
        object_rows(s, &KEYS)
    })?;
    match status {
        Some(b"ok") => {}
        Some(_) => return Err(error(response)),
        None => return Err(E::Malformed("no status in the body".into())),
    }
    let rows = rows.ok_or_else(|| E::Malformed("no data in the body".into()))?;
    let rows = normalize(tf, rows)?;
    let int = |k| query_param(&request.url, k).and_then(|v| v.parse::<i64>().ok());
    let size = int("size").map_or(150, |s| s.clamp(1, 2000)) as usize;
    let end = int("to").map_or(window.end, |t| t.saturating_add(1).saturating_mul(1000));
    let oldest = rows.iter().map(|c| c.open_time).min().unwrap_or(end);
    let start = match int("from") {
        // The window was ignored: only the newest `size` candles exist through this endpoint.
        Some(from) if rows.iter().any(|c| c.open_time >= end) => {
            if rows.len() >= size && oldest > from.saturating_mul(1000) {
                return Err(E::UnavailableBefore(oldest));
            }
            from.saturating_mul(1000)
        }
        Some(from) => from.saturating_mul(1000),
        None => oldest,
    };
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
    let slots = ((end - start) / d).clamp(1, MAX_SIZE.into()) as u32;
    let next = (start > window.start && start < end)
        .then(|| range(market, window, start, slots))
        .transpose()?;
    Ok(p.page(next))
}

/// An error answer (HTTP error, or `status` ≠ "ok") → the typed error.
pub fn error(r: &Response) -> E {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let text = |k: &str| {
        v.get(k)
            .and_then(|x| x.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let (code, msg) = (text("err-code"), text("err-msg"));
    if r.status == 429 || code.contains("limit") || code.contains("too-many") {
        return E::RateLimited(retry_after_ms(&r.headers).unwrap_or(1_000));
    }
    match msg.as_str() {
        "invalid symbol" => E::UnknownSymbol(msg),
        "invalid period" => E::UnsupportedTimeframe(INTERVALS.names()),
        _ if code.is_empty() => E::Exchange {
            code: r.status.into(),
            message: excerpt(&r.body),
        },
        _ => E::Exchange {
            code: r.status.into(),
            message: format!("{code}: {msg}"),
        },
    }
}

/// Poll the newest two candles of the documented `/market/history/kline`.
pub fn live_poll(market: &Market) -> Result<PollPlan, E> {
    let (tf, _, _) = timeframe(&market.timeframe)?;
    let request = Request::get(url(market, KLINE_PATH, Query::new().push("size", 2))?);
    Ok(poll(request, tf))
}

#[cfg(target_arch = "wasm32")]
seamless_adapter_kit::export_adapter!("../../wit", poll);

#[cfg(test)]
mod tests;
