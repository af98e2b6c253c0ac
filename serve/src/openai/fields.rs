//! Typed reads of a request's JSON fields. A field that is absent or `null` is "not given";
//! a field of the wrong type is a 400 that names it and says what it must be.

use serde_json::{Map, Value};

use super::error::ApiError;

/// A request body: a JSON object.
pub(super) type Object = Map<String, Value>;

/// Parses `body` as a JSON object.
pub(super) fn object(body: &[u8]) -> Result<Object, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(None, format!("the body is not JSON: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ApiError::bad_request(
            None,
            "the body must be a JSON object",
        )),
    }
}

/// The field's value, `None` when absent or `null`.
pub(super) fn given<'a>(body: &'a Object, name: &str) -> Option<&'a Value> {
    body.get(name).filter(|v| !v.is_null())
}

/// A 400 for `name` holding the wrong type: `{name} must be {what}`.
pub(super) fn wrong_type(name: &str, what: &str) -> ApiError {
    ApiError::bad_request(Some(name), format!("`{name}` must be {what}"))
}

/// A string field.
pub(super) fn string<'a>(body: &'a Object, name: &str) -> Result<Option<&'a str>, ApiError> {
    match given(body, name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(wrong_type(name, "a string")),
    }
}

/// A boolean field.
pub(super) fn boolean(body: &Object, name: &str) -> Result<Option<bool>, ApiError> {
    match given(body, name) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(wrong_type(name, "a boolean")),
    }
}

/// A number field.
pub(super) fn number(body: &Object, name: &str) -> Result<Option<f64>, ApiError> {
    match given(body, name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| wrong_type(name, "a number")),
        Some(_) => Err(wrong_type(name, "a number")),
    }
}

/// A non-negative integer field.
pub(super) fn unsigned(body: &Object, name: &str) -> Result<Option<u64>, ApiError> {
    match given(body, name) {
        None => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| wrong_type(name, "a non-negative integer")),
        Some(_) => Err(wrong_type(name, "a non-negative integer")),
    }
}
