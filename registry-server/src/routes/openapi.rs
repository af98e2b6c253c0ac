//! The OpenAPI 3.1 document of the JSON API, served at `GET /api/openapi.json`.
//!
//! Operations come from the `#[utoipa::path]` attribute on each handler, schemas from the
//! wire types themselves: `modularbase_pack`'s, which derive `ToSchema` under its `openapi`
//! feature. Every operation also gets a `default` response, the error envelope, because
//! every failure of every route is one, and its `security` from the route's declared
//! [`Access`]: none for a public route, the `token` scheme for any token, and one
//! requirement per accepted scope (`{"token": ["yank"]}`) for a scoped one. The tests below
//! check the document against [`crate::router::api_routes`], the list the router is built from.

use std::sync::LazyLock;

use axum::Json;
use axum::http::Method;
use modularbase_pack::{ErrorDetail, ErrorEnvelope};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::auth::Access;

/// Name of the shared error response in `components.responses`.
const ERROR_RESPONSE: &str = "Error";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "ModularBase registry API",
        description = "Publish, download, yank and search signed model packs; manage owners and signing keys. \
            The sparse index (`/index/config.json`, `/index/{id}`) is described in the project's design, not here.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(
        super::search::search,
        super::search::details,
        super::publish::publish,
        super::download::download,
        super::yank::yank,
        super::yank::unyank,
        super::owners::list,
        super::owners::add,
        super::owners::remove,
        super::keys::register,
        super::keys::list_own,
        super::keys::revoke,
        super::keys::list_of_user,
        super::me::me,
    ),
    components(schemas(ErrorEnvelope, ErrorDetail)),
    modifiers(&ErrorsAndTokens),
    tags(
        (name = "packs", description = "Publishing, downloading, yanking and finding packs"),
        (name = "owners", description = "Who may publish new versions of a pack"),
        (name = "keys", description = "Publishers' Ed25519 signing keys"),
        (name = "tokens", description = "Who an API token belongs to and what it may do"),
    )
)]
struct ApiDoc;

/// Name of the API token's security scheme.
const TOKEN_SCHEME: &str = "token";

/// An operation's `security` for `access`: alternatives, any one of which suffices.
fn security(access: Access) -> Option<Vec<SecurityRequirement>> {
    match access {
        Access::Public => None,
        Access::Token => Some(vec![SecurityRequirement::new(
            TOKEN_SCHEME,
            Vec::<String>::new(),
        )]),
        Access::Scope(_) | Access::AnyScope(_) => Some(
            access
                .scopes()
                .into_iter()
                .map(|scope| SecurityRequirement::new(TOKEN_SCHEME, [scope.as_str()]))
                .collect(),
        ),
    }
}

/// Adds the error envelope as every operation's `default` response, the API token as a
/// security scheme, and each operation's security from its route's declared access.
struct ErrorsAndTokens;

impl Modify for ErrorsAndTokens {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            TOKEN_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Authorization",
                "An API token from `modularbase registry user add` or `token create`, optionally after `Bearer `; \
                 an operation that lists scopes needs a token carrying one of them (403 otherwise)",
            ))),
        );
        components.responses.insert(
            ERROR_RESPONSE.to_owned(),
            RefOr::T(
                ResponseBuilder::new()
                    .description("Any failure: `{\"errors\":[{\"detail\":\"…\"}]}`")
                    .content(
                        "application/json",
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name("ErrorEnvelope")))
                            .build(),
                    )
                    .build(),
            ),
        );
        for route in crate::router::api_routes() {
            let Some(item) = openapi.paths.paths.get_mut(route.path) else {
                continue;
            };
            let operation = match route.method {
                Method::GET => &mut item.get,
                Method::PUT => &mut item.put,
                Method::POST => &mut item.post,
                Method::DELETE => &mut item.delete,
                _ => continue,
            };
            if let Some(operation) = operation {
                operation.security = security(route.access);
            }
        }
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                operation.responses.responses.insert(
                    "default".to_owned(),
                    RefOr::Ref(Ref::from_response_name(ERROR_RESPONSE)),
                );
            }
        }
    }
}

/// The document, built once.
static DOCUMENT: LazyLock<utoipa::openapi::OpenApi> = LazyLock::new(ApiDoc::openapi);

/// `GET /api/openapi.json`.
pub(crate) async fn document() -> Json<&'static utoipa::openapi::OpenApi> {
    Json(&DOCUMENT)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::BTreeSet;

    use axum::body::Body;
    use axum::http::{Method, Request, StatusCode};
    use tower::ServiceExt;

    use super::*;

    /// `(METHOD, path)` of every operation in the document.
    fn documented() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(&*DOCUMENT).unwrap();
        let mut found = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                found.insert((method.to_uppercase(), path.clone()));
            }
        }
        found
    }

    fn routed() -> BTreeSet<(String, String)> {
        crate::router::api_routes()
            .into_iter()
            .map(|r| (r.method.to_string(), r.path.to_owned()))
            .collect()
    }

    #[test]
    fn the_document_covers_exactly_the_routed_api() {
        let documented = documented();
        let routed = routed();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            undocumented.is_empty(),
            "routes missing from the OpenAPI document: {undocumented:?}"
        );
        assert!(
            unrouted.is_empty(),
            "documented operations no route serves: {unrouted:?}"
        );
        assert!(routed.iter().all(|(_, path)| path.starts_with("/api/v1/")));
    }

    #[test]
    fn every_operation_documents_the_error_envelope() {
        let doc = serde_json::to_value(&*DOCUMENT).unwrap();
        assert_eq!(
            doc["components"]["responses"][ERROR_RESPONSE]["content"]["application/json"]["schema"]
                ["$ref"],
            "#/components/schemas/ErrorEnvelope"
        );
        let envelope = &doc["components"]["schemas"]["ErrorEnvelope"];
        assert_eq!(
            envelope["properties"]["errors"]["items"]["$ref"],
            "#/components/schemas/ErrorDetail"
        );
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                assert_eq!(
                    operation["responses"]["default"]["$ref"], "#/components/responses/Error",
                    "{method} {path}"
                );
            }
        }
    }

    #[test]
    fn operation_ids_are_unique() {
        let doc = serde_json::to_value(&*DOCUMENT).unwrap();
        let mut seen = BTreeSet::new();
        for item in doc["paths"].as_object().unwrap().values() {
            for operation in item.as_object().unwrap().values() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(seen.insert(id.to_owned()), "operationId `{id}` twice");
            }
        }
    }

    /// Every documented operation reaches a handler of the real router: no 404 "no such
    /// endpoint" and no 405, whatever the handler then says about the empty request.
    #[tokio::test]
    async fn every_documented_operation_is_served_by_the_router() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::app::AppState::open(dir.path(), "http://registry.test", 1 << 20)
            .await
            .unwrap();
        let app = crate::router::router(state);
        for (method, path) in documented() {
            let uri = path
                .replace("{id}", "python_code")
                .replace("{vers}", "1.0.0")
                .replace("{login}", "ada")
                .replace("{fingerprint}", "SHA256:abc");
            let request = Request::builder()
                .method(Method::from_bytes(method.as_bytes()).unwrap())
                .uri(&uri)
                .body(Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            let text = String::from_utf8_lossy(&body);
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {uri}");
            assert!(
                !text.contains("no such endpoint"),
                "{method} {uri}: {status} {text}"
            );
        }
    }

    /// Each operation's `security` is its route's declared access, and only that.
    #[test]
    fn every_operation_states_the_access_its_route_declares() {
        let doc = serde_json::to_value(&*DOCUMENT).unwrap();
        for route in crate::router::api_routes() {
            let method = route.method.as_str().to_lowercase();
            let operation = &doc["paths"][route.path][&method];
            let expected = match route.access {
                Access::Public => serde_json::Value::Null,
                Access::Token => serde_json::json!([{ "token": [] }]),
                access => access
                    .scopes()
                    .iter()
                    .map(|scope| serde_json::json!({ "token": [scope.as_str()] }))
                    .collect(),
            };
            assert_eq!(operation["security"], expected, "{method} {}", route.path);
        }
    }

    /// The router enforces the declaration: without a token every non-public route is 401
    /// before its handler runs, and no public one is.
    #[tokio::test]
    async fn only_routes_declared_public_answer_without_a_token() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::app::AppState::open(dir.path(), "http://registry.test", 1 << 20)
            .await
            .unwrap();
        let app = crate::router::router(state);
        for route in crate::router::api_routes() {
            let uri = route
                .path
                .replace("{id}", "python_code")
                .replace("{vers}", "1.0.0")
                .replace("{login}", "ada")
                .replace("{fingerprint}", "SHA256:abc");
            let request = Request::builder()
                .method(route.method.clone())
                .uri(&uri)
                .body(Body::empty())
                .unwrap();
            let status = app.clone().oneshot(request).await.unwrap().status();
            if route.access == Access::Public {
                assert_ne!(status, StatusCode::UNAUTHORIZED, "{} {uri}", route.method);
            } else {
                assert_eq!(status, StatusCode::UNAUTHORIZED, "{} {uri}", route.method);
            }
        }
    }

    #[tokio::test]
    async fn the_document_is_served_as_json() {
        let dir = tempfile::tempdir().unwrap();
        let state = crate::app::AppState::open(dir.path(), "http://registry.test", 1 << 20)
            .await
            .unwrap();
        let response = crate::router::router(state)
            .oneshot(
                Request::get("/api/openapi.json")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        let doc: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        assert_eq!(doc["info"]["title"], "ModularBase registry API");
    }
}
