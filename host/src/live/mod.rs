//! Live candles: the feed (WebSocket or REST polling through the adapter, [`feed`]) and
//! the handoff from stored history to live data ([`session`]).
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
mod overlay;
pub mod session;

pub(crate) use overlay::overlay;

pub use feed::{
    FeedCounters, FeedEvent, FeedHandle, FeedOptions, FeedSource, LiveFeed, default_poll_interval,
};
pub use session::{
    LiveError, LiveSession, LiveUpdate, Overlay, SessionOptions, SessionStats, SessionSummary,
};
