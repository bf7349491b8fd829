//! Test-only adapter built against `seamless:market@0.2.0`; the host must refuse it
//! with a message naming both versions.

wit_bindgen::generate!({ world: "exchange-adapter", path: "wit" });

struct Future;

impl exports::seamless::market::adapter::Guest for Future {
    fn describe() -> String {
        "from the future".to_string()
    }
}

export!(Future);
