//! Where "now" comes from. Closed-ness (`open_time + tf <= now`) and the live feed's
//! handoff depend on it, so the host reads time only through a [`Clock`]: the system
//! clock in production, a fixed instant for reproducible runs, or any function (a test
//! following a fast-running simulated exchange).

use std::fmt;
use std::sync::Arc;

/// A source of the current time in ms since the epoch, UTC. Cheap to clone.
#[derive(Clone, Default)]
pub enum Clock {
    /// The machine's clock.
    #[default]
    System,
    /// A fixed instant.
    Fixed(i64),
    /// Any function, e.g. a simulated exchange's clock.
    Func(Arc<dyn Fn() -> i64 + Send + Sync>),
}

impl Clock {
    /// A clock reading `f`.
    pub fn from_fn(f: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Clock::Func(Arc::new(f))
    }

    /// The current time in ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        match self {
            Clock::System => super::now_ms(),
            Clock::Fixed(ms) => *ms,
            Clock::Func(f) => f(),
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Clock::System => f.write_str("Clock::System"),
            Clock::Fixed(ms) => write!(f, "Clock::Fixed({ms})"),
            Clock::Func(_) => f.write_str("Clock::Func"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_read_their_source() {
        assert_eq!(Clock::Fixed(42).now_ms(), 42);
        assert_eq!(Clock::from_fn(|| 7).now_ms(), 7);
        assert!(Clock::System.now_ms() > 1_700_000_000_000);
    }
}
