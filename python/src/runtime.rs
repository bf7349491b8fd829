//! The process's tokio runtime and the two ways Python waits for work on it:
//! [`block`] (a blocking call that releases the GIL and still honours Ctrl-C) and
//! [`spawn`] (an asyncio call: the result is handed to a Python callback, which settles
//! an asyncio future on its event loop; no Python thread waits).

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use pyo3::prelude::*;
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use crate::errors::Failure;

/// How often a blocking call wakes to check for signals and report progress.
const TICK: Duration = Duration::from_millis(100);

/// The runtime every call of this process runs on (started on first use).
pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("seamless")
            .build()
            .expect("cannot start the tokio runtime")
    })
}

/// Converts a job's output into a Python object (with the GIL held).
pub type Convert<T> = fn(Python<'_>, T) -> PyResult<Py<PyAny>>;

/// Run `job` on the runtime and wait for it with the GIL released. Every [`TICK`] the
/// waiting thread takes the GIL to call `tick` (progress) and check for signals: a
/// KeyboardInterrupt (or an exception from `tick`) aborts the job and is raised.
pub fn block<T, F>(
    py: Python<'_>,
    job: F,
    convert: Convert<T>,
    tick: Option<&Bound<'_, PyAny>>,
) -> PyResult<Py<PyAny>>
where
    F: Future<Output = Result<T, Failure>> + Send + 'static,
    T: Send + 'static,
{
    let mut handle: JoinHandle<Result<T, Failure>> = runtime().spawn(job);
    loop {
        let waited = py
            .detach(|| runtime().block_on(async { tokio::time::timeout(TICK, &mut handle).await }));
        if let Some(t) = tick
            && let Err(e) = t.call0()
        {
            handle.abort();
            return Err(e);
        }
        match waited {
            Ok(Ok(Ok(v))) => return convert(py, v),
            Ok(Ok(Err(f))) => return Err(f.into_pyerr(py)),
            Ok(Err(join)) => {
                return Err(
                    Failure::runtime(format!("internal task failed: {join}")).into_pyerr(py)
                );
            }
            Err(_elapsed) => {
                if let Err(e) = py.check_signals() {
                    handle.abort();
                    return Err(e);
                }
            }
        }
    }
}

/// A job running for an asyncio caller; `cancel()` aborts it.
#[pyclass(frozen, module = "seamless_market._native")]
pub struct Task {
    handle: tokio::task::AbortHandle,
}

#[pymethods]
impl Task {
    /// Abort the job (what was already stored stays stored).
    fn cancel(&self) {
        self.handle.abort();
    }

    /// True once the job has ended (done, failed or aborted).
    fn done(&self) -> bool {
        self.handle.is_finished()
    }
}

/// Run `job` on the runtime; when it ends, call `callback(value, None)` or
/// `callback(None, exception)` from a runtime thread (the Python side hands it to its
/// event loop with `call_soon_threadsafe`). An aborted job calls nothing.
pub fn spawn<T, F>(job: F, convert: Convert<T>, callback: Py<PyAny>) -> Task
where
    F: Future<Output = Result<T, Failure>> + Send + 'static,
    T: Send + 'static,
{
    let handle = runtime().spawn(async move {
        let result = job.await;
        // Taking the GIL may wait: not on a worker thread.
        let _ = tokio::task::spawn_blocking(move || {
            Python::attach(|py| {
                let args = match result.map(|v| convert(py, v)) {
                    Ok(Ok(v)) => (v, py.None()),
                    Ok(Err(e)) => (py.None(), e.into_value(py).into_any()),
                    Err(f) => match f.to_exception(py) {
                        Ok(e) => (py.None(), e.unbind()),
                        Err(e) => (py.None(), e.into_value(py).into_any()),
                    },
                };
                if let Err(e) = callback.call1(py, args) {
                    // The loop is gone (closed before the job ended): nothing to settle.
                    e.write_unraisable(py, None);
                }
            })
        })
        .await;
    });
    Task {
        handle: handle.abort_handle(),
    }
}
