//! Minimal `application/x-www-form-urlencoded` query-string parsing.
//!
//! The exchange modules parse raw query strings themselves so that every malformed request gets
//! the exchange's own error body, never a framework rejection.

/// The `(name, value)` pairs of a query string, percent-decoded (`+` is a space), in order.
/// Invalid escapes are kept literally; invalid UTF-8 is replaced.
pub fn parse(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes one component.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs() {
        let q = parse("symbol=BTCUSDT&interval=1m&&limit=&flag&x=a%2Fb+c");
        assert_eq!(
            q,
            [
                ("symbol".into(), "BTCUSDT".into()),
                ("interval".into(), "1m".into()),
                ("limit".into(), String::new()),
                ("flag".into(), String::new()),
                ("x".into(), "a/b c".into()),
            ]
        );
    }

    #[test]
    fn bad_escapes_are_literal() {
        assert_eq!(decode("%"), "%");
        assert_eq!(decode("%4"), "%4");
        assert_eq!(decode("%zz"), "%zz");
        assert_eq!(decode("%41%ff"), "A\u{fffd}");
    }
}
