//! The cluster rate limiter: one GCRA per exchange key kept in Redis and shared by every
//! worker, with the same burst and refill as the local limiter ([`super::gcra_params`]).
//!
//! Each acquire is one atomic Lua script ([`ACQUIRE`]) that reads the time from Redis
//! (`TIME`, so workers' clocks do not matter), honours the shared pause, and *reserves* the
//! request's slot: it advances the theoretical arrival time (TAT) by `weight × interval`
//! and answers how long to wait before sending. Reserving (instead of "try again later")
//! keeps one round trip per request and serves workers in arrival order. A reservation is
//! never taken further ahead than `max_ahead` (one window): past that the script answers
//! "ask again in …" without reserving, so a long queue cannot pile up stale reservations.
//!
//! The pause key (`PAUSE`, set with `SET … PX` on a 429/418 with the exchange's wait, or
//! when the used-weight header says the window is nearly spent) is checked by the script
//! before every reservation, and once more after a reserved wait.
//!
//! The script also registers the worker in a sorted set of active workers (score = expiry),
//! whose size sets the default share of the budget a worker uses when Redis goes away.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use redis::Script;

use super::LimitSpec;
use crate::coord::{Cluster, CoordError, PREFIX};

/// Acquire (reserve) `weight` of the shared GCRA.
///
/// `KEYS`: 1 = TAT (µs, Redis time), 2 = pause flag, 3 = active workers (zset).
/// `ARGV`: 1 = emission interval per unit of weight (µs), 2 = burst tolerance (µs),
/// 3 = weight, 4 = furthest reservation ahead (µs), 5 = worker id, 6 = worker liveness (ms).
/// Returns `{status, wait_us, workers}`: status 1 = reserved, send after `wait_us`;
/// 0 = not reserved (queue longer than `max_ahead`), ask again after `wait_us`;
/// 2 = paused for `wait_us`.
pub const ACQUIRE: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local now_ms = math.floor(now / 1000)
local live = tonumber(ARGV[6])
redis.call('ZADD', KEYS[3], string.format('%.0f', now_ms + live), ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', string.format('%.0f', now_ms))
redis.call('PEXPIRE', KEYS[3], live)
local workers = redis.call('ZCARD', KEYS[3])
local pause = redis.call('PTTL', KEYS[2])
if pause > 0 then
  return {2, pause * 1000, workers}
end
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local max_ahead = tonumber(ARGV[4])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local new_tat = tat + tonumber(ARGV[3]) * interval
local wait = new_tat - tau - now
if wait < 0 then wait = 0 end
if wait > max_ahead then
  return {0, math.floor(wait - max_ahead), workers}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return {1, math.floor(wait), workers}
"#;

/// Pause the key for `ARGV[1]` ms unless it is already paused for longer.
/// `KEYS[1]` = pause flag, `ARGV[2]` = the reason (stored as the value). Returns 1 if set.
pub const PAUSE: &str = r#"
local cur = redis.call('PTTL', KEYS[1])
if cur < tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[1])
  return 1
end
return 0
"#;

static ACQUIRE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(ACQUIRE));
static PAUSE_SCRIPT: LazyLock<Script> = LazyLock::new(|| Script::new(PAUSE));

/// Redis keys of one rate-limit key: (TAT, pause, workers).
pub fn keys(key: &str) -> (String, String, String) {
    (
        format!("{PREFIX}:rl:{key}:tat"),
        format!("{PREFIX}:rl:{key}:pause"),
        format!("{PREFIX}:rl:{key}:workers"),
    )
}

/// The answer of one acquire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// Reserved: send after this wait.
    Go(Duration),
    /// Not reserved: ask again after this wait.
    Retry(Duration),
    /// The key is paused for this long.
    Paused(Duration),
}

/// One key's shared GCRA.
pub struct SharedBucket {
    cluster: Cluster,
    tat: String,
    pause: String,
    workers_key: String,
    interval_us: f64,
    tau_us: f64,
    weight: u32,
    max_ahead_us: u64,
    workers: AtomicUsize,
}

impl SharedBucket {
    /// The shared bucket of `key` (the whole budget: every worker draws from it).
    pub fn new(cluster: Cluster, key: &str, spec: &LimitSpec) -> Self {
        let (interval, tau) = super::gcra_params(spec.budget, spec.window, spec.weight);
        let (tat, pause, workers_key) = keys(key);
        SharedBucket {
            cluster,
            tat,
            pause,
            workers_key,
            interval_us: interval.as_secs_f64() * 1e6,
            tau_us: tau.as_secs_f64() * 1e6,
            weight: spec.weight.max(1),
            max_ahead_us: spec.window.as_micros().max(1) as u64,
            workers: AtomicUsize::new(0),
        }
    }

    /// The cluster.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Workers that acquired from this key recently, as last seen (0: never seen).
    pub fn workers(&self) -> usize {
        self.workers.load(Ordering::Relaxed)
    }

    /// Reserve one request's weight.
    pub async fn acquire(&self) -> Result<Grant, CoordError> {
        let (tat, pause, workers) = (
            self.tat.clone(),
            self.pause.clone(),
            self.workers_key.clone(),
        );
        let args = (
            format!("{:.3}", self.interval_us),
            format!("{:.3}", self.tau_us),
            self.weight,
            self.max_ahead_us,
            self.cluster.worker_id().to_string(),
            self.cluster.options().worker_ttl.as_millis() as u64,
        );
        let (status, wait_us, n): (i64, i64, i64) = self
            .cluster
            .run(|mut c| async move {
                ACQUIRE_SCRIPT
                    .key(&tat)
                    .key(&pause)
                    .key(&workers)
                    .arg(&args.0)
                    .arg(&args.1)
                    .arg(args.2)
                    .arg(args.3)
                    .arg(&args.4)
                    .arg(args.5)
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        self.workers.store(n.max(0) as usize, Ordering::Relaxed);
        let wait = Duration::from_micros(wait_us.max(0) as u64);
        Ok(match status {
            1 => Grant::Go(wait),
            2 => Grant::Paused(wait),
            _ => Grant::Retry(wait),
        })
    }

    /// Pause the key for every worker for `d` (unless already paused for longer).
    pub async fn pause(&self, d: Duration, reason: &str) -> Result<(), CoordError> {
        let (key, ms, reason) = (
            self.pause.clone(),
            d.as_millis().max(1) as u64,
            reason.to_string(),
        );
        self.cluster
            .run(|mut c| async move {
                PAUSE_SCRIPT
                    .key(&key)
                    .arg(ms)
                    .arg(&reason)
                    .invoke_async::<i64>(&mut c)
                    .await
            })
            .await
            .map(|_| ())
    }

    /// How long the shared pause still lasts.
    pub async fn paused_for(&self) -> Result<Option<Duration>, CoordError> {
        let key = self.pause.clone();
        let ms: i64 = self
            .cluster
            .run(|mut c| async move { redis::cmd("PTTL").arg(&key).query_async(&mut c).await })
            .await?;
        Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_per_rate_limit_key() {
        let (t, p, w) = keys("binance");
        assert_eq!(
            (t.as_str(), p.as_str(), w.as_str()),
            (
                "seamless:rl:binance:tat",
                "seamless:rl:binance:pause",
                "seamless:rl:binance:workers"
            )
        );
    }

    #[test]
    fn the_shared_bucket_uses_the_whole_budget_with_the_local_shape() {
        let spec = LimitSpec {
            budget: 100,
            window: Duration::from_secs(1),
            weight: 2,
            used_weight_header: None,
            share: Some(0.25),
            disabled: false,
        };
        let b = SharedBucket::new(Cluster::open("redis://127.0.0.1:1").unwrap(), "k", &spec);
        // 45% of 100 per second: one unit of weight every 1/45 s; burst 50 units.
        assert!(
            (b.interval_us - 1e6 / 45.0).abs() < 1e-2,
            "{}",
            b.interval_us
        );
        assert!((b.tau_us - 50.0 * 1e6 / 45.0).abs() < 1.0, "{}", b.tau_us);
        assert_eq!(b.max_ahead_us, 1_000_000);
    }

    #[test]
    fn scripts_read_the_time_from_redis() {
        assert!(ACQUIRE.contains("redis.call('TIME')"));
        assert!(ACQUIRE.contains("PTTL', KEYS[2]"));
        assert!(PAUSE.contains("'PX'"));
    }
}
