//! Test-only adapter built against `seamless:market@0.2.0`; the host must refuse it
//! with a message naming both versions.
//!
//! Built for wasm32 only: natively (e.g. `cargo build --workspace`) the crate is empty,
//! since component export names cannot be linked into a native shared library.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({ world: "exchange-adapter", path: "wit" });

struct Future;

impl exports::seamless::market::adapter::Guest for Future {
    fn describe() -> String {
        "from the future".to_string()
    }
}

export!(Future);
