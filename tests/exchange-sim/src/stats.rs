//! Request, response and injected-fault counters (lock-free on the hot path).
//!
//! Every request to an exchange route is counted per path (the exact URL path, e.g.
//! `/api/v3/klines`) and every response per HTTP status. Control routes (`/__sim/...`) are not
//! counted. Path counters are created on first sight (a read lock plus an atomic increment after
//! that); at most [`MAX_PATHS`] distinct paths are tracked, the rest are summed under `"other"`.
//!
//! Every fault the simulator injects into a candle request is counted by kind when it is
//! applied ([`Stats::record_fault`]); WebSocket drops are counted by [`crate::ws::WsHub`]. The
//! two together are [`Injected`].

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::faults::Fault;

/// Faults injected since start or the last reset, by kind (`"injected"` in `/__sim/stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Injected {
    /// Injected rate limits (429 with `Retry-After: 1`, in the venue's own words).
    pub rate_limited: u64,
    /// Injected bans (418 where the venue has one; venues without a ban status answer their
    /// rate limit instead).
    pub banned: u64,
    /// Injected error statuses (`Faults::error_status`, 503 by default).
    pub error: u64,
    /// 200 answers with a body made invalid JSON.
    pub malformed: u64,
    /// 200 answers with half the body.
    pub truncated: u64,
    /// WebSocket connections dropped by `Faults::ws_drop_every_n`.
    pub ws_drop: u64,
    /// WebSocket connections dropped on command (`Simulator::drop_websockets`,
    /// `POST /__sim/ws/drop`).
    pub ws_drop_commanded: u64,
}

/// Distinct paths tracked before further ones are lumped into `"other"`.
pub const MAX_PATHS: usize = 1024;

/// The counters of one simulator.
pub struct Stats {
    paths: RwLock<HashMap<String, Arc<AtomicU64>>>,
    statuses: [AtomicU64; 600],
    /// Injected candle-request faults: rate limited, banned, error, malformed, truncated.
    faults: [AtomicU64; 5],
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            paths: RwLock::new(HashMap::new()),
            statuses: std::array::from_fn(|_| AtomicU64::new(0)),
            faults: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

fn fault_index(f: Fault) -> usize {
    match f {
        Fault::RateLimited => 0,
        Fault::Banned => 1,
        Fault::Error(_) => 2,
        Fault::Malformed => 3,
        Fault::Truncated => 4,
    }
}

impl Stats {
    /// Counts one request to `path`.
    pub fn record_request(&self, path: &str) {
        if let Some(c) = self.read().get(path) {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut map = self.paths.write().unwrap_or_else(|e| e.into_inner());
        let key = if map.len() >= MAX_PATHS && !map.contains_key(path) {
            "other"
        } else {
            path
        };
        map.entry(key.to_string())
            .or_default()
            .fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one response with `status`.
    pub fn record_status(&self, status: u16) {
        let i = usize::from(status).min(self.statuses.len() - 1);
        self.statuses[i].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one fault injected into a candle request.
    pub fn record_fault(&self, fault: Fault) {
        self.faults[fault_index(fault)].fetch_add(1, Ordering::Relaxed);
    }

    /// The candle-request faults injected since the last reset (the WebSocket fields zero).
    pub fn injected(&self) -> Injected {
        let n = |f: Fault| self.faults[fault_index(f)].load(Ordering::Relaxed);
        Injected {
            rate_limited: n(Fault::RateLimited),
            banned: n(Fault::Banned),
            error: n(Fault::Error(0)),
            malformed: n(Fault::Malformed),
            truncated: n(Fault::Truncated),
            ..Injected::default()
        }
    }

    /// Requests to `path` since the last reset.
    pub fn requests(&self, path: &str) -> u64 {
        self.read()
            .get(path)
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Responses with `status` since the last reset.
    pub fn status_count(&self, status: u16) -> u64 {
        self.statuses
            .get(usize::from(status))
            .map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// Zeroes every counter.
    pub fn reset(&self) {
        for c in self.read().values() {
            c.store(0, Ordering::Relaxed);
        }
        for c in self.statuses.iter().chain(&self.faults) {
            c.store(0, Ordering::Relaxed);
        }
    }

    /// Non-zero counts per path.
    pub fn paths(&self) -> BTreeMap<String, u64> {
        self.read()
            .iter()
            .map(|(k, v)| (k.clone(), v.load(Ordering::Relaxed)))
            .filter(|(_, v)| *v > 0)
            .collect()
    }

    /// Non-zero counts per status.
    pub fn statuses(&self) -> BTreeMap<u16, u64> {
        self.statuses
            .iter()
            .enumerate()
            .map(|(i, c)| (i as u16, c.load(Ordering::Relaxed)))
            .filter(|(_, v)| *v > 0)
            .collect()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<AtomicU64>>> {
        self.paths.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_resets() {
        let s = Stats::default();
        s.record_request("/a");
        s.record_request("/a");
        s.record_request("/b");
        s.record_status(200);
        s.record_status(429);
        s.record_status(200);
        s.record_status(9999);
        assert_eq!(s.requests("/a"), 2);
        assert_eq!(s.requests("/c"), 0);
        assert_eq!(s.status_count(200), 2);
        assert_eq!(s.status_count(599), 1);
        assert_eq!(s.status_count(9999), 0);
        assert_eq!(s.paths().len(), 2);
        s.record_fault(Fault::Error(503));
        s.record_fault(Fault::Error(502));
        s.record_fault(Fault::Truncated);
        s.record_fault(Fault::Banned);
        assert_eq!(
            s.injected(),
            Injected {
                error: 2,
                truncated: 1,
                banned: 1,
                ..Injected::default()
            }
        );
        s.reset();
        assert_eq!(s.injected(), Injected::default());
        assert_eq!(s.requests("/a"), 0);
        assert!(s.statuses().is_empty());
        assert!(s.paths().is_empty());
    }

    #[test]
    fn path_table_is_bounded() {
        let s = Stats::default();
        for i in 0..MAX_PATHS + 10 {
            s.record_request(&format!("/p{i}"));
        }
        assert_eq!(s.requests("other"), 10);
        assert_eq!(s.paths().len(), MAX_PATHS + 1);
    }
}
