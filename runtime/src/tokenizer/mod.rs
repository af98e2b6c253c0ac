//! Text to token ids and back. A base's GGUF vocabulary decides which tokenizer it gets:
//! the byte tokenizer of the small bases we train ([`ByteTokenizer`]), or byte-level BPE
//! from `tokenizer.ggml.*` ([`BpeTokenizer`]) as llama.cpp runs it.

mod bpe;
mod bytes;

pub use bpe::BpeTokenizer;
pub(crate) use bytes::byte_vocab_metadata;
pub use bytes::{BOS, ByteTokenizer, EOS, VOCAB_SIZE};

use crate::error::Result;

/// A vocabulary's encoder and decoder.
pub trait Tokenizer: Send + Sync + std::fmt::Debug {
    /// The ids of `text`, with BOS in front when the vocabulary asks for one; the text of a
    /// special token (`<|im_start|>`) becomes that token.
    fn encode(&self, text: &str) -> Result<Vec<u32>>;
    /// The text of `tokens`; control tokens (BOS, EOS, …) print as nothing.
    fn decode(&self, tokens: &[u32]) -> Result<String>;
    /// Tokens in the vocabulary.
    fn vocab_size(&self) -> usize;
}

/// A GGUF token id value (any unsigned integer type that fits `u32`).
pub(crate) fn token_id(value: &candle_core::quantized::gguf_file::Value) -> Option<u32> {
    use candle_core::quantized::gguf_file::Value;
    match value {
        Value::U8(v) => Some(u32::from(*v)),
        Value::U16(v) => Some(u32::from(*v)),
        Value::U32(v) => Some(*v),
        Value::U64(v) => u32::try_from(*v).ok(),
        Value::I32(v) => u32::try_from(*v).ok(),
        Value::I64(v) => u32::try_from(*v).ok(),
        _ => None,
    }
}
