//! OpenAPI schemas of the JSON wire types in `modularbase_pack`'s `api` module.
//!
//! The wire types live in the pack crate, which the CLI shares and which has no OpenAPI
//! dependency, so each one is described here by a schema-only twin of the same name that is
//! never built. They cannot drift silently: `tests/tests/registry_openapi.rs` checks real
//! responses of a running registry against these schemas, field by field.
#![allow(
    dead_code,
    reason = "schema-only twins: utoipa reads their fields, no code builds them"
)]

use utoipa::ToSchema;

/// The body of every failed API call: `{"errors":[{"detail":"…"}]}`.
#[derive(ToSchema)]
pub(crate) struct ErrorEnvelope {
    /// One or more problems (the registry sends exactly one).
    errors: Vec<ErrorDetail>,
}

/// One problem in an [`ErrorEnvelope`].
#[derive(ToSchema)]
pub(crate) struct ErrorDetail {
    /// What went wrong and what to do about it, as a sentence.
    #[schema(example = "no pack named `python_code` is published here")]
    detail: String,
}

/// `{"ok": true}` for calls with nothing else to say.
#[derive(ToSchema)]
pub(crate) struct OkResponse {
    /// Always true on success.
    ok: bool,
}

/// A pack's kind.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub(crate) enum PackKind {
    /// A frozen base core.
    Base,
    /// A router that picks domain packs.
    Router,
    /// A domain pack.
    Domain,
}

/// A successful publish.
#[derive(ToSchema)]
pub(crate) struct PublishResponse {
    /// The published pack id.
    #[schema(example = "python_code")]
    id: String,
    /// The published version.
    #[schema(example = "1.0.0")]
    vers: String,
    /// Non-fatal remarks for the publisher.
    warnings: Vec<String>,
}

/// One page of search results.
#[derive(ToSchema)]
pub(crate) struct SearchResponse {
    /// The matches on this page.
    packs: Vec<SearchHit>,
    /// Totals for paging.
    meta: SearchMeta,
}

/// One search match.
#[derive(ToSchema)]
pub(crate) struct SearchHit {
    /// The pack id.
    #[schema(example = "python_code")]
    id: String,
    /// Its title.
    name: String,
    /// Its kind.
    kind: PackKind,
    /// Its domain label.
    domain: Option<String>,
    /// Its description.
    description: Option<String>,
    /// The newest version that is not yanked.
    #[schema(example = "1.0.0")]
    max_version: Option<String>,
    /// Downloads over all versions.
    downloads: u64,
    /// When a version was last published (RFC 3339).
    updated_at: String,
}

/// Paging information of a search.
#[derive(ToSchema)]
pub(crate) struct SearchMeta {
    /// Matches over all pages.
    total: u64,
}

/// A pack with its owners and every version.
#[derive(ToSchema)]
pub(crate) struct PackDetails {
    /// The pack id.
    #[schema(example = "python_code")]
    id: String,
    /// Its title (from the newest version).
    name: String,
    /// Its kind.
    kind: PackKind,
    /// Its domain label.
    domain: Option<String>,
    /// Its description.
    description: Option<String>,
    /// Its licence (SPDX).
    license: Option<String>,
    /// Downloads over all versions.
    downloads: u64,
    /// Owner logins.
    owners: Vec<String>,
    /// Every version, newest first.
    versions: Vec<VersionSummary>,
}

/// One version of a pack.
#[derive(ToSchema)]
pub(crate) struct VersionSummary {
    /// The version.
    #[schema(example = "1.0.0")]
    vers: String,
    /// Whether it is yanked (still downloadable, no longer chosen by resolution).
    yanked: bool,
    /// Archive size in bytes.
    size: u64,
    /// SHA-256 of the archive, lowercase hex.
    cksum: String,
    /// Downloads of this version.
    downloads: u64,
    /// Publication time (RFC 3339).
    published_at: String,
    /// Fingerprint of the key that signed it.
    key_fingerprint: String,
}

/// A pack's owners.
#[derive(ToSchema)]
pub(crate) struct OwnerList {
    /// The owners.
    users: Vec<OwnerUser>,
}

/// One owner.
#[derive(ToSchema)]
pub(crate) struct OwnerUser {
    /// The user's login.
    login: String,
}

/// Logins to add as owners or to remove.
#[derive(ToSchema)]
pub(crate) struct OwnersChange {
    /// The logins.
    users: Vec<String>,
}

/// A public key to register for the calling user.
#[derive(ToSchema)]
pub(crate) struct RegisterKeyRequest {
    /// The Ed25519 public key, `ed25519:` and its base64.
    key: String,
}

/// One registered signing key.
#[derive(ToSchema)]
pub(crate) struct KeyInfo {
    /// The Ed25519 public key, `ed25519:` and its base64.
    key: String,
    /// Its fingerprint.
    fingerprint: String,
    /// Registration time (RFC 3339).
    created_at: String,
    /// Whether it was revoked (no longer accepted for new publishes).
    revoked: bool,
}

/// A user's signing keys.
#[derive(ToSchema)]
pub(crate) struct KeyList {
    /// The keys, oldest first.
    keys: Vec<KeyInfo>,
}
