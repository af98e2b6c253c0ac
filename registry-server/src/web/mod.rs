//! The marketplace: server-rendered HTML pages over the registry's database (DESIGN §3).
//!
//! Pages are maud templates (escaping by construction) with one small stylesheet and no
//! JavaScript; the search form is a plain `GET /search`, so everything works with
//! scripts off. Model cards are untrusted Markdown, rendered and then sanitised
//! ([`markdown`]); every response carries a strict Content-Security-Policy ([`headers`]).
//!
//! ```text
//! /                        home: search box, totals, most downloaded, recently updated
//! /search?q=&kind=&domain=&base=&sort=&page=   results with filters and pagination
//! /packs/{id}              the pack at its newest version
//! /packs/{id}/{vers}       the pack at one version
//! /users/{login}           a user's packs and signing keys
//! /static/style.css        the stylesheet
//! ```

mod error;
mod format;
mod headers;
mod home;
mod layout;
mod markdown;
mod pack;
mod search;
mod user;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::app::AppState;

pub(crate) use error::PageError;
pub(crate) use headers::security_headers;

/// The stylesheet every page links.
const STYLESHEET: &str = include_str!("style.css");

/// The marketplace's routes.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home::page))
        .route("/search", get(search::page))
        .route("/packs/{id}", get(pack::latest))
        .route("/packs/{id}/{vers}", get(pack::version))
        .route("/users/{login}", get(user::page))
        .route("/static/style.css", get(stylesheet))
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        STYLESHEET,
    )
}

/// An extractor (`Valid<Query<T>>`, `Valid<Path<T>>`) whose rejection is a 400 page that
/// says what is wrong, instead of axum's plain-text answer.
pub(crate) struct Valid<E>(pub(crate) E);

impl<S, E> FromRequestParts<S> for Valid<E>
where
    S: Send + Sync,
    E: FromRequestParts<S>,
    E::Rejection: std::fmt::Display,
{
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        E::from_request_parts(parts, state)
            .await
            .map(Self)
            .map_err(|e| PageError::bad_request(e.to_string()))
    }
}
