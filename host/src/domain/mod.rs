//! Domain vocabulary shared by every part of the host: candles, timeframes, node ids,
//! half-open windows and the interval algebra used by the coverage ledger.
//!
//! Time is always integer milliseconds since the Unix epoch, UTC.

pub mod block;
mod candle;
mod clock;
mod node;
mod ranges;
mod suggest;
mod time;
mod timeframe;
mod window;

pub use block::BlockDigest;
pub use candle::{Candle, dedup_keep_last};
pub use clock::Clock;
pub use node::{NodeId, NodeIdError};
pub use ranges::RangeSet;
pub use suggest::closest;
pub use time::{DurationParseError, TimeParseError, format_ms, now_ms, parse_duration, parse_time};
pub use timeframe::{Timeframe, TimeframeError};
pub use window::{Window, WindowError};
