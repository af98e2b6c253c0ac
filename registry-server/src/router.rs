//! Every route of the registry, assembled in one place and grouped by who calls them: the
//! sparse index, the JSON API (from [`api_routes`], which its OpenAPI document is checked
//! against and which declares the access each route needs), operations, and the
//! marketplace pages (`crate::web`). Handlers live below, in `crate::routes` (JSON) and
//! `crate::web` (pages); what both call to find packs is `crate::catalog`. Unknown paths
//! under the API, index and operations answer with the JSON error envelope, all others with
//! an HTML page.

use axum::Router;
use axum::handler::Handler;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter, get, on};
use modularbase_pack::paths;

use crate::app::AppState;
use crate::auth::{Access, Scope, check_access};
use crate::error::AppError;
use crate::routes::{
    download, health, index, keys, me, metadata, openapi, owners, publish, search, yank,
};

/// One route of the JSON API.
pub(crate) struct ApiRoute {
    /// Its method (the OpenAPI document and its test compare it with the document's).
    pub(crate) method: Method,
    /// Its path, in axum's `{param}` syntax (which is OpenAPI's too).
    pub(crate) path: &'static str,
    /// Who may call it: the one declaration the router enforces and the OpenAPI document
    /// states as the operation's `security`.
    pub(crate) access: Access,
    handler: MethodRouter<AppState>,
}

/// The route `method path`, open to `access`, served by `handler`.
fn api<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> ApiRoute
where
    H: Handler<T, AppState>,
    T: 'static,
{
    let filter = MethodFilter::try_from(method.clone())
        .unwrap_or_else(|_| unreachable!("`{method}` is one of HTTP's standard methods"));
    ApiRoute {
        method,
        path,
        access,
        handler: on(filter, handler),
    }
}

/// Every `/api/v1` route, at its path from [`modularbase_pack::paths`] (which clients fill
/// in), with the access it needs. The router is built from this list, enforcing each
/// route's [`Access`] before its handler runs, and the OpenAPI document states it and is
/// checked against it, so neither can grow a route the other lacks.
pub(crate) fn api_routes() -> Vec<ApiRoute> {
    use Access::{AnyScope, Public, Token};
    const PUBLISH: Access = AnyScope(&[Scope::PublishNew, Scope::PublishUpdate]);
    const YANK: Access = Access::Scope(Scope::Yank);
    const OWNERS: Access = Access::Scope(Scope::Owners);
    const KEYS: Access = Access::Scope(Scope::Keys);
    vec![
        api(Method::GET, paths::SEARCH, Public, search::search),
        api(Method::PUT, paths::PUBLISH, PUBLISH, publish::publish),
        api(Method::GET, paths::PACK, Public, search::details),
        api(Method::GET, paths::DOWNLOAD, Public, download::download),
        api(Method::DELETE, paths::YANK, YANK, yank::yank),
        api(Method::PUT, paths::UNYANK, YANK, yank::unyank),
        api(Method::GET, paths::OWNERS, Public, owners::list),
        api(Method::PUT, paths::OWNERS, OWNERS, owners::add),
        api(Method::DELETE, paths::OWNERS, OWNERS, owners::remove),
        api(Method::POST, paths::KEYS, KEYS, keys::register),
        api(Method::GET, paths::KEYS, Token, keys::list_own),
        api(Method::DELETE, paths::KEY, KEYS, keys::revoke),
        api(Method::GET, paths::USER_KEYS, Public, keys::list_of_user),
        api(Method::GET, paths::ME, Token, me::me),
    ]
}

/// The registry's HTTP application: the index, the JSON API and its OpenAPI document,
/// operations, and the marketplace pages; every response carries the security headers.
pub(crate) fn router(state: AppState) -> Router {
    let index = Router::new()
        .route(paths::INDEX_CONFIG, get(index::config))
        // The signed metadata beside the index files (`N.root.json` goes to `records`).
        .route("/index/root.json", get(metadata::root))
        .route("/index/snapshot.json", get(metadata::snapshot))
        .route("/index/timestamp.json", get(metadata::timestamp))
        .route(paths::INDEX_FILE, get(index::records));
    // Routes on one path merge into one method router.
    let api = api_routes()
        .into_iter()
        .fold(Router::new(), |router, route| {
            let handler = match route.access {
                Access::Public => route.handler,
                access => route
                    .handler
                    .route_layer(axum::middleware::from_fn_with_state(
                        (state.clone(), access),
                        check_access,
                    )),
            };
            router.route(route.path, handler)
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
        .layer(axum::middleware::from_fn_with_state(
            state.request_timeout,
            crate::deadline::deadline,
        ))
        .layer(axum::middleware::from_fn(crate::envelope::one_envelope))
        .layer(axum::middleware::from_fn(crate::web::security_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::metrics::track,
        ))
        .with_state(state)
}

/// Whether `path` belongs to the machine-facing surface, which answers in JSON; every
/// other path is a marketplace page, which answers in HTML.
pub(crate) fn is_api_path(path: &str) -> bool {
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
