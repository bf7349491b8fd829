//! Test-only component built against the previous contract, `seamless:market@0.1.0`,
//! exporting both an adapter and a strategy interface: the host must refuse it as
//! either, with a message naming both versions and the fix.
//!
//! Built for wasm32 only: natively (e.g. `cargo build --workspace`) the crate is empty,
//! since component export names cannot be linked into a native shared library.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({ world: "previous", path: "wit" });

struct Previous;

impl exports::seamless::market::adapter::Guest for Previous {
    fn describe() -> String {
        "built against 0.1.0".to_string()
    }
}

impl exports::seamless::market::strategy::Guest for Previous {
    fn init(_config: Vec<(String, String)>) -> Result<u32, String> {
        Ok(0)
    }
}

export!(Previous);
