//! Key ids, signing a document with a role's keys, and counting the valid signatures on a
//! received one against the keys its root names.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;

use super::canonical::canonical_json;
use super::roles::{KeyValue, MetaKey, MetaSignature, Role, RoleDocument, Root, Signed};
use super::{MetadataError, SPEC_VERSION};
use crate::{PublicKey, Sha256Digest, SigningKey};

/// Signatures examined on one document; more are ignored (a root names a handful of keys).
const MAX_SIGNATURES: usize = 64;
/// The key type and scheme of every key.
const ED25519: &str = "ed25519";

/// The root's entry for `key`.
pub fn meta_key(key: &PublicKey) -> MetaKey {
    MetaKey {
        keytype: ED25519.to_owned(),
        scheme: ED25519.to_owned(),
        keyval: KeyValue {
            public: hex::encode(key.to_bytes()),
        },
    }
}

/// TUF's key id: the SHA-256 of the canonical JSON of the key's entry, in hex.
pub fn key_id(key: &PublicKey) -> String {
    Sha256Digest::of(&canonical_json(&to_value(&meta_key(key)))).to_hex()
}

impl MetaKey {
    /// The Ed25519 key it holds, `None` for another key type or a malformed value.
    pub fn public_key(&self) -> Option<PublicKey> {
        if self.keytype != ED25519 || self.scheme != ED25519 {
            return None;
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&self.keyval.public, &mut bytes).ok()?;
        PublicKey::from_bytes(&bytes)
    }
}

fn to_value<T: Serialize>(value: &T) -> Value {
    // Documents are maps of strings, integers, booleans and arrays: they always serialise.
    serde_json::to_value(value).unwrap_or_else(|e| unreachable!("metadata did not serialise: {e}"))
}

/// `document` signed by each of `keys`.
pub fn sign_document<T: RoleDocument>(document: T, keys: &[&SigningKey]) -> Signed<T> {
    let bytes = canonical_json(&to_value(&document));
    let signatures = keys
        .iter()
        .map(|key| MetaSignature {
            keyid: key_id(&key.public_key()),
            sig: hex::encode(key.sign_bytes(&bytes)),
        })
        .collect();
    Signed {
        signed: document,
        signatures,
    }
}

/// The bytes a registry serves for `signed`: its canonical JSON.
pub fn document_bytes<T: RoleDocument>(signed: &Signed<T>) -> Vec<u8> {
    canonical_json(&to_value(signed))
}

/// A received document: what it says, the bytes its signatures cover, and the signatures.
#[derive(Debug, Clone)]
pub struct Received<T> {
    /// The typed document.
    pub signed: T,
    /// The bytes exactly as received (what is stored and served again).
    pub bytes: Vec<u8>,
    canonical: Vec<u8>,
    signatures: Vec<MetaSignature>,
}

impl<T: RoleDocument> Received<T> {
    /// Parses `bytes` as a document of `T`'s role named `file`; signatures are not checked
    /// here ([`Received::verify`]).
    pub fn parse(file: &str, bytes: &[u8]) -> Result<Self, MetadataError> {
        let malformed = |message: String| MetadataError::Malformed {
            file: file.to_owned(),
            message,
        };
        let envelope: Signed<Value> =
            serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        let found = envelope
            .signed
            .get("_type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        if found != T::ROLE.name() {
            return Err(MetadataError::WrongType {
                file: file.to_owned(),
                expected: T::ROLE,
                found,
            });
        }
        let canonical = canonical_json(&envelope.signed);
        let signed: T =
            serde_json::from_value(envelope.signed).map_err(|e| malformed(e.to_string()))?;
        let major = signed_major(&signed);
        if major != spec_major(SPEC_VERSION) {
            return Err(malformed(format!(
                "spec_version {major} is not supported (this client reads {SPEC_VERSION})"
            )));
        }
        expires_at(file, signed.expires())?;
        Ok(Self {
            signed,
            bytes: bytes.to_vec(),
            canonical,
            signatures: envelope.signatures,
        })
    }

    /// Checks that `root`'s keys for this document's role signed it, at least its threshold.
    pub fn verify(&self, file: &str, root: &Root) -> Result<(), MetadataError> {
        verify_signatures(file, T::ROLE, root, &self.canonical, &self.signatures)
    }

    /// Refuses the document once `now` is past its `expires`.
    pub fn check_fresh(&self, file: &str, now: SystemTime) -> Result<(), MetadataError> {
        if expires_at(file, self.signed.expires())? <= now {
            return Err(MetadataError::Expired {
                file: file.to_owned(),
                expires: self.signed.expires().to_owned(),
            });
        }
        Ok(())
    }
}

fn signed_major<T: RoleDocument>(signed: &T) -> String {
    to_value(signed)
        .get("spec_version")
        .and_then(Value::as_str)
        .map(spec_major)
        .unwrap_or_default()
}

fn spec_major(version: &str) -> String {
    version.split('.').next().unwrap_or_default().to_owned()
}

/// When a document with `expires` expires.
pub fn expires_at(file: &str, expires: &str) -> Result<SystemTime, MetadataError> {
    humantime::parse_rfc3339(expires).map_err(|e| MetadataError::Malformed {
        file: file.to_owned(),
        message: format!("`expires` {expires:?} is not an RFC 3339 time: {e}"),
    })
}

fn verify_signatures(
    file: &str,
    role: Role,
    root: &Root,
    canonical: &[u8],
    signatures: &[MetaSignature],
) -> Result<(), MetadataError> {
    let keys = root.roles.get(role.name());
    let threshold = keys.map_or(1, |k| k.threshold.max(1));
    let allowed: BTreeSet<&str> = keys
        .map(|k| k.keyids.iter().map(String::as_str).collect())
        .unwrap_or_default();
    let mut valid: BTreeMap<&str, ()> = BTreeMap::new();
    for signature in signatures.iter().take(MAX_SIGNATURES) {
        let id = signature.keyid.as_str();
        if !allowed.contains(id) || valid.contains_key(id) {
            continue;
        }
        let Some(key) = root.keys.get(id).and_then(MetaKey::public_key) else {
            continue;
        };
        // The id must be the key's own: a root cannot list one key under two ids.
        if key_id(&key) != id {
            continue;
        }
        let mut sig = [0u8; 64];
        if hex::decode_to_slice(&signature.sig, &mut sig).is_ok()
            && key.verify_bytes(canonical, &sig)
        {
            valid.insert(id, ());
        }
    }
    let valid = u32::try_from(valid.len()).unwrap_or(u32::MAX);
    if valid < threshold {
        return Err(MetadataError::Unsigned {
            file: file.to_owned(),
            role,
            valid,
            threshold,
        });
    }
    Ok(())
}
