//! Verifying an installed pack against the lock: its unpacked files against the digest
//! recorded at install (naming each file modified, missing or added, from the marker's
//! per-file digests) and its cached archive against the archive checksum. Reads only.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use modularbase_pack::{Sha256Digest, sha256_file};

use super::{Home, LockedPack, marker};

/// What verifying one locked pack found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackCheck {
    /// Its unpacked files.
    pub files: FilesCheck,
    /// Its archive in the cache.
    pub archive: ArchiveCheck,
}

impl PackCheck {
    /// Whether nothing differs (an archive not in the cache is no failure).
    pub fn is_ok(&self) -> bool {
        self.files.is_ok() && !self.archive.is_failure()
    }

    /// What differs, one sentence each; empty when [`Self::is_ok`].
    pub fn problems(&self) -> Vec<String> {
        let mut out: Vec<String> = self.files.problem().into_iter().collect();
        if self.archive.is_failure() {
            out.push(self.archive.to_string());
        }
        out
    }
}

/// One file that differs from what was installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileChange {
    /// There, but its contents are not those installed.
    Modified(String),
    /// Installed, and gone.
    Missing(String),
    /// There, and not installed.
    Added(String),
}

impl fmt::Display for FileChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Modified(path) => write!(f, "`{path}` modified"),
            Self::Missing(path) => write!(f, "`{path}` missing"),
            Self::Added(path) => write!(f, "`{path}` added"),
        }
    }
}

/// The state of a pack's unpacked files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilesCheck {
    /// Their digest is the lock's.
    Ok,
    /// The lock entry records no digest of the files (written by an earlier version).
    Unverifiable,
    /// The pack directory is not there.
    NoDirectory(PathBuf),
    /// The directory could not be read (the cause).
    Unreadable(String),
    /// Their digest differs from the lock's: the files that differ, as far as the marker
    /// tells (empty when it cannot, and then `why` says so).
    Differs {
        /// The files that differ.
        changes: Vec<FileChange>,
        /// Why no file is named, when none is.
        why: Option<String>,
    },
}

impl FilesCheck {
    /// Whether the files are those installed.
    pub fn is_ok(&self) -> bool {
        *self == Self::Ok
    }

    /// What is wrong, as one sentence; `None` when nothing is.
    pub fn problem(&self) -> Option<String> {
        Some(match self {
            Self::Ok => return None,
            Self::Unverifiable => "not verifiable: the lock records no digest of its files (installed by an earlier modularbase); reinstall it".to_owned(),
            Self::NoDirectory(dir) => format!("its directory `{}` is missing", dir.display()),
            Self::Unreadable(cause) => format!("its files cannot be read: {cause}"),
            Self::Differs { changes, why } if changes.is_empty() => format!(
                "its files differ from the digest the lock records ({})",
                why.as_deref().unwrap_or("which file is not known")
            ),
            Self::Differs { changes, .. } => changes
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

/// The state of a pack's archive in the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveCheck {
    /// Its SHA-256 is the lock's checksum.
    Ok,
    /// Not in the cache (it is fetched again when needed): no failure.
    NotCached,
    /// In the cache with other bytes.
    Differs {
        /// The cached file.
        path: PathBuf,
        /// Its SHA-256.
        found: Sha256Digest,
    },
    /// In the cache but unreadable.
    Unreadable {
        /// The cached file.
        path: PathBuf,
        /// The cause.
        cause: String,
    },
}

impl ArchiveCheck {
    /// Whether the cache holds other bytes than the lock's, or unreadable ones.
    pub fn is_failure(&self) -> bool {
        matches!(self, Self::Differs { .. } | Self::Unreadable { .. })
    }
}

impl fmt::Display for ArchiveCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ok => f.write_str("archive ok"),
            Self::NotCached => f.write_str("archive not in the cache"),
            Self::Differs { path, found } => write!(
                f,
                "the cached archive `{}` has SHA-256 {found}, not the lock's checksum",
                path.display()
            ),
            Self::Unreadable { path, cause } => write!(
                f,
                "the cached archive `{}` cannot be read: {cause}",
                path.display()
            ),
        }
    }
}

impl Home {
    /// Verifies `pack`'s unpacked files and its cached archive against the lock.
    pub fn verify_pack(&self, pack: &LockedPack) -> PackCheck {
        PackCheck {
            files: self.verify_files(pack),
            archive: self.verify_archive(pack),
        }
    }

    /// Re-reads every file of `pack`'s directory and compares the digest with the lock's;
    /// when it differs, names the files that do from the marker's per-file digests.
    pub fn verify_files(&self, pack: &LockedPack) -> FilesCheck {
        let Some(expected) = pack.files else {
            return FilesCheck::Unverifiable;
        };
        let dir = self.pack_dir(&pack.id, &pack.version);
        if !dir.is_dir() {
            return FilesCheck::NoDirectory(dir);
        }
        let (digest, now) = match Sha256Digest::of_tree(&dir, &marker::skip_marker) {
            Ok(tree) => tree,
            Err(e) => return FilesCheck::Unreadable(format!("`{}`: {e}", dir.display())),
        };
        if digest == expected {
            return FilesCheck::Ok;
        }
        let Some(listed) = marker::read(&dir).and_then(|m| m.files) else {
            return FilesCheck::Differs {
                changes: Vec::new(),
                why: Some("its `.installed` marker is missing or not ours, so which file changed is not known".to_owned()),
            };
        };
        let changes = changes(&listed, &now);
        let why = changes.is_empty().then(|| {
            if listed.iter().any(|f| f.digest.is_none()) {
                "a file's contents changed, but its marker predates per-file digests, so which one is not known".to_owned()
            } else {
                "every file matches its marker, so the marker itself was changed".to_owned()
            }
        });
        FilesCheck::Differs { changes, why }
    }

    /// Hashes `pack`'s archive in the cache, when it is there.
    pub fn verify_archive(&self, pack: &LockedPack) -> ArchiveCheck {
        let path = self.cached_archive(&pack.cksum);
        if !path.is_file() {
            return ArchiveCheck::NotCached;
        }
        match sha256_file(&path) {
            Ok((found, _)) if found == pack.cksum => ArchiveCheck::Ok,
            Ok((found, _)) => ArchiveCheck::Differs { path, found },
            Err(e) => ArchiveCheck::Unreadable {
                path,
                cause: e.to_string(),
            },
        }
    }
}

/// The files of `now` that differ from those `listed` at install, in path order. A file
/// listed without a digest (an old marker) is compared by size.
fn changes(listed: &[marker::MarkedFile], now: &[(String, u64, Sha256Digest)]) -> Vec<FileChange> {
    let now: BTreeMap<&str, (u64, Sha256Digest)> = now
        .iter()
        .map(|(path, size, digest)| (path.as_str(), (*size, *digest)))
        .collect();
    let mut out = Vec::new();
    for file in listed {
        match now.get(file.path.as_str()) {
            None => out.push(FileChange::Missing(file.path.clone())),
            Some((size, digest)) => {
                let same = match file.digest {
                    Some(installed) => installed == *digest,
                    None => file.size == *size,
                };
                if !same {
                    out.push(FileChange::Modified(file.path.clone()));
                }
            }
        }
    }
    for path in now.keys() {
        if !listed.iter().any(|f| f.path == *path) {
            out.push(FileChange::Added((*path).to_owned()));
        }
    }
    out.sort_by(|a, b| change_path(a).cmp(change_path(b)));
    out
}

fn change_path(change: &FileChange) -> &str {
    match change {
        FileChange::Modified(p) | FileChange::Missing(p) | FileChange::Added(p) => p,
    }
}

impl Home {
    /// The command that reinstalls every locked pack failing verification, as a `help:`
    /// sentence: `pack install` of a request `modularbase.toml` already holds changes no
    /// request and repairs every locked pack that is not whole or not verified.
    pub fn repair_hint(&self) -> anyhow::Result<String> {
        let requests = self.requests()?;
        Ok(match requests.packs.iter().next() {
            Some((id, req)) => format!(
                "run `modularbase pack install '{id}@{req}'` (a request `{}` already holds): it reinstalls every locked pack that fails verification, from the registry, and fetches a corrupted cached archive again",
                self.requests_path().display()
            ),
            None => "run `modularbase pack install ID` for each pack named: it reinstalls every locked pack that fails verification, from the registry".to_owned(),
        })
    }
}
