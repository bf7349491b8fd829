//! Kraken public OHLC: `GET /0/public/OHLC?pair=XBTUSD&interval=1&since=<s>`.
//!
//! - Only the **newest 720 candles** of a pair and interval are served, whatever `since`
//!   asks for (like the real API): rows with `time > since` among them, ascending, the last
//!   one the candle still forming.
//! - `pair`: Kraken names (`XBTUSD`, also the canonical `XXBTZUSD` and `BTCUSD`); `BTC` is
//!   `XBT` and `DOGE` is `XDG`. The result key is the canonical name (`XXBTZUSD`).
//! - `interval` minutes: 1 5 15 30 60 240 1440 (10080 and 21600 are refused here: the
//!   simulator's weeks open on Mondays, Kraken's on Thursdays).
//! - Body `{"error":[],"result":{"XXBTZUSD":[[time_s,"o","h","l","c","vwap","volume",count],..],
//!   "last":<open of the newest closed candle, s>}}`.
//! - Errors are HTTP 200 with `{"error":["EQuery:Unknown asset pair"]}` /
//!   `["EGeneral:Invalid arguments"]`; rate limits answer 429 with `Retry-After` and
//!   `{"error":["EGeneral:Too many requests"]}`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::answer::{self, Gate, fixed, json, param};
use crate::market::{Market, Markets};
use crate::query;
use crate::server::Shared;
use crate::timeframe::Timeframe;

/// Candles served per pair and interval (the newest ones).
pub const SERVED: usize = 720;

/// Routes of this venue, relative to its `/kraken` prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/0/public/OHLC", get(ohlc))
}

fn code(asset: &str) -> &str {
    match asset {
        "BTC" => "XBT",
        "DOGE" => "XDG",
        a => a,
    }
}

/// The canonical pair name (`XXBTZUSD` for legacy assets, else `ETHUSDT`).
pub fn canonical(m: &Market) -> String {
    let (b, q) = (code(m.base()), code(m.quote()));
    let legacy = ["XBT", "ETH", "LTC", "XRP", "XDG", "XLM", "ETC"].contains(&b)
        && ["USD", "EUR", "GBP", "JPY", "CAD"].contains(&q);
    if legacy {
        format!("X{b}Z{q}")
    } else {
        format!("{b}{q}")
    }
}

fn find<'a>(markets: &'a Markets, pair: &str) -> Option<&'a Market> {
    markets.iter().find(|m| {
        let alt = format!("{}{}", code(m.base()), code(m.quote()));
        pair == alt || pair == canonical(m) || pair == format!("{}{}", m.base(), m.quote())
    })
}

/// The OHLC body for a raw query string at market time `now` (errors are bodies too).
pub fn ohlc_body(markets: &Markets, raw: &str, now: i64) -> String {
    let err = |e: &str| format!(r#"{{"error":["{e}"]}}"#);
    let pairs = query::parse(raw);
    let Some(pair) = param(&pairs, "pair") else {
        return err("EGeneral:Invalid arguments");
    };
    let interval = param(&pairs, "interval").unwrap_or("1");
    let tf = match interval {
        "1" => Timeframe::M1,
        "5" => Timeframe::M5,
        "15" => Timeframe::M15,
        "30" => Timeframe::M30,
        "60" => Timeframe::H1,
        "240" => Timeframe::H4,
        "1440" => Timeframe::D1,
        _ => return err("EGeneral:Invalid arguments"),
    };
    let since = match param(&pairs, "since").map(str::parse::<i64>) {
        None => i64::MIN,
        Some(Ok(s)) => s.clamp(-(1 << 40), 1 << 40) * 1000,
        Some(Err(_)) => return err("EGeneral:Invalid arguments"),
    };
    let Some(m) = find(markets, pair) else {
        return err("EQuery:Unknown asset pair");
    };
    let newest = m.candles_before(tf, now, now, SERVED);
    let last = newest
        .iter()
        .rev()
        .find(|c| c.closed)
        .map_or(0, |c| c.open_time / 1000);
    let pd = m.price_decimals();
    let rows: Vec<String> = newest
        .iter()
        .filter(|c| c.open_time > since)
        .map(|c| {
            let b = &c.bar;
            let p = |t: i64| fixed(t.max(0) as u128, pd);
            // VWAP in price ticks: quote volume (10^-(pd+vd)) / base volume (10^-vd).
            let vwap = match b.volume {
                0 => b.close.max(0) as u128,
                v => b.quote_volume / u128::from(v),
            };
            format!(
                r#"[{},"{}","{}","{}","{}","{}","{}",{}]"#,
                c.open_time / 1000,
                p(b.open),
                p(b.high),
                p(b.low),
                p(b.close),
                fixed(vwap, pd),
                fixed(u128::from(b.volume), m.volume_decimals()),
                b.trades
            )
        })
        .collect();
    format!(
        r#"{{"error":[],"result":{{"{}":[{}],"last":{last}}}}}"#,
        canonical(m),
        rows.join(",")
    )
}

fn rate_limited(retry_after_s: u64) -> Response {
    answer::with_retry_after(
        json(
            StatusCode::TOO_MANY_REQUESTS,
            r#"{"error":["EGeneral:Too many requests"]}"#,
        ),
        retry_after_s,
    )
}

fn injected(status: u16) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    match status {
        429 => rate_limited(1),
        500..=503 => json(code, r#"{"error":["EService:Unavailable"]}"#),
        _ => answer::html(code),
    }
}

async fn ohlc(State(s): State<Arc<Shared>>, RawQuery(raw): RawQuery) -> Response {
    match answer::gate(&s, 1, rate_limited, injected).await {
        Gate::Serve(fault) => answer::ok(
            &s,
            ohlc_body(s.markets(), raw.as_deref().unwrap_or(""), s.now_ms()).into_bytes(),
            fault,
        ),
        Gate::Answer(r) => r,
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
        specs.push(MarketSpec::new("BTC/USD", 1_502_942_400_000, 4000.0));
        Markets::new(42, &specs)
    }

    fn body(q: &str) -> Value {
        serde_json::from_str(&ohlc_body(&markets(), q, NOW)).unwrap()
    }

    #[test]
    fn newest_720_only_with_truth_values() {
        let v = body("pair=XBTUSD&interval=1&since=0");
        let rows = v["result"]["XXBTZUSD"].as_array().unwrap();
        assert_eq!(rows.len(), 720);
        let forming = NOW - NOW % MINUTE_MS;
        assert_eq!(rows[719][0].as_i64(), Some(forming / 1000));
        assert_eq!(v["result"]["last"].as_i64(), Some(forming / 1000 - 60));
        let ms = markets();
        let m = ms.get("BTC/USD").unwrap();
        let truth = m.closed_candles(Timeframe::M1, forming - 719 * MINUTE_MS, forming, NOW);
        for (r, c) in rows.iter().zip(&truth) {
            let t = m.to_sim(c);
            let f = |i: usize| r[i].as_str().unwrap().parse::<f64>().unwrap();
            assert_eq!(r[0].as_i64().unwrap() * 1000, t.open_time);
            assert_eq!(
                [f(1), f(2), f(3), f(4), f(6)],
                [t.open, t.high, t.low, t.close, t.volume]
            );
            assert!(
                f(5) >= t.low && f(5) <= t.high,
                "vwap {} in [{}, {}]",
                f(5),
                t.low,
                t.high
            );
        }
        // since is exclusive; other spellings of the pair.
        let v = body(&format!(
            "pair=XXBTZUSD&interval=1&since={}",
            forming / 1000 - 120
        ));
        assert_eq!(v["result"]["XXBTZUSD"].as_array().unwrap().len(), 2);
        let v = body("pair=ETHUSDT&interval=60");
        assert_eq!(v["result"]["ETHUSDT"].as_array().unwrap().len(), 720);
    }

    #[test]
    fn errors() {
        assert_eq!(
            body("pair=NOPEUSD&interval=1")["error"][0],
            "EQuery:Unknown asset pair"
        );
        assert_eq!(
            body("pair=XBTUSD&interval=7")["error"][0],
            "EGeneral:Invalid arguments"
        );
        assert_eq!(
            body("pair=XBTUSD&interval=10080")["error"][0],
            "EGeneral:Invalid arguments"
        );
        assert_eq!(body("interval=1")["error"][0], "EGeneral:Invalid arguments");
        assert_eq!(
            body("pair=XBTUSD&since=x")["error"][0],
            "EGeneral:Invalid arguments"
        );
    }

    #[tokio::test]
    async fn over_http_with_rate_limit_fault() {
        use crate::{Faults, SimConfig, Simulator};
        let cfg = SimConfig::default()
            .with_clock_fixed(NOW)
            .with_market(MarketSpec::new("BTC/USD", 1_502_942_400_000, 4000.0))
            .with_faults(Faults {
                ban_every_n: Some(2),
                ..Faults::default()
            });
        let sim = Simulator::start(cfg).await.unwrap();
        let url = format!(
            "{}/kraken/0/public/OHLC?pair=XBTUSD&interval=1",
            sim.base_url()
        );
        let c = reqwest::Client::builder().no_proxy().build().unwrap();
        assert_eq!(c.get(&url).send().await.unwrap().status().as_u16(), 200);
        let r = c.get(&url).send().await.unwrap();
        assert_eq!(
            (
                r.status().as_u16(),
                r.headers()["retry-after"].to_str().unwrap()
            ),
            (429, "1")
        );
        assert!(
            r.text()
                .await
                .unwrap()
                .contains("EGeneral:Too many requests")
        );
        sim.shutdown().await;
    }
}
