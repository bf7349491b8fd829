//! Binance USDⓈ-M futures REST: `GET /fapi/v1/klines` (mounted under `/binanceusdm`).
//!
//! Same semantics and row format as spot klines ([`crate::venues::binance`]) with the futures
//! differences: `limit` up to 1500 (default 500), no `1s` interval, and a weight that grows
//! with `limit` (1 below 100, 2 below 500, 5 up to 1000, 10 above). Symbols are the
//! futures ids (`BTCUSDT`) of the simulator's `*/USDT` markets. Every response carries
//! `X-MBX-USED-WEIGHT-1M`; over budget → 429/-1003 with `Retry-After`, then 418 bans.
//!
//! Admission, replies and formatting, shared with MEXC, Bitget and Gate, are in
//! [`super::admit`].

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::HeaderValue;
use axum::response::Response;
use axum::routing::get;

use super::admit::{admit, json, with_retry_after};
use crate::faults::Fault;
use crate::market::{Market, Markets};
use crate::query;
use crate::server::Shared;
use crate::timeframe::Timeframe;
use crate::venues::binance::{self, ApiError, KlinesQuery};

/// Path of the candle endpoint (relative to `/binanceusdm`).
pub const KLINES_PATH: &str = "/fapi/v1/klines";
/// Default and maximum `limit`.
pub const DEFAULT_LIMIT: usize = 500;
pub const MAX_LIMIT: usize = 1500;

/// The routes, relative to `/binanceusdm`.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route(KLINES_PATH, get(klines))
}

/// Weight of a klines request for `limit` rows.
pub fn weight(limit: usize) -> u32 {
    match limit {
        0..100 => 1,
        100..500 => 2,
        500..=1000 => 5,
        _ => 10,
    }
}

/// Validates a futures klines query.
pub fn parse_query(markets: &Markets, raw: &str) -> Result<KlinesQuery, ApiError> {
    let pairs = query::parse(raw);
    let one = |name: &'static str| -> Result<Option<&str>, ApiError> {
        let mut it = pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let v = it.next();
        if it.next().is_some() {
            return Err(ApiError::Duplicate);
        }
        Ok(v.filter(|v| !v.is_empty()))
    };
    let int = |name: &'static str| -> Result<Option<i64>, ApiError> {
        match one(name)? {
            None => Ok(None),
            Some(v) if v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()) => {
                Ok(Some(v.parse::<u128>().map_or(i64::MAX, |x| {
                    i64::try_from(x).unwrap_or(i64::MAX)
                })))
            }
            Some(_) => Err(ApiError::Illegal(name, "^[0-9]{1,20}$")),
        }
    };
    let symbol = one("symbol")?.ok_or(ApiError::Mandatory("symbol"))?;
    let interval = one("interval")?.ok_or(ApiError::Mandatory("interval"))?;
    let (start_time, end_time, limit) = (int("startTime")?, int("endTime")?, int("limit")?);
    if find(markets, symbol).is_none() {
        return Err(ApiError::InvalidSymbol);
    }
    let interval = Timeframe::parse(interval)
        .filter(|tf| *tf != Timeframe::S1)
        .ok_or(ApiError::InvalidInterval)?;
    let limit = match limit {
        None => DEFAULT_LIMIT,
        Some(l) if (1..=MAX_LIMIT as i64).contains(&l) => l as usize,
        Some(_) => return Err(ApiError::InvalidData),
    };
    if matches!((start_time, end_time), (Some(s), Some(e)) if s > e) {
        return Err(ApiError::StartAfterEnd);
    }
    Ok(KlinesQuery {
        symbol: symbol.to_owned(),
        interval,
        start_time,
        end_time,
        limit,
    })
}

fn find<'a>(markets: &'a Markets, id: &str) -> Option<&'a Market> {
    markets.iter().find(|m| binance::symbol_id(m) == id)
}

/// The body of a valid query at market time `now` (Binance's 12-field rows).
pub fn klines_body(markets: &Markets, q: &KlinesQuery, now: i64) -> Vec<u8> {
    let candles = binance::select(markets, q, now);
    find(markets, &q.symbol).map_or_else(
        || b"[]".to_vec(),
        |m| binance::write_rows(m, q.interval, &candles),
    )
}

fn too_much(budget: u32) -> String {
    format!(
        r#"{{"code":-1003,"msg":"Too much request weight used; current limit is {budget} request weight per 1 MINUTE. Please use WebSocket Streams for live updates to avoid polling the API."}}"#
    )
}

async fn klines(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let raw = raw.unwrap_or_default();
    let parsed = parse_query(s.markets(), &raw);
    let w = weight(parsed.as_ref().map_or(DEFAULT_LIMIT, |q| q.limit));
    let budget = s.budget();
    let refused = |status: u16, secs: u64, _used: u32| {
        let body = if status == 418 {
            r#"{"code":-1003,"msg":"Way too much request weight used; IP banned. Please use WebSocket Streams for live updates to avoid bans."}"#.to_owned()
        } else {
            too_much(budget)
        };
        with_retry_after(json(status, body), secs)
    };
    let (used, fault) = match admit(&s, w, refused).await {
        Ok(x) => x,
        Err(r) => return with_used(r, s.weight_used()),
    };
    let r = match (fault, parsed) {
        (Some(Fault::Error(status)), _) => json(
            status,
            r#"{"code":-1008,"msg":"Server is currently overloaded with other requests. Please try again in a few minutes."}"#,
        ),
        (_, Err(e)) => json(400, e.body()),
        (_, Ok(q)) => json(
            200,
            s.mangle(fault, klines_body(s.markets(), &q, s.now_ms())),
        ),
    };
    with_used(r, used)
}

fn with_used(mut r: Response, used: u32) -> Response {
    r.headers_mut()
        .insert("x-mbx-used-weight-1m", HeaderValue::from(used));
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use crate::timeframe::MINUTE_MS;
    use crate::{SimConfig, Simulator};
    use serde_json::Value;

    const NOW: i64 = 1_718_000_000_000;

    fn markets() -> Markets {
        Markets::new(42, &MarketSpec::defaults())
    }

    #[test]
    fn queries_weights_and_rows() {
        let ms = markets();
        let q = parse_query(
            &ms,
            "symbol=BTCUSDT&interval=1m&startTime=1717000000000&limit=1500",
        )
        .unwrap();
        assert_eq!((q.limit, weight(q.limit)), (1500, 10));
        let rows: Vec<Vec<Value>> = serde_json::from_slice(&klines_body(&ms, &q, NOW)).unwrap();
        assert_eq!(rows.len(), 1500);
        assert_eq!(rows[0].len(), 12);
        assert_eq!(
            rows[1][0].as_i64().unwrap() - rows[0][0].as_i64().unwrap(),
            MINUTE_MS
        );
        assert_eq!(
            [
                weight(99),
                weight(100),
                weight(499),
                weight(500),
                weight(1000)
            ],
            [1, 2, 2, 5, 5]
        );
        let err = |q: &str| parse_query(&ms, q).unwrap_err();
        assert_eq!(err("symbol=BTCUSDT&interval=1s"), ApiError::InvalidInterval);
        assert_eq!(
            err("symbol=BTCUSDT&interval=1m&limit=1501"),
            ApiError::InvalidData
        );
        assert_eq!(err("symbol=XXXUSDT&interval=1m"), ApiError::InvalidSymbol);
        assert_eq!(err("interval=1m"), ApiError::Mandatory("symbol"));
        assert_eq!(
            err("symbol=BTCUSDT&interval=1m&startTime=2&endTime=1"),
            ApiError::StartAfterEnd
        );
        assert_eq!(
            err("symbol=BTCUSDT&interval=1m&startTime=x"),
            ApiError::Illegal("startTime", "^[0-9]{1,20}$")
        );
    }

    #[tokio::test]
    async fn over_http_with_weight_header_and_faults() {
        let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
            .await
            .unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = format!(
            "{}/binanceusdm{KLINES_PATH}?symbol=ETHUSDT&interval=1h&limit=1000",
            sim.base_url()
        );
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-mbx-used-weight-1m"], "5");
        let rows: Vec<Value> = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(rows.len(), 1000);
        let r = c.get(format!("{url}&symbol=X")).send().await.unwrap();
        assert_eq!(r.status(), 400);
        assert_eq!(
            r.text().await.unwrap(),
            r#"{"code":-1101,"msg":"Duplicate values for a parameter detected."}"#
        );
        sim.set_faults(crate::Faults {
            rate_limit_every_n: Some(1),
            ..Default::default()
        });
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(
            (
                r.status().as_u16(),
                r.headers()["retry-after"].to_str().unwrap()
            ),
            (429, "1")
        );
        assert!(r.text().await.unwrap().contains("-1003"));
        sim.set_faults(crate::Faults {
            ban_every_n: Some(1),
            ..Default::default()
        });
        assert_eq!(c.get(&url).send().await.unwrap().status(), 418);
        assert_eq!(sim.requests(&format!("/binanceusdm{KLINES_PATH}")), 4);
        sim.shutdown().await;
    }
}
