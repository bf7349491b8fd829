//! Binance USDⓈ-M futures OHLCV adapter (`GET https://fapi.binance.com/fapi/v1/klines`).
//!
//! - Symbols: linear perpetuals in ccxt's unified form `BTC/USDT:USDT` (settle = quote)
//!   or the exchange id `BTCUSDT`; spot (`BTC/USDT`) and inverse symbols are refused.
//! - Rows `[openTime,"o","h","l","c","volume",closeTime,"quoteVolume",trades,...]`,
//!   ascending. **Volume**: field 5, the base-asset volume (BTC for BTCUSDT), not the
//!   quote volume.
//! - Paging forwards: `startTime` (inclusive) moves to the open after the last row of a
//!   full page; `endTime = window end − 1` (Binance's `endTime` is inclusive). At most
//!   1500 rows per request (the documented maximum; ccxt 4.5.90 caps at 1000).
//! - Weight by `limit`: 1 (< 100), 2 (< 500), 5 (≤ 1000), 10 (> 1000): the host asks for
//!   1500, so 10 per request out of 2400 per minute; `X-MBX-USED-WEIGHT-1M` reports use.
//! - Errors `{"code":-1121,"msg":"Invalid symbol."}`: 429/418 or -1003 → `rate-limited`
//!   (`Retry-After`, else 60 s); -1121 → `unknown-symbol`; -1120 → `unsupported-timeframe`;
//!   other codes → `exchange(code, msg)`; no JSON → `exchange(status, body excerpt)`.
//! - Live: REST polling of the newest 10 candles (`live-parse` returns nothing).

use seamless_adapter_kit::paging::{self, Span};
use seamless_adapter_kit::rows::{self, Layout};
use seamless_adapter_kit::timeframe::{self, Timeframe};
use seamless_adapter_kit::{
    AdapterError, AdapterInfo, Market, Page, PollPlan, Query, RateLimitHint, Request, Response,
    Window, query_param, retry_after_ms, symbol, wire,
};

/// Kline endpoint.
pub const KLINES_URL: &str = "https://fapi.binance.com/fapi/v1/klines";
/// Most klines per request, and the default.
pub const MAX_LIMIT: u32 = 1500;
pub const DEFAULT_LIMIT: u32 = 500;
/// Wait when a rate-limit answer has no `Retry-After`.
pub const DEFAULT_RETRY_MS: u64 = 60_000;
/// Every fapi interval (no `1s`).
pub const TIMEFRAMES: [Timeframe; 15] = {
    let [_, rest @ ..] = timeframe::ALL;
    rest
};

/// Describe the adapter.
pub fn info() -> AdapterInfo {
    AdapterInfo {
        id: "binanceusdm".into(),
        name: "Binance USDⓈ-M Futures".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        base_urls: vec!["https://fapi.binance.com".into()],
        timeframes: timeframe::names(&TIMEFRAMES),
        max_candles_per_request: MAX_LIMIT,
        rate_limit: RateLimitHint {
            budget_per_minute: 2400,
            request_weight: request_weight(MAX_LIMIT),
            used_weight_header: Some("x-mbx-used-weight-1m".into()),
        },
        // Followed by REST polling only (see `live_poll`).
        live_timeframes: Vec::new(),
    }
}

/// Weight of one klines request asking for `limit` rows.
pub fn request_weight(limit: u32) -> u32 {
    match limit {
        0..100 => 1,
        100..500 => 2,
        500..=1000 => 5,
        _ => 10,
    }
}

/// `BTC/USDT:USDT` or `BTCUSDT` → `BTCUSDT`.
pub fn symbol_id(unified: &str) -> Result<String, AdapterError> {
    match symbol::split(unified).filter(|p| p.settle == Some(p.quote)) {
        Some(p) => Some(format!("{}{}", p.base, p.quote).to_ascii_uppercase()),
        None if !unified.contains('/') => symbol::concat_id(unified),
        None => None,
    }
    .ok_or_else(|| {
        AdapterError::UnknownSymbol(format!(
            "{unified:?} is not a USDⓈ-M perpetual like BTC/USDT:USDT or BTCUSDT"
        ))
    })
}

/// The served timeframe called `name`, or `unsupported-timeframe` listing them.
pub fn timeframe(name: &str) -> Result<Timeframe, AdapterError> {
    Timeframe::parse(name)
        .filter(|tf| TIMEFRAMES.contains(tf))
        .ok_or_else(|| AdapterError::UnsupportedTimeframe(timeframe::names(&TIMEFRAMES)))
}

fn query(market: &Market) -> Result<(Timeframe, Query), AdapterError> {
    let tf = timeframe(&market.timeframe)?;
    let q = Query::new().push("symbol", symbol_id(&market.symbol)?);
    Ok((tf, q.push("interval", tf.as_str())))
}

/// `GET /fapi/v1/klines?symbol=BTCUSDT&interval=1m&startTime={start}&endTime={end-1}&limit={limit}`.
pub fn plan(market: &Market, window: Window, limit: u32) -> Result<Request, AdapterError> {
    let (_, q) = query(market)?;
    if window.start >= window.end {
        return Err(AdapterError::malformed("empty window: nothing to request"));
    }
    let q = q
        .push("startTime", window.start)
        .push("endTime", window.end - 1);
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
    let tf = timeframe(&market.timeframe)?;
    if response.status != 200 {
        return Err(error(response));
    }
    let rows = paging::on_grid(tf, rows::array_body(&response.body, &Layout::OHLCV_MS)?)?;
    let param = |k| query_param(&request.url, k).and_then(|v| v.parse::<i64>().ok());
    let end = param("endTime").map_or(window.end, |e| e.saturating_add(1).min(window.end));
    let limit = param("limit")
        .filter(|&l| l > 0)
        .unwrap_or(DEFAULT_LIMIT.into()) as usize;
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
    let wait = retry_after_ms(&response.headers).unwrap_or(DEFAULT_RETRY_MS);
    match wire::code_msg(&response.body, "code", "msg") {
        _ if matches!(response.status, 418 | 429) => AdapterError::RateLimited(wait),
        Some((-1003, _)) => AdapterError::RateLimited(wait),
        Some((-1121, msg)) => AdapterError::UnknownSymbol(msg),
        Some((-1120, _)) => AdapterError::UnsupportedTimeframe(timeframe::names(&TIMEFRAMES)),
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
