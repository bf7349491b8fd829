//! HTX (Huobi) spot REST: `GET /market/history/candles` and `/market/history/kline` (under `/htx`).
//!
//! Semantics (see the `htx` adapter's docs for the sources):
//! - `symbol` (`btcusdt`, lower case), `period` (`1min 5min 15min 30min 60min 4hour`; HTX's
//!   `1day`/`1week`/`1mon` open at 00:00 UTC+8, which the simulator's UTC grid cannot model,
//!   so they are refused like an unknown period), `size`.
//! - `/market/history/kline` (documented): the newest `size` (default 150, 1..=2000)
//!   candles, no time window.
//! - `/market/history/candles` (ccxt's endpoint): also `from`/`to` in seconds (open times
//!   with `from <= t <= to`), the newest `size` (default 150, at most 1000; larger sizes
//!   answer an empty list, as observed) of the range.
//! - Rows, newest first, the forming candle included: `{"id":open_s,"open","close","low",
//!   "high","amount","vol","count"}` as JSON numbers (`amount` in base, `vol` in quote);
//!   envelope `{"ch":"market.btcusdt.kline.1min","status":"ok","ts":ms,"data":[..]}`.
//! - Errors (HTTP 200): `{"status":"error","err-code":"invalid-parameter","err-msg":"invalid
//!   symbol"|"invalid period"|"invalid size,valid range: [1, 2000]","data":null}`. Over the
//!   budget, an injected rate limit or ban: HTTP 429 with `Retry-After` and
//!   `err-code` `too-many-request`. Weight 1 per request.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::get;

use super::newest_first::{Gate, gate, newest_first, reply, values};
use crate::market::Markets;
use crate::query;
use crate::server::Shared;
use crate::timeframe::Timeframe;

/// ccxt's endpoint, with `from`/`to`.
pub const CANDLES_PATH: &str = "/market/history/candles";
/// The documented endpoint: newest `size` only.
pub const KLINE_PATH: &str = "/market/history/kline";

/// Routes of this venue, relative to its `/htx` prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route(
            CANDLES_PATH,
            get(|s: State<Arc<Shared>>, q: RawQuery| candles(s, q, true)),
        )
        .route(
            KLINE_PATH,
            get(|s: State<Arc<Shared>>, q: RawQuery| candles(s, q, false)),
        )
}

const PERIODS: [(&str, Timeframe); 6] = [
    ("1min", Timeframe::M1),
    ("5min", Timeframe::M5),
    ("15min", Timeframe::M15),
    ("30min", Timeframe::M30),
    ("60min", Timeframe::H1),
    ("4hour", Timeframe::H4),
];

/// The JSON body of a query at market time `now` (`ranged`: the candles endpoint), or the
/// `err-msg` of an `invalid-parameter` error.
pub fn candles_body(
    markets: &Markets,
    raw: &str,
    now: i64,
    ranged: bool,
) -> Result<String, String> {
    let q = query::parse(raw);
    let p = |k: &str| {
        q.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let id = p("symbol").unwrap_or_default();
    let m = markets
        .iter()
        .find(|m| format!("{}{}", m.base(), m.quote()).to_ascii_lowercase() == id)
        .ok_or("invalid symbol")?;
    let period = p("period").unwrap_or_default();
    let tf = PERIODS
        .iter()
        .find(|x| x.0 == period)
        .ok_or("invalid period")?
        .1;
    let int = |k: &str| {
        p(k).map(|v| v.parse::<i64>().map_err(|_| format!("invalid {k}")))
            .transpose()
    };
    let max = if ranged { 1000 } else { 2000 };
    let size = int("size")?.unwrap_or(150);
    if !(1..=2000).contains(&size) {
        return Err("invalid size,valid range: [1, 2000]".into());
    }
    let (from, to) = if ranged {
        (int("from")?, int("to")?)
    } else {
        (None, None)
    };
    let candles = if size > max {
        Vec::new()
    } else {
        let (start, end) = (
            from.map_or(i64::MIN, |f| f.saturating_mul(1000)),
            to.map_or(now, |t| t.saturating_mul(1000)),
        );
        newest_first(m, tf, start, end, now, size as usize)
    };
    let rows: Vec<String> = candles
        .iter()
        .map(|c| {
            let [o, h, l, cl, v, qv] = values(m, c);
            let id = c.open_time / 1000;
            let n = c.bar.trades;
            format!(r#"{{"id":{id},"open":{o},"close":{cl},"low":{l},"high":{h},"amount":{v},"vol":{qv},"count":{n}}}"#)
        })
        .collect();
    Ok(format!(
        r#"{{"ch":"market.{id}.kline.{period}","status":"ok","ts":{now},"data":[{}]}}"#,
        rows.join(",")
    ))
}

fn error_body(code: &str, msg: &str) -> String {
    serde_json::json!({"status": "error", "err-code": code, "err-msg": msg, "data": null})
        .to_string()
}

async fn candles(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery, ranged: bool) -> Response {
    let pick = match gate(&s, 1).await {
        Gate::Serve(pick) => pick,
        Gate::Limited(secs) | Gate::Banned(secs) => {
            let body = error_body("too-many-request", "Request frequency exceeds the limit");
            return reply(429, &[("retry-after", secs.to_string())], body);
        }
        Gate::Error(status) => {
            return reply(
                status,
                &[],
                error_body("system-busy", "system busy, please try again"),
            );
        }
    };
    match candles_body(
        s.markets(),
        raw.as_deref().unwrap_or(""),
        s.now_ms(),
        ranged,
    ) {
        Ok(body) => reply(200, &[], s.mangle(pick, body.into_bytes())),
        Err(msg) => reply(200, &[], error_body("invalid-parameter", &msg)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use serde_json::Value;

    const NOW: i64 = 1_718_000_000_000; // 2024-06-10T06:13:20Z
    const M: i64 = 60_000;

    fn data(raw: &str, ranged: bool) -> Vec<Value> {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let v: Value = serde_json::from_str(&candles_body(&ms, raw, NOW, ranged).unwrap()).unwrap();
        assert_eq!(v["status"], "ok");
        v["data"].as_array().unwrap().clone()
    }

    #[test]
    fn ranges_sizes_and_values() {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let m = ms.get("ETH/USDT").unwrap();
        let t = |r: &Value| r["id"].as_i64().unwrap() * 1000;
        let rows = data("symbol=ethusdt&period=1min", true);
        assert_eq!((rows.len(), t(&rows[0])), (150, NOW - NOW % M));
        let end = NOW - NOW % M - 86_400_000;
        let rows = data(
            &format!(
                "symbol=ethusdt&period=1min&from={}&to={}&size=1000",
                (end - 10 * M) / 1000,
                end / 1000 - 1
            ),
            true,
        );
        assert_eq!(rows.len(), 10);
        let truth = m.closed_candles(Timeframe::M1, end - 10 * M, end, NOW);
        for (r, c) in rows.iter().rev().zip(&truth) {
            let s = m.to_sim(c);
            let f = |k: &str| r[k].as_f64().unwrap();
            assert_eq!(
                (
                    t(r),
                    f("open"),
                    f("high"),
                    f("low"),
                    f("close"),
                    f("amount")
                ),
                (s.open_time, s.open, s.high, s.low, s.close, s.volume)
            );
        }
        // The documented endpoint ignores from/to; sizes over 1000 on the candles endpoint are empty.
        let newest = data(
            &format!(
                "symbol=ethusdt&period=1min&from={}&to={}&size=3",
                (end - 10 * M) / 1000,
                end / 1000
            ),
            false,
        );
        assert_eq!(t(&newest[0]), NOW - NOW % M);
        assert!(data("symbol=ethusdt&period=1min&size=1500", true).is_empty());
        assert_eq!(
            data("symbol=ethusdt&period=1min&size=1500", false).len(),
            1500
        );
    }

    #[test]
    fn errors() {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let err = |q: &str| candles_body(&ms, q, NOW, true).unwrap_err();
        assert_eq!(err("symbol=xyzusdt&period=1min"), "invalid symbol");
        assert_eq!(err("symbol=BTCUSDT&period=1min"), "invalid symbol");
        assert_eq!(err("symbol=btcusdt&period=1day"), "invalid period");
        assert_eq!(
            err("symbol=btcusdt&period=1min&size=0"),
            "invalid size,valid range: [1, 2000]"
        );
        assert_eq!(err("symbol=btcusdt&period=1min&from=x"), "invalid from");
    }
}
