//! Binance stream control messages: `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`,
//! `SET_PROPERTY` and `GET_PROPERTY` (property `combined`), and their replies.
//!
//! Requests are `{"method":"SUBSCRIBE","params":["btcusdt@kline_1m"],"id":1}`; `id` is an
//! unsigned integer, an alphanumeric string of at most 36 characters, or null/absent, and is echoed
//! back. Success is `{"result":null,"id":1}` (`LIST_SUBSCRIPTIONS`: the names; `GET_PROPERTY`: the
//! boolean). Errors are `{"error":{"code":C,"msg":"..."},"id":<id or null>}` with Binance's codes:
//! 0 unknown property, 1 invalid value type, 2 invalid request (bad id, unknown or missing method,
//! bad params, bad stream name, more than [`MAX_STREAMS`] streams), 3 invalid JSON.

use serde_json::Value;

/// Streams one connection may listen to (Binance's limit).
pub const MAX_STREAMS: usize = 1024;

/// A parsed control request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Start streaming these names.
    Subscribe(Vec<String>),
    /// Stop streaming these names.
    Unsubscribe(Vec<String>),
    /// List the current streams.
    List,
    /// Set the `combined` property (wrap events as `{"stream":..,"data":..}`).
    SetCombined(bool),
    /// Read the `combined` property.
    GetCombined,
}

/// A refused request: Binance's error code and message, and the request id if it was readable.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{msg} (code {code})")]
pub struct RequestError {
    /// Binance's code (0..=3).
    pub code: u8,
    /// Binance's message.
    pub msg: String,
    /// The request's id, or null.
    pub id: Value,
}

impl RequestError {
    fn new(code: u8, msg: impl Into<String>, id: &Value) -> RequestError {
        RequestError {
            code,
            msg: msg.into(),
            id: id.clone(),
        }
    }

    /// `{"error":{"code":..,"msg":".."},"id":..}`.
    pub fn reply(&self) -> String {
        format!(
            r#"{{"error":{{"code":{},"msg":{}}},"id":{}}}"#,
            self.code,
            Value::from(self.msg.as_str()),
            self.id
        )
    }
}

/// `{"result":<result>,"id":<id>}` (in Binance's key order).
pub fn result_reply(result: Value, id: &Value) -> String {
    format!(r#"{{"result":{result},"id":{id}}}"#)
}

const METHODS: &str = "expected one of `SUBSCRIBE`, `UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`";

fn valid_id(id: &Value) -> bool {
    match id {
        Value::Null => true,
        Value::Number(n) => n.is_u64(),
        Value::String(s) => {
            !s.is_empty() && s.len() <= 36 && s.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        _ => false,
    }
}

/// Parses one text frame into a command and its id.
pub fn parse(text: &str) -> Result<(Command, Value), RequestError> {
    let null = Value::Null;
    let v: Value = serde_json::from_str(text)
        .map_err(|e| RequestError::new(3, format!("Invalid JSON: {e}"), &null))?;
    let Value::Object(obj) = &v else {
        return Err(RequestError::new(
            2,
            "Invalid request: expected a JSON object",
            &null,
        ));
    };
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    if !valid_id(&id) {
        return Err(RequestError::new(
            2,
            "Invalid request: request ID must be an unsigned integer",
            &null,
        ));
    }
    let method = match obj.get("method") {
        None | Some(Value::Null) => {
            return Err(RequestError::new(
                2,
                "Invalid request: missing field `method`",
                &id,
            ));
        }
        Some(Value::String(s)) => s.as_str(),
        Some(other) => {
            return Err(RequestError::new(
                2,
                format!("Invalid request: invalid type: {other}, {METHODS}"),
                &id,
            ));
        }
    };
    let params = obj.get("params");
    let names = || -> Result<Vec<String>, RequestError> {
        let Some(Value::Array(items)) = params else {
            return Err(RequestError::new(
                2,
                "Invalid request: params must be an array of stream names",
                &id,
            ));
        };
        let mut out = Vec::with_capacity(items.len().min(MAX_STREAMS));
        for item in items {
            match item.as_str() {
                Some(s) if super::stream::valid_name(s) => out.push(s.to_string()),
                _ => {
                    return Err(RequestError::new(
                        2,
                        format!("Invalid request: invalid stream name {item}"),
                        &id,
                    ));
                }
            }
        }
        Ok(out)
    };
    let property = || -> Result<(), RequestError> {
        match params.and_then(|p| p.get(0)) {
            Some(Value::String(s)) if s == "combined" => Ok(()),
            Some(Value::String(_)) => Err(RequestError::new(0, "Unknown property", &id)),
            _ => Err(RequestError::new(
                2,
                "Invalid request: property name must be a string",
                &id,
            )),
        }
    };
    let cmd = match method {
        "SUBSCRIBE" => Command::Subscribe(names()?),
        "UNSUBSCRIBE" => Command::Unsubscribe(names()?),
        "LIST_SUBSCRIPTIONS" => Command::List,
        "SET_PROPERTY" => {
            property()?;
            match params.and_then(|p| p.get(1)) {
                Some(Value::Bool(b)) => Command::SetCombined(*b),
                _ => {
                    return Err(RequestError::new(
                        1,
                        "Invalid value type: expected Boolean",
                        &id,
                    ));
                }
            }
        }
        "GET_PROPERTY" => {
            property()?;
            Command::GetCombined
        }
        other => {
            return Err(RequestError::new(
                2,
                format!("Invalid request: unknown variant `{other}`, {METHODS}"),
                &id,
            ));
        }
    };
    Ok((cmd, id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(text: &str) -> RequestError {
        parse(text).unwrap_err()
    }

    #[test]
    fn commands() {
        assert_eq!(
            parse(
                r#"{"method":"SUBSCRIBE","params":["btcusdt@kline_1m","ethusdt@kline_1s"],"id":1}"#
            )
            .unwrap(),
            (
                Command::Subscribe(vec!["btcusdt@kline_1m".into(), "ethusdt@kline_1s".into()]),
                json!(1)
            )
        );
        assert_eq!(
            parse(r#"{"method":"UNSUBSCRIBE","params":[],"id":"abc"}"#).unwrap(),
            (Command::Unsubscribe(vec![]), json!("abc"))
        );
        assert_eq!(
            parse(r#"{"method":"LIST_SUBSCRIPTIONS"}"#).unwrap(),
            (Command::List, Value::Null)
        );
        assert_eq!(
            parse(r#"{"method":"SET_PROPERTY","params":["combined",true],"id":5}"#)
                .unwrap()
                .0,
            Command::SetCombined(true)
        );
        assert_eq!(
            parse(r#"{"method":"GET_PROPERTY","params":["combined"],"id":2}"#)
                .unwrap()
                .0,
            Command::GetCombined
        );
        assert_eq!(
            result_reply(Value::Null, &json!(1)),
            r#"{"result":null,"id":1}"#
        );
    }

    #[test]
    fn errors() {
        assert_eq!(err("nope").code, 3);
        assert!(err("nope").msg.starts_with("Invalid JSON"));
        assert_eq!(err("[1]").code, 2);
        let e = err(r#"{"method":"SUBSCRIBE","params":["btcusdt@kline_1m"],"id":-1}"#);
        assert_eq!(
            (e.code, e.msg.as_str(), &e.id),
            (
                2,
                "Invalid request: request ID must be an unsigned integer",
                &Value::Null
            )
        );
        let e = err(r#"{"method":"FOO","id":7}"#);
        assert_eq!((e.code, e.id.clone()), (2, json!(7)));
        assert!(e.msg.contains("unknown variant `FOO`"));
        assert_eq!(
            e.reply(),
            json!({"error":{"code":2,"msg":e.msg},"id":7}).to_string()
        );
        assert_eq!(err(r#"{"params":[],"id":7}"#).code, 2);
        assert_eq!(err(r#"{"method":5,"id":7}"#).code, 2);
        assert_eq!(err(r#"{"method":"SUBSCRIBE","id":7}"#).code, 2);
        assert_eq!(err(r#"{"method":"SUBSCRIBE","params":[3],"id":7}"#).code, 2);
        assert_eq!(
            err(r#"{"method":"SUBSCRIBE","params":["btcusdt"],"id":7}"#).code,
            2
        );
        assert_eq!(
            err(r#"{"method":"SET_PROPERTY","params":["x",true],"id":7}"#).code,
            0
        );
        assert_eq!(
            err(r#"{"method":"SET_PROPERTY","params":["combined","yes"],"id":7}"#).code,
            1
        );
        assert_eq!(
            err(r#"{"method":"GET_PROPERTY","params":[1],"id":7}"#).code,
            2
        );
        assert_eq!(err(r#"{"method":"GET_PROPERTY","id":7}"#).code, 2);
        assert_eq!(
            err(&format!(
                r#"{{"method":"LIST_SUBSCRIPTIONS","id":"{}"}}"#,
                "a".repeat(37)
            ))
            .code,
            2
        );
    }
}
