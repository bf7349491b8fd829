//! Helpers of the venues that answer newest first (Bybit, OKX, KuCoin, HTX): the admission
//! gate as a verdict (latency, the shared weight limiter, the fault plan), replies with a
//! JSON content type and extra headers, body faults, market lookup by base and quote, the
//! newest candles of a range newest first, exact decimal values and `Date` headers.

use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::Response;

use crate::faults::Fault;
use crate::limits::Admission;
use crate::market::{Candle, Market, Markets};
use crate::server::Shared;
use crate::timeframe::Timeframe;

/// What the shared weight limiter and the fault plan say about one candle request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Serve it (with a body fault, if one was picked).
    Serve(Option<Fault>),
    /// Answer with the venue's rate-limit error; wait this many seconds.
    Limited(u64),
    /// Answer with the venue's ban / hard limit; wait this many seconds.
    Banned(u64),
    /// Answer with this HTTP error status.
    Error(u16),
}

/// Latency, the weight limiter (`weight` per request), then the fault plan.
pub(crate) async fn gate(s: &Shared, weight: u32) -> Gate {
    let f = s.faults();
    if f.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(f.latency_ms)).await;
    }
    match s.admit(weight).0 {
        Admission::Allowed { .. } => {}
        Admission::Limited { retry_after_s, .. } => return Gate::Limited(retry_after_s),
        Admission::Banned { retry_after_s, .. } => return Gate::Banned(retry_after_s),
    }
    match s.next_fault(&f) {
        Some(Fault::RateLimited) => Gate::Limited(1),
        Some(Fault::Banned) => Gate::Banned(1),
        Some(Fault::Error(status)) => Gate::Error(status),
        pick => Gate::Serve(pick),
    }
}

/// A response with a JSON content type (unless the body is not an object) and headers.
pub(crate) fn reply(
    status: u16,
    headers: &[(&'static str, String)],
    body: impl Into<Body>,
) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(HeaderName::from_static(name), v);
        }
    }
    r
}

/// The market with this base and quote (ASCII case-insensitive).
pub(crate) fn find<'a>(markets: &'a Markets, base: &str, quote: &str) -> Option<&'a Market> {
    markets
        .iter()
        .find(|m| m.base().eq_ignore_ascii_case(base) && m.quote().eq_ignore_ascii_case(quote))
}

/// The newest `limit` candles with `start <= open <= end` as of `now`, **newest first**
/// (the forming candle included).
pub(crate) fn newest_first(
    m: &Market,
    tf: Timeframe,
    start: i64,
    end: i64,
    now: i64,
    limit: usize,
) -> Vec<Candle> {
    let mut v = m.candles_before(tf, end, now, limit);
    v.retain(|c| c.open_time >= start);
    v.reverse();
    v
}

/// Open, high, low, close, base volume and quote volume as exact decimal strings.
pub(crate) fn values(m: &Market, c: &Candle) -> [String; 6] {
    let s = m.to_sim(c);
    let qv =
        c.bar.quote_volume as f64 / 10f64.powi((m.price_decimals() + m.volume_decimals()) as i32);
    [s.open, s.high, s.low, s.close, s.volume, qv].map(|x| x.to_string())
}

/// An IMF-fixdate (`Tue, 02 Jan 2024 00:00:30 GMT`) for a `Date` header at `ms`.
pub(crate) fn http_date(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (days, secs) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000) / 1000);
    let (y, m, d) = crate::timeframe::civil_from_days(days);
    let wd = DAYS[days.rem_euclid(7) as usize];
    format!(
        "{wd}, {d:02} {} {y} {:02}:{:02}:{:02} GMT",
        MONTHS[m as usize - 1],
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}
