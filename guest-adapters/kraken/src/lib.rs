//! Kraken spot OHLCV adapter: `GET /0/public/OHLC?pair=XBTUSD&interval=1&since=s`.
//!
//! - Kraken answers with **at most the newest 720 candles**, whatever `since` says:
//!   `{"error":[],"result":{"XXBTZUSD":[[time_s,"o","h","l","c","vwap","volume",count],..],
//!   "last":s}}`, ascending; the last row is the candle still forming. So one request
//!   serves any window inside the newest 720 candles, and nothing older: when 720 rows
//!   come back and the oldest opens after the window start, the answer is
//!   `unavailable-before(oldest open)` (never a silently short page).
//! - `since` is sent one interval before the window start (as ccxt does), so the first
//!   candle of the window is returned whether Kraken reads `since` as inclusive or not.
//!   Kraken has no end parameter: the adapter bounds the window itself.
//! - A page proves the whole window (everything from `since` up to now came back).
//! - Symbols: Kraken calls BTC `XBT` and DOGE `XDG` (`BTC/USD` → `XBTUSD`); the result
//!   key may be another spelling (`XXBTZUSD`), so the first key other than `last` is read.
//! - Volume: field 6 (`volume`, base units); field 5 is the VWAP.
//! - Timeframes: 1 5 15 30 60 240 1440 minutes. Kraken's 10080 (week) candles open on
//!   Thursdays (epoch-aligned), not on the Monday grid seamless uses, and 21600 (15 days)
//!   has no unified name: both are left out.
//! - Rate limit: public calls about 1 per second per IP (60 per minute, weight 1, no
//!   header). `EGeneral:Too many requests` / `EAPI:Rate limit exceeded` / HTTP 429 →
//!   `rate-limited(Retry-After, else 5 s)`: Kraken documents no wait for public calls.
//! - Errors are strings in `error` (`EQuery:Unknown asset pair` → `unknown-symbol`;
//!   others → `exchange(HTTP status, "EClass:message")`).
//! - Live: REST polling of the newest candles (`pair` and `interval`, no `since`) every
//!   `min(timeframe, 10 s)`; `live-parse` returns no candles (no WebSocket).

use seamless_adapter_kit::envelope::envelope;
use seamless_adapter_kit::paging::{self, Span};
use seamless_adapter_kit::rows::{Layout, array_rows};
use seamless_adapter_kit::timeframe::{Timeframe, names};
use seamless_adapter_kit::wire::{hint, http_error};
use seamless_adapter_kit::{AdapterError as E, AdapterInfo, Candle, Market, Page, PollPlan};
use seamless_adapter_kit::{Query, Request, Response, Scanner, Window};
use seamless_adapter_kit::{retry_after_ms, symbol, wire::poll_interval_ms};

pub const REST_BASE: &str = "https://api.kraken.com";
/// Candles Kraken serves per pair and interval (the newest ones).
pub const MAX_CANDLES: u32 = 720;
pub const TIMEFRAMES: [Timeframe; 7] = {
    use Timeframe::*;
    [M1, M5, M15, M30, H1, H4, D1]
};
/// Wait after a rate-limit answer without `Retry-After`.
pub const DEFAULT_RETRY_MS: u64 = 5_000;
const LAYOUT: Layout = Layout {
    index: [0, 1, 2, 3, 4, 6],
    time_unit_ms: 1000,
};

pub fn info() -> AdapterInfo {
    AdapterInfo {
        id: "kraken".into(),
        name: "Kraken".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        base_urls: vec![REST_BASE.into()],
        timeframes: names(&TIMEFRAMES),
        max_candles_per_request: MAX_CANDLES,
        rate_limit: hint(60, 1),
        // Followed by REST polling only (see `live_poll`).
        live_timeframes: Vec::new(),
    }
}

/// The timeframe and its length in minutes (Kraken's `interval`).
pub fn timeframe(name: &str) -> Result<(Timeframe, i64), E> {
    let tf = Timeframe::parse(name).filter(|t| TIMEFRAMES.contains(t));
    let tf = tf.ok_or_else(|| E::UnsupportedTimeframe(names(&TIMEFRAMES)))?;
    Ok((tf, tf.duration_ms().unwrap_or(60_000) / 60_000))
}

/// Kraken's pair name: `BTC/USD` → `XBTUSD` (an id without `/` is passed through).
pub fn pair(unified: &str) -> Result<String, E> {
    let kraken = |c: &str| match c {
        "BTC" => "XBT".to_owned(),
        "DOGE" => "XDG".to_owned(),
        c => c.to_owned(),
    };
    let id = match symbol::split(&unified.to_ascii_uppercase()) {
        Some(p) if p.settle.is_none() => Some(kraken(p.base) + &kraken(p.quote)),
        _ => symbol::concat_id(unified).filter(|_| !unified.contains('/')),
    };
    id.ok_or_else(|| E::UnknownSymbol(format!("{unified:?} is not a spot symbol like BTC/USD")))
}

fn request(market: &Market, since_s: Option<i64>) -> Result<Request, E> {
    let (_, minutes) = timeframe(&market.timeframe)?;
    let mut q = Query::new()
        .push("pair", pair(&market.symbol)?)
        .push("interval", minutes);
    if let Some(since) = since_s {
        q = q.push("since", since);
    }
    Ok(Request::get(q.url(&format!("{REST_BASE}/0/public/OHLC"))))
}

/// The one request for `window`; `limit` does not apply (Kraken has no such parameter).
pub fn plan(market: &Market, window: Window, _limit: u32) -> Result<Request, E> {
    let ((_, minutes), w) = (timeframe(&market.timeframe)?, paging::nonempty(window)?);
    request(market, Some(w.start.div_euclid(1000) - minutes * 60))
}

pub fn parse(market: &Market, window: Window, _req: &Request, resp: &Response) -> Result<Page, E> {
    let (tf, _) = timeframe(&market.timeframe)?;
    if resp.status != 200 {
        return Err(error(resp));
    }
    let Some(Some(rows)) = envelope(&resp.body, "error", &["result"], result_rows)?.1 else {
        return Err(error(resp)); // no candles: the `error` list says why
    };
    let rows = paging::normalize(tf, rows)?;
    if let Some(oldest) = rows.first().map(|c| c.open_time)
        && rows.len() >= MAX_CANDLES as usize
        && oldest > window.start
    {
        return Err(E::UnavailableBefore(oldest));
    }
    let span = Span {
        start: window.start,
        end: window.end,
        limit: usize::MAX,
    };
    let p = paging::forward(tf, window, span, rows);
    Ok(p.page(None))
}

/// The rows of the first `result` member other than `last`.
fn result_rows(s: &mut Scanner<'_>) -> Result<Option<Vec<Candle>>, E> {
    s.begin_object().map_err(E::malformed)?;
    let (mut first, mut rows) = (true, None);
    while let Some(k) = s.next_key(&mut first).map_err(E::malformed)? {
        match (k, &rows) {
            (b"last", _) | (_, Some(_)) => s.skip_value().map_err(E::malformed)?,
            _ => rows = Some(array_rows(s, &LAYOUT)?),
        }
    }
    Ok(rows)
}

/// An answer without candles → the typed error its `error` list (or status) gives.
pub fn error(r: &Response) -> E {
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap_or_default();
    let list = v["error"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str());
    let errors: Vec<&str> = list.collect();
    let has = |p: &str| errors.iter().any(|e| e.starts_with(p));
    if r.status == 429 || has("EGeneral:Too many requests") || has("EAPI:Rate limit exceeded") {
        E::RateLimited(retry_after_ms(&r.headers).unwrap_or(DEFAULT_RETRY_MS))
    } else if has("EQuery:Unknown asset pair") {
        E::UnknownSymbol(errors.join("; "))
    } else if !errors.is_empty() {
        E::Exchange {
            code: i64::from(r.status),
            message: errors.join("; "),
        }
    } else if r.status == 200 {
        E::Malformed("no candles in \"result\"".into())
    } else {
        http_error(r.status, &r.body)
    }
}

/// Poll the newest candles every `min(timeframe, 10 s)`.
pub fn live_poll(market: &Market) -> Result<PollPlan, E> {
    let (tf, _) = timeframe(&market.timeframe)?;
    Ok(PollPlan {
        request: request(market, None)?,
        interval_ms: poll_interval_ms(tf),
    })
}

#[cfg(target_arch = "wasm32")]
seamless_adapter_kit::export_adapter!("../../wit", poll);

#[cfg(test)]
mod tests;
