//! `RangeSet`: a set of disjoint, sorted, non-adjacent half-open ranges `[start, end)`
//! over `i64`, with union, subtraction and intersection. The coverage ledger and the
//! backfill planner are built on it.

use serde::{Deserialize, Serialize};

use super::Window;

/// Disjoint half-open ranges, sorted by start; touching ranges are merged. Serialised
/// as a list of `[start, end)` pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RangeSet {
    ranges: Vec<(i64, i64)>,
}

impl RangeSet {
    /// The empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Build from arbitrary (possibly overlapping, unsorted) ranges; empty ones are skipped.
    pub fn from_ranges(it: impl IntoIterator<Item = (i64, i64)>) -> Self {
        let mut v: Vec<(i64, i64)> = it.into_iter().filter(|(s, e)| s < e).collect();
        v.sort_unstable();
        let mut out: Vec<(i64, i64)> = Vec::with_capacity(v.len());
        for (s, e) in v {
            match out.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => out.push((s, e)),
            }
        }
        RangeSet { ranges: out }
    }

    /// One window as a set.
    pub fn from_window(w: Window) -> Self {
        Self::from_ranges([(w.start, w.end)])
    }

    /// The ranges, sorted.
    pub fn ranges(&self) -> &[(i64, i64)] {
        &self.ranges
    }

    /// True when no range is held.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Number of disjoint ranges.
    pub fn len(&self) -> usize {
        self.ranges.len()
    }

    /// Total covered length.
    pub fn total(&self) -> i64 {
        self.ranges.iter().map(|(s, e)| e - s).sum()
    }

    /// Grid slots of `tf` the ranges span (ranges on the grid of `tf`).
    pub fn slots(&self, tf: super::Timeframe) -> i64 {
        self.ranges.iter().map(|(s, e)| tf.slots(*s, *e)).sum()
    }

    /// Index of the first range whose end is after `t`.
    fn first_ending_after(&self, t: i64) -> usize {
        self.ranges.partition_point(|&(_, e)| e <= t)
    }

    /// Add `[s, e)`, merging with overlapping or touching ranges.
    pub fn insert(&mut self, s: i64, e: i64) {
        if s >= e {
            return;
        }
        // Ranges with end >= s and start <= e touch or overlap the new one.
        let lo = self.ranges.partition_point(|&(_, re)| re < s);
        let hi = self.ranges.partition_point(|&(rs, _)| rs <= e);
        if lo == hi {
            self.ranges.insert(lo, (s, e));
        } else {
            let ns = s.min(self.ranges[lo].0);
            let ne = e.max(self.ranges[hi - 1].1);
            self.ranges.splice(lo..hi, [(ns, ne)]);
        }
    }

    /// Remove `[s, e)`.
    pub fn remove(&mut self, s: i64, e: i64) {
        if s >= e {
            return;
        }
        let lo = self.first_ending_after(s);
        let hi = self.ranges.partition_point(|&(rs, _)| rs < e);
        if lo >= hi {
            return;
        }
        let mut keep = Vec::with_capacity(2);
        let (fs, _) = self.ranges[lo];
        let (_, le) = self.ranges[hi - 1];
        if fs < s {
            keep.push((fs, s));
        }
        if le > e {
            keep.push((e, le));
        }
        self.ranges.splice(lo..hi, keep);
    }

    /// Union with another set.
    pub fn union(&self, other: &RangeSet) -> RangeSet {
        RangeSet::from_ranges(self.ranges.iter().chain(other.ranges.iter()).copied())
    }

    /// The part of `[s, e)` not covered by this set: O(log n + k) for k ranges inside.
    pub fn gaps_in(&self, s: i64, e: i64) -> RangeSet {
        let mut out = Vec::new();
        let mut cursor = s;
        for &(rs, re) in &self.ranges[self.first_ending_after(s)..] {
            if rs >= e {
                break;
            }
            if rs > cursor {
                out.push((cursor, rs));
            }
            cursor = cursor.max(re);
        }
        if cursor < e {
            out.push((cursor, e));
        }
        RangeSet { ranges: out }
    }

    /// This set minus another.
    pub fn subtract(&self, other: &RangeSet) -> RangeSet {
        let mut out = Vec::new();
        for &(s, e) in &self.ranges {
            out.extend_from_slice(other.gaps_in(s, e).ranges());
        }
        RangeSet { ranges: out }
    }

    /// The part of this set inside `[s, e)`.
    pub fn clip(&self, s: i64, e: i64) -> RangeSet {
        let mut out = Vec::new();
        for &(rs, re) in &self.ranges[self.first_ending_after(s)..] {
            if rs >= e {
                break;
            }
            out.push((rs.max(s), re.min(e)));
        }
        RangeSet { ranges: out }
    }

    /// Intersection with another set.
    pub fn intersect(&self, other: &RangeSet) -> RangeSet {
        let mut out = Vec::new();
        for &(s, e) in &other.ranges {
            out.extend_from_slice(self.clip(s, e).ranges());
        }
        RangeSet { ranges: out }
    }

    /// True when `[s, e)` is entirely covered.
    pub fn covers(&self, s: i64, e: i64) -> bool {
        s >= e || self.gaps_in(s, e).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rs(v: &[(i64, i64)]) -> RangeSet {
        RangeSet::from_ranges(v.iter().copied())
    }

    #[test]
    fn insert_merges_adjacent_and_overlapping() {
        let mut s = RangeSet::new();
        s.insert(10, 20);
        s.insert(30, 40);
        s.insert(20, 30);
        assert_eq!(s.ranges(), &[(10, 40)]);
        s.insert(50, 60);
        s.insert(0, 5);
        s.insert(4, 55);
        assert_eq!(s.ranges(), &[(0, 60)]);
    }

    #[test]
    fn remove_splits() {
        let mut s = rs(&[(0, 100)]);
        s.remove(10, 20);
        s.remove(90, 200);
        assert_eq!(s.ranges(), &[(0, 10), (20, 90)]);
        s.remove(-5, 15);
        assert_eq!(s.ranges(), &[(20, 90)]);
    }

    #[test]
    fn gaps_at_both_ends_and_middle() {
        let s = rs(&[(10, 20), (30, 40)]);
        assert_eq!(s.gaps_in(0, 50).ranges(), &[(0, 10), (20, 30), (40, 50)]);
        assert_eq!(s.gaps_in(12, 18).ranges(), &[] as &[(i64, i64)]);
        assert!(s.covers(10, 20));
        assert!(!s.covers(10, 21));
    }

    /// Algebra laws on pseudo-random sets, checked against a bitmap model.
    #[test]
    fn laws_against_bitmap_model() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n) as i64
        };
        let bits = |s: &RangeSet| (0..64).map(|i| s.covers(i, i + 1)).collect::<Vec<_>>();
        for _ in 0..500 {
            let mut make = || {
                let mut s = RangeSet::new();
                for _ in 0..rnd(6) {
                    let a = rnd(64);
                    s.insert(a, a + rnd(12));
                }
                s
            };
            let (a, b) = (make(), make());
            let (ba, bb) = (bits(&a), bits(&b));
            let u = bits(&a.union(&b));
            let d = bits(&a.subtract(&b));
            let i = bits(&a.intersect(&b));
            for k in 0..64 {
                assert_eq!(u[k], ba[k] || bb[k]);
                assert_eq!(d[k], ba[k] && !bb[k]);
                assert_eq!(i[k], ba[k] && bb[k]);
            }
            // Canonical form: sorted, disjoint, not touching.
            for set in [a.union(&b), a.subtract(&b), a.intersect(&b)] {
                for w in set.ranges().windows(2) {
                    assert!(w[0].1 < w[1].0, "{set:?}");
                }
            }
        }
    }

    mod props {
        use proptest::prelude::*;

        use super::super::RangeSet;

        fn set() -> impl Strategy<Value = RangeSet> {
            proptest::collection::vec((0i64..200, 0i64..30), 0..8)
                .prop_map(|v| RangeSet::from_ranges(v.into_iter().map(|(s, l)| (s, s + l))))
        }

        fn canonical(s: &RangeSet) -> bool {
            s.ranges().iter().all(|(a, b)| a < b) && s.ranges().windows(2).all(|w| w[0].1 < w[1].0)
        }

        proptest! {
            #[test]
            fn union_is_commutative_and_canonical(a in set(), b in set()) {
                prop_assert_eq!(a.union(&b), b.union(&a));
                prop_assert!(canonical(&a.union(&b)));
            }

            #[test]
            fn subtract_then_union_restores(a in set(), b in set()) {
                // (a − b) ∪ (a ∩ b) = a, and (a − b) ∩ b = ∅
                prop_assert_eq!(a.subtract(&b).union(&a.intersect(&b)), a.clone());
                prop_assert!(a.subtract(&b).intersect(&b).is_empty());
                prop_assert!(canonical(&a.subtract(&b)) && canonical(&a.intersect(&b)));
            }

            #[test]
            fn insert_and_remove_match_union_and_subtract(a in set(), s in 0i64..200, l in 0i64..40) {
                let mut ins = a.clone();
                ins.insert(s, s + l);
                prop_assert_eq!(ins, a.union(&RangeSet::from_ranges([(s, s + l)])));
                let mut rem = a.clone();
                rem.remove(s, s + l);
                prop_assert_eq!(rem, a.subtract(&RangeSet::from_ranges([(s, s + l)])));
            }

            #[test]
            fn gaps_partition_the_window(a in set(), s in 0i64..200, l in 1i64..100) {
                let gaps = a.gaps_in(s, s + l);
                let inside = a.clip(s, s + l);
                prop_assert_eq!(gaps.total() + inside.total(), l);
                prop_assert!(gaps.intersect(&a).is_empty());
            }
        }
    }
}
