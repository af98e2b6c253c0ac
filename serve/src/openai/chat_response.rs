//! `/v1/chat/completions` answers: the whole [`ChatCompletion`], or a stream of
//! [`ChatCompletionChunk`]s made by one [`ChatStream`].
//!
//! Field for field these are openai-python's `ChatCompletion` and `ChatCompletionChunk`
//! (`logprobs` and `refusal` always `null`), plus the `modularbase` field. A stream carries
//! `modularbase` on its last chunk only: the usage chunk when `include_usage` is set, the
//! finishing chunk otherwise.

use serde::Serialize;

use super::answered_by::AnsweredBy;
use super::envelope::{AnswerStream, Envelope, StreamChoice};
use super::id::{SYSTEM_FINGERPRINT, new_id, unix_now};
use super::usage::{FinishReason, Usage};

/// The `chatcmpl-` id prefix.
const ID_PREFIX: &str = "chatcmpl";

/// A whole chat answer (`object: "chat.completion"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChatCompletion {
    /// `chatcmpl-…`.
    pub id: String,
    /// Always `chat.completion`.
    pub object: &'static str,
    /// Unix seconds.
    pub created: u64,
    /// The model as the request named it.
    pub model: String,
    /// One choice (`n` is always 1).
    pub choices: Vec<ChatChoice>,
    /// Token counts.
    pub usage: Usage,
    /// [`SYSTEM_FINGERPRINT`].
    pub system_fingerprint: &'static str,
    /// Who answered.
    pub modularbase: AnsweredBy,
}

/// `choices[0]` of a [`ChatCompletion`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatChoice {
    /// Always 0.
    pub index: usize,
    /// The answer.
    pub message: ResponseMessage,
    /// Always `null`: log-probabilities are not reported.
    pub logprobs: (),
    /// Why it ended.
    pub finish_reason: FinishReason,
}

/// The assistant's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResponseMessage {
    /// Always `assistant`.
    pub role: &'static str,
    /// The generated text.
    pub content: String,
    /// Always `null`: the model never refuses through this field.
    pub refusal: (),
}

impl ChatCompletion {
    /// The answer `content` for `model`, with a fresh id and the time now.
    pub fn new(
        model: impl Into<String>,
        content: impl Into<String>,
        finish_reason: FinishReason,
        usage: Usage,
        answered_by: AnsweredBy,
    ) -> Self {
        Self {
            id: new_id(ID_PREFIX),
            object: "chat.completion",
            created: unix_now(),
            model: model.into(),
            choices: vec![ChatChoice {
                index: 0,
                message: ResponseMessage {
                    role: "assistant",
                    content: content.into(),
                    refusal: (),
                },
                logprobs: (),
                finish_reason,
            }],
            usage,
            system_fingerprint: SYSTEM_FINGERPRINT,
            modularbase: answered_by,
        }
    }
}

/// One streamed piece of a chat answer (`object: "chat.completion.chunk"`).
pub type ChatCompletionChunk = Envelope<ChatChunkChoice>;

/// `choices[0]` of a chunk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChatChunkChoice {
    /// Always 0.
    pub index: usize,
    /// What this chunk adds.
    pub delta: ChatDelta,
    /// Always `null`.
    pub logprobs: (),
    /// `null` until the finishing chunk.
    pub finish_reason: Option<FinishReason>,
}

/// A chunk's addition: the role on the first, text on the next, nothing on the finishing one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ChatDelta {
    /// `assistant`, on the first chunk only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
    /// The next piece of text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
}

/// Makes the chunks of one chat stream, all with the same id, time and model.
pub type ChatStream = AnswerStream<ChatChunkChoice>;

impl StreamChoice for ChatChunkChoice {
    const OBJECT: &'static str = "chat.completion.chunk";
    const ID_PREFIX: &'static str = ID_PREFIX;

    /// [`ChatStream::start`]'s choice.
    fn opening() -> Option<Self> {
        Some(Self::assistant())
    }

    fn content(piece: String) -> Self {
        Self::with(ChatDelta {
            role: None,
            content: Some(piece),
        })
    }

    /// `delta: {}`, `finish_reason` set.
    fn finishing(finish_reason: FinishReason) -> Self {
        Self {
            finish_reason: Some(finish_reason),
            ..Self::with(ChatDelta::default())
        }
    }
}

impl ChatChunkChoice {
    /// `delta: {"role": "assistant", "content": ""}`.
    fn assistant() -> Self {
        Self::with(ChatDelta {
            role: Some("assistant"),
            content: Some(String::new()),
        })
    }

    /// The choice adding `delta`, not finishing.
    fn with(delta: ChatDelta) -> Self {
        Self {
            index: 0,
            delta,
            logprobs: (),
            finish_reason: None,
        }
    }
}

impl ChatStream {
    /// The first chunk: `delta: {"role": "assistant", "content": ""}`.
    pub fn start(&self) -> ChatCompletionChunk {
        self.chunk(ChatChunkChoice::assistant())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn to_json(value: &impl Serialize) -> Value {
        serde_json::to_value(value).expect("serializes")
    }

    /// `value` with `id` and `created` checked and replaced by placeholders.
    fn stable(mut value: Value, prefix: &str) -> Value {
        let id = value["id"].as_str().expect("id");
        assert!(id.starts_with(prefix), "{id}");
        assert!(value["created"].as_u64().expect("created") > 1_700_000_000);
        value["id"] = json!("ID");
        value["created"] = json!(0);
        value
    }

    fn answered() -> AnsweredBy {
        AnsweredBy {
            pack: Some("python_code".to_owned()),
            wanted: Some("python_code".to_owned()),
            substitutions: vec![],
        }
    }

    #[test]
    fn completion_has_openai_fields() {
        let c = ChatCompletion::new(
            "m",
            "hi",
            FinishReason::Length,
            Usage::new(3, 2),
            answered(),
        );
        assert_eq!(
            stable(to_json(&c), "chatcmpl-"),
            json!({
                "id": "ID",
                "object": "chat.completion",
                "created": 0,
                "model": "m",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": "hi", "refusal": null},
                    "logprobs": null,
                    "finish_reason": "length",
                }],
                "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
                "system_fingerprint": SYSTEM_FINGERPRINT,
                "modularbase": {"pack": "python_code", "wanted": "python_code", "substitutions": []},
            })
        );
    }

    fn chunk(delta: Value, finish: Value) -> Value {
        json!({
            "id": "ID",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        })
    }

    #[test]
    fn stream_without_usage() {
        let s = ChatStream::new("m", false);
        let mut chunks = vec![s.start(), s.content("Hel"), s.content("lo")];
        chunks.extend(s.finish(FinishReason::Stop, Usage::new(1, 2), AnsweredBy::default()));
        assert!(chunks.iter().all(|c| c.id == s.id()));
        let got: Vec<Value> = chunks
            .iter()
            .map(|c| stable(to_json(c), "chatcmpl-"))
            .collect();
        let mut last = chunk(json!({}), json!("stop"));
        last["modularbase"] = json!({"pack": null, "wanted": null, "substitutions": []});
        assert_eq!(
            got,
            [
                chunk(json!({"role": "assistant", "content": ""}), Value::Null),
                chunk(json!({"content": "Hel"}), Value::Null),
                chunk(json!({"content": "lo"}), Value::Null),
                last,
            ]
        );
    }

    #[test]
    fn stream_with_usage() {
        let s = ChatStream::new("m", true);
        let mut chunks = vec![s.start(), s.content("x")];
        chunks.extend(s.finish(FinishReason::Length, Usage::new(4, 1), answered()));
        let got: Vec<Value> = chunks
            .iter()
            .map(|c| stable(to_json(c), "chatcmpl-"))
            .collect();
        let with_null_usage = |mut v: Value| {
            v["usage"] = Value::Null;
            v
        };
        let mut usage = chunk(Value::Null, Value::Null);
        usage["choices"] = json!([]);
        usage["usage"] = json!({"prompt_tokens": 4, "completion_tokens": 1, "total_tokens": 5});
        usage["modularbase"] = to_json(&answered());
        assert_eq!(
            got,
            [
                with_null_usage(chunk(
                    json!({"role": "assistant", "content": ""}),
                    Value::Null
                )),
                with_null_usage(chunk(json!({"content": "x"}), Value::Null)),
                with_null_usage(chunk(json!({}), json!("length"))),
                usage,
            ]
        );
    }
}
