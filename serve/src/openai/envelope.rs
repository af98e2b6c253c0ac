//! What chat and text answers share: the [`Envelope`] around the choices, and the
//! [`AnswerStream`] that makes one stream's chunks, both generic over the kind of choice
//! ([`StreamChoice`]).

use std::marker::PhantomData;

use serde::Serialize;

use super::answered_by::AnsweredBy;
use super::id::{SYSTEM_FINGERPRINT, new_id, unix_now};
use super::usage::{FinishReason, Usage};

/// An answer object around its choices: a stream's chunk, or a whole text completion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Envelope<C> {
    /// [`StreamChoice::ID_PREFIX`]`-…`, the same on every chunk of a stream.
    pub id: String,
    /// [`StreamChoice::OBJECT`].
    pub object: &'static str,
    /// Unix seconds: a stream's start, the same on every chunk.
    pub created: u64,
    /// The model as the request named it.
    pub model: String,
    /// [`SYSTEM_FINGERPRINT`].
    pub system_fingerprint: &'static str,
    /// One choice; none on a stream's usage chunk.
    pub choices: Vec<C>,
    /// Always there on a whole completion; in a stream absent without `include_usage`, and
    /// with it `null` except on the last chunk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<Option<Usage>>,
    /// Who answered: always on a whole completion, on a stream's last chunk only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modularbase: Option<AnsweredBy>,
}

/// A chunk's `choices[0]`, and what else sets one kind of stream apart.
pub trait StreamChoice: Serialize + Sized {
    /// The chunks' `object`.
    const OBJECT: &'static str;
    /// The ids' prefix, before the `-`.
    const ID_PREFIX: &'static str;

    /// The choice of a chunk opening the stream before any text, if this kind has one.
    fn opening() -> Option<Self> {
        None
    }

    /// The choice adding `piece` to the answer.
    fn content(piece: String) -> Self;

    /// The finishing choice: nothing added, `finish_reason` set.
    fn finishing(finish_reason: FinishReason) -> Self;
}

/// Makes the chunks of one stream of `C` choices, all with the same id, time and model.
#[derive(Debug, Clone)]
pub struct AnswerStream<C> {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    choice: PhantomData<fn() -> C>,
}

impl<C: StreamChoice> AnswerStream<C> {
    /// A new stream for `model`; `include_usage` from `stream_options`.
    pub fn new(model: impl Into<String>, include_usage: bool) -> Self {
        Self {
            id: new_id(C::ID_PREFIX),
            created: unix_now(),
            model: model.into(),
            include_usage,
            choice: PhantomData,
        }
    }

    /// The stream's id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The chunk opening the stream ([`StreamChoice::opening`]), if this kind has one.
    pub fn opening(&self) -> Option<Envelope<C>> {
        C::opening().map(|choice| self.chunk(choice))
    }

    /// A chunk adding `piece` to the answer.
    pub fn content(&self, piece: impl Into<String>) -> Envelope<C> {
        self.chunk(C::content(piece.into()))
    }

    /// The last chunks: the finishing one ([`StreamChoice::finishing`]), then, with
    /// `include_usage`, one with no choices and the usage. The last carries `answered_by`.
    pub fn finish(
        &self,
        finish_reason: FinishReason,
        usage: Usage,
        answered_by: AnsweredBy,
    ) -> Vec<Envelope<C>> {
        let mut finishing = self.chunk(C::finishing(finish_reason));
        if !self.include_usage {
            finishing.modularbase = Some(answered_by);
            return vec![finishing];
        }
        let mut usage_chunk = self.envelope(Vec::new());
        usage_chunk.usage = Some(Some(usage));
        usage_chunk.modularbase = Some(answered_by);
        vec![finishing, usage_chunk]
    }

    /// A chunk of this stream with the one `choice`.
    pub(super) fn chunk(&self, choice: C) -> Envelope<C> {
        self.envelope(vec![choice])
    }

    fn envelope(&self, choices: Vec<C>) -> Envelope<C> {
        Envelope {
            id: self.id.clone(),
            object: C::OBJECT,
            created: self.created,
            model: self.model.clone(),
            system_fingerprint: SYSTEM_FINGERPRINT,
            choices,
            usage: self.include_usage.then_some(None),
            modularbase: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::openai::{AnsweredBy, FinishReason, Usage};
    use crate::openai::{ChatStream, CompletionStream, Envelope, SYSTEM_FINGERPRINT, StreamChoice};

    /// `chunk` as JSON text, with the id and time fixed.
    fn text<C: StreamChoice>(mut chunk: Envelope<C>) -> String {
        chunk.id = "ID".to_owned();
        chunk.created = 0;
        serde_json::to_string(&chunk).expect("serializes")
    }

    #[test]
    fn fields_keep_their_order() {
        let chat = ChatStream::new("m", true);
        let text_stream = CompletionStream::new("m", false);
        let head = r#"{"id":"ID","object":"#;
        let model =
            format!(r#""created":0,"model":"m","system_fingerprint":"{SYSTEM_FINGERPRINT}""#);
        assert_eq!(
            text(chat.content("x")),
            format!(
                r#"{head}"chat.completion.chunk",{model},"choices":[{{"index":0,"delta":{{"content":"x"}},"logprobs":null,"finish_reason":null}}],"usage":null}}"#
            )
        );
        let last = chat.finish(FinishReason::Stop, Usage::new(1, 2), AnsweredBy::default());
        assert_eq!(
            last.into_iter().map(text).collect::<Vec<_>>(),
            [
                format!(
                    r#"{head}"chat.completion.chunk",{model},"choices":[{{"index":0,"delta":{{}},"logprobs":null,"finish_reason":"stop"}}],"usage":null}}"#
                ),
                format!(
                    r#"{head}"chat.completion.chunk",{model},"choices":[],"usage":{{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}},"modularbase":{{"pack":null,"wanted":null,"substitutions":[]}}}}"#
                ),
            ]
        );
        assert_eq!(
            text(text_stream.content("x")),
            format!(
                r#"{head}"text_completion",{model},"choices":[{{"index":0,"text":"x","logprobs":null,"finish_reason":null}}]}}"#
            )
        );
    }
}
