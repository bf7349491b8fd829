//! Coinbase Advanced Trade public candles:
//! `GET /api/v3/brokerage/market/products/{product_id}/candles?start=&end=&granularity=&limit=`.
//!
//! - `start`/`end`: UNIX seconds, both required, buckets with `start <= open <= end`; a
//!   request spanning more than 350 buckets is refused (`INVALID_ARGUMENT`, "number of
//!   candles requested should be less than 350"); `limit` (1..=350, default 350) keeps the
//!   newest rows.
//! - `granularity`: `ONE_MINUTE` … `ONE_DAY` (incl. `FOUR_HOUR`).
//! - Rows newest first: `{"candles":[{"start":"s","low","high","open","close","volume"}]}`,
//!   every value a string; the forming bucket is included; buckets without trades are absent.
//! - Errors: `{"error":"INVALID_ARGUMENT","error_details":msg,"message":msg}` (400),
//!   unknown product `NOT_FOUND` (404); over the request budget or on an injected rate
//!   limit: 429 `RESOURCE_EXHAUSTED` with `Retry-After`.
//!
//! The request gate, responses and number formatting come from [`super::answer`].

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::answer::{self, Gate, fixed, json, param};
use crate::market::{Market, Markets};
use crate::query;
use crate::server::Shared;
use crate::timeframe::Timeframe;

/// Most buckets one request may span.
pub const MAX_CANDLES: i64 = 350;

/// Granularity names and their timeframes.
pub const GRANULARITIES: [(&str, Timeframe); 9] = [
    ("ONE_MINUTE", Timeframe::M1),
    ("FIVE_MINUTE", Timeframe::M5),
    ("FIFTEEN_MINUTE", Timeframe::M15),
    ("THIRTY_MINUTE", Timeframe::M30),
    ("ONE_HOUR", Timeframe::H1),
    ("TWO_HOUR", Timeframe::H2),
    ("FOUR_HOUR", Timeframe::H4),
    ("SIX_HOUR", Timeframe::H6),
    ("ONE_DAY", Timeframe::D1),
];

/// Routes of this venue, relative to its `/coinbase` prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route(
        "/api/v3/brokerage/market/products/{product_id}/candles",
        get(candles),
    )
}

/// A refused request: HTTP status, gRPC status name, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub u16, pub &'static str, pub String);

impl ApiError {
    fn invalid(msg: &str) -> ApiError {
        ApiError(400, "INVALID_ARGUMENT", msg.to_string())
    }

    /// The JSON error body.
    pub fn body(&self) -> String {
        error_body(self.1, &self.2)
    }
}

fn error_body(name: &str, msg: &str) -> String {
    serde_json::json!({ "error": name, "error_details": msg, "message": msg }).to_string()
}

fn find<'a>(markets: &'a Markets, id: &str) -> Option<&'a Market> {
    markets
        .iter()
        .find(|m| format!("{}-{}", m.base(), m.quote()) == id)
}

/// The candles body for `product` and a raw query string at market time `now`.
pub fn candles_body(
    markets: &Markets,
    product: &str,
    raw: &str,
    now: i64,
) -> Result<Vec<u8>, ApiError> {
    let pairs = query::parse(raw);
    let secs = |name: &str| -> Result<i64, ApiError> {
        let v =
            param(&pairs, name).ok_or_else(|| ApiError::invalid(&format!("{name} is required")))?;
        v.parse::<i64>()
            .map_err(|_| ApiError::invalid(&format!("{name} argument is invalid")))
    };
    let (start, end) = (secs("start")?, secs("end")?);
    let g = param(&pairs, "granularity").unwrap_or("UNKNOWN_GRANULARITY");
    let tf = GRANULARITIES
        .iter()
        .find(|(n, _)| *n == g)
        .map(|(_, tf)| *tf);
    let tf = tf.ok_or_else(|| ApiError::invalid(&format!("unsupported granularity {g}")))?;
    let limit = match param(&pairs, "limit").map(str::parse::<i64>) {
        None => MAX_CANDLES,
        Some(Ok(l)) if (1..=MAX_CANDLES).contains(&l) => l,
        Some(_) => return Err(ApiError::invalid("limit must be between 1 and 350")),
    };
    let m = find(markets, product)
        .ok_or_else(|| ApiError(404, "NOT_FOUND", format!("Product {product} not supported")))?;
    let g_s = tf.fixed_ms().unwrap_or(60_000) / 1000;
    if start > end {
        return Err(ApiError::invalid(
            "start and end argument is invalid - start must be before end",
        ));
    }
    if (end - start) / g_s + 1 > MAX_CANDLES {
        return Err(ApiError::invalid(
            "start and end argument is invalid - number of candles requested should be less than 350",
        ));
    }
    let clamp = |s: i64| s.clamp(-(1 << 40), 1 << 40) * 1000;
    let mut rows = m.candles_from(tf, clamp(start), clamp(end), now, usize::MAX);
    let cut = rows.len().saturating_sub(limit as usize);
    rows.drain(..cut);
    let (pd, vd) = (m.price_decimals(), m.volume_decimals());
    let p = |t: i64| fixed(t.max(0) as u128, pd);
    let items: Vec<String> = rows
        .iter()
        .rev()
        .map(|c| {
            let b = &c.bar;
            format!(
                r#"{{"start":"{}","low":"{}","high":"{}","open":"{}","close":"{}","volume":"{}"}}"#,
                c.open_time / 1000,
                p(b.low),
                p(b.high),
                p(b.open),
                p(b.close),
                fixed(u128::from(b.volume), vd)
            )
        })
        .collect();
    Ok(format!(r#"{{"candles":[{}]}}"#, items.join(",")).into_bytes())
}

fn rate_limited(retry_after_s: u64) -> Response {
    answer::with_retry_after(
        json(
            StatusCode::TOO_MANY_REQUESTS,
            error_body("RESOURCE_EXHAUSTED", "Too many requests"),
        ),
        retry_after_s,
    )
}

fn injected(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    match status {
        429 => rate_limited(1),
        500 => json(code, error_body("INTERNAL", "internal error")),
        503 => json(code, error_body("UNAVAILABLE", "service unavailable")),
        400..=499 => json(code, error_body("UNKNOWN", "unknown error")),
        _ => answer::html(code),
    }
}

async fn candles(
    State(s): State<Arc<Shared>>,
    Path(product): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = match answer::gate(&s, 1, rate_limited, injected).await {
        Gate::Serve(f) => f,
        Gate::Answer(r) => return r,
    };
    match candles_body(
        s.markets(),
        &product,
        raw.as_deref().unwrap_or(""),
        s.now_ms(),
    ) {
        Ok(body) => answer::ok(&s, body, fault),
        Err(e) => json(
            StatusCode::from_u16(e.0).unwrap_or(StatusCode::BAD_REQUEST),
            e.body(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use crate::timeframe::MINUTE_MS;
    use serde_json::Value;

    const NOW: i64 = 1_718_000_000_000; // 2024-06-10T06:13:20Z

    fn markets() -> Markets {
        let mut specs = MarketSpec::defaults();
        specs.push(
            MarketSpec::new("BTC/USD", 1_502_942_400_000, 4000.0)
                .with_gap(1_704_067_200_000, 1_704_070_800_000),
        );
        Markets::new(42, &specs)
    }

    fn body(q: &str) -> Result<Value, ApiError> {
        candles_body(&markets(), "BTC-USD", q, NOW).map(|b| serde_json::from_slice(&b).unwrap())
    }

    #[test]
    fn newest_first_strings_matching_truth() {
        let ms = markets();
        let (s, e) = (NOW / 1000 - 3 * 3600, NOW / 1000 - 3600 - 1);
        let v = body(&format!("start={s}&end={e}&granularity=ONE_MINUTE")).unwrap();
        let rows = v["candles"].as_array().unwrap();
        assert_eq!(rows.len(), 120);
        let m = ms.get("BTC/USD").unwrap();
        let truth = m.closed_candles(Timeframe::M1, s * 1000, (e + 1) * 1000, NOW);
        for (r, c) in rows.iter().rev().zip(&truth) {
            let t = m.to_sim(c);
            let f = |k: &str| r[k].as_str().unwrap().parse::<f64>().unwrap();
            assert_eq!(
                r["start"].as_str().unwrap().parse::<i64>().unwrap() * 1000,
                t.open_time
            );
            assert_eq!(
                [f("open"), f("high"), f("low"), f("close"), f("volume")],
                [t.open, t.high, t.low, t.close, t.volume]
            );
        }
        // The forming bucket is served; limit keeps the newest.
        let v = body(&format!(
            "start={}&end={}&granularity=ONE_MINUTE&limit=2",
            NOW / 1000 - 600,
            NOW / 1000
        ))
        .unwrap();
        let rows = v["candles"].as_array().unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0]["start"],
            ((NOW - NOW % MINUTE_MS) / 1000).to_string()
        );
        // A gap has no rows; FOUR_HOUR works.
        let v = body("start=1704067200&end=1704070799&granularity=ONE_MINUTE").unwrap();
        assert!(v["candles"].as_array().unwrap().is_empty());
        assert!(body("start=1704067200&end=1704153599&granularity=FOUR_HOUR").is_ok());
    }

    #[test]
    fn errors() {
        let msg = |q: &str| body(q).unwrap_err();
        assert_eq!(msg("end=5&granularity=ONE_MINUTE").2, "start is required");
        assert_eq!(
            msg("start=0&end=21000&granularity=ONE_MINUTE").2,
            "start and end argument is invalid - number of candles requested should be less than 350"
        );
        assert!(body("start=0&end=20940&granularity=ONE_MINUTE").is_ok());
        assert!(
            msg("start=0&end=60&granularity=ONE_WEEK")
                .2
                .contains("granularity")
        );
        assert_eq!(
            msg("start=60&end=0&granularity=ONE_MINUTE").1,
            "INVALID_ARGUMENT"
        );
        assert_eq!(
            msg("start=0&end=60&granularity=ONE_MINUTE&limit=351").1,
            "INVALID_ARGUMENT"
        );
        let e = candles_body(
            &markets(),
            "NOPE-USD",
            "start=0&end=60&granularity=ONE_MINUTE",
            NOW,
        )
        .unwrap_err();
        assert_eq!((e.0, e.1), (404, "NOT_FOUND"));
        assert_eq!(
            e.body(),
            r#"{"error":"NOT_FOUND","error_details":"Product NOPE-USD not supported","message":"Product NOPE-USD not supported"}"#
        );
        assert_eq!(answer::fixed(4_200_010, 2), "42000.10");
        assert_eq!(answer::fixed(5, 0), "5");
        assert_eq!(answer::fixed(5, 3), "0.005");
    }

    #[tokio::test]
    async fn over_http_with_faults() {
        use crate::{Faults, SimConfig, Simulator};
        let _ = rustls::crypto::ring::default_provider().install_default();
        let cfg = SimConfig::default()
            .with_clock_fixed(NOW)
            .with_market(MarketSpec::new("BTC/USD", 1_502_942_400_000, 4000.0))
            .with_faults(Faults {
                rate_limit_every_n: Some(2),
                error_every_n: Some(3),
                error_status: 500,
                ..Faults::default()
            });
        let sim = Simulator::start(cfg).await.unwrap();
        let path = "/coinbase/api/v3/brokerage/market/products/BTC-USD/candles";
        let url = format!(
            "{}{path}?start=1704067200&end=1704067259&granularity=ONE_MINUTE",
            sim.base_url()
        );
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        let r1 = c.get(&url).send().await.unwrap();
        assert_eq!(r1.status().as_u16(), 200);
        let r2 = c.get(&url).send().await.unwrap();
        assert_eq!(
            (
                r2.status().as_u16(),
                r2.headers()["retry-after"].to_str().unwrap()
            ),
            (429, "1")
        );
        assert!(r2.text().await.unwrap().contains("RESOURCE_EXHAUSTED"));
        let r3 = c.get(&url).send().await.unwrap();
        assert_eq!(r3.status().as_u16(), 500);
        assert!(r3.text().await.unwrap().contains("INTERNAL"));
        assert_eq!(sim.requests(path), 3);
        sim.shutdown().await;
    }
}
