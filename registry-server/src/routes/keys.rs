//! Publishers' signing keys: register, list, revoke. Registering and revoking need the
//! `keys` scope, listing one's own keys any token, listing a user's keys none; the route
//! list (`crate::router::api_routes`) declares and enforces that before these handlers run. A
//! revoked key can never be registered again, so a token without `keys` (one made to yank,
//! say) must not be able to destroy its user's keys.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use modularbase_pack::{ErrorEnvelope, KeyInfo, KeyList, OkResponse, RegisterKeyRequest};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::{AppError, AppResult};

/// `POST /api/v1/keys`: registers `{"key": "ed25519:…"}` for the caller (idempotent).
#[utoipa::path(
    post, path = "/api/v1/keys", tag = "keys",
    operation_id = "register_key",
    request_body = RegisterKeyRequest,
    responses(
        (status = 200, description = "The key is registered to the caller (idempotent)", body = KeyInfo),
        (status = 403, description = "The token lacks the `keys` scope", body = ErrorEnvelope),
        (status = 409, description = "The key belongs to another user or was revoked", body = ErrorEnvelope),
    )
)]
pub(crate) async fn register(
    State(state): State<AppState>,
    caller: Caller,
    body: Bytes,
) -> AppResult<Json<KeyInfo>> {
    let request: RegisterKeyRequest = super::json_body(&body)?;
    if let Some(existing) = state.db.key(&request.key).await? {
        if existing.user_id != caller.user_id {
            return Err(AppError::conflict(format!(
                "key {} is registered to another user",
                request.key.fingerprint()
            )));
        }
        if existing.info.revoked {
            return Err(AppError::conflict(format!(
                "key {} was revoked and cannot be registered again; generate a new key",
                existing.info.fingerprint
            )));
        }
        return Ok(Json(existing.info));
    }
    if !state.db.insert_key(caller.user_id, &request.key).await? {
        // Lost a race: the same user registering the same key twice at once is fine.
        if let Some(row) = state
            .db
            .key(&request.key)
            .await?
            .filter(|r| r.user_id == caller.user_id)
        {
            return Ok(Json(row.info));
        }
        return Err(AppError::conflict(format!(
            "key {} is registered to another user",
            request.key.fingerprint()
        )));
    }
    let row = state
        .db
        .key(&request.key)
        .await?
        .ok_or_else(|| AppError::internal("a key vanished right after insertion"))?;
    // The key signs the packs its user owns from now on: the snapshot lists it.
    state.metadata.after_change().await;
    Ok(Json(row.info))
}

/// `GET /api/v1/keys`: the caller's keys.
#[utoipa::path(
    get, path = "/api/v1/keys", tag = "keys",
    operation_id = "list_own_keys",
    responses(
        (status = 200, description = "The caller's keys", body = KeyList),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
    )
)]
pub(crate) async fn list_own(
    State(state): State<AppState>,
    caller: Caller,
) -> AppResult<Json<KeyList>> {
    Ok(Json(KeyList {
        keys: state.db.keys_of(&caller.login).await?,
    }))
}

/// `GET /api/v1/users/{login}/keys`: anyone's public keys (public).
#[utoipa::path(
    get, path = "/api/v1/users/{login}/keys", tag = "keys",
    operation_id = "list_user_keys",
    params(("login" = String, Path, description = "The user's login")),
    responses(
        (status = 200, description = "The user's public keys", body = KeyList),
        (status = 404, description = "No such user", body = ErrorEnvelope),
    )
)]
pub(crate) async fn list_of_user(
    State(state): State<AppState>,
    Path(login): Path<String>,
) -> AppResult<Json<KeyList>> {
    if state.db.user_id(&login).await?.is_none() {
        return Err(AppError::not_found(format!(
            "no user `{login}` exists on this registry"
        )));
    }
    Ok(Json(KeyList {
        keys: state.db.keys_of(&login).await?,
    }))
}

/// `DELETE /api/v1/keys/{fingerprint}`: the caller's key stops being accepted for new
/// publishes; versions it signed stay valid. Only the caller's own keys match: another
/// user's fingerprint is 404, as if it did not exist.
#[utoipa::path(
    delete, path = "/api/v1/keys/{fingerprint}", tag = "keys",
    operation_id = "revoke_key",
    params(("fingerprint" = String, Path, description = "The key's fingerprint")),
    responses(
        (status = 200, description = "The key is revoked", body = OkResponse),
        (status = 403, description = "The token lacks the `keys` scope", body = ErrorEnvelope),
        (status = 404, description = "The caller has no active key with this fingerprint (another user's key is not the caller's to revoke)", body = ErrorEnvelope),
    )
)]
pub(crate) async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path(fingerprint): Path<String>,
) -> AppResult<Json<OkResponse>> {
    if !state.db.revoke_key(caller.user_id, &fingerprint).await? {
        return Err(AppError::not_found(format!(
            "`{}` has no active key with fingerprint `{fingerprint}`",
            caller.login
        )));
    }
    // Packs its user owns stop listing it, so new installs refuse what it signs.
    state.metadata.after_change().await;
    Ok(Json(OkResponse { ok: true }))
}
