//! The documents of the registry's metadata, with TUF's role names and fields: `root.json`
//! (who signs what, and how many must), `snapshot.json` (every index file's version,
//! length and hash) and `timestamp.json` (the current snapshot's). Each travels as
//! `{"signed": …, "signatures": [{"keyid", "sig"}]}`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::{PublicKey, Sha256Digest};

/// The TUF specification version these documents follow.
pub const SPEC_VERSION: &str = "1.0.31";
/// The file name of the timestamp role's document, the one a client fetches first.
pub const TIMESTAMP_FILE: &str = "timestamp.json";
/// The file name of the snapshot role's document, as the timestamp lists it.
pub const SNAPSHOT_FILE: &str = "snapshot.json";
/// The file name of the newest root.
pub const ROOT_FILE: &str = "root.json";

/// Largest `root.json` (or `N.root.json`) a client reads.
pub const MAX_ROOT_BYTES: u64 = 512 << 10;
/// Largest `timestamp.json` a client reads.
pub const MAX_TIMESTAMP_BYTES: u64 = 64 << 10;
/// Largest `snapshot.json` a client reads (about 200 000 packs); the timestamp states the
/// exact length, which bounds it first.
pub const MAX_SNAPSHOT_BYTES: u64 = 64 << 20;

/// The file name of root version `version`: `N.root.json`.
pub fn versioned_root_file(version: u64) -> String {
    format!("{version}.{ROOT_FILE}")
}

/// The three roles the registry signs; publishers' pack signatures play the targets role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// The registry's offline keys: which keys sign each role.
    Root,
    /// The online key that lists every index file.
    Snapshot,
    /// The online key that vouches for the current snapshot, refreshed often.
    Timestamp,
}

impl Role {
    /// Every role, in the order a root lists them.
    pub const ALL: [Role; 3] = [Role::Root, Role::Snapshot, Role::Timestamp];

    /// The role's name in documents and file names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Root => "root",
            Self::Snapshot => "snapshot",
            Self::Timestamp => "timestamp",
        }
    }

    /// The role's document name, `ROLE.json`.
    pub fn file(self) -> &'static str {
        match self {
            Self::Root => ROOT_FILE,
            Self::Snapshot => SNAPSHOT_FILE,
            Self::Timestamp => TIMESTAMP_FILE,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A document with its signatures.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signed<T> {
    /// What is signed.
    pub signed: T,
    /// Signatures over the canonical JSON of `signed`.
    pub signatures: Vec<MetaSignature>,
}

/// One signature: the key's id and the Ed25519 signature in hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaSignature {
    /// [`key_id`] of the signing key.
    pub keyid: String,
    /// 64 signature bytes, lowercase hex.
    pub sig: String,
}

/// A public key as a root lists it (TUF's `ed25519` key type).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetaKey {
    /// Always `ed25519`.
    pub keytype: String,
    /// Always `ed25519`.
    pub scheme: String,
    /// The key's value.
    pub keyval: KeyValue,
}

/// The public half of a [`MetaKey`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyValue {
    /// 32 key bytes, lowercase hex.
    pub public: String,
}

/// Which keys sign a role, and how many of them must.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleKeys {
    /// Ids of the keys allowed to sign.
    pub keyids: Vec<String>,
    /// Distinct valid signatures needed (at least 1).
    pub threshold: u32,
}

/// `root.json`: the registry's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    /// Always `root`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// [`SPEC_VERSION`].
    pub spec_version: String,
    /// Starts at 1; each rotation adds 1.
    pub version: u64,
    /// RFC 3339 UTC.
    pub expires: String,
    /// Index files are served at one name each (no `VERSION.` prefixes).
    pub consistent_snapshot: bool,
    /// Every key a role names, by id.
    pub keys: BTreeMap<String, MetaKey>,
    /// `root`, `snapshot` and `timestamp`.
    pub roles: BTreeMap<String, RoleKeys>,
}

/// What the snapshot says of one index file, or the timestamp of the snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaFile {
    /// Grows by one each time the file changes.
    pub version: u64,
    /// Its exact length in bytes.
    pub length: u64,
    /// `sha256` → lowercase hex.
    pub hashes: BTreeMap<String, String>,
    /// For an index file: the keys registered to the pack's current owners and not
    /// revoked; an archive signed by another key is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_keys: Vec<PublicKey>,
}

impl MetaFile {
    /// The entry for `bytes` at `version`.
    pub fn of(bytes: &[u8], version: u64) -> Self {
        Self {
            version,
            length: bytes.len() as u64,
            hashes: BTreeMap::from([("sha256".to_owned(), Sha256Digest::of(bytes).to_hex())]),
            owner_keys: Vec::new(),
        }
    }

    /// Whether `bytes` are exactly the file described: length and SHA-256.
    pub fn matches(&self, bytes: &[u8]) -> bool {
        bytes.len() as u64 == self.length && self.same_hash(&Sha256Digest::of(bytes))
    }

    /// Whether the listed SHA-256 is `digest`.
    pub fn same_hash(&self, digest: &Sha256Digest) -> bool {
        self.hashes
            .get("sha256")
            .is_some_and(|h| *h == digest.to_hex())
    }

    /// Whether the file described is the same as `other` (length and hash; versions and
    /// keys aside).
    pub fn same_content(&self, other: &MetaFile) -> bool {
        self.length == other.length && self.hashes == other.hashes
    }
}

/// `snapshot.json`: every index file, by pack id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Always `snapshot`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// [`SPEC_VERSION`].
    pub spec_version: String,
    /// Grows by one each time any index file changes (or the document is re-signed).
    pub version: u64,
    /// RFC 3339 UTC.
    pub expires: String,
    /// Index file name (the pack id) → its entry.
    pub meta: BTreeMap<String, MetaFile>,
}

/// `timestamp.json`: the current snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    /// Always `timestamp`.
    #[serde(rename = "_type")]
    pub kind: String,
    /// [`SPEC_VERSION`].
    pub spec_version: String,
    /// Grows by one each time it is re-signed.
    pub version: u64,
    /// RFC 3339 UTC.
    pub expires: String,
    /// `snapshot.json` → its entry.
    pub meta: BTreeMap<String, MetaFile>,
}

impl Timestamp {
    /// The snapshot this timestamp vouches for.
    pub fn snapshot(&self) -> Option<&MetaFile> {
        self.meta.get(SNAPSHOT_FILE)
    }
}

/// The parts every role document has, for checks common to all three.
pub trait RoleDocument: Serialize + for<'de> Deserialize<'de> {
    /// The role this document type belongs to.
    const ROLE: Role;
    /// The `_type` field.
    fn kind(&self) -> &str;
    /// The `version` field.
    fn version(&self) -> u64;
    /// The `expires` field.
    fn expires(&self) -> &str;
}

macro_rules! role_document {
    ($ty:ty, $role:expr) => {
        impl RoleDocument for $ty {
            const ROLE: Role = $role;
            fn kind(&self) -> &str {
                &self.kind
            }
            fn version(&self) -> u64 {
                self.version
            }
            fn expires(&self) -> &str {
                &self.expires
            }
        }
    };
}

role_document!(Root, Role::Root);
role_document!(Snapshot, Role::Snapshot);
role_document!(Timestamp, Role::Timestamp);
