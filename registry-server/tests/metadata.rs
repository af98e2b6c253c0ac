//! The signed metadata beside the sparse index, as a client sees it: `root.json`,
//! `N.root.json`, `snapshot.json` and `timestamp.json` from a real standalone registry,
//! checked through `TrustedMetadata` (the client's own state machine). A fresh registry
//! signs itself; the snapshot lists every index file with the exact bytes `/index/{id}`
//! serves and the keys of its current owners, and moves on at each change before the
//! change's response; the timestamp is re-signed in the background; `keys init` and
//! `keys rotate` build a root chain with a 2-of-3 threshold; a restart never goes back.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

use modularbase_pack::tuf::{MetaFile, TrustedMetadata};
use modularbase_pack::{PublicKey, paths};
use modularbase_tests::{Pack, Publisher, TestRegistry};
use reqwest::Method;
use serde_json::json;

const BIN: &str = env!("CARGO_BIN_EXE_modularbase-registry");

fn registry() -> TestRegistry {
    TestRegistry::start_standalone(Path::new(BIN))
}

/// `GET /index/FILE`: 200 with the headers metadata is served with, and its bytes.
fn fetch(registry: &TestRegistry, file: &str) -> Vec<u8> {
    let response = registry.get(&format!("/index/{file}"));
    assert_eq!(response.status(), 200, "GET /index/{file}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(header("cache-control").as_deref(), Some("no-cache"));
    assert!(header("etag").is_some(), "{file} has no ETag");
    response.bytes().unwrap().to_vec()
}

/// A client that trusts the registry's current root on first use and has read its
/// timestamp and snapshot.
fn trust(registry: &TestRegistry) -> TrustedMetadata {
    let mut trusted = TrustedMetadata::from_root(&fetch(registry, "root.json")).unwrap();
    update(registry, &mut trusted);
    trusted
}

/// What a client does on each run: the newest timestamp, then the snapshot it names.
fn update(registry: &TestRegistry, trusted: &mut TrustedMetadata) {
    let now = SystemTime::now();
    trusted
        .update_timestamp(&fetch(registry, "timestamp.json"), now)
        .unwrap();
    if !trusted.snapshot_is_current() {
        trusted
            .update_snapshot(&fetch(registry, "snapshot.json"), now)
            .unwrap();
    }
}

fn snapshot_version(trusted: &TrustedMetadata) -> u64 {
    trusted.snapshot().unwrap().signed.version
}

fn timestamp_version(trusted: &TrustedMetadata) -> u64 {
    trusted.timestamp().unwrap().signed.version
}

fn entry(trusted: &TrustedMetadata, id: &str) -> MetaFile {
    trusted.index_entry(id).unwrap().unwrap().clone()
}

fn index_bytes(registry: &TestRegistry, id: &str) -> Vec<u8> {
    let response = registry.get(&paths::fill(paths::INDEX_FILE, &[id]));
    assert_eq!(response.status(), 200);
    response.bytes().unwrap().to_vec()
}

fn keys(publishers: &[&Publisher]) -> Vec<String> {
    let mut keys: Vec<String> = publishers
        .iter()
        .map(|p| p.key.public_key().to_string())
        .collect();
    keys.sort();
    keys
}

fn listed(entry: &MetaFile) -> Vec<String> {
    entry.owner_keys.iter().map(PublicKey::to_string).collect()
}

fn ok(response: reqwest::blocking::Response) {
    let status = response.status();
    assert_eq!(status, 200, "{}", response.text().unwrap_or_default());
}

#[test]
fn a_fresh_registry_serves_metadata_that_verifies() {
    let registry = registry();
    let trusted = trust(&registry);
    assert_eq!(trusted.root().signed.version, 1);
    assert!(trusted.snapshot().unwrap().signed.meta.is_empty());
    assert_eq!(
        fetch(&registry, "1.root.json"),
        fetch(&registry, "root.json")
    );
    let missing = registry.get("/index/2.root.json");
    assert_eq!(missing.status(), 404);
    assert!(missing.text().unwrap().contains("the newest is 1"));
    // The root key a fresh self-host made for itself is private.
    assert_mode_0600(&registry.data.join("metadata/root-keys/root-1.key"));

    // Unchanged documents answer 304 to their ETag.
    let first = registry.get("/index/timestamp.json");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    let again = registry
        .client()
        .get(format!("{}/index/timestamp.json", registry.url))
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
}

#[test]
fn the_snapshot_lists_each_index_file_as_served_and_moves_on_at_each_change() {
    let registry = registry();
    let mut trusted = trust(&registry);
    let before = snapshot_version(&trusted);
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));

    // Right after the publish: a new snapshot, named by a new timestamp.
    update(&registry, &mut trusted);
    assert!(snapshot_version(&trusted) > before);
    let published = entry(&trusted, "tiny_base");
    assert_eq!(published.version, 1);
    let served = index_bytes(&registry, "tiny_base");
    assert_eq!(published.length, served.len() as u64);
    trusted.verify_index_file("tiny_base", &served).unwrap();
    assert_eq!(listed(&published), keys(&[&ada]));
    let timestamp = trusted
        .timestamp()
        .unwrap()
        .signed
        .snapshot()
        .unwrap()
        .clone();
    assert_eq!(timestamp.version, snapshot_version(&trusted));

    // A yank changes the file: its version and the snapshot's grow, and the old bytes no
    // longer verify.
    let snapshot_before = snapshot_version(&trusted);
    ok(ada
        .request(
            Method::DELETE,
            &paths::fill(paths::YANK, &["tiny_base", "1.0.0"]),
        )
        .send()
        .unwrap());
    update(&registry, &mut trusted);
    assert_eq!(entry(&trusted, "tiny_base").version, 2);
    assert!(snapshot_version(&trusted) > snapshot_before);
    let yanked = index_bytes(&registry, "tiny_base");
    trusted.verify_index_file("tiny_base", &yanked).unwrap();
    assert!(trusted.verify_index_file("tiny_base", &served).is_err());

    // Another pack's publish leaves this file's version alone.
    ada.publish_ok(&Pack::base("other_base", "1.0.0"));
    update(&registry, &mut trusted);
    assert_eq!(entry(&trusted, "tiny_base").version, 2);
    assert_eq!(entry(&trusted, "other_base").version, 1);

    ok(ada
        .request(
            Method::PUT,
            &paths::fill(paths::UNYANK, &["tiny_base", "1.0.0"]),
        )
        .send()
        .unwrap());
    update(&registry, &mut trusted);
    assert_eq!(entry(&trusted, "tiny_base").version, 3);
    trusted
        .verify_index_file("tiny_base", &index_bytes(&registry, "tiny_base"))
        .unwrap();
}

#[test]
fn owner_keys_follow_owners_and_revocations() {
    let registry = registry();
    let ada = registry.user("ada");
    let bob = registry.user("bob");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    let mut trusted = trust(&registry);
    assert_eq!(listed(&entry(&trusted, "tiny_base")), keys(&[&ada]));
    let served = index_bytes(&registry, "tiny_base");

    let owners = paths::fill(paths::OWNERS, &["tiny_base"]);
    ok(ada
        .request(Method::PUT, &owners)
        .json(&json!({ "users": ["bob"] }))
        .send()
        .unwrap());
    update(&registry, &mut trusted);
    let shared = entry(&trusted, "tiny_base");
    assert_eq!(listed(&shared), keys(&[&ada, &bob]));
    assert_eq!(shared.version, 2);
    // The index file itself did not change.
    trusted.verify_index_file("tiny_base", &served).unwrap();

    // Bob revokes his key: it no longer signs tiny_base.
    let fingerprint = bob.key.public_key().fingerprint();
    ok(bob
        .request(Method::DELETE, &paths::fill(paths::KEY, &[&fingerprint]))
        .send()
        .unwrap());
    update(&registry, &mut trusted);
    assert_eq!(listed(&entry(&trusted, "tiny_base")), keys(&[&ada]));
    assert_eq!(entry(&trusted, "tiny_base").version, 3);

    // Ada removes bob, who registers a new key: it does not sign tiny_base either.
    ok(ada
        .request(Method::DELETE, &owners)
        .json(&json!({ "users": ["bob"] }))
        .send()
        .unwrap());
    let new_key = modularbase_pack::SigningKey::generate();
    ok(bob
        .request(Method::POST, paths::KEYS)
        .json(&json!({ "key": new_key.public_key().to_string() }))
        .send()
        .unwrap());
    update(&registry, &mut trusted);
    assert_eq!(listed(&entry(&trusted, "tiny_base")), keys(&[&ada]));
}

#[test]
fn the_timestamp_is_re_signed_in_the_background() {
    let registry =
        TestRegistry::start_standalone_with(Path::new(BIN), &["--timestamp-expiry", "8s"]);
    let mut trusted = trust(&registry);
    let first = timestamp_version(&trusted);
    let snapshot = snapshot_version(&trusted);
    // Re-signed with at least half of its 8 s left (ticks every 2 s): a loaded machine
    // still has seconds to spare before a served timestamp could expire.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        // Never expired: a client at any moment accepts what is served.
        update(&registry, &mut trusted);
        if timestamp_version(&trusted) > first + 1 {
            break;
        }
        assert!(Instant::now() < deadline, "the timestamp was not re-signed");
    }
    // Nothing changed: the same snapshot still.
    assert_eq!(snapshot_version(&trusted), snapshot);
}

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

fn assert_mode_0600(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
}

fn rotate(keys: &[&PathBuf], extra: &[&str], data: &Path) -> Output {
    let mut args = vec!["keys", "rotate"];
    for key in keys {
        args.extend(["--key", text(key)]);
    }
    args.extend(extra);
    args.extend(["--data", text(data)]);
    run(&args)
}

/// `keys init EXTRA… --out OUT --data DATA`.
fn keys_init(extra: &[&str], out: &Path, data: &Path) -> Output {
    let mut args = vec!["keys", "init"];
    args.extend(extra);
    args.extend(["--out", text(out), "--data", text(data)]);
    run(&args)
}

#[test]
fn keys_init_and_rotate_build_a_root_chain_with_a_2_of_3_threshold() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("offline");
    let init = keys_init(&["--root-keys", "3", "--threshold", "2"], &out, &data);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let printed = String::from_utf8(init.stdout).unwrap();
    assert!(printed.contains("wrote root version 1"), "{printed}");
    assert!(printed.contains("2 of 3"), "{printed}");
    let root_keys: Vec<PathBuf> = (1..=3).map(|i| out.join(format!("root-{i}.key"))).collect();
    for path in root_keys.iter().chain([
        &data.join("metadata/snapshot.key"),
        &data.join("metadata/timestamp.key"),
    ]) {
        assert_mode_0600(path);
    }
    // No second root 1.
    let again = keys_init(&[], &dir.path().join("x"), &data);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("keys rotate"));

    let registry = TestRegistry::start_standalone_on(Path::new(BIN), data.clone(), &[]);
    let mut trusted = trust(&registry);
    let root = &trusted.root().signed;
    assert_eq!(root.roles["root"].threshold, 2);
    assert_eq!(root.roles["root"].keyids.len(), 3);

    // One key of three is not enough: refused, and nothing changes.
    let refused = rotate(&[&root_keys[0]], &[], &data);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("needs 2"), "{stderr}");
    assert_eq!(registry.get("/index/2.root.json").status(), 404);

    // Two of three sign version 2, which a client accepts; the server serves it at once.
    let renewed = rotate(&[&root_keys[0], &root_keys[2]], &[], &data);
    assert!(
        renewed.status.success(),
        "{}",
        String::from_utf8_lossy(&renewed.stderr)
    );
    let second = fetch(&registry, "2.root.json");
    assert_eq!(fetch(&registry, "root.json"), second);
    trusted.update_root(&second).unwrap();
    update(&registry, &mut trusted);

    // Version 3 replaces the root keys and the online keys while the server runs; the
    // client follows the chain and the metadata signed by the new online keys verifies.
    let ada = registry.user("ada");
    let rotated = rotate(
        &[&root_keys[1], &root_keys[2]],
        &[
            "--new-root-keys",
            "1",
            "--threshold",
            "1",
            "--online",
            "--out",
            text(&out),
        ],
        &data,
    );
    assert!(
        rotated.status.success(),
        "{}",
        String::from_utf8_lossy(&rotated.stderr)
    );
    let new_root_key = out.join("root-v3-1.key");
    assert_mode_0600(&new_root_key);
    trusted
        .update_root(&fetch(&registry, "3.root.json"))
        .unwrap();
    update(&registry, &mut trusted);
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    update(&registry, &mut trusted);
    trusted
        .verify_index_file("tiny_base", &index_bytes(&registry, "tiny_base"))
        .unwrap();

    // The old root keys sign nothing any more.
    let stale = rotate(&[&root_keys[0], &root_keys[1]], &[], &data);
    assert!(!stale.status.success());
    assert_eq!(registry.get("/index/4.root.json").status(), 404);
}

#[test]
fn a_restart_never_serves_older_versions() {
    let registry = registry();
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    ok(ada
        .request(
            Method::DELETE,
            &paths::fill(paths::YANK, &["tiny_base", "1.0.0"]),
        )
        .send()
        .unwrap());
    let mut trusted = trust(&registry);
    let root = fetch(&registry, "root.json");
    let (snapshot, entry_version) = (
        snapshot_version(&trusted),
        entry(&trusted, "tiny_base").version,
    );
    let timestamp = timestamp_version(&trusted);

    let (status, _, data, dir) = registry.terminate();
    assert!(status.success());
    let registry = TestRegistry::start_standalone_on(Path::new(BIN), data, &[]);
    let _dir = dir;
    assert_eq!(fetch(&registry, "root.json"), root);
    update(&registry, &mut trusted);
    assert!(timestamp_version(&trusted) >= timestamp);
    assert_eq!(snapshot_version(&trusted), snapshot);
    assert_eq!(entry(&trusted, "tiny_base").version, entry_version);

    // And the next change goes on from there.
    ok(ada
        .clone_for(&registry.url)
        .request(
            Method::PUT,
            &paths::fill(paths::UNYANK, &["tiny_base", "1.0.0"]),
        )
        .send()
        .unwrap());
    update(&registry, &mut trusted);
    assert_eq!(snapshot_version(&trusted), snapshot + 1);
    assert_eq!(entry(&trusted, "tiny_base").version, entry_version + 1);
}

#[test]
fn a_root_that_expires_within_a_month_is_warned_about_in_the_log_with_how_to_renew_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keys = dir.path().join("offline");
    let init = keys_init(&["--expires", "10d"], &keys, &data);
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    let registry = TestRegistry::start_standalone_on(Path::new(BIN), data.clone(), &[]);
    // The warning is logged as the server starts, before it listens.
    let (_, log, _, _) = registry.terminate();
    let log = log.join("\n");
    assert!(
        log.contains("the registry's root (version 1) expires at ")
            && log.contains(", in 9days 23h")
            && log.contains(&format!(
                "keys rotate --key ROOT_KEY_FILE … --data {}",
                data.display()
            )),
        "{log}"
    );

    // A root a year away says nothing.
    let registry = TestRegistry::start_standalone(Path::new(BIN));
    let (_, log, _, _) = registry.terminate();
    assert!(!log.join("\n").contains("expires at"), "{log:?}");
}
