//! The marketplace's error pages: 400 for an invalid address or parameter, 404 for what
//! does not exist, 500 without internals; each a full page with the search box.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use super::layout;
use crate::error::AppError;

/// A page that could not be shown: its status and a sentence for the reader.
#[derive(Debug)]
pub(crate) struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    /// An error page with any status.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 400: the address or a parameter is invalid.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404: nothing lives here.
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
}

/// The API's errors carry statuses and sentences written for people already.
impl From<AppError> for PageError {
    fn from(err: AppError) -> Self {
        Self::new(err.status(), err.detail())
    }
}

impl From<sqlx::Error> for PageError {
    fn from(err: sqlx::Error) -> Self {
        AppError::from(err).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let heading = match self.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::BAD_REQUEST => "Bad request",
            other => other.canonical_reason().unwrap_or("Error"),
        };
        let body = html! {
            section.error {
                h1 { (heading) }
                p.message { (self.message) }
                p { a href="/" { "Back to the marketplace" } }
            }
        };
        (self.status, layout::page(heading, Some(""), body)).into_response()
    }
}
