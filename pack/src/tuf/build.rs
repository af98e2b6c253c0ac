//! Building the documents a registry signs.

use std::collections::BTreeMap;
use std::time::SystemTime;

use super::roles::{
    MetaFile, Role, RoleKeys, Root, SNAPSHOT_FILE, SPEC_VERSION, Snapshot, Timestamp,
};
use super::sign::{key_id, meta_key};
use crate::PublicKey;

/// `expires` for a document valid until `at`, RFC 3339 UTC to the second.
pub fn expires_text(at: SystemTime) -> String {
    humantime::format_rfc3339_seconds(at).to_string()
}

/// The keys of one role and how many of them must sign.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    /// The role's keys.
    pub keys: Vec<PublicKey>,
    /// Signatures required (at least 1, at most `keys.len()`).
    pub threshold: u32,
}

impl Root {
    /// Root version `version`, valid until `expires`, naming `roles` (root, snapshot and
    /// timestamp).
    pub fn new(version: u64, expires: SystemTime, roles: &BTreeMap<Role, RoleSpec>) -> Self {
        let mut keys = BTreeMap::new();
        let mut listed = BTreeMap::new();
        for (role, spec) in roles {
            let mut keyids = Vec::new();
            for key in &spec.keys {
                let id = key_id(key);
                keys.insert(id.clone(), meta_key(key));
                keyids.push(id);
            }
            listed.insert(
                role.name().to_owned(),
                RoleKeys {
                    keyids,
                    threshold: spec.threshold,
                },
            );
        }
        Self {
            kind: Role::Root.name().to_owned(),
            spec_version: SPEC_VERSION.to_owned(),
            version,
            expires: expires_text(expires),
            consistent_snapshot: false,
            keys,
            roles: listed,
        }
    }

    /// The keys the root names for `role`.
    pub fn role_keys(&self, role: Role) -> Vec<PublicKey> {
        self.roles
            .get(role.name())
            .map(|r| {
                r.keyids
                    .iter()
                    .filter_map(|id| self.keys.get(id).and_then(|k| k.public_key()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Snapshot {
    /// Snapshot version `version`, valid until `expires`, listing `meta`.
    pub fn new(version: u64, expires: SystemTime, meta: BTreeMap<String, MetaFile>) -> Self {
        Self {
            kind: Role::Snapshot.name().to_owned(),
            spec_version: SPEC_VERSION.to_owned(),
            version,
            expires: expires_text(expires),
            meta,
        }
    }
}

impl Timestamp {
    /// Timestamp version `version`, valid until `expires`, naming `snapshot`.
    pub fn new(version: u64, expires: SystemTime, snapshot: MetaFile) -> Self {
        Self {
            kind: Role::Timestamp.name().to_owned(),
            spec_version: SPEC_VERSION.to_owned(),
            version,
            expires: expires_text(expires),
            meta: BTreeMap::from([(SNAPSHOT_FILE.to_owned(), snapshot)]),
        }
    }
}
