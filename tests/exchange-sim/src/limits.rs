//! Request-weight budget per wall-clock window (a minute, like Binance; shorter windows
//! make rate-limit tests fast), with 429s and IP bans (Binance's model).
//!
//! - Each request has a weight; the used weight resets at every real-time minute boundary
//!   (`wall_ms / 60_000` changes). It is reported on every response (`X-MBX-USED-WEIGHT-1M`).
//! - A request whose weight would push the minute over the budget is refused with 429 and
//!   `Retry-After` = seconds until the minute ends (at least 1). Refused requests use no weight.
//! - Once `ban_after_429s` requests were refused with 429 in the same minute, the next refused
//!   request bans the client: 418 with `Retry-After` = the ban length, and every request until the
//!   ban ends is answered 418 too (the ban survives minute boundaries).
//!
//! The limiter takes the wall time as an argument so tests can drive it without sleeping. Like a
//! real exchange behind one IP, one limiter serves every client of the simulator.

use crate::timeframe::MINUTE_MS;

/// What to do with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Serve it. `used` = weight used in this minute including this request.
    Allowed { used: u32 },
    /// 429: over the budget.
    Limited { used: u32, retry_after_s: u64 },
    /// 418: banned until `until_ms` (wall clock).
    Banned {
        used: u32,
        until_ms: i64,
        retry_after_s: u64,
    },
}

/// The weight budget of one client address.
#[derive(Clone, Debug)]
pub struct WeightLimiter {
    budget: u32,
    ban_after_429s: u32,
    ban_ms: i64,
    window_ms: i64,
    minute: i64,
    used: u32,
    limited: u32,
    banned_until: i64,
}

impl WeightLimiter {
    /// A limiter with `budget` weight per minute; `ban_after_429s` 429s in a minute lead to a ban
    /// of `ban_seconds`.
    pub fn new(budget: u32, ban_after_429s: u32, ban_seconds: u64) -> Self {
        WeightLimiter {
            budget,
            ban_after_429s,
            ban_ms: i64::try_from(ban_seconds.saturating_mul(1000)).unwrap_or(i64::MAX / 2),
            window_ms: MINUTE_MS,
            minute: i64::MIN,
            used: 0,
            limited: 0,
            banned_until: i64::MIN,
        }
    }

    /// Use windows of `window_ms` (≥ 1) instead of one minute.
    pub fn with_window(mut self, window_ms: u64) -> Self {
        self.window_ms = i64::try_from(window_ms.max(1)).unwrap_or(MINUTE_MS);
        self
    }

    fn roll(&mut self, now_ms: i64) {
        let minute = now_ms.div_euclid(self.window_ms);
        if minute != self.minute {
            self.minute = minute;
            self.used = 0;
            self.limited = 0;
        }
    }

    /// Decides on a request of `weight` at wall time `now_ms`.
    pub fn admit(&mut self, weight: u32, now_ms: i64) -> Admission {
        self.roll(now_ms);
        if now_ms < self.banned_until {
            return self.banned(now_ms);
        }
        if self.used.saturating_add(weight) <= self.budget {
            self.used += weight;
            return Admission::Allowed { used: self.used };
        }
        if self.limited >= self.ban_after_429s {
            self.banned_until = now_ms.saturating_add(self.ban_ms);
            return self.banned(now_ms);
        }
        self.limited += 1;
        let minute_end = (self.minute + 1) * self.window_ms;
        Admission::Limited {
            used: self.used,
            retry_after_s: ceil_secs(minute_end - now_ms),
        }
    }

    fn banned(&self, now_ms: i64) -> Admission {
        Admission::Banned {
            used: self.used,
            until_ms: self.banned_until,
            retry_after_s: ceil_secs(self.banned_until - now_ms),
        }
    }

    /// Weight used in the minute of `now_ms`.
    pub fn used(&mut self, now_ms: i64) -> u32 {
        self.roll(now_ms);
        self.used
    }

    /// The budget per minute.
    pub fn budget(&self) -> u32 {
        self.budget
    }

    /// Forgets used weight, 429s and any ban.
    pub fn reset(&mut self) {
        self.minute = i64::MIN;
        self.used = 0;
        self.limited = 0;
        self.banned_until = i64::MIN;
    }
}

fn ceil_secs(ms: i64) -> u64 {
    u64::try_from((ms + 999) / 1000).unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_020_000; // 40 s into a minute

    #[test]
    fn budget_then_429_then_418() {
        let mut l = WeightLimiter::new(10, 3, 120);
        for i in 1..=5 {
            assert_eq!(
                l.admit(2, T0 + i),
                Admission::Allowed { used: 2 * i as u32 }
            );
        }
        // 20 s left in the minute.
        for _ in 0..3 {
            assert_eq!(
                l.admit(2, T0 + 100),
                Admission::Limited {
                    used: 10,
                    retry_after_s: 20
                }
            );
        }
        let ban = l.admit(2, T0 + 200);
        assert_eq!(
            ban,
            Admission::Banned {
                used: 10,
                until_ms: T0 + 200 + 120_000,
                retry_after_s: 120
            }
        );
        // Still banned in the next minutes, even for cheap requests.
        assert!(matches!(
            l.admit(1, T0 + 30_000),
            Admission::Banned {
                used: 0,
                retry_after_s: 91,
                ..
            }
        ));
        // Ban over: a fresh minute budget.
        assert_eq!(
            l.admit(2, T0 + 200 + 120_000),
            Admission::Allowed { used: 2 }
        );
    }

    #[test]
    fn minute_rolls_over() {
        let mut l = WeightLimiter::new(4, 3, 120);
        assert_eq!(l.admit(4, T0), Admission::Allowed { used: 4 });
        assert_eq!(
            l.admit(1, T0 + 19_999),
            Admission::Limited {
                used: 4,
                retry_after_s: 1
            }
        );
        assert_eq!(l.used(T0 + 19_999), 4);
        assert_eq!(l.admit(1, T0 + 20_000), Admission::Allowed { used: 1 });
        assert_eq!(l.used(T0 + 80_000), 0);
        // 429 counts reset with the minute: three more 429s allowed before a ban.
        l.admit(4, T0 + 80_000);
        for _ in 0..3 {
            assert!(matches!(l.admit(1, T0 + 80_001), Admission::Limited { .. }));
        }
        assert!(matches!(l.admit(1, T0 + 80_002), Admission::Banned { .. }));
        l.reset();
        assert_eq!(l.admit(1, T0 + 80_003), Admission::Allowed { used: 1 });
    }

    #[test]
    fn zero_ban_threshold_bans_immediately() {
        let mut l = WeightLimiter::new(0, 0, 5);
        assert!(matches!(
            l.admit(1, T0),
            Admission::Banned {
                retry_after_s: 5,
                ..
            }
        ));
        assert_eq!(l.budget(), 0);
    }
}
