//! Recovery at the start of every command that changes the home (under the exclusive
//! lock): a journalled commit is completed, and what an interrupted run left is removed:
//! staging and retired directories, temporary files, and pack directories the lock does
//! not hold.

use std::path::Path;

use anyhow::Context;

use super::transaction::{JOURNAL_FILE, Journal};
use super::{Home, Lock};
use crate::printer::Printer;

/// The name of the directory each install unpacks its packs in.
pub(super) const STAGING_PREFIX: &str = ".staging-";
/// Where retired pack directories wait to be deleted.
pub(super) const TRASH_DIR: &str = ".trash";
/// The name every temporary download starts with.
pub(super) const DOWNLOAD_PREFIX: &str = ".download-";

impl Home {
    /// Completes or removes what an interrupted run left; see the module documentation.
    pub(super) fn recover(&self, printer: &Printer) -> anyhow::Result<()> {
        let journal = self.root.join(JOURNAL_FILE);
        if let Some(text) = super::read_bounded(&journal, super::MAX_HOME_FILE_BYTES)? {
            let journal: Journal = toml::from_str(&text).with_context(|| {
                format!(
                    "the interrupted change `{}` is unreadable; move it away and reinstall",
                    journal.display()
                )
            })?;
            printer.step("completing an interrupted change of the home");
            self.finish(&journal)?;
        }
        let mut removed = 0;
        self.empty_trash()?;
        // Staging directories, temporary files of interrupted writes (settings and lock:
        // `.tmp*`) and downloads.
        for dir in [self.root.clone(), self.archive_cache()] {
            for entry in entries(&dir)? {
                let name = entry.file_name();
                let name = name.to_string_lossy();
                if [".tmp", STAGING_PREFIX, DOWNLOAD_PREFIX]
                    .iter()
                    .any(|prefix| name.starts_with(prefix))
                {
                    removed += remove_if_exists(&entry.path())?;
                }
            }
        }
        removed += self.remove_unlocked_packs(&self.lock()?)?;
        if removed > 0 {
            printer.step(format!(
                "removed {removed} leftovers of an interrupted run from {}",
                self.root.display()
            ));
        }
        Ok(())
    }

    /// Deletes every directory under `packs/` that is not a locked `ID/VERSION`.
    fn remove_unlocked_packs(&self, lock: &Lock) -> anyhow::Result<usize> {
        let mut removed = 0;
        for id in entries(&self.packs_dir())? {
            let id_name = id.file_name().to_string_lossy().into_owned();
            let mut kept = 0;
            for version in entries(&id.path())? {
                let version_name = version.file_name().to_string_lossy().into_owned();
                let locked = lock
                    .packs
                    .iter()
                    .any(|p| p.id.as_str() == id_name && p.version.to_string() == version_name);
                if locked {
                    kept += 1;
                } else {
                    removed += remove_if_exists(&version.path())?;
                }
            }
            if kept == 0 {
                removed += remove_if_exists(&id.path())?;
            }
        }
        Ok(removed)
    }

    /// Deletes the retired pack directories.
    pub(super) fn empty_trash(&self) -> anyhow::Result<()> {
        remove_if_exists(&self.root.join(TRASH_DIR)).map(|_| ())
    }
}

/// The entries of `dir` (none when it does not exist).
fn entries(dir: &Path) -> anyhow::Result<Vec<std::fs::DirEntry>> {
    match std::fs::read_dir(dir) {
        Ok(read) => read
            .collect::<Result<_, _>>()
            .with_context(|| format!("cannot list `{}`", dir.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot list `{}`", dir.display())),
    }
}

/// Removes a file or a whole directory; 1 when something was there.
fn remove_if_exists(path: &Path) -> anyhow::Result<usize> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    };
    let removed = if meta.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    removed.with_context(|| format!("cannot remove `{}`", path.display()))?;
    Ok(1)
}
