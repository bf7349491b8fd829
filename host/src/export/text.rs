//! Candles as text: CSV rows (`open_time,open,high,low,close,volume`) and JSON objects
//! (`{"open_time":…,"open":…,…}`), with times in ms. Numbers are printed as Rust's
//! `Display` prints them (shortest round-trip digits, no exponent), but through
//! `ryu`/`itoa`: CSV and JSON output of large windows spent most of its time in float
//! formatting. The CLI's `--format csv|jsonl` and the HTTP API's `format=csv|json` both
//! write through here.

use crate::domain::Candle;

/// The CSV header line (no newline).
pub const CSV_HEADER: &str = "open_time,open,high,low,close,volume";

const KEYS: [&str; 5] = ["open", "high", "low", "close", "volume"];

fn values(c: &Candle) -> [f64; 5] {
    [c.open, c.high, c.low, c.close, c.volume]
}

/// Append `c` as a JSON object (no newline), with a `state` field if given.
pub fn push_json(out: &mut String, c: &Candle, state: Option<&str>) {
    out.push_str("{\"open_time\":");
    out.push_str(itoa::Buffer::new().format(c.open_time));
    for (k, v) in KEYS.iter().zip(values(c)) {
        out.push_str(",\"");
        out.push_str(k);
        out.push_str("\":");
        push_f64(out, v);
    }
    if let Some(s) = state {
        out.push_str(",\"state\":\"");
        out.push_str(s);
        out.push('"');
    }
    out.push('}');
}

/// Append `c` as a CSV row (no newline), with a `state` column if given.
pub fn push_csv(out: &mut String, c: &Candle, state: Option<&str>) {
    out.push_str(itoa::Buffer::new().format(c.open_time));
    for v in values(c) {
        out.push(',');
        push_f64(out, v);
    }
    if let Some(s) = state {
        out.push(',');
        out.push_str(s);
    }
}

/// `v` exactly as `Display` prints it: ryu's shortest digits, without its `.0` suffix on
/// whole numbers; values `Display` would print without an exponent but ryu with one (very
/// large or small) and non-finite values go through `Display`.
pub fn push_f64(out: &mut String, v: f64) {
    if v.is_finite() {
        let mut b = ryu::Buffer::new();
        let s = b.format_finite(v);
        if !s.contains('e') {
            out.push_str(s.strip_suffix(".0").unwrap_or(s));
            return;
        }
    }
    use std::fmt::Write as _;
    let _ = write!(out, "{v}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_display_does() {
        for v in [
            0.0,
            -0.0,
            1.0,
            2.5,
            10.0,
            0.1,
            1e-7,
            123456.789,
            1e16,
            1.5e300,
            4.9e-324,
            f64::MAX,
            615.6,
            0.30000000000000004,
            -42.125,
            1e15,
            99999999999999.98,
        ] {
            let mut s = String::new();
            push_f64(&mut s, v);
            assert_eq!(s, v.to_string(), "{v:e}");
        }
        let mut s = String::new();
        push_f64(&mut s, f64::NAN);
        assert_eq!(s, "NaN");
    }
}
