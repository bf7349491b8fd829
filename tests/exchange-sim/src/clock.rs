//! The simulated exchange clock.
//!
//! Two notions of time exist in the simulator:
//! - the **market clock** ([`Clock`]): decides which candles exist (closed when
//!   `open_time + tf <= now`, the forming one after that) and what `serverTime` says. Tests usually
//!   pin it with [`Clock::Fixed`] so that every run sees the same data, or run it faster than real
//!   time with [`Clock::Fast`] to watch live candles close quickly;
//! - the **wall clock** ([`wall_ms`]): always real time. Rate limiting (the used-weight minute
//!   window, `Retry-After`, bans) and the WebSocket update/ping periods run on it, because clients
//!   sleep in real time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Where the market clock's "now" comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    /// A fixed instant, ms since the epoch.
    Fixed(i64),
    /// The machine's real time.
    #[default]
    Wall,
    /// Market time running `speed` times faster than wall time from `origin_ms`, which it showed
    /// at wall time `wall_origin_ms`: `now = origin_ms + (wall_ms() - wall_origin_ms) * speed`.
    /// Speed 600 runs one simulated minute per 100 ms of wall time; speed 0 stays at `origin_ms`.
    Fast {
        /// Market time at `wall_origin_ms`, ms since the epoch.
        origin_ms: i64,
        /// Wall time at which the market clock showed `origin_ms`.
        wall_origin_ms: i64,
        /// Market ms per wall ms.
        speed: u32,
    },
}

impl Clock {
    /// A fast clock showing `origin_ms` now and running `speed` times faster than wall time.
    pub fn fast(origin_ms: i64, speed: u32) -> Clock {
        Clock::Fast {
            origin_ms,
            wall_origin_ms: wall_ms(),
            speed,
        }
    }

    /// The current market time in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.at_wall(wall_ms())
    }

    /// The market time when the wall clock shows `wall`.
    pub fn at_wall(&self, wall: i64) -> i64 {
        match *self {
            Clock::Fixed(ms) => ms,
            Clock::Wall => wall,
            Clock::Fast {
                origin_ms,
                wall_origin_ms,
                speed,
            } => origin_ms.saturating_add(
                wall.saturating_sub(wall_origin_ms)
                    .saturating_mul(i64::from(speed)),
            ),
        }
    }

    /// Market ms per wall ms (0 for a fixed clock).
    pub fn speed(&self) -> u32 {
        match *self {
            Clock::Fixed(_) => 0,
            Clock::Wall => 1,
            Clock::Fast { speed, .. } => speed,
        }
    }
}

/// Real time in ms since the epoch (0 if the system clock is before 1970).
pub fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_is_fixed() {
        assert_eq!(Clock::Fixed(1_700_000_000_000).now_ms(), 1_700_000_000_000);
        assert_eq!(Clock::Fixed(5).speed(), 0);
    }

    #[test]
    fn wall_clock_is_recent() {
        // After 2024-01-01 and before 2100.
        let now = Clock::Wall.now_ms();
        assert!(now > 1_704_067_200_000 && now < 4_102_444_800_000);
        assert_eq!(Clock::default(), Clock::Wall);
        assert_eq!(Clock::Wall.speed(), 1);
    }

    #[test]
    fn fast_clock_runs_fast() {
        let c = Clock::Fast {
            origin_ms: 1_000_000,
            wall_origin_ms: 500,
            speed: 600,
        };
        assert_eq!(c.at_wall(500), 1_000_000);
        assert_eq!(c.at_wall(600), 1_060_000);
        assert_eq!(c.at_wall(400), 940_000);
        assert_eq!(c.speed(), 600);
        // Saturates instead of overflowing.
        let huge = Clock::Fast {
            origin_ms: i64::MAX - 5,
            wall_origin_ms: 0,
            speed: u32::MAX,
        };
        assert_eq!(huge.at_wall(i64::MAX), i64::MAX);
        // The constructor starts at the origin.
        let f = Clock::fast(1_718_000_000_000, 600);
        let now = f.now_ms();
        assert!((1_718_000_000_000..1_718_000_000_000 + 600_000).contains(&now));
        assert_eq!(Clock::fast(7, 0).now_ms(), 7);
    }
}
