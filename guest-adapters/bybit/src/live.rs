//! Live klines over Bybit's v5 public WebSocket, many markets per connection.
//!
//! Spot markets stream from `wss://stream.bybit.com/v5/public/spot`, linear
//! (`BTC/USDT:USDT`) from `/v5/public/linear`; inverse markets are polled (their volume
//! field differs, see [`crate::instrument`]). Each connection carries at most
//! [`TOPICS_PER_CONNECTION`] topics `kline.{interval}.{SYMBOL}`, subscribed with
//! `{"op":"subscribe","args":[..]}` messages of at most [`ARGS_PER_MESSAGE`] topics (Bybit's
//! limit); the host sends Bybit's heartbeat `{"op":"ping"}` every 20 s. Data frames
//! `{"topic":"kline.1.BTCUSDT","data":[{"start":..,"open":"..",..,"confirm":bool},..]}` may
//! hold several candles; a failed subscribe (`"success":false`, naming the topic) refuses
//! that topic's market.

use seamless_adapter_kit::num::value_f64;
use seamless_adapter_kit::{
    AdapterError as E, Candle, Connection, Frame, Heartbeat, LiveEvents, LiveRoute, LiveSetup,
    LiveStream, LiveUpdate, Market, Response,
};
use serde_json::Value;

use crate::{INTERVALS, instrument, live_poll, timeframe};

/// The public stream base.
pub const WS_BASE: &str = "wss://stream.bybit.com";
/// Topics per subscribe message (Bybit's limit for spot).
pub const ARGS_PER_MESSAGE: usize = 10;
/// Topics per connection (Bybit sets no hard cap; this keeps a reconnect cheap).
pub const TOPICS_PER_CONNECTION: usize = 100;
/// Bybit asks for a ping every 20 seconds.
pub const HEARTBEAT_MS: u32 = 20_000;

/// The kline topic of `market`: `kline.1.BTCUSDT`, and its category.
pub fn topic(market: &Market) -> Result<(&'static str, String), E> {
    let (_, interval) = timeframe(&market.timeframe)?;
    let (category, id, _) = instrument(&market.symbol)?;
    Ok((category, format!("kline.{interval}.{id}")))
}

/// Spot and linear markets on WebSocket connections (grouped by category, at most
/// [`TOPICS_PER_CONNECTION`] each), inverse ones polled; a market Bybit cannot serve is
/// refused with the reason.
pub fn live_plan(markets: &[Market], _prepared: Option<&Response>) -> Result<LiveSetup, E> {
    let mut route = LiveRoute {
        messages_per_second: 10,
        heartbeat: Some(Heartbeat {
            message: r#"{"op":"ping"}"#.into(),
            interval_ms: HEARTBEAT_MS,
        }),
        ..LiveRoute::default()
    };
    let mut by_category: Vec<(&'static str, Vec<LiveStream>)> = Vec::new();
    for (i, m) in markets.iter().enumerate() {
        match topic(m) {
            Ok(("inverse", _)) => match live_poll(m) {
                Ok(p) => route.polls.push((i as u32, p)),
                Err(e) => route.refused.push((i as u32, e)),
            },
            Ok((category, key)) => {
                let stream = LiveStream {
                    market: i as u32,
                    key,
                };
                match by_category.iter_mut().find(|(c, _)| *c == category) {
                    Some((_, v)) => v.push(stream),
                    None => by_category.push((category, vec![stream])),
                }
            }
            Err(e) => route.refused.push((i as u32, e)),
        }
    }
    for (category, streams) in by_category {
        for group in streams.chunks(TOPICS_PER_CONNECTION) {
            let subscribe = group
                .chunks(ARGS_PER_MESSAGE)
                .map(|args| {
                    let topics: Vec<&str> = args.iter().map(|s| s.key.as_str()).collect();
                    subscribe_message(&topics)
                })
                .collect();
            route.connections.push(Connection {
                url: format!("{WS_BASE}/v5/public/{category}"),
                subscribe,
                streams: group.to_vec(),
            });
        }
    }
    Ok(LiveSetup::Route(route))
}

/// A subscribe request for `topics`. Its `req_id` lists the topics: Bybit fails a whole
/// request when one topic is bad, and the acknowledgement names only that topic and the
/// `req_id`, so [`live_parse`] can subscribe the others again without keeping state.
pub fn subscribe_message(topics: &[&str]) -> String {
    serde_json::json!({"op": "subscribe", "args": topics, "req_id": topics.join(",")}).to_string()
}

/// Read one frame: a kline frame gives one update per candle in `data`, keyed by its
/// topic; a failed subscribe refuses the topic it names and answers with a subscribe of
/// the request's other topics; acks and pongs give nothing. Anything else is `malformed`.
pub fn live_parse(frame: &Frame) -> Result<LiveEvents, E> {
    let Frame::Text(text) = frame else {
        return Err(E::Malformed(
            "binary live frame: Bybit sends JSON text".into(),
        ));
    };
    let v: Value = serde_json::from_str(text)
        .map_err(|e| E::Malformed(format!("live frame is not JSON: {e}")))?;
    let mut ev = LiveEvents::default();
    if let Some(op) = v.get("op").and_then(Value::as_str) {
        if v.get("success") == Some(&Value::Bool(false)) && op == "subscribe" {
            let msg = v.get("ret_msg").and_then(Value::as_str).unwrap_or_default();
            if let Some((_, topic)) = msg.split_once("topic:") {
                let bad = topic.trim();
                ev.refused.push((
                    bad.to_string(),
                    E::UnknownSymbol(format!("Bybit refused the subscription: {msg}")),
                ));
                let req = v.get("req_id").and_then(Value::as_str).unwrap_or_default();
                let others: Vec<&str> = req
                    .split(',')
                    .filter(|t| !t.is_empty() && *t != bad)
                    .collect();
                if !others.is_empty() && others.len() < req.split(',').count() {
                    ev.replies.push(subscribe_message(&others));
                }
            }
        }
        return Ok(ev);
    }
    let Some(topic) = v.get("topic").and_then(Value::as_str) else {
        return Ok(ev);
    };
    let Some(rest) = topic.strip_prefix("kline.") else {
        return Ok(ev);
    };
    let interval = rest.split('.').next().unwrap_or_default();
    let Some(tf) = INTERVALS
        .0
        .iter()
        .find(|(_, n)| *n == interval)
        .map(|(t, _)| *t)
    else {
        return Err(E::Malformed(format!(
            "unknown kline interval in topic {topic:?}"
        )));
    };
    let data = v
        .get("data")
        .and_then(Value::as_array)
        .ok_or_else(|| E::Malformed("kline frame without a data array".into()))?;
    for item in data {
        let num = |key: &str| -> Result<f64, E> {
            item.get(key)
                .and_then(value_f64)
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    E::Malformed(format!(
                        "kline field {key:?} missing or not a finite number"
                    ))
                })
        };
        let open_time = item.get("start").and_then(Value::as_i64).ok_or_else(|| {
            E::Malformed("kline field \"start\" missing or not an integer".into())
        })?;
        if !tf.is_open_time(open_time) {
            return Err(E::Malformed(format!(
                "kline start {open_time} is not a {tf} open time (off the grid or outside years 1 to 9999)"
            )));
        }
        let closed = item
            .get("confirm")
            .and_then(Value::as_bool)
            .ok_or_else(|| {
                E::Malformed("kline field \"confirm\" missing or not a boolean".into())
            })?;
        ev.updates.push(LiveUpdate {
            key: topic.to_string(),
            candle: Candle {
                open_time,
                open: num("open")?,
                high: num("high")?,
                low: num("low")?,
                close: num("close")?,
                volume: num("volume")?,
            },
            closed,
        });
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(ms: &[Market]) -> LiveRoute {
        match live_plan(ms, None).unwrap() {
            LiveSetup::Route(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn markets_group_by_category_within_the_limits() {
        let mut ms: Vec<Market> = (0..105)
            .map(|i| Market::new("bybit", &format!("C{i}/USDT"), "1m"))
            .collect();
        ms.push(Market::new("bybit", "BTC/USDT:USDT", "5m"));
        ms.push(Market::new("bybit", "BTC/USD:BTC", "1m"));
        ms.push(Market::new("bybit", "BTC/USDT", "2m"));
        let r = route(&ms);
        let shape: Vec<(String, usize, usize)> = r
            .connections
            .iter()
            .map(|c| (c.url.clone(), c.streams.len(), c.subscribe.len()))
            .collect();
        assert_eq!(
            shape,
            vec![
                ("wss://stream.bybit.com/v5/public/spot".into(), 100, 10),
                ("wss://stream.bybit.com/v5/public/spot".into(), 5, 1),
                ("wss://stream.bybit.com/v5/public/linear".into(), 1, 1),
            ]
        );
        assert_eq!(r.connections[0].streams[3].key, "kline.1.C3USDT");
        assert_eq!(
            r.connections[2].subscribe[0],
            r#"{"args":["kline.5.BTCUSDT"],"op":"subscribe","req_id":"kline.5.BTCUSDT"}"#
        );
        assert_eq!(r.polls.iter().map(|p| p.0).collect::<Vec<_>>(), vec![106]);
        assert_eq!(r.refused.len(), 1);
        assert_eq!(r.refused[0].0, 107);
        assert_eq!(r.heartbeat.as_ref().unwrap().message, r#"{"op":"ping"}"#);
    }

    #[test]
    fn frames_give_keyed_updates_refusals_or_nothing() {
        let text = |s: &str| live_parse(&Frame::Text(s.into())).unwrap();
        let ev = text(
            r#"{"topic":"kline.1.BTCUSDT","data":[{"start":1704067200000,"end":1704067259999,"interval":"1","open":"1","close":"2","high":"3","low":"0.5","volume":"7","turnover":"9","confirm":true,"timestamp":1},{"start":1704067260000,"interval":"1","open":"2","close":"2","high":"2","low":"2","volume":"1","confirm":false}],"ts":1,"type":"snapshot"}"#,
        );
        assert_eq!(ev.updates.len(), 2);
        assert_eq!(ev.updates[0].key, "kline.1.BTCUSDT");
        assert!(ev.updates[0].closed && !ev.updates[1].closed);
        assert_eq!(ev.updates[0].candle.volume, 7.0);
        let pong = text(r#"{"success":true,"ret_msg":"pong","conn_id":"x","op":"ping"}"#);
        assert_eq!(pong, LiveEvents::default());
        let refused = text(
            r#"{"success":false,"ret_msg":"error:handler not found,topic:kline.1.NOPEUSDT","req_id":"kline.1.AUSDT,kline.1.NOPEUSDT,kline.5.AUSDT","op":"subscribe"}"#,
        );
        assert_eq!(refused.refused[0].0, "kline.1.NOPEUSDT");
        // The request's other topics are subscribed again.
        assert_eq!(
            refused.replies,
            vec![subscribe_message(&["kline.1.AUSDT", "kline.5.AUSDT"])]
        );
        for bad in [
            "nope",
            r#"{"topic":"kline.7.BTCUSDT","data":[]}"#,
            r#"{"topic":"kline.1.BTCUSDT","data":[{"start":1704067200001,"open":"1","close":"1","high":"1","low":"1","volume":"1","confirm":true}]}"#,
            r#"{"topic":"kline.1.BTCUSDT","data":[{"start":1704067200000,"open":"x","close":"1","high":"1","low":"1","volume":"1","confirm":true}]}"#,
        ] {
            assert!(
                matches!(live_parse(&Frame::Text(bad.into())), Err(E::Malformed(_))),
                "{bad}"
            );
        }
    }
}
