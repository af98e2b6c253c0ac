//! Predicts the next pack from the usage history: a first-order transition model (which
//! pack followed which) backed by overall frequency when the last pack has no history.

use std::collections::HashMap;

use modularbase_pack::PackId;

/// Usage history of pack requests.
#[derive(Debug, Default, Clone)]
pub struct Predictor {
    frequency: HashMap<PackId, u64>,
    transitions: HashMap<PackId, HashMap<PackId, u64>>,
    last: Option<PackId>,
}

impl Predictor {
    /// Records a request for `id`.
    pub fn record(&mut self, id: &PackId) {
        *self.frequency.entry(id.clone()).or_default() += 1;
        if let Some(last) = self.last.take() {
            *self
                .transitions
                .entry(last)
                .or_default()
                .entry(id.clone())
                .or_default() += 1;
        }
        self.last = Some(id.clone());
    }

    /// The most likely next request and its estimated probability.
    pub fn next(&self) -> Option<(PackId, f64)> {
        let from_last = self
            .last
            .as_ref()
            .and_then(|l| self.transitions.get(l))
            .filter(|t| !t.is_empty());
        let counts = from_last.unwrap_or(&self.frequency);
        let total: u64 = counts.values().sum();
        counts
            .iter()
            .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
            .map(|(id, n)| (id.clone(), *n as f64 / total.max(1) as f64))
    }

    /// How often `id` was requested.
    pub fn frequency(&self, id: &str) -> u64 {
        self.frequency.get(id).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn follows_transitions_then_frequency() {
        let mut p = Predictor::default();
        assert_eq!(p.next(), None);
        let id = |s: &str| -> PackId { s.parse().unwrap() };
        for name in ["code", "reasoning", "code", "reasoning", "code"] {
            p.record(&id(name));
        }
        // After `code`, `reasoning` always came next.
        assert_eq!(p.next(), Some((id("reasoning"), 1.0)));
        p.record(&id("medical"));
        // `medical` has no successors yet: fall back to frequency.
        assert_eq!(p.next().map(|n| n.0), Some(id("code")));
        assert_eq!(p.frequency("code"), 3);
    }
}
