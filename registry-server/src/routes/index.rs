//! The sparse index: `GET /index/config.json` and `GET /index/{id}` with ETags (the
//! rotation chain's `N.root.json` shares the second route; `crate::routes::metadata`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
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
/// `If-None-Match` names the current ETag. `GET /index/N.root.json` is root version N.
pub(crate) async fn records(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    // `N.root.json` shares the route; pack ids never contain a `.`.
    if let Some(file) = crate::metadata::MetadataFile::from_name(&id) {
        return super::metadata::serve(&state, file, &headers).await;
    }
    let id = crate::catalog::pack_id(&id)?;
    let rows = state.db.index_rows(id.as_str()).await?;
    if rows.is_empty() {
        return Err(AppError::not_found(format!(
            "no pack named `{id}` is published here"
        )));
    }
    let body = crate::index_file::index_file(&rows).map_err(AppError::internal)?;
    Ok(with_etag(
        &headers,
        body.into_bytes(),
        "text/plain; charset=utf-8",
        &[],
    ))
}

/// `body` with its ETag, `content_type` and `extra` headers, or 304 when the request's
/// `If-None-Match` names that ETag (the index files and the signed metadata alike).
pub(crate) fn with_etag(
    headers: &HeaderMap,
    body: Vec<u8>,
    content_type: &'static str,
    extra: &[(HeaderName, &'static str)],
) -> Response {
    let etag = format!("\"{}\"", &Sha256Digest::of(&body).to_hex()[..32]);
    // Hex in quotes is always a valid header value.
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let fresh = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let mut response = body.into_response();
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        response
    };
    let out = response.headers_mut();
    out.insert(ETAG, etag_value);
    for (name, value) in extra {
        out.insert(name.clone(), HeaderValue::from_static(value));
    }
    response
}
