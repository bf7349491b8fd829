//! Merging several inputs into one delivery order, cut into batches.
//!
//! Order: ascending open time; candles of different inputs with the same open time go
//! in input-index order (input 0 first). A batch is a run of at most `max` consecutive
//! candles in that order, across inputs (WIT `strategy.batch`: the columns plus an input
//! index per row), so two inputs on the same grid go in batches as full as one input's.

use crate::components::{CandleBatch, CandleColumns};
use crate::domain::Candle;

/// One merged row: candle `row` of input `input`'s series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pick {
    pub input: u32,
    pub row: usize,
}

/// Every candle of `series` (each input's candles, ascending) in merged order.
pub fn merged(series: &[&[Candle]]) -> Vec<Pick> {
    let total: usize = series.iter().map(|s| s.len()).sum();
    let mut out = Vec::with_capacity(total);
    match series {
        [only] => {
            out.extend((0..only.len()).map(|row| Pick { input: 0, row }));
            return out;
        }
        [a, b] => {
            // Two inputs (pairs, spreads): a two-pointer merge, `a` first on ties.
            let (mut i, mut j) = (0, 0);
            while i < a.len() && j < b.len() {
                if a[i].open_time <= b[j].open_time {
                    out.push(Pick { input: 0, row: i });
                    i += 1;
                } else {
                    out.push(Pick { input: 1, row: j });
                    j += 1;
                }
            }
            out.extend((i..a.len()).map(|row| Pick { input: 0, row }));
            out.extend((j..b.len()).map(|row| Pick { input: 1, row }));
            return out;
        }
        _ => {}
    }
    let mut pos = vec![0usize; series.len()];
    loop {
        // The next candle: smallest open time, lowest input index on ties.
        let mut best: Option<(i64, usize)> = None;
        for (i, s) in series.iter().enumerate() {
            if let Some(c) = s.get(pos[i])
                && best.is_none_or(|(bt, _)| c.open_time < bt)
            {
                best = Some((c.open_time, i));
            }
        }
        let Some((_, i)) = best else { break };
        out.push(Pick {
            input: i as u32,
            row: pos[i],
        });
        pos[i] += 1;
    }
    out
}

/// The batch of `picks` (rows of `series`), in their order.
pub fn batch(series: &[&[Candle]], picks: &[Pick]) -> CandleBatch {
    let n = picks.len();
    let mut b = CandleBatch {
        inputs: Vec::with_capacity(n),
        candles: CandleColumns {
            open_time: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
        },
    };
    for p in picks {
        push(&mut b, p.input, &series[p.input as usize][p.row]);
    }
    b
}

/// The batch of `(input, candle)` rows, in their order.
pub fn batch_of_rows(rows: &[(u32, Candle)]) -> CandleBatch {
    let mut b = CandleBatch {
        inputs: Vec::with_capacity(rows.len()),
        candles: crate::components::columns(&[]),
    };
    for (i, c) in rows {
        push(&mut b, *i, c);
    }
    b
}

fn push(b: &mut CandleBatch, input: u32, k: &Candle) {
    b.inputs.push(input);
    let c = &mut b.candles;
    c.open_time.push(k.open_time);
    c.open.push(k.open);
    c.high.push(k.high);
    c.low.push(k.low);
    c.close.push(k.close);
    c.volume.push(k.volume);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(t: i64) -> Candle {
        Candle {
            open_time: t,
            open: t as f64,
            high: t as f64,
            low: t as f64,
            close: t as f64,
            volume: 1.0,
        }
    }

    fn series(times: &[i64]) -> Vec<Candle> {
        times.iter().map(|&t| at(t)).collect()
    }

    #[test]
    fn ties_go_in_input_order() {
        let a = series(&[0, 60, 120]);
        let b = series(&[0, 120, 180]);
        let got: Vec<(u32, usize)> = merged(&[&a, &b]).iter().map(|p| (p.input, p.row)).collect();
        // a0 b0 a60 a120 b120 b180
        assert_eq!(got, vec![(0, 0), (1, 0), (0, 1), (0, 2), (1, 1), (1, 2)]);
    }

    #[test]
    fn every_candle_once_in_time_order() {
        let a = series(&(0..50).map(|i| i * 3).collect::<Vec<_>>());
        let b = series(&(0..40).map(|i| i * 5).collect::<Vec<_>>());
        let s: [&[Candle]; 2] = [&a, &b];
        let picks = merged(&s);
        assert_eq!(picks.len(), 90);
        let mut seen = std::collections::HashSet::new();
        let mut last = (i64::MIN, 0u32);
        for chunk in picks.chunks(7) {
            let bt = batch(&s, chunk);
            assert_eq!(bt.inputs.len(), chunk.len());
            assert_eq!(bt.candles.open_time.len(), chunk.len());
            for (i, t) in bt.inputs.iter().zip(&bt.candles.open_time) {
                assert!((*t, *i) > last, "order broken at {t} input {i}");
                last = (*t, *i);
                assert!(seen.insert((*i, *t)));
            }
        }
        assert_eq!(seen.len(), 90);
    }

    #[test]
    fn the_two_input_merge_agrees_with_the_general_one() {
        let a = series(&[0, 60, 60, 120, 300]);
        let b = series(&[0, 30, 120, 180]);
        let none: Vec<Candle> = Vec::new();
        // A third, empty input takes the general path without changing the order.
        assert_eq!(merged(&[&a, &b]), merged(&[&a, &b, &none]));
        assert_eq!(merged(&[&b, &a]).len(), 9);
    }

    #[test]
    fn rows_keep_their_input_and_values() {
        let b = batch_of_rows(&[(1, at(60)), (0, at(120))]);
        assert_eq!(b.inputs, vec![1, 0]);
        assert_eq!(b.candles.open_time, vec![60, 120]);
        assert_eq!(b.candles.close, vec![60.0, 120.0]);
    }
}
