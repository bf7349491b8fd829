//! Serving a window of closed history ([`Provider::fetch`]), phase by phase:
//! 1. **storage**: the ledger of the window before anything else happens;
//! 2. **backfill**: exactly the missing closed part, now or in the background, by
//!    strategy, under the backfill and total budgets;
//! 3. **frame**: the candles to serve (storage before + the pages just fetched, or a
//!    read of the store), rolled back under `hold`;
//! 4. **checks**: conformance, the missing-bars guard, the total budget, completeness;
//! 5. **metadata**: what was served, exactly.
//!
//! The SLA state travels through the phases in one [`SlaState`].

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::backfill::{BackfillStats, Progress};
use super::conformance::{self, ConformanceReport};
use super::metadata::{Downgrade, Metadata, fingerprint_with};
use super::options::{FetchOptions, Phase, Strategy};
use super::sla::SlaState;
use super::{BackfillOutcome, Exchange, Fetched, Provider, ProviderError, fmt_ranges};
use crate::domain::{BlockDigest, Candle, NodeId, RangeSet, Window};
use crate::store::{CandleStore, Ledger};

/// The windows of one fetch.
struct Span {
    requested: Window,
    /// `requested` aligned to the grid.
    window: Window,
    /// Where closed data ends now (clipped to the window).
    closed_end: i64,
    /// The closed part of the window.
    closed: Window,
}

/// What the backfill phase did.
#[derive(Default)]
struct Backfilled {
    stats: BackfillStats,
    /// The pages this fetch stored, kept to serve the frame without reading them back.
    pages: Vec<Vec<Candle>>,
    /// Every missing page was fetched here (none by another task or worker, no failure):
    /// the frame is storage-before + `pages`.
    served_from_pages: bool,
    background: Option<tokio::task::JoinHandle<BackfillOutcome>>,
    /// Why data may be missing (the first failed chunk's error).
    cause: Option<String>,
}

/// The served frame, checked.
struct Frame {
    candles: Vec<Candle>,
    conformance: ConformanceReport,
    /// The ledger the frame was served from (before the fetch, under `hold`).
    ledger: Ledger,
    missing: RangeSet,
    missing_closed: RangeSet,
    missing_bars: u64,
    /// Digests of stored blocks whose candles the frame serves exactly as read.
    digests: Vec<BlockDigest>,
}

impl Provider {
    /// Serve the closed history of `requested` of `node` under `opts`: storage first;
    /// then, by strategy, a backfill of exactly the missing closed part (now, or in the
    /// background); then conformance, SLA and completeness checks; then the frame and its
    /// metadata.
    ///
    /// The provider serves closed candles only: the `seamless` strategy backfills here
    /// like `auto-backfill`, and its live phase (candles closed since, the forming
    /// candle) is added on top by the live layer's `fetch_with_live`.
    #[tracing::instrument(skip_all, fields(exchange = %node.exchange, symbol = %node.symbol, timeframe = %node.timeframe))]
    pub async fn fetch(
        &self,
        node: &NodeId,
        requested: Window,
        opts: &FetchOptions,
    ) -> Result<Fetched, ProviderError> {
        let t0 = Instant::now();
        let ex = self.exchange(node)?;
        let span = self.span(node, requested);

        // Storage.
        let t = Instant::now();
        let before = self.store.ledger(node, span.window).await?;
        let mut sla = SlaState::new(node, &opts.sla, &before.present);
        let storage_ms = t.elapsed().as_millis() as u64;
        sla.record(Phase::Storage, storage_ms);
        let stop = sla.check(Phase::Storage, storage_ms)?;

        // Backfill.
        let missing = before.missing(span.closed);
        let mut got = if missing.is_empty() || stop {
            Backfilled::default()
        } else {
            self.backfill_phase(&ex, node, &span, &missing, opts, &mut sla, t0)
                .await?
        };

        // Frame and checks.
        let pages = std::mem::take(&mut got.pages);
        let frame = self
            .frame(node, &span, &before, pages, got.served_from_pages, &sla)
            .await?;
        self.check_frame(node, &frame, &got.cause, opts, &mut sla, t0)?;
        Ok(self.served(node, &span, &before, frame, got, opts, sla))
    }

    fn span(&self, node: &NodeId, requested: Window) -> Span {
        let (window, _) = requested.align(node.timeframe);
        let closed_end = self.closed_end(node, window);
        Span {
            requested,
            window,
            closed_end,
            closed: Window {
                start: window.start,
                end: closed_end.max(window.start),
            },
        }
    }

    /// Backfill `missing` by strategy: not at all (fail-fast), in the background
    /// (partial-fill), or now under the backfill and total budgets.
    #[allow(clippy::too_many_arguments)]
    async fn backfill_phase(
        &self,
        ex: &Exchange,
        node: &NodeId,
        span: &Span,
        missing: &RangeSet,
        opts: &FetchOptions,
        sla: &mut SlaState<'_>,
        t0: Instant,
    ) -> Result<Backfilled, ProviderError> {
        let mut got = Backfilled::default();
        let closed_end = span.closed_end;
        match opts.strategy {
            Strategy::FailFast => return Ok(got),
            Strategy::PartialFill => {
                let (p, ex, n, m) = (self.clone(), ex.clone(), node.clone(), missing.clone());
                got.background = Some(tokio::spawn(async move {
                    p.backfill_missing(&ex, &n, &m, closed_end, None).await
                }));
                return Ok(got);
            }
            Strategy::AutoBackfill | Strategy::Seamless => {}
        }
        let limits = sla.sla();
        let t = Instant::now();
        let budget = min_opt(
            limits.backfill,
            limits.total.map(|b| b.saturating_sub(t0.elapsed())),
        );
        let collected: Arc<Mutex<Vec<Vec<Candle>>>> = Arc::default();
        let sink = collected.clone();
        let keep: Progress = Arc::new(move |candles: &[Candle], _| {
            if !candles.is_empty() {
                let page = candles.to_vec();
                sink.lock().unwrap_or_else(|p| p.into_inner()).push(page);
            }
        });
        let run = self.backfill_missing(ex, node, missing, closed_end, Some(keep));
        let outcome = match budget {
            Some(b) => tokio::time::timeout(b, run).await.ok(),
            None => Some(run.await),
        };
        let backfill_ms = t.elapsed().as_millis() as u64;
        sla.record(Phase::Backfill, backfill_ms);
        let mut stop = false;
        match outcome {
            Some(o) => {
                got.stats = o.stats;
                got.served_from_pages = o.errors.is_empty() && o.stats.shared_chunks == 0;
                if let Some(e) = o.errors.into_iter().next() {
                    // Bad input, a refusal, or an exchange that cannot be reached at all:
                    // the cause is the error (exit 2 / 1), not "incomplete".
                    let unreachable = matches!(
                        e,
                        ProviderError::Exhausted {
                            unreachable: true,
                            ..
                        }
                    );
                    // A refusal (4xx) is refused again on a rerun: the cause, not "incomplete".
                    let refused = matches!(e, ProviderError::Refused { .. });
                    if e.is_bad_input()
                        || (refused && !opts.partial_ok)
                        || (unreachable && got.stats.pages == 0 && !opts.partial_ok)
                    {
                        return Err(e);
                    }
                    got.cause = Some(e.to_string());
                }
            }
            None => {
                let phase = if limits
                    .backfill
                    .is_some_and(|b| Duration::from_millis(backfill_ms) >= b)
                {
                    Phase::Backfill
                } else {
                    Phase::Total
                };
                let budget_ms = limits
                    .budget(phase)
                    .map(|b| b.as_millis() as u64)
                    .unwrap_or_default();
                let elapsed_ms = if phase == Phase::Total {
                    t0.elapsed().as_millis() as u64
                } else {
                    backfill_ms
                };
                stop = sla.violation(phase, elapsed_ms, budget_ms)?;
            }
        }
        if !stop {
            sla.check(Phase::Backfill, backfill_ms)?;
        }
        got.pages = std::mem::take(&mut *collected.lock().unwrap_or_else(|p| p.into_inner()));
        Ok(got)
    }

    /// The candles to serve: what storage holds now (or held before, under `hold`),
    /// conformance-checked.
    async fn frame(
        &self,
        node: &NodeId,
        span: &Span,
        before: &Ledger,
        pages: Vec<Vec<Candle>>,
        served_from_pages: bool,
        sla: &SlaState<'_>,
    ) -> Result<Frame, ProviderError> {
        let (tf, window) = (node.timeframe, span.window);
        let after = self.store.ledger(node, window).await?;
        let mut digests = Vec::new();
        let mut raw = if served_from_pages && sla.hold_to.is_none() {
            // Stored ranges and fetched pages are disjoint runs of ascending candles: put
            // the runs in order and concatenate (a full sort only if they overlap).
            let mut runs = pages;
            for &(s, e) in before.present.ranges() {
                runs.push(self.store.read(node, Window { start: s, end: e }).await?);
            }
            runs.retain(|r| !r.is_empty());
            runs.sort_unstable_by_key(|r| r[0].open_time);
            let mut raw = Vec::with_capacity(runs.iter().map(Vec::len).sum());
            for r in runs {
                raw.extend(r.into_iter().filter(|c| window.contains(c.open_time)));
            }
            if !raw.is_sorted_by_key(|c| c.open_time) {
                raw.sort_by_key(|c| c.open_time);
            }
            raw
        } else {
            let (raw, known) = self.store.read_digested(node, window).await?;
            digests = known;
            raw
        };
        if let Some(held) = &sla.hold_to {
            raw.retain(|c| held.covers(c.open_time, c.open_time + 1));
            digests.clear();
        }
        let read_len = raw.len();
        let ledger = if sla.hold_to.is_some() {
            before.clone()
        } else {
            after
        };
        let (candles, conformance) =
            conformance::check(tf, window, span.closed_end, &ledger.empty, raw);
        // Conformance only sorts and drops: at the same length, each block holds the same
        // candles as read (in the blocks' own ascending order).
        if candles.len() != read_len {
            digests.clear();
        }
        let missing = ledger.missing(window);
        let missing_closed = missing.clip(span.closed.start, span.closed.end);
        let missing_bars = missing_closed.slots(tf).max(0) as u64;
        let node_id = node.to_string();
        for (flag, n) in &conformance.flags {
            crate::metrics::conformance_flag(&node_id, tf.as_str(), flag, *n);
        }
        Ok(Frame {
            candles,
            conformance,
            ledger,
            missing,
            missing_closed,
            missing_bars,
            digests,
        })
    }

    /// The guards (missing bars, total budget) and completeness: an error when the frame
    /// may not be served as it is.
    fn check_frame(
        &self,
        node: &NodeId,
        f: &Frame,
        cause: &Option<String>,
        opts: &FetchOptions,
        sla: &mut SlaState<'_>,
        t0: Instant,
    ) -> Result<(), ProviderError> {
        if let Some(max) = sla.sla().max_missing_bars
            && f.missing_bars > max
        {
            sla.violation(Phase::Coverage, f.missing_bars, max)?;
        }
        let total_ms = t0.elapsed().as_millis() as u64;
        sla.record(Phase::Total, total_ms);
        if sla.downgrade.is_none() {
            sla.check(Phase::Total, total_ms)?;
        }
        let node_id = node.to_string();
        for (phase, ms) in &sla.phases {
            crate::metrics::sla_phase(&node_id, phase.as_str(), *ms as f64 / 1000.0);
        }
        let flagged_beyond_gaps = f
            .conformance
            .flags
            .iter()
            .any(|(k, n)| k != "gap" && *n > 0);
        if !opts.partial_ok && sla.downgrade.is_none() {
            if f.missing_bars > 0 && opts.strategy != Strategy::PartialFill {
                crate::metrics::backfill_failure(&node_id);
                return Err(ProviderError::Incomplete {
                    node: node_id,
                    missing: f.missing_closed.clone(),
                    cause: cause.clone(),
                });
            }
            if flagged_beyond_gaps {
                return Err(ProviderError::Conformance {
                    node: node_id,
                    report: f.conformance.clone(),
                });
            }
        }
        Ok(())
    }

    /// The frame and its metadata.
    #[allow(clippy::too_many_arguments)]
    fn served(
        &self,
        node: &NodeId,
        span: &Span,
        before: &Ledger,
        f: Frame,
        got: Backfilled,
        opts: &FetchOptions,
        sla: SlaState<'_>,
    ) -> Fetched {
        let (tf, window) = (node.timeframe, span.window);
        let node_id = node.to_string();
        let mut downgrade = sla.downgrade;
        let partial = f.missing_bars > 0 || f.conformance.is_flagged() || downgrade.is_some();
        if partial && downgrade.is_none() {
            downgrade = Some(Downgrade {
                mode: if opts.strategy == Strategy::PartialFill {
                    "partial-fill".into()
                } else {
                    "partial".into()
                },
                reason: got.cause.clone().unwrap_or_else(|| {
                    if f.missing_bars > 0 {
                        format!(
                            "{} closed bars missing: {}",
                            f.missing_bars,
                            fmt_ranges(&f.missing_closed)
                        )
                    } else {
                        f.conformance.warnings.join("; ")
                    }
                }),
                phase: None,
                elapsed_ms: None,
                budget_ms: None,
            });
        }
        let known = f.ledger.known().clip(window.start, window.end).total();
        let coverage_ratio = if window.len_ms() > 0 {
            known as f64 / window.len_ms() as f64
        } else {
            1.0
        };
        crate::metrics::coverage_ratio(&node_id, coverage_ratio);
        let as_of = self.now();
        let candles = f.candles;
        // Candles are ascending: count those in each range storage held before.
        let from_store = before
            .present
            .ranges()
            .iter()
            .map(|&(s, e)| {
                candles.partition_point(|c| c.open_time < e)
                    - candles.partition_point(|c| c.open_time < s)
            })
            .sum();
        let metadata = Metadata {
            node_id,
            requested: span.requested,
            window,
            strategy: opts.strategy,
            rows: candles.len(),
            coverage_bounds: match (candles.first(), candles.last()) {
                (Some(first), Some(last)) => Some(Window {
                    start: first.open_time,
                    end: tf.next(last.open_time),
                }),
                _ => None,
            },
            coverage_ratio,
            missing_bars: f.missing_bars,
            empty: f.ledger.empty.clone(),
            missing: f.missing,
            staleness_ms: candles.last().map(|l| as_of - tf.next(l.open_time)),
            partial,
            downgrade,
            fingerprint: fingerprint_with(node, window, &candles, &f.digests),
            conformance: f.conformance,
            as_of,
            from_store,
            fetched: got.stats.candles,
            requests: got.stats.requests,
            phases_ms: sla.phases,
            live: None,
        };
        Fetched {
            candles,
            metadata,
            background: got.background,
            forming: None,
        }
    }
}

fn min_opt(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
