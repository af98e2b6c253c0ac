//! Timing helpers every benchmark shares: medians of alternating runs, so ours and the
//! baselines see the same machine state.

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
    let medians = rotate(runs, 2, |side| measure(side == 0))?;
    Ok((medians[0], medians[1]))
}

/// Runs `measure(side)` for every side in `0..sides`, `runs` times, each run starting one
/// side further on (0, 1, 2, then 1, 2, 0, …), and returns each side's median.
pub fn rotate(
    runs: usize,
    sides: usize,
    mut measure: impl FnMut(usize) -> Result<f64>,
) -> Result<Vec<f64>> {
    let mut values = vec![Vec::new(); sides];
    for run in 0..runs {
        for step in 0..sides {
            let side = (run + step) % sides;
            values[side].push(measure(side)?);
        }
    }
    Ok(values.into_iter().map(median).collect())
}

/// Milliseconds `f` takes; its result is dropped after the clock stops.
pub fn millis<T>(f: impl FnOnce() -> Result<T>) -> Result<f64> {
    let start = Instant::now();
    let out = f()?;
    let elapsed = start.elapsed();
    drop(black_box(out));
    Ok(elapsed.as_secs_f64() * 1e3)
}

/// Writes a benchmark's results to `path` as pretty JSON (for `--json PATH`) and says so.
#[allow(
    clippy::print_stdout,
    reason = "saying where the results went is what a benchmark prints"
)]
pub fn write_json(path: &std::path::Path, json: &serde_json::Value) -> Result<()> {
    use anyhow::Context;
    let text = serde_json::to_string_pretty(json).context("serialise the results")?;
    std::fs::write(path, text + "\n").with_context(|| format!("write {}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
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
        let mut sides = Vec::new();
        let medians = rotate(3, 3, |side| {
            sides.push(side);
            Ok(side as f64)
        })
        .unwrap();
        assert_eq!(medians, [0.0, 1.0, 2.0]);
        assert_eq!(sides, [0, 1, 2, 1, 2, 0, 2, 0, 1]);
    }
}
