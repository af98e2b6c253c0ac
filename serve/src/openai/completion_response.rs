//! `/v1/completions` answers: the whole [`Completion`], or a stream of them made by one
//! [`CompletionStream`] (OpenAI streams completions as `text_completion` objects too).
//!
//! Field for field this is openai-python's `Completion` (`logprobs` always `null`), plus the
//! `modularbase` field, which a stream carries on its last chunk only. As OpenAI does, the
//! chunks before the finishing one have `finish_reason: null`, which openai-python's type
//! does not allow: a client with `_strict_response_validation` refuses streamed completions
//! from OpenAI itself, and from here alike.

use serde::Serialize;

use super::answered_by::AnsweredBy;
use super::id::{SYSTEM_FINGERPRINT, new_id, unix_now};
use super::usage::{FinishReason, Usage};

/// The `cmpl-` id prefix.
const ID_PREFIX: &str = "cmpl";

/// A text completion, whole or one streamed chunk (`object: "text_completion"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completion {
    /// `cmpl-…`, the same on every chunk of a stream.
    pub id: String,
    /// Always `text_completion`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: u64,
    /// The model as the request named it.
    pub model: String,
    /// [`SYSTEM_FINGERPRINT`].
    pub system_fingerprint: &'static str,
    /// One choice; none on a stream's usage chunk.
    pub choices: Vec<CompletionChoice>,
    /// Always there on a whole completion; in a stream absent without `include_usage`, and
    /// with it `null` except on the last chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Option<Usage>>,
    /// Who answered: always on a whole completion, on a stream's last chunk only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modularbase: Option<AnsweredBy>,
}

/// `choices[0]` of a [`Completion`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompletionChoice {
    /// Always 0.
    pub index: usize,
    /// The generated text (this chunk's piece, in a stream).
    pub text: String,
    /// Always `null`.
    pub logprobs: (),
    /// Why it ended; `null` on a stream's chunks before the finishing one.
    pub finish_reason: Option<FinishReason>,
}

impl Completion {
    /// The whole completion `text` for `model`, with a fresh id and the time now.
    pub fn new(
        model: impl Into<String>,
        text: impl Into<String>,
        finish_reason: FinishReason,
        usage: Usage,
        answered_by: AnsweredBy,
    ) -> Self {
        let mut completion = CompletionStream::new(model, false).chunk(text.into());
        for choice in &mut completion.choices {
            choice.finish_reason = Some(finish_reason);
        }
        completion.usage = Some(Some(usage));
        completion.modularbase = Some(answered_by);
        completion
    }
}

/// Makes the chunks of one completion stream, all with the same id, time and model.
#[derive(Debug, Clone)]
pub struct CompletionStream {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
}

impl CompletionStream {
    /// A new stream for `model`; `include_usage` from `stream_options`.
    pub fn new(model: impl Into<String>, include_usage: bool) -> Self {
        Self {
            id: new_id(ID_PREFIX),
            created: unix_now(),
            model: model.into(),
            include_usage,
        }
    }

    /// The stream's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A chunk adding `piece` to the text.
    pub fn content(&self, piece: impl Into<String>) -> Completion {
        self.chunk(piece.into())
    }

    /// The last chunks: the finishing one (empty text, `finish_reason` set), then, with
    /// `include_usage`, one with no choices and the usage. The last carries `answered_by`.
    pub fn finish(
        &self,
        finish_reason: FinishReason,
        usage: Usage,
        answered_by: AnsweredBy,
    ) -> Vec<Completion> {
        let mut finishing = self.chunk(String::new());
        for choice in &mut finishing.choices {
            choice.finish_reason = Some(finish_reason);
        }
        if !self.include_usage {
            finishing.modularbase = Some(answered_by);
            return vec![finishing];
        }
        let mut usage_chunk = self.chunk(String::new());
        usage_chunk.choices.clear();
        usage_chunk.usage = Some(Some(usage));
        usage_chunk.modularbase = Some(answered_by);
        vec![finishing, usage_chunk]
    }

    fn chunk(&self, text: String) -> Completion {
        Completion {
            id: self.id.clone(),
            object: "text_completion",
            created: self.created,
            model: self.model.clone(),
            system_fingerprint: SYSTEM_FINGERPRINT,
            choices: vec![CompletionChoice {
                index: 0,
                text,
                logprobs: (),
                finish_reason: None,
            }],
            usage: self.include_usage.then_some(None),
            modularbase: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn stable(completion: &Completion) -> Value {
        let mut value = serde_json::to_value(completion).expect("serializes");
        assert!(completion.id.starts_with("cmpl-"), "{}", completion.id);
        assert!(completion.created > 1_700_000_000);
        value["id"] = json!("ID");
        value["created"] = json!(0);
        value
    }

    fn object(text: &str, finish: Value) -> Value {
        json!({
            "id": "ID",
            "object": "text_completion",
            "created": 0,
            "model": "m",
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [{"index": 0, "text": text, "logprobs": null, "finish_reason": finish}],
        })
    }

    #[test]
    fn whole_completion_has_openai_fields() {
        let c = Completion::new(
            "m",
            "abc",
            FinishReason::Stop,
            Usage::new(2, 3),
            AnsweredBy::default(),
        );
        let mut want = object("abc", json!("stop"));
        want["usage"] = json!({"prompt_tokens": 2, "completion_tokens": 3, "total_tokens": 5});
        want["modularbase"] = json!({"pack": null, "wanted": null, "substitutions": []});
        assert_eq!(stable(&c), want);
    }

    #[test]
    fn stream_without_usage() {
        let s = CompletionStream::new("m", false);
        let mut chunks = vec![s.content("a"), s.content("b")];
        chunks.extend(s.finish(
            FinishReason::Length,
            Usage::new(1, 2),
            AnsweredBy::default(),
        ));
        assert!(chunks.iter().all(|c| c.id == s.id()));
        let mut last = object("", json!("length"));
        last["modularbase"] = json!({"pack": null, "wanted": null, "substitutions": []});
        let got: Vec<Value> = chunks.iter().map(stable).collect();
        assert_eq!(
            got,
            [object("a", Value::Null), object("b", Value::Null), last]
        );
    }

    #[test]
    fn stream_with_usage() {
        let s = CompletionStream::new("m", true);
        let mut chunks = vec![s.content("a")];
        chunks.extend(s.finish(FinishReason::Stop, Usage::new(1, 1), AnsweredBy::default()));
        let got: Vec<Value> = chunks.iter().map(stable).collect();
        let null_usage = |mut v: Value| {
            v["usage"] = Value::Null;
            v
        };
        let mut usage = object("", Value::Null);
        usage["choices"] = json!([]);
        usage["usage"] = json!({"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2});
        usage["modularbase"] = json!({"pack": null, "wanted": null, "substitutions": []});
        assert_eq!(
            got,
            [
                null_usage(object("a", Value::Null)),
                null_usage(object("", json!("stop"))),
                usage,
            ]
        );
    }
}
