//! The [`Strategy`] trait (the `strategy` export over plain types) and
//! [`export_strategy!`], the component edge that turns a [`Strategy`] into the
//! `strategy-node` export.

use crate::history::History;
use crate::types::{Columns, Input, Signal};

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

/// Export a [`Strategy`] as the `strategy-node` component.
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
///
/// The state lives in a thread-local (a component instance is single-threaded);
/// `on-candles` before `init` fails with an error.
#[macro_export]
macro_rules! export_strategy {
    ($strategy:ty, $wit:tt) => {
        wit_bindgen::generate!({ world: "strategy-node", path: $wit });

        use exports::seamless::market::strategy::{
            CandleColumns as WitColumns, Guest as WitGuest, Input as WitInput,
            Signal as WitSignal,
        };

        struct WitComponent;

        ::std::thread_local! {
            static WIT_STATE: ::std::cell::RefCell<::core::option::Option<$strategy>> =
                const { ::std::cell::RefCell::new(::core::option::Option::None) };
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
            fn init(
                config: ::std::vec::Vec<(::std::string::String, ::std::string::String)>,
            ) -> ::core::result::Result<::std::vec::Vec<WitInput>, ::std::string::String> {
                let (state, inputs) = <$strategy as $crate::Strategy>::init(&config)?;
                WIT_STATE.with(|s| *s.borrow_mut() = ::core::option::Option::Some(state));
                ::core::result::Result::Ok(
                    inputs
                        .into_iter()
                        .map(|i| WitInput {
                            node_id: i.node_id,
                            warmup: i.warmup,
                        })
                        .collect(),
                )
            }

            fn on_candles(
                input: u32,
                batch: WitColumns,
                warmup: bool,
            ) -> ::core::result::Result<::std::vec::Vec<WitSignal>, ::std::string::String> {
                let batch = wit_columns_in(batch);
                batch.check()?;
                let mut out = ::std::vec::Vec::new();
                WIT_STATE.with(|s| {
                    let mut s = s.borrow_mut();
                    let state = s
                        .as_mut()
                        .ok_or_else(|| "on-candles called before init".to_owned())?;
                    <$strategy as $crate::Strategy>::on_candles(
                        state,
                        input,
                        &batch,
                        warmup,
                        &mut WitHostHistory,
                        &mut out,
                    )
                })?;
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
