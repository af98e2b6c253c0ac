//! The user's ModularBase home (DESIGN §4): `$MODULARBASE_HOME`, by default `~/.modularbase`.
//! [`Home`] owns every file in it; nothing else builds a path inside the home:
//!
//! ```text
//! config.toml         settings (default registry, [net] bounds)
//! credentials.toml    tokens by registry (0600)
//! modularbase.toml    what was asked for          ┐ replaced together by one
//! modularbase.lock    what is installed           │ HomeTransaction (transaction.rs)
//! trusted-keys.toml   the key pinned for each pack┘
//! keys/               the user's signing keys
//! packs/ID/VERSION/   installed packs, each with a `.installed` marker written last
//! cache/archives/     verified archives by checksum; cache/index/HOST/ the sparse index
//! trust/HOST/         the registry's root, timestamp and snapshot last verified
//! .trust.lock         taken while one process checks and stores registry metadata
//! .staging-*/ .trash/ an install's unpacked packs and retired ones (recovery.rs)
//! .home.lock          the home lock (guard.rs); .transaction.toml a commit in progress
//! ```

mod files;
mod guard;
mod marker;
mod recovery;
mod transaction;
mod verify;

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use modularbase_pack::{PackId, Sha256Digest};
use serde::{Deserialize, Serialize};

pub use files::{
    CONFIG_KEYS, Config, Credentials, Lock, LockedPack, NetConfig, RegistryCredential, Requests,
    TrustedKeys,
};
pub use guard::HomeGuard;
pub use transaction::{HomeTransaction, StagedPack};
pub(crate) use verify::{ArchiveCheck, FilesCheck};

/// Where the home is, and the files in it.
#[derive(Debug, Clone)]
pub struct Home {
    root: PathBuf,
    /// Whether `MODULARBASE_REGISTRY` / `MODULARBASE_TOKEN` may override this home's files.
    environment: bool,
}

impl Home {
    /// `$MODULARBASE_HOME`, else `$HOME/.modularbase`.
    pub fn locate() -> anyhow::Result<Self> {
        if let Some(dir) = std::env::var_os("MODULARBASE_HOME").filter(|d| !d.is_empty()) {
            return Ok(Self::at(dir));
        }
        let home = std::env::var_os("HOME").filter(|d| !d.is_empty()).context(
            "cannot find the ModularBase home: neither MODULARBASE_HOME nor HOME is set",
        )?;
        Ok(Self::at(PathBuf::from(home).join(".modularbase")))
    }

    /// The home at `root`, whatever the environment says (the demo's temporary home).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            environment: true,
        }
    }

    /// A home whose registry and token come from its own files only, whatever the user's
    /// environment says (the demo's temporary home talks to its own registry).
    pub fn sealed(root: impl Into<PathBuf>) -> Self {
        Self {
            environment: false,
            ..Self::at(root)
        }
    }

    /// Whether the environment's variables apply to this home.
    pub fn reads_environment(&self) -> bool {
        self.environment
    }

    /// The home directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `keys/`: the user's signing keys.
    pub fn keys_dir(&self) -> PathBuf {
        self.root.join("keys")
    }

    /// `keys/NAME.key`: the private half of signing key `name` (0600).
    pub fn private_key_path(&self, name: &str) -> PathBuf {
        self.keys_dir().join(format!("{name}.key"))
    }

    /// `keys/NAME.pub`: the public half of signing key `name`.
    pub fn public_key_path(&self, name: &str) -> PathBuf {
        self.keys_dir().join(format!("{name}.pub"))
    }

    /// Where an installed pack lives.
    pub fn pack_dir(&self, id: &PackId, version: &semver::Version) -> PathBuf {
        self.packs_dir().join(id.as_str()).join(version.to_string())
    }

    fn packs_dir(&self) -> PathBuf {
        self.root.join("packs")
    }

    /// `cache/archives/`: verified archives named by checksum.
    pub fn archive_cache(&self) -> PathBuf {
        self.root.join("cache").join("archives")
    }

    /// The cached archive with checksum `cksum`.
    pub fn cached_archive(&self, cksum: &Sha256Digest) -> PathBuf {
        self.archive_cache().join(format!("{cksum}.mbpack"))
    }

    /// A new temporary download file in the archive cache (removed by recovery if left).
    pub fn download_file(&self) -> anyhow::Result<tempfile::NamedTempFile> {
        let dir = self.archive_cache();
        self.ensure_dir(&dir)?;
        tempfile::Builder::new()
            .prefix(recovery::DOWNLOAD_PREFIX)
            .tempfile_in(&dir)
            .with_context(|| format!("cannot write in the archive cache `{}`", dir.display()))
    }

    /// `cache/index/HOST/`: the sparse index of the registry at `url`.
    pub fn index_cache(&self, url: &str) -> PathBuf {
        self.root.join("cache").join("index").join(host_dir(url))
    }

    /// `trust/HOST/`: the registry metadata this home verified last for the registry at
    /// `url` (root, timestamp, snapshot): the floor newer metadata is held to. Not a cache:
    /// removing it trusts the registry afresh.
    pub fn metadata_dir(&self, url: &str) -> PathBuf {
        self.root.join("trust").join(host_dir(url))
    }

    /// `.trust.lock`: what processes checking registry metadata take turns on (outside
    /// `trust/`, so a refused first check leaves no `trust/` behind).
    pub fn metadata_lock_path(&self) -> PathBuf {
        self.root.join(".trust.lock")
    }

    /// A new staging directory for one install (removed by recovery if left).
    pub fn staging_dir(&self) -> anyhow::Result<tempfile::TempDir> {
        self.ensure_dir(&self.root)?;
        tempfile::Builder::new()
            .prefix(recovery::STAGING_PREFIX)
            .tempdir_in(&self.root)
            .with_context(|| format!("cannot write in `{}`", self.root.display()))
    }

    /// `modularbase.toml`'s path, for messages.
    pub fn requests_path(&self) -> PathBuf {
        self.root.join(REQUESTS_FILE)
    }

    /// `modularbase.lock`'s path, for messages.
    pub fn lock_path(&self) -> PathBuf {
        self.root.join(LOCK_FILE)
    }

    /// `credentials.toml`'s path, for messages.
    pub fn credentials_path(&self) -> PathBuf {
        self.root.join(CREDENTIALS_FILE)
    }

    /// What was asked for (nothing before the first install).
    pub fn requests(&self) -> anyhow::Result<Requests> {
        self.read_toml(REQUESTS_FILE)
    }

    /// The installed set (empty before the first install).
    pub fn lock(&self) -> anyhow::Result<Lock> {
        self.read_toml(LOCK_FILE)
    }

    /// The key pinned for each pack.
    pub fn trusted_keys(&self) -> anyhow::Result<TrustedKeys> {
        self.read_toml(TRUSTED_KEYS_FILE)
    }

    /// Writes the marker of a staged pack directory, last: the digest of its files.
    pub fn seal(&self, dir: &Path) -> anyhow::Result<Sha256Digest> {
        marker::write_marker(dir)
    }

    /// Whether the directory of `pack` is whole: its marker, written last, holds the digest
    /// the lock records, and every file it lists is there.
    pub fn is_intact(&self, pack: &LockedPack) -> bool {
        pack.files
            .as_ref()
            .is_some_and(|files| marker::is_whole(&self.pack_dir(&pack.id, &pack.version), files))
    }

    /// Creates `dir` (inside the home) if needed.
    pub fn ensure_dir(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))
    }

    /// Syncs the home directory itself, so that renames in it survive a power cut.
    fn sync_root(&self) -> anyhow::Result<()> {
        sync_dir(&self.root)
    }

    fn read_toml<T: for<'de> Deserialize<'de> + Default>(&self, name: &str) -> anyhow::Result<T> {
        let path = self.root.join(name);
        match read_bounded(&path, MAX_HOME_FILE_BYTES)? {
            Some(text) => {
                toml::from_str(&text).with_context(|| format!("`{}` is not valid", path.display()))
            }
            None => Ok(T::default()),
        }
    }

    /// Replaces `name` atomically with `value` as TOML; the file is created 0600.
    fn write_toml<T: Serialize>(&self, name: &str, value: &T) -> anyhow::Result<()> {
        let text = toml::to_string(value).context("cannot serialise the settings")?;
        self.write_text(name, &text)
    }

    /// Replaces `name` atomically with `text` (written, synced, renamed); created 0600.
    fn write_text(&self, name: &str, text: &str) -> anyhow::Result<()> {
        self.ensure_dir(&self.root)?;
        let path = self.root.join(name);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.root)
            .with_context(|| format!("cannot write in `{}`", self.root.display()))?;
        tmp.write_all(text.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        tmp.persist(&path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        Ok(())
    }

    fn remove_file(&self, name: &str) -> anyhow::Result<()> {
        let path = self.root.join(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(e).with_context(|| format!("cannot remove `{}`", path.display()))
            }
            _ => Ok(()),
        }
    }

    /// The user's settings (defaults when there is no `config.toml`).
    pub fn config(&self) -> anyhow::Result<Config> {
        self.read_toml(CONFIG_FILE)
    }

    /// Saves the settings.
    pub fn save_config(&self, config: &Config) -> anyhow::Result<()> {
        self.write_toml(CONFIG_FILE, config)
    }

    /// The stored tokens.
    pub fn credentials(&self) -> anyhow::Result<Credentials> {
        self.read_toml(CREDENTIALS_FILE)
    }

    /// Saves the tokens (mode 0600: only the user can read them).
    pub fn save_credentials(&self, credentials: &Credentials) -> anyhow::Result<()> {
        self.write_toml(CREDENTIALS_FILE, credentials)
    }

    /// The registry to talk to and its token: `--registry`, else `MODULARBASE_REGISTRY`, else
    /// the configured default; the token from `MODULARBASE_TOKEN`, else `credentials.toml`.
    pub fn registry(&self, flag: Option<&str>) -> anyhow::Result<(String, Option<String>)> {
        self.registry_or(flag, None)
    }

    /// [`Home::registry`] with `remembered` (the registry the lock's packs came from) tried
    /// before the configured default.
    pub fn registry_or(
        &self,
        flag: Option<&str>,
        remembered: Option<&str>,
    ) -> anyhow::Result<(String, Option<String>)> {
        let env = |name: &str| {
            std::env::var(name)
                .ok()
                .filter(|v| self.environment && !v.is_empty())
        };
        let from_env = env("MODULARBASE_REGISTRY");
        let url = match flag
            .map(str::to_owned)
            .or(from_env)
            .or(remembered.map(str::to_owned))
            .or(self.config()?.default_registry)
        {
            Some(url) => normalise_url(&url)?,
            None => bail!(
                "no registry given: pass `--registry URL`, set MODULARBASE_REGISTRY, or `modularbase config set registry URL` once"
            ),
        };
        let token = match env("MODULARBASE_TOKEN") {
            Some(token) => Some(token),
            None => self
                .credentials()?
                .registries
                .get(&url)
                .map(|c| c.token.clone()),
        };
        Ok((url, token))
    }
}

/// The largest settings, requests, lock, keys or journal file read (a lock of 10 000 packs
/// is about 5 MiB).
const MAX_HOME_FILE_BYTES: u64 = 16 << 20;

/// The text of `path`, `None` when it does not exist; refused when larger than `limit`
/// bytes, before more than that is read.
pub(crate) fn read_bounded(path: &Path, limit: u64) -> anyhow::Result<Option<String>> {
    let Some(bytes) = read_bounded_bytes(path, limit)? else {
        return Ok(None);
    };
    String::from_utf8(bytes)
        .map(Some)
        .with_context(|| format!("`{}` is not UTF-8 text", path.display()))
}

/// The bytes of `path`, `None` when it does not exist; refused when larger than `limit`
/// bytes, before more than that is read.
pub(crate) fn read_bounded_bytes(path: &Path, limit: u64) -> anyhow::Result<Option<Vec<u8>>> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, limit + 1), &mut bytes)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    if bytes.len() as u64 > limit {
        bail!(
            "`{}` is larger than {limit} bytes; it was not written by modularbase — move it away",
            path.display()
        );
    }
    Ok(Some(bytes))
}

const CONFIG_FILE: &str = "config.toml";
const CREDENTIALS_FILE: &str = "credentials.toml";
const REQUESTS_FILE: &str = "modularbase.toml";
const LOCK_FILE: &str = "modularbase.lock";
const TRUSTED_KEYS_FILE: &str = "trusted-keys.toml";

/// The directory name of the registry at `url`: `http_127.0.0.1_7878`.
fn host_dir(url: &str) -> String {
    url.replace("://", "_").replace(['/', ':'], "_")
}

/// Flushes a directory's entries (renames, creations) to disk.
fn sync_dir(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync `{}`", dir.display()))
}

/// `http(s)://host[:port][/path]` without a trailing slash.
pub(crate) fn normalise_url(url: &str) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() <= "https://".len()
    {
        bail!("`{url}` is not a registry URL; it starts with http:// or https://");
    }
    Ok(url.to_owned())
}
