//! Binance spot OHLCV adapter (`GET /api/v3/klines`, kline WebSocket streams).
//!
//! The core is plain Rust, callable natively from the rlib (unit tests, the host's
//! parse benchmark): [`info`], [`plan`], [`parse`], [`parse_klines`],
//! [`live_plan`], [`live_parse`]. This file only adds the component edge: the
//! `exchange-adapter` bindings and a `Guest` impl converting kit types ↔ binding
//! types, compiled for `wasm32` only.

pub mod errors;
pub mod live;
pub mod parse;
pub mod plan;
pub mod sample;

pub use live::{live_parse, live_plan};
pub use parse::{parse, parse_klines};
pub use plan::{info, plan};

#[cfg(target_arch = "wasm32")]
mod component {
    //! The `exchange-adapter` component export.

    use seamless_adapter_kit as kit;

    wit_bindgen::generate!({ world: "exchange-adapter", path: "../../wit" });

    use exports::seamless::market::adapter::{
        AdapterError, AdapterInfo, Candle, ExchangeError, Guest, LiveCandle, LiveSource, Market,
        Page, PollPlan, RateLimitHint, Request, Response, WebsocketPlan, Window,
    };

    struct Binance;

    impl Guest for Binance {
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
            let request = request_in(request);
            let response = kit::Response {
                status: response.status,
                headers: response.headers,
                body: response.body,
            };
            let page = crate::parse(&market_in(market), window_in(window), &request, &response)
                .map_err(error_out)?;
            Ok(Page {
                candles: page.candles.into_iter().map(candle_out).collect(),
                covered: Window {
                    start: page.covered.start,
                    end: page.covered.end,
                },
                next: page.next.map(request_out),
            })
        }

        fn live_plan(market: Market) -> Result<LiveSource, AdapterError> {
            match crate::live_plan(&market_in(market)).map_err(error_out)? {
                kit::LiveSource::Websocket { url, subscribe } => {
                    Ok(LiveSource::Websocket(WebsocketPlan { url, subscribe }))
                }
                kit::LiveSource::Poll {
                    request,
                    interval_ms,
                } => Ok(LiveSource::Poll(PollPlan {
                    request: request_out(request),
                    interval_ms,
                })),
            }
        }

        fn live_parse(market: Market, frame: String) -> Result<Vec<LiveCandle>, AdapterError> {
            let live = crate::live_parse(&market_in(market), &frame).map_err(error_out)?;
            Ok(live
                .into_iter()
                .map(|l| LiveCandle {
                    candle: candle_out(l.candle),
                    closed: l.closed,
                })
                .collect())
        }
    }

    fn market_in(m: Market) -> kit::Market {
        kit::Market {
            exchange: m.exchange,
            symbol: m.symbol,
            timeframe: m.timeframe,
        }
    }

    fn window_in(w: Window) -> kit::Window {
        kit::Window {
            start: w.start,
            end: w.end,
        }
    }

    fn request_in(r: Request) -> kit::Request {
        kit::Request {
            method: r.method,
            url: r.url,
            headers: r.headers,
            body: r.body,
        }
    }

    fn request_out(r: kit::Request) -> Request {
        Request {
            method: r.method,
            url: r.url,
            headers: r.headers,
            body: r.body,
        }
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

    export!(Binance);
}
