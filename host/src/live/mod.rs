//! Live candles, on top of the provider's closed history: the feed (WebSocket, or REST
//! polling through the [`crate::gateway`], [`feed`]), the handoff from stored history to
//! live data ([`session`]), many series over shared connections ([`group`]), and the live
//! phase of a `seamless` fetch ([`fetch_with_live`]).
//!
//! ```no_run
//! # async fn demo(provider: seamless::provider::Provider) -> anyhow::Result<()> {
//! use seamless::live::{LiveSession, LiveUpdate, SessionOptions};
//! let node = "ohlcv:binance:BTC/USDT:1m".parse()?;
//! let from = provider.now() - 60 * 60_000;
//! let (session, mut updates) = LiveSession::start(provider, node, from, SessionOptions::default()).await?;
//! while let Some(u) = updates.recv().await {
//!     if let LiveUpdate::Closed(c) = u {
//!         println!("{} {}", c.open_time, c.close);
//!     }
//! }
//! session.stop().await?;
//! # Ok(()) }
//! ```

pub mod feed;
mod fetch;
pub mod group;
pub mod session;

pub use fetch::fetch_with_live;
pub use group::{ExchangePlan, GroupUpdate, LiveGroup};

pub use feed::{
    FeedCounters, FeedEvent, FeedHandle, FeedOptions, FeedSource, LiveFeed, default_poll_interval,
};
pub use session::{
    LiveError, LiveSession, LiveState, LiveUpdate, SessionOptions, SessionStats, SessionSummary,
};
