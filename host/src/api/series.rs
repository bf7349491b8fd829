//! `GET /v1/series`: every series the store knows, with its history (first and last stored
//! candle, present / empty / missing ranges from its first range to now), staleness, and
//! whether a `/v1/stream` session follows it live; and `GET /`, the status page that draws
//! them (assets compiled into the binary: no CDN).

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{ApiState, json, problem};
use crate::domain::Window;

/// The status page: one HTML file with its script and style inline.
pub const STATUS_PAGE: &str = include_str!("status.html");

/// `GET /`.
pub async fn status_page() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        STATUS_PAGE,
    )
        .into_response()
}

/// `GET /v1/series`.
pub async fn series(State(s): State<Arc<ApiState>>) -> Response {
    let nodes = match s.provider.series().await {
        Ok(n) => n,
        Err(e) => return problem(StatusCode::BAD_GATEWAY, e.to_string()),
    };
    let now = s.provider.now();
    let live = s.streams.followed().await;
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        let tf = node.timeframe;
        let all = Window {
            start: 0,
            end: tf.ceil(now).max(1),
        };
        let ledger = match s.provider.coverage(&node, all).await {
            Ok(l) => l,
            Err(e) => return problem(StatusCode::BAD_GATEWAY, e.to_string()),
        };
        let known = ledger.known();
        let (Some(first), Some(last)) = (known.ranges().first(), known.ranges().last()) else {
            continue;
        };
        let span = Window {
            start: first.0,
            end: tf.floor(now).max(last.1),
        };
        let missing = ledger.missing(span);
        let newest = ledger.present.ranges().last().map(|r| r.1);
        let id = node.to_string();
        out.push(serde_json::json!({
            "node_id": id,
            "exchange": node.exchange,
            "symbol": node.symbol,
            "timeframe": tf.as_str(),
            "state": if live.contains(&id) { "live" } else { "stored" },
            "history": span,
            "present": ledger.present,
            "empty": ledger.empty,
            "missing": missing,
            "coverage_ratio": if span.end > span.start {
                1.0 - missing.ranges().iter().map(|(s, e)| (e - s) as f64).sum::<f64>() / (span.end - span.start) as f64
            } else { 1.0 },
            "last_closed_open_time": newest.map(|e| e - tf.nominal_ms()),
            "staleness_ms": newest.map(|e| (now - e).max(0)),
        }));
    }
    json(
        StatusCode::OK,
        &serde_json::json!({ "as_of": now, "series": out }),
    )
}
