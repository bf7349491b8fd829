//! The embedded store: one SQLite file in WAL mode. Candles live in a `WITHOUT ROWID`
//! table keyed by (node, open_time) until the ledger knows their whole block, then in one
//! sealed block per 1000 slots ([`blocks`]); the ledger in `coverage`; node ids are interned in
//! `nodes`. A page's candles and ledger ranges are written in one transaction, by the
//! store's writer thread ([`writer`]: group commit, checkpoints off the commit path).
//! The schema is versioned with `PRAGMA user_version` and migrated forward on open.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

mod blocks;
mod writer;

use super::{CandleStore, Ledger, StoreError, page_ledger};
use crate::domain::{BlockDigest, Candle, NodeId, RangeSet, Window};
use writer::{PageWrite, Writer};

/// Migrations, applied in order; `user_version` = number applied.
const MIGRATIONS: &[&str] = &[
    // v1
    "CREATE TABLE nodes (id INTEGER PRIMARY KEY, node_id TEXT NOT NULL UNIQUE);
     CREATE TABLE candles (
        node INTEGER NOT NULL, open_time INTEGER NOT NULL,
        open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL, volume REAL NOT NULL,
        PRIMARY KEY (node, open_time)) WITHOUT ROWID;
     CREATE TABLE coverage (
        node INTEGER NOT NULL, kind INTEGER NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL,
        PRIMARY KEY (node, kind, start)) WITHOUT ROWID;",
    // v2: sealed blocks (see `blocks`).
    blocks::SCHEMA,
];

const PRESENT: i64 = 0;
const EMPTY: i64 = 1;

/// The SQLite store. Cheap to clone; reads run on the blocking pool, page writes on the
/// store's writer thread.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

// Fields drop in order: the reader first, then the writer (its thread finishes the queue
// and stops), then the main connection, which is the last one open and so checkpoints
// the WAL into the database file and removes it.
struct Inner {
    path: PathBuf,
    /// A second, read-only connection (opened on first use) that reads half of a large
    /// window while the main connection reads the other half.
    reader: Mutex<Option<Connection>>,
    /// The group-commit writer (its thread starts with the first page written).
    writer: Mutex<Option<Writer>>,
    conn: Arc<Mutex<Conn>>,
}

/// Windows of more slots than this are read in two halves in parallel.
const PARALLEL_READ_SLOTS: i64 = 100_000;

/// Candles of `key` in `[start, end)` through `db`, ascending.
fn read_rows(
    db: &Connection,
    key: i64,
    start: i64,
    end: i64,
    slots: i64,
) -> Result<Vec<Candle>, StoreError> {
    let mut st = db.prepare_cached(
        "SELECT open_time, open, high, low, close, volume FROM candles
         WHERE node = ?1 AND open_time >= ?2 AND open_time < ?3 ORDER BY open_time",
    )?;
    // Sized for a full window up front (one allocation instead of ~20 regrowths of a
    // year of 1m candles).
    let mut out = Vec::with_capacity(slots.clamp(0, 1 << 20) as usize);
    let mut rows = st.query(params![key, start, end])?;
    while let Some(r) = rows.next()? {
        out.push(Candle {
            open_time: r.get(0)?,
            open: r.get(1)?,
            high: r.get(2)?,
            low: r.get(3)?,
            close: r.get(4)?,
            volume: r.get(5)?,
        });
    }
    Ok(out)
}

struct Conn {
    db: Connection,
    nodes: HashMap<String, i64>,
}

impl SqliteStore {
    /// Open (creating folders and the file if needed) and migrate.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |detail: String| StoreError::Open {
            path: path.clone(),
            detail,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| open_err(format!("cannot create folder {}: {e}", dir.display())))?;
        }
        let db = Connection::open(&path).map_err(|e| open_err(e.to_string()))?;
        // Wait for other processes' locks (cluster mode opens one file from several
        // workers) before anything that takes a lock, switching to WAL included.
        db.busy_timeout(std::time::Duration::from_secs(10))?;
        // Switching a new file to WAL can answer SQLITE_BUSY at once, without the busy
        // handler, while another process is doing the same: retry for up to 10 s.
        let t0 = std::time::Instant::now();
        loop {
            match db.pragma_update(None, "journal_mode", "WAL") {
                Ok(()) => break,
                Err(rusqlite::Error::SqliteFailure(e, _))
                    if e.code == rusqlite::ErrorCode::DatabaseBusy
                        && t0.elapsed() < std::time::Duration::from_secs(10) =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(open_err(e.to_string())),
            }
        }
        db.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoints run on the writer's checkpoint thread, never inside a commit.
        db.pragma_update(None, "wal_autocheckpoint", 0)?;
        // Reads straight from the mapped file instead of copying pages through read(2).
        db.pragma_update(None, "mmap_size", 1i64 << 30)?;
        migrate(&db, &path)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                path,
                conn: Arc::new(Mutex::new(Conn {
                    db,
                    nodes: HashMap::new(),
                })),
                reader: Mutex::new(None),
                writer: Mutex::new(None),
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    async fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Conn) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = inner
                .conn
                .lock()
                .map_err(|_| StoreError::Task("store lock poisoned".into()))?;
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// Pages in one transaction: their candles, then per series one ledger update with
/// the union of the pages' ranges.
fn write_group(c: &mut Conn, pages: &[PageWrite]) -> Result<(), StoreError> {
    // Per series: its pages' candles, then one ledger update for all of them (the union
    // of the pages' ranges merged into what is stored, as page-by-page updates would).
    let mut series: Vec<(i64, Vec<&PageWrite>)> = Vec::new();
    for p in pages {
        let key = c.node_key(&p.node, true)?.unwrap_or_default();
        match series.iter_mut().find(|(k, _)| *k == key) {
            Some((_, ps)) => ps.push(p),
            None => series.push((key, vec![p])),
        }
    }
    // IMMEDIATE: take the write lock at BEGIN (waiting on the busy handler while another
    // process writes), since the transaction reads the ledger before it writes: a deferred
    // one would fail with "database is locked" when upgrading a read snapshot another
    // process has committed past.
    let tx =
        c.db.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    for (key, ps) in &series {
        let (mut new_p, mut new_e) = (RangeSet::new(), RangeSet::new());
        let (mut s, mut e) = (i64::MAX, i64::MIN);
        let mut candles = Vec::new();
        for p in ps {
            candles.extend_from_slice(&p.candles);
            new_p = new_p.union(&p.ledger.present);
            new_e = new_e.union(&p.ledger.empty);
            s = s.min(p.covered.start);
            e = e.max(p.covered.end);
        }
        let old_p = load_ranges(&tx, *key, PRESENT, s, e, true)?;
        let old_e = load_ranges(&tx, *key, EMPTY, s, e, true)?;
        let present = RangeSet::from_ranges(old_p.iter().copied()).union(&new_p);
        let empty = RangeSet::from_ranges(old_e.iter().copied())
            .union(&new_e)
            .subtract(&present);
        replace_ranges(&tx, *key, PRESENT, &old_p, &present)?;
        replace_ranges(&tx, *key, EMPTY, &old_e, &empty)?;
        blocks::store_candles(&tx, *key, ps[0].node.timeframe, candles, s, e)?;
    }
    tx.commit()?;
    Ok(())
}

fn migrate(db: &Connection, path: &Path) -> Result<(), StoreError> {
    // Several processes may open a new file at once (cluster mode): read the version and
    // migrate inside one write transaction, so only one of them runs each migration.
    db.execute_batch("BEGIN IMMEDIATE")?;
    let result = (|| {
        let version: i64 = db.pragma_query_value(None, "user_version", |r| r.get(0))?;
        let supported = MIGRATIONS.len() as i64;
        if version > supported {
            return Err(StoreError::SchemaTooNew {
                path: path.to_path_buf(),
                found: version,
                supported,
            });
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            db.execute_batch(&format!("{sql}; PRAGMA user_version = {};", i + 1))?;
        }
        Ok(())
    })();
    db.execute_batch(if result.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    result
}

impl Conn {
    fn node_key(&mut self, node: &NodeId, create: bool) -> Result<Option<i64>, StoreError> {
        let name = node.to_string();
        if let Some(&k) = self.nodes.get(&name) {
            return Ok(Some(k));
        }
        if create {
            // Another process may register the same series at the same time.
            self.db
                .execute("INSERT OR IGNORE INTO nodes (node_id) VALUES (?1)", [&name])?;
        }
        let found: Option<i64> = self
            .db
            .query_row("SELECT id FROM nodes WHERE node_id = ?1", [&name], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(key) = found else { return Ok(None) };
        self.nodes.insert(name, key);
        Ok(Some(key))
    }
}

fn load_ranges(
    tx: &Connection,
    node: i64,
    kind: i64,
    s: i64,
    e: i64,
    touching: bool,
) -> Result<Vec<(i64, i64)>, StoreError> {
    let sql = if touching {
        "SELECT start, end FROM coverage WHERE node = ?1 AND kind = ?2 AND start <= ?4 AND end >= ?3"
    } else {
        "SELECT start, end FROM coverage WHERE node = ?1 AND kind = ?2 AND start < ?4 AND end > ?3"
    };
    let mut st = tx.prepare_cached(sql)?;
    let rows = st.query_map(params![node, kind, s, e], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

fn replace_ranges(
    tx: &Transaction,
    node: i64,
    kind: i64,
    old: &[(i64, i64)],
    new: &RangeSet,
) -> Result<(), StoreError> {
    let mut del =
        tx.prepare_cached("DELETE FROM coverage WHERE node = ?1 AND kind = ?2 AND start = ?3")?;
    for (s, _) in old {
        del.execute(params![node, kind, s])?;
    }
    let mut ins =
        tx.prepare_cached("INSERT INTO coverage (node, kind, start, end) VALUES (?1, ?2, ?3, ?4)")?;
    for (s, e) in new.ranges() {
        ins.execute(params![node, kind, s, e])?;
    }
    Ok(())
}

/// Rows per multi-row INSERT (6 parameters each, under SQLite's 32766 limit).
const ROWS_PER_INSERT: usize = 256;

/// The multi-row INSERT of `rows` candles of the series with key `node` (an integer
/// written into the statement, so each row binds six values instead of seven).
fn insert_sql(node: i64, rows: usize) -> String {
    let mut sql = String::from(
        "INSERT OR REPLACE INTO candles (node, open_time, open, high, low, close, volume) VALUES ",
    );
    let row = format!("({node},?,?,?,?,?,?)");
    for i in 0..rows {
        if i > 0 {
            sql.push(',');
        }
        sql.push_str(&row);
    }
    sql
}

/// Insert candles with multi-row statements (several times faster than one row per call),
/// binding each value directly (no `&dyn ToSql` list to build per statement).
fn insert_candles(tx: &Transaction, key: i64, candles: &[Candle]) -> Result<(), StoreError> {
    for chunk in candles.chunks(ROWS_PER_INSERT) {
        let mut st = tx.prepare_cached(&insert_sql(key, chunk.len()))?;
        let mut i = 1;
        for k in chunk {
            st.raw_bind_parameter(i, k.open_time)?;
            st.raw_bind_parameter(i + 1, k.open)?;
            st.raw_bind_parameter(i + 2, k.high)?;
            st.raw_bind_parameter(i + 3, k.low)?;
            st.raw_bind_parameter(i + 4, k.close)?;
            st.raw_bind_parameter(i + 5, k.volume)?;
            i += 6;
        }
        st.raw_execute()?;
    }
    Ok(())
}

impl CandleStore for SqliteStore {
    async fn read(&self, node: &NodeId, window: Window) -> Result<Vec<Candle>, StoreError> {
        Ok(self.read_digested(node, window).await?.0)
    }

    async fn read_digested(
        &self,
        node: &NodeId,
        window: Window,
    ) -> Result<(Vec<Candle>, Vec<BlockDigest>), StoreError> {
        let node = node.clone();
        let tf = node.timeframe;
        let slots = tf.slots(tf.floor(window.start), tf.ceil(window.end));
        if slots <= PARALLEL_READ_SLOTS {
            return self
                .with(move |c| {
                    let Some(key) = c.node_key(&node, false)? else {
                        return Ok(Default::default());
                    };
                    blocks::read_window(&c.db, key, tf, window.start, window.end, slots)
                })
                .await;
        }
        // A large window: the second half on the reader connection, in parallel. Both
        // read committed data (WAL) of one snapshot each; a block or row moves or changes
        // only in a write transaction.
        let n = node.clone();
        let Some(key) = self.with(move |c| c.node_key(&n, false)).await? else {
            return Ok(Default::default());
        };
        let mid = tf
            .floor(window.start + (window.end - window.start) / 2)
            .max(window.start);
        let inner = self.inner.clone();
        let second = tokio::task::spawn_blocking(move || {
            let mut guard = inner
                .reader
                .lock()
                .map_err(|_| StoreError::Task("store lock poisoned".into()))?;
            if guard.is_none() {
                let db = Connection::open_with_flags(
                    &inner.path,
                    rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                        | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                db.busy_timeout(std::time::Duration::from_secs(10))?;
                db.pragma_update(None, "mmap_size", 1i64 << 30)?;
                *guard = Some(db);
            }
            let db = guard
                .as_ref()
                .ok_or_else(|| StoreError::Task("no reader".into()))?;
            blocks::read_window(db, key, tf, mid, window.end, slots / 2 + 1)
        });
        let (mut out, mut digests) = self
            .with(move |c| blocks::read_window(&c.db, key, tf, window.start, mid, slots / 2 + 1))
            .await?;
        let (rest, more) = second
            .await
            .map_err(|e| StoreError::Task(e.to_string()))??;
        out.extend(rest);
        digests.extend(more);
        Ok((out, digests))
    }

    async fn ledger(&self, node: &NodeId, window: Window) -> Result<Ledger, StoreError> {
        let node = node.clone();
        self.with(move |c| {
            let Some(key) = c.node_key(&node, false)? else {
                return Ok(Ledger::default());
            };
            let (s, e) = (window.start, window.end);
            let present =
                RangeSet::from_ranges(load_ranges(&c.db, key, PRESENT, s, e, false)?).clip(s, e);
            let empty =
                RangeSet::from_ranges(load_ranges(&c.db, key, EMPTY, s, e, false)?).clip(s, e);
            Ok(Ledger { present, empty })
        })
        .await
    }

    async fn nodes(&self) -> Result<Vec<NodeId>, StoreError> {
        self.with(|c| {
            let mut st = c.db.prepare_cached(
                "SELECT n.node_id FROM nodes n WHERE EXISTS (SELECT 1 FROM coverage c WHERE c.node = n.id) ORDER BY n.node_id",
            )?;
            let names = st
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(names.iter().filter_map(|n| n.parse().ok()).collect())
        })
        .await
    }

    async fn write_page(
        &self,
        node: &NodeId,
        candles: Vec<Candle>,
        covered: Window,
    ) -> Result<(), StoreError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        let page = PageWrite {
            ledger: page_ledger(node.timeframe, &candles, covered),
            node: node.clone(),
            candles,
            covered,
            done,
        };
        {
            let mut w = self
                .inner
                .writer
                .lock()
                .map_err(|_| StoreError::Task("store lock poisoned".into()))?;
            let w = match &mut *w {
                Some(w) => w,
                empty => empty.insert(Writer::start(
                    self.inner.conn.clone(),
                    self.inner.path.clone(),
                )?),
            };
            w.send(page)?;
        }
        answer
            .await
            .map_err(|_| StoreError::Task("the store's writer stopped".into()))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: i64 = 60_000;

    fn c(t: i64, px: f64) -> Candle {
        Candle {
            open_time: t,
            open: px,
            high: px + 1.0,
            low: px - 1.0,
            close: px,
            volume: 1.0,
        }
    }

    fn node() -> NodeId {
        "ohlcv:binance:BTC/USDT:1m".parse().unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn large_windows_read_in_two_halves_give_every_candle_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("big.db")).unwrap();
        let n = node();
        // 300 days of 1m slots (> PARALLEL_READ_SLOTS), candles spread over all of it.
        let day = 1440 * M;
        let w = Window {
            start: 0,
            end: 300 * day,
        };
        let candles: Vec<Candle> = (0..300 * 24).map(|h| c(h * 60 * M, h as f64)).collect();
        s.write_page(&n, candles.clone(), w).await.unwrap();
        assert_eq!(s.read(&n, w).await.unwrap(), candles);
        // Halves meet exactly: a candle on the midpoint is read once.
        let got = s
            .read(
                &n,
                Window {
                    start: 60 * M,
                    end: 200 * day + 60 * M,
                },
            )
            .await
            .unwrap();
        assert_eq!(got.first().unwrap().open_time, 60 * M);
        assert_eq!(got.len(), 200 * 24);
        assert!(got.windows(2).all(|p| p[0].open_time < p[1].open_time));
        let other: NodeId = "ohlcv:binance:ETH/USDT:1m".parse().unwrap();
        assert!(s.read(&other, w).await.unwrap().is_empty());
    }

    #[test]
    fn many_openers_of_one_new_file_all_succeed() {
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("race{round}.db"));
            let threads: Vec<_> = (0..8)
                .map(|_| {
                    let p = path.clone();
                    std::thread::spawn(move || SqliteStore::open(&p).map(drop))
                })
                .collect();
            for t in threads {
                t.join().unwrap().unwrap();
            }
        }
    }

    #[tokio::test]
    async fn pages_merge_in_the_ledger_and_reads_are_ordered() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("t.db")).unwrap();
        let n = node();
        s.write_page(
            &n,
            vec![c(2 * M, 1.0), c(3 * M, 2.0)],
            Window {
                start: 0,
                end: 4 * M,
            },
        )
        .await
        .unwrap();
        s.write_page(
            &n,
            vec![c(4 * M, 3.0), c(6 * M, 4.0)],
            Window {
                start: 4 * M,
                end: 7 * M,
            },
        )
        .await
        .unwrap();
        let l = s
            .ledger(
                &n,
                Window {
                    start: 0,
                    end: 10 * M,
                },
            )
            .await
            .unwrap();
        assert_eq!(l.present.ranges(), &[(2 * M, 5 * M), (6 * M, 7 * M)]);
        assert_eq!(l.empty.ranges(), &[(0, 2 * M), (5 * M, 6 * M)]);
        assert_eq!(
            l.missing(Window {
                start: 0,
                end: 10 * M
            })
            .ranges(),
            &[(7 * M, 10 * M)]
        );
        let got = s
            .read(
                &n,
                Window {
                    start: 3 * M,
                    end: 7 * M,
                },
            )
            .await
            .unwrap();
        assert_eq!(
            got.iter().map(|k| k.open_time).collect::<Vec<_>>(),
            vec![3 * M, 4 * M, 6 * M]
        );
        // Rewriting a page with a candle where the ledger said empty flips it to present.
        s.write_page(
            &n,
            vec![c(5 * M, 9.0)],
            Window {
                start: 5 * M,
                end: 6 * M,
            },
        )
        .await
        .unwrap();
        let l = s
            .ledger(
                &n,
                Window {
                    start: 0,
                    end: 10 * M,
                },
            )
            .await
            .unwrap();
        assert_eq!(l.present.ranges(), &[(2 * M, 7 * M)]);
        assert_eq!(l.empty.ranges(), &[(0, 2 * M)]);
    }

    #[tokio::test]
    async fn reopen_keeps_data_and_refuses_newer_schema() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.db");
        {
            let s = SqliteStore::open(&p).unwrap();
            s.write_page(&node(), vec![c(0, 1.0)], Window { start: 0, end: M })
                .await
                .unwrap();
        }
        let s = SqliteStore::open(&p).unwrap();
        assert_eq!(
            s.read(&node(), Window { start: 0, end: M })
                .await
                .unwrap()
                .len(),
            1
        );
        drop(s);
        let db = Connection::open(&p).unwrap();
        db.pragma_update(None, "user_version", 99).unwrap();
        drop(db);
        let e = SqliteStore::open(&p).err().unwrap().to_string();
        assert!(
            e.contains("schema version 99") && e.contains("upgrade seamless"),
            "{e}"
        );
        // The data is still there for a newer seamless.
        let db = Connection::open(&p).unwrap();
        let n: i64 = db
            .query_row("SELECT count(*) FROM candles", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }
}
