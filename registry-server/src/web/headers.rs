//! Security headers on every response, pages and API alike.
//!
//! The policy allows the page's own stylesheet and images from the registry or over
//! HTTPS (model cards link them), and nothing else: no script at all, no plugin, no
//! framing, no `<base>`, forms only to this origin. Sanitising model cards is the first
//! defence ([`super::markdown`]); this is the second.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{
    CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use axum::middleware::Next;
use axum::response::Response;

/// The Content-Security-Policy of every response.
const POLICY: &str = "default-src 'none'; style-src 'self'; \
    img-src 'self' https:; form-action 'self'; script-src 'none'; object-src 'none'; \
    frame-ancestors 'none'; base-uri 'none'";

/// Middleware: adds the security headers to the response.
pub(crate) async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}
