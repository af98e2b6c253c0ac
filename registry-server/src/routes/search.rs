//! `GET /api/v1/packs` (search) and `GET /api/v1/packs/{id}` (details).

use axum::Json;
use axum::extract::{Path, State};
use modularbase_pack::{ErrorEnvelope, PackDetails, SearchResponse};

use super::ApiQuery;
use crate::app::AppState;
use crate::catalog::{SearchParams, find, pack_details};
use crate::error::AppResult;

/// `GET /api/v1/packs?q=&kind=&domain=&base=&sort=&page=&per_page=`.
#[utoipa::path(
    get,
    operation_id = "search_packs",
    path = "/api/v1/packs",
    tag = "packs",
    params(SearchParams),
    responses(
        (status = 200, description = "One page of matches", body = SearchResponse),
        (status = 400, description = "A parameter is invalid; the detail names it", body = ErrorEnvelope),
    )
)]
pub(crate) async fn search(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> AppResult<Json<SearchResponse>> {
    Ok(Json(find(&state, &params.validate()?).await?))
}

/// `GET /api/v1/packs/{id}`: metadata, owners and every version, newest first.
#[utoipa::path(
    get,
    operation_id = "pack_details",
    path = "/api/v1/packs/{id}",
    tag = "packs",
    params(("id" = String, Path, description = "The pack id")),
    responses(
        (status = 200, description = "The pack", body = PackDetails),
        (status = 404, description = "No such pack", body = ErrorEnvelope),
    )
)]
pub(crate) async fn details(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<PackDetails>> {
    Ok(Json(pack_details(&state, &id).await?.1))
}
