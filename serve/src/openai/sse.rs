//! Server-sent-event framing of streamed answers, as axum [`Event`]s: one `data: {json}`
//! event per chunk and a closing `data: [DONE]`, with no `event:` name (openai-python reads
//! named events differently). [`sse_data`] and [`SSE_DONE`] give the same frames as text.
//! A failure after the stream has started is sent as [`sse_error`], the error envelope as
//! one event, which openai-python raises as `APIError`; the stream then ends without
//! `[DONE]`.

use axum::response::sse::Event;
use serde::Serialize;

use super::error::ApiError;

/// The stream's closing frame, as text.
pub const SSE_DONE: &str = "data: [DONE]\n\n";

/// `chunk` as one event.
pub fn sse_event(chunk: &impl Serialize) -> Result<Event, ApiError> {
    Event::default()
        .json_data(chunk)
        .map_err(|e| ApiError::internal(format!("cannot serialize a stream chunk: {e}")))
}

/// The closing `data: [DONE]` event.
pub fn sse_done() -> Event {
    Event::default().data("[DONE]")
}

/// `error` as one event, `data: {"error": {…}}`, for a failure in the middle of a stream.
pub fn sse_error(error: &ApiError) -> Event {
    Event::default().data(error.to_json())
}

/// `chunk` as one frame of text, `data: {json}\n\n`.
pub fn sse_data(chunk: &impl Serialize) -> Result<String, ApiError> {
    let json = serde_json::to_string(chunk)
        .map_err(|e| ApiError::internal(format!("cannot serialize a stream chunk: {e}")))?;
    Ok(format!("data: {json}\n\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_frames() {
        assert_eq!(
            sse_data(&json!({"a": "b\nc"})).expect("frame"),
            "data: {\"a\":\"b\\nc\"}\n\n"
        );
        assert_eq!(SSE_DONE, "data: [DONE]\n\n");
    }

    #[tokio::test]
    async fn events_render_as_the_text_frames() {
        use axum::response::IntoResponse;
        use axum::response::sse::Sse;
        use futures_util::stream;
        use std::convert::Infallible;

        let chunk = json!({"a": "b\nc"});
        let error = ApiError::internal("the pack failed");
        let events = vec![
            sse_event(&chunk).expect("event"),
            sse_error(&error),
            sse_done(),
        ];
        let response =
            Sse::new(stream::iter(events.into_iter().map(Ok::<_, Infallible>))).into_response();
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .expect("body");
        let want = sse_data(&chunk).expect("frame")
            + "data: {\"error\":{\"message\":\"the pack failed\",\"type\":\"server_error\",\
               \"param\":null,\"code\":null}}\n\n"
            + SSE_DONE;
        assert_eq!(String::from_utf8_lossy(&body), want);
    }
}
