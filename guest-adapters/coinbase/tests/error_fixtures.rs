//! Recorded-format Coinbase error payloads (`tests/fixtures/error-*.json`) map to the
//! expected typed errors. Each fixture holds `status`, `headers`, the raw `body` and
//! `expect`: one of `unknown-symbol`, `unsupported-timeframe`, `rate-limited` (ms),
//! `exchange` (`code`, `message`), `malformed` (a substring of the detail) or
//! `unavailable-before` (ms).

use coinbase_adapter::{parse, plan};
use seamless_adapter_kit::{AdapterError, Market, Response, Window};
use serde_json::Value;

/// The error kinds this exchange's fixtures must cover.
const KINDS: &[&str] = &[
    "exchange",
    "malformed",
    "rate-limited",
    "unknown-symbol",
    "unsupported-timeframe",
];

fn fixtures() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("error-") && n.ends_with(".json"))
        })
        .map(|p| {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (
                name,
                serde_json::from_str(&std::fs::read_to_string(&p).expect("readable"))
                    .expect("JSON"),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn response(f: &Value) -> Response {
    Response {
        status: f["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
            .expect("status"),
        headers: f["headers"]
            .as_array()
            .expect("headers")
            .iter()
            .map(|h| {
                (
                    h[0].as_str().expect("name").to_owned(),
                    h[1].as_str().expect("value").to_owned(),
                )
            })
            .collect(),
        body: f["body"].as_str().expect("body").as_bytes().to_vec(),
    }
}

#[test]
fn every_error_kind_has_a_fixture_and_maps() {
    let market = Market::new("coinbase", "BTC/USD", "1m");
    let window = Window {
        start: 1_704_067_200_000,
        end: 1_704_067_800_000,
    };
    let request = plan(&market, window, 100).expect("plan");
    let mut kinds = Vec::new();
    for (name, f) in fixtures() {
        let got = parse(&market, window, &request, &response(&f)).expect_err(&name);
        let (kind, want) = f["expect"]
            .as_object()
            .and_then(|o| o.iter().next())
            .expect("one kind");
        match (kind.as_str(), &got) {
            ("unknown-symbol", AdapterError::UnknownSymbol(m)) => assert_eq!(want, m, "{name}"),
            ("unsupported-timeframe", AdapterError::UnsupportedTimeframe(l)) => {
                assert_eq!(want, &serde_json::json!(l), "{name}")
            }
            ("rate-limited", AdapterError::RateLimited(ms)) => {
                assert_eq!(want.as_u64(), Some(*ms), "{name}")
            }
            ("exchange", AdapterError::Exchange { code, message }) => {
                assert_eq!(want["code"].as_i64(), Some(*code), "{name}");
                assert_eq!(want["message"].as_str(), Some(message.as_str()), "{name}");
            }
            ("malformed", AdapterError::Malformed(d)) => {
                let w = want.as_str().expect("substring");
                assert!(d.contains(w), "{name}: {d:?} does not contain {w:?}");
            }
            ("unavailable-before", AdapterError::UnavailableBefore(t)) => {
                assert_eq!(want.as_i64(), Some(*t), "{name}")
            }
            _ => panic!("{name}: expected {kind}, got {got:?}"),
        }
        kinds.push(kind.clone());
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, KINDS);
}
