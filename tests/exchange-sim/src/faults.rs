//! Fault injection for candle requests.
//!
//! [`Faults`] is the configuration (settable at start, at run time through
//! `Simulator::set_faults`, or over HTTP with `POST /__sim/faults`). Every candle ("klines")
//! request that passes the exchange's own rate limiter gets a sequence number `n` (1-based, reset
//! whenever the faults are replaced or the counters reset); [`Faults::pick`] decides from `n` alone
//! which fault, if any, answers it, so a test knows exactly which request fails. When several
//! `every_n` settings hit the same request, the first of this order wins:
//! rate limit (429) > error status > malformed body > truncated body.
//! `latency_ms` delays every candle response, faulty or not. `ws_drop_every_n` applies to
//! WebSocket connections instead (see [`crate::ws`]).
//!
//! The bodies of the faults are exchange-specific and live in the exchange modules.

use serde::{Deserialize, Serialize};

/// Fault configuration (all off by default).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Every Nth candle request answers `error_status`.
    pub error_every_n: Option<u32>,
    /// Status of injected errors (default 503; 0 means 503).
    pub error_status: u16,
    /// Delay added to every candle response.
    pub latency_ms: u64,
    /// Every Nth candle request: status 200, body cut in half.
    pub truncate_every_n: Option<u32>,
    /// Every Nth candle request: status 200, body not valid JSON.
    pub malformed_every_n: Option<u32>,
    /// Every Nth candle request: 429 with `Retry-After: 1` and the exchange's rate-limit body.
    pub rate_limit_every_n: Option<u32>,
    /// Every Nth candle request: 418 (IP banned) with `Retry-After: 1` and the ban body.
    pub ban_every_n: Option<u32>,
    /// Each WebSocket connection is dropped (no Close frame) right after the Nth kline frame it
    /// was sent. Not part of the candle-request sequence.
    pub ws_drop_every_n: Option<u32>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            error_every_n: None,
            error_status: 503,
            latency_ms: 0,
            truncate_every_n: None,
            malformed_every_n: None,
            rate_limit_every_n: None,
            ban_every_n: None,
            ws_drop_every_n: None,
        }
    }
}

/// The fault chosen for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 429 with `Retry-After: 1`.
    RateLimited,
    /// 418 with `Retry-After: 1`.
    Banned,
    /// This HTTP status (4xx/5xx) with an error body.
    Error(u16),
    /// 200 with a body that is not JSON.
    Malformed,
    /// 200 with the first half of the real body.
    Truncated,
}

fn hits(every: Option<u32>, n: u64) -> bool {
    matches!(every, Some(k) if k > 0 && n.is_multiple_of(u64::from(k)))
}

impl Faults {
    /// The fault for the `n`th (1-based) candle request, if any.
    pub fn pick(&self, n: u64) -> Option<Fault> {
        if hits(self.ban_every_n, n) {
            Some(Fault::Banned)
        } else if hits(self.rate_limit_every_n, n) {
            Some(Fault::RateLimited)
        } else if hits(self.error_every_n, n) {
            Some(Fault::Error(self.status()))
        } else if hits(self.malformed_every_n, n) {
            Some(Fault::Malformed)
        } else if hits(self.truncate_every_n, n) {
            Some(Fault::Truncated)
        } else {
            None
        }
    }

    /// The effective error status (`error_status`, or 503 when it is not a 4xx/5xx code).
    pub fn status(&self) -> u16 {
        if (400..=599).contains(&self.error_status) {
            self.error_status
        } else {
            503
        }
    }

    /// Whether any fault or latency is configured.
    pub fn is_active(&self) -> bool {
        self.latency_ms > 0 || self.any_every()
    }

    fn any_every(&self) -> bool {
        [
            self.error_every_n,
            self.truncate_every_n,
            self.malformed_every_n,
            self.rate_limit_every_n,
            self.ban_every_n,
            self.ws_drop_every_n,
        ]
        .iter()
        .any(|e| matches!(e, Some(k) if *k > 0))
    }
}

/// Half of `body` (cut on a byte boundary; the result is never valid JSON for a non-empty array).
pub fn truncate(body: &[u8]) -> Vec<u8> {
    body[..body.len() / 2].to_vec()
}

/// `body` made invalid JSON while still looking like the start of a normal answer.
pub fn malform(body: &[u8]) -> Vec<u8> {
    let keep = body.len().saturating_sub(1);
    let mut out = Vec::with_capacity(keep + 16);
    out.extend_from_slice(&body[..keep]);
    out.extend_from_slice(b",<oops>]");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_quiet() {
        let f = Faults::default();
        assert_eq!(f.error_status, 503);
        assert!(!f.is_active());
        assert!((1..1000).all(|n| f.pick(n).is_none()));
    }

    #[test]
    fn every_n_and_priority() {
        let f = Faults {
            error_every_n: Some(3),
            error_status: 502,
            truncate_every_n: Some(2),
            malformed_every_n: Some(5),
            rate_limit_every_n: Some(7),
            ..Faults::default()
        };
        assert!(f.is_active());
        assert_eq!(f.pick(1), None);
        assert_eq!(f.pick(2), Some(Fault::Truncated));
        assert_eq!(f.pick(3), Some(Fault::Error(502)));
        assert_eq!(f.pick(5), Some(Fault::Malformed));
        assert_eq!(f.pick(6), Some(Fault::Error(502)));
        assert_eq!(f.pick(7), Some(Fault::RateLimited));
        assert_eq!(f.pick(10), Some(Fault::Malformed));
        assert_eq!(f.pick(42), Some(Fault::RateLimited));
        // Zero means off, a bad status means 503.
        let z = Faults {
            error_every_n: Some(0),
            error_status: 0,
            ..Faults::default()
        };
        assert_eq!(z.pick(5), None);
        assert_eq!(z.status(), 503);
    }

    #[test]
    fn json_round_trip_with_defaults() {
        let f: Faults = serde_json::from_str(r#"{"error_every_n":4}"#).unwrap();
        assert_eq!(f.error_every_n, Some(4));
        assert_eq!(f.error_status, 503);
        let back: Faults = serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap();
        assert_eq!(back, f);
        assert!(serde_json::from_str::<Faults>(r#"{"latency_ms":"x"}"#).is_err());
    }

    #[test]
    fn mangled_bodies_are_not_json() {
        let body = br#"[[1,"2"],[3,"4"]]"#;
        assert!(serde_json::from_slice::<serde_json::Value>(&truncate(body)).is_err());
        assert!(serde_json::from_slice::<serde_json::Value>(&malform(body)).is_err());
        assert!(serde_json::from_slice::<serde_json::Value>(&malform(b"[]")).is_err());
        assert_eq!(truncate(body).len(), body.len() / 2);
    }
}
