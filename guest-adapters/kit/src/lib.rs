//! Small shared helpers for seamless exchange adapter components.
//!
//! Plain Rust with no WIT bindings, so every adapter's request planning and
//! response parsing can be unit-tested natively. Each adapter converts the mirror
//! types in [`types`] and [`http`] to its generated binding types at its edge.
//!
//! - [`timeframe`]: the unified timeframe table, grid `floor` and `next_open`
//!   (calendar-aware for `1w` and `1M`).
//! - [`paging`]: which candles a page keeps, the range it proves complete and where the
//!   next request starts ([`paging::forward`] / [`paging::backward`], [`paging::Span`],
//!   [`paging::Paged`]).
//! - [`wire`]: an exchange's interval spellings ([`wire::Intervals`]), error bodies,
//!   `Date` headers, rate-limit hints, REST polling.
//! - [`rows`], [`envelope`]: candle rows and the object around them, read with [`scan`].
//! - [`export`]: [`export_adapter!`], the whole component edge in one line.
//! - [`civil`]: days-from-civil date arithmetic (no chrono).
//! - [`scan`]: a fast, allocation-free JSON scanner for hot paths (kline pages).
//! - [`num`]: JSON numbers given as strings or numbers → `f64` / `i64`.
//! - [`query`]: query-string building and reading.
//! - [`http`]: request/response mirrors, header lookup, `Retry-After`.
//! - [`symbol`]: unified symbols (`BTC/USDT`) → exchange ids (`BTCUSDT`, `BTC-USDT`).
//! - [`types`]: candle, market, window, errors and adapter metadata mirrors.
//!
//! Collections are `Vec`/`BTreeMap` only: std's `HashMap` seeds itself through
//! `wasi:random`, and adapters stay free of WASI imports beyond what std needs.

pub mod civil;
pub mod envelope;
pub mod export;
pub mod http;
pub mod num;
pub mod paging;
pub mod query;
pub mod rows;
pub mod scan;
pub mod symbol;
pub mod timeframe;
pub mod types;
pub mod wire;

pub use http::{Header, Request, Response, header, retry_after_ms};
pub use query::{Query, query_param, set_query_param};
pub use scan::{ScanError, Scanner};
pub use timeframe::{Timeframe, floor, next_open};
pub use types::{
    AdapterError, AdapterInfo, Candle, Connection, Frame, Heartbeat, LiveEvents, LiveRoute,
    LiveSetup, LiveStream, LiveUpdate, Market, Page, PollPlan, RateLimitHint, Window,
};
