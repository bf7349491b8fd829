//! `seamless_market._native`: the seamless host in a Python process (PyO3). The pure-Python
//! package `seamless_market` wraps it; this module offers the provider's calls in two
//! shapes each, blocking (`fetch`) and for asyncio (`fetch_start`, handing the result to a
//! callback), over one tokio runtime per process.
//!
//! Candles cross into Python as six little-endian column buffers (`bytes`, 8 bytes per
//! row), which pyarrow wraps without a copy; the metadata crosses as the JSON that
//! `seamless fetch --metadata` writes.

mod adapters;
mod errors;
mod jobs;
mod runtime;
mod setup;

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyBytes;

use seamless::domain::{Candle, NodeId, Window, now_ms, parse_time};
use seamless::provider::{Provider, Sla, Strategy};

use errors::Failure;
use runtime::{Task, block, spawn};

/// A time as Python hands it over: epoch milliseconds, or text in any form the CLI takes
/// (ISO-8601, a date, epoch s or ms, relative `-30d`, `now`). The Python layer turns
/// `datetime`s into milliseconds.
#[derive(FromPyObject, Debug, Clone)]
enum TimeArg {
    Ms(i64),
    Text(String),
}

impl TimeArg {
    fn ms(&self, name: &str, now: i64) -> Result<i64, Failure> {
        match self {
            TimeArg::Ms(v) => Ok(*v),
            TimeArg::Text(s) => {
                parse_time(s, now).map_err(|e| Failure::bad(format!("{name}: {e}")))
            }
        }
    }
}

fn node(text: &str) -> Result<NodeId, Failure> {
    text.parse::<NodeId>().map_err(Failure::bad)
}

/// The window `[start, end)` aligned to the node's grid, as the CLI's `--start/--end`.
fn window(node: &NodeId, start: &TimeArg, end: &TimeArg) -> Result<Window, Failure> {
    let now = now_ms();
    let w = Window::new(start.ms("start", now)?, end.ms("end", now)?).map_err(Failure::bad)?;
    Ok(w.align(node.timeframe).0)
}

/// The six columns (open_time as i64 ms, then open, high, low, close, volume as f64), each
/// `rows * 8` little-endian bytes, back to back in one buffer, written in one pass over the
/// candles.
fn columns<'py>(py: Python<'py>, candles: &[Candle]) -> PyResult<Bound<'py, PyBytes>> {
    let n = candles.len();
    PyBytes::new_with(py, n * 48, |buf| {
        let (cols, _) = buf.as_chunks_mut::<8>();
        let (t, rest) = cols.split_at_mut(n);
        let (o, rest) = rest.split_at_mut(n);
        let (h, rest) = rest.split_at_mut(n);
        let (l, rest) = rest.split_at_mut(n);
        let (c, v) = rest.split_at_mut(n);
        for (i, k) in candles.iter().enumerate() {
            t[i] = k.open_time.to_le_bytes();
            o[i] = k.open.to_le_bytes();
            h[i] = k.high.to_le_bytes();
            l[i] = k.low.to_le_bytes();
            c[i] = k.close.to_le_bytes();
            v[i] = k.volume.to_le_bytes();
        }
        Ok(())
    })
}

/// `(columns, metadata JSON)` of a served frame.
fn fetched_to_py(py: Python<'_>, f: jobs::FetchOut) -> PyResult<Py<PyAny>> {
    let cols = columns(py, &f.candles)?;
    Ok((cols, f.metadata_json)
        .into_pyobject(py)?
        .into_any()
        .unbind())
}

fn json_to_py(py: Python<'_>, json: String) -> PyResult<Py<PyAny>> {
    Ok(json.into_pyobject(py)?.into_any().unbind())
}

/// The provider: storage, backfill through the adapters, the live phase.
#[pyclass(frozen, module = "seamless_market._native")]
struct NativeProvider {
    provider: Provider,
    sla: Sla,
    store_url: String,
}

impl NativeProvider {
    fn fetch_job(
        &self,
        node_id: &str,
        start: &TimeArg,
        end: &TimeArg,
        strategy: &str,
        partial_ok: bool,
    ) -> Result<impl Future<Output = Result<jobs::FetchOut, Failure>> + use<>, Failure> {
        let node = node(node_id)?;
        let w = window(&node, start, end)?;
        let strategy: Strategy = strategy.parse().map_err(|e: String| Failure::bad(e))?;
        Ok(jobs::fetch(
            self.provider.clone(),
            self.sla.clone(),
            node,
            w,
            strategy,
            partial_ok,
        ))
    }

    fn coverage_job(
        &self,
        node_id: &str,
        start: Option<&TimeArg>,
        end: Option<&TimeArg>,
    ) -> Result<impl Future<Output = Result<String, Failure>> + use<>, Failure> {
        let node = node(node_id)?;
        let now = now_ms();
        let start = start.map(|s| s.ms("start", now)).transpose()?;
        let end = end.map(|e| e.ms("end", now)).transpose()?.unwrap_or(now);
        Ok(jobs::coverage(self.provider.clone(), node, start, end))
    }

    fn backfill_job(
        &self,
        nodes: &[String],
        start: &TimeArg,
        end: &TimeArg,
        progress: &jobs::BackfillProgress,
    ) -> Result<impl Future<Output = Result<String, Failure>> + use<>, Failure> {
        let nodes = nodes
            .iter()
            .map(|n| node(n))
            .collect::<Result<Vec<_>, _>>()?;
        if nodes.is_empty() {
            return Err(Failure::bad(
                "no series given: pass node ids, e.g. ['ohlcv:binance:BTC/USDT:1m']",
            ));
        }
        let now = now_ms();
        let w = Window::new(start.ms("start", now)?, end.ms("end", now)?).map_err(Failure::bad)?;
        Ok(jobs::backfill(
            self.provider.clone(),
            nodes,
            w,
            progress.state(),
        ))
    }
}

#[pymethods]
impl NativeProvider {
    #[new]
    #[pyo3(signature = (config_file=None, store=None, exchange_urls=Vec::new(), redis=None, adapters=Vec::new(), allow_override=false, settings=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        config_file: Option<PathBuf>,
        store: Option<String>,
        exchange_urls: Vec<(String, String)>,
        redis: Option<String>,
        adapters: Vec<PathBuf>,
        allow_override: bool,
        settings: Vec<(String, String)>,
    ) -> PyResult<Self> {
        let s = setup::Settings {
            config_file,
            store,
            exchange_urls,
            redis,
            adapters,
            allow_override,
            settings,
        };
        let built = py.detach(|| {
            let _rt = runtime::runtime().enter();
            setup::provider(&s)
        });
        let built = built.map_err(|f| f.into_pyerr(py))?;
        Ok(NativeProvider {
            provider: built.provider,
            sla: built.config.sla.clone(),
            store_url: built.store_url,
        })
    }

    /// The store URL in use.
    #[getter]
    fn store_url(&self) -> &str {
        &self.store_url
    }

    /// Serve `[start, end)` of `node`: `(columns, metadata_json)`.
    #[pyo3(signature = (node, start, end, strategy="seamless", partial_ok=false))]
    fn fetch(
        &self,
        py: Python<'_>,
        node: &str,
        start: TimeArg,
        end: TimeArg,
        strategy: &str,
        partial_ok: bool,
    ) -> PyResult<Py<PyAny>> {
        let job = self
            .fetch_job(node, &start, &end, strategy, partial_ok)
            .map_err(|f| f.into_pyerr(py))?;
        block(py, job, fetched_to_py, None)
    }

    /// [`Self::fetch`] for asyncio: `callback(value, exception)` when done.
    #[pyo3(signature = (node, start, end, strategy, partial_ok, callback))]
    #[allow(clippy::too_many_arguments)]
    fn fetch_start(
        &self,
        py: Python<'_>,
        node: &str,
        start: TimeArg,
        end: TimeArg,
        strategy: &str,
        partial_ok: bool,
        callback: Py<PyAny>,
    ) -> PyResult<Task> {
        let job = self
            .fetch_job(node, &start, &end, strategy, partial_ok)
            .map_err(|f| f.into_pyerr(py))?;
        Ok(spawn(job, fetched_to_py, callback))
    }

    /// The ledger of `node` over `[start, end)` as JSON (the CLI's `coverage --format json`).
    #[pyo3(signature = (node, start=None, end=None))]
    fn coverage(
        &self,
        py: Python<'_>,
        node: &str,
        start: Option<TimeArg>,
        end: Option<TimeArg>,
    ) -> PyResult<Py<PyAny>> {
        let job = self
            .coverage_job(node, start.as_ref(), end.as_ref())
            .map_err(|f| f.into_pyerr(py))?;
        block(py, job, json_to_py, None)
    }

    /// [`Self::coverage`] for asyncio.
    #[pyo3(signature = (node, start, end, callback))]
    fn coverage_start(
        &self,
        py: Python<'_>,
        node: &str,
        start: Option<TimeArg>,
        end: Option<TimeArg>,
        callback: Py<PyAny>,
    ) -> PyResult<Task> {
        let job = self
            .coverage_job(node, start.as_ref(), end.as_ref())
            .map_err(|f| f.into_pyerr(py))?;
        Ok(spawn(job, json_to_py, callback))
    }

    /// Backfill every node over `[start, end)`; `tick()` is called every 100 ms while it
    /// runs (and once at the end) so the caller can draw `progress`. Returns JSON.
    #[pyo3(signature = (nodes, start, end, progress, tick=None))]
    fn backfill(
        &self,
        py: Python<'_>,
        nodes: Vec<String>,
        start: TimeArg,
        end: TimeArg,
        progress: &jobs::BackfillProgress,
        tick: Option<Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        let job = self
            .backfill_job(&nodes, &start, &end, progress)
            .map_err(|f| f.into_pyerr(py))?;
        block(py, job, json_to_py, tick.as_ref())
    }

    /// [`Self::backfill`] for asyncio.
    #[pyo3(signature = (nodes, start, end, progress, callback))]
    fn backfill_start(
        &self,
        py: Python<'_>,
        nodes: Vec<String>,
        start: TimeArg,
        end: TimeArg,
        progress: &jobs::BackfillProgress,
        callback: Py<PyAny>,
    ) -> PyResult<Task> {
        let job = self
            .backfill_job(&nodes, &start, &end, progress)
            .map_err(|f| f.into_pyerr(py))?;
        Ok(spawn(job, json_to_py, callback))
    }
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeProvider>()?;
    m.add_class::<Task>()?;
    m.add_class::<jobs::BackfillProgress>()?;
    m.add("BUILTIN_ADAPTERS", adapters::ids())?;
    m.add("HOST_VERSION", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
