//! What a fetch served, exactly: coverage, missing ranges, staleness, downgrades,
//! conformance, and a dataset fingerprint a backtest can cite.

use std::collections::BTreeMap;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::conformance::ConformanceReport;
use super::options::{OnViolation, Phase, Strategy};
use crate::domain::{BlockDigest, Candle, NodeId, RangeSet, Window, block};

/// Why and how a result was downgraded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Downgrade {
    /// `partial-fill` (what was ready), `hold` (nothing new), or `partial` (the caller
    /// accepted missing data or flags).
    pub mode: String,
    pub reason: String,
    /// The phase that broke its budget, if an SLA did.
    pub phase: Option<Phase>,
    pub elapsed_ms: Option<u64>,
    pub budget_ms: Option<u64>,
}

impl Downgrade {
    pub(super) fn sla(mode: OnViolation, phase: Phase, elapsed_ms: u64, budget_ms: u64) -> Self {
        Downgrade {
            mode: mode.as_str().to_string(),
            reason: format!("{phase} took {elapsed_ms} ms, over its budget of {budget_ms} ms"),
            phase: Some(phase),
            elapsed_ms: Some(elapsed_ms),
            budget_ms: Some(budget_ms),
        }
    }
}

/// The result metadata (serialised as JSON by `--metadata`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metadata {
    pub node_id: String,
    /// The window asked for.
    pub requested: Window,
    /// The window served: `requested` aligned to the grid.
    pub window: Window,
    pub strategy: Strategy,
    pub rows: usize,
    /// `[first open, last open + timeframe)` of the served candles.
    pub coverage_bounds: Option<Window>,
    /// Share of the window the ledger knows (candles or known-empty), 0..=1.
    pub coverage_ratio: f64,
    /// Ranges of the window neither stored nor known empty (incl. the unclosed part).
    pub missing: RangeSet,
    /// Closed grid slots inside `missing`.
    pub missing_bars: u64,
    /// Ranges the exchange has no candles for (before listing, downtime).
    pub empty: RangeSet,
    /// ms from the close of the newest served candle to `as_of`.
    pub staleness_ms: Option<i64>,
    /// True when the frame is not complete (missing data, flags, or a downgrade).
    pub partial: bool,
    pub downgrade: Option<Downgrade>,
    pub conformance: ConformanceReport,
    /// When the frame was assembled (ms since the epoch).
    pub as_of: i64,
    /// `sha256:` over the canonical encoding of the node id, window and candles.
    pub fingerprint: String,
    /// Candles served from storage without a request during this call.
    pub from_store: usize,
    /// Candles fetched from the exchange during this call.
    pub fetched: usize,
    /// HTTP requests sent (retries included).
    pub requests: u64,
    /// Time per phase in ms.
    pub phases_ms: BTreeMap<Phase, u64>,
    /// The live phase (strategy `seamless`, window reaching the present).
    pub live: Option<LiveMeta>,
}

/// What the live phase of a fetch did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LiveMeta {
    /// `websocket URL` or `poll every N ms`.
    pub source: Option<String>,
    /// Closed candles added by the live feed (closed after the backfill, or the seam).
    pub closed: usize,
    /// Open time of the forming candle served (only with `include_forming`).
    pub forming: Option<i64>,
    /// Why the live phase ended early (budget, feed failure); storage and backfill
    /// results are served regardless.
    pub error: Option<String>,
}

/// The dataset fingerprint (`sha256:` and 64 hex digits): SHA-256 over
/// `seamless-frame-v2\0`, the node id, a zero byte, the window's start and end (i64 LE), the
/// number of candles (u64 LE), then, for every block of the grid ([`crate::domain::block`])
/// holding served candles, in time order: the block's start (i64 LE), its number of candles
/// (u64 LE) and the SHA-256 of their canonical 48-byte encoding.
///
/// Hashing block by block lets a store's sealed blocks supply their digests
/// ([`fingerprint_with`]) instead of every candle being hashed again on every read.
pub fn fingerprint(node: &NodeId, window: Window, candles: &[Candle]) -> String {
    fingerprint_with(node, window, candles, &[])
}

/// [`fingerprint`], taking the digests of blocks from `known` (ascending by start) where one
/// is given for a block and holds as many candles as the frame has in it; the caller vouches
/// that those are the same candles (a store read served unchanged).
pub fn fingerprint_with(
    node: &NodeId,
    window: Window,
    candles: &[Candle],
    known: &[BlockDigest],
) -> String {
    let mut h = Sha256::new();
    h.update(b"seamless-frame-v2\0");
    h.update(node.to_string().as_bytes());
    h.update([0]);
    h.update(window.start.to_le_bytes());
    h.update(window.end.to_le_bytes());
    h.update((candles.len() as u64).to_le_bytes());
    for (start, run) in block::runs(node.timeframe, candles) {
        let rows = run.len() as u64;
        let sha = match known.binary_search_by_key(&start, |d| d.start) {
            Ok(i) if known[i].rows == rows => known[i].sha256,
            _ => block::digest(run),
        };
        h.update(start.to_le_bytes());
        h.update(rows.to_le_bytes());
        h.update(sha);
    }
    format!("sha256:{}", hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Vec<Candle> {
        (0..100)
            .map(|i| Candle {
                open_time: i * 60_000,
                open: 1.0,
                high: 2.0,
                low: 0.5,
                close: 1.5,
                volume: i as f64,
            })
            .collect()
    }

    #[test]
    fn fingerprint_is_stable_and_sensitive() {
        let n: NodeId = "ohlcv:binance:BTC/USDT:1m".parse().unwrap();
        let w = Window {
            start: 0,
            end: 6_000_000,
        };
        let a = fingerprint(&n, w, &frame());
        assert_eq!(a, fingerprint(&n, w, &frame()));
        assert!(a.starts_with("sha256:") && a.len() == 7 + 64);
        let mut changed = frame();
        changed[57].close = 1.5000000001;
        assert_ne!(a, fingerprint(&n, w, &changed));
        let other: NodeId = "ohlcv:binance:ETH/USDT:1m".parse().unwrap();
        assert_ne!(a, fingerprint(&other, w, &frame()));
    }

    /// The documented encoding, written out plainly: fingerprints stay comparable
    /// across versions (a backtest proves which data it saw).
    #[test]
    fn fingerprint_encoding_is_the_documented_one() {
        let n: NodeId = "ohlcv:binance:BTC/USDT:1m".parse().unwrap();
        let w = Window {
            start: 0,
            end: 6_000_000,
        };
        // The encoding as documented, one field at a time.
        let documented = |candles: &[Candle]| {
            let mut h = Sha256::new();
            h.update(b"seamless-frame-v2\0");
            h.update(n.to_string().as_bytes());
            h.update([0]);
            h.update(w.start.to_le_bytes());
            h.update(w.end.to_le_bytes());
            h.update((candles.len() as u64).to_le_bytes());
            // Maximal runs of consecutive candles in one 1000-minute block.
            let span = 1000 * 60_000;
            let mut blocks: Vec<(i64, Vec<&Candle>)> = Vec::new();
            for c in candles {
                let start = c.open_time.div_euclid(span) * span;
                match blocks.last_mut() {
                    Some((s, cs)) if *s == start => cs.push(c),
                    _ => blocks.push((start, vec![c])),
                }
            }
            for (start, cs) in blocks {
                let mut b = Sha256::new();
                for c in &cs {
                    b.update(c.open_time.to_le_bytes());
                    for v in [c.open, c.high, c.low, c.close, c.volume] {
                        b.update(v.to_bits().to_le_bytes());
                    }
                }
                h.update(start.to_le_bytes());
                h.update((cs.len() as u64).to_le_bytes());
                h.update(b.finalize());
            }
            format!("sha256:{}", hex::encode(h.finalize()))
        };
        let short = frame();
        assert_eq!(fingerprint(&n, w, &short), documented(&short));
        // Several blocks, a partial last one, a gap over a whole block, and (not a frame
        // seamless serves, but hashed all the same) a block met twice.
        let many: Vec<Candle> = (0..25)
            .flat_map(|k| {
                frame().into_iter().map(move |mut c| {
                    c.open_time += k * 100 * 60_000 + if k > 20 { 2048 * 60_000 } else { 0 };
                    c
                })
            })
            .collect();
        assert_eq!(many.len(), 2500);
        assert_eq!(fingerprint(&n, w, &many), documented(&many));
        let mut twice = short.clone();
        twice.extend(many.iter().skip(2400).copied());
        twice.extend(short.iter().copied());
        assert_eq!(fingerprint(&n, w, &twice), documented(&twice));
    }

    /// Digests a store supplies stand in for hashing those blocks; a digest whose row count
    /// does not match the frame's run is not used.
    #[test]
    fn known_block_digests_give_the_same_fingerprint() {
        let n: NodeId = "ohlcv:binance:BTC/USDT:1m".parse().unwrap();
        let w = Window {
            start: 0,
            end: 3000 * 60_000,
        };
        let candles: Vec<Candle> = (0..30)
            .flat_map(|k| {
                frame().into_iter().map(move |mut c| {
                    c.open_time += k * 100 * 60_000;
                    c
                })
            })
            .collect();
        let plain = fingerprint(&n, w, &candles);
        let known: Vec<BlockDigest> = block::runs(n.timeframe, &candles)
            .map(|(start, run)| BlockDigest {
                start,
                rows: run.len() as u64,
                sha256: block::digest(run),
            })
            .collect();
        assert_eq!(known.len(), 3);
        assert_eq!(fingerprint_with(&n, w, &candles, &known), plain);
        let mut wrong = known.clone();
        wrong[1].sha256 = [7; 32];
        assert_ne!(fingerprint_with(&n, w, &candles, &wrong), plain);
        wrong[1].rows += 1;
        assert_eq!(fingerprint_with(&n, w, &candles, &wrong), plain);
    }
}
