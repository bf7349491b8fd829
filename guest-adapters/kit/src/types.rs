//! Plain mirrors of the `seamless:market` data types an adapter produces.
//!
//! Adapters build these in their native-testable core and convert them to the
//! generated binding types in `lib.rs`.

use core::fmt;

use crate::http::Request;

/// One OHLCV candle; `open_time` in ms since the epoch, UTC.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candle {
    pub open_time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
}

impl Candle {
    /// Whether every price and the volume is finite.
    pub fn is_finite(&self) -> bool {
        [self.open, self.high, self.low, self.close, self.volume]
            .iter()
            .all(|v| v.is_finite())
    }
}

/// A candle from a live feed; `closed` is false while it is still forming.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LiveCandle {
    pub candle: Candle,
    pub closed: bool,
}

/// A half-open window `[start, end)` in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

impl Window {
    /// Whether `t` lies in `[start, end)`.
    pub fn contains(&self, t: i64) -> bool {
        self.start <= t && t < self.end
    }
}

/// Which series: exchange id, unified symbol, unified timeframe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Market {
    pub exchange: String,
    pub symbol: String,
    pub timeframe: String,
}

impl Market {
    /// Build a market from borrowed parts.
    pub fn new(exchange: &str, symbol: &str, timeframe: &str) -> Self {
        Self {
            exchange: exchange.to_owned(),
            symbol: symbol.to_owned(),
            timeframe: timeframe.to_owned(),
        }
    }
}

/// How the exchange meters requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateLimitHint {
    pub budget_per_minute: u32,
    pub request_weight: u32,
    pub used_weight_header: Option<String>,
}

/// What an adapter is and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterInfo {
    pub id: String,
    pub name: String,
    pub version: String,
    pub base_urls: Vec<String>,
    pub timeframes: Vec<String>,
    pub max_candles_per_request: u32,
    pub rate_limit: RateLimitHint,
}

/// Candles parsed from one response, the part of the window the response proves
/// complete, and the request that continues the window (mirror of `page`).
#[derive(Clone, Debug, PartialEq)]
pub struct Page {
    /// Ascending, on the grid, inside the window, finite.
    pub candles: Vec<Candle>,
    /// Every candle the exchange has in `covered` is in `candles`: grid slots of
    /// `covered` without a candle are known to be empty. Lies inside the window.
    pub covered: Window,
    /// The next request, or `None` when the window is done.
    pub next: Option<Request>,
}

/// How to follow a market live (mirror of `live-source`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveSource {
    /// Connect to `url`, then send each `subscribe` text message.
    Websocket { url: String, subscribe: Vec<String> },
    /// Send `request` every `interval_ms` and parse it with `parse`.
    Poll { request: Request, interval_ms: u64 },
}

/// An error the exchange or the adapter reports (mirror of `adapter-error`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AdapterError {
    /// The timeframe is not served; carries the supported unified timeframes.
    UnsupportedTimeframe(Vec<String>),
    /// The exchange does not know this symbol.
    UnknownSymbol(String),
    /// Wait this many milliseconds before the next request.
    RateLimited(u64),
    /// The exchange's own error code and message.
    Exchange { code: i64, message: String },
    /// The response could not be understood.
    Malformed(String),
    /// The exchange cannot serve data before this time (ms) through this endpoint.
    UnavailableBefore(i64),
}

impl AdapterError {
    /// `Malformed` from anything printable.
    pub fn malformed(detail: impl fmt::Display) -> Self {
        Self::Malformed(detail.to_string())
    }
}

impl fmt::Display for AdapterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedTimeframe(tfs) => {
                write!(f, "unsupported timeframe; supported: {}", tfs.join(" "))
            }
            Self::UnknownSymbol(s) => write!(f, "unknown symbol: {s}"),
            Self::RateLimited(ms) => write!(f, "rate limited; retry after {ms} ms"),
            Self::Exchange { code, message } => write!(f, "exchange error {code}: {message}"),
            Self::Malformed(d) => write!(f, "malformed response: {d}"),
            Self::UnavailableBefore(t) => write!(f, "data unavailable before {t} ms"),
        }
    }
}

impl std::error::Error for AdapterError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_is_half_open() {
        let w = Window { start: 10, end: 20 };
        assert!(w.contains(10) && w.contains(19));
        assert!(!w.contains(20) && !w.contains(9));
    }

    #[test]
    fn candle_finiteness() {
        let mut c = Candle {
            open_time: 0,
            open: 1.0,
            high: 2.0,
            low: 0.5,
            close: 1.5,
            volume: 3.0,
        };
        assert!(c.is_finite());
        c.close = f64::NAN;
        assert!(!c.is_finite());
    }

    #[test]
    fn errors_display() {
        let e = AdapterError::UnsupportedTimeframe(vec!["1m".into(), "1h".into()]);
        assert_eq!(e.to_string(), "unsupported timeframe; supported: 1m 1h");
        assert_eq!(
            AdapterError::malformed("row 3").to_string(),
            "malformed response: row 3"
        );
    }
}
