//! The registry's signed metadata on the client (issue 18): the root pinned on first use
//! (or given with `--root FILE`), then, once per run, root rotations, `timestamp.json` and
//! the `snapshot.json` it names, each checked by [`TrustedMetadata`] before it replaces
//! what this home verified last (`trust/HOST/`). A registry that never served metadata is
//! read as before (packs' keys pinned on first use); one that did and stops is refused.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, bail};
use modularbase_pack::tuf::{
    MAX_ROOT_BYTES, MAX_SNAPSHOT_BYTES, MAX_TIMESTAMP_BYTES, MetadataError, ROOT_FILE,
    SNAPSHOT_FILE, TIMESTAMP_FILE, TrustedMetadata, versioned_root_file,
};

use crate::client::RegistryClient;
use crate::home::{Home, read_bounded_bytes};

/// Root rotations followed in one run, at most (a root is rotated a few times a year).
const MAX_ROOT_ROTATIONS: u64 = 1024;

/// Where one registry's verified metadata lives in the home, and how it is updated.
#[derive(Debug, Clone)]
pub(crate) struct MetadataStore {
    dir: PathBuf,
    lock: PathBuf,
    url: String,
    root_file: Option<PathBuf>,
}

impl MetadataStore {
    /// The store of `url`'s metadata in `home`; `root_file` is a root the user gave
    /// (`--root FILE`), trusted instead of the pinned one.
    pub(crate) fn new(home: &Home, url: &str, root_file: Option<&Path>) -> Self {
        Self {
            dir: home.metadata_dir(url),
            lock: home.metadata_lock_path(),
            url: url.to_owned(),
            root_file: root_file.map(Path::to_owned),
        }
    }

    fn stored(&self, name: &str, limit: u64) -> anyhow::Result<Option<Vec<u8>>> {
        read_bounded_bytes(&self.dir.join(name), limit)
    }

    /// The trusted root to start from: the given file, else the pinned one; `None` when
    /// this home never verified metadata of this registry.
    fn anchor(&self) -> anyhow::Result<Option<TrustedMetadata>> {
        let (bytes, source) = match &self.root_file {
            Some(file) => (
                read_bounded_bytes(file, MAX_ROOT_BYTES)?.with_context(|| {
                    format!("the root file `{}` does not exist", file.display())
                })?,
                file.clone(),
            ),
            None => match self.stored(ROOT_FILE, MAX_ROOT_BYTES)? {
                Some(bytes) => (bytes, self.dir.join(ROOT_FILE)),
                None => return Ok(None),
            },
        };
        TrustedMetadata::from_root(&bytes)
            .map(Some)
            .with_context(|| format!("the root in `{}` cannot be trusted", source.display()))
    }

    /// Loads the stored timestamp and snapshot as floors, when they verify under the
    /// trusted root (after a rotation of their keys they are dropped).
    fn load_floors(&self, trusted: &mut TrustedMetadata) -> anyhow::Result<()> {
        if let Some(bytes) = self.stored(TIMESTAMP_FILE, MAX_TIMESTAMP_BYTES)? {
            let _ = trusted.load_timestamp(&bytes);
        }
        if let Some(bytes) = self.stored(SNAPSHOT_FILE, MAX_SNAPSHOT_BYTES)? {
            let _ = trusted.load_snapshot(&bytes);
        }
        Ok(())
    }

    /// The metadata verified by an earlier run, for `--offline`; `None` when there is none.
    /// Says how old it is.
    pub(crate) fn offline(
        &self,
        client: &RegistryClient,
    ) -> anyhow::Result<Option<TrustedMetadata>> {
        let Some(mut trusted) = self.anchor()? else {
            return Ok(None);
        };
        self.load_floors(&mut trusted)?;
        if trusted.snapshot().is_none() {
            bail!(
                "no verified index metadata of {} is stored in this home yet; run once without --offline",
                self.url
            );
        }
        let verified = std::fs::metadata(self.dir.join(TIMESTAMP_FILE))
            .and_then(|m| m.modified())
            .ok();
        let age = verified
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .map_or_else(
                || "at an unknown time".to_owned(),
                |d| format!("{} ago", rounded(d)),
            );
        let mut note = format!(
            "offline: using the index metadata of {} verified {age} (snapshot version {})",
            self.url,
            trusted.snapshot().map_or(0, |s| s.version())
        );
        if let Some(timestamp) = trusted.timestamp()
            && timestamp
                .check_fresh(TIMESTAMP_FILE, SystemTime::now())
                .is_err()
        {
            note.push_str(&format!(
                "; it expired at {}, so newer yanks or fixes may be missing",
                timestamp.signed.expires
            ));
        }
        client.printer().note(note);
        Ok(Some(trusted))
    }

    /// Verifies the registry's current metadata against what this home trusts, stores it,
    /// and returns it; `None` for a registry that serves none and never did. Nothing is
    /// stored unless every document verifies. The first documents are asked for together:
    /// the next root (or, on first use, the root) beside the timestamp, and beside the
    /// snapshot too when this home holds none yet.
    pub(crate) fn update(
        &self,
        client: &RegistryClient,
    ) -> anyhow::Result<Option<TrustedMetadata>> {
        let _lock = self.lock()?;
        let now = SystemTime::now();
        let anchor = self.anchor()?;
        let start = anchor.as_ref().map(|t| t.root().version());
        let speculate = anchor.is_none() || !self.dir.join(SNAPSHOT_FILE).exists();
        let (trusted, timestamp, snapshot) = std::thread::scope(|scope| {
            let timestamp =
                scope.spawn(|| client.metadata_file(TIMESTAMP_FILE, MAX_TIMESTAMP_BYTES));
            let snapshot = speculate
                .then(|| scope.spawn(|| client.metadata_file(SNAPSHOT_FILE, MAX_SNAPSHOT_BYTES)));
            let trusted = self.trusted_root(client, anchor);
            (trusted, joined(timestamp), snapshot.map(joined))
        });
        let Some((mut trusted, first_use)) = trusted? else {
            return Ok(None);
        };
        trusted.check_root_fresh(now).map_err(|e| self.refused(e))?;
        self.load_floors(&mut trusted)?;
        // A speculative snapshot that failed to arrive is fetched again if it is needed.
        let snapshot = snapshot.and_then(|s| s.ok().flatten());
        self.apply(client, &mut trusted, now, timestamp?, snapshot)?;
        self.save(&trusted)?;
        let root = trusted.root();
        if first_use {
            client.printer().note(format!(
                "pinned the signing root of {} (version {}, {} root key(s)) in `{}`",
                self.url,
                root.version(),
                root.signed
                    .role_keys(modularbase_pack::tuf::Role::Root)
                    .len(),
                self.dir.join(ROOT_FILE).display()
            ));
        } else if start.is_some_and(|v| v != root.version()) {
            client.printer().note(format!(
                "the registry {} rotated its root keys: now root version {}",
                self.url,
                root.version()
            ));
        }
        Ok(Some(trusted))
    }

    /// The root to trust now, and whether it was pinned just now: the pinned (or given)
    /// root followed along `N.root.json` rotations, else on first use the newest root the
    /// registry serves; `None` when it serves none and never did.
    fn trusted_root(
        &self,
        client: &RegistryClient,
        anchor: Option<TrustedMetadata>,
    ) -> anyhow::Result<Option<(TrustedMetadata, bool)>> {
        let Some(mut trusted) = anchor else {
            // `root.json` is the newest root: there is no chain to follow on first use.
            return match client.metadata_file(ROOT_FILE, MAX_ROOT_BYTES)? {
                None => Ok(None),
                Some(bytes) => Ok(Some((
                    TrustedMetadata::from_root(&bytes).map_err(|e| self.refused(e))?,
                    true,
                ))),
            };
        };
        for _ in 0..MAX_ROOT_ROTATIONS {
            let name = versioned_root_file(trusted.root().version() + 1);
            let Some(bytes) = client.metadata_file(&name, MAX_ROOT_BYTES)? else {
                break;
            };
            trusted.update_root(&bytes).map_err(|e| self.refused(e))?;
        }
        Ok(Some((trusted, false)))
    }

    /// Takes this registry's metadata for the rest of a check: processes verifying the
    /// same registry at once take turns, so none stores metadata older than what another
    /// stored meanwhile.
    fn lock(&self) -> anyhow::Result<std::fs::File> {
        let path = &self.lock;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("cannot open `{}`", path.display()))?;
        file.lock()
            .with_context(|| format!("cannot lock `{}`", path.display()))?;
        Ok(file)
    }

    /// Reads the timestamp and snapshot again in the middle of a run (an index file changed
    /// meanwhile), from what this home stores now, and stores the result.
    pub(crate) fn reverify(
        &self,
        client: &RegistryClient,
        trusted: &mut TrustedMetadata,
    ) -> anyhow::Result<()> {
        let _lock = self.lock()?;
        self.load_floors(trusted)?;
        self.refresh(client, trusted, SystemTime::now())?;
        self.save(trusted)
    }

    /// Fetches `timestamp.json` and, when it names another snapshot, `snapshot.json`.
    fn refresh(
        &self,
        client: &RegistryClient,
        trusted: &mut TrustedMetadata,
        now: SystemTime,
    ) -> anyhow::Result<()> {
        let timestamp = client.metadata_file(TIMESTAMP_FILE, MAX_TIMESTAMP_BYTES)?;
        self.apply(client, trusted, now, timestamp, None)
    }

    /// Verifies `timestamp` (the registry's `timestamp.json`, `None` when it serves none)
    /// and, when it names another snapshot, the snapshot: `speculative` when it is the one
    /// named, else fetched at exactly the length the timestamp lists.
    fn apply(
        &self,
        client: &RegistryClient,
        trusted: &mut TrustedMetadata,
        now: SystemTime,
        timestamp: Option<Vec<u8>>,
        speculative: Option<Vec<u8>>,
    ) -> anyhow::Result<()> {
        let Some(bytes) = timestamp else {
            bail!(
                "the registry at {} signed its index before (this home pins its root in `{}`) but serves no `{TIMESTAMP_FILE}` now; refusing an unsigned index. If its operator really removed the metadata, delete `{}` to trust it afresh",
                self.url,
                self.dir.join(ROOT_FILE).display(),
                self.dir.display()
            );
        };
        trusted
            .update_timestamp(&bytes, now)
            .map_err(|e| self.refused(e))?;
        if trusted.snapshot_is_current() {
            return Ok(());
        }
        let named = trusted.timestamp().and_then(|t| t.signed.snapshot());
        let bytes = match speculative.filter(|b| named.is_some_and(|m| m.matches(b))) {
            Some(bytes) => bytes,
            None => {
                let length = named.map_or(MAX_SNAPSHOT_BYTES, |m| m.length.min(MAX_SNAPSHOT_BYTES));
                client
                    .metadata_file(SNAPSHOT_FILE, length)?
                    .with_context(|| {
                        format!("the registry at {} lists no `{SNAPSHOT_FILE}`", self.url)
                    })?
            }
        };
        trusted
            .update_snapshot(&bytes, now)
            .map_err(|e| self.refused(e))
    }

    /// Stores the trusted root, timestamp and snapshot, each replaced atomically.
    fn save(&self, trusted: &TrustedMetadata) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("cannot create `{}`", self.dir.display()))?;
        self.write(ROOT_FILE, &trusted.root().bytes)?;
        if let Some(snapshot) = trusted.snapshot() {
            self.write(SNAPSHOT_FILE, &snapshot.bytes)?;
        }
        if let Some(timestamp) = trusted.timestamp() {
            self.write(TIMESTAMP_FILE, &timestamp.bytes)?;
        }
        Ok(())
    }

    /// Replaces `name` with `bytes` by an atomic rename, unless it holds them already; a
    /// `timestamp.json` left as it was has its modification time set to now, the moment
    /// it was last verified (what `--offline` reports). Not synced: a power cut can only
    /// lose the newest verification, and the one before it is still a valid floor.
    fn write(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = self.dir.join(name);
        let unchanged = std::fs::metadata(&path).is_ok_and(|m| m.len() == bytes.len() as u64)
            && std::fs::read(&path).is_ok_and(|old| old == bytes);
        if unchanged {
            if name == TIMESTAMP_FILE {
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_modified(SystemTime::now()))
                    .with_context(|| format!("cannot touch `{}`", path.display()))?;
            }
            return Ok(());
        }
        let mut tmp = tempfile::NamedTempFile::new_in(&self.dir)
            .with_context(|| format!("cannot write in `{}`", self.dir.display()))?;
        std::io::Write::write_all(&mut tmp, bytes)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        tmp.persist(&path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        Ok(())
    }

    /// A refused document, said with the attack it looks like and what to do.
    pub(crate) fn refused(&self, error: MetadataError) -> anyhow::Error {
        let url = &self.url;
        let advice = match &error {
            MetadataError::Rollback { .. } => format!(
                "an older copy is being served than this home already verified (a rollback attack), or the registry lost data. Nothing was changed. If the operator of {url} restored it from a backup, delete `{}` to trust it afresh",
                self.dir.display()
            ),
            MetadataError::Expired { .. } => format!(
                "{url} is not refreshing its signed metadata, or something between you and it replays an old copy (a freeze attack). Nothing was changed. Tell its operator; `--offline` works from the metadata verified before"
            ),
            MetadataError::Unsigned { .. } | MetadataError::WrongType { .. } => format!(
                "it is not signed by the keys the registry's trusted root names. Nothing was changed. If {url} really rotated its keys, its operator publishes the next `N.root.json`"
            ),
            MetadataError::Mismatch { .. }
            | MetadataError::WrongVersion { .. }
            | MetadataError::Dropped { .. } => format!(
                "it is not what the signed metadata of {url} lists (files from different moments, or tampered with). Nothing was changed; try again, and tell the registry's operator if it persists"
            ),
            MetadataError::Malformed { .. } | MetadataError::NotLoaded(_) => {
                format!("{url} does not serve valid signed metadata. Nothing was changed")
            }
        };
        anyhow::anyhow!("{error}: {advice}")
    }
}

/// The answer of a request made on another thread of the scope.
fn joined<T>(handle: std::thread::ScopedJoinHandle<'_, anyhow::Result<T>>) -> anyhow::Result<T> {
    handle
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("a metadata request stopped unexpectedly")))
}

/// `3h`, `12m`, `40s`: an age for people.
fn rounded(age: Duration) -> String {
    let secs = age.as_secs();
    match secs {
        0..=119 => format!("{secs}s"),
        120..=7199 => format!("{}m", secs / 60),
        7200..=172_799 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86_400),
    }
}
