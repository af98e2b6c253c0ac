//! Bits per byte on held-out text, computed through the same inference path `run` uses
//! (stored weights, quantized experts), so the figures describe what users get.

use std::collections::BTreeMap;

use candle_core::{D, DType, Tensor};

use crate::base::{BaseModel, HiddenPlug};
use crate::error::{Result, RuntimeError};

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

/// Scores one window: its tokens (bytes for the byte vocabulary) each predicted from the
/// vocabulary's document start and the tokens before it; bits are divided by the window's
/// bytes, so figures compare across vocabularies. Without a document start the first token
/// is context only (its bits are not counted).
pub(crate) fn score_window(
    base: &mut BaseModel,
    plug: Option<&dyn HiddenPlug>,
    window: &[u8],
) -> Result<BitsPerByte> {
    let vocab = base.vocab();
    let tokens: Vec<u32> = if vocab.is_bytes() {
        window.iter().map(|&b| u32::from(b)).collect()
    } else {
        vocab.encode(&String::from_utf8_lossy(window))?
    };
    let (inputs, targets): (Vec<u32>, Vec<u32>) = match vocab.document_start() {
        Some(start) => (
            std::iter::once(start)
                .chain(tokens[..tokens.len().saturating_sub(1)].iter().copied())
                .collect(),
            tokens.clone(),
        ),
        None if tokens.len() > 1 => (tokens[..tokens.len() - 1].to_vec(), tokens[1..].to_vec()),
        None => return Ok(BitsPerByte::default()),
    };
    if inputs.len() > base.config().context {
        return Err(RuntimeError::Config(format!(
            "an evaluation window of {} tokens does not fit the base's context of {}",
            inputs.len(),
            base.config().context
        )));
    }
    if inputs.is_empty() {
        return Ok(BitsPerByte::default());
    }
    let count = targets.len();
    base.clear_kv_cache();
    let logits = base.forward(&inputs, 0, plug)?.to_dtype(DType::F32)?;
    base.clear_kv_cache();
    let log_probs = candle_nn::ops::log_softmax(&logits, D::Minus1)?;
    let targets = Tensor::from_vec(targets, (count, 1), log_probs.device())?;
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
