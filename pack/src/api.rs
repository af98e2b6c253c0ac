//! JSON wire types of the registry API (DESIGN §3), shared by server and client.
//!
//! The publish body follows cargo's layout: a little-endian `u32` length and the JSON
//! [`PublishMetadata`], then a little-endian `u32` length and the archive bytes.
//!
//! With the `openapi` feature the types the JSON API sends and receives derive
//! `utoipa::ToSchema`: the registry's OpenAPI document describes these very types.

use std::io::{self, Read};

use semver::Version;
use serde::{Deserialize, Serialize};

use crate::{PackId, PackKind, PackSignature, PublicKey, Sha256Digest};

/// Largest JSON metadata block accepted in a publish body.
const MAX_PUBLISH_METADATA: u32 = 1 << 20;

/// `GET /index/config.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexConfig {
    /// Download URL prefix; `{id}` and `{vers}` are substituted, as in cargo.
    pub dl: String,
    /// Base URL of the JSON API.
    pub api: String,
}

/// The metadata block of a publish body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishMetadata {
    /// The pack id.
    pub id: PackId,
    /// The version being published.
    pub vers: Version,
    /// SHA-256 of the archive that follows.
    pub cksum: Sha256Digest,
    /// Signature over the pack statement.
    pub sig: PackSignature,
    /// The public key that made it (must be registered to the publisher).
    pub key: PublicKey,
}

/// A malformed publish body.
#[derive(Debug, thiserror::Error)]
pub enum PublishBodyError {
    /// The body ended early.
    #[error("the publish body is truncated: {0}")]
    Truncated(io::Error),
    /// The metadata length is absurd.
    #[error("the publish metadata is {0} bytes; at most 1 MiB is accepted")]
    MetadataTooLarge(u32),
    /// The metadata is not the expected JSON.
    #[error("the publish metadata is invalid: {0}")]
    InvalidMetadata(serde_json::Error),
}

/// The bytes that precede the archive in a publish body: lengths and metadata.
pub fn encode_publish_header(metadata: &PublishMetadata, archive_len: u32) -> Vec<u8> {
    // Plain strings only: serialisation cannot fail.
    let json = serde_json::to_vec(metadata)
        .unwrap_or_else(|e| unreachable!("metadata serialisation failed: {e}"));
    let json_len = u32::try_from(json.len()).unwrap_or(u32::MAX);
    let mut out = Vec::with_capacity(json.len() + 8);
    out.extend_from_slice(&json_len.to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&archive_len.to_le_bytes());
    out
}

/// Reads the metadata and the announced archive length from the start of a publish body;
/// the archive bytes are what `reader` yields next.
pub fn decode_publish_header<R: Read>(
    mut reader: R,
) -> Result<(PublishMetadata, u32), PublishBodyError> {
    let mut len = [0u8; 4];
    reader
        .read_exact(&mut len)
        .map_err(PublishBodyError::Truncated)?;
    let json_len = u32::from_le_bytes(len);
    if json_len > MAX_PUBLISH_METADATA {
        return Err(PublishBodyError::MetadataTooLarge(json_len));
    }
    let mut json = vec![0u8; json_len as usize];
    reader
        .read_exact(&mut json)
        .map_err(PublishBodyError::Truncated)?;
    let metadata = serde_json::from_slice(&json).map_err(PublishBodyError::InvalidMetadata)?;
    reader
        .read_exact(&mut len)
        .map_err(PublishBodyError::Truncated)?;
    Ok((metadata, u32::from_le_bytes(len)))
}

/// A successful publish: the answer to `PUT /api/v1/packs/new`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PublishResponse {
    /// The published pack.
    pub id: PackId,
    /// The published version.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1.0.0"))]
    pub vers: Version,
    /// Non-fatal remarks for the publisher.
    // Optional for clients reading older registries; this one always sends it.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub warnings: Vec<String>,
}

/// The error envelope of every failing API call: `{"errors":[{"detail":"…"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorEnvelope {
    /// One or more problems (the registry sends exactly one).
    pub errors: Vec<ErrorDetail>,
}

/// One problem in an [`ErrorEnvelope`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorDetail {
    /// What went wrong and what to do about it, as a sentence.
    #[cfg_attr(
        feature = "openapi",
        schema(example = "no pack named `python_code` is published here")
    )]
    pub detail: String,
}

impl ErrorEnvelope {
    /// An envelope with a single problem.
    pub fn single(detail: impl Into<String>) -> Self {
        Self {
            errors: vec![ErrorDetail {
                detail: detail.into(),
            }],
        }
    }
}

/// `{"ok": true}` for calls with nothing else to say.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OkResponse {
    /// Always true on success.
    pub ok: bool,
}

/// One page of search results: the answer to `GET /api/v1/packs?q=…`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchResponse {
    /// One page of matches.
    pub packs: Vec<SearchHit>,
    /// Totals for paging.
    pub meta: SearchMeta,
}

/// One search match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchHit {
    /// The pack id.
    pub id: PackId,
    /// Its title.
    pub name: String,
    /// Its kind.
    pub kind: PackKind,
    /// Its domain label.
    pub domain: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// The newest version that is not yanked, if any.
    #[cfg_attr(
        feature = "openapi",
        schema(value_type = Option<String>, example = "1.0.0")
    )]
    pub max_version: Option<Version>,
    /// Downloads over all versions.
    pub downloads: u64,
    /// When a version was last published (RFC 3339).
    pub updated_at: String,
}

/// Paging information of a search.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SearchMeta {
    /// Matches over all pages.
    pub total: u64,
}

/// A pack with its owners and every version: the answer to `GET /api/v1/packs/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PackDetails {
    /// The pack id.
    pub id: PackId,
    /// Its title (from the newest version).
    pub name: String,
    /// Its kind.
    pub kind: PackKind,
    /// Its domain label.
    pub domain: Option<String>,
    /// Its description.
    pub description: Option<String>,
    /// Its licence (SPDX).
    pub license: Option<String>,
    /// Downloads over all versions.
    pub downloads: u64,
    /// Owner logins.
    pub owners: Vec<String>,
    /// Every version, newest first.
    pub versions: Vec<VersionSummary>,
}

/// One version of a pack, in [`PackDetails`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VersionSummary {
    /// The version.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "1.0.0"))]
    pub vers: Version,
    /// Whether it is yanked (still downloadable, no longer chosen by resolution).
    pub yanked: bool,
    /// Archive size in bytes.
    pub size: u64,
    /// SHA-256 of the archive.
    pub cksum: Sha256Digest,
    /// Downloads of this version.
    pub downloads: u64,
    /// Publication time (RFC 3339).
    pub published_at: String,
    /// Fingerprint of the key that signed it.
    pub key_fingerprint: String,
}

/// A pack's owners: the answer to `GET /api/v1/packs/{id}/owners`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OwnerList {
    /// The owners.
    pub users: Vec<OwnerUser>,
}

/// Logins to add as owners or to remove: the body of `PUT`/`DELETE /api/v1/packs/{id}/owners`
/// (cargo's shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OwnersChange {
    /// The logins.
    pub users: Vec<String>,
}

/// One owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OwnerUser {
    /// The user's login.
    pub login: String,
}

/// A public key to register for the calling user: the body of `POST /api/v1/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterKeyRequest {
    /// The public key to register for the calling user.
    pub key: PublicKey,
}

/// One registered signing key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyInfo {
    /// The public key.
    pub key: PublicKey,
    /// Its fingerprint.
    pub fingerprint: String,
    /// Registration time (RFC 3339).
    pub created_at: String,
    /// Whether it was revoked (no longer accepted for new publishes).
    pub revoked: bool,
}

/// A user's signing keys: the answer to `GET /api/v1/keys` and `GET /api/v1/users/{login}/keys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyList {
    /// The user's keys, oldest first.
    pub keys: Vec<KeyInfo>,
}
