//! Bitget spot OHLCV adapter (v2: `GET /api/v2/spot/market/candles`, at most 1000 rows,
//! and `/api/v2/spot/market/history-candles`, at most 200).
//!
//! - Symbols: spot `BTC/USDT` (or the id `BTCUSDT`). Granularities are the UTC-aligned ones
//!   (`6Hutc 12Hutc 1Dutc 3Dutc 1Wutc 1Mutc`; the plain `1day`… open at UTC+8), so bitget
//!   serves `1m 3m 5m 15m 30m 1h 4h 6h 12h 1d 3d 1w 1M` (no 2h or 8h on spot).
//! - Body `{"code":"00000","msg":"success","requestTime":ms,"data":[["ts","o","h","l","c",
//!   "baseVol","usdtVol","quoteVol"],...]}`, rows ascending. **Volume**: `baseVol` (index 5).
//! - Both endpoints answer with the *newest* `limit` rows before `endTime` ("the exchange
//!   aligns from endTime"), so pages go **backwards**: each next request ends where the
//!   previous full page began. `endTime = end − 1` and `startTime = start` give the same
//!   rows whether Bitget reads them inclusively or not.
//! - Recent vs history: the recent endpoint only reaches back a fixed period per
//!   granularity (1m/3m/5m one month, 15m 52 days, 30m 62 days, 1h 83 days, 4h 240 days,
//!   6h 360 days; ccxt's 720/1440/… days beyond). The adapter has no clock, so every
//!   window starts on the recent endpoint; each answer's `requestTime` (server time) tells
//!   what it can serve (`requestTime − (days − 1) days`, one day of margin). Rows older than
//!   that are not trusted, and the older part of the window continues on history-candles
//!   (200 per page) from there. Without `requestTime`, the recent endpoint proves nothing
//!   below its oldest row.
//! - Rate limit: 20 requests/s per IP per endpoint (1200/min, weight 1).
//! - Errors `{"code":"40034","msg":"Parameter BTCUSDX does not exist",...}`: HTTP 429 or code
//!   429 → `rate-limited` (`Retry-After`, else 1 s); 40034 → `unknown-symbol`; a message
//!   about `granularity` → `unsupported-timeframe`; other codes → `exchange(code, msg)`.
//! - Live: REST polling of the newest 10 candles (`live-parse` returns nothing).

use seamless_adapter_kit::paging::{self, Span};
use seamless_adapter_kit::rows::{self, Layout};
use seamless_adapter_kit::timeframe::Timeframe;
use seamless_adapter_kit::{
    AdapterError, AdapterInfo, Candle, Market, Page, PollPlan, Query, RateLimitHint, Request,
    Response, Scanner, Window, query_param, retry_after_ms, set_query_param, symbol, wire,
};

/// REST base URL.
pub const REST_BASE: &str = "https://api.bitget.com";
/// Recent candles (up to [`MAX_RECENT`] rows) and history candles (up to [`MAX_HISTORY`]).
pub const RECENT_PATH: &str = "/api/v2/spot/market/candles";
pub const HISTORY_PATH: &str = "/api/v2/spot/market/history-candles";
pub const MAX_RECENT: u32 = 1000;
pub const MAX_HISTORY: u32 = 200;
/// Wait when a 429 has no `Retry-After`: Bitget's limit window.
pub const DEFAULT_RETRY_MS: u64 = 1_000;
const DAY: i64 = 86_400_000;
/// Unified timeframe, Bitget granularity, days the recent endpoint reaches back.
pub const GRANULARITIES: [(Timeframe, &str, i64); 13] = [
    (Timeframe::M1, "1min", 30),
    (Timeframe::M3, "3min", 30),
    (Timeframe::M5, "5min", 30),
    (Timeframe::M15, "15min", 52),
    (Timeframe::M30, "30min", 62),
    (Timeframe::H1, "1h", 83),
    (Timeframe::H4, "4h", 240),
    (Timeframe::H6, "6Hutc", 360),
    (Timeframe::H12, "12Hutc", 720),
    (Timeframe::D1, "1Dutc", 1440),
    (Timeframe::D3, "3Dutc", 4320),
    (Timeframe::W1, "1Wutc", 10080),
    (Timeframe::Month, "1Mutc", 43200),
];

fn names() -> Vec<String> {
    GRANULARITIES
        .iter()
        .map(|g| g.0.as_str().to_owned())
        .collect()
}

/// Describe the adapter.
pub fn info() -> AdapterInfo {
    AdapterInfo {
        id: "bitget".into(),
        name: "Bitget Spot".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        base_urls: vec![REST_BASE.into()],
        timeframes: names(),
        max_candles_per_request: MAX_RECENT,
        rate_limit: RateLimitHint {
            budget_per_minute: 1200,
            request_weight: 1,
            used_weight_header: None,
        },
        // Followed by REST polling only (see `live_poll`).
        live_timeframes: Vec::new(),
    }
}

/// The served timeframe called `name`, its granularity and recent reach in days.
pub fn granularity(name: &str) -> Result<(Timeframe, &'static str, i64), AdapterError> {
    let g = GRANULARITIES.iter().find(|g| g.0.as_str() == name);
    g.copied()
        .ok_or_else(|| AdapterError::UnsupportedTimeframe(names()))
}

fn query(market: &Market, path: &str) -> Result<(Timeframe, String, Query), AdapterError> {
    let (tf, g, _) = granularity(&market.timeframe)?;
    let id = symbol::concat_id(&market.symbol).ok_or_else(|| {
        AdapterError::UnknownSymbol(format!(
            "{:?} is not a spot symbol like BTC/USDT",
            market.symbol
        ))
    })?;
    let q = Query::new().push("symbol", id).push("granularity", g);
    Ok((tf, format!("{REST_BASE}{path}"), q))
}

/// `GET /api/v2/spot/market/candles?symbol=BTCUSDT&granularity=1min&startTime={start}&endTime={end-1}&limit={limit}`.
pub fn plan(market: &Market, window: Window, limit: u32) -> Result<Request, AdapterError> {
    let (_, url, q) = query(market, RECENT_PATH)?;
    if window.start >= window.end {
        return Err(AdapterError::malformed("empty window: nothing to request"));
    }
    let q = q
        .push("startTime", window.start)
        .push("endTime", window.end - 1);
    Ok(Request::get(
        q.push("limit", limit.clamp(1, MAX_RECENT)).url(&url),
    ))
}

/// Candles, covered range and next request of one response (see the crate docs).
pub fn parse(
    market: &Market,
    window: Window,
    request: &Request,
    response: &Response,
) -> Result<Page, AdapterError> {
    let (tf, _, days) = granularity(&market.timeframe)?;
    let (rows, request_time) = read_body(response)?;
    let mut rows = paging::on_grid(tf, rows)?;
    let param = |k| query_param(&request.url, k).and_then(|v| v.parse::<i64>().ok());
    let end = param("endTime").map_or(window.end, |e| e.saturating_add(1).min(window.end));
    let limit = param("limit").filter(|&l| l > 0).unwrap_or(100) as usize;
    let history = request.url.contains(HISTORY_PATH);
    let start = param("startTime").filter(|_| !history);
    // The oldest open the answering endpoint is trusted for.
    let reach = match (start, request_time) {
        (None, _) => window.start,
        (Some(_), Some(now)) => paging::ceil(tf, now.saturating_sub((days - 1) * DAY)),
        (Some(_), None) => rows.first().map_or(end, |c| c.open_time),
    };
    let lo = start.unwrap_or(window.start).max(reach);
    rows.retain(|c| c.open_time >= lo);
    let p = paging::backward(
        tf,
        window,
        Span {
            start: lo,
            end,
            limit,
        },
        rows,
    );
    let next = match p.next {
        Some(e) if history || start.is_some() => Some(set_query_param(
            &request.url,
            "endTime",
            &(e - 1).to_string(),
        )),
        // The recent endpoint stopped at its reach: the rest comes from history-candles.
        None if start.is_some() && lo > window.start => {
            let (_, url, q) = query(market, HISTORY_PATH)?;
            let q = q.push("endTime", lo.min(end) - 1);
            Some(q.push("limit", MAX_HISTORY.min(limit as u32)).url(&url))
        }
        _ => None,
    };
    Ok(p.page(next.map(|url| Request {
        url,
        ..request.clone()
    })))
}

/// The rows and `requestTime` of a success body; anything else is an error.
fn read_body(response: &Response) -> Result<(Vec<Candle>, Option<i64>), AdapterError> {
    let bad = |e: &dyn std::fmt::Display| AdapterError::Malformed(format!("candles body: {e}"));
    let (mut s, mut first) = (Scanner::new(&response.body), true);
    let (mut rows, mut time, mut ok) = (None, None, false);
    if response.status != 200 {
        return Err(error(response));
    }
    s.begin_object().map_err(|e| bad(&e))?;
    while let Some(key) = s.next_key(&mut first).map_err(|e| bad(&e))? {
        match key {
            b"data" if s.peek() == Some(b'[') => {
                rows = Some(rows::array_rows(&mut s, &Layout::OHLCV_MS)?)
            }
            b"requestTime" => time = Some(s.i64_lenient().map_err(|e| bad(&e))?),
            b"code" if s.peek() == Some(b'"') => ok = s.string_raw() == Ok(b"00000"),
            _ => s.skip_value().map_err(|e| bad(&e))?,
        }
    }
    if !s.at_end() {
        return Err(bad(&format_args!("trailing data at byte {}", s.position())));
    }
    match rows {
        Some(rows) if ok => Ok((rows, time)),
        _ if ok => Err(bad(&"no data array")),
        _ => Err(error(response)),
    }
}

/// The typed error of an error answer.
pub fn error(response: &Response) -> AdapterError {
    let body = wire::code_msg(&response.body, "code", "msg");
    if response.status == 429 || matches!(body, Some((429, _))) {
        let wait = retry_after_ms(&response.headers).unwrap_or(DEFAULT_RETRY_MS);
        return AdapterError::RateLimited(wait);
    }
    match body {
        Some((_, m)) if m.contains("granularity") => AdapterError::UnsupportedTimeframe(names()),
        Some((40034, msg)) => AdapterError::UnknownSymbol(msg),
        Some((code, message)) => AdapterError::Exchange { code, message },
        None => AdapterError::Exchange {
            code: response.status.into(),
            message: wire::excerpt(&response.body),
        },
    }
}

/// Poll the newest 10 candles every timeframe (at most every 10 s).
pub fn live_poll(market: &Market) -> Result<PollPlan, AdapterError> {
    let (tf, url, q) = query(market, RECENT_PATH)?;
    Ok(wire::poll(Request::get(q.push("limit", 10).url(&url)), tf))
}

#[cfg(target_arch = "wasm32")]
seamless_adapter_kit::export_adapter!("../../wit", poll);
