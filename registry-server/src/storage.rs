//! Content-addressed blob store: archives under `blobs/sha256/ab/cd/<digest>`.
//!
//! Uploads stream into `tmp/`, are synced, then renamed into place (and the directory
//! synced), so a blob path only ever names a complete, durable archive.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use modularbase_pack::Sha256Digest;

/// The blob directory of one registry.
#[derive(Debug, Clone)]
pub(crate) struct BlobStore {
    blobs: PathBuf,
    tmp: PathBuf,
}

impl BlobStore {
    /// Opens (creating) the store under `data_dir`.
    pub(crate) fn open(data_dir: &Path) -> io::Result<Self> {
        let store = Self {
            blobs: data_dir.join("blobs").join("sha256"),
            tmp: data_dir.join("tmp"),
        };
        std::fs::create_dir_all(&store.blobs)?;
        std::fs::create_dir_all(&store.tmp)?;
        Ok(store)
    }

    /// Where the blob with `digest` lives.
    pub(crate) fn path(&self, digest: &Sha256Digest) -> PathBuf {
        let hex = digest.to_hex();
        self.blobs.join(&hex[..2]).join(&hex[2..4]).join(hex)
    }

    /// A new temporary file for an upload in flight.
    pub(crate) fn temp_file(&self) -> io::Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix("upload-")
            .tempfile_in(&self.tmp)
    }

    /// Syncs the upload and moves it to its content address. An existing blob with the same
    /// digest is the same bytes and is kept.
    pub(crate) fn commit(
        &self,
        upload: tempfile::NamedTempFile,
        digest: &Sha256Digest,
    ) -> io::Result<PathBuf> {
        upload.as_file().sync_all()?;
        let path = self.path(digest);
        let dir = path.parent().unwrap_or(&self.blobs);
        std::fs::create_dir_all(dir)?;
        upload.persist(&path).map_err(|e| e.error)?;
        std::fs::File::open(dir)?.sync_all()?;
        Ok(path)
    }

    /// Every stored blob with its modification time.
    pub(crate) fn list(&self) -> io::Result<Vec<(Sha256Digest, PathBuf, SystemTime)>> {
        let mut out = Vec::new();
        for path in walk_files(&self.blobs)? {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default();
            if let Ok(digest) = name.parse::<Sha256Digest>() {
                out.push((digest, path.clone(), std::fs::metadata(&path)?.modified()?));
            }
        }
        Ok(out)
    }

    /// Temporary uploads older than `grace` (left by crashed or aborted publishes).
    pub(crate) fn stale_uploads(&self, grace: Duration) -> io::Result<Vec<PathBuf>> {
        let now = SystemTime::now();
        let mut out = Vec::new();
        for path in walk_files(&self.tmp)? {
            let age = now
                .duration_since(std::fs::metadata(&path)?.modified()?)
                .unwrap_or_default();
            if age >= grace {
                out.push(path);
            }
        }
        Ok(out)
    }
}

fn walk_files(root: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                files.push(entry.path());
            }
        }
    }
    Ok(files)
}
