//! The live phase of a `seamless` fetch: follow the feed briefly (through a
//! [`LiveSession`], so the seam is backfilled and closed candles are stored as usual)
//! to add the candles that closed since the backfill and to catch the forming candle.

use std::time::Duration;

use crate::domain::{Candle, NodeId, Window};
use crate::provider::Provider;

use super::{FeedSource, LiveSession, LiveUpdate, SessionOptions};

/// What the live phase saw.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Closed candles from `served_end` on, ascending, inside the window.
    pub closed: Vec<Candle>,
    pub forming: Option<Candle>,
    pub source: Option<String>,
    pub error: Option<String>,
}

/// Follow `node` from `served_end` until the forming candle is known and every closed
/// candle before it was served, or until `budget` runs out.
pub(crate) async fn overlay(
    provider: &Provider,
    node: &NodeId,
    window: Window,
    served_end: i64,
    budget: Duration,
) -> Seen {
    let mut seen = Seen::default();
    let mut opts = SessionOptions::default();
    opts.feed.connect_timeout = budget;
    let start = LiveSession::start(provider.clone(), node.clone(), served_end, opts);
    let deadline = tokio::time::Instant::now() + budget;
    let (session, mut updates) = match tokio::time::timeout_at(deadline, start).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            seen.error = Some(e.to_string());
            return seen;
        }
        Err(_) => {
            seen.error = Some(format!("live budget of {} ms ran out", budget.as_millis()));
            return seen;
        }
    };
    let tf = node.timeframe;
    let mut cursor = served_end;
    loop {
        if let Some(f) = seen.forming
            && cursor >= f.open_time
        {
            break;
        }
        match tokio::time::timeout_at(deadline, updates.recv()).await {
            Ok(Some(LiveUpdate::Closed(c))) => {
                cursor = cursor.max(tf.next(c.open_time));
                if c.open_time < window.end {
                    seen.closed.push(c);
                }
            }
            Ok(Some(LiveUpdate::Forming(c))) => seen.forming = Some(c),
            Ok(Some(LiveUpdate::Connected { source })) => {
                seen.source = Some(match source {
                    FeedSource::WebSocket { url } => format!("websocket {url}"),
                    FeedSource::Poll { interval_ms } => format!("poll every {interval_ms} ms"),
                })
            }
            Ok(Some(_)) => {}
            Ok(None) => {
                seen.error = Some("the live session ended".into());
                break;
            }
            Err(_) => {
                seen.error = Some(format!(
                    "live budget of {} ms ran out before the forming candle arrived",
                    budget.as_millis()
                ));
                break;
            }
        }
    }
    // A forming candle older than what closed meanwhile is stale.
    if seen.forming.is_some_and(|f| f.open_time < cursor) {
        seen.forming = None;
    }
    if let Err(e) = session.stop().await {
        seen.error.get_or_insert(e.to_string());
    }
    seen
}
