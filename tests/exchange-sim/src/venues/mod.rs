//! Every exchange's REST candle endpoints, one module each, over the same synthetic
//! markets. Binance spot ([`binance`], with its live kline streams) is served at the root
//! like the real API; every other venue is mounted under `/{venue}` (so exchanges whose
//! paths collide, like MEXC and Binance `/api/v3/klines`, share one server): point an
//! adapter at it with `--exchange-url {venue}=http://127.0.0.1:PORT/{venue}`. `example` is
//! the made-up API of the third-party adapter template (guest-adapters/template).

use std::sync::Arc;

use axum::Router;

use crate::server::Shared;

pub mod admit;
pub mod answer;
pub mod binance;
pub mod binanceusdm;
pub mod bitfinex;
pub mod bitget;
pub mod bybit;
pub mod bybit_stream;
pub mod coinbase;
pub mod example;
pub mod gate;
pub mod htx;
pub mod kraken;
pub mod kucoin;
pub mod mexc;
pub mod newest_first;
pub mod okx;
pub mod okx_stream;

/// The venues the simulator speaks, by the name an adapter's `--simulator` format and
/// `/{venue}` prefix use (`binance` is served at the root).
pub const NAMES: [&str; 13] = [
    "binance",
    "binanceusdm",
    "bitfinex",
    "bitget",
    "bybit",
    "coinbase",
    "example",
    "gate",
    "htx",
    "kraken",
    "kucoin",
    "mexc",
    "okx",
];

/// The path prefix a venue is served under (`""` for Binance spot, `/{venue}` for the others);
/// `None` for a name not in [`NAMES`].
pub fn prefix(venue: &str) -> Option<String> {
    match venue {
        "binance" => Some(String::new()),
        v if NAMES.contains(&v) => Some(format!("/{v}")),
        _ => None,
    }
}

/// Every venue's routes, each nested under its own prefix (Binance spot's are at the root
/// and merged by [`crate::server::router`]).
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .nest("/binanceusdm", binanceusdm::routes())
        .nest("/bybit", bybit::routes().merge(bybit_stream::routes()))
        .nest("/okx", okx::routes().merge(okx_stream::routes()))
        .nest("/coinbase", coinbase::routes())
        .nest("/example", example::routes())
        .nest("/kraken", kraken::routes())
        .nest("/kucoin", kucoin::routes())
        .nest("/bitget", bitget::routes())
        .nest("/gate", gate::routes())
        .nest("/bitfinex", bitfinex::routes())
        .nest("/htx", htx::routes())
        .nest("/mexc", mexc::routes())
}
