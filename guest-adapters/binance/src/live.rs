//! Live klines over Binance's WebSocket streams, many markets per connection.
//!
//! One market: the raw stream URL subscribes by itself (`/ws/btcusdt@kline_1m`). Several:
//! combined streams (`/stream?streams=btcusdt@kline_1m/ethusdt@kline_1m/…`), at most
//! [`STREAMS_PER_CONNECTION`] per connection, so no subscribe message is sent either way.
//! Binance closes a connection after 24 hours and pings at the protocol level (no
//! application heartbeat). Frames are kline events
//! `{"e":"kline","s":"BTCUSDT","k":{"t":..,"s":"BTCUSDT","i":"1m","o":"..","h":"..","l":"..","c":"..","v":"..","x":false,..}}`,
//! wrapped as `{"stream":..,"data":{..}}` on combined streams. A stream's key is its
//! stream name, which a raw frame spells as `{k.s lowercase}@kline_{k.i}`.

use seamless_adapter_kit::num::{value_f64, value_i64};
use seamless_adapter_kit::{
    AdapterError, Candle, Connection, Frame, LiveEvents, LiveRoute, LiveSetup, LiveStream,
    LiveUpdate, Market, Response,
};
use serde_json::Value;

use crate::plan::{WS_BASE, interval, symbol_id, timeframe};

/// Streams per connection: Binance allows 1024; 200 keeps the combined URL near 4 KB.
pub const STREAMS_PER_CONNECTION: usize = 200;
/// Binance drops a connection after 24 hours.
pub const CONNECTION_LIFETIME_MS: u64 = 24 * 3600 * 1000;
/// Incoming messages per second Binance accepts on a connection.
pub const MESSAGES_PER_SECOND: u32 = 5;

/// The stream name of `market`: `btcusdt@kline_1m`.
pub fn stream_name(market: &Market) -> Result<String, AdapterError> {
    let tf = timeframe(&market.timeframe)?;
    let id = symbol_id(&market.symbol)?.to_ascii_lowercase();
    Ok(format!("{id}@kline_{}", interval(tf)))
}

/// The route for `markets`: raw stream for one, combined streams in groups of
/// [`STREAMS_PER_CONNECTION`] for more; a market Binance cannot stream is refused with
/// the reason. Binance needs no request before connecting (`prepared` is ignored).
pub fn live_plan(
    markets: &[Market],
    _prepared: Option<&Response>,
) -> Result<LiveSetup, AdapterError> {
    let mut route = LiveRoute {
        messages_per_second: MESSAGES_PER_SECOND,
        lifetime_ms: Some(CONNECTION_LIFETIME_MS),
        ..LiveRoute::default()
    };
    let mut streams = Vec::new();
    for (i, m) in markets.iter().enumerate() {
        match stream_name(m) {
            Ok(key) => streams.push(LiveStream {
                market: i as u32,
                key,
            }),
            Err(e) => route.refused.push((i as u32, e)),
        }
    }
    if let [one] = streams.as_slice() {
        route.connections.push(Connection {
            url: format!("{WS_BASE}/ws/{}", one.key),
            subscribe: Vec::new(),
            streams,
        });
    } else {
        for group in streams.chunks(STREAMS_PER_CONNECTION) {
            let names: Vec<&str> = group.iter().map(|s| s.key.as_str()).collect();
            route.connections.push(Connection {
                url: format!("{WS_BASE}/stream?streams={}", names.join("/")),
                subscribe: Vec::new(),
                streams: group.to_vec(),
            });
        }
    }
    Ok(LiveSetup::Route(route))
}

/// Read one frame: a kline event gives one update (`closed` = `k.x`) keyed by its
/// stream name; frames without `k` (subscription acks, other events) give none. Binary
/// frames, invalid JSON, a kline with a missing or non-numeric field, an interval
/// Binance does not serve, or an open time `t` off the timeframe grid or outside years
/// 1–9999 is `malformed`.
pub fn live_parse(frame: &Frame) -> Result<LiveEvents, AdapterError> {
    let Frame::Text(frame) = frame else {
        return Err(AdapterError::Malformed(
            "binary live frame: Binance sends JSON text frames".into(),
        ));
    };
    let v: Value = serde_json::from_str(frame)
        .map_err(|e| AdapterError::Malformed(format!("live frame is not JSON: {e}")))?;
    let (stream, event) = match (v.get("stream").and_then(Value::as_str), v.get("data")) {
        (Some(stream), Some(data)) => (Some(stream), data),
        _ => (None, &v),
    };
    let Some(k) = event.get("k") else {
        return Ok(LiveEvents::default());
    };
    let text = |key: &'static str| -> Result<&str, AdapterError> {
        k.get(key).and_then(Value::as_str).ok_or_else(|| {
            AdapterError::Malformed(format!("kline field {key:?} missing or not a string"))
        })
    };
    let tf = timeframe(text("i")?).map_err(|_| {
        AdapterError::Malformed(format!(
            "kline interval {:?} is not one Binance serves",
            k.get("i")
        ))
    })?;
    let key = match stream {
        Some(s) => s.to_owned(),
        None => format!("{}@kline_{}", text("s")?.to_ascii_lowercase(), interval(tf)),
    };
    let num = |key: &'static str| -> Result<f64, AdapterError> {
        k.get(key)
            .and_then(value_f64)
            .filter(|x| x.is_finite())
            .ok_or_else(|| {
                AdapterError::Malformed(format!(
                    "kline field {key:?} missing or not a finite number"
                ))
            })
    };
    let open_time = k.get("t").and_then(value_i64).ok_or_else(|| {
        AdapterError::Malformed("kline field \"t\" missing or not an integer".into())
    })?;
    if !tf.is_open_time(open_time) {
        return Err(AdapterError::Malformed(format!(
            "kline field \"t\" = {open_time} is not a {tf} open time (off the grid or \
             outside years 1 to 9999)"
        )));
    }
    let closed = k.get("x").and_then(Value::as_bool).ok_or_else(|| {
        AdapterError::Malformed("kline field \"x\" missing or not a boolean".into())
    })?;
    let candle = Candle {
        open_time,
        open: num("o")?,
        high: num("h")?,
        low: num("l")?,
        close: num("c")?,
        volume: num("v")?,
    };
    Ok(LiveEvents {
        updates: vec![LiveUpdate {
            key,
            candle,
            closed,
        }],
        ..LiveEvents::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m() -> Market {
        Market::new("binance", "BTC/USDT", "1m")
    }

    fn event(x: bool) -> String {
        format!(
            r#"{{"e":"kline","E":1704067230000,"s":"BTCUSDT","k":{{"t":1704067200000,"T":1704067259999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"42000.10","c":"42004.75","h":"42025.50","l":"41987.25","v":"1.5","n":100,"x":{x},"q":"63007.1","V":"0.75","Q":"31503.5","B":"0"}}}}"#
        )
    }

    fn parse(frame: &str) -> Result<LiveEvents, AdapterError> {
        live_parse(&Frame::Text(frame.to_owned()))
    }

    fn route(markets: &[Market]) -> LiveRoute {
        match live_plan(markets, None).unwrap() {
            LiveSetup::Route(r) => r,
            other => panic!("expected a route, got {other:?}"),
        }
    }

    #[test]
    fn one_market_is_one_raw_stream() {
        let r = route(&[m()]);
        assert_eq!(
            r.connections,
            vec![Connection {
                url: "wss://stream.binance.com:9443/ws/btcusdt@kline_1m".into(),
                subscribe: vec![],
                streams: vec![LiveStream {
                    market: 0,
                    key: "btcusdt@kline_1m".into()
                }],
            }]
        );
        assert_eq!(r.lifetime_ms, Some(CONNECTION_LIFETIME_MS));
        assert!(r.heartbeat.is_none() && !r.closed_by_next && r.polls.is_empty());
    }

    #[test]
    fn many_markets_share_combined_connections_within_the_limit() {
        let mut ms: Vec<Market> = (0..450)
            .map(|i| Market::new("binance", &format!("C{i}/USDT"), "1m"))
            .collect();
        ms.push(Market::new("binance", "BTC/USDT", "2d"));
        ms.push(Market::new("binance", "", "1m"));
        let r = route(&ms);
        assert_eq!(r.connections.len(), 3);
        assert_eq!(
            r.connections
                .iter()
                .map(|c| c.streams.len())
                .collect::<Vec<_>>(),
            vec![200, 200, 50]
        );
        let first = &r.connections[0];
        assert!(first.url.starts_with(
            "wss://stream.binance.com:9443/stream?streams=c0usdt@kline_1m/c1usdt@kline_1m/"
        ));
        assert_eq!(
            first.streams[1],
            LiveStream {
                market: 1,
                key: "c1usdt@kline_1m".into()
            }
        );
        // The two markets Binance cannot stream are refused, naming why.
        assert_eq!(
            r.refused.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![450, 451]
        );
        assert!(matches!(
            r.refused[0].1,
            AdapterError::UnsupportedTimeframe(_)
        ));
        assert!(matches!(r.refused[1].1, AdapterError::UnknownSymbol(_)));
    }

    #[test]
    fn forming_and_closed_frames() {
        let forming = parse(&event(false)).unwrap().updates;
        assert_eq!(forming.len(), 1);
        assert!(!forming[0].closed);
        assert_eq!(forming[0].key, "btcusdt@kline_1m");
        assert_eq!(
            forming[0].candle,
            Candle {
                open_time: 1_704_067_200_000,
                open: 42000.10,
                high: 42025.50,
                low: 41987.25,
                close: 42004.75,
                volume: 1.5
            }
        );
        let closed = parse(&event(true)).unwrap();
        assert!(closed.updates[0].closed);
        // Combined-stream wrapper: the key is the stream's name.
        let wrapped = format!(r#"{{"stream":"btcusdt@kline_1m","data":{}}}"#, event(true));
        assert_eq!(parse(&wrapped).unwrap(), closed);
        let other = event(true).replace("BTCUSDT", "ETHUSDT");
        assert_eq!(parse(&other).unwrap().updates[0].key, "ethusdt@kline_1m");
    }

    #[test]
    fn frames_without_candles() {
        assert_eq!(
            parse(r#"{"result":null,"id":1}"#).unwrap(),
            LiveEvents::default()
        );
        assert_eq!(parse(r#"{"e":"trade"}"#).unwrap(), LiveEvents::default());
    }

    #[test]
    fn bad_frames_are_malformed() {
        for bad in [
            "not json".to_owned(),
            event(true)[..40].to_owned(),
            event(true).replace(r#""o":"42000.10""#, r#""o":"abc""#),
            event(true).replace(r#""x":true"#, r#""x":"yes""#),
            event(true).replace(r#""t":1704067200000,"#, ""),
            event(true).replace(r#""c":"42004.75""#, r#""c":"NaN""#),
            event(true).replace(r#""i":"1m""#, r#""i":"7m""#),
            // Found by tests/all/fuzz.rs: any integer `t` used to pass.
            event(true).replace("1704067200000", "1704067260080"),
            event(true).replace("1704067200000", "1704067200001"),
            event(true).replace("1704067200000", &i64::MIN.to_string()),
            event(true).replace("1704067200000", &i64::MAX.to_string()),
            event(true).replace("1704067200000", "-62135596860000"),
        ] {
            assert!(
                matches!(parse(&bad), Err(AdapterError::Malformed(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            live_parse(&Frame::Binary(vec![1, 2, 3])),
            Err(AdapterError::Malformed(_))
        ));
    }
}
