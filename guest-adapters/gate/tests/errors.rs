//! Error mapping against recorded-format payloads in `tests/fixtures/*.json`:
//! `{"status", "headers", "body", "expect": {<adapter-error case>: <value>}}`.

use gate_adapter::{parse, plan};
use seamless_adapter_kit::{AdapterError, Market, Response, Window};
use serde_json::Value;

fn expected(e: &Value) -> AdapterError {
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

#[test]
fn recorded_error_payloads_map_to_typed_errors() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 6, "fixtures in {}", dir.display());
    let market = Market::new("gate", "BTC/USDT", "1m");
    let window = Window {
        start: 1_704_067_200_000,
        end: 1_704_153_600_000,
    };
    let request = plan(&market, window, 1000).unwrap();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&f).unwrap()).unwrap();
        let response = Response {
            status: v["status"].as_u64().unwrap() as u16,
            headers: v["headers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| {
                    (
                        h[0].as_str().unwrap().to_owned(),
                        h[1].as_str().unwrap().to_owned(),
                    )
                })
                .collect(),
            body: v["body"].as_str().unwrap().as_bytes().to_vec(),
        };
        let got = parse(&market, window, &request, &response).unwrap_err();
        match v["expect"].get("malformed") {
            Some(want) => match &got {
                AdapterError::Malformed(d) => {
                    assert!(d.contains(want.as_str().unwrap()), "{name}: {d}")
                }
                other => panic!("{name}: {other:?}"),
            },
            None => assert_eq!(got, expected(&v["expect"]), "{name}"),
        }
    }
}
