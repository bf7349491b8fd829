//! "example": the made-up exchange of the third-party adapter template
//! (`guest-adapters/template`), mounted under `/example`.
//!
//! `GET /candles?market=BTC-USDT&tf=1m&from=<ms>&to=<ms>&limit=<1..500>`
//! → `{"candles":[[open_ms, open, high, low, close, base_volume], ...]}`, oldest first,
//! rows with `from <= open < to` (the forming candle included), at most `limit` (default
//! and max 500). Without `from`: the newest `limit` rows before `to` (or now).
//! `tf`: 1m 5m 15m 1h 4h 1d. Errors (HTTP 400) `{"error":{"code":..,"message":..}}`:
//! 1001 unknown market, 1002 unsupported timeframe, 1003 bad parameter; rate limits
//! answer 429 with `Retry-After` and code 1429.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::answer::{self, Gate, fixed, json, param};
use crate::market::Markets;
use crate::query;
use crate::server::Shared;
use crate::timeframe::Timeframe;

/// Largest (and default) `limit`.
pub const MAX_LIMIT: usize = 500;

/// Routes of this venue, relative to its `/example` prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/candles", get(candles))
}

/// A refused request: code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub i64, pub &'static str);

impl ApiError {
    /// The JSON error body.
    pub fn body(&self) -> String {
        serde_json::json!({ "error": { "code": self.0, "message": self.1 } }).to_string()
    }
}

/// The candles body for a raw query string at market time `now`.
pub fn candles_body(markets: &Markets, raw: &str, now: i64) -> Result<Vec<u8>, ApiError> {
    let pairs = query::parse(raw);
    let market = param(&pairs, "market").ok_or(ApiError(1003, "market is required"))?;
    let m = markets
        .iter()
        .find(|m| format!("{}-{}", m.base(), m.quote()) == market)
        .ok_or(ApiError(1001, "unknown market"))?;
    let tf = param(&pairs, "tf")
        .and_then(Timeframe::parse)
        .filter(|tf| {
            [
                Timeframe::M1,
                Timeframe::M5,
                Timeframe::M15,
                Timeframe::H1,
                Timeframe::H4,
                Timeframe::D1,
            ]
            .contains(tf)
        })
        .ok_or(ApiError(1002, "unsupported timeframe"))?;
    let int = |name: &str| match param(&pairs, name).map(str::parse::<i64>) {
        None => Ok(None),
        Some(Ok(v)) => Ok(Some(v.clamp(-(1 << 53), 1 << 53))),
        Some(Err(_)) => Err(ApiError(1003, "from, to and limit must be integers")),
    };
    let (from, to) = (int("from")?, int("to")?);
    let limit = match int("limit")? {
        None => MAX_LIMIT,
        Some(l) if (1..=MAX_LIMIT as i64).contains(&l) => l as usize,
        Some(_) => return Err(ApiError(1003, "limit must be 1..500")),
    };
    let rows = match from {
        Some(f) => m.candles_from(tf, f, to.unwrap_or(i64::MAX).saturating_sub(1), now, limit),
        None => m.candles_before(tf, to.unwrap_or(i64::MAX).saturating_sub(1), now, limit),
    };
    let (pd, vd) = (m.price_decimals(), m.volume_decimals());
    let p = |t: i64| fixed(t.max(0) as u128, pd);
    let items: Vec<String> = rows
        .iter()
        .map(|c| {
            let b = &c.bar;
            let v = fixed(u128::from(b.volume), vd);
            format!(
                "[{},{},{},{},{},{v}]",
                c.open_time,
                p(b.open),
                p(b.high),
                p(b.low),
                p(b.close)
            )
        })
        .collect();
    Ok(format!(r#"{{"candles":[{}]}}"#, items.join(",")).into_bytes())
}

fn rate_limited(retry_after_s: u64) -> Response {
    let body = ApiError(1429, "rate limited").body();
    answer::with_retry_after(json(StatusCode::TOO_MANY_REQUESTS, body), retry_after_s)
}

fn injected(status: u16) -> Response {
    match status {
        429 => rate_limited(1),
        _ => answer::html(StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)),
    }
}

async fn candles(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let fault = match answer::gate(&s, 1, rate_limited, injected).await {
        Gate::Serve(f) => f,
        Gate::Answer(r) => return r,
    };
    match candles_body(s.markets(), raw.as_deref().unwrap_or(""), s.now_ms()) {
        Ok(body) => answer::ok(&s, body, fault),
        Err(e) => json(StatusCode::BAD_REQUEST, e.body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use crate::timeframe::MINUTE_MS;
    use serde_json::Value;

    const NOW: i64 = 1_718_000_000_000;
    const T0: i64 = 1_704_067_200_000;

    fn body(q: &str) -> Result<Value, ApiError> {
        let ms = Markets::new(42, &MarketSpec::defaults());
        candles_body(&ms, q, NOW).map(|b| serde_json::from_slice(&b).unwrap())
    }

    #[test]
    fn rows_and_errors() {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let m = ms.get("BTC/USDT").unwrap();
        let v = body(&format!(
            "market=BTC-USDT&tf=1m&from={T0}&to={}&limit=500",
            T0 + 10 * MINUTE_MS
        ))
        .unwrap();
        let rows = v["candles"].as_array().unwrap();
        let truth = m.closed_candles(Timeframe::M1, T0, T0 + 10 * MINUTE_MS, NOW);
        assert_eq!(rows.len(), 10);
        for (r, c) in rows.iter().zip(&truth) {
            let t = m.to_sim(c);
            let f = |i: usize| r[i].as_f64().unwrap();
            assert_eq!(r[0].as_i64(), Some(t.open_time));
            assert_eq!(
                [f(1), f(2), f(3), f(4), f(5)],
                [t.open, t.high, t.low, t.close, t.volume]
            );
        }
        let v = body("market=BTC-USDT&tf=1h&limit=2").unwrap();
        assert_eq!(v["candles"][1][0].as_i64(), Some(NOW - NOW % 3_600_000));
        assert_eq!(body("market=NOPE-USDT&tf=1m").unwrap_err().0, 1001);
        assert_eq!(body("market=BTC-USDT&tf=3m").unwrap_err().0, 1002);
        assert_eq!(body("market=BTC-USDT&tf=1m&limit=501").unwrap_err().0, 1003);
        assert_eq!(
            ApiError(1001, "unknown market").body(),
            r#"{"error":{"code":1001,"message":"unknown market"}}"#
        );
    }
}
