//! Candle storage and the coverage ledger.
//!
//! A store keeps closed candles keyed by (node id, open time) and, per node id, a ledger
//! of disjoint ranges that are `present` (fetched and stored) or `empty` (the exchange
//! answered and had nothing there). A page's candles and its ledger ranges are written
//! together, so the ledger never claims data that is not stored.

mod questdb;
mod sqlite;

use std::path::PathBuf;

use thiserror::Error;

pub use questdb::{QuestDbConfig, QuestDbStore};
pub use sqlite::SqliteStore;

use crate::domain::{BlockDigest, Candle, NodeId, RangeSet, Timeframe, Window};

/// What the ledger says about part of a series.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    /// Ranges whose candles are stored.
    pub present: RangeSet,
    /// Ranges the exchange answered for with no candles.
    pub empty: RangeSet,
}

impl Ledger {
    /// Everything the ledger knows (present or empty).
    pub fn known(&self) -> RangeSet {
        self.present.union(&self.empty)
    }

    /// The part of `window` the ledger knows nothing about.
    pub fn missing(&self, window: Window) -> RangeSet {
        self.known().gaps_in(window.start, window.end)
    }
}

/// The ledger ranges one page proves: grid slots holding a candle are `present`, the
/// rest of `covered` is `empty`.
pub fn page_ledger(tf: Timeframe, candles: &[Candle], covered: Window) -> Ledger {
    let mut present = RangeSet::new();
    for c in candles {
        present.insert(c.open_time, tf.next(c.open_time));
    }
    let present = present.clip(covered.start, covered.end);
    let empty = RangeSet::from_window(covered).subtract(&present);
    Ledger { present, empty }
}

/// Storage failures.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error(
        "unknown store '{0}': use sqlite:PATH (e.g. sqlite:./candles.db) or questdb://HOST:PORT"
    )]
    BadUrl(String),
    #[error("cannot open store {path}: {detail}")]
    Open { path: PathBuf, detail: String },
    #[error(
        "store {path} has schema version {found}, newer than this seamless supports ({supported}); upgrade seamless or use another store"
    )]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("store query failed: {0}")]
    Query(String),
    #[error("store task failed: {0}")]
    Task(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Query(e.to_string())
    }
}

/// What every store offers. Implementations must write a page's candles and ledger
/// ranges so that readers never see ledger ranges without their candles.
pub trait CandleStore: Send + Sync {
    /// Candles of `node` with open time in `window`, ascending.
    fn read(
        &self,
        node: &NodeId,
        window: Window,
    ) -> impl Future<Output = Result<Vec<Candle>, StoreError>> + Send;
    /// [`CandleStore::read`], with the digests of the blocks of the grid
    /// ([`crate::domain::block`]) that lie wholly inside `window` and whose candles the store
    /// keeps sealed with their digest (ascending by start). A store without sealed blocks
    /// returns none.
    fn read_digested(
        &self,
        node: &NodeId,
        window: Window,
    ) -> impl Future<Output = Result<(Vec<Candle>, Vec<BlockDigest>), StoreError>> + Send {
        async move { Ok((self.read(node, window).await?, Vec::new())) }
    }
    /// Ledger ranges of `node` that intersect `window`, clipped to it.
    fn ledger(
        &self,
        node: &NodeId,
        window: Window,
    ) -> impl Future<Output = Result<Ledger, StoreError>> + Send;
    /// Every series the ledger knows something of (stored or known-empty ranges), by node
    /// id.
    fn nodes(&self) -> impl Future<Output = Result<Vec<NodeId>, StoreError>> + Send;
    /// Store one page: its candles and the range it proves complete.
    fn write_page(
        &self,
        node: &NodeId,
        candles: Vec<Candle>,
        covered: Window,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A store chosen at run time.
#[derive(Clone)]
pub enum AnyStore {
    Sqlite(SqliteStore),
    QuestDb(QuestDbStore),
}

impl AnyStore {
    /// Open a store from its URL: `sqlite:PATH`, `sqlite://PATH`, a path ending in
    /// `.db`/`.sqlite`, or `questdb://HOST:PORT[?pg=PORT&table=NAME]` (connected lazily).
    pub fn open(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("questdb://") {
            return Ok(AnyStore::QuestDb(QuestDbStore::new(url)?));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .or_else(|| (url.ends_with(".db") || url.ends_with(".sqlite")).then_some(url));
        match path {
            Some(p) if !p.is_empty() => Ok(AnyStore::Sqlite(SqliteStore::open(p)?)),
            _ => Err(StoreError::BadUrl(url.to_string())),
        }
    }

    /// The default store: `seamless.db` in the user's data directory.
    pub fn default_url() -> String {
        let dir = dirs::data_dir()
            .unwrap_or_else(std::env::temp_dir)
            .join("seamless");
        format!("sqlite:{}", dir.join("seamless.db").display())
    }
}

impl CandleStore for AnyStore {
    async fn read(&self, node: &NodeId, window: Window) -> Result<Vec<Candle>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.read(node, window).await,
            AnyStore::QuestDb(s) => s.read(node, window).await,
        }
    }
    async fn read_digested(
        &self,
        node: &NodeId,
        window: Window,
    ) -> Result<(Vec<Candle>, Vec<BlockDigest>), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.read_digested(node, window).await,
            AnyStore::QuestDb(s) => s.read_digested(node, window).await,
        }
    }
    async fn ledger(&self, node: &NodeId, window: Window) -> Result<Ledger, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.ledger(node, window).await,
            AnyStore::QuestDb(s) => s.ledger(node, window).await,
        }
    }
    async fn nodes(&self) -> Result<Vec<NodeId>, StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.nodes().await,
            AnyStore::QuestDb(s) => s.nodes().await,
        }
    }
    async fn write_page(
        &self,
        node: &NodeId,
        candles: Vec<Candle>,
        covered: Window,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(s) => s.write_page(node, candles, covered).await,
            AnyStore::QuestDb(s) => s.write_page(node, candles, covered).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(t: i64) -> Candle {
        Candle {
            open_time: t,
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            volume: 0.0,
        }
    }

    #[test]
    fn page_ledger_splits_present_and_empty() {
        let m = 60_000;
        let l = page_ledger(
            Timeframe::M1,
            &[c(3 * m), c(4 * m), c(7 * m)],
            Window {
                start: 0,
                end: 10 * m,
            },
        );
        assert_eq!(l.present.ranges(), &[(3 * m, 5 * m), (7 * m, 8 * m)]);
        assert_eq!(
            l.empty.ranges(),
            &[(0, 3 * m), (5 * m, 7 * m), (8 * m, 10 * m)]
        );
    }

    #[test]
    fn bad_urls() {
        assert!(matches!(
            AnyStore::open("postgres://x"),
            Err(StoreError::BadUrl(_))
        ));
        assert!(matches!(
            AnyStore::open("questdb://h:1?nope=1"),
            Err(StoreError::BadUrl(_))
        ));
        assert!(matches!(
            AnyStore::open("sqlite:"),
            Err(StoreError::BadUrl(_))
        ));
    }
}
