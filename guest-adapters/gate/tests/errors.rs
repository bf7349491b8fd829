//! Error mapping against recorded-format payloads in `tests/fixtures/*.json`:
//! `{"status", "headers", "body", "expect": {<adapter-error case>: <value>}}`.

use gate_adapter::{parse, plan};
use seamless_adapter_kit::{Market, Window};
use seamless_adapter_testkit::errors::assert_recorded_errors;

#[test]
fn recorded_error_payloads_map_to_typed_errors() {
    let market = Market::new("gate", "BTC/USDT", "1m");
    let window = Window {
        start: 1_704_067_200_000,
        end: 1_704_153_600_000,
    };
    let request = plan(&market, window, 1000).unwrap();
    assert_recorded_errors(env!("CARGO_MANIFEST_DIR"), |response| {
        parse(&market, window, &request, response)
    });
}
