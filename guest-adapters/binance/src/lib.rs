//! Binance spot OHLCV adapter (`GET /api/v3/klines`, kline WebSocket streams).
//!
//! The core is plain Rust, callable natively from the rlib (unit tests, the host's
//! parse benchmark): [`info`], [`plan`], [`parse`], [`parse_klines`],
//! [`live_plan`], [`live_parse`]. The component edge (the `exchange-adapter`
//! bindings and the kit types ↔ binding types conversion) is the kit's
//! `export_adapter!`, compiled for `wasm32` only.

pub mod errors;
pub mod live;
pub mod parse;
pub mod plan;
pub mod sample;

pub use live::{live_parse, live_plan};
pub use parse::{parse, parse_klines};
pub use plan::{info, plan};

// The component: WIT bindings and a `Guest` impl calling the functions above.
#[cfg(target_arch = "wasm32")]
seamless_adapter_kit::export_adapter!("../../wit");
