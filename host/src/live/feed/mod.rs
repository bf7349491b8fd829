//! The live feed of one series: a task that follows the exchange through its adapter and
//! emits [`FeedEvent`]s on a channel.
//!
//! The adapter's `live-plan` for the one market decides the transport ([`ws`] for
//! WebSockets, [`poll`] for REST polling); when it asks for a request first (`prepare`,
//! e.g. a token), the feed sends it through the gateway and plans again with the answer:
//! - **WebSocket**: the connection's URL is rewritten through the exchange's [`BaseMap`]
//!   (so a user override such as the simulator applies), connected within
//!   [`FeedOptions::connect_timeout`], the subscribe messages are sent (no faster than the
//!   route's messages per second), and every frame, text or binary, goes through the
//!   adapter's `live-parse`; its replies are sent back at once, its aliases kept for the
//!   connection, and only updates of the market's stream key are used. The route's
//!   heartbeat is sent on its interval; a connection is replaced before the route's
//!   lifetime. Pings are answered by tungstenite; the feed flushes after each ping so
//!   that the pong leaves at once. A close frame, a read error or no frame at all for
//!   [`FeedOptions::idle_timeout`] ends the connection ([`FeedEvent::Disconnected`]); the
//!   feed reconnects after an exponential backoff with jitter between
//!   [`FeedOptions::backoff_min`] and [`FeedOptions::backoff_max`]. When the route says the
//!   venue flags no closed candle, a candle is closed when a later one arrives.
//! - **Poll** (the adapter asks for REST polling): the plan's request is sent every
//!   interval through the exchange's [`Route`] (the gateway: shared client, the exchange
//!   key's limiter, pauses on 429/418 and `rate-limited` for every user of the key) and
//!   the answer parsed with the adapter's regular `parse`.
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

mod poll;
mod ws;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::components::{LiveConnection, LiveRoute, LiveSetup};
use crate::domain::{Candle, Clock, NodeId, Timeframe};
use crate::gateway::Route;
use crate::net::{HttpClient, RetryPolicy};
use crate::provider::{Exchange, Provider, ProviderError};

use poll::PollKind;
use ws::WsPlan;

/// A candle as a feed observed it: `closed` is false while it is still forming.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Observed {
    pub candle: Candle,
    pub closed: bool,
}

/// Most `prepare` rounds `live-plan` may ask for before it must give a route.
const MAX_PREPARE: usize = 3;

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
    /// The venue refused the series (e.g. an unknown symbol): nothing more will come.
    Refused { reason: String },
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
    /// Follow `node` on `exchange` live, reading time from `clock`, on a client of its
    /// own. Needs a Tokio runtime. Polls are not rate-limited; see
    /// [`LiveFeed::for_provider`] and [`LiveFeed::spawn_on`].
    pub fn spawn(
        node: NodeId,
        exchange: Exchange,
        clock: Clock,
        opts: FeedOptions,
    ) -> (FeedHandle, mpsc::Receiver<FeedEvent>) {
        let http = HttpClient::new(opts.http_timeout);
        let route = Route::unlimited(exchange.adapter, exchange.bases, http);
        Self::spawn_on(node, route, clock, opts)
    }

    /// Follow `node` live over `route` (the gateway's road to its exchange: every poll
    /// takes its weight from the exchange key's limiter shared with backfills, and a
    /// 429/418 or `rate-limited` answer pauses the whole key).
    pub fn spawn_on(
        node: NodeId,
        route: Route,
        clock: Clock,
        opts: FeedOptions,
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
            route: route.with_timeout(opts.http_timeout),
            backoff: RetryPolicy {
                max_attempts: u32::MAX,
                base_delay: opts.backoff_min.max(Duration::from_millis(1)),
                max_delay: opts.backoff_max.max(opts.backoff_min),
            },
            targets: vec![Target::new(node, tx)],
            clock,
            opts,
            stop: stop_rx,
            stats: stats.clone(),
            link: Link::Starting,
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

    /// Follow `nodes` over one WebSocket connection of a route (`connection` of
    /// `route_info`, planned by [`plan_route`] for a list in which `nodes[i]` is the
    /// market with index `market_of[i]`): one event channel per node, in order. A
    /// connection that cannot be used at all (a malformed URL) refuses every node.
    pub fn spawn_connection(
        nodes: Vec<NodeId>,
        connection: &LiveConnection,
        route_info: &LiveRoute,
        market_of: &std::collections::HashMap<u32, usize>,
        route: Route,
        clock: Clock,
        opts: FeedOptions,
    ) -> (FeedHandle, Vec<mpsc::Receiver<FeedEvent>>) {
        let mut targets = Vec::with_capacity(nodes.len());
        let mut rxs = Vec::with_capacity(nodes.len());
        for node in nodes {
            let (tx, rx) = mpsc::channel(opts.channel_capacity.max(1));
            targets.push(Target::new(node, tx));
            rxs.push(rx);
        }
        let keys = connection
            .streams
            .iter()
            .filter_map(|s| market_of.get(&s.market).map(|i| (s.key.clone(), *i)))
            .collect();
        let plan = WsPlan {
            url: route.bases().rewrite(&connection.url),
            subscribe: connection.subscribe.clone(),
            keys,
            messages_per_second: route_info.messages_per_second,
            lifetime: route_info.lifetime,
            heartbeat: route_info.heartbeat.clone(),
            closed_by_next: route_info.closed_by_next,
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let stats = Arc::new(Stats::default());
        let span = tracing::info_span!(
            "live_connection",
            exchange = %targets.first().map(|t| t.node.exchange.clone()).unwrap_or_default(),
            streams = targets.len()
        );
        let mut feed = Feed {
            route: route.with_timeout(opts.http_timeout),
            backoff: RetryPolicy {
                max_attempts: u32::MAX,
                base_delay: opts.backoff_min.max(Duration::from_millis(1)),
                max_delay: opts.backoff_max.max(opts.backoff_min),
            },
            targets,
            clock,
            opts,
            stop: stop_rx,
            stats: stats.clone(),
            link: Link::Starting,
        };
        let task = tokio::spawn(
            async move {
                if let Some(why) = feed.run_ws(&plan).await {
                    for i in 0..feed.targets.len() {
                        feed.refuse(i, format!("the WebSocket cannot be used: {why}"))
                            .await;
                    }
                }
            }
            .instrument(span),
        );
        (
            FeedHandle {
                stop: stop_tx,
                task: Some(task),
                stats,
            },
            rxs,
        )
    }

    /// Follow `node` through `provider`'s road to its exchange (the user's base
    /// overrides, the shared client and limiter) and `provider`'s clock.
    pub fn for_provider(
        provider: &Provider,
        node: &NodeId,
        opts: FeedOptions,
    ) -> Result<(FeedHandle, mpsc::Receiver<FeedEvent>), ProviderError> {
        let exchange = provider.exchange(node)?;
        Ok(Self::spawn_on(
            node.clone(),
            provider.route(&exchange),
            provider.clock().clone(),
            opts,
        ))
    }
}

/// The adapter's route for `nodes` (one exchange), after any `prepare` requests it asks
/// for (sent through the gateway, at most [`MAX_PREPARE`]).
pub async fn plan_route(route: &Route, nodes: &[NodeId]) -> Result<LiveRoute, String> {
    let Some(first) = nodes.first() else {
        return Ok(LiveRoute {
            connections: Vec::new(),
            messages_per_second: 0,
            lifetime: None,
            heartbeat: None,
            closed_by_next: false,
            polls: Vec::new(),
            refused: Vec::new(),
        });
    };
    let mut prepared = None;
    for _ in 0..=MAX_PREPARE {
        let (n, p) = (nodes.to_vec(), prepared.take());
        match route.guest(move |a| a.live_plan(&n, p)).await {
            Ok(Ok(Ok(LiveSetup::Route(r)))) => return Ok(r),
            Ok(Ok(Ok(LiveSetup::Prepare(req)))) => {
                let resp = route
                    .send(&first.exchange, &req)
                    .await
                    .map_err(|e| format!("the request before connecting failed: {e}"))?;
                prepared = Some(resp);
            }
            Ok(Ok(Err(e))) => return Err(format!("the adapter offers no live source ({e})")),
            Ok(Err(e)) => return Err(format!("live-plan failed: {e}")),
            Err(e) => return Err(format!("live-plan failed: {e}")),
        }
    }
    Err(format!(
        "live-plan asked for more than {MAX_PREPARE} requests before connecting"
    ))
}

/// Wait until the stop flag is raised or its sender is gone.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Link {
    /// Nothing reported yet.
    Starting,
    Up,
    Down,
}

/// One series a feed serves: where its events go and what was emitted for it.
struct Target {
    node: NodeId,
    tx: mpsc::Sender<FeedEvent>,
    /// Open time of the newest closed candle emitted.
    last_closed: Option<i64>,
    /// The forming candle, for a venue that flags no closed candle.
    forming: Option<Candle>,
    /// Refused by the venue: no more events.
    gone: bool,
}

impl Target {
    fn new(node: NodeId, tx: mpsc::Sender<FeedEvent>) -> Self {
        Target {
            node,
            tx,
            last_closed: None,
            forming: None,
            gone: false,
        }
    }
}

/// A feed: one connection (or poll loop) serving one or more series. Polls and the
/// adapter's `live-plan` are per series (a single target); a shared WebSocket
/// connection routes each update to its target by stream key.
struct Feed {
    targets: Vec<Target>,
    /// The road to the exchange: adapter, base map, limiter, client.
    route: Route,
    clock: Clock,
    opts: FeedOptions,
    backoff: RetryPolicy,
    stop: watch::Receiver<bool>,
    stats: Arc<Stats>,
    link: Link,
}

impl Feed {
    async fn run(mut self) {
        let kind = if self.opts.force_poll {
            tracing::info!("polling forced by the options");
            Some(PollKind::Generic)
        } else {
            match self.setup().await {
                Ok(route) => self.follow(route).await,
                Err(why) => {
                    tracing::warn!("{why}; polling the REST API");
                    Some(PollKind::Generic)
                }
            }
        };
        if let Some(kind) = kind {
            self.run_poll(kind).await;
        }
    }

    /// The adapter's route for this market, after any `prepare` requests it asks for.
    async fn setup(&mut self) -> Result<LiveRoute, String> {
        plan_route(&self.route, std::slice::from_ref(self.node())).await
    }

    /// Follow the route's WebSocket until stopped (`None`), or say how to poll instead.
    async fn follow(&mut self, route: LiveRoute) -> Option<PollKind> {
        if let Some(c) = route.connections.first() {
            let plan = WsPlan {
                url: self.route.bases().rewrite(&c.url),
                subscribe: c.subscribe.clone(),
                keys: c.streams.iter().map(|s| (s.key.clone(), 0)).collect(),
                messages_per_second: route.messages_per_second,
                lifetime: route.lifetime,
                heartbeat: route.heartbeat.clone(),
                closed_by_next: route.closed_by_next,
            };
            return match self.run_ws(&plan).await {
                None => None,
                Some(why) => {
                    tracing::warn!(url = %plan.url, "cannot use the WebSocket ({why}); polling the REST API instead");
                    Some(PollKind::Generic)
                }
            };
        }
        if let Some(p) = route.polls.into_iter().next() {
            if self.opts.poll_interval.is_none() {
                self.opts.poll_interval = Some(Duration::from_millis(p.interval_ms.max(10)));
            }
            return Some(PollKind::Plan { request: p.request });
        }
        if let Some((_, e)) = route.refused.first() {
            tracing::info!(error = %e, "the adapter cannot follow this market live; polling the REST API");
        }
        Some(PollKind::Generic)
    }

    /// The first series (the only one of a poll feed).
    fn node(&self) -> &NodeId {
        &self.targets[0].node
    }

    fn is_stopped(&self) -> bool {
        *self.stop.borrow() || self.targets.iter().all(|t| t.gone || t.tx.is_closed())
    }

    /// Send an event to every series; false when no receiver is left.
    async fn emit(&self, ev: FeedEvent) -> bool {
        let mut any = false;
        for t in self.targets.iter().filter(|t| !t.gone) {
            any |= t.tx.send(ev.clone()).await.is_ok();
        }
        any
    }

    /// The venue refused series `i`: tell it, and send it nothing more.
    async fn refuse(&mut self, i: usize, reason: String) {
        let t = &mut self.targets[i];
        if t.gone {
            return;
        }
        t.gone = true;
        tracing::warn!(node = %t.node, %reason, "the venue refused the series");
        let _ = t.tx.send(FeedEvent::Refused { reason }).await;
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

    /// Emit parsed candles of series `i`, skipping anything at or before its newest
    /// closed one; false when its receiver is gone.
    async fn candles(&mut self, i: usize, live: Vec<Observed>, received: Instant) -> bool {
        let t = &mut self.targets[i];
        for lc in live {
            let open = lc.candle.open_time;
            if t.last_closed.is_some_and(|last| open <= last) {
                continue;
            }
            if lc.closed {
                t.last_closed = Some(open);
                Stats::bump(&self.stats.closed);
            }
            Stats::bump(&self.stats.candles);
            let ev = FeedEvent::Candle {
                candle: lc.candle,
                closed: lc.closed,
                received,
            };
            if t.tx.send(ev).await.is_err() {
                return false;
            }
        }
        true
    }

    fn reject(&self, why: &str, excerpt: &str) {
        let n = self.stats.rejected_frames.fetch_add(1, Ordering::Relaxed) + 1;
        // Loud for the first few, then sampled: a broken adapter must not flood the log.
        if n <= 10 || n.is_multiple_of(100) {
            tracing::warn!(rejected = n, frame = %excerpt, "live frame rejected: {why}");
        } else {
            tracing::debug!(rejected = n, frame = %excerpt, "live frame rejected: {why}");
        }
    }
}
