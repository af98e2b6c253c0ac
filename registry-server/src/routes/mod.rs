//! Every route of the registry, assembled in one place and grouped by who calls them.

mod download;
mod health;
mod index;
mod keys;
mod owners;
mod publish;
mod search;
mod yank;

use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri};
use axum::routing::{delete, get, post, put};
use modularbase_pack::PackId;
use semver::Version;
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::error::{AppError, AppResult};

/// The registry's HTTP application.
pub(crate) fn router(state: AppState) -> Router {
    let index = Router::new()
        .route("/index/config.json", get(index::config))
        .route("/index/{id}", get(index::records));
    let packs = Router::new()
        .route("/api/v1/packs", get(search::search))
        .route("/api/v1/packs/new", put(publish::publish))
        .route("/api/v1/packs/{id}", get(search::details))
        .route(
            "/api/v1/packs/{id}/{vers}/download",
            get(download::download),
        )
        .route("/api/v1/packs/{id}/{vers}/yank", delete(yank::yank))
        .route("/api/v1/packs/{id}/{vers}/unyank", put(yank::unyank))
        .route(
            "/api/v1/packs/{id}/owners",
            get(owners::list).put(owners::add).delete(owners::remove),
        );
    let keys = Router::new()
        .route("/api/v1/keys", post(keys::register).get(keys::list_own))
        .route("/api/v1/keys/{fingerprint}", delete(keys::revoke))
        .route("/api/v1/users/{login}/keys", get(keys::list_of_user));
    let operations = Router::new()
        .route("/health", get(health::health))
        .route("/metrics", get(health::metrics));
    Router::new()
        .merge(index)
        .merge(packs)
        .merge(keys)
        .merge(operations)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .with_state(state)
}

async fn not_found() -> AppError {
    AppError::not_found("no such endpoint; the API lives under /api/v1 and the index under /index")
}

/// A known path with the wrong method: still our envelope (axum keeps the `Allow` header).
async fn method_not_allowed(method: Method, uri: Uri) -> AppError {
    AppError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "`{method} {}` is not supported; the `Allow` header lists the methods that are",
            uri.path()
        ),
    )
}

/// Parses a pack id from a URL, refusing with 400.
pub(crate) fn pack_id(text: &str) -> AppResult<PackId> {
    text.parse()
        .map_err(|e| AppError::bad_request(format!("{e}")))
}

/// Parses a version from a URL, refusing with 400.
pub(crate) fn version(text: &str) -> AppResult<Version> {
    text.parse()
        .map_err(|e| AppError::bad_request(format!("`{text}` is not a semver version: {e}")))
}

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
