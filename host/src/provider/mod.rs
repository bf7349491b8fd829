//! The seamless provider: answers a window of one series from storage, backfills the
//! missing part through the exchange's adapter, and reports exactly what it served.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! use seamless::components::{ComponentHost, SandboxLimits};
//! use seamless::domain::{NodeId, Window};
//! use seamless::provider::{AdapterRegistry, Provider};
//! use seamless::store::AnyStore;
//!
//! let host = ComponentHost::new(SandboxLimits::default(), None)?;
//! let mut registry = AdapterRegistry::new(host, AdapterRegistry::default_dirs(), vec![]);
//! registry.add_override("binance=http://127.0.0.1:8080")?;
//! let provider = Provider::new(AnyStore::open("sqlite:candles.db")?, registry);
//! let node: NodeId = "ohlcv:binance:BTC/USDT:1m".parse()?;
//! let fetched = provider.fetch(&node, Window::new(1_704_067_200_000, 1_704_153_600_000)?).await?;
//! println!("{} candles, missing {:?}", fetched.candles.len(), fetched.report.missing);
//! # Ok(()) }
//! ```

mod backfill;
mod registry;

use std::time::{Duration, Instant};

use thiserror::Error;

pub use registry::{AdapterRegistry, Exchange, RegistryError};

use crate::components::{AdapterError, ComponentError};
use crate::domain::{Candle, NodeId, RangeSet, Window, now_ms};
use crate::net::{HttpClient, NetError, RetryPolicy};
use crate::store::{AnyStore, CandleStore, StoreError};

/// Why a window could not be served.
#[derive(Debug, Error)]
pub enum ProviderError {
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("{exchange} does not serve timeframe {timeframe}: use one of {}", supported.join(", "))]
    UnsupportedTimeframe { exchange: String, timeframe: String, supported: Vec<String> },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Component(#[from] ComponentError),
    #[error("{node}: {error}")]
    Exchange { node: String, error: AdapterError },
    #[error("{node}: {error}")]
    Net { node: String, error: NetError },
    #[error("{node}: gave up after {attempts} attempts: {last}")]
    Exhausted { node: String, attempts: u32, last: String },
    #[error("internal task failed: {0}")]
    Task(String),
}

impl ProviderError {
    /// True when the user's input is at fault (exit code 2) rather than the run.
    pub fn is_bad_input(&self) -> bool {
        match self {
            ProviderError::Registry(RegistryError::Component(e)) => e.is_bad_input(),
            ProviderError::Registry(_) | ProviderError::UnsupportedTimeframe { .. } => true,
            ProviderError::Exchange { error, .. } => {
                matches!(error, AdapterError::UnknownSymbol(_) | AdapterError::UnsupportedTimeframe(_))
            }
            _ => false,
        }
    }
}

/// What one fetch did and served.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FetchReport {
    pub node_id: String,
    /// The window served (aligned to the grid).
    pub window: Window,
    /// Candles served.
    pub rows: usize,
    /// Candles that came from storage without a request.
    pub from_store: usize,
    /// Candles fetched from the exchange during this call.
    pub fetched: usize,
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Ranges of the window the exchange has no candles for (before listing, downtime).
    pub empty: RangeSet,
    /// Ranges of the window that are neither stored nor known empty after this call
    /// (including the part that is not closed yet).
    pub missing: RangeSet,
    /// Wall time of the call.
    pub elapsed_ms: u64,
}

/// A served window.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub candles: Vec<Candle>,
    pub report: FetchReport,
}

/// The provider.
pub struct Provider {
    store: AnyStore,
    registry: AdapterRegistry,
    http: HttpClient,
    retry: RetryPolicy,
    now: Option<i64>,
}

impl Provider {
    /// A provider over `store` with adapters from `registry`.
    pub fn new(store: AnyStore, registry: AdapterRegistry) -> Self {
        Provider {
            store,
            registry,
            http: HttpClient::new(Duration::from_secs(20)),
            retry: RetryPolicy::default(),
            now: None,
        }
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

    /// Pretend the time is `now_ms` (for reproducible runs against a fixed-clock simulator).
    pub fn with_now(mut self, now_ms: i64) -> Self {
        self.now = Some(now_ms);
        self
    }

    /// The store.
    pub fn store(&self) -> &AnyStore {
        &self.store
    }

    /// The adapter registry.
    pub fn registry(&self) -> &AdapterRegistry {
        &self.registry
    }

    fn now(&self) -> i64 {
        self.now.unwrap_or_else(now_ms)
    }

    /// Serve `window` of `node`: storage first, then a backfill of exactly the missing
    /// closed part, then the stored window.
    #[tracing::instrument(skip_all, fields(exchange = %node.exchange, symbol = %node.symbol, timeframe = %node.timeframe))]
    pub async fn fetch(&self, node: &NodeId, window: Window) -> Result<Fetched, ProviderError> {
        let started = Instant::now();
        let tf = node.timeframe;
        let (window, _) = window.align(tf);
        let exchange = self.registry.get(&node.exchange)?;
        let info = exchange.adapter.info();
        if !info.timeframes.iter().any(|t| t == tf.as_str()) {
            return Err(ProviderError::UnsupportedTimeframe {
                exchange: node.exchange.clone(),
                timeframe: tf.to_string(),
                supported: info.timeframes.clone(),
            });
        }
        // Only closed candles are stored: the candle opening at floor(now) is still forming.
        let closed_end = tf.floor(self.now()).min(window.end);
        let before = self.store.ledger(node, window).await?;
        let from_store_ranges = before.present.clone();
        let mut stats = backfill::Stats::default();
        if closed_end > window.start {
            let missing = before.missing(Window { start: window.start, end: closed_end });
            for &(s, e) in missing.ranges() {
                self.backfill_range(&exchange, node, Window { start: s, end: e }, closed_end, &mut stats).await?;
            }
        }
        let after = self.store.ledger(node, window).await?;
        let candles = self.store.read(node, window).await?;
        let from_store = candles
            .iter()
            .filter(|c| from_store_ranges.covers(c.open_time, c.open_time + 1))
            .count();
        let report = FetchReport {
            node_id: node.to_string(),
            window,
            rows: candles.len(),
            from_store,
            fetched: stats.candles,
            requests: stats.requests,
            empty: after.empty.clone(),
            missing: after.missing(window),
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        Ok(Fetched { candles, report })
    }
}
