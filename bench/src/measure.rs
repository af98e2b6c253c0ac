//! Timing helpers every benchmark shares: medians of alternating runs, so ours and the
//! baseline see the same machine state.

use std::hint::black_box;
use std::time::Instant;

use anyhow::Result;

/// The median (mean of the middle two for an even count); 0 for no values.
pub fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Runs `measure(true)` (ours) and `measure(false)` (the baseline) `runs` times each,
/// alternating (order swapped every run), and returns the medians (ours, baseline).
pub fn alternate(runs: usize, mut measure: impl FnMut(bool) -> Result<f64>) -> Result<(f64, f64)> {
    let (mut ours, mut base) = (Vec::new(), Vec::new());
    for i in 0..runs {
        for first in [i % 2 == 0, i % 2 == 1] {
            let value = measure(first)?;
            if first { &mut ours } else { &mut base }.push(value);
        }
    }
    Ok((median(ours), median(base)))
}

/// Milliseconds `f` takes; its result is dropped after the clock stops.
pub fn millis<T>(f: impl FnOnce() -> Result<T>) -> Result<f64> {
    let start = Instant::now();
    let out = f()?;
    let elapsed = start.elapsed();
    drop(black_box(out));
    Ok(elapsed.as_secs_f64() * 1e3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_alternation() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        let mut calls = Vec::new();
        let (ours, base) = alternate(2, |ours| {
            calls.push(ours);
            Ok(if ours { 1.0 } else { 2.0 })
        })
        .unwrap();
        assert_eq!((ours, base), (1.0, 2.0));
        assert_eq!(calls, [true, false, false, true]);
    }
}
