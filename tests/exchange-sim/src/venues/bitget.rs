//! Bitget spot REST v2 (mounted under `/bitget`):
//! `GET /api/v2/spot/market/candles` and `GET /api/v2/spot/market/history-candles`.
//!
//! - `symbol` (`BTCUSDT`), `granularity` (`1min 3min 5min 15min 30min 1h 4h 6h 12h 1day 3day
//!   1week 1M` and the UTC ones `6Hutc 12Hutc 1Dutc 3Dutc 1Wutc 1Mutc`; the simulator has one
//!   grid, so both spellings serve the UTC candles), `startTime`/`endTime` in ms
//!   (both inclusive), `limit`.
//! - Both endpoints answer with the **newest** `limit` candles up to `endTime` (default now),
//!   ascending: "the exchange aligns from endTime". `candles` (limit ≤ 1000, default 100)
//!   only reaches back a fixed period per granularity (1m/3m/5m 30 days, 15m 52, 30m 62,
//!   1h 83, 4h 240, 6h 360, 12h 720, 1d 1440, … days before now) and honours `startTime`;
//!   `history-candles` (limit ≤ 200, `endTime` required) reaches back to the listing.
//! - Body `{"code":"00000","msg":"success","requestTime":now,"data":[["ts","o","h","l","c",
//!   "baseVol","usdtVol","quoteVol"],...]}`.
//! - Errors (HTTP 400) `{"code":"40034","msg":"Parameter X does not exist",...,"data":null}`
//!   for unknown symbols, `400172` for bad parameters (naming them), `40019` for a missing
//!   one; too many requests → 429 `{"code":"429","msg":"Too Many Requests",...}`.

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
use crate::timeframe::{DAY_MS, Timeframe};

/// Paths (relative to `/bitget`).
pub const RECENT_PATH: &str = "/api/v2/spot/market/candles";
pub const HISTORY_PATH: &str = "/api/v2/spot/market/history-candles";

/// Granularity spellings, their timeframe and how many days `candles` reaches back.
pub const GRANULARITIES: [(&str, Timeframe, i64); 19] = [
    ("1min", Timeframe::M1, 30),
    ("3min", Timeframe::M3, 30),
    ("5min", Timeframe::M5, 30),
    ("15min", Timeframe::M15, 52),
    ("30min", Timeframe::M30, 62),
    ("1h", Timeframe::H1, 83),
    ("4h", Timeframe::H4, 240),
    ("6h", Timeframe::H6, 360),
    ("6Hutc", Timeframe::H6, 360),
    ("12h", Timeframe::H12, 720),
    ("12Hutc", Timeframe::H12, 720),
    ("1day", Timeframe::D1, 1440),
    ("1Dutc", Timeframe::D1, 1440),
    ("3day", Timeframe::D3, 4320),
    ("3Dutc", Timeframe::D3, 4320),
    ("1week", Timeframe::W1, 10080),
    ("1Wutc", Timeframe::W1, 10080),
    ("1M", Timeframe::Mo1, 43200),
    ("1Mutc", Timeframe::Mo1, 43200),
];

/// The routes, relative to `/bitget`.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(RECENT_PATH, get(|s, q| candles(s, q, false)))
        .route(HISTORY_PATH, get(|s, q| candles(s, q, true)))
}

/// A refused query: Bitget's code and message (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub &'static str, pub String);

fn envelope(code: &str, msg: &str, now: i64, data: &str) -> String {
    format!(
        r#"{{"code":"{code}","msg":{},"requestTime":{now},"data":{data}}}"#,
        serde_json::Value::from(msg)
    )
}

/// The success body for a query at market time `now`.
pub fn candles_body(
    markets: &Markets,
    raw: &str,
    now: i64,
    history: bool,
) -> Result<String, ApiError> {
    let pairs = query::parse(raw);
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let missing = |k: &str| ApiError("40019", format!("Parameter {k} cannot be empty"));
    let bad = |k: &str| ApiError("400172", format!("{k}: Parameter verification failed"));
    let int = |k: &str| {
        get(k)
            .map(|v| v.parse::<i64>().map_err(|_| bad(k)))
            .transpose()
    };
    let symbol = get("symbol").ok_or_else(|| missing("symbol"))?;
    let g = get("granularity").ok_or_else(|| missing("granularity"))?;
    let m = find_joined(markets, symbol, "")
        .ok_or_else(|| ApiError("40034", format!("Parameter {symbol} does not exist")))?;
    let (_, tf, days) = *GRANULARITIES
        .iter()
        .find(|x| x.0 == g)
        .ok_or_else(|| bad("granularity"))?;
    let max = if history { 200 } else { 1000 };
    let limit = int("limit")?.unwrap_or(100);
    if !(1..=max).contains(&limit) {
        return Err(bad("limit"));
    }
    let end = match (int("endTime")?, history) {
        (None, true) => return Err(missing("endTime")),
        (e, _) => e.unwrap_or(i64::MAX),
    };
    let lower = match history {
        true => i64::MIN,
        false => int("startTime")?
            .unwrap_or(i64::MIN)
            .max(now - days * DAY_MS),
    };
    let mut candles = m.candles_before(tf, end, now, limit as usize);
    candles.retain(|c| c.open_time >= lower);
    Ok(envelope("00000", "success", now, &write_rows(m, &candles)))
}

fn write_rows(m: &Market, candles: &[crate::market::Candle]) -> String {
    let rows: Vec<String> = candles
        .iter()
        .map(|c| {
            let s = m.to_sim(c);
            let quote = num(c.bar.quote_volume as f64
                / 10f64.powi((m.price_decimals() + m.volume_decimals()) as i32));
            format!(
                r#"["{}","{}","{}","{}","{}","{}","{quote}","{quote}"]"#,
                s.open_time,
                num(s.open),
                num(s.high),
                num(s.low),
                num(s.close),
                num(s.volume)
            )
        })
        .collect();
    format!("[{}]", rows.join(","))
}

async fn candles(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery, history: bool) -> Response {
    let now = s.now_ms();
    let refused = |_status: u16, secs: u64, _used: u32| {
        let body = envelope("429", "Too Many Requests", now, "null");
        with_retry_after(json(429, body), secs)
    };
    let fault = match admit(&s, 1, refused).await {
        Ok((_, fault)) => fault,
        Err(r) => return r,
    };
    if let Some(Fault::Error(status)) = fault {
        return json(status, envelope("40010", "Request timed out", now, "null"));
    }
    match candles_body(s.markets(), raw.as_deref().unwrap_or(""), now, history) {
        Ok(body) => json(200, s.mangle(fault, body.into_bytes())),
        Err(ApiError(code, msg)) => json(400, envelope(code, &msg, now, "null")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use crate::timeframe::MINUTE_MS;
    use crate::{Faults, SimConfig, Simulator};
    use serde_json::Value;

    const NOW: i64 = 1_718_000_000_000;

    fn data(body: &str) -> Vec<Vec<Value>> {
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(
            (v["code"].as_str(), v["requestTime"].as_i64()),
            (Some("00000"), Some(NOW))
        );
        serde_json::from_value(v["data"].clone()).unwrap()
    }

    fn open(r: &[Value]) -> i64 {
        r[0].as_str().unwrap().parse().unwrap()
    }

    #[test]
    fn newest_rows_reach_and_history() {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let end = NOW - 5 * DAY_MS - NOW % MINUTE_MS;
        // The newest 1000 minutes up to endTime, ascending, even with an old startTime.
        let q = format!(
            "symbol=BTCUSDT&granularity=1min&startTime={}&endTime={end}&limit=1000",
            end - 20 * DAY_MS
        );
        let r = data(&candles_body(&ms, &q, NOW, false).unwrap());
        assert_eq!(r.len(), 1000);
        assert_eq!(r[0].len(), 8);
        assert_eq!(open(&r[999]), end);
        assert_eq!(open(&r[1]) - open(&r[0]), MINUTE_MS);
        // startTime bounds the oldest row.
        let q = format!(
            "symbol=BTCUSDT&granularity=1min&startTime={}&endTime={end}&limit=1000",
            end - 10 * MINUTE_MS
        );
        assert_eq!(data(&candles_body(&ms, &q, NOW, false).unwrap()).len(), 11);
        // Beyond the reach of `candles` (30 days at 1m): nothing; history serves it.
        let old = NOW - 40 * DAY_MS;
        let q = format!("symbol=BTCUSDT&granularity=1min&endTime={old}&limit=200");
        assert!(data(&candles_body(&ms, &q, NOW, false).unwrap()).is_empty());
        let h = data(&candles_body(&ms, &q, NOW, true).unwrap());
        assert_eq!((h.len(), open(&h[199])), (200, old - old % MINUTE_MS));
        // Values are the truth.
        let m = ms.get("BTC/USDT").unwrap();
        let t = m
            .to_sim(&m.closed_candles(Timeframe::M1, open(&h[0]), open(&h[0]) + MINUTE_MS, NOW)[0]);
        assert_eq!(h[0][5].as_str().unwrap().parse::<f64>().unwrap(), t.volume);
        assert_eq!(h[0][3].as_str().unwrap().parse::<f64>().unwrap(), t.low);
    }

    #[test]
    fn errors() {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let err = |q: &str, h| candles_body(&ms, q, NOW, h).unwrap_err();
        assert_eq!(err("symbol=BTCUSDX&granularity=1min", false).0, "40034");
        assert_eq!(
            err("symbol=BTCUSDT&granularity=1m", false),
            ApiError(
                "400172",
                "granularity: Parameter verification failed".into()
            )
        );
        assert_eq!(
            err("symbol=BTCUSDT&granularity=1min&limit=201", true).0,
            "400172"
        );
        assert_eq!(
            err("symbol=BTCUSDT&granularity=1min", true),
            ApiError("40019", "Parameter endTime cannot be empty".into())
        );
        assert!(
            candles_body(
                &ms,
                "symbol=BTCUSDT&granularity=1min&limit=1000",
                NOW,
                false
            )
            .is_ok()
        );
    }

    #[tokio::test]
    async fn over_http() {
        let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
            .await
            .unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = format!(
            "{}/bitget{HISTORY_PATH}?symbol=BNBUSDT&granularity=1Dutc&endTime={NOW}",
            sim.base_url()
        );
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(data(&r.text().await.unwrap()).len(), 100);
        let r = c.get(format!("{url}&limit=0")).send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert!(
            r.text()
                .await
                .unwrap()
                .starts_with(r#"{"code":"400172","msg":"limit: Parameter verification failed""#)
        );
        sim.set_faults(Faults {
            rate_limit_every_n: Some(1),
            ..Default::default()
        });
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert!(r.text().await.unwrap().contains(r#""code":"429""#));
        assert_eq!(sim.requests(&format!("/bitget{HISTORY_PATH}")), 3);
        sim.shutdown().await;
    }
}
