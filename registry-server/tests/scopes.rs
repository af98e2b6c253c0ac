//! Token scopes against a running registry. Every authenticated operation of the OpenAPI
//! document (whose `security` comes from the route list the router enforces) is called with
//! a token that has every scope but the ones it accepts, and refused with 403 and the error
//! envelope before it changes anything; without a token, with 401. Key registration and
//! revocation need the `keys` scope, which a yank-only token lacks (the keys API used to
//! ignore scopes, so a leaked yank token could revoke, for good, its user's signing keys).

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::path::Path;

use modularbase_pack::{KeyList, SigningKey, WhoAmI, paths};
use modularbase_tests::{Pack, Publisher, TestRegistry, refusal};
use reqwest::Method;
use reqwest::blocking::Response;
use serde_json::{Value, json};

fn registry() -> TestRegistry {
    TestRegistry::start_standalone(Path::new(env!("CARGO_BIN_EXE_modularbase-registry")))
}

/// A registry with `tiny_base` 1.0.0 published by `ada`, and `bob`.
fn with_base() -> (TestRegistry, Publisher, Publisher) {
    let registry = registry();
    let ada = registry.user("ada");
    let bob = registry.user("bob");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    (registry, ada, bob)
}

/// `login`'s keys as `GET /api/v1/users/{login}/keys` lists them.
fn keys_of(registry: &TestRegistry, login: &str) -> KeyList {
    let response = registry.get(&paths::fill(paths::USER_KEYS, &[login]));
    assert_eq!(response.status(), 200);
    response.json().unwrap()
}

fn register_key(publisher: &Publisher, key: &SigningKey) -> Response {
    publisher
        .request(Method::POST, paths::KEYS)
        .json(&json!({ "key": key.public_key().to_string() }))
        .send()
        .unwrap()
}

fn revoke_key(publisher: &Publisher, fingerprint: &str) -> Response {
    publisher
        .request(Method::DELETE, &paths::fill(paths::KEY, &[fingerprint]))
        .send()
        .unwrap()
}

/// Every scope there is: those of a token made without `--scope`.
fn every_scope(publisher: &Publisher) -> BTreeSet<String> {
    let response = publisher
        .request(Method::GET, &paths::fill(paths::ME, &[]))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let who: WhoAmI = response.json().unwrap();
    who.scopes.into_iter().collect()
}

/// `(method, path, scopes)` of every operation whose `security` asks for a token, from the
/// served OpenAPI document; `scopes` are the alternatives it accepts (empty: any token).
fn authenticated_operations(registry: &TestRegistry) -> Vec<(Method, String, BTreeSet<String>)> {
    let doc: Value = registry.get("/api/openapi.json").json().unwrap();
    let mut found = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let Some(requirements) = operation["security"].as_array() else {
                continue;
            };
            let scopes = requirements
                .iter()
                .flat_map(|r| r["token"].as_array().unwrap().clone())
                .map(|s| s.as_str().unwrap().to_owned())
                .collect();
            let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            found.push((method, path.clone(), scopes));
        }
    }
    found
}

#[test]
fn keys_api_ignores_token_scopes_every_authenticated_route_refuses_a_token_lacking_its_scope() {
    let (registry, ada, _bob) = with_base();
    let all = every_scope(&ada);
    assert!(all.contains("keys"), "{all:?}");
    let fingerprint = keys_of(&registry, "ada").keys[0].fingerprint.clone();
    let operations = authenticated_operations(&registry);
    let scoped: BTreeSet<(String, String)> = operations
        .iter()
        .filter(|(_, _, scopes)| !scopes.is_empty())
        .map(|(method, path, scopes)| {
            let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
            (format!("{method} {path}"), scopes.join(" "))
        })
        .collect();
    // What the route list declares, as the document states it.
    let expected: BTreeSet<(String, String)> = [
        ("PUT /api/v1/packs/new", "publish-new publish-update"),
        ("DELETE /api/v1/packs/{id}/{vers}/yank", "yank"),
        ("PUT /api/v1/packs/{id}/{vers}/unyank", "yank"),
        ("PUT /api/v1/packs/{id}/owners", "owners"),
        ("DELETE /api/v1/packs/{id}/owners", "owners"),
        ("POST /api/v1/keys", "keys"),
        ("DELETE /api/v1/keys/{fingerprint}", "keys"),
    ]
    .into_iter()
    .map(|(op, scopes)| (op.to_owned(), scopes.to_owned()))
    .collect();
    assert_eq!(scoped, expected);

    for (method, path, scopes) in &operations {
        let uri = path
            .replace("{id}", "tiny_base")
            .replace("{vers}", "1.0.0")
            .replace("{fingerprint}", &fingerprint);
        // A body the handler would accept, so only the scope can refuse it.
        let body = match (method.as_str(), path.as_str()) {
            ("PUT", "/api/v1/packs/new") => ada.prepare(&Pack::base("tiny_base", "1.1.0")).body(),
            ("POST", "/api/v1/keys") => {
                let key = SigningKey::generate();
                serde_json::to_vec(&json!({ "key": key.public_key().to_string() })).unwrap()
            }
            (_, "/api/v1/packs/{id}/owners") => {
                serde_json::to_vec(&json!({ "users": ["bob"] })).unwrap()
            }
            _ => Vec::new(),
        };
        let send = |publisher: Option<&Publisher>| {
            let response = match publisher {
                Some(publisher) => publisher.request(method.clone(), &uri),
                None => registry
                    .client()
                    .request(method.clone(), format!("{}{uri}", registry.url)),
            };
            response.body(body.clone()).send().unwrap()
        };

        let (status, detail) = refusal(send(None));
        assert_eq!(status, 401, "{method} {uri}: {detail}");
        assert!(
            detail.contains("needs an API token"),
            "{method} {uri}: {detail}"
        );
        if scopes.is_empty() {
            continue;
        }
        let others: Vec<&str> = all.difference(scopes).map(String::as_str).collect();
        let lacking = ada.with_token(&registry.token("ada", &others));
        let (status, detail) = refusal(send(Some(&lacking)));
        assert_eq!(status, 403, "{method} {uri} with {others:?}: {detail}");
        let first = scopes.first().unwrap();
        assert!(
            detail.contains(&format!("lacks the `{first}` scope")),
            "{method} {uri}: {detail}"
        );
        assert!(
            detail.contains(&format!("token create --user ada --scope {first}")),
            "{method} {uri}: {detail}"
        );
    }

    // Nothing changed.
    let index = registry.index("tiny_base");
    assert_eq!(index.len(), 1);
    assert!(!index[0].yanked);
    let owners: Value = registry
        .get(&paths::fill(paths::OWNERS, &["tiny_base"]))
        .json()
        .unwrap();
    assert_eq!(owners["users"], json!([{ "login": "ada" }]));
    let keys = keys_of(&registry, "ada").keys;
    assert_eq!(keys.len(), 1);
    assert!(!keys[0].revoked);
}

#[test]
fn a_yank_only_token_can_neither_add_nor_revoke_keys() {
    let registry = registry();
    let ada = registry.user("ada");
    let yank_only = ada.with_token(&registry.token("ada", &["yank"]));
    let fingerprint = keys_of(&registry, "ada").keys[0].fingerprint.clone();

    let (status, detail) = refusal(register_key(&yank_only, &SigningKey::generate()));
    assert_eq!(status, 403, "{detail}");
    assert!(detail.contains("lacks the `keys` scope"), "{detail}");
    assert!(
        detail.contains("token create --user ada --scope keys"),
        "{detail}"
    );
    let (status, detail) = refusal(revoke_key(&yank_only, &fingerprint));
    assert_eq!(status, 403, "{detail}");
    assert!(detail.contains("lacks the `keys` scope"), "{detail}");

    // The key is still active, and only it is registered: ada can still publish with it.
    let keys = keys_of(&registry, "ada").keys;
    assert_eq!(keys.len(), 1);
    assert!(!keys[0].revoked);
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));

    // Listing one's own keys needs a token, not the scope.
    let response = yank_only.request(Method::GET, paths::KEYS).send().unwrap();
    assert_eq!(response.status(), 200);
    let own: KeyList = response.json().unwrap();
    assert_eq!(own.keys.len(), 1);
}

#[test]
fn keys_api_ignores_token_scopes_a_keys_token_manages_only_its_own_users_keys() {
    let registry = registry();
    let ada = registry.user("ada");
    let bob = registry.user("bob");
    let ada_fingerprint = keys_of(&registry, "ada").keys[0].fingerprint.clone();
    let bob_keys = bob.with_token(&registry.token("bob", &["keys"]));

    // Another user's key is not bob's to revoke, whatever his token may do.
    let (status, detail) = refusal(revoke_key(&bob_keys, &ada_fingerprint));
    assert_eq!(status, 404, "{detail}");
    assert!(!keys_of(&registry, "ada").keys[0].revoked);
    // Nor to register as his.
    let (status, _) = refusal(register_key(&bob_keys, &ada.key));
    assert_eq!(status, 409);

    // His own keys he registers and revokes with a `keys` token.
    let second = SigningKey::generate();
    let response = register_key(&bob_keys, &second);
    assert_eq!(response.status(), 200);
    let fingerprint = second.public_key().fingerprint();
    let response = revoke_key(&bob_keys, &fingerprint);
    assert_eq!(response.status(), 200);
    let keys = keys_of(&registry, "bob").keys;
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .any(|k| k.fingerprint == fingerprint && k.revoked)
    );
    assert!(
        keys.iter()
            .any(|k| k.fingerprint != fingerprint && !k.revoked)
    );
}

#[test]
fn a_publish_needs_a_publish_scope_and_then_the_one_that_applies() {
    let (registry, ada, _bob) = with_base();
    let yank_only = ada.with_token(&registry.token("ada", &["yank"]));
    // Refused before the upload is read: either publish scope would do, so both are named.
    for pack in [
        Pack::base("other_base", "1.0.0"),
        Pack::base("tiny_base", "1.1.0"),
    ] {
        let (status, detail) = refusal(yank_only.publish(&pack));
        assert_eq!(status, 403, "{detail}");
        assert!(
            detail.contains(
                "lacks the `publish-new` scope and the `publish-update` scope, one of which this needs"
            ),
            "{detail}"
        );
        assert!(
            detail.contains("--scope publish-new` (or `--scope publish-update`)"),
            "{detail}"
        );
    }
    // With one of them, the handler asks for the one this publish needs.
    let new_only = ada.with_token(&registry.token("ada", &["publish-new"]));
    let (status, detail) = refusal(new_only.publish(&Pack::base("tiny_base", "1.1.0")));
    assert_eq!(status, 403, "{detail}");
    assert!(
        detail.contains("lacks the `publish-update` scope;"),
        "{detail}"
    );
    let update_only = ada.with_token(&registry.token("ada", &["publish-update"]));
    let (status, detail) = refusal(update_only.publish(&Pack::base("other_base", "1.0.0")));
    assert_eq!(status, 403, "{detail}");
    assert!(
        detail.contains("lacks the `publish-new` scope;"),
        "{detail}"
    );
    update_only.publish_ok(&Pack::base("tiny_base", "1.1.0"));
    assert!(registry.index("other_base").is_empty());
    assert_eq!(registry.index("tiny_base").len(), 2);
}
