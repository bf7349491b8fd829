//! `chaos-adapter`: a test-only exchange adapter that misbehaves on purpose, so
//! the host's sandbox (deadlines, memory caps, trap handling, URL allowlist,
//! output validation) can be tested against a real component.
//!
//! Behaviour is chosen by `market.symbol`:
//! - `LOOP`: `plan` and `live-parse` spin forever;
//! - `OOM`: `plan` and `live-parse` allocate and touch 1 GiB;
//! - `PANIC`: `plan` and `live-parse` panic with "chaos: deliberate panic";
//! - `BADURL`: `plan` returns a request to `http://evil.invalid/steal`;
//! - `NAN`: `parse` returns 3 candles, one with a NaN close;
//! - `HUGE`: `parse` returns 10,000,000 valid ascending candles;
//! - `UNORDERED`: `parse` returns candles with descending open times;
//! - `OFFGRID`: `parse` returns a candle whose open time is not on the 1m grid;
//! - anything else: `plan` returns
//!   `GET http://chaos.invalid/klines?symbol=..&start=..&end=..&limit=..` and
//!   `parse` returns the window's 1m candles (at most `min(limit, 1000)`, open 100,
//!   high 101, low 99, close 100.5, volume 1), `covered` up to the last candle (or
//!   the window end), and no `next`. `parse` ignores the response entirely.
//!
//! `live-plan` polls the `plan` request of the current minute every second for each
//! market; `live-parse` reads the frame as `SYMBOL ms` and returns the forming 1m
//! candle containing `ms`, keyed by the symbol (the special symbols misbehave as in
//! `parse`). The market `STREAM` exercises the rest of the live contract: its plan first
//! asks for `GET /token`, then connects to `ws://chaos.invalid/ws?token=TOKEN`, sends
//! `sub STREAM`, declares the heartbeat `hb` every 200 ms and candles closed by the next
//! one; frames may be binary (UTF-8 text), `alias N KEY` announces an alias, and `ping X`
//! is answered `pong X`.
//!
//! Built for wasm32 only: natively (e.g. `cargo build --workspace`) the crate is empty,
//! since component export names cannot be linked into a native shared library.
#![cfg(target_arch = "wasm32")]

use std::hint::black_box;

wit_bindgen::generate!({ world: "exchange-adapter", path: "../../../wit" });

use exports::seamless::market::adapter::{
    AdapterError, AdapterInfo, Candle, Connection, Frame, Guest, Heartbeat, LiveEvents, LiveRoute,
    LiveSetup, LiveStream, LiveUpdate, Market, Page, PollPlan, RateLimitHint, Request, Response,
    Window,
};

const BASE: &str = "http://chaos.invalid";
/// The WebSocket base of the `STREAM` market's live plan.
const WS_BASE: &str = "ws://chaos.invalid";
const MINUTE: i64 = 60_000;
const MAX: u32 = 1000;

struct Chaos;

impl Guest for Chaos {
    fn info() -> AdapterInfo {
        AdapterInfo {
            id: "chaos".to_owned(),
            name: "Chaos (test only)".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            base_urls: vec![BASE.to_owned(), WS_BASE.to_owned()],
            timeframes: vec!["1m".to_owned()],
            max_candles_per_request: MAX,
            rate_limit: RateLimitHint {
                budget_per_minute: 6000,
                request_weight: 1,
                used_weight_header: None,
            },
            live_timeframes: Vec::new(),
        }
    }

    fn plan(market: Market, window: Window, limit: u32) -> Result<Request, AdapterError> {
        misbehave(&market.symbol);
        if market.symbol == "BADURL" {
            return Ok(get("http://evil.invalid/steal".to_owned()));
        }
        check_timeframe(&market)?;
        Ok(klines_request(&market.symbol, window, limit))
    }

    fn parse(
        market: Market,
        window: Window,
        request: Request,
        _response: Response,
    ) -> Result<Page, AdapterError> {
        let first = ceil_minute(window.start);
        let candles = match market.symbol.as_str() {
            "NAN" => {
                let mut c: Vec<Candle> = (0..3).map(|i| candle(first + i * MINUTE)).collect();
                c[1].close = f64::NAN;
                c
            }
            "HUGE" => (0..10_000_000)
                .map(|i| candle(first + i * MINUTE))
                .collect(),
            "UNORDERED" => (0..3).rev().map(|i| candle(first + i * MINUTE)).collect(),
            "OFFGRID" => vec![candle(first + 1)],
            _ => {
                let limit = url_param(&request.url, "limit")
                    .and_then(|l| l.parse::<u32>().ok())
                    .map_or(MAX, |l| l.min(MAX));
                let candles = grid(window, limit);
                let end = match candles.last() {
                    Some(last) if candles.len() as u32 == limit => {
                        (last.open_time + MINUTE).min(window.end)
                    }
                    _ => window.end,
                };
                let covered = Window {
                    start: window.start,
                    end: end.max(window.start),
                };
                return Ok(Page {
                    candles,
                    covered,
                    next: None,
                });
            }
        };
        Ok(Page {
            candles,
            covered: window,
            next: None,
        })
    }

    fn live_plan(
        markets: Vec<Market>,
        _prepared: Option<Response>,
    ) -> Result<LiveSetup, AdapterError> {
        let mut route = LiveRoute {
            connections: Vec::new(),
            messages_per_second: 0,
            lifetime_ms: None,
            heartbeat: None,
            closed_by_next: false,
            polls: Vec::new(),
            refused: Vec::new(),
        };
        for (i, market) in markets.iter().enumerate() {
            if market.symbol == "STREAM" {
                // First a token over REST, then a WebSocket that needs it.
                let Some(token) = _prepared.as_ref() else {
                    return Ok(LiveSetup::Prepare(get(format!("{BASE}/token"))));
                };
                let token = String::from_utf8_lossy(&token.body).trim().to_owned();
                route.connections.push(Connection {
                    url: format!("{WS_BASE}/ws?token={token}"),
                    subscribe: vec!["sub STREAM".to_owned()],
                    streams: vec![LiveStream {
                        market: i as u32,
                        key: "STREAM".to_owned(),
                    }],
                });
                route.heartbeat = Some(Heartbeat {
                    message: "hb".to_owned(),
                    interval_ms: 200,
                });
                route.closed_by_next = true;
                continue;
            }
            if let Err(e) = check_timeframe(market) {
                route.refused.push((i as u32, e));
                continue;
            }
            let window = Window {
                start: 0,
                end: MINUTE,
            };
            route.polls.push(PollPlan {
                market: i as u32,
                request: klines_request(&market.symbol, window, 1),
                interval_ms: 1_000,
            });
        }
        Ok(LiveSetup::Route(route))
    }

    fn live_parse(frame: Frame) -> Result<LiveEvents, AdapterError> {
        let frame = match frame {
            Frame::Text(t) => t,
            // The `STREAM` plan's binary frames are UTF-8 text.
            Frame::Binary(b) => String::from_utf8(b)
                .map_err(|_| AdapterError::Malformed("chaos: binary frame is not UTF-8".into()))?,
        };
        let mut words = frame.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            // `alias N KEY`: later frames say N for KEY.
            (Some("alias"), Some(n), Some(key)) => {
                return Ok(LiveEvents {
                    updates: Vec::new(),
                    replies: Vec::new(),
                    aliases: vec![(n.to_owned(), key.to_owned())],
                    refused: Vec::new(),
                });
            }
            // `ping X`: answer `pong X` on the connection.
            (Some("ping"), Some(x), None) => {
                return Ok(LiveEvents {
                    updates: Vec::new(),
                    replies: vec![format!("pong {x}")],
                    aliases: Vec::new(),
                    refused: Vec::new(),
                });
            }
            _ => {}
        }
        let (symbol, ms) = frame.trim().split_once(' ').unwrap_or(("", frame.trim()));
        misbehave(symbol);
        let t: i64 = ms.parse().map_err(|_| {
            AdapterError::Malformed(format!("chaos: frame {frame:?} is not `SYMBOL ms`"))
        })?;
        let open = t.div_euclid(MINUTE) * MINUTE;
        let live = |c: Candle| LiveUpdate {
            key: symbol.to_string(),
            candle: c,
            closed: false,
        };
        let updates = match symbol {
            "NAN" => {
                let mut c = candle(open);
                c.close = f64::NAN;
                vec![live(c)]
            }
            "UNORDERED" => vec![live(candle(open)), live(candle(open - MINUTE))],
            "OFFGRID" => vec![live(candle(open + 1))],
            _ => vec![live(candle(open))],
        };
        Ok(LiveEvents {
            updates,
            replies: Vec::new(),
            aliases: Vec::new(),
            refused: Vec::new(),
        })
    }
}

/// Loop, exhaust memory or panic for the symbols that ask for it.
fn misbehave(symbol: &str) {
    match symbol {
        "LOOP" => {
            let mut n = 0u64;
            loop {
                n = black_box(n.wrapping_add(1));
            }
        }
        "OOM" => {
            let mut v = vec![1u8; 1 << 30];
            for i in (0..v.len()).step_by(4096) {
                v[i] = black_box(2);
            }
            black_box(&v);
        }
        "PANIC" => panic!("chaos: deliberate panic"),
        _ => {}
    }
}

fn check_timeframe(market: &Market) -> Result<(), AdapterError> {
    if market.timeframe == "1m" {
        Ok(())
    } else {
        Err(AdapterError::UnsupportedTimeframe(vec!["1m".to_owned()]))
    }
}

fn get(url: String) -> Request {
    Request {
        method: "GET".to_owned(),
        url,
        headers: Vec::new(),
        body: None,
    }
}

fn klines_request(symbol: &str, window: Window, limit: u32) -> Request {
    let symbol: String = symbol
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    get(format!(
        "{BASE}/klines?symbol={symbol}&start={}&end={}&limit={}",
        window.start,
        window.end,
        limit.clamp(1, MAX)
    ))
}

fn url_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    url.split_once('?')?.1.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then_some(v)
    })
}

/// Smallest multiple of a minute ≥ `t` (saturating).
fn ceil_minute(t: i64) -> i64 {
    let r = t.rem_euclid(MINUTE);
    if r == 0 {
        t
    } else {
        t.saturating_add(MINUTE - r)
    }
}

/// The window's 1m candles, at most `limit`.
fn grid(window: Window, limit: u32) -> Vec<Candle> {
    let mut out = Vec::new();
    let mut t = ceil_minute(window.start);
    while t < window.end && out.len() < limit as usize {
        out.push(candle(t));
        match t.checked_add(MINUTE) {
            Some(n) => t = n,
            None => break,
        }
    }
    out
}

fn candle(open_time: i64) -> Candle {
    Candle {
        open_time,
        open: 100.0,
        high: 101.0,
        low: 99.0,
        close: 100.5,
        volume: 1.0,
    }
}

export!(Chaos);
