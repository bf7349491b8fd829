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
pub mod python;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use serde::Serialize;
use thiserror::Error;

use crate::components::{
    CandleBatch, ComponentError, Signal, StrategyComponent, StrategyInput, StrategyInstance,
};
use crate::domain::{Candle, NodeId, Window, format_ms};
use crate::live::{LiveSession, LiveUpdate, SessionOptions};
use crate::provider::{FetchOptions, Provider, ProviderError};

pub use history::MAX_HISTORY_ROWS;
use history::{Loaded, RunHistory};
pub use merge::{Pick, merged};

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
            _ => Err(format!("unknown on-error mode {s:?}: use stop or skip")),
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
    /// After the window's history, follow the inputs live.
    pub live: Option<LiveRun>,
    /// Called with every signal as it is produced (e.g. to print live signals at once).
    pub sink: Option<SignalSink>,
}

/// Live continuation of a run: after the history, every input is followed through a
/// [`LiveSession`] (seam backfilled, closed candles stored) and its closed candles are
/// delivered in merged order, without a gap or a duplicate at the seam.
#[derive(Debug, Clone, Default)]
pub struct LiveRun {
    /// Stop once every input has passed this time (exclusive); `None` = until `stop`.
    pub until: Option<i64>,
    pub session: SessionOptions,
    /// Set to end the run (e.g. on Ctrl-C).
    pub stop: Arc<std::sync::atomic::AtomicBool>,
}

/// A callback receiving each signal as it is produced.
#[derive(Clone)]
pub struct SignalSink(pub Arc<dyn Fn(&SignalRecord) + Send + Sync>);

impl std::fmt::Debug for SignalSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignalSink")
    }
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
            live: None,
            sink: None,
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
    #[error(transparent)]
    Failed(Box<StrategyFailure>),
    #[error("live feed of {node}: {detail}")]
    Live { node: String, detail: String },
    #[error("strategy task failed: {0}")]
    Task(String),
}

/// The strategy failed on a batch (trap, guest error or contract breach).
#[derive(Debug, Error)]
#[error(
    "strategy {strategy} failed in `{call}` on {node} candles {first}..={last}: {detail}{}",
    if *skippable { format!("; {} to continue with the next batch", Self::SKIP_REMEDY) } else { String::new() }
)]
pub struct StrategyFailure {
    pub strategy: String,
    pub call: &'static str,
    pub node: String,
    pub first: String,
    pub last: String,
    pub detail: String,
    pub skippable: bool,
}

impl StrategyFailure {
    /// How a skippable failure names its remedy ([`RunOptions::on_error`] =
    /// [`OnError::Skip`]); a front end may say it its own way (the CLI names its flag).
    pub const SKIP_REMEDY: &'static str = "set `on_error` to skip";
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

/// A batch dropped under [`OnError::Skip`].
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
    /// Run-window candles delivered (warm-up excluded), live ones included.
    pub candles: usize,
    /// Of `candles`, those that arrived live ([`RunOptions::live`]).
    pub live_candles: usize,
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
    crate::components::builtin_files(dirs, "_strategy.wasm")
        .into_iter()
        .map(|(name, path)| (name.replace('_', "-"), path))
        .collect()
}

/// The component file for `spec`: a path to a `.wasm` file, or a built-in name
/// (`sma-cross`, `donchian`, `spread`, …) looked up in `dirs`.
pub fn resolve(spec: &str, dirs: &[PathBuf]) -> Result<PathBuf, RunError> {
    let p = Path::new(spec);
    if spec.ends_with(".wasm") || spec.contains('/') || p.is_file() || p.is_dir() {
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

    /// Load every input (warm-up and window) through the provider.
    #[allow(clippy::type_complexity)]
    fn load(
        &self,
        inputs: &[StrategyInput],
    ) -> Result<(Vec<Loaded>, Vec<usize>, Vec<InputReport>), RunError> {
        let label = self.label();
        let (mut data, mut splits, mut reports) = (Vec::new(), Vec::new(), Vec::new());
        for (index, input) in inputs.iter().enumerate() {
            let node: NodeId = input
                .node_id
                .parse()
                .map_err(|e: crate::domain::NodeIdError| RunError::BadInput {
                    strategy: label.clone(),
                    index,
                    node: input.node_id.clone(),
                    error: e.to_string(),
                })?;
            let tf = node.timeframe;
            let (window, _) = self.opts.window.align(tf);
            let warm_start = tf.back(window.start, input.warmup as u64);
            let whole = Window {
                start: warm_start,
                end: window.end,
            };
            // Closed data ends here (taken before the fetch, so everything before it is
            // in the fetched frame; a live run continues from it).
            let loaded_end = self.provider.closed_end(&node, window).max(window.start);
            // Closed history only: a live run continues through live sessions below.
            let fetched = self
                .runtime
                .block_on(self.provider.fetch(&node, whole, &self.opts.fetch))
                .map_err(|source| RunError::Provider {
                    node: node.to_string(),
                    source,
                })?;
            let mut candles = fetched.candles;
            candles.truncate(candles.partition_point(|c| c.open_time < loaded_end));
            let split = candles.partition_point(|c| c.open_time < window.start);
            // Keep only the last `warmup` warm-up candles.
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
            splits.push(split);
            data.push(Loaded {
                node,
                candles,
                start: warm_start,
                end: loaded_end,
            });
        }
        Ok((data, splits, reports))
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
        let (instance, inputs) = self.start(&history)?;
        if inputs.is_empty() {
            return Err(RunError::NoInputs { strategy: label });
        }
        let t_load = Instant::now();
        let (data, splits, reports) = self.load(&inputs)?;
        let load = t_load.elapsed();
        let _ = loaded.set(data);
        let data = loaded.get().map(Vec::as_slice).unwrap_or_default();
        let mut d = Delivery {
            runner: &self,
            nodes: data.iter().map(|l| l.node.clone()).collect(),
            instance,
            inputs,
            history,
            horizon,
            out: RunReport {
                strategy: label,
                window: self.opts.window,
                inputs: reports,
                signals: Vec::new(),
                skipped: Vec::new(),
                candles: 0,
                live_candles: 0,
                batches: 0,
                load,
                deliver: Duration::ZERO,
            },
        };
        let t_deliver = Instant::now();

        // Warm-up, merged.
        let warm: Vec<&[Candle]> = data
            .iter()
            .zip(&splits)
            .map(|(l, s)| &l.candles[..*s])
            .collect();
        d.warm(&warm)?;

        // The run window, merged.
        let rows: Vec<&[Candle]> = data
            .iter()
            .zip(&splits)
            .map(|(l, s)| &l.candles[*s..])
            .collect();
        for picks in merged(&rows).chunks(self.opts.batch_size.max(1)) {
            d.deliver(merge::batch(&rows, picks))?;
        }

        if let Some(live) = &self.opts.live {
            let from: Vec<i64> = data.iter().map(|l| l.end).collect();
            d.live(live, &from)?;
        }
        d.out.deliver = t_deliver.elapsed();
        Ok(d.out)
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
        RunError::Failed(Box::new(StrategyFailure {
            strategy: self.label(),
            call,
            node: node.to_string(),
            first: format_ms(first),
            last: format_ms(last),
            detail,
            skippable,
        }))
    }
}

/// The delivery state of a run: the instance, its history, what was produced.
struct Delivery<'r> {
    runner: &'r Runner,
    /// Each input's node.
    nodes: Vec<NodeId>,
    instance: StrategyInstance,
    inputs: Vec<StrategyInput>,
    history: RunHistory,
    horizon: Arc<AtomicI64>,
    out: RunReport,
}

impl Delivery<'_> {
    /// The node of `input` (the runner checked every index it passes).
    fn node(&self, input: u32) -> NodeId {
        self.nodes[input as usize].clone()
    }

    /// The nodes of a batch's inputs, each once, in order of first appearance.
    fn nodes_of(&self, batch: &CandleBatch) -> String {
        let mut seen: Vec<u32> = Vec::new();
        for i in &batch.inputs {
            if !seen.contains(i) {
                seen.push(*i);
            }
        }
        seen.iter()
            .map(|i| self.nodes[*i as usize].to_string())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Set the history horizon to the latest close of a candle of `batch`.
    fn advance_horizon(&self, batch: &CandleBatch) {
        let end = batch
            .inputs
            .iter()
            .zip(&batch.candles.open_time)
            .map(|(i, t)| self.nodes[*i as usize].timeframe.next(*t))
            .max();
        if let Some(end) = end {
            self.horizon.store(end, Ordering::Release);
        }
    }

    /// Deliver `series[i]` of every input as warm-up, merged. A failure here stops the
    /// run (there is no batch to skip).
    fn warm(&mut self, series: &[&[Candle]]) -> Result<(), RunError> {
        for picks in merged(series).chunks(self.runner.opts.batch_size.max(1)) {
            let batch = merge::batch(series, picks);
            let (first, last) = span(&batch);
            let node = self.node(batch.inputs[0]);
            self.advance_horizon(&batch);
            let r = self
                .instance
                .on_candles(&batch, true)
                .map_err(|e| e.to_string())
                .and_then(|r| r);
            if let Err(detail) = r {
                return Err(self.runner.failed(
                    "on-candles (warm-up)",
                    &node,
                    first,
                    last,
                    detail,
                    false,
                ));
            }
        }
        Ok(())
    }

    /// Deliver one batch of run candles; on failure stop or skip it.
    fn deliver(&mut self, batch: CandleBatch) -> Result<(), RunError> {
        let Some(&input) = batch.inputs.first() else {
            return Ok(());
        };
        let (first, last) = span(&batch);
        let node = self.node(input);
        self.advance_horizon(&batch);
        let n_inputs = self.inputs.len();
        let result = self
            .instance
            .on_candles(&batch, false)
            .map_err(|e| e.to_string())
            .and_then(|r| r)
            .and_then(|signals| check_signals(signals, n_inputs, first, last));
        self.out.batches += 1;
        match result {
            Ok(signals) => {
                self.out.candles += batch.inputs.len();
                for signal in signals {
                    let record = SignalRecord {
                        node: self.node(signal.input).to_string(),
                        signal,
                    };
                    if let Some(sink) = &self.runner.opts.sink {
                        (sink.0)(&record);
                    }
                    self.out.signals.push(record);
                }
                Ok(())
            }
            Err(detail) => {
                if self.runner.opts.on_error == OnError::Stop {
                    return Err(self
                        .runner
                        .failed("on-candles", &node, first, last, detail, true));
                }
                let nodes = self.nodes_of(&batch);
                tracing::warn!(strategy = %self.out.strategy, nodes = %nodes, first = %format_ms(first), last = %format_ms(last), error = %detail, "strategy failed on a batch; skipping it");
                self.out.skipped.push(Skipped {
                    node: nodes,
                    first,
                    last,
                    error: detail,
                });
                if self.instance.is_dead() {
                    self.restart(input, first, &node, last)?;
                }
                Ok(())
            }
        }
    }

    /// After a trap: a fresh instance, initialised and warmed on the candles delivered
    /// before the failed batch (which opened at `first` on input `failed`).
    fn restart(
        &mut self,
        failed: u32,
        first: i64,
        node: &NodeId,
        last: i64,
    ) -> Result<(), RunError> {
        let (fresh, again) = self.runner.start(&self.history)?;
        if again != self.inputs {
            return Err(self.runner.failed(
                "init",
                node,
                first,
                last,
                "a fresh instance asked for different inputs".into(),
                false,
            ));
        }
        self.instance = fresh;
        let mut warm = Vec::new();
        for (j, input) in self.inputs.iter().enumerate() {
            // Inputs before the failed one had their candle at `first` delivered.
            let end = if (j as u32) < failed {
                first + 1
            } else {
                first
            };
            let l = self
                .history
                .loaded(j as u32)
                .map_err(|e| self.runner.failed("init", node, first, last, e, false))?;
            let rows = self
                .history
                .tail(l, input.warmup, end)
                .map_err(|e| self.runner.failed("history", node, first, last, e, false))?;
            warm.push(rows);
        }
        let refs: Vec<&[Candle]> = warm.iter().map(Vec::as_slice).collect();
        self.warm(&refs)
    }

    /// Follow every input live from `from[i]`, delivering closed candles in merged
    /// order until `live.until` or until stopped.
    fn live(&mut self, live: &LiveRun, from: &[i64]) -> Result<(), RunError> {
        let runtime = self.runner.runtime.clone();
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Candle)>();
        let mut sessions = Vec::new();
        for (i, start) in from.iter().enumerate() {
            let node = self.node(i as u32);
            let (session, mut updates) = runtime
                .block_on(LiveSession::start(
                    self.runner.provider.clone(),
                    node.clone(),
                    *start,
                    live.session.clone(),
                ))
                .map_err(|e| RunError::Live {
                    node: node.to_string(),
                    detail: e.to_string(),
                })?;
            let tx = tx.clone();
            runtime.spawn(async move {
                while let Some(u) = updates.recv().await {
                    if let LiveUpdate::Closed(c) = u
                        && tx.send((i, c)).is_err()
                    {
                        break;
                    }
                }
            });
            sessions.push(session);
        }
        drop(tx);
        let n = from.len();
        let tfs: Vec<_> = (0..n).map(|i| self.node(i as u32).timeframe).collect();
        // Everything before `seen[i]` of input i has arrived.
        let mut seen: Vec<i64> = from.to_vec();
        let mut queues: Vec<std::collections::VecDeque<Candle>> = vec![Default::default(); n];
        let until = live.until.unwrap_or(i64::MAX);
        let result = 'run: loop {
            if live.stop.load(Ordering::Acquire) {
                break Ok(());
            }
            if seen.iter().all(|s| *s >= until) && queues.iter().all(|q| q.is_empty()) {
                break Ok(());
            }
            match rx.recv_timeout(Duration::from_millis(50)) {
                Ok((i, c)) => {
                    seen[i] = seen[i].max(tfs[i].next(c.open_time));
                    if c.open_time < until {
                        queues[i].push_back(c);
                    }
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => continue,
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
                    break Err(RunError::Live {
                        node: self.node(0).to_string(),
                        detail: "the live sessions ended".into(),
                    });
                }
            }
            // Deliver every candle no other input can still precede, in one batch.
            let mut rows: Vec<(u32, Candle)> = Vec::new();
            while let Some(i) = next_ready(&queues, &seen) {
                if let Some(c) = queues[i].pop_front() {
                    rows.push((i as u32, c));
                }
            }
            for chunk in rows.chunks(self.runner.opts.batch_size.max(1)) {
                let before = self.out.candles;
                if let Err(e) = self.deliver(merge::batch_of_rows(chunk)) {
                    break 'run Err(e);
                }
                self.out.live_candles += self.out.candles - before;
            }
        };
        for s in sessions {
            let _ = runtime.block_on(s.stop());
        }
        result
    }
}

/// The first and last open time of a non-empty batch.
fn span(batch: &CandleBatch) -> (i64, i64) {
    let t = &batch.candles.open_time;
    (
        t.first().copied().unwrap_or_default(),
        t.last().copied().unwrap_or_default(),
    )
}

/// The input whose head candle comes next in merged order and cannot be preceded by a
/// candle still to arrive: every other input `j` has arrived up to the candle's open
/// time (inclusive for inputs before it, which go first on ties).
fn next_ready(queues: &[std::collections::VecDeque<Candle>], seen: &[i64]) -> Option<usize> {
    let (i, t) = queues
        .iter()
        .enumerate()
        .filter_map(|(i, q)| q.front().map(|c| (i, c.open_time)))
        .min_by_key(|(i, t)| (*t, *i))?;
    let ready = (0..queues.len())
        .filter(|j| *j != i)
        .all(|j| if j < i { seen[j] > t } else { seen[j] >= t });
    ready.then_some(i)
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
            return Err(format!(
                "contract: signal {:?} has a non-finite value",
                s.action
            ));
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
        assert!(
            check_signals(vec![sig(5, 1, 1.0)], 1, 0, 10)
                .unwrap_err()
                .contains("input 1")
        );
        assert!(
            check_signals(vec![sig(11, 0, 1.0)], 1, 0, 10)
                .unwrap_err()
                .contains("outside")
        );
        assert!(
            check_signals(vec![sig(5, 0, f64::NAN)], 1, 0, 10)
                .unwrap_err()
                .contains("non-finite")
        );
    }

    #[test]
    fn on_error_parses() {
        assert_eq!("skip".parse::<OnError>(), Ok(OnError::Skip));
        assert!(
            "later"
                .parse::<OnError>()
                .unwrap_err()
                .contains("stop or skip")
        );
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
