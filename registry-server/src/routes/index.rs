//! The sparse index: `GET /index/config.json` and `GET /index/{id}` with ETags.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use modularbase_pack::{IndexConfig, Sha256Digest, paths};

use crate::app::AppState;
use crate::error::{AppError, AppResult};

/// `GET /index/config.json`: where downloads and the API live.
pub(crate) async fn config(State(state): State<AppState>) -> Json<IndexConfig> {
    let url = &state.public_url;
    Json(IndexConfig {
        dl: format!("{url}{}", paths::DOWNLOAD),
        api: url.to_string(),
    })
}

/// `GET /index/{id}`: one JSON record per version, oldest first; 304 when the client's
/// `If-None-Match` names the current ETag.
pub(crate) async fn records(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let id = crate::catalog::pack_id(&id)?;
    let rows = state.db.index_rows(id.as_str()).await?;
    if rows.is_empty() {
        return Err(AppError::not_found(format!(
            "no pack named `{id}` is published here"
        )));
    }
    let mut body = String::new();
    for (record, yanked) in rows {
        let mut record: serde_json::Value =
            serde_json::from_str(&record).map_err(AppError::internal)?;
        record["yanked"] = serde_json::Value::Bool(yanked);
        body.push_str(&record.to_string());
        body.push('\n');
    }
    let etag = format!("\"{}\"", &Sha256Digest::of(body.as_bytes()).to_hex()[..32]);
    let etag_value = HeaderValue::from_str(&etag).map_err(AppError::internal)?;
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, [(ETAG, etag_value)]).into_response());
    }
    Ok((
        [
            (ETAG, etag_value),
            (
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            ),
        ],
        body,
    )
        .into_response())
}
