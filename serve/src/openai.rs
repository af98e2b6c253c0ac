//! The OpenAI wire layer: what `/v1/chat/completions`, `/v1/completions` and `/v1/models`
//! read and write, as pure functions and serde types, with no server loop.
//!
//! Requests are parsed from the raw body into one [`GenerationParams`] ([`parse_chat`],
//! [`parse_completion`]); every refusal is an [`ApiError`], which renders OpenAI's
//! `{"error": {"message", "type", "param", "code"}}` envelope. Responses and stream chunks
//! are built to the shapes of the openai-python types, so that its client parses them with
//! strict validation; each also carries a `modularbase` field ([`AnsweredBy`]) saying which
//! pack answered (on a stream's last chunk only). Streams are framed as server-sent events
//! by [`sse_event`], [`sse_error`] and [`sse_done`].

mod answered_by;
mod chat_response;
mod completion_response;
mod envelope;
mod error;
mod fields;
mod id;
mod keep_alive;
mod messages;
mod models;
mod request;
mod sse;
mod usage;

pub use answered_by::{
    AnsweredBy, HEADER_PACK, HEADER_SUBSTITUTION, Substitution, answered_by_header,
};
pub use chat_response::{
    ChatChoice, ChatChunkChoice, ChatCompletion, ChatCompletionChunk, ChatDelta, ChatStream,
    ResponseMessage,
};
pub use completion_response::{Completion, CompletionChoice, CompletionStream};
pub use envelope::{AnswerStream, Envelope, StreamChoice};
pub use error::ApiError;
pub use id::{SYSTEM_FINGERPRINT, new_id, unix_now};
pub use keep_alive::parse_keep_alive;
pub use models::{ModelEntry, ModelList};
pub use request::{
    GenerationParams, Input, MAX_MESSAGES, MAX_MODEL_BYTES, MAX_STOP_BYTES, MAX_STOPS,
    MAX_TEXT_BYTES, parse_chat, parse_completion,
};
pub use sse::{SSE_DONE, sse_data, sse_done, sse_error, sse_event};
pub use usage::{FinishReason, Usage};
