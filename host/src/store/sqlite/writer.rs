//! The SQLite store's writer: one thread that owns every page write. It takes all the
//! pages queued since its last commit and writes them in one transaction (group commit),
//! so the backfill's concurrent chunks share commits instead of queueing for the
//! connection one page at a time. If a group fails, each of its pages is written again
//! on its own, so one bad page fails alone.
//!
//! Checkpoints run on a thread of their own: the connections have `wal_autocheckpoint`
//! off, so a commit never waits for a checkpoint's copy and fsync. Once the WAL passes
//! [`CHECKPOINT_WAL_BYTES`] the writer asks that thread for a PASSIVE checkpoint, which
//! never blocks writers or readers. A checkpoint running beside a busy writer rarely
//! catches up with it, and SQLite only rewinds the WAL once one has, so past
//! [`WAL_HARD_LIMIT`] the writer checkpoints itself between two commits (TRUNCATE, cheap:
//! the background thread has copied most frames already; if that thread is mid-checkpoint
//! the writer waits for it, at most [`HARD_CHECKPOINT_WAIT`]); the WAL stays bounded during
//! a long backfill.
//!
//! After [`IDLE_CHECKPOINT`] without pages the writer asks for a checkpoint of what it
//! committed, so a quiet store is read from the database file rather than the WAL.
//!
//! Dropping the [`Writer`] finishes the queue, stops both threads and waits for them.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use rusqlite::Connection;

use super::{Conn, write_group};
use crate::domain::{Candle, NodeId, Window};
use crate::store::{Ledger, StoreError};

/// Candles per group commit, at most.
const GROUP_ROWS: usize = 16_384;

/// WAL size that triggers a background checkpoint (SQLite's default: 1000 pages of 4 KiB).
const CHECKPOINT_WAL_BYTES: u64 = 4 << 20;

/// WAL size past which the writer checkpoints itself.
const WAL_HARD_LIMIT: u64 = 4 * CHECKPOINT_WAL_BYTES;

/// One page for the writer: candles and the range they prove, answered on `done` once
/// committed.
pub(super) struct PageWrite {
    pub node: NodeId,
    pub candles: Vec<Candle>,
    pub covered: Window,
    /// The ranges the page proves (computed by the caller, off the writer thread).
    pub ledger: Ledger,
    pub done: tokio::sync::oneshot::Sender<Result<(), StoreError>>,
}

/// The writer thread's queue and handle.
pub(super) struct Writer {
    queue: Option<Sender<PageWrite>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Start the writer thread over `conn` (the store's main connection, the database
    /// file `path`).
    pub fn start(conn: Arc<Mutex<Conn>>, path: PathBuf) -> Result<Writer, StoreError> {
        Self::with_limits(conn, path, CHECKPOINT_WAL_BYTES, WAL_HARD_LIMIT)
    }

    /// [`Writer::start`] with other WAL sizes for the background and the writer's own
    /// checkpoints.
    fn with_limits(
        conn: Arc<Mutex<Conn>>,
        path: PathBuf,
        soft: u64,
        hard: u64,
    ) -> Result<Writer, StoreError> {
        let (tx, rx) = mpsc::channel();
        let checkpoints = Checkpointer::new(path, soft, hard);
        let thread = std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || run(conn, rx, checkpoints))
            .map_err(|e| {
                StoreError::Task(format!("cannot start the store's writer thread: {e}"))
            })?;
        Ok(Writer {
            queue: Some(tx),
            thread: Some(thread),
        })
    }

    /// Queue a page; its `done` answers once it is committed (or failed).
    pub fn send(&self, page: PageWrite) -> Result<(), StoreError> {
        self.queue
            .as_ref()
            .and_then(|q| q.send(page).ok())
            .ok_or_else(|| StoreError::Task("the store's writer thread stopped".into()))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// How long the writer waits without pages before asking for a checkpoint of what it
/// committed: readers of a quiet store then read the database file (memory-mapped) instead
/// of searching and copying WAL frames.
const IDLE_CHECKPOINT: std::time::Duration = std::time::Duration::from_millis(250);

fn run(conn: Arc<Mutex<Conn>>, queue: Receiver<PageWrite>, mut checkpoints: Checkpointer) {
    let mut committed = false;
    loop {
        let first = if committed {
            match queue.recv_timeout(IDLE_CHECKPOINT) {
                Ok(p) => p,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    checkpoints.ask();
                    committed = false;
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else {
            match queue.recv() {
                Ok(p) => p,
                Err(_) => break,
            }
        };
        let mut group = vec![first];
        let mut rows = group[0].candles.len();
        while rows < GROUP_ROWS {
            match queue.try_recv() {
                Ok(p) => {
                    rows += p.candles.len();
                    group.push(p);
                }
                Err(_) => break,
            }
        }
        let Ok(mut c) = conn.lock() else {
            for p in group {
                let _ = p
                    .done
                    .send(Err(StoreError::Task("store lock poisoned".into())));
            }
            continue;
        };
        if group.len() > 1 && write_group(&mut c, &group).is_ok() {
            for p in group {
                let _ = p.done.send(Ok(()));
            }
        } else {
            for p in group {
                let r = write_group(&mut c, std::slice::from_ref(&p));
                let _ = p.done.send(r);
            }
        }
        checkpoints.after_commit(&c.db);
        committed = true;
    }
}

/// The WAL file SQLite keeps beside the database file `db`.
fn wal_path(db: &std::path::Path) -> PathBuf {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    wal.into()
}

/// Asks the checkpoint thread (started when first needed) for a checkpoint whenever the
/// WAL has grown past [`CHECKPOINT_WAL_BYTES`].
/// How long a commit past the hard WAL limit waits for a checkpoint in progress (a reader
/// holding an old snapshot can keep it from completing; the next commit tries again).
const HARD_CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

struct Checkpointer {
    db: PathBuf,
    wal: PathBuf,
    soft: u64,
    hard: u64,
    kick: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    fn new(db: PathBuf, soft: u64, hard: u64) -> Self {
        Checkpointer {
            wal: wal_path(&db),
            db,
            soft,
            hard,
            kick: None,
            thread: None,
        }
    }

    /// After a commit on `writer` (the writer's connection, not in a transaction).
    fn after_commit(&mut self, writer: &Connection) {
        let wal = std::fs::metadata(&self.wal).map_or(0, |m| m.len());
        if wal <= self.soft {
            return;
        }
        if wal > self.hard {
            // Nothing is written meanwhile. TRUNCATE empties the WAL file once every frame
            // is in the database. While the background checkpointer holds the checkpoint
            // lock the pragma answers busy at once (it does not call the busy handler), so
            // it is asked again until that one is done (on a loaded machine a single try
            // often met it and the WAL kept growing).
            let deadline = std::time::Instant::now() + HARD_CHECKPOINT_WAIT;
            loop {
                let busy = writer.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                    r.get::<_, i64>(0)
                });
                match busy {
                    Ok(0) => break,
                    Ok(_) if std::time::Instant::now() < deadline => {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                    }
                    Ok(_) => {
                        tracing::debug!(store = %self.db.display(), "WAL checkpoint still busy; the next commit tries again");
                        break;
                    }
                    Err(e) => {
                        tracing::debug!(store = %self.db.display(), error = %e, "WAL checkpoint did not run");
                        break;
                    }
                }
            }
            return;
        }
        self.ask();
    }

    /// Ask the checkpoint thread (started on first use) for a PASSIVE checkpoint.
    fn ask(&mut self) {
        if self.kick.is_none() {
            let (tx, rx) = mpsc::sync_channel::<()>(1);
            let db = self.db.clone();
            match std::thread::Builder::new()
                .name("sqlite-checkpoint".into())
                .spawn(move || checkpoints(db, rx))
            {
                Ok(t) => {
                    self.kick = Some(tx);
                    self.thread = Some(t);
                }
                Err(e) => {
                    tracing::warn!(store = %self.db.display(), error = %e, "cannot start the checkpoint thread; the WAL is checkpointed when the store closes");
                    return;
                }
            }
        }
        if let Some(k) = &self.kick {
            // Full means a checkpoint is already asked for.
            let _ = k.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.kick.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn checkpoints(db: PathBuf, asked: Receiver<()>) {
    let c = match Connection::open(&db) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(store = %db.display(), error = %e, "checkpoint connection failed; the WAL is checkpointed when the store closes");
            return;
        }
    };
    while asked.recv().is_ok() {
        // PASSIVE copies what it can without waiting; a busy database is tried again at
        // the next request.
        if let Err(e) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(store = %db.display(), error = %e, "WAL checkpoint did not run");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;
    use crate::store::{CandleStore, page_ledger};

    const M: i64 = 60_000;

    fn node() -> NodeId {
        "ohlcv:binance:BTC/USDT:1m".parse().unwrap()
    }

    /// `n` candles from minute `first`.
    fn page(first: i64, n: i64) -> Vec<Candle> {
        (first..first + n)
            .map(|i| Candle {
                open_time: i * M,
                open: 100.0 + i as f64,
                high: 101.0 + i as f64,
                low: 99.0 + i as f64,
                close: 100.5 + i as f64,
                volume: 1.0,
            })
            .collect()
    }

    fn window(first: i64, n: i64) -> Window {
        Window {
            start: first * M,
            end: (first + n) * M,
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn concurrent_pages_share_commits_and_a_failing_page_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("w.db")).unwrap();
        let mut tasks = tokio::task::JoinSet::new();
        for k in 0..24i64 {
            let store = store.clone();
            tasks.spawn(async move {
                let mut candles = page(k * 100, 100);
                if k == 7 {
                    // NaN becomes NULL in SQLite: the NOT NULL column refuses the page.
                    candles[50].close = f64::NAN;
                }
                (
                    k,
                    store
                        .write_page(&node(), candles, window(k * 100, 100))
                        .await,
                )
            });
        }
        let mut failed = Vec::new();
        while let Some(r) = tasks.join_next().await {
            let (k, r) = r.unwrap();
            if r.is_err() {
                failed.push(k);
            }
        }
        assert_eq!(failed, vec![7]);
        let all = window(0, 2400);
        let stored = store.read(&node(), all).await.unwrap();
        let mut want = page(0, 2400);
        want.retain(|c| !(700 * M..800 * M).contains(&c.open_time));
        assert_eq!(stored, want);
        let ledger = store.ledger(&node(), all).await.unwrap();
        assert_eq!(
            ledger.missing(all).ranges(),
            &[(700 * M, 800 * M)],
            "only the failed page is missing from the ledger"
        );
        // Pages committed together or apart, adjacent ranges merge into one row each.
        assert_eq!(
            ledger.present.ranges(),
            &[(0, 700 * M), (800 * M, 2400 * M)]
        );
    }

    #[test]
    fn the_wal_stays_bounded_while_pages_keep_coming() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db");
        let store = SqliteStore::open(&path).unwrap();
        let (soft, hard) = (64 << 10, 256 << 10);
        let writer =
            Writer::with_limits(store.inner.conn.clone(), path.clone(), soft, hard).unwrap();
        let wal = wal_path(&path);
        // 150 pages of 1000 candles: about 9 MiB through the WAL.
        let mut largest = 0;
        for k in 0..150 {
            let (done, answer) = tokio::sync::oneshot::channel();
            writer
                .send(PageWrite {
                    node: node(),
                    ledger: page_ledger(
                        node().timeframe,
                        &page(k * 1000, 1000),
                        window(k * 1000, 1000),
                    ),
                    candles: page(k * 1000, 1000),
                    covered: window(k * 1000, 1000),
                    done,
                })
                .unwrap();
            answer.blocking_recv().unwrap().unwrap();
            largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
        }
        assert!(
            largest < hard + (1 << 20),
            "WAL grew to {largest} bytes (limit {hard})"
        );
        drop(writer);
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let all = window(0, 150_000);
        assert_eq!(
            rt.block_on(store.read(&node(), all)).unwrap().len(),
            150_000
        );
        drop(store);
        assert!(
            !wal.exists(),
            "closing the store checkpoints and removes the WAL"
        );
    }
}
