//! `GET|PUT|DELETE /api/v1/packs/{id}/owners`: listing is public, changing needs the
//! `owners` scope (declared and enforced in `crate::router::api_routes`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use modularbase_pack::{ErrorEnvelope, OkResponse, OwnerList, OwnerUser, OwnersChange};

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::PackRow;
use crate::error::{AppError, AppResult};

/// `GET`: who owns the pack (public).
#[utoipa::path(
    get, path = "/api/v1/packs/{id}/owners", tag = "owners",
    operation_id = "list_owners",
    params(("id" = String, Path, description = "The pack id")),
    responses(
        (status = 200, description = "The pack's owners", body = OwnerList),
        (status = 404, description = "No such pack", body = ErrorEnvelope),
    )
)]
pub(crate) async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<OwnerList>> {
    let pack = crate::catalog::published_pack(&state, &id).await?;
    let users = state
        .db
        .owners(pack.id)
        .await?
        .into_iter()
        .map(|login| OwnerUser { login })
        .collect();
    Ok(Json(OwnerList { users }))
}

/// Resolves the change's logins to user ids after checking the caller owns the pack (the
/// `owners` scope is checked before the handler, as `crate::router::api_routes` declares).
async fn authorised_change(
    state: &AppState,
    caller: &Caller,
    id: &str,
    body: &[u8],
) -> AppResult<(PackRow, Vec<i64>)> {
    let pack = crate::catalog::published_pack(state, id).await?;
    if !state.db.is_owner(pack.id, caller.user_id).await? {
        return Err(AppError::forbidden(format!(
            "`{}` is not an owner of `{}`",
            caller.login, pack.name
        )));
    }
    let change: OwnersChange = super::json_body(body)?;
    if change.users.is_empty() {
        return Err(AppError::bad_request("name at least one user in `users`"));
    }
    let mut ids = Vec::new();
    for login in &change.users {
        let user = state.db.user_id(login).await?;
        ids.push(user.ok_or_else(|| {
            AppError::not_found(format!("no user `{login}` exists on this registry"))
        })?);
    }
    Ok((pack, ids))
}

/// `PUT`: add owners (`{"users": ["login", …]}`).
#[utoipa::path(
    put, path = "/api/v1/packs/{id}/owners", tag = "owners",
    operation_id = "add_owners",
    params(("id" = String, Path, description = "The pack id")),
    request_body = OwnersChange,
    responses(
        (status = 200, description = "The users are owners", body = OkResponse),
        (status = 403, description = "The caller is not an owner or lacks the `owners` scope", body = ErrorEnvelope),
        (status = 404, description = "No such pack or user", body = ErrorEnvelope),
    )
)]
pub(crate) async fn add(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> AppResult<Json<OkResponse>> {
    let (pack, ids) = authorised_change(&state, &caller, &id, &body).await?;
    for user_id in ids {
        state.db.add_owner(pack.id, user_id).await?;
    }
    // The new owners' keys now sign the pack: the snapshot lists them.
    state.metadata.after_change().await;
    Ok(Json(OkResponse { ok: true }))
}

/// `DELETE`: remove owners; a pack always keeps at least one.
#[utoipa::path(
    delete, path = "/api/v1/packs/{id}/owners", tag = "owners",
    operation_id = "remove_owners",
    params(("id" = String, Path, description = "The pack id")),
    request_body = OwnersChange,
    responses(
        (status = 200, description = "The users are no longer owners", body = OkResponse),
        (status = 400, description = "The change would leave no owner", body = ErrorEnvelope),
        (status = 403, description = "The caller is not an owner or lacks the `owners` scope", body = ErrorEnvelope),
    )
)]
pub(crate) async fn remove(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> AppResult<Json<OkResponse>> {
    let (pack, ids) = authorised_change(&state, &caller, &id, &body).await?;
    if !state.db.remove_owners(pack.id, &ids).await? {
        return Err(AppError::bad_request(format!(
            "`{}` must keep at least one owner; add the new owner before removing the last one",
            pack.name
        )));
    }
    state.metadata.after_change().await;
    Ok(Json(OkResponse { ok: true }))
}
