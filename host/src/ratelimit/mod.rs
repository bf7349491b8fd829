//! Rate limiting per exchange key.
//!
//! Each key (an exchange id, optionally with an account) gets a GCRA limiter (governor)
//! built from the adapter's hint — weight budget per window, weight per request — that
//! keeps the spend in any window under the budget: it bursts up to 50% of the budget and
//! refills 45% per window, so the worst window sees ≤ 95% while a job smaller than half
//! the budget runs without waiting. The
//! exchange's used-weight header corrects it: when the exchange says the window is
//! nearly spent, the key pauses until the next window starts. A 429's `Retry-After` and a
//! 418's ban pause the whole key, so every task sharing it waits.
//!
//! In cluster mode ([`RateLimiters::clustered`]) the budget and the pause live in Redis
//! ([`redis`]: one atomic Lua script per acquire) and are shared by every worker. When Redis
//! cannot be reached the key falls back to a local limiter at a share of the budget
//! (`ratelimit.<id>.share`; by default 1 / the number of workers active on the key when
//! Redis was last seen, or 0.5 if it never was), starting with an empty bucket so the switch
//! adds no burst on top of what the cluster already spent. The fallback is logged once per
//! outage and counted (`seamless_ratelimit_fallback_total`); the key rejoins the shared
//! limiter as soon as Redis answers again (retried at most every few seconds, and never
//! blocking a request longer than the cluster's short timeout).

pub mod redis;

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter as Gcra};

use self::redis::{Grant, SharedBucket};
use crate::coord::{Cluster, CoordError};
use crate::net::HttpResponse;

/// Limits for one key.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitSpec {
    /// Weight allowed per window.
    pub budget: u32,
    /// The exchange's window (Binance: one minute, aligned to the wall clock).
    pub window: Duration,
    /// Weight of one request.
    pub weight: u32,
    /// Response header reporting the weight used in the current window.
    pub used_weight_header: Option<String>,
    /// Fraction of the budget this process may use on its own. `None`: 1.0 alone; in
    /// cluster mode, while Redis is unreachable, 1 / the workers last seen active on the
    /// key, or 0.5 if Redis was never reached.
    pub share: Option<f64>,
    /// No limiting at all (benchmarks against a local simulator).
    pub disabled: bool,
}

/// Fraction of the budget refilled per window.
const REFILL: f64 = 0.45;
/// Largest burst, as a fraction of the budget.
const BURST: f64 = 0.50;
/// Used-weight level (fraction of the budget) at which the key pauses until the next window.
const HIGH_WATER: f64 = 0.95;

/// Fallback share of the budget when the number of workers was never seen.
pub const UNKNOWN_WORKERS_SHARE: f64 = 0.5;

/// The GCRA of a budget: (emission interval per unit of weight, burst tolerance). The
/// same shape locally and in Redis: a burst of 50% of the budget (at least one request),
/// refilled at 45% of the budget per window.
pub fn gcra_params(budget: u32, window: Duration, weight: u32) -> (Duration, Duration) {
    let (interval, burst) = shape(budget as f64, window, weight);
    (interval, interval.mul_f64(burst as f64))
}

fn shape(budget: f64, window: Duration, weight: u32) -> (Duration, u32) {
    let budget = budget.max(1.0);
    let per_cell = window.as_secs_f64() / (budget * REFILL);
    let burst = ((budget * BURST) as u32).max(weight.max(1));
    (Duration::from_secs_f64(per_cell.max(1e-6)), burst)
}

fn local_gcra(budget: f64, window: Duration, weight: u32) -> DefaultDirectRateLimiter {
    let (per_cell, burst) = shape(budget, window, weight);
    let quota = Quota::with_period(per_cell)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
    Gcra::direct(quota)
}

/// The cluster side of a key: the shared bucket and the local fallback.
struct SharedState {
    bucket: SharedBucket,
    /// The local limiter in use while Redis is unreachable.
    fallback: Mutex<Option<Arc<DefaultDirectRateLimiter>>>,
    falling_back: AtomicBool,
}

/// One key's limiter and pause.
pub struct KeyLimiter {
    key: String,
    spec: LimitSpec,
    gcra: Option<DefaultDirectRateLimiter>,
    pause_until: Mutex<Option<Instant>>,
    shared: Option<SharedState>,
}

impl KeyLimiter {
    fn new(key: &str, spec: LimitSpec, cluster: Option<Cluster>) -> Self {
        let limited = !spec.disabled && spec.budget > 0;
        let shared = cluster.filter(|_| limited).map(|c| SharedState {
            bucket: SharedBucket::new(c, key, &spec),
            fallback: Mutex::new(None),
            falling_back: AtomicBool::new(false),
        });
        let gcra = (limited && shared.is_none()).then(|| {
            local_gcra(
                spec.budget as f64 * spec.share.unwrap_or(1.0).clamp(0.01, 1.0),
                spec.window,
                spec.weight,
            )
        });
        KeyLimiter {
            key: key.to_string(),
            spec,
            gcra,
            pause_until: Mutex::new(None),
            shared,
        }
    }

    /// Whether the key uses the cluster's shared limiter (when Redis is reachable).
    pub fn is_clustered(&self) -> bool {
        self.shared.is_some()
    }

    /// Whether the key is running on its local fallback (Redis unreachable).
    pub fn is_falling_back(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|s| s.falling_back.load(Ordering::Relaxed))
    }

    /// The key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The limits in force.
    pub fn spec(&self) -> &LimitSpec {
        &self.spec
    }

    fn paused_for(&self) -> Option<Duration> {
        let until = (*self.pause_until.lock().unwrap_or_else(|p| p.into_inner()))?;
        until
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    }

    /// Wait until one request may be sent. Returns the time waited.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        loop {
            if let Some(d) = self.paused_for() {
                tokio::time::sleep(d).await;
                continue;
            }
            if let Some(shared) = &self.shared {
                match shared.bucket.acquire().await {
                    Ok(Grant::Go(wait)) => {
                        self.rejoined(shared);
                        if !wait.is_zero() {
                            tokio::time::sleep(wait).await;
                            self.wait_out_pauses(shared).await;
                        }
                        break;
                    }
                    Ok(Grant::Retry(d) | Grant::Paused(d)) => {
                        self.rejoined(shared);
                        tokio::time::sleep(d.max(Duration::from_millis(1))).await;
                    }
                    Err(e) => match check(&self.fell_back(shared, &e), self.spec.weight) {
                        None => break,
                        Some(wait) => tokio::time::sleep(wait).await,
                    },
                }
                continue;
            }
            let Some(gcra) = &self.gcra else { break };
            match check(gcra, self.spec.weight) {
                None => break,
                Some(wait) => tokio::time::sleep(wait).await,
            }
        }
        let waited = started.elapsed();
        if waited >= Duration::from_millis(1) {
            crate::metrics::ratelimit_wait(&self.key, waited.as_secs_f64());
        }
        waited
    }

    /// After a reserved wait: a pause may have started meanwhile (another worker's 429).
    async fn wait_out_pauses(&self, shared: &SharedState) {
        if let Some(d) = self.paused_for() {
            tokio::time::sleep(d).await;
        }
        if let Ok(Some(d)) = shared.bucket.paused_for().await {
            tokio::time::sleep(d).await;
        }
    }

    /// Redis answered: leave the fallback if we were on it.
    fn rejoined(&self, shared: &SharedState) {
        if shared.falling_back.swap(false, Ordering::Relaxed) {
            *shared.fallback.lock().unwrap_or_else(|p| p.into_inner()) = None;
            tracing::warn!(key = %self.key, redis = %shared.bucket.cluster().url(), "Redis is back: rejoined the cluster rate limiter");
        }
    }

    /// Redis is unreachable: the local fallback limiter (created, logged and counted once
    /// per outage).
    fn fell_back(&self, shared: &SharedState, e: &CoordError) -> Arc<DefaultDirectRateLimiter> {
        let mut fallback = shared.fallback.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(f) = fallback.as_ref() {
            return f.clone();
        }
        let workers = shared.bucket.workers();
        let share = self.spec.share.unwrap_or(if workers > 0 {
            1.0 / workers as f64
        } else {
            UNKNOWN_WORKERS_SHARE
        });
        let share = share.clamp(0.01, 1.0);
        let gcra = local_gcra(
            self.spec.budget as f64 * share,
            self.spec.window,
            self.spec.weight,
        );
        // Start empty: the cluster may have spent this window already.
        let cells = NonZeroU32::new(self.spec.weight.max(1)).unwrap_or(NonZeroU32::MIN);
        while matches!(gcra.check_n(cells), Ok(Ok(()))) {}
        let gcra = Arc::new(gcra);
        *fallback = Some(gcra.clone());
        shared.falling_back.store(true, Ordering::Relaxed);
        crate::metrics::ratelimit_fallback(&self.key);
        tracing::warn!(
            key = %self.key,
            error = %e,
            share,
            workers_seen = workers,
            "cluster rate limiter unreachable: falling back to local limiting at this share of the budget until Redis is back"
        );
        gcra
    }

    /// Pause every request of this key for `d` (in cluster mode: every worker's).
    pub async fn pause(&self, d: Duration) {
        self.pause_local(d);
        if let Some(shared) = &self.shared
            && let Err(e) = shared.bucket.pause(d, "exchange asked to wait").await
        {
            tracing::debug!(key = %self.key, error = %e, "cannot share the pause");
        }
    }

    /// Pause until `d` from now (or longer, if a pause in force lasts longer). Counted as a
    /// pause only when none was in force: the 429 the limiter observes and the adapter's
    /// `rate-limited` answer for the same response are one pause, not two.
    fn pause_local(&self, d: Duration) {
        let now = Instant::now();
        let until = now + d;
        let mut p = self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
        let in_force = p.is_some_and(|cur| cur > now);
        if p.is_none_or(|cur| cur < until) {
            *p = Some(until);
        }
        if !in_force {
            crate::metrics::ratelimit_pause(&self.key, d.as_secs_f64());
        }
    }

    /// Learn from a response: the used-weight header, 429 and 418.
    pub async fn observe(&self, resp: &HttpResponse, retry_after: Option<Duration>) {
        if matches!(resp.status, 429 | 418) {
            crate::metrics::ratelimit_429(&self.key, resp.status);
            let d = retry_after.unwrap_or(if resp.status == 418 {
                Duration::from_secs(120)
            } else {
                Duration::from_secs(1)
            });
            tracing::warn!(key = %self.key, status = resp.status, pause_ms = d.as_millis() as u64, "exchange rate limit: pausing key");
            self.pause(d).await;
            return;
        }
        if self.spec.disabled {
            return;
        }
        let Some(h) = &self.spec.used_weight_header else {
            return;
        };
        let Some(used) = resp.header(h).and_then(|v| v.trim().parse::<f64>().ok()) else {
            return;
        };
        let budget = self.spec.budget as f64;
        crate::metrics::ratelimit_tokens(&self.key, (budget - used).max(0.0));
        // The exchange's count is the truth (it sees every worker, and clients outside the
        // cluster): near the budget, everyone waits for the next window.
        if used + self.spec.weight as f64 > budget * HIGH_WATER {
            let d = until_next_window(self.spec.window);
            tracing::info!(key = %self.key, used, budget, pause_ms = d.as_millis() as u64, "window nearly spent: pausing until the next one");
            self.pause(d).await;
        }
    }
}

/// Take `weight` from a local GCRA: `None` when taken, else how long to wait first. A
/// weight larger than the burst can never be taken: let it through rather than block.
fn check(gcra: &DefaultDirectRateLimiter, weight: u32) -> Option<Duration> {
    let cells = NonZeroU32::new(weight.max(1)).unwrap_or(NonZeroU32::MIN);
    match gcra.check_n(cells) {
        Ok(Ok(())) | Err(_) => None,
        Ok(Err(not_until)) => {
            // The limiter's own clock: a new `DefaultClock` would recalibrate quanta (and
            // run CPUID) on every throttled request.
            let wait = not_until.wait_time_from(governor::clock::Clock::now(gcra.clock()));
            Some(wait.max(Duration::from_millis(1)))
        }
    }
}

/// Time until the next wall-clock-aligned window starts (plus a small margin).
fn until_next_window(window: Duration) -> Duration {
    let w = window.as_millis().max(1) as i64;
    let now = crate::domain::now_ms();
    let next = (now / w + 1) * w;
    Duration::from_millis((next - now) as u64 + 20)
}

/// Limiters by key.
#[derive(Default, Clone)]
pub struct RateLimiters {
    keys: Arc<Mutex<HashMap<String, Arc<KeyLimiter>>>>,
    cluster: Option<Cluster>,
}

impl RateLimiters {
    /// Limiters sharing their budgets and pauses through `cluster` (Redis).
    pub fn clustered(cluster: Cluster) -> Self {
        RateLimiters {
            keys: Arc::default(),
            cluster: Some(cluster),
        }
    }

    /// The limiter of `key`, created from `spec` on first use.
    pub fn get(&self, key: &str, spec: impl FnOnce() -> LimitSpec) -> Arc<KeyLimiter> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.entry(key.to_string())
            .or_insert_with(|| Arc::new(KeyLimiter::new(key, spec(), self.cluster.clone())))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(budget: u32, window_ms: u64, weight: u32) -> LimitSpec {
        LimitSpec {
            budget,
            window: Duration::from_millis(window_ms),
            weight,
            used_weight_header: Some("x-used".into()),
            share: None,
            disabled: false,
        }
    }

    #[tokio::test]
    async fn spend_per_window_stays_under_budget() {
        // 100 weight per 200 ms window, 2 per request: at most 50 requests per window.
        let l = KeyLimiter::new("t", spec(100, 200, 2), None);
        let start = Instant::now();
        let mut times = Vec::new();
        while start.elapsed() < Duration::from_millis(1000) {
            l.acquire().await;
            times.push(start.elapsed());
        }
        // Any 200 ms sliding window holds at most 95% of the budget.
        for (i, t) in times.iter().enumerate() {
            let n = times[i..]
                .iter()
                .take_while(|u| **u < *t + Duration::from_millis(200))
                .count();
            assert!(n * 2 <= 95, "{n} requests within 200 ms of {t:?}");
        }
        // And it is not starved: the burst plus 45% of the budget per window.
        assert!(times.len() >= 120, "only {} requests in 1 s", times.len());
    }

    #[tokio::test]
    async fn pause_blocks_until_it_ends() {
        let l = KeyLimiter::new("t", spec(1000, 60_000, 1), None);
        l.pause(Duration::from_millis(150)).await;
        let waited = l.acquire().await;
        assert!(waited >= Duration::from_millis(140), "{waited:?}");
    }

    #[tokio::test]
    async fn a_429_and_the_adapters_rate_limited_answer_are_one_pause() {
        crate::metrics::install();
        let key = "pause-counted-once";
        let l = KeyLimiter::new(key, spec(1000, 60_000, 1), None);
        let resp = HttpResponse {
            status: 429,
            headers: vec![],
            body: vec![],
        };
        l.observe(&resp, Some(Duration::from_millis(300))).await;
        l.pause(Duration::from_millis(300)).await; // the adapter's `rate-limited(300)`
        let line = format!("seamless_ratelimit_pauses_total{{key=\"{key}\"}} 1");
        let text = crate::metrics::render();
        assert!(text.lines().any(|l| l == line), "{text}");
        // After it ends, the next one counts.
        tokio::time::sleep(Duration::from_millis(320)).await;
        l.pause(Duration::from_millis(10)).await;
        let line = format!("seamless_ratelimit_pauses_total{{key=\"{key}\"}} 2");
        let text = crate::metrics::render();
        assert!(text.lines().any(|l| l == line), "{text}");
    }

    #[tokio::test]
    async fn used_weight_header_near_budget_pauses_to_next_window() {
        let l = KeyLimiter::new("t", spec(100, 300, 2), None);
        let resp = HttpResponse {
            status: 200,
            headers: vec![("X-Used".into(), "97".into())],
            body: vec![],
        };
        l.observe(&resp, None).await;
        assert!(l.paused_for().is_some());
        let resp = HttpResponse {
            status: 429,
            headers: vec![],
            body: vec![],
        };
        let l2 = KeyLimiter::new("u", spec(100, 300, 2), None);
        l2.observe(&resp, Some(Duration::from_millis(500))).await;
        assert!(l2.paused_for().unwrap() > Duration::from_millis(400));
    }

    #[tokio::test]
    async fn a_dead_redis_falls_back_to_half_the_budget_starting_empty() {
        let c = Cluster::open("redis://127.0.0.1:1/0?reconnect_ms=60000").unwrap();
        // 100 weight per second at 2 per request; the fallback's share is 0.5 (no worker
        // count was ever seen): 22.5 weight/s, one request per ~89 ms, and no burst.
        let l = KeyLimiter::new("fb", spec(100, 1000, 2), Some(c));
        assert!(l.is_clustered() && !l.is_falling_back());
        let t = Instant::now();
        for _ in 0..5 {
            l.acquire().await;
        }
        assert!(l.is_falling_back());
        let e = t.elapsed();
        assert!(
            e >= Duration::from_millis(400) && e < Duration::from_millis(1500),
            "{e:?}"
        );
    }

    #[test]
    fn local_and_shared_limiters_have_one_shape() {
        let (interval, tau) = gcra_params(100, Duration::from_secs(1), 2);
        assert_eq!(interval, Duration::from_secs_f64(1.0 / 45.0));
        assert_eq!(tau, interval * 50);
        // A request heavier than half the budget still fits the burst.
        let (interval, tau) = gcra_params(4, Duration::from_secs(1), 3);
        assert_eq!(tau, interval * 3);
    }

    #[tokio::test]
    async fn disabled_never_waits() {
        let mut s = spec(1, 60_000, 2);
        s.disabled = true;
        let l = KeyLimiter::new("t", s, None);
        for _ in 0..1000 {
            assert!(l.acquire().await < Duration::from_millis(5));
        }
    }
}
