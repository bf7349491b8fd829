//! Planning (`plan`): coverage planning of one window over a ledger of 10,000 ranges, vs the
//! 1 ms budget.

use std::time::Duration;

use seamless::domain::{RangeSet, Window};

use crate::{MIN, mean, us};

pub(crate) fn bench_plan() {
    // --- coverage planning over a ledger of 10,000 ranges ---
    let mut present = RangeSet::new();
    let mut empty = RangeSet::new();
    for i in 0..10_000i64 {
        present.insert(i * 10 * MIN, i * 10 * MIN + 6 * MIN);
        empty.insert(i * 10 * MIN + 6 * MIN, i * 10 * MIN + 7 * MIN);
    }
    let ledger = seamless::store::Ledger { present, empty };
    let w = Window::new(0, 100_000 * MIN).unwrap();
    let plan = mean(200, || {
        let missing = ledger.missing(std::hint::black_box(w));
        let c = seamless::provider::chunks(seamless::domain::Timeframe::M1, 1000, &missing);
        assert_eq!(c.len(), 10_000);
    });
    let budget = Duration::from_millis(1);
    println!("coverage planning, window over 10,000 present + 10,000 empty ranges:");
    println!("  budget                  {:>12}  (baseline)", us(budget));
    println!(
        "  missing + chunks        {:>12}  {:.3}x of budget",
        us(plan),
        plan.as_secs_f64() / budget.as_secs_f64()
    );
}
