//! The Binance stream state of one WebSocket connection, without any I/O: its subscriptions, the
//! `combined` property, control requests ([`super::control`]) and the events due at each update
//! ([`super::stream::Subscription::poll`]). The socket task in [`crate::ws`] drives it.

use serde_json::Value;

use super::control::{self, Command, MAX_STREAMS, RequestError, result_reply};
use super::stream::{Subscription, valid_name};
use crate::market::Markets;

/// One connection's streams.
#[derive(Clone, Debug, Default)]
pub struct Session {
    subs: Vec<Subscription>,
    combined: bool,
}

impl Session {
    /// A session on `/ws/{names}` (`combined: false`) or `/stream?streams={names}`
    /// (`combined: true`) at market time `now`. Invalid or duplicate names are ignored, and at
    /// most [`MAX_STREAMS`] are kept.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>, combined: bool, now: i64) -> Session {
        let mut s = Session {
            subs: Vec::new(),
            combined,
        };
        for name in names {
            if valid_name(name) && s.subs.len() < MAX_STREAMS && !s.has(name) {
                s.subs.push(Subscription::new(name, now));
            }
        }
        s
    }

    fn has(&self, name: &str) -> bool {
        self.subs.iter().any(|s| s.name() == name)
    }

    /// The subscribed stream names, in subscription order.
    pub fn names(&self) -> Vec<String> {
        self.subs.iter().map(|s| s.name().to_string()).collect()
    }

    /// Whether events are wrapped as combined-stream payloads.
    pub fn combined(&self) -> bool {
        self.combined
    }

    /// The events due at market time `now`, stream by stream in subscription order.
    pub fn poll(&mut self, markets: &Markets, now: i64) -> Vec<String> {
        let mut out = Vec::new();
        for s in &mut self.subs {
            s.poll(markets, now, self.combined, &mut out);
        }
        out
    }

    /// Handles one text frame from the client at market time `now`; returns the reply frame.
    pub fn handle(&mut self, text: &str, now: i64) -> String {
        match control::parse(text) {
            Ok((cmd, id)) => match self.apply(cmd, &id, now) {
                Ok(result) => result_reply(result, &id),
                Err(e) => e.reply(),
            },
            Err(e) => e.reply(),
        }
    }

    fn apply(&mut self, cmd: Command, id: &Value, now: i64) -> Result<Value, RequestError> {
        match cmd {
            Command::Subscribe(names) => {
                let mut fresh: Vec<&str> = Vec::new();
                for n in &names {
                    if !self.has(n) && !fresh.contains(&n.as_str()) {
                        fresh.push(n);
                    }
                }
                if self.subs.len() + fresh.len() > MAX_STREAMS {
                    return Err(RequestError {
                        code: 2,
                        msg: format!(
                            "Invalid request: a connection listens to at most {MAX_STREAMS} streams"
                        ),
                        id: id.clone(),
                    });
                }
                self.subs
                    .extend(fresh.into_iter().map(|n| Subscription::new(n, now)));
                Ok(Value::Null)
            }
            Command::Unsubscribe(names) => {
                self.subs.retain(|s| !names.iter().any(|n| n == s.name()));
                Ok(Value::Null)
            }
            Command::List => Ok(Value::from(self.names())),
            Command::SetCombined(b) => {
                self.combined = b;
                Ok(Value::Null)
            }
            Command::GetCombined => Ok(Value::Bool(self.combined)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::market::MarketSpec;
    use serde_json::json;

    const NOW: i64 = 1_718_000_000_123;

    fn reply(s: &mut Session, text: &str) -> Value {
        serde_json::from_str(&s.handle(text, NOW)).unwrap()
    }

    #[test]
    fn subscribe_list_unsubscribe() {
        let ms = Markets::new(42, &MarketSpec::defaults());
        let mut s = Session::new(["btcusdt@kline_1m", "bad", "btcusdt@kline_1m"], false, NOW);
        assert_eq!(s.names(), ["btcusdt@kline_1m"]);
        assert_eq!(s.poll(&ms, NOW).len(), 1);
        assert_eq!(
            reply(
                &mut s,
                r#"{"method":"SUBSCRIBE","params":["ethusdt@kline_1m","btcusdt@kline_1m","ethusdt@kline_1m"],"id":1}"#
            ),
            json!({"result":null,"id":1})
        );
        assert_eq!(
            reply(&mut s, r#"{"method":"LIST_SUBSCRIPTIONS","id":2}"#),
            json!({"result":["btcusdt@kline_1m","ethusdt@kline_1m"],"id":2})
        );
        let events = s.poll(&ms, NOW);
        assert_eq!(events.len(), 2);
        assert!(events[1].contains(r#""s":"ETHUSDT""#));
        assert_eq!(
            reply(
                &mut s,
                r#"{"method":"UNSUBSCRIBE","params":["btcusdt@kline_1m"],"id":3}"#
            ),
            json!({"result":null,"id":3})
        );
        assert_eq!(s.names(), ["ethusdt@kline_1m"]);
        // Combined property.
        assert!(!s.combined());
        assert_eq!(
            reply(
                &mut s,
                r#"{"method":"GET_PROPERTY","params":["combined"],"id":4}"#
            ),
            json!({"result":false,"id":4})
        );
        reply(
            &mut s,
            r#"{"method":"SET_PROPERTY","params":["combined",true],"id":5}"#,
        );
        let events = s.poll(&ms, NOW);
        let v: Value = serde_json::from_str(&events[0]).unwrap();
        assert_eq!(v["stream"], "ethusdt@kline_1m");
        // Errors keep the session as it was.
        let e = reply(&mut s, r#"{"method":"SUBSCRIBE","params":"x","id":6}"#);
        assert_eq!(e["error"]["code"], 2);
        assert_eq!(e["id"], 6);
        assert_eq!(reply(&mut s, "{")["error"]["code"], 3);
        assert_eq!(s.names(), ["ethusdt@kline_1m"]);
    }

    #[test]
    fn stream_limit() {
        let names: Vec<String> = (0..MAX_STREAMS + 5)
            .map(|i| format!("s{i}usdt@kline_1m"))
            .collect();
        let mut s = Session::new(names.iter().map(String::as_str), true, NOW);
        assert_eq!(s.names().len(), MAX_STREAMS);
        let e = reply(
            &mut s,
            r#"{"method":"SUBSCRIBE","params":["btcusdt@kline_1m"],"id":1}"#,
        );
        assert_eq!(e["error"]["code"], 2);
        // Re-subscribing an existing stream is fine.
        let ok = reply(
            &mut s,
            r#"{"method":"SUBSCRIBE","params":["s0usdt@kline_1m"],"id":2}"#,
        );
        assert_eq!(ok, json!({"result":null,"id":2}));
    }
}
