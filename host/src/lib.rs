//! seamless: a host runtime for market data.
//!
//! A caller asks for a window of candles of one series (`ohlcv:{exchange}:{symbol}:{timeframe}`,
//! `[start, end)`); the [`provider`] answers from the [`store`], backfills the gaps through a
//! sandboxed exchange adapter ([`components`]) whose HTTP requests the host performs
//! ([`net`]), and reports what it served.

pub mod api;
pub mod components;
pub mod config;
pub mod coord;
pub mod domain;
pub mod export;
pub mod gateway;
pub mod live;
pub mod metrics;
pub mod net;
pub mod provider;
pub mod ratelimit;
pub mod store;
pub mod strategy;
pub mod suite;
