//! Sealed blocks: once the ledger knows every slot of a block of the grid
//! ([`crate::domain::block`]), the block's candles leave the row table and are kept as one
//! row of `candle_blocks`: their canonical encoding back to back, and its SHA-256. A window
//! is then read as a few large values (one per 1000 slots) instead of a row per candle,
//! and the fingerprint takes the block's digest instead of hashing its candles again.
//!
//! Every candle lives in exactly one place: a block while its span is sealed, a row of
//! `candles` before. A write into a sealed span rewrites the block (the new candle wins,
//! as `INSERT OR REPLACE` does for rows); a write that completes a span's ledger seals it,
//! moving the span's rows into the block in the same transaction.

use std::collections::{BTreeMap, HashSet};

use rusqlite::{Connection, Transaction, params};
use sha2::{Digest, Sha256};

use super::{EMPTY, PRESENT, insert_candles, load_ranges, read_rows};
use crate::domain::block::{self, BlockDigest};
use crate::domain::{Candle, RangeSet, Timeframe, dedup_keep_last};
use crate::store::StoreError;

/// The schema of the block table (migration v2).
pub(super) const SCHEMA: &str = "CREATE TABLE candle_blocks (
        node INTEGER NOT NULL, start INTEGER NOT NULL, rows INTEGER NOT NULL,
        digest BLOB NOT NULL, data BLOB NOT NULL,
        PRIMARY KEY (node, start))";

fn corrupt(start: i64, what: &str) -> StoreError {
    StoreError::Query(format!(
        "stored block at {start} is damaged ({what}); restore the store from a backup or delete the file and backfill again"
    ))
}

/// Candles of `key` (timeframe `tf`) with open time in `[start, end)`, ascending: sealed
/// blocks and loose rows merged; and the digests of the sealed blocks wholly inside.
pub(super) fn read_window(
    db: &Connection,
    key: i64,
    tf: Timeframe,
    start: i64,
    end: i64,
    slots: i64,
) -> Result<(Vec<Candle>, Vec<BlockDigest>), StoreError> {
    let span = block::block_span(tf);
    // Loose rows first (few once blocks are sealed: the window's unsealed edges); then the
    // blocks in time order, each preceded by the loose rows before it, into one vector.
    let loose = read_rows(db, key, start, end, 0)?;
    let mut loose = loose.iter().peekable();
    let mut out = Vec::with_capacity(slots.clamp(0, 1 << 20) as usize);
    let mut digests = Vec::new();
    let mut st = db.prepare_cached(
        "SELECT start, rows, digest, data FROM candle_blocks
         WHERE node = ?1 AND start > ?2 AND start < ?3 ORDER BY start",
    )?;
    let mut rows = st.query(params![key, start.saturating_sub(span), end])?;
    while let Some(r) = rows.next()? {
        let bs: i64 = r.get(0)?;
        let n: i64 = r.get(1)?;
        while let Some(c) = loose.next_if(|c| c.open_time < bs) {
            out.push(*c);
        }
        let data = r.get_ref(3)?.as_blob().map_err(|_| corrupt(bs, "data"))?;
        let from = out.len();
        block::decode(data, &mut out).ok_or_else(|| corrupt(bs, "length"))?;
        if (out.len() - from) as i64 != n {
            return Err(corrupt(bs, "row count"));
        }
        if bs >= start && bs.saturating_add(span) <= end {
            let sha256: [u8; 32] = r
                .get_ref(2)?
                .as_blob()
                .ok()
                .and_then(|d| d.try_into().ok())
                .ok_or_else(|| corrupt(bs, "digest"))?;
            digests.push(BlockDigest {
                start: bs,
                rows: n as u64,
                sha256,
            });
        } else {
            // A block at an edge of the window: keep the part inside (blocks are ascending).
            let first = from + out[from..].partition_point(|c| c.open_time < start);
            let last = from + out[from..].partition_point(|c| c.open_time < end);
            out.copy_within(first..last, from);
            out.truncate(from + (last - first));
        }
    }
    out.extend(loose.copied());
    Ok((out, digests))
}

/// `old` and `new` (each ascending, unique times) merged; where both have a time, `new`'s
/// candle is kept.
fn overlay(old: &[Candle], new: &[Candle]) -> Vec<Candle> {
    let mut out = Vec::with_capacity(old.len() + new.len());
    let (mut i, mut j) = (0, 0);
    while i < old.len() && j < new.len() {
        match old[i].open_time.cmp(&new[j].open_time) {
            std::cmp::Ordering::Less => {
                out.push(old[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(new[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push(new[j]);
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&old[i..]);
    out.extend_from_slice(&new[j..]);
    out
}

/// Store `candles` (the pages of one group for the series `key`, in write order) whose
/// ledger was just updated over `[s, e)`: into sealed blocks where the span is sealed or
/// now fully known, as rows elsewhere. Runs inside the group's transaction, after the
/// ledger update.
pub(super) fn store_candles(
    tx: &Transaction,
    key: i64,
    tf: Timeframe,
    mut candles: Vec<Candle>,
    s: i64,
    e: i64,
) -> Result<(), StoreError> {
    // SQLite turns NaN into NULL, which the row table refuses: refuse it in blocks too, so
    // a page stores or fails the same wherever its candles go.
    if let Some(bad) = candles.iter().find(|c| {
        [c.open, c.high, c.low, c.close, c.volume]
            .iter()
            .any(|v| v.is_nan())
    }) {
        return Err(StoreError::Query(format!(
            "candle at {} holds NaN: the store keeps numbers only; the adapter must report such a page as an error",
            crate::domain::format_ms(bad.open_time)
        )));
    }
    // Ascending; among equal times the last written stays (as INSERT OR REPLACE would).
    candles.sort_by_key(|c| c.open_time);
    dedup_keep_last(&mut candles);
    let span = block::block_span(tf);
    let lo = s.min(candles.first().map_or(s, |c| c.open_time));
    let hi = e.max(candles.last().map_or(e, |c| c.open_time.saturating_add(1)));
    let (b0, b1) = (
        block::block_start(tf, lo),
        block::block_start(tf, hi.saturating_sub(1)).saturating_add(span),
    );
    let known = RangeSet::from_ranges(load_ranges(tx, key, PRESENT, b0, b1, false)?).union(
        &RangeSet::from_ranges(load_ranges(tx, key, EMPTY, b0, b1, false)?),
    );
    let sealed: HashSet<i64> = {
        let mut st = tx.prepare_cached(
            "SELECT start FROM candle_blocks WHERE node = ?1 AND start >= ?2 AND start < ?3",
        )?;
        st.query_map(params![key, b0, b1], |r| r.get(0))?
            .collect::<Result<_, _>>()?
    };
    // Loose rows of the spans this write may seal.
    let loose = read_rows(tx, key, b0, b1, 0)?;

    // Per block: (new candles, loose rows).
    let mut touched: BTreeMap<i64, (&[Candle], &[Candle])> = BTreeMap::new();
    for (b, run) in block::runs(tf, &candles) {
        touched.entry(b).or_default().0 = run;
    }
    for (b, run) in block::runs(tf, &loose) {
        touched.entry(b).or_default().1 = run;
    }
    let mut as_rows: Vec<Candle> = Vec::new();
    for (b, (new, old)) in touched {
        let end = b.saturating_add(span);
        if sealed.contains(&b) {
            if !new.is_empty() {
                let mut stored = Vec::new();
                read_block(tx, key, b, &mut stored)?;
                put_block(tx, key, b, &overlay(&stored, new))?;
            }
        } else if known.covers(b, end) {
            put_block(tx, key, b, &overlay(old, new))?;
            if !old.is_empty() {
                tx.prepare_cached(
                    "DELETE FROM candles WHERE node = ?1 AND open_time >= ?2 AND open_time < ?3",
                )?
                .execute(params![key, b, end])?;
            }
        } else {
            as_rows.extend_from_slice(new);
        }
    }
    insert_candles(tx, key, &as_rows)
}

fn read_block(tx: &Transaction, key: i64, b: i64, out: &mut Vec<Candle>) -> Result<(), StoreError> {
    let mut st =
        tx.prepare_cached("SELECT data FROM candle_blocks WHERE node = ?1 AND start = ?2")?;
    let mut rows = st.query(params![key, b])?;
    if let Some(r) = rows.next()? {
        let data = r.get_ref(0)?.as_blob().map_err(|_| corrupt(b, "data"))?;
        block::decode(data, out).ok_or_else(|| corrupt(b, "length"))?;
    }
    Ok(())
}

fn put_block(tx: &Transaction, key: i64, b: i64, candles: &[Candle]) -> Result<(), StoreError> {
    let mut data = Vec::new();
    block::encode(candles, &mut data);
    let sha: [u8; 32] = Sha256::digest(&data).into();
    tx.prepare_cached(
        "INSERT OR REPLACE INTO candle_blocks (node, start, rows, digest, data) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![key, b, candles.len() as i64, &sha[..], data])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{NodeId, Window};
    use crate::provider::{fingerprint, fingerprint_with};
    use crate::store::CandleStore;
    use crate::store::sqlite::SqliteStore;
    use proptest::prelude::*;

    const M: i64 = 60_000;
    /// One block of 1m.
    const B: i64 = 1000 * M;

    fn node() -> NodeId {
        "ohlcv:binance:BTC/USDT:1m".parse().unwrap()
    }

    fn minutes(from: i64, to: i64, px: f64) -> Vec<Candle> {
        (from..to).map(|i| c(i * M, px + i as f64)).collect()
    }

    fn w(from: i64, to: i64) -> Window {
        Window {
            start: from * M,
            end: to * M,
        }
    }

    fn count(store: &SqliteStore, table: &str) -> i64 {
        let db = Connection::open(store.path()).unwrap();
        db.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    #[tokio::test]
    async fn a_fully_known_block_is_sealed_and_read_back_with_its_digest() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("b.db")).unwrap();
        let n = node();
        // Blocks 0 and 1 wholly, and 100 minutes of block 2.
        s.write_page(&n, minutes(0, 2100, 1.0), w(0, 2100))
            .await
            .unwrap();
        assert_eq!(count(&s, "candle_blocks"), 2);
        assert_eq!(
            count(&s, "candles"),
            100,
            "the open block's candles stay rows"
        );
        let (got, digests) = s.read_digested(&n, w(0, 2100)).await.unwrap();
        assert_eq!(got, minutes(0, 2100, 1.0));
        assert_eq!(
            digests
                .iter()
                .map(|d| (d.start, d.rows))
                .collect::<Vec<_>>(),
            vec![(0, 1000), (B, 1000)]
        );
        assert_eq!(digests[1].sha256, block::digest(&got[1000..2000]));
        // A window inside one block: its part, no digest.
        let (mid, digests) = s.read_digested(&n, w(10, 20)).await.unwrap();
        assert_eq!(mid, minutes(10, 20, 1.0));
        assert!(digests.is_empty());
        // Completing block 2 over two more writes moves its rows into a block.
        s.write_page(&n, minutes(2100, 2900, 1.0), w(2100, 2900))
            .await
            .unwrap();
        s.write_page(&n, vec![], w(2900, 3000)).await.unwrap();
        assert_eq!(count(&s, "candle_blocks"), 3);
        assert_eq!(count(&s, "candles"), 0);
        assert_eq!(s.read(&n, w(0, 3000)).await.unwrap(), minutes(0, 2900, 1.0));
    }

    #[tokio::test]
    async fn a_write_into_a_sealed_block_rewrites_it_and_the_new_candle_wins() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path().join("b.db")).unwrap();
        let n = node();
        s.write_page(&n, minutes(0, 1000, 1.0), w(0, 1000))
            .await
            .unwrap();
        let (_, before) = s.read_digested(&n, w(0, 1000)).await.unwrap();
        s.write_page(&n, vec![c(5 * M, 99.0)], w(5, 6))
            .await
            .unwrap();
        assert_eq!(count(&s, "candles"), 0);
        let (got, after) = s.read_digested(&n, w(0, 1000)).await.unwrap();
        assert_eq!(got.len(), 1000);
        assert_eq!(got[5].close, 99.0);
        assert_eq!(after[0].sha256, block::digest(&got));
        assert_ne!(after[0].sha256, before[0].sha256);
    }

    #[tokio::test]
    async fn a_store_written_before_blocks_is_read_and_sealed_by_later_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v1.db");
        {
            // The version-1 schema, with rows and a ledger as that seamless wrote them.
            let db = Connection::open(&path).unwrap();
            db.execute_batch(super::super::MIGRATIONS[0]).unwrap();
            db.execute_batch("PRAGMA user_version = 1").unwrap();
            db.execute(
                "INSERT INTO nodes (id, node_id) VALUES (1, ?1)",
                [node().to_string()],
            )
            .unwrap();
            for k in minutes(0, 900, 1.0) {
                db.execute(
                    "INSERT INTO candles VALUES (1, ?1, ?2, ?2, ?2, ?2, 0)",
                    params![k.open_time, k.close],
                )
                .unwrap();
            }
            db.execute("INSERT INTO coverage VALUES (1, 0, 0, ?1)", [900 * M])
                .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let n = node();
        assert_eq!(s.read(&n, w(0, 900)).await.unwrap(), minutes(0, 900, 1.0));
        s.write_page(&n, minutes(900, 1000, 1.0), w(900, 1000))
            .await
            .unwrap();
        assert_eq!(count(&s, "candle_blocks"), 1);
        assert_eq!(count(&s, "candles"), 0);
        assert_eq!(s.read(&n, w(0, 1000)).await.unwrap(), minutes(0, 1000, 1.0));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

        /// Any sequence of page writes (overlapping, rewriting, proving empty ranges, in
        /// any order) reads back as a plain map of the last write per minute would, for any
        /// window; and the fingerprint from the stored digests equals the one hashed from
        /// the candles.
        #[test]
        fn reads_agree_with_a_plain_model(
            writes in proptest::collection::vec((0i64..4000, 1i64..1500, 0u8..4, 0u8..3), 1..8),
            windows in proptest::collection::vec((0i64..5000, 1i64..5000), 1..6),
        ) {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let dir = tempfile::tempdir().unwrap();
                let s = SqliteStore::open(dir.path().join("p.db")).unwrap();
                let n = node();
                let mut model = BTreeMap::new();
                for (k, (from, len, density, px)) in writes.into_iter().enumerate() {
                    // density 0: an empty page; else every 1st, 2nd or 3rd minute.
                    let candles: Vec<Candle> = (from..from + len)
                        .filter(|i| density > 0 && i % density as i64 == 0)
                        .map(|i| c(i * M, (k * 10 + px as usize) as f64 + i as f64))
                        .collect();
                    for k in &candles {
                        model.insert(k.open_time, *k);
                    }
                    s.write_page(&n, candles, w(from, from + len)).await.unwrap();
                }
                for (from, len) in windows {
                    let win = w(from, from + len);
                    let want: Vec<Candle> = model.range(win.start..win.end).map(|(_, k)| *k).collect();
                    let (got, digests) = s.read_digested(&n, win).await.unwrap();
                    prop_assert_eq!(&got, &want);
                    prop_assert_eq!(
                        fingerprint_with(&n, win, &got, &digests),
                        fingerprint(&n, win, &got)
                    );
                }
                Ok(())
            })?;
        }
    }

    fn c(t: i64, px: f64) -> Candle {
        Candle {
            open_time: t,
            open: px,
            high: px,
            low: px,
            close: px,
            volume: 0.0,
        }
    }

    #[test]
    fn overlay_keeps_the_new_candle_and_both_sides_rest() {
        let old = [c(1, 1.0), c(2, 1.0), c(4, 1.0)];
        let new = [c(0, 2.0), c(2, 2.0), c(5, 2.0)];
        let got: Vec<(i64, f64)> = overlay(&old, &new)
            .iter()
            .map(|c| (c.open_time, c.close))
            .collect();
        assert_eq!(got, vec![(0, 2.0), (1, 1.0), (2, 2.0), (4, 1.0), (5, 2.0)]);
    }
}
