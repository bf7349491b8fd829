//! The REST polling transport of a live feed: the adapter's own poll plan, or the
//! generic poll of the newest page of its regular `plan`, sent every interval through the
//! gateway ([`crate::gateway::Route::fetch_page`]).

use std::time::{Duration, Instant};

use crate::domain::{Timeframe, Window};
use crate::gateway::GatewayError;
use crate::net::HttpRequest;

use super::{Feed, FeedSource, Observed, Stats, default_poll_interval, stopped};

/// Which polling.
pub(super) enum PollKind {
    /// The adapter's own poll plan.
    Plan { request: HttpRequest },
    /// The newest page of the adapter's regular `plan`.
    Generic,
}

/// The open time `n` slots before `open`.
fn back(tf: Timeframe, open: i64, n: u32) -> i64 {
    match tf.fixed_ms() {
        Some(step) => open - step * i64::from(n),
        None => (0..n).fold(open, |t, _| tf.floor(t - 1)),
    }
}

impl Feed {
    fn poll_interval(&self) -> Duration {
        match self.opts.poll_interval {
            Some(d) => d.max(Duration::from_millis(10)),
            None => default_poll_interval(self.node().timeframe),
        }
    }

    /// Poll until stopped.
    pub(super) async fn run_poll(&mut self, kind: PollKind) {
        let interval = self.poll_interval();
        let source = FeedSource::Poll {
            interval_ms: interval.as_millis() as u64,
        };
        let mut failures = 0u32;
        loop {
            if self.is_stopped() {
                return;
            }
            let started = tokio::time::Instant::now();
            let wait = match self.poll_once(&kind).await {
                Ok(live) => {
                    failures = 0;
                    Stats::bump(&self.stats.frames);
                    if !self.connected(source.clone()).await
                        || !self.candles(0, live, Instant::now()).await
                    {
                        return;
                    }
                    interval.saturating_sub(started.elapsed())
                }
                Err((reason, at_least)) => {
                    failures = failures.saturating_add(1);
                    Stats::bump(&self.stats.failures);
                    if !self.down(reason).await {
                        return;
                    }
                    interval.max(self.backoff.backoff(failures)).max(at_least)
                }
            };
            tokio::select! {
                _ = stopped(self.stop.clone()) => return,
                _ = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One poll: the candles of the answer with their closed flags, or why it failed and
    /// the least time to wait before the next one.
    async fn poll_once(&mut self, kind: &PollKind) -> Result<Vec<Observed>, (String, Duration)> {
        let tf = self.node().timeframe;
        let now = self.clock.now_ms();
        let forming = tf.floor(now);
        let after_forming = tf.next(forming);
        let (request, window) = match kind {
            PollKind::Plan { request } => (
                request.clone(),
                // The request is the adapter's; accept anything up to one slot of clock
                // skew past the forming candle.
                Window {
                    start: 0,
                    end: tf.next(after_forming),
                },
            ),
            PollKind::Generic => {
                let k = self.opts.poll_lookback;
                let window = Window {
                    start: back(tf, forming, k),
                    end: after_forming,
                };
                let limit =
                    (k.saturating_add(1)).min(self.route.adapter().info().max_candles_per_request);
                match self.route.plan(self.node(), window, limit).await {
                    Ok(req) => (req, window),
                    Err(GatewayError::Adapter { error, .. }) => {
                        return Err((
                            format!("the adapter cannot plan a poll: {error}"),
                            Duration::ZERO,
                        ));
                    }
                    Err(e) => return Err((e.to_string(), Duration::ZERO)),
                }
            }
        };
        let page = match self.route.fetch_page(self.node(), window, &request).await {
            Ok(page) => page,
            Err(GatewayError::RateLimited { wait, .. }) => {
                // The gateway paused the whole exchange key; this feed waits as long.
                return Err((
                    format!(
                        "rate limited: the exchange asks to wait {} ms",
                        wait.as_millis()
                    ),
                    wait,
                ));
            }
            Err(GatewayError::Adapter { error, .. }) => {
                Stats::bump(&self.stats.rejected_frames);
                return Err((format!("poll answer refused: {error}"), Duration::ZERO));
            }
            Err(e @ GatewayError::Component(_)) => {
                self.reject(&e.to_string(), "");
                return Err((format!("poll answer rejected: {e}"), Duration::ZERO));
            }
            Err(e) => return Err((e.to_string(), Duration::ZERO)),
        };
        // Closed-ness by the time the request was sent: a candle the answer shows forming
        // must not turn "closed" because the clock moved on while it was in flight.
        Ok(page
            .candles
            .into_iter()
            .map(|c| Observed {
                closed: tf.next(c.open_time) <= now,
                candle: c,
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_704_067_200_000;
    const MIN: i64 = 60_000;

    #[test]
    fn poll_defaults_and_steps() {
        assert_eq!(
            default_poll_interval(Timeframe::S1),
            Duration::from_millis(500)
        );
        assert_eq!(default_poll_interval(Timeframe::M1), Duration::from_secs(5));
        assert_eq!(back(Timeframe::M1, 10 * MIN, 3), 7 * MIN);
        let feb = 1_706_745_600_000; // 2024-02-01
        assert_eq!(back(Timeframe::Mo1, feb, 1), T0);
    }
}
