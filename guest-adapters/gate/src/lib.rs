//! Gate spot OHLCV adapter (`GET https://api.gateio.ws/api/v4/spot/candlesticks`).
//!
//! - Symbols: spot `BTC/USDT` (or the id `BTC_USDT`). Intervals `1m 5m 15m 30m 1h 4h 8h 1d`
//!   and `30d` (a calendar month, per Gate's docs) for `1M`. Gate's `7d` is not offered as
//!   `1w`: its alignment is undocumented and a unified week opens on Monday.
//! - Rows `["t_s","quoteVol","close","high","low","open","baseVol","closed"]` (seconds,
//!   close before high), ascending. **Volume**: `baseVol` (index 6), not the quote volume.
//!   The forming candle (`closed` "false") is left to the host, which stores closed ones.
//! - Paging by time slices: `from`/`to` are inclusive seconds and Gate refuses ranges of
//!   more than 1000 points (no `limit` with them), so each request asks for one slice of
//!   at most `limit` candles and proves that whole slice; the next slice starts at its end.
//! - History: only the last 10,000 points of an interval are served; older `from` is
//!   refused with `Candlestick too long ago. Maximum 10000 points ago are allowed`. That
//!   answer becomes `unavailable-before(t)`, t = the first grid open at or after
//!   `Date − 10000 × interval` (the server time comes from the response's `Date` header;
//!   without it the refusal is surfaced as `exchange`).
//! - Rate limit: 200 requests per 10 s per IP for public spot endpoints (1200/min, weight 1).
//! - Errors `{"label":"INVALID_CURRENCY_PAIR","message":"..."}` have no numeric code:
//!   `exchange(HTTP status, "LABEL: message")`; 429 → `rate-limited` (`Retry-After`, else
//!   10 s); `INVALID_CURRENCY*` → `unknown-symbol`; a message about `interval` →
//!   `unsupported-timeframe`.
//! - Live: REST polling of the newest 10 candles (`live-parse` returns nothing).

use seamless_adapter_kit::paging::{self, Span};
use seamless_adapter_kit::rows::{self, Layout};
use seamless_adapter_kit::timeframe::Timeframe;
use seamless_adapter_kit::wire::{self, Intervals};
use seamless_adapter_kit::{
    AdapterError, AdapterInfo, Market, Page, PollPlan, Query, RateLimitHint, Request, Response,
    Window, query_param, retry_after_ms, symbol,
};

/// Candlestick endpoint.
pub const URL: &str = "https://api.gateio.ws/api/v4/spot/candlesticks";
/// Most points per request.
pub const MAX_POINTS: u32 = 1000;
/// How far back the endpoint serves, in points of the interval.
pub const HISTORY_POINTS: i64 = 10_000;
/// Wait when a 429 has no `Retry-After`: Gate's limit window.
pub const DEFAULT_RETRY_MS: u64 = 10_000;
/// `[t, quoteVol, close, high, low, open, baseVol, closed]` → time, o, h, l, c, baseVol.
pub const LAYOUT: Layout = Layout {
    index: [0, 5, 3, 4, 2, 6],
    time_unit_ms: 1000,
};
/// Unified timeframes and Gate's interval.
pub const INTERVALS: Intervals = Intervals(&[
    (Timeframe::M1, "1m"),
    (Timeframe::M5, "5m"),
    (Timeframe::M15, "15m"),
    (Timeframe::M30, "30m"),
    (Timeframe::H1, "1h"),
    (Timeframe::H4, "4h"),
    (Timeframe::H8, "8h"),
    (Timeframe::D1, "1d"),
    (Timeframe::Month, "30d"),
]);

/// Describe the adapter.
pub fn info() -> AdapterInfo {
    AdapterInfo {
        id: "gate".into(),
        name: "Gate Spot".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        base_urls: vec!["https://api.gateio.ws".into()],
        timeframes: INTERVALS.names(),
        max_candles_per_request: MAX_POINTS,
        rate_limit: RateLimitHint {
            budget_per_minute: 1200,
            request_weight: 1,
            used_weight_header: None,
        },
        // Followed by REST polling only (see `live_poll`).
        live_timeframes: Vec::new(),
    }
}

fn query(market: &Market) -> Result<(Timeframe, Query), AdapterError> {
    let (tf, iv) = INTERVALS.get(&market.timeframe)?;
    let s = &market.symbol;
    let id = match s.split_once('_') {
        None => symbol::join_upper(s, "_"),
        Some((b, q)) => (symbol::is_code(b) && symbol::is_code(q)).then(|| s.to_ascii_uppercase()),
    };
    let id = id.ok_or_else(|| {
        AdapterError::UnknownSymbol(format!("{s:?} is not a spot symbol like BTC/USDT"))
    })?;
    Ok((
        tf,
        Query::new().push("currency_pair", id).push("interval", iv),
    ))
}

/// The slice `[from, to]` (inclusive seconds) of at most `points` candles from `start`.
fn slice(
    market: &Market,
    window: Window,
    start: i64,
    points: u32,
) -> Result<Request, AdapterError> {
    let (tf, q) = query(market)?;
    let end = paging::advance(tf, start, points as usize).min(window.end);
    let from = start.div_euclid(1000) + i64::from(start.rem_euclid(1000) != 0);
    let q = q.push("from", from).push("to", (end - 1).div_euclid(1000));
    Ok(Request::get(q.url(URL)))
}

/// `GET /api/v4/spot/candlesticks?currency_pair=BTC_USDT&interval=1m&from={s}&to={s}`.
pub fn plan(market: &Market, window: Window, limit: u32) -> Result<Request, AdapterError> {
    query(market)?;
    if window.start >= window.end {
        return Err(AdapterError::malformed("empty window: nothing to request"));
    }
    slice(market, window, window.start, limit.clamp(1, MAX_POINTS))
}

/// Candles, covered range and next slice of one response; a request without `from`
/// (live polling, `limit=N`) reads as the newest `limit` rows.
pub fn parse(
    market: &Market,
    window: Window,
    request: &Request,
    response: &Response,
) -> Result<Page, AdapterError> {
    let (tf, _) = INTERVALS.get(&market.timeframe)?;
    if response.status != 200 {
        return Err(error(tf, response));
    }
    let rows = paging::on_grid(tf, rows::array_body(&response.body, &LAYOUT)?)?;
    let param = |k| query_param(&request.url, k).and_then(|v| v.parse::<i64>().ok());
    let end = param("to").map_or(window.end, |t| t.saturating_add(1).saturating_mul(1000));
    let end = end.min(window.end);
    let Some(start) = param("from").map(|f| f.saturating_mul(1000)) else {
        let limit = param("limit").filter(|&l| l > 0).unwrap_or(100) as usize;
        let span = Span {
            start: window.start,
            end,
            limit,
        };
        return Ok(paging::backward(tf, window, span, rows).page(None));
    };
    // The whole slice is in the answer: a page is never cut by a row limit.
    let p = paging::forward(
        tf,
        window,
        Span {
            start,
            end,
            limit: usize::MAX,
        },
        rows,
    );
    let points = tf
        .duration_ms()
        .map_or(1000, |d| ((end - start) / d).clamp(1, 1000));
    let next = p
        .next
        .map(|n| slice(market, window, n, points as u32))
        .transpose()?;
    Ok(p.page(next))
}

/// The typed error of a non-200 response.
pub fn error(tf: Timeframe, response: &Response) -> AdapterError {
    let v: Option<serde_json::Value> = serde_json::from_slice(&response.body).ok();
    let field = |k| {
        v.as_ref()
            .and_then(|v| v.get(k)?.as_str())
            .unwrap_or_default()
    };
    let (label, message) = (field("label"), field("message"));
    if response.status == 429 || label == "TOO_MANY_REQUESTS" {
        let wait = retry_after_ms(&response.headers).unwrap_or(DEFAULT_RETRY_MS);
        return AdapterError::RateLimited(wait);
    }
    // Refused as older than the last 10,000 points: the first open still served.
    let now = wire::date_ms(&response.headers).filter(|_| message.contains("too long ago"));
    let span = tf.duration_ms().map(|d| d * HISTORY_POINTS);
    if let Some((now, span)) = now.zip(span) {
        return AdapterError::UnavailableBefore(paging::ceil(tf, now - span));
    }
    match label {
        "" => AdapterError::Exchange {
            code: response.status.into(),
            message: wire::excerpt(&response.body),
        },
        l if l.starts_with("INVALID_CURRENCY") => AdapterError::UnknownSymbol(message.into()),
        _ if message.contains("interval") => AdapterError::UnsupportedTimeframe(INTERVALS.names()),
        _ => AdapterError::Exchange {
            code: response.status.into(),
            message: format!("{label}: {message}"),
        },
    }
}

/// Poll the newest 10 candles every timeframe (at most every 10 s).
pub fn live_poll(market: &Market) -> Result<PollPlan, AdapterError> {
    let (tf, q) = query(market)?;
    Ok(wire::poll(Request::get(q.push("limit", 10).url(URL)), tf))
}

#[cfg(target_arch = "wasm32")]
seamless_adapter_kit::export_adapter!("../../wit", poll);
