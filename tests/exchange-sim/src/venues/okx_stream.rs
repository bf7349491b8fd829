//! OKX v5 business WebSocket (`/okx/ws/v5/business`): `candle{bar}` channels as the real
//! API speaks them, from the same markets and rows as the REST API.
//!
//! - Client requests: `{"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"},..]}`
//!   answered per argument: `{"event":"subscribe","arg":{..},"connId":".."}`, or for a channel
//!   or instrument that does not exist `{"event":"error","code":"60018","msg":"Wrong URL or
//!   channel:candle1m,instId:NOPE-USDT doesn't exist.","connId":".."}` (the other arguments
//!   still subscribe). `unsubscribe` likewise. The text `ping` is answered with `pong`.
//! - Every update sends, per subscription, one frame holding every candle closed since the
//!   last update (`confirm` "1") and the forming one ("0"), newest first as OKX does:
//!   `{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["ts","o","h","l","c","vol",
//!   "volCcy","volCcyQuote","confirm"],..]}`. A new subscription starts at the candle
//!   containing now.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::newest_first::find;
use super::okx::{BARS, row};
use crate::market::{Market, Markets};
use crate::server::Shared;
use crate::timeframe::Timeframe;
use crate::ws::{StreamSession, due, upgrade_session};

/// Stream routes, relative to the venue's `/okx` prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new().route("/ws/v5/business", get(business))
}

async fn business(State(s): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    let session = OkxSession::new(s.ws().connections());
    upgrade_session(ws, s, session)
}

#[derive(Clone, Debug)]
struct Sub {
    channel: String,
    inst_id: String,
    market: usize,
    swap: bool,
    tf: Timeframe,
    next_open: i64,
}

/// One connection's subscriptions.
#[derive(Clone, Debug, Default)]
pub struct OkxSession {
    conn_id: String,
    subs: Vec<Sub>,
}

impl OkxSession {
    /// A session with no subscription yet.
    pub fn new(n: u64) -> Self {
        OkxSession {
            conn_id: format!("sim{n}"),
            subs: Vec::new(),
        }
    }

    /// `(channel, instId)` of every subscription, in order.
    pub fn subscriptions(&self) -> Vec<(String, String)> {
        self.subs
            .iter()
            .map(|s| (s.channel.clone(), s.inst_id.clone()))
            .collect()
    }

    fn lookup(markets: &Markets, channel: &str, inst_id: &str) -> Option<(usize, bool, Timeframe)> {
        let bar = channel.strip_prefix("candle")?;
        let tf = BARS.iter().find(|(b, _)| *b == bar)?.1;
        let mut parts = inst_id.split('-');
        let (base, quote) = (parts.next()?, parts.next()?);
        let swap = match (parts.next(), parts.next()) {
            (None, None) => false,
            (Some("SWAP"), None) => true,
            _ => return None,
        };
        let m = find(markets, base, quote)?;
        let index = markets.iter().position(|x| std::ptr::eq(x, m))?;
        Some((index, swap, tf))
    }
}

impl StreamSession for OkxSession {
    fn poll(&mut self, markets: &Markets, now: i64) -> Vec<String> {
        let all: Vec<&Market> = markets.iter().collect();
        let mut out = Vec::new();
        for s in &mut self.subs {
            let Some(m) = all.get(s.market) else { continue };
            let candles = due(m, s.tf, &mut s.next_open, now);
            if candles.is_empty() {
                continue;
            }
            // Newest first, as OKX sends them.
            let rows: Vec<String> = candles.iter().rev().map(|c| row(m, c, s.swap)).collect();
            out.push(format!(
                r#"{{"arg":{{"channel":"{}","instId":"{}"}},"data":[{}]}}"#,
                s.channel,
                s.inst_id,
                rows.join(",")
            ));
        }
        out
    }

    fn handle(&mut self, markets: &Markets, text: &str, now: i64) -> Vec<String> {
        if text == "ping" {
            return vec!["pong".into()];
        }
        let v: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let op = v.get("op").and_then(Value::as_str).unwrap_or_default();
        let args = v
            .get("args")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        if !matches!(op, "subscribe" | "unsubscribe") || args.is_empty() {
            return vec![
                json!({"event":"error","code":"60012","msg":format!("Invalid request: {text}"),"connId":self.conn_id})
                    .to_string(),
            ];
        }
        // One answer (frame) per argument.
        let mut answers = Vec::new();
        for a in args {
            let channel = a.get("channel").and_then(Value::as_str).unwrap_or_default();
            let inst_id = a.get("instId").and_then(Value::as_str).unwrap_or_default();
            if op == "unsubscribe" {
                self.subs
                    .retain(|s| !(s.channel == channel && s.inst_id == inst_id));
                answers
                    .push(json!({"event":"unsubscribe","arg":a,"connId":self.conn_id}).to_string());
                continue;
            }
            match Self::lookup(markets, channel, inst_id) {
                Some((market, swap, tf)) => {
                    if !self.subs.iter().any(|s| s.channel == channel && s.inst_id == inst_id) {
                        self.subs.push(Sub {
                            channel: channel.into(),
                            inst_id: inst_id.into(),
                            market,
                            swap,
                            tf,
                            next_open: tf.floor(now),
                        });
                    }
                    answers.push(json!({"event":"subscribe","arg":a,"connId":self.conn_id}).to_string());
                }
                None => answers.push(
                    json!({"event":"error","code":"60018","msg":format!("Wrong URL or channel:{channel},instId:{inst_id} doesn't exist."),"connId":self.conn_id})
                        .to_string(),
                ),
            }
        }
        answers
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
    fn subscribe_per_argument_ping_and_frames() {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let mut s = OkxSession::new(1);
        assert_eq!(s.handle(&ms, "ping", NOW), vec!["pong".to_string()]);
        let r = s
            .handle(
                &ms,
                r#"{"op":"subscribe","args":[{"channel":"candle1m","instId":"BTC-USDT"},{"channel":"candle1m","instId":"NOPE-USDT"},{"channel":"candle1H","instId":"ETH-USDT-SWAP"}]}"#,
                NOW,
            );
        let answers: Vec<Value> = r.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(answers[0]["event"], "subscribe");
        assert_eq!(answers[1]["code"], "60018");
        assert!(
            answers[1]["msg"]
                .as_str()
                .unwrap()
                .contains("instId:NOPE-USDT")
        );
        assert_eq!(s.subscriptions().len(), 2);
        let f = s.poll(&ms, NOW + 60_000);
        let v: Value = serde_json::from_str(&f[0]).unwrap();
        assert_eq!(v["arg"]["channel"], "candle1m");
        let data = v["data"].as_array().unwrap();
        // Newest first: the forming candle, then the one that closed.
        assert_eq!(data[0][8], "0");
        assert_eq!(data[1][8], "1");
    }
}
