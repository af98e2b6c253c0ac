//! `DELETE …/{vers}/yank` and `PUT …/{vers}/unyank`: hide a version from new resolutions
//! (it stays downloadable and its number stays taken). Both need the `yank` scope, which
//! the route list (`crate::router::api_routes`) declares and enforces before these handlers run.

use axum::Json;
use axum::extract::{Path, State};
use modularbase_pack::{ErrorEnvelope, OkResponse};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// `DELETE /api/v1/packs/{id}/{vers}/yank`.
#[utoipa::path(
    delete, path = "/api/v1/packs/{id}/{vers}/yank", tag = "packs",
    operation_id = "yank_version",
    params(("id" = String, Path, description = "The pack id"), ("vers" = String, Path, description = "The version (semver)")),
    responses(
        (status = 200, description = "The version is yanked", body = OkResponse),
        (status = 403, description = "The caller is not an owner or lacks the `yank` scope", body = ErrorEnvelope),
        (status = 404, description = "No such version", body = ErrorEnvelope),
    )
)]
pub(crate) async fn yank(
    state: State<AppState>,
    caller: Caller,
    path: Path<(String, String)>,
) -> AppResult<Json<OkResponse>> {
    set_yanked(state, caller, path, true).await
}

/// `PUT /api/v1/packs/{id}/{vers}/unyank`.
#[utoipa::path(
    put, path = "/api/v1/packs/{id}/{vers}/unyank", tag = "packs",
    operation_id = "unyank_version",
    params(("id" = String, Path, description = "The pack id"), ("vers" = String, Path, description = "The version (semver)")),
    responses(
        (status = 200, description = "The version is no longer yanked", body = OkResponse),
        (status = 403, description = "The caller is not an owner or lacks the `yank` scope", body = ErrorEnvelope),
        (status = 404, description = "No such version", body = ErrorEnvelope),
    )
)]
pub(crate) async fn unyank(
    state: State<AppState>,
    caller: Caller,
    path: Path<(String, String)>,
) -> AppResult<Json<OkResponse>> {
    set_yanked(state, caller, path, false).await
}

async fn set_yanked(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, vers)): Path<(String, String)>,
    yanked: bool,
) -> AppResult<Json<OkResponse>> {
    let id = crate::catalog::pack_id(&id)?;
    let vers = crate::catalog::version(&vers)?;
    let missing = || AppError::not_found(format!("`{id}@{vers}` is not published here"));
    let pack = state.db.pack(id.as_str()).await?.ok_or_else(missing)?;
    if !state.db.is_owner(pack.id, caller.user_id).await? {
        return Err(AppError::forbidden(format!(
            "`{}` is not an owner of `{id}`",
            caller.login
        )));
    }
    if !state.db.set_yanked(pack.id, &vers, yanked).await? {
        return Err(missing());
    }
    state.metadata.after_change().await;
    Ok(Json(OkResponse { ok: true }))
}
