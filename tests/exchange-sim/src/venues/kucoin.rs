//! KuCoin spot REST: `GET /api/v1/market/candles` (under `/kucoin`).
//!
//! Semantics follow the real API:
//! - `symbol` (`BTC-USDT`), `type` (`1min 3min 5min 15min 30min 1hour 2hour 4hour 6hour 8hour
//!   12hour 1day`; KuCoin's `1week` opens on Thursdays, which the simulator's Monday weeks
//!   cannot model, so it is refused like an unknown type), `startAt`/`endAt` in seconds
//!   (open times with `startAt <= t <= endAt`; `endAt` 0 or absent = now). No `limit`: at
//!   most the newest 1500 candles of the range, newest first, the forming one included.
//! - Body `{"code":"200000","data":[["t_s","open","close","high","low","volume","turnover"]]}`
//!   (close before high; volume in base, turnover in quote).
//! - Errors (HTTP 200): code 400100 (`This pair is not provided at present`, `Unsupported
//!   type`, `startAt invalid`, ...). Over the budget, an injected rate limit or ban: HTTP 429
//!   `{"code":"429000","msg":"Too Many Requests"}` with `gw-ratelimit-reset` (ms until the
//!   quota resets), `gw-ratelimit-remaining: 0`, `gw-ratelimit-limit`. Weight 3 per request.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;

use super::newest_first::{Gate, find, gate, newest_first, reply, values};
use crate::market::Markets;
use crate::query;
use crate::server::Shared;
use crate::timeframe::Timeframe;

/// Path of the candle endpoint (under `/kucoin`).
pub const CANDLES_PATH: &str = "/api/v1/market/candles";
/// Most candles of one answer.
pub const MAX_ROWS: usize = 1500;
/// Weight of one candles request.
pub const WEIGHT: u32 = 3;

/// Routes of this venue, relative to its `/kucoin` prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route(CANDLES_PATH, get(candles))
}

const TYPES: [(&str, Timeframe); 12] = [
    ("1min", Timeframe::M1),
    ("3min", Timeframe::M3),
    ("5min", Timeframe::M5),
    ("15min", Timeframe::M15),
    ("30min", Timeframe::M30),
    ("1hour", Timeframe::H1),
    ("2hour", Timeframe::H2),
    ("4hour", Timeframe::H4),
    ("6hour", Timeframe::H6),
    ("8hour", Timeframe::H8),
    ("12hour", Timeframe::H12),
    ("1day", Timeframe::D1),
];

/// The JSON body of a candles query at market time `now`, or the 400100 message.
pub fn candles_body(markets: &Markets, raw: &str, now: i64) -> Result<String, String> {
    let q = query::parse(raw);
    let p = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let int = |k: &str| -> Result<i64, String> {
        p(k).map_or(Ok(0), |v| {
            v.parse::<i64>().map_err(|_| format!("{k} invalid"))
        })
    };
    let pair = || "This pair is not provided at present".to_owned();
    let (base, quote) = p("symbol")
        .and_then(|s| s.split_once('-'))
        .ok_or_else(pair)?;
    let m = find(markets, base, quote)
        .filter(|_| base == base.to_ascii_uppercase())
        .ok_or_else(pair)?;
    let tf = TYPES
        .iter()
        .find(|t| Some(t.0) == p("type"))
        .ok_or("Unsupported type")?
        .1;
    let (start, end) = (int("startAt")?, int("endAt")?);
    let end = if end == 0 {
        now
    } else {
        end.saturating_mul(1000)
    };
    let rows: Vec<String> = newest_first(m, tf, start.saturating_mul(1000), end, now, MAX_ROWS)
        .iter()
        .map(|c| {
            let [o, h, l, cl, v, qv] = values(m, c);
            format!(
                r#"["{}","{o}","{cl}","{h}","{l}","{v}","{qv}"]"#,
                c.open_time / 1000
            )
        })
        .collect();
    Ok(format!(
        r#"{{"code":"200000","data":[{}]}}"#,
        rows.join(",")
    ))
}

async fn candles(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    let pick = match gate(&s, WEIGHT).await {
        Gate::Serve(pick) => pick,
        Gate::Limited(secs) | Gate::Banned(secs) => {
            let headers = [
                ("gw-ratelimit-limit", s.budget().to_string()),
                ("gw-ratelimit-remaining", "0".to_owned()),
                ("gw-ratelimit-reset", (secs * 1000).to_string()),
            ];
            return reply(
                429,
                &headers,
                r#"{"code":"429000","msg":"Too Many Requests"}"#,
            );
        }
        Gate::Error(status) if status >= 500 => {
            return reply(
                status,
                &[],
                r#"{"code":"500000","msg":"Internal Server Error."}"#,
            );
        }
        Gate::Error(status) => {
            return reply(status, &[], r#"{"code":"400000","msg":"Bad Request"}"#);
        }
    };
    match candles_body(s.markets(), raw.as_deref().unwrap_or(""), s.now_ms()) {
        Ok(body) => reply(200, &[], s.mangle(pick, body.into_bytes())),
        Err(msg) => reply(
            200,
            &[],
            serde_json::json!({"code": "400100", "msg": msg}).to_string(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use serde_json::Value;

    const NOW: i64 = 1_718_000_000_000; // 2024-06-10T06:13:20Z
    const M: i64 = 60_000;

    fn data(raw: &str) -> Vec<Vec<String>> {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let v: Value = serde_json::from_str(&candles_body(&ms, raw, NOW).unwrap()).unwrap();
        assert_eq!(v["code"], "200000");
        serde_json::from_value(v["data"].clone()).unwrap()
    }

    #[test]
    fn ranges_rows_and_values() {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let m = ms.get("BTC/USDT").unwrap();
        let t = |r: &Vec<String>| r[0].parse::<i64>().unwrap() * 1000;
        let rows = data("symbol=BTC-USDT&type=1min");
        assert_eq!(rows.len(), 1500);
        assert_eq!(
            t(&rows[0]),
            NOW - NOW % M,
            "newest first, the forming candle included"
        );
        let end = NOW - NOW % M - 86_400_000;
        let rows = data(&format!(
            "symbol=BTC-USDT&type=1min&startAt={}&endAt={}",
            (end - 10 * M) / 1000,
            end / 1000 - 1
        ));
        assert_eq!(rows.len(), 10);
        let truth = m.closed_candles(Timeframe::M1, end - 10 * M, end, NOW);
        for (r, c) in rows.iter().rev().zip(&truth) {
            let s = m.to_sim(c);
            let f = |i: usize| r[i].parse::<f64>().unwrap();
            assert_eq!(
                (t(r), f(1), f(3), f(4), f(2), f(5)),
                (s.open_time, s.open, s.high, s.low, s.close, s.volume)
            );
        }
        assert_eq!(
            data("symbol=SOL-USDT&type=1day&startAt=0&endAt=1597100000").len(),
            0
        );
    }

    #[test]
    fn errors() {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let err = |q: &str| candles_body(&ms, q, NOW).unwrap_err();
        assert_eq!(
            err("symbol=XYZ-USDT&type=1min"),
            "This pair is not provided at present"
        );
        assert_eq!(
            err("symbol=btc-usdt&type=1min"),
            "This pair is not provided at present"
        );
        assert_eq!(err("symbol=BTC-USDT&type=1week"), "Unsupported type");
        assert_eq!(
            err("symbol=BTC-USDT&type=1min&startAt=x"),
            "startAt invalid"
        );
    }
}
