//! `/users/{login}`: the packs a user owns and their signing keys.

use axum::extract::{Path, State};
use axum::response::Html;
use maud::html;

use super::{PageError, Valid, format, layout};
use crate::app::AppState;

/// `GET /users/{login}`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Valid(Path(login)): Valid<Path<String>>,
) -> Result<Html<String>, PageError> {
    if state.db.user_id(&login).await?.is_none() {
        return Err(PageError::not_found(format!(
            "No user `{login}` exists on this registry."
        )));
    }
    state.db.flush_downloads().await?;
    let mut packs = Vec::new();
    for row in state.db.packs_owned_by(&login).await? {
        packs.push(crate::catalog::hit(&state, row).await?);
    }
    let keys = state.db.keys_of(&login).await?;
    let body = html! {
        h1.user { (login) }
        section #packs {
            h2 { "Packs" }
            @if packs.is_empty() {
                p.empty { (login) " owns no pack." }
            } @else {
                (layout::pack_list(&packs))
            }
        }
        section #keys {
            h2 { "Signing keys" }
            @if keys.is_empty() {
                p.empty { (login) " has registered no signing key." }
            } @else {
                table {
                    thead { tr { th { "Fingerprint" } th { "Public key" } th { "Registered" } th { "Status" } } }
                    tbody {
                        @for key in &keys {
                            tr.revoked[key.revoked] {
                                td { code.fingerprint { (key.fingerprint) } }
                                td { code.key { (key.key) } }
                                td { time datetime=(key.created_at) { (format::date(&key.created_at)) } }
                                td { @if key.revoked { span.badge.yanked { "revoked" } } @else { "active" } }
                            }
                        }
                    }
                }
            }
        }
    };
    Ok(layout::page(&login, Some(""), body))
}
