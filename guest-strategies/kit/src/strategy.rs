//! The [`Strategy`] trait (the `strategy` export over plain types) and
//! [`export_strategy!`], the component edge that turns a [`Strategy`] into the
//! `strategy-node` export.

use crate::history::History;
use crate::types::{Batch, Columns, Input, Signal};

/// A strategy node over plain Rust types.
pub trait Strategy: Sized {
    /// Configure from `key=value` pairs; returns the strategy and its inputs, or an
    /// error naming the bad key and the fix.
    fn init(config: &[(String, String)]) -> Result<(Self, Vec<Input>), String>;

    /// Handle the next candles of input `input` (already length-checked), pushing
    /// signals to `out`. `warmup` batches update state only.
    fn on_candles(
        &mut self,
        input: u32,
        batch: &Columns,
        warmup: bool,
        history: &mut dyn History,
        out: &mut Vec<Signal>,
    ) -> Result<(), String>;

    /// Handle a batch across inputs (already length-checked). The default hands each
    /// run of consecutive rows of one input to [`Strategy::on_candles`] (a batch of one
    /// input is one run, passed without a copy); a multi-input strategy that reads rows
    /// one at a time overrides it to skip the per-run columns.
    fn on_batch(
        &mut self,
        batch: Batch,
        warmup: bool,
        history: &mut dyn History,
        out: &mut Vec<Signal>,
    ) -> Result<(), String> {
        let mut runs = batch.runs();
        match (runs.next(), runs.next()) {
            (None, _) => Ok(()),
            (Some((input, _)), None) => {
                self.on_candles(input, &batch.candles, warmup, history, out)
            }
            _ => {
                for (input, rows) in batch.runs() {
                    let run = batch.candles.rows(rows.start, rows.end);
                    self.on_candles(input, &run, warmup, history, out)?;
                }
                Ok(())
            }
        }
    }
}

/// `Ok` if `input` is 0, else an error for a strategy with a single input.
pub fn single_input(input: u32) -> Result<(), String> {
    if input == 0 {
        Ok(())
    } else {
        Err(format!(
            "input {input} does not exist: this strategy has one input (index 0)"
        ))
    }
}

/// Export a [`Strategy`] as the `strategy-node` component: the strategy is the state of
/// the WIT resource `node` (one per run), so it lives exactly as long as the host keeps
/// the resource.
///
/// Expand it once, in a module compiled for `wasm32` only, with the path of the
/// strategy type as seen from that module and the WIT folder relative to the
/// crate's `Cargo.toml`. The crate needs `wit-bindgen` (wasm32 only):
///
/// ```ignore
/// #[cfg(target_arch = "wasm32")]
/// mod component {
///     //! The `strategy-node` component export.
///     seamless_strategy_kit::export_strategy!(super::SmaCrossNode, "../../wit");
/// }
/// ```
#[macro_export]
macro_rules! export_strategy {
    ($strategy:ty, $wit:tt) => {
        wit_bindgen::generate!({ world: "strategy-node", path: $wit });

        use exports::seamless::market::strategy::{
            Batch as WitBatch, CandleColumns as WitColumns, Guest as WitGuest,
            GuestNode as WitGuestNode, Input as WitInput, Node as WitNode, Signal as WitSignal,
        };

        struct WitComponent;

        /// The `node` resource: the configured strategy and its inputs.
        struct WitState {
            strategy: ::core::cell::RefCell<$strategy>,
            inputs: ::std::vec::Vec<$crate::Input>,
        }

        fn wit_columns_in(c: WitColumns) -> $crate::Columns {
            $crate::Columns {
                open_time: c.open_time,
                open: c.open,
                high: c.high,
                low: c.low,
                close: c.close,
                volume: c.volume,
            }
        }

        struct WitHostHistory;

        impl $crate::History for WitHostHistory {
            fn range(
                &mut self,
                input: u32,
                start: i64,
                end: i64,
            ) -> ::core::result::Result<$crate::Columns, ::std::string::String> {
                seamless::market::history::range(
                    input,
                    seamless::market::types::Window { start, end },
                )
                .map(wit_columns_in)
            }

            fn last(
                &mut self,
                input: u32,
                count: u32,
                before: i64,
            ) -> ::core::result::Result<$crate::Columns, ::std::string::String> {
                seamless::market::history::last(input, count, before).map(wit_columns_in)
            }
        }

        impl WitGuest for WitComponent {
            type Node = WitState;
        }

        impl WitGuestNode for WitState {
            fn create(
                config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::core::result::Result<WitNode, ::std::string::String> {
                let (strategy, inputs) = <$strategy as $crate::Strategy>::init(&config)?;
                ::core::result::Result::Ok(WitNode::new(WitState {
                    strategy: ::core::cell::RefCell::new(strategy),
                    inputs,
                }))
            }

            fn inputs(&self) -> ::std::vec::Vec<WitInput> {
                self.inputs
                    .iter()
                    .map(|i| WitInput {
                        node_id: i.node_id.clone(),
                        warmup: i.warmup,
                    })
                    .collect()
            }

            fn on_candles(
                &self,
                batch: WitBatch,
                warmup: bool,
            ) -> ::core::result::Result<::std::vec::Vec<WitSignal>, ::std::string::String> {
                let batch = $crate::Batch {
                    inputs: batch.inputs,
                    candles: wit_columns_in(batch.candles),
                };
                batch.check()?;
                let mut out = ::std::vec::Vec::new();
                <$strategy as $crate::Strategy>::on_batch(
                    &mut self.strategy.borrow_mut(),
                    batch,
                    warmup,
                    &mut WitHostHistory,
                    &mut out,
                )?;
                ::core::result::Result::Ok(
                    out.into_iter()
                        .map(|s| WitSignal {
                            time: s.time,
                            input: s.input,
                            action: s.action,
                            value: s.value,
                            note: s.note,
                        })
                        .collect(),
                )
            }
        }

        export!(WitComponent);
    };
}

#[cfg(test)]
mod tests {
    //! Unit tests: Input index checks.

    use super::*;

    #[test]
    fn single_input_refuses_others() {
        assert_eq!(single_input(0), Ok(()));
        assert!(
            single_input(1)
                .unwrap_err()
                .contains("input 1 does not exist")
        );
    }
}
