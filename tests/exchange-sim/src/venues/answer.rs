//! How a venue answers a candle request: the admission gate (latency, the shared weight
//! limiter, the fault plan) with the venue's own refusals, JSON and HTML responses,
//! `Retry-After`, query parameters and exact decimal formatting. Used by the venues that
//! build their answers from these pieces (coinbase, kraken, bitfinex, example).

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::faults::Fault;
use crate::limits::Admission;
use crate::server::Shared;

/// What to do with a candle request after latency, limiter and fault injection.
pub enum Gate {
    /// Serve it (then apply a body fault, if any).
    Serve(Option<Fault>),
    /// Answer this instead.
    Answer(Response),
}

/// Latency, the shared weight limiter (`weight` per request) and the fault sequence.
/// Over the budget, banned, or an injected rate limit/ban → `rate_limited(retry_after_s)`
/// (the exchange's own answer); an injected error status → `error(status)`.
pub async fn gate(
    s: &Shared,
    weight: u32,
    rate_limited: impl Fn(u64) -> Response,
    error: impl Fn(u16) -> Response,
) -> Gate {
    let f = s.faults();
    if f.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
    }
    match s.admit(weight).0 {
        Admission::Allowed { .. } => {}
        Admission::Limited { retry_after_s, .. } | Admission::Banned { retry_after_s, .. } => {
            return Gate::Answer(rate_limited(retry_after_s));
        }
    }
    match s.next_fault(&f) {
        Some(Fault::RateLimited | Fault::Banned) => Gate::Answer(rate_limited(1)),
        Some(Fault::Error(status)) => Gate::Answer(error(status)),
        other => Gate::Serve(other),
    }
}

/// A 200 JSON answer, mangled (and counted) if the fault says so.
pub fn ok(s: &Shared, body: Vec<u8>, fault: Option<Fault>) -> Response {
    json(StatusCode::OK, s.mangle(fault, body))
}

/// A JSON response.
pub fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// A gateway's HTML error page.
pub fn html(status: StatusCode) -> Response {
    let title = format!(
        "{} {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or("Error")
    );
    let mut r = json(
        status,
        format!("<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"),
    );
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    r
}

/// `r` with `Retry-After: secs`.
pub fn with_retry_after(mut r: Response, secs: u64) -> Response {
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// The first non-empty value of query parameter `name`.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, v)| k == name && !v.is_empty())
        .map(|(_, v)| v.as_str())
}

/// `units × 10^-decimals` in plain decimal notation (exactly; parses back to the
/// `f64` the simulator's truth reports).
pub fn fixed(units: u128, decimals: u32) -> String {
    if decimals == 0 {
        return units.to_string();
    }
    let p = 10u128.pow(decimals.min(30));
    format!("{}.{:0w$}", units / p, units % p, w = decimals as usize)
}
