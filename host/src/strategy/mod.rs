//! Strategy runs: a sandboxed strategy component fed with candle history through the
//! provider, reproducibly.
//!
//! A run: load the component, call `init(config)` to learn its inputs (node ids and
//! warm-up bars), serve each input's warm-up and window through the provider
//! (backfilling as the availability strategy allows), merge the inputs in open-time
//! order (ties by input index, see [`merge`]), deliver warm-up batches (signals
//! dropped) then run batches through `on-candles`, and collect every signal with the
//! candle time that produced it. The strategy may also read history itself through the
//! `history` import, bounded to what has closed by the candle being processed.
//!
//! Same inputs, same store content → same signals and the same fingerprints.

mod history;
pub mod merge;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use thiserror::Error;

use crate::components::{
    ComponentError, Signal, StrategyComponent, StrategyInput, StrategyInstance, columns,
};
use crate::domain::{Candle, NodeId, Window, format_ms};
use crate::provider::{FetchOptions, Provider, ProviderError};

pub use history::MAX_HISTORY_ROWS;
use history::{Loaded, RunHistory};
pub use merge::{Batch, batches};

/// What to do when the strategy fails on a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// Stop the run with an error naming the strategy, the call and the candle times.
    #[default]
    Stop,
    /// Record the failure, drop that batch and continue with the next one (after a
    /// trap, with a fresh instance re-initialised and re-warmed on the candles before
    /// the failed batch).
    Skip,
}

impl std::str::FromStr for OnError {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "stop" => Ok(OnError::Stop),
            "skip" => Ok(OnError::Skip),
            _ => Err(format!("unknown --on-error {s:?}: use stop or skip")),
        }
    }
}

/// How to run a strategy.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The run window (each input's warm-up comes before it).
    pub window: Window,
    /// `key=value` pairs passed to `init`.
    pub config: Vec<(String, String)>,
    /// Most candles per `on-candles` call (default 4096).
    pub batch_size: usize,
    pub on_error: OnError,
    /// How inputs are served (availability strategy, SLA, partial_ok).
    pub fetch: FetchOptions,
}

impl RunOptions {
    /// A run over `window` with defaults.
    pub fn new(window: Window) -> Self {
        RunOptions {
            window,
            config: Vec::new(),
            batch_size: 4096,
            on_error: OnError::Stop,
            fetch: FetchOptions::default(),
        }
    }
}

/// Why a run failed.
#[derive(Debug, Error)]
pub enum RunError {
    #[error(
        "no built-in strategy named {name:?}; built-in: [{}]; or pass the path of a .wasm strategy component",
        known.join(", ")
    )]
    NotFound { name: String, known: Vec<String> },
    #[error(transparent)]
    Component(#[from] ComponentError),
    #[error("strategy {strategy} refused its configuration: {message}")]
    Init { strategy: String, message: String },
    #[error(
        "strategy {strategy} asked for input {index} {node:?}, which is not a valid node id: {error}"
    )]
    BadInput {
        strategy: String,
        index: usize,
        node: String,
        error: String,
    },
    #[error("strategy {strategy} asked for no inputs; it must return at least one from init")]
    NoInputs { strategy: String },
    #[error("input {node}: {source}")]
    Provider {
        node: String,
        #[source]
        source: ProviderError,
    },
    #[error(
        "strategy {strategy} failed in `{call}` on {node} candles {first}..={last}: {detail}{}",
        if *skippable { "; pass --on-error skip to continue with the next batch" } else { "" }
    )]
    Failed {
        strategy: String,
        call: &'static str,
        node: String,
        first: String,
        last: String,
        detail: String,
        skippable: bool,
    },
    #[error("strategy task failed: {0}")]
    Task(String),
}

impl RunError {
    /// True when the user's input is at fault (exit code 2).
    pub fn is_bad_input(&self) -> bool {
        match self {
            RunError::NotFound { .. }
            | RunError::Init { .. }
            | RunError::BadInput { .. }
            | RunError::NoInputs { .. } => true,
            RunError::Component(e) => e.is_bad_input(),
            RunError::Provider { source, .. } => source.is_bad_input(),
            _ => false,
        }
    }
}

/// What one input served.
#[derive(Debug, Clone, Serialize)]
pub struct InputReport {
    pub node: String,
    pub warmup_requested: u32,
    /// Warm-up candles found (fewer than requested when the exchange has no more).
    pub warmup_rows: usize,
    /// Candles in the run window.
    pub rows: usize,
    /// Fingerprint of everything this input delivered (warm-up and run window).
    pub fingerprint: String,
    /// The provider marked the frame partial (missing bars, downgrade).
    pub partial: bool,
}

/// A signal with the node id of the input that produced it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SignalRecord {
    pub node: String,
    #[serde(flatten)]
    pub signal: Signal,
}

/// A batch dropped under `--on-error skip`.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub node: String,
    pub first: i64,
    pub last: i64,
    pub error: String,
}

/// The result of a run.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub strategy: String,
    pub window: Window,
    pub inputs: Vec<InputReport>,
    pub signals: Vec<SignalRecord>,
    pub skipped: Vec<Skipped>,
    /// Run-window candles delivered (warm-up excluded).
    pub candles: usize,
    pub batches: usize,
    /// Time spent loading inputs through the provider.
    #[serde(serialize_with = "ser_ms")]
    pub load: Duration,
    /// Time spent delivering candles into the strategy.
    #[serde(serialize_with = "ser_ms")]
    pub deliver: Duration,
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64() * 1000.0)
}

/// Built-in strategy files (`{name}_strategy.wasm` in `dirs`): name (with `-`) → path.
pub fn builtin_strategies(dirs: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let mut out: Vec<(String, PathBuf)> = Vec::new();
    for dir in dirs {
        let Ok(rd) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for p in files {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if let Some(n) = name.strip_suffix("_strategy.wasm") {
                let n = n.replace('_', "-");
                if !out.iter().any(|(k, _)| *k == n) {
                    out.push((n, p));
                }
            }
        }
    }
    out
}

/// The component file for `spec`: a path to a `.wasm` file, or a built-in name
/// (`sma-cross`, `donchian`, `spread`, …) looked up in `dirs`.
pub fn resolve(spec: &str, dirs: &[PathBuf]) -> Result<PathBuf, RunError> {
    let p = Path::new(spec);
    if spec.ends_with(".wasm") || spec.contains('/') || p.is_file() {
        return Ok(p.to_path_buf());
    }
    let known = builtin_strategies(dirs);
    let want = spec.trim_end_matches("-strategy").replace('_', "-");
    known
        .iter()
        .find(|(n, _)| *n == want)
        .map(|(_, p)| p.clone())
        .ok_or_else(|| RunError::NotFound {
            name: spec.to_string(),
            known: known.into_iter().map(|(n, _)| n).collect(),
        })
}

/// Run `strategy` under `opts`, loading inputs through `provider`.
pub async fn run(
    provider: &Provider,
    strategy: &StrategyComponent,
    opts: RunOptions,
) -> Result<RunReport, RunError> {
    let runner = Runner {
        provider: provider.clone(),
        strategy: strategy.clone(),
        opts,
        runtime: tokio::runtime::Handle::current(),
    };
    tokio::task::spawn_blocking(move || runner.run())
        .await
        .map_err(|e| RunError::Task(e.to_string()))?
}

struct Runner {
    provider: Provider,
    strategy: StrategyComponent,
    opts: RunOptions,
    runtime: tokio::runtime::Handle,
}

/// One input, ready to deliver.
struct Series {
    node: NodeId,
    warmup: u32,
    /// Rows `< split` are warm-up.
    split: usize,
}

impl Runner {
    fn label(&self) -> String {
        self.strategy.label().to_string()
    }

    /// A fresh instance, initialised with the run's configuration.
    fn start(
        &self,
        history: &RunHistory,
    ) -> Result<(StrategyInstance, Vec<StrategyInput>), RunError> {
        let mut instance = self.strategy.instantiate(Box::new(history.clone()))?;
        match instance.init(&self.opts.config)? {
            Ok(inputs) => Ok((instance, inputs)),
            Err(message) => Err(RunError::Init {
                strategy: self.label(),
                message,
            }),
        }
    }

    fn run(self) -> Result<RunReport, RunError> {
        let label = self.label();
        let loaded: Arc<OnceLock<Vec<Loaded>>> = Arc::default();
        let horizon = Arc::new(AtomicI64::new(self.opts.window.start));
        let history = RunHistory {
            inputs: loaded.clone(),
            horizon: horizon.clone(),
            provider: self.provider.clone(),
            fetch: self.opts.fetch.clone(),
            runtime: self.runtime.clone(),
        };
        let (mut instance, inputs) = self.start(&history)?;
        if inputs.is_empty() {
            return Err(RunError::NoInputs { strategy: label });
        }

        // Load every input: warm-up and window, through the provider.
        let t_load = Instant::now();
        let mut series = Vec::new();
        let mut data = Vec::new();
        let mut reports = Vec::new();
        for (index, input) in inputs.iter().enumerate() {
            let node: NodeId = input.node_id.parse().map_err(|e: crate::domain::NodeIdError| {
                RunError::BadInput {
                    strategy: label.clone(),
                    index,
                    node: input.node_id.clone(),
                    error: e.to_string(),
                }
            })?;
            let tf = node.timeframe;
            let (window, _) = self.opts.window.align(tf);
            let warm_start = tf.back(window.start, input.warmup as u64);
            let whole = Window {
                start: warm_start,
                end: window.end,
            };
            let fetched = self
                .runtime
                .block_on(self.provider.fetch(&node, whole, &self.opts.fetch))
                .map_err(|source| RunError::Provider {
                    node: node.to_string(),
                    source,
                })?;
            let split = fetched
                .candles
                .partition_point(|c| c.open_time < window.start);
            // Keep only the last `warmup` warm-up candles (the window may hold more when
            // the grid is irregular).
            let mut candles = fetched.candles;
            let extra = split.saturating_sub(input.warmup as usize);
            candles.drain(..extra);
            let split = split - extra;
            reports.push(InputReport {
                node: node.to_string(),
                warmup_requested: input.warmup,
                warmup_rows: split,
                rows: candles.len() - split,
                fingerprint: fetched.metadata.fingerprint,
                partial: fetched.metadata.partial,
            });
            series.push(Series {
                node: node.clone(),
                warmup: input.warmup,
                split,
            });
            data.push(Loaded {
                node,
                candles,
                start: warm_start,
            });
        }
        let load = t_load.elapsed();
        let _ = loaded.set(data);
        let data = loaded.get().map(Vec::as_slice).unwrap_or_default();

        // Warm-up, merged.
        let t_deliver = Instant::now();
        let mut out = RunReport {
            strategy: label.clone(),
            window: self.opts.window,
            inputs: reports,
            signals: Vec::new(),
            skipped: Vec::new(),
            candles: 0,
            batches: 0,
            load,
            deliver: Duration::ZERO,
        };
        let ends: Vec<usize> = series.iter().map(|s| s.split).collect();
        self.warm(&mut instance, &horizon, data, &vec![0; data.len()], &ends)
            .map_err(|(call, node, first, last, detail)| {
                self.failed(call, node, first, last, detail, false)
            })?;

        // The run window, merged.
        let times: Vec<Vec<i64>> = data
            .iter()
            .zip(&series)
            .map(|(l, s)| l.candles[s.split..].iter().map(|c| c.open_time).collect())
            .collect();
        let refs: Vec<&[i64]> = times.iter().map(Vec::as_slice).collect();
        let plan = batches(&refs, self.opts.batch_size);
        // Run rows delivered (or skipped) per input so far.
        let mut done = vec![0usize; data.len()];
        for b in plan {
            let i = b.input as usize;
            let s = &series[i];
            let rows = &data[i].candles[s.split + b.from..s.split + b.from + b.len];
            let (first, last) = (rows[0].open_time, rows[rows.len() - 1].open_time);
            horizon.store(s.node.timeframe.next(last), Ordering::Release);
            let result = instance
                .on_candles(b.input, &columns(rows), false)
                .map_err(|e| e.to_string())
                .and_then(|r| r)
                .and_then(|signals| check_signals(signals, data.len(), first, last));
            out.batches += 1;
            match result {
                Ok(signals) => {
                    out.candles += rows.len();
                    out.signals.extend(signals.into_iter().map(|signal| SignalRecord {
                        node: data[signal.input as usize].node.to_string(),
                        signal,
                    }));
                }
                Err(detail) => {
                    if self.opts.on_error == OnError::Stop {
                        return Err(self.failed("on-candles", &s.node, first, last, detail, true));
                    }
                    tracing::warn!(strategy = %label, node = %s.node, first = %format_ms(first), last = %format_ms(last), error = %detail, "strategy failed on a batch; skipping it");
                    out.skipped.push(Skipped {
                        node: s.node.to_string(),
                        first,
                        last,
                        error: detail,
                    });
                    if instance.is_dead() {
                        // A fresh instance, warmed on what came before the failed batch.
                        let (fresh, again) = self.start(&history)?;
                        if again != inputs {
                            return Err(self.failed(
                                "init",
                                &s.node,
                                first,
                                last,
                                "a fresh instance asked for different inputs".into(),
                                false,
                            ));
                        }
                        instance = fresh;
                        let ends: Vec<usize> =
                            series.iter().zip(&done).map(|(s, d)| s.split + d).collect();
                        let starts: Vec<usize> = series
                            .iter()
                            .zip(&ends)
                            .map(|(s, e)| e.saturating_sub(s.warmup as usize))
                            .collect();
                        self.warm(&mut instance, &horizon, data, &starts, &ends)
                            .map_err(|(call, node, first, last, detail)| {
                                self.failed(call, node, first, last, detail, false)
                            })?;
                    }
                }
            }
            done[i] += b.len;
        }
        out.deliver = t_deliver.elapsed();
        Ok(out)
    }

    /// Deliver rows `starts[i]..ends[i]` of every input as warm-up, merged.
    #[allow(clippy::type_complexity)]
    fn warm<'a>(
        &self,
        instance: &mut StrategyInstance,
        horizon: &AtomicI64,
        data: &'a [Loaded],
        starts: &[usize],
        ends: &[usize],
    ) -> Result<(), (&'static str, &'a NodeId, i64, i64, String)> {
        let times: Vec<Vec<i64>> = data
            .iter()
            .enumerate()
            .map(|(i, l)| {
                l.candles[starts[i]..ends[i]]
                    .iter()
                    .map(|c| c.open_time)
                    .collect()
            })
            .collect();
        let refs: Vec<&[i64]> = times.iter().map(Vec::as_slice).collect();
        for b in batches(&refs, self.opts.batch_size) {
            let l = &data[b.input as usize];
            let from = starts[b.input as usize] + b.from;
            let rows: &[Candle] = &l.candles[from..from + b.len];
            let (first, last) = (rows[0].open_time, rows[rows.len() - 1].open_time);
            horizon.store(l.node.timeframe.next(last), Ordering::Release);
            instance
                .on_candles(b.input, &columns(rows), true)
                .map_err(|e| e.to_string())
                .and_then(|r| r)
                .map_err(|detail| ("on-candles (warm-up)", &l.node, first, last, detail))?;
        }
        Ok(())
    }

    fn failed(
        &self,
        call: &'static str,
        node: &NodeId,
        first: i64,
        last: i64,
        detail: String,
        skippable: bool,
    ) -> RunError {
        RunError::Failed {
            strategy: self.label(),
            call,
            node: node.to_string(),
            first: format_ms(first),
            last: format_ms(last),
            detail,
            skippable,
        }
    }
}

/// Signals must name an existing input, carry a time inside the batch and a finite value.
fn check_signals(
    signals: Vec<Signal>,
    inputs: usize,
    first: i64,
    last: i64,
) -> Result<Vec<Signal>, String> {
    for s in &signals {
        if s.input as usize >= inputs {
            return Err(format!(
                "contract: signal {:?} names input {}, but there are {inputs}",
                s.action, s.input
            ));
        }
        if s.time < first || s.time > last {
            return Err(format!(
                "contract: signal {:?} has time {} outside the batch {}..={}",
                s.action,
                format_ms(s.time),
                format_ms(first),
                format_ms(last)
            ));
        }
        if !s.value.is_finite() {
            return Err(format!("contract: signal {:?} has a non-finite value", s.action));
        }
    }
    Ok(signals)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(time: i64, input: u32, value: f64) -> Signal {
        Signal {
            time,
            input,
            action: "buy".into(),
            value,
            note: String::new(),
        }
    }

    #[test]
    fn signals_are_checked() {
        assert!(check_signals(vec![sig(5, 0, 1.0)], 1, 0, 10).is_ok());
        assert!(check_signals(vec![sig(5, 1, 1.0)], 1, 0, 10).unwrap_err().contains("input 1"));
        assert!(check_signals(vec![sig(11, 0, 1.0)], 1, 0, 10).unwrap_err().contains("outside"));
        assert!(check_signals(vec![sig(5, 0, f64::NAN)], 1, 0, 10).unwrap_err().contains("non-finite"));
    }

    #[test]
    fn on_error_parses() {
        assert_eq!("skip".parse::<OnError>(), Ok(OnError::Skip));
        assert!("later".parse::<OnError>().unwrap_err().contains("stop or skip"));
    }

    #[test]
    fn unknown_builtin_lists_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sma_cross_strategy.wasm"), b"x").unwrap();
        let dirs = vec![dir.path().to_path_buf()];
        assert_eq!(
            resolve("sma-cross", &dirs).unwrap(),
            dir.path().join("sma_cross_strategy.wasm")
        );
        let e = resolve("nope", &dirs).unwrap_err().to_string();
        assert!(e.contains("sma-cross") && e.contains("nope"), "{e}");
    }
}
