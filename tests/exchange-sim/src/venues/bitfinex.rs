//! Bitfinex public candles: `GET /v2/candles/trade:{tf}:{symbol}/hist?start=&end=&limit=&sort=`.
//!
//! - `start`/`end`: inclusive ms bounds (optional); `limit` 1..=10,000 (default 100);
//!   `sort=1` returns the oldest rows first, otherwise the newest `limit` rows, newest
//!   first. The forming candle is included; intervals without trades have no row.
//! - `tf`: 1m 5m 15m 30m 1h 6h 12h 1D 1W (also `7D`) 1M; `3h`/`14D` exist on Bitfinex but
//!   not in the simulator's markets and are refused like an unknown one.
//! - `symbol`: `tBTCUSD`, `tBTCUST` (USDT is `UST`, USDC `UDC`), `tDOGE:USD` for codes
//!   longer than three letters.
//! - Rows `[MTS, OPEN, CLOSE, HIGH, LOW, VOLUME]` as JSON numbers (close before high).
//! - Errors `["error", 10020, "symbol: invalid"]` (HTTP 500, like Bitfinex); rate limits
//!   429 `["error", 11010, "ERR_RATE_LIMIT"]` (with `Retry-After`, which Bitfinex does not
//!   send, so tests can wait less than its 60 s block).

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

/// Largest `limit`.
pub const MAX_LIMIT: usize = 10_000;
/// `limit` when absent.
pub const DEFAULT_LIMIT: usize = 100;

/// Routes of this venue, relative to its `/bitfinex` prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/v2/candles/{key}/hist", get(hist))
}

/// A refused request: code and message (`["error", code, message]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub i64, pub &'static str);

impl ApiError {
    /// The JSON error body.
    pub fn body(&self) -> String {
        serde_json::json!(["error", self.0, self.1]).to_string()
    }
}

fn timeframe(tf: &str) -> Option<Timeframe> {
    Some(match tf {
        "1m" => Timeframe::M1,
        "5m" => Timeframe::M5,
        "15m" => Timeframe::M15,
        "30m" => Timeframe::M30,
        "1h" => Timeframe::H1,
        "6h" => Timeframe::H6,
        "12h" => Timeframe::H12,
        "1D" => Timeframe::D1,
        "1W" | "7D" => Timeframe::W1,
        "1M" => Timeframe::Mo1,
        _ => return None,
    })
}

/// The Bitfinex symbol of a market (`tBTCUST`, `tDOGE:USD`).
pub fn symbol_id(m: &Market) -> String {
    let code = |c: &str| match c {
        "USDT" => "UST".to_string(),
        "USDC" => "UDC".to_string(),
        c => c.to_string(),
    };
    let (b, q) = (code(m.base()), code(m.quote()));
    if b.len() > 3 || q.len() > 3 {
        format!("t{b}:{q}")
    } else {
        format!("t{b}{q}")
    }
}

/// The hist body for candle key `key` (`trade:1m:tBTCUSD`) and a raw query at time `now`.
pub fn hist_body(markets: &Markets, key: &str, raw: &str, now: i64) -> Result<Vec<u8>, ApiError> {
    let (tf, sym) = key
        .strip_prefix("trade:")
        .and_then(|k| k.split_once(':'))
        .ok_or(ApiError(10020, "key: invalid"))?;
    let tf = timeframe(tf).ok_or(ApiError(10020, "time_interval: invalid"))?;
    let m = markets
        .iter()
        .find(|m| symbol_id(m) == sym)
        .ok_or(ApiError(10020, "symbol: invalid"))?;
    let pairs = query::parse(raw);
    let int = |name: &str, bad: &'static str| match param(&pairs, name).map(str::parse::<i64>) {
        None => Ok(None),
        Some(Ok(v)) => Ok(Some(v.clamp(-(1 << 53), 1 << 53))),
        Some(Err(_)) => Err(ApiError(10020, bad)),
    };
    let start = int("start", "start: invalid")?;
    let end = int("end", "end: invalid")?;
    let limit = match int("limit", "limit: invalid")? {
        None => DEFAULT_LIMIT,
        Some(l) if (1..=MAX_LIMIT as i64).contains(&l) => l as usize,
        Some(_) => return Err(ApiError(10020, "limit: invalid")),
    };
    let rows = if int("sort", "sort: invalid")? == Some(1) {
        m.candles_from(
            tf,
            start.unwrap_or(i64::MIN),
            end.unwrap_or(i64::MAX),
            now,
            limit,
        )
    } else {
        let mut v = m.candles_before(tf, end.unwrap_or(i64::MAX), now, limit);
        v.retain(|c| start.is_none_or(|s| c.open_time >= s));
        v.reverse();
        v
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
                p(b.close),
                p(b.high),
                p(b.low)
            )
        })
        .collect();
    Ok(format!("[{}]", items.join(",")).into_bytes())
}

fn rate_limited(retry_after_s: u64) -> Response {
    let body = ApiError(11010, "ERR_RATE_LIMIT").body();
    answer::with_retry_after(json(StatusCode::TOO_MANY_REQUESTS, body), retry_after_s)
}

fn injected(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    match status {
        429 => rate_limited(1),
        500 => json(code, ApiError(10000, "ERR_UNK").body()),
        _ => answer::html(code),
    }
}

async fn hist(
    State(s): State<Arc<Shared>>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let fault = match answer::gate(&s, 1, rate_limited, injected).await {
        Gate::Serve(f) => f,
        Gate::Answer(r) => return r,
    };
    match hist_body(s.markets(), &key, raw.as_deref().unwrap_or(""), s.now_ms()) {
        Ok(body) => answer::ok(&s, body, fault),
        Err(e) => json(StatusCode::INTERNAL_SERVER_ERROR, e.body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use crate::timeframe::MINUTE_MS;
    use serde_json::Value;

    const NOW: i64 = 1_718_000_000_000; // 2024-06-10T06:13:20Z
    const T0: i64 = 1_704_067_200_000;

    fn markets() -> Markets {
        let mut specs = MarketSpec::defaults();
        specs.push(MarketSpec::new("BTC/USD", 1_502_942_400_000, 4000.0));
        Markets::new(42, &specs)
    }

    fn rows(key: &str, q: &str) -> Vec<Vec<Value>> {
        serde_json::from_slice(&hist_body(&markets(), key, q, NOW).unwrap()).unwrap()
    }

    #[test]
    fn ascending_and_descending_rows_match_truth() {
        let ms = markets();
        let m = ms.get("BTC/USD").unwrap();
        let r = rows(
            "trade:1m:tBTCUSD",
            &format!("start={T0}&end={}&limit=10000&sort=1", T0 + 99 * MINUTE_MS),
        );
        assert_eq!(r.len(), 100);
        let truth = m.closed_candles(Timeframe::M1, T0, T0 + 100 * MINUTE_MS, NOW);
        for (row, c) in r.iter().zip(&truth) {
            let t = m.to_sim(c);
            let f = |i: usize| row[i].as_f64().unwrap();
            assert_eq!(row[0].as_i64(), Some(t.open_time));
            assert_eq!(
                [f(1), f(2), f(3), f(4), f(5)],
                [t.open, t.close, t.high, t.low, t.volume]
            );
        }
        // Default: newest first, 100 rows, the forming candle first.
        let r = rows("trade:1m:tBTCUSD", "");
        assert_eq!(r.len(), 100);
        assert_eq!(r[0][0].as_i64(), Some(NOW - NOW % MINUTE_MS));
        assert!(r[0][0].as_i64() > r[1][0].as_i64());
        // USDT is UST; weeks open on Mondays; months work.
        assert_eq!(
            rows("trade:1W:tBTCUST", "limit=3&sort=1&start=1704067200000")[0][0].as_i64(),
            Some(T0)
        );
        assert_eq!(
            rows("trade:7D:tETHUST", "limit=1&sort=1&start=1704067200000").len(),
            1
        );
        assert_eq!(
            rows("trade:1M:tBTCUSD", "limit=2&sort=1&start=1704067200000")[1][0].as_i64(),
            Some(1_706_745_600_000)
        );
    }

    #[test]
    fn errors() {
        let e = |key: &str, q: &str| hist_body(&markets(), key, q, NOW).unwrap_err();
        assert_eq!(
            e("trade:1m:tNOPE", "").body(),
            r#"["error",10020,"symbol: invalid"]"#
        );
        assert_eq!(e("trade:3h:tBTCUSD", "").1, "time_interval: invalid");
        assert_eq!(e("trade:1m:tBTCUSD", "limit=10001").1, "limit: invalid");
        assert_eq!(e("trade:1m:tBTCUSD", "start=x").1, "start: invalid");
        assert_eq!(e("funding:1m", "").1, "key: invalid");
    }

    #[tokio::test]
    async fn over_http_rate_limit_and_truncation() {
        use crate::{Faults, SimConfig, Simulator};
        let cfg = SimConfig::default()
            .with_clock_fixed(NOW)
            .with_faults(Faults {
                rate_limit_every_n: Some(2),
                truncate_every_n: Some(3),
                ..Faults::default()
            });
        let sim = Simulator::start(cfg).await.unwrap();
        let url = format!(
            "{}/bitfinex/v2/candles/trade:1h:tBTCUST/hist?limit=5",
            sim.base_url()
        );
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        assert_eq!(c.get(&url).send().await.unwrap().status().as_u16(), 200);
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 429);
        assert_eq!(
            r.text().await.unwrap(),
            r#"["error",11010,"ERR_RATE_LIMIT"]"#
        );
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 200);
        assert!(serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).is_err());
        assert_eq!(c.get(&url).send().await.unwrap().status().as_u16(), 429); // 4th
        let bad = format!("{}/bitfinex/v2/candles/trade:1h:tXYZ/hist", sim.base_url());
        assert_eq!(c.get(&bad).send().await.unwrap().status().as_u16(), 500);
        // 6th to 9th: 429, bad, 429, then a truncate pick on a bad request: refused as bad,
        // nothing truncated, nothing counted.
        for want in [429, 500, 429, 500] {
            assert_eq!(c.get(&bad).send().await.unwrap().status().as_u16(), want);
        }
        let injected = sim.injected();
        assert_eq!((injected.rate_limited, injected.truncated), (4, 1));
        sim.shutdown().await;
    }
}
