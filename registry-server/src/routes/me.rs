//! `GET /api/v1/me`: who the calling token belongs to, as in cargo, so a client can check a
//! token (`modularbase login`) before it saves it.

use axum::Json;
use modularbase_pack::{ErrorEnvelope, WhoAmI};

use crate::auth::Caller;

/// `GET /api/v1/me`: the login of the token's user and the token's scopes; any valid token
/// may ask, whatever its scopes.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "tokens",
    operation_id = "me",
    responses(
        (status = 200, description = "The token's user and scopes", body = WhoAmI),
        (status = 401, description = "No valid token", body = ErrorEnvelope),
    )
)]
pub(crate) async fn me(caller: Caller) -> Json<WhoAmI> {
    let mut scopes = caller.scopes().to_vec();
    scopes.sort_unstable();
    scopes.dedup();
    Json(WhoAmI {
        scopes: scopes
            .into_iter()
            .map(|scope| scope.as_str().to_owned())
            .collect(),
        login: caller.login,
    })
}
