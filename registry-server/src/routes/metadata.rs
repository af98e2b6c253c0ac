//! The signed metadata beside the index files: `GET /index/root.json` (the newest root),
//! `/index/N.root.json` (the rotation chain), `/index/snapshot.json` and
//! `/index/timestamp.json`, each exactly the bytes stored (`crate::metadata`), with an ETag
//! and `Cache-Control: no-cache` so caches always ask again.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::CACHE_CONTROL;
use axum::response::Response;

use crate::app::AppState;
use crate::error::{AppError, AppResult};
use crate::metadata::MetadataFile;

/// `GET /index/root.json`.
pub(crate) async fn root(State(state): State<AppState>, headers: HeaderMap) -> AppResult<Response> {
    serve(&state, MetadataFile::NewestRoot, &headers).await
}

/// `GET /index/snapshot.json`.
pub(crate) async fn snapshot(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> AppResult<Response> {
    serve(&state, MetadataFile::Snapshot, &headers).await
}

/// `GET /index/timestamp.json`.
pub(crate) async fn timestamp(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> AppResult<Response> {
    serve(&state, MetadataFile::Timestamp, &headers).await
}

/// The stored bytes of `file`, or 404 saying what exists.
pub(crate) async fn serve(
    state: &AppState,
    file: MetadataFile,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let Some(bytes) = state.metadata.document(file).await? else {
        let detail = match (file, state.metadata.newest_root_version().await?) {
            (MetadataFile::Root(version), Some(newest)) => format!(
                "there is no root version {version}; the newest is {newest} (`/index/root.json`)"
            ),
            _ => format!(
                "`{}` is not signed yet: the registry has no metadata keys \
                 (its operator runs `modularbase registry keys init`)",
                file.name()
            ),
        };
        return Err(AppError::not_found(detail));
    };
    Ok(super::index::with_etag(
        headers,
        bytes,
        "application/json",
        &[(CACHE_CONTROL, "no-cache")],
    ))
}
