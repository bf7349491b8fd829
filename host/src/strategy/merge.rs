//! Merging several inputs into one delivery order, cut into batches.
//!
//! Order: ascending open time; candles of different inputs with the same open time go
//! in input-index order (input 0 first). A batch is a run of consecutive candles of one
//! input in that order, at most `max` long, so a single-input replay goes in full
//! batches while two inputs on the same grid alternate candle by candle.

/// One batch: `len` candles of `input` starting at row `from` of that input's series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batch {
    pub input: u32,
    pub from: usize,
    pub len: usize,
}

/// Batches delivering `series` (the open times of each input, ascending) in merged order.
pub fn batches(series: &[&[i64]], max: usize) -> Vec<Batch> {
    let max = max.max(1);
    let mut pos = vec![0usize; series.len()];
    let mut out: Vec<Batch> = Vec::new();
    loop {
        // The next candle: smallest open time, lowest input index on ties.
        let mut best: Option<(i64, usize)> = None;
        for (i, s) in series.iter().enumerate() {
            if let Some(&t) = s.get(pos[i])
                && best.is_none_or(|(bt, _)| t < bt)
            {
                best = Some((t, i));
            }
        }
        let Some((_, i)) = best else { break };
        match out.last_mut() {
            Some(b) if b.input as usize == i && b.from + b.len == pos[i] && b.len < max => {
                b.len += 1;
            }
            _ => out.push(Batch {
                input: i as u32,
                from: pos[i],
                len: 1,
            }),
        }
        pos[i] += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_input_goes_in_full_batches() {
        let a: Vec<i64> = (0..10).collect();
        let b = batches(&[&a], 4);
        assert_eq!(
            b.iter().map(|b| (b.from, b.len)).collect::<Vec<_>>(),
            vec![(0, 4), (4, 4), (8, 2)]
        );
    }

    #[test]
    fn ties_go_in_input_order() {
        let a = [0, 60, 120];
        let b = [0, 120, 180];
        let got: Vec<(u32, usize, usize)> = batches(&[&a, &b], 100)
            .iter()
            .map(|b| (b.input, b.from, b.len))
            .collect();
        // a0 b0 a60 a120 b120 b180
        assert_eq!(got, vec![(0, 0, 1), (1, 0, 1), (0, 1, 2), (1, 1, 2)]);
    }

    #[test]
    fn every_candle_once() {
        let a: Vec<i64> = (0..50).map(|i| i * 3).collect();
        let b: Vec<i64> = (0..40).map(|i| i * 5).collect();
        let bs = batches(&[&a, &b], 7);
        let total: usize = bs.iter().map(|b| b.len).sum();
        assert_eq!(total, 90);
        // Delivered open times never go backwards.
        let mut last = i64::MIN;
        for bt in &bs {
            let s = if bt.input == 0 { &a } else { &b };
            for t in &s[bt.from..bt.from + bt.len] {
                assert!(*t >= last);
                last = *t;
            }
        }
    }
}
