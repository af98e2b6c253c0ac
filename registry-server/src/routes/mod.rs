//! Every route of the registry, assembled in one place and grouped by who calls them: the
//! sparse index, the JSON API (from [`api_routes`], which its OpenAPI document is checked
//! against), operations, and the marketplace pages (`crate::web`). Unknown paths under the
//! API, index and operations answer with the JSON error envelope, all others with an HTML
//! page.

mod download;
mod health;
mod index;
mod keys;
mod me;
mod openapi;
mod owners;
mod publish;
mod search;
mod yank;

use axum::Router;
use axum::extract::{FromRequestParts, Query};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get, on};
use modularbase_pack::{PackId, paths};
use semver::Version;
use serde::de::DeserializeOwned;

use crate::app::AppState;
use crate::db::PackRow;
use crate::error::{AppError, AppResult};

pub(crate) use search::{DEFAULT_PER_PAGE, SearchParams, find, hit, pack_details};

/// One route of the JSON API.
pub(crate) struct ApiRoute {
    /// Its method (the OpenAPI test compares it with the document).
    #[cfg(test)]
    pub(crate) method: Method,
    /// Its path, in axum's `{param}` syntax (which is OpenAPI's too).
    pub(crate) path: &'static str,
    handler: MethodRouter<AppState>,
}

/// The route `method path` served by `handler`.
fn api<H, T>(method: Method, path: &'static str, handler: H) -> ApiRoute
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone())
        .unwrap_or_else(|_| unreachable!("`{method}` is one of HTTP's standard methods"));
    ApiRoute {
        #[cfg(test)]
        method,
        path,
        handler: on(filter, handler),
    }
}

/// Every `/api/v1` route, at its path from [`modularbase_pack::paths`] (which clients fill
/// in). The router is built from this list and the OpenAPI test checks the document
/// against it, so neither can grow a route the other lacks.
pub(crate) fn api_routes() -> Vec<ApiRoute> {
    vec![
        api(Method::GET, paths::SEARCH, search::search),
        api(Method::PUT, paths::PUBLISH, publish::publish),
        api(Method::GET, paths::PACK, search::details),
        api(Method::GET, paths::DOWNLOAD, download::download),
        api(Method::DELETE, paths::YANK, yank::yank),
        api(Method::PUT, paths::UNYANK, yank::unyank),
        api(Method::GET, paths::OWNERS, owners::list),
        api(Method::PUT, paths::OWNERS, owners::add),
        api(Method::DELETE, paths::OWNERS, owners::remove),
        api(Method::POST, paths::KEYS, keys::register),
        api(Method::GET, paths::KEYS, keys::list_own),
        api(Method::DELETE, paths::KEY, keys::revoke),
        api(Method::GET, paths::USER_KEYS, keys::list_of_user),
        api(Method::GET, paths::ME, me::me),
    ]
}

/// The registry's HTTP application: the index, the JSON API and its OpenAPI document,
/// operations, and the marketplace pages; every response carries the security headers.
pub(crate) fn router(state: AppState) -> Router {
    let index = Router::new()
        .route(paths::INDEX_CONFIG, get(index::config))
        .route(paths::INDEX_FILE, get(index::records));
    // Routes on one path merge into one method router.
    let api = api_routes()
        .into_iter()
        .fold(Router::new(), |router, route| {
            router.route(route.path, route.handler)
        })
        .route("/api/openapi.json", get(openapi::document));
    let operations = Router::new()
        .route("/health", get(health::health))
        .route("/metrics", get(health::metrics));
    Router::new()
        .merge(index)
        .merge(api)
        .merge(operations)
        .merge(crate::web::router())
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(crate::web::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .with_state(state)
}

/// Whether `path` belongs to the machine-facing surface, which answers in JSON; every
/// other path is a marketplace page, which answers in HTML.
fn is_api_path(path: &str) -> bool {
    ["/api", "/index", "/health", "/metrics"]
        .iter()
        .any(|prefix| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

async fn not_found(uri: Uri) -> Response {
    if is_api_path(uri.path()) {
        AppError::not_found(
            "no such endpoint; the API lives under /api/v1 and the index under /index",
        )
        .into_response()
    } else {
        crate::web::PageError::not_found("There is no page at this address.").into_response()
    }
}

/// A known path with the wrong method: still our envelope (axum keeps the `Allow` header).
async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let detail = format!(
        "`{method} {}` is not supported; the `Allow` header lists the methods that are",
        uri.path()
    );
    if is_api_path(uri.path()) {
        AppError::new(StatusCode::METHOD_NOT_ALLOWED, detail).into_response()
    } else {
        crate::web::PageError::new(StatusCode::METHOD_NOT_ALLOWED, detail).into_response()
    }
}

/// The pack called `id` (400 for an invalid id, 404 when none is published).
pub(crate) async fn published_pack(state: &AppState, id: &str) -> AppResult<PackRow> {
    let id = pack_id(id)?;
    state
        .db
        .pack(id.as_str())
        .await?
        .ok_or_else(|| AppError::not_found(format!("no pack named `{id}` is published here")))
}

/// Parses a pack id from a URL, refusing with 400.
pub(crate) fn pack_id(text: &str) -> AppResult<PackId> {
    text.parse()
        .map_err(|e| AppError::bad_request(format!("{e}")))
}

/// Parses a version from a URL, refusing with 400.
pub(crate) fn version(text: &str) -> AppResult<Version> {
    text.parse()
        .map_err(|e| AppError::bad_request(format!("`{text}` is not a semver version: {e}")))
}

/// `Query<T>` whose rejection is our JSON error envelope.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(q)| Self(q))
            .map_err(|e| AppError::bad_request(format!("invalid query string: {}", e.body_text())))
    }
}

/// Parses a JSON request body into `T`, refusing with 400 and the parser's words.
pub(crate) fn json_body<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| AppError::bad_request(format!("invalid JSON body: {e}")))
}
