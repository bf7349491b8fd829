//! `GET /v1/stream?node=…`: closed candles as they close, as server-sent events
//! (`event: candle`, `data: {"open_time":…,…}`), each once per client, in time order.
//!
//! One live session per series serves every client of it: the first client starts it
//! (following from the candle forming now; closed candles are stored with their ledger
//! ranges, the seam and any range lost to a disconnect are backfilled, as `seamless live`
//! does), the last one to leave stops it. A client too slow to keep up with a fast series is
//! told so (`event: lagged`) and its stream ends rather than skipping candles silently.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Weak};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream::Stream;
use tokio::sync::{Mutex, broadcast, watch};

use super::{ApiState, problem};
use crate::domain::{Candle, NodeId};
use crate::export::text;
use crate::live::{LiveSession, LiveUpdate, SessionOptions};

/// Closed candles a client may fall behind by before its stream ends with `lagged`.
const BACKLOG: usize = 4096;

/// The live sessions the API runs, one per followed series.
pub struct Streams {
    follows: Mutex<HashMap<String, Weak<Follow>>>,
    /// Raised when the server stops: every client's stream ends, so a graceful shutdown
    /// does not wait for clients that would listen forever.
    closing: Arc<watch::Sender<bool>>,
}

impl Default for Streams {
    fn default() -> Self {
        Streams {
            follows: Mutex::default(),
            closing: Arc::new(watch::channel(false).0),
        }
    }
}

/// One followed series: its session and the channel its closed candles go out on.
struct Follow {
    tx: broadcast::Sender<Candle>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Follow {
    fn drop(&mut self) {
        // The forwarding task owns the session; ending it drops the session, which stops.
        self.task.abort();
    }
}

impl Streams {
    /// What ends every client's stream (raised by the server's shutdown).
    pub(super) fn closer(&self) -> Arc<watch::Sender<bool>> {
        self.closing.clone()
    }
    /// The node ids a session follows now.
    pub async fn followed(&self) -> std::collections::BTreeSet<String> {
        let follows = self.follows.lock().await;
        follows
            .iter()
            .filter(|(_, w)| w.strong_count() > 0)
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// A receiver of `node`'s closed candles, starting its session if no client follows it.
    async fn subscribe(
        &self,
        state: &ApiState,
        node: &NodeId,
    ) -> Result<(Arc<Follow>, broadcast::Receiver<Candle>), String> {
        let mut follows = self.follows.lock().await;
        let key = node.to_string();
        if let Some(f) = follows.get(&key).and_then(Weak::upgrade) {
            let rx = f.tx.subscribe();
            return Ok((f, rx));
        }
        let from = node.timeframe.floor(state.provider.now());
        let (session, mut updates) = LiveSession::start(
            state.provider.clone(),
            node.clone(),
            from,
            SessionOptions::default(),
        )
        .await
        .map_err(|e| e.to_string())?;
        let (tx, rx) = broadcast::channel(BACKLOG);
        let out = tx.clone();
        let task = tokio::spawn(async move {
            let _session: LiveSession = session;
            while let Some(u) = updates.recv().await {
                if let LiveUpdate::Closed(c) = u {
                    let _ = out.send(c);
                }
            }
        });
        let f = Arc::new(Follow { tx, task });
        follows.retain(|_, w| w.strong_count() > 0);
        follows.insert(key, Arc::downgrade(&f));
        Ok((f, rx))
    }
}

/// `GET /v1/stream`.
pub async fn stream(
    State(s): State<Arc<ApiState>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let node = match super::candles::stream_node(&pairs) {
        Ok(n) => n,
        Err(m) => return problem(StatusCode::BAD_REQUEST, m),
    };
    // An unknown exchange or timeframe is the client's mistake (400), before any session.
    {
        let (p, n) = (s.provider.clone(), node.clone());
        match tokio::task::spawn_blocking(move || p.exchange(&n)).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if e.is_bad_input() => {
                return problem(StatusCode::BAD_REQUEST, e.to_string());
            }
            Ok(Err(e)) => return problem(StatusCode::BAD_GATEWAY, e.to_string()),
            Err(e) => return problem(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
    let (follow, rx) = match s.streams.subscribe(&s, &node).await {
        Ok(x) => x,
        Err(e) => return problem(StatusCode::BAD_GATEWAY, e),
    };
    let closing = s.streams.closing.subscribe();
    Sse::new(events(follow, rx, closing))
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// The events of one client; holding `follow` keeps the series' session running.
fn events(
    follow: Arc<Follow>,
    rx: broadcast::Receiver<Candle>,
    closing: watch::Receiver<bool>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    futures_util::stream::unfold(Some((follow, rx, closing)), |state| async move {
        let (follow, mut rx, mut closing) = state?;
        let next = tokio::select! {
            r = rx.recv() => r,
            _ = closing.wait_for(|c| *c) => return None,
        };
        match next {
            Ok(c) => {
                let mut data = String::with_capacity(128);
                text::push_json(&mut data, &c, None);
                let e = Event::default()
                    .event("candle")
                    .id(c.open_time.to_string())
                    .data(data);
                Some((Ok(e), Some((follow, rx, closing))))
            }
            Err(broadcast::error::RecvError::Lagged(n)) => {
                let e = Event::default().event("lagged").data(format!(
                    "this client fell {n} candles behind and its stream ends; reconnect, and fetch the gap from /v1/candles"
                ));
                Some((Ok(e), None))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    })
}
