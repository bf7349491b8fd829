//! The other exchanges' REST candle endpoints, one module each, over the same synthetic
//! markets as [`crate::binance`]. Each is mounted under `/{venue}` (so exchanges whose
//! paths collide, like MEXC and Binance `/api/v3/klines`, share one server): point an
//! adapter at it with `--exchange-url {venue}=http://127.0.0.1:PORT/{venue}`. `example` is
//! the made-up API of the third-party adapter template (guest-adapters/template).

use std::sync::Arc;

use axum::Router;

use crate::server::Shared;

pub mod binanceusdm;
pub mod bitfinex;
pub mod bitget;
pub mod bybit;
pub mod coinbase;
pub mod example;
pub mod gate;
pub mod htx;
pub mod kraken;
pub mod kucoin;
pub mod mexc;
pub mod okx;

/// Every venue's routes, each nested under its own prefix.
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .nest("/binanceusdm", binanceusdm::routes())
        .nest("/bybit", bybit::routes())
        .nest("/okx", okx::routes())
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
