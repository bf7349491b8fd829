//! Prometheus metrics: the global recorder, the recording functions the rest of the host calls,
//! and a small `GET /metrics` HTTP endpoint.
//!
//! Recording goes through the [`metrics`](::metrics) facade, so every recording function is cheap
//! and is a no-op until [`install`] has put the Prometheus recorder in place. [`render`] returns
//! the text exposition format; [`serve`] exposes it over HTTP (`text/plain; version=0.0.4`).
//!
//! # Metrics
//!
//! Every name starts with `seamless_`. Node ids are `ohlcv:{exchange}:{symbol}:{timeframe}`
//! (e.g. `ohlcv:binance:BTC/USDT:1m`); `key` is a rate-limit key (an exchange id, optionally
//! with an account).
//!
//! | name | kind | labels | meaning |
//! | --- | --- | --- | --- |
//! | `seamless_sla_deadline_seconds` | histogram | `node_id`, `phase` | time spent in one phase of a fetch (`storage`, `backfill`, `live`, `total`), compared by the provider with that phase's SLA budget |
//! | `seamless_conformance_flag_total` | counter | `node_id`, `interval`, `flag_type` | candles flagged by the conformance check of a served frame (`flag_type`: duplicate, off-grid, unclosed, ohlc, gap, ...) |
//! | `seamless_backfill_jobs_in_progress` | gauge | `exchange` | backfill jobs currently running against an exchange |
//! | `seamless_backfill_retry_total` | counter | `node_id`, `reason` | retried backfill requests, by reason (timeout, 5xx, rate-limited, malformed, ...) |
//! | `seamless_backfill_failure_total` | counter | `node_id` | backfill jobs that ended in an error |
//! | `seamless_backfill_chunks_planned_total` | counter | `node_id` | chunks of missing range a backfill set out to fetch |
//! | `seamless_backfill_chunks_done_total` | counter | `node_id` | of those, chunks that ended (stored, or failed: see `seamless_backfill_failure_total`); done / planned is the backfill's progress |
//! | `seamless_backfill_last_timestamp` | gauge | `node_id` | open time of the newest stored candle, in seconds since the Unix epoch |
//! | `seamless_coverage_ratio` | gauge | `node_id` | share (0..=1) of the last requested window that the store covers |
//! | `seamless_live_staleness_seconds` | gauge | `node_id` | age of the newest live data for the series |
//! | `seamless_ratelimit_tokens_available` | gauge | `key` | request budget (tokens / weight) left for the key |
//! | `seamless_ratelimit_waits_total` | counter | `key` | requests that had to wait for the rate limiter |
//! | `seamless_ratelimit_wait_seconds` | histogram | `key` | how long those requests waited |
//! | `seamless_ratelimit_rejections_total` | counter | `key`, `status` | responses refused by the exchange for rate limiting (`429`, or `418` for a ban) |
//! | `seamless_ratelimit_pauses_total` | counter | `key` | times the key was paused (`Retry-After`, ban) |
//! | `seamless_ratelimit_paused_seconds` | gauge | `key` | length of the latest pause |
//! | `seamless_ratelimit_fallback_total` | counter | `key` | times the cluster (Redis) limiter was unreachable and the worker fell back to local limiting |
//! | `seamless_candles_fetched_total` | counter | `node_id` | candles fetched from the exchange and stored |
//! | `seamless_http_requests_total` | counter | `exchange`, `status` | HTTP requests sent to an exchange, by response status |
//! | `seamless_http_request_seconds` | histogram | `exchange` | latency of those requests |
//!
//! Histograms are rendered as Prometheus histograms (`_bucket`, `_sum`, `_count`) with the
//! buckets in [`SECONDS_BUCKETS`]. Non-finite durations are ignored and negative ones count as 0.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::http::header;
use axum::routing::get;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Histogram buckets (upper bounds, in seconds) used for every `*_seconds` histogram.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// Content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histogram samples are drained into their buckets in the background.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// How long [`MetricsServer::shutdown`] waits for open connections before aborting the server.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

const SLA_DEADLINE_SECONDS: &str = "seamless_sla_deadline_seconds";
const CONFORMANCE_FLAG_TOTAL: &str = "seamless_conformance_flag_total";
const BACKFILL_JOBS_IN_PROGRESS: &str = "seamless_backfill_jobs_in_progress";
const BACKFILL_RETRY_TOTAL: &str = "seamless_backfill_retry_total";
const BACKFILL_FAILURE_TOTAL: &str = "seamless_backfill_failure_total";
const BACKFILL_CHUNKS_PLANNED_TOTAL: &str = "seamless_backfill_chunks_planned_total";
const BACKFILL_CHUNKS_DONE_TOTAL: &str = "seamless_backfill_chunks_done_total";
const BACKFILL_LAST_TIMESTAMP: &str = "seamless_backfill_last_timestamp";
const COVERAGE_RATIO: &str = "seamless_coverage_ratio";
const LIVE_STALENESS_SECONDS: &str = "seamless_live_staleness_seconds";
const RATELIMIT_TOKENS_AVAILABLE: &str = "seamless_ratelimit_tokens_available";
const RATELIMIT_WAITS_TOTAL: &str = "seamless_ratelimit_waits_total";
const RATELIMIT_WAIT_SECONDS: &str = "seamless_ratelimit_wait_seconds";
const RATELIMIT_REJECTIONS_TOTAL: &str = "seamless_ratelimit_rejections_total";
const RATELIMIT_PAUSES_TOTAL: &str = "seamless_ratelimit_pauses_total";
const RATELIMIT_PAUSED_SECONDS: &str = "seamless_ratelimit_paused_seconds";
const RATELIMIT_FALLBACK_TOTAL: &str = "seamless_ratelimit_fallback_total";
const CANDLES_FETCHED_TOTAL: &str = "seamless_candles_fetched_total";
const HTTP_REQUESTS_TOTAL: &str = "seamless_http_requests_total";
const HTTP_REQUEST_SECONDS: &str = "seamless_http_request_seconds";

const HISTOGRAMS: &[&str] = &[
    SLA_DEADLINE_SECONDS,
    RATELIMIT_WAIT_SECONDS,
    HTTP_REQUEST_SECONDS,
];

/// Errors of the metrics endpoint.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The listening socket could not be bound.
    #[error(
        "cannot serve metrics on {addr}: {source} (is another process using that port? \
         choose another one, or port 0 for any free port)"
    )]
    Bind {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The bound socket's address could not be read back.
    #[error("metrics listener bound to {addr} but its local address is unavailable: {source}")]
    LocalAddr {
        /// The address that was asked for.
        addr: SocketAddr,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Install the global Prometheus recorder once (idempotent; later calls return the same handle).
///
/// Also starts a background thread that periodically drains histogram samples. If another
/// global recorder was installed by someone else first, a warning is logged and the returned
/// handle renders a recorder that receives nothing.
pub fn install() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = builder().unwrap_or_else(|e| {
            tracing::warn!(error = %e, "metrics: custom histogram buckets rejected, using defaults");
            PrometheusBuilder::new()
        });
        let handle = match builder.install_recorder() {
            Ok(handle) => {
                describe();
                handle
            }
            Err(e) => {
                tracing::warn!(
                    error = %e,
                    "metrics: a global recorder is already installed; seamless metrics will not be exported"
                );
                match self::builder() {
                    Ok(b) => b.build_recorder().handle(),
                    Err(_) => PrometheusBuilder::new().build_recorder().handle(),
                }
            }
        };
        spawn_upkeep(handle.clone());
        handle
    })
}

/// The exposition text (installs if needed).
pub fn render() -> String {
    install().render()
}

fn builder() -> Result<PrometheusBuilder, BuildError> {
    let mut builder = PrometheusBuilder::new().set_buckets(SECONDS_BUCKETS)?;
    for name in HISTOGRAMS {
        builder =
            builder.set_buckets_for_metric(Matcher::Full((*name).to_owned()), SECONDS_BUCKETS)?;
    }
    Ok(builder)
}

fn spawn_upkeep(handle: PrometheusHandle) {
    let spawned = std::thread::Builder::new()
        .name("seamless-metrics-upkeep".to_owned())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                handle.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        // Rendering also drains histograms, so metrics stay correct; only memory between
        // scrapes is unbounded.
        tracing::warn!(error = %e, "metrics: cannot start the upkeep thread");
    }
}

fn describe() {
    use ::metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_histogram!(
        SLA_DEADLINE_SECONDS,
        Unit::Seconds,
        "Time spent in one phase of a fetch (storage, backfill, live, total)"
    );
    describe_counter!(
        CONFORMANCE_FLAG_TOTAL,
        Unit::Count,
        "Candles flagged by the conformance check of served frames"
    );
    describe_gauge!(
        BACKFILL_JOBS_IN_PROGRESS,
        Unit::Count,
        "Backfill jobs currently running per exchange"
    );
    describe_counter!(
        BACKFILL_RETRY_TOTAL,
        Unit::Count,
        "Retried backfill requests by reason"
    );
    describe_counter!(
        BACKFILL_FAILURE_TOTAL,
        Unit::Count,
        "Backfill jobs that ended in an error"
    );
    describe_counter!(
        BACKFILL_CHUNKS_PLANNED_TOTAL,
        Unit::Count,
        "Chunks of missing range backfills set out to fetch"
    );
    describe_counter!(
        BACKFILL_CHUNKS_DONE_TOTAL,
        Unit::Count,
        "Backfill chunks that ended (stored or failed)"
    );
    describe_gauge!(
        BACKFILL_LAST_TIMESTAMP,
        Unit::Seconds,
        "Open time of the newest stored candle, seconds since the Unix epoch"
    );
    describe_gauge!(
        COVERAGE_RATIO,
        "Share (0..1) of the last requested window covered by storage"
    );
    describe_gauge!(
        LIVE_STALENESS_SECONDS,
        Unit::Seconds,
        "Age of the newest live data"
    );
    describe_gauge!(
        RATELIMIT_TOKENS_AVAILABLE,
        "Request budget left for the rate-limit key"
    );
    describe_counter!(
        RATELIMIT_WAITS_TOTAL,
        Unit::Count,
        "Requests that waited for the rate limiter"
    );
    describe_histogram!(
        RATELIMIT_WAIT_SECONDS,
        Unit::Seconds,
        "Time requests waited for the rate limiter"
    );
    describe_counter!(
        RATELIMIT_REJECTIONS_TOTAL,
        Unit::Count,
        "Responses refused by the exchange for rate limiting (429, 418)"
    );
    describe_counter!(
        RATELIMIT_PAUSES_TOTAL,
        Unit::Count,
        "Times the rate-limit key was paused"
    );
    describe_gauge!(
        RATELIMIT_PAUSED_SECONDS,
        Unit::Seconds,
        "Length of the latest pause of the rate-limit key"
    );
    describe_counter!(
        RATELIMIT_FALLBACK_TOTAL,
        Unit::Count,
        "Times the cluster rate limiter was unreachable and local limiting was used"
    );
    describe_counter!(
        CANDLES_FETCHED_TOTAL,
        Unit::Count,
        "Candles fetched from the exchange and stored"
    );
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        Unit::Count,
        "HTTP requests sent to exchanges by response status"
    );
    describe_histogram!(
        HTTP_REQUEST_SECONDS,
        Unit::Seconds,
        "Latency of HTTP requests sent to exchanges"
    );
}

/// A duration fit for a histogram: `None` if not finite, negatives clamped to 0.
fn duration(seconds: f64) -> Option<f64> {
    seconds.is_finite().then_some(seconds.max(0.0))
}

/// Record the time spent in one SLA phase (`storage`, `backfill`, `live`, `total`).
pub fn sla_phase(node_id: &str, phase: &str, seconds: f64) {
    if let Some(s) = duration(seconds) {
        ::metrics::histogram!(SLA_DEADLINE_SECONDS, "node_id" => node_id.to_owned(), "phase" => phase.to_owned())
            .record(s);
    }
}

/// Count `n` conformance flags of one type on a served frame.
pub fn conformance_flag(node_id: &str, interval: &str, flag_type: &str, n: u64) {
    ::metrics::counter!(
        CONFORMANCE_FLAG_TOTAL,
        "node_id" => node_id.to_owned(),
        "interval" => interval.to_owned(),
        "flag_type" => flag_type.to_owned()
    )
    .increment(n);
}

/// A backfill job started against `exchange`.
pub fn backfill_job_started(exchange: &str) {
    ::metrics::gauge!(BACKFILL_JOBS_IN_PROGRESS, "exchange" => exchange.to_owned()).increment(1.0);
}

/// A backfill job against `exchange` ended (successfully or not).
pub fn backfill_job_finished(exchange: &str) {
    ::metrics::gauge!(BACKFILL_JOBS_IN_PROGRESS, "exchange" => exchange.to_owned()).decrement(1.0);
}

/// A backfill request is retried for `reason`.
pub fn backfill_retry(node_id: &str, reason: &str) {
    ::metrics::counter!(BACKFILL_RETRY_TOTAL, "node_id" => node_id.to_owned(), "reason" => reason.to_owned())
        .increment(1);
}

/// A backfill job ended in an error.
pub fn backfill_failure(node_id: &str) {
    ::metrics::counter!(BACKFILL_FAILURE_TOTAL, "node_id" => node_id.to_owned()).increment(1);
}

/// A backfill of `node_id` set out to fetch `n` chunks.
pub fn backfill_chunks_planned(node_id: &str, n: u64) {
    ::metrics::counter!(BACKFILL_CHUNKS_PLANNED_TOTAL, "node_id" => node_id.to_owned())
        .increment(n);
}

/// One planned chunk of `node_id` ended (stored, or failed).
pub fn backfill_chunk_done(node_id: &str) {
    ::metrics::counter!(BACKFILL_CHUNKS_DONE_TOTAL, "node_id" => node_id.to_owned()).increment(1);
}

/// The newest stored candle of `node_id` opens at `open_time_ms` (ms since the epoch); the
/// gauge holds seconds since the epoch.
pub fn backfill_last_timestamp(node_id: &str, open_time_ms: i64) {
    ::metrics::gauge!(BACKFILL_LAST_TIMESTAMP, "node_id" => node_id.to_owned())
        .set(open_time_ms as f64 / 1000.0);
}

/// Share (0..=1) of the requested window covered by storage.
pub fn coverage_ratio(node_id: &str, ratio: f64) {
    ::metrics::gauge!(COVERAGE_RATIO, "node_id" => node_id.to_owned()).set(ratio);
}

/// Age of the newest live data for `node_id`.
pub fn live_staleness(node_id: &str, seconds: f64) {
    ::metrics::gauge!(LIVE_STALENESS_SECONDS, "node_id" => node_id.to_owned()).set(seconds);
}

/// Request budget left for the rate-limit `key`.
pub fn ratelimit_tokens(key: &str, available: f64) {
    ::metrics::gauge!(RATELIMIT_TOKENS_AVAILABLE, "key" => key.to_owned()).set(available);
}

/// A request waited `seconds` for the rate limiter of `key`.
pub fn ratelimit_wait(key: &str, seconds: f64) {
    ::metrics::counter!(RATELIMIT_WAITS_TOTAL, "key" => key.to_owned()).increment(1);
    if let Some(s) = duration(seconds) {
        ::metrics::histogram!(RATELIMIT_WAIT_SECONDS, "key" => key.to_owned()).record(s);
    }
}

/// The exchange refused a request of `key` for rate limiting (`429`, or `418` for a ban).
pub fn ratelimit_429(key: &str, status: u16) {
    ::metrics::counter!(RATELIMIT_REJECTIONS_TOTAL, "key" => key.to_owned(), "status" => status.to_string())
        .increment(1);
}

/// The rate-limit `key` is paused for `seconds`.
pub fn ratelimit_pause(key: &str, seconds: f64) {
    ::metrics::counter!(RATELIMIT_PAUSES_TOTAL, "key" => key.to_owned()).increment(1);
    ::metrics::gauge!(RATELIMIT_PAUSED_SECONDS, "key" => key.to_owned()).set(seconds);
}

/// The cluster rate limiter was unreachable; `key` fell back to local limiting.
pub fn ratelimit_fallback(key: &str) {
    ::metrics::counter!(RATELIMIT_FALLBACK_TOTAL, "key" => key.to_owned()).increment(1);
}

/// `n` candles of `node_id` were fetched and stored.
pub fn candles_fetched(node_id: &str, n: u64) {
    ::metrics::counter!(CANDLES_FETCHED_TOTAL, "node_id" => node_id.to_owned()).increment(n);
}

/// An HTTP request to `exchange` answered `status` after `seconds`.
pub fn http_request(exchange: &str, status: u16, seconds: f64) {
    ::metrics::counter!(
        HTTP_REQUESTS_TOTAL,
        "exchange" => exchange.to_owned(),
        "status" => status.to_string()
    )
    .increment(1);
    if let Some(s) = duration(seconds) {
        ::metrics::histogram!(HTTP_REQUEST_SECONDS, "exchange" => exchange.to_owned()).record(s);
    }
}

/// A running `GET /metrics` endpoint. Dropping it stops the server (in the background);
/// [`MetricsServer::shutdown`] stops it and waits.
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl MetricsServer {
    /// The address the server listens on (the real port when 0 was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop accepting connections and wait for the server to finish (open connections get a
    /// few seconds, then the server is aborted).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            // An error means the server already ended; nothing to stop.
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            tracing::warn!(addr = %self.addr, "metrics server did not stop in time; aborting it");
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        // Dropping the sender wakes the server's shutdown signal.
        self.stop.take();
    }
}

/// Serve GET /metrics (`text/plain; version=0.0.4`) on `addr` (e.g. `127.0.0.1:0`) until the
/// returned handle is dropped or [`MetricsServer::shutdown`] is called. Installs the recorder if
/// needed. Must be called within a Tokio runtime.
pub async fn serve(addr: SocketAddr) -> Result<MetricsServer, MetricsError> {
    let handle = install();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| MetricsError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| MetricsError::LocalAddr { addr, source })?;

    let app = Router::new().route(
        "/metrics",
        get(move || async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], handle.render()) }),
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            // Fires on an explicit stop and when the sender is dropped.
            let _ = stopped.await;
        });
        if let Err(e) = server.await {
            tracing::warn!(addr = %bound, error = %e, "metrics server stopped with an error");
        }
    });
    tracing::info!(addr = %bound, "serving metrics on http://{bound}/metrics");
    Ok(MetricsServer {
        addr: bound,
        stop: Some(stop),
        task: Some(task),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn assert_has(text: &str, line: &str) {
        assert!(
            text.lines().any(|l| l == line),
            "missing line `{line}` in exposition:\n{text}"
        );
    }

    #[test]
    fn install_is_idempotent() {
        assert!(std::ptr::eq(install(), install()));
    }

    #[test]
    fn gauges_and_counters_render_with_labels() {
        install();
        let node = "ohlcv:binance:BTC/USDT:1m";
        coverage_ratio(node, 0.5);
        live_staleness("ohlcv:t-gauges:BTC/USDT:1m", 2.5);
        backfill_last_timestamp("ohlcv:t-gauges:ETH/USDT:1m", 1_700_000_060_000);
        backfill_job_started("t-gauges-ex");
        backfill_job_started("t-gauges-ex");
        backfill_job_finished("t-gauges-ex");
        backfill_retry("ohlcv:t-gauges:BTC/USDT:1m", "timeout");
        backfill_retry("ohlcv:t-gauges:BTC/USDT:1m", "timeout");
        backfill_failure("ohlcv:t-gauges:BTC/USDT:1m");
        conformance_flag("ohlcv:t-gauges:BTC/USDT:1m", "1m", "duplicate", 3);
        candles_fetched("ohlcv:t-gauges:BTC/USDT:1m", 1000);
        candles_fetched("ohlcv:t-gauges:BTC/USDT:1m", 500);
        backfill_chunks_planned("ohlcv:t-gauges:BTC/USDT:1m", 4);
        backfill_chunk_done("ohlcv:t-gauges:BTC/USDT:1m");

        let text = render();
        assert_has(
            &text,
            r#"seamless_coverage_ratio{node_id="ohlcv:binance:BTC/USDT:1m"} 0.5"#,
        );
        assert_has(
            &text,
            r#"seamless_live_staleness_seconds{node_id="ohlcv:t-gauges:BTC/USDT:1m"} 2.5"#,
        );
        assert_has(
            &text,
            r#"seamless_backfill_last_timestamp{node_id="ohlcv:t-gauges:ETH/USDT:1m"} 1700000060"#,
        );
        assert_has(
            &text,
            r#"seamless_backfill_jobs_in_progress{exchange="t-gauges-ex"} 1"#,
        );
        assert_has(
            &text,
            r#"seamless_backfill_retry_total{node_id="ohlcv:t-gauges:BTC/USDT:1m",reason="timeout"} 2"#,
        );
        assert_has(
            &text,
            r#"seamless_backfill_failure_total{node_id="ohlcv:t-gauges:BTC/USDT:1m"} 1"#,
        );
        assert_has(
            &text,
            r#"seamless_conformance_flag_total{node_id="ohlcv:t-gauges:BTC/USDT:1m",interval="1m",flag_type="duplicate"} 3"#,
        );
        assert_has(
            &text,
            r#"seamless_candles_fetched_total{node_id="ohlcv:t-gauges:BTC/USDT:1m"} 1500"#,
        );
        assert_has(
            &text,
            r#"seamless_backfill_chunks_planned_total{node_id="ohlcv:t-gauges:BTC/USDT:1m"} 4"#,
        );
        assert_has(
            &text,
            r#"seamless_backfill_chunks_done_total{node_id="ohlcv:t-gauges:BTC/USDT:1m"} 1"#,
        );
        assert!(text.contains("# HELP seamless_coverage_ratio "), "{text}");
    }

    #[test]
    fn ratelimit_metrics_render() {
        install();
        ratelimit_tokens("t-rl", 1150.0);
        ratelimit_wait("t-rl", 0.2);
        ratelimit_wait("t-rl", 0.003);
        ratelimit_429("t-rl", 429);
        ratelimit_429("t-rl", 418);
        ratelimit_pause("t-rl", 30.0);
        ratelimit_fallback("t-rl");

        let text = render();
        assert_has(
            &text,
            r#"seamless_ratelimit_tokens_available{key="t-rl"} 1150"#,
        );
        assert_has(&text, r#"seamless_ratelimit_waits_total{key="t-rl"} 2"#);
        assert_has(
            &text,
            r#"seamless_ratelimit_wait_seconds_bucket{key="t-rl",le="0.005"} 1"#,
        );
        assert_has(
            &text,
            r#"seamless_ratelimit_wait_seconds_bucket{key="t-rl",le="0.25"} 2"#,
        );
        assert_has(
            &text,
            r#"seamless_ratelimit_wait_seconds_count{key="t-rl"} 2"#,
        );
        assert_has(
            &text,
            r#"seamless_ratelimit_rejections_total{key="t-rl",status="429"} 1"#,
        );
        assert_has(
            &text,
            r#"seamless_ratelimit_rejections_total{key="t-rl",status="418"} 1"#,
        );
        assert_has(&text, r#"seamless_ratelimit_pauses_total{key="t-rl"} 1"#);
        assert_has(&text, r#"seamless_ratelimit_paused_seconds{key="t-rl"} 30"#);
        assert_has(&text, r#"seamless_ratelimit_fallback_total{key="t-rl"} 1"#);
    }

    #[test]
    fn histograms_render_buckets_sum_and_count() {
        install();
        let node = "ohlcv:t-hist:BTC/USDT:1h";
        sla_phase(node, "storage", 0.004);
        sla_phase(node, "storage", 0.75);
        sla_phase(node, "storage", f64::NAN); // ignored
        sla_phase(node, "total", 120.0); // above the largest bucket
        http_request("t-hist-ex", 200, 0.02);
        http_request("t-hist-ex", 503, 1.5);

        let text = render();
        let base =
            format!(r#"seamless_sla_deadline_seconds_bucket{{node_id="{node}",phase="storage""#);
        assert_has(&text, &format!(r#"{base},le="0.001"}} 0"#));
        assert_has(&text, &format!(r#"{base},le="0.005"}} 1"#));
        assert_has(&text, &format!(r#"{base},le="1"}} 2"#));
        assert_has(&text, &format!(r#"{base},le="60"}} 2"#));
        assert_has(&text, &format!(r#"{base},le="+Inf"}} 2"#));
        assert_has(
            &text,
            &format!(
                r#"seamless_sla_deadline_seconds_count{{node_id="{node}",phase="storage"}} 2"#
            ),
        );
        assert_has(
            &text,
            &format!(
                r#"seamless_sla_deadline_seconds_sum{{node_id="{node}",phase="storage"}} 0.754"#
            ),
        );
        assert_has(
            &text,
            &format!(
                r#"seamless_sla_deadline_seconds_bucket{{node_id="{node}",phase="total",le="60"}} 0"#
            ),
        );
        assert_has(
            &text,
            &format!(r#"seamless_sla_deadline_seconds_count{{node_id="{node}",phase="total"}} 1"#),
        );
        assert_has(
            &text,
            r#"seamless_http_requests_total{exchange="t-hist-ex",status="200"} 1"#,
        );
        assert_has(
            &text,
            r#"seamless_http_requests_total{exchange="t-hist-ex",status="503"} 1"#,
        );
        assert_has(
            &text,
            r#"seamless_http_request_seconds_bucket{exchange="t-hist-ex",le="0.025"} 1"#,
        );
        assert_has(
            &text,
            r#"seamless_http_request_seconds_count{exchange="t-hist-ex"} 2"#,
        );
        assert!(
            text.contains("# TYPE seamless_sla_deadline_seconds histogram"),
            "{text}"
        );
    }

    /// A minimal HTTP/1.1 GET over loopback; returns the raw response.
    async fn http_get(addr: SocketAddr, path: &str) -> String {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.expect("read");
        String::from_utf8(response).expect("utf-8 response")
    }

    #[tokio::test]
    async fn serves_metrics_over_http() {
        candles_fetched("ohlcv:t-http:BTC/USDT:1m", 7);
        let server = serve("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("serve");
        let addr = server.addr();
        assert!(addr.ip().is_loopback());
        assert_ne!(addr.port(), 0);

        let response = http_get(addr, "/metrics").await;
        let (head, body) = response.split_once("\r\n\r\n").expect("headers end");
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.lines().any(|l| l
                .eq_ignore_ascii_case("content-type: text/plain; version=0.0.4; charset=utf-8")),
            "{head}"
        );
        assert!(
            body.contains(
                r#"seamless_candles_fetched_total{node_id="ohlcv:t-http:BTC/USDT:1m"} 7"#
            ),
            "{body}"
        );

        let missing = http_get(addr, "/nope").await;
        assert!(missing.starts_with("HTTP/1.1 404"), "{missing}");

        server.shutdown().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    }

    #[tokio::test]
    async fn dropping_the_server_stops_it() {
        let server = serve("127.0.0.1:0".parse().expect("addr"))
            .await
            .expect("serve");
        let addr = server.addr();
        drop(server);
        let mut refused = false;
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                refused = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(refused, "server on {addr} still accepting after drop");
    }

    #[tokio::test]
    async fn bind_in_use_names_the_address() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = taken.local_addr().expect("local addr");
        let err = serve(addr).await.expect_err("address in use");
        assert!(
            matches!(err, MetricsError::Bind { addr: a, .. } if a == addr),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&addr.to_string()), "{message}");
        assert!(message.contains("another"), "{message}");
    }
}
