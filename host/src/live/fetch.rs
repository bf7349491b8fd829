//! A `seamless` fetch: closed history from the provider, then the live phase on top.
//!
//! [`fetch_with_live`] calls [`Provider::fetch`] (storage and backfill: closed candles
//! only) and, for the `seamless` strategy and a window reaching the present, follows the
//! feed briefly through a [`LiveSession`] (so the seam is backfilled and closed candles
//! are stored as usual) to add the candles that closed since the backfill and, with
//! `include_forming`, the forming candle.

use std::time::{Duration, Instant};

use crate::domain::{Candle, NodeId, Window};
use crate::provider::{
    FetchOptions, Fetched, LiveMeta, Phase, Provider, ProviderError, Strategy, fingerprint,
};

use super::{FeedSource, LiveSession, LiveUpdate, SessionOptions};

/// Serve `requested` of `node` like [`Provider::fetch`], with the live phase of the
/// `seamless` strategy when the window reaches the present (see the module doc;
/// `metadata.live` says what it did). A feed that cannot be reached within the budget
/// (the `live` SLA, default 5 s) is reported in `metadata.live.error`; what storage and
/// backfill served stands.
pub async fn fetch_with_live(
    provider: &Provider,
    node: &NodeId,
    requested: Window,
    opts: &FetchOptions,
) -> Result<Fetched, ProviderError> {
    let f = provider.fetch(node, requested, opts).await?;
    let window = f.metadata.window;
    if opts.strategy == Strategy::Seamless && window.end > provider.closed_end(node, window) {
        return Ok(live_phase(provider, node, f, opts).await);
    }
    Ok(f)
}

/// Add what the live feed saw to a closed frame.
async fn live_phase(
    provider: &Provider,
    node: &NodeId,
    mut f: Fetched,
    opts: &FetchOptions,
) -> Fetched {
    let t = Instant::now();
    let window = f.metadata.window;
    // Follow on from the last served candle: the session catches up whatever closed
    // after it (the ledger skips known gaps), so nothing is lost if the clock moved.
    let served_end = f
        .candles
        .last()
        .map_or(window.start, |c| node.timeframe.next(c.open_time));
    let budget = opts.sla.live.unwrap_or(Duration::from_secs(5));
    let got = follow_briefly(provider, node, window, served_end, budget).await;
    let before = f.candles.len();
    let last = f.candles.last().map(|c| c.open_time).unwrap_or(i64::MIN);
    f.candles
        .extend(got.closed.into_iter().filter(|c| c.open_time > last));
    let m = &mut f.metadata;
    let added = f.candles.len() - before;
    if added > 0 {
        m.rows = f.candles.len();
        m.fetched += added;
        if let (Some(a), Some(b)) = (f.candles.first(), f.candles.last()) {
            m.coverage_bounds = Some(Window {
                start: a.open_time,
                end: node.timeframe.next(b.open_time),
            });
        }
        m.fingerprint = fingerprint(node, window, &f.candles);
    }
    if opts.include_forming {
        f.forming = got.forming.filter(|c| c.open_time < window.end);
    }
    m.live = Some(LiveMeta {
        source: got.source,
        closed: added,
        forming: f.forming.map(|c| c.open_time),
        error: got.error,
    });
    m.phases_ms
        .insert(Phase::Live, t.elapsed().as_millis() as u64);
    f
}

/// What the live phase saw.
#[derive(Debug, Default)]
struct LiveTail {
    /// Closed candles from `served_end` on, ascending, inside the window.
    closed: Vec<Candle>,
    forming: Option<Candle>,
    source: Option<String>,
    error: Option<String>,
}

/// Follow `node` from `served_end` until the forming candle is known and every closed
/// candle before it was served, or until `budget` runs out.
async fn follow_briefly(
    provider: &Provider,
    node: &NodeId,
    window: Window,
    served_end: i64,
    budget: Duration,
) -> LiveTail {
    let mut seen = LiveTail::default();
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
