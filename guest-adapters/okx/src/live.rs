//! Live candles over OKX's v5 business WebSocket (`candle{bar}` channels), many markets per
//! connection.
//!
//! One URL serves every instrument (`wss://ws.okx.com:8443/ws/v5/business`); each
//! connection carries at most [`SUBSCRIPTIONS_PER_CONNECTION`] `{channel, instId}`
//! arguments, subscribed in messages of at most [`ARGS_PER_MESSAGE`] (OKX allows 480
//! subscribe requests per connection and hour; a reconnect costs a few). OKX closes a
//! connection that has been silent for 30 s, so the host sends the text `ping` every 25 s
//! (answered `pong`). Data frames `{"arg":{"channel":"candle1m","instId":"BTC-USDT"},
//! "data":[["ts","o","h","l","c","vol","volCcy","volCcyQuote","confirm"],..]}` hold rows
//! newest first (`confirm` "1" = closed); a stream's key is `{channel}:{instId}`. An error
//! event naming a channel and instrument that do not exist refuses that stream.

use seamless_adapter_kit::num::value_f64;
use seamless_adapter_kit::{
    AdapterError as E, Candle, Connection, Frame, Heartbeat, LiveEvents, LiveRoute, LiveSetup,
    LiveStream, LiveUpdate, Market, Response,
};
use serde_json::Value;

use crate::{INTERVALS, instrument, timeframe};

/// The public WebSocket base.
pub const WS_BASE: &str = "wss://ws.okx.com:8443";
/// Subscriptions per connection.
pub const SUBSCRIPTIONS_PER_CONNECTION: usize = 100;
/// Arguments per subscribe message.
pub const ARGS_PER_MESSAGE: usize = 20;
/// The text heartbeat's interval (OKX drops a connection silent for 30 s).
pub const HEARTBEAT_MS: u32 = 25_000;

/// The stream key of `market`: `candle1m:BTC-USDT`.
pub fn stream_key(market: &Market) -> Result<String, E> {
    let (_, bar) = timeframe(&market.timeframe)?;
    let (id, _) = instrument(&market.symbol)?;
    Ok(format!("candle{bar}:{id}"))
}

/// Every market on business-channel connections of at most
/// [`SUBSCRIPTIONS_PER_CONNECTION`]; a market OKX cannot serve is refused with the reason.
pub fn live_plan(markets: &[Market], _prepared: Option<&Response>) -> Result<LiveSetup, E> {
    let mut route = LiveRoute {
        messages_per_second: 3,
        heartbeat: Some(Heartbeat {
            message: "ping".into(),
            interval_ms: HEARTBEAT_MS,
        }),
        ..LiveRoute::default()
    };
    let mut streams = Vec::new();
    for (i, m) in markets.iter().enumerate() {
        match stream_key(m) {
            Ok(key) => streams.push(LiveStream {
                market: i as u32,
                key,
            }),
            Err(e) => route.refused.push((i as u32, e)),
        }
    }
    for group in streams.chunks(SUBSCRIPTIONS_PER_CONNECTION) {
        let subscribe = group
            .chunks(ARGS_PER_MESSAGE)
            .map(|args| {
                let args: Vec<Value> = args
                    .iter()
                    .filter_map(|s| s.key.split_once(':'))
                    .map(|(channel, id)| serde_json::json!({"channel": channel, "instId": id}))
                    .collect();
                serde_json::json!({"op": "subscribe", "args": args}).to_string()
            })
            .collect();
        route.connections.push(Connection {
            url: format!("{WS_BASE}/ws/v5/business"),
            subscribe,
            streams: group.to_vec(),
        });
    }
    Ok(LiveSetup::Route(route))
}

/// Read one frame: candle rows become updates keyed `{channel}:{instId}`, oldest first; an
/// error event naming a channel and instrument refuses that stream; `pong`, acks and other
/// events give nothing. A candle frame that cannot be read is `malformed`.
pub fn live_parse(frame: &Frame) -> Result<LiveEvents, E> {
    let Frame::Text(text) = frame else {
        return Err(E::Malformed(
            "binary live frame: OKX sends JSON text".into(),
        ));
    };
    let mut ev = LiveEvents::default();
    if text == "pong" {
        return Ok(ev);
    }
    let v: Value = serde_json::from_str(text)
        .map_err(|e| E::Malformed(format!("live frame is not JSON: {e}")))?;
    if v.get("event").and_then(Value::as_str) == Some("error") {
        let msg = v.get("msg").and_then(Value::as_str).unwrap_or_default();
        // "Wrong URL or channel:candle1m,instId:NOPE-USDT doesn't exist."
        let channel = msg
            .split("channel:")
            .nth(1)
            .and_then(|r| r.split(',').next());
        let inst = msg
            .split("instId:")
            .nth(1)
            .and_then(|r| r.split_whitespace().next());
        if let (Some(channel), Some(inst)) = (channel, inst) {
            ev.refused.push((
                format!("{channel}:{inst}"),
                E::UnknownSymbol(format!("OKX refused the subscription: {msg}")),
            ));
        }
        return Ok(ev);
    }
    let (Some(channel), Some(inst)) = (
        v.pointer("/arg/channel").and_then(Value::as_str),
        v.pointer("/arg/instId").and_then(Value::as_str),
    ) else {
        return Ok(ev);
    };
    let Some(rows) = v.get("data").and_then(Value::as_array) else {
        return Ok(ev);
    };
    let bar = channel
        .strip_prefix("candle")
        .ok_or_else(|| E::Malformed(format!("unexpected channel {channel:?}")))?;
    let tf = INTERVALS
        .0
        .iter()
        .find(|(_, b)| *b == bar)
        .map(|(t, _)| *t)
        .ok_or_else(|| E::Malformed(format!("unknown bar in channel {channel:?}")))?;
    // Swaps carry their base volume in `volCcy`.
    let vol_at = if inst.ends_with("-SWAP") { 6 } else { 5 };
    let key = format!("{channel}:{inst}");
    for r in rows.iter().rev() {
        let field = |i: usize| r.get(i);
        let num = |i: usize| -> Result<f64, E> {
            field(i)
                .and_then(value_f64)
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    E::Malformed(format!(
                        "candle row field {i} missing or not a finite number"
                    ))
                })
        };
        let open_time = field(0)
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or_else(|| E::Malformed("candle row without a timestamp".into()))?;
        if !tf.is_open_time(open_time) {
            return Err(E::Malformed(format!(
                "candle ts {open_time} is not a {tf} open time (off the grid or outside years 1 to 9999)"
            )));
        }
        let closed = match field(8).and_then(Value::as_str) {
            Some("1") => true,
            Some("0") => false,
            _ => {
                return Err(E::Malformed(
                    "candle row confirm is not \"0\" or \"1\"".into(),
                ));
            }
        };
        ev.updates.push(LiveUpdate {
            key: key.clone(),
            candle: Candle {
                open_time,
                open: num(1)?,
                high: num(2)?,
                low: num(3)?,
                close: num(4)?,
                volume: num(vol_at)?,
            },
            closed,
        });
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markets_share_business_connections() {
        let mut ms: Vec<Market> = (0..130)
            .map(|i| Market::new("okx", &format!("C{i}/USDT"), "1m"))
            .collect();
        ms.push(Market::new("okx", "BTC/USDT:USDT", "1h"));
        ms.push(Market::new("okx", "BTC/USDT", "7m"));
        let LiveSetup::Route(r) = live_plan(&ms, None).unwrap() else {
            panic!("a route")
        };
        let shape: Vec<(usize, usize)> = r
            .connections
            .iter()
            .map(|c| (c.streams.len(), c.subscribe.len()))
            .collect();
        assert_eq!(shape, vec![(100, 5), (31, 2)]);
        assert_eq!(r.connections[1].streams[30].key, "candle1H:BTC-USDT-SWAP");
        assert!(
            r.connections[0].subscribe[0]
                .starts_with(r#"{"args":[{"channel":"candle1m","instId":"C0-USDT"}"#)
        );
        assert_eq!(r.refused.len(), 1);
        assert_eq!(r.heartbeat.unwrap().message, "ping");
    }

    #[test]
    fn frames_rows_oldest_first_errors_refuse() {
        let p = |s: &str| live_parse(&Frame::Text(s.into())).unwrap();
        let ev = p(
            r#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1704067260000","2","2","2","2","1","2","2","0"],["1704067200000","1","3","0.5","2","7","14","14","1"]]}"#,
        );
        assert_eq!(ev.updates.len(), 2);
        assert_eq!(ev.updates[0].candle.open_time, 1_704_067_200_000);
        assert!(ev.updates[0].closed && !ev.updates[1].closed);
        assert_eq!(ev.updates[0].key, "candle1m:BTC-USDT");
        assert_eq!(ev.updates[0].candle.volume, 7.0);
        let swap = p(
            r#"{"arg":{"channel":"candle1m","instId":"BTC-USDT-SWAP"},"data":[["1704067200000","1","3","0.5","2","700","7","14","1"]]}"#,
        );
        assert_eq!(swap.updates[0].candle.volume, 7.0);
        assert_eq!(p("pong"), LiveEvents::default());
        assert_eq!(
            p(r#"{"event":"subscribe","arg":{"channel":"candle1m","instId":"BTC-USDT"}}"#),
            LiveEvents::default()
        );
        let refused = p(
            r#"{"event":"error","code":"60018","msg":"Wrong URL or channel:candle1m,instId:NOPE-USDT doesn't exist.","connId":"x"}"#,
        );
        assert_eq!(refused.refused[0].0, "candle1m:NOPE-USDT");
        for bad in [
            "nope",
            r#"{"arg":{"channel":"candle7m","instId":"BTC-USDT"},"data":[]}"#,
            r#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1704067200001","1","1","1","1","1","1","1","1"]]}"#,
            r#"{"arg":{"channel":"candle1m","instId":"BTC-USDT"},"data":[["1704067200000","1","1","1","1","1","1","1","2"]]}"#,
        ] {
            assert!(
                matches!(live_parse(&Frame::Text(bad.into())), Err(E::Malformed(_))),
                "{bad}"
            );
        }
    }
}
