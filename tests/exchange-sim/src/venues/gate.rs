//! Gate spot REST v4: `GET /api/v4/spot/candlesticks` (mounted under `/gate`).
//!
//! - `currency_pair` (`BTC_USDT`), `interval` (`1m 5m 15m 30m 1h 4h 8h 1d 7d 30d`; `7d` is
//!   the simulator's Monday week, `30d` the calendar month), `from`/`to` in **seconds**
//!   (both inclusive; `to` defaults to now), or `limit` (default 100, at most 1000) for the
//!   newest points up to `to`.
//! - A `from`..`to` range of more than 1000 points is refused ("Candlestick range too
//!   broad"); a `from` older than 10,000 points before now is refused ("Candlestick too long
//!   ago. Maximum 10000 points ago are allowed"), like the real API.
//! - Rows ascend: `["t_s","quoteVol","close","high","low","open","baseVol","closed"]`, all
//!   strings (`closed` is `"false"` for the forming candle).
//! - Errors (HTTP 400) `{"label":"INVALID_PARAM_VALUE","message":"..."}`,
//!   `INVALID_CURRENCY_PAIR`, `MISSING_REQUIRED_PARAM`; too many requests → 429
//!   `{"label":"TOO_MANY_REQUESTS","message":"Request Rate limit Exceeded"}` with `Retry-After`.
//! - Every answer carries `Date` from the market clock (Gate's server time).

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, header};
use axum::response::Response;
use axum::routing::get;

use super::admit::{admit, find_joined, http_date, json, num, with_retry_after};
use crate::faults::Fault;
use crate::market::{Market, Markets};
use crate::query;
use crate::server::Shared;
use crate::timeframe::Timeframe;

/// Path of the candle endpoint (relative to `/gate`).
pub const PATH: &str = "/api/v4/spot/candlesticks";
/// Most points per request, and how far back (in points) the endpoint serves.
pub const MAX_POINTS: i64 = 1000;
pub const HISTORY_POINTS: i64 = 10_000;

/// Gate's intervals, their timeframe and their length in seconds.
pub const INTERVALS: [(&str, Timeframe, i64); 10] = [
    ("1m", Timeframe::M1, 60),
    ("5m", Timeframe::M5, 300),
    ("15m", Timeframe::M15, 900),
    ("30m", Timeframe::M30, 1800),
    ("1h", Timeframe::H1, 3600),
    ("4h", Timeframe::H4, 14_400),
    ("8h", Timeframe::H8, 28_800),
    ("1d", Timeframe::D1, 86_400),
    ("7d", Timeframe::W1, 604_800),
    ("30d", Timeframe::Mo1, 30 * 86_400),
];

/// The routes, relative to `/gate`.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route(PATH, get(candlesticks))
}

/// A refused query: Gate's label and message (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub &'static str, pub String);

impl ApiError {
    fn body(&self) -> String {
        serde_json::json!({ "label": self.0, "message": self.1 }).to_string()
    }
}

/// The JSON body for a query string at market time `now`.
pub fn candles_body(markets: &Markets, raw: &str, now: i64) -> Result<String, ApiError> {
    let pairs = query::parse(raw);
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let invalid = |m: String| ApiError("INVALID_PARAM_VALUE", m);
    let int = |k: &str| {
        get(k)
            .map(|v| {
                v.parse::<i64>()
                    .map_err(|_| invalid(format!("Invalid request parameter `{k}` value: {v}")))
            })
            .transpose()
    };
    let pair = get("currency_pair").ok_or_else(|| {
        ApiError(
            "MISSING_REQUIRED_PARAM",
            "Missing required parameter: currency_pair".into(),
        )
    })?;
    let m = find_joined(markets, pair, "_").ok_or_else(|| {
        ApiError(
            "INVALID_CURRENCY_PAIR",
            format!("Invalid currency pair {pair}"),
        )
    })?;
    let iv = get("interval").unwrap_or("30m");
    let (_, tf, secs) = *INTERVALS
        .iter()
        .find(|x| x.0 == iv)
        .ok_or_else(|| invalid(format!("Invalid interval {iv}")))?;
    let now_s = now.div_euclid(1000);
    let to = int("to")?.unwrap_or(now_s);
    let candles = match int("from")? {
        Some(from) => {
            if from < now_s - HISTORY_POINTS * secs {
                return Err(invalid(
                    "Candlestick too long ago. Maximum 10000 points ago are allowed".into(),
                ));
            }
            if to >= from && (to - from) / secs + 1 > MAX_POINTS {
                return Err(invalid(
                    "Candlestick range too broad. Maximum 1000 data points are allowed per request"
                        .into(),
                ));
            }
            m.candles_from(
                tf,
                from.saturating_mul(1000),
                to.saturating_mul(1000),
                now,
                MAX_POINTS as usize,
            )
        }
        None => {
            let limit = int("limit")?.unwrap_or(100);
            if !(1..=MAX_POINTS).contains(&limit) {
                return Err(invalid(format!(
                    "Invalid request parameter `limit` value: {limit}"
                )));
            }
            m.candles_before(tf, to.saturating_mul(1000), now, limit as usize)
        }
    };
    Ok(write_rows(m, &candles))
}

fn write_rows(m: &Market, candles: &[crate::market::Candle]) -> String {
    let rows: Vec<String> = candles
        .iter()
        .map(|c| {
            let s = m.to_sim(c);
            let quote = c.bar.quote_volume as f64
                / 10f64.powi((m.price_decimals() + m.volume_decimals()) as i32);
            format!(
                r#"["{}","{}","{}","{}","{}","{}","{}","{}"]"#,
                s.open_time / 1000,
                num(quote),
                num(s.close),
                num(s.high),
                num(s.low),
                num(s.open),
                num(s.volume),
                c.closed
            )
        })
        .collect();
    format!("[{}]", rows.join(","))
}

async fn candlesticks(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let now = s.now_ms();
    let refused = |_status: u16, secs: u64, _used: u32| {
        let body = r#"{"label":"TOO_MANY_REQUESTS","message":"Request Rate limit Exceeded"}"#;
        with_retry_after(json(429, body), secs)
    };
    let r = match admit(&s, 1, refused).await {
        Err(r) => r,
        Ok((_, Some(Fault::Error(status)))) => json(
            status,
            r#"{"label":"SERVER_ERROR","message":"Internal server error"}"#,
        ),
        Ok((_, fault)) => match candles_body(s.markets(), raw.as_deref().unwrap_or(""), now) {
            Ok(body) => json(200, s.mangle(fault, body.into_bytes())),
            Err(e) => json(400, e.body()),
        },
    };
    with_date(r, now)
}

fn with_date(mut r: Response, now: i64) -> Response {
    if let Ok(v) = HeaderValue::from_str(&http_date(now)) {
        r.headers_mut().insert(header::DATE, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use crate::{Faults, SimConfig, Simulator};
    use serde_json::Value;

    const NOW: i64 = 1_718_000_000_000;
    const NOW_S: i64 = NOW / 1000;

    fn rows(body: &str) -> Vec<Vec<Value>> {
        serde_json::from_str(body).unwrap()
    }

    #[test]
    fn slices_rows_and_limits() {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let from = NOW_S - NOW_S % 60 - 5000 * 60;
        let q = format!(
            "currency_pair=BTC_USDT&interval=1m&from={from}&to={}",
            from + 999 * 60
        );
        let r = rows(&candles_body(&ms, &q, NOW).unwrap());
        assert_eq!(r.len(), 1000);
        assert_eq!(r[0][0].as_str(), Some(from.to_string().as_str()));
        assert_eq!(r[0][7].as_str(), Some("true"));
        let m = ms.get("BTC/USDT").unwrap();
        let t =
            m.to_sim(&m.closed_candles(Timeframe::M1, from * 1000, from * 1000 + 60_000, NOW)[0]);
        let f = |i: usize| r[0][i].as_str().unwrap().parse::<f64>().unwrap();
        assert_eq!(
            [f(5), f(3), f(4), f(2), f(6)],
            [t.open, t.high, t.low, t.close, t.volume]
        );
        // 1001 points: too broad; 10,001 points ago: too long ago.
        let q = format!(
            "currency_pair=BTC_USDT&interval=1m&from={from}&to={}",
            from + 1000 * 60
        );
        assert!(
            candles_body(&ms, &q, NOW)
                .unwrap_err()
                .1
                .contains("too broad")
        );
        let q = format!(
            "currency_pair=BTC_USDT&interval=1m&from={}&to={NOW_S}",
            NOW_S - 10_001 * 60
        );
        assert!(
            candles_body(&ms, &q, NOW)
                .unwrap_err()
                .1
                .contains("too long ago")
        );
        let q = format!(
            "currency_pair=BTC_USDT&interval=1h&from={}&to={}",
            NOW_S - 10_000 * 3600,
            NOW_S - 9_001 * 3600
        );
        assert!(candles_body(&ms, &q, NOW).is_ok());
        // limit alone: the newest points, the forming one last.
        let r =
            rows(&candles_body(&ms, "currency_pair=ETH_USDT&interval=1d&limit=3", NOW).unwrap());
        assert_eq!((r.len(), r[2][7].as_str()), (3, Some("false")));
        let err = |q: &str| candles_body(&ms, q, NOW).unwrap_err();
        assert_eq!(
            err("currency_pair=BTC_USDX&interval=1m").0,
            "INVALID_CURRENCY_PAIR"
        );
        assert_eq!(
            err("currency_pair=BTC_USDT&interval=2h").1,
            "Invalid interval 2h"
        );
        assert_eq!(err("interval=1m").0, "MISSING_REQUIRED_PARAM");
        assert_eq!(
            err("currency_pair=BTC_USDT&limit=1001").0,
            "INVALID_PARAM_VALUE"
        );
    }

    #[tokio::test]
    async fn over_http_with_date() {
        let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
            .await
            .unwrap();
        let _ = rustls::crypto::ring::default_provider().install_default();
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = format!(
            "{}/gate{PATH}?currency_pair=SOL_USDT&interval=30d&limit=5",
            sim.base_url()
        );
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["date"], http_date(NOW).as_str());
        assert_eq!(rows(&r.text().await.unwrap()).len(), 5);
        sim.set_faults(Faults {
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
        assert_eq!(sim.requests(&format!("/gate{PATH}")), 2);
        sim.shutdown().await;
    }
}
