//! The byte-level tokenizer of the small bases: one token per byte, plus BOS and EOS, and
//! the GGUF vocabulary that makes llama.cpp tokenize the same way.

use candle_core::quantized::gguf_file::Value;

use crate::error::Result;

/// Beginning-of-sequence token.
pub const BOS: u32 = 256;
/// End-of-sequence token.
pub const EOS: u32 = 257;
/// Tokens: 256 bytes, BOS, EOS.
pub const VOCAB_SIZE: usize = 258;

/// Bytes in, bytes out: every text round-trips, no vocabulary file needed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ByteTokenizer;

impl ByteTokenizer {
    /// `BOS` followed by the UTF-8 bytes of `text`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        std::iter::once(BOS)
            .chain(text.bytes().map(u32::from))
            .collect()
    }

    /// The text of `tokens`, skipping BOS/EOS; invalid UTF-8 becomes U+FFFD.
    pub fn decode(&self, tokens: &[u32]) -> String {
        let bytes: Vec<u8> = tokens
            .iter()
            .filter_map(|&t| u8::try_from(t).ok())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// llama.cpp's names for the vocabulary, for GGUF: `<0xNN>` byte tokens, except the
    /// space, which is `▁` (U+2581), `<s>` and `</s>`.
    ///
    /// llama.cpp's SentencePiece path turns every space into `▁` before it looks tokens up;
    /// naming the space token `▁` (a normal token) maps it back to byte 32, where a byte
    /// token `<0x20>` would leave `▁` to fall back to its three UTF-8 bytes.
    pub fn token_strings(&self) -> Vec<String> {
        (0..256)
            .map(|b| match b {
                SPACE => SPACE_PIECE.to_owned(),
                _ => format!("<0x{b:02X}>"),
            })
            .chain(["<s>".to_owned(), "</s>".to_owned()])
            .collect()
    }

    /// Whether `tokens` (a GGUF `tokenizer.ggml.tokens` list) is this vocabulary, as written
    /// now or before the space became `▁`.
    pub(crate) fn matches(tokens: &[String]) -> bool {
        tokens.len() == VOCAB_SIZE
            && tokens.iter().enumerate().all(|(i, t)| match i {
                256 => t == "<s>",
                257 => t == "</s>",
                SPACE => t == SPACE_PIECE || t == "<0x20>",
                _ => *t == format!("<0x{i:02X}>"),
            })
    }
}

impl super::Tokenizer for ByteTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(ByteTokenizer::encode(self, text))
    }

    fn decode(&self, tokens: &[u32]) -> Result<String> {
        Ok(ByteTokenizer::decode(self, tokens))
    }

    fn vocab_size(&self) -> usize {
        VOCAB_SIZE
    }
}

const SPACE: usize = 0x20;
const SPACE_PIECE: &str = "\u{2581}";

/// llama.cpp token types.
const TOKEN_NORMAL: i32 = 1;
const TOKEN_CONTROL: i32 = 3;
const TOKEN_BYTE: i32 = 6;

/// The `tokenizer.ggml.*` keys of the byte vocabulary for a base of `vocab` tokens (258,
/// or more when a base reserves rows): a SentencePiece (`llama`) vocabulary that llama.cpp
/// tokenizes byte for byte as [`ByteTokenizer`] does, with no space prefix.
pub(crate) fn byte_vocab_metadata(vocab: usize) -> Vec<(&'static str, Value)> {
    let mut tokens = ByteTokenizer.token_strings();
    tokens.extend((VOCAB_SIZE..vocab).map(|i| format!("<unused{i}>")));
    let types = (0..vocab).map(|t| match t {
        SPACE => TOKEN_NORMAL,
        t if t < 256 => TOKEN_BYTE,
        _ => TOKEN_CONTROL,
    });
    vec![
        ("tokenizer.ggml.model", Value::String("llama".into())),
        (
            "tokenizer.ggml.tokens",
            Value::Array(tokens.into_iter().map(Value::String).collect()),
        ),
        (
            "tokenizer.ggml.scores",
            Value::Array((0..vocab).map(|_| Value::F32(0.0)).collect()),
        ),
        (
            "tokenizer.ggml.token_type",
            Value::Array(types.map(Value::I32).collect()),
        ),
        ("tokenizer.ggml.bos_token_id", Value::U32(BOS)),
        ("tokenizer.ggml.eos_token_id", Value::U32(EOS)),
        ("tokenizer.ggml.add_bos_token", Value::Bool(true)),
        ("tokenizer.ggml.add_space_prefix", Value::Bool(false)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_through_bytes() {
        let tokens = ByteTokenizer.encode("héllo");
        assert_eq!(tokens[0], BOS);
        assert_eq!(tokens.len(), 1 + "héllo".len());
        assert_eq!(ByteTokenizer.decode(&tokens), "héllo");
        assert_eq!(ByteTokenizer.token_strings().len(), VOCAB_SIZE);
        assert!(ByteTokenizer::matches(&ByteTokenizer.token_strings()));
    }

    #[test]
    fn the_space_token_is_sentencepiece_s_space_mark() {
        let tokens = ByteTokenizer.token_strings();
        assert_eq!(tokens[32], "\u{2581}");
        assert_eq!(tokens[33], "<0x21>");
        let mut old = tokens.clone();
        old[32] = "<0x20>".into();
        assert!(ByteTokenizer::matches(&old));
        old[40] = "x".into();
        assert!(!ByteTokenizer::matches(&old));
    }
}
