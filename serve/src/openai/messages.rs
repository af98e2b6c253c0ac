//! Chat `messages`: roles and text content, as OpenAI sends them.
//!
//! `content` is a string or an array of `{"type": "text", "text": …}` parts, which are
//! concatenated; any other part (images, audio, files) is refused. `developer` is the newer
//! name of `system` and maps to it.

use modularbase_runtime::ChatMessage;
use serde_json::Value;

use super::error::ApiError;
use super::request::{MAX_MESSAGES, MAX_TEXT_BYTES};

/// Reads the `messages` array.
pub(super) fn parse_messages(value: Option<&Value>) -> Result<Vec<ChatMessage>, ApiError> {
    let list = match value {
        None => {
            return Err(ApiError::bad_request(
                Some("messages"),
                "`messages` is required: an array of {\"role\", \"content\"} objects",
            ));
        }
        Some(Value::Array(list)) => list,
        Some(_) => {
            return Err(ApiError::bad_request(
                Some("messages"),
                "`messages` must be an array of {\"role\", \"content\"} objects",
            ));
        }
    };
    if list.is_empty() {
        return Err(ApiError::bad_request(
            Some("messages"),
            "`messages` must hold at least one message",
        ));
    }
    if list.len() > MAX_MESSAGES {
        return Err(ApiError::bad_request(
            Some("messages"),
            format!(
                "`messages` holds {} messages; at most {MAX_MESSAGES} are allowed",
                list.len()
            ),
        ));
    }
    let mut total = 0usize;
    let mut messages = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let message = parse_message(i, item)?;
        total += message.content.len();
        if total > MAX_TEXT_BYTES {
            return Err(ApiError::bad_request(
                Some("messages"),
                format!("the messages' content is over {MAX_TEXT_BYTES} bytes in all"),
            ));
        }
        messages.push(message);
    }
    Ok(messages)
}

/// One message: `messages[i]`.
fn parse_message(i: usize, item: &Value) -> Result<ChatMessage, ApiError> {
    let at = format!("messages[{i}]");
    let Value::Object(fields) = item else {
        return Err(ApiError::bad_request(
            Some(&at),
            format!("`{at}` must be an object with `role` and `content`"),
        ));
    };
    let role_at = format!("{at}.role");
    let role = match fields.get("role") {
        Some(Value::String(role)) => role.as_str(),
        Some(_) | None => {
            return Err(ApiError::bad_request(
                Some(&role_at),
                format!("`{role_at}` must be one of system, developer, user, assistant"),
            ));
        }
    };
    let role = match role {
        "system" | "developer" => "system",
        "user" => "user",
        "assistant" => "assistant",
        other => {
            return Err(ApiError::bad_request(
                Some(&role_at),
                format!(
                    "`{role_at}` is {other:?}; the roles supported are system, developer, \
                     user and assistant"
                ),
            ));
        }
    };
    let content_at = format!("{at}.content");
    let content = match fields.get("content") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Array(parts)) => text_parts(&content_at, parts)?,
        // An assistant turn that only called tools has no content.
        Some(Value::Null) | None if role == "assistant" => String::new(),
        Some(Value::Null) | None => {
            return Err(ApiError::bad_request(
                Some(&content_at),
                format!("`{content_at}` is required: a string or an array of text parts"),
            ));
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                Some(&content_at),
                format!("`{content_at}` must be a string or an array of text parts"),
            ));
        }
    };
    Ok(ChatMessage {
        role: role.to_owned(),
        content,
    })
}

/// `[{"type": "text", "text": …}, …]`, concatenated.
fn text_parts(at: &str, parts: &[Value]) -> Result<String, ApiError> {
    let mut text = String::new();
    for (j, part) in parts.iter().enumerate() {
        let part_at = format!("{at}[{j}]");
        let kind = part.get("type").and_then(Value::as_str);
        match (kind, part.get("text")) {
            (Some("text"), Some(Value::String(piece))) => {
                text.push_str(piece);
                if text.len() > MAX_TEXT_BYTES {
                    return Err(ApiError::bad_request(
                        Some(at),
                        format!("`{at}` is over {MAX_TEXT_BYTES} bytes"),
                    ));
                }
            }
            (Some("text"), _) => {
                return Err(ApiError::bad_request(
                    Some(&format!("{part_at}.text")),
                    format!("`{part_at}.text` must be a string"),
                ));
            }
            (Some(other), _) => {
                return Err(ApiError::bad_request(
                    Some(&format!("{part_at}.type")),
                    format!(
                        "`{part_at}` is a {other:?} part; only text content is supported \
                         (parts of type \"text\")"
                    ),
                ));
            }
            (None, _) => {
                return Err(ApiError::bad_request(
                    Some(&part_at),
                    format!(
                        "`{part_at}` must be an object {{\"type\": \"text\", \"text\": …}}; \
                         only text content is supported"
                    ),
                ));
            }
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Vec<ChatMessage>, ApiError> {
        parse_messages(Some(&value))
    }

    fn msg(role: &str, content: &str) -> ChatMessage {
        ChatMessage {
            role: role.to_owned(),
            content: content.to_owned(),
        }
    }

    #[test]
    fn roles_and_string_content() {
        let got = parse(json!([
            {"role": "developer", "content": "be brief"},
            {"role": "system", "content": "s"},
            {"role": "user", "content": "hi", "name": "ann"},
            {"role": "assistant", "content": null},
        ]))
        .expect("parsed");
        assert_eq!(
            got,
            [
                msg("system", "be brief"),
                msg("system", "s"),
                msg("user", "hi"),
                msg("assistant", "")
            ]
        );
    }

    #[test]
    fn text_parts_are_concatenated() {
        let got = parse(json!([{"role": "user", "content": [
            {"type": "text", "text": "hello "},
            {"type": "text", "text": "world"},
        ]}]))
        .expect("parsed");
        assert_eq!(got, [msg("user", "hello world")]);
    }

    fn refused(value: Value) -> ApiError {
        parse(value).expect_err("refused")
    }

    #[test]
    fn other_parts_are_refused() {
        let e = refused(json!([{"role": "user", "content": [
            {"type": "text", "text": "look"},
            {"type": "image_url", "image_url": {"url": "x"}},
        ]}]));
        assert_eq!(e.param(), Some("messages[0].content[1].type"));
        assert!(e.message().contains("only text content is supported"));
        let e = refused(json!([{"role": "user", "content": ["bare"]}]));
        assert_eq!(e.param(), Some("messages[0].content[0]"));
        assert!(e.message().contains("only text content is supported"));
        let e = refused(json!([{"role": "user", "content": [{"type": "text", "text": 3}]}]));
        assert_eq!(e.param(), Some("messages[0].content[0].text"));
    }

    #[test]
    fn bad_roles_and_shapes() {
        let e = refused(json!([{"role": "tool", "content": "x"}]));
        assert_eq!(e.param(), Some("messages[0].role"));
        assert!(
            e.message()
                .contains("system, developer, user and assistant")
        );
        let e = refused(json!([{"content": "x"}]));
        assert_eq!(e.param(), Some("messages[0].role"));
        let e = refused(json!([{"role": "user"}]));
        assert_eq!(e.param(), Some("messages[0].content"));
        let e = refused(json!([{"role": "user", "content": 5}]));
        assert_eq!(e.param(), Some("messages[0].content"));
        let e = refused(json!(["hi"]));
        assert_eq!(e.param(), Some("messages[0]"));
        let e = refused(json!([]));
        assert!(e.message().contains("at least one"));
        let e = refused(json!("hi"));
        assert_eq!(e.param(), Some("messages"));
        let e = parse_messages(None).expect_err("refused");
        assert!(e.message().contains("required"));
    }

    #[test]
    fn limits() {
        let many: Vec<Value> = (0..=MAX_MESSAGES)
            .map(|_| json!({"role": "user", "content": "x"}))
            .collect();
        let e = refused(Value::Array(many));
        assert!(e.message().contains("at most 256"), "{}", e.message());
        let big = "x".repeat(MAX_TEXT_BYTES / 2 + 1);
        let e = refused(json!([
            {"role": "user", "content": big},
            {"role": "user", "content": big},
        ]));
        assert_eq!(e.param(), Some("messages"));
        assert!(e.message().contains("bytes in all"));
    }
}
