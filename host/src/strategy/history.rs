//! The `history` import of a running strategy: windows of its inputs, bounded so the
//! strategy never sees the future.
//!
//! The bound is the **horizon**: the close time of the last candle of the batch being
//! delivered (during `init`, the start of the run). A candle of any input is visible
//! when it has closed by then (`open_time + timeframe <= horizon`), so a strategy on
//! 1m candles cannot read the 1h candle that is still forming. Requests are served from
//! the candles the run already loaded; anything older goes through the provider (from
//! storage, backfilling if the run's availability strategy allows it; the provider
//! serves closed history only, so no strategy needs rewriting here).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use crate::components::HistorySource;
use crate::domain::{Candle, NodeId, Window};
use crate::provider::{FetchOptions, Provider, Strategy};

/// Most candles one history call may return.
pub const MAX_HISTORY_ROWS: usize = 1_000_000;

/// One input's loaded series.
pub(super) struct Loaded {
    pub node: NodeId,
    /// Warm-up and run candles, ascending.
    pub candles: Vec<Candle>,
    /// The loaded span `[start, end)`: memory is authoritative inside it (warm-up start
    /// to the closed end of the run window at load time). Before it, history comes from
    /// the provider; after it (a live run), from the store the live session writes.
    pub start: i64,
    pub end: i64,
}

/// The history of a run, shared between the runner (which moves the horizon) and the
/// strategy instance (which reads through it).
#[derive(Clone)]
pub(super) struct RunHistory {
    /// Set once the inputs are loaded (empty during `init`).
    pub inputs: Arc<OnceLock<Vec<Loaded>>>,
    pub horizon: Arc<AtomicI64>,
    pub provider: Provider,
    pub fetch: FetchOptions,
    pub runtime: tokio::runtime::Handle,
}

impl RunHistory {
    fn input(&self, input: u32) -> Result<&Loaded, String> {
        let inputs = self
            .inputs
            .get()
            .ok_or("history is not available during init: ask from on-candles")?;
        inputs.get(input as usize).ok_or_else(|| {
            format!(
                "input {input} does not exist: this strategy has {} input(s), 0..={}",
                inputs.len(),
                inputs.len().saturating_sub(1)
            )
        })
    }

    /// Open times `< end_open` are visible for this input at the horizon.
    fn visible_end(&self, l: &Loaded) -> i64 {
        // The candle containing the horizon (or opening at it) has not closed yet;
        // everything opening before it has.
        l.node.timeframe.floor(self.horizon.load(Ordering::Acquire))
    }

    /// Closed candles of `l` in `[start, end)` through the provider, partial accepted.
    fn through_provider(
        &self,
        l: &Loaded,
        start: i64,
        end: i64,
        strategy: Strategy,
    ) -> Result<Vec<Candle>, String> {
        let opts = FetchOptions {
            strategy,
            partial_ok: true,
            ..self.fetch.clone()
        };
        self.runtime
            .block_on(self.provider.fetch(&l.node, Window { start, end }, &opts))
            .map(|f| f.candles)
            .map_err(|e| format!("history of {}: {e}", l.node))
    }

    /// Candles of `l` in `[start, end)`, from memory and, before the loaded span, from
    /// the provider.
    fn candles(&self, l: &Loaded, start: i64, end: i64) -> Result<Vec<Candle>, String> {
        if end <= start {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        if start < l.start {
            // Older than the run loaded: through the provider (backfilling if allowed).
            out = self.through_provider(l, start, end.min(l.start), self.fetch.strategy)?;
        }
        let a = l
            .candles
            .partition_point(|c| c.open_time < start.max(l.start));
        let b = l.candles.partition_point(|c| c.open_time < end.min(l.end));
        if a < b {
            out.extend_from_slice(&l.candles[a..b]);
        }
        if end > l.end {
            // Live candles, stored by the live session as they closed.
            out.extend(self.through_provider(l, start.max(l.end), end, Strategy::FailFast)?);
        }
        if out.len() > MAX_HISTORY_ROWS {
            return Err(format!(
                "history request of {} returns {} candles, more than {MAX_HISTORY_ROWS}; ask for a smaller window",
                l.node,
                out.len()
            ));
        }
        Ok(out)
    }
}

impl RunHistory {
    /// The last `count` candles of `l` opening before `end` (not bounded by the horizon:
    /// the runner's own use, e.g. re-warming a fresh instance).
    pub(super) fn tail(&self, l: &Loaded, count: u32, end: i64) -> Result<Vec<Candle>, String> {
        if count as usize > MAX_HISTORY_ROWS {
            return Err(format!(
                "history last: count {count} is more than {MAX_HISTORY_ROWS}"
            ));
        }
        let tf = l.node.timeframe;
        let mem_end = end.min(l.end);
        let in_memory = l.candles.partition_point(|c| c.open_time < mem_end);
        let start = if end > l.end {
            // Past the loaded span (live): go back from the end; gaps may give fewer.
            tf.back(tf.ceil(end), count as u64)
        } else if end <= l.start {
            tf.back(tf.ceil(end), count as u64)
        } else if in_memory >= count as usize {
            l.candles[in_memory - count as usize].open_time
        } else {
            // Reach before the loaded span for the rest.
            tf.back(l.start, (count as usize - in_memory) as u64)
        };
        let mut got = self.candles(l, start, end)?;
        if got.len() > count as usize {
            got.drain(..got.len() - count as usize);
        }
        Ok(got)
    }

    /// Input `input`'s loaded series.
    pub(super) fn loaded(&self, input: u32) -> Result<&Loaded, String> {
        self.input(input)
    }
}

impl HistorySource for RunHistory {
    fn range(&mut self, input: u32, window: Window) -> Result<Vec<Candle>, String> {
        let l = self.input(input)?;
        let end = window.end.min(self.visible_end(l));
        self.candles(l, window.start, end)
    }

    fn last(&mut self, input: u32, count: u32, before: i64) -> Result<Vec<Candle>, String> {
        let l = self.input(input)?;
        let end = before.min(self.visible_end(l));
        self.tail(l, count, end)
    }
}
