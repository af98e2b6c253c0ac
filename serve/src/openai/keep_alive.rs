//! Ollama's `keep_alive` request extension: how long the answering pack stays loaded.
//!
//! A duration string (`"5m"`, `"1h30m"`, `"0"`, or plain seconds `"300"`), or a JSON number of
//! seconds. Zero unloads the pack as soon as the request ends; any negative value pins it.

use std::time::Duration;

use modularbase_runtime::KeepAlive;
use serde_json::Value;

use super::error::ApiError;

/// Reads a `keep_alive` value (`null` is "not given").
pub fn parse_keep_alive(value: &Value) -> Result<Option<KeepAlive>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => match n.as_f64() {
            Some(secs) => from_seconds(secs).map(Some),
            None => Err(refusal(&n.to_string())),
        },
        Value::String(s) => from_text(s.trim()).map(Some),
        _ => Err(ApiError::bad_request(
            Some("keep_alive"),
            "`keep_alive` must be a duration string (\"5m\", \"1h30m\", \"0\", \"-1\") \
             or a number of seconds",
        )),
    }
}

/// A number of seconds: 0 unloads, negative pins.
fn from_seconds(secs: f64) -> Result<KeepAlive, ApiError> {
    if secs < 0.0 {
        return Ok(KeepAlive::Forever);
    }
    let duration = Duration::try_from_secs_f64(secs).map_err(|_| refusal(&secs.to_string()))?;
    Ok(from_duration(duration))
}

/// A duration string, or plain seconds; a leading `-` pins.
fn from_text(text: &str) -> Result<KeepAlive, ApiError> {
    if let Some(rest) = text.strip_prefix('-') {
        // Only the sign matters, but the rest must still be a duration.
        return duration_text(rest)
            .map(|_| KeepAlive::Forever)
            .ok_or_else(|| refusal(text));
    }
    duration_text(text)
        .map(from_duration)
        .ok_or_else(|| refusal(text))
}

/// `"5m"`, `"1h30m"`, `"0"` or plain seconds (`"300"`, `"1.5"`).
fn duration_text(text: &str) -> Option<Duration> {
    if let Ok(secs) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    humantime::parse_duration(text).ok()
}

fn from_duration(duration: Duration) -> KeepAlive {
    if duration.is_zero() {
        KeepAlive::Unload
    } else {
        KeepAlive::For(duration)
    }
}

fn refusal(text: &str) -> ApiError {
    ApiError::bad_request(
        Some("keep_alive"),
        format!(
            "`keep_alive` {text:?} is not a duration: use a string like \"5m\" or \"1h30m\", \
             \"0\" to unload at once, a negative value to keep loaded, or a number of seconds"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(value: Value) -> Result<Option<KeepAlive>, ApiError> {
        parse_keep_alive(&value)
    }

    #[test]
    fn strings() {
        let min = |m: u64| Ok(Some(KeepAlive::For(Duration::from_secs(m * 60))));
        assert_eq!(parse(json!("5m")), min(5));
        assert_eq!(parse(json!("1h30m")), min(90));
        assert_eq!(parse(json!("300")), min(5));
        assert_eq!(parse(json!("0")), Ok(Some(KeepAlive::Unload)));
        assert_eq!(parse(json!("0s")), Ok(Some(KeepAlive::Unload)));
        assert_eq!(parse(json!("-1")), Ok(Some(KeepAlive::Forever)));
        assert_eq!(parse(json!("-1m")), Ok(Some(KeepAlive::Forever)));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse(json!(0)), Ok(Some(KeepAlive::Unload)));
        assert_eq!(parse(json!(-1)), Ok(Some(KeepAlive::Forever)));
        assert_eq!(parse(json!(-0.5)), Ok(Some(KeepAlive::Forever)));
        assert_eq!(
            parse(json!(90)),
            Ok(Some(KeepAlive::For(Duration::from_secs(90))))
        );
        assert_eq!(
            parse(json!(1.5)),
            Ok(Some(KeepAlive::For(Duration::from_millis(1500))))
        );
        assert_eq!(parse(Value::Null), Ok(None));
    }

    #[test]
    fn refusals_name_the_param_and_say_what_is_allowed() {
        for bad in [
            json!("bogus"),
            json!("-bogus"),
            json!("5 parsecs"),
            json!(1e300),
        ] {
            let e = parse(bad.clone()).expect_err("refused");
            assert_eq!(e.param(), Some("keep_alive"), "{bad}");
            assert!(e.message().contains("\"5m\""), "{}", e.message());
        }
        for bad in [json!(true), json!([1]), json!({"m": 5})] {
            let e = parse(bad).expect_err("refused");
            assert_eq!(e.param(), Some("keep_alive"));
            assert!(e.message().contains("number of seconds"));
        }
    }
}
