//! Recorded error payloads: each fixture holds `status`, `headers`, the raw `body` and
//! `expect`: one of `unknown-symbol`, `unsupported-timeframe`, `rate-limited` (ms),
//! `exchange` (`code`, `message`), `malformed` (a substring of the detail) or
//! `unavailable-before` (ms).

use std::path::{Path, PathBuf};

use seamless_adapter_kit::{AdapterError, Response};
use serde_json::Value;

/// The `error-*.json` fixtures in `<manifest_dir>/tests/fixtures`, by file name, sorted.
pub fn error_fixtures(manifest_dir: &str) -> Vec<(String, Value)> {
    let dir = Path::new(manifest_dir).join("tests/fixtures");
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
            let text = std::fs::read_to_string(&p).expect("readable fixture");
            (name, serde_json::from_str(&text).expect("fixture is JSON"))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// Every file in `<manifest_dir>/tests/fixtures`, sorted by path.
pub fn fixture_files(manifest_dir: &str) -> Vec<PathBuf> {
    let dir = Path::new(manifest_dir).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// A fixture file: its name and JSON.
pub fn load_fixture(path: &Path) -> (String, Value) {
    let name = path.file_name().unwrap().to_string_lossy().into_owned();
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (name, v)
}

/// The recorded response of a fixture as a kit [`Response`].
pub fn response(f: &Value) -> Response {
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
                let s = |i: usize| h[i].as_str().expect("header part").to_owned();
                (s(0), s(1))
            })
            .collect(),
        body: f["body"].as_str().expect("body").as_bytes().to_vec(),
    }
}

/// Assert that `got` is the error the fixture `name` expects (`f["expect"]`, one kind);
/// returns that kind. A `malformed` expectation is a substring of the detail.
pub fn assert_expected(name: &str, f: &Value, got: &AdapterError) -> String {
    let (kind, want) = f["expect"]
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("expect has one kind");
    match (kind.as_str(), got) {
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
    kind.clone()
}

/// Assert that the fixtures covered exactly `want` error kinds (sorted).
pub fn assert_kinds(mut kinds: Vec<String>, want: &[&str]) {
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, want);
}

/// The error an `expect` object (one case, not `malformed`) names.
pub fn expected(e: &Value) -> AdapterError {
    let (case, v) = e
        .as_object()
        .and_then(|o| o.iter().next())
        .expect("one expect case");
    let s = || v.as_str().expect("string").to_owned();
    match case.as_str() {
        "unknown-symbol" => AdapterError::UnknownSymbol(s()),
        "rate-limited" => AdapterError::RateLimited(v.as_u64().expect("ms")),
        "unavailable-before" => AdapterError::UnavailableBefore(v.as_i64().expect("ms")),
        "unsupported-timeframe" => AdapterError::UnsupportedTimeframe(
            v.as_array()
                .expect("list")
                .iter()
                .map(|x| x.as_str().unwrap().to_owned())
                .collect(),
        ),
        "exchange" => AdapterError::Exchange {
            code: v["code"].as_i64().expect("code"),
            message: v["message"].as_str().expect("message").to_owned(),
        },
        other => panic!("unknown expect case {other}"),
    }
}

/// Assert `got` against an `expect` object: a `malformed` expectation is a substring of
/// the detail, any other case must be equal to [`expected`].
pub fn assert_maps(name: &str, expect: &Value, got: &AdapterError) {
    match expect.get("malformed") {
        Some(want) => match got {
            AdapterError::Malformed(d) => {
                assert!(d.contains(want.as_str().unwrap()), "{name}: {d}")
            }
            other => panic!("{name}: {other:?}"),
        },
        None => assert_eq!(got, &expected(expect), "{name}"),
    }
}

/// Every `error-*.json` fixture of the adapter at `manifest_dir` makes `parse` fail with
/// the error it expects ([`assert_expected`]), and together they cover exactly `kinds`
/// (sorted).
pub fn assert_error_fixtures<T: std::fmt::Debug>(
    manifest_dir: &str,
    kinds: &[&str],
    parse: impl Fn(&Response) -> Result<T, AdapterError>,
) {
    let mut seen = Vec::new();
    for (name, f) in error_fixtures(manifest_dir) {
        let got = parse(&response(&f)).expect_err(&name);
        seen.push(assert_expected(&name, &f, &got));
    }
    assert_kinds(seen, kinds);
}

/// Every file in `<manifest_dir>/tests/fixtures` (at least six) makes `parse` fail with
/// the error its `expect` names ([`assert_maps`]).
pub fn assert_recorded_errors<T: std::fmt::Debug>(
    manifest_dir: &str,
    parse: impl Fn(&Response) -> Result<T, AdapterError>,
) {
    let files = fixture_files(manifest_dir);
    assert!(
        files.len() >= 6,
        "fixtures in {manifest_dir}/tests/fixtures"
    );
    for f in files {
        let (name, v) = load_fixture(&f);
        let got = parse(&response(&v)).unwrap_err();
        assert_maps(&name, &v["expect"], &got);
    }
}
