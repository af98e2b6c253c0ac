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
use super::envelope::{AnswerStream, Envelope, StreamChoice};
use super::usage::{FinishReason, Usage};

/// A text completion, whole or one streamed chunk (`object: "text_completion"`).
pub type Completion = Envelope<CompletionChoice>;

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
        let mut completion = CompletionStream::new(model, false).chunk(CompletionChoice {
            finish_reason: Some(finish_reason),
            ..CompletionChoice::content(text.into())
        });
        completion.usage = Some(Some(usage));
        completion.modularbase = Some(answered_by);
        completion
    }
}

/// Makes the chunks of one completion stream, all with the same id, time and model.
pub type CompletionStream = AnswerStream<CompletionChoice>;

impl StreamChoice for CompletionChoice {
    const OBJECT: &'static str = "text_completion";
    const ID_PREFIX: &'static str = "cmpl";

    fn content(piece: String) -> Self {
        Self {
            index: 0,
            text: piece,
            logprobs: (),
            finish_reason: None,
        }
    }

    /// Empty text, `finish_reason` set.
    fn finishing(finish_reason: FinishReason) -> Self {
        Self {
            finish_reason: Some(finish_reason),
            ..Self::content(String::new())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::SYSTEM_FINGERPRINT;
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
