//! Candle rows straight from JSON with the allocation-free [`Scanner`]: arrays of
//! positional rows (`[t, o, h, l, c, v, ...]` in any field order, time in s or ms) and
//! arrays of objects with named fields (`{"start":"..","open":"..",...}`). Fields not
//! asked for are skipped with syntax checking. Any deviation (missing field,
//! non-numeric or non-finite value, truncation) is `malformed`, naming the row, the
//! field and the byte offset.

use crate::{AdapterError, Candle, ScanError, Scanner};

/// Names of the six values, in [`Layout`] / [`Keys`] order.
const NAMES: [&str; 6] = ["time", "open", "high", "low", "close", "volume"];

/// Positions of the six values in an array row, and the unit of the time field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Index of time, open, high, low, close, volume.
    pub index: [usize; 6],
    /// Milliseconds per unit of the time field (1 for ms, 1000 for s).
    pub time_unit_ms: i64,
}

impl Layout {
    /// `[t, o, h, l, c, v, ...]` with the time in milliseconds.
    pub const OHLCV_MS: Layout = Layout {
        index: [0, 1, 2, 3, 4, 5],
        time_unit_ms: 1,
    };
}

/// Field names of the six values in an object row, and the unit of the time field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keys {
    /// Key of time, open, high, low, close, volume.
    pub key: [&'static str; 6],
    /// Milliseconds per unit of the time field.
    pub time_unit_ms: i64,
}

fn malformed(what: impl core::fmt::Display) -> AdapterError {
    AdapterError::Malformed(what.to_string())
}

/// Read one value (slot 0 = time, else a finite number) into `v`.
fn value(
    s: &mut Scanner<'_>,
    slot: usize,
    unit: i64,
    v: &mut [f64; 5],
    t: &mut i64,
) -> Result<(), String> {
    if slot == 0 {
        let raw = s.i64_lenient().map_err(|e| e.to_string())?;
        *t = raw
            .checked_mul(unit)
            .ok_or_else(|| "time out of range".to_owned())?;
    } else {
        let x = s.f64_lenient().map_err(|e| e.to_string())?;
        if !x.is_finite() {
            return Err("not a finite number".to_owned());
        }
        v[slot - 1] = x;
    }
    Ok(())
}

fn candle(t: i64, v: [f64; 5]) -> Candle {
    let [open, high, low, close, volume] = v;
    Candle {
        open_time: t,
        open,
        high,
        low,
        close,
        volume,
    }
}

/// An array of array rows at the scanner's position.
pub fn array_rows(s: &mut Scanner<'_>, layout: &Layout) -> Result<Vec<Candle>, AdapterError> {
    s.begin_array()
        .map_err(|e| malformed(format_args!("expected an array of rows: {e}")))?;
    let mut out = Vec::new();
    let mut first = true;
    let need = layout.index.iter().max().copied().unwrap_or(0) + 1;
    while s
        .next_element(&mut first)
        .map_err(|e| malformed(format_args!("after row {}: {e}", out.len())))?
    {
        let row = out.len();
        let at = |e: ScanError| malformed(format_args!("row {row}: {e}"));
        s.begin_array().map_err(at)?;
        let (mut v, mut t, mut i, mut f) = ([0f64; 5], 0i64, 0usize, true);
        while s.next_element(&mut f).map_err(at)? {
            match layout.index.iter().position(|&x| x == i) {
                Some(slot) => value(s, slot, layout.time_unit_ms, &mut v, &mut t).map_err(|e| {
                    malformed(format_args!("row {row} field {i} ({}): {e}", NAMES[slot]))
                })?,
                None => s.skip_value().map_err(at)?,
            }
            i += 1;
        }
        if i < need {
            return Err(malformed(format_args!(
                "row {row}: has {i} fields, expected at least {need}"
            )));
        }
        out.push(candle(t, v));
    }
    Ok(out)
}

/// An array of object rows at the scanner's position.
pub fn object_rows(s: &mut Scanner<'_>, keys: &Keys) -> Result<Vec<Candle>, AdapterError> {
    s.begin_array()
        .map_err(|e| malformed(format_args!("expected an array of rows: {e}")))?;
    let mut out = Vec::new();
    let mut first = true;
    while s
        .next_element(&mut first)
        .map_err(|e| malformed(format_args!("after row {}: {e}", out.len())))?
    {
        let row = out.len();
        let at = |e: ScanError| malformed(format_args!("row {row}: {e}"));
        s.begin_object().map_err(at)?;
        let (mut v, mut t, mut seen, mut f) = ([0f64; 5], 0i64, [false; 6], true);
        while let Some(k) = s.next_key(&mut f).map_err(at)? {
            match keys.key.iter().position(|&x| x.as_bytes() == k) {
                Some(slot) => {
                    value(s, slot, keys.time_unit_ms, &mut v, &mut t).map_err(|e| {
                        malformed(format_args!("row {row} field {:?}: {e}", keys.key[slot]))
                    })?;
                    seen[slot] = true;
                }
                None => s.skip_value().map_err(at)?,
            }
        }
        if let Some(slot) = seen.iter().position(|x| !x) {
            return Err(malformed(format_args!(
                "row {row}: field {:?} missing",
                keys.key[slot]
            )));
        }
        out.push(candle(t, v));
    }
    Ok(out)
}

/// A whole body that is one array of array rows (nothing after it).
pub fn array_body(body: &[u8], layout: &Layout) -> Result<Vec<Candle>, AdapterError> {
    let mut s = Scanner::new(body);
    let rows = array_rows(&mut s, layout)?;
    if !s.at_end() {
        return Err(malformed(format_args!(
            "trailing data at byte {}",
            s.position()
        )));
    }
    Ok(rows)
}

/// Inside an object (its `{` consumed): skip to the value of `key`, consuming the key.
/// `Ok(false)` when the object ends without it.
pub fn seek_key(s: &mut Scanner<'_>, first: &mut bool, key: &str) -> Result<bool, AdapterError> {
    while let Some(k) = s.next_key(first).map_err(malformed)? {
        if k == key.as_bytes() {
            return Ok(true);
        }
        s.skip_value().map_err(malformed)?;
    }
    Ok(false)
}

/// Inside an object: skip every remaining member and the closing `}`.
pub fn skip_rest(s: &mut Scanner<'_>, first: &mut bool) -> Result<(), AdapterError> {
    while s.next_key(first).map_err(malformed)?.is_some() {
        s.skip_value().map_err(malformed)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positional_rows_any_order() {
        // Bitfinex: [MTS, OPEN, CLOSE, HIGH, LOW, VOLUME].
        let l = Layout {
            index: [0, 1, 3, 4, 2, 5],
            time_unit_ms: 1,
        };
        let c = array_body(br#"[[1000,1,1.5,2,0.5,3]]"#, &l).unwrap();
        assert_eq!(
            (
                c[0].open_time,
                c[0].open,
                c[0].high,
                c[0].low,
                c[0].close,
                c[0].volume
            ),
            (1000, 1.0, 2.0, 0.5, 1.5, 3.0)
        );
        // Kraken: [time_s, o, h, l, c, vwap, volume, count].
        let k = Layout {
            index: [0, 1, 2, 3, 4, 6],
            time_unit_ms: 1000,
        };
        let c = array_body(br#" [ [5,"1","2","0.5","1.5","1.2","7",3] ] "#, &k).unwrap();
        assert_eq!((c[0].open_time, c[0].volume), (5000, 7.0));
        assert!(array_body(b"[]", &k).unwrap().is_empty());
    }

    #[test]
    fn positional_errors() {
        let l = Layout::OHLCV_MS;
        for (body, want) in [
            (&b"{}"[..], "expected an array"),
            (b"[[1,2,3]]", "row 0: has 3 fields"),
            (b"[[1,\"x\",3,4,5,6]]", "row 0 field 1 (open)"),
            (b"[[1,\"NaN\",3,4,5,6]]", "not a finite number"),
            (b"[[1,2,3,4,5,6]] x", "trailing data"),
            (b"[[1,2,3,4,5,6],[1,2", "unexpected end of input"),
            (b"[[9223372036854775807,2,3,4,5,6]]", "row 0 field 0"),
        ] {
            let lay = if want == "row 0 field 0" {
                Layout {
                    time_unit_ms: 1000,
                    ..l
                }
            } else {
                l
            };
            match array_body(body, &lay) {
                Err(AdapterError::Malformed(d)) => assert!(d.contains(want), "{d} !~ {want}"),
                other => panic!("{want}: {other:?}"),
            }
        }
    }

    #[test]
    fn object_rows_and_keys() {
        let keys = Keys {
            key: ["start", "open", "high", "low", "close", "volume"],
            time_unit_ms: 1000,
        };
        let body = br#"{"x":[1],"candles":[{"start":"5","low":"0.5","high":"2","open":"1","close":"1.5","volume":"3","extra":{}}],"y":2}"#;
        let mut s = Scanner::new(body);
        s.begin_object().unwrap();
        let mut first = true;
        assert!(seek_key(&mut s, &mut first, "candles").unwrap());
        let c = object_rows(&mut s, &keys).unwrap();
        skip_rest(&mut s, &mut first).unwrap();
        assert!(s.at_end());
        assert_eq!((c[0].open_time, c[0].low, c[0].volume), (5000, 0.5, 3.0));
        let mut s = Scanner::new(br#"[{"start":"5","open":"1"}]"#);
        match object_rows(&mut s, &keys) {
            Err(AdapterError::Malformed(d)) => assert!(d.contains("\"high\" missing"), "{d}"),
            other => panic!("{other:?}"),
        }
        let mut s = Scanner::new(br#"{"a":1}"#);
        s.begin_object().unwrap();
        assert!(!seek_key(&mut s, &mut true, "candles").unwrap());
    }
}
