//! The byte-level tokenizer of the small bases: one token per byte, plus BOS and EOS.

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

    /// llama.cpp's names for the vocabulary (`<0xNN>` byte tokens, `<s>`, `</s>`), for GGUF.
    pub fn token_strings(&self) -> Vec<String> {
        (0..256)
            .map(|b| format!("<0x{b:02X}>"))
            .chain(["<s>".to_owned(), "</s>".to_owned()])
            .collect()
    }
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
    }
}
