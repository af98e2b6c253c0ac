//! One error envelope everywhere: each kind of refusal the server can produce — its own,
//! an extractor's rejection, a body limit, a fallback — answers `{"errors":[{"detail":…}]}`
//! with `application/json` on API paths, and the HTML error page on marketplace paths.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use modularbase_pack::ErrorEnvelope;
use modularbase_tests::TestRegistry;
use reqwest::Method;
use reqwest::blocking::Response;

fn registry() -> TestRegistry {
    TestRegistry::start_standalone(Path::new(env!("CARGO_BIN_EXE_modularbase-registry")))
}

/// `GET path` on `registry`.
fn get(registry: &TestRegistry, path: &str) -> Response {
    registry
        .client()
        .get(format!("{}{path}", registry.url))
        .send()
        .unwrap()
}

/// Asserts the status; returns what was asked (for messages), the content type and body.
fn read(response: Response, status: u16) -> (String, String, String) {
    let what = format!("{} {}", response.status(), response.url());
    assert_eq!(response.status(), status, "{what}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (what, content_type, response.text().unwrap())
}

/// The response is the JSON envelope with `status` and a detail containing `expected`.
fn assert_envelope(response: Response, status: u16, expected: &str) {
    let (what, content_type, body) = read(response, status);
    assert_eq!(content_type, "application/json", "{what}");
    let envelope: ErrorEnvelope =
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{what}: {e}: {body}"));
    let detail = &envelope.errors[0].detail;
    assert!(detail.contains(expected), "{what}: {detail}");
}

/// The response is the marketplace's HTML error page with `status`.
fn assert_page(response: Response, status: u16) {
    let (what, content_type, body) = read(response, status);
    assert!(
        content_type.starts_with("text/html"),
        "{what}: {content_type}"
    );
    assert!(body.contains("Back to the marketplace"), "{what}: {body}");
}

#[test]
fn not_every_refusal_is_the_json_envelope_body_limits_answer_in_json() {
    let registry = registry();
    let ada = registry.user("ada");
    let big = vec![b'x'; 3 << 20];
    for (method, path) in [
        (Method::PUT, "/api/v1/packs/anything/owners"),
        (Method::POST, "/api/v1/keys"),
    ] {
        let response = ada.request(method, path).body(big.clone()).send().unwrap();
        assert_envelope(response, 413, "");
    }
}

#[test]
fn not_every_refusal_is_the_json_envelope_invalid_paths_answer_in_json() {
    let registry = registry();
    assert_envelope(get(&registry, "/index/%c0%ae%c0%ae"), 400, "UTF-8");
    assert_envelope(get(&registry, "/api/v1/packs/%ff/1.0.0/download"), 400, "");
    assert_envelope(
        get(&registry, "/api/v1/nothing-here"),
        404,
        "no such endpoint",
    );
    let wrong_method = registry
        .client()
        .delete(format!("{}/index/config.json", registry.url))
        .send()
        .unwrap();
    assert!(wrong_method.headers().contains_key("allow"));
    assert_envelope(wrong_method, 405, "is not supported");
}

#[test]
fn not_every_refusal_is_the_json_envelope_bad_bodies_and_queries_answer_in_json() {
    let registry = registry();
    let ada = registry.user("ada");
    let response = ada
        .request(Method::POST, "/api/v1/keys")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_envelope(response, 400, "invalid JSON body");
    let query = registry
        .client()
        .get(format!("{}/api/v1/packs?per_page=many", registry.url))
        .send()
        .unwrap();
    assert_envelope(query, 400, "invalid query string");
}

#[test]
fn marketplace_paths_answer_with_the_html_error_page() {
    let registry = registry();
    assert_page(get(&registry, "/no/such/page"), 404);
    assert_page(get(&registry, "/packs/%c0%ae%c0%ae"), 400);
    assert_page(get(&registry, "/packs/python_code/%ff"), 400);
}
