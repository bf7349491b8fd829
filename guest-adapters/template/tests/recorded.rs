//! Recorded payloads (`tests/fixtures/`): a page of candles and one error body per
//! adapter-error kind, as the exchange sends them, through `parse`.
//!
//! `page-*.json` holds the request, `status`, `headers`, the raw `body` and the candles
//! expected (count, first and last row); `error-*.json` holds the response and `expect`:
//! one of `unknown-symbol`, `unsupported-timeframe`, `rate-limited` (ms), `exchange`
//! (`code`, `message`) or `malformed` (a substring of the detail).

use adapter_template::{parse, plan};
use seamless_adapter_kit::{Market, Window};
use seamless_adapter_testkit::errors::{assert_error_fixtures, load_fixture, response};

const ID: &str = "example";
const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00Z
const M: i64 = 60_000;

#[test]
fn a_recorded_page_parses_to_its_candles() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/page-1m.json");
    let (name, f) = load_fixture(&path);
    let market = Market::new(ID, "BTC/USDT", "1m");
    let window = Window {
        start: T0,
        end: T0 + 5 * M,
    };
    let request = plan(&market, window, 500).expect("plan");
    assert!(
        request
            .url
            .ends_with(f["request"].as_str().unwrap().trim_start_matches("GET "))
    );
    let page = parse(&market, window, &request, &response(&f)).expect(&name);
    let row = |c: &seamless_adapter_kit::Candle| {
        serde_json::json!([c.open_time, c.open, c.high, c.low, c.close, c.volume])
    };
    assert_eq!(
        page.candles.len() as u64,
        f["expect"]["candles"].as_u64().unwrap()
    );
    assert_eq!(row(&page.candles[0]), f["expect"]["first"]);
    assert_eq!(row(page.candles.last().unwrap()), f["expect"]["last"]);
    assert_eq!(page.covered, window);
    assert!(page.next.is_none());
}

#[test]
fn every_error_kind_has_a_recorded_payload_and_maps() {
    let market = Market::new(ID, "BTC/USDT", "1m");
    let window = Window {
        start: T0,
        end: T0 + 60 * M,
    };
    let request = plan(&market, window, 500).expect("plan");
    let kinds = [
        "exchange",
        "malformed",
        "rate-limited",
        "unknown-symbol",
        "unsupported-timeframe",
    ];
    assert_error_fixtures(env!("CARGO_MANIFEST_DIR"), &kinds, |response| {
        parse(&market, window, &request, response)
    });
}
