//! JSON numbers that exchanges send either as numbers or as strings
//! (`"42000.10"`, `1704067200000`, `"1704067200000"`) → `f64` / `i64`.
//!
//! These work on `serde_json::Value` (small payloads: error bodies, live frames)
//! and on raw text; hot paths use [`crate::scan::Scanner`] instead.

use serde_json::Value;

/// Parse decimal text (as in a JSON number or a numeric string) to `f64`.
/// Surrounding whitespace is not accepted. Non-finite spellings (`NaN`, `inf`)
/// parse; callers that need finite values check [`f64::is_finite`].
pub fn text_f64(text: &str) -> Option<f64> {
    text.parse().ok()
}

/// Parse an integer, accepting also an integral decimal (`"1.7e12"`, `"5.0"`)
/// that fits in `i64`.
pub fn text_i64(text: &str) -> Option<i64> {
    if let Ok(v) = text.parse::<i64>() {
        return Some(v);
    }
    f64_to_i64(text_f64(text)?)
}

/// Exact powers of ten representable in `f64` (10^0 ..= 10^22).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// Parse decimal bytes to `f64`, with a fast path for plain decimals
/// (`-?digits[.digits]`, as exchanges send prices) and `str::parse` otherwise.
/// Results are identical to `str::parse` (correctly rounded).
#[inline]
pub fn bytes_f64(text: &[u8]) -> Option<f64> {
    match decimal_prefix(text) {
        Some((v, len)) if len == text.len() => Some(v),
        _ => text_f64(core::str::from_utf8(text).ok()?),
    }
}

/// Leading ASCII digits of an 8-byte little-endian word: how many (0..=8) and
/// their value (SWAR, after simdjson's eight-digit parse). The first non-digit
/// byte is found exactly: a carry only moves upwards from a non-digit byte.
#[inline]
fn leading_digits(word: &[u8; 8]) -> (usize, u64) {
    const LO: u64 = 0x0101_0101_0101_0101;
    let x = u64::from_le_bytes(*word) ^ (LO * 0x30); // digits become 0..=9
    let non_digit = (x | x.wrapping_add(LO * 0x06)) & (LO * 0xF0);
    let count = (non_digit.trailing_zeros() / 8) as usize;
    if count == 0 {
        return (0, 0);
    }
    // Move the digits to the high bytes; the zero bytes below act as leading zeros.
    let v = x << (8 * (8 - count));
    let v = v.wrapping_mul(10).wrapping_add(v >> 8);
    let mask = 0x0000_00FF_0000_00FF;
    let v = ((v & mask)
        .wrapping_mul(100 + (1_000_000 << 32))
        .wrapping_add(((v >> 16) & mask).wrapping_mul(1 + (10_000 << 32))))
        >> 32;
    (count, v)
}

/// Advance `*i` past the run of ASCII digits at `text[*i..]`.
#[inline]
pub fn skip_digits(text: &[u8], i: &mut usize) {
    while let Some(word) = text.get(*i..).and_then(<[u8]>::first_chunk::<8>) {
        let (count, _) = leading_digits(word);
        *i += count;
        if count < 8 {
            return;
        }
    }
    while text.get(*i).is_some_and(u8::is_ascii_digit) {
        *i += 1;
    }
}

/// Accumulate the run of digits at `text[*i..]` into `m`, counting them in `n`;
/// `None` once more than 19 digits would be needed (u64 could overflow).
#[inline]
fn digit_run(text: &[u8], i: &mut usize, m: &mut u64, n: &mut usize) -> Option<()> {
    while *n <= 11 {
        match text
            .get(*i..)
            .and_then(<[u8]>::first_chunk::<8>)
            .map(leading_digits)
        {
            Some((8, v)) => {
                *m = *m * 100_000_000 + v;
                *n += 8;
                *i += 8;
            }
            _ => break,
        }
    }
    while let Some(&b) = text.get(*i) {
        if !b.is_ascii_digit() {
            break;
        }
        if *n == 19 {
            return None;
        }
        *m = *m * 10 + u64::from(b - b'0');
        *n += 1;
        *i += 1;
    }
    Some(())
}

/// The plain decimal (`-?digits[.digits]`) at the start of `text` and its length
/// in bytes, when Clinger's fast path applies: a mantissa of at most 2^53 and at
/// most 22 fractional digits are both exact in `f64`, so one IEEE division
/// rounds correctly. `None` means "use a full parser" (not "invalid").
#[inline]
pub fn decimal_prefix(text: &[u8]) -> Option<(f64, usize)> {
    let neg = text.first() == Some(&b'-');
    let (mut m, mut n) = (0u64, 0usize);
    let mut i = usize::from(neg);
    digit_run(text, &mut i, &mut m, &mut n)?;
    let mut frac = 0;
    if text.get(i) == Some(&b'.') {
        i += 1;
        let before = n;
        digit_run(text, &mut i, &mut m, &mut n)?;
        frac = n - before;
    }
    if n == 0 || m > 1 << 53 {
        return None;
    }
    let v = m as f64 / *POW10.get(frac)?;
    Some((if neg { -v } else { v }, i))
}

/// The integer (`-?digits`, at most 18 digits) at the start of `text` and its
/// length in bytes. `None` means "use a full parser" (not "invalid").
#[inline]
pub fn integer_prefix(text: &[u8]) -> Option<(i64, usize)> {
    let neg = text.first() == Some(&b'-');
    let (mut m, mut n) = (0u64, 0usize);
    let mut i = usize::from(neg);
    digit_run(text, &mut i, &mut m, &mut n)?;
    if n == 0 || n > 18 {
        return None;
    }
    // At most 18 digits: below 10^18 < i64::MAX.
    let v = m as i64;
    Some((if neg { -v } else { v }, i))
}

/// Parse integer bytes to `i64`, with a fast path for up to 18 plain digits and
/// [`text_i64`] otherwise (so integral decimals are accepted).
#[inline]
pub fn bytes_i64(text: &[u8]) -> Option<i64> {
    match integer_prefix(text) {
        Some((v, len)) if len == text.len() => Some(v),
        _ => text_i64(core::str::from_utf8(text).ok()?),
    }
}

/// A JSON number, or a string holding one, as `f64`.
pub fn value_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => text_f64(s),
        _ => None,
    }
}

/// A JSON integer, or a string holding one, as `i64` (integral floats accepted).
pub fn value_i64(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| f64_to_i64(n.as_f64()?)),
        Value::String(s) => text_i64(s),
        _ => None,
    }
}

/// `v` as `i64` when it is integral and in range.
fn f64_to_i64(v: f64) -> Option<i64> {
    // 2^63 is exactly representable; every f64 below it converts exactly.
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    (v.fract() == 0.0 && (-LIMIT..LIMIT).contains(&v)).then_some(v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn floats_from_strings_and_numbers() {
        assert_eq!(value_f64(&json!("42000.10000000")), Some(42000.1));
        assert_eq!(value_f64(&json!(1.5)), Some(1.5));
        assert_eq!(value_f64(&json!(7)), Some(7.0));
        assert_eq!(value_f64(&json!("x")), None);
        assert_eq!(value_f64(&json!(null)), None);
        assert_eq!(value_f64(&json!(" 1")), None);
        assert!(value_f64(&json!("NaN")).is_some_and(f64::is_nan));
    }

    #[test]
    fn integers_from_strings_and_numbers() {
        assert_eq!(
            value_i64(&json!(1_704_067_200_000_i64)),
            Some(1_704_067_200_000)
        );
        assert_eq!(value_i64(&json!("1704067200000")), Some(1_704_067_200_000));
        assert_eq!(value_i64(&json!(1.7e12)), Some(1_700_000_000_000));
        assert_eq!(value_i64(&json!("5.0")), Some(5));
        assert_eq!(value_i64(&json!(5.5)), None);
        assert_eq!(value_i64(&json!(1e300)), None);
        assert_eq!(value_i64(&json!(u64::MAX)), None);
        assert_eq!(value_i64(&json!(true)), None);
        assert_eq!(text_i64("NaN"), None);
        assert_eq!(text_i64("-9223372036854775808"), Some(i64::MIN));
    }

    #[test]
    fn leading_digits_of_words() {
        let w = |s: &[u8; 8]| leading_digits(s);
        assert_eq!(w(b"12345678"), (8, 12_345_678));
        assert_eq!(w(b"42000.10"), (5, 42_000));
        assert_eq!(w(b"0000001\""), (7, 1));
        assert_eq!(w(b"x2345678"), (0, 0));
        assert_eq!(w(b"9/9:9999"), (1, 9)); // '/' and ':' border the digits
        assert_eq!(w(b"1\xff\xfa\x00abcd"), (1, 1));
        for b in 0..=255u8 {
            let mut word = *b"7777777\0";
            word[7] = b;
            let want = if b.is_ascii_digit() {
                (8, 77_777_770 + u64::from(b - b'0'))
            } else {
                (7, 7_777_777)
            };
            assert_eq!(leading_digits(&word), want, "{b}");
        }
    }

    #[test]
    fn fast_paths_match_std() {
        let mut cases: Vec<String> = [
            "0",
            "-0",
            "-0.0",
            "42000.10000000",
            "0.00000001",
            "1.",
            ".5",
            "9007199254740992",
            "9007199254740993",
            "12345678901234567890",
            "1e5",
            "-1.5E-3",
            "0.1234567890123456789",
            "1.0000000000000000000000001",
            "NaN",
            "inf",
            "",
            "-",
            ".",
            "1.2.3",
            "+1",
            "--1",
            "1a",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for i in 0..20_000u64 {
            let x = (i.wrapping_mul(2_654_435_761) % 10_000_000_000) as f64 / 1e8;
            cases.push(format!("{x:.8}"));
            cases.push(format!("-{x}"));
        }
        for c in &cases {
            let want = c.parse::<f64>().ok();
            let got = bytes_f64(c.as_bytes());
            assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "{c:?}");
        }
        for c in [
            "0",
            "-5",
            "1704067200000",
            "999999999999999999",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "",
            "-",
            "1.5",
            "5.0",
            "1e3",
            "x",
        ] {
            assert_eq!(bytes_i64(c.as_bytes()), text_i64(c), "{c:?}");
        }
    }
}
