//! The registry's signed metadata: the smallest subset of The Update Framework (TUF) that
//! stops a registry, a mirror or a man in the middle from serving an old index (rollback),
//! a frozen one (freeze), index files from different moments (mix-and-match), or files
//! nobody signed — PyPI's PEP 458 in spirit. Roles, names and fields are TUF's; publishers'
//! pack signatures play the targets role, so a registry signs only root, snapshot and
//! timestamp. The registry writes these documents ([`sign_document`]); clients check them
//! ([`TrustedMetadata`]).

mod build;
mod canonical;
mod error;
mod roles;
mod sign;
mod trusted;

pub use build::{RoleSpec, expires_text};
pub use canonical::canonical_json;
pub use error::MetadataError;
pub use roles::{
    KeyValue, MAX_ROOT_BYTES, MAX_SNAPSHOT_BYTES, MAX_TIMESTAMP_BYTES, MetaFile, MetaKey,
    MetaSignature, ROOT_FILE, Role, RoleDocument, RoleKeys, Root, SNAPSHOT_FILE, SPEC_VERSION,
    Signed, Snapshot, TIMESTAMP_FILE, Timestamp, versioned_root_file,
};
pub use sign::{Received, document_bytes, expires_at, key_id, meta_key, sign_document};
pub use trusted::TrustedMetadata;

#[cfg(test)]
mod tests;
