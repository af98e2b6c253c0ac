//! Who may do what on a real registry: pack owners (list, add, remove, and every refusal)
//! and publishers' signing keys (register, list, revoke, and every refusal).

#![allow(clippy::unwrap_used)]

use modularbase_pack::{KeyInfo, KeyList, OwnerList, SigningKey};
use modularbase_tests::{Pack, Publisher, TestRegistry, refusal};
use reqwest::Method;
use reqwest::blocking::Response;

fn owners(registry: &TestRegistry) -> Vec<String> {
    let response = registry.get("/api/v1/packs/tiny_base/owners");
    assert_eq!(response.status(), 200);
    let list: OwnerList = response.json().unwrap();
    list.users.into_iter().map(|u| u.login).collect()
}

/// `PUT` (add) or `DELETE` (remove) owners of `tiny_base`.
fn change_owners(publisher: &Publisher, method: Method, users: &[&str]) -> Response {
    publisher
        .request(method, "/api/v1/packs/tiny_base/owners")
        .json(&serde_json::json!({ "users": users }))
        .send()
        .unwrap()
}

fn register_key(publisher: &Publisher, key: &str) -> Response {
    publisher
        .request(Method::POST, "/api/v1/keys")
        .json(&serde_json::json!({ "key": key }))
        .send()
        .unwrap()
}

fn own_keys(publisher: &Publisher) -> Vec<KeyInfo> {
    let response = publisher
        .request(Method::GET, "/api/v1/keys")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json::<KeyList>().unwrap().keys
}

// ---- owners ----

#[test]
fn owners_of_a_new_pack_are_its_publisher() {
    let (registry, _ada) = TestRegistry::with_base();
    assert_eq!(owners(&registry), ["ada"]);
}

#[test]
fn an_added_owner_can_publish_new_versions() {
    let (registry, ada) = TestRegistry::with_base();
    let bob = registry.user("bob");
    let response = change_owners(&ada, Method::PUT, &["bob"]);
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().unwrap(),
        serde_json::json!({ "ok": true })
    );
    assert_eq!(owners(&registry), ["ada", "bob"]);
    bob.publish_ok(&Pack::base("tiny_base", "1.1.0"));
}

#[test]
fn a_removed_owner_can_no_longer_publish() {
    let (registry, ada) = TestRegistry::with_base();
    let bob = registry.user("bob");
    assert_eq!(change_owners(&ada, Method::PUT, &["bob"]).status(), 200);
    assert_eq!(change_owners(&ada, Method::DELETE, &["bob"]).status(), 200);
    assert_eq!(owners(&registry), ["ada"]);
    let (status, detail) = refusal(bob.publish(&Pack::base("tiny_base", "1.1.0")));
    assert_eq!(status, 403);
    assert!(detail.contains("`bob` is not an owner"), "{detail}");
}

#[test]
fn the_last_owner_cannot_be_removed() {
    let (registry, ada) = TestRegistry::with_base();
    let (status, detail) = refusal(change_owners(&ada, Method::DELETE, &["ada"]));
    assert_eq!(status, 400);
    assert!(
        detail.contains("`tiny_base` must keep at least one owner"),
        "{detail}"
    );
    assert_eq!(owners(&registry), ["ada"]);

    // Removing every owner at once is refused as a whole: nobody is removed.
    let _bob = registry.user("bob");
    assert_eq!(change_owners(&ada, Method::PUT, &["bob"]).status(), 200);
    let (status, _) = refusal(change_owners(&ada, Method::DELETE, &["ada", "bob"]));
    assert_eq!(status, 400);
    assert_eq!(owners(&registry), ["ada", "bob"]);
}

#[test]
fn adding_an_unknown_user_is_404() {
    let (registry, ada) = TestRegistry::with_base();
    let (status, detail) = refusal(change_owners(&ada, Method::PUT, &["nobody"]));
    assert_eq!(status, 404);
    assert_eq!(detail, "no user `nobody` exists on this registry");
    assert_eq!(owners(&registry), ["ada"]);
}

#[test]
fn someone_who_does_not_own_the_pack_cannot_change_its_owners() {
    let (registry, _ada) = TestRegistry::with_base();
    let bob = registry.user("bob");
    let (status, detail) = refusal(change_owners(&bob, Method::PUT, &["bob"]));
    assert_eq!(status, 403);
    assert_eq!(detail, "`bob` is not an owner of `tiny_base`");
    let (status, _) = refusal(change_owners(&bob, Method::DELETE, &["ada"]));
    assert_eq!(status, 403);
    assert_eq!(owners(&registry), ["ada"]);
}

#[test]
fn changing_owners_needs_the_owners_scope() {
    let (registry, ada) = TestRegistry::with_base();
    let _bob = registry.user("bob");
    let yank_only = ada.with_token(&registry.token("ada", &["yank"]));
    let (status, detail) = refusal(change_owners(&yank_only, Method::PUT, &["bob"]));
    assert_eq!(status, 403);
    assert!(detail.contains("lacks the `owners` scope"), "{detail}");
    assert_eq!(owners(&registry), ["ada"]);
}

#[test]
fn a_malformed_owners_body_is_400() {
    let (registry, ada) = TestRegistry::with_base();
    let response = ada
        .request(Method::PUT, "/api/v1/packs/tiny_base/owners")
        .body("{\"users\": [\"bob\"")
        .send()
        .unwrap();
    let (status, detail) = refusal(response);
    assert_eq!(status, 400);
    assert!(detail.starts_with("invalid JSON body"), "{detail}");
    let (status, detail) = refusal(change_owners(&ada, Method::PUT, &[]));
    assert_eq!(status, 400);
    assert_eq!(detail, "name at least one user in `users`");
    assert_eq!(owners(&registry), ["ada"]);
}

#[test]
fn owners_of_an_unknown_pack_is_404() {
    let registry = TestRegistry::start();
    let (status, detail) = refusal(registry.get("/api/v1/packs/nothing_here/owners"));
    assert_eq!(status, 404);
    assert_eq!(detail, "no pack named `nothing_here` is published here");
}

// ---- keys ----

#[test]
fn registering_the_same_key_again_is_idempotent() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    let key = ada.key.public_key();
    let response = register_key(&ada, &key.to_string());
    assert_eq!(response.status(), 200);
    let info: KeyInfo = response.json().unwrap();
    assert_eq!(info.key, key);
    assert_eq!(info.fingerprint, key.fingerprint());
    assert!(!info.revoked);
    assert_eq!(own_keys(&ada).len(), 1);
}

#[test]
fn a_key_registered_to_another_user_is_409() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    let bob = registry.user("bob");
    let key = ada.key.public_key();
    let (status, detail) = refusal(register_key(&bob, &key.to_string()));
    assert_eq!(status, 409);
    assert_eq!(
        detail,
        format!("key {} is registered to another user", key.fingerprint())
    );
    assert_eq!(own_keys(&bob).len(), 1);
}

#[test]
fn a_malformed_key_is_400() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    for bad in ["ed25519:not-base64!", "rsa:AAAA", ""] {
        let (status, detail) = refusal(register_key(&ada, bad));
        assert_eq!(status, 400, "{bad}");
        assert!(
            detail.contains("is not an Ed25519 public key"),
            "{bad}: {detail}"
        );
    }
    assert_eq!(own_keys(&ada).len(), 1);
}

#[test]
fn own_keys_are_listed_with_their_fingerprints() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    let second = SigningKey::generate().public_key();
    assert_eq!(register_key(&ada, &second.to_string()).status(), 200);
    let keys = own_keys(&ada);
    let listed: Vec<(String, String, bool)> = keys
        .iter()
        .map(|k| (k.key.to_string(), k.fingerprint.clone(), k.revoked))
        .collect();
    let first = ada.key.public_key();
    assert_eq!(
        listed,
        [
            (first.to_string(), first.fingerprint(), false),
            (second.to_string(), second.fingerprint(), false),
        ]
    );
}

#[test]
fn a_revoked_key_stays_listed_as_revoked() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    let fingerprint = ada.key.public_key().fingerprint();
    let response = ada
        .request(Method::DELETE, &format!("/api/v1/keys/{fingerprint}"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let keys = own_keys(&ada);
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].fingerprint, fingerprint);
    assert!(keys[0].revoked);
    let (status, detail) = refusal(register_key(&ada, &ada.key.public_key().to_string()));
    assert_eq!(status, 409, "a revoked key must not come back");
    assert!(detail.contains("was revoked"), "{detail}");
}

#[test]
fn revoking_an_unknown_fingerprint_is_404() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    let bob = registry.user("bob");
    let (status, detail) = refusal(
        ada.request(Method::DELETE, "/api/v1/keys/0000:0000:0000:0000")
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);
    assert_eq!(
        detail,
        "`ada` has no active key with fingerprint `0000:0000:0000:0000`"
    );
    // Nor may anyone revoke someone else's key.
    let bobs = bob.key.public_key().fingerprint();
    let (status, _) = refusal(
        ada.request(Method::DELETE, &format!("/api/v1/keys/{bobs}"))
            .send()
            .unwrap(),
    );
    assert_eq!(status, 404);
    assert!(!own_keys(&bob)[0].revoked);
}

#[test]
fn anyone_can_list_a_users_public_keys() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    let response = registry.get("/api/v1/users/ada/keys");
    assert_eq!(response.status(), 200);
    let keys = response.json::<KeyList>().unwrap().keys;
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key, ada.key.public_key());
    assert_eq!(keys[0].fingerprint, ada.key.public_key().fingerprint());
}

#[test]
fn keys_of_an_unknown_user_is_404() {
    let registry = TestRegistry::start();
    let (status, detail) = refusal(registry.get("/api/v1/users/nobody/keys"));
    assert_eq!(status, 404);
    assert_eq!(detail, "no user `nobody` exists on this registry");
}

#[test]
fn registering_a_key_without_a_token_is_401() {
    let registry = TestRegistry::start();
    let key = SigningKey::generate().public_key();
    let response = registry
        .client()
        .post(format!("{}/api/v1/keys", registry.url))
        .json(&serde_json::json!({ "key": key.to_string() }))
        .send()
        .unwrap();
    let (status, detail) = refusal(response);
    assert_eq!(status, 401);
    assert!(detail.contains("needs an API token"), "{detail}");
    let (status, _) = refusal(registry.get("/api/v1/keys"));
    assert_eq!(status, 401);
}
