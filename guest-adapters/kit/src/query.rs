//! Query strings: build them with percent-encoding, read and replace parameters
//! of a URL the adapter produced earlier (e.g. to page on by changing `startTime`).

use core::fmt::{self, Write as _};

/// Whether `b` is an RFC 3986 unreserved byte (never percent-encoded).
fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Append `s` to `out`, percent-encoding every byte that is not unreserved.
pub fn encode_into(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xF)]));
        }
    }
}

/// `s` percent-encoded for a query component.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    encode_into(&mut out, s);
    out
}

/// A query-string builder: `Query::new().push("symbol", "BTCUSDT").push("limit", 1000)`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    buf: String,
}

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Self::default()
    }

    /// Append `name=value`, both percent-encoded.
    #[must_use]
    pub fn push(mut self, name: &str, value: impl fmt::Display) -> Self {
        if !self.buf.is_empty() {
            self.buf.push('&');
        }
        encode_into(&mut self.buf, name);
        self.buf.push('=');
        let mut v = String::new();
        // Writing to a String cannot fail.
        let _ = write!(v, "{value}");
        encode_into(&mut self.buf, &v);
        self
    }

    /// The query string without the leading `?`.
    pub fn as_str(&self) -> &str {
        &self.buf
    }

    /// `base?query`, or `base` alone when the query is empty.
    pub fn url(&self, base: &str) -> String {
        if self.buf.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", self.buf)
        }
    }
}

impl fmt::Display for Query {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.buf)
    }
}

/// The query part of `url` (between `?` and any `#`).
fn query_of(url: &str) -> Option<&str> {
    let q = url.split_once('?')?.1;
    Some(q.split_once('#').map_or(q, |(q, _)| q))
}

/// The raw (still percent-encoded) value of the first parameter `name` in `url`.
pub fn query_param<'a>(url: &'a str, name: &str) -> Option<&'a str> {
    query_of(url)?.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        (k == name).then_some(v)
    })
}

/// `url` with parameter `name` set to `value` (percent-encoded): the first
/// occurrence is replaced in place, otherwise the parameter is appended.
pub fn set_query_param(url: &str, name: &str, value: &str) -> String {
    let (head, frag) = match url.split_once('#') {
        Some((h, f)) => (h, Some(f)),
        None => (url, None),
    };
    let (path, query) = head.split_once('?').unwrap_or((head, ""));
    let mut out = String::with_capacity(url.len() + value.len() + name.len() + 2);
    out.push_str(path);
    let mut replaced = false;
    let mut first = true;
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        out.push(if first { '?' } else { '&' });
        first = false;
        let k = kv.split_once('=').map_or(kv, |(k, _)| k);
        if !replaced && k == name {
            replaced = true;
            out.push_str(k);
            out.push('=');
            encode_into(&mut out, value);
        } else {
            out.push_str(kv);
        }
    }
    if !replaced {
        out.push(if first { '?' } else { '&' });
        encode_into(&mut out, name);
        out.push('=');
        encode_into(&mut out, value);
    }
    if let Some(f) = frag {
        out.push('#');
        out.push_str(f);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_encodes() {
        let q = Query::new()
            .push("symbol", "BTCUSDT")
            .push("limit", 1000)
            .push("x y", "a&b=c/€");
        assert_eq!(
            q.as_str(),
            "symbol=BTCUSDT&limit=1000&x%20y=a%26b%3Dc%2F%E2%82%AC"
        );
        assert_eq!(q.url("https://h/p"), format!("https://h/p?{q}"));
        assert_eq!(Query::new().url("https://h/p"), "https://h/p");
        assert_eq!(encode("a-b_c.d~"), "a-b_c.d~");
    }

    #[test]
    fn reads_params() {
        let url = "https://h/p?symbol=BTCUSDT&startTime=5&flag&limit=10#frag";
        assert_eq!(query_param(url, "startTime"), Some("5"));
        assert_eq!(query_param(url, "limit"), Some("10"));
        assert_eq!(query_param(url, "flag"), Some(""));
        assert_eq!(query_param(url, "start"), None);
        assert_eq!(query_param("https://h/p", "limit"), None);
    }

    #[test]
    fn replaces_params() {
        let url = "https://h/p?symbol=BTCUSDT&startTime=5&limit=10";
        assert_eq!(
            set_query_param(url, "startTime", "65"),
            "https://h/p?symbol=BTCUSDT&startTime=65&limit=10"
        );
        assert_eq!(
            set_query_param(url, "endTime", "9"),
            "https://h/p?symbol=BTCUSDT&startTime=5&limit=10&endTime=9"
        );
        assert_eq!(
            set_query_param("https://h/p", "a", "b c"),
            "https://h/p?a=b%20c"
        );
        assert_eq!(
            set_query_param("https://h/p?a=1#f", "a", "2"),
            "https://h/p?a=2#f"
        );
    }
}
