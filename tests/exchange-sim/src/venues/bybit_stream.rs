//! Bybit v5 public WebSocket (`/bybit/v5/public/spot` and `/bybit/v5/public/linear`): kline
//! topics as the real API speaks them, from the same deterministic markets as the REST API.
//!
//! - Client requests: `{"op":"subscribe","args":["kline.1.BTCUSDT",..],"req_id":".."}`
//!   (at most [`MAX_ARGS`] args per request; a request over that, or naming a topic that does
//!   not exist, fails whole: `{"success":false,"ret_msg":"..","op":"subscribe",..}`),
//!   `unsubscribe` likewise, and the heartbeat `{"op":"ping","req_id":".."}` answered with
//!   `{"success":true,"ret_msg":"pong",..,"op":"ping"}`. A frame that is not such a request
//!   gets `{"success":false,"ret_msg":"error:invalid op",..}`.
//! - Topics `kline.{interval}.{SYMBOL}`, intervals `1 3 5 15 30 60 120 240 360 720 D W M`.
//!   Every update sends, per topic, one frame holding every candle closed since the last
//!   update (`confirm: true`, exact REST values) and then the forming one (`confirm: false`):
//!   `{"topic":"kline.1.BTCUSDT","data":[{"start":ms,"end":ms,"interval":"1","open":"..",
//!   "close":"..","high":"..","low":"..","volume":"..","turnover":"..","confirm":bool,
//!   "timestamp":ms},..],"ts":ms,"type":"snapshot"}`. A new subscription starts at the
//!   candle containing now.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::bybit::INTERVALS;
use super::newest_first::values;
use crate::market::{Market, Markets};
use crate::server::Shared;
use crate::timeframe::Timeframe;
use crate::ws::{StreamSession, due, upgrade_session};

/// Topics per subscribe request, at most (Bybit spot's limit).
pub const MAX_ARGS: usize = 10;
/// Stream routes, relative to the venue's `/bybit` prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v5/public/spot", get(spot))
        .route("/v5/public/linear", get(linear))
}

async fn spot(State(s): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    let session = BybitSession::new(s.ws().connections());
    upgrade_session(ws, s, session)
}

async fn linear(State(s): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    let session = BybitSession::new(s.ws().connections());
    upgrade_session(ws, s, session)
}

/// One subscribed topic and where its schedule stands.
#[derive(Clone, Debug)]
struct Topic {
    name: String,
    market: usize,
    interval: &'static str,
    tf: Timeframe,
    next_open: i64,
}

/// One connection's topics.
#[derive(Clone, Debug, Default)]
pub struct BybitSession {
    conn_id: String,
    topics: Vec<Topic>,
}

/// The market index, interval name and timeframe of a kline topic, if it exists.
fn parse_topic(markets: &Markets, topic: &str) -> Option<(usize, &'static str, Timeframe)> {
    let rest = topic.strip_prefix("kline.")?;
    let (interval, symbol) = rest.split_once('.')?;
    let (name, tf) = INTERVALS.iter().find(|(n, _)| *n == interval)?;
    let market = markets
        .iter()
        .position(|m| m.quote() != "USD" && format!("{}{}", m.base(), m.quote()) == symbol)?;
    Some((market, name, *tf))
}

impl BybitSession {
    /// A session with no topic yet.
    pub fn new(n: u64) -> Self {
        BybitSession {
            conn_id: format!("sim-conn-{n}"),
            topics: Vec::new(),
        }
    }

    /// The subscribed topic names, in subscription order.
    pub fn topics(&self) -> Vec<String> {
        self.topics.iter().map(|t| t.name.clone()).collect()
    }

    fn ack(&self, op: &str, req_id: &Value, ok: bool, msg: &str) -> String {
        json!({"success": ok, "ret_msg": msg, "conn_id": self.conn_id, "req_id": req_id, "op": op})
            .to_string()
    }

    fn subscribe(&mut self, markets: &Markets, args: &[String], now: i64) -> Result<(), String> {
        if args.len() > MAX_ARGS {
            return Err(format!("args size >{MAX_ARGS}"));
        }
        let mut fresh = Vec::new();
        for a in args {
            let Some((market, interval, tf)) = parse_topic(markets, a) else {
                return Err(format!("error:handler not found,topic:{a}"));
            };
            if self.topics.iter().any(|t| t.name == *a)
                || fresh.iter().any(|t: &Topic| t.name == *a)
            {
                return Err(format!("error:already subscribed,topic:{a}"));
            }
            fresh.push(Topic {
                name: a.clone(),
                market,
                interval,
                tf,
                next_open: tf.floor(now),
            });
        }
        self.topics.extend(fresh);
        Ok(())
    }
}

fn kline_item(m: &Market, t: &Topic, c: &crate::market::Candle, now: i64) -> Value {
    let [o, h, l, cl, v, qv] = values(m, c);
    json!({
        "start": c.open_time,
        "end": t.tf.next(c.open_time) - 1,
        "interval": t.interval,
        "open": o, "close": cl, "high": h, "low": l,
        "volume": v, "turnover": qv,
        "confirm": c.closed,
        "timestamp": now,
    })
}

impl StreamSession for BybitSession {
    fn poll(&mut self, markets: &Markets, now: i64) -> Vec<String> {
        let all: Vec<&Market> = markets.iter().collect();
        let mut out = Vec::new();
        for t in &mut self.topics {
            let Some(m) = all.get(t.market) else { continue };
            let candles = due(m, t.tf, &mut t.next_open, now);
            if candles.is_empty() {
                continue;
            }
            let data: Vec<Value> = candles.iter().map(|c| kline_item(m, t, c, now)).collect();
            out.push(
                json!({"topic": t.name, "data": data, "ts": now, "type": "snapshot"}).to_string(),
            );
        }
        out
    }

    fn handle(&mut self, markets: &Markets, text: &str, now: i64) -> Vec<String> {
        let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let req_id = v
            .get("req_id")
            .cloned()
            .unwrap_or(Value::String(String::new()));
        let args: Vec<String> = v
            .get("args")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        vec![match v.get("op").and_then(Value::as_str) {
            Some("ping") => self.ack("ping", &req_id, true, "pong"),
            Some("subscribe") => match self.subscribe(markets, &args, now) {
                Ok(()) => self.ack("subscribe", &req_id, true, "subscribe"),
                Err(e) => self.ack("subscribe", &req_id, false, &e),
            },
            Some("unsubscribe") => {
                self.topics.retain(|t| !args.contains(&t.name));
                self.ack("unsubscribe", &req_id, true, "unsubscribe")
            }
            _ => self.ack("", &req_id, false, "error:invalid op"),
        }]
    }

    fn binary_reply(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;

    const NOW: i64 = 1_718_000_000_000;

    #[test]
    fn subscribe_ping_limits_and_frames() {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let mut s = BybitSession::new(1);
        let r = |s: &mut BybitSession, t: &str| -> Value {
            serde_json::from_str(&s.handle(&ms, t, NOW)[0]).unwrap()
        };
        let ok = r(
            &mut s,
            r#"{"op":"subscribe","args":["kline.1.BTCUSDT","kline.5.ETHUSDT"],"req_id":"a"}"#,
        );
        assert_eq!(ok["success"], true);
        assert_eq!(ok["req_id"], "a");
        assert_eq!(s.topics(), ["kline.1.BTCUSDT", "kline.5.ETHUSDT"]);
        let pong = r(&mut s, r#"{"op":"ping","req_id":"p"}"#);
        assert_eq!(
            (pong["ret_msg"].as_str(), pong["op"].as_str()),
            (Some("pong"), Some("ping"))
        );
        let many: Vec<String> = (0..11)
            .map(|i| {
                format!(
                    "\"kline.{}.BTCUSDT\"",
                    [1, 3, 5, 15, 30, 60, 120, 240, 360, 720, 1][i]
                )
            })
            .collect();
        let e = r(
            &mut s,
            &format!(r#"{{"op":"subscribe","args":[{}]}}"#, many.join(",")),
        );
        assert_eq!(e["success"], false);
        assert_eq!(e["ret_msg"], "args size >10");
        let e = r(&mut s, r#"{"op":"subscribe","args":["kline.1.NOPEUSDT"]}"#);
        assert_eq!(
            e["ret_msg"],
            "error:handler not found,topic:kline.1.NOPEUSDT"
        );
        assert_eq!(r(&mut s, "{")["ret_msg"], "error:invalid op");
        // One frame per topic: the forming candle now, then closed + forming a minute later.
        let f = s.poll(&ms, NOW);
        assert_eq!(f.len(), 2);
        let v: Value = serde_json::from_str(&f[0]).unwrap();
        assert_eq!(v["topic"], "kline.1.BTCUSDT");
        assert_eq!(v["data"][0]["confirm"], false);
        let f = s.poll(&ms, NOW + 60_000);
        let v: Value = serde_json::from_str(&f[0]).unwrap();
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        assert_eq!(v["data"][0]["confirm"], true);
        assert_eq!(v["data"][1]["confirm"], false);
    }
}
