//! The live part of the adapter contract (`live-plan`, `live-parse` of `wit/`): the host
//! types a plan and a frame's events are converted to, and the checks every answer
//! passes before the host acts on it (URLs inside the declared bases, every market
//! placed exactly once, stream keys unique within each connection, sane limits).

use std::collections::HashSet;
use std::time::Duration;

use super::ComponentError;
use super::adapter::{
    Adapter, AdapterError, GuestResult, candle_from_wit, market, req_from_wit, wit, wit_http,
};
use crate::domain::{Candle, NodeId};
use crate::net::{HttpRequest, HttpResponse};

/// A frame of a live connection as the venue sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    Text(String),
    Binary(Vec<u8>),
}

impl Frame {
    /// The first `n` characters, for logs (binary frames as their length).
    pub fn excerpt(&self, n: usize) -> String {
        match self {
            Frame::Text(t) => t.chars().take(n).collect(),
            Frame::Binary(b) => format!("<{} binary bytes>", b.len()),
        }
    }
}

/// An application-level keep-alive to send on every connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    pub message: String,
    pub interval: Duration,
}

/// One market carried by a connection: its index in the planned markets and the key
/// the adapter's `live-parse` names it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveStream {
    pub market: u32,
    pub key: String,
}

/// One WebSocket connection of a route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveConnection {
    /// As the adapter wrote it (the caller applies the base map).
    pub url: String,
    pub subscribe: Vec<String>,
    pub streams: Vec<LiveStream>,
}

/// REST polling for one market.
#[derive(Debug, Clone, PartialEq)]
pub struct PollPlan {
    pub market: u32,
    pub request: HttpRequest,
    pub interval_ms: u64,
}

/// How to follow a set of markets live (see `live-route` in `wit/`).
#[derive(Debug, Clone, PartialEq)]
pub struct LiveRoute {
    pub connections: Vec<LiveConnection>,
    /// Subscribe messages per second on one connection (0: no limit).
    pub messages_per_second: u32,
    /// Replace a connection before this age.
    pub lifetime: Option<Duration>,
    pub heartbeat: Option<Heartbeat>,
    /// The venue flags no closed candle: a later candle closes the previous one.
    pub closed_by_next: bool,
    pub polls: Vec<PollPlan>,
    /// Markets that cannot be followed live, with the reason.
    pub refused: Vec<(u32, AdapterError)>,
}

/// The answer to `live-plan`.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveSetup {
    /// Send this request and plan again with its response.
    Prepare(HttpRequest),
    Route(LiveRoute),
}

/// A candle from a live frame.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveUpdate {
    /// A stream key of the route, or an alias announced on the connection.
    pub key: String,
    pub candle: Candle,
    pub closed: bool,
}

/// What one frame says.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveEvents {
    pub updates: Vec<LiveUpdate>,
    /// Messages to send back on the same connection.
    pub replies: Vec<String>,
    /// (alias, key): later updates may name the stream by the alias.
    pub aliases: Vec<(String, String)>,
    /// (key, reason): streams the venue refused.
    pub refused: Vec<(String, AdapterError)>,
}

/// Shortest heartbeat interval the host accepts (a guest must not make it spin).
const MIN_HEARTBEAT: Duration = Duration::from_millis(100);

impl Adapter {
    /// How to follow `markets` live; `prepared` carries the response to a `Prepare`
    /// request of the previous call. The route is checked against the contract.
    pub fn live_plan(
        &self,
        markets: &[NodeId],
        prepared: Option<HttpResponse>,
    ) -> GuestResult<LiveSetup> {
        let ms: Vec<_> = markets.iter().map(market).collect();
        let prepared = prepared.map(|r| wit_http::Response {
            status: r.status,
            headers: r.headers,
            body: r.body,
        });
        let r = self.call("live-plan", |s, a| {
            a.seamless_market_adapter()
                .call_live_plan(s, &ms, prepared.as_ref())
        })?;
        match r {
            Ok(wit::LiveSetup::Prepare(req)) => {
                self.check_url("live-plan", &req.url)?;
                Ok(Ok(LiveSetup::Prepare(req_from_wit(req))))
            }
            Ok(wit::LiveSetup::Route(route)) => {
                let route = self.check_route(route, markets.len())?;
                Ok(Ok(LiveSetup::Route(route)))
            }
            Err(e) => Ok(Err(e.into())),
        }
    }

    fn check_route(&self, r: wit::LiveRoute, n: usize) -> Result<LiveRoute, ComponentError> {
        let bad = |d: String| self.contract("live-plan", d);
        let mut placed = vec![false; n];
        let mut place = |m: u32| -> Result<(), ComponentError> {
            match placed.get_mut(m as usize) {
                None => Err(bad(format!(
                    "market index {m} is out of range: {n} markets were planned"
                ))),
                Some(true) => Err(bad(format!(
                    "market {m} is placed twice: every market goes on one connection, one poll or the refused list"
                ))),
                Some(p) => {
                    *p = true;
                    Ok(())
                }
            }
        };
        let mut connections = Vec::with_capacity(r.connections.len());
        for c in r.connections {
            self.check_url("live-plan", &c.url)?;
            let mut keys = HashSet::new();
            if c.streams.is_empty() {
                return Err(bad(format!("connection {} carries no stream", c.url)));
            }
            let mut streams = Vec::with_capacity(c.streams.len());
            for s in c.streams {
                place(s.market)?;
                if !keys.insert(s.key.clone()) {
                    return Err(bad(format!(
                        "stream key {:?} is used twice on connection {}: keys must be unique within a connection",
                        s.key, c.url
                    )));
                }
                streams.push(LiveStream {
                    market: s.market,
                    key: s.key,
                });
            }
            connections.push(LiveConnection {
                url: c.url,
                subscribe: c.subscribe,
                streams,
            });
        }
        let mut polls = Vec::with_capacity(r.polls.len());
        for p in r.polls {
            place(p.market)?;
            self.check_url("live-plan", &p.request.url)?;
            polls.push(PollPlan {
                market: p.market,
                request: req_from_wit(p.request),
                interval_ms: p.interval_ms,
            });
        }
        let mut refused = Vec::with_capacity(r.refused.len());
        for (m, e) in r.refused {
            place(m)?;
            refused.push((m, e.into()));
        }
        if let Some(m) = placed.iter().position(|p| !p) {
            return Err(bad(format!(
                "market {m} is missing: every market goes on one connection, one poll or the refused list"
            )));
        }
        let heartbeat = match r.heartbeat {
            Some(h) if Duration::from_millis(h.interval_ms.into()) < MIN_HEARTBEAT => {
                return Err(bad(format!(
                    "heartbeat every {} ms is too often; the least interval is {} ms",
                    h.interval_ms,
                    MIN_HEARTBEAT.as_millis()
                )));
            }
            Some(h) => Some(Heartbeat {
                message: h.message,
                interval: Duration::from_millis(h.interval_ms.into()),
            }),
            None => None,
        };
        Ok(LiveRoute {
            connections,
            messages_per_second: r.messages_per_second,
            lifetime: r.lifetime_ms.map(Duration::from_millis),
            heartbeat,
            closed_by_next: r.closed_by_next,
            polls,
            refused,
        })
    }

    /// Read one live frame. The candles are checked per stream by the caller, which
    /// knows each key's timeframe ([`Adapter::check_live_candles`]).
    pub fn live_parse(&self, frame: &Frame) -> GuestResult<LiveEvents> {
        let f = match frame {
            Frame::Text(t) => wit::Frame::Text(t.clone()),
            Frame::Binary(b) => wit::Frame::Binary(b.clone()),
        };
        let r = self.call("live-parse", |s, a| {
            a.seamless_market_adapter().call_live_parse(s, &f)
        })?;
        let ev = match r {
            Ok(ev) => ev,
            Err(e) => return Ok(Err(e.into())),
        };
        let updates = ev
            .updates
            .into_iter()
            .map(|u| LiveUpdate {
                key: u.key,
                candle: candle_from_wit(u.candle),
                closed: u.closed,
            })
            .collect();
        Ok(Ok(LiveEvents {
            updates,
            replies: ev.replies,
            aliases: ev.aliases,
            refused: ev.refused.into_iter().map(|(k, e)| (k, e.into())).collect(),
        }))
    }

    /// The candle contract for the live candles of one stream of `node`'s timeframe:
    /// ascending, on the grid, years 1–9999, finite values.
    pub fn check_live_candles(
        &self,
        node: &NodeId,
        candles: &[Candle],
    ) -> Result<(), ComponentError> {
        super::adapter::candle_contract(node.timeframe, None, candles)
            .map_err(|d| self.contract("live-parse", d))
    }
}
