//! Live klines over Binance's WebSocket stream.
//!
//! The stream URL itself subscribes (`/ws/btcusdt@kline_1m`), so no subscribe
//! messages are sent. Frames are kline events
//! `{"e":"kline","s":"BTCUSDT","k":{"t":..,"s":"BTCUSDT","i":"1m","o":"..","h":"..","l":"..","c":"..","v":"..","x":false,..}}`,
//! optionally wrapped as `{"stream":..,"data":{..}}` (combined streams).

use seamless_adapter_kit::num::{value_f64, value_i64};
use seamless_adapter_kit::{AdapterError, Candle, LiveCandle, LiveSource, Market};
use serde_json::Value;

use crate::plan::{WS_BASE, interval, symbol_id, timeframe};

/// WebSocket plan for `market`: `wss://stream.binance.com:9443/ws/{symbol}@kline_{interval}`.
pub fn live_plan(market: &Market) -> Result<LiveSource, AdapterError> {
    let tf = timeframe(&market.timeframe)?;
    let id = symbol_id(&market.symbol)?.to_ascii_lowercase();
    Ok(LiveSource::Websocket {
        url: format!("{WS_BASE}/ws/{id}@kline_{}", interval(tf)),
        subscribe: Vec::new(),
    })
}

/// Parse one text frame: a kline event gives one live candle (`closed` = `k.x`);
/// frames without `k` (subscription acks, other events) give none, as do kline
/// events of another symbol or interval. Invalid JSON, a kline with a missing
/// or non-numeric field, or an open time `t` off the timeframe grid or outside years
/// 1–9999 is `malformed`.
pub fn live_parse(market: &Market, frame: &str) -> Result<Vec<LiveCandle>, AdapterError> {
    let tf = timeframe(&market.timeframe)?;
    let id = symbol_id(&market.symbol)?;
    let v: Value = serde_json::from_str(frame)
        .map_err(|e| AdapterError::Malformed(format!("live frame is not JSON: {e}")))?;
    let event = match (v.get("stream"), v.get("data")) {
        (Some(_), Some(data)) => data,
        _ => &v,
    };
    let Some(k) = event.get("k") else {
        return Ok(Vec::new());
    };
    let is_other = |key: &str, want: &str| {
        k.get(key)
            .and_then(Value::as_str)
            .is_some_and(|s| s != want)
    };
    if is_other("s", &id) || is_other("i", interval(tf)) {
        return Ok(Vec::new());
    }
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
    Ok(vec![LiveCandle { candle, closed }])
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

    #[test]
    fn plans_the_stream() {
        assert_eq!(
            live_plan(&m()).unwrap(),
            LiveSource::Websocket {
                url: "wss://stream.binance.com:9443/ws/btcusdt@kline_1m".into(),
                subscribe: vec![]
            }
        );
        assert!(live_plan(&Market::new("binance", "BTC/USDT", "2d")).is_err());
        assert!(live_plan(&Market::new("binance", "", "1m")).is_err());
    }

    #[test]
    fn forming_and_closed_frames() {
        let forming = live_parse(&m(), &event(false)).unwrap();
        assert_eq!(forming.len(), 1);
        assert!(!forming[0].closed);
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
        let closed = live_parse(&m(), &event(true)).unwrap();
        assert!(closed[0].closed);
        // Combined-stream wrapper.
        let wrapped = format!(r#"{{"stream":"btcusdt@kline_1m","data":{}}}"#, event(true));
        assert_eq!(live_parse(&m(), &wrapped).unwrap(), closed);
    }

    #[test]
    fn frames_without_candles() {
        assert!(
            live_parse(&m(), r#"{"result":null,"id":1}"#)
                .unwrap()
                .is_empty()
        );
        assert!(live_parse(&m(), r#"{"e":"trade"}"#).unwrap().is_empty());
        let other = event(true).replace("BTCUSDT", "ETHUSDT");
        assert!(live_parse(&m(), &other).unwrap().is_empty());
        let other_tf = event(true).replace(r#""i":"1m""#, r#""i":"5m""#);
        assert!(live_parse(&m(), &other_tf).unwrap().is_empty());
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
            // Found by tests/all/fuzz.rs: any integer `t` used to pass.
            event(true).replace("1704067200000", "1704067260080"),
            event(true).replace("1704067200000", "1704067200001"),
            event(true).replace("1704067200000", &i64::MIN.to_string()),
            event(true).replace("1704067200000", &i64::MAX.to_string()),
            event(true).replace("1704067200000", "-62135596860000"),
        ] {
            assert!(
                matches!(live_parse(&m(), &bad), Err(AdapterError::Malformed(_))),
                "{bad}"
            );
        }
    }
}
