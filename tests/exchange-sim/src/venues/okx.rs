//! OKX v5 REST: `GET /api/v5/market/candles` and `/api/v5/market/history-candles` (under `/okx`).
//!
//! Semantics follow the real API:
//! - `instId` (`BTC-USDT`; `BTC-USDT-SWAP` serves the same market's data), `bar` (`1m 3m 5m
//!   15m 30m 1H 2H 4H 6Hutc 12Hutc 1Dutc 1Wutc 1Mutc`; the UTC+8-aligned `6H`…`1M` cannot be
//!   simulated and are refused like an unknown bar), `after` (open < after), `before` (open >
//!   before), `limit` (default 100; clamped to 300 on `candles`, 100 on `history-candles`).
//!   The newest `limit` matching candles are returned, newest first, the forming candle
//!   included with `confirm` "0".
//! - `candles` serves only the newest 1440 candles; `history-candles` every age.
//! - Rows `["ts","o","h","l","c","vol","volCcy","volCcyQuote","confirm"]`: spot `vol` in
//!   base, `volCcy`/`volCcyQuote` in quote; swaps `vol` in contracts of 0.01 base,
//!   `volCcy` in base. Every response carries a `Date` header from the market clock.
//! - Errors (HTTP 200): 51001 `Instrument ID doesn't exist.`, 51000 `Parameter bar error`
//!   (or another parameter), 50014 for a missing `instId`. Over the weight budget, an
//!   injected rate limit or ban: HTTP 429 `{"msg":"Too Many Requests","code":"50011"}`.
//!   Weight 1 per request against the shared limiter.
//!
//! The business WebSocket (`candle{bar}` channels) is [`super::okx_stream`].

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;

use super::newest_first::{Gate, find, gate, http_date, newest_first, reply, values};
use crate::market::{Candle, Market, Markets};
use crate::query;
use crate::server::Shared;
use crate::timeframe::Timeframe;

/// Recent candles (newest 1440).
pub const CANDLES_PATH: &str = "/api/v5/market/candles";
/// Every age.
pub const HISTORY_PATH: &str = "/api/v5/market/history-candles";
/// How many of the newest candles `candles` serves.
pub const RECENT: usize = 1440;

/// Routes of this venue, relative to its `/okx` prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            CANDLES_PATH,
            get(|s: State<Arc<Shared>>, q: RawQuery| candles(s, q, true)),
        )
        .route(
            HISTORY_PATH,
            get(|s: State<Arc<Shared>>, q: RawQuery| candles(s, q, false)),
        )
}

/// One candle row `["ts","o","h","l","c","vol","volCcy","volCcyQuote","confirm"]` (REST and
/// WebSocket alike): spot `vol` in base; swaps `vol` in contracts of 0.01 base, `volCcy` in
/// base.
pub(crate) fn row(m: &Market, c: &Candle, swap: bool) -> String {
    let [o, h, l, cl, v, qv] = values(m, c);
    let vol = if swap {
        (m.to_sim(c).volume * 100.0).to_string()
    } else {
        v.clone()
    };
    let ccy = if swap { v } else { qv.clone() };
    let confirm = if c.closed { "1" } else { "0" };
    format!(
        r#"["{}","{o}","{h}","{l}","{cl}","{vol}","{ccy}","{qv}","{confirm}"]"#,
        c.open_time
    )
}

/// OKX's bar names (UTC-aligned for 6h and up), REST and WebSocket (`candle{bar}`).
pub(crate) const BARS: [(&str, Timeframe); 13] = [
    ("1m", Timeframe::M1),
    ("3m", Timeframe::M3),
    ("5m", Timeframe::M5),
    ("15m", Timeframe::M15),
    ("30m", Timeframe::M30),
    ("1H", Timeframe::H1),
    ("2H", Timeframe::H2),
    ("4H", Timeframe::H4),
    ("6Hutc", Timeframe::H6),
    ("12Hutc", Timeframe::H12),
    ("1Dutc", Timeframe::D1),
    ("1Wutc", Timeframe::W1),
    ("1Mutc", Timeframe::Mo1),
];

/// The JSON body of a candles query at market time `now`, or an error `(code, msg)`.
pub fn candles_body(
    markets: &Markets,
    raw: &str,
    now: i64,
    recent: bool,
) -> Result<String, (u32, String)> {
    let q = query::parse(raw);
    let p = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let int = |k: &str| -> Result<Option<i64>, (u32, String)> {
        p(k).map(|v| {
            v.parse::<i64>()
                .map_err(|_| (51000, format!("Parameter {k} error")))
        })
        .transpose()
    };
    let id = p("instId").ok_or((50014, "Parameter instId can not be empty.".to_owned()))?;
    let unknown = || (51001, "Instrument ID doesn't exist.".to_owned());
    let mut parts = id.split('-');
    let (base, quote, kind) = (
        parts.next().ok_or_else(unknown)?,
        parts.next().ok_or_else(unknown)?,
        parts.next(),
    );
    let swap = match (kind, parts.next()) {
        (None, None) => false,
        (Some("SWAP"), None) => true,
        _ => return Err(unknown()),
    };
    let m = find(markets, base, quote)
        .filter(|_| id == id.to_ascii_uppercase())
        .ok_or_else(unknown)?;
    let bar = p("bar").unwrap_or("1m");
    let tf = BARS
        .iter()
        .find(|b| b.0 == bar)
        .ok_or((51000, "Parameter bar error".to_owned()))?
        .1;
    let (after, before, limit) = (int("after")?, int("before")?, int("limit")?);
    let max = if recent { 300 } else { 100 };
    let limit = limit.unwrap_or(100).clamp(1, max) as usize;
    let end = after.map_or(now, |a| a.saturating_sub(1));
    let mut start = before.map_or(i64::MIN, |b| b.saturating_add(1));
    if recent {
        let newest = m.candles_before(tf, now, now, RECENT);
        start = start.max(newest.first().map_or(i64::MAX, |c| c.open_time));
    }
    let rows: Vec<String> = newest_first(m, tf, start, end, now, limit)
        .iter()
        .map(|c| row(m, c, swap))
        .collect();
    Ok(format!(
        r#"{{"code":"0","msg":"","data":[{}]}}"#,
        rows.join(",")
    ))
}

async fn candles(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery, recent: bool) -> Response {
    let date = ("date", http_date(s.now_ms()));
    let pick = match gate(&s, 1).await {
        Gate::Serve(pick) => pick,
        Gate::Limited(_) | Gate::Banned(_) => {
            return reply(
                429,
                &[date],
                r#"{"msg":"Too Many Requests","code":"50011"}"#,
            );
        }
        Gate::Error(status) if status >= 500 => {
            let body = r#"{"code":"50001","msg":"Service temporarily unavailable. Please try again later.","data":[]}"#;
            return reply(status, &[date], body);
        }
        Gate::Error(status) => {
            return reply(
                status,
                &[date],
                r#"{"code":"50000","msg":"Bad request.","data":[]}"#,
            );
        }
    };
    match candles_body(
        s.markets(),
        raw.as_deref().unwrap_or(""),
        s.now_ms(),
        recent,
    ) {
        Ok(body) => reply(200, &[date], s.mangle(pick, body.into_bytes())),
        Err((code, msg)) => {
            let body =
                serde_json::json!({"code": code.to_string(), "msg": msg, "data": []}).to_string();
            reply(200, &[date], body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use serde_json::Value;

    const NOW: i64 = 1_718_000_000_000; // 2024-06-10T06:13:20Z
    const M: i64 = 60_000;

    fn markets() -> Markets {
        Markets::new(42, &MarketSpec::defaults())
    }

    fn data(raw: &str, recent: bool) -> Vec<Vec<String>> {
        let v: Value =
            serde_json::from_str(&candles_body(&markets(), raw, NOW, recent).unwrap()).unwrap();
        assert_eq!(v["code"], "0");
        serde_json::from_value(v["data"].clone()).unwrap()
    }

    #[test]
    fn after_before_limit_and_confirm() {
        let ms = markets();
        let m = ms.get("BTC/USDT").unwrap();
        let t = |r: &Vec<String>| r[0].parse::<i64>().unwrap();
        let rows = data("instId=BTC-USDT&bar=1m&limit=500", false);
        assert_eq!(rows.len(), 100, "history-candles caps at 100");
        assert!(rows.windows(2).all(|w| t(&w[0]) > t(&w[1])));
        assert_eq!(
            (t(&rows[0]), rows[0][8].as_str(), rows[1][8].as_str()),
            (NOW - NOW % M, "0", "1")
        );
        let end = NOW - NOW % M - 3 * 86_400_000;
        let rows = data(
            &format!(
                "instId=BTC-USDT&bar=1m&after={end}&before={}&limit=300",
                end - 10 * M - 1
            ),
            false,
        );
        assert_eq!(rows.len(), 10);
        assert_eq!((t(&rows[0]), t(&rows[9])), (end - M, end - 10 * M));
        let truth = m.closed_candles(Timeframe::M1, end - 10 * M, end, NOW);
        for (r, c) in rows.iter().rev().zip(&truth) {
            let s = m.to_sim(c);
            let f = |i: usize| r[i].parse::<f64>().unwrap();
            assert_eq!(
                (t(r), f(1), f(2), f(3), f(4), f(5)),
                (s.open_time, s.open, s.high, s.low, s.close, s.volume)
            );
        }
        let swap = data(
            &format!("instId=BTC-USDT-SWAP&bar=1m&after={end}&limit=1"),
            false,
        );
        assert_eq!(
            swap[0][6].parse::<f64>().unwrap(),
            m.to_sim(&truth[9]).volume
        );
    }

    #[test]
    fn recent_candles_serve_only_the_newest_1440() {
        assert_eq!(data("instId=ETH-USDT&bar=1H&limit=300", true).len(), 300);
        let old = NOW - 2000 * M;
        assert!(data(&format!("instId=ETH-USDT&bar=1m&after={old}"), true).is_empty());
        assert_eq!(
            data(&format!("instId=ETH-USDT&bar=1m&after={old}"), false).len(),
            100
        );
        let edge = NOW - NOW % M - 1439 * M;
        let rows = data(
            &format!("instId=ETH-USDT&bar=1m&after={}", edge + 2 * M),
            true,
        );
        assert_eq!(rows.len(), 2);
    }

    #[test]
    fn errors() {
        let err = |q: &str| candles_body(&markets(), q, NOW, false).unwrap_err();
        assert_eq!(err("instId=XYZ-USDT&bar=1m").0, 51001);
        assert_eq!(err("instId=btc-usdt&bar=1m").0, 51001);
        assert_eq!(err("instId=BTC-USDT-FUTURES&bar=1m").0, 51001);
        assert_eq!(
            err("instId=BTC-USDT&bar=1D"),
            (51000, "Parameter bar error".to_owned())
        );
        assert_eq!(
            err("instId=BTC-USDT&bar=1m&after=x"),
            (51000, "Parameter after error".to_owned())
        );
        assert_eq!(err("bar=1m").0, 50014);
    }
}
