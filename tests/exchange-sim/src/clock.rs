//! The simulated exchange clock.
//!
//! Two notions of time exist in the simulator:
//! - the **market clock** ([`Clock`]): decides which candles exist (closed when
//!   `open_time + tf <= now`, the forming one after that) and what `serverTime` says. Tests usually
//!   pin it with [`Clock::Fixed`] so that every run sees the same data;
//! - the **wall clock** ([`wall_ms`]): always real time. Rate limiting (the used-weight minute
//!   window, `Retry-After`, bans) runs on it, because clients sleep in real time.

use std::time::{SystemTime, UNIX_EPOCH};

/// Where the market clock's "now" comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Clock {
    /// A fixed instant, ms since the epoch.
    Fixed(i64),
    /// The machine's real time.
    #[default]
    Wall,
}

impl Clock {
    /// The current market time in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        match *self {
            Clock::Fixed(ms) => ms,
            Clock::Wall => wall_ms(),
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
    }

    #[test]
    fn wall_clock_is_recent() {
        // After 2024-01-01 and before 2100.
        let now = Clock::Wall.now_ms();
        assert!(now > 1_704_067_200_000 && now < 4_102_444_800_000);
        assert_eq!(Clock::default(), Clock::Wall);
    }
}
