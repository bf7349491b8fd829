//! The live feed of one series: a task that follows the exchange through its adapter and
//! emits [`FeedEvent`]s on a channel.
//!
//! The adapter's `live-plan` decides the transport:
//! - **WebSocket**: the plan's URL is rewritten through the exchange's [`BaseMap`] (so a
//!   user override such as the simulator applies), connected within
//!   [`FeedOptions::connect_timeout`], the subscribe messages are sent, and every text frame
//!   goes through the adapter's `live-parse`. Pings are answered by tungstenite; the feed
//!   flushes after each ping so that the pong leaves at once. A close frame, a read error
//!   or no frame at all for [`FeedOptions::idle_timeout`] ends the connection
//!   ([`FeedEvent::Disconnected`]); the feed reconnects after an exponential backoff with
//!   jitter between [`FeedOptions::backoff_min`] and [`FeedOptions::backoff_max`].
//! - **Poll** (the adapter asks for REST polling): the plan's request is sent every
//!   interval and the answer parsed with the adapter's regular `parse`.
//! - **Generic polling** for any adapter: when `live-plan` fails (the adapter has no live
//!   source, or the component traps), when the WebSocket URL cannot be used (a malformed
//!   URL or scheme), or when [`FeedOptions::force_poll`] is set, the feed
//!   polls the newest page of the adapter's regular `plan` over
//!   `[floor(now) - k·tf, floor(now) + tf)`, `k` = [`FeedOptions::poll_lookback`].
//!
//! When polling, a candle is closed when `open_time + tf <= now` by the feed's [`Clock`],
//! `now` read when the request is sent (a candle the answer shows forming never turns
//! closed because the clock moved on while the request was in flight); over a WebSocket
//! the adapter's `closed` flag is used.
//!
//! A frame the adapter rejects (an adapter error, or a component trap or contract breach)
//! is logged under the feed's span (exchange, symbol, timeframe) and counted
//! ([`FeedCounters::rejected_frames`]); it never ends the feed.
//!
//! A closed candle is emitted at most once over the feed's life (so never twice in one
//! connection), and nothing older than the last closed candle is emitted; forming updates
//! of the current candle may repeat. The task ends when its [`FeedHandle`] is stopped or
//! dropped, or when the receiver of the events is dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::{self, Message};
use tracing::Instrument;

use crate::components::{Adapter, AdapterError, HttpRequest, LiveCandle, LivePlan};
use crate::domain::{Candle, Clock, NodeId, Timeframe, Window};
use crate::net::{BaseMap, HttpClient, RetryPolicy};
use crate::provider::{Exchange, Provider, ProviderError};
use crate::ratelimit::KeyLimiter;

/// Where live candles come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedSource {
    /// A WebSocket stream at `url` (after base mapping).
    WebSocket { url: String },
    /// REST polling every `interval_ms`.
    Poll { interval_ms: u64 },
}

/// What a feed reports.
#[derive(Debug, Clone, PartialEq)]
pub enum FeedEvent {
    /// The feed is receiving from `source` (a WebSocket connected, or a poll answered
    /// after a failure or for the first time).
    Connected { source: FeedSource },
    /// A candle: `closed` is false while it is still forming. `received` is when its
    /// frame or poll answer arrived.
    Candle {
        candle: Candle,
        closed: bool,
        received: Instant,
    },
    /// The feed lost its source (or could not reach it); it retries by itself.
    Disconnected { reason: String },
}

/// How a feed behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedOptions {
    /// Longest wait for a WebSocket connection (default 10 s).
    pub connect_timeout: Duration,
    /// A WebSocket that sends no frame at all for this long is dropped and reconnected
    /// (default 30 s).
    pub idle_timeout: Duration,
    /// Wait before reconnecting (default 250 ms): a random time between half of this and
    /// all of it, doubling per failed attempt in a row (a connection that delivered frames
    /// starts over).
    pub backoff_min: Duration,
    /// Longest wait before reconnecting or polling again after failures (default 30 s).
    pub backoff_max: Duration,
    /// Polling interval; `None` = the adapter's poll plan interval, or for generic
    /// polling `min(tf / 2, 5 s)` but at least 200 ms. An explicit value is used as given
    /// (at least 10 ms).
    pub poll_interval: Option<Duration>,
    /// Closed candles before the forming one that generic polling asks for (`k`,
    /// default 3).
    pub poll_lookback: u32,
    /// Poll even when the adapter offers a WebSocket (default false).
    pub force_poll: bool,
    /// Per-request timeout of polling (default 10 s).
    pub http_timeout: Duration,
    /// Events buffered for a slow receiver before the feed waits (default 4096).
    pub channel_capacity: usize,
}

impl Default for FeedOptions {
    fn default() -> Self {
        FeedOptions {
            connect_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            backoff_min: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            poll_interval: None,
            poll_lookback: 3,
            force_poll: false,
            http_timeout: Duration::from_secs(10),
            channel_capacity: 4096,
        }
    }
}

/// The default generic polling interval for `tf`: `min(tf / 2, 5 s)`, at least 200 ms.
pub fn default_poll_interval(tf: Timeframe) -> Duration {
    let half = Duration::from_millis((tf.nominal_ms() / 2).max(0) as u64);
    half.min(Duration::from_secs(5))
        .max(Duration::from_millis(200))
}

/// Counters of a feed since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounters {
    /// WebSocket frames received (any kind), or poll answers received.
    pub frames: u64,
    /// Frames or poll answers the adapter rejected (guest error, trap, contract breach).
    pub rejected_frames: u64,
    /// Candles emitted (forming and closed).
    pub candles: u64,
    /// Closed candles emitted.
    pub closed: u64,
    /// `Connected` events emitted.
    pub connects: u64,
    /// `Disconnected` events emitted.
    pub disconnects: u64,
    /// Failed connection attempts or polls.
    pub failures: u64,
}

#[derive(Debug, Default)]
struct Stats {
    frames: AtomicU64,
    rejected_frames: AtomicU64,
    candles: AtomicU64,
    closed: AtomicU64,
    connects: AtomicU64,
    disconnects: AtomicU64,
    failures: AtomicU64,
}

impl Stats {
    fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> FeedCounters {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FeedCounters {
            frames: g(&self.frames),
            rejected_frames: g(&self.rejected_frames),
            candles: g(&self.candles),
            closed: g(&self.closed),
            connects: g(&self.connects),
            disconnects: g(&self.disconnects),
            failures: g(&self.failures),
        }
    }
}

/// Owns a running feed: stopping or dropping it ends the feed's task.
#[derive(Debug)]
pub struct FeedHandle {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
    stats: Arc<Stats>,
}

impl FeedHandle {
    /// The feed's counters so far.
    pub fn counters(&self) -> FeedCounters {
        self.stats.snapshot()
    }

    /// True when the feed's task has ended.
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// End the feed (closing its WebSocket politely) and wait for its task, at most 2 s.
    pub async fn stop(mut self) -> FeedCounters {
        let _ = self.stop.send(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(2), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
        self.stats.snapshot()
    }
}

impl Drop for FeedHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Starts live feeds.
pub struct LiveFeed;

impl LiveFeed {
    /// Follow `node` on `exchange` live, reading time from `clock`. Needs a Tokio runtime.
    /// Polls are not rate-limited; see [`LiveFeed::for_provider`].
    pub fn spawn(
        node: NodeId,
        exchange: Exchange,
        clock: Clock,
        opts: FeedOptions,
    ) -> (FeedHandle, mpsc::Receiver<FeedEvent>) {
        Self::spawn_limited(node, exchange, clock, opts, None)
    }

    /// [`LiveFeed::spawn`], with every poll request taken from `limiter` (the exchange's
    /// budget shared with backfills) and its answer's used-weight header fed back.
    pub(crate) fn spawn_limited(
        node: NodeId,
        exchange: Exchange,
        clock: Clock,
        opts: FeedOptions,
        limiter: Option<Arc<KeyLimiter>>,
    ) -> (FeedHandle, mpsc::Receiver<FeedEvent>) {
        let (tx, rx) = mpsc::channel(opts.channel_capacity.max(1));
        let (stop_tx, stop_rx) = watch::channel(false);
        let stats = Arc::new(Stats::default());
        let span = tracing::info_span!(
            "live_feed",
            exchange = %node.exchange,
            symbol = %node.symbol,
            timeframe = %node.timeframe
        );
        let feed = Feed {
            http: HttpClient::new(opts.http_timeout),
            backoff: RetryPolicy {
                max_attempts: u32::MAX,
                base_delay: opts.backoff_min.max(Duration::from_millis(1)),
                max_delay: opts.backoff_max.max(opts.backoff_min),
            },
            node,
            adapter: exchange.adapter,
            bases: exchange.bases,
            clock,
            opts,
            tx,
            stop: stop_rx,
            stats: stats.clone(),
            last_closed: None,
            link: Link::Starting,
            limiter,
        };
        let task = tokio::spawn(feed.run().instrument(span));
        (
            FeedHandle {
                stop: stop_tx,
                task: Some(task),
                stats,
            },
            rx,
        )
    }

    /// Follow `node` through `provider`'s adapter for its exchange (with the user's base
    /// overrides) and `provider`'s clock.
    pub fn for_provider(
        provider: &Provider,
        node: &NodeId,
        opts: FeedOptions,
    ) -> Result<(FeedHandle, mpsc::Receiver<FeedEvent>), ProviderError> {
        let exchange = provider.exchange(node)?;
        let limiter = provider.limiter(&exchange);
        Ok(Self::spawn_limited(
            node.clone(),
            exchange,
            provider.clock().clone(),
            opts,
            Some(limiter),
        ))
    }
}

/// Run a guest call off the async threads.
async fn guest<R: Send + 'static>(
    adapter: &Arc<Adapter>,
    f: impl FnOnce(&Adapter) -> R + Send + 'static,
) -> Result<R, String> {
    let a = adapter.clone();
    tokio::task::spawn_blocking(move || f(&a))
        .await
        .map_err(|e| format!("guest task failed: {e}"))
}

/// Wait until the stop flag is raised or its sender is gone.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// The open time `n` slots before `open`.
fn back(tf: Timeframe, open: i64, n: u32) -> i64 {
    match tf.fixed_ms() {
        Some(step) => open - step * i64::from(n),
        None => (0..n).fold(open, |t, _| tf.floor(t - 1)),
    }
}

/// Connection state, for emitting `Connected` / `Disconnected` on transitions only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Nothing reported yet.
    Starting,
    Up,
    Down,
}

/// How a WebSocket connection ended.
enum WsEnd {
    /// Stop requested, or the receiver is gone.
    Stop,
    /// Lost; `healthy` when it delivered at least one frame (resets the backoff).
    Lost { reason: String, healthy: bool },
}

/// Which polling.
enum PollKind {
    /// The adapter's own poll plan.
    Plan { request: HttpRequest },
    /// The newest page of the adapter's regular `plan`.
    Generic,
}

struct Feed {
    node: NodeId,
    adapter: Arc<Adapter>,
    bases: BaseMap,
    clock: Clock,
    opts: FeedOptions,
    http: HttpClient,
    backoff: RetryPolicy,
    tx: mpsc::Sender<FeedEvent>,
    stop: watch::Receiver<bool>,
    stats: Arc<Stats>,
    /// Open time of the newest closed candle emitted.
    last_closed: Option<i64>,
    link: Link,
    /// The exchange's rate limiter, for polls.
    limiter: Option<Arc<KeyLimiter>>,
}

impl Feed {
    async fn run(mut self) {
        let kind = if self.opts.force_poll {
            tracing::info!("polling forced by the options");
            PollKind::Generic
        } else {
            let n = self.node.clone();
            match guest(&self.adapter, move |a| a.live_plan(&n)).await {
                Ok(Ok(Ok(LivePlan::WebSocket { url, subscribe }))) => {
                    let actual = self.bases.rewrite(&url);
                    match self.run_ws(&actual, &subscribe).await {
                        None => return,
                        Some(why) => {
                            tracing::warn!(url = %actual, "cannot use the WebSocket ({why}); polling the REST API instead");
                            PollKind::Generic
                        }
                    }
                }
                Ok(Ok(Ok(LivePlan::Poll {
                    request,
                    interval_ms,
                }))) => {
                    if self.opts.poll_interval.is_none() {
                        self.opts.poll_interval = Some(Duration::from_millis(interval_ms.max(10)));
                    }
                    PollKind::Plan { request }
                }
                Ok(Ok(Err(e))) => {
                    tracing::info!(error = %e, "the adapter offers no live source; polling the REST API");
                    PollKind::Generic
                }
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "live-plan failed; polling the REST API");
                    PollKind::Generic
                }
                Err(e) => {
                    tracing::warn!(error = %e, "live-plan failed; polling the REST API");
                    PollKind::Generic
                }
            }
        };
        self.run_poll(kind).await;
    }

    fn is_stopped(&self) -> bool {
        *self.stop.borrow() || self.tx.is_closed()
    }

    /// Send an event; false when the receiver is gone.
    async fn emit(&self, ev: FeedEvent) -> bool {
        self.tx.send(ev).await.is_ok()
    }

    async fn connected(&mut self, source: FeedSource) -> bool {
        if self.link == Link::Up {
            return true;
        }
        self.link = Link::Up;
        Stats::bump(&self.stats.connects);
        tracing::info!(source = ?source, "live feed connected");
        self.emit(FeedEvent::Connected { source }).await
    }

    /// Report a lost source (once per outage).
    async fn down(&mut self, reason: String) -> bool {
        if self.link == Link::Down {
            tracing::debug!(%reason, "live feed still down");
            return true;
        }
        self.link = Link::Down;
        Stats::bump(&self.stats.disconnects);
        tracing::warn!(%reason, "live feed disconnected");
        self.emit(FeedEvent::Disconnected { reason }).await
    }

    /// Emit parsed candles, skipping anything at or before the newest closed one.
    async fn candles(&mut self, live: Vec<LiveCandle>, received: Instant) -> bool {
        for lc in live {
            let open = lc.candle.open_time;
            if self.last_closed.is_some_and(|last| open <= last) {
                continue;
            }
            if lc.closed {
                self.last_closed = Some(open);
                Stats::bump(&self.stats.closed);
            }
            Stats::bump(&self.stats.candles);
            let ev = FeedEvent::Candle {
                candle: lc.candle,
                closed: lc.closed,
                received,
            };
            if !self.emit(ev).await {
                return false;
            }
        }
        true
    }

    fn reject(&self, why: &str, frame: &str) {
        let n = self.stats.rejected_frames.fetch_add(1, Ordering::Relaxed) + 1;
        let excerpt: String = frame.chars().take(200).collect();
        // Loud for the first few, then sampled: a broken adapter must not flood the log.
        if n <= 10 || n.is_multiple_of(100) {
            tracing::warn!(rejected = n, frame = %excerpt, "live frame rejected: {why}");
        } else {
            tracing::debug!(rejected = n, frame = %excerpt, "live frame rejected: {why}");
        }
    }

    /// Parse one text frame through the adapter; false when the receiver is gone.
    async fn frame(&mut self, text: String, received: Instant) -> bool {
        let n = self.node.clone();
        let copy = text.clone();
        match guest(&self.adapter, move |a| a.live_parse(&n, &copy)).await {
            Ok(Ok(Ok(live))) => self.candles(live, received).await,
            Ok(Ok(Err(e))) => {
                self.reject(&format!("the adapter refused it: {e}"), &text);
                true
            }
            Ok(Err(e)) => {
                self.reject(&e.to_string(), &text);
                true
            }
            Err(e) => {
                self.reject(&e, &text);
                true
            }
        }
    }

    /// Follow a WebSocket until stopped; returns why it cannot be used at all (for the
    /// polling fallback), or `None` when stopped.
    async fn run_ws(&mut self, url: &str, subscribe: &[String]) -> Option<String> {
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
                Ok(Ok((mut ws, _))) => {
                    let mut sent = Ok(());
                    for m in subscribe {
                        sent = ws.send(Message::text(m.as_str())).await;
                        if sent.is_err() {
                            break;
                        }
                    }
                    match sent {
                        Err(e) => format!("subscribing on {url} failed: {e}"),
                        Ok(()) => {
                            let source = FeedSource::WebSocket {
                                url: url.to_string(),
                            };
                            if !self.connected(source).await {
                                return None;
                            }
                            match self.read_ws(&mut ws).await {
                                WsEnd::Stop => {
                                    let close = ws.close(None);
                                    let _ = tokio::time::timeout(Duration::from_millis(500), close)
                                        .await;
                                    return None;
                                }
                                WsEnd::Lost { reason, healthy } => {
                                    if healthy {
                                        attempt = 0;
                                    }
                                    reason
                                }
                            }
                        }
                    }
                }
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

    async fn read_ws<S>(&mut self, ws: &mut tokio_tungstenite::WebSocketStream<S>) -> WsEnd
    where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let mut healthy = false;
        let idle = self.opts.idle_timeout;
        loop {
            let next = tokio::select! {
                biased;
                _ = stopped(self.stop.clone()) => return WsEnd::Stop,
                r = tokio::time::timeout(idle, ws.next()) => r,
            };
            let received = Instant::now();
            let msg = match next {
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
            Stats::bump(&self.stats.frames);
            let alive = match msg {
                Message::Text(t) => self.frame(t.as_str().to_owned(), received).await,
                Message::Binary(b) => match String::from_utf8(b.to_vec()) {
                    Ok(s) => self.frame(s, received).await,
                    Err(_) => {
                        self.reject("binary frame is not UTF-8 text", "");
                        true
                    }
                },
                Message::Ping(_) => {
                    // tungstenite queued the pong; make it leave now.
                    if let Err(e) = ws.flush().await {
                        return WsEnd::Lost {
                            reason: format!("answering a ping failed: {e}"),
                            healthy,
                        };
                    }
                    true
                }
                Message::Pong(_) | Message::Frame(_) => true,
                Message::Close(frame) => {
                    // Let the queued close reply leave, briefly.
                    let _ = tokio::time::timeout(Duration::from_millis(200), ws.flush()).await;
                    let why = frame
                        .map(|f| format!(": {} {}", f.code, f.reason))
                        .unwrap_or_default();
                    return WsEnd::Lost {
                        reason: format!("closed by the server{why}"),
                        healthy,
                    };
                }
            };
            if !alive {
                return WsEnd::Stop;
            }
        }
    }

    fn poll_interval(&self) -> Duration {
        match self.opts.poll_interval {
            Some(d) => d.max(Duration::from_millis(10)),
            None => default_poll_interval(self.node.timeframe),
        }
    }

    /// Poll until stopped.
    async fn run_poll(&mut self, kind: PollKind) {
        let interval = self.poll_interval();
        let source = FeedSource::Poll {
            interval_ms: interval.as_millis() as u64,
        };
        let mut failures = 0u32;
        loop {
            if self.is_stopped() {
                return;
            }
            let started = tokio::time::Instant::now();
            let wait = match self.poll_once(&kind).await {
                Ok(live) => {
                    failures = 0;
                    Stats::bump(&self.stats.frames);
                    if !self.connected(source.clone()).await
                        || !self.candles(live, Instant::now()).await
                    {
                        return;
                    }
                    interval.saturating_sub(started.elapsed())
                }
                Err((reason, at_least)) => {
                    failures = failures.saturating_add(1);
                    Stats::bump(&self.stats.failures);
                    if !self.down(reason).await {
                        return;
                    }
                    interval.max(self.backoff.backoff(failures)).max(at_least)
                }
            };
            tokio::select! {
                _ = stopped(self.stop.clone()) => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One poll: the candles of the answer with their closed flags, or why it failed and
    /// the least time to wait before the next one.
    async fn poll_once(&mut self, kind: &PollKind) -> Result<Vec<LiveCandle>, (String, Duration)> {
        let tf = self.node.timeframe;
        let now = self.clock.now_ms();
        let forming = tf.floor(now);
        let after_forming = tf.next(forming);
        let (request, window) = match kind {
            PollKind::Plan { request } => (
                request.clone(),
                // The request is the adapter's; accept anything up to one slot of clock
                // skew past the forming candle.
                Window {
                    start: 0,
                    end: tf.next(after_forming),
                },
            ),
            PollKind::Generic => {
                let k = self.opts.poll_lookback;
                let window = Window {
                    start: back(tf, forming, k),
                    end: after_forming,
                };
                let limit = (k.saturating_add(1)).min(self.adapter.info().max_candles_per_request);
                let n = self.node.clone();
                let planned = guest(&self.adapter, move |a| a.plan(&n, window, limit))
                    .await
                    .map_err(|e| (e, Duration::ZERO))?;
                match planned {
                    Ok(Ok(req)) => (req, window),
                    Ok(Err(e)) => {
                        return Err((
                            format!("the adapter cannot plan a poll: {e}"),
                            Duration::ZERO,
                        ));
                    }
                    Err(e) => return Err((e.to_string(), Duration::ZERO)),
                }
            }
        };
        let url = self.bases.rewrite(&request.url);
        if let Some(l) = &self.limiter {
            l.acquire().await;
        }
        let resp = self
            .http
            .send(&request, &url)
            .await
            .map_err(|e| (e.to_string(), Duration::ZERO))?;
        if let Some(l) = &self.limiter {
            l.observe(&resp, None).await;
        }
        if resp.status >= 500 {
            return Err((format!("HTTP {} from {url}", resp.status), Duration::ZERO));
        }
        let (n, r) = (self.node.clone(), request.clone());
        let parsed = guest(&self.adapter, move |a| a.parse(&n, window, &r, resp))
            .await
            .map_err(|e| (e, Duration::ZERO))?;
        let page = match parsed {
            Ok(Ok(page)) => page,
            Ok(Err(AdapterError::RateLimited { retry_after_ms })) => {
                return Err((
                    format!("rate limited: the exchange asks to wait {retry_after_ms} ms"),
                    Duration::from_millis(retry_after_ms),
                ));
            }
            Ok(Err(e)) => {
                Stats::bump(&self.stats.rejected_frames);
                return Err((format!("poll answer refused: {e}"), Duration::ZERO));
            }
            Err(e) => {
                self.reject(&e.to_string(), "");
                return Err((format!("poll answer rejected: {e}"), Duration::ZERO));
            }
        };
        // Closed-ness by the time the request was sent: a candle the answer shows forming
        // must not turn "closed" because the clock moved on while it was in flight.
        Ok(page
            .candles
            .into_iter()
            .map(|c| LiveCandle {
                closed: tf.next(c.open_time) <= now,
                candle: c,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::{ComponentHost, SandboxLimits};
    use std::path::PathBuf;
    use tokio::net::TcpListener;

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
        let t = Instant::now();
        while handle.counters().failures < 3 && t.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let c = handle.counters();
        assert!(c.failures >= 3, "{c:?}");
        assert_eq!(c.disconnects, 1, "{c:?}");
        handle.stop().await;
    }

    #[test]
    fn poll_defaults_and_steps() {
        assert_eq!(
            default_poll_interval(Timeframe::S1),
            Duration::from_millis(500)
        );
        assert_eq!(default_poll_interval(Timeframe::M1), Duration::from_secs(5));
        assert_eq!(back(Timeframe::M1, 10 * MIN, 3), 7 * MIN);
        let feb = 1_706_745_600_000; // 2024-02-01
        assert_eq!(back(Timeframe::Mo1, feb, 1), T0);
    }
}
