//! A base core: a llama-family model with llama.cpp's tensor names and `llama.*` keys.

use super::keys::{float, size, size_or, string};
use super::{ExpectedTensor, WeightsError, check_tensors};
use crate::gguf::{GgmlType, GgufHeader, GgufValue};

/// Tokens of ModularBase's byte vocabulary: 256 bytes, BOS and EOS.
pub const BYTE_VOCAB: usize = 258;

/// Storage types a base's tensors may use (the ones candle's matmul runs).
pub const BASE_TENSOR_TYPES: &[GgmlType] = &[
    GgmlType::F32,
    GgmlType::F16,
    GgmlType::Bf16,
    GgmlType::Q4_0,
    GgmlType::Q4_1,
    GgmlType::Q5_0,
    GgmlType::Q5_1,
    GgmlType::Q8_0,
    GgmlType::Q2K,
    GgmlType::Q3K,
    GgmlType::Q4K,
    GgmlType::Q5K,
    GgmlType::Q6K,
];

/// Widest hidden stream a base may have.
const MAX_HIDDEN: usize = 65_536;
/// Widest feed-forward layer.
const MAX_FFN: usize = 1 << 18;
/// Most blocks.
const MAX_LAYERS: usize = 1024;
/// Most attention heads.
const MAX_HEADS: usize = 1024;
/// Largest vocabulary.
const MAX_VOCAB: usize = 1 << 22;
/// Longest context.
const MAX_CONTEXT: usize = 1 << 20;

/// Sizes of a llama-style base core, as stored in `llama.*` metadata.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BaseShape {
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
    /// Vocabulary size: rows of the token embedding.
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

impl Default for BaseShape {
    /// A tiny base with the byte vocabulary that trains and runs in seconds on a CPU.
    fn default() -> Self {
        Self {
            hidden: 128,
            layers: 4,
            heads: 4,
            kv_heads: 2,
            ffn: 352,
            vocab: BYTE_VOCAB,
            context: 512,
            rope_theta: 10_000.0,
            rms_eps: 1e-5,
            tied_embeddings: false,
        }
    }
}

impl BaseShape {
    /// Width of one attention head.
    pub fn head_dim(&self) -> usize {
        self.hidden / self.heads.max(1)
    }

    /// Refuses shapes no model can have, and sizes past ModularBase's bounds.
    pub fn validate(&self) -> Result<(), WeightsError> {
        let bounds = [
            ("hidden", self.hidden, MAX_HIDDEN),
            ("layers", self.layers, MAX_LAYERS),
            ("heads", self.heads, MAX_HEADS),
            ("kv_heads", self.kv_heads, MAX_HEADS),
            ("ffn", self.ffn, MAX_FFN),
            ("vocab", self.vocab, MAX_VOCAB),
            ("context", self.context, MAX_CONTEXT),
        ];
        let problem = if let Some((name, ..)) = bounds.iter().find(|(_, v, _)| *v == 0) {
            Some(format!("every size must be greater than 0 ({name} is 0)"))
        } else if let Some((name, v, max)) = bounds.iter().find(|(_, v, max)| v > max) {
            Some(format!("{name} ({v}) must be at most {max}"))
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
        } else if !(self.rope_theta.is_finite() && self.rope_theta > 0.0) {
            Some(format!(
                "rope_theta ({}) must be a positive number",
                self.rope_theta
            ))
        } else if !(self.rms_eps.is_finite() && self.rms_eps >= 0.0) {
            Some(format!("rms_eps ({}) must be a number ≥ 0", self.rms_eps))
        } else {
            None
        };
        problem.map_or(Ok(()), |p| Err(WeightsError::Shape(p)))
    }

    /// Every tensor of a base with this shape: llama.cpp's names, shapes outermost first.
    pub fn expected_tensors(&self) -> Vec<ExpectedTensor> {
        let (h, kv) = (self.hidden, self.kv_heads * self.head_dim());
        let tensor = |name: String, shape: Vec<usize>| ExpectedTensor {
            name,
            shape,
            types: BASE_TENSOR_TYPES,
        };
        let mut out = vec![tensor("token_embd.weight".into(), vec![self.vocab, h])];
        for i in 0..self.layers {
            let p = format!("blk.{i}");
            out.extend([
                tensor(format!("{p}.attn_norm.weight"), vec![h]),
                tensor(format!("{p}.attn_q.weight"), vec![h, h]),
                tensor(format!("{p}.attn_k.weight"), vec![kv, h]),
                tensor(format!("{p}.attn_v.weight"), vec![kv, h]),
                tensor(format!("{p}.attn_output.weight"), vec![h, h]),
                tensor(format!("{p}.ffn_norm.weight"), vec![h]),
                tensor(format!("{p}.ffn_gate.weight"), vec![self.ffn, h]),
                tensor(format!("{p}.ffn_up.weight"), vec![self.ffn, h]),
                tensor(format!("{p}.ffn_down.weight"), vec![h, self.ffn]),
            ]);
        }
        out.push(tensor("output_norm.weight".into(), vec![h]));
        if !self.tied_embeddings {
            out.push(tensor("output.weight".into(), vec![self.vocab, h]));
        }
        out
    }

    /// Reads and checks a base's shape, vocabulary size and tensors from its header.
    pub fn from_header(header: &GgufHeader) -> Result<Self, WeightsError> {
        let architecture = string(header, "general.architecture")?;
        if architecture != "llama" {
            return Err(WeightsError::KeyValue {
                key: "general.architecture".into(),
                value: format!("`{architecture}`"),
                expected:
                    "supported: `llama` (llama-family models such as Llama, SmolLM2, TinyLlama)"
                        .into(),
            });
        }
        let embedding = header
            .tensor("token_embd.weight")
            .ok_or_else(|| WeightsError::MissingTensor("token_embd.weight".into()))?;
        let vocab = match embedding.shape().as_slice() {
            [rows, _] => usize::try_from(*rows).unwrap_or(usize::MAX),
            other => {
                return Err(WeightsError::Shape(format!(
                    "tensor `token_embd.weight` has shape {other:?}; it must be [vocab, hidden]"
                )));
            }
        };
        let heads = size(header, "llama.attention.head_count", 1, MAX_HEADS)?;
        let shape = Self {
            hidden: size(header, "llama.embedding_length", 1, MAX_HIDDEN)?,
            layers: size(header, "llama.block_count", 1, MAX_LAYERS)?,
            heads,
            kv_heads: size_or(header, "llama.attention.head_count_kv", heads, 1, MAX_HEADS)?,
            ffn: size(header, "llama.feed_forward_length", 1, MAX_FFN)?,
            vocab,
            context: size(header, "llama.context_length", 1, MAX_CONTEXT)?,
            rope_theta: float(header, "llama.rope.freq_base", Some(10_000.0))?,
            rms_eps: float(header, "llama.attention.layer_norm_rms_epsilon", None)?,
            tied_embeddings: header.tensor("output.weight").is_none(),
        };
        shape.validate()?;
        if let Some(v) = header.get("llama.vocab_size")
            && v.as_u64() != Some(vocab as u64)
        {
            return Err(WeightsError::KeyValue {
                key: "llama.vocab_size".into(),
                value: v.describe(),
                expected: format!("`token_embd.weight` has {vocab} rows"),
            });
        }
        let head_dim = shape.head_dim();
        let rope = size_or(
            header,
            "llama.rope.dimension_count",
            head_dim,
            1,
            MAX_HIDDEN,
        )?;
        if rope != head_dim {
            return Err(WeightsError::KeyValue {
                key: "llama.rope.dimension_count".into(),
                value: rope.to_string(),
                expected: format!(
                    "only rotary embeddings over the whole head ({head_dim}) are supported"
                ),
            });
        }
        string(header, "tokenizer.ggml.model")?;
        let tokens = match header.get("tokenizer.ggml.tokens") {
            Some(GgufValue::Array(a)) if a.strings().is_some() => a.len,
            Some(other) => {
                return Err(WeightsError::KeyType {
                    key: "tokenizer.ggml.tokens".into(),
                    expected: "an array of strings",
                    found: other.describe(),
                });
            }
            None => return Err(WeightsError::MissingKey("tokenizer.ggml.tokens".into())),
        };
        if tokens != vocab as u64 {
            return Err(WeightsError::KeyValue {
                key: "tokenizer.ggml.tokens".into(),
                value: format!("{tokens} tokens"),
                expected: format!("`token_embd.weight` has {vocab} rows"),
            });
        }
        check_tensors(header, &shape.expected_tensors(), None)?;
        Ok(shape)
    }
}
