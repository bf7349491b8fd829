//! [`export_adapter!`](crate::export_adapter): the whole component edge of an adapter in
//! one line.
//!
//! An adapter crate writes its logic as plain functions over the kit's mirror types:
//!
//! ```text
//! pub fn info() -> AdapterInfo;
//! pub fn plan(&Market, Window, u32) -> Result<Request, AdapterError>;
//! pub fn parse(&Market, Window, &Request, &Response) -> Result<Page, AdapterError>;
//! pub fn live_plan(&[Market], Option<&Response>) -> Result<LiveSetup, AdapterError>;
//! pub fn live_parse(&Frame) -> Result<LiveEvents, AdapterError>;
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
/// REST polling only: the crate writes `live_poll(&Market) -> Result<PollPlan,
/// AdapterError>` for one market instead of `live_plan`, and no `live_parse` (polled
/// pages go through `parse`; frames give no events).
// `crate::` in the expansion deliberately names the adapter crate invoking the macro.
#[allow(clippy::crate_in_macro_def)]
#[macro_export]
macro_rules! export_adapter {
    ($wit:literal, poll) => {
        $crate::export_adapter!(@impl $wit,
            |markets: &[kit::Market], _prepared: Option<&kit::Response>| {
                Ok(kit::LiveSetup::Route(kit::LiveRoute::polling(markets, crate::live_poll)))
            },
            |_frame: &kit::Frame| Ok(kit::LiveEvents::default()));
    };
    ($wit:literal) => {
        $crate::export_adapter!(@impl $wit,
            |markets: &[kit::Market], prepared: Option<&kit::Response>| crate::live_plan(markets, prepared),
            |frame: &kit::Frame| crate::live_parse(frame));
    };
    (@impl $wit:literal, $live_plan:expr, $live_parse:expr) => {
        mod component {
            use $crate as kit;

            wit_bindgen::generate!({ world: "exchange-adapter", path: $wit });

            use exports::seamless::market::adapter::{
                AdapterError, AdapterInfo, Candle, Connection, ExchangeError, Frame, Guest,
                Heartbeat, LiveEvents, LiveRoute, LiveSetup, LiveStream, LiveUpdate, Market, Page,
                PollPlan, RateLimitHint, Request, Response, Window,
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
                        live_timeframes: i.live_timeframes,
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
                    let response = response_in(response);
                    let page = crate::parse(&market_in(market), window_in(window), &request, &response)
                        .map_err(error_out)?;
                    Ok(Page {
                        candles: page.candles.into_iter().map(candle_out).collect(),
                        covered: Window { start: page.covered.start, end: page.covered.end },
                        next: page.next.map(request_out),
                    })
                }

                fn live_plan(markets: Vec<Market>, prepared: Option<Response>) -> Result<LiveSetup, AdapterError> {
                    let live_plan: fn(&[kit::Market], Option<&kit::Response>) -> Result<kit::LiveSetup, kit::AdapterError> =
                        $live_plan;
                    let markets: Vec<kit::Market> = markets.into_iter().map(market_in).collect();
                    let prepared = prepared.map(response_in);
                    match live_plan(&markets, prepared.as_ref()).map_err(error_out)? {
                        kit::LiveSetup::Prepare(r) => Ok(LiveSetup::Prepare(request_out(r))),
                        kit::LiveSetup::Route(r) => Ok(LiveSetup::Route(LiveRoute {
                            connections: r
                                .connections
                                .into_iter()
                                .map(|c| Connection {
                                    url: c.url,
                                    subscribe: c.subscribe,
                                    streams: c
                                        .streams
                                        .into_iter()
                                        .map(|s| LiveStream { market: s.market, key: s.key })
                                        .collect(),
                                })
                                .collect(),
                            messages_per_second: r.messages_per_second,
                            lifetime_ms: r.lifetime_ms,
                            heartbeat: r.heartbeat.map(|h| Heartbeat {
                                message: h.message,
                                interval_ms: h.interval_ms,
                            }),
                            closed_by_next: r.closed_by_next,
                            polls: r
                                .polls
                                .into_iter()
                                .map(|(market, p)| PollPlan {
                                    market,
                                    request: request_out(p.request),
                                    interval_ms: p.interval_ms,
                                })
                                .collect(),
                            refused: r.refused.into_iter().map(|(m, e)| (m, error_out(e))).collect(),
                        })),
                    }
                }

                fn live_parse(frame: Frame) -> Result<LiveEvents, AdapterError> {
                    let live_parse: fn(&kit::Frame) -> Result<kit::LiveEvents, kit::AdapterError> =
                        $live_parse;
                    let frame = match frame {
                        Frame::Text(t) => kit::Frame::Text(t),
                        Frame::Binary(b) => kit::Frame::Binary(b),
                    };
                    let ev = live_parse(&frame).map_err(error_out)?;
                    Ok(LiveEvents {
                        updates: ev
                            .updates
                            .into_iter()
                            .map(|u| LiveUpdate { key: u.key, candle: candle_out(u.candle), closed: u.closed })
                            .collect(),
                        replies: ev.replies,
                        aliases: ev.aliases,
                        refused: ev.refused.into_iter().map(|(k, e)| (k, error_out(e))).collect(),
                    })
                }
            }

            fn response_in(r: Response) -> kit::Response {
                kit::Response { status: r.status, headers: r.headers, body: r.body }
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
