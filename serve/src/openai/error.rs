//! The error envelope every OpenAI route answers with: `{"error": {"message", "type",
//! "param", "code"}}`, as OpenAI's API and the openai-python client read it.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// A refused or failed request, rendered as OpenAI's error envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    status: StatusCode,
    message: String,
    kind: &'static str,
    code: Option<&'static str>,
    param: Option<String>,
}

impl ApiError {
    /// 400 `invalid_request_error`: `param` (when one field is to blame) and what is wrong.
    pub fn bad_request(param: Option<&str>, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            code: None,
            param: param.map(str::to_owned),
        }
    }

    /// 404 `model_not_found`: `model` is not served here; `known` lists what is.
    pub fn model_not_found(model: &str, known: &[String]) -> Self {
        let here = if known.is_empty() {
            "none".to_owned()
        } else {
            known.join(", ")
        };
        Self {
            status: StatusCode::NOT_FOUND,
            message: format!("the model `{model}` does not exist; models here: {here}"),
            kind: "invalid_request_error",
            code: Some("model_not_found"),
            param: Some("model".to_owned()),
        }
    }

    /// 400 `context_length_exceeded`: the prompt leaves no room in the context (OpenAI's
    /// code for it; a chat client drops its oldest turns and retries).
    pub fn context_length_exceeded(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            kind: "invalid_request_error",
            code: Some("context_length_exceeded"),
            param: Some("messages".to_owned()),
        }
    }

    /// 404 `not_found`: no such route or resource.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            kind: "invalid_request_error",
            code: Some("not_found"),
            param: None,
        }
    }

    /// 503 `queue_full`: too many requests are waiting; the client may retry later.
    pub fn overloaded(message: impl Into<String>) -> Self {
        Self::unavailable("queue_full", message)
    }

    /// 503 with another `code` than `queue_full` (`loading`, `shutting_down`).
    pub fn unavailable(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
            kind: "service_unavailable_error",
            code: Some(code),
            param: None,
        }
    }

    /// A body the server would not read (axum's rejection: too large, not readable), with
    /// its status: 413 `request_too_large` or 400.
    pub fn unreadable_body(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            kind: "invalid_request_error",
            code: (status == StatusCode::PAYLOAD_TOO_LARGE).then_some("request_too_large"),
            param: None,
        }
    }

    /// 500 `server_error`: the server failed, not the request.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.into(),
            kind: "server_error",
            code: None,
            param: None,
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The human message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// OpenAI's error `type` (`invalid_request_error`, `server_error`, …).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// OpenAI's error `code` (`model_not_found`, `queue_full`), if any.
    pub fn code(&self) -> Option<&'static str> {
        self.code
    }

    /// The request field to blame, if any (`temperature`, `messages[2].role`).
    pub fn param(&self) -> Option<&str> {
        self.param.as_deref()
    }

    /// The envelope as JSON text.
    pub fn to_json(&self) -> String {
        let envelope = Envelope {
            error: Body {
                message: &self.message,
                kind: self.kind,
                param: self.param.as_deref(),
                code: self.code,
            },
        };
        // A struct of strings always serializes.
        serde_json::to_string(&envelope).unwrap_or_default()
    }
}

/// Seconds a client is told to wait before retrying a 503 (queue full, shutting down).
const RETRY_AFTER_SECONDS: &str = "1";

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = self.to_json();
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        response
    }
}

/// `{"error": …}`.
#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

/// The envelope's inside; `param` and `code` are `null` when absent, as OpenAI sends them.
#[derive(Serialize)]
struct Body<'a> {
    message: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    param: Option<&'a str>,
    code: Option<&'static str>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn envelope(e: &ApiError) -> Value {
        serde_json::from_str(&e.to_json()).expect("json")
    }

    #[test]
    fn bad_request_names_the_param() {
        let e = ApiError::bad_request(Some("temperature"), "temperature must be in 0..=2");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            envelope(&e),
            json!({"error": {
                "message": "temperature must be in 0..=2",
                "type": "invalid_request_error",
                "param": "temperature",
                "code": null,
            }})
        );
    }

    #[test]
    fn model_not_found_lists_the_models() {
        let e = ApiError::model_not_found("x", &["a".to_owned(), "b".to_owned()]);
        assert_eq!(e.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            envelope(&e),
            json!({"error": {
                "message": "the model `x` does not exist; models here: a, b",
                "type": "invalid_request_error",
                "param": "model",
                "code": "model_not_found",
            }})
        );
        let none = ApiError::model_not_found("x", &[]);
        assert!(none.message().ends_with("models here: none"));
    }

    #[test]
    fn overloaded_and_internal() {
        let e = ApiError::overloaded("the queue is full (8 waiting)");
        assert_eq!(e.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(e.code(), Some("queue_full"));
        assert_eq!(envelope(&e)["error"]["type"], "service_unavailable_error");
        let e = ApiError::internal("boom");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            envelope(&e),
            json!({"error": {"message": "boom", "type": "server_error", "param": null, "code": null}})
        );
    }

    #[test]
    fn renders_as_json_response() {
        let response = ApiError::bad_request(None, "nope").into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
