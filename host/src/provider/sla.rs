//! The SLA bookkeeping of one fetch: how long each phase took, whether a budget broke,
//! and what that does to the frame ([`OnViolation`]): fail-fast errors, partial-fill
//! records the downgrade and stops further work, hold also rolls the frame back to what
//! storage held before the fetch.

use std::collections::BTreeMap;

use super::ProviderError;
use super::metadata::Downgrade;
use super::options::{OnViolation, Phase, Sla};
use crate::domain::{NodeId, RangeSet};

/// The SLA state of one fetch.
pub(super) struct SlaState<'a> {
    node: &'a NodeId,
    sla: &'a Sla,
    /// What storage held before the fetch (the frame under `hold`).
    stored_before: &'a RangeSet,
    /// Milliseconds per finished phase.
    pub phases: BTreeMap<Phase, u64>,
    /// Set by the first broken budget (or by the completeness check).
    pub downgrade: Option<Downgrade>,
    /// Under `hold`: the frame keeps only candles inside these ranges.
    pub hold_to: Option<RangeSet>,
}

impl<'a> SlaState<'a> {
    pub fn new(node: &'a NodeId, sla: &'a Sla, stored_before: &'a RangeSet) -> Self {
        SlaState {
            node,
            sla,
            stored_before,
            phases: BTreeMap::new(),
            downgrade: None,
            hold_to: None,
        }
    }

    /// The budgets.
    pub fn sla(&self) -> &'a Sla {
        self.sla
    }

    /// Record that `phase` took `elapsed_ms`.
    pub fn record(&mut self, phase: Phase, elapsed_ms: u64) {
        self.phases.insert(phase, elapsed_ms);
    }

    /// Check a phase's time against its budget; see [`SlaState::violation`].
    pub fn check(&mut self, phase: Phase, elapsed_ms: u64) -> Result<bool, ProviderError> {
        match self.sla.budget(phase) {
            Some(b) if elapsed_ms > b.as_millis() as u64 => {
                self.violation(phase, elapsed_ms, b.as_millis() as u64)
            }
            _ => Ok(false),
        }
    }

    /// A broken budget: fail-fast errors; partial-fill records the downgrade and stops
    /// further work; hold also rolls the frame back to what storage held before.
    /// Returns whether to stop.
    pub fn violation(
        &mut self,
        phase: Phase,
        elapsed: u64,
        budget: u64,
    ) -> Result<bool, ProviderError> {
        let sla = self.sla;
        tracing::warn!(node = %self.node, phase = %phase, elapsed, budget, mode = sla.on_violation.as_str(), "SLA budget broken");
        match sla.on_violation {
            OnViolation::FailFast => Err(ProviderError::Sla {
                node: self.node.to_string(),
                phase,
                elapsed_ms: elapsed,
                budget_ms: budget,
            }),
            mode => {
                let mut d = Downgrade::sla(mode, phase, elapsed, budget);
                if phase == Phase::Coverage {
                    d.reason = format!("{elapsed} bars missing, more than the {budget} allowed");
                    d.elapsed_ms = None;
                    d.budget_ms = None;
                }
                self.downgrade.get_or_insert(d);
                if mode == OnViolation::Hold {
                    let before = self.stored_before;
                    self.hold_to.get_or_insert_with(|| before.clone());
                }
                Ok(true)
            }
        }
    }
}
