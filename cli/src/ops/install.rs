//! Installing a resolved set: download each archive into the cache, verify its checksum,
//! its signature and the pack's pinned key (trust on first use) before anything is
//! unpacked, unpack into `packs/ID/VERSION/` (staged and renamed by the pack crate), then
//! replace the lock atomically. A failure leaves the installed packs and the lock as they
//! were; archives already verified stay in the cache.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use modularbase_pack::gguf::{GgufHeader, GgufLimits};
use modularbase_pack::{
    ArchiveLimits, BaseShape, IndexRecord, MANIFEST_FILE, Manifest, PackId, PackRef, PublicKey,
    WEIGHTS_FILE, WeightsShape, sha256_file, unpack_archive,
};
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::client::RegistryClient;
use crate::home::Home;
use crate::resolve::Resolution;

/// `modularbase.lock`: what is installed, with checksums and signing keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// One entry per installed pack.
    #[serde(default, rename = "pack")]
    pub packs: Vec<LockedPack>,
}

/// One installed pack.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockedPack {
    /// Its id.
    pub id: PackId,
    /// Its version.
    pub version: semver::Version,
    /// base, router or domain.
    pub kind: modularbase_pack::PackKind,
    /// SHA-256 of its archive.
    pub cksum: modularbase_pack::Sha256Digest,
    /// The key that signed it.
    pub key: PublicKey,
    /// Archive size.
    pub size: u64,
}

/// `trusted-keys.toml`: the key first seen for each pack (trust on first use).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct TrustedKeys {
    #[serde(default)]
    keys: BTreeMap<PackId, PublicKey>,
}

impl Home {
    fn lock_path(&self) -> PathBuf {
        self.root().join("modularbase.lock")
    }

    /// The installed set (empty before the first install).
    pub fn lock(&self) -> anyhow::Result<Lock> {
        let path = self.lock_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .with_context(|| format!("`{}` is not a valid lock", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Lock::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read `{}`", path.display())),
        }
    }

    /// Where an installed pack lives.
    pub fn pack_dir(&self, id: &PackId, version: &semver::Version) -> PathBuf {
        self.root()
            .join("packs")
            .join(id.as_str())
            .join(version.to_string())
    }

    fn trusted_keys(&self) -> anyhow::Result<TrustedKeys> {
        let path = self.root().join("trusted-keys.toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str(&text).with_context(|| format!("`{}` is not valid", path.display()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TrustedKeys::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read `{}`", path.display())),
        }
    }

    /// Saves `modularbase.toml` (what the user asked for).
    pub fn write_requests(&self, text: &str) -> anyhow::Result<()> {
        self.write_atomically("modularbase.toml", text)
    }

    fn write_atomically(&self, name: &str, text: &str) -> anyhow::Result<()> {
        self.ensure_dir(self.root())?;
        let path = self.root().join(name);
        let mut tmp = tempfile::NamedTempFile::new_in(self.root())
            .with_context(|| format!("cannot write in `{}`", self.root().display()))?;
        tmp.write_all(text.as_bytes())
            .and_then(|()| tmp.as_file().sync_all())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        tmp.persist(&path)
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        Ok(())
    }
}

/// Downloads `record`'s archive into the cache (unless there already) and verifies its
/// checksum and signature; returns the cached archive's path.
fn fetch_verified(
    home: &Home,
    client: &RegistryClient,
    record: &IndexRecord,
    offline: bool,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<PathBuf> {
    let dir = home.root().join("cache").join("archives");
    home.ensure_dir(&dir)?;
    let path = dir.join(format!("{}.mbpack", record.cksum));
    if !path.exists() && offline {
        bail!(
            "{}@{} is not in the archive cache; run once without --offline",
            record.id,
            record.vers
        );
    }
    if path.exists() {
        // A cached archive is checked again: the cache is trusted by content only.
        let (digest, _) =
            sha256_file(&path).with_context(|| format!("cannot read `{}`", path.display()))?;
        if digest != record.cksum {
            bail!(
                "the cached archive `{}` does not match its checksum; delete it and install again",
                path.display()
            );
        }
    } else {
        let mut response = client
            .request(
                Method::GET,
                &format!("/api/v1/packs/{}/{}/download", record.id, record.vers),
                false,
            )?
            .send()
            .with_context(|| format!("cannot download {}@{}", record.id, record.vers))?;
        if !response.status().is_success() {
            bail!(
                "the registry answered {} for the archive of {}@{}",
                response.status(),
                record.id,
                record.vers
            );
        }
        let tmp =
            tempfile::NamedTempFile::new_in(&dir).context("cannot write in the archive cache")?;
        response
            .copy_to(&mut progress.wrap_write(tmp.as_file()))
            .with_context(|| format!("the download of {}@{} broke off", record.id, record.vers))?;
        tmp.as_file()
            .sync_all()
            .context("cannot write the archive")?;
        let (digest, _) = sha256_file(tmp.path()).context("cannot read the downloaded archive")?;
        if digest != record.cksum {
            bail!(
                "the archive of {}@{} has SHA-256 {digest} but the index says {}; it was corrupted or tampered with, nothing was installed",
                record.id,
                record.vers,
                record.cksum
            );
        }
        tmp.persist(&path)
            .context("cannot store the archive in the cache")?;
    }
    record
        .key
        .verify_pack(&record.id, &record.vers, &record.cksum, &record.sig)
        .with_context(|| {
            format!(
                "{}@{} is not signed by the key the index names; nothing was installed",
                record.id, record.vers
            )
        })?;
    Ok(path)
}

/// Installs `resolution`: every archive verified first, then unpacked, then the lock;
/// `offline` uses the archive cache alone.
pub fn install(
    home: &Home,
    client: &RegistryClient,
    resolution: &Resolution,
    offline: bool,
) -> anyhow::Result<Lock> {
    let mut trusted = home.trusted_keys()?;
    for record in resolution.packs.values() {
        if let Some(pinned) = trusted.keys.get(&record.id).filter(|k| **k != record.key) {
            bail!(
                "{}@{} is signed by key {} but this home trusts key {} for `{}`; if the publisher really changed keys, run `modularbase key trust {}`",
                record.id,
                record.vers,
                record.key.fingerprint(),
                pinned.fingerprint(),
                record.id,
                record.id
            );
        }
    }
    // Download in parallel and verify everything before unpacking anything.
    let total: u64 = resolution.packs.values().map(|r| r.size).sum();
    let progress = indicatif::ProgressBar::new(total);
    progress.set_style(
        indicatif::ProgressStyle::with_template(
            "  downloading {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let fetched: Vec<anyhow::Result<(PathBuf, &IndexRecord)>> = std::thread::scope(|scope| {
        let progress = &progress;
        let workers: Vec<_> = resolution
            .packs
            .values()
            .map(|record| {
                scope.spawn(move || {
                    fetch_verified(home, client, record, offline, progress)
                        .map(|path| (path, record))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| {
                w.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a download stopped unexpectedly")))
            })
            .collect()
    });
    progress.finish_and_clear();
    let archives: Vec<(PathBuf, &IndexRecord)> =
        fetched.into_iter().collect::<anyhow::Result<_>>()?;
    for (archive, record) in &archives {
        let target = home.pack_dir(&record.id, &record.vers);
        if target.exists() {
            continue;
        }
        home.ensure_dir(target.parent().unwrap_or(home.root()))?;
        let file = std::fs::File::open(archive)
            .with_context(|| format!("cannot open `{}`", archive.display()))?;
        let expected = PackRef {
            id: record.id.clone(),
            version: record.vers.clone(),
        };
        unpack_archive(
            std::io::BufReader::new(file),
            &target,
            &ArchiveLimits::default(),
            &expected,
        )
        .with_context(|| format!("cannot install {}@{}", record.id, record.vers))?;
    }
    check_shapes(home, resolution)?;
    for record in resolution.packs.values() {
        trusted.keys.entry(record.id.clone()).or_insert(record.key);
    }
    home.write_atomically(
        "trusted-keys.toml",
        &toml::to_string(&trusted).context("cannot serialise the trusted keys")?,
    )?;
    let lock = Lock {
        packs: resolution
            .packs
            .values()
            .map(|r| LockedPack {
                id: r.id.clone(),
                version: r.vers.clone(),
                kind: r.kind,
                cksum: r.cksum,
                key: r.key,
                size: r.size,
            })
            .collect(),
    };
    // The lock is replaced last: until then the previous install is what counts.
    home.write_atomically(
        "modularbase.lock",
        &toml::to_string(&lock).context("cannot serialise the lock")?,
    )?;
    Ok(lock)
}

/// Every resolved pack's weights checked as installed (packs unpacked by an earlier install
/// included), and every domain pack made for the resolved base fits it: hidden width and
/// insertion layer. Runs before the lock changes, so a set that cannot run is never locked.
fn check_shapes(home: &Home, resolution: &Resolution) -> anyhow::Result<()> {
    let mut base: Option<(&IndexRecord, BaseShape)> = None;
    let mut domains = Vec::new();
    for record in resolution.packs.values() {
        let dir = home.pack_dir(&record.id, &record.vers);
        let manifest = Manifest::load(&dir.join(MANIFEST_FILE))?;
        let weights = dir.join(WEIGHTS_FILE);
        let shape = GgufHeader::open(&weights, &GgufLimits::default())
            .map_err(anyhow::Error::from)
            .and_then(|header| Ok(WeightsShape::check_pack(&manifest, &header)?))
            .with_context(|| {
                format!(
                    "the installed weights of {}@{} (`{}`) are refused",
                    record.id,
                    record.vers,
                    weights.display()
                )
            })?;
        match shape {
            WeightsShape::Base(b) => base = Some((record, b)),
            WeightsShape::Domain(d) => domains.push((record, manifest.base, d)),
            WeightsShape::Router(_) => {}
        }
    }
    let Some((base_record, base)) = base else {
        return Ok(());
    };
    for (record, family, shape) in domains {
        if family.as_ref() == Some(&base_record.id) {
            shape.check_fits_base(&base).with_context(|| {
                format!(
                    "{}@{} does not fit the base {}@{} it would run on",
                    record.id, record.vers, base_record.id, base_record.vers
                )
            })?;
        }
    }
    Ok(())
}

/// Accepts the key the index now names for `id` (after a publisher changed keys).
pub fn trust_key(home: &Home, id: &PackId, key: PublicKey) -> anyhow::Result<Option<PublicKey>> {
    let mut trusted = home.trusted_keys()?;
    let previous = trusted.keys.insert(id.clone(), key);
    home.write_atomically(
        "trusted-keys.toml",
        &toml::to_string(&trusted).context("cannot serialise the trusted keys")?,
    )?;
    Ok(previous)
}
