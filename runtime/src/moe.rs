//! The mixture-of-experts layer: a softmax gate picks the top-k experts per token; each
//! expert is a two-layer SiLU MLP whose weights may be quantized (Q8_0, Q4_0) or F16.
//!
//! Routing follows candle-transformers' Mixtral idiom: per expert, gather the rows routed
//! to it, run it once on that batch, scale by the gate weight and scatter-add back.

use std::sync::atomic::{AtomicU64, Ordering};

use candle_core::quantized::QMatMul;
use candle_core::{DType, Module, Tensor};
use candle_nn::ops::softmax_last_dim;

use crate::error::Result;

/// One expert: `down(silu(up(x)))`.
pub(crate) struct Expert {
    pub(crate) up: QMatMul,
    pub(crate) down: QMatMul,
}

impl Expert {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(self
            .down
            .forward(&candle_nn::ops::silu(&self.up.forward(x)?)?)?)
    }
}

/// Gate plus experts, with per-expert usage counters.
pub(crate) struct MoeLayer {
    pub(crate) gate: QMatMul,
    pub(crate) experts: Vec<Expert>,
    pub(crate) top_k: usize,
    usage: Vec<AtomicU64>,
}

/// For each row, the chosen experts and their renormalised gate weights.
type Routing = Vec<Vec<(usize, f32)>>;

impl MoeLayer {
    pub(crate) fn new(gate: QMatMul, experts: Vec<Expert>, top_k: usize) -> Self {
        let usage = experts.iter().map(|_| AtomicU64::new(0)).collect();
        Self {
            gate,
            experts,
            top_k,
            usage,
        }
    }

    /// Top-k experts per row of `z` (`[rows, width]`), weights summing to 1 per row.
    fn route(&self, z: &Tensor) -> Result<Routing> {
        let probs: Vec<Vec<f32>> = softmax_last_dim(&self.gate.forward(z)?)?
            .to_dtype(DType::F32)?
            .to_vec2()?;
        Ok(probs
            .into_iter()
            .map(|row| {
                let mut ranked: Vec<(usize, f32)> = row.into_iter().enumerate().collect();
                ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                ranked.truncate(self.top_k);
                let total: f32 = ranked.iter().map(|r| r.1).sum();
                ranked.into_iter().map(|(e, p)| (e, p / total)).collect()
            })
            .collect())
    }

    /// The layer's output for `z` (`[rows, width]`): only the chosen experts run, each once
    /// on the rows routed to it. The rows are gathered in one pass, grouped by expert, and
    /// scattered back in one pass, so the work per expert is its two matmuls.
    pub(crate) fn forward(&self, z: &Tensor) -> Result<Tensor> {
        let routing = self.route(z)?;
        let mut by_expert: Vec<Vec<(u32, f32)>> = vec![Vec::new(); self.experts.len()];
        for (row, chosen) in routing.iter().enumerate() {
            for &(e, w) in chosen {
                by_expert[e].push((row as u32, w));
            }
        }
        let (rows, weights): (Vec<u32>, Vec<f32>) = by_expert.iter().flatten().copied().unzip();
        let count = rows.len();
        let rows = Tensor::from_vec(rows, count, z.device())?;
        let weights = Tensor::from_vec(weights, (count, 1), z.device())?;
        let gathered = z.index_select(&rows, 0)?;
        let mut outputs = Vec::with_capacity(self.experts.len());
        let mut start = 0;
        for (e, routed) in by_expert.iter().enumerate().filter(|(_, r)| !r.is_empty()) {
            self.usage[e].fetch_add(routed.len() as u64, Ordering::Relaxed);
            let input = gathered.narrow(0, start, routed.len())?.contiguous()?;
            outputs.push(self.experts[e].forward(&input)?.to_dtype(DType::F32)?);
            start += routed.len();
        }
        let y = Tensor::cat(&outputs, 0)?.broadcast_mul(&weights)?;
        Ok(z.zeros_like()?
            .to_dtype(DType::F32)?
            .index_add(&rows, &y, 0)?)
    }

    /// The same output computed densely: every expert on every row, weighted by the top-k
    /// routing (zero weight for unchosen experts). The reference `forward` must equal, and
    /// the "all experts" baseline of the benchmark.
    pub(crate) fn forward_all_experts(&self, z: &Tensor) -> Result<Tensor> {
        let routing = self.route(z)?;
        let rows = routing.len();
        let mut out = z.zeros_like()?.to_dtype(DType::F32)?;
        for (e, expert) in self.experts.iter().enumerate() {
            let weights: Vec<f32> = routing
                .iter()
                .map(|chosen| {
                    chosen
                        .iter()
                        .find(|(x, _)| *x == e)
                        .map_or(0.0, |(_, w)| *w)
                })
                .collect();
            let weights = Tensor::from_vec(weights, (rows, 1), z.device())?;
            out = (out
                + expert
                    .forward(z)?
                    .to_dtype(DType::F32)?
                    .broadcast_mul(&weights)?)?;
        }
        Ok(out)
    }

    /// Tokens each expert has processed so far.
    pub(crate) fn usage(&self) -> Vec<u64> {
        self.usage
            .iter()
            .map(|u| u.load(Ordering::Relaxed))
            .collect()
    }
}
