//! Binance spot REST: `/api/v3/klines`, `/api/v3/exchangeInfo`, `/api/v3/time`, `/api/v3/ping`.
//!
//! Semantics follow the real API (see `shared/exchanges.md`):
//! - klines: `symbol` (e.g. `BTCUSDT`), `interval` (`1s` … `1M`), optional `startTime`/`endTime`
//!   (ms; rows with `startTime <= openTime <= endTime`), `limit` (default 500, 1..=1000). Without
//!   `startTime` the newest `limit` candles up to `endTime` (or now) are returned. Rows ascend and
//!   the forming candle is included when the range reaches the market clock's now. Row format
//!   `[openTime,"o","h","l","c","vol",closeTime,"quoteVol",trades,"takerBase","takerQuote","0"]`
//!   with 8-decimal strings; the body is written straight into a pre-sized buffer.
//! - weights: klines 2, exchangeInfo 20, time and ping 1, against the shared minute budget;
//!   every response carries `X-MBX-USED-WEIGHT-1M`; over budget → 429/-1003, then 418 bans.
//! - errors use Binance's codes and messages (`{"code":-1121,"msg":"Invalid symbol."}`, …).
//!
//! Live kline WebSocket streams (`/ws/<stream>`, `/stream?streams=..`) are in [`stream`] (names,
//! event payload, schedule), [`control`] (SUBSCRIBE & co.) and [`session`] (one connection's
//! state); the socket task is [`crate::ws`].

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;

pub mod control;
pub mod session;
pub mod stream;

use crate::faults::Fault;
use crate::limits::Admission;
use crate::market::{Candle, Market, Markets};
use crate::query;
use crate::server::Shared;
use crate::timeframe::Timeframe;

/// Path of the candle endpoint.
pub const KLINES_PATH: &str = "/api/v3/klines";
/// Weight of one klines request (spot, whatever the limit).
pub const KLINES_WEIGHT: u32 = 2;
/// Weight of exchangeInfo.
pub const EXCHANGE_INFO_WEIGHT: u32 = 20;
/// Weight of time and ping.
pub const LIGHT_WEIGHT: u32 = 1;
/// Default and maximum klines `limit`.
pub const DEFAULT_LIMIT: usize = 500;
/// Maximum klines `limit`.
pub const MAX_LIMIT: usize = 1000;
/// Name of the used-weight header.
pub const USED_WEIGHT_HEADER: &str = "x-mbx-used-weight-1m";

const JSON: &str = "application/json;charset=UTF-8";
const INT_RANGE: &str = "^[0-9]{1,20}$";
const SYMBOL_RANGE: &str = "^[A-Z0-9-_.]{1,20}$";

/// A request error, answered with Binance's code and message (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("Mandatory parameter '{0}' was not sent, was empty/null, or malformed.")]
    Mandatory(&'static str),
    #[error("Illegal characters found in parameter '{0}'; legal range is '{1}'.")]
    Illegal(&'static str, &'static str),
    #[error("Duplicate values for a parameter detected.")]
    Duplicate,
    #[error("Invalid symbol.")]
    InvalidSymbol,
    #[error("Invalid interval.")]
    InvalidInterval,
    #[error("Invalid data sent for a parameter.")]
    InvalidData,
    #[error("Start time is greater than end time.")]
    StartAfterEnd,
}

impl ApiError {
    /// Binance's error code.
    pub fn code(&self) -> i32 {
        match self {
            ApiError::Illegal(..) => -1100,
            ApiError::Duplicate => -1101,
            ApiError::Mandatory(_) => -1102,
            ApiError::InvalidInterval => -1120,
            ApiError::InvalidSymbol => -1121,
            ApiError::InvalidData => -1130,
            ApiError::StartAfterEnd => -1023,
        }
    }

    /// The JSON error body.
    pub fn body(&self) -> String {
        error_body(self.code(), &self.to_string())
    }
}

fn error_body(code: i32, msg: &str) -> String {
    serde_json::json!({ "code": code, "msg": msg }).to_string()
}

/// The Binance routes (to be merged into the simulator's router).
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(KLINES_PATH, get(klines))
        .route("/api/v3/exchangeInfo", get(exchange_info))
        .route("/api/v3/time", get(time))
        .route("/api/v3/ping", get(ping))
}

/// The Binance id of a market (`BTC/USDT` → `BTCUSDT`).
pub fn symbol_id(m: &Market) -> String {
    format!("{}{}", m.base(), m.quote())
}

/// The market whose Binance id (`BTCUSDT`) is `id`.
pub(crate) fn find<'a>(markets: &'a Markets, id: &str) -> Option<&'a Market> {
    markets.iter().find(|m| {
        id.len() == m.base().len() + m.quote().len()
            && id.starts_with(m.base())
            && id.ends_with(m.quote())
    })
}

/// Parsed klines parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KlinesQuery {
    pub symbol: String,
    pub interval: Timeframe,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
    pub limit: usize,
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, ApiError> {
    let mut it = pairs.iter().filter(|(k, _)| k == name);
    let first = it.next().map(|(_, v)| v.as_str());
    if it.next().is_some() {
        return Err(ApiError::Duplicate);
    }
    Ok(first.filter(|v| !v.is_empty()))
}

fn int_param(pairs: &[(String, String)], name: &'static str) -> Result<Option<u128>, ApiError> {
    match param(pairs, name)? {
        None => Ok(None),
        Some(v) if v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()) => v
            .parse::<u128>()
            .map(Some)
            .map_err(|_| ApiError::Illegal(name, INT_RANGE)),
        Some(_) => Err(ApiError::Illegal(name, INT_RANGE)),
    }
}

fn time_param(pairs: &[(String, String)], name: &'static str) -> Result<Option<i64>, ApiError> {
    Ok(int_param(pairs, name)?.map(|v| i64::try_from(v).unwrap_or(i64::MAX)))
}

/// Validates a klines query string against the configured markets.
pub fn parse_klines(markets: &Markets, raw: &str) -> Result<KlinesQuery, ApiError> {
    let pairs = query::parse(raw);
    let symbol = param(&pairs, "symbol")?.ok_or(ApiError::Mandatory("symbol"))?;
    let interval = param(&pairs, "interval")?.ok_or(ApiError::Mandatory("interval"))?;
    let symbol_ok = symbol.len() <= 20
        && symbol
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b"-_.".contains(&b));
    if !symbol_ok {
        return Err(ApiError::Illegal("symbol", SYMBOL_RANGE));
    }
    let start_time = time_param(&pairs, "startTime")?;
    let end_time = time_param(&pairs, "endTime")?;
    let limit = int_param(&pairs, "limit")?;
    if find(markets, symbol).is_none() {
        return Err(ApiError::InvalidSymbol);
    }
    let interval = Timeframe::parse(interval).ok_or(ApiError::InvalidInterval)?;
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(l) if (1..=MAX_LIMIT as u128).contains(&l) => l as usize,
        Some(_) => return Err(ApiError::InvalidData),
    };
    if let (Some(s), Some(e)) = (start_time, end_time)
        && s > e
    {
        return Err(ApiError::StartAfterEnd);
    }
    Ok(KlinesQuery {
        symbol: symbol.to_string(),
        interval,
        start_time,
        end_time,
        limit,
    })
}

/// The candles a klines query returns at market time `now`.
pub fn select(markets: &Markets, q: &KlinesQuery, now: i64) -> Vec<Candle> {
    let Some(m) = find(markets, &q.symbol) else {
        return Vec::new();
    };
    let end = q.end_time.unwrap_or(i64::MAX);
    match q.start_time {
        Some(start) => m.candles_from(q.interval, start, end, now, q.limit),
        None => m.candles_before(q.interval, end, now, q.limit),
    }
}

/// The full klines JSON body for a query string at market time `now`.
pub fn klines_body(markets: &Markets, raw: &str, now: i64) -> Result<Vec<u8>, ApiError> {
    let q = parse_klines(markets, raw)?;
    let candles = select(markets, &q, now);
    let m = find(markets, &q.symbol).ok_or(ApiError::InvalidSymbol)?;
    Ok(write_rows(m, q.interval, &candles))
}

// -------------------------------------------------------------------------------------------------
// Row formatting

const POW10: [u64; 20] = {
    let mut p = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

fn push_padded(buf: &mut Vec<u8>, mut v: u64, width: usize) {
    let mut tmp = [b'0'; 20];
    for d in tmp[..width].iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    buf.extend_from_slice(&tmp[..width]);
}

/// Writes `units * 10^-decimals` with exactly 8 decimals (truncating any further digits).
pub(crate) fn push_fixed(buf: &mut Vec<u8>, itoa: &mut itoa::Buffer, units: u128, decimals: u32) {
    let decimals = decimals.min(19) as usize;
    let (int, frac) = match u64::try_from(units) {
        Ok(u) => (u128::from(u / POW10[decimals]), u % POW10[decimals]),
        Err(_) => {
            let p = u128::from(POW10[decimals]);
            (units / p, (units % p) as u64)
        }
    };
    buf.extend_from_slice(itoa.format(int).as_bytes());
    buf.push(b'.');
    if decimals >= 8 {
        push_padded(buf, frac / POW10[decimals - 8], 8);
    } else {
        push_padded(buf, frac, decimals);
        buf.extend_from_slice(&b"00000000"[..8 - decimals]);
    }
}

/// The klines JSON array for `candles` of `market`.
pub fn write_rows(market: &Market, tf: Timeframe, candles: &[Candle]) -> Vec<u8> {
    let pd = market.price_decimals();
    let vd = market.volume_decimals();
    let mut buf = Vec::with_capacity(2 + candles.len() * 220);
    let mut it = itoa::Buffer::new();
    buf.push(b'[');
    for (i, c) in candles.iter().enumerate() {
        if i > 0 {
            buf.push(b',');
        }
        let b = &c.bar;
        buf.push(b'[');
        buf.extend_from_slice(it.format(c.open_time).as_bytes());
        for p in [b.open, b.high, b.low, b.close] {
            buf.extend_from_slice(b",\"");
            push_fixed(&mut buf, &mut it, p.max(0) as u128, pd);
            buf.push(b'"');
        }
        buf.extend_from_slice(b",\"");
        push_fixed(&mut buf, &mut it, u128::from(b.volume), vd);
        buf.extend_from_slice(b"\",");
        buf.extend_from_slice(it.format(tf.next(c.open_time) - 1).as_bytes());
        buf.extend_from_slice(b",\"");
        push_fixed(&mut buf, &mut it, b.quote_volume, pd + vd);
        buf.extend_from_slice(b"\",");
        buf.extend_from_slice(it.format(b.trades).as_bytes());
        buf.extend_from_slice(b",\"");
        push_fixed(&mut buf, &mut it, u128::from(b.taker_base), vd);
        buf.extend_from_slice(b"\",\"");
        push_fixed(&mut buf, &mut it, b.taker_quote, pd + vd);
        buf.extend_from_slice(b"\",\"0\"]");
    }
    buf.push(b']');
    buf
}

// -------------------------------------------------------------------------------------------------
// Other documents

/// The exchangeInfo document (optionally filtered by `symbol`).
pub fn exchange_info_body(
    markets: &Markets,
    raw: &str,
    now: i64,
    budget: u32,
) -> Result<String, ApiError> {
    let pairs = query::parse(raw);
    let only = param(&pairs, "symbol")?;
    if let Some(s) = only
        && find(markets, s).is_none()
    {
        return Err(ApiError::InvalidSymbol);
    }
    let symbols: Vec<serde_json::Value> = markets
        .iter()
        .filter(|m| only.is_none_or(|s| symbol_id(m) == s))
        .map(|m| {
            let tick = format!("{:.8}", 10f64.powi(-(m.price_decimals() as i32)));
            let step = format!("{:.8}", 10f64.powi(-(m.volume_decimals() as i32)));
            serde_json::json!({
                "symbol": symbol_id(m),
                "status": "TRADING",
                "baseAsset": m.base(),
                "baseAssetPrecision": 8,
                "quoteAsset": m.quote(),
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"],
                "icebergAllowed": true,
                "ocoAllowed": true,
                "isSpotTradingAllowed": true,
                "isMarginTradingAllowed": false,
                "filters": [
                    { "filterType": "PRICE_FILTER", "minPrice": tick, "maxPrice": "1000000.00000000", "tickSize": tick },
                    { "filterType": "LOT_SIZE", "minQty": step, "maxQty": "9000.00000000", "stepSize": step }
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
                "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
                "allowedSelfTradePreventionModes": ["EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]
            })
        })
        .collect();
    Ok(serde_json::json!({
        "timezone": "UTC",
        "serverTime": now,
        "rateLimits": [
            { "rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": budget },
            { "rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100 },
            { "rateLimitType": "ORDERS", "interval": "DAY", "intervalNum": 1, "limit": 200000 },
            { "rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000 }
        ],
        "exchangeFilters": [],
        "symbols": symbols
    })
    .to_string())
}

// -------------------------------------------------------------------------------------------------
// Handlers

fn response(
    status: StatusCode,
    used: u32,
    content_type: &'static str,
    body: impl Into<Body>,
) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(USED_WEIGHT_HEADER, HeaderValue::from(used));
    r
}

fn with_retry_after(mut r: Response, secs: u64) -> Response {
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

fn too_much_weight(budget: u32) -> String {
    error_body(
        -1003,
        &format!(
            "Too much request weight used; current limit is {budget} request weight per 1 MINUTE. \
             Please use WebSocket Streams for live updates to avoid polling the API."
        ),
    )
}

/// Runs the weight limiter: `Ok(used)` to serve, `Err(response)` for a 429/418.
fn admit(s: &Shared, weight: u32) -> Result<u32, Box<Response>> {
    let (admission, budget) = s.admit(weight);
    match admission {
        Admission::Allowed { used } => Ok(used),
        Admission::Limited {
            used,
            retry_after_s,
        } => Err(Box::new(with_retry_after(
            response(
                StatusCode::TOO_MANY_REQUESTS,
                used,
                JSON,
                too_much_weight(budget),
            ),
            retry_after_s,
        ))),
        Admission::Banned {
            used,
            until_ms,
            retry_after_s,
        } => {
            let body = error_body(
                -1003,
                &format!(
                    "Way too much request weight used; IP banned until {until_ms}. \
                     Please use WebSocket Streams for live updates to avoid bans."
                ),
            );
            let status = StatusCode::from_u16(418).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            Err(Box::new(with_retry_after(
                response(status, used, JSON, body),
                retry_after_s,
            )))
        }
    }
}

fn bad_request(used: u32, e: &ApiError) -> Response {
    response(StatusCode::BAD_REQUEST, used, JSON, e.body())
}

/// The response of an injected error status.
fn injected_error(status: u16, used: u32, budget: u32) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    match status {
        429 => with_retry_after(response(code, used, JSON, too_much_weight(budget)), 1),
        500 => response(
            code,
            used,
            JSON,
            error_body(
                -1001,
                "Internal error; unable to process your request. Please try again.",
            ),
        ),
        503 => response(
            code,
            used,
            JSON,
            error_body(
                -1008,
                "Server is currently overloaded with other requests. Please try again in a few minutes.",
            ),
        ),
        400..=499 => response(
            code,
            used,
            JSON,
            error_body(
                -1000,
                "An unknown error occurred while processing the request.",
            ),
        ),
        _ => {
            let title = format!(
                "{} {}",
                code.as_u16(),
                code.canonical_reason().unwrap_or("Error")
            );
            let html = format!(
                "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n\
                 <hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
            );
            response(code, used, "text/html", html)
        }
    }
}

async fn klines(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let fault = s.faults();
    let (latency_ms, budget) = (fault.latency_ms, s.budget());
    if latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(latency_ms)).await;
    }
    let used = match admit(&s, KLINES_WEIGHT) {
        Ok(used) => used,
        Err(r) => return *r,
    };
    let pick = s.next_fault(&fault);
    match pick {
        Some(Fault::RateLimited) => {
            return with_retry_after(
                response(
                    StatusCode::TOO_MANY_REQUESTS,
                    used,
                    JSON,
                    too_much_weight(budget),
                ),
                1,
            );
        }
        Some(Fault::Banned) => {
            let until = crate::clock::wall_ms() + 1000;
            let body = error_body(
                -1003,
                &format!(
                    "Way too much request weight used; IP banned until {until}. \
                     Please use WebSocket Streams for live updates to avoid bans."
                ),
            );
            let status = StatusCode::from_u16(418).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            return with_retry_after(response(status, used, JSON, body), 1);
        }
        Some(Fault::Error(status)) => return injected_error(status, used, budget),
        _ => {}
    }
    let body = match klines_body(s.markets(), raw.as_deref().unwrap_or(""), s.now_ms()) {
        Ok(b) => b,
        Err(e) => return bad_request(used, &e),
    };
    response(StatusCode::OK, used, JSON, s.mangle(pick, body))
}

async fn exchange_info(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let used = match admit(&s, EXCHANGE_INFO_WEIGHT) {
        Ok(used) => used,
        Err(r) => return *r,
    };
    match exchange_info_body(
        s.markets(),
        raw.as_deref().unwrap_or(""),
        s.now_ms(),
        s.budget(),
    ) {
        Ok(body) => response(StatusCode::OK, used, JSON, body),
        Err(e) => bad_request(used, &e),
    }
}

async fn time(State(s): State<Arc<Shared>>) -> Response {
    match admit(&s, LIGHT_WEIGHT) {
        Ok(used) => response(
            StatusCode::OK,
            used,
            JSON,
            format!("{{\"serverTime\":{}}}", s.now_ms()),
        ),
        Err(r) => *r,
    }
}

async fn ping(State(s): State<Arc<Shared>>) -> Response {
    match admit(&s, LIGHT_WEIGHT) {
        Ok(used) => response(StatusCode::OK, used, JSON, "{}"),
        Err(r) => *r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use crate::timeframe::{DAY_MS, MINUTE_MS};
    use serde_json::Value;
    use std::time::Instant;

    const NOW: i64 = 1_718_000_000_000; // 2024-06-10T06:13:20Z

    fn markets() -> Markets {
        Markets::new(42, &MarketSpec::defaults())
    }

    fn rows(body: &[u8]) -> Vec<Vec<Value>> {
        serde_json::from_slice(body).expect("valid JSON")
    }

    #[test]
    fn row_format_and_exact_round_trip() {
        let ms = markets();
        let start = NOW - 3 * DAY_MS;
        let body = klines_body(
            &ms,
            &format!("symbol=BTCUSDT&interval=1m&startTime={start}&limit=1000"),
            NOW,
        )
        .unwrap();
        let page = rows(&body);
        assert_eq!(page.len(), 1000);
        let m = ms.get("BTC/USDT").unwrap();
        let truth = m.closed_candles(Timeframe::M1, start, NOW, NOW);
        for (r, c) in page.iter().zip(&truth) {
            assert_eq!(r.len(), 12);
            let t = m.to_sim(c);
            assert_eq!(r[0].as_i64(), Some(t.open_time));
            assert_eq!(r[6].as_i64(), Some(t.open_time + MINUTE_MS - 1));
            let f = |i: usize| -> f64 { r[i].as_str().unwrap().parse().unwrap() };
            assert_eq!(
                [f(1), f(2), f(3), f(4), f(5)],
                [t.open, t.high, t.low, t.close, t.volume]
            );
            for i in [1, 2, 3, 4, 5, 7, 9, 10] {
                let s = r[i].as_str().unwrap();
                assert_eq!(s.split_once('.').unwrap().1.len(), 8, "{s}");
            }
            assert!(r[8].as_u64().unwrap() > 0);
            assert_eq!(r[11], "0");
        }
        // Weekly volume sums still parse back exactly.
        let wk = klines_body(
            &ms,
            "symbol=ETHUSDT&interval=1w&startTime=0&limit=1000",
            NOW,
        )
        .unwrap();
        let eth = ms.get("ETH/USDT").unwrap();
        let truth = eth.closed_candles(Timeframe::W1, 0, NOW, NOW);
        let weeks = rows(&wk);
        assert_eq!(weeks.len(), truth.len() + 1); // + the forming week
        for (r, c) in weeks.iter().zip(&truth) {
            let v: f64 = r[5].as_str().unwrap().parse().unwrap();
            assert_eq!(v, eth.to_sim(c).volume);
        }
    }

    #[test]
    fn fixed_formatting() {
        let mut b = Vec::new();
        let mut it = itoa::Buffer::new();
        push_fixed(&mut b, &mut it, 4_200_010, 2);
        b.push(b' ');
        push_fixed(&mut b, &mut it, 5, 0);
        b.push(b' ');
        push_fixed(&mut b, &mut it, 123_456_789_012_345_678, 16);
        b.push(b' ');
        push_fixed(&mut b, &mut it, u128::from(u64::MAX) * 1000, 10);
        assert_eq!(
            String::from_utf8(b).unwrap(),
            "42000.10000000 5.00000000 12.34567890 1844674407370.95516150"
        );
    }

    #[test]
    fn page_semantics() {
        let ms = markets();
        // limit default 500, newest first page without startTime ends with the forming candle.
        let body = klines_body(&ms, "symbol=BTCUSDT&interval=1h", NOW).unwrap();
        let r = rows(&body);
        assert_eq!(r.len(), 500);
        assert_eq!(r[499][0].as_i64(), Some(NOW - NOW % 3_600_000));
        // endTime bounds open times inclusively.
        let end = NOW - 10 * 3_600_000;
        let r = rows(
            &klines_body(
                &ms,
                &format!("symbol=BTCUSDT&interval=1h&endTime={end}&limit=3"),
                NOW,
            )
            .unwrap(),
        );
        assert_eq!(r[2][0].as_i64(), Some(end - end % 3_600_000));
        let s = end - end % 3_600_000;
        let r = rows(
            &klines_body(
                &ms,
                &format!("symbol=BTCUSDT&interval=1h&startTime={s}&endTime={s}"),
                NOW,
            )
            .unwrap(),
        );
        assert_eq!(r.len(), 1);
        // Before the listing: empty array; startTime before listing starts at the listing.
        let r = rows(
            &klines_body(&ms, "symbol=SOLUSDT&interval=1m&endTime=1500000000000", NOW).unwrap(),
        );
        assert!(r.is_empty());
        let r =
            rows(&klines_body(&ms, "symbol=SOLUSDT&interval=1m&startTime=0&limit=1", NOW).unwrap());
        assert_eq!(r[0][0].as_i64(), Some(1_597_125_600_000));
        // In the future: empty.
        let r = rows(
            &klines_body(
                &ms,
                &format!(
                    "symbol=BTCUSDT&interval=1m&startTime={}",
                    NOW + 1000 * DAY_MS
                ),
                NOW,
            )
            .unwrap(),
        );
        assert!(r.is_empty());
        // Monthly candles and 1s work.
        let r = rows(
            &klines_body(
                &ms,
                "symbol=BNBUSDT&interval=1M&limit=1000&startTime=0",
                NOW,
            )
            .unwrap(),
        );
        assert_eq!(r[0][0].as_i64(), Some(1_509_494_400_000)); // 2017-11-01
        let r = rows(&klines_body(&ms, "symbol=BNBUSDT&interval=1s&limit=5", NOW).unwrap());
        assert_eq!(r.len(), 5);
        assert_eq!(r[4][0].as_i64(), Some(NOW - 1000));
    }

    #[test]
    fn query_errors() {
        let ms = markets();
        let err = |q: &str| klines_body(&ms, q, NOW).unwrap_err();
        assert_eq!(err(""), ApiError::Mandatory("symbol"));
        assert_eq!(err("symbol=&interval=1m"), ApiError::Mandatory("symbol"));
        assert_eq!(err("symbol=BTCUSDT"), ApiError::Mandatory("interval"));
        assert_eq!(err("symbol=XXXUSDT&interval=1m"), ApiError::InvalidSymbol);
        assert_eq!(err("symbol=BTC/USDT&interval=1m").code(), -1100);
        assert_eq!(err("symbol=btcusdt&interval=1m").code(), -1100);
        assert_eq!(err("symbol=BTCUSDT&interval=7m"), ApiError::InvalidInterval);
        assert_eq!(err("symbol=BTCUSDT&interval=1H"), ApiError::InvalidInterval);
        assert_eq!(
            err("symbol=BTCUSDT&interval=1m&limit=1001"),
            ApiError::InvalidData
        );
        assert_eq!(
            err("symbol=BTCUSDT&interval=1m&limit=0"),
            ApiError::InvalidData
        );
        assert_eq!(
            err("symbol=BTCUSDT&interval=1m&limit=-5"),
            ApiError::Illegal("limit", INT_RANGE)
        );
        assert_eq!(
            err("symbol=BTCUSDT&interval=1m&startTime=abc"),
            ApiError::Illegal("startTime", INT_RANGE)
        );
        assert_eq!(
            err("symbol=BTCUSDT&interval=1m&endTime=1e9"),
            ApiError::Illegal("endTime", INT_RANGE)
        );
        assert_eq!(
            err("symbol=BTCUSDT&interval=1m&startTime=2&endTime=1"),
            ApiError::StartAfterEnd
        );
        assert_eq!(
            err("symbol=BTCUSDT&symbol=ETHUSDT&interval=1m"),
            ApiError::Duplicate
        );
        assert_eq!(
            ApiError::InvalidSymbol.body(),
            r#"{"code":-1121,"msg":"Invalid symbol."}"#
        );
        assert_eq!(
            ApiError::Mandatory("symbol").body(),
            r#"{"code":-1102,"msg":"Mandatory parameter 'symbol' was not sent, was empty/null, or malformed."}"#
        );
        assert_eq!(
            ApiError::InvalidData.body(),
            r#"{"code":-1130,"msg":"Invalid data sent for a parameter."}"#
        );
        assert_eq!(ApiError::StartAfterEnd.code(), -1023);
        // Huge numbers do not panic.
        assert!(klines_body(&ms, "symbol=BTCUSDT&interval=1M&startTime=99999999999999999999&endTime=99999999999999999999", NOW).is_ok());
        assert!(
            klines_body(
                &ms,
                "symbol=BTCUSDT&interval=1M&endTime=99999999999999999999",
                NOW
            )
            .is_ok()
        );
        // A valid limit of 1000 is fine.
        assert!(klines_body(&ms, "symbol=BTCUSDT&interval=1m&limit=1000", NOW).is_ok());
    }

    #[test]
    fn exchange_info_document() {
        let ms = markets();
        let v: Value =
            serde_json::from_str(&exchange_info_body(&ms, "", NOW, 6000).unwrap()).unwrap();
        assert_eq!(v["timezone"], "UTC");
        assert_eq!(v["serverTime"], NOW);
        assert_eq!(v["rateLimits"][0]["rateLimitType"], "REQUEST_WEIGHT");
        assert_eq!(v["rateLimits"][0]["limit"], 6000);
        let syms: Vec<&str> = v["symbols"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["symbol"].as_str().unwrap())
            .collect();
        assert_eq!(syms, ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT"]);
        assert_eq!(v["symbols"][0]["status"], "TRADING");
        assert_eq!(v["symbols"][0]["filters"][0]["tickSize"], "0.01000000");
        let one: Value =
            serde_json::from_str(&exchange_info_body(&ms, "symbol=ETHUSDT", NOW, 6000).unwrap())
                .unwrap();
        assert_eq!(one["symbols"].as_array().unwrap().len(), 1);
        assert_eq!(
            exchange_info_body(&ms, "symbol=NOPE", NOW, 6000),
            Err(ApiError::InvalidSymbol)
        );
    }

    #[test]
    fn odd_queries_never_panic() {
        let ms = Markets::new(
            42,
            &[MarketSpec::new("BTC/USDT", 1_502_942_400_000, 4261.48)
                .with_gap(1_600_000_000_000, 1_600_100_000_000)],
        );
        let times = [
            "0",
            "1",
            "1502942399999",
            "1600000000000",
            "1600050000000",
            "99999999999999999999",
            "18446744073709551615",
            "",
            "-1",
            "+5",
            "1.5",
        ];
        let intervals = ["1s", "1m", "3d", "1w", "1M", "", "1y"];
        let limits = ["", "1", "1000", "1001", "0", "x"];
        let mut n = 0;
        for (i, st) in times.iter().enumerate() {
            for et in &times[i % 3..] {
                for iv in intervals {
                    for l in limits {
                        let q = format!(
                            "symbol=BTCUSDT&interval={iv}&startTime={st}&endTime={et}&limit={l}"
                        );
                        if let Ok(body) = klines_body(&ms, &q, NOW) {
                            let r = rows(&body);
                            assert!(
                                r.windows(2).all(|w| w[0][0].as_i64() < w[1][0].as_i64()),
                                "{q}"
                            );
                            n += 1;
                        }
                    }
                }
            }
        }
        assert!(n > 100);
        for q in [
            "%",
            "&&&",
            "symbol",
            "symbol=%ZZ&interval=1m",
            "=&=",
            "symbol=BTCUSDT&interval=1m&startTime=%31",
        ] {
            let _ = klines_body(&ms, q, NOW);
        }
    }

    /// Prints the server-side cost of a 1000-row page (run with `--nocapture`; in release for the
    /// real figure). Not asserted: timings flake on shared machines.
    #[test]
    fn page_cost() {
        let ms = markets();
        let start = NOW - 400 * DAY_MS;
        let mut t = start;
        let n = 50;
        let t0 = Instant::now();
        let mut bytes = 0;
        for _ in 0..n {
            let body = klines_body(
                &ms,
                &format!("symbol=BTCUSDT&interval=1m&startTime={t}&limit=1000"),
                NOW,
            )
            .unwrap();
            bytes += body.len();
            t += 1000 * MINUTE_MS;
        }
        let per = t0.elapsed() / n;
        println!(
            "klines 1m page of 1000 rows: {per:?} per page ({} bytes)",
            bytes / n as usize
        );
        let m = ms.get("BTC/USDT").unwrap();
        let candles = m.candles_from(Timeframe::M1, start, NOW, NOW, 1000);
        let t0 = Instant::now();
        for _ in 0..n {
            std::hint::black_box(write_rows(m, Timeframe::M1, &candles));
        }
        println!("  of which formatting: {:?}", t0.elapsed() / n);
        let t0 = Instant::now();
        let _ = klines_body(
            &ms,
            "symbol=BTCUSDT&interval=1h&startTime=1600000000000&limit=1000",
            NOW,
        )
        .unwrap();
        let cold = t0.elapsed();
        let t0 = Instant::now();
        let _ = klines_body(
            &ms,
            "symbol=BTCUSDT&interval=1h&startTime=1600000000000&limit=1000",
            NOW,
        )
        .unwrap();
        println!(
            "klines 1h page of 1000 rows: {cold:?} cold, {:?} warm",
            t0.elapsed()
        );
    }
}
