//! The request deadline: every request but a publish (whose body has its own stall
//! timeout, see `routes::publish`) must produce its response within the registry's request
//! timeout. It sits inside the envelope and security-header layers, so its refusal is the
//! JSON envelope or the HTML page like any other, with the same headers.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use modularbase_pack::paths;

use crate::error::AppError;

/// Every request but a publish (whose body has its own stall timeout) must produce its
/// response within `limit`; 503 otherwise. A response body (a download) streams on after.
pub(crate) async fn deadline(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::PUT && request.uri().path() == paths::PUBLISH {
        return next.run(request).await;
    }
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        // The envelope layer around this one makes it an HTML page on marketplace paths.
        Err(_) => AppError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "the request took longer than this registry's limit of {} s; try again later",
                limit.as_secs()
            ),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::{get, put};
    use tower::ServiceExt;

    use super::*;

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_millis(600)).await;
        "done"
    }

    fn app() -> Router {
        Router::new()
            .route("/api/v1/slow", get(slow))
            .route("/slow", get(slow))
            .route(paths::PUBLISH, put(slow))
            .layer(axum::middleware::from_fn_with_state(
                Duration::from_millis(100),
                deadline,
            ))
            .layer(axum::middleware::from_fn(crate::envelope::one_envelope))
    }

    async fn call(method: Method, path: &str) -> (StatusCode, String, String) {
        let request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap_or_else(|e| unreachable!("{e}"));
        let response = app()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| unreachable!("{e}"));
        let status = response.status();
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        (status, kind, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn a_request_past_the_deadline_gets_503_with_the_envelope_on_api_paths() {
        let (status, kind, body) = call(Method::GET, "/api/v1/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(kind, "application/json");
        assert!(body.starts_with(r#"{"errors":[{"detail":"#), "{body}");
        let (status, kind, _) = call(Method::GET, "/slow").await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(kind.starts_with("text/html"), "{kind}");
    }

    #[tokio::test]
    async fn a_publish_is_not_under_the_request_deadline() {
        let (status, _, body) = call(Method::PUT, paths::PUBLISH).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, "done");
    }
}
