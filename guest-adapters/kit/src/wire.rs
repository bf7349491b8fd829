//! Small wire conventions shared by adapters: an exchange's interval spellings, the
//! `{code, msg}` of an error body or a bounded excerpt of an unreadable one
//! ([`http_error`]), the server time of an HTTP `Date` header, a rate-limit [`hint`], and
//! REST polling for live following.

use crate::civil::{DAY_MS, days_from_civil};
use crate::http::{Header, Request, header};
use crate::num::value_i64;
use crate::timeframe::Timeframe;
use crate::types::{AdapterError, PollPlan, RateLimitHint};

/// The unified timeframes an exchange serves, each with the exchange's spelling.
#[derive(Clone, Copy, Debug)]
pub struct Intervals(pub &'static [(Timeframe, &'static str)]);

impl Intervals {
    /// The unified names, for `info` and `unsupported-timeframe`.
    pub fn names(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|(tf, _)| tf.as_str().to_owned())
            .collect()
    }

    /// The timeframe called `name` and its spelling, or `unsupported-timeframe`.
    pub fn get(&self, name: &str) -> Result<(Timeframe, &'static str), AdapterError> {
        self.0
            .iter()
            .find(|(tf, _)| tf.as_str() == name)
            .copied()
            .ok_or_else(|| AdapterError::UnsupportedTimeframe(self.names()))
    }
}

/// `(code, message)` of a JSON error body `{"<code_key>": 123 or "123", "<msg_key>": ".."}`;
/// `None` when the body is not JSON or has no integer code.
pub fn code_msg(body: &[u8], code_key: &str, msg_key: &str) -> Option<(i64, String)> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let msg = v.get(msg_key).and_then(|m| m.as_str()).unwrap_or_default();
    Some((value_i64(v.get(code_key)?)?, msg.to_owned()))
}

/// Live following by REST polling of `request` every [`poll_interval_ms`].
pub fn poll(request: Request, tf: Timeframe) -> PollPlan {
    PollPlan {
        request,
        interval_ms: poll_interval_ms(tf),
    }
}

/// Characters of an error body kept in a message.
pub const EXCERPT_CHARS: usize = 200;

/// The first [`EXCERPT_CHARS`] characters of `body` (lossy UTF-8).
pub fn excerpt(body: &[u8]) -> String {
    let head = &body[..body.len().min(EXCERPT_CHARS * 4)];
    String::from_utf8_lossy(head)
        .chars()
        .take(EXCERPT_CHARS)
        .collect()
}

/// `exchange(HTTP status, excerpt of the body)`: the answer for an error body that is not
/// in the exchange's documented error format.
pub fn http_error(status: u16, body: &[u8]) -> AdapterError {
    AdapterError::Exchange {
        code: i64::from(status),
        message: excerpt(body),
    }
}

/// A rate-limit hint without a used-weight header.
pub fn hint(budget_per_minute: u32, request_weight: u32) -> RateLimitHint {
    RateLimitHint {
        budget_per_minute,
        request_weight,
        used_weight_header: None,
    }
}

/// REST polling interval for live following: one timeframe, at most 10 s.
pub fn poll_interval_ms(tf: Timeframe) -> u64 {
    tf.duration_ms()
        .map_or(10_000, |d| d.clamp(1, 10_000) as u64)
}

/// Server time (ms) of an IMF-fixdate `Date` header (`Sun, 06 Nov 1994 08:49:37 GMT`),
/// the only form RFC 9110 lets servers send. `None` when absent or unreadable.
pub fn date_ms(headers: &[Header]) -> Option<i64> {
    let v = header(headers, "date")?;
    let mut it = v.split_whitespace().skip(1);
    let day: u32 = it.next()?.parse().ok()?;
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let mon = it.next()?;
    let month = MONTHS.iter().position(|m| *m == mon)?;
    let year: i64 = it.next()?.parse().ok()?;
    let mut hms = it.next()?.split(':').map(|x| x.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
    if it.next() != Some("GMT") || !(1..=31).contains(&day) || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let days = days_from_civil(year, month as u32 + 1, day);
    Some(days * DAY_MS + ((h * 60 + m) * 60 + s) * 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(v: &str) -> Vec<Header> {
        vec![("Date".to_owned(), v.to_owned())]
    }

    #[test]
    fn dates() {
        assert_eq!(
            date_ms(&h("Mon, 01 Jan 2024 00:00:00 GMT")),
            Some(1_704_067_200_000)
        );
        assert_eq!(
            date_ms(&h("Sun, 06 Nov 1994 08:49:37 GMT")),
            Some(784_111_777_000)
        );
        for bad in [
            "",
            "Mon, 01 Foo 2024 00:00:00 GMT",
            "Mon, 01 Jan 2024 00:00 GMT",
            "Mon, 01 Jan 2024 00:00:00 UTC",
        ] {
            assert_eq!(date_ms(&h(bad)), None, "{bad}");
        }
        assert_eq!(date_ms(&[]), None);
    }

    #[test]
    fn intervals_and_error_bodies() {
        let iv = Intervals(&[(Timeframe::M1, "1min"), (Timeframe::H1, "60m")]);
        assert_eq!(iv.get("1h").unwrap(), (Timeframe::H1, "60m"));
        assert_eq!(
            iv.get("2h"),
            Err(AdapterError::UnsupportedTimeframe(vec![
                "1m".into(),
                "1h".into()
            ]))
        );
        assert_eq!(
            code_msg(br#"{"code":"40034","msg":"x"}"#, "code", "msg"),
            Some((40034, "x".into()))
        );
        assert_eq!(
            code_msg(br#"{"code":-1121}"#, "code", "msg"),
            Some((-1121, String::new()))
        );
        assert_eq!(code_msg(b"<html>", "code", "msg"), None);
        assert_eq!(code_msg(br#"{"label":"X"}"#, "code", "msg"), None);
    }

    #[test]
    fn excerpt_and_poll() {
        assert_eq!(
            excerpt("é".repeat(500).as_bytes()).chars().count(),
            EXCERPT_CHARS
        );
        assert_eq!(excerpt(b"<html>"), "<html>");
        assert_eq!(
            http_error(502, b"<html>"),
            AdapterError::Exchange {
                code: 502,
                message: "<html>".into()
            }
        );
        match http_error(500, "é".repeat(500).as_bytes()) {
            AdapterError::Exchange { code: 500, message } => {
                assert_eq!(message.chars().count(), EXCERPT_CHARS)
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(poll_interval_ms(Timeframe::M1), 10_000);
        assert_eq!(poll_interval_ms(Timeframe::S1), 1_000);
        assert_eq!(poll_interval_ms(Timeframe::Month), 10_000);
    }
}
