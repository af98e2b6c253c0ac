//! One error envelope everywhere: every error the server answers — ours, and the
//! rejections axum's extractors and body limits write as `text/plain` — reaches the client
//! as `{"errors":[{"detail":…}]}` with `application/json` on the machine-facing paths, and
//! as the marketplace's HTML error page everywhere else.

use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{ALLOW, CONNECTION, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;
use crate::router::is_api_path;
use crate::web::PageError;

/// The most of a rejection's own text kept as the detail.
const MAX_DETAIL_BYTES: usize = 4096;

/// Rewrites an error response that is not already in the path's error format.
pub(crate) async fn one_envelope(request: Request, next: Next) -> Response {
    let api = is_api_path(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let mut response = response;
    if matches!(status.as_u16(), 408 | 413) {
        // The request's body was not read to its end, so the connection cannot carry
        // another request: say so, or a client reuses it and sees it drop.
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let wanted = if api { "application/json" } else { "text/html" };
    if content_type.starts_with(wanted) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = read_detail(body).await;
    let detail = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    let mut rewritten = if api {
        AppError::new(status, detail).into_response()
    } else {
        PageError::new(status, detail).into_response()
    };
    // What the client needs to act on stays: the methods allowed, when to retry, how to log in.
    for name in [ALLOW, RETRY_AFTER, WWW_AUTHENTICATE, CONNECTION] {
        if let Some(value) = parts.headers.get(&name) {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}

/// The start of a rejection's text body, as one trimmed line of valid UTF-8.
async fn read_detail(body: Body) -> String {
    let bytes = match axum::body::to_bytes(body, MAX_DETAIL_BYTES * 4).await {
        Ok(bytes) => bytes,
        Err(_) => return String::new(),
    };
    let text = String::from_utf8_lossy(&bytes);
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut end = line.len().min(MAX_DETAIL_BYTES);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line.get(..end).unwrap_or_default().to_owned()
}
