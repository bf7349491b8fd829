//! Conformance against ccxt 4.5.90's Kraken vectors
//! (`tests/fixtures/ccxt/ohlcv-vectors-4.5.90.json` at the workspace root).
//!
//! - `response` vectors: the same payloads parse to exactly ccxt's candles.
//! - `request` vectors: same interval and `since` (one interval before the window);
//!   the pair is spelled `XBTUSD` (ccxt sends the canonical `XXBTZUSD`; Kraken accepts
//!   both and answers under `XXBTZUSD`), and no `until` (Kraken has no such parameter:
//!   ccxt sends it anyway, seamless bounds the window itself).
//! - `pagination`: Kraken serves only the newest 720 candles, so ccxt's walk over a
//!   day a year old gets the newest candles back, never that day. seamless says so
//!   (`unavailable-before`) instead of returning silently short data.

use kraken_adapter::{parse, plan};
use seamless_adapter_kit::{AdapterError, Market, Window, query_param};
use seamless_adapter_testkit::ccxt::{
    Adapter, Answer, Tally, check_responses, list, tf_ms, vectors, window_since_limit,
};
use seamless_adapter_testkit::{MINUTE, ok};
use serde_json::Value;

/// How the ccxt vector runner drives this adapter (windows: see [`window_of`]).
const KRAKEN: Adapter = Adapter {
    vectors: "kraken",
    plan,
    parse,
    window: window_since_limit,
    default_limit: 720,
};

/// seamless windows: `since` + `limit` candles; without a limit the 720 Kraken serves;
/// "the latest candles" (no since) up to the open after the newest row.
fn window_of(vec: &Value) -> Window {
    let args = &vec["args"];
    let d = tf_ms(args["timeframe"].as_str().expect("tf"));
    let rows = vec["http_response"]["result"]["XXBTZUSD"]
        .as_array()
        .expect("rows");
    let newest = rows
        .last()
        .and_then(|r| r[0].as_i64())
        .map_or(0, |t| t * 1000 + d);
    match (args["since"].as_i64(), args["limit"].as_i64()) {
        (Some(s), Some(l)) => Window {
            start: s,
            end: s + l * d,
        },
        (Some(s), None) => Window {
            start: s,
            end: s + 720 * d,
        },
        (None, _) => Window {
            start: 0,
            end: newest.max(1),
        },
    }
}

#[test]
fn response_vectors_parse_to_ccxt_candles() {
    let tally = check_responses("kraken", |v| {
        let market = Market::new(
            "kraken",
            "BTC/USD",
            v["args"]["timeframe"].as_str().expect("tf"),
        );
        let window = window_of(v);
        let req = plan(&market, window, KRAKEN.default_limit).expect("plan");
        Answer::Parsed(KRAKEN.candles_for(v, &market, window, &req))
    });
    assert_eq!(
        tally,
        Tally {
            parsed: 4,
            refused: 0
        }
    );
}

#[test]
fn request_vectors_agree_with_ccxt() {
    let v = vectors("kraken");
    let mut compared = 0;
    for vec in list(&v, "request") {
        let desc = vec["description"].as_str().unwrap_or("?");
        let args = &vec["args"];
        let Some(since) = args["since"].as_i64() else {
            continue; // seamless plans explicit windows only
        };
        let tf = args["timeframe"].as_str().expect("tf");
        let market = Market::new("kraken", "BTC/USD", tf);
        let end = args["params"]["until"]
            .as_i64()
            .map_or(since + 720 * tf_ms(tf), |u| u + 1);
        let r = plan(&market, Window { start: since, end }, 720).expect(desc);
        let q = &vec["query"];
        assert_eq!(q["pair"], "XXBTZUSD", "{desc}");
        assert_eq!(query_param(&r.url, "pair"), Some("XBTUSD"), "{desc}");
        assert!(
            r.url.starts_with("https://api.kraken.com/0/public/OHLC?"),
            "{desc}"
        );
        for key in ["interval", "since"] {
            assert_eq!(query_param(&r.url, key), q[key].as_str(), "{desc}: {key}");
        }
        assert_eq!(query_param(&r.url, "until"), None, "{desc}");
        compared += 1;
    }
    assert_eq!(compared, 5);
}

/// Kraken at `now`: the newest 720 one-minute candles (the last one forming), those
/// opening after `since`.
fn exchange(url: &str, now: i64) -> Vec<u8> {
    let since = query_param(url, "since")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0)
        * 1000;
    let forming = now - now % MINUTE;
    let rows: Vec<String> = (0..720)
        .map(|i| forming - (719 - i) * MINUTE)
        .filter(|&t| t > since)
        .map(|t| format!(r#"[{},"1.5","2","1","1.5","1.5","3",7]"#, t / 1000))
        .collect();
    format!(
        r#"{{"error":[],"result":{{"XXBTZUSD":[{}],"last":{}}}}}"#,
        rows.join(","),
        forming / 1000 - 60
    )
    .into_bytes()
}

#[test]
fn old_windows_are_unavailable_not_short() {
    let v = vectors("kraken");
    let vec = &list(&v, "pagination")[0];
    let args = &vec["args"];
    let since = args["since"].as_i64().expect("since");
    let window = Window {
        start: since,
        end: args["params"]["until"].as_i64().expect("until") + 1,
    };
    let now = v["frozen_now_ms"].as_i64().expect("now"); // 2025-01-01
    let market = Market::new("kraken", "BTC/USD", "1m");
    // ccxt walks three requests; every answer is the newest 720 candles of 2024-12-31,
    // none of the day it asked for.
    for r in list(vec, "requests") {
        let body = exchange(r["url"].as_str().expect("url"), now);
        let v: Value = serde_json::from_slice(&body).expect("JSON");
        let first = v["result"]["XXBTZUSD"][0][0].as_i64().expect("row") * 1000;
        assert!(
            first >= window.end,
            "Kraken never serves 2024-01-01 in 2025"
        );
    }
    // seamless: one request, then `unavailable-before` the oldest candle served.
    let req = plan(&market, window, 720).expect("plan");
    let oldest = now - 719 * MINUTE;
    assert_eq!(
        parse(&market, window, &req, &ok(exchange(&req.url, now))),
        Err(AdapterError::UnavailableBefore(oldest))
    );
    // A window inside the newest 720 candles is one complete page.
    let recent = Window {
        start: now - 600 * MINUTE,
        end: now,
    };
    let req = plan(&market, recent, 720).expect("plan");
    let page = parse(&market, recent, &req, &ok(exchange(&req.url, now))).expect("page");
    assert_eq!(page.candles.len(), 600);
    assert_eq!(page.covered, recent);
    assert!(page.next.is_none());
}
