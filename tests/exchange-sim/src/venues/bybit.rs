//! Bybit v5 REST: `GET /v5/market/kline` (under `/bybit`), plus small helpers the OKX,
//! KuCoin and HTX modules reuse: [`gate`], [`reply`], [`mangle`], [`find`],
//! [`newest_first`], [`values`].
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
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::get;

use crate::clock::wall_ms;
use crate::faults::{self, Fault};
use crate::limits::Admission;
use crate::market::{Candle, Market, Markets};
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

const INTERVALS: [(&str, Timeframe); 13] = [
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
        Ok(body) => reply(200, &[], mangle(pick, body.into_bytes())),
        Err(msg) => reply(200, &[], error_body(10001, &msg, time)),
    }
}

// -------------------------------------------------------------------------------------------
// Helpers the OKX, KuCoin and HTX modules reuse.

/// What the shared weight limiter and the fault plan say about one candle request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Serve it (with a body fault, if one was picked).
    Serve(Option<Fault>),
    /// Answer with the venue's rate-limit error; wait this many seconds.
    Limited(u64),
    /// Answer with the venue's ban / hard limit; wait this many seconds.
    Banned(u64),
    /// Answer with this HTTP error status.
    Error(u16),
}

/// Latency, the weight limiter (`weight` per request), then the fault plan.
pub(crate) async fn gate(s: &Shared, weight: u32) -> Gate {
    let f = s.faults();
    if f.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
    }
    match s.admit(weight).0 {
        Admission::Allowed { .. } => {}
        Admission::Limited { retry_after_s, .. } => return Gate::Limited(retry_after_s),
        Admission::Banned { retry_after_s, .. } => return Gate::Banned(retry_after_s),
    }
    match f.pick(s.next_fault_seq()) {
        Some(Fault::RateLimited) => Gate::Limited(1),
        Some(Fault::Banned) => Gate::Banned(1),
        Some(Fault::Error(status)) => Gate::Error(status),
        pick => Gate::Serve(pick),
    }
}

/// `body` truncated or made invalid when the fault plan says so.
pub(crate) fn mangle(pick: Option<Fault>, body: Vec<u8>) -> Vec<u8> {
    match pick {
        Some(Fault::Malformed) => faults::malform(&body),
        Some(Fault::Truncated) => faults::truncate(&body),
        _ => body,
    }
}

/// A response with a JSON content type (unless the body is not an object) and headers.
pub(crate) fn reply(
    status: u16,
    headers: &[(&'static str, String)],
    body: impl Into<Body>,
) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    r
}

/// The market with this base and quote (ASCII case-insensitive).
pub(crate) fn find<'a>(markets: &'a Markets, base: &str, quote: &str) -> Option<&'a Market> {
    markets
        .iter()
        .find(|m| m.base().eq_ignore_ascii_case(base) && m.quote().eq_ignore_ascii_case(quote))
}

/// The newest `limit` candles with `start <= open <= end` as of `now`, **newest first**
/// (the forming candle included).
pub(crate) fn newest_first(
    m: &Market,
    tf: Timeframe,
    start: i64,
    end: i64,
    now: i64,
    limit: usize,
) -> Vec<Candle> {
    let mut v = m.candles_before(tf, end, now, limit);
    v.retain(|c| c.open_time >= start);
    v.reverse();
    v
}

/// Open, high, low, close, base volume and quote volume as exact decimal strings.
pub(crate) fn values(m: &Market, c: &Candle) -> [String; 6] {
    let s = m.to_sim(c);
    let qv =
        c.bar.quote_volume as f64 / 10f64.powi((m.price_decimals() + m.volume_decimals()) as i32);
    [s.open, s.high, s.low, s.close, s.volume, qv].map(|x| x.to_string())
}

/// An IMF-fixdate (`Tue, 02 Jan 2024 00:00:30 GMT`) for a `Date` header at `ms`.
pub(crate) fn http_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, secs) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000) / 1000);
    let (y, m, d) = crate::timeframe::civil_from_days(days);
    let wd = DAYS[days.rem_euclid(7) as usize];
    format!(
        "{wd}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        MONTHS[m as usize - 1],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
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
