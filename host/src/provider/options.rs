//! What a caller asks of a fetch: the availability strategy, whether a partial frame is
//! acceptable, and the SLA budgets with what to do when one is broken.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;

/// How to get data that storage does not hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Storage only; error listing the missing ranges unless `partial_ok`.
    FailFast,
    /// Backfill every gap, then serve.
    AutoBackfill,
    /// Serve what storage has now; backfill the rest in the background; mark partial.
    PartialFill,
    /// Storage, then backfill, then the live phase (the default). The provider serves
    /// the closed part like `AutoBackfill`; the live phase is added on top by
    /// the live layer's `fetch_with_live`.
    #[default]
    Seamless,
}

impl Strategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::FailFast => "fail-fast",
            Strategy::AutoBackfill => "auto-backfill",
            Strategy::PartialFill => "partial-fill",
            Strategy::Seamless => "seamless",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Strategy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fail-fast" => Ok(Strategy::FailFast),
            "auto-backfill" => Ok(Strategy::AutoBackfill),
            "partial-fill" => Ok(Strategy::PartialFill),
            "seamless" => Ok(Strategy::Seamless),
            _ => Err(format!(
                "unknown strategy '{s}': use seamless, fail-fast, auto-backfill or partial-fill"
            )),
        }
    }
}

/// What to do when an SLA budget is broken (defined with the configuration keys).
/// What an SLA breach does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnViolation {
    /// Error naming the phase, the elapsed time and the budget.
    #[default]
    FailFast,
    /// Return what is ready, marked downgraded.
    PartialFill,
    /// Return nothing new, marked held.
    Hold,
}

impl OnViolation {
    /// Every policy, in documentation order.
    pub const ALL: [OnViolation; 3] = [
        OnViolation::FailFast,
        OnViolation::PartialFill,
        OnViolation::Hold,
    ];

    /// The kebab-case name (`fail-fast`, `partial-fill`, `hold`).
    pub fn as_str(self) -> &'static str {
        match self {
            OnViolation::FailFast => "fail-fast",
            OnViolation::PartialFill => "partial-fill",
            OnViolation::Hold => "hold",
        }
    }
}

impl fmt::Display for OnViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `on_violation` name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown on_violation {0:?}: use one of fail-fast, partial-fill, hold")]
pub struct ParseOnViolationError(pub String);

impl FromStr for OnViolation {
    type Err = ParseOnViolationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        OnViolation::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(t) || v.as_str().replace('-', "_") == t)
            .ok_or_else(|| ParseOnViolationError(s.to_string()))
    }
}

/// A phase of serving a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    Storage,
    Backfill,
    Live,
    Total,
    /// The max-missing-bars guard.
    Coverage,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Storage => "storage",
            Phase::Backfill => "backfill",
            Phase::Live => "live",
            Phase::Total => "total",
            Phase::Coverage => "coverage",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// SLA budgets per phase and the missing-bars guard.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sla {
    pub storage: Option<Duration>,
    pub backfill: Option<Duration>,
    pub live: Option<Duration>,
    pub total: Option<Duration>,
    /// Most closed grid slots that may stay missing.
    pub max_missing_bars: Option<u64>,
    pub on_violation: OnViolation,
}

impl Sla {
    /// The budget of `phase`.
    pub fn budget(&self, phase: Phase) -> Option<Duration> {
        match phase {
            Phase::Storage => self.storage,
            Phase::Backfill => self.backfill,
            Phase::Live => self.live,
            Phase::Total => self.total,
            Phase::Coverage => None,
        }
    }
}

/// Options of one fetch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchOptions {
    pub strategy: Strategy,
    /// Accept a frame with missing ranges or conformance flags (marked as such).
    pub partial_ok: bool,
    pub sla: Sla,
    /// With the `seamless` strategy and a window reaching the present: also serve the
    /// forming candle from the live feed (in [`super::Fetched::forming`], never stored;
    /// read by the live layer's `fetch_with_live`, not by the provider).
    pub include_forming: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_roundtrip() {
        for s in [
            Strategy::FailFast,
            Strategy::AutoBackfill,
            Strategy::PartialFill,
            Strategy::Seamless,
        ] {
            assert_eq!(s.as_str().parse::<Strategy>().unwrap(), s);
        }
        assert!(
            "fast"
                .parse::<Strategy>()
                .unwrap_err()
                .contains("use seamless")
        );
    }
}
