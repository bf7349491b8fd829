//! Candle blocks: a fixed partition of each series' time axis into spans of
//! [`BLOCK_SLOTS`] nominal slots, counted from the Unix epoch, and the canonical 48-byte
//! encoding of a candle.
//!
//! Two things share the grid. The SQLite store keeps every span the ledger fully knows as
//! one sealed block (its candles encoded back to back, and the SHA-256 of those bytes), so
//! a window is read as a few large values instead of a row per candle. The dataset
//! fingerprint hashes a frame block by block, so the digest a sealed block carries stands
//! in for hashing its candles again. Changing [`BLOCK_SLOTS`] changes every fingerprint
//! and every stored block: it is part of the store's schema and of the fingerprint's
//! version.

use sha2::{Digest, Sha256};

use super::{Candle, Timeframe};

/// Nominal slots per block (for 1m: 16 h 40 min; for 1h: 41 days 16 h). A thousand, like the
/// page size of the largest venues (Binance, Bybit), whose pages the backfill's chunk grid
/// aligns from the epoch too: such a page fills exactly one block, which it seals at once.
pub const BLOCK_SLOTS: i64 = 1000;

/// Bytes per encoded candle: open time (i64), open, high, low, close, volume (f64 bits),
/// each little-endian.
pub const ENCODED_LEN: usize = 48;

/// Length in ms of one block of `tf` (calendar months count as 31 days: any fixed span
/// partitions the axis; blocks need not start on candle boundaries).
pub fn block_span(tf: Timeframe) -> i64 {
    tf.nominal_ms() * BLOCK_SLOTS
}

/// Start of the block of `tf` holding time `t`.
pub fn block_start(tf: Timeframe, t: i64) -> i64 {
    let span = block_span(tf);
    t.div_euclid(span).saturating_mul(span)
}

/// The SHA-256 of a sealed block's candles, in their canonical encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockDigest {
    /// Start of the block ([`block_start`]).
    pub start: i64,
    /// Candles in the block.
    pub rows: u64,
    /// SHA-256 of their encoding ([`encode`]).
    pub sha256: [u8; 32],
}

/// Append the canonical encoding of `candles` to `out`.
pub fn encode(candles: &[Candle], out: &mut Vec<u8>) {
    out.reserve(candles.len() * ENCODED_LEN);
    for c in candles {
        out.extend_from_slice(&c.open_time.to_le_bytes());
        for v in [c.open, c.high, c.low, c.close, c.volume] {
            out.extend_from_slice(&v.to_bits().to_le_bytes());
        }
    }
}

/// Decode candles encoded by [`encode`], appending to `out`; `None` when `bytes` is not a
/// whole number of candles.
pub fn decode(bytes: &[u8], out: &mut Vec<Candle>) -> Option<()> {
    let (rows, rest) = bytes.as_chunks::<ENCODED_LEN>();
    if !rest.is_empty() {
        return None;
    }
    out.reserve(rows.len());
    out.extend(rows.iter().map(|row| {
        let (w, _) = row.as_chunks::<8>();
        Candle {
            open_time: i64::from_le_bytes(w[0]),
            open: f64::from_le_bytes(w[1]),
            high: f64::from_le_bytes(w[2]),
            low: f64::from_le_bytes(w[3]),
            close: f64::from_le_bytes(w[4]),
            volume: f64::from_le_bytes(w[5]),
        }
    }));
    Some(())
}

/// SHA-256 of the canonical encoding of `candles`.
pub fn digest(candles: &[Candle]) -> [u8; 32] {
    let mut h = Sha256::new();
    // 1024 candles (48 KiB) at a time through one buffer.
    let mut buf = Vec::with_capacity(1024 * ENCODED_LEN);
    for chunk in candles.chunks(1024) {
        buf.clear();
        encode(chunk, &mut buf);
        h.update(&buf);
    }
    h.finalize().into()
}

/// Split `candles` into maximal runs of consecutive candles in the same block:
/// `(block start, run)` (for ascending candles, one run per block).
pub fn runs(tf: Timeframe, candles: &[Candle]) -> impl Iterator<Item = (i64, &[Candle])> {
    let span = block_span(tf);
    let mut rest = candles;
    std::iter::from_fn(move || {
        let first = rest.first()?;
        let start = block_start(tf, first.open_time);
        let end = start.saturating_add(span);
        let n = rest
            .iter()
            .position(|c| c.open_time < start || c.open_time >= end)
            .unwrap_or(rest.len());
        let (run, tail) = rest.split_at(n);
        rest = tail;
        Some((start, run))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(t: i64) -> Candle {
        Candle {
            open_time: t,
            open: 1.5,
            high: 2.0,
            low: -0.0,
            close: f64::MIN_POSITIVE,
            volume: 1e300,
        }
    }

    #[test]
    fn the_grid_partitions_time_from_the_epoch() {
        let span = block_span(Timeframe::M1);
        assert_eq!(span, 1000 * 60_000);
        assert_eq!(block_start(Timeframe::M1, 0), 0);
        assert_eq!(block_start(Timeframe::M1, span - 1), 0);
        assert_eq!(block_start(Timeframe::M1, span), span);
        assert_eq!(block_start(Timeframe::M1, -1), -span);
        assert_eq!(block_span(Timeframe::Mo1), 1000 * 31 * 86_400_000);
    }

    #[test]
    fn encoding_round_trips_every_bit() {
        let candles: Vec<Candle> = (0..3).map(|i| c(i * 60_000 - 60_000)).collect();
        let mut bytes = Vec::new();
        encode(&candles, &mut bytes);
        assert_eq!(bytes.len(), 3 * ENCODED_LEN);
        assert_eq!(&bytes[..8], &(-60_000i64).to_le_bytes());
        let mut back = Vec::new();
        decode(&bytes, &mut back).unwrap();
        assert_eq!(back.len(), 3);
        for (a, b) in back.iter().zip(&candles) {
            assert_eq!(a.open_time, b.open_time);
            assert_eq!(a.low.to_bits(), b.low.to_bits());
            assert_eq!(a.volume, b.volume);
        }
        assert!(decode(&bytes[1..], &mut back).is_none());
    }

    #[test]
    fn digest_is_sha256_of_the_encoding() {
        let candles: Vec<Candle> = (0..2500).map(|i| c(i * 60_000)).collect();
        let mut bytes = Vec::new();
        encode(&candles, &mut bytes);
        let plain: [u8; 32] = Sha256::digest(&bytes).into();
        assert_eq!(digest(&candles), plain);
    }

    #[test]
    fn runs_split_at_block_edges() {
        let span = block_span(Timeframe::M1);
        let candles: Vec<Candle> = [0, 60_000, span - 60_000, span, 3 * span + 5]
            .into_iter()
            .map(c)
            .collect();
        let got: Vec<(i64, usize)> = runs(Timeframe::M1, &candles)
            .map(|(s, r)| (s, r.len()))
            .collect();
        assert_eq!(got, vec![(0, 3), (span, 1), (3 * span, 1)]);
        assert_eq!(runs(Timeframe::M1, &[]).count(), 0);
        // Out of order: a block met twice gives two runs.
        let back = [c(0), c(span), c(60_000)];
        let got: Vec<(i64, usize)> = runs(Timeframe::M1, &back)
            .map(|(s, r)| (s, r.len()))
            .collect();
        assert_eq!(got, vec![(0, 1), (span, 1), (0, 1)]);
    }
}
