//! Every venue adapter end to end against the simulator's REST dialect of that exchange:
//! the real guest component through `Provider` into SQLite and once through the `seamless`
//! binary, with candles equal to the simulator's truth (no duplicate, no hole). Binance
//! itself is covered by the provider, fetch, live and CLI modules.
//!
//! One module per set of venues that share a fixture, named by those venues: a test's
//! path names the exchange it exercises (`venues::bybit_okx_kucoin_htx::okx::cli_fetch`).

mod binanceusdm_mexc_bitget_gate;
mod bybit_okx_kucoin_htx;
mod coinbase_kraken_bitfinex_template;
