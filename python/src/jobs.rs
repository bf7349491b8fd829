//! The work behind each call, as futures on the runtime: fetch (closed history through the
//! provider, then the live phase, as `seamless fetch`), coverage (as `seamless coverage
//! --format json`) and backfill (as `seamless backfill`, with progress counters the Python
//! side draws).

use std::sync::{Arc, Mutex};

use pyo3::prelude::*;

use seamless::domain::{Candle, NodeId, Window};
use seamless::provider::{FetchOptions, Progress, Provider, Sla, Strategy};

use crate::errors::Failure;

/// A served frame: the candles and the metadata as `seamless fetch --metadata` writes it.
pub struct FetchOut {
    pub candles: Vec<Candle>,
    pub metadata_json: String,
}

/// Serve `window` of `node` (aligned already). A `partial-fill` fetch's background backfill
/// goes on in the process after the call returns.
pub async fn fetch(
    provider: Provider,
    sla: Sla,
    node: NodeId,
    window: Window,
    strategy: Strategy,
    partial_ok: bool,
) -> Result<FetchOut, Failure> {
    let opts = FetchOptions {
        strategy,
        partial_ok,
        sla,
        include_forming: false,
    };
    let fetched = seamless::live::fetch_with_live(&provider, &node, window, &opts).await?;
    let metadata_json = serde_json::to_string(&fetched.metadata).map_err(Failure::runtime)?;
    Ok(FetchOut {
        candles: fetched.candles,
        metadata_json,
    })
}

/// The ledger over `[start, end)` (`start` defaults to the first range the ledger knows),
/// with the missing closed part, as JSON (`Provider::coverage_report`, as the CLI prints it).
pub async fn coverage(
    provider: Provider,
    node: NodeId,
    start: Option<i64>,
    end: i64,
) -> Result<String, Failure> {
    let report = provider.coverage_report(&node, start, end).await?;
    serde_json::to_string(&report).map_err(|e| Failure::runtime(e.to_string()))
}

/// One node's progress.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    node: String,
    /// Grid slots settled (candles or known-empty) so far.
    done: u64,
    /// Slots missing when the backfill started.
    total: u64,
    pages: u64,
    finished: bool,
}

/// Progress of a backfill, shared between the job and the Python caller.
#[pyclass(frozen, module = "seamless_market._native")]
#[derive(Default)]
pub struct BackfillProgress {
    entries: Arc<Mutex<Vec<Entry>>>,
}

impl BackfillProgress {
    pub fn state(&self) -> Arc<Mutex<Vec<Entry>>> {
        self.entries.clone()
    }
}

#[pymethods]
impl BackfillProgress {
    #[new]
    fn new() -> Self {
        Self::default()
    }

    /// `[(node_id, done_slots, total_slots, pages, finished)]`, in the order given.
    fn snapshot(&self) -> Vec<(String, u64, u64, u64, bool)> {
        let e = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        e.iter()
            .map(|e| (e.node.clone(), e.done, e.total, e.pages, e.finished))
            .collect()
    }
}

fn update(entries: &Mutex<Vec<Entry>>, i: usize, f: impl FnOnce(&mut Entry)) {
    let mut e = entries.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = e.get_mut(i) {
        f(e);
    }
}

/// Backfill every node over `requested` (resumable: only what the ledger lacks), nodes
/// concurrently. Returns per node `{node_id, window, candles, requests, pages, chunks,
/// missing}` as JSON; chunk failures fail the call after every node ended, with the
/// CLI's message.
pub async fn backfill(
    provider: Provider,
    nodes: Vec<NodeId>,
    requested: Window,
    entries: Arc<Mutex<Vec<Entry>>>,
) -> Result<String, Failure> {
    // Check every node before starting any work.
    for n in &nodes {
        provider.exchange(n)?;
    }
    {
        let mut e = entries.lock().unwrap_or_else(|p| p.into_inner());
        *e = nodes
            .iter()
            .map(|n| Entry {
                node: n.to_string(),
                ..Entry::default()
            })
            .collect();
    }
    let mut tasks = tokio::task::JoinSet::new();
    for (i, node) in nodes.into_iter().enumerate() {
        let (w, _) = requested.align(node.timeframe);
        let todo = provider
            .coverage_report(&node, Some(w.start), w.end)
            .await?
            .missing
            .slots(node.timeframe);
        update(&entries, i, |e| e.total = todo.max(0) as u64);
        let progress: Progress = {
            let (entries, tf) = (entries.clone(), node.timeframe);
            // Count the slots each page settled (candles or known-empty): the bar ends full.
            Arc::new(move |_candles, covered: Window| {
                let n = tf.slots(covered.start, covered.end).max(0) as u64;
                update(&entries, i, |e| {
                    e.done += n;
                    e.pages += 1;
                });
            })
        };
        let (p, entries) = (provider.clone(), entries.clone());
        tasks.spawn(async move {
            let outcome = p.backfill(&node, w, Some(progress)).await;
            update(&entries, i, |e| e.finished = true);
            (i, node, w, outcome)
        });
    }
    let mut results: Vec<(usize, serde_json::Value)> = Vec::new();
    let mut failed = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (i, node, w, outcome) =
            joined.map_err(|e| Failure::runtime(format!("internal task failed: {e}")))?;
        let outcome = outcome?;
        let s = outcome.stats;
        let missing = provider
            .coverage_report(&node, Some(w.start), w.end)
            .await?
            .missing;
        results.push((
            i,
            serde_json::json!({
                "node_id": node.to_string(),
                "window": w,
                "candles": s.candles,
                "requests": s.requests,
                "pages": s.pages,
                "chunks": s.chunks,
                "missing": missing,
            }),
        ));
        for e in outcome.errors {
            failed.push(format!("{node}: {}", Failure::from(e).message));
        }
    }
    if !failed.is_empty() {
        return Err(Failure::runtime(format!(
            "{} chunk(s) failed (completed pages are stored; rerun to resume):\n  {}",
            failed.len(),
            failed.join("\n  ")
        )));
    }
    results.sort_by_key(|r| r.0);
    let out: Vec<serde_json::Value> = results.into_iter().map(|r| r.1).collect();
    Ok(serde_json::Value::Array(out).to_string())
}
