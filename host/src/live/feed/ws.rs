//! The WebSocket transport of a live feed: connect within the timeout, subscribe (paced
//! by the route's messages per second), read frames through the adapter's `live-parse`,
//! send its replies and the route's heartbeat, answer pings at once, drop a silent
//! connection after the idle timeout, replace one before the route's lifetime, reconnect
//! with backoff.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::{self, Message};

use super::{Feed, FeedSource, Observed, Stats, stopped};
use crate::components::{AdapterError, ComponentError, Frame, Heartbeat, LiveEvents};
use crate::domain::Candle;

/// Most frames read through the adapter in one round trip.
const MAX_FRAMES_PER_CALL: usize = 256;

/// What the feed needs of one connection of a route.
#[derive(Debug, Clone)]
pub(super) struct WsPlan {
    /// After base mapping.
    pub url: String,
    pub subscribe: Vec<String>,
    /// Stream key → index of the feed's series it carries.
    pub keys: HashMap<String, usize>,
    pub messages_per_second: u32,
    pub lifetime: Option<Duration>,
    pub heartbeat: Option<Heartbeat>,
    pub closed_by_next: bool,
}

/// How a WebSocket connection ended.
enum WsEnd {
    /// Stop requested, or the receiver is gone.
    Stop,
    /// Lost; `healthy` when it delivered at least one frame (resets the backoff).
    Lost { reason: String, healthy: bool },
    /// Replaced before the venue's connection lifetime: reconnect at once.
    Renew,
}

/// The state of one connection: aliases announced on it.
#[derive(Default)]
struct Conn {
    aliases: HashMap<String, String>,
}

/// What a frame asks of the connection.
enum Read {
    /// Go on, after sending these replies.
    Replies(Vec<String>),
    /// No receiver is left.
    Stop,
}

impl Feed {
    /// Read `frames` (in arrival order) through the adapter in one guest round trip, then
    /// handle each one's events in order; false when no receiver is left. Replies go to
    /// `replies`.
    async fn frames(
        &mut self,
        frames: Vec<Frame>,
        received: Instant,
        plan: &WsPlan,
        conn: &mut Conn,
        replies: &mut Vec<String>,
    ) -> bool {
        if frames.is_empty() {
            return true;
        }
        // The frames travel to the blocking pool and back (kept for excerpts in logs).
        let (frames, parsed) = match self
            .route
            .guest(move |a| {
                let parsed: Vec<_> = frames.iter().map(|f| a.live_parse(f)).collect();
                (frames, parsed)
            })
            .await
        {
            Ok(v) => v,
            Err(e) => {
                // The task itself failed (a panic on the pool): the frames are lost.
                self.reject(&e.to_string(), "");
                return true;
            }
        };
        for (frame, r) in frames.iter().zip(parsed) {
            match self.frame(frame, r, received, plan, conn).await {
                Read::Stop => return false,
                Read::Replies(r) => replies.extend(r),
            }
        }
        true
    }

    /// Handle what the adapter read from one frame: emit each series' candles.
    async fn frame(
        &mut self,
        frame: &Frame,
        parsed: Result<Result<LiveEvents, AdapterError>, ComponentError>,
        received: Instant,
        plan: &WsPlan,
        conn: &mut Conn,
    ) -> Read {
        let events = match parsed {
            Ok(Ok(ev)) => ev,
            Ok(Err(e)) => {
                self.reject(&format!("the adapter refused it: {e}"), &frame.excerpt(200));
                return Read::Replies(Vec::new());
            }
            Err(e) => {
                self.reject(&e.to_string(), &frame.excerpt(200));
                return Read::Replies(Vec::new());
            }
        };
        let LiveEvents {
            updates,
            replies,
            aliases,
            refused,
        } = events;
        for (alias, key) in aliases {
            conn.aliases.insert(alias, key);
        }
        let target = |k: &str| {
            plan.keys
                .get(k)
                .or_else(|| conn.aliases.get(k).and_then(|key| plan.keys.get(key)))
                .copied()
        };
        for (key, e) in &refused {
            if let Some(i) = target(key) {
                self.refuse(i, e.to_string()).await;
            }
        }
        // Updates grouped by series, in the frame's order (most frames carry one).
        let mut by_target: Vec<(usize, Vec<Observed>)> = Vec::new();
        for u in updates {
            let Some(i) = target(&u.key) else { continue };
            let o = Observed {
                candle: u.candle,
                closed: u.closed,
            };
            match by_target.iter_mut().find(|(t, _)| *t == i) {
                Some((_, v)) => v.push(o),
                None => by_target.push((i, vec![o])),
            }
        }
        let mut alive = false;
        for (i, mut mine) in by_target {
            if self.targets[i].gone {
                continue;
            }
            let candles: Vec<Candle> = mine.iter().map(|o| o.candle).collect();
            if let Err(e) = self
                .route
                .adapter()
                .check_live_candles(&self.targets[i].node, &candles)
            {
                self.reject(&e.to_string(), &frame.excerpt(200));
                continue;
            }
            if plan.closed_by_next {
                mine = close_by_next(&mut self.targets[i].forming, mine);
            }
            alive |= self.candles(i, mine, received).await;
        }
        if alive || !self.is_stopped() {
            Read::Replies(replies)
        } else {
            Read::Stop
        }
    }

    /// Follow a WebSocket until stopped; returns why it cannot be used at all (for the
    /// polling fallback), or `None` when stopped.
    pub(super) async fn run_ws(&mut self, plan: &WsPlan) -> Option<String> {
        let url = plan.url.as_str();
        let mut attempt = 0u32;
        loop {
            if self.is_stopped() {
                return None;
            }
            let connect = tokio::time::timeout(
                self.opts.connect_timeout,
                tokio_tungstenite::connect_async_with_config(url, None, true),
            );
            let result = tokio::select! {
                _ = stopped(self.stop.clone()) => return None,
                r = connect => r,
            };
            let failure = match result {
                Err(_) => format!(
                    "no WebSocket connection to {url} within {} ms",
                    self.opts.connect_timeout.as_millis()
                ),
                Ok(Err(tungstenite::Error::Url(e))) => {
                    return Some(format!("{url}: {e}"));
                }
                Ok(Err(e)) => format!("cannot connect to {url}: {e}"),
                Ok(Ok((mut ws, _))) => match self.subscribe(&mut ws, plan).await {
                    Err(e) => format!("subscribing on {url} failed: {e}"),
                    Ok(()) => {
                        let source = FeedSource::WebSocket {
                            url: url.to_string(),
                        };
                        if !self.connected(source).await {
                            return None;
                        }
                        match self.read_ws(&mut ws, plan).await {
                            WsEnd::Stop => {
                                let close = ws.close(None);
                                let _ =
                                    tokio::time::timeout(Duration::from_millis(500), close).await;
                                return None;
                            }
                            WsEnd::Renew => {
                                tracing::info!(
                                    "replacing the connection before the venue's lifetime limit"
                                );
                                let close = ws.close(None);
                                let _ =
                                    tokio::time::timeout(Duration::from_millis(500), close).await;
                                attempt = 0;
                                continue;
                            }
                            WsEnd::Lost { reason, healthy } => {
                                if healthy {
                                    attempt = 0;
                                }
                                reason
                            }
                        }
                    }
                },
            };
            Stats::bump(&self.stats.failures);
            if !self.down(failure).await {
                return None;
            }
            attempt = attempt.saturating_add(1);
            let wait = self.backoff.backoff(attempt);
            tracing::debug!(attempt, wait_ms = wait.as_millis() as u64, "reconnecting");
            tokio::select! {
                _ = stopped(self.stop.clone()) => return None,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Send the plan's subscribe messages, no faster than its messages per second.
    async fn subscribe<S>(
        &self,
        ws: &mut tokio_tungstenite::WebSocketStream<S>,
        plan: &WsPlan,
    ) -> Result<(), tungstenite::Error>
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let gap = match plan.messages_per_second {
            0 => Duration::ZERO,
            n => Duration::from_secs(1) / n,
        };
        for (i, m) in plan.subscribe.iter().enumerate() {
            if i > 0 && !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            ws.send(Message::text(m.as_str())).await?;
        }
        Ok(())
    }

    async fn read_ws<S>(
        &mut self,
        ws: &mut tokio_tungstenite::WebSocketStream<S>,
        plan: &WsPlan,
    ) -> WsEnd
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let mut healthy = false;
        let idle = self.opts.idle_timeout;
        let mut conn = Conn::default();
        // Renew at 95 % of the venue's lifetime, so the old connection is still up.
        let renew_at = plan
            .lifetime
            .map(|l| tokio::time::Instant::now() + l.mul_f64(0.95));
        let beat_every = plan
            .heartbeat
            .as_ref()
            .map(|h| h.interval)
            .unwrap_or(Duration::from_secs(3600 * 24 * 365));
        let mut beat =
            tokio::time::interval_at(tokio::time::Instant::now() + beat_every, beat_every);
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let renew = async {
                match renew_at {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            };
            let next = tokio::select! {
                biased;
                _ = stopped(self.stop.clone()) => return WsEnd::Stop,
                _ = renew => return WsEnd::Renew,
                _ = beat.tick(), if plan.heartbeat.is_some() => {
                    let message = plan.heartbeat.as_ref().map(|h| h.message.clone()).unwrap_or_default();
                    if let Err(e) = ws.send(Message::text(message)).await {
                        return WsEnd::Lost { reason: format!("sending the heartbeat failed: {e}"), healthy };
                    }
                    continue;
                }
                r = tokio::time::timeout(idle, ws.next()) => r,
            };
            let received = Instant::now();
            let first = match next {
                Err(_) => {
                    return WsEnd::Lost {
                        reason: format!("no frame for {} ms (idle timeout)", idle.as_millis()),
                        healthy,
                    };
                }
                Ok(None) => {
                    return WsEnd::Lost {
                        reason: "the server ended the connection".into(),
                        healthy,
                    };
                }
                Ok(Some(Err(e))) => {
                    return WsEnd::Lost {
                        reason: format!("read error: {e}"),
                        healthy,
                    };
                }
                Ok(Some(Ok(m))) => m,
            };
            healthy = true;
            // Every frame already received goes to the adapter in one round trip (a
            // connection carrying many streams gets them in bursts).
            let mut msgs = vec![first];
            let mut after: Option<String> = None;
            while msgs.len() < MAX_FRAMES_PER_CALL {
                match ws.next().now_or_never() {
                    Some(Some(Ok(m))) => msgs.push(m),
                    Some(Some(Err(e))) => {
                        after = Some(format!("read error: {e}"));
                        break;
                    }
                    Some(None) => {
                        after = Some("the server ended the connection".into());
                        break;
                    }
                    None => break,
                }
            }
            let mut frames = Vec::new();
            let mut replies = Vec::new();
            let mut end = None;
            for msg in msgs {
                Stats::bump(&self.stats.frames);
                match msg {
                    Message::Text(t) => frames.push(Frame::Text(t.as_str().to_owned())),
                    Message::Binary(b) => frames.push(Frame::Binary(b.to_vec())),
                    Message::Ping(_) => {
                        // tungstenite queued the pong; make it leave now.
                        if let Err(e) = ws.flush().await {
                            end = Some(format!("answering a ping failed: {e}"));
                            break;
                        }
                    }
                    Message::Pong(_) | Message::Frame(_) => {}
                    Message::Close(frame) => {
                        // Let the queued close reply leave, briefly.
                        let _ = tokio::time::timeout(Duration::from_millis(200), ws.flush()).await;
                        let why = frame
                            .map(|f| format!(": {} {}", f.code, f.reason))
                            .unwrap_or_default();
                        end = Some(format!("closed by the server{why}"));
                        break;
                    }
                }
            }
            if !self
                .frames(frames, received, plan, &mut conn, &mut replies)
                .await
            {
                return WsEnd::Stop;
            }
            for r in replies {
                if let Err(e) = ws.send(Message::text(r)).await {
                    return WsEnd::Lost {
                        reason: format!("replying to the venue failed: {e}"),
                        healthy,
                    };
                }
            }
            if let Some(reason) = end.or(after) {
                return WsEnd::Lost { reason, healthy };
            }
        }
    }
}

/// For a venue that flags no closed candle: an update of a later candle closes the
/// forming one (emitted as closed, with its last values, before the update).
fn close_by_next(forming: &mut Option<Candle>, updates: Vec<Observed>) -> Vec<Observed> {
    let mut out = Vec::with_capacity(updates.len() + 1);
    for u in updates {
        if u.closed {
            *forming = None;
            out.push(u);
            continue;
        }
        if let Some(f) = *forming
            && u.candle.open_time > f.open_time
        {
            out.push(Observed {
                candle: f,
                closed: true,
            });
        }
        *forming = Some(u.candle);
        out.push(u);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{FeedEvent, FeedOptions, LiveFeed};
    use super::*;
    use crate::components::{Adapter, ComponentHost, SandboxLimits};
    use crate::domain::{Clock, NodeId};
    use crate::net::BaseMap;
    use crate::provider::Exchange;
    use std::path::PathBuf;
    use std::sync::Arc;
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    const T0: i64 = 1_704_067_200_000;
    const MIN: i64 = 60_000;

    fn adapter() -> Arc<Adapter> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("..").join("target"));
        let path = target
            .join("wasm32-wasip2")
            .join("guest")
            .join("binance_adapter.wasm");
        assert!(
            path.is_file(),
            "{} is missing: build the guest components first with `just guests`",
            path.display()
        );
        let host = ComponentHost::new(SandboxLimits::default(), None).expect("component host");
        Arc::new(host.load_adapter_file(&path).expect("binance adapter"))
    }

    fn kline(open: i64, close: f64, closed: bool) -> String {
        format!(
            r#"{{"e":"kline","E":{open},"s":"BTCUSDT","k":{{"t":{open},"T":{},"s":"BTCUSDT","i":"1m","o":"100","c":"{close}","h":"110","l":"90","v":"1.5","x":{closed}}}}}"#,
            open + MIN - 1
        )
    }

    /// A WebSocket server on 127.0.0.1:0 running `script` for each connection (its index
    /// and the socket); returns the ws:// base.
    async fn server<F, Fut>(script: F) -> String
    where
        F: Fn(usize, tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> Fut
            + Send
            + Sync
            + 'static,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let script = Arc::new(script);
        tokio::spawn(async move {
            let mut i = 0;
            while let Ok((tcp, _)) = listener.accept().await {
                let script = script.clone();
                let n = i;
                i += 1;
                tokio::spawn(async move {
                    if let Ok(ws) = tokio_tungstenite::accept_async(tcp).await {
                        script(n, ws).await;
                    }
                });
            }
        });
        format!("ws://{addr}")
    }

    fn exchange(ws_base: &str) -> Exchange {
        let mut bases = BaseMap::default();
        bases.insert("wss://stream.binance.com:9443", ws_base);
        Exchange {
            adapter: adapter(),
            bases,
        }
    }

    fn node() -> NodeId {
        "ohlcv:binance:BTC/USDT:1m".parse().expect("node")
    }

    async fn next(rx: &mut mpsc::Receiver<FeedEvent>) -> FeedEvent {
        tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("an event within 5 s")
            .expect("the feed is running")
    }

    fn opts() -> FeedOptions {
        FeedOptions {
            backoff_min: Duration::from_millis(10),
            backoff_max: Duration::from_millis(50),
            ..FeedOptions::default()
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn websocket_frames_pings_rejections_dedup_and_reconnect() {
        let base = server(|conn, mut ws| async move {
            // The request path is the adapter's stream.
            ws.send(Message::Ping(b"hi".to_vec().into())).await.ok();
            // The pong must come back before anything else is sent.
            // (Without it the candles never come and the test times out.)
            match tokio::time::timeout(Duration::from_secs(2), ws.next()).await {
                Ok(Some(Ok(Message::Pong(p)))) if p.as_ref() == b"hi" => {}
                _ => return,
            }
            let o = T0 + conn as i64 * 10 * MIN;
            for f in [
                kline(o, 101.0, false),
                "not json".to_string(),
                kline(o, 102.0, false),
                kline(o, 103.0, true),
                kline(o, 103.0, true), // repeated closed frame: dropped
                kline(o + MIN, 104.0, false),
            ] {
                ws.send(Message::text(f)).await.ok();
            }
            // Then close: the feed must reconnect (connection 1 serves 10 minutes later).
            if conn == 0 {
                ws.close(None).await.ok();
            } else {
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        })
        .await;
        let (handle, mut rx) = LiveFeed::spawn(node(), exchange(&base), Clock::Fixed(T0), opts());
        let url = format!("{base}/ws/btcusdt@kline_1m");
        for conn in 0..2 {
            assert_eq!(
                next(&mut rx).await,
                FeedEvent::Connected {
                    source: FeedSource::WebSocket { url: url.clone() }
                }
            );
            let o = T0 + conn * 10 * MIN;
            let mut got = Vec::new();
            for _ in 0..4 {
                match next(&mut rx).await {
                    FeedEvent::Candle { candle, closed, .. } => {
                        got.push((candle.open_time, candle.close, closed))
                    }
                    other => panic!("expected a candle, got {other:?}"),
                }
            }
            assert_eq!(
                got,
                [
                    (o, 101.0, false),
                    (o, 102.0, false),
                    (o, 103.0, true),
                    (o + MIN, 104.0, false)
                ]
            );
            if conn == 0 {
                match next(&mut rx).await {
                    FeedEvent::Disconnected { reason } => {
                        assert!(reason.contains("closed"), "{reason}")
                    }
                    other => panic!("expected a disconnect, got {other:?}"),
                }
            }
        }
        let c = handle.stop().await;
        assert_eq!(c.rejected_frames, 2, "{c:?}");
        assert_eq!(c.connects, 2);
        assert_eq!(c.closed, 2);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn idle_connection_is_dropped_and_reconnected() {
        let base = server(|_, mut ws| async move {
            ws.send(Message::text(kline(T0, 1.0, false))).await.ok();
            // Then silence (but keep the socket open).
            tokio::time::sleep(Duration::from_secs(10)).await;
        })
        .await;
        let o = FeedOptions {
            idle_timeout: Duration::from_millis(150),
            ..opts()
        };
        let t = Instant::now();
        let (handle, mut rx) = LiveFeed::spawn(node(), exchange(&base), Clock::Fixed(T0), o);
        assert!(matches!(next(&mut rx).await, FeedEvent::Connected { .. }));
        assert!(matches!(
            next(&mut rx).await,
            FeedEvent::Candle { closed: false, .. }
        ));
        match next(&mut rx).await {
            FeedEvent::Disconnected { reason } => assert!(reason.contains("idle"), "{reason}"),
            other => panic!("expected a disconnect, got {other:?}"),
        }
        assert!(matches!(next(&mut rx).await, FeedEvent::Connected { .. }));
        assert!(t.elapsed() >= Duration::from_millis(150));
        // The forming candle of the new connection repeats: forming updates may.
        assert!(matches!(
            next(&mut rx).await,
            FeedEvent::Candle { closed: false, .. }
        ));
        drop(handle);
        // Dropping the handle ends the task, which closes the channel.
        let end = tokio::time::timeout(Duration::from_secs(2), async {
            while rx.recv().await.is_some() {}
        })
        .await;
        assert!(
            end.is_ok(),
            "the feed did not end after its handle was dropped"
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn unreachable_server_reports_once_and_keeps_trying() {
        // A port with nothing listening.
        let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("ws://{}", l.local_addr().expect("addr"));
        drop(l);
        let (handle, mut rx) = LiveFeed::spawn(node(), exchange(&base), Clock::Fixed(T0), opts());
        assert!(matches!(
            next(&mut rx).await,
            FeedEvent::Disconnected { .. }
        ));
        // Keeps trying: wait for the third failure (not for a guessed time).
        let t = std::time::Instant::now();
        while handle.counters().failures < 3 && t.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let c = handle.counters();
        assert!(c.failures >= 3, "{c:?}");
        assert_eq!(c.disconnects, 1, "{c:?}");
        handle.stop().await;
    }
}
