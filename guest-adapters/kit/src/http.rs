//! HTTP request/response mirrors of `seamless:market/http`, header lookup and
//! `Retry-After`.

/// A header as `(name, value)`.
pub type Header = (String, String);

/// A request the adapter wants the host to send (mirror of `http.request`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub url: String,
    pub headers: Vec<Header>,
    pub body: Option<Vec<u8>>,
}

impl Request {
    /// A `GET` of `url` with no headers and no body.
    pub fn get(url: impl Into<String>) -> Self {
        Self {
            method: "GET".to_owned(),
            url: url.into(),
            headers: Vec::new(),
            body: None,
        }
    }
}

/// The response the host received (mirror of `http.response`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<Header>,
    pub body: Vec<u8>,
}

/// Value of the first header called `name` (ASCII case-insensitive).
pub fn header<'a>(headers: &'a [Header], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// `Retry-After` in milliseconds, when given as (possibly fractional) seconds.
/// An HTTP-date cannot be turned into a delay without a clock, so it gives `None`,
/// as do negative or unparsable values.
pub fn retry_after_ms(headers: &[Header]) -> Option<u64> {
    let v = header(headers, "retry-after")?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(secs.saturating_mul(1_000));
    }
    let secs = v.parse::<f64>().ok()?;
    if secs.is_finite() && secs >= 0.0 {
        // `as` saturates at u64::MAX for huge values.
        Some((secs * 1_000.0).ceil() as u64)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<Header> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn header_lookup_ignores_case() {
        let hs = h(&[("X-MBX-USED-WEIGHT-1M", "12"), ("content-type", "a")]);
        assert_eq!(header(&hs, "x-mbx-used-weight-1m"), Some("12"));
        assert_eq!(header(&hs, "Content-Type"), Some("a"));
        assert_eq!(header(&hs, "missing"), None);
    }

    #[test]
    fn retry_after() {
        assert_eq!(retry_after_ms(&h(&[("Retry-After", "7")])), Some(7_000));
        assert_eq!(retry_after_ms(&h(&[("retry-after", " 0 ")])), Some(0));
        assert_eq!(retry_after_ms(&h(&[("RETRY-AFTER", "1.5")])), Some(1_500));
        assert_eq!(
            retry_after_ms(&h(&[("Retry-After", "Wed, 21 Oct 2015 07:28:00 GMT")])),
            None
        );
        assert_eq!(retry_after_ms(&h(&[("Retry-After", "-3")])), None);
        assert_eq!(retry_after_ms(&h(&[("Retry-After", "NaN")])), None);
        assert_eq!(retry_after_ms(&h(&[])), None);
        assert_eq!(
            retry_after_ms(&h(&[("Retry-After", "18446744073709551615")])),
            Some(u64::MAX)
        );
    }

    #[test]
    fn get_request() {
        let r = Request::get("https://x/y");
        assert_eq!((r.method.as_str(), r.url.as_str()), ("GET", "https://x/y"));
        assert!(r.headers.is_empty() && r.body.is_none());
    }
}
