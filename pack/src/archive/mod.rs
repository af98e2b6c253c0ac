//! `ID-VERSION.mbpack`: a zstd-compressed tar of `pack.toml`, `weights.gguf` and the readme.
//!
//! [`build_archive`] is deterministic (same inputs, byte-identical output). Reading is
//! defensive: [`inspect_archive`] and [`unpack_archive`] stream through the archive once,
//! accept regular files with known names only, bound the entry count and the unpacked size
//! before decompressing anything, and check the manifest against the caller's expectation.
//! `unpack_archive` writes into a temporary sibling directory and renames it into place only
//! when every check has passed, so a refused archive leaves the target absent.

mod build;
mod error;
mod read;
mod sink;

use std::fmt;

use semver::Version;

use crate::gguf::GgufLimits;
use crate::weights::WeightsShape;
use crate::{Manifest, PackId};

pub use build::build_archive;
pub use error::ArchiveError;
pub use read::{inspect_archive, unpack_archive};

/// File name of the manifest inside a pack directory and archive.
pub const MANIFEST_FILE: &str = "pack.toml";
/// File name of the weights inside a pack directory and archive.
pub const WEIGHTS_FILE: &str = "weights.gguf";
/// Extension of pack archives.
pub const ARCHIVE_EXTENSION: &str = "mbpack";

/// `ID-VERSION.mbpack`, the canonical archive file name.
pub fn archive_file_name(id: &PackId, version: &Version) -> String {
    format!("{id}-{version}.{ARCHIVE_EXTENSION}")
}

/// The pack an archive is expected to hold.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PackRef {
    /// The pack id.
    pub id: PackId,
    /// The exact version.
    pub version: Version,
}

impl fmt::Display for PackRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id, self.version)
    }
}

/// Hard limits applied while reading an archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Bounds on the header of `weights.gguf`.
    pub weights: GgufLimits,
    /// Most tar entries (a pack has three files).
    pub max_entries: usize,
    /// Most bytes all files may unpack to together.
    pub max_unpacked_bytes: u64,
    /// Largest `pack.toml`.
    pub max_manifest_bytes: u64,
    /// Largest readme.
    pub max_readme_bytes: u64,
}

impl Default for ArchiveLimits {
    fn default() -> Self {
        Self {
            weights: GgufLimits::default(),
            max_entries: 8,
            max_unpacked_bytes: 16 << 30,
            max_manifest_bytes: 64 << 10,
            max_readme_bytes: 1 << 20,
        }
    }
}

/// One file of an archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveFile {
    /// Its name (one of the allowed names).
    pub name: String,
    /// Its unpacked size in bytes.
    pub size: u64,
}

/// What a verified archive holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveContents {
    /// The validated manifest.
    pub manifest: Manifest,
    /// The files in archive order.
    pub files: Vec<ArchiveFile>,
    /// The model card's text (lossy UTF-8), when the pack has one.
    pub readme: Option<String>,
    /// The checked shape of its weights.
    pub weights: WeightsShape,
}

impl ArchiveContents {
    /// Sum of the unpacked file sizes.
    pub fn unpacked_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}
