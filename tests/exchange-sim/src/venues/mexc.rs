//! MEXC spot REST: `GET /api/v3/klines` (mounted under `/mexc`).
//!
//! - `symbol` (`BTCUSDT`), `interval` (`1m 5m 15m 30m 60m 4h 1d 1W 1M`), `startTime`
//!   (inclusive) and `endTime` (exclusive, as ccxt reads MEXC) in ms, `limit` (1..=1000,
//!   default 500) of which at most 500 rows are returned, like the real API. Without
//!   `startTime` the newest rows before `endTime` (or now) come back. Rows ascend:
//!   `[openTime,"o","h","l","c","volume",closeTime,"quoteVolume"]` (closeTime = next open).
//! - Errors `{"code":-1121,"msg":"Invalid symbol."}` (HTTP 400), `-1121 Invalid interval.`,
//!   `-1102`/`-1100` for missing or illegal parameters; over the request budget or an
//!   injected rate limit → 429 `{"code":429,"msg":"Too Many Requests"}` with `Retry-After`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;

use super::admit::{admit, find_joined, json, num, with_retry_after};
use crate::faults::Fault;
use crate::market::{Market, Markets};
use crate::query;
use crate::server::Shared;
use crate::timeframe::Timeframe;

/// Path of the candle endpoint (relative to `/mexc`).
pub const KLINES_PATH: &str = "/api/v3/klines";
/// Rows actually returned at most, whatever `limit` says.
pub const SERVED_MAX: usize = 500;

/// MEXC's interval spellings.
pub const INTERVALS: [(&str, Timeframe); 9] = [
    ("1m", Timeframe::M1),
    ("5m", Timeframe::M5),
    ("15m", Timeframe::M15),
    ("30m", Timeframe::M30),
    ("60m", Timeframe::H1),
    ("4h", Timeframe::H4),
    ("1d", Timeframe::D1),
    ("1W", Timeframe::W1),
    ("1M", Timeframe::Mo1),
];

/// The routes, relative to `/mexc`.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route(KLINES_PATH, get(klines))
}

/// A refused query: HTTP 400 with MEXC's code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub i32, pub String);

impl ApiError {
    fn body(&self) -> String {
        serde_json::json!({ "code": self.0, "msg": self.1 }).to_string()
    }
}

/// The JSON body for a query string at market time `now`.
pub fn klines_body(markets: &Markets, raw: &str, now: i64) -> Result<Vec<u8>, ApiError> {
    let pairs = query::parse(raw);
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let mandatory = |k: &str| {
        ApiError(
            -1102,
            format!("Mandatory parameter '{k}' was not sent, was empty/null, or malformed."),
        )
    };
    let int = |k: &str| -> Result<Option<i64>, ApiError> {
        get(k)
            .map(|v| {
                v.parse::<i64>().map_err(|_| {
                    ApiError(
                        -1100,
                        format!("Illegal characters found in parameter '{k}'."),
                    )
                })
            })
            .transpose()
    };
    let symbol = get("symbol").ok_or_else(|| mandatory("symbol"))?;
    let interval = get("interval").ok_or_else(|| mandatory("interval"))?;
    let m = find_joined(markets, symbol, "")
        .ok_or_else(|| ApiError(-1121, "Invalid symbol.".into()))?;
    let tf = INTERVALS.iter().find(|(n, _)| *n == interval).map(|x| x.1);
    let tf = tf.ok_or_else(|| ApiError(-1121, "Invalid interval.".into()))?;
    let limit = int("limit")?.unwrap_or(500);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError(-1130, "Invalid data sent for a parameter.".into()));
    }
    let limit = (limit as usize).min(SERVED_MAX);
    let end = int("endTime")?.map_or(i64::MAX, |e| e.saturating_sub(1));
    let candles = match int("startTime")? {
        Some(start) => m.candles_from(tf, start, end, now, limit),
        None => m.candles_before(tf, end, now, limit),
    };
    Ok(write_rows(m, tf, &candles))
}

fn write_rows(m: &Market, tf: Timeframe, candles: &[crate::market::Candle]) -> Vec<u8> {
    let rows: Vec<String> = candles
        .iter()
        .map(|c| {
            let s = m.to_sim(c);
            let quote = c.bar.quote_volume as f64
                / 10f64.powi((m.price_decimals() + m.volume_decimals()) as i32);
            format!(
                r#"[{},"{}","{}","{}","{}","{}",{},"{}"]"#,
                s.open_time,
                num(s.open),
                num(s.high),
                num(s.low),
                num(s.close),
                num(s.volume),
                tf.next(c.open_time),
                num(quote)
            )
        })
        .collect();
    format!("[{}]", rows.join(",")).into_bytes()
}

async fn klines(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let refused = |_status: u16, secs: u64, _used: u32| {
        with_retry_after(json(429, r#"{"code":429,"msg":"Too Many Requests"}"#), secs)
    };
    let fault = match admit(&s, 1, refused).await {
        Ok((_, fault)) => fault,
        Err(r) => return r,
    };
    if let Some(Fault::Error(status)) = fault {
        return json(
            status,
            r#"{"code":-1,"msg":"System error, please try again later."}"#,
        );
    }
    match klines_body(s.markets(), raw.as_deref().unwrap_or(""), s.now_ms()) {
        Ok(body) => json(200, s.mangle(fault, body)),
        Err(e) => json(400, e.body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use crate::timeframe::HOUR_MS;
    use crate::{Faults, SimConfig, Simulator};
    use serde_json::Value;

    const NOW: i64 = 1_718_000_000_000;

    fn rows(body: &[u8]) -> Vec<Vec<Value>> {
        serde_json::from_slice(body).unwrap()
    }

    #[test]
    fn pages_and_errors() {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let start = NOW - 2000 * HOUR_MS;
        let q = format!("symbol=BTCUSDT&interval=60m&startTime={start}&limit=1000");
        let r = rows(&klines_body(&ms, &q, NOW).unwrap());
        assert_eq!(r.len(), 500, "at most 500 rows, whatever the limit");
        assert_eq!(r[0].len(), 8);
        let t0 = r[0][0].as_i64().unwrap();
        assert_eq!(t0, start - start % HOUR_MS + HOUR_MS);
        assert_eq!(r[0][6].as_i64(), Some(t0 + HOUR_MS));
        let m = ms.get("BTC/USDT").unwrap();
        let truth = m.closed_candles(Timeframe::H1, t0, t0 + HOUR_MS, NOW);
        assert_eq!(
            r[0][4].as_str().unwrap().parse::<f64>().unwrap(),
            m.to_sim(&truth[0]).close
        );
        // endTime is exclusive.
        let q = format!(
            "symbol=BTCUSDT&interval=60m&startTime={t0}&endTime={}",
            t0 + 3 * HOUR_MS
        );
        assert_eq!(rows(&klines_body(&ms, &q, NOW).unwrap()).len(), 3);
        // Without startTime: the newest rows.
        let r = rows(&klines_body(&ms, "symbol=ETHUSDT&interval=1W&limit=2", NOW).unwrap());
        assert_eq!(r.len(), 2);
        let err = |q: &str| klines_body(&ms, q, NOW).unwrap_err();
        assert_eq!(err("symbol=XXXUSDT&interval=1m").0, -1121);
        assert_eq!(err("symbol=BTCUSDT&interval=1h").1, "Invalid interval.");
        assert_eq!(err("interval=1m").0, -1102);
        assert_eq!(err("symbol=BTCUSDT&interval=1m&limit=1001").0, -1130);
        assert_eq!(err("symbol=BTCUSDT&interval=1m&startTime=x").0, -1100);
    }

    #[tokio::test]
    async fn over_http() {
        let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
            .await
            .unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = format!(
            "{}/mexc{KLINES_PATH}?symbol=SOLUSDT&interval=1d&limit=5",
            sim.base_url()
        );
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(
            serde_json::from_slice::<Vec<Value>>(&r.bytes().await.unwrap())
                .unwrap()
                .len(),
            5
        );
        sim.set_faults(Faults {
            rate_limit_every_n: Some(2),
            error_every_n: Some(3),
            ..Default::default()
        });
        assert_eq!(c.get(&url).send().await.unwrap().status(), 200);
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(
            (
                r.status().as_u16(),
                r.headers()["retry-after"].to_str().unwrap()
            ),
            (429, "1")
        );
        assert_eq!(c.get(&url).send().await.unwrap().status(), 503);
        assert_eq!(sim.requests(&format!("/mexc{KLINES_PATH}")), 4);
        sim.shutdown().await;
    }
}
