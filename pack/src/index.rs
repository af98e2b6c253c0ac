//! Sparse-index records: one JSON line per published version (DESIGN §3).
//!
//! A record carries everything a client needs to resolve and verify a version without
//! downloading it: dependencies, base compatibility, conflicts, fallback, checksum,
//! signature and signing key.

use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::{BaseCompat, Manifest, PackId, PackKind, PackSignature, PublicKey, Sha256Digest};

/// One version of one pack, as the index serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexRecord {
    /// The pack id.
    pub id: PackId,
    /// The version.
    pub vers: Version,
    /// The pack kind.
    pub kind: PackKind,
    /// Other packs this version needs.
    #[serde(default)]
    pub deps: Vec<IndexDep>,
    /// The base family (router and domain packs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<PackId>,
    /// Base versions `MAJOR.MINOR` this version supports.
    #[serde(default)]
    pub base_compat: Vec<BaseCompat>,
    /// Packs that must never be installed alongside.
    #[serde(default)]
    pub conflicts: Vec<IndexDep>,
    /// The runtime's fallback chain.
    #[serde(default)]
    pub fallback: Vec<PackId>,
    /// SHA-256 of the archive.
    pub cksum: Sha256Digest,
    /// The publisher's signature over the pack statement.
    pub sig: PackSignature,
    /// The key that made `sig`.
    pub key: PublicKey,
    /// Yanked versions stay downloadable but are skipped by new resolutions.
    #[serde(default)]
    pub yanked: bool,
    /// Archive size in bytes.
    pub size: u64,
}

/// A dependency or conflict: a pack id and a cargo-syntax requirement.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexDep {
    /// The other pack.
    pub id: PackId,
    /// Which of its versions.
    pub req: VersionReq,
}

/// An index file line that is not a valid record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid index record for `{id}` on line {line}: {message}")]
pub struct IndexError {
    /// The pack whose index file this is.
    pub id: String,
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl IndexRecord {
    /// The record for a published archive of `manifest`.
    pub fn new(
        manifest: &Manifest,
        cksum: Sha256Digest,
        sig: PackSignature,
        key: PublicKey,
        size: u64,
    ) -> Self {
        let table = |t: &std::collections::BTreeMap<PackId, VersionReq>| {
            t.iter()
                .map(|(id, req)| IndexDep {
                    id: id.clone(),
                    req: req.clone(),
                })
                .collect()
        };
        Self {
            id: manifest.id.clone(),
            vers: manifest.version.clone(),
            kind: manifest.kind,
            deps: table(&manifest.dependencies),
            base: manifest.base.clone(),
            base_compat: manifest.base_compatibility.clone(),
            conflicts: table(&manifest.conflicts),
            fallback: manifest.fallback.clone(),
            cksum,
            sig,
            key,
            yanked: false,
            size,
        }
    }

    /// The record as one index line (no trailing newline).
    pub fn to_line(&self) -> String {
        // Every field serialises to a JSON string, number, bool or array of those.
        serde_json::to_string(self)
            .unwrap_or_else(|e| unreachable!("index record serialisation failed: {e}"))
    }
}

/// Parses an index file (`GET /index/{id}`): one record per non-empty line, each for `id`.
pub fn parse_index_lines(id: &PackId, text: &str) -> Result<Vec<IndexRecord>, IndexError> {
    let mut records = Vec::new();
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let error = |message: String| IndexError {
            id: id.to_string(),
            line: n + 1,
            message,
        };
        let record: IndexRecord = serde_json::from_str(line).map_err(|e| error(e.to_string()))?;
        if record.id != *id {
            return Err(error(format!("the record is for `{}`", record.id)));
        }
        records.push(record);
    }
    Ok(records)
}
