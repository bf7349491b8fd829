//! Plain mirrors of the WIT records a strategy sees: [`Signal`] (`strategy.signal`),
//! [`Input`] (`strategy.input`), [`Columns`] (`types.candle-columns`) and [`Batch`]
//! (`strategy.batch`).

/// A signal emitted by a strategy (mirror of `strategy.signal`).
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    /// Open time (ms) of the candle that produced the signal.
    pub time: i64,
    /// Index of the input whose candle produced it.
    pub input: u32,
    /// What the signal says, e.g. `buy`, `sell`.
    pub action: String,
    /// A number attached to the signal (price, score).
    pub value: f64,
    /// Free text for people.
    pub note: String,
}

/// One input stream a strategy consumes (mirror of `strategy.input`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Input {
    /// Node id, `ohlcv:{exchange}:{symbol}:{timeframe}`.
    pub node_id: String,
    /// Closed candles needed before the first candle of the run.
    pub warmup: u32,
}

/// Candles as columns (mirror of `types.candle-columns`): row `i` of every column
/// forms one candle.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Columns {
    pub open_time: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

impl Columns {
    /// Rows, counted by `open_time`.
    pub fn len(&self) -> usize {
        self.open_time.len()
    }

    /// True when there are no rows.
    pub fn is_empty(&self) -> bool {
        self.open_time.is_empty()
    }

    /// Append one candle.
    pub fn push(
        &mut self,
        open_time: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) {
        self.open_time.push(open_time);
        self.open.push(open);
        self.high.push(high);
        self.low.push(low);
        self.close.push(close);
        self.volume.push(volume);
    }

    /// The number of rows, or an error if the columns differ in length.
    pub fn check(&self) -> Result<usize, String> {
        let n = self.open_time.len();
        let lens = [
            ("open", self.open.len()),
            ("high", self.high.len()),
            ("low", self.low.len()),
            ("close", self.close.len()),
            ("volume", self.volume.len()),
        ];
        match lens.iter().find(|(_, l)| *l != n) {
            None => Ok(n),
            Some((name, l)) => Err(format!(
                "malformed candle columns: open-time has {n} rows but {name} has {l}"
            )),
        }
    }

    /// Rows `from..to` (clamped to the rows held) as a new value.
    pub fn rows(&self, from: usize, to: usize) -> Columns {
        let to = to.min(self.len());
        let from = from.min(to);
        Columns {
            open_time: self.open_time[from..to].to_vec(),
            open: self.open[from..to].to_vec(),
            high: self.high[from..to].to_vec(),
            low: self.low[from..to].to_vec(),
            close: self.close[from..to].to_vec(),
            volume: self.volume[from..to].to_vec(),
        }
    }
}

/// A time-ordered run of candles across inputs (mirror of `strategy.batch`): row `i`
/// of `candles` belongs to input `inputs[i]`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Batch {
    pub inputs: Vec<u32>,
    pub candles: Columns,
}

impl Batch {
    /// A batch whose rows all belong to `input`.
    pub fn of(input: u32, candles: Columns) -> Batch {
        Batch {
            inputs: vec![input; candles.len()],
            candles,
        }
    }

    /// The number of rows, or an error if the columns (or the input indexes) differ in
    /// length.
    pub fn check(&self) -> Result<usize, String> {
        let n = self.candles.check()?;
        if self.inputs.len() == n {
            Ok(n)
        } else {
            Err(format!(
                "malformed batch: {n} candles but {} input indexes",
                self.inputs.len()
            ))
        }
    }

    /// Runs of consecutive rows of one input, in order: `(input, rows)`.
    pub fn runs(&self) -> impl Iterator<Item = (u32, core::ops::Range<usize>)> + '_ {
        let mut from = 0;
        core::iter::from_fn(move || {
            let input = *self.inputs.get(from)?;
            let len = self.inputs[from..]
                .iter()
                .take_while(|i| **i == input)
                .count();
            let run = from..from + len;
            from += len;
            Some((input, run))
        })
    }
}

#[cfg(test)]
mod tests {
    //! Unit tests: Column checks, row slicing, batch runs.

    use super::*;

    #[test]
    fn runs_split_by_input() {
        let mut c = Columns::default();
        for t in 0..6 {
            c.push(t, 0.0, 0.0, 0.0, 0.0, 0.0);
        }
        let b = Batch {
            inputs: vec![0, 0, 1, 0, 1, 1],
            candles: c,
        };
        assert_eq!(b.check(), Ok(6));
        let runs: Vec<_> = b.runs().collect();
        assert_eq!(runs, vec![(0, 0..2), (1, 2..3), (0, 3..4), (1, 4..6)]);
        let mut short = b.clone();
        short.inputs.pop();
        assert!(short.check().unwrap_err().contains("5 input indexes"));
        assert_eq!(Batch::default().runs().count(), 0);
    }

    #[test]
    fn check_names_the_short_column() {
        let mut c = Columns::default();
        c.push(1, 1.0, 2.0, 0.5, 1.5, 10.0);
        assert_eq!(c.check(), Ok(1));
        c.low.pop();
        let e = c.check().unwrap_err();
        assert!(e.contains("low has 0"), "{e}");
    }

    #[test]
    fn rows_are_clamped() {
        let mut c = Columns::default();
        for t in 0..5 {
            c.push(t, 0.0, 0.0, 0.0, t as f64, 0.0);
        }
        let t = c.rows(3, 9);
        assert_eq!(t.open_time, vec![3, 4]);
        assert_eq!(t.close, vec![3.0, 4.0]);
        assert_eq!(c.rows(1, 3).open_time, vec![1, 2]);
        assert!(c.rows(9, 12).is_empty());
        assert!(c.rows(4, 2).is_empty());
    }
}
