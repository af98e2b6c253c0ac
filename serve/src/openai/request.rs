//! `POST /v1/chat/completions` and `POST /v1/completions` request bodies, read into one
//! [`GenerationParams`] and validated as OpenAI validates them.
//!
//! Unknown fields are ignored, as OpenAI-compatible servers do; a known field of the wrong
//! type or out of range is a 400 naming it. `null` is the same as leaving a field out.

use modularbase_runtime::{ChatMessage, KeepAlive};
use serde_json::Value;

use super::error::ApiError;
use super::fields::{self, Object};
use super::keep_alive::parse_keep_alive;
use super::messages::parse_messages;

/// The longest `model` accepted, in bytes.
pub const MAX_MODEL_BYTES: usize = 256;
/// The most chat messages in one request.
pub const MAX_MESSAGES: usize = 256;
/// The most text in one request (a prompt, or all messages' content together), in bytes.
pub const MAX_TEXT_BYTES: usize = 1 << 20;
/// The most `stop` sequences.
pub const MAX_STOPS: usize = 4;
/// The longest `stop` sequence, in bytes.
pub const MAX_STOP_BYTES: usize = 256;

/// OpenAI's `max_tokens` when a completion request leaves it out.
const COMPLETION_DEFAULT_MAX_TOKENS: usize = 16;

/// What to generate from: chat turns or a plain prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `/v1/chat/completions` `messages`, to be rendered by the base's chat template.
    Chat(Vec<ChatMessage>),
    /// `/v1/completions` `prompt`, continued as is.
    Text(String),
}

/// One generation request, from either endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationParams {
    /// The model asked for (a pack id or an alias); non-empty, at most [`MAX_MODEL_BYTES`].
    pub model: String,
    /// The messages or prompt.
    pub input: Input,
    /// The most tokens to generate: chat's `max_completion_tokens` (or the older
    /// `max_tokens`), `None` when neither is given; completions' `max_tokens`, 16 when absent.
    pub max_tokens: Option<usize>,
    /// Sampling temperature, 0 to 2 (default 1).
    pub temperature: f64,
    /// Nucleus sampling mass, above 0 and at most 1 (default 1).
    pub top_p: f64,
    /// Sampling seed, for repeatable answers.
    pub seed: Option<u64>,
    /// Up to [`MAX_STOPS`] sequences that end the answer (not included in it).
    pub stop: Vec<String>,
    /// Whether to stream server-sent events.
    pub stream: bool,
    /// `stream_options.include_usage`: a last chunk with the token counts.
    pub include_usage: bool,
    /// Ollama's `keep_alive`: how long the answering pack stays loaded afterwards.
    pub keep_alive: Option<KeepAlive>,
}

/// Reads a `POST /v1/chat/completions` body.
pub fn parse_chat(body: &[u8]) -> Result<GenerationParams, ApiError> {
    let body = fields::object(body)?;
    let model = model(&body)?;
    let input = Input::Chat(parse_messages(fields::given(&body, "messages"))?);
    // `max_completion_tokens` replaced `max_tokens`; the newer name wins when both are given.
    let max_tokens = match max_tokens(&body, "max_completion_tokens")? {
        Some(n) => Some(n),
        None => max_tokens(&body, "max_tokens")?,
    };
    common(&body, model, input, max_tokens)
}

/// Reads a `POST /v1/completions` body.
pub fn parse_completion(body: &[u8]) -> Result<GenerationParams, ApiError> {
    let body = fields::object(body)?;
    let model = model(&body)?;
    let input = Input::Text(prompt(&body)?);
    let max_tokens = max_tokens(&body, "max_tokens")?.unwrap_or(COMPLETION_DEFAULT_MAX_TOKENS);
    common(&body, model, input, Some(max_tokens))
}

/// The fields both endpoints share.
fn common(
    body: &Object,
    model: String,
    input: Input,
    max_tokens: Option<usize>,
) -> Result<GenerationParams, ApiError> {
    let stream = fields::boolean(body, "stream")?.unwrap_or(false);
    check_n(body)?;
    Ok(GenerationParams {
        model,
        input,
        max_tokens,
        temperature: temperature(body)?,
        top_p: top_p(body)?,
        seed: fields::unsigned(body, "seed")?,
        stop: stop(body)?,
        stream,
        include_usage: include_usage(body, stream)?,
        keep_alive: fields::given(body, "keep_alive")
            .map(parse_keep_alive)
            .transpose()?
            .flatten(),
    })
}

fn model(body: &Object) -> Result<String, ApiError> {
    let model = fields::string(body, "model")?.unwrap_or_default();
    if model.is_empty() {
        return Err(ApiError::bad_request(
            Some("model"),
            "`model` is required: the id of a model listed by GET /v1/models",
        ));
    }
    if model.len() > MAX_MODEL_BYTES {
        return Err(ApiError::bad_request(
            Some("model"),
            format!("`model` is over {MAX_MODEL_BYTES} bytes"),
        ));
    }
    Ok(model.to_owned())
}

/// `prompt`: a string, or an array of exactly one string.
fn prompt(body: &Object) -> Result<String, ApiError> {
    let what = "a string or an array of one string";
    let prompt = match fields::given(body, "prompt") {
        None => {
            return Err(ApiError::bad_request(
                Some("prompt"),
                format!("`prompt` is required: {what}"),
            ));
        }
        Some(Value::String(s)) => s.as_str(),
        Some(Value::Array(list)) => match list.as_slice() {
            [Value::String(s)] => s.as_str(),
            [Value::String(_), _, ..] => {
                return Err(ApiError::bad_request(
                    Some("prompt"),
                    format!(
                        "`prompt` holds {} prompts; batches are not supported: send one \
                         request per prompt",
                        list.len()
                    ),
                ));
            }
            _ => {
                return Err(ApiError::bad_request(
                    Some("prompt"),
                    format!("`prompt` must be {what} (token arrays are not supported)"),
                ));
            }
        },
        Some(_) => return Err(fields::wrong_type("prompt", what)),
    };
    if prompt.len() > MAX_TEXT_BYTES {
        return Err(ApiError::bad_request(
            Some("prompt"),
            format!("`prompt` is over {MAX_TEXT_BYTES} bytes"),
        ));
    }
    Ok(prompt.to_owned())
}

fn max_tokens(body: &Object, name: &str) -> Result<Option<usize>, ApiError> {
    let what = "an integer of at least 1";
    match fields::unsigned(body, name).map_err(|_| fields::wrong_type(name, what))? {
        None => Ok(None),
        Some(0) => Err(fields::wrong_type(name, what)),
        Some(n) => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
    }
}

fn temperature(body: &Object) -> Result<f64, ApiError> {
    let value = fields::number(body, "temperature")?.unwrap_or(1.0);
    if !(0.0..=2.0).contains(&value) {
        return Err(ApiError::bad_request(
            Some("temperature"),
            format!("`temperature` is {value}; it must be between 0 and 2"),
        ));
    }
    Ok(value)
}

fn top_p(body: &Object) -> Result<f64, ApiError> {
    let value = fields::number(body, "top_p")?.unwrap_or(1.0);
    if value <= 0.0 || value > 1.0 {
        return Err(ApiError::bad_request(
            Some("top_p"),
            format!("`top_p` is {value}; it must be above 0 and at most 1"),
        ));
    }
    Ok(value)
}

/// `stop`: a string or an array of up to [`MAX_STOPS`] non-empty strings.
fn stop(body: &Object) -> Result<Vec<String>, ApiError> {
    let what = format!("a string or an array of up to {MAX_STOPS} strings");
    let stops: Vec<&str> = match fields::given(body, "stop") {
        None => return Ok(Vec::new()),
        Some(Value::String(s)) => vec![s],
        Some(Value::Array(list)) => {
            if list.len() > MAX_STOPS {
                return Err(ApiError::bad_request(
                    Some("stop"),
                    format!(
                        "`stop` holds {} sequences; at most {MAX_STOPS} are allowed",
                        list.len()
                    ),
                ));
            }
            list.iter()
                .map(|v| v.as_str().ok_or_else(|| fields::wrong_type("stop", &what)))
                .collect::<Result<_, _>>()?
        }
        Some(_) => return Err(fields::wrong_type("stop", &what)),
    };
    for s in &stops {
        if s.is_empty() {
            return Err(ApiError::bad_request(
                Some("stop"),
                "`stop` sequences must not be empty",
            ));
        }
        if s.len() > MAX_STOP_BYTES {
            return Err(ApiError::bad_request(
                Some("stop"),
                format!("`stop` sequences must be at most {MAX_STOP_BYTES} bytes"),
            ));
        }
    }
    Ok(stops.into_iter().map(str::to_owned).collect())
}

/// `stream_options.include_usage`; `stream_options` is only allowed on a streamed request.
fn include_usage(body: &Object, stream: bool) -> Result<bool, ApiError> {
    let options = match fields::given(body, "stream_options") {
        None => return Ok(false),
        Some(Value::Object(options)) => options,
        Some(_) => return Err(fields::wrong_type("stream_options", "an object")),
    };
    if !stream {
        return Err(ApiError::bad_request(
            Some("stream_options"),
            "`stream_options` is only allowed when `stream` is true",
        ));
    }
    fields::boolean(options, "include_usage")
        .map_err(|_| fields::wrong_type("stream_options.include_usage", "a boolean"))
        .map(Option::unwrap_or_default)
}

/// `n`: only one answer per request is supported.
fn check_n(body: &Object) -> Result<(), ApiError> {
    match fields::unsigned(body, "n").map_err(|_| fields::wrong_type("n", "1"))? {
        None | Some(1) => Ok(()),
        Some(other) => Err(ApiError::bad_request(
            Some("n"),
            format!("`n` is {other}; only one answer per request is supported (`n`: 1)"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    fn chat(body: Value) -> Result<GenerationParams, ApiError> {
        parse_chat(body.to_string().as_bytes())
    }

    fn completion(body: Value) -> Result<GenerationParams, ApiError> {
        parse_completion(body.to_string().as_bytes())
    }

    fn minimal_chat() -> Value {
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    }

    /// `minimal_chat` with `field` set to `value`.
    fn chat_with(field: &str, value: Value) -> Result<GenerationParams, ApiError> {
        let mut body = minimal_chat();
        body[field] = value;
        chat(body)
    }

    fn refused_chat(field: &str, value: Value) -> ApiError {
        match chat_with(field, value.clone()) {
            Ok(p) => panic!("{field}: {value} accepted as {p:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn chat_defaults() {
        let p = chat(minimal_chat()).expect("parsed");
        assert_eq!(
            p,
            GenerationParams {
                model: "m".to_owned(),
                input: Input::Chat(vec![ChatMessage::user("hi")]),
                max_tokens: None,
                temperature: 1.0,
                top_p: 1.0,
                seed: None,
                stop: vec![],
                stream: false,
                include_usage: false,
                keep_alive: None,
            }
        );
    }

    #[test]
    fn completion_defaults() {
        let p = completion(json!({"model": "m", "prompt": "once"})).expect("parsed");
        assert_eq!(p.input, Input::Text("once".to_owned()));
        assert_eq!(p.max_tokens, Some(16));
        assert_eq!((p.temperature, p.top_p), (1.0, 1.0));
        let p =
            completion(json!({"model": "m", "prompt": ["once"], "max_tokens": 3})).expect("parsed");
        assert_eq!(p.input, Input::Text("once".to_owned()));
        assert_eq!(p.max_tokens, Some(3));
    }

    #[test]
    fn every_field_read() {
        let mut body = minimal_chat();
        body["max_tokens"] = json!(9);
        body["max_completion_tokens"] = json!(7);
        body["temperature"] = json!(0.7);
        body["top_p"] = json!(0.9);
        body["seed"] = json!(42);
        body["stop"] = json!(["\n\n", "END"]);
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
        body["keep_alive"] = json!("10m");
        body["n"] = json!(1);
        body["user"] = json!("unknown fields are ignored");
        let p = chat(body).expect("parsed");
        assert_eq!(p.max_tokens, Some(7));
        assert_eq!((p.temperature, p.top_p, p.seed), (0.7, 0.9, Some(42)));
        assert_eq!(p.stop, ["\n\n", "END"]);
        assert!(p.stream && p.include_usage);
        assert_eq!(p.keep_alive, Some(KeepAlive::For(Duration::from_secs(600))));
        let p = chat_with("max_tokens", json!(5)).expect("parsed");
        assert_eq!(p.max_tokens, Some(5));
        let p = chat_with("stop", json!("END")).expect("parsed");
        assert_eq!(p.stop, ["END"]);
        let p = chat_with("keep_alive", json!(-1)).expect("parsed");
        assert_eq!(p.keep_alive, Some(KeepAlive::Forever));
    }

    #[test]
    fn nulls_are_not_given() {
        let mut body = minimal_chat();
        for field in [
            "max_tokens",
            "temperature",
            "top_p",
            "seed",
            "stop",
            "stream",
        ] {
            body[field] = Value::Null;
        }
        body["stream_options"] = Value::Null;
        body["keep_alive"] = Value::Null;
        assert_eq!(chat(body), chat(minimal_chat()));
    }

    #[test]
    fn not_json() {
        let e = parse_chat(b"{nope").expect_err("refused");
        assert!(
            e.message().starts_with("the body is not JSON: "),
            "{}",
            e.message()
        );
        assert_eq!(e.param(), None);
        let e = parse_completion(b"[1]").expect_err("refused");
        assert!(e.message().contains("JSON object"));
    }

    #[test]
    fn model_refusals() {
        let e = chat(json!({"messages": [{"role": "user", "content": "x"}]})).expect_err("no");
        assert_eq!(e.param(), Some("model"));
        assert!(e.message().contains("required"));
        assert_eq!(refused_chat("model", json!("")).param(), Some("model"));
        let e = refused_chat("model", json!(5));
        assert_eq!(e.message(), "`model` must be a string");
        let e = refused_chat("model", json!("x".repeat(257)));
        assert!(e.message().contains("256 bytes"));
    }

    #[test]
    fn range_refusals() {
        for (field, value, says) in [
            ("temperature", json!(5), "between 0 and 2"),
            ("temperature", json!(-0.1), "between 0 and 2"),
            ("temperature", json!("hot"), "must be a number"),
            ("top_p", json!(0), "above 0 and at most 1"),
            ("top_p", json!(1.5), "above 0 and at most 1"),
            ("top_p", json!(true), "must be a number"),
            ("max_tokens", json!(0), "an integer of at least 1"),
            ("max_tokens", json!(-3), "an integer of at least 1"),
            ("max_tokens", json!(2.5), "an integer of at least 1"),
            (
                "max_completion_tokens",
                json!("9"),
                "an integer of at least 1",
            ),
            ("seed", json!(-1), "a non-negative integer"),
            ("seed", json!("42"), "a non-negative integer"),
            ("stream", json!("yes"), "a boolean"),
            ("n", json!(2), "only one answer per request"),
            ("n", json!("1"), "must be 1"),
        ] {
            let e = refused_chat(field, value.clone());
            assert_eq!(e.param(), Some(field), "{field}: {value}");
            assert!(
                e.message().contains(says),
                "{field}: {value}: {}",
                e.message()
            );
        }
    }

    #[test]
    fn stop_refusals() {
        for (value, says) in [
            (json!(["a", "b", "c", "d", "e"]), "at most 4"),
            (json!([""]), "must not be empty"),
            (json!(""), "must not be empty"),
            (json!(["x".repeat(257)]), "at most 256 bytes"),
            (json!([1]), "a string or an array of up to 4 strings"),
            (json!({"a": 1}), "a string or an array of up to 4 strings"),
        ] {
            let e = refused_chat("stop", value.clone());
            assert_eq!(e.param(), Some("stop"), "{value}");
            assert!(e.message().contains(says), "{value}: {}", e.message());
        }
    }

    #[test]
    fn stream_options_only_when_streaming() {
        let e = refused_chat("stream_options", json!({"include_usage": true}));
        assert_eq!(e.param(), Some("stream_options"));
        assert!(e.message().contains("only allowed when `stream` is true"));
        let mut body = minimal_chat();
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": "yes"});
        let e = chat(body.clone()).expect_err("refused");
        assert_eq!(e.param(), Some("stream_options.include_usage"));
        body["stream_options"] = json!(true);
        let e = chat(body.clone()).expect_err("refused");
        assert_eq!(e.param(), Some("stream_options"));
        body["stream_options"] = json!({});
        assert!(!chat(body).expect("parsed").include_usage);
    }

    #[test]
    fn keep_alive_refusal() {
        let e = refused_chat("keep_alive", json!("bogus"));
        assert_eq!(e.param(), Some("keep_alive"));
    }

    #[test]
    fn prompt_refusals() {
        for (prompt, says) in [
            (Value::Null, "`prompt` is required"),
            (json!(["a", "b"]), "batches are not supported"),
            (json!([1, 2, 3]), "token arrays are not supported"),
            (json!([]), "an array of one string"),
            (json!(7), "a string or an array of one string"),
            (json!("x".repeat(MAX_TEXT_BYTES + 1)), "bytes"),
        ] {
            let e = completion(json!({"model": "m", "prompt": prompt})).expect_err("refused");
            assert_eq!(e.param(), Some("prompt"));
            assert!(e.message().contains(says), "{}", e.message());
        }
    }

    #[test]
    fn completion_shares_the_checks() {
        let e = completion(json!({"model": "m", "prompt": "p", "temperature": 5}))
            .expect_err("refused");
        assert_eq!(e.param(), Some("temperature"));
        let e = completion(json!({"prompt": "p"})).expect_err("refused");
        assert_eq!(e.param(), Some("model"));
        // Completions have no `max_completion_tokens`; it is an unknown field there.
        let p = completion(json!({"model": "m", "prompt": "p", "max_completion_tokens": 3}))
            .expect("parsed");
        assert_eq!(p.max_tokens, Some(16));
    }
}
