//! Non-200 responses → typed adapter errors.
//!
//! Binance error bodies are `{"code":-1121,"msg":"Invalid symbol."}`:
//! - HTTP 429 / 418, or code -1003 → `rate-limited(Retry-After in ms, default 60 s)`;
//! - -1121 → `unknown-symbol(msg)`; -1120 → `unsupported-timeframe(served list)`;
//! - any other code → `exchange(code, msg)`;
//! - no JSON error body → `exchange(HTTP status, first 200 characters of the body)`.

use seamless_adapter_kit::num::value_i64;
use seamless_adapter_kit::{AdapterError, Response, retry_after_ms, timeframe};
use serde_json::Value;

use crate::plan::TIMEFRAMES;

/// Wait used when a rate-limit answer carries no usable `Retry-After`.
pub const DEFAULT_RETRY_MS: u64 = 60_000;
/// Characters of a non-JSON error body kept in the message.
pub const BODY_EXCERPT_CHARS: usize = 200;

/// Binance: too much request weight used.
pub const CODE_TOO_MANY_REQUESTS: i64 = -1003;
/// Binance: invalid interval.
pub const CODE_INVALID_INTERVAL: i64 = -1120;
/// Binance: invalid symbol.
pub const CODE_INVALID_SYMBOL: i64 = -1121;

/// The typed error for a response whose status is not 200.
pub fn from_response(response: &Response) -> AdapterError {
    let rate_limited =
        || AdapterError::RateLimited(retry_after_ms(&response.headers).unwrap_or(DEFAULT_RETRY_MS));
    if matches!(response.status, 418 | 429) {
        return rate_limited();
    }
    match error_body(&response.body) {
        Some((CODE_TOO_MANY_REQUESTS, _)) => rate_limited(),
        Some((CODE_INVALID_SYMBOL, msg)) => AdapterError::UnknownSymbol(msg),
        Some((CODE_INVALID_INTERVAL, _)) => {
            AdapterError::UnsupportedTimeframe(timeframe::names(&TIMEFRAMES))
        }
        Some((code, message)) => AdapterError::Exchange { code, message },
        None => AdapterError::Exchange {
            code: i64::from(response.status),
            message: excerpt(&response.body),
        },
    }
}

/// `(code, msg)` of a Binance error body, if the body is one.
fn error_body(body: &[u8]) -> Option<(i64, String)> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let code = value_i64(v.get("code")?)?;
    let msg = match v.get("msg") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    Some((code, msg))
}

/// The first [`BODY_EXCERPT_CHARS`] characters of a body (lossy UTF-8).
fn excerpt(body: &[u8]) -> String {
    // Never decode more than 4 bytes per kept character.
    let head = &body[..body.len().min(BODY_EXCERPT_CHARS * 4)];
    String::from_utf8_lossy(head)
        .chars()
        .take(BODY_EXCERPT_CHARS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn rate_limits() {
        let body = r#"{"code":-1003,"msg":"Too much request weight used"}"#;
        let e = from_response(&resp(429, &[("Retry-After", "7")], body));
        assert_eq!(e, AdapterError::RateLimited(7_000));
        let e = from_response(&resp(418, &[], "banned"));
        assert_eq!(e, AdapterError::RateLimited(DEFAULT_RETRY_MS));
        let e = from_response(&resp(400, &[("retry-after", "2")], body));
        assert_eq!(e, AdapterError::RateLimited(2_000));
    }

    #[test]
    fn codes() {
        let e = from_response(&resp(400, &[], r#"{"code":-1121,"msg":"Invalid symbol."}"#));
        assert_eq!(e, AdapterError::UnknownSymbol("Invalid symbol.".into()));
        let e = from_response(&resp(
            400,
            &[],
            r#"{"code":-1120,"msg":"Invalid interval."}"#,
        ));
        assert!(matches!(e, AdapterError::UnsupportedTimeframe(l) if l.len() == 16));
        let e = from_response(&resp(400, &[], r#"{"code":-1100,"msg":"Illegal"}"#));
        assert_eq!(
            e,
            AdapterError::Exchange {
                code: -1100,
                message: "Illegal".into()
            }
        );
    }

    #[test]
    fn non_json_bodies() {
        let e = from_response(&resp(502, &[], "<html>Bad Gateway</html>"));
        assert_eq!(
            e,
            AdapterError::Exchange {
                code: 502,
                message: "<html>Bad Gateway</html>".into()
            }
        );
        let long = "é".repeat(500);
        match from_response(&resp(500, &[], &long)) {
            AdapterError::Exchange { code: 500, message } => {
                assert_eq!(message.chars().count(), BODY_EXCERPT_CHARS)
            }
            other => panic!("{other:?}"),
        }
        // JSON but not an error body.
        let e = from_response(&resp(503, &[], r#"{"status":"down"}"#));
        assert!(matches!(e, AdapterError::Exchange { code: 503, .. }));
        let e = from_response(&Response {
            status: 500,
            headers: vec![],
            body: vec![0xff, 0xfe],
        });
        assert!(matches!(e, AdapterError::Exchange { code: 500, .. }));
    }
}
