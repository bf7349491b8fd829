//! WebSocket streams on the REST port: the shared hub (counters, the "drop everything" signal) and
//! the socket task of each connection.
//!
//! Endpoints (Binance's, at the root like its REST API; see [`crate::venues::binance::stream`] for the
//! payloads and [`crate::venues::binance::control`] for the control messages):
//! - `GET /ws/{stream}` and `GET /ws/{stream1}/{stream2}/...`: raw streams (events unwrapped);
//! - `GET /ws`: no stream yet, subscribe with `{"method":"SUBSCRIBE",...}`;
//! - `GET /stream?streams={stream1}/{stream2}`: combined streams (each event wrapped as
//!   `{"stream":..,"data":..}`).
//!
//! Each connection, every `ws_update_ms` of wall time, takes the market clock's now and sends for
//! each of its streams, in order, the candles closed since the previous update (`x: true`) and
//! then the forming candle (`x: false`). Every `ws_ping_ms` it sends a WebSocket Ping. Client text
//! frames are control requests, answered in place. A client Close is answered with a Close.
//!
//! Faults: [`crate::Faults::ws_drop_every_n`] drops a connection right after the Nth kline frame it
//! was sent; [`WsHub::drop_all`] (`Simulator::drop_websockets`, `POST /__sim/ws/drop`) drops every
//! open connection. A drop ends the TCP stream without a Close frame, like a network failure:
//! clients see a reset without closing handshake.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::routing::get;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use crate::market::{Candle, Market, Markets};
use crate::server::Shared;
use crate::timeframe::Timeframe;
use crate::venues::binance::session::Session;

/// The protocol of one connection of a venue's stream API, without I/O: the socket task
/// ([`serve`]) sends what [`StreamSession::poll`] returns every update and answers client
/// text frames with [`StreamSession::handle`].
pub trait StreamSession: Send + 'static {
    /// The frames due at market time `now`.
    fn poll(&mut self, markets: &Markets, now: i64) -> Vec<String>;
    /// The replies to one client text frame at market time `now`, one frame each.
    fn handle(&mut self, markets: &Markets, text: &str, now: i64) -> Vec<String>;
    /// The reply to a client binary frame, if any.
    fn binary_reply(&self) -> Option<String>;
}

/// Closed candles a stream sends per update, at most (a big clock jump is caught up over
/// updates).
pub const MAX_CLOSED_PER_UPDATE: usize = 1000;

/// The candles one kline stream of `market` sends at market time `now`: every candle closed
/// since `next_open` (oldest first, at most [`MAX_CLOSED_PER_UPDATE`]), then the forming one.
/// Moves `next_open` past the closed ones, or to the candle containing `now` when nothing
/// exists in between (before the listing, inside a gap).
pub fn due(market: &Market, tf: Timeframe, next_open: &mut i64, now: i64) -> Vec<Candle> {
    let candles = market.candles_from(tf, *next_open, now, now, MAX_CLOSED_PER_UPDATE + 1);
    if candles.is_empty() {
        *next_open = (*next_open).max(tf.floor(now));
    }
    if let Some(last) = candles.iter().rev().find(|c| c.closed) {
        *next_open = tf.next(last.open_time);
    }
    candles
}

impl StreamSession for Session {
    fn poll(&mut self, markets: &Markets, now: i64) -> Vec<String> {
        Session::poll(self, markets, now)
    }
    fn handle(&mut self, _: &Markets, text: &str, now: i64) -> Vec<String> {
        vec![Session::handle(self, text, now)]
    }
    fn binary_reply(&self) -> Option<String> {
        Some(r#"{"error":{"code":3,"msg":"Invalid JSON: binary frames are not supported"},"id":null}"#.into())
    }
}

/// Largest client message accepted (control requests are small).
const MAX_CLIENT_MESSAGE: usize = 64 * 1024;
/// How long a client's Close is waited on to flush our Close reply.
const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// WebSocket settings, counters and the drop signal of one simulator.
#[derive(Debug)]
pub struct WsHub {
    update_ms: u64,
    ping_ms: u64,
    connections: AtomicU64,
    open: AtomicU64,
    frames: AtomicU64,
    /// Connections dropped by `Faults::ws_drop_every_n`.
    fault_drops: AtomicU64,
    /// Connections dropped by the drop signal ([`WsHub::drop_all`]).
    commanded_drops: AtomicU64,
    stopped: AtomicBool,
    drops: watch::Sender<u64>,
}

impl WsHub {
    /// A hub whose connections update every `update_ms` and ping every `ping_ms` (wall ms, at
    /// least 1).
    pub fn new(update_ms: u64, ping_ms: u64) -> WsHub {
        WsHub {
            update_ms: update_ms.max(1),
            ping_ms: ping_ms.max(1),
            connections: AtomicU64::new(0),
            open: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            fault_drops: AtomicU64::new(0),
            commanded_drops: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            drops: watch::channel(0).0,
        }
    }

    /// Drops every open connection abruptly (no Close frame); returns how many were open.
    pub fn drop_all(&self) -> u64 {
        let open = self.open();
        self.drops.send_modify(|g| *g = g.wrapping_add(1));
        open
    }

    /// Drops every connection and refuses to serve new ones (the simulator is stopping).
    pub fn stop(&self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.drop_all();
    }

    /// Connections accepted since start or the last reset.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Connections open now.
    pub fn open(&self) -> u64 {
        self.open.load(Ordering::SeqCst)
    }

    /// Kline frames sent since start or the last reset.
    pub fn frames(&self) -> u64 {
        self.frames.load(Ordering::Relaxed)
    }

    /// Connections dropped by the `ws_drop_every_n` fault since start or the last reset.
    pub fn fault_drops(&self) -> u64 {
        self.fault_drops.load(Ordering::Relaxed)
    }

    /// Connections dropped by [`WsHub::drop_all`] since start or the last reset (each counted
    /// when its task ends it).
    pub fn commanded_drops(&self) -> u64 {
        self.commanded_drops.load(Ordering::Relaxed)
    }

    /// Zeroes the accepted-connection, frame and drop counters (open connections stay
    /// counted).
    pub fn reset(&self) {
        for c in [
            &self.connections,
            &self.frames,
            &self.fault_drops,
            &self.commanded_drops,
        ] {
            c.store(0, Ordering::Relaxed);
        }
    }
}

/// Counts a connection as open while alive.
struct OpenGuard<'a>(&'a WsHub);

impl<'a> OpenGuard<'a> {
    fn new(hub: &'a WsHub) -> Self {
        hub.connections.fetch_add(1, Ordering::Relaxed);
        hub.open.fetch_add(1, Ordering::SeqCst);
        OpenGuard(hub)
    }
}

impl Drop for OpenGuard<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The stream routes (merged at the root of the simulator's router).
pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/ws", get(raw_root))
        .route("/ws/{*streams}", get(raw))
        .route("/stream", get(combined))
}

fn upgrade(
    ws: WebSocketUpgrade,
    shared: Arc<Shared>,
    names: Vec<String>,
    combined: bool,
) -> Response {
    let session = Session::new(names.iter().map(String::as_str), combined, shared.now_ms());
    upgrade_session(ws, shared, session)
}

/// Serve one connection of any venue's stream protocol (counted, dropped and paced by the
/// hub like Binance's).
pub fn upgrade_session(
    ws: WebSocketUpgrade,
    shared: Arc<Shared>,
    session: impl StreamSession,
) -> Response {
    ws.max_message_size(MAX_CLIENT_MESSAGE)
        .max_frame_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| serve(socket, shared, session))
}

fn split(streams: &str) -> Vec<String> {
    streams
        .split('/')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

async fn raw_root(State(s): State<Arc<Shared>>, ws: WebSocketUpgrade) -> Response {
    upgrade(ws, s, Vec::new(), false)
}

async fn raw(
    State(s): State<Arc<Shared>>,
    Path(streams): Path<String>,
    ws: WebSocketUpgrade,
) -> Response {
    upgrade(ws, s, split(&streams), false)
}

async fn combined(
    State(s): State<Arc<Shared>>,
    RawQuery(raw): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    let pairs = crate::query::parse(raw.as_deref().unwrap_or(""));
    let streams = pairs
        .iter()
        .find(|(k, _)| k == "streams")
        .map_or("", |(_, v)| v.as_str());
    upgrade(ws, s, split(streams), true)
}

/// Why a connection ended (only for readability; every end just drops the socket).
enum End {
    /// Client gone, I/O error, drop fault or drop signal.
    Drop,
    /// The client sent Close: flush our Close reply first.
    Close,
}

/// The socket task of one connection.
async fn serve(mut socket: WebSocket, shared: Arc<Shared>, mut session: impl StreamSession) {
    let hub = shared.ws();
    let mut drops = hub.drops.subscribe();
    if hub.stopped.load(Ordering::SeqCst) {
        return;
    }
    let _open = OpenGuard::new(hub);
    let mut sent: u64 = 0;
    let mut update = tokio::time::interval(Duration::from_millis(hub.update_ms));
    update.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let ping_every = Duration::from_millis(hub.ping_ms);
    let mut ping = tokio::time::interval_at(Instant::now() + ping_every, ping_every);
    ping.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let end = loop {
        tokio::select! {
            _ = drops.changed() => {
                hub.commanded_drops.fetch_add(1, Ordering::Relaxed);
                break End::Drop;
            }
            _ = update.tick() => {
                let frames = session.poll(shared.markets(), shared.now_ms());
                let drop_after = shared.faults().ws_drop_every_n.filter(|n| *n > 0).map(u64::from);
                let mut dropped = false;
                for text in frames {
                    if socket.send(Message::text(text)).await.is_err() {
                        dropped = true;
                        break;
                    }
                    hub.frames.fetch_add(1, Ordering::Relaxed);
                    sent += 1;
                    if drop_after.is_some_and(|n| sent >= n) {
                        hub.fault_drops.fetch_add(1, Ordering::Relaxed);
                        dropped = true;
                        break;
                    }
                }
                if dropped {
                    break End::Drop;
                }
            }
            _ = ping.tick() => {
                if socket.send(Message::Ping(Bytes::new())).await.is_err() {
                    break End::Drop;
                }
            }
            msg = socket.recv() => match msg {
                None | Some(Err(_)) => break End::Drop,
                Some(Ok(Message::Text(text))) => {
                    let mut gone = false;
                    for reply in session.handle(shared.markets(), text.as_str(), shared.now_ms()) {
                        if socket.send(Message::text(reply)).await.is_err() {
                            gone = true;
                            break;
                        }
                    }
                    if gone {
                        break End::Drop;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    if let Some(reply) = session.binary_reply()
                        && socket.send(Message::text(reply)).await.is_err()
                    {
                        break End::Drop;
                    }
                }
                Some(Ok(Message::Close(_))) => break End::Close,
                Some(Ok(_)) => {}
            },
        }
    };
    if let End::Close = end {
        // tungstenite queued the Close reply; reading on flushes it and sees the stream end.
        let _ = tokio::time::timeout(CLOSE_GRACE, async {
            while let Some(Ok(_)) = socket.recv().await {}
        })
        .await;
    }
    // Dropping the socket ends the TCP stream, without a Close frame unless one was exchanged.
}

#[cfg(test)]
mod tests;
