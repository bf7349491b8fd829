//! Half-open time windows `[start, end)` and their alignment to a timeframe grid.

use std::fmt;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{Timeframe, format_ms};

/// A half-open window `[start, end)` in ms since the epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Window {
    pub start: i64,
    pub end: i64,
}

/// A window that cannot be served.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum WindowError {
    #[error("start {} is not before end {}: give a start earlier than the end", format_ms(*.start), format_ms(*.end))]
    Empty { start: i64, end: i64 },
}

impl Window {
    /// A non-empty window.
    pub fn new(start: i64, end: i64) -> Result<Self, WindowError> {
        if start >= end {
            return Err(WindowError::Empty { start, end });
        }
        Ok(Window { start, end })
    }

    /// The window widened to the grid of `tf` (start floored, end ceiled), and whether
    /// it changed.
    pub fn align(self, tf: Timeframe) -> (Window, bool) {
        let w = Window {
            start: tf.floor(self.start),
            end: tf.ceil(self.end),
        };
        (w, w != self)
    }

    /// Length in ms.
    pub fn len_ms(self) -> i64 {
        self.end - self.start
    }

    /// True when `t` lies inside.
    pub fn contains(self, t: i64) -> bool {
        self.start <= t && t < self.end
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", format_ms(self.start), format_ms(self.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align_widens_to_grid() {
        let w = Window::new(90_000, 150_000).unwrap();
        let (a, changed) = w.align(Timeframe::M1);
        assert_eq!(
            a,
            Window {
                start: 60_000,
                end: 180_000
            }
        );
        assert!(changed);
        let (b, changed) = a.align(Timeframe::M1);
        assert_eq!(b, a);
        assert!(!changed);
    }

    #[test]
    fn empty_is_refused() {
        assert!(Window::new(5, 5).is_err());
        let e = Window::new(10, 5).unwrap_err().to_string();
        assert!(e.contains("not before end"), "{e}");
    }
}
