//! Owner key sets (issue 18): the registry's signed snapshot lists, per pack, the keys of
//! its current owners. An install accepts a version signed by any of them (a pack with two
//! owners no longer flips between pinned keys), reports a change of the set once, and
//! refuses a version signed by a key that was revoked or whose owner was removed.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{in_home, refused, succeeded, text};
use modularbase_pack::KeyList;
use modularbase_tests::{Pack, Publisher, TestRegistry};
use reqwest::Method;

fn install(
    cwd: &Path,
    home: &Path,
    registry: &TestRegistry,
    args: &[&str],
) -> std::process::Output {
    let mut all = vec!["pack"];
    all.extend_from_slice(args);
    all.extend(["--registry", registry.url.as_str()]);
    in_home(cwd, home, &all, "")
}

fn owners(publisher: &Publisher, method: Method, id: &str, login: &str) {
    let response = publisher
        .request(method, &format!("/api/v1/packs/{id}/owners"))
        .json(&serde_json::json!({ "users": [login] }))
        .send()
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "{}",
        response.text().unwrap_or_default()
    );
}

/// A registry with `reasoning` 1.0.0 published by Ada, and a home that ran `pack FIRST
/// reasoning` against it.
fn reasoning_published(first: &str) -> (TestRegistry, Publisher, tempfile::TempDir, PathBuf) {
    let (registry, ada) = TestRegistry::with_base();
    ada.publish_ok(&Pack::domain("reasoning", "1.0.0"));
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    succeeded(&install(
        dir.path(),
        &home,
        &registry,
        &[first, "reasoning"],
    ));
    (registry, ada, dir, home)
}

/// Ada with a new signing key, registered.
fn with_new_key(ada: &Publisher) -> Publisher {
    let rotated = ada.with_key(modularbase_pack::SigningKey::generate());
    let response = rotated
        .request(Method::POST, "/api/v1/keys")
        .json(&serde_json::json!({ "key": rotated.key.public_key().to_string() }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    rotated
}

#[test]
fn two_owners_keys_both_verify_and_a_change_of_owners_is_reported_once() {
    let (registry, ada, dir, home) = reasoning_published("install");
    let bob = registry.user("bob");

    // Bob becomes an owner and publishes with his own key: the pin on Ada's key used to
    // refuse this; now his key is one of the owners' keys the registry signs.
    owners(&ada, Method::PUT, "reasoning", "bob");
    bob.publish_ok(&Pack::domain("reasoning", "1.1.0"));
    let out = install(dir.path(), &home, &registry, &["update"]);
    succeeded(&out);
    let stderr = text(&out.stderr);
    let bob_key = bob.key.public_key().fingerprint();
    assert!(
        stderr.contains(&format!(
            "the keys of `reasoning`'s owners changed at the registry: added {bob_key}"
        )),
        "{stderr}"
    );
    assert!(
        text(&out.stdout).contains("Installed reasoning 1.1.0"),
        "{}",
        text(&out.stdout)
    );

    // Said once: the next change of the installed set does not repeat it.
    ada.publish_ok(&Pack::domain("medical", "1.0.0"));
    let out = install(dir.path(), &home, &registry, &["install", "medical"]);
    succeeded(&out);
    assert!(
        !text(&out.stderr).contains("owners changed"),
        "{}",
        text(&out.stderr)
    );

    // Bob is removed: the installed 1.1.0 stays, the change is reported, and a fresh home
    // can no longer install the version only his key signed.
    owners(&ada, Method::DELETE, "reasoning", "bob");
    let out = install(dir.path(), &home, &registry, &["update"]);
    succeeded(&out);
    assert!(
        text(&out.stderr).contains(&format!(
            "owners changed at the registry: removed {bob_key}"
        )),
        "{}",
        text(&out.stderr)
    );
    let fresh = dir.path().join("fresh");
    let out = install(
        dir.path(),
        &fresh,
        &registry,
        &["install", "reasoning@1.1.0"],
    );
    refused(
        &out,
        &format!(
            "reasoning@1.1.0 is signed by key {bob_key}, which is not among the keys of `reasoning`'s current owners"
        ),
    );
    assert!(!fresh.join("modularbase.lock").exists());
    assert!(!fresh.join("packs").exists());
}

#[test]
fn an_owners_new_key_is_accepted_without_key_trust_and_reported() {
    let (registry, ada, dir, home) = reasoning_published("install");
    let rotated = with_new_key(&ada);
    rotated.publish_ok(&Pack::domain("reasoning", "1.1.0"));
    let out = install(dir.path(), &home, &registry, &["update"]);
    succeeded(&out);
    let added = rotated.key.public_key().fingerprint();
    assert!(
        text(&out.stderr).contains(&format!("owners changed at the registry: added {added}")),
        "{}",
        text(&out.stderr)
    );
    assert!(home.join("packs/reasoning/1.1.0/pack.toml").is_file());
    // `key trust` is for registries without metadata; here it says why it is not needed.
    let out = in_home(
        dir.path(),
        &home,
        &[
            "key",
            "trust",
            "reasoning",
            "--registry",
            registry.url.as_str(),
        ],
        "",
    );
    succeeded(&out);
    assert!(
        text(&out.stdout).starts_with("Nothing to trust: "),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn a_revoked_key_stops_verifying_new_installs_and_nothing_is_installed() {
    let (registry, ada, dir, home) = reasoning_published("resolve");

    let fingerprint = ada.key.public_key().fingerprint();
    let response = ada
        .request(Method::DELETE, &format!("/api/v1/keys/{fingerprint}"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let out = install(dir.path(), &home, &registry, &["install", "reasoning"]);
    refused(
        &out,
        &format!(
            "reasoning@1.0.0 is signed by key {fingerprint}, which is not among the keys of `reasoning`'s current owners at the registry (none)"
        ),
    );
    // The refused install wrote no lock, request, pin or pack (only the newer signed
    // metadata and index files it verified on the way are kept).
    for written in [
        "modularbase.lock",
        "modularbase.toml",
        "trusted-keys.toml",
        "packs",
    ] {
        assert!(!home.join(written).exists(), "{written}");
    }
}

#[test]
fn key_revoke_revokes_the_named_key_at_the_registry() {
    let registry = TestRegistry::start();
    let token = {
        let out = registry.admin(&["user", "add", "ada"]);
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let run = |args: &[&str]| in_home(dir.path(), &home, args, "");
    succeeded(&run(&[
        "login",
        "--registry",
        &registry.url,
        "--token",
        &token,
    ]));
    succeeded(&run(&["key", "generate"]));
    succeeded(&run(&["key", "register"]));
    let out = run(&["key", "revoke"]);
    succeeded(&out);
    assert!(
        text(&out.stdout).starts_with("Revoked key "),
        "{}",
        text(&out.stdout)
    );
    let keys: KeyList = registry.get("/api/v1/users/ada/keys").json().unwrap();
    assert_eq!(keys.keys.len(), 1);
    assert!(keys.keys[0].revoked);
    // Revoking it again says what the registry says.
    refused(
        &run(&["key", "revoke"]),
        "has no active key with fingerprint",
    );
}
