//! Strategy node components (world `strategy-node` of `wit/`): bindings, the host types
//! they are converted to, and a stateful sandboxed instance.
//!
//! Unlike an adapter (a fresh or recycled instance per call), a strategy keeps state
//! between calls, so one instance lives for a whole run. Every call still runs under
//! its own deadline and the instance's memory cap; after a trap the instance is dead
//! and the runner decides whether to stop or start a new one.
//!
//! The `history` import is answered by a [`HistorySource`] the runner installs, which
//! bounds what the guest may see (no look-ahead).

use wasmtime::component::{Component, HasSelf, Linker, ResourceAny};

use super::sandbox::{self, GuestState};
use super::{ComponentError, ComponentHost};
use crate::domain::{Candle, Window};

mod bindings {
    //! Generated bindings of world `strategy-node`, sharing `types` and `log` with the
    //! adapter bindings.
    wasmtime::component::bindgen!({
        world: "strategy-node",
        path: "../wit",
        with: {
            "seamless:market/types": super::super::adapter::bindings::seamless::market::types,
            "seamless:market/log": super::super::adapter::bindings::seamless::market::log,
        },
    });
}

use bindings::StrategyNodePre;
use bindings::exports::seamless::market::strategy as wit;
use bindings::seamless::market::history as wit_history;

/// Many candles as columns (row `i` of every list is one candle): the form batches
/// and history windows cross the sandbox boundary in.
pub use super::adapter::bindings::seamless::market::types::CandleColumns;

/// A time-ordered run of candles across inputs (WIT `strategy.batch`): row `i` of
/// `candles` belongs to input `inputs[i]`.
pub use bindings::exports::seamless::market::strategy::Batch as CandleBatch;

/// Build columns from candles.
pub fn columns(candles: &[Candle]) -> CandleColumns {
    let mut c = CandleColumns {
        open_time: Vec::with_capacity(candles.len()),
        open: Vec::with_capacity(candles.len()),
        high: Vec::with_capacity(candles.len()),
        low: Vec::with_capacity(candles.len()),
        close: Vec::with_capacity(candles.len()),
        volume: Vec::with_capacity(candles.len()),
    };
    for k in candles {
        c.open_time.push(k.open_time);
        c.open.push(k.open);
        c.high.push(k.high);
        c.low.push(k.low);
        c.close.push(k.close);
        c.volume.push(k.volume);
    }
    c
}

/// One input stream a strategy asked for in `init`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyInput {
    /// `ohlcv:{exchange}:{symbol}:{timeframe}` as the guest wrote it.
    pub node_id: String,
    /// Closed candles wanted before the first candle of the run.
    pub warmup: u32,
}

/// A signal a strategy emitted.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Signal {
    /// Open time (ms) of the candle that produced it.
    pub time: i64,
    /// Index of the input whose candle produced it.
    pub input: u32,
    pub action: String,
    pub value: f64,
    pub note: String,
}

/// Answers a strategy's `history` calls. The runner's implementation bounds every
/// answer to data the strategy may see at the candle being processed.
pub trait HistorySource: Send {
    /// Closed candles of `input` with open time in `window` (ascending).
    fn range(&mut self, input: u32, window: Window) -> Result<Vec<Candle>, String>;
    /// The last `count` closed candles of `input` opening before `before` (ascending).
    fn last(&mut self, input: u32, count: u32, before: i64) -> Result<Vec<Candle>, String>;
}

impl wit_history::Host for GuestState {
    fn range(&mut self, input: u32, window: wit_history::Window) -> Result<CandleColumns, String> {
        let Some(h) = self.history.as_mut() else {
            return Err("history is not available in this context".into());
        };
        if window.end < window.start {
            return Err(format!(
                "window [{}, {}) ends before it starts; pass start <= end",
                window.start, window.end
            ));
        }
        h.range(
            input,
            Window {
                start: window.start,
                end: window.end,
            },
        )
        .map(|c| columns(&c))
    }

    fn last(&mut self, input: u32, count: u32, before: i64) -> Result<CandleColumns, String> {
        let Some(h) = self.history.as_mut() else {
            return Err("history is not available in this context".into());
        };
        h.last(input, count, before).map(|c| columns(&c))
    }
}

/// The linker for strategies: WASI p2 (deny-all context), `log` and `history`.
pub(super) fn linker(engine: &wasmtime::Engine) -> Result<Linker<GuestState>, ComponentError> {
    let mut linker = Linker::new(engine);
    let err = |e: wasmtime::Error| ComponentError::Engine(format!("{e:#}"));
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(err)?;
    bindings::StrategyNode::add_to_linker::<_, HasSelf<GuestState>>(&mut linker, |s| s)
        .map_err(err)?;
    Ok(linker)
}

type GuestResult<T> = Result<Result<T, String>, ComponentError>;

/// A loaded, pre-instantiated strategy component. Cheap to clone.
#[derive(Clone)]
pub struct StrategyComponent {
    host: ComponentHost,
    label: String,
    pre: StrategyNodePre<GuestState>,
    wit_version: String,
}

impl StrategyComponent {
    pub(super) fn new(
        host: ComponentHost,
        label: &str,
        component: &Component,
        wit_version: String,
    ) -> Result<Self, ComponentError> {
        let instance_pre = super::link(&host.inner.strategy_linker, component, label)?;
        let pre = StrategyNodePre::new(instance_pre).map_err(|e| ComponentError::WrongWorld {
            label: label.to_string(),
            interface: "strategy",
            world: "strategy-node",
            exports: format!("{e:#}"),
        })?;
        Ok(StrategyComponent {
            host,
            label: label.to_string(),
            pre,
            wit_version,
        })
    }

    /// The name used in errors and logs.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// The WIT package version the component was built against.
    pub fn wit_version(&self) -> &str {
        &self.wit_version
    }

    /// A new instance whose `history` calls go to `history`.
    pub fn instantiate(
        &self,
        history: Box<dyn HistorySource>,
    ) -> Result<StrategyInstance, ComponentError> {
        let limits = self.host.limits();
        let mut store = sandbox::new_store(self.host.engine(), &limits, &self.label);
        store.data_mut().history = Some(history);
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(|e| sandbox::trap_error(e, store.data(), "instantiate", &limits))?;
        Ok(StrategyInstance {
            host: self.host.clone(),
            store,
            instance,
            node: None,
            dead: false,
        })
    }
}

/// A live strategy instance holding one configured `node` resource: its state persists
/// between calls. After a trap it is dead and every further call fails.
pub struct StrategyInstance {
    host: ComponentHost,
    store: wasmtime::Store<GuestState>,
    instance: bindings::StrategyNode,
    /// The `node` resource `init` created.
    node: Option<ResourceAny>,
    dead: bool,
}

impl StrategyInstance {
    fn call<R>(
        &mut self,
        name: &'static str,
        f: impl FnOnce(&mut wasmtime::Store<GuestState>, &bindings::StrategyNode) -> wasmtime::Result<R>,
    ) -> Result<R, ComponentError> {
        let limits = self.host.limits();
        if self.dead {
            return Err(ComponentError::Contract {
                component: self.store.data().component.clone(),
                call: name,
                detail: "the instance trapped earlier and cannot be called again".into(),
            });
        }
        sandbox::arm_deadline(&mut self.store, &limits);
        match f(&mut self.store, &self.instance) {
            Ok(r) => {
                sandbox::flush_output(self.store.data_mut(), name);
                Ok(r)
            }
            Err(e) => {
                self.dead = true;
                Err(sandbox::trap_error(e, self.store.data(), name, &limits))
            }
        }
    }

    /// True after a trap.
    pub fn is_dead(&self) -> bool {
        self.dead
    }

    /// Configure the strategy (`node.create`, then `node.inputs`); returns its inputs
    /// or the guest's error message.
    pub fn init(&mut self, config: &[(String, String)]) -> GuestResult<Vec<StrategyInput>> {
        let created = self.call("init", |s, i| {
            i.seamless_market_strategy().node().call_create(s, config)
        })?;
        let node = match created {
            Ok(node) => node,
            Err(e) => return Ok(Err(e)),
        };
        self.node = Some(node);
        let inputs = self.call("init", |s, i| {
            i.seamless_market_strategy().node().call_inputs(s, node)
        })?;
        Ok(Ok(inputs
            .into_iter()
            .map(|i: wit::Input| StrategyInput {
                node_id: i.node_id,
                warmup: i.warmup,
            })
            .collect()))
    }

    /// Deliver a batch; returns the signals or the guest's error.
    pub fn on_candles(&mut self, batch: &CandleBatch, warmup: bool) -> GuestResult<Vec<Signal>> {
        let Some(node) = self.node else {
            return Err(ComponentError::Contract {
                component: self.store.data().component.clone(),
                call: "on-candles",
                detail: "on-candles before init: the host must configure the strategy first".into(),
            });
        };
        let r = self.call("on-candles", |s, i| {
            i.seamless_market_strategy()
                .node()
                .call_on_candles(s, node, batch, warmup)
        })?;
        Ok(r.map(|signals| {
            signals
                .into_iter()
                .map(|s: wit::Signal| Signal {
                    time: s.time,
                    input: s.input,
                    action: s.action,
                    value: s.value,
                    note: s.note,
                })
                .collect()
        }))
    }
}

impl Drop for StrategyInstance {
    /// Drop the `node` resource inside the guest (its destructor runs under the call
    /// deadline), unless the instance trapped.
    fn drop(&mut self) {
        if let Some(node) = self.node.take()
            && !self.dead
        {
            let _ = self.call("drop", |s, _| node.resource_drop(s));
        }
    }
}

/// A batch of one input's candles (every row of input `input`).
pub fn batch_of(input: u32, candles: &[Candle]) -> CandleBatch {
    CandleBatch {
        inputs: vec![input; candles.len()],
        candles: columns(candles),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_keep_rows_together() {
        let k = |t: i64| Candle {
            open_time: t,
            open: 1.0 + t as f64,
            high: 2.0 + t as f64,
            low: 0.5,
            close: 1.5,
            volume: 3.0,
        };
        let c = columns(&[k(0), k(60_000)]);
        assert_eq!(c.open_time, vec![0, 60_000]);
        assert_eq!(c.open, vec![1.0, 60_001.0]);
        assert_eq!(c.high[1], 60_002.0);
        assert_eq!(c.volume.len(), 2);
    }
}
