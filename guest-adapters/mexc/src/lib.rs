//! MEXC spot OHLCV adapter (`GET https://api.mexc.com/api/v3/klines`).
//!
//! - Symbols: spot `BTC/USDT` (or the id `BTCUSDT`); derivatives (`BTC/USDT:USDT`, served
//!   by the separate contract API) are refused.
//! - Intervals `1m 5m 15m 30m 60m 4h 1d 1W 1M` (MEXC spells 1h `60m` and 1w `1W`).
//! - Rows `[openTime,"o","h","l","c","volume",closeTime,"quoteVolume"]`, ascending.
//!   **Volume**: field 5, the base-asset volume.
//! - Paging forwards like Binance: `startTime` (inclusive) moves to the open after the
//!   last row of a full page. `endTime = window end`: MEXC reads it exclusively (ccxt adds
//!   1 ms to its `until`); were it inclusive, the only extra row would open at the window
//!   end and be dropped.
//! - At most 500 rows per request: the documented 1000 is not what MEXC returns, and a
//!   page the exchange cut at 500 must not be read as a short (complete) page.
//! - Rate limit: 500 requests per 10 s per endpoint and IP (3000/min, weight 1), no
//!   used-weight header.
//! - Errors `{"code":-1121,"msg":"Invalid symbol."}`: 429 → `rate-limited` (`Retry-After`,
//!   else the 10 s window); -1121 → `unknown-symbol`; -1120 or "Invalid interval" →
//!   `unsupported-timeframe`; other codes → `exchange(code, msg)`; no JSON →
//!   `exchange(status, body excerpt)`.
//! - Live: REST polling of the newest 10 candles (`live-parse` returns nothing).

use seamless_adapter_kit::paging::{self, Span};
use seamless_adapter_kit::rows::{self, Layout};
use seamless_adapter_kit::timeframe::Timeframe;
use seamless_adapter_kit::wire::{self, Intervals};
use seamless_adapter_kit::{
    AdapterError, AdapterInfo, Market, Page, PollPlan, Query, RateLimitHint, Request, Response,
    Window, query_param, retry_after_ms, symbol,
};

/// Kline endpoint.
pub const KLINES_URL: &str = "https://api.mexc.com/api/v3/klines";
/// Most klines MEXC returns per request, and its default.
pub const MAX_LIMIT: u32 = 500;
/// Wait when a 429 has no `Retry-After`: MEXC's limit window.
pub const DEFAULT_RETRY_MS: u64 = 10_000;
/// Unified timeframes and MEXC's spelling.
pub const INTERVALS: Intervals = Intervals(&[
    (Timeframe::M1, "1m"),
    (Timeframe::M5, "5m"),
    (Timeframe::M15, "15m"),
    (Timeframe::M30, "30m"),
    (Timeframe::H1, "60m"),
    (Timeframe::H4, "4h"),
    (Timeframe::D1, "1d"),
    (Timeframe::W1, "1W"),
    (Timeframe::Month, "1M"),
]);

/// Describe the adapter.
pub fn info() -> AdapterInfo {
    AdapterInfo {
        id: "mexc".into(),
        name: "MEXC Spot".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        base_urls: vec!["https://api.mexc.com".into()],
        timeframes: INTERVALS.names(),
        max_candles_per_request: MAX_LIMIT,
        rate_limit: RateLimitHint {
            budget_per_minute: 3000,
            request_weight: 1,
            used_weight_header: None,
        },
        // Followed by REST polling only (see `live_poll`).
        live_timeframes: Vec::new(),
    }
}

/// The served timeframe called `name` and MEXC's interval, or `unsupported-timeframe`.
pub fn interval(name: &str) -> Result<(Timeframe, &'static str), AdapterError> {
    INTERVALS.get(name)
}

fn query(market: &Market) -> Result<(Timeframe, Query), AdapterError> {
    let (tf, iv) = interval(&market.timeframe)?;
    let id = symbol::concat_id(&market.symbol).ok_or_else(|| {
        AdapterError::UnknownSymbol(format!(
            "{:?} is not a spot symbol like BTC/USDT",
            market.symbol
        ))
    })?;
    Ok((tf, Query::new().push("symbol", id).push("interval", iv)))
}

/// `GET /api/v3/klines?symbol=BTCUSDT&interval=60m&startTime={start}&endTime={end}&limit={limit}`.
pub fn plan(market: &Market, window: Window, limit: u32) -> Result<Request, AdapterError> {
    let (_, q) = query(market)?;
    if window.start >= window.end {
        return Err(AdapterError::malformed("empty window: nothing to request"));
    }
    let q = q
        .push("startTime", window.start)
        .push("endTime", window.end);
    Ok(Request::get(
        q.push("limit", limit.clamp(1, MAX_LIMIT)).url(KLINES_URL),
    ))
}

/// Candles, covered range and next request of one response (see [`paging::forward`]);
/// a request without `startTime` (live polling) reads as the newest `limit` rows.
pub fn parse(
    market: &Market,
    window: Window,
    request: &Request,
    response: &Response,
) -> Result<Page, AdapterError> {
    let (tf, _) = interval(&market.timeframe)?;
    if response.status != 200 {
        return Err(error(response));
    }
    let rows = paging::on_grid(tf, rows::array_body(&response.body, &Layout::OHLCV_MS)?)?;
    let param = |k| query_param(&request.url, k).and_then(|v| v.parse::<i64>().ok());
    let end = param("endTime").map_or(window.end, |e| e.min(window.end));
    let limit = param("limit")
        .filter(|&l| l > 0)
        .map_or(MAX_LIMIT as i64, |l| l.min(500)) as usize;
    Ok(match param("startTime") {
        Some(start) => paging::forward(tf, window, Span { start, end, limit }, rows)
            .page_moving(request, "startTime"),
        None => paging::backward(
            tf,
            window,
            Span {
                start: window.start,
                end,
                limit,
            },
            rows,
        )
        .page(None),
    })
}

/// The typed error of a non-200 response.
pub fn error(response: &Response) -> AdapterError {
    let body = wire::code_msg(&response.body, "code", "msg");
    if response.status == 429 || matches!(body, Some((429, _))) {
        return AdapterError::RateLimited(
            retry_after_ms(&response.headers).unwrap_or(DEFAULT_RETRY_MS),
        );
    }
    match body {
        Some((-1120, _)) => AdapterError::UnsupportedTimeframe(INTERVALS.names()),
        Some((_, m)) if m.to_ascii_lowercase().contains("interval") => {
            AdapterError::UnsupportedTimeframe(INTERVALS.names())
        }
        Some((-1121, msg)) => AdapterError::UnknownSymbol(msg),
        Some((code, message)) => AdapterError::Exchange { code, message },
        None => AdapterError::Exchange {
            code: response.status.into(),
            message: wire::excerpt(&response.body),
        },
    }
}

/// Poll the newest 10 candles every timeframe (at most every 10 s).
pub fn live_poll(market: &Market) -> Result<PollPlan, AdapterError> {
    let (tf, q) = query(market)?;
    Ok(wire::poll(
        Request::get(q.push("limit", 10).url(KLINES_URL)),
        tf,
    ))
}

#[cfg(target_arch = "wasm32")]
seamless_adapter_kit::export_adapter!("../../wit", poll);
