//! The imported `history` interface as a trait, so strategy logic can be run
//! natively: the component edge implements [`History`] with the host imports,
//! tests use [`MemoryHistory`], and strategies that never ask for history can be
//! driven with [`NoHistory`].

use crate::types::Columns;

/// Windows of closed candles served by the host (mirror of the `history` import).
pub trait History {
    /// Closed candles of input `input` with `start <= open_time < end`.
    fn range(&mut self, input: u32, start: i64, end: i64) -> Result<Columns, String>;

    /// The last `count` closed candles of input `input` that open before `before`.
    fn last(&mut self, input: u32, count: u32, before: i64) -> Result<Columns, String>;
}

/// History that is never available: every call fails.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHistory;

impl History for NoHistory {
    fn range(&mut self, _input: u32, _start: i64, _end: i64) -> Result<Columns, String> {
        Err("history is not available".to_owned())
    }

    fn last(&mut self, _input: u32, _count: u32, _before: i64) -> Result<Columns, String> {
        Err("history is not available".to_owned())
    }
}

/// History served from memory: one ascending [`Columns`] per input. Counts calls.
#[derive(Clone, Debug, Default)]
pub struct MemoryHistory {
    pub inputs: Vec<Columns>,
    /// Number of `range` and `last` calls answered (successfully or not).
    pub calls: usize,
}

impl MemoryHistory {
    /// History over `inputs` (each ascending by open time).
    pub fn new(inputs: Vec<Columns>) -> Self {
        MemoryHistory { inputs, calls: 0 }
    }

    fn input(&self, input: u32) -> Result<&Columns, String> {
        self.inputs.get(input as usize).ok_or_else(|| {
            format!(
                "history: input {input} does not exist (the strategy has {} inputs)",
                self.inputs.len()
            )
        })
    }
}

impl History for MemoryHistory {
    fn range(&mut self, input: u32, start: i64, end: i64) -> Result<Columns, String> {
        self.calls += 1;
        let c = self.input(input)?;
        let from = c.open_time.partition_point(|&t| t < start);
        let to = c.open_time.partition_point(|&t| t < end);
        Ok(c.rows(from, to))
    }

    fn last(&mut self, input: u32, count: u32, before: i64) -> Result<Columns, String> {
        self.calls += 1;
        let c = self.input(input)?;
        let to = c.open_time.partition_point(|&t| t < before);
        let from = to.saturating_sub(count as usize);
        Ok(c.rows(from, to))
    }
}

#[cfg(test)]
mod tests {
    //! Unit tests: The in-memory history bounds.

    use super::*;

    fn series(n: i64) -> Columns {
        let mut c = Columns::default();
        for i in 0..n {
            c.push(i * 10, 0.0, 0.0, 0.0, i as f64, 0.0);
        }
        c
    }

    #[test]
    fn range_is_half_open() {
        let mut h = MemoryHistory::new(vec![series(10)]);
        let r = h.range(0, 20, 50).unwrap();
        assert_eq!(r.open_time, vec![20, 30, 40]);
        assert_eq!(r.close, vec![2.0, 3.0, 4.0]);
        assert_eq!(r.check(), Ok(3));
        assert!(h.range(0, 50, 20).unwrap().is_empty());
    }

    #[test]
    fn last_excludes_before() {
        let mut h = MemoryHistory::new(vec![series(10)]);
        assert_eq!(h.last(0, 3, 50).unwrap().open_time, vec![20, 30, 40]);
        assert_eq!(h.last(0, 3, 15).unwrap().open_time, vec![0, 10]);
        assert!(h.last(0, 3, 0).unwrap().is_empty());
        assert!(
            h.last(1, 3, 50)
                .unwrap_err()
                .contains("input 1 does not exist")
        );
        assert_eq!(h.calls, 4);
    }
}
