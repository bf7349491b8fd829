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
    /// Timeframes followed over a WebSocket; the others are polled.
    pub live_timeframes: Vec<String>,
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

/// REST polling for one market: send `request` every `interval_ms` and read the answer
/// with `parse` (mirror of `poll-plan` without its market index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollPlan {
    pub request: Request,
    pub interval_ms: u64,
}

/// A frame of a live connection (mirror of `frame`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

/// An application-level keep-alive (mirror of `heartbeat`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    pub message: String,
    pub interval_ms: u32,
}

/// One market on a connection (mirror of `live-stream`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveStream {
    /// Index into the markets passed to `live-plan`.
    pub market: u32,
    /// How `live-parse` names the market's updates.
    pub key: String,
}

/// One WebSocket connection (mirror of `connection`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connection {
    pub url: String,
    pub subscribe: Vec<String>,
    pub streams: Vec<LiveStream>,
}

/// How to follow a set of markets live (mirror of `live-route`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LiveRoute {
    pub connections: Vec<Connection>,
    pub messages_per_second: u32,
    pub lifetime_ms: Option<u64>,
    pub heartbeat: Option<Heartbeat>,
    pub closed_by_next: bool,
    /// (market index, plan).
    pub polls: Vec<(u32, PollPlan)>,
    /// (market index, reason).
    pub refused: Vec<(u32, AdapterError)>,
}

impl LiveRoute {
    /// Every market polled by `plan`; a market `plan` refuses goes to `refused`.
    pub fn polling(
        markets: &[Market],
        plan: impl Fn(&Market) -> Result<PollPlan, AdapterError>,
    ) -> LiveRoute {
        let mut route = LiveRoute::default();
        for (i, m) in markets.iter().enumerate() {
            match plan(m) {
                Ok(p) => route.polls.push((i as u32, p)),
                Err(e) => route.refused.push((i as u32, e)),
            }
        }
        route
    }
}

/// The answer to `live-plan` (mirror of `live-setup`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LiveSetup {
    /// Send this request first, then plan again with its response.
    Prepare(Request),
    Route(LiveRoute),
}

/// A candle from a live frame (mirror of `live-update`).
#[derive(Clone, Debug, PartialEq)]
pub struct LiveUpdate {
    pub key: String,
    pub candle: Candle,
    /// False while the candle is still forming.
    pub closed: bool,
}

/// What one frame says (mirror of `live-events`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LiveEvents {
    pub updates: Vec<LiveUpdate>,
    pub replies: Vec<String>,
    /// (alias, key).
    pub aliases: Vec<(String, String)>,
    /// (key, reason).
    pub refused: Vec<(String, AdapterError)>,
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
