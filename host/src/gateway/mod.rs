//! The gateway: the one road from the host to an exchange's REST API. Backfills, live
//! polls (and every later caller) send their adapter's requests through it, so they all
//! share one HTTP client, one rate limiter per exchange key and one reading of the
//! exchange's answers.
//!
//! One exchange of a request ([`Route::fetch_page`]), in order:
//! 1. the request's URL is rewritten through the exchange's [`BaseMap`] (user overrides,
//!    e.g. a local simulator);
//! 2. the exchange key's limiter is acquired (a pause from a 429 anywhere waits here);
//! 3. the request is sent on the process's shared [`HttpClient`];
//! 4. the status and latency are recorded (`seamless_http_requests_total`,
//!    `seamless_http_request_seconds`);
//! 5. the limiter observes the answer: the used-weight header, and on 429/418 a pause of
//!    the whole key for the answer's `Retry-After`;
//! 6. the adapter parses the answer on the blocking pool; an adapter's `rate-limited(ms)`
//!    pauses the whole key for that long too;
//! 7. a failure is classified ([`GatewayError::transient`]): worth retrying (transport,
//!    5xx, rate-limited, a malformed 200) or not (a bad request, the adapter's refusal, a
//!    component trap). Retrying is the caller's policy, not the gateway's.
//!
//! The gateway sits between the provider and live feeds above and [`crate::net`],
//! [`crate::ratelimit`] and the component sandbox below; it imports neither the provider
//! nor the live layer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::components::{Adapter, AdapterError, ComponentError, Page};
use crate::coord::Cluster;
use crate::domain::{NodeId, Window};
use crate::net::{BaseMap, HttpClient, HttpRequest, HttpResponse, NetError};
use crate::ratelimit::{KeyLimiter, LimitSpec, RateLimiters};

/// Per-exchange rate-limit overrides (from configuration); unset fields take the
/// adapter's declared limits.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LimitOverride {
    pub budget: Option<u32>,
    pub window_ms: Option<u64>,
    pub weight: Option<u32>,
    pub disabled: Option<bool>,
    pub share: Option<f64>,
}

/// Why one exchange of a request failed, classified for the caller's retry policy.
#[derive(Debug, Error)]
pub enum GatewayError {
    /// The request could not be sent, or no complete answer came back.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The exchange answered with a server error.
    #[error("HTTP {status} from {url}")]
    Server { status: u16, url: String },
    /// The exchange asked to wait; the whole exchange key is paused for `wait`.
    #[error("HTTP {status}: the exchange asks to wait {} ms", wait.as_millis())]
    RateLimited { status: u16, wait: Duration },
    /// The adapter refused to plan the request or to read the answer (`status` and `url`
    /// are the answer's, when there was one).
    #[error("{error}")]
    Adapter {
        status: Option<u16>,
        url: Option<String>,
        error: AdapterError,
    },
    /// The component trapped, timed out or broke the contract.
    #[error(transparent)]
    Component(#[from] ComponentError),
    /// The blocking task running the guest call failed.
    #[error("guest task failed: {0}")]
    Task(String),
}

impl GatewayError {
    /// Why a retry may succeed (`transport`, `5xx`, `rate-limited`, `malformed`), or
    /// `None` when the failure is permanent.
    pub fn transient(&self) -> Option<&'static str> {
        match self {
            GatewayError::Net(e) if e.is_transient() => Some("transport"),
            GatewayError::Server { .. } => Some("5xx"),
            GatewayError::RateLimited { .. } => Some("rate-limited"),
            GatewayError::Adapter {
                status: Some(200),
                error: AdapterError::Malformed(_),
                ..
            } => Some("malformed"),
            _ => None,
        }
    }

    /// True when the exchange could not be reached at all (connection refused).
    pub fn is_unreachable(&self) -> bool {
        matches!(self, GatewayError::Net(NetError::Connect { .. }))
    }

    /// The wait the exchange asked for, when it asked.
    pub fn asked_wait(&self) -> Option<Duration> {
        match self {
            GatewayError::RateLimited { wait, .. } => Some(*wait),
            _ => None,
        }
    }
}

/// The shared parts of every road: the HTTP client and the rate limiters. Cheap to
/// clone; clones share both.
#[derive(Clone)]
pub struct Gateway {
    http: HttpClient,
    limiters: RateLimiters,
    limits: Arc<BTreeMap<String, LimitOverride>>,
}

impl Default for Gateway {
    fn default() -> Self {
        Gateway {
            http: HttpClient::new(Duration::from_secs(20)),
            limiters: RateLimiters::default(),
            limits: Arc::default(),
        }
    }
}

impl Gateway {
    /// Use this HTTP client (e.g. with another timeout).
    pub fn with_http(mut self, http: HttpClient) -> Self {
        self.http = http;
        self
    }

    /// The HTTP client.
    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    /// Override the rate limit of `exchange` (before its first request).
    pub fn with_rate_limit(mut self, exchange: &str, o: LimitOverride) -> Self {
        Arc::make_mut(&mut self.limits).insert(exchange.to_string(), o);
        self
    }

    /// Share the exchange budgets and pauses with every worker of `cluster`.
    pub fn with_cluster(mut self, cluster: Cluster) -> Self {
        self.limiters = RateLimiters::clustered(cluster);
        self
    }

    /// The limiter of `adapter`'s exchange key, created on first use from the adapter's
    /// declared limits and the configured overrides.
    pub fn limiter(&self, adapter: &Adapter) -> Arc<KeyLimiter> {
        let info = adapter.info();
        let o = self.limits.get(&info.id).cloned().unwrap_or_default();
        self.limiters.get(&info.id, || LimitSpec {
            budget: o.budget.unwrap_or(info.rate_limit.budget_per_minute),
            window: Duration::from_millis(o.window_ms.unwrap_or(60_000)),
            weight: o.weight.unwrap_or(info.rate_limit.request_weight),
            used_weight_header: info.rate_limit.used_weight_header.clone(),
            share: o.share,
            disabled: o.disabled.unwrap_or(false),
        })
    }

    /// The road to the exchange served by `adapter`, with `bases` rewriting its URLs.
    pub fn route(&self, adapter: Arc<Adapter>, bases: BaseMap) -> Route {
        Route {
            limiter: self.limiter(&adapter),
            adapter,
            bases,
            http: self.http.clone(),
        }
    }
}

/// The road to one exchange: its adapter, base map, limiter and the shared client.
#[derive(Clone)]
pub struct Route {
    adapter: Arc<Adapter>,
    bases: BaseMap,
    limiter: Arc<KeyLimiter>,
    http: HttpClient,
}

impl Route {
    /// A road that is not rate-limited, on its own client (a feed started without a
    /// provider).
    pub fn unlimited(adapter: Arc<Adapter>, bases: BaseMap, http: HttpClient) -> Self {
        let key = adapter.info().id.clone();
        let limiter = RateLimiters::default().get(&key, || LimitSpec {
            budget: 0,
            window: Duration::from_secs(60),
            weight: 1,
            used_weight_header: None,
            share: None,
            disabled: true,
        });
        Route {
            adapter,
            bases,
            limiter,
            http,
        }
    }

    /// The same road with another per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.http = self.http.with_timeout(timeout);
        self
    }

    /// The adapter.
    pub fn adapter(&self) -> &Arc<Adapter> {
        &self.adapter
    }

    /// The base map.
    pub fn bases(&self) -> &BaseMap {
        &self.bases
    }

    /// The exchange key's limiter.
    pub fn limiter(&self) -> &Arc<KeyLimiter> {
        &self.limiter
    }

    /// Run a guest call on the blocking pool (off the async threads).
    pub async fn guest<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Adapter) -> R + Send + 'static,
    ) -> Result<R, GatewayError> {
        let a = self.adapter.clone();
        tokio::task::spawn_blocking(move || f(&a))
            .await
            .map_err(|e| GatewayError::Task(e.to_string()))
    }

    /// The adapter's first request for `window` of `node`, at most `limit` candles.
    pub async fn plan(
        &self,
        node: &NodeId,
        window: Window,
        limit: u32,
    ) -> Result<HttpRequest, GatewayError> {
        let n = node.clone();
        self.guest(move |a| a.plan(&n, window, limit))
            .await??
            .map_err(|error| GatewayError::Adapter {
                status: None,
                url: None,
                error,
            })
    }

    /// Send `req` under the key's limiter (its URL through the base map), count it,
    /// and let the limiter observe the answer. A 5xx answer is an error. No retry.
    pub async fn send(
        &self,
        exchange: &str,
        req: &HttpRequest,
    ) -> Result<HttpResponse, GatewayError> {
        let url = self.bases.rewrite(&req.url);
        self.limiter.acquire().await;
        let sent = Instant::now();
        let resp = self.http.send(req, &url).await?;
        let status = resp.status;
        crate::metrics::http_request(exchange, status, sent.elapsed().as_secs_f64());
        self.limiter.observe(&resp, resp.retry_after()).await;
        if status >= 500 {
            return Err(GatewayError::Server { status, url });
        }
        Ok(resp)
    }

    /// One exchange of `req` (see the module doc): send it under the key's limiter and
    /// parse the answer. No retry.
    pub async fn fetch_page(
        &self,
        node: &NodeId,
        window: Window,
        req: &HttpRequest,
    ) -> Result<Page, GatewayError> {
        let resp = self.send(&node.exchange, req).await?;
        let status = resp.status;
        let (n, r) = (node.clone(), req.clone());
        match self.guest(move |a| a.parse(&n, window, &r, resp)).await?? {
            Ok(page) => Ok(page),
            Err(AdapterError::RateLimited { retry_after_ms }) => {
                let wait = Duration::from_millis(retry_after_ms);
                self.limiter.pause(wait).await;
                Err(GatewayError::RateLimited { status, wait })
            }
            Err(error) => Err(GatewayError::Adapter {
                status: Some(status),
                url: Some(self.bases.rewrite(&req.url)),
                error,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let connect = GatewayError::Net(NetError::Connect {
            url: "http://127.0.0.1:1".into(),
            detail: "refused".into(),
        });
        assert_eq!(connect.transient(), Some("transport"));
        assert!(connect.is_unreachable());
        let invalid = GatewayError::Net(NetError::Invalid {
            url: "x".into(),
            detail: "method".into(),
        });
        assert_eq!(invalid.transient(), None);
        let server = GatewayError::Server {
            status: 503,
            url: "http://x".into(),
        };
        assert_eq!(server.transient(), Some("5xx"));
        assert_eq!(server.to_string(), "HTTP 503 from http://x");
        let limited = GatewayError::RateLimited {
            status: 429,
            wait: Duration::from_millis(1500),
        };
        assert_eq!(limited.transient(), Some("rate-limited"));
        assert_eq!(limited.asked_wait(), Some(Duration::from_millis(1500)));
        assert_eq!(
            limited.to_string(),
            "HTTP 429: the exchange asks to wait 1500 ms"
        );
        let malformed = |status| GatewayError::Adapter {
            status,
            url: None,
            error: AdapterError::Malformed("eof".into()),
        };
        assert_eq!(malformed(Some(200)).transient(), Some("malformed"));
        assert_eq!(malformed(Some(400)).transient(), None);
        assert_eq!(malformed(None).transient(), None);
        assert_eq!(malformed(Some(200)).to_string(), "malformed response: eof");
    }
}
