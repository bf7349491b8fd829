//! The HTTP data API that `seamless serve` runs (axum): the same windows, semantics, errors
//! and metadata as `seamless fetch`, for the programs of a desk that do not shell out.
//!
//! - `GET /v1/candles?node=…&start=…&end=…[&strategy=…][&partial_ok=true][&format=json|csv|arrow]`
//!   (`candles.rs`): JSON (metadata + candles), CSV (metadata in the `seamless-metadata`
//!   header), or an Arrow IPC stream whose schema metadata holds the same JSON;
//! - `GET /v1/coverage?node=…[&start=…][&end=…]`: present, empty and missing ranges;
//! - `GET /v1/stream?node=…`: closed candles as they close, server-sent events (`stream.rs`);
//! - `GET /v1/series`: every series the store knows (history, coverage, staleness, live) and
//!   `GET /`, the status page drawing them (`series.rs`);
//! - `GET /v1/openapi.json` (this API's OpenAPI document; a test checks the server against
//!   it), `/metrics` (Prometheus), `/healthz`, `/readyz`.
//!
//! Bad requests get 400 with a message that names the parameter and the fix; a window that
//! cannot be served complete gets 409 with the missing ranges; an exchange that fails gets
//! 502. Nothing a client sends changes stored data other than by backfilling what a fetch
//! needs, and no request can stop the server. With a token (`api.token`), every `/v1/` call
//! needs `Authorization: Bearer TOKEN`; the CLI refuses to listen beyond loopback without one.

mod candles;
mod encode;
mod series;
mod stream;

pub use stream::Streams;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::oneshot;

use crate::provider::{Provider, Sla};

/// The OpenAPI document of this API.
pub const OPENAPI: &str = include_str!("openapi.json");

/// What the handlers share.
pub struct ApiState {
    pub provider: Provider,
    /// The SLA every fetch runs under (the configured one, as for `seamless fetch`).
    pub sla: Sla,
    /// The bearer token `/v1/` calls must carry, if any.
    pub token: Option<String>,
    /// The live sessions `/v1/stream` clients share.
    pub streams: Streams,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "cannot listen on {addr}: {source} (choose another address with --listen or `api.listen`)"
    )]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// A running API server; dropping it stops it.
pub struct ApiServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ApiServer {
    /// The address it listens on (with the port the OS chose for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting, finish the requests in flight, and return.
    pub async fn shutdown(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// The router of the API over `state`.
pub fn router(state: Arc<ApiState>) -> Router {
    let v1 = Router::new()
        .route("/v1/candles", get(candles::candles))
        .route("/v1/coverage", get(candles::coverage))
        .route("/v1/stream", get(stream::stream))
        .route("/v1/series", get(series::series))
        .route_layer(middleware::from_fn_with_state(state.clone(), authorize));
    Router::new()
        .merge(v1)
        .route(
            "/v1/openapi.json",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], OPENAPI) }),
        )
        .route("/", get(series::status_page))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
                    crate::metrics::render(),
                )
            }),
        )
        .fallback(|| async {
            problem(
                StatusCode::NOT_FOUND,
                "no such endpoint: see /v1/openapi.json for the API".to_string(),
            )
        })
        .with_state(state)
}

/// Ready when the store answers.
async fn readyz(State(s): State<Arc<ApiState>>) -> Response {
    let probe: crate::domain::NodeId = match "ohlcv:binance:BTC/USDT:1m".parse() {
        Ok(n) => n,
        Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    let w = crate::domain::Window {
        start: 0,
        end: 60_000,
    };
    match s.provider.coverage(&probe, w).await {
        Ok(_) => "ready\n".into_response(),
        Err(e) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store not ready: {e}"),
        ),
    }
}

/// `/v1/` calls carry the bearer token when one is set.
async fn authorize(State(s): State<Arc<ApiState>>, req: Request, next: Next) -> Response {
    let Some(token) = &s.token else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match given {
        Some(t) if constant_time_eq(t.as_bytes(), token.as_bytes()) => next.run(req).await,
        Some(_) => problem(
            StatusCode::UNAUTHORIZED,
            "bad token: send the server's token (api.token) as `Authorization: Bearer TOKEN`".into(),
        ),
        None => problem(
            StatusCode::UNAUTHORIZED,
            "this server needs a token: send `Authorization: Bearer TOKEN` (the server's api.token)"
                .into(),
        ),
    }
}

/// Equal without an early exit on the first differing byte.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// An error answer: `{"error": message}` with `status`.
pub(crate) fn problem(status: StatusCode, message: String) -> Response {
    json(status, &serde_json::json!({ "error": message }))
}

/// `v` as a JSON answer with `status`.
pub(crate) fn json(status: StatusCode, v: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// Listen on `addr` and serve `state` until stopped.
pub async fn serve(addr: SocketAddr, state: ApiState) -> Result<ApiServer, ApiError> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ApiError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| ApiError::Bind { addr, source })?;
    let closer = state.streams.closer();
    let app = router(Arc::new(state));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
            // End the server-sent event streams, or the shutdown waits for their clients.
            closer.send_replace(true);
        });
        if let Err(e) = server.await {
            tracing::warn!(addr = %bound, error = %e, "API server stopped with an error");
        }
    });
    tracing::info!(addr = %bound, "serving the data API on http://{bound}/v1/");
    Ok(ApiServer {
        addr: bound,
        stop: Some(stop),
        task: Some(task),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }

    #[test]
    fn the_openapi_document_is_json_with_every_route() {
        let v: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        for p in [
            "/v1/candles",
            "/v1/coverage",
            "/v1/openapi.json",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(v["paths"][p].is_object(), "{p}");
        }
    }
}
