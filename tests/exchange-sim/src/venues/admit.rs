//! Helpers of the venues that report their used request weight (Binance USDⓈ-M, MEXC,
//! Bitget, Gate): admission (latency, the shared weight limiter, the fault plan) answered
//! in the venue's own refusal format, JSON replies, `Retry-After`, body faults, exact
//! decimals, market lookup by a joined id and IMF-fixdate `Date` headers.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::faults::Fault;
use crate::limits::Admission;
use crate::market::{Market, Markets};
use crate::server::Shared;
use crate::timeframe::{DAY_MS, civil_from_days};

/// Latency, the weight limiter and the fault of one candle request. `Ok((used, fault))` to
/// serve (the fault being an error status, a malformed or a truncated body, or none);
/// `Err(response)` when the request is refused, built by `refused(status, retry_after_s,
/// used)` in the venue's format (429 for the limiter and injected rate limits, 418 for
/// bans; venues without bans answer 429 for both).
pub(crate) async fn admit(
    s: &Shared,
    weight: u32,
    refused: impl Fn(u16, u64, u32) -> Response,
) -> Result<(u32, Option<Fault>), Response> {
    let f = s.faults();
    if f.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
    }
    let used = match s.admit(weight).0 {
        Admission::Allowed { used } => used,
        Admission::Limited {
            used,
            retry_after_s,
        } => return Err(refused(429, retry_after_s, used)),
        Admission::Banned {
            used,
            retry_after_s,
            ..
        } => return Err(refused(418, retry_after_s, used)),
    };
    match s.next_fault(&f) {
        Some(Fault::RateLimited) => Err(refused(429, 1, used)),
        Some(Fault::Banned) => Err(refused(418, 1, used)),
        other => Ok((used, other)),
    }
}

/// A JSON response.
pub(crate) fn json(status: u16, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

/// `r` with `Retry-After: secs`.
pub(crate) fn with_retry_after(mut r: Response, secs: u64) -> Response {
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    r
}

/// The shortest decimal that parses back to exactly `v` (what `truth()` reports).
pub(crate) fn num(v: f64) -> String {
    format!("{v}")
}

/// The market whose base and quote joined by `sep` spell `id`.
pub(crate) fn find_joined<'a>(markets: &'a Markets, id: &str, sep: &str) -> Option<&'a Market> {
    markets.iter().find(|m| {
        id.len() == m.base().len() + sep.len() + m.quote().len()
            && id.starts_with(m.base())
            && id[m.base().len()..].starts_with(sep)
            && id.ends_with(m.quote())
    })
}

/// IMF-fixdate of `ms` (`Mon, 01 Jan 2024 00:00:00 GMT`), for `Date` headers.
pub(crate) fn http_date(ms: i64) -> String {
    const DOW: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MON: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = ms.div_euclid(DAY_MS);
    let secs = ms.rem_euclid(DAY_MS) / 1000;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{}, {d:02} {} {y:04} {:02}:{:02}:{:02} GMT",
        DOW[days.rem_euclid(7) as usize],
        MON[(m - 1) as usize],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_numbers() {
        assert_eq!(
            http_date(1_704_067_200_000),
            "Mon, 01 Jan 2024 00:00:00 GMT"
        );
        assert_eq!(http_date(784_111_777_000), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(num(42000.1), "42000.1");
        assert_eq!(num(3.0), "3");
        let ms = Markets::new(42, &crate::market::MarketSpec::defaults());
        assert!(find_joined(&ms, "BTC_USDT", "_").is_some());
        assert!(find_joined(&ms, "BTCUSDT", "_").is_none());
        assert!(find_joined(&ms, "ETHUSDT", "").is_some());
    }
}
