//! The wire types every layer shares: the HTTP request an adapter describes, the answer
//! the host received, and the base-URL boundary check used both by the sandbox (a
//! request outside the adapter's declared bases breaks the contract) and by the base
//! map (which part of a URL a user override replaces).
//!
//! They are plain data: the component host converts them to and from the WIT types,
//! [`super::HttpClient`] sends them, the rate limiter reads their headers.

/// An HTTP request an adapter wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
}

/// The response the host received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// First header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `Retry-After` header in seconds (fractions accepted), if present and valid.
    pub fn retry_after(&self) -> Option<std::time::Duration> {
        self.header("retry-after")
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|s| s.is_finite())
            .map(|s| std::time::Duration::from_secs_f64(s.max(0.0)))
    }
}

/// True when `url` starts with `base` at a path boundary (the base-URL allowlist check).
pub fn url_within(url: &str, base: &str) -> bool {
    let base = base.trim_end_matches('/');
    url.strip_prefix(base)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?', '#']))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_boundary() {
        assert!(url_within(
            "https://api.binance.com/api/v3/klines?x=1",
            "https://api.binance.com"
        ));
        assert!(url_within(
            "https://api.binance.com",
            "https://api.binance.com/"
        ));
        assert!(!url_within(
            "https://api.binance.com.evil.io/x",
            "https://api.binance.com"
        ));
        assert!(!url_within(
            "http://evil.invalid/steal",
            "https://api.binance.com"
        ));
    }

    #[test]
    fn retry_after_in_seconds() {
        let r = |v: &str| HttpResponse {
            status: 429,
            headers: vec![("Retry-After".into(), v.into())],
            body: vec![],
        };
        assert_eq!(
            r("2").retry_after(),
            Some(std::time::Duration::from_secs(2))
        );
        assert_eq!(
            r(" 0.5 ").retry_after(),
            Some(std::time::Duration::from_millis(500))
        );
        assert_eq!(r("soon").retry_after(), None);
        assert_eq!(r("-3").retry_after(), Some(std::time::Duration::ZERO));
    }
}
