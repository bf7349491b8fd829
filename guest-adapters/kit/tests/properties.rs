//! Property tests of the kit's JSON scanner ([`Scanner`]) and number parser
//! ([`seamless_adapter_kit::num`]): arbitrary bytes never panic; numbers round-trip against
//! `str::parse`; the scanner reads generated documents exactly as serde_json does.
//!
//! Bounded by proptest's default (256 cases per property) so they run in the suite;
//! `PROPTEST_CASES=100000 cargo test -p seamless-adapter-kit --test properties` runs longer.
//! A failing input is written to `tests/properties.proptest-regressions` and replayed
//! first on every later run: commit it as a regression fixture.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use seamless_adapter_kit::Scanner;
use seamless_adapter_kit::num::{
    bytes_f64, bytes_i64, decimal_prefix, integer_prefix, text_f64, text_i64,
};
use seamless_adapter_kit::scan::{is_json_number, json_number_len};
use serde_json::Value;

/// Read one value with the scanner's typed calls, as adapters do: arrays and objects
/// element by element, strings raw, numbers as `f64` (and as `i64` when integral),
/// literals skipped. `None` at the first error.
fn read(s: &mut Scanner<'_>, buf: &[u8], depth: usize) -> Option<Value> {
    if depth > 64 {
        return s.skip_value().ok().map(|_| Value::Null);
    }
    match s.peek()? {
        b'[' => {
            s.begin_array().ok()?;
            let (mut first, mut out) = (true, Vec::new());
            while s.next_element(&mut first).ok()? {
                out.push(read(s, buf, depth + 1)?);
            }
            Some(Value::Array(out))
        }
        b'{' => {
            s.begin_object().ok()?;
            let (mut first, mut out) = (true, serde_json::Map::new());
            while let Some(k) = s.next_key(&mut first).ok()? {
                let k = String::from_utf8_lossy(k).into_owned();
                let v = read(s, buf, depth + 1)?;
                out.insert(k, v);
            }
            Some(Value::Object(out))
        }
        b'"' => {
            let raw = s.string_raw().ok()?;
            Some(Value::String(String::from_utf8_lossy(raw).into_owned()))
        }
        b'-' | b'0'..=b'9' => {
            let raw = s.clone().number_raw().ok()?;
            if raw.iter().all(|b| b.is_ascii_digit() || *b == b'-') {
                let mut ints = s.clone();
                if let Ok(i) = ints.i64_lenient() {
                    *s = ints;
                    return Some(Value::from(i));
                }
            }
            let v = s.f64_lenient().ok()?;
            Some(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
        }
        _ => {
            let at = s.position();
            s.skip_value().ok()?;
            let text = String::from_utf8_lossy(buf.get(at..s.position())?).into_owned();
            Some(Value::String(format!("literal {}", text.trim())))
        }
    }
}

/// What [`read`] gives for a serde_json value: strings as their escaped JSON text (the
/// scanner does not decode escapes), literals by name, numbers as `f64` (or `i64`).
fn expected(v: &Value) -> Value {
    match v {
        Value::Null => Value::String("literal null".into()),
        Value::Bool(b) => Value::String(format!("literal {b}")),
        Value::String(s) => {
            let quoted = serde_json::to_string(s).unwrap();
            Value::String(quoted[1..quoted.len() - 1].to_string())
        }
        Value::Number(n) => match n.as_i64() {
            Some(i) => Value::from(i),
            None => n
                .as_f64()
                .and_then(serde_json::Number::from_f64)
                .map_or(Value::Null, Value::Number),
        },
        Value::Array(a) => Value::Array(a.iter().map(expected).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| {
                    let quoted = serde_json::to_string(k).unwrap();
                    (quoted[1..quoted.len() - 1].to_string(), expected(v))
                })
                .collect(),
        ),
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e15..1e15f64).prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,12}".prop_map(Value::String),
        "[\"\\\\\\n\\t a-z0-9]{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map("[a-z\"]{0,6}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Plain decimals as exchanges send them, and longer ones that leave the fast path.
fn decimal_text() -> impl Strategy<Value = String> {
    "-?[0-9]{1,24}(\\.[0-9]{1,24})?([eE][+-]?[0-9]{1,3})?"
}

proptest! {
    // Default case count (256, or `PROPTEST_CASES`), failures kept beside this file.
    #![proptest_config(ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "tests/properties.proptest-regressions",
        ))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut s = Scanner::new(&bytes);
        let _ = read(&mut s, &bytes, 0);
        let _ = Scanner::new(&bytes).skip_value();
        let _ = Scanner::new(&bytes).f64_lenient();
        let _ = Scanner::new(&bytes).i64_lenient();
        let _ = Scanner::new(&bytes).number_raw();
        let _ = bytes_f64(&bytes);
        let _ = bytes_i64(&bytes);
        let _ = decimal_prefix(&bytes);
        let _ = integer_prefix(&bytes);
        let _ = json_number_len(&bytes);
        if let Ok(text) = std::str::from_utf8(&bytes) {
            let _ = text_f64(text);
            let _ = text_i64(text);
        }
    }

    #[test]
    fn json_like_bytes_never_panic(text in "[\\[\\]{}\",:0-9eE.+\\- tfrunalse\\\\]{0,64}") {
        let bytes = text.as_bytes();
        let _ = read(&mut Scanner::new(bytes), bytes, 0);
        let _ = Scanner::new(bytes).skip_value();
    }

    #[test]
    fn decimals_round_trip_like_str_parse(text in decimal_text()) {
        let want = text.parse::<f64>().ok();
        prop_assert_eq!(bytes_f64(text.as_bytes()).map(f64::to_bits), want.map(f64::to_bits));
        if let Some((v, len)) = decimal_prefix(text.as_bytes()) {
            let prefix = text[..len].parse::<f64>().unwrap();
            prop_assert_eq!(v.to_bits(), prefix.to_bits(), "prefix {}", &text[..len]);
        }
        // The scanner reads it alike, as a number and as a numeric string.
        if is_json_number(text.as_bytes()) {
            let got = Scanner::new(text.as_bytes()).f64_lenient().ok();
            prop_assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits));
        }
        let quoted = format!("\"{text}\"");
        let got = Scanner::new(quoted.as_bytes()).f64_lenient().ok();
        prop_assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits));
    }

    #[test]
    fn floats_round_trip(v in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
        for text in [format!("{v}"), format!("{v:e}"), format!("{v:?}")] {
            let want = text.parse::<f64>().unwrap();
            prop_assert_eq!(bytes_f64(text.as_bytes()).map(f64::to_bits), Some(want.to_bits()), "{}", text);
            prop_assert_eq!(want.to_bits(), v.to_bits());
        }
    }

    #[test]
    fn integers_round_trip(v in any::<i64>()) {
        let text = v.to_string();
        prop_assert_eq!(bytes_i64(text.as_bytes()), Some(v));
        prop_assert_eq!(Scanner::new(text.as_bytes()).i64_lenient().ok(), Some(v));
        let quoted = format!("\"{v}\"");
        prop_assert_eq!(Scanner::new(quoted.as_bytes()).i64_lenient().ok(), Some(v));
    }

    #[test]
    fn scanner_reads_documents_like_serde_json(v in json_value(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&v).unwrap()
        } else {
            serde_json::to_string(&v).unwrap()
        };
        let mut s = Scanner::new(text.as_bytes());
        let got = read(&mut s, text.as_bytes(), 0);
        prop_assert!(s.at_end(), "trailing input at {} in {}", s.position(), text);
        prop_assert_eq!(got, Some(expected(&v)), "{}", text);
        let mut skip = Scanner::new(text.as_bytes());
        prop_assert!(skip.skip_value().is_ok() && skip.at_end(), "{}", text);
    }

    #[test]
    fn truncated_documents_are_refused_like_serde_json(v in json_value(), cut in any::<prop::sample::Index>()) {
        let text = serde_json::to_string(&v).unwrap();
        let cut = cut.index(text.len() + 1);
        let Some(prefix) = text.get(..cut) else { return Ok(()) };
        let serde_ok = serde_json::from_str::<Value>(prefix).is_ok();
        let mut s = Scanner::new(prefix.as_bytes());
        let scan_ok = s.skip_value().is_ok() && s.at_end();
        prop_assert_eq!(scan_ok, serde_ok, "{:?}", prefix);
    }
}
