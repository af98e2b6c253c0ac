//! One change of the home, all or nothing: staged packs are moved into place, then one
//! journal holding the new requests, lock and trusted keys is written (the commit point),
//! then those three files are replaced from it and retired packs are moved out. A crash
//! before the journal leaves the old state (the placed packs are not locked, so recovery
//! removes them); a crash after it leaves a journal that recovery completes.

use std::path::{Path, PathBuf};

use anyhow::Context;
use modularbase_pack::{PackId, Sha256Digest};
use serde::{Deserialize, Serialize};

use super::marker::{is_verified, marked_digest};
use super::recovery::TRASH_DIR;
use super::{Home, LOCK_FILE, Lock, REQUESTS_FILE, Requests, TRUSTED_KEYS_FILE, TrustedKeys};

/// The journal of a commit in progress.
pub(super) const JOURNAL_FILE: &str = ".transaction.toml";

/// A pack unpacked and verified in a staging directory, its marker written.
#[derive(Debug)]
pub struct StagedPack {
    /// The staged directory.
    pub dir: PathBuf,
    /// The pack.
    pub id: PackId,
    /// Its version.
    pub version: semver::Version,
}

/// The new state of the home, committed by [`HomeTransaction::commit`].
#[derive(Debug)]
pub struct HomeTransaction<'h> {
    home: &'h Home,
    staged: Vec<StagedPack>,
    requests: Requests,
    lock: Lock,
    trusted: TrustedKeys,
}

/// What a commit writes before touching the home's files: everything needed to finish it.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Journal {
    requests: String,
    lock: String,
    trusted_keys: String,
    /// Installed directories the new lock no longer holds.
    #[serde(default)]
    retire: Vec<Retired>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Retired {
    id: PackId,
    version: semver::Version,
}

impl<'h> HomeTransaction<'h> {
    /// A transaction that moves `staged` into place and replaces requests, lock and keys.
    pub fn new(
        home: &'h Home,
        staged: Vec<StagedPack>,
        requests: Requests,
        lock: Lock,
        trusted: TrustedKeys,
    ) -> Self {
        Self {
            home,
            staged,
            requests,
            lock,
            trusted,
        }
    }

    /// Carries the change out; returns when it is on disk.
    pub fn commit(self) -> anyhow::Result<()> {
        let home = self.home;
        let old = home.lock()?;
        for staged in &self.staged {
            home.place(staged)?;
        }
        let retire = old
            .packs
            .iter()
            .filter(|p| {
                !self
                    .lock
                    .packs
                    .iter()
                    .any(|n| n.id == p.id && n.version == p.version)
            })
            .map(|p| Retired {
                id: p.id.clone(),
                version: p.version.clone(),
            })
            .collect();
        let journal = Journal {
            requests: toml::to_string(&self.requests).context("cannot serialise the requests")?,
            lock: toml::to_string(&self.lock).context("cannot serialise the lock")?,
            trusted_keys: toml::to_string(&self.trusted)
                .context("cannot serialise the trusted keys")?,
            retire,
        };
        home.write_toml(JOURNAL_FILE, &journal)?;
        home.sync_root()?;
        home.finish(&journal)
    }
}

impl Home {
    /// Moves a staged pack to its installed path; a directory already there is kept when
    /// its marker matches and its files verify (a repair replaces one changed in place),
    /// else retired.
    fn place(&self, staged: &StagedPack) -> anyhow::Result<()> {
        let target = self.pack_dir(&staged.id, &staged.version);
        let parent = target.parent().unwrap_or(&self.root);
        self.ensure_dir(parent)?;
        if target.exists() {
            let whole = marked_digest(&staged.dir)
                .and_then(|d| d.parse::<Sha256Digest>().ok())
                .is_some_and(|digest| is_verified(&target, &digest));
            if whole {
                return Ok(());
            }
            self.retire(&target)?;
        }
        std::fs::rename(&staged.dir, &target).with_context(|| {
            format!(
                "cannot move {}@{} into `{}`",
                staged.id,
                staged.version,
                target.display()
            )
        })?;
        super::sync_dir(parent)
    }

    /// Moves `dir` out of the packs in one rename (so no half-removed pack is ever left at
    /// an installed path); recovery or the commit deletes it.
    fn retire(&self, dir: &Path) -> anyhow::Result<()> {
        let trash = self.root.join(TRASH_DIR);
        self.ensure_dir(&trash)?;
        let bin = tempfile::Builder::new()
            .prefix("retired-")
            .tempdir_in(&trash)
            .with_context(|| format!("cannot write in `{}`", trash.display()))?
            .keep();
        std::fs::rename(dir, bin.join("pack"))
            .with_context(|| format!("cannot move `{}` out of the home", dir.display()))
    }

    /// Completes a journalled commit: the three files, then the retired packs.
    pub(super) fn finish(&self, journal: &Journal) -> anyhow::Result<()> {
        self.write_text(REQUESTS_FILE, &journal.requests)?;
        self.write_text(LOCK_FILE, &journal.lock)?;
        self.write_text(TRUSTED_KEYS_FILE, &journal.trusted_keys)?;
        self.sync_root()?;
        for gone in &journal.retire {
            let dir = self.pack_dir(&gone.id, &gone.version);
            if dir.exists() {
                self.retire(&dir)?;
            }
        }
        self.remove_file(JOURNAL_FILE)?;
        self.sync_root()?;
        self.empty_trash()
    }
}
