//! Backfill of one missing range: plan the first request through the adapter, send it,
//! let the adapter parse the answer, store each page at once (candles and the range it
//! proves, in one write), follow `next` until the range is done. Transient failures
//! (timeouts, 5xx, 429/418, truncated bodies) are retried with backoff; a page that does
//! not advance ends the range.

use std::sync::Arc;

use super::{Exchange, Provider, ProviderError};
use crate::components::{Adapter, AdapterError, HttpRequest, Page};
use crate::domain::{NodeId, Window};
use crate::store::CandleStore;

/// Counters of one fetch.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Stats {
    pub candles: usize,
    pub requests: u64,
    pub pages: u64,
}

/// Run a guest call on the blocking pool (a call may take up to its deadline).
async fn guest<R: Send + 'static>(
    adapter: &Arc<Adapter>,
    f: impl FnOnce(&Adapter) -> R + Send + 'static,
) -> Result<R, ProviderError> {
    let a = adapter.clone();
    tokio::task::spawn_blocking(move || f(&a)).await.map_err(|e| ProviderError::Task(e.to_string()))
}

impl Provider {
    #[tracing::instrument(skip_all, fields(start = range.start, end = range.end))]
    pub(super) async fn backfill_range(
        &self,
        ex: &Exchange,
        node: &NodeId,
        range: Window,
        closed_end: i64,
        stats: &mut Stats,
    ) -> Result<(), ProviderError> {
        let limit = ex.adapter.info().max_candles_per_request;
        let n = node.clone();
        let mut req = guest(&ex.adapter, move |a| a.plan(&n, range, limit)).await??.map_err(|error| {
            ProviderError::Exchange { node: node.to_string(), error }
        })?;
        let mut progress = (range.start, range.start); // (lowest covered start, highest covered end)
        let mut first = true;
        loop {
            let page = self.page_with_retry(ex, node, range, &req, stats).await?;
            stats.pages += 1;
            let covered = page.covered;
            let advanced = first
                || covered.end > progress.1
                || covered.start < progress.0
                || !page.candles.is_empty() && covered.end > covered.start;
            if first {
                progress = (covered.start, covered.end);
                first = false;
            } else {
                progress = (progress.0.min(covered.start), progress.1.max(covered.end));
            }
            // Keep closed candles only; the covered range ends where closed data ends.
            let candles: Vec<_> = page.candles.into_iter().filter(|c| c.open_time < closed_end).collect();
            let covered = Window { start: covered.start, end: covered.end.min(closed_end) };
            stats.candles += candles.len();
            if covered.end > covered.start {
                self.store.write_page(node, candles, covered).await?;
            }
            match page.next {
                Some(next) if advanced && next != req => req = next,
                Some(_) => {
                    tracing::warn!(node = %node, "adapter's next page does not advance; ending this range");
                    return Ok(());
                }
                None => return Ok(()),
            }
        }
    }

    /// Send `req` and parse the answer, retrying transient failures.
    async fn page_with_retry(
        &self,
        ex: &Exchange,
        node: &NodeId,
        window: Window,
        req: &HttpRequest,
        stats: &mut Stats,
    ) -> Result<Page, ProviderError> {
        let url = ex.bases.rewrite(&req.url);
        let max = self.retry.max_attempts.max(1);
        let mut last = String::new();
        for attempt in 1..=max {
            stats.requests += 1;
            let wait = match self.http.send(req, &url).await {
                Err(e) if e.is_transient() => {
                    last = e.to_string();
                    self.retry.backoff(attempt)
                }
                Err(error) => return Err(ProviderError::Net { node: node.to_string(), error }),
                Ok(resp) if resp.status >= 500 => {
                    last = format!("HTTP {} from {url}", resp.status);
                    self.retry.backoff(attempt)
                }
                Ok(resp) => {
                    let status = resp.status;
                    let (n, r) = (node.clone(), req.clone());
                    match guest(&ex.adapter, move |a| a.parse(&n, window, &r, resp)).await?? {
                        Ok(page) => return Ok(page),
                        Err(AdapterError::RateLimited { retry_after_ms }) => {
                            last = format!("HTTP {status}: rate limited for {retry_after_ms} ms");
                            tracing::warn!(node = %node, status, retry_after_ms, "exchange asks to wait");
                            std::time::Duration::from_millis(retry_after_ms).max(self.retry.backoff(attempt))
                        }
                        Err(AdapterError::Malformed(d)) if status == 200 => {
                            last = format!("malformed response: {d}");
                            self.retry.backoff(attempt)
                        }
                        Err(error) => return Err(ProviderError::Exchange { node: node.to_string(), error }),
                    }
                }
            };
            if attempt < max {
                tracing::debug!(node = %node, attempt, wait_ms = wait.as_millis() as u64, reason = %last, "retrying");
                tokio::time::sleep(wait).await;
            }
        }
        Err(ProviderError::Exhausted { node: node.to_string(), attempts: max, last })
    }
}
