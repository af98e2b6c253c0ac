//! The client's checks, one attack per test, on documents signed here.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use super::*;
use crate::SigningKey;

const HOUR: Duration = Duration::from_secs(3600);

struct Keys {
    root: Vec<SigningKey>,
    snapshot: SigningKey,
    timestamp: SigningKey,
}

fn keys(roots: u8) -> Keys {
    Keys {
        root: (0..roots)
            .map(|n| SigningKey::from_seed([n + 1; 32]))
            .collect(),
        snapshot: SigningKey::from_seed([100; 32]),
        timestamp: SigningKey::from_seed([101; 32]),
    }
}

fn root_doc(keys: &Keys, version: u64, threshold: u32) -> Root {
    let spec = |keys: Vec<crate::PublicKey>, threshold| RoleSpec { keys, threshold };
    Root::new(
        version,
        SystemTime::now() + 24 * HOUR,
        &BTreeMap::from([
            (
                Role::Root,
                spec(
                    keys.root.iter().map(SigningKey::public_key).collect(),
                    threshold,
                ),
            ),
            (Role::Snapshot, spec(vec![keys.snapshot.public_key()], 1)),
            (Role::Timestamp, spec(vec![keys.timestamp.public_key()], 1)),
        ]),
    )
}

fn signed_root(keys: &Keys, version: u64, threshold: u32, signers: &[&SigningKey]) -> Vec<u8> {
    document_bytes(&sign_document(root_doc(keys, version, threshold), signers))
}

fn snapshot(
    keys: &Keys,
    version: u64,
    files: &[(&str, &[u8], u64)],
    expires: SystemTime,
) -> Vec<u8> {
    let meta = files
        .iter()
        .map(|(name, bytes, v)| ((*name).to_owned(), MetaFile::of(bytes, *v)))
        .collect();
    document_bytes(&sign_document(
        Snapshot::new(version, expires, meta),
        &[&keys.snapshot],
    ))
}

fn timestamp(
    keys: &Keys,
    version: u64,
    snapshot: &[u8],
    snapshot_version: u64,
    expires: SystemTime,
) -> Vec<u8> {
    document_bytes(&sign_document(
        Timestamp::new(version, expires, MetaFile::of(snapshot, snapshot_version)),
        &[&keys.timestamp],
    ))
}

fn later() -> SystemTime {
    SystemTime::now() + HOUR
}

fn trusted(keys: &Keys) -> TrustedMetadata {
    let refs: Vec<&SigningKey> = keys.root.iter().collect();
    TrustedMetadata::from_root(&signed_root(keys, 1, 1, &refs)).unwrap()
}

#[test]
fn a_whole_chain_verifies_and_index_files_are_checked_by_length_and_hash() {
    let keys = keys(1);
    let mut t = trusted(&keys);
    let snap = snapshot(&keys, 1, &[("python_code", b"line\n", 1)], later());
    let now = SystemTime::now();
    assert!(
        t.update_timestamp(&timestamp(&keys, 1, &snap, 1, later()), now)
            .unwrap()
    );
    assert!(!t.snapshot_is_current());
    t.update_snapshot(&snap, now).unwrap();
    assert!(t.snapshot_is_current());
    t.verify_index_file("python_code", b"line\n").unwrap();
    let err = t.verify_index_file("python_code", b"lime\n").unwrap_err();
    assert!(matches!(err, MetadataError::Mismatch { .. }), "{err}");
    assert!(t.index_entry("other").unwrap().is_none());
}

#[test]
fn rollback_of_the_timestamp_is_refused() {
    let keys = keys(1);
    let mut t = trusted(&keys);
    let snap = snapshot(&keys, 3, &[], later());
    let now = SystemTime::now();
    t.update_timestamp(&timestamp(&keys, 5, &snap, 3, later()), now)
        .unwrap();
    let err = t
        .update_timestamp(&timestamp(&keys, 4, &snap, 3, later()), now)
        .unwrap_err();
    assert_eq!(
        err,
        MetadataError::Rollback {
            file: TIMESTAMP_FILE.into(),
            trusted: 5,
            offered: 4
        }
    );
}

#[test]
fn rollback_of_the_snapshot_and_of_an_index_file_is_refused() {
    let keys = keys(1);
    let mut t = trusted(&keys);
    let now = SystemTime::now();
    let snap = snapshot(&keys, 3, &[("a", b"x", 2)], later());
    t.update_timestamp(&timestamp(&keys, 1, &snap, 3, later()), now)
        .unwrap();
    t.update_snapshot(&snap, now).unwrap();
    // A newer timestamp naming an older snapshot.
    let old = snapshot(&keys, 2, &[("a", b"x", 2)], later());
    let err = t
        .update_timestamp(&timestamp(&keys, 2, &old, 2, later()), now)
        .unwrap_err();
    assert!(
        matches!(err, MetadataError::Rollback { ref file, trusted: 3, offered: 2 } if file == SNAPSHOT_FILE),
        "{err}"
    );
    // A newer snapshot listing an older index file.
    let back = snapshot(&keys, 4, &[("a", b"y", 1)], later());
    t.update_timestamp(&timestamp(&keys, 3, &back, 4, later()), now)
        .unwrap();
    let err = t.update_snapshot(&back, now).unwrap_err();
    assert!(
        matches!(err, MetadataError::Rollback { ref file, trusted: 2, offered: 1 } if file == "a"),
        "{err}"
    );
}

#[test]
fn expired_timestamp_and_snapshot_are_refused_as_a_freeze() {
    let keys = keys(1);
    let mut t = trusted(&keys);
    let now = SystemTime::now();
    let snap = snapshot(&keys, 1, &[], later());
    let past = now - HOUR;
    let err = t
        .update_timestamp(&timestamp(&keys, 1, &snap, 1, past), now)
        .unwrap_err();
    assert!(
        matches!(err, MetadataError::Expired { ref file, .. } if file == TIMESTAMP_FILE),
        "{err}"
    );
    let stale = snapshot(&keys, 2, &[], past);
    t.update_timestamp(&timestamp(&keys, 2, &stale, 2, later()), now)
        .unwrap();
    let err = t.update_snapshot(&stale, now).unwrap_err();
    assert!(
        matches!(err, MetadataError::Expired { ref file, .. } if file == SNAPSHOT_FILE),
        "{err}"
    );
}

#[test]
fn a_snapshot_other_than_the_one_the_timestamp_names_is_refused() {
    let keys = keys(1);
    let mut t = trusted(&keys);
    let now = SystemTime::now();
    let named = snapshot(&keys, 1, &[("a", b"x", 1)], later());
    let other = snapshot(&keys, 1, &[("a", b"evil", 1)], later());
    t.update_timestamp(&timestamp(&keys, 1, &named, 1, later()), now)
        .unwrap();
    let err = t.update_snapshot(&other, now).unwrap_err();
    assert!(matches!(err, MetadataError::Mismatch { .. }), "{err}");
}

#[test]
fn documents_signed_by_the_wrong_role_or_an_unknown_key_are_refused() {
    let keys = keys(1);
    let mut t = trusted(&keys);
    let now = SystemTime::now();
    let snap = snapshot(&keys, 1, &[], later());
    // Signed by the snapshot key instead of the timestamp key.
    let wrong = document_bytes(&sign_document(
        Timestamp::new(1, later(), MetaFile::of(&snap, 1)),
        &[&keys.snapshot],
    ));
    let err = t.update_timestamp(&wrong, now).unwrap_err();
    assert!(
        matches!(
            err,
            MetadataError::Unsigned {
                role: Role::Timestamp,
                valid: 0,
                threshold: 1,
                ..
            }
        ),
        "{err}"
    );
    let err = t
        .update_timestamp(&signed_root(&keys, 1, 1, &[&keys.root[0]]), now)
        .unwrap_err();
    assert!(matches!(err, MetadataError::WrongType { .. }), "{err}");
}

#[test]
fn a_root_rotation_needs_the_old_threshold_and_its_own() {
    let keys = keys(3);
    let all: Vec<&SigningKey> = keys.root.iter().collect();
    let mut t = TrustedMetadata::from_root(&signed_root(&keys, 1, 2, &all)).unwrap();
    // Two of three: accepted.
    t.update_root(&signed_root(&keys, 2, 2, &[&keys.root[0], &keys.root[2]]))
        .unwrap();
    assert_eq!(t.root().version(), 2);
    // One of three, or the same key twice: refused.
    for signers in [vec![&keys.root[1]], vec![&keys.root[1], &keys.root[1]]] {
        let err = t
            .update_root(&signed_root(&keys, 3, 2, &signers))
            .unwrap_err();
        assert!(
            matches!(
                err,
                MetadataError::Unsigned {
                    role: Role::Root,
                    valid: 1,
                    threshold: 2,
                    ..
                }
            ),
            "{err}"
        );
    }
    // A version other than the next.
    let err = t.update_root(&signed_root(&keys, 5, 2, &all)).unwrap_err();
    assert!(
        matches!(
            err,
            MetadataError::WrongVersion {
                expected: 3,
                found: 5,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(t.root().version(), 2);
}

#[test]
fn compromised_online_keys_cannot_sign_a_new_root() {
    let keys = keys(1);
    let mut t = trusted(&keys);
    let evil = signed_root(&keys, 2, 1, &[&keys.snapshot, &keys.timestamp]);
    let err = t.update_root(&evil).unwrap_err();
    assert!(
        matches!(
            err,
            MetadataError::Unsigned {
                role: Role::Root,
                valid: 0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_signature_over_other_bytes_does_not_count_whatever_the_key_order() {
    let keys = keys(1);
    let t = trusted(&keys);
    let snap = snapshot(&keys, 1, &[], later());
    let mut value: serde_json::Value =
        serde_json::from_slice(&timestamp(&keys, 1, &snap, 1, later())).unwrap();
    value["signed"]["version"] = serde_json::json!(9);
    let tampered = serde_json::to_vec_pretty(&value).unwrap();
    let mut fresh = t.clone();
    let err = fresh
        .update_timestamp(&tampered, SystemTime::now())
        .unwrap_err();
    assert!(matches!(err, MetadataError::Unsigned { .. }), "{err}");
    // The same document re-serialised with whitespace still verifies (canonical form).
    let mut value: serde_json::Value =
        serde_json::from_slice(&timestamp(&keys, 1, &snap, 1, later())).unwrap();
    value["signed"]["version"] = serde_json::json!(1);
    let pretty = serde_json::to_vec_pretty(&value).unwrap();
    let mut fresh = t.clone();
    fresh.update_timestamp(&pretty, SystemTime::now()).unwrap();
}
