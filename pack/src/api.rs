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

/// Who an API token belongs to and what it may do: the answer to `GET /api/v1/me`, which
/// `modularbase login` asks before it saves a token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WhoAmI {
    /// The login of the user the token belongs to.
    #[cfg_attr(feature = "openapi", schema(example = "ada"))]
    pub login: String,
    /// The token's scopes by name (`publish-new`, `publish-update`, `yank`, `owners`,
    /// `keys`), in that order. Names rather than an enum, so a client keeps working when a registry
    /// grows a scope it does not know.
    #[cfg_attr(
        feature = "openapi",
        schema(example = json!(["publish-new", "publish-update", "yank", "owners", "keys"]))
    )]
    pub scopes: Vec<String>,
}

/// The path of every route of the sparse index and the JSON API, defined once for the
/// registry that serves them and the clients that call them (as cargo's `crates-io` crate
/// does).
///
/// Each is a template in axum's `{param}` syntax, which is OpenAPI's too: the registry
/// routes it as it is, a client substitutes the parameters with [`fill`], in order.
///
/// ```
/// use modularbase_pack::paths;
///
/// assert_eq!(
///     paths::fill(paths::DOWNLOAD, &["python_code", "1.0.0+build"]),
///     "/api/v1/packs/python_code/1.0.0%2Bbuild/download",
/// );
/// ```
pub mod paths {
    /// `GET`: the index configuration, [`IndexConfig`](crate::IndexConfig).
    pub const INDEX_CONFIG: &str = "/index/config.json";
    /// `GET`: the index file of pack `{id}`, one JSON record per version.
    pub const INDEX_FILE: &str = "/index/{id}";
    /// `GET`: search packs (`?q=…&page=…&per_page=…`).
    pub const SEARCH: &str = "/api/v1/packs";
    /// `PUT`: publish a version (the body is the publish body).
    pub const PUBLISH: &str = "/api/v1/packs/new";
    /// `GET`: pack `{id}` with its owners and every version.
    pub const PACK: &str = "/api/v1/packs/{id}";
    /// `GET`: the archive of version `{vers}` of pack `{id}`.
    pub const DOWNLOAD: &str = "/api/v1/packs/{id}/{vers}/download";
    /// `DELETE`: yank version `{vers}` of pack `{id}`.
    pub const YANK: &str = "/api/v1/packs/{id}/{vers}/yank";
    /// `PUT`: unyank version `{vers}` of pack `{id}`.
    pub const UNYANK: &str = "/api/v1/packs/{id}/{vers}/unyank";
    /// `GET`, `PUT`, `DELETE`: list, add or remove the owners of pack `{id}`.
    pub const OWNERS: &str = "/api/v1/packs/{id}/owners";
    /// `POST`, `GET`: register a signing key for the caller, or list the caller's keys.
    pub const KEYS: &str = "/api/v1/keys";
    /// `DELETE`: revoke the caller's key with fingerprint `{fingerprint}`.
    pub const KEY: &str = "/api/v1/keys/{fingerprint}";
    /// `GET`: the public keys of user `{login}`.
    pub const USER_KEYS: &str = "/api/v1/users/{login}/keys";
    /// `GET`: who the calling token belongs to, [`WhoAmI`](crate::WhoAmI).
    pub const ME: &str = "/api/v1/me";

    /// `template` with its `{…}` placeholders replaced by `values`, in order, each
    /// percent-encoded as one path segment: every byte outside `A-Za-z0-9-._~` becomes
    /// `%XX`, so a `/` in a value cannot add a segment, and a value that is `.` or `..`
    /// is encoded whole (`%2E`, `%2E%2E`). WHATWG URL parsers (the `url` crate, hence
    /// `reqwest`) still resolve `%2E%2E` as `..`, so a value that may be only dots must
    /// be validated first; [`PackId`](crate::PackId) and semver versions never are. An
    /// empty value leaves an empty segment.
    ///
    /// # Panics
    ///
    /// When the number of values is not the number of placeholders: a template and its
    /// values are written together, so a mismatch is a bug in the caller.
    pub fn fill(template: &str, values: &[&str]) -> String {
        let placeholders = template.matches('{').count();
        assert_eq!(
            placeholders,
            values.len(),
            "`{template}` has {placeholders} placeholders but {} values were given",
            values.len()
        );
        let value_bytes: usize = values.iter().map(|value| value.len()).sum();
        let mut out = String::with_capacity(template.len() + 3 * value_bytes);
        let mut values = values.iter();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = rest[open..]
                .find('}')
                .map_or(rest.len(), |close| open + close + 1);
            if let Some(value) = values.next() {
                push_segment(&mut out, value);
            }
            rest = &rest[close..];
        }
        out.push_str(rest);
        out
    }

    /// Appends `value` to `out` percent-encoded as one path segment.
    fn push_segment(out: &mut String, value: &str) {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let dots_only = matches!(value, "." | "..");
        for &byte in value.as_bytes() {
            let unreserved =
                byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~');
            if unreserved && !dots_only {
                out.push(char::from(byte));
            } else {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0F)]));
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn ids_and_plain_versions_are_left_as_they_are() {
            assert_eq!(fill(PACK, &["python_code"]), "/api/v1/packs/python_code");
            assert_eq!(fill(INDEX_FILE, &["tiny-base.v2"]), "/index/tiny-base.v2");
            assert_eq!(
                fill(YANK, &["python_code", "1.0.0"]),
                "/api/v1/packs/python_code/1.0.0/yank"
            );
            assert_eq!(fill(USER_KEYS, &["ada~x"]), "/api/v1/users/ada~x/keys");
        }

        #[test]
        fn placeholders_are_filled_in_order_and_templates_without_any_are_unchanged() {
            assert_eq!(
                fill(UNYANK, &["reasoning", "2.1.0-rc.1"]),
                "/api/v1/packs/reasoning/2.1.0-rc.1/unyank"
            );
            assert_eq!(fill(ME, &[]), "/api/v1/me");
            assert_eq!(fill(SEARCH, &[]), SEARCH);
            assert_eq!(fill("{a}{b}", &["x", "y"]), "xy");
        }

        #[test]
        fn build_metadata_and_other_reserved_bytes_are_percent_encoded() {
            assert_eq!(
                fill(DOWNLOAD, &["python_code", "1.0.0+build"]),
                "/api/v1/packs/python_code/1.0.0%2Bbuild/download"
            );
            assert_eq!(
                fill(KEY, &["SHA256:ab+c/d="]),
                "/api/v1/keys/SHA256%3Aab%2Bc%2Fd%3D"
            );
            assert_eq!(
                fill(PACK, &["a b?c#d%e"]),
                "/api/v1/packs/a%20b%3Fc%23d%25e"
            );
            // UTF-8, byte by byte.
            assert_eq!(fill(USER_KEYS, &["é"]), "/api/v1/users/%C3%A9/keys");
        }

        #[test]
        fn a_value_cannot_add_or_climb_segments() {
            assert_eq!(
                fill(OWNERS, &["../../keys"]),
                "/api/v1/packs/..%2F..%2Fkeys/owners"
            );
            assert_eq!(fill(PACK, &["a/b"]), "/api/v1/packs/a%2Fb");
            assert_eq!(fill(PACK, &["\\evil"]), "/api/v1/packs/%5Cevil");
            assert_eq!(fill(USER_KEYS, &[".."]), "/api/v1/users/%2E%2E/keys");
            assert_eq!(fill(PACK, &["."]), "/api/v1/packs/%2E");
            // Dots inside a longer value make no dot segment.
            assert_eq!(fill(PACK, &["..."]), "/api/v1/packs/...");
            assert_eq!(fill(PACK, &["..x"]), "/api/v1/packs/..x");
            let segments = |path: &str| path.split('/').count();
            for (template, values) in [
                (OWNERS, &["a/b/c"][..]),
                (DOWNLOAD, &["/", "../.."]),
                (KEY, &["../../../packs/new"]),
            ] {
                assert_eq!(segments(&fill(template, values)), segments(template));
            }
        }

        #[test]
        #[should_panic(expected = "has 2 placeholders but 1 values were given")]
        fn too_few_values_is_a_bug() {
            fill(DOWNLOAD, &["python_code"]);
        }

        #[test]
        #[should_panic(expected = "has 0 placeholders but 1 values were given")]
        fn too_many_values_is_a_bug() {
            fill(ME, &["ada"]);
        }

        #[test]
        fn every_path_is_under_the_index_or_the_api() {
            for path in [
                INDEX_CONFIG,
                INDEX_FILE,
                SEARCH,
                PUBLISH,
                PACK,
                DOWNLOAD,
                YANK,
                UNYANK,
                OWNERS,
                KEYS,
                KEY,
                USER_KEYS,
                ME,
            ] {
                assert!(
                    path.starts_with("/index/") || path.starts_with("/api/v1/"),
                    "{path}"
                );
                assert_eq!(
                    path.matches('{').count(),
                    path.matches('}').count(),
                    "{path}"
                );
            }
        }
    }
}
