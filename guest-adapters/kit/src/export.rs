//! [`export_adapter!`](crate::export_adapter): the whole component edge of an adapter in
//! one line.
//!
//! An adapter crate writes its logic as plain functions over the kit's mirror types:
//!
//! ```text
//! pub fn info() -> AdapterInfo;
//! pub fn plan(&Market, Window, u32) -> Result<Request, AdapterError>;
//! pub fn parse(&Market, Window, &Request, &Response) -> Result<Page, AdapterError>;
//! pub fn live_plan(&Market) -> Result<LiveSource, AdapterError>;
//! pub fn live_parse(&Market, &str) -> Result<Vec<LiveCandle>, AdapterError>;
//! ```
//!
//! at its crate root, and adds
//!
//! ```text
//! #[cfg(target_arch = "wasm32")]
//! seamless_adapter_kit::export_adapter!("../../wit");
//! ```
//!
//! The macro runs `wit_bindgen::generate!` for world `exchange-adapter` from the given
//! `wit` folder (relative to the adapter's `Cargo.toml`), implements the generated
//! `Guest` trait by converting between binding types and kit types, and exports it.
//! The adapter crate needs `wit-bindgen` as a (wasm32-only) dependency.

/// Generate the `exchange-adapter` bindings and export the crate-root functions
/// `info`, `plan`, `parse`, `live_plan` and `live_parse` (see the module docs).
///
/// `export_adapter!("../../wit", poll)` is for adapters that follow markets live by
/// REST polling only: it exports a `live-parse` that returns no candles (polled pages go
/// through `parse`), so the crate needs no `live_parse` function.
// `crate::` in the expansion deliberately names the adapter crate invoking the macro.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! export_adapter {
    ($wit:literal, poll) => {
        $crate::export_adapter!(@impl $wit, |_market: kit::Market, _frame: &str| Ok(Vec::new()));
    };
    ($wit:literal) => {
        $crate::export_adapter!(@impl $wit, |market: kit::Market, frame: &str| crate::live_parse(&market, frame));
    };
    (@impl $wit:literal, $live_parse:expr) => {
        mod component {
            use $crate as kit;

            wit_bindgen::generate!({ world: "exchange-adapter", path: $wit });

            use exports::seamless::market::adapter::{
                AdapterError, AdapterInfo, Candle, ExchangeError, Guest, LiveCandle, LiveSource,
                Market, Page, PollPlan, RateLimitHint, Request, Response, WebsocketPlan, Window,
            };

            struct Component;

            impl Guest for Component {
                fn info() -> AdapterInfo {
                    let i = crate::info();
                    AdapterInfo {
                        id: i.id,
                        name: i.name,
                        version: i.version,
                        base_urls: i.base_urls,
                        timeframes: i.timeframes,
                        max_candles_per_request: i.max_candles_per_request,
                        rate_limit: RateLimitHint {
                            budget_per_minute: i.rate_limit.budget_per_minute,
                            request_weight: i.rate_limit.request_weight,
                            used_weight_header: i.rate_limit.used_weight_header,
                        },
                    }
                }

                fn plan(market: Market, window: Window, limit: u32) -> Result<Request, AdapterError> {
                    crate::plan(&market_in(market), window_in(window), limit)
                        .map(request_out)
                        .map_err(error_out)
                }

                fn parse(
                    market: Market,
                    window: Window,
                    request: Request,
                    response: Response,
                ) -> Result<Page, AdapterError> {
                    let request = kit::Request {
                        method: request.method,
                        url: request.url,
                        headers: request.headers,
                        body: request.body,
                    };
                    let response = kit::Response {
                        status: response.status,
                        headers: response.headers,
                        body: response.body,
                    };
                    let page = crate::parse(&market_in(market), window_in(window), &request, &response)
                        .map_err(error_out)?;
                    Ok(Page {
                        candles: page.candles.into_iter().map(candle_out).collect(),
                        covered: Window { start: page.covered.start, end: page.covered.end },
                        next: page.next.map(request_out),
                    })
                }

                fn live_plan(market: Market) -> Result<LiveSource, AdapterError> {
                    match crate::live_plan(&market_in(market)).map_err(error_out)? {
                        kit::LiveSource::Websocket { url, subscribe } => {
                            Ok(LiveSource::Websocket(WebsocketPlan { url, subscribe }))
                        }
                        kit::LiveSource::Poll { request, interval_ms } => Ok(LiveSource::Poll(PollPlan {
                            request: request_out(request),
                            interval_ms,
                        })),
                    }
                }

                fn live_parse(market: Market, frame: String) -> Result<Vec<LiveCandle>, AdapterError> {
                    let live_parse: fn(kit::Market, &str) -> Result<Vec<kit::LiveCandle>, kit::AdapterError> =
                        $live_parse;
                    let live = live_parse(market_in(market), &frame).map_err(error_out)?;
                    Ok(live
                        .into_iter()
                        .map(|l| LiveCandle { candle: candle_out(l.candle), closed: l.closed })
                        .collect())
                }
            }

            fn market_in(m: Market) -> kit::Market {
                kit::Market { exchange: m.exchange, symbol: m.symbol, timeframe: m.timeframe }
            }

            fn window_in(w: Window) -> kit::Window {
                kit::Window { start: w.start, end: w.end }
            }

            fn request_out(r: kit::Request) -> Request {
                Request { method: r.method, url: r.url, headers: r.headers, body: r.body }
            }

            fn candle_out(c: kit::Candle) -> Candle {
                Candle {
                    open_time: c.open_time,
                    open: c.open,
                    high: c.high,
                    low: c.low,
                    close: c.close,
                    volume: c.volume,
                }
            }

            fn error_out(e: kit::AdapterError) -> AdapterError {
                match e {
                    kit::AdapterError::UnsupportedTimeframe(l) => AdapterError::UnsupportedTimeframe(l),
                    kit::AdapterError::UnknownSymbol(s) => AdapterError::UnknownSymbol(s),
                    kit::AdapterError::RateLimited(ms) => AdapterError::RateLimited(ms),
                    kit::AdapterError::Exchange { code, message } => {
                        AdapterError::Exchange(ExchangeError { code, message })
                    }
                    kit::AdapterError::Malformed(d) => AdapterError::Malformed(d),
                    kit::AdapterError::UnavailableBefore(t) => AdapterError::UnavailableBefore(t),
                }
            }

            export!(Component);
        }
    };
}
