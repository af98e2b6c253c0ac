//! `GET /api/v1/packs/{id}/{vers}/download`: the archive, streamed, counted.

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::Method;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use modularbase_pack::{ErrorEnvelope, Sha256Digest, archive_file_name};
use tokio_util::io::ReaderStream;

use crate::app::AppState;
use crate::error::{AppError, AppResult};

/// Streams the archive with its exact Content-Length and counts the download.
#[utoipa::path(
    get, path = "/api/v1/packs/{id}/{vers}/download", tag = "packs",
    operation_id = "download_pack",
    params(("id" = String, Path, description = "The pack id"), ("vers" = String, Path, description = "The version (semver)")),
    responses(
        (status = 200, description = "The `.mbpack` archive (yanked versions too)", body = Vec<u8>, content_type = "application/octet-stream"),
        (status = 404, description = "No such version", body = ErrorEnvelope),
    )
)]
pub(crate) async fn download(
    State(state): State<AppState>,
    method: Method,
    Path((id, vers)): Path<(String, String)>,
) -> AppResult<Response> {
    let id = crate::catalog::pack_id(&id)?;
    let vers = crate::catalog::version(&vers)?;
    let (version_id, cksum, size) = state
        .db
        .archive_of(id.as_str(), &vers)
        .await?
        .ok_or_else(|| AppError::not_found(format!("`{id}@{vers}` is not published here")))?;
    let digest: Sha256Digest = cksum.parse().map_err(AppError::internal)?;
    let file = tokio::fs::File::open(state.blobs.path(&digest))
        .await
        .map_err(|e| AppError::internal(format!("blob {cksum} of {id}@{vers}: {e}")))?;
    // HEAD (which axum answers with this handler, minus the body) is not a download.
    if method != Method::HEAD {
        state.db.count_download(version_id);
        state.metrics.downloads.inc();
        state
            .metrics
            .bytes_served
            .inc_by(u64::try_from(size).unwrap_or(0));
    }
    let name = archive_file_name(&id, &vers);
    Ok((
        [
            (CONTENT_TYPE, "application/octet-stream".to_owned()),
            (CONTENT_LENGTH, size.to_string()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        Body::from_stream(ReaderStream::with_capacity(file, 256 << 10)),
    )
        .into_response())
}
