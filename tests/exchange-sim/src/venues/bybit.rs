//! Bybit v5 REST: `GET /v5/market/kline` (under `/bybit`). Its gate, replies and row
//! helpers, shared with OKX, KuCoin and HTX, are in [`super::newest_first`]; the public
//! WebSocket is [`super::bybit_stream`].
//!
//! Semantics follow the real API:
//! - `category` `spot` | `linear` | `inverse` (required), `symbol` (`BTCUSDT`; inverse
//!   `BTCUSD`), `interval` `1 3 5 15 30 60 120 240 360 720 D W M`, `start`/`end` ms (open
//!   times with `start <= open <= end`; `end` defaults to now), `limit` default 200,
//!   clamped to 1..=1000. The **newest** `limit` candles of the range are returned,
//!   newest first, the forming candle included.
//! - Body `{"retCode":0,"retMsg":"OK","result":{"category":..,"symbol":..,"list":[..]},
//!   "retExtInfo":{},"time":ms}`; rows `["startMs","o","h","l","c","volume","turnover"]`
//!   (spot and linear: volume in base, turnover in quote; inverse: volume in USD
//!   contracts, turnover in the base coin). Linear symbols serve the spot market's data.
//! - Errors: HTTP 200 with `retCode` 10001 (`Not supported symbols`, `Invalid period!`,
//!   `params error: ...`). Over the weight budget or an injected rate limit: HTTP 200
//!   `retCode` 10006 `Too many visits!` with `X-Bapi-Limit-Reset-Timestamp`; a ban: HTTP
//!   403 `access too frequent`. Weight 1 per request against the shared limiter.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;

use super::newest_first::{Gate, gate, newest_first, reply, values};
use crate::clock::wall_ms;
use crate::market::Markets;
use crate::query;
use crate::server::Shared;
use crate::timeframe::Timeframe;

/// Path of the candle endpoint (under `/bybit`).
pub const KLINE_PATH: &str = "/v5/market/kline";
/// Maximum `limit`.
pub const MAX_LIMIT: usize = 1000;
/// Default `limit`.
pub const DEFAULT_LIMIT: usize = 200;

/// Routes of this venue, relative to its `/bybit` prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route(KLINE_PATH, get(kline))
}

/// The intervals Bybit names its klines by (REST and WebSocket).
pub const INTERVALS: [(&str, Timeframe); 13] = [
    ("1", Timeframe::M1),
    ("3", Timeframe::M3),
    ("5", Timeframe::M5),
    ("15", Timeframe::M15),
    ("30", Timeframe::M30),
    ("60", Timeframe::H1),
    ("120", Timeframe::H2),
    ("240", Timeframe::H4),
    ("360", Timeframe::H6),
    ("720", Timeframe::H12),
    ("D", Timeframe::D1),
    ("W", Timeframe::W1),
    ("M", Timeframe::Mo1),
];

/// The JSON body of a kline query at market time `now`, or the `retMsg` of a 10001 error.
pub fn kline_body(markets: &Markets, raw: &str, now: i64, time: i64) -> Result<String, String> {
    let q = query::parse(raw);
    let p = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let int = |k: &str| -> Result<Option<i64>, String> {
        p(k).map(|v| {
            v.parse::<i64>()
                .map_err(|_| format!("params error: {k} invalid"))
        })
        .transpose()
    };
    let category = p("category").ok_or("params error: category invalid")?;
    let inverse = match category {
        "spot" | "linear" => false,
        "inverse" => true,
        _ => return Err("Illegal category".into()),
    };
    let id = p("symbol").ok_or("params error: symbol invalid")?;
    let tf = p("interval").ok_or("params error: interval invalid")?;
    let (start, end, limit) = (int("start")?, int("end")?, int("limit")?);
    let m = markets
        .iter()
        .find(|m| format!("{}{}", m.base(), m.quote()) == id && (m.quote() == "USD") == inverse)
        .ok_or("Not supported symbols")?;
    let tf = INTERVALS
        .iter()
        .find(|i| i.0 == tf)
        .ok_or("Invalid period!")?
        .1;
    let limit = limit
        .unwrap_or(DEFAULT_LIMIT as i64)
        .clamp(1, MAX_LIMIT as i64) as usize;
    let candles = newest_first(
        m,
        tf,
        start.unwrap_or(i64::MIN),
        end.unwrap_or(now),
        now,
        limit,
    );
    let rows: Vec<String> = candles
        .iter()
        .map(|c| {
            let [o, h, l, cl, v, qv] = values(m, c);
            let (vol, turnover) = if inverse { (qv, v) } else { (v, qv) };
            format!(
                r#"["{}","{o}","{h}","{l}","{cl}","{vol}","{turnover}"]"#,
                c.open_time
            )
        })
        .collect();
    Ok(format!(
        r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"{category}","symbol":"{id}","list":[{}]}},"retExtInfo":{{}},"time":{time}}}"#,
        rows.join(",")
    ))
}

fn error_body(code: i64, msg: &str, time: i64) -> String {
    serde_json::json!({"retCode": code, "retMsg": msg, "result": {}, "retExtInfo": {}, "time": time}).to_string()
}

async fn kline(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let time = wall_ms();
    let pick = match gate(&s, 1).await {
        Gate::Serve(pick) => pick,
        Gate::Limited(secs) => {
            let reset = (time + secs as i64 * 1000).to_string();
            let body = error_body(10006, "Too many visits!", time);
            return reply(
                200,
                &[
                    ("x-bapi-limit-reset-timestamp", reset),
                    ("x-bapi-limit-status", "0".into()),
                ],
                body,
            );
        }
        Gate::Banned(_) => return reply(403, &[], "access too frequent"),
        Gate::Error(status) if status >= 500 => {
            return reply(status, &[], error_body(10016, "Server error.", time));
        }
        Gate::Error(status) => return reply(status, &[], error_body(10001, "params error", time)),
    };
    match kline_body(s.markets(), raw.as_deref().unwrap_or(""), s.now_ms(), time) {
        Ok(body) => reply(200, &[], s.mangle(pick, body.into_bytes())),
        Err(msg) => reply(200, &[], error_body(10001, &msg, time)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use crate::venues::newest_first::http_date;
    use serde_json::Value;

    const NOW: i64 = 1_718_000_000_000; // 2024-06-10T06:13:20Z

    fn markets() -> Markets {
        let mut specs = MarketSpec::defaults();
        specs.push(MarketSpec::new("BTC/USD", 1_502_942_400_000, 4000.0));
        Markets::new(42, &specs)
    }

    fn list(raw: &str) -> Vec<Vec<String>> {
        let v: Value = serde_json::from_str(&kline_body(&markets(), raw, NOW, 7).unwrap()).unwrap();
        assert_eq!(
            (v["retCode"].as_i64(), v["time"].as_i64()),
            (Some(0), Some(7))
        );
        serde_json::from_value(v["result"]["list"].clone()).unwrap()
    }

    #[test]
    fn newest_first_limit_and_exact_values() {
        let ms = markets();
        let m = ms.get("BTC/USDT").unwrap();
        let start = NOW - 86_400_000;
        let rows = list(&format!(
            "category=spot&symbol=BTCUSDT&interval=1&start={start}&end={NOW}&limit=5000"
        ));
        assert_eq!(rows.len(), 1000);
        let t = |r: &Vec<String>| r[0].parse::<i64>().unwrap();
        assert!(rows.windows(2).all(|w| t(&w[0]) > t(&w[1])), "newest first");
        assert_eq!(
            t(&rows[0]),
            NOW - NOW % 60_000,
            "the forming candle is included"
        );
        let truth = m.closed_candles(Timeframe::M1, t(&rows[999]), NOW, NOW);
        for (r, c) in rows[1..].iter().rev().zip(&truth) {
            let s = m.to_sim(c);
            let f = |i: usize| r[i].parse::<f64>().unwrap();
            assert_eq!(
                (t(r), f(1), f(2), f(3), f(4), f(5)),
                (s.open_time, s.open, s.high, s.low, s.close, s.volume)
            );
        }
        // Default limit 200, `start` bounds the range, linear serves the spot data.
        assert_eq!(
            list("category=linear&symbol=BTCUSDT&interval=60").len(),
            200
        );
        let few = list(&format!(
            "category=spot&symbol=ETHUSDT&interval=D&start={}&end={NOW}",
            NOW - 3 * 86_400_000
        ));
        assert_eq!(few.len(), 3);
        // Inverse: volume is the quote amount, turnover the base volume.
        let inv = list(&format!(
            "category=inverse&symbol=BTCUSD&interval=1&end={}&limit=1",
            NOW - 3_600_000
        ));
        let c = ms
            .get("BTC/USD")
            .unwrap()
            .candles_before(Timeframe::M1, NOW - 3_600_000, NOW, 1);
        assert_eq!(
            inv[0][6].parse::<f64>().unwrap(),
            ms.get("BTC/USD").unwrap().to_sim(&c[0]).volume
        );
        assert_eq!(
            http_date(1_704_153_630_000),
            "Tue, 02 Jan 2024 00:00:30 GMT"
        );
        // Before the listing: empty.
        assert!(list("category=spot&symbol=SOLUSDT&interval=1&end=1500000000000").is_empty());
    }

    #[test]
    fn errors() {
        let err = |q: &str| kline_body(&markets(), q, NOW, 0).unwrap_err();
        assert_eq!(
            err("category=spot&symbol=XYZUSDT&interval=1"),
            "Not supported symbols"
        );
        assert_eq!(
            err("category=inverse&symbol=BTCUSDT&interval=1"),
            "Not supported symbols"
        );
        assert_eq!(
            err("category=spot&symbol=BTCUSDT&interval=7"),
            "Invalid period!"
        );
        assert_eq!(
            err("category=spot&symbol=BTCUSDT&interval=1&start=x"),
            "params error: start invalid"
        );
        assert_eq!(
            err("category=futures&symbol=BTCUSDT&interval=1"),
            "Illegal category"
        );
        assert_eq!(
            err("symbol=BTCUSDT&interval=1"),
            "params error: category invalid"
        );
    }

    #[tokio::test]
    async fn over_http_with_rate_limit_and_ban() {
        use crate::{Faults, SimConfig, Simulator};
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sim = Simulator::start(SimConfig::default().with_clock_fixed(NOW))
            .await
            .unwrap();
        let client = reqwest::Client::builder().no_proxy().build().unwrap();
        let url = format!(
            "{}/bybit{KLINE_PATH}?category=spot&symbol=BTCUSDT&interval=1&limit=3",
            sim.base_url()
        );
        let get = || async { client.get(&url).send().await.unwrap() };
        let r = get().await;
        assert_eq!(r.status(), 200);
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(v["result"]["list"].as_array().unwrap().len(), 3);
        sim.set_faults(Faults {
            rate_limit_every_n: Some(1),
            ..Faults::default()
        });
        let r = get().await;
        let reset: i64 = r.headers()["x-bapi-limit-reset-timestamp"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let v: Value = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(v["retCode"], 10006);
        assert_eq!(reset - v["time"].as_i64().unwrap(), 1000);
        sim.set_faults(Faults {
            ban_every_n: Some(1),
            ..Faults::default()
        });
        assert_eq!(get().await.status(), 403);
        sim.set_faults(Faults {
            malformed_every_n: Some(1),
            ..Faults::default()
        });
        assert!(serde_json::from_slice::<Value>(&get().await.bytes().await.unwrap()).is_err());
        assert_eq!(sim.requests(&format!("/bybit{KLINE_PATH}")), 4);
        sim.shutdown().await;
    }
}
