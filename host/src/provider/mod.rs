//! The seamless provider: answers a window of one series from storage, backfills the
//! missing closed part through the exchange's adapter component (every request through
//! the [`crate::gateway`]), and reports exactly what it served (coverage, missing ranges,
//! downgrades, conformance, fingerprint).
//!
//! The provider serves **closed history only**; it knows nothing of live feeds. The live
//! phase of a `seamless` fetch sits on top of it (the live layer's `fetch_with_live`).
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
mod serve;
mod sla;

use std::fmt;
use std::sync::Arc;

use thiserror::Error;

pub use backfill::{BackfillOutcome, BackfillStats, Progress, chunk_grid, chunks};
pub use conformance::ConformanceReport;
pub use metadata::{Downgrade, LiveMeta, Metadata, fingerprint, fingerprint_with};
pub use options::{FetchOptions, OnViolation, Phase, Sla, Strategy};
pub use registry::{AdapterRegistry, Exchange, PinMismatch, RegistryError};

pub use crate::gateway::LimitOverride;

use crate::components::{AdapterError, ComponentError};
use crate::domain::{Candle, NodeId, RangeSet, Window, format_ms};
use crate::gateway::{Gateway, Route};
use crate::net::{HttpClient, NetError, RetryPolicy};
use crate::store::{AnyStore, CandleStore, Ledger, StoreError};

/// What a caller can change to have a refused frame accepted. Errors name it in the
/// library's terms (its [`fmt::Display`], a [`FetchOptions`] field); a front end may say
/// it its own way (the CLI names its flag).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remedy {
    /// Set [`FetchOptions::partial_ok`]: accept a frame with missing ranges or
    /// conformance flags, marked partial.
    PartialOk,
}

impl fmt::Display for Remedy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Remedy::PartialOk => f.write_str("set `partial_ok`"),
        }
    }
}

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
    #[error("bad window: {0}; start must be before end")]
    Window(#[from] crate::domain::WindowError),
    #[error(transparent)]
    Component(#[from] ComponentError),
    #[error("{node}: {error}")]
    Exchange { node: String, error: AdapterError },
    /// The exchange refused a request with a 4xx status (other than a rate limit) that the
    /// adapter did not map to a typed error: a 404 is most often a base URL without the
    /// path the exchange (or a simulator) serves under. Asking again would be refused again.
    #[error(
        "{node}: HTTP {status} from {url}{}; {}",
        if message.is_empty() { String::new() } else { format!(" ({message})") },
        if *status == 404 {
            "check the exchange's base URL (its `exchange_urls` override)"
        } else {
            "the exchange refuses this request: check the symbol, the timeframe and the adapter's plan"
        }
    )]
    Refused {
        node: String,
        status: u16,
        url: String,
        message: String,
    },
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
        "{node}: incomplete, missing {}{}; rerun to backfill, or {} to accept a partial frame",
        fmt_ranges(missing), cause.as_deref().map(|c| format!(" ({c})")).unwrap_or_default(),
        Remedy::PartialOk
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
    #[error("{node}: frame refused by conformance checks: {}; {} to accept it", report.warnings.join("; "), Remedy::PartialOk)]
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
            ProviderError::UnsupportedTimeframe { .. } | ProviderError::Window(_) => true,
            ProviderError::Exchange { error, .. } => {
                matches!(
                    error,
                    AdapterError::UnknownSymbol(_) | AdapterError::UnsupportedTimeframe(_)
                )
            }
            _ => false,
        }
    }

    /// The option that would have accepted what this error refuses, if any.
    pub fn remedy(&self) -> Option<Remedy> {
        match self {
            ProviderError::Incomplete { .. } | ProviderError::Conformance { .. } => {
                Some(Remedy::PartialOk)
            }
            _ => None,
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

/// The ledger of one series over a window ([`Provider::coverage_report`]).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CoverageReport {
    pub node_id: String,
    /// The window reported on, aligned to the grid.
    pub window: Window,
    /// Ranges stored.
    pub present: RangeSet,
    /// Ranges the exchange has no candles for.
    pub empty: RangeSet,
    /// Closed ranges neither stored nor known empty.
    pub missing: RangeSet,
}

/// A served window.
#[derive(Debug)]
pub struct Fetched {
    pub candles: Vec<Candle>,
    pub metadata: Metadata,
    /// The background backfill of a `partial-fill` fetch, if one was started.
    pub background: Option<tokio::task::JoinHandle<BackfillOutcome>>,
    /// The forming candle from the live feed (asked for with `include_forming`, added
    /// by the live layer's `fetch_with_live`); it is not in `candles`, not stored and not
    /// in the fingerprint.
    pub forming: Option<Candle>,
}

/// The provider. Cheap to clone: clones share the store, adapters, the gateway (HTTP
/// client and rate limiters) and in-flight chunks.
#[derive(Clone)]
pub struct Provider {
    store: AnyStore,
    registry: Arc<AdapterRegistry>,
    gateway: Gateway,
    retry: RetryPolicy,
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
            gateway: Gateway::default(),
            retry: RetryPolicy::default(),
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
        self.gateway = self.gateway.with_http(http);
        self
    }

    /// Chunks in flight per exchange (default 4).
    pub fn with_concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Override the rate limit of `exchange`.
    pub fn with_rate_limit(mut self, exchange: &str, o: LimitOverride) -> Self {
        self.gateway = self.gateway.with_rate_limit(exchange, o);
        self
    }

    /// Cluster mode: share the exchange budgets and pauses with every worker of `cluster`
    /// and lease chunks so that no two workers fetch the same one (see [`crate::coord`]).
    pub fn with_cluster(mut self, cluster: crate::coord::Cluster) -> Self {
        self.gateway = self.gateway.with_cluster(cluster.clone());
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

    /// The gateway every request to an exchange goes through.
    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    /// The road to `ex` (its adapter, base URLs, rate limiter, the shared HTTP client),
    /// shared with every backfill and live poll of this provider.
    pub fn route(&self, ex: &Exchange) -> Route {
        self.gateway.route(ex.adapter.clone(), ex.bases.clone())
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

    /// Every series the store knows something of.
    pub async fn series(&self) -> Result<Vec<NodeId>, ProviderError> {
        Ok(self.store.nodes().await?)
    }

    /// The coverage report of `node` over `[start, end)` aligned to its grid (`start`
    /// defaults to the first range the ledger knows): present, known-empty, and missing in
    /// the closed part. What `seamless coverage`, `GET /v1/coverage` and the Python
    /// `coverage` return.
    pub async fn coverage_report(
        &self,
        node: &NodeId,
        start: Option<i64>,
        end: i64,
    ) -> Result<CoverageReport, ProviderError> {
        let start = match start {
            Some(s) => s,
            None => {
                let all = Window {
                    start: 0,
                    end: end.max(1),
                };
                let known = self.coverage(node, all).await?.known();
                known
                    .ranges()
                    .first()
                    .map_or(end.saturating_sub(1), |r| r.0)
            }
        };
        let (window, _) = Window::new(start, end)?.align(node.timeframe);
        let ledger = self.coverage(node, window).await?;
        let closed = Window {
            start: window.start,
            end: self.closed_end(node, window).max(window.start),
        };
        Ok(CoverageReport {
            node_id: node.to_string(),
            window,
            missing: ledger.missing(closed),
            present: ledger.present,
            empty: ledger.empty,
        })
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
}
