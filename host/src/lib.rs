//! seamless: a host runtime for market data.
//!
//! A caller asks for a window of candles of one series (`ohlcv:{exchange}:{symbol}:{timeframe}`,
//! `[start, end)`); the [`provider`] answers from the [`store`], backfills the gaps through a
//! sandboxed exchange adapter ([`components`]) whose HTTP requests the host performs
//! ([`net`]), and reports what it served.

pub mod components;
pub mod domain;
pub mod net;
pub mod store;
pub mod provider;
pub mod ratelimit;
pub mod metrics;
pub mod export;
pub mod config;
pub mod suite;
