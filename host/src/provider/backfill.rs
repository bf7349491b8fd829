//! The backfill engine. Missing ranges are cut into chunks of (max candles per request ×
//! timeframe) on a fixed grid, so identical chunk requests have identical keys; a bounded
//! number of chunks per exchange run at once; inside a chunk the adapter's `next` is
//! followed page by page and every page is stored as soon as it is parsed (candles and
//! the range it proves, in one write), so an interruption loses at most the pages in
//! flight. Identical chunks requested concurrently in one process are fetched once.
//!
//! Fetching, parsing and writing overlap: a page is written while the chunk's next page
//! is fetched (pages of a chunk reach the store in order), a chunk frees its request slot
//! once its last page is parsed, and at most twice the concurrency in parsed pages per
//! exchange wait for the store.
//!
//! Every request goes through the [`crate::gateway`] (the exchange key's rate limiter,
//! the shared client, pauses on 429/418 and `rate-limited`); failures it classifies as
//! transient (timeouts, 5xx, 429/418, truncated bodies) are retried here with backoff,
//! honouring the exchange's wait; other errors are permanent and carry the exchange's
//! own message. A page that does not advance ends its chunk. Completed pages are never
//! thrown away.
//!
//! In cluster mode ([`Provider::with_cluster`]) single-flight extends across processes: a
//! chunk is fetched under a Redis lease on (node id, chunk index), taken after the
//! chunk's concurrency permit (so a worker never sits on leases it is not working on)
//! and renewed while the chunk is fetched. A worker finding a chunk leased gives its
//! permit back, moves on to other chunks, and polls the ledger until the chunk shows up,
//! or takes the lease over when it expires (its holder crashed) and fetches what is still
//! missing. Whoever gets a lease first re-reads the ledger, so a chunk finished a moment
//! ago is not fetched again. Without Redis the chunk is fetched anyway: leases only save
//! work, the ledger decides what is missing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, watch};

use super::{Exchange, Provider, ProviderError};
use crate::components::{AdapterError, Page};
use crate::domain::{Candle, NodeId, RangeSet, Timeframe, Window};
use crate::gateway::{GatewayError, Route};
use crate::net::HttpRequest;
use crate::store::CandleStore;

/// Counters of a backfill.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BackfillStats {
    pub candles: usize,
    pub requests: u64,
    pub pages: u64,
    pub chunks: u64,
    /// Chunks another task of this process, or another worker of the cluster, fetched.
    pub shared_chunks: u64,
}

impl std::ops::AddAssign for BackfillStats {
    fn add_assign(&mut self, o: Self) {
        self.candles += o.candles;
        self.requests += o.requests;
        self.pages += o.pages;
        self.chunks += o.chunks;
        self.shared_chunks += o.shared_chunks;
    }
}

/// What a backfill did: counters and the errors of chunks that failed (their completed
/// pages are stored).
#[derive(Debug, Default)]
pub struct BackfillOutcome {
    pub stats: BackfillStats,
    pub errors: Vec<ProviderError>,
}

/// Progress callback: called after every stored page with (the page's candles, the range
/// it covered).
pub type Progress = Arc<dyn Fn(&[Candle], Window) + Send + Sync>;

/// Chunks in flight and per-exchange concurrency, shared by clones of a provider.
#[derive(Default)]
pub(super) struct Flights {
    chunks: Mutex<HashMap<(String, i64), watch::Receiver<bool>>>,
    permits: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Parsed pages waiting for (or in) their store write, per exchange: bounds the
    /// memory a backfill holds when the store is slower than the exchange.
    backlog: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// The chunk grid of `tf` for pages of `per_page` candles: `(origin, chunk length)`, or
/// `None` for calendar months (one chunk per range).
pub fn chunk_grid(tf: Timeframe, per_page: u32) -> Option<(i64, i64)> {
    tf.fixed_ms()
        .map(|step| (tf.floor(0), step * per_page.max(1) as i64))
}

/// Cut `ranges` on the chunk grid: `(chunk index, window)` pieces.
pub fn chunks(tf: Timeframe, per_page: u32, ranges: &RangeSet) -> Vec<(i64, Window)> {
    let mut out = Vec::new();
    for &(s, e) in ranges.ranges() {
        match chunk_grid(tf, per_page) {
            None => out.push((s, Window { start: s, end: e })),
            Some((origin, len)) => {
                let mut cur = s;
                while cur < e {
                    let k = (cur - origin).div_euclid(len);
                    let end = (origin + (k + 1) * len).min(e);
                    out.push((k, Window { start: cur, end }));
                    cur = end;
                }
            }
        }
    }
    out
}

/// The result of a page's write task.
async fn join_write(
    h: tokio::task::JoinHandle<Result<(), ProviderError>>,
) -> Result<(), ProviderError> {
    h.await.map_err(|e| ProviderError::Task(e.to_string()))?
}

/// First and longest pause between two looks at the ledger while another worker holds a
/// chunk's lease.
const LEASE_POLL: (Duration, Duration) = (Duration::from_millis(100), Duration::from_millis(500));

/// A permanent gateway failure as the provider reports it.
fn permanent(node_id: String, e: GatewayError) -> ProviderError {
    match e {
        GatewayError::Net(error) => ProviderError::Net {
            node: node_id,
            error,
        },
        GatewayError::Adapter {
            status: Some(status @ 400..=499),
            url: Some(url),
            error: AdapterError::Exchange { message, .. },
        } => ProviderError::Refused {
            node: node_id,
            status,
            url,
            message,
        },
        GatewayError::Adapter { error, .. } => ProviderError::Exchange {
            node: node_id,
            error,
        },
        GatewayError::Component(e) => ProviderError::Component(e),
        GatewayError::Task(e) => ProviderError::Task(e),
        // Transient failures that ran out of attempts are reported as `Exhausted`.
        e @ (GatewayError::Server { .. } | GatewayError::RateLimited { .. }) => {
            ProviderError::Task(e.to_string())
        }
    }
}

impl Provider {
    fn permits(&self, exchange: &str) -> Arc<Semaphore> {
        let mut p = self
            .flights
            .permits
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        p.entry(exchange.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(self.concurrency.max(1))))
            .clone()
    }

    /// Pages of `exchange` that may wait for the store at once: twice the requests in
    /// flight, so fetching runs ahead of writing without holding unbounded pages.
    fn backlog(&self, exchange: &str) -> Arc<Semaphore> {
        let mut p = self
            .flights
            .backlog
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        p.entry(exchange.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(2 * self.concurrency.max(1))))
            .clone()
    }

    /// Backfill `missing` (closed, aligned ranges) of `node`.
    pub(super) async fn backfill_missing(
        &self,
        ex: &Exchange,
        node: &NodeId,
        missing: &RangeSet,
        closed_end: i64,
        progress: Option<Progress>,
    ) -> BackfillOutcome {
        let per_page = ex.adapter.info().max_candles_per_request;
        let mut tasks = tokio::task::JoinSet::new();
        let planned = chunks(node.timeframe, per_page, missing);
        let node_id = node.to_string();
        crate::metrics::backfill_chunks_planned(&node_id, planned.len() as u64);
        for (k, w) in planned {
            let (p, ex, node, progress) =
                (self.clone(), ex.clone(), node.clone(), progress.clone());
            tasks.spawn(async move { p.chunk(&ex, &node, k, w, closed_end, progress).await });
        }
        let mut out = BackfillOutcome::default();
        while let Some(joined) = tasks.join_next().await {
            crate::metrics::backfill_chunk_done(&node_id);
            match joined {
                Ok((stats, err)) => {
                    out.stats += stats;
                    out.errors.extend(err);
                }
                Err(e) => out.errors.push(ProviderError::Task(e.to_string())),
            }
        }
        out
    }

    /// One chunk, single-flight within the process (and across the cluster, see
    /// [`Provider::lead_chunk`]).
    async fn chunk(
        &self,
        ex: &Exchange,
        node: &NodeId,
        index: i64,
        w: Window,
        closed_end: i64,
        progress: Option<Progress>,
    ) -> (BackfillStats, Option<ProviderError>) {
        let key = (node.to_string(), index);
        let mut stats = BackfillStats {
            chunks: 1,
            ..Default::default()
        };
        loop {
            // Either join a fetch of this chunk already in flight, or become its fetcher.
            let joined: Result<watch::Receiver<bool>, watch::Sender<bool>> = {
                let mut m = self
                    .flights
                    .chunks
                    .lock()
                    .unwrap_or_else(|e| e.into_inner());
                match m.get(&key) {
                    Some(rx) => Ok(rx.clone()),
                    None => {
                        let (tx, rx) = watch::channel(false);
                        m.insert(key.clone(), rx);
                        Err(tx)
                    }
                }
            };
            match joined {
                Ok(mut rx) => {
                    // Someone else is fetching this chunk: wait; the ledger will show its pages.
                    stats.shared_chunks = 1;
                    let _ = rx.wait_for(|done| *done).await;
                    // Its piece of the chunk may not be ours, or it may have failed: fetch
                    // whatever of our piece is still missing.
                    match self.still_missing(node, w, closed_end).await {
                        Ok(m) if m.is_empty() => return (stats, None),
                        Ok(_) => continue,
                        Err(e) => return (stats, Some(e)),
                    }
                }
                Err(tx) => {
                    let result = self
                        .lead_chunk(ex, node, index, w, closed_end, progress, &mut stats)
                        .await;
                    self.flights
                        .chunks
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .remove(&key);
                    let _ = tx.send(true);
                    return (stats, result.err());
                }
            }
        }
    }

    /// What the ledger still lacks of the closed part of `w`.
    async fn still_missing(
        &self,
        node: &NodeId,
        w: Window,
        closed_end: i64,
    ) -> Result<RangeSet, ProviderError> {
        let closed = Window {
            start: w.start,
            end: closed_end.min(w.end).max(w.start),
        };
        Ok(self.store.ledger(node, closed).await?.missing(closed))
    }

    /// Fetch a chunk as this process's fetcher of it: under the exchange's concurrency
    /// permit and, in cluster mode, under the chunk's lease.
    #[allow(clippy::too_many_arguments)]
    async fn lead_chunk(
        &self,
        ex: &Exchange,
        node: &NodeId,
        index: i64,
        w: Window,
        closed_end: i64,
        progress: Option<Progress>,
        stats: &mut BackfillStats,
    ) -> Result<(), ProviderError> {
        let permits = self.permits(&node.exchange);
        let acquire = || async {
            permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|e| ProviderError::Task(e.to_string()))
        };
        let Some(cluster) = &self.cluster else {
            // The permit goes back as soon as the chunk's last page is parsed: its write
            // proceeds while the next chunk's requests are already in flight.
            let permit = acquire().await?;
            return self
                .run_chunk(ex, node, w, closed_end, progress, stats, Some(permit))
                .await;
        };
        let node_id = node.to_string();
        let mut held_by_other = false;
        let mut poll = LEASE_POLL.0;
        loop {
            let permit = acquire().await?;
            let lease = match cluster.try_lease(&node_id, index).await {
                Ok(crate::coord::LeaseAttempt::Acquired(lease)) => Some(lease),
                Ok(crate::coord::LeaseAttempt::Held) => {
                    // Skip it for now (free the permit for other chunks); come back to see
                    // whether the holder's pages reached the ledger.
                    drop(permit);
                    if !held_by_other {
                        held_by_other = true;
                        let holder = cluster.lease_holder(&node_id, index).await.ok().flatten();
                        tracing::debug!(node = %node_id, chunk = index, holder = ?holder, "chunk leased by another worker: waiting for the ledger");
                    }
                    if self.still_missing(node, w, closed_end).await?.is_empty() {
                        stats.shared_chunks = 1;
                        return Ok(());
                    }
                    tokio::time::sleep(poll).await;
                    poll = (poll * 2).min(LEASE_POLL.1);
                    continue;
                }
                // No Redis: fetch anyway (the ledger and the store keep it correct).
                Err(e) => {
                    tracing::debug!(node = %node_id, chunk = index, error = %e, "no chunk lease (Redis unavailable): fetching anyway");
                    None
                }
            };
            // Holding the lease (or working without one): fetch what is still missing.
            let missing = self.still_missing(node, w, closed_end).await;
            let result = match missing {
                Err(e) => Err(e),
                Ok(m) if m.is_empty() => {
                    if held_by_other {
                        stats.shared_chunks = 1;
                    }
                    Ok(())
                }
                Ok(m) => {
                    if held_by_other {
                        tracing::info!(node = %node_id, chunk = index, "chunk lease expired or released with the chunk incomplete: taking over");
                    }
                    let mut r = Ok(());
                    for &(s, e) in m.ranges() {
                        r = self
                            .run_chunk(
                                ex,
                                node,
                                Window { start: s, end: e },
                                closed_end,
                                progress.clone(),
                                stats,
                                None,
                            )
                            .await;
                        if r.is_err() {
                            break;
                        }
                    }
                    r
                }
            };
            if let Some(lease) = lease {
                lease.release().await;
            }
            drop(permit);
            return result;
        }
    }

    /// Fetch the pages of `w` in order. Each parsed page is handed to the store at once
    /// and written while the next page is fetched (at most one write per chunk in flight,
    /// in page order); `permit` (the exchange's request slot) is dropped when the last
    /// page is parsed, before its write completes.
    #[allow(clippy::too_many_arguments)]
    #[tracing::instrument(name = "chunk", skip_all, fields(exchange = %node.exchange, symbol = %node.symbol, timeframe = %node.timeframe, start = w.start, end = w.end))]
    async fn run_chunk(
        &self,
        ex: &Exchange,
        node: &NodeId,
        w: Window,
        closed_end: i64,
        progress: Option<Progress>,
        stats: &mut BackfillStats,
        mut permit: Option<tokio::sync::OwnedSemaphorePermit>,
    ) -> Result<(), ProviderError> {
        let node_id = node.to_string();
        crate::metrics::backfill_job_started(&node.exchange);
        let mut writing: Option<tokio::task::JoinHandle<Result<(), ProviderError>>> = None;
        let route = self.route(ex);
        let result = async {
            let limit = ex.adapter.info().max_candles_per_request;
            let mut req = route
                .plan(node, w, limit)
                .await
                .map_err(|e| permanent(node_id.clone(), e))?;
            let mut reach: Option<(i64, i64)> = None; // lowest start, highest end proven
            let backlog = self.backlog(&node.exchange);
            loop {
                let page = self.page_with_retry(&route, node, w, &req, stats).await?;
                stats.pages += 1;
                let covered = page.covered;
                let advanced = match reach {
                    None => true,
                    Some((lo, hi)) => covered.start < lo || covered.end > hi,
                };
                reach = Some(match reach {
                    None => (covered.start, covered.end),
                    Some((lo, hi)) => (lo.min(covered.start), hi.max(covered.end)),
                });
                let next = match page.next {
                    Some(next) if advanced && next != req => Some(next),
                    Some(_) => {
                        tracing::warn!(node = %node_id, "the adapter's next page does not advance; ending this chunk");
                        None
                    }
                    None => None,
                };
                if next.is_none() {
                    permit.take();
                }
                // Keep closed candles only; the covered range ends where closed data ends.
                let candles: Vec<_> = page.candles.into_iter().filter(|c| c.open_time < closed_end).collect();
                let covered = Window { start: covered.start, end: covered.end.min(closed_end) };
                let n = candles.len();
                if let Some(last) = candles.last() {
                    crate::metrics::backfill_last_timestamp(&node_id, last.open_time);
                }
                // The previous page's write first: pages reach the store in order.
                if let Some(h) = writing.take() {
                    join_write(h).await?;
                }
                if covered.end > covered.start {
                    let slot = backlog
                        .clone()
                        .acquire_owned()
                        .await
                        .map_err(|e| ProviderError::Task(e.to_string()))?;
                    let (store, node, progress) = (self.store.clone(), node.clone(), progress.clone());
                    writing = Some(tokio::spawn(tracing::Instrument::in_current_span(async move {
                        let _slot = slot;
                        match &progress {
                            Some(p) => {
                                store.write_page(&node, candles.clone(), covered).await?;
                                p(&candles, covered);
                            }
                            None => store.write_page(&node, candles, covered).await?,
                        }
                        Ok(())
                    })));
                    stats.candles += n;
                    crate::metrics::candles_fetched(&node_id, n as u64);
                }
                match next {
                    Some(next) => req = next,
                    None => return Ok(()),
                }
            }
        }
        .await;
        drop(permit);
        // A page parsed before a failure is still written.
        let written = match writing {
            Some(h) => join_write(h).await,
            None => Ok(()),
        };
        let result = result.and(written);
        crate::metrics::backfill_job_finished(&node.exchange);
        if result.is_err() {
            crate::metrics::backfill_failure(&node_id);
        }
        result
    }

    /// Send `req` through the gateway and parse the answer, retrying the failures the
    /// gateway classifies as transient (after a `rate-limited` answer the key is paused,
    /// so the next attempt waits in the limiter rather than here).
    async fn page_with_retry(
        &self,
        route: &Route,
        node: &NodeId,
        window: Window,
        req: &HttpRequest,
        stats: &mut BackfillStats,
    ) -> Result<Page, ProviderError> {
        let node_id = node.to_string();
        let max = self.retry.max_attempts.max(1);
        let mut last = String::new();
        let mut unreachable = false;
        for attempt in 1..=max {
            stats.requests += 1;
            let e = match route.fetch_page(node, window, req).await {
                Ok(page) => return Ok(page),
                Err(e) => e,
            };
            let Some(reason) = e.transient() else {
                return Err(permanent(node_id, e));
            };
            unreachable = e.is_unreachable();
            last = e.to_string();
            let wait = if e.asked_wait().is_some() {
                Duration::ZERO
            } else {
                self.retry.backoff(attempt)
            };
            if attempt < max {
                crate::metrics::backfill_retry(&node_id, reason);
                tracing::debug!(node = %node_id, attempt, wait_ms = wait.as_millis() as u64, reason = %last, "retrying");
                tokio::time::sleep(wait).await;
            }
        }
        Err(ProviderError::Exhausted {
            node: node_id,
            attempts: max,
            last,
            unreachable,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_follow_a_fixed_grid() {
        let m = 60_000;
        let len = 1000 * m;
        let r = RangeSet::from_ranges([(500 * m, 2100 * m), (5000 * m, 5001 * m)]);
        let c = chunks(Timeframe::M1, 1000, &r);
        assert_eq!(
            c,
            vec![
                (
                    0,
                    Window {
                        start: 500 * m,
                        end: len
                    }
                ),
                (
                    1,
                    Window {
                        start: len,
                        end: 2 * len
                    }
                ),
                (
                    2,
                    Window {
                        start: 2 * len,
                        end: 2100 * m
                    }
                ),
                (
                    5,
                    Window {
                        start: 5000 * m,
                        end: 5001 * m
                    }
                ),
            ]
        );
        // Weekly chunks start on Mondays.
        let (origin, _) = chunk_grid(Timeframe::W1, 1000).unwrap();
        assert!(Timeframe::W1.is_aligned(origin));
    }
}
