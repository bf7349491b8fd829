//! Cluster coordination over Redis: several seamless processes ("workers") sharing one
//! exchange budget, never fetching the same chunk twice, and taking backfill jobs from a
//! shared queue.
//!
//! - [`Cluster`] holds the Redis connection (one multiplexed connection, short timeouts:
//!   a dead Redis never blocks a caller longer than [`ClusterOptions::timeout`]). When Redis
//!   cannot be reached, every operation fails fast with [`CoordError::Unavailable`] and the
//!   connection is retried at most every [`ClusterOptions::reconnect_every`]; callers carry
//!   on without coordination (local rate limiting, no leases) and rejoin by themselves.
//! - The shared rate limit (GCRA in one Lua script, shared pause) lives in
//!   [`crate::ratelimit`] (`ratelimit/redis.rs`) on top of this connection.
//! - [`lease`]: single-flight across processes, a lease per (node id, chunk index) taken
//!   with `SET NX PX`, renewed while the chunk is fetched, released at the end.
//! - [`jobs`]: the backfill job queue of `seamless worker`: a Redis stream with a consumer
//!   group, leases renewed by the running worker, claims of abandoned jobs, dead letters.
//!
//! Leases only save work: correctness comes from the store's coverage ledger (and the
//! store's idempotent writes), so a lost lease, an expired lease or a Redis outage can cost a
//! duplicate request, never a wrong or duplicated candle.
//!
//! Tuning knobs ride on the Redis URL's query string and are removed before the URL reaches
//! the driver: `redis://127.0.0.1:6379/0?lease_ms=10000&timeout_ms=200&reconnect_ms=2000`.

pub mod jobs;
pub mod lease;

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, ErrorKind, RedisResult, ServerErrorKind};
use thiserror::Error;

pub use jobs::{Delivery, Job, JobPolicy, QueueStatus, Renewal};
pub use lease::{Lease, LeaseAttempt};

/// Why a coordination step could not be done.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoordError {
    /// The URL is not a Redis URL the driver accepts.
    #[error(
        "bad Redis URL {url}: {reason}; expected redis://HOST:PORT[/DB][?lease_ms=N&timeout_ms=N&reconnect_ms=N]"
    )]
    BadUrl { url: String, reason: String },
    /// Redis could not be reached (refused, timed out, connection lost); try later.
    #[error("Redis at {url} is unreachable: {reason}")]
    Unavailable { url: String, reason: String },
    /// Redis answered with an error (a bug or a misconfigured server, not an outage).
    #[error("Redis at {url} answered with an error: {reason}")]
    Redis { url: String, reason: String },
    /// A job on the queue is not valid JSON of the expected shape.
    #[error("malformed job {raw:?}: {reason}")]
    BadJob { raw: String, reason: String },
}

impl CoordError {
    /// True when Redis could not be reached (as opposed to a bad URL or answer).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, CoordError::Unavailable { .. })
    }
}

/// Timing of the coordination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterOptions {
    /// Lifetime of a chunk lease; renewed every third of it while the chunk is fetched, so a
    /// crashed worker's chunks are taken over at most this long after the crash.
    pub lease_ttl: Duration,
    /// Longest wait for Redis (connect or one command) before giving up on it.
    pub timeout: Duration,
    /// Least time between two connection attempts while Redis is down.
    pub reconnect_every: Duration,
    /// A worker counts as active for this long after its last rate-limit acquire (the
    /// number of active workers sets the default fallback share of the budget).
    pub worker_ttl: Duration,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            lease_ttl: Duration::from_secs(10),
            timeout: Duration::from_millis(200),
            reconnect_every: Duration::from_secs(2),
            worker_ttl: Duration::from_secs(10),
        }
    }
}

/// Key of everything seamless keeps in Redis (the database is chosen in the URL).
pub const PREFIX: &str = "seamless";

/// A handle on the cluster (cheap to clone; clones share the connection).
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    client: redis::Client,
    /// The URL without a password, for messages.
    url: String,
    worker: String,
    opts: ClusterOptions,
    /// The live connection and its generation (so a failure only drops the connection it
    /// happened on, never a newer one).
    conn: Mutex<Option<(u64, MultiplexedConnection)>>,
    generation: AtomicU64,
    /// Serialises connection attempts (waiters re-check after the attempt).
    connecting: tokio::sync::Mutex<()>,
    /// No connection attempt before this instant.
    next_attempt: Mutex<Option<Instant>>,
    /// Why Redis is down, while it is.
    down: Mutex<Option<String>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("url", &self.inner.url)
            .field("worker", &self.inner.worker)
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// `url` without the password (`redis://user:***@host`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth, host) = match rest.find('/') {
        Some(i) if rest[..i].contains('@') => rest[..i]
            .rsplit_once('@')
            .map(|(a, h)| (a, format!("{h}{}", &rest[i..]))),
        None if rest.contains('@') => rest.rsplit_once('@').map(|(a, h)| (a, h.to_string())),
        _ => None,
    }
    .unwrap_or(("", rest.to_string()));
    if auth.is_empty() {
        return url.to_string();
    }
    let user = auth.split_once(':').map(|(u, _)| u).unwrap_or("");
    format!("{scheme}://{user}:***@{host}")
}

/// Split seamless's own query parameters off `url`: the URL for the driver and the options.
pub fn parse_url(url: &str) -> Result<(String, ClusterOptions), CoordError> {
    let bad = |reason: String| CoordError::BadUrl {
        url: redact(url),
        reason,
    };
    if !(url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("unix://"))
    {
        return Err(bad("the scheme must be redis://".into()));
    }
    let mut opts = ClusterOptions::default();
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), opts));
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let ms = || -> Result<Duration, CoordError> {
            v.parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| {
                    bad(format!(
                        "{k} must be a positive number of milliseconds, not {v:?}"
                    ))
                })
        };
        match k {
            "lease_ms" => opts.lease_ttl = ms()?,
            "timeout_ms" => opts.timeout = ms()?,
            "reconnect_ms" => opts.reconnect_every = ms()?,
            "worker_ttl_ms" => opts.worker_ttl = ms()?,
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, opts))
}

/// An id for this process in the cluster: `host:pid:random`.
fn worker_id() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into());
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("{host}:{}:{:08x}", std::process::id(), h.finish() as u32)
}

/// Whether a driver error means "Redis is not usable right now" (as opposed to an answer).
/// Error answers with a code the driver does not know (`BUSYGROUP`, `NOGROUP`, …) are
/// answers too.
fn is_outage(e: &redis::RedisError) -> bool {
    match e.kind() {
        ErrorKind::Server(k) => matches!(
            k,
            ServerErrorKind::BusyLoading
                | ServerErrorKind::MasterDown
                | ServerErrorKind::TryAgain
                | ServerErrorKind::ClusterDown
        ),
        ErrorKind::Extension => e.code().is_none(),
        _ => true,
    }
}

impl Cluster {
    /// A cluster handle for `url` (nothing is sent until the first use; see
    /// [`parse_url`] for the options in the query string).
    pub fn open(url: &str) -> Result<Cluster, CoordError> {
        let (driver_url, opts) = parse_url(url)?;
        Cluster::with_options(&driver_url, opts)
    }

    /// A cluster handle for `url` with explicit options.
    pub fn with_options(url: &str, opts: ClusterOptions) -> Result<Cluster, CoordError> {
        let client = redis::Client::open(url).map_err(|e| CoordError::BadUrl {
            url: redact(url),
            reason: e.to_string(),
        })?;
        Ok(Cluster {
            inner: Arc::new(Inner {
                client,
                url: redact(url),
                worker: worker_id(),
                opts,
                conn: Mutex::new(None),
                generation: AtomicU64::new(0),
                connecting: tokio::sync::Mutex::new(()),
                next_attempt: Mutex::new(None),
                down: Mutex::new(None),
            }),
        })
    }

    /// This process's id in the cluster (the value of the leases it holds).
    pub fn worker_id(&self) -> &str {
        &self.inner.worker
    }

    /// The Redis URL, without a password.
    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The options in force.
    pub fn options(&self) -> &ClusterOptions {
        &self.inner.opts
    }

    /// Whether the last contact with Redis succeeded (no contact yet counts as up).
    pub fn is_up(&self) -> bool {
        lock(&self.inner.down).is_none()
    }

    /// Try to reach Redis now (PING); `Ok` when it answers.
    pub async fn ping(&self) -> Result<(), CoordError> {
        self.run(|mut c| async move {
            redis::cmd("PING")
                .query_async::<String>(&mut c)
                .await
                .map(|_| ())
        })
        .await
    }

    fn unavailable(&self, reason: impl Into<String>) -> CoordError {
        CoordError::Unavailable {
            url: self.inner.url.clone(),
            reason: reason.into(),
        }
    }

    fn mark_down(&self, reason: &str) {
        let mut down = lock(&self.inner.down);
        if down.is_none() {
            tracing::info!(redis = %self.inner.url, reason, "Redis unreachable: carrying on without cluster coordination");
        }
        *down = Some(reason.to_string());
    }

    fn mark_up(&self) {
        if let Some(reason) = lock(&self.inner.down).take() {
            tracing::info!(redis = %self.inner.url, was = %reason, "Redis reachable again: rejoining the cluster");
        }
    }

    /// A connection to Redis: the live one, or a new one if the last attempt is old enough.
    async fn conn(&self) -> Result<(u64, MultiplexedConnection), CoordError> {
        if let Some(c) = lock(&self.inner.conn).clone() {
            return Ok(c);
        }
        // While Redis is known to be down, never queue behind a connection attempt; the
        // first connection (state unknown) is worth waiting for, within the timeout.
        let known_down = lock(&self.inner.down).clone();
        let _attempt = match known_down {
            Some(why) => match self.inner.connecting.try_lock() {
                Ok(g) => g,
                Err(_) => return Err(self.unavailable(why)),
            },
            None => self.inner.connecting.lock().await,
        };
        if let Some(c) = lock(&self.inner.conn).clone() {
            return Ok(c);
        }
        {
            let mut next = lock(&self.inner.next_attempt);
            let now = Instant::now();
            if next.is_some_and(|t| now < t) {
                let why = lock(&self.inner.down)
                    .clone()
                    .unwrap_or_else(|| "not connected".into());
                return Err(self.unavailable(why));
            }
            *next = Some(now + self.inner.opts.reconnect_every);
        }
        let t = self.inner.opts.timeout;
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(t))
            .set_response_timeout(Some(t));
        match tokio::time::timeout(
            t,
            self.inner
                .client
                .get_multiplexed_async_connection_with_config(&cfg),
        )
        .await
        {
            Ok(Ok(c)) => {
                let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed) + 1;
                *lock(&self.inner.conn) = Some((generation, c.clone()));
                self.mark_up();
                Ok((generation, c))
            }
            Ok(Err(e)) => {
                let why = e.to_string();
                self.mark_down(&why);
                Err(self.unavailable(why))
            }
            Err(_) => {
                let why = format!("no connection within {} ms", t.as_millis());
                self.mark_down(&why);
                Err(self.unavailable(why))
            }
        }
    }

    fn drop_conn(&self, generation: u64, reason: &str) {
        let mut c = lock(&self.inner.conn);
        if c.as_ref().is_some_and(|(g, _)| *g == generation) {
            *c = None;
            *lock(&self.inner.next_attempt) =
                Some(Instant::now() + self.inner.opts.reconnect_every);
        }
        drop(c);
        self.mark_down(reason);
    }

    /// Run one Redis exchange on the shared connection, within the timeout. Outages drop
    /// the connection (the next call after `reconnect_every` reconnects).
    pub(crate) async fn run<T, F, Fut>(&self, f: F) -> Result<T, CoordError>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        let (generation, c) = self.conn().await?;
        let t = self.inner.opts.timeout;
        match tokio::time::timeout(t, f(c)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) if !is_outage(&e) => Err(CoordError::Redis {
                url: self.inner.url.clone(),
                reason: e.to_string(),
            }),
            Ok(Err(e)) => {
                let why = e.to_string();
                self.drop_conn(generation, &why);
                Err(self.unavailable(why))
            }
            Err(_) => {
                let why = format!("no answer within {} ms", t.as_millis());
                self.drop_conn(generation, &why);
                Err(self.unavailable(why))
            }
        }
    }

    /// A dedicated connection for blocking commands (XREADGROUP … BLOCK), answering within `wait` plus
    /// the timeout.
    pub(crate) async fn blocking_conn(
        &self,
        wait: Duration,
    ) -> Result<MultiplexedConnection, CoordError> {
        let t = self.inner.opts.timeout;
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(t))
            .set_response_timeout(Some(wait + t * 5));
        match tokio::time::timeout(
            t * 2,
            self.inner
                .client
                .get_multiplexed_async_connection_with_config(&cfg),
        )
        .await
        {
            Ok(Ok(c)) => Ok(c),
            Ok(Err(e)) => Err(self.unavailable(e.to_string())),
            Err(_) => {
                Err(self.unavailable(format!("no connection within {} ms", (t * 2).as_millis())))
            }
        }
    }

    /// Classify a driver error of a blocking connection.
    pub(crate) fn classify(&self, e: redis::RedisError) -> CoordError {
        if is_outage(&e) {
            self.unavailable(e.to_string())
        } else {
            CoordError::Redis {
                url: self.inner.url.clone(),
                reason: e.to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_query_parameters_are_split_off() {
        let (u, o) =
            parse_url("redis://127.0.0.1:6379/3?lease_ms=3000&timeout_ms=150&protocol=resp3")
                .unwrap();
        assert_eq!(u, "redis://127.0.0.1:6379/3?protocol=resp3");
        assert_eq!(o.lease_ttl, Duration::from_secs(3));
        assert_eq!(o.timeout, Duration::from_millis(150));
        assert_eq!(o.reconnect_every, ClusterOptions::default().reconnect_every);
        let (u, o) = parse_url("redis://127.0.0.1:6379").unwrap();
        assert_eq!(
            (u.as_str(), o),
            ("redis://127.0.0.1:6379", ClusterOptions::default())
        );
        assert!(matches!(
            parse_url("redis://h?lease_ms=0"),
            Err(CoordError::BadUrl { .. })
        ));
        assert!(matches!(
            parse_url("http://h:1"),
            Err(CoordError::BadUrl { .. })
        ));
        assert!(Cluster::open("redis://127.0.0.1:1/0?reconnect_ms=500").is_ok());
    }

    #[test]
    fn passwords_never_reach_messages() {
        assert_eq!(
            redact("redis://:secret@127.0.0.1:6379/0"),
            "redis://:***@127.0.0.1:6379/0"
        );
        assert_eq!(redact("redis://u:secret@h"), "redis://u:***@h");
        assert_eq!(redact("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
        let e = Cluster::open("redis://u:secret@h:1/x?lease_ms=-1")
            .unwrap_err()
            .to_string();
        assert!(!e.contains("secret"), "{e}");
    }

    #[test]
    fn worker_ids_are_unique_and_name_the_process() {
        let (a, b) = (worker_id(), worker_id());
        assert_ne!(a, b);
        assert!(a.contains(&format!(":{}:", std::process::id())), "{a}");
    }

    #[tokio::test]
    async fn a_dead_redis_fails_fast_and_is_not_retried_at_once() {
        // Port 1 on loopback: refused at once.
        let c = Cluster::open("redis://127.0.0.1:1/0?reconnect_ms=60000").unwrap();
        let t = Instant::now();
        let e = c.ping().await.unwrap_err();
        assert!(e.is_unavailable(), "{e}");
        assert!(!c.is_up());
        // The next call does not even try (the reconnect interval has not passed).
        let e2 = c.ping().await.unwrap_err();
        assert!(e2.is_unavailable());
        assert!(
            t.elapsed() < Duration::from_millis(450),
            "{:?}",
            t.elapsed()
        );
    }
}
