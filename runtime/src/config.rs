//! The shape of a base core, as stored in `llama.*` GGUF metadata.

use crate::error::{Result, RuntimeError};
use crate::tokenizer::VOCAB_SIZE;

/// Sizes of a llama-style base core.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaseConfig {
    /// Width of the hidden stream.
    pub hidden: usize,
    /// Transformer blocks.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Key/value heads (grouped-query attention; divides `heads`).
    pub kv_heads: usize,
    /// Width of the SwiGLU feed-forward layer.
    pub ffn: usize,
    /// Vocabulary size: rows of the token embedding (bytes plus BOS/EOS for the byte
    /// tokenizer).
    pub vocab: usize,
    /// Longest context in tokens.
    pub context: usize,
    /// RoPE base frequency.
    pub rope_theta: f32,
    /// RMSNorm epsilon.
    pub rms_eps: f32,
    /// The output projection is the token embedding (no `output.weight`), as in SmolLM2.
    pub tied_embeddings: bool,
}

impl Default for BaseConfig {
    /// A tiny base that trains and runs in seconds on a CPU.
    fn default() -> Self {
        Self {
            hidden: 128,
            layers: 4,
            heads: 4,
            kv_heads: 2,
            ffn: 352,
            vocab: VOCAB_SIZE,
            context: 512,
            rope_theta: 10_000.0,
            rms_eps: 1e-5,
            tied_embeddings: false,
        }
    }
}

impl BaseConfig {
    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads
    }

    /// Refuses shapes no model can have.
    pub fn validate(&self) -> Result<()> {
        let problem = if self.hidden == 0
            || self.layers == 0
            || self.heads == 0
            || self.kv_heads == 0
            || self.ffn == 0
        {
            Some("every size must be greater than 0".to_owned())
        } else if !self.hidden.is_multiple_of(self.heads) {
            Some(format!(
                "hidden ({}) must be a multiple of heads ({})",
                self.hidden, self.heads
            ))
        } else if !self.heads.is_multiple_of(self.kv_heads) {
            Some(format!(
                "heads ({}) must be a multiple of kv_heads ({})",
                self.heads, self.kv_heads
            ))
        } else if !self.head_dim().is_multiple_of(2) {
            Some(format!(
                "the head width ({}) must be even for rotary embeddings",
                self.head_dim()
            ))
        } else if self.vocab < VOCAB_SIZE {
            Some(format!(
                "vocab ({}) must hold the {VOCAB_SIZE} byte-tokenizer tokens",
                self.vocab
            ))
        } else if self.context == 0 {
            Some("context must be greater than 0".to_owned())
        } else {
            None
        };
        match problem {
            Some(p) => Err(RuntimeError::Config(p)),
            None => Ok(()),
        }
    }
}
