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

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter as Gcra};

use crate::components::HttpResponse;

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
    /// Fraction of the budget this process may use (1.0 alone; less when sharing).
    pub share: f64,
    /// No limiting at all (benchmarks against a local simulator).
    pub disabled: bool,
}

/// Fraction of the budget refilled per window.
const REFILL: f64 = 0.45;
/// Largest burst, as a fraction of the budget.
const BURST: f64 = 0.50;
/// Used-weight level (fraction of the budget) at which the key pauses until the next window.
const HIGH_WATER: f64 = 0.95;

/// One key's limiter and pause.
pub struct KeyLimiter {
    key: String,
    spec: LimitSpec,
    gcra: Option<DefaultDirectRateLimiter>,
    pause_until: Mutex<Option<Instant>>,
}

impl KeyLimiter {
    fn new(key: &str, spec: LimitSpec) -> Self {
        let gcra = (!spec.disabled && spec.budget > 0).then(|| {
            let budget = (spec.budget as f64 * spec.share.clamp(0.01, 1.0)).max(1.0);
            let per_cell = spec.window.as_secs_f64() / (budget * REFILL);
            let burst = ((budget * BURST) as u32).max(spec.weight.max(1));
            let quota = Quota::with_period(Duration::from_secs_f64(per_cell.max(1e-6)))
                .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
            Gcra::direct(quota)
        });
        KeyLimiter { key: key.to_string(), spec, gcra, pause_until: Mutex::new(None) }
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
        until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero())
    }

    /// Wait until one request may be sent. Returns the time waited.
    pub async fn acquire(&self) -> Duration {
        let started = Instant::now();
        loop {
            if let Some(d) = self.paused_for() {
                tokio::time::sleep(d).await;
                continue;
            }
            let Some(gcra) = &self.gcra else { break };
            let cells = NonZeroU32::new(self.spec.weight.max(1)).unwrap_or(NonZeroU32::MIN);
            match gcra.check_n(cells) {
                Ok(Ok(())) => break,
                Ok(Err(not_until)) => {
                    let wait = not_until.wait_time_from(governor::clock::Clock::now(&governor::clock::DefaultClock::default()));
                    tokio::time::sleep(wait.max(Duration::from_millis(1))).await;
                }
                // The request weighs more than the burst allows: never satisfiable; do not block.
                Err(_) => break,
            }
        }
        let waited = started.elapsed();
        if waited >= Duration::from_millis(1) {
            crate::metrics::ratelimit_wait(&self.key, waited.as_secs_f64());
        }
        waited
    }

    /// Pause every request of this key for `d`.
    pub fn pause(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut p = self.pause_until.lock().unwrap_or_else(|p| p.into_inner());
        if p.is_none_or(|cur| cur < until) {
            *p = Some(until);
        }
        crate::metrics::ratelimit_pause(&self.key, d.as_secs_f64());
    }

    /// Learn from a response: the used-weight header, 429 and 418.
    pub fn observe(&self, resp: &HttpResponse, retry_after: Option<Duration>) {
        if matches!(resp.status, 429 | 418) {
            crate::metrics::ratelimit_429(&self.key, resp.status);
            let d = retry_after.unwrap_or(if resp.status == 418 { Duration::from_secs(120) } else { Duration::from_secs(1) });
            tracing::warn!(key = %self.key, status = resp.status, pause_ms = d.as_millis() as u64, "exchange rate limit: pausing key");
            self.pause(d);
            return;
        }
        if self.spec.disabled {
            return;
        }
        let Some(h) = &self.spec.used_weight_header else { return };
        let Some(used) = resp.header(h).and_then(|v| v.trim().parse::<f64>().ok()) else { return };
        let budget = self.spec.budget as f64;
        crate::metrics::ratelimit_tokens(&self.key, (budget - used).max(0.0));
        if used + self.spec.weight as f64 > budget * HIGH_WATER {
            let d = until_next_window(self.spec.window);
            tracing::info!(key = %self.key, used, budget, pause_ms = d.as_millis() as u64, "window nearly spent: pausing until the next one");
            self.pause(d);
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
}

impl RateLimiters {
    /// The limiter of `key`, created from `spec` on first use.
    pub fn get(&self, key: &str, spec: impl FnOnce() -> LimitSpec) -> Arc<KeyLimiter> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        keys.entry(key.to_string()).or_insert_with(|| Arc::new(KeyLimiter::new(key, spec()))).clone()
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
            share: 1.0,
            disabled: false,
        }
    }

    #[tokio::test]
    async fn spend_per_window_stays_under_budget() {
        // 100 weight per 200 ms window, 2 per request: at most 50 requests per window.
        let l = KeyLimiter::new("t", spec(100, 200, 2));
        let start = Instant::now();
        let mut times = Vec::new();
        while start.elapsed() < Duration::from_millis(1000) {
            l.acquire().await;
            times.push(start.elapsed());
        }
        // Any 200 ms sliding window holds at most 95% of the budget.
        for (i, t) in times.iter().enumerate() {
            let n = times[i..].iter().take_while(|u| **u < *t + Duration::from_millis(200)).count();
            assert!(n * 2 <= 95, "{n} requests within 200 ms of {t:?}");
        }
        // And it is not starved: the burst plus 45% of the budget per window.
        assert!(times.len() >= 120, "only {} requests in 1 s", times.len());
    }

    #[tokio::test]
    async fn pause_blocks_until_it_ends() {
        let l = KeyLimiter::new("t", spec(1000, 60_000, 1));
        l.pause(Duration::from_millis(150));
        let waited = l.acquire().await;
        assert!(waited >= Duration::from_millis(140), "{waited:?}");
    }

    #[tokio::test]
    async fn used_weight_header_near_budget_pauses_to_next_window() {
        let l = KeyLimiter::new("t", spec(100, 300, 2));
        let resp = HttpResponse { status: 200, headers: vec![("X-Used".into(), "97".into())], body: vec![] };
        l.observe(&resp, None);
        assert!(l.paused_for().is_some());
        let resp = HttpResponse { status: 429, headers: vec![], body: vec![] };
        let l2 = KeyLimiter::new("u", spec(100, 300, 2));
        l2.observe(&resp, Some(Duration::from_millis(500)));
        assert!(l2.paused_for().unwrap() > Duration::from_millis(400));
    }

    #[tokio::test]
    async fn disabled_never_waits() {
        let mut s = spec(1, 60_000, 2);
        s.disabled = true;
        let l = KeyLimiter::new("t", s);
        for _ in 0..1000 {
            assert!(l.acquire().await < Duration::from_millis(5));
        }
    }
}
