//! Candle bodies wrapped in a status envelope, as most exchanges send them:
//! `{"retCode":0,"result":{"list":[..]}}` (Bybit), `{"code":"0","data":[..]}` (OKX,
//! KuCoin), `{"status":"ok","data":[..]}` (HTX). [`envelope`] scans the body once with
//! the allocation-free [`Scanner`], returning the raw status member and the rows read at
//! the data path; the caller compares the status with its success value and, for an error
//! body, reads the (small) body again for its code and message.

use crate::{AdapterError, ScanError, Scanner};

fn malformed(e: ScanError) -> AdapterError {
    AdapterError::Malformed(format!("body: {e}"))
}

/// The raw text of the top-level member `status` (a string's contents, a number's text;
/// `None` if absent or not a scalar) and `read` applied at the member path `data`
/// (`None` if absent or `null`). Anything but one JSON object is `malformed`.
pub fn envelope<'a, T>(
    body: &'a [u8],
    status: &str,
    data: &[&str],
    read: impl FnOnce(&mut Scanner<'a>) -> Result<T, AdapterError>,
) -> Result<(Option<&'a [u8]>, Option<T>), AdapterError> {
    let mut s = Scanner::new(body);
    let (mut code, mut out, mut read) = (None, None, Some(read));
    s.begin_object().map_err(malformed)?;
    let mut first = true;
    while let Some(k) = s.next_key(&mut first).map_err(malformed)? {
        if k == status.as_bytes() {
            code = match s.peek() {
                Some(b'"') => Some(s.string_raw().map_err(malformed)?),
                Some(b'-' | b'0'..=b'9') => Some(s.number_raw().map_err(malformed)?),
                _ => {
                    s.skip_value().map_err(malformed)?;
                    None
                }
            };
        } else if data.first().is_some_and(|d| k == d.as_bytes()) {
            if let Some(f) = read.take() {
                out = at_path(&mut s, &data[1..], f)?;
            } else {
                s.skip_value().map_err(malformed)?;
            }
        } else {
            s.skip_value().map_err(malformed)?;
        }
    }
    if !s.at_end() {
        return Err(AdapterError::Malformed(format!(
            "body: trailing data at byte {}",
            s.position()
        )));
    }
    Ok((code, out))
}

/// Follow `path` from the value at the scanner, then `read` there.
fn at_path<'a, T>(
    s: &mut Scanner<'a>,
    path: &[&str],
    read: impl FnOnce(&mut Scanner<'a>) -> Result<T, AdapterError>,
) -> Result<Option<T>, AdapterError> {
    let Some((key, rest)) = path.split_first() else {
        return if s.peek() == Some(b'n') {
            s.skip_value().map_err(malformed)?;
            Ok(None)
        } else {
            read(s).map(Some)
        };
    };
    if s.peek() != Some(b'{') {
        s.skip_value().map_err(malformed)?;
        return Ok(None);
    }
    s.begin_object().map_err(malformed)?;
    let mut first = true;
    let mut out = None;
    let mut read = Some(read);
    while let Some(k) = s.next_key(&mut first).map_err(malformed)? {
        match read.take() {
            Some(f) if k == key.as_bytes() => out = at_path(s, rest, f)?,
            other => {
                read = other;
                s.skip_value().map_err(malformed)?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(s: &mut Scanner<'_>) -> Result<usize, AdapterError> {
        s.begin_array().map_err(malformed)?;
        let (mut n, mut first) = (0, true);
        while s.next_element(&mut first).map_err(malformed)? {
            s.skip_value().map_err(malformed)?;
            n += 1;
        }
        Ok(n)
    }

    #[test]
    fn status_and_data_in_any_order() {
        let body = br#"{"result":{"category":"spot","list":[[1],[2]]},"retCode":0,"time":5}"#;
        let (code, n) = envelope(body, "retCode", &["result", "list"], count).unwrap();
        assert_eq!((code, n), (Some(&b"0"[..]), Some(2)));
        let body = br#" {"code":"200000","data":[[1]]} "#;
        let (code, n) = envelope(body, "code", &["data"], count).unwrap();
        assert_eq!((code, n), (Some(&b"200000"[..]), Some(1)));
    }

    #[test]
    fn missing_null_and_errors() {
        let body = br#"{"status":"error","err-code":"invalid-parameter","data":null}"#;
        let (code, n) = envelope(body, "status", &["data"], count).unwrap();
        assert_eq!((code, n), (Some(&b"error"[..]), None));
        let (code, n) = envelope(
            br#"{"retCode":10001,"result":{}}"#,
            "retCode",
            &["result", "list"],
            count,
        )
        .unwrap();
        assert_eq!((code, n), (Some(&b"10001"[..]), None));
        let (code, n) = envelope(
            br#"{"code":{"x":1},"result":7}"#,
            "code",
            &["result", "list"],
            count,
        )
        .unwrap();
        assert_eq!((code, n), (None, None));
        for bad in [&b"[]"[..], b"", b"{\"code\":\"0\",\"data\":[[1]", b"{} x"] {
            assert!(matches!(
                envelope(bad, "code", &["data"], count),
                Err(AdapterError::Malformed(_))
            ));
        }
    }
}
