//! The handoff from stored history to live data for one series (DESIGN §4 "Live handoff").
//!
//! A [`LiveSession`] connects the live feed **first**, so nothing the exchange sends while
//! history is being filled in is lost, then:
//! - keeps the forming candle in memory only, in a [`LiveState`] others can read; a
//!   forming candle is never stored;
//! - on the first candle of the feed (open time `F`), backfills the seam `[from, F)`
//!   through the provider's REST path ([`Provider::backfill`]: only what the ledger lacks,
//!   only candles closed by the provider's clock);
//! - writes each closed live candle with its ledger range `[open, open + tf)` once it is
//!   closed by the provider's clock, in order;
//! - whenever a closed candle arrives beyond the end of what has been served (a reconnect,
//!   a missed closed frame), first backfills exactly the range in between, then writes it.
//!   The forming candle triggers the same catch-up when it has moved past the end of the
//!   served series: at once for the first candle after each (re)connection, when it is
//!   two or more slots ahead, or after [`SessionOptions::closed_grace`] when it is one slot
//!   ahead and its predecessor's closed frame has not come;
//! - emits [`LiveUpdate::Closed`] for every candle from `from` onwards in strictly
//!   increasing open time, without gaps or duplicates: seam and gap candles are read back
//!   from the store after their backfill, live candles follow. Grid slots the exchange
//!   has no candle for (ledger `empty`) are simply absent.
//!
//! A catch-up that fails (exchange unreachable, data not closed yet by the provider's
//! clock) is retried with backoff; the live candles after it are stored meanwhile and
//! emitted once the gap before them is closed. A store failure ends the session with
//! [`LiveError::Store`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use thiserror::Error;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

use super::feed::{FeedCounters, FeedEvent, FeedHandle, FeedOptions, FeedSource, LiveFeed};
use crate::domain::{Candle, NodeId, Timeframe, Window, format_ms};
use crate::net::RetryPolicy;
use crate::provider::{Provider, ProviderError};
use crate::store::{CandleStore, StoreError};

/// Why a live session could not start or had to end.
#[derive(Debug, Error)]
pub enum LiveError {
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error("{node}: storing a live candle failed: {source}")]
    Store {
        node: String,
        #[source]
        source: StoreError,
    },
    #[error("{node}: the live feed ended unexpectedly")]
    FeedEnded { node: String },
    #[error("{node}: the exchange refused the series ({reason}); check the symbol and timeframe")]
    Refused { node: String, reason: String },
    #[error("{node}: live session task failed: {detail}")]
    Task { node: String, detail: String },
}

/// What a session tells its caller.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveUpdate {
    /// The feed is receiving from `source`.
    Connected { source: FeedSource },
    /// The feed lost its source; it reconnects by itself and the lost range is
    /// backfilled afterwards.
    Disconnected { reason: String },
    /// The forming candle changed (memory only, never stored).
    Forming(Candle),
    /// The next closed candle of the series: strictly increasing open times, no gaps
    /// other than the exchange's own, no duplicates.
    Closed(Candle),
    /// `[start, end)` was caught up through the REST path; the `candles` Closed updates
    /// that follow are its candles.
    Backfilled {
        start: i64,
        end: i64,
        candles: usize,
    },
}

/// The live state of a series, readable while the session runs.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LiveState {
    /// The forming candle, if the feed sent one after the newest closed candle.
    pub forming: Option<Candle>,
    /// The newest closed candle emitted.
    pub last_closed: Option<Candle>,
    /// Whether the feed is connected now.
    pub connected: bool,
}

/// How a session behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// The feed's options.
    pub feed: FeedOptions,
    /// Updates buffered for a slow caller before the session waits (default 4096).
    pub updates_capacity: usize,
    /// First wait before retrying a failed catch-up (default 100 ms); doubles.
    pub retry_min: Duration,
    /// Longest wait before retrying a failed catch-up (default 10 s).
    pub retry_max: Duration,
    /// How long the forming candle may sit one slot past the served series, waiting for
    /// its predecessor's closed frame, before that candle is fetched over REST
    /// (default 3 s).
    pub closed_grace: Duration,
    /// When no candle at all has arrived this long after the start (a venue may ignore
    /// a stream it does not know without a word), the seam is fetched over REST up to the
    /// last closed slot anyway, so that the series is served, or refused by the exchange
    /// (default 10 s).
    pub silent_start: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            feed: FeedOptions::default(),
            updates_capacity: 4096,
            retry_min: Duration::from_millis(100),
            retry_max: Duration::from_secs(10),
            closed_grace: Duration::from_secs(3),
            silent_start: Duration::from_secs(10),
        }
    }
}

/// Counters of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// End of the contiguous series served so far (`from` until the first candle).
    pub end: i64,
    /// `Closed` updates emitted.
    pub closed_emitted: u64,
    /// Closed live candles written to the store.
    pub live_written: u64,
    /// Candles emitted from catch-up backfills (seam and gaps).
    pub backfilled: u64,
    /// Catch-up backfills run, and how many of them fell short.
    pub catchups: u64,
    pub catchup_failures: u64,
    /// Closed candles that arrived already served (ignored).
    pub duplicates: u64,
    /// Disconnects reported by the feed.
    pub disconnects: u64,
}

/// What a stopped session did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionSummary {
    pub stats: SessionStats,
    pub feed: FeedCounters,
}

/// A running handoff for one series. Stopping or dropping it ends the session and its
/// feed.
#[derive(Debug)]
pub struct LiveSession {
    node: NodeId,
    state: Arc<RwLock<LiveState>>,
    stats: Arc<Mutex<SessionStats>>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<Result<FeedCounters, LiveError>>>,
}

impl LiveSession {
    /// Start following `node` live through `provider`, serving every candle from `from`
    /// (floored to the grid) onwards. Needs a Tokio runtime.
    pub async fn start(
        provider: Provider,
        node: NodeId,
        from: i64,
        opts: SessionOptions,
    ) -> Result<(LiveSession, mpsc::Receiver<LiveUpdate>), LiveError> {
        let node_id = node.to_string();
        let (p, n) = (provider.clone(), node.clone());
        let exchange = tokio::task::spawn_blocking(move || p.exchange(&n))
            .await
            .map_err(|e| LiveError::Task {
                node: node_id.clone(),
                detail: e.to_string(),
            })??;
        // The feed first: frames sent while history is filled in wait in its channel.
        // Its polls take the provider's road to the exchange (client, limiter, pauses).
        let (feed, events) = LiveFeed::spawn_on(
            node.clone(),
            provider.route(&exchange),
            provider.clock().clone(),
            opts.feed.clone(),
        );
        Ok(Self::start_on(
            provider,
            node,
            from,
            opts,
            events,
            Some(feed),
        ))
    }

    /// Start the handoff for `node` on feed events someone else produces (a connection
    /// shared by several series, see [`super::LiveGroup`]); `feed`, when given, is
    /// stopped with the session. The feed must already be running.
    pub fn start_on(
        provider: Provider,
        node: NodeId,
        from: i64,
        opts: SessionOptions,
        events: mpsc::Receiver<FeedEvent>,
        feed: Option<FeedHandle>,
    ) -> (LiveSession, mpsc::Receiver<LiveUpdate>) {
        let node_id = node.to_string();
        let tf = node.timeframe;
        let from = tf.floor(from);
        let (updates_tx, updates) = mpsc::channel(opts.updates_capacity.max(1));
        let (stop, stop_rx) = watch::channel(false);
        let state = Arc::new(RwLock::new(LiveState::default()));
        let stats = Arc::new(Mutex::new(SessionStats {
            end: from,
            ..SessionStats::default()
        }));
        let span = tracing::info_span!(
            "live_session",
            exchange = %node.exchange,
            symbol = %node.symbol,
            timeframe = %node.timeframe
        );
        tracing::info!(parent: &span, from = %format_ms(from), "live session starting");
        let run = Run {
            retry: RetryPolicy {
                max_attempts: u32::MAX,
                base_delay: opts.retry_min.max(Duration::from_millis(1)),
                max_delay: opts.retry_max.max(opts.retry_min),
            },
            provider,
            node_id,
            node: node.clone(),
            tf,
            opts,
            cursor: from,
            pending: BTreeMap::new(),
            unconfirmed: BTreeMap::new(),
            forming: None,
            eager: false,
            forced: None,
            catchup: None,
            not_before: None,
            failures: 0,
            wake: None,
            started: Instant::now(),
            heard: false,
            state: state.clone(),
            stats: stats.clone(),
            updates: updates_tx,
        };
        let task = tokio::spawn(run.run(feed, events, stop_rx).instrument(span));
        (
            LiveSession {
                node,
                state,
                stats,
                stop,
                task: Some(task),
            },
            updates,
        )
    }

    /// The series.
    pub fn node(&self) -> &NodeId {
        &self.node
    }

    /// The shared live state (forming candle, newest closed candle, connection state).
    pub fn live_state(&self) -> Arc<RwLock<LiveState>> {
        self.state.clone()
    }

    /// A copy of the live state now.
    pub fn snapshot(&self) -> LiveState {
        self.state
            .read()
            .map(|o| o.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    /// The session's counters now.
    pub fn stats(&self) -> SessionStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True when the session's task has ended (stopped, or failed: see [`Self::stop`]).
    pub fn is_finished(&self) -> bool {
        self.task.as_ref().is_none_or(JoinHandle::is_finished)
    }

    /// End the session and its feed; returns what it did, or the error that ended it
    /// earlier. Waits at most 5 s for the task (a caller that stopped reading updates
    /// cannot block it longer).
    pub async fn stop(mut self) -> Result<SessionSummary, LiveError> {
        let _ = self.stop.send(true);
        let node = self.node.to_string();
        let feed = match self.task.take() {
            None => FeedCounters::default(),
            Some(mut task) => match tokio::time::timeout(Duration::from_secs(5), &mut task).await {
                Ok(Ok(r)) => r?,
                Ok(Err(e)) => {
                    return Err(LiveError::Task {
                        node,
                        detail: e.to_string(),
                    });
                }
                Err(_) => {
                    task.abort();
                    FeedCounters::default()
                }
            },
        };
        Ok(SessionSummary {
            stats: self.stats(),
            feed,
        })
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Wait until the stop flag is raised or its sender is gone.
async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

/// A catch-up backfill's result.
struct CatchUp {
    start: i64,
    target: i64,
    /// `[start, reached)` is known to the ledger now.
    reached: i64,
    /// The stored candles of `[start, reached)`.
    candles: Vec<Candle>,
    fetched: usize,
    error: Option<String>,
    /// The exchange refused the series itself (unknown symbol, unsupported timeframe):
    /// asking again would be refused again.
    refused: Option<String>,
}

/// Backfill `[start, target)` through the REST path and read back the contiguous part
/// the ledger now knows.
async fn catch_up(p: Provider, node: NodeId, start: i64, target: i64) -> CatchUp {
    let w = Window { start, end: target };
    let (mut error, fetched, refused) = match p.backfill(&node, w, None).await {
        Ok(o) => (
            o.errors.first().map(|e| e.to_string()),
            o.stats.candles,
            o.errors
                .iter()
                .find(|e| e.is_bad_input())
                .map(|e| e.to_string()),
        ),
        Err(e) => {
            let refused = e.is_bad_input().then(|| e.to_string());
            (Some(e.to_string()), 0, refused)
        }
    };
    let mut reached = match p.store().ledger(&node, w).await {
        Ok(l) => l
            .known()
            .ranges()
            .first()
            .filter(|(s, _)| *s <= start)
            .map_or(start, |&(_, e)| e.min(target)),
        Err(e) => {
            error.get_or_insert(e.to_string());
            start
        }
    };
    let mut candles = Vec::new();
    if reached > start {
        match p
            .store()
            .read(
                &node,
                Window {
                    start,
                    end: reached,
                },
            )
            .await
        {
            Ok(c) => candles = c,
            Err(e) => {
                error.get_or_insert(e.to_string());
                reached = start;
            }
        }
    }
    CatchUp {
        start,
        target,
        reached,
        candles,
        fetched,
        error,
        refused,
    }
}

struct Run {
    provider: Provider,
    node: NodeId,
    node_id: String,
    tf: Timeframe,
    opts: SessionOptions,
    retry: RetryPolicy,
    /// Everything in `[from, cursor)` has been emitted.
    cursor: i64,
    /// Closed live candles stored, waiting for the gap before them to be closed.
    pending: BTreeMap<i64, Candle>,
    /// Closed live candles not closed yet by the provider's clock.
    unconfirmed: BTreeMap<i64, Candle>,
    /// The forming candle's open time and when it was first seen.
    forming: Option<(i64, Instant)>,
    /// The first candle after a (re)connection catches up at once.
    eager: bool,
    /// A forming candle's open time the range before which must be fetched now.
    forced: Option<i64>,
    catchup: Option<JoinHandle<CatchUp>>,
    /// No catch-up before this (backoff after a failed one).
    not_before: Option<Instant>,
    failures: u32,
    /// When the loop must look again even without an event.
    wake: Option<Instant>,
    /// When the session started, and whether any candle has arrived since.
    started: Instant,
    heard: bool,
    state: Arc<RwLock<LiveState>>,
    stats: Arc<Mutex<SessionStats>>,
    updates: mpsc::Sender<LiveUpdate>,
}

impl Run {
    async fn run(
        mut self,
        feed: Option<FeedHandle>,
        mut events: mpsc::Receiver<FeedEvent>,
        stop: watch::Receiver<bool>,
    ) -> Result<FeedCounters, LiveError> {
        let result = self.main(&mut events, stop).await;
        if let Some(c) = self.catchup.take() {
            c.abort();
        }
        if let Err(e) = &result {
            tracing::error!(error = %e, "live session ended");
        }
        let counters = match feed {
            Some(feed) => feed.stop().await,
            None => FeedCounters::default(),
        };
        result.map(|()| counters)
    }

    async fn main(
        &mut self,
        events: &mut mpsc::Receiver<FeedEvent>,
        stop: watch::Receiver<bool>,
    ) -> Result<(), LiveError> {
        loop {
            let wake = self.wake;
            tokio::select! {
                biased;
                _ = stopped(stop.clone()) => return Ok(()),
                done = async {
                    match self.catchup.as_mut() {
                        Some(h) => h.await,
                        None => std::future::pending().await,
                    }
                }, if self.catchup.is_some() => {
                    self.catchup = None;
                    if let Ok(CatchUp { refused: Some(reason), .. }) = &done {
                        return Err(LiveError::Refused { node: self.node_id.clone(), reason: reason.clone() });
                    }
                    self.finish_catchup(done).await;
                }
                ev = events.recv() => match ev {
                    Some(FeedEvent::Refused { reason }) => {
                        return Err(LiveError::Refused { node: self.node_id.clone(), reason });
                    }
                    Some(ev) => self.on_event(ev).await,
                    None => return Err(LiveError::FeedEnded { node: self.node_id.clone() }),
                },
                _ = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {}
            }
            self.advance().await?;
        }
    }

    fn stat(&self, f: impl FnOnce(&mut SessionStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn set_state(&self, f: impl FnOnce(&mut LiveState)) {
        f(&mut self.state.write().unwrap_or_else(|p| p.into_inner()));
    }

    async fn emit(&self, u: LiveUpdate) {
        // A caller that dropped its receiver still gets the store written.
        let _ = self.updates.send(u).await;
    }

    async fn emit_closed(&mut self, c: Candle) {
        self.cursor = self.tf.next(c.open_time);
        let end = self.cursor;
        self.set_state(|o| o.last_closed = Some(c));
        self.stat(|s| {
            s.closed_emitted += 1;
            s.end = end;
        });
        let age_ms = self.provider.now() - end;
        crate::metrics::live_staleness(&self.node_id, age_ms.max(0) as f64 / 1000.0);
        self.emit(LiveUpdate::Closed(c)).await;
    }

    async fn on_event(&mut self, ev: FeedEvent) {
        if matches!(ev, FeedEvent::Candle { .. }) {
            self.heard = true;
        }
        match ev {
            FeedEvent::Connected { source } => {
                self.eager = true;
                self.set_state(|o| o.connected = true);
                self.emit(LiveUpdate::Connected { source }).await;
            }
            FeedEvent::Disconnected { reason } => {
                self.set_state(|o| o.connected = false);
                self.stat(|s| s.disconnects += 1);
                self.emit(LiveUpdate::Disconnected { reason }).await;
            }
            FeedEvent::Candle {
                candle,
                closed: false,
                ..
            } => {
                let open = candle.open_time;
                let newest_closed = self
                    .unconfirmed
                    .keys()
                    .chain(self.pending.keys())
                    .max()
                    .copied();
                let first = std::mem::take(&mut self.eager);
                if open < self.cursor || newest_closed.is_some_and(|n| open <= n) {
                    return; // stale
                }
                if first && open > self.cursor {
                    self.forced = Some(open);
                }
                if self.forming.is_none_or(|(o, _)| o != open) {
                    self.forming = Some((open, Instant::now()));
                }
                self.set_state(|o| o.forming = Some(candle));
                self.emit(LiveUpdate::Forming(candle)).await;
            }
            FeedEvent::Refused { .. } => {} // ends the session in `main`
            FeedEvent::Candle {
                candle,
                closed: true,
                ..
            } => {
                let open = candle.open_time;
                self.eager = false;
                if open < self.cursor
                    || self.pending.contains_key(&open)
                    || self.unconfirmed.contains_key(&open)
                {
                    self.stat(|s| s.duplicates += 1);
                    return;
                }
                self.unconfirmed.insert(open, candle);
                if self.forming.is_some_and(|(o, _)| o <= open) {
                    self.forming = None;
                    self.set_state(|o| {
                        if o.forming.is_some_and(|f| f.open_time <= open) {
                            o.forming = None;
                        }
                    });
                }
            }
        }
    }

    fn wake_at(&mut self, at: Instant) {
        self.wake = Some(self.wake.map_or(at, |w| w.min(at)));
    }

    /// Store what is closed, emit what is contiguous, start a catch-up for a gap.
    async fn advance(&mut self) -> Result<(), LiveError> {
        self.wake = None;
        // Closed live candles go to the store once closed by the provider's clock.
        let now = self.provider.now();
        while let Some((&open, &candle)) = self.unconfirmed.first_key_value() {
            let end = self.tf.next(open);
            if end > now {
                break;
            }
            self.unconfirmed.remove(&open);
            self.provider
                .store()
                .write_page(&self.node, vec![candle], Window { start: open, end })
                .await
                .map_err(|source| LiveError::Store {
                    node: self.node_id.clone(),
                    source,
                })?;
            self.stat(|s| s.live_written += 1);
            self.pending.insert(open, candle);
        }
        if !self.unconfirmed.is_empty() {
            self.wake_at(Instant::now() + Duration::from_millis(20));
        }
        if self.catchup.is_some() {
            return Ok(());
        }
        // Emit the contiguous part.
        while let Some(c) = self.pending.remove(&self.cursor) {
            self.emit_closed(c).await;
        }
        let keep = self.pending.split_off(&self.cursor);
        let dropped = std::mem::replace(&mut self.pending, keep).len() as u64;
        if dropped > 0 {
            self.stat(|s| s.duplicates += dropped);
        }
        // A gap before the next closed candle, or before the forming one; or, from a
        // feed silent since the start, everything closed by now.
        let target = match self.pending.keys().next() {
            Some(&k) => Some(k),
            None => self.forming_target().or_else(|| self.silent_target(now)),
        };
        let Some(target) = target.filter(|&t| t > self.cursor) else {
            return Ok(());
        };
        if let Some(nb) = self.not_before
            && nb > Instant::now()
        {
            self.wake_at(nb);
            return Ok(());
        }
        self.start_catchup(target);
        Ok(())
    }

    /// The end of the last closed slot when no candle has arrived since the start for
    /// [`SessionOptions::silent_start`] (see there).
    fn silent_target(&mut self, now: i64) -> Option<i64> {
        if self.heard {
            return None;
        }
        let at = self.started + self.opts.silent_start;
        if Instant::now() < at {
            self.wake_at(at);
            return None;
        }
        Some(self.tf.floor(now)).filter(|&t| t > self.cursor)
    }

    /// The forming candle's open time when the range before it should be fetched now.
    fn forming_target(&mut self) -> Option<i64> {
        let (open, seen) = self.forming?;
        if open <= self.cursor || !self.unconfirmed.is_empty() {
            return None;
        }
        if self.forced.is_some_and(|f| f > self.cursor) || open > self.tf.next(self.cursor) {
            return Some(open);
        }
        let due = seen + self.opts.closed_grace;
        if Instant::now() >= due {
            tracing::debug!(
                missing = %format_ms(self.cursor),
                "no closed frame for the candle before the forming one: fetching it"
            );
            Some(open)
        } else {
            self.wake_at(due);
            None
        }
    }

    fn start_catchup(&mut self, target: i64) {
        let start = self.cursor;
        self.stat(|s| s.catchups += 1);
        tracing::info!(
            start = %format_ms(start),
            end = %format_ms(target),
            "backfilling the range before the live candles"
        );
        let task = catch_up(self.provider.clone(), self.node.clone(), start, target);
        self.catchup = Some(tokio::spawn(task.in_current_span()));
    }

    async fn finish_catchup(&mut self, done: Result<CatchUp, tokio::task::JoinError>) {
        let c = match done {
            Ok(c) => c,
            Err(e) => {
                self.failed_catchup(&e.to_string());
                return;
            }
        };
        if c.reached > c.start && c.start == self.cursor {
            let n = c.candles.len();
            self.emit(LiveUpdate::Backfilled {
                start: c.start,
                end: c.reached,
                candles: n,
            })
            .await;
            for candle in c.candles {
                if candle.open_time >= self.cursor && candle.open_time < c.reached {
                    self.emit_closed(candle).await;
                }
            }
            self.cursor = self.cursor.max(c.reached);
            let end = self.cursor;
            self.stat(|s| {
                s.backfilled += n as u64;
                s.end = end;
            });
            tracing::debug!(
                start = %format_ms(c.start),
                end = %format_ms(c.reached),
                candles = n,
                fetched = c.fetched,
                "caught up"
            );
        }
        if c.reached < c.target {
            let why = c.error.unwrap_or_else(|| {
                format!(
                    "the ledger still lacks [{}, {})",
                    format_ms(c.reached),
                    format_ms(c.target)
                )
            });
            self.failed_catchup(&why);
        } else {
            self.failures = 0;
            self.not_before = None;
        }
    }

    fn failed_catchup(&mut self, why: &str) {
        self.failures = self.failures.saturating_add(1);
        let wait = self.retry.backoff(self.failures);
        self.not_before = Some(Instant::now() + wait);
        self.stat(|s| s.catchup_failures += 1);
        let level_warn = self.failures >= 3;
        if level_warn {
            tracing::warn!(
                attempt = self.failures,
                wait_ms = wait.as_millis() as u64,
                "catch-up backfill fell short: {why}"
            );
        } else {
            tracing::debug!(
                attempt = self.failures,
                wait_ms = wait.as_millis() as u64,
                "catch-up backfill fell short: {why}"
            );
        }
    }
}
