//! The host's HTTP side: one pooled reqwest client that performs every request an
//! adapter describes, the map from an adapter's declared base URLs to the URLs the user
//! chose (e.g. a local simulator), the retry/backoff policy, and the wire types
//! ([`wire`]) every layer shares.
//!
//! Adapters never open sockets; they only produce [`HttpRequest`]s, which the host
//! checks against the adapter's declared bases before they get here. This module knows
//! nothing of components: [`crate::gateway`] joins the two.

mod retry;
pub mod wire;

use std::time::Duration;

use thiserror::Error;

pub use retry::RetryPolicy;
pub use wire::{HttpRequest, HttpResponse, url_within};

/// Failures below HTTP: the request could not be sent or no complete answer came back.
#[derive(Debug, Error)]
pub enum NetError {
    #[error(
        "cannot reach {url}: {detail}; check the exchange's base URL (its `exchange_urls` override) and that the exchange is up"
    )]
    Connect { url: String, detail: String },
    #[error("no answer from {url} within {timeout_ms} ms")]
    Timeout { url: String, timeout_ms: u128 },
    #[error("request to {url} failed: {detail}")]
    Other { url: String, detail: String },
    #[error("invalid request from adapter ({detail}): {url}")]
    Invalid { url: String, detail: String },
}

impl NetError {
    /// Worth retrying (timeouts and dropped connections are; malformed requests are not).
    pub fn is_transient(&self) -> bool {
        !matches!(self, NetError::Invalid { .. })
    }
}

/// Install ring as the process's TLS crypto provider (reqwest is built with rustls and
/// no provider, because ring builds much faster than aws-lc). Idempotent.
pub fn install_crypto() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The shared HTTP client: one connection pool, cheap to clone (clones share it). The
/// timeout is per request, so one client serves callers with different patience
/// ([`HttpClient::with_timeout`]).
#[derive(Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpClient {
    /// A client with a per-request timeout.
    pub fn new(timeout: Duration) -> Self {
        install_crypto();
        let client = reqwest::Client::builder()
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .pool_max_idle_per_host(16)
            .tcp_nodelay(true)
            .user_agent(concat!("seamless/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        HttpClient { client, timeout }
    }

    /// The same client (same connection pool) with another per-request timeout.
    pub fn with_timeout(&self, timeout: Duration) -> Self {
        HttpClient {
            client: self.client.clone(),
            timeout,
        }
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Send `req` to `url` (the request's URL after base mapping).
    pub async fn send(&self, req: &HttpRequest, url: &str) -> Result<HttpResponse, NetError> {
        let method =
            reqwest::Method::from_bytes(req.method.as_bytes()).map_err(|_| NetError::Invalid {
                url: url.to_string(),
                detail: format!("method '{}'", req.method),
            })?;
        let mut rb = self.client.request(method, url).timeout(self.timeout);
        for (k, v) in &req.headers {
            rb = rb.header(k.as_str(), v.as_str());
        }
        if let Some(body) = &req.body {
            rb = rb.body(body.clone());
        }
        let classify = |e: reqwest::Error| {
            if e.is_timeout() {
                NetError::Timeout {
                    url: url.to_string(),
                    timeout_ms: self.timeout.as_millis(),
                }
            } else if e.is_connect() {
                NetError::Connect {
                    url: url.to_string(),
                    detail: root_cause(&e),
                }
            } else if e.is_builder() {
                NetError::Invalid {
                    url: url.to_string(),
                    detail: root_cause(&e),
                }
            } else {
                NetError::Other {
                    url: url.to_string(),
                    detail: root_cause(&e),
                }
            }
        };
        let resp = rb.send().await.map_err(classify)?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| {
                v.to_str()
                    .ok()
                    .map(|v| (k.as_str().to_string(), v.to_string()))
            })
            .collect();
        let body = resp.bytes().await.map_err(classify)?.to_vec();
        Ok(HttpResponse {
            status,
            headers,
            body,
        })
    }
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// Maps an adapter's declared base URLs to the bases requests are really sent to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseMap {
    pairs: Vec<(String, String)>,
}

impl BaseMap {
    /// Map `declared` (one of the adapter's base URLs) to `actual`.
    pub fn insert(&mut self, declared: &str, actual: &str) {
        let d = declared.trim_end_matches('/').to_string();
        let a = actual.trim_end_matches('/').to_string();
        self.pairs.retain(|(k, _)| *k != d);
        self.pairs.push((d, a));
    }

    /// The URL to send: the declared base replaced by its mapping, if any.
    pub fn rewrite(&self, url: &str) -> String {
        for (d, a) in &self.pairs {
            if url_within(url, d) {
                return format!("{a}{}", &url[d.len()..]);
            }
        }
        url.to_string()
    }

    /// True when nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_keeps_path_and_query() {
        let mut m = BaseMap::default();
        m.insert("https://api.binance.com", "http://127.0.0.1:9999/");
        assert_eq!(
            m.rewrite("https://api.binance.com/api/v3/klines?symbol=BTCUSDT"),
            "http://127.0.0.1:9999/api/v3/klines?symbol=BTCUSDT"
        );
        assert_eq!(
            m.rewrite("https://other.example/x"),
            "https://other.example/x"
        );
    }
}
