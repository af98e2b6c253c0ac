//! The handlers of the JSON API, the sparse index and operations, one module per
//! concern; [`crate::router`] assembles them. What they share: query and body parsing that
//! refuses with the JSON envelope.

pub(crate) mod download;
pub(crate) mod health;
pub(crate) mod index;
pub(crate) mod keys;
pub(crate) mod me;
pub(crate) mod metadata;
pub(crate) mod openapi;
pub(crate) mod owners;
pub(crate) mod publish;
pub(crate) mod search;
pub(crate) mod yank;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{AppError, AppResult};

/// `Query<T>` whose rejection is our JSON error envelope.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Self(q))
            .map_err(|e| AppError::bad_request(format!("invalid query string: {}", e.body_text())))
    }
}

/// Parses a JSON request body into `T`, refusing with 400 and the parser's words.
pub(crate) fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| AppError::bad_request(format!("invalid JSON body: {e}")))
}
