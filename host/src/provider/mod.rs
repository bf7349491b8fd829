//! The seamless provider: answers a window of one series from storage, backfills the
//! missing part through the exchange's adapter component, and reports exactly what it
//! served (coverage, missing ranges, downgrades, conformance, fingerprint).
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use seamless::components::{ComponentHost, SandboxLimits};
//! use seamless::domain::{NodeId, Window};
//! use seamless::provider::{AdapterRegistry, FetchOptions, Provider, Strategy};
//! use seamless::store::AnyStore;
//!
//! let host = ComponentHost::new(SandboxLimits::default(), None)?;
//! let mut registry = AdapterRegistry::new(host, AdapterRegistry::default_dirs(), vec![]);
//! registry.add_override("binance=http://127.0.0.1:8080")?;
//! let provider = Provider::new(AnyStore::open("sqlite:candles.db")?, registry);
//! let node: NodeId = "ohlcv:binance:BTC/USDT:1m".parse()?;
//! let window = Window::new(1_704_067_200_000, 1_704_153_600_000)?;
//! let opts = FetchOptions { strategy: Strategy::AutoBackfill, ..FetchOptions::default() };
//! let fetched = provider.fetch(&node, window, &opts).await?;
//! println!("{} candles, fingerprint {}", fetched.candles.len(), fetched.metadata.fingerprint);
//! # Ok(()) }
//! ```

mod backfill;
pub mod conformance;
mod metadata;
mod options;
mod registry;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;

pub use backfill::{BackfillOutcome, BackfillStats, Progress, chunk_grid, chunks};
pub use conformance::ConformanceReport;
pub use metadata::{Downgrade, LiveMeta, Metadata, fingerprint};
pub use options::{FetchOptions, OnViolation, Phase, Sla, Strategy};
pub use registry::{AdapterRegistry, Exchange, PinMismatch, RegistryError};

use crate::components::{AdapterError, ComponentError};
use crate::domain::{Candle, NodeId, RangeSet, Window, format_ms};
use crate::net::{HttpClient, NetError, RetryPolicy};
use crate::ratelimit::RateLimiters;
use crate::store::{AnyStore, CandleStore, Ledger, StoreError};

/// Why a window could not be served.
#[derive(Debug, Error)]
pub enum ProviderError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{exchange} does not serve timeframe {timeframe}: use one of {}", supported.join(", "))]
    UnsupportedTimeframe {
        exchange: String,
        timeframe: String,
        supported: Vec<String>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Component(#[from] ComponentError),
    #[error("{node}: {error}")]
    Exchange { node: String, error: AdapterError },
    #[error("{node}: {error}")]
    Net { node: String, error: NetError },
    #[error("{node}: gave up after {attempts} attempts: {last}")]
    Exhausted {
        node: String,
        attempts: u32,
        last: String,
        unreachable: bool,
    },
    #[error(
        "{node}: incomplete, missing {}{}; rerun to backfill, or pass --partial-ok to accept a partial frame",
        fmt_ranges(missing), cause.as_deref().map(|c| format!(" ({c})")).unwrap_or_default()
    )]
    Incomplete {
        node: String,
        missing: RangeSet,
        cause: Option<String>,
    },
    #[error(
        "{node}: SLA broken in phase {phase}: took {elapsed_ms} ms, budget {budget_ms} ms; raise the budget or choose on_violation partial-fill or hold"
    )]
    Sla {
        node: String,
        phase: Phase,
        elapsed_ms: u64,
        budget_ms: u64,
    },
    #[error("{node}: frame refused by conformance checks: {}; pass --partial-ok to accept it", report.warnings.join("; "))]
    Conformance {
        node: String,
        report: ConformanceReport,
    },
    #[error("internal task failed: {0}")]
    Task(String),
}

fn fmt_ranges(r: &RangeSet) -> String {
    let parts: Vec<String> = r
        .ranges()
        .iter()
        .take(5)
        .map(|(s, e)| format!("[{}, {})", format_ms(*s), format_ms(*e)))
        .collect();
    let more = if r.len() > 5 {
        format!(" and {} more", r.len() - 5)
    } else {
        String::new()
    };
    format!("{}{more}", parts.join(", "))
}

impl ProviderError {
    /// True when the user's input is at fault (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            ProviderError::Registry(e) => e.is_bad_input(),
            ProviderError::UnsupportedTimeframe { .. } => true,
            ProviderError::Exchange { error, .. } => {
                matches!(
                    error,
                    AdapterError::UnknownSymbol(_) | AdapterError::UnsupportedTimeframe(_)
                )
            }
            _ => false,
        }
    }

    /// True when the data could not be served complete (exit code 3).
    pub fn is_incomplete(&self) -> bool {
        matches!(
            self,
            ProviderError::Incomplete { .. }
                | ProviderError::Sla { .. }
                | ProviderError::Conformance { .. }
        )
    }
}

/// A served window.
#[derive(Debug)]
pub struct Fetched {
    pub candles: Vec<Candle>,
    pub metadata: Metadata,
    /// The background backfill of a `partial-fill` fetch, if one was started.
    pub background: Option<tokio::task::JoinHandle<BackfillOutcome>>,
    /// The forming candle from the live feed (asked for with `include_forming`); it is
    /// not in `candles`, not stored and not in the fingerprint.
    pub forming: Option<Candle>,
}

/// Per-exchange rate-limit overrides (from configuration).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LimitOverride {
    pub budget: Option<u32>,
    pub window_ms: Option<u64>,
    pub weight: Option<u32>,
    pub disabled: Option<bool>,
    pub share: Option<f64>,
}

/// The provider. Cheap to clone: clones share the store, adapters, limiters and
/// in-flight chunks.
#[derive(Clone)]
pub struct Provider {
    store: AnyStore,
    registry: Arc<AdapterRegistry>,
    http: HttpClient,
    retry: RetryPolicy,
    limiters: RateLimiters,
    limits: Arc<BTreeMap<String, LimitOverride>>,
    concurrency: usize,
    flights: Arc<backfill::Flights>,
    clock: crate::domain::Clock,
    /// Cluster coordination (shared rate limit, chunk leases), when Redis is configured.
    cluster: Option<crate::coord::Cluster>,
}

impl Provider {
    /// A provider over `store` with adapters from `registry`.
    pub fn new(store: AnyStore, registry: AdapterRegistry) -> Self {
        Provider {
            store,
            registry: Arc::new(registry),
            http: HttpClient::new(Duration::from_secs(20)),
            retry: RetryPolicy::default(),
            limiters: RateLimiters::default(),
            limits: Arc::new(BTreeMap::new()),
            concurrency: 4,
            flights: Arc::default(),
            clock: crate::domain::Clock::System,
            cluster: None,
        }
    }

    /// The same provider (adapters, limiters, clock) over another store.
    pub fn with_store(mut self, store: AnyStore) -> Self {
        self.store = store;
        self
    }

    /// Use this retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Use this HTTP client (e.g. with another timeout).
    pub fn with_http(mut self, http: HttpClient) -> Self {
        self.http = http;
        self
    }

    /// Chunks in flight per exchange (default 4).
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Override the rate limit of `exchange`.
    pub fn with_rate_limit(mut self, exchange: &str, o: LimitOverride) -> Self {
        Arc::make_mut(&mut self.limits).insert(exchange.to_string(), o);
        self
    }

    /// Cluster mode: share the exchange budgets and pauses with every worker of `cluster`
    /// and lease chunks so that no two workers fetch the same one (see [`crate::coord`]).
    pub fn with_cluster(mut self, cluster: crate::coord::Cluster) -> Self {
        self.limiters = RateLimiters::clustered(cluster.clone());
        self.cluster = Some(cluster);
        self
    }

    /// The cluster, in cluster mode.
    pub fn cluster(&self) -> Option<&crate::coord::Cluster> {
        self.cluster.as_ref()
    }

    /// Pretend the time is `now_ms` (for reproducible runs against a fixed-clock simulator).
    pub fn with_now(mut self, now_ms: i64) -> Self {
        self.clock = crate::domain::Clock::Fixed(now_ms);
        self
    }

    /// Read the time from `clock` (e.g. a simulated exchange running a fast clock).
    pub fn with_clock(mut self, clock: crate::domain::Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The clock this provider reads.
    pub fn clock(&self) -> &crate::domain::Clock {
        &self.clock
    }

    /// The store.
    pub fn store(&self) -> &AnyStore {
        &self.store
    }

    /// The adapter registry.
    pub fn registry(&self) -> &AdapterRegistry {
        &self.registry
    }

    /// The current time by this provider's clock.
    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// The exchange serving `node`, after checking it serves the timeframe.
    pub fn exchange(&self, node: &NodeId) -> Result<Exchange, ProviderError> {
        let exchange = self.registry.get(&node.exchange)?;
        let info = exchange.adapter.info();
        if !info.timeframes.iter().any(|t| t == node.timeframe.as_str()) {
            return Err(ProviderError::UnsupportedTimeframe {
                exchange: node.exchange.clone(),
                timeframe: node.timeframe.to_string(),
                supported: info.timeframes.clone(),
            });
        }
        Ok(exchange)
    }

    /// The end of closed data for `node` now, clipped to `window`.
    pub fn closed_end(&self, node: &NodeId, window: Window) -> i64 {
        node.timeframe.floor(self.now()).min(window.end)
    }

    /// What the ledger says about `window` of `node`.
    pub async fn coverage(&self, node: &NodeId, window: Window) -> Result<Ledger, ProviderError> {
        let (window, _) = window.align(node.timeframe);
        Ok(self.store.ledger(node, window).await?)
    }

    /// Backfill whatever the ledger lacks in the closed part of `window`; resumable
    /// (a rerun fetches only what is still missing). `progress` sees every stored page.
    pub async fn backfill(
        &self,
        node: &NodeId,
        window: Window,
        progress: Option<Progress>,
    ) -> Result<BackfillOutcome, ProviderError> {
        let ex = self.exchange(node)?;
        let (window, _) = window.align(node.timeframe);
        let closed_end = self.closed_end(node, window);
        if closed_end <= window.start {
            return Ok(BackfillOutcome::default());
        }
        let ledger = self.store.ledger(node, window).await?;
        let missing = ledger.missing(Window {
            start: window.start,
            end: closed_end,
        });
        Ok(self
            .backfill_missing(&ex, node, &missing, closed_end, progress)
            .await)
    }

    /// Serve `requested` of `node` under `opts`: storage first; then, by strategy, a
    /// backfill of exactly the missing closed part (now, or in the background); then
    /// conformance, SLA and completeness checks; then the frame and its metadata. With
    /// the `seamless` strategy and a window reaching the present, a live phase follows
    /// (see [`Provider::fetch`]'s `metadata.live`): candles closed since the backfill are
    /// added from the live feed, and the forming candle with `include_forming`.
    #[tracing::instrument(skip_all, fields(exchange = %node.exchange, symbol = %node.symbol, timeframe = %node.timeframe))]
    pub async fn fetch(
        &self,
        node: &NodeId,
        requested: Window,
        opts: &FetchOptions,
    ) -> Result<Fetched, ProviderError> {
        let f = self.fetch_closed(node, requested, opts).await?;
        let window = f.metadata.window;
        if opts.strategy == Strategy::Seamless && window.end > self.closed_end(node, window) {
            return Ok(self.live_phase(node, f, opts).await);
        }
        Ok(f)
    }

    /// Storage and backfill: the closed candles of `requested`.
    async fn fetch_closed(
        &self,
        node: &NodeId,
        requested: Window,
        opts: &FetchOptions,
    ) -> Result<Fetched, ProviderError> {
        let t0 = Instant::now();
        let tf = node.timeframe;
        let node_id = node.to_string();
        let ex = self.exchange(node)?;
        let (window, _) = requested.align(tf);
        let closed_end = self.closed_end(node, window);
        let closed = Window {
            start: window.start,
            end: closed_end.max(window.start),
        };
        let sla = &opts.sla;
        let mut phases = BTreeMap::new();
        let mut downgrade: Option<Downgrade> = None;
        let mut hold_to: Option<RangeSet> = None;
        let mut cause: Option<String> = None;

        // Storage.
        let t = Instant::now();
        let before = self.store.ledger(node, window).await?;
        let storage_ms = t.elapsed().as_millis() as u64;
        phases.insert(Phase::Storage, storage_ms);
        let mut stop = self.check_budget(
            node,
            Phase::Storage,
            storage_ms,
            sla,
            &mut downgrade,
            &mut hold_to,
            &before,
        )?;

        // Backfill.
        let missing = before.missing(closed);
        let mut stats = BackfillStats::default();
        // The pages this call fetches, kept to serve the frame without reading them back.
        let collected: Arc<std::sync::Mutex<Vec<Vec<Candle>>>> = Arc::default();
        let mut served_from_pages = false;
        let mut background = None;
        if !missing.is_empty() && !stop {
            match opts.strategy {
                Strategy::FailFast => {}
                Strategy::PartialFill => {
                    let (p, ex, n, m) = (self.clone(), ex.clone(), node.clone(), missing.clone());
                    background = Some(tokio::spawn(async move {
                        p.backfill_missing(&ex, &n, &m, closed_end, None).await
                    }));
                }
                Strategy::AutoBackfill | Strategy::Seamless => {
                    let t = Instant::now();
                    let budget = min_opt(
                        sla.backfill,
                        sla.total.map(|b| b.saturating_sub(t0.elapsed())),
                    );
                    let sink = collected.clone();
                    let keep: Progress = Arc::new(move |candles: &[Candle], _| {
                        if !candles.is_empty() {
                            let page = candles.to_vec();
                            sink.lock().unwrap_or_else(|p| p.into_inner()).push(page);
                        }
                    });
                    let run = self.backfill_missing(&ex, node, &missing, closed_end, Some(keep));
                    let outcome = match budget {
                        Some(b) => tokio::time::timeout(b, run).await.ok(),
                        None => Some(run.await),
                    };
                    let backfill_ms = t.elapsed().as_millis() as u64;
                    phases.insert(Phase::Backfill, backfill_ms);
                    match outcome {
                        Some(o) => {
                            stats = o.stats;
                            // Every missing page was fetched here (none by another task
                            // or worker, no failure): the frame is storage-before + pages.
                            served_from_pages = o.errors.is_empty() && o.stats.shared_chunks == 0;
                            if let Some(e) = o.errors.into_iter().next() {
                                // Bad input, or an exchange that cannot be reached at all:
                                // the cause is the error (exit 2 / 1), not "incomplete".
                                let unreachable = matches!(
                                    e,
                                    ProviderError::Exhausted {
                                        unreachable: true,
                                        ..
                                    }
                                );
                                if e.is_bad_input()
                                    || (unreachable && stats.pages == 0 && !opts.partial_ok)
                                {
                                    return Err(e);
                                }
                                cause = Some(e.to_string());
                            }
                        }
                        None => {
                            let phase = if sla
                                .backfill
                                .is_some_and(|b| Duration::from_millis(backfill_ms) >= b)
                            {
                                Phase::Backfill
                            } else {
                                Phase::Total
                            };
                            let budget_ms = sla
                                .budget(phase)
                                .map(|b| b.as_millis() as u64)
                                .unwrap_or_default();
                            let elapsed_ms = if phase == Phase::Total {
                                t0.elapsed().as_millis() as u64
                            } else {
                                backfill_ms
                            };
                            stop = self.violation(
                                node,
                                phase,
                                elapsed_ms,
                                budget_ms,
                                sla,
                                &mut downgrade,
                                &mut hold_to,
                                &before,
                            )?;
                        }
                    }
                    if !stop {
                        stop = self.check_budget(
                            node,
                            Phase::Backfill,
                            backfill_ms,
                            sla,
                            &mut downgrade,
                            &mut hold_to,
                            &before,
                        )?;
                    }
                }
            }
        }
        let _ = stop;

        // Serve what storage holds now (or held before, under `hold`).
        let after = self.store.ledger(node, window).await?;
        let mut raw = if served_from_pages && hold_to.is_none() {
            // Stored ranges and fetched pages are disjoint runs of ascending candles: put
            // the runs in order and concatenate (a full sort only if they overlap).
            let mut runs =
                std::mem::take(&mut *collected.lock().unwrap_or_else(|p| p.into_inner()));
            for &(s, e) in before.present.ranges() {
                runs.push(self.store.read(node, Window { start: s, end: e }).await?);
            }
            runs.retain(|r| !r.is_empty());
            runs.sort_unstable_by_key(|r| r[0].open_time);
            let mut raw = Vec::with_capacity(runs.iter().map(Vec::len).sum());
            for r in runs {
                raw.extend(r.into_iter().filter(|c| window.contains(c.open_time)));
            }
            if !raw.is_sorted_by_key(|c| c.open_time) {
                raw.sort_by_key(|c| c.open_time);
            }
            raw
        } else {
            self.store.read(node, window).await?
        };
        if let Some(held) = &hold_to {
            raw.retain(|c| held.covers(c.open_time, c.open_time + 1));
        }
        let ledger = if hold_to.is_some() {
            before.clone()
        } else {
            after
        };
        let (candles, conformance) = conformance::check(tf, window, closed_end, &ledger.empty, raw);
        let missing = ledger.missing(window);
        let missing_closed = missing.clip(closed.start, closed.end);
        let missing_bars: u64 = missing_closed
            .ranges()
            .iter()
            .map(|(s, e)| tf.slots(*s, *e) as u64)
            .sum();
        for (flag, n) in &conformance.flags {
            crate::metrics::conformance_flag(&node_id, tf.as_str(), flag, *n);
        }

        // Guards: missing bars, total budget.
        if let Some(max) = sla.max_missing_bars
            && missing_bars > max
        {
            self.violation(
                node,
                Phase::Coverage,
                missing_bars,
                max,
                sla,
                &mut downgrade,
                &mut hold_to,
                &before,
            )?;
        }
        let total_ms = t0.elapsed().as_millis() as u64;
        phases.insert(Phase::Total, total_ms);
        if downgrade.is_none() {
            self.check_budget(
                node,
                Phase::Total,
                total_ms,
                sla,
                &mut downgrade,
                &mut hold_to,
                &before,
            )?;
        }
        for (phase, ms) in &phases {
            crate::metrics::sla_phase(&node_id, phase.as_str(), *ms as f64 / 1000.0);
        }

        // Completeness.
        let sla_downgraded = downgrade.is_some();
        let flagged_beyond_gaps = conformance.flags.iter().any(|(k, n)| k != "gap" && *n > 0);
        if !opts.partial_ok && !sla_downgraded {
            if missing_bars > 0 && opts.strategy != Strategy::PartialFill {
                crate::metrics::backfill_failure(&node_id);
                return Err(ProviderError::Incomplete {
                    node: node_id,
                    missing: missing_closed,
                    cause,
                });
            }
            if flagged_beyond_gaps {
                return Err(ProviderError::Conformance {
                    node: node_id,
                    report: conformance,
                });
            }
        }
        let partial = missing_bars > 0 || conformance.is_flagged() || downgrade.is_some();
        if partial && downgrade.is_none() {
            downgrade = Some(Downgrade {
                mode: if opts.strategy == Strategy::PartialFill {
                    "partial-fill".into()
                } else {
                    "partial".into()
                },
                reason: cause.clone().unwrap_or_else(|| {
                    if missing_bars > 0 {
                        format!(
                            "{missing_bars} closed bars missing: {}",
                            fmt_ranges(&missing_closed)
                        )
                    } else {
                        conformance.warnings.join("; ")
                    }
                }),
                phase: None,
                elapsed_ms: None,
                budget_ms: None,
            });
        }

        let known = ledger.known().clip(window.start, window.end).total();
        let coverage_ratio = if window.len_ms() > 0 {
            known as f64 / window.len_ms() as f64
        } else {
            1.0
        };
        crate::metrics::coverage_ratio(&node_id, coverage_ratio);
        let as_of = self.now();
        let before_present = &before.present;
        let from_store = candles
            .iter()
            .filter(|c| before_present.covers(c.open_time, c.open_time + 1))
            .count();
        let metadata = Metadata {
            node_id: node_id.clone(),
            requested,
            window,
            strategy: opts.strategy,
            rows: candles.len(),
            coverage_bounds: match (candles.first(), candles.last()) {
                (Some(f), Some(l)) => Some(Window {
                    start: f.open_time,
                    end: tf.next(l.open_time),
                }),
                _ => None,
            },
            coverage_ratio,
            missing_bars,
            empty: ledger.empty.clone(),
            missing,
            staleness_ms: candles.last().map(|l| as_of - tf.next(l.open_time)),
            partial,
            downgrade,
            fingerprint: fingerprint(node, window, &candles),
            conformance,
            as_of,
            from_store,
            fetched: stats.candles,
            requests: stats.requests,
            phases_ms: phases,
            live: None,
        };
        Ok(Fetched {
            candles,
            metadata,
            background,
            forming: None,
        })
    }

    /// The live phase of a `seamless` fetch whose window reaches the present: follow the
    /// feed just long enough to add the candles that closed since the backfill and,
    /// when asked, the forming candle (budget: the `live` SLA, default 5 s). A feed that
    /// cannot be reached within the budget is reported in `metadata.live.error`; what
    /// storage and backfill served stands.
    async fn live_phase(&self, node: &NodeId, mut f: Fetched, opts: &FetchOptions) -> Fetched {
        let t = Instant::now();
        let window = f.metadata.window;
        // Follow on from the last served candle: the session catches up whatever closed
        // after it (the ledger skips known gaps), so nothing is lost if the clock moved.
        let served_end = f
            .candles
            .last()
            .map_or(window.start, |c| node.timeframe.next(c.open_time));
        let budget = opts.sla.live.unwrap_or(Duration::from_secs(5));
        let got = crate::live::overlay(self, node, window, served_end, budget).await;
        let before = f.candles.len();
        let last = f.candles.last().map(|c| c.open_time).unwrap_or(i64::MIN);
        f.candles
            .extend(got.closed.into_iter().filter(|c| c.open_time > last));
        let m = &mut f.metadata;
        let added = f.candles.len() - before;
        if added > 0 {
            m.rows = f.candles.len();
            m.fetched += added;
            if let (Some(a), Some(b)) = (f.candles.first(), f.candles.last()) {
                m.coverage_bounds = Some(Window {
                    start: a.open_time,
                    end: node.timeframe.next(b.open_time),
                });
            }
            m.fingerprint = fingerprint(node, window, &f.candles);
        }
        if opts.include_forming {
            f.forming = got.forming.filter(|c| c.open_time < window.end);
        }
        m.live = Some(LiveMeta {
            source: got.source,
            closed: added,
            forming: f.forming.map(|c| c.open_time),
            error: got.error,
        });
        m.phases_ms
            .insert(Phase::Live, t.elapsed().as_millis() as u64);
        f
    }

    /// Check a phase's time against its budget; see [`Provider::violation`].
    #[allow(clippy::too_many_arguments)]
    fn check_budget(
        &self,
        node: &NodeId,
        phase: Phase,
        elapsed_ms: u64,
        sla: &Sla,
        downgrade: &mut Option<Downgrade>,
        hold_to: &mut Option<RangeSet>,
        before: &Ledger,
    ) -> Result<bool, ProviderError> {
        match sla.budget(phase) {
            Some(b) if elapsed_ms > b.as_millis() as u64 => self.violation(
                node,
                phase,
                elapsed_ms,
                b.as_millis() as u64,
                sla,
                downgrade,
                hold_to,
                before,
            ),
            _ => Ok(false),
        }
    }

    /// A broken budget: fail-fast errors; partial-fill records the downgrade and stops
    /// further work; hold also rolls the frame back to what storage held before.
    /// Returns whether to stop.
    #[allow(clippy::too_many_arguments)]
    fn violation(
        &self,
        node: &NodeId,
        phase: Phase,
        elapsed: u64,
        budget: u64,
        sla: &Sla,
        downgrade: &mut Option<Downgrade>,
        hold_to: &mut Option<RangeSet>,
        before: &Ledger,
    ) -> Result<bool, ProviderError> {
        tracing::warn!(node = %node, phase = %phase, elapsed, budget, mode = sla.on_violation.as_str(), "SLA budget broken");
        match sla.on_violation {
            OnViolation::FailFast => Err(ProviderError::Sla {
                node: node.to_string(),
                phase,
                elapsed_ms: elapsed,
                budget_ms: budget,
            }),
            mode => {
                let mut d = Downgrade::sla(mode, phase, elapsed, budget);
                if phase == Phase::Coverage {
                    d.reason = format!("{elapsed} bars missing, more than the {budget} allowed");
                    d.elapsed_ms = None;
                    d.budget_ms = None;
                }
                downgrade.get_or_insert(d);
                if mode == OnViolation::Hold {
                    hold_to.get_or_insert_with(|| before.present.clone());
                }
                Ok(true)
            }
        }
    }
}

fn min_opt(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
