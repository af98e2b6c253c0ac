//! Bits per byte on held-out text, computed through the same inference path `run` uses
//! (stored weights, quantized experts), so the figures describe what users get.

use std::collections::BTreeMap;

use candle_core::{D, DType, Tensor};

use crate::base::{BaseModel, HiddenPlug};
use crate::error::{Result, RuntimeError};
use crate::tokenizer::BOS;

/// Bytes scored per forward pass when evaluating.
pub const EVAL_WINDOW: usize = 256;

/// Bits and bytes summed over windows.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct BitsPerByte {
    /// Total bits (negative log2-likelihood) of the scored bytes.
    pub bits: f64,
    /// Bytes scored.
    pub bytes: usize,
}

impl BitsPerByte {
    /// The figure: bits per byte.
    pub fn value(&self) -> f64 {
        if self.bytes == 0 {
            0.0
        } else {
            self.bits / self.bytes as f64
        }
    }

    /// Adds another tally.
    pub fn add(&mut self, other: BitsPerByte) {
        self.bits += other.bits;
        self.bytes += other.bytes;
    }
}

/// What one evaluation measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EvalReport {
    /// The score.
    pub score: BitsPerByte,
    /// Windows per pack that scored them (`""`: the base alone); routed evaluations only.
    pub routed_to: BTreeMap<String, usize>,
}

/// Windows of `text` scored one at a time: each is BOS plus up to `window` bytes.
pub fn windows(text: &[u8], window: usize) -> impl Iterator<Item = &[u8]> {
    text.chunks(window.max(1)).filter(|c| c.len() > 1)
}

/// Scores one window: every byte predicted from BOS and the bytes before it.
pub(crate) fn score_window(
    base: &mut BaseModel,
    plug: Option<&dyn HiddenPlug>,
    window: &[u8],
) -> Result<BitsPerByte> {
    if window.len() > base.config().context {
        return Err(RuntimeError::Config(format!(
            "an evaluation window of {} bytes does not fit the base's context of {}",
            window.len(),
            base.config().context
        )));
    }
    let inputs: Vec<u32> = std::iter::once(BOS)
        .chain(window[..window.len() - 1].iter().map(|&b| u32::from(b)))
        .collect();
    let targets: Vec<u32> = window.iter().map(|&b| u32::from(b)).collect();
    base.clear_kv_cache();
    let logits = base.forward(&inputs, 0, plug)?.to_dtype(DType::F32)?;
    base.clear_kv_cache();
    let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    let targets = Tensor::from_vec(targets, (window.len(), 1), log_probs.device())?;
    let nats = log_probs
        .gather(&targets, 1)?
        .sum_all()?
        .to_scalar::<f32>()?;
    Ok(BitsPerByte {
        bits: -f64::from(nats) / std::f64::consts::LN_2,
        bytes: window.len(),
    })
}

/// Scores all of `text` with the base and an optional pack.
pub fn bits_per_byte(
    base: &mut BaseModel,
    plug: Option<&dyn HiddenPlug>,
    text: &[u8],
    window: usize,
) -> Result<BitsPerByte> {
    let mut total = BitsPerByte::default();
    for w in windows(text, window) {
        total.add(score_window(base, plug, w)?);
    }
    Ok(total)
}
