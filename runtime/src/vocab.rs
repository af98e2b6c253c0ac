//! A base's text side, read from its GGUF: the tokenizer its `tokenizer.ggml.model` names,
//! the tokens that end generation, and the chat template.

use std::sync::Arc;

use candle_core::quantized::gguf_file::{Content, Value};

use crate::chat::{ChatMessage, ChatTemplate};
use crate::error::Result;
use crate::tokenizer::{
    BOS, BpeTokenizer, ByteTokenizer, EOS, Tokenizer, byte_vocab_metadata, token_id,
};

/// Token texts that end a turn in common chat formats; llama.cpp stops on these too when
/// they are control tokens, whatever the file names as EOS.
const END_OF_TURN_TEXTS: &[&str] = &[
    "<|endoftext|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|end|>",
    "<end_of_turn>",
    "</s>",
];

/// llama.cpp's token type of control tokens.
const TOKEN_CONTROL: u32 = 3;

/// The tokenizer, stop tokens and chat template of a base.
#[derive(Debug, Clone)]
pub struct Vocab {
    tokenizer: Arc<dyn Tokenizer>,
    stop: Vec<u32>,
    chat: Option<ChatTemplate>,
    /// The file's `tokenizer.*` keys, written back unchanged when the base is rewritten;
    /// empty for the byte vocabulary, whose keys are generated.
    metadata: Vec<(String, Value)>,
    description: String,
    /// The token a document starts after, for scoring text from its first token.
    document_start: Option<u32>,
}

impl Vocab {
    /// The byte vocabulary of the small bases (no chat template).
    pub fn bytes() -> Self {
        Self {
            tokenizer: Arc::new(ByteTokenizer),
            stop: vec![EOS],
            chat: None,
            metadata: Vec::new(),
            description: "bytes + BOS/EOS".to_owned(),
            document_start: Some(BOS),
        }
    }

    /// The vocabulary of a GGUF header whose token embedding has `rows` rows; the error says
    /// which key is missing or wrong and what is supported.
    pub(crate) fn from_gguf(content: &Content, rows: usize) -> std::result::Result<Self, String> {
        let get = |key: &str| content.metadata.get(key);
        let model = match get("tokenizer.ggml.model") {
            Some(Value::String(m)) => m.as_str(),
            Some(_) => return Err("`tokenizer.ggml.model` is not a string".to_owned()),
            None => return Err("metadata key `tokenizer.ggml.model` is missing".to_owned()),
        };
        let tokens = string_array(get("tokenizer.ggml.tokens"), "tokenizer.ggml.tokens")?;
        if tokens.len() != rows {
            return Err(format!(
                "the vocabulary has {} tokens but `token_embd.weight` has {rows} rows",
                tokens.len()
            ));
        }
        let mut vocab = match model {
            "gpt2" => {
                let bpe = BpeTokenizer::from_gguf(content)?;
                let pre = match get("tokenizer.ggml.pre") {
                    Some(Value::String(p)) => p.clone(),
                    _ => "gpt2".to_owned(),
                };
                Self {
                    description: format!(
                        "byte-level BPE, `{pre}` splitting ({} tokens)",
                        tokens.len()
                    ),
                    tokenizer: Arc::new(bpe),
                    stop: Vec::new(),
                    chat: None,
                    metadata: Vec::new(),
                    document_start: None,
                }
            }
            "llama" if ByteTokenizer::matches(&tokens) => Self::bytes(),
            "llama" => {
                return Err(
                    "SentencePiece (`llama`) vocabularies other than ModularBase's byte vocabulary are not supported yet; supported: `gpt2` (byte-level BPE) and the byte vocabulary".to_owned(),
                );
            }
            other => {
                return Err(format!(
                    "`tokenizer.ggml.model` is `{other}`; supported: `gpt2` (byte-level BPE) and `llama` with ModularBase's byte vocabulary"
                ));
            }
        };
        if model == "gpt2" {
            vocab.stop = stop_tokens(content, &tokens)?;
            // Pretraining text is documents separated by end-of-text: scoring after one is
            // scoring text as the model saw it begin.
            vocab.document_start = tokens
                .iter()
                .position(|t| t == "<|endoftext|>")
                .and_then(|i| u32::try_from(i).ok())
                .or_else(|| vocab.stop.first().copied());
            vocab.metadata = content
                .metadata
                .iter()
                .filter(|(k, _)| k.starts_with("tokenizer."))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            vocab.metadata.sort_by(|a, b| a.0.cmp(&b.0));
            let text_of = |key: &str| {
                get(key)
                    .and_then(token_id)
                    .and_then(|id| tokens.get(id as usize).cloned())
                    .unwrap_or_default()
            };
            vocab.chat = match get("tokenizer.chat_template") {
                Some(Value::String(source)) => Some(
                    ChatTemplate::new(
                        source.clone(),
                        text_of("tokenizer.ggml.bos_token_id"),
                        text_of("tokenizer.ggml.eos_token_id"),
                    )
                    .map_err(|e| format!("`tokenizer.chat_template`: {e}"))?,
                ),
                Some(_) => return Err("`tokenizer.chat_template` is not a string".to_owned()),
                None => None,
            };
        }
        Ok(vocab)
    }

    /// The token text is scored after (BOS for the byte vocabulary, end-of-text for BPE
    /// vocabularies that have it), when there is one.
    pub fn document_start(&self) -> Option<u32> {
        self.document_start
    }

    /// Whether this is the byte vocabulary (one token per byte).
    pub fn is_bytes(&self) -> bool {
        self.metadata.is_empty()
    }

    /// The tokenizer.
    pub fn tokenizer(&self) -> &dyn Tokenizer {
        self.tokenizer.as_ref()
    }

    /// The ids of `text` (see [`Tokenizer::encode`]).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        self.tokenizer.encode(text)
    }

    /// The text of `tokens` (see [`Tokenizer::decode`]).
    pub fn decode(&self, tokens: &[u32]) -> Result<String> {
        self.tokenizer.decode(tokens)
    }

    /// Tokens that end generation (EOS and end-of-turn tokens).
    pub fn stop_tokens(&self) -> &[u32] {
        &self.stop
    }

    /// The chat template, when the base has one.
    pub fn chat_template(&self) -> Option<&ChatTemplate> {
        self.chat.as_ref()
    }

    /// The prompt text for one user turn: wrapped by the chat template when there is one,
    /// as it is otherwise.
    pub fn chat_prompt(&self, user: &str) -> Result<String> {
        match &self.chat {
            Some(template) => template.render(&[ChatMessage::user(user)], true),
            None => Ok(user.to_owned()),
        }
    }

    /// A line for model cards: what kind of vocabulary this is.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The `tokenizer.*` GGUF keys that describe this vocabulary for a base of `rows` tokens.
    pub(crate) fn gguf_metadata(&self, rows: usize) -> Vec<(String, Value)> {
        if self.metadata.is_empty() {
            byte_vocab_metadata(rows)
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect()
        } else {
            self.metadata.clone()
        }
    }
}

/// EOS, EOT and the control tokens whose text ends a turn, as llama.cpp gathers them.
fn stop_tokens(content: &Content, tokens: &[String]) -> std::result::Result<Vec<u32>, String> {
    let mut stop = Vec::new();
    for key in ["tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id"] {
        if let Some(value) = content.metadata.get(key) {
            let id = token_id(value)
                .filter(|&id| (id as usize) < tokens.len())
                .ok_or_else(|| format!("`{key}` is not a token of the vocabulary"))?;
            stop.push(id);
        }
    }
    if let Some(Value::Array(types)) = content.metadata.get("tokenizer.ggml.token_type") {
        for (id, (text, kind)) in tokens.iter().zip(types).enumerate() {
            if token_id(kind) == Some(TOKEN_CONTROL) && END_OF_TURN_TEXTS.contains(&text.as_str()) {
                stop.push(id as u32);
            }
        }
    }
    stop.sort_unstable();
    stop.dedup();
    Ok(stop)
}

/// A GGUF array of strings.
fn string_array(value: Option<&Value>, key: &str) -> std::result::Result<Vec<String>, String> {
    let Some(value) = value else {
        return Err(format!("metadata key `{key}` is missing"));
    };
    let Value::Array(items) = value else {
        return Err(format!("`{key}` is not an array"));
    };
    items
        .iter()
        .map(|v| match v {
            Value::String(s) => Ok(s.clone()),
            other => Err(format!("`{key}` holds a non-string: {other:?}")),
        })
        .collect()
}
