//! Why an archive was refused, one variant per rule, each naming the entry at fault.

use std::path::PathBuf;

use crate::gguf::GgufError;
use crate::weights::WeightsError;
use crate::{Manifest, ManifestError};

/// A pack archive that cannot be built or is refused on reading.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A file could not be read or written.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The zstd or tar stream is damaged.
    #[error("the archive is corrupt: {0}")]
    Corrupt(String),
    /// The stream ends before the archive does.
    #[error("the archive is truncated: {0}")]
    Truncated(String),
    /// Bytes follow the end of the archive.
    #[error("the archive has unexpected data {0}")]
    TrailingData(&'static str),
    /// An entry name that is not UTF-8.
    #[error("entry `{0}` has a name that is not valid UTF-8")]
    NonUtf8Name(String),
    /// An entry with an absolute path.
    #[error("entry `{0}` has an absolute path; pack archives hold relative names only")]
    AbsolutePath(String),
    /// An entry whose path climbs out with `..`.
    #[error("entry `{0}` contains `..` and would be written outside the pack directory")]
    PathTraversal(String),
    /// A symbolic link.
    #[error(
        "entry `{name}` is a symbolic link to `{target}`; pack archives hold regular files only"
    )]
    Symlink {
        /// The entry.
        name: String,
        /// Where it points.
        target: String,
    },
    /// A hard link.
    #[error("entry `{name}` is a hard link to `{target}`; pack archives hold regular files only")]
    Hardlink {
        /// The entry.
        name: String,
        /// Where it points.
        target: String,
    },
    /// A directory, device, FIFO or other non-regular entry.
    #[error("entry `{name}` is a {kind}; pack archives hold regular files only")]
    NotRegularFile {
        /// The entry.
        name: String,
        /// What it is.
        kind: String,
    },
    /// A regular file whose name is not one a pack may hold.
    #[error(
        "entry `{0}` is not part of a pack; an archive holds only `pack.toml`, `weights.gguf` and the readme the manifest names"
    )]
    UnexpectedFile(String),
    /// The same name twice.
    #[error("entry `{0}` appears more than once")]
    DuplicateEntry(String),
    /// More entries than the limit.
    #[error("the archive has more than {0} entries")]
    TooManyEntries(usize),
    /// One entry larger than its limit.
    #[error("entry `{name}` is {size} bytes, more than the {limit} allowed for it")]
    EntryTooLarge {
        /// The entry.
        name: String,
        /// Its declared size.
        size: u64,
        /// Its limit.
        limit: u64,
    },
    /// The files together would unpack to more than the limit (a decompression bomb).
    #[error(
        "the archive unpacks to more than {limit} bytes (entry `{name}` crosses the limit); refusing to decompress it"
    )]
    UnpackedSizeLimit {
        /// The entry that crosses it.
        name: String,
        /// The limit.
        limit: u64,
    },
    /// The first entry is not `pack.toml`.
    #[error(
        "the archive does not begin with `pack.toml`; every pack archive starts with its manifest"
    )]
    MissingManifest,
    /// No `weights.gguf`.
    #[error("the archive has no `weights.gguf`")]
    MissingWeights,
    /// The readme the manifest names is absent.
    #[error("the manifest names readme `{0}` but the archive does not contain it")]
    MissingReadme(String),
    /// `weights.gguf` is not GGUF.
    #[error("`weights.gguf` is not a GGUF file (it does not start with `GGUF`)")]
    NotGguf,
    /// `weights.gguf` has a malformed or hostile header.
    #[error("`weights.gguf` is refused: {0}")]
    Weights(GgufError),
    /// `weights.gguf` does not hold what the pack's kind needs.
    #[error("`weights.gguf` is not usable as the {kind} pack `{id}`: {problem}")]
    WeightsShape {
        /// The pack.
        id: String,
        /// Its kind.
        kind: String,
        /// What is wrong.
        problem: Box<WeightsError>,
    },
    /// The manifest inside is invalid.
    #[error(transparent)]
    Manifest(Box<ManifestError>),
    /// The manifest's id is not the one expected.
    #[error("the archive's manifest says id `{found}` but `{expected}` was expected")]
    IdMismatch {
        /// The expected id.
        expected: String,
        /// The manifest's id.
        found: String,
    },
    /// The manifest's version is not the one expected.
    #[error("the archive's manifest says version `{found}` but `{expected}` was expected")]
    VersionMismatch {
        /// The expected version.
        expected: String,
        /// The manifest's version.
        found: String,
    },
    /// The unpack target already exists.
    #[error("`{0}` already exists; refusing to unpack over it")]
    TargetExists(PathBuf),
}

impl From<ManifestError> for ArchiveError {
    fn from(err: ManifestError) -> Self {
        Self::Manifest(Box::new(err))
    }
}

impl From<GgufError> for ArchiveError {
    fn from(err: GgufError) -> Self {
        match err {
            GgufError::NotGguf => Self::NotGguf,
            other => Self::Weights(other),
        }
    }
}

impl ArchiveError {
    /// `problem` with the weights of the pack `manifest` describes.
    pub(super) fn weights_shape(manifest: &Manifest, problem: WeightsError) -> Self {
        Self::WeightsShape {
            id: manifest.id.to_string(),
            kind: manifest.kind.to_string(),
            problem: Box::new(problem),
        }
    }
}
