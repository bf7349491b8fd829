//! Deterministic synthetic `/api/v3/klines` bodies in Binance's exact row format,
//! for tests and for the host's parse benchmark (native vs WASM).

use core::fmt::Write as _;

/// A body of `rows` klines opening at `first_open`, `step_ms` apart, with
/// 8-decimal string prices like Binance's (`"42000.10000000"`) and all 12 fields.
pub fn sample_klines(first_open: i64, step_ms: i64, rows: usize) -> Vec<u8> {
    let mut s = String::with_capacity(rows * 180 + 2);
    s.push('[');
    for i in 0..rows {
        if i > 0 {
            s.push(',');
        }
        let k = i as i64;
        let t = first_open.saturating_add(k.saturating_mul(step_ms));
        // Prices wander deterministically around 42000 in steps of 0.01.
        let cents = 4_200_000 + (k * 7_919) % 50_000 - 25_000;
        let open = cents as f64 / 100.0;
        let close = open + ((k % 13) - 6) as f64 * 0.25;
        let high = open.max(close) + 12.5;
        let low = open.min(close) - 11.75;
        let vol = 1.5 + (k % 17) as f64 * 0.125;
        // Writing to a String cannot fail.
        let _ = write!(
            s,
            r#"[{t},"{open:.8}","{high:.8}","{low:.8}","{close:.8}","{vol:.8}",{},"{:.8}",{},"{:.8}","{:.8}","0"]"#,
            t.saturating_add(step_ms - 1),
            vol * close,
            100 + i,
            vol / 2.0,
            vol * close / 2.0,
        );
    }
    s.push(']');
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse_klines;

    #[test]
    fn parses_back() {
        let body = sample_klines(1_704_067_200_000, 60_000, 1000);
        let c = parse_klines(&body).unwrap();
        assert_eq!(c.len(), 1000);
        assert_eq!(c[999].open_time, 1_704_067_200_000 + 999 * 60_000);
        assert!(
            c.iter()
                .all(|c| c.low <= c.open.min(c.close) && c.high >= c.open.max(c.close))
        );
    }
}
