//! Byte-level BPE from a GGUF vocabulary (`tokenizer.ggml.model = gpt2`), split before
//! merging the way llama.cpp splits for the file's `tokenizer.ggml.pre`.
//!
//! candle's `TokenizerFromGguf` builds the vocabulary, merges and special tokens; the
//! pre-tokenizer is chosen here, because llama.cpp's differs from candle's default for most
//! `pre` values (candle adds a prefix space that llama.cpp does not).

use candle_core::quantized::gguf_file::{Content, Value};
use candle_core::quantized::tokenizer::TokenizerFromGguf;
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::processors::PostProcessorWrapper;
use tokenizers::tokenizer::SplitDelimiterBehavior;

use crate::error::{Result, RuntimeError};

/// The `pre` values whose splitting is implemented, for error messages.
pub(crate) const SUPPORTED_PRE: &str =
    "smollm, starcoder, refact, codeshell, gpt2, llama-bpe, llama3, qwen2";

/// llama-bpe (Llama 3): digits in groups of up to three.
const REGEX_LLAMA3: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// qwen2: like llama-bpe with single digits.
const REGEX_QWEN2: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// A GGUF byte-level BPE vocabulary.
#[derive(Debug)]
pub struct BpeTokenizer {
    inner: tokenizers::Tokenizer,
    vocab: usize,
    bos: Option<u32>,
}

impl BpeTokenizer {
    /// Builds the tokenizer from a GGUF header; the error says which key is wrong.
    pub(crate) fn from_gguf(content: &Content) -> std::result::Result<Self, String> {
        let pre = match content.metadata.get("tokenizer.ggml.pre") {
            Some(Value::String(pre)) => pre.clone(),
            Some(other) => return Err(format!("`tokenizer.ggml.pre` is not a string: {other:?}")),
            None => "gpt2".to_owned(),
        };
        let pre_tokenizer = pre_tokenizer(&pre)?;
        let mut inner = tokenizers::Tokenizer::from_gguf(content)
            .map_err(|e| crate::error::candle_message(&e))?;
        inner.with_pre_tokenizer(Some(pre_tokenizer));
        inner.with_post_processor(None::<PostProcessorWrapper>);
        let vocab = match content.metadata.get("tokenizer.ggml.tokens") {
            Some(Value::Array(tokens)) => tokens.len(),
            _ => return Err("`tokenizer.ggml.tokens` is missing".to_owned()),
        };
        let add_bos = matches!(
            content.metadata.get("tokenizer.ggml.add_bos_token"),
            Some(Value::Bool(true))
        );
        let bos = match content.metadata.get("tokenizer.ggml.bos_token_id") {
            Some(v) if add_bos => Some(
                super::token_id(v)
                    .filter(|&id| (id as usize) < vocab)
                    .ok_or("`tokenizer.ggml.bos_token_id` is not a token of the vocabulary")?,
            ),
            _ => None,
        };
        Ok(Self { inner, vocab, bos })
    }
}

/// llama.cpp's splitting for `pre` as a `tokenizers` pre-tokenizer.
fn pre_tokenizer(pre: &str) -> std::result::Result<PreTokenizerWrapper, String> {
    let split = |regex: &str| -> std::result::Result<PreTokenizerWrapper, String> {
        let split = Split::new(
            SplitPattern::Regex(regex.to_owned()),
            SplitDelimiterBehavior::Isolated,
            false,
        )
        .map_err(|e| e.to_string())?;
        Ok(Sequence::new(vec![
            split.into(),
            ByteLevel::new(false, true, false).into(),
        ])
        .into())
    };
    Ok(match pre {
        // llama.cpp: `\p{N}` first (every digit alone), then GPT-2's regex.
        "smollm" | "starcoder" | "refact" | "codeshell" => Sequence::new(vec![
            Digits::new(true).into(),
            ByteLevel::new(false, true, true).into(),
        ])
        .into(),
        "gpt2" => ByteLevel::new(false, true, true).into(),
        "llama-bpe" | "llama3" => split(REGEX_LLAMA3)?,
        "qwen2" => split(REGEX_QWEN2)?,
        other => {
            return Err(format!(
                "`tokenizer.ggml.pre` is `{other}`, whose splitting is not supported; supported: {SUPPORTED_PRE}"
            ));
        }
    })
}

impl super::Tokenizer for BpeTokenizer {
    fn encode(&self, text: &str) -> Result<Vec<u32>> {
        let encoding = self
            .inner
            .encode_fast(text, false)
            .map_err(|e| RuntimeError::Tokenizer(format!("cannot encode the text: {e}")))?;
        Ok(self
            .bos
            .into_iter()
            .chain(encoding.get_ids().iter().copied())
            .collect())
    }

    fn decode(&self, tokens: &[u32]) -> Result<String> {
        if let Some(bad) = tokens.iter().find(|&&t| t as usize >= self.vocab) {
            return Err(RuntimeError::Tokenizer(format!(
                "token {bad} is outside the vocabulary of {} tokens",
                self.vocab
            )));
        }
        self.inner
            .decode(tokens, true)
            .map_err(|e| RuntimeError::Tokenizer(format!("cannot decode tokens: {e}")))
    }

    fn vocab_size(&self) -> usize {
        self.vocab
    }
}
