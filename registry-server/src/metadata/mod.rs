//! The registry's signed metadata, served beside the sparse index: TUF's `root.json` (the
//! offline root keys and who signs each role), `snapshot.json` (every index file's
//! version, length, SHA-256 and its owners' keys) and `timestamp.json` (the current
//! snapshot's), in the formats of `modularbase_pack::tuf`. Publishers' pack signatures
//! play the targets role.
//!
//! Where things live:
//!
//! ```text
//! DATA/registry.sqlite3        metadata_roots (every N.root.json), metadata_current
//!                              (the current snapshot.json and timestamp.json), as the
//!                              exact bytes served; versions only grow
//! DATA/metadata/snapshot.key   the online keys (mode 0600); `KEY.new` while a rotation
//! DATA/metadata/timestamp.key  is committed
//! ./registry-root-keys/        the offline root keys the operator keeps (`keys init`)
//! ```
//!
//! [`Metadata::refresh`] recomputes the snapshot from the database and re-signs what
//! changed or is past half its lifetime; it runs after every change to an index file or to
//! owners' keys, before the response, and from a background task ([`refresher`]). One
//! mutex serialises refreshes in a process; version checks in the database serialise them
//! across processes (`registry keys rotate` writes while a server runs).

mod keys;
mod refresh;
mod root_expiry;
mod setup;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use modularbase_pack::tuf::{ROOT_FILE, SNAPSHOT_FILE, TIMESTAMP_FILE, versioned_root_file};
use tokio::sync::Mutex;

use crate::db::Db;

pub(crate) use setup::{InitOptions, RotateOptions, ensure_root, init_keys, rotate_keys};

/// Default lifetime of a root: a year.
pub(crate) const DEFAULT_ROOT_EXPIRY: Duration = Duration::from_secs(365 * 24 * 3600);
/// Default lifetime of a snapshot: a day.
pub(crate) const DEFAULT_SNAPSHOT_EXPIRY: Duration = Duration::from_secs(24 * 3600);
/// Default lifetime of a timestamp: an hour.
pub(crate) const DEFAULT_TIMESTAMP_EXPIRY: Duration = Duration::from_secs(3600);
/// Longest pause between two background refreshes.
const MAX_TICK: Duration = Duration::from_secs(60);

/// How long newly signed snapshots and timestamps are valid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lifetimes {
    /// Of `snapshot.json`.
    pub(crate) snapshot: Duration,
    /// Of `timestamp.json`.
    pub(crate) timestamp: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            snapshot: DEFAULT_SNAPSHOT_EXPIRY,
            timestamp: DEFAULT_TIMESTAMP_EXPIRY,
        }
    }
}

/// The signed metadata of one data directory.
#[derive(Debug)]
pub(crate) struct Metadata {
    db: Db,
    data_dir: PathBuf,
    lifetimes: Lifetimes,
    /// Held for a whole refresh: two in one process would race for the same versions.
    lock: Mutex<()>,
}

/// One document served under `/index/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MetadataFile {
    /// `root.json`: the newest root.
    NewestRoot,
    /// `N.root.json`.
    Root(u64),
    /// `snapshot.json`.
    Snapshot,
    /// `timestamp.json`.
    Timestamp,
}

impl MetadataFile {
    /// The document named `name` in `/index/NAME`, if `name` is one (pack ids have no `.`,
    /// so no pack is shadowed).
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            ROOT_FILE => Some(Self::NewestRoot),
            SNAPSHOT_FILE => Some(Self::Snapshot),
            TIMESTAMP_FILE => Some(Self::Timestamp),
            _ => {
                let version = name.strip_suffix(ROOT_FILE)?.strip_suffix('.')?;
                // Only canonical numbers: `01.root.json` is not root 1.
                let parsed: u64 = version.parse().ok()?;
                (parsed.to_string() == version).then_some(Self::Root(parsed))
            }
        }
    }

    /// The file name.
    pub(crate) fn name(self) -> String {
        match self {
            Self::NewestRoot => ROOT_FILE.to_owned(),
            Self::Root(version) => versioned_root_file(version),
            Self::Snapshot => SNAPSHOT_FILE.to_owned(),
            Self::Timestamp => TIMESTAMP_FILE.to_owned(),
        }
    }
}

impl Metadata {
    /// The metadata of the registry in `data_dir`, whose database is `db`.
    pub(crate) fn new(db: Db, data_dir: &Path, lifetimes: Lifetimes) -> Self {
        Self {
            db,
            data_dir: data_dir.to_owned(),
            lifetimes,
            lock: Mutex::new(()),
        }
    }

    /// The bytes of `file` as stored, `None` when there is no such document (yet).
    pub(crate) async fn document(&self, file: MetadataFile) -> sqlx::Result<Option<Vec<u8>>> {
        match file {
            MetadataFile::NewestRoot => Ok(self.db.newest_root().await?.map(|(_, bytes)| bytes)),
            MetadataFile::Root(version) => self.db.root(version).await,
            MetadataFile::Snapshot => self.db.current_metadata("snapshot").await,
            MetadataFile::Timestamp => self.db.current_metadata("timestamp").await,
        }
    }

    /// The newest root's version, `None` before the registry has one.
    pub(crate) async fn newest_root_version(&self) -> sqlx::Result<Option<u64>> {
        Ok(self.db.newest_root().await?.map(|(version, _)| version))
    }

    /// Refreshes after a change to an index file or to owners' keys, before the response
    /// goes out so the client that made it sees it; a failure is logged and left to the
    /// background task to retry (the change itself is committed).
    pub(crate) async fn after_change(&self) {
        if let Err(e) = self.refresh().await {
            tracing::warn!(
                "could not re-sign the metadata after a change (the background refresh retries): {e:#}"
            );
        }
    }

    /// How often the background task refreshes: every minute, or a quarter of the shortest
    /// lifetime when that is shorter.
    fn tick(&self) -> Duration {
        let shortest = self.lifetimes.timestamp.min(self.lifetimes.snapshot);
        (shortest / 4).clamp(Duration::from_millis(100), MAX_TICK)
    }
}

/// Re-signs the timestamp and snapshot before they expire, and picks up changes made by
/// other processes, until the task is aborted; failures are logged and retried. Warns
/// once a day about a root that expires soon (the server warns once as it starts).
pub(crate) async fn refresher(metadata: Arc<Metadata>) {
    let tick = metadata.tick();
    // The server checked the root once as it started.
    let mut root_checked = std::time::Instant::now();
    loop {
        tokio::time::sleep(tick).await;
        if root_checked.elapsed() >= root_expiry::ROOT_WARNING_EVERY {
            metadata
                .warn_if_root_expires_soon(std::time::SystemTime::now())
                .await;
            root_checked = std::time::Instant::now();
        }
        if let Err(e) = metadata.refresh().await {
            tracing::warn!(
                "could not refresh the signed metadata (retrying in {}): {e:#}",
                humantime::format_duration(tick)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MetadataFile;

    #[test]
    fn only_metadata_names_leave_the_pack_route() {
        assert_eq!(
            MetadataFile::from_name("root.json"),
            Some(MetadataFile::NewestRoot)
        );
        assert_eq!(
            MetadataFile::from_name("2.root.json"),
            Some(MetadataFile::Root(2))
        );
        assert_eq!(
            MetadataFile::from_name("timestamp.json"),
            Some(MetadataFile::Timestamp)
        );
        assert_eq!(
            MetadataFile::from_name("snapshot.json"),
            Some(MetadataFile::Snapshot)
        );
        for name in [
            "tiny_base",
            "02.root.json",
            ".root.json",
            "x.root.json",
            "+1.root.json",
        ] {
            assert_eq!(MetadataFile::from_name(name), None, "{name}");
        }
        assert_eq!(MetadataFile::Root(3).name(), "3.root.json");
    }
}
