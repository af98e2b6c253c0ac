//! The attacks the registry's signed metadata defeats (issue 18), one per test as
//! python-tuf's `test_updater_*` do: a real registry, a man in the middle ([`Proxy`]) in
//! front of it, and a home that trusted the registry through the proxy before the attack is
//! mounted. Each attack must be refused with a message that names it and leave the home
//! byte for byte as it was; a positive control runs the same commands unattacked.
//!
//! ```text
//! tiny_base 1.0.0 <── reasoning 1.0.0, 1.1.0, 1.2.0 <── python_code 1.0.0 (reasoning >=1.1)
//! ```

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant, SystemTime};

use common::{graph, in_home, refused, succeeded, text};
use modularbase_pack::SigningKey;
use modularbase_pack::tuf::{
    MetaFile, Role, RoleSpec, Root, Signed, Snapshot, Timestamp, document_bytes, expires_text,
    sign_document,
};
use modularbase_tests::{Answer, Pack, Proxy, Publisher, TestRegistry, TreeSnapshot};
use serde::de::DeserializeOwned;

const HOUR: Duration = Duration::from_secs(3600);
/// The command that primes a home and is then attacked.
const RESOLVE: [&str; 3] = ["pack", "resolve", "python_code"];
const TIMESTAMP: &str = "/index/timestamp.json";
const SNAPSHOT: &str = "/index/snapshot.json";

/// A registry, a proxy in front of it and a home that reaches the registry through it.
struct Scene {
    registry: TestRegistry,
    ada: Publisher,
    proxy: Proxy,
    dir: tempfile::TempDir,
    /// The data directory and root keys of a registry initialised by `keys init`.
    _data: Option<tempfile::TempDir>,
}

impl Scene {
    /// The graph above, behind a proxy, with a home that has not used it yet.
    fn new() -> Self {
        let (registry, ada) = graph();
        Self::around(registry, ada, None)
    }

    /// [`Scene::new`] after a successful resolve through the proxy: the home pins the
    /// registry's root and trusts its current timestamp and snapshot.
    fn primed() -> Self {
        let scene = Self::new();
        succeeded(&scene.run(&RESOLVE));
        scene
    }

    fn around(registry: TestRegistry, ada: Publisher, data: Option<tempfile::TempDir>) -> Self {
        let proxy = Proxy::start(&registry.url);
        Self {
            registry,
            ada,
            proxy,
            dir: tempfile::tempdir().unwrap(),
            _data: data,
        }
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Runs `modularbase ARGS --registry PROXY` in the home.
    fn run(&self, args: &[&str]) -> Output {
        let mut args = args.to_vec();
        args.extend(["--registry", &self.proxy.url]);
        in_home(self.dir.path(), &self.home(), &args, "")
    }

    /// Runs `args` with the attack mounted: refused with each of `expected` in its message,
    /// and the home exactly as it was.
    fn refused_unchanged(&self, args: &[&str], expected: &[&str]) -> Output {
        let before = TreeSnapshot::of(&self.home());
        assert!(!before.is_empty(), "the home was not primed");
        let out = self.run(args);
        for fragment in expected {
            refused(&out, fragment);
        }
        before.assert_unchanged();
        out
    }

    /// The registry's document `/index/NAME` now, parsed, and its bytes.
    fn document<T: DeserializeOwned>(&self, name: &str) -> (Signed<T>, Vec<u8>) {
        let bytes = self.proxy.upstream(&format!("/index/{name}"));
        (serde_json::from_slice(&bytes).unwrap(), bytes)
    }

    /// The registry's online key for `role` (`DATA/metadata/ROLE.key`): what an attacker
    /// who broke into the server holds.
    fn online_key(&self, role: Role) -> SigningKey {
        SigningKey::read(
            &self
                .registry
                .data
                .join("metadata")
                .join(format!("{}.key", role.name())),
        )
        .unwrap()
    }

    /// A timestamp signed with the real timestamp key naming `snapshot`.
    fn timestamp(&self, version: u64, expires: SystemTime, snapshot: &[u8]) -> Vec<u8> {
        let named: Signed<Snapshot> = serde_json::from_slice(snapshot).unwrap();
        let document = Timestamp::new(
            version,
            expires,
            MetaFile::of(snapshot, named.signed.version),
        );
        document_bytes(&sign_document(
            document,
            &[&self.online_key(Role::Timestamp)],
        ))
    }

    /// `snapshot` re-signed with the real snapshot key.
    fn snapshot(&self, snapshot: Snapshot) -> Vec<u8> {
        document_bytes(&sign_document(
            snapshot,
            &[&self.online_key(Role::Snapshot)],
        ))
    }

    /// The next timestamp version, signed with the real key, naming `snapshot` (served as
    /// `snapshot.json` too).
    fn serve_next_timestamp(&self, expires: SystemTime, snapshot: &[u8]) {
        let (current, _) = self.document::<Timestamp>("timestamp.json");
        let timestamp = self.timestamp(current.signed.version + 1, expires, snapshot);
        self.proxy.answer(TIMESTAMP, Answer::Bytes(timestamp));
        self.proxy
            .answer(SNAPSHOT, Answer::Bytes(snapshot.to_vec()));
    }

    /// `trust/HOST/root.json`'s version.
    fn pinned_root_version(&self) -> u64 {
        let trust = self.home().join("trust");
        let hosts: Vec<PathBuf> = std::fs::read_dir(&trust)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(hosts.len(), 1, "{hosts:?}");
        let root: Signed<Root> =
            serde_json::from_slice(&std::fs::read(hosts[0].join("root.json")).unwrap()).unwrap();
        root.signed.version
    }
}

fn later() -> SystemTime {
    SystemTime::now() + HOUR
}

fn past() -> SystemTime {
    SystemTime::now() - HOUR
}

#[test]
fn with_no_attack_the_same_commands_succeed_through_the_proxy() {
    let scene = Scene::primed();
    // The proxy replaying the current documents is no attack: its framing is not what the
    // other tests' refusals catch.
    for path in [TIMESTAMP, SNAPSHOT, "/index/python_code"] {
        scene
            .proxy
            .answer(path, Answer::Bytes(scene.proxy.upstream(path)));
    }
    let before = TreeSnapshot::of(&scene.home());
    succeeded(&scene.run(&RESOLVE));
    before.assert_unchanged();
    scene.proxy.forward_all();
    succeeded(&scene.run(&["pack", "install", "python_code"]));
    assert!(scene.home().join("packs/python_code/1.0.0").is_dir());
    assert!(
        scene.proxy.requests(TIMESTAMP) >= 3,
        "{:?}",
        scene.proxy.requested()
    );
}

#[test]
fn a_replayed_older_timestamp_is_refused_as_a_rollback() {
    let scene = Scene::primed();
    let old = scene.proxy.upstream(TIMESTAMP);
    scene.ada.publish_ok(&Pack::domain("reasoning", "1.3.0"));
    succeeded(&scene.run(&RESOLVE));
    scene.proxy.answer(TIMESTAMP, Answer::Bytes(old));
    scene.refused_unchanged(
        &RESOLVE,
        &[
            "`timestamp.json` is version",
            "older than version",
            "rollback",
        ],
    );
}

#[test]
fn a_newer_timestamp_naming_an_older_snapshot_is_refused_as_a_rollback() {
    let scene = Scene::primed();
    let (_, old) = scene.document::<Snapshot>("snapshot.json");
    scene.ada.publish_ok(&Pack::domain("reasoning", "1.3.0"));
    succeeded(&scene.run(&RESOLVE));
    scene.serve_next_timestamp(later(), &old);
    scene.refused_unchanged(
        &RESOLVE,
        &[
            "`snapshot.json` is version",
            "older than version",
            "rollback",
        ],
    );
}

#[test]
fn a_snapshot_listing_an_older_index_file_is_refused_as_a_rollback() {
    let scene = Scene::primed();
    let (old, _) = scene.document::<Snapshot>("snapshot.json");
    let old_reasoning = scene.proxy.upstream("/index/reasoning");
    scene.ada.publish_ok(&Pack::domain("reasoning", "1.3.0"));
    succeeded(&scene.run(&RESOLVE));
    // Both online keys re-sign a snapshot that lists the old `reasoning` index file.
    let (mut current, _) = scene.document::<Snapshot>("snapshot.json");
    let before = old.signed.meta["reasoning"].clone();
    assert!(before.version < current.signed.meta["reasoning"].version);
    current.signed.meta.insert("reasoning".to_owned(), before);
    current.signed.version += 1;
    current.signed.expires = expires_text(later());
    let forged = scene.snapshot(current.signed);
    scene.serve_next_timestamp(later(), &forged);
    scene
        .proxy
        .answer("/index/reasoning", Answer::Bytes(old_reasoning));
    scene.refused_unchanged(
        &RESOLVE,
        &["`reasoning` is version", "older than version", "rollback"],
    );
}

#[test]
fn an_expired_timestamp_is_refused_as_a_freeze() {
    let scene = Scene::primed();
    let (_, snapshot) = scene.document::<Snapshot>("snapshot.json");
    scene.serve_next_timestamp(past(), &snapshot);
    scene.refused_unchanged(&RESOLVE, &["`timestamp.json` expired at", "freeze"]);
}

#[test]
fn an_expired_snapshot_named_by_a_fresh_timestamp_is_refused_as_a_freeze() {
    let scene = Scene::primed();
    let (mut current, _) = scene.document::<Snapshot>("snapshot.json");
    current.signed.version += 1;
    current.signed.expires = expires_text(past());
    let stale = scene.snapshot(current.signed);
    scene.serve_next_timestamp(later(), &stale);
    scene.refused_unchanged(&RESOLVE, &["`snapshot.json` expired at", "freeze"]);
}

#[test]
fn an_index_file_from_an_older_snapshot_is_refused_as_mix_and_match() {
    let scene = Scene::new();
    let old = scene.proxy.upstream("/index/python_code");
    scene
        .ada
        .publish_ok(&Pack::domain("python_code", "1.1.0").dep("reasoning", ">=1.1"));
    // The home trusts the current metadata but has never read `python_code`.
    succeeded(&scene.run(&["pack", "resolve", "reasoning"]));
    scene.proxy.answer("/index/python_code", Answer::Bytes(old));
    let (timestamps, files) = (
        scene.proxy.requests(TIMESTAMP),
        scene.proxy.requests("/index/python_code"),
    );
    scene.refused_unchanged(
        &RESOLVE,
        &[
            "is not the file the signed metadata lists",
            "files from different moments",
        ],
    );
    // The timestamp is read again once, in case the file changed meanwhile; then refused.
    assert_eq!(scene.proxy.requests(TIMESTAMP) - timestamps, 2);
    assert_eq!(scene.proxy.requests("/index/python_code") - files, 2);
}

#[test]
fn an_archive_replaced_by_other_bytes_is_refused() {
    let scene = Scene::new();
    succeeded(&scene.run(&["pack", "install", "reasoning"]));
    // Every index file is verified and cached: the install downloads one archive alone.
    succeeded(&scene.run(&RESOLVE));
    let path = "/api/v1/packs/python_code/1.0.0/download";
    let mut other = scene.proxy.upstream(path);
    let last = other.len() - 1;
    other[last] ^= 0xff;
    scene.proxy.answer(path, Answer::Bytes(other));
    scene.refused_unchanged(
        &["pack", "install", "python_code"],
        &[
            "the archive of python_code@1.0.0 has SHA-256",
            "tampered with",
        ],
    );
    assert!(!scene.home().join("packs/python_code").exists());
}

#[test]
fn an_endless_timestamp_is_refused_without_reading_it() {
    let scene = Scene::primed();
    scene.proxy.answer(TIMESTAMP, Answer::Endless);
    let start = Instant::now();
    scene.refused_unchanged(&RESOLVE, &["`timestamp.json`", "is larger than"]);
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    let sent = scene.proxy.body_bytes_sent(TIMESTAMP);
    assert!(
        sent < 64 << 20,
        "the proxy wrote {sent} bytes before the client hung up"
    );
}

#[test]
fn a_timestamp_announcing_a_gigabyte_is_refused_before_reading_it() {
    let scene = Scene::primed();
    scene.proxy.answer(TIMESTAMP, Answer::Declared(1 << 30));
    let start = Instant::now();
    scene.refused_unchanged(
        &RESOLVE,
        &["announces 1073741824 bytes for `timestamp.json`"],
    );
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "{:?}",
        start.elapsed()
    );
    let sent = scene.proxy.body_bytes_sent(TIMESTAMP);
    assert!(
        sent < 64 << 20,
        "the proxy wrote {sent} bytes before the client hung up"
    );
}

/// A registry initialised with `keys init --root-keys 3 --threshold 2`, `reasoning`
/// published, and a home that resolved it; returns the root key files too.
fn two_of_three() -> (Scene, Vec<PathBuf>) {
    let data = tempfile::tempdir().unwrap();
    let keys = data.path().join("root-keys");
    let out = Command::new(env!("CARGO_BIN_EXE_modularbase"))
        .args([
            "registry",
            "keys",
            "init",
            "--root-keys",
            "3",
            "--threshold",
            "2",
            "--out",
        ])
        .arg(&keys)
        .arg("--data")
        .arg(data.path().join("data"))
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "keys init: {}", text(&out.stderr));
    let registry = TestRegistry::start_on(data.path().join("data"), &[]);
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    ada.publish_ok(&Pack::domain("reasoning", "1.0.0"));
    let scene = Scene::around(registry, ada, Some(data));
    succeeded(&scene.run(&["pack", "resolve", "reasoning"]));
    assert_eq!(scene.pinned_root_version(), 1);
    let files = (1..=3)
        .map(|n| keys.join(format!("root-{n}.key")))
        .collect();
    (scene, files)
}

/// Root version 1 as the registry serves it, as version 2.
fn next_root(scene: &Scene) -> Root {
    let (root, _) = scene.document::<Root>("1.root.json");
    Root {
        version: 2,
        ..root.signed
    }
}

#[test]
fn a_root_rotation_signed_by_two_of_three_root_keys_is_followed() {
    let (scene, keys) = two_of_three();
    let key = |n: usize| keys[n].to_str().unwrap().to_owned();
    let out = scene
        .registry
        .admin(&["keys", "rotate", "--key", &key(0), "--key", &key(2)]);
    assert!(out.status.success(), "keys rotate: {}", text(&out.stderr));
    let out = scene.run(&["pack", "resolve", "reasoning"]);
    succeeded(&out);
    assert!(
        text(&out.stderr).contains("rotated its root keys: now root version 2"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(scene.pinned_root_version(), 2);
}

#[test]
fn a_next_root_signed_by_one_of_three_root_keys_is_refused() {
    let (scene, keys) = two_of_three();
    let one = SigningKey::read(&keys[0]).unwrap();
    let forged = document_bytes(&sign_document(next_root(&scene), &[&one]));
    scene
        .proxy
        .answer("/index/2.root.json", Answer::Bytes(forged));
    scene.refused_unchanged(
        &["pack", "resolve", "reasoning"],
        &["`2.root.json` has 1 valid signature(s) by root keys, and the root requires 2"],
    );
    assert_eq!(scene.pinned_root_version(), 1);
}

#[test]
fn compromised_online_keys_cannot_sign_a_new_root() {
    let scene = Scene::primed();
    let snapshot = scene.online_key(Role::Snapshot);
    let timestamp = scene.online_key(Role::Timestamp);
    // A root that hands the root role to the snapshot key, signed by both online keys.
    let spec = |key: &SigningKey| RoleSpec {
        keys: vec![key.public_key()],
        threshold: 1,
    };
    let roles = BTreeMap::from([
        (Role::Root, spec(&snapshot)),
        (Role::Snapshot, spec(&snapshot)),
        (Role::Timestamp, spec(&timestamp)),
    ]);
    let forged = document_bytes(&sign_document(
        Root::new(2, SystemTime::now() + 24 * HOUR, &roles),
        &[&snapshot, &timestamp],
    ));
    scene
        .proxy
        .answer("/index/2.root.json", Answer::Bytes(forged));
    scene.refused_unchanged(
        &RESOLVE,
        &["`2.root.json` has 0 valid signature(s) by root keys"],
    );
    assert_eq!(scene.pinned_root_version(), 1);
}

#[test]
fn a_yanked_version_stays_uninstallable_through_a_freeze() {
    let scene = Scene::primed();
    let replay = [TIMESTAMP, SNAPSHOT, "/index/reasoning"].map(|p| (p, scene.proxy.upstream(p)));
    let response = scene
        .ada
        .request(
            reqwest::Method::DELETE,
            "/api/v1/packs/reasoning/1.2.0/yank",
        )
        .send()
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().unwrap());
    succeeded(&scene.run(&RESOLVE));
    // The pre-yank timestamp, snapshot and index file, replayed.
    for (path, bytes) in replay {
        scene.proxy.answer(path, Answer::Bytes(bytes));
    }
    let install = ["pack", "install", "reasoning@1.2.0"];
    scene.refused_unchanged(&install, &["older than version", "rollback"]);
    scene.proxy.forward_all();
    let out = scene.run(&install);
    refused(&out, "no installable version of reasoning matches 1.2.0");
    assert!(!scene.home().join("packs/reasoning/1.2.0").exists());
}

#[test]
fn metadata_stripped_after_pinning_is_refused() {
    let scene = Scene::primed();
    scene.proxy.answer(TIMESTAMP, Answer::Status(404));
    scene.refused_unchanged(
        &RESOLVE,
        &["serves no `timestamp.json` now; refusing an unsigned index"],
    );
}
