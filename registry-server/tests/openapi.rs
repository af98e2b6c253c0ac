//! `GET /api/openapi.json` against a running registry: real responses, successes and
//! failures alike, have exactly the shape the document gives their operation and status,
//! field by field, so the schemas cannot drift from the wire types they describe. (That
//! the document and the router list the same routes, each served, is checked beside the
//! router, in `routes::openapi`'s unit tests.)

#![allow(clippy::unwrap_used)]

use std::path::Path;

use modularbase_tests::{Pack, TestRegistry};
use reqwest::Method;
use reqwest::blocking::Response;
use serde_json::Value;

fn registry() -> TestRegistry {
    TestRegistry::start_standalone(Path::new(env!("CARGO_BIN_EXE_modularbase-registry")))
}

/// Why `value` does not fit `schema` (a subset of JSON Schema: `$ref`, `type`, `enum`,
/// `properties`, `required`, `items`, `oneOf`), or `Ok`. Objects may hold no field the
/// schema does not name.
fn fits(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/schemas/");
        let target = &doc["components"]["schemas"][name];
        if target.is_null() {
            return Err(format!("{at}: `{reference}` is not in the document"));
        }
        return fits(doc, target, value, at);
    }
    if let Some(choices) = schema["oneOf"].as_array() {
        return if choices.iter().any(|s| fits(doc, s, value, at).is_ok()) {
            Ok(())
        } else {
            Err(format!("{at}: {value} fits none of {schema}"))
        };
    }
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_u64() || n.is_i64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    let allowed: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => return Err(format!("{at}: the schema {schema} has no type")),
    };
    let integer_as_number = kind == "integer" && allowed.contains(&"number");
    if !allowed.contains(&kind) && !integer_as_number {
        return Err(format!(
            "{at}: {value} is {kind}, the schema says {allowed:?}"
        ));
    }
    if let Some(choices) = schema["enum"].as_array()
        && !choices.contains(value)
    {
        return Err(format!("{at}: {value} is not one of {choices:?}"));
    }
    match value {
        Value::Object(fields) => {
            let properties = schema["properties"]
                .as_object()
                .cloned()
                .unwrap_or_default();
            for required in schema["required"].as_array().into_iter().flatten() {
                let name = required.as_str().unwrap_or_default();
                if !fields.contains_key(name) {
                    return Err(format!("{at}: required field `{name}` is missing"));
                }
            }
            for (name, field) in fields {
                let field_schema = properties
                    .get(name)
                    .ok_or_else(|| format!("{at}: field `{name}` is not documented"))?;
                fits(doc, field_schema, field, &format!("{at}.{name}"))?;
            }
            Ok(())
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| fits(doc, &schema["items"], item, &format!("{at}[{i}]"))),
        _ => Ok(()),
    }
}

/// Checks a real response against what the document says `method path` answers with its
/// status, falling back to the operation's `default` response.
fn check(doc: &Value, method: &str, path: &str, response: Response) {
    let status = response.status().as_u16().to_string();
    let body: Value = response.json().unwrap();
    let operation = &doc["paths"][path][method.to_lowercase()];
    assert!(!operation.is_null(), "{method} {path} is not documented");
    let mut documented = &operation["responses"][&status];
    if documented.is_null() {
        documented = &operation["responses"]["default"];
    }
    if let Some(reference) = documented["$ref"].as_str() {
        let name = reference.trim_start_matches("#/components/responses/");
        documented = &doc["components"]["responses"][name];
    }
    let schema = &documented["content"]["application/json"]["schema"];
    assert!(
        !schema.is_null(),
        "{method} {path} → {status}: no JSON schema documented"
    );
    if let Err(why) = fits(doc, schema, &body, "body") {
        panic!("{method} {path} → {status}: {why}\n{body:#}");
    }
}

#[test]
fn real_responses_have_the_documented_shapes() {
    let registry = registry();
    let doc: Value = registry.get("/api/openapi.json").json().unwrap();
    let ada = registry.user("ada");
    let publish = ada.publish(&Pack::base("tiny_base", "1.0.0").license("MIT"));
    check(&doc, "PUT", "/api/v1/packs/new", publish);
    ada.publish_ok(&Pack::domain("python_code", "1.0.0"));

    let get = |path: &str| registry.get(path);
    let as_ada = |method: Method, path: &str| ada.request(method, path);
    check(&doc, "GET", "/api/v1/packs", get("/api/v1/packs?q=code"));
    check(
        &doc,
        "GET",
        "/api/v1/packs/{id}",
        get("/api/v1/packs/python_code"),
    );
    check(
        &doc,
        "GET",
        "/api/v1/packs/{id}/owners",
        get("/api/v1/packs/python_code/owners"),
    );
    check(
        &doc,
        "GET",
        "/api/v1/users/{login}/keys",
        get("/api/v1/users/ada/keys"),
    );
    check(
        &doc,
        "GET",
        "/api/v1/keys",
        as_ada(Method::GET, "/api/v1/keys").send().unwrap(),
    );
    check(
        &doc,
        "GET",
        "/api/v1/me",
        as_ada(Method::GET, "/api/v1/me").send().unwrap(),
    );
    check(
        &doc,
        "POST",
        "/api/v1/keys",
        as_ada(Method::POST, "/api/v1/keys")
            .json(&serde_json::json!({ "key": ada.key.public_key().to_string() }))
            .send()
            .unwrap(),
    );
    check(
        &doc,
        "DELETE",
        "/api/v1/packs/{id}/{vers}/yank",
        as_ada(Method::DELETE, "/api/v1/packs/python_code/1.0.0/yank")
            .send()
            .unwrap(),
    );
    check(
        &doc,
        "PUT",
        "/api/v1/packs/{id}/{vers}/unyank",
        as_ada(Method::PUT, "/api/v1/packs/python_code/1.0.0/unyank")
            .send()
            .unwrap(),
    );

    // Failures: each is the documented error envelope.
    check(&doc, "GET", "/api/v1/packs", get("/api/v1/packs?page=0"));
    check(
        &doc,
        "GET",
        "/api/v1/packs/{id}",
        get("/api/v1/packs/nothing_here"),
    );
    check(
        &doc,
        "GET",
        "/api/v1/packs/{id}/{vers}/download",
        get("/api/v1/packs/python_code/9.9.9/download"),
    );
    check(
        &doc,
        "GET",
        "/api/v1/keys",
        registry
            .client()
            .get(format!("{}/api/v1/keys", registry.url))
            .send()
            .unwrap(),
    );
    check(
        &doc,
        "GET",
        "/api/v1/me",
        registry
            .client()
            .get(format!("{}/api/v1/me", registry.url))
            .header("Authorization", "mbr_000000000000_bogus")
            .send()
            .unwrap(),
    );
    check(
        &doc,
        "PUT",
        "/api/v1/packs/{id}/owners",
        as_ada(Method::PUT, "/api/v1/packs/python_code/owners")
            .json(&serde_json::json!({ "users": ["nobody"] }))
            .send()
            .unwrap(),
    );
    check(
        &doc,
        "DELETE",
        "/api/v1/packs/{id}/owners",
        as_ada(Method::DELETE, "/api/v1/packs/python_code/owners")
            .json(&serde_json::json!({ "users": ["ada"] }))
            .send()
            .unwrap(),
    );
    check(
        &doc,
        "DELETE",
        "/api/v1/keys/{fingerprint}",
        as_ada(Method::DELETE, "/api/v1/keys/nope").send().unwrap(),
    );
    check(
        &doc,
        "PUT",
        "/api/v1/packs/new",
        ada.publish(&Pack::base("tiny_base", "1.0.0")),
    );
}
