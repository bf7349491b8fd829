//! Recorded-format Coinbase error payloads (`tests/fixtures/error-*.json`) map to the
//! expected typed errors. Each fixture holds `status`, `headers`, the raw `body` and
//! `expect`: one of `unknown-symbol`, `unsupported-timeframe`, `rate-limited` (ms),
//! `exchange` (`code`, `message`), `malformed` (a substring of the detail) or
//! `unavailable-before` (ms).

use coinbase_adapter::{parse, plan};
use seamless_adapter_kit::{Market, Window};
use seamless_adapter_testkit::errors::assert_error_fixtures;

/// The error kinds this exchange's fixtures must cover.
const KINDS: &[&str] = &[
    "exchange",
    "malformed",
    "rate-limited",
    "unknown-symbol",
    "unsupported-timeframe",
];

#[test]
fn every_error_kind_has_a_fixture_and_maps() {
    let market = Market::new("coinbase", "BTC/USD", "1m");
    let window = Window {
        start: 1_704_067_200_000,
        end: 1_704_067_800_000,
    };
    let request = plan(&market, window, 100).expect("plan");
    assert_error_fixtures(env!("CARGO_MANIFEST_DIR"), KINDS, |response| {
        parse(&market, window, &request, response)
    });
}
