//! Small shared helpers for seamless strategy-node components.
//!
//! Plain Rust with no WIT bindings, so each strategy's logic can be unit-tested and
//! benchmarked natively. A strategy implements [`Strategy`] over the mirror types
//! here and exports itself as a component with [`export_strategy!`], which expands
//! the `strategy-node` bindings in the strategy crate (wasm32 only).
//!
//! - [`config`]: `key=value` configuration with errors that name the bad key and
//!   the fix.
//! - [`node`]: node-id shape check (`ohlcv:{exchange}:{symbol}:{timeframe}`) and
//!   timeframe lengths.
//! - [`types`]: [`Signal`], [`Input`], [`Columns`], [`Batch`] mirrors of the WIT records.
//! - [`history`]: the [`History`] trait (the imported `history` interface) and an
//!   in-memory implementation for tests.
//! - [`ring`]: a fixed-capacity ring whose contents are always one contiguous,
//!   chronological slice.
//! - [`strategy`]: the [`Strategy`] trait and the [`export_strategy!`] component
//!   edge.

pub mod config;
pub mod history;
pub mod node;
pub mod ring;
pub mod strategy;
pub mod types;

pub use config::Config;
pub use history::{History, MemoryHistory, NoHistory};
pub use node::{NodeId, timeframe_ms};
pub use ring::Ring;
pub use strategy::{Strategy, single_input};
pub use types::{Batch, Columns, Input, Signal};

/// The default node id strategies read when none is configured.
pub const DEFAULT_NODE: &str = "ohlcv:binance:BTC/USDT:1m";
