//! Packs from archive files rather than a registry: `pack install ./ID-VERSION.mbpack`.
//!
//! A local archive is verified as a download is, before anything is resolved: its size is
//! bounded by what a registry accepts, its SHA-256 computed, its contents checked as an
//! install checks them (entries, manifest, weights), and the `.sig` beside it (written by
//! `pack build`) must sign exactly this id, version and checksum with a key the home accepts
//! ([`super::signer`]). Without a `.sig` it is refused unless `--allow-unsigned`.
//!
//! The lock remembers where such a pack came from (`source = "file:///…"`), and every later
//! resolution offers it again at its version ([`locked`]), so a pack that no registry
//! publishes never breaks `pack install`, `pack update` or `--offline`.

use std::collections::BTreeMap;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use modularbase_pack::{
    ARCHIVE_EXTENSION, ArchiveLimits, IndexRecord, MANIFEST_FILE, Manifest, PackId, PackRef,
    PackSignature, PublicKey, PublishMetadata, Sha256Digest, SigningKey, inspect_archive,
    sha256_file,
};

use super::plan::MAX_ARCHIVE_BYTES;
use crate::home::{Home, Lock};
use crate::ops::sign::signature_path;
use crate::resolve::IndexSource;

/// The largest `.sig` file read: its JSON holds an id, a version and three short base64
/// strings, well under a kilobyte.
const MAX_SIGNATURE_BYTES: u64 = 4096;

/// A pack installed (or to be installed) from an archive file.
#[derive(Debug, Clone)]
pub struct LocalPack {
    /// What the resolver sees: the record of the archive's manifest, checksum and size.
    /// Its `sig` and `key` are placeholders the install never reads; [`Self::signer`] is
    /// the truth.
    pub record: IndexRecord,
    /// The key whose signature was verified; `None` for an unsigned archive.
    pub signer: Option<PublicKey>,
    /// Where it came from, `file:///…`, as the lock records it.
    pub source: String,
    /// The verified archive given on this command line; `None` for a pack the lock already
    /// holds (its archive is in the archive cache).
    pub file: Option<PathBuf>,
}

/// Opens and verifies the archive at `path`: size, checksum, contents and the signature
/// beside it (or its absence, accepted only with `allow_unsigned`). Nothing is written.
pub(super) fn open(path: &Path, allow_unsigned: bool) -> anyhow::Result<LocalPack> {
    let shown = path.display();
    let path = path.canonicalize().with_context(|| {
        format!("cannot open the archive `{shown}` (a local pack is the path of an `.{ARCHIVE_EXTENSION}` file, as `pack build` writes it)")
    })?;
    let meta = std::fs::metadata(&path).with_context(|| format!("cannot read `{shown}`"))?;
    if !meta.is_file() {
        bail!("`{shown}` is not a file; give the path of an `.{ARCHIVE_EXTENSION}` archive");
    }
    if meta.len() > MAX_ARCHIVE_BYTES {
        bail!(
            "`{shown}` is {} bytes, more than the {MAX_ARCHIVE_BYTES} a registry accepts; refused",
            meta.len()
        );
    }
    let (cksum, size) = sha256_file(&path).with_context(|| format!("cannot read `{shown}`"))?;
    if size != meta.len() {
        bail!("`{shown}` changed while it was read; nothing was installed");
    }
    let file = std::fs::File::open(&path).with_context(|| format!("cannot open `{shown}`"))?;
    // Bounded by the size checked above, whatever the file grows to meanwhile.
    let contents = inspect_archive(
        BufReader::new(file.take(size)),
        &ArchiveLimits::default(),
        expected_by_name(&path).as_ref(),
    )
    .with_context(|| format!("the archive `{shown}` is refused; nothing was installed"))?;
    let manifest = contents.manifest;
    let what = format!("{}@{}", manifest.id, manifest.version);
    let signed = match read_signature(&path)? {
        Some(metadata) => {
            check_metadata(&metadata, &manifest, &cksum, &path)?;
            Some(metadata)
        }
        None if allow_unsigned => None,
        None => bail!(
            "`{shown}` ({what}) is not signed: there is no `{}` beside it; nothing was installed\nhelp: `modularbase pack build --path DIR --key NAME` writes the archive and its signature beside it; to install it unsigned anyway, pass `--allow-unsigned`",
            signature_path(&path).display()
        ),
    };
    let (sig, key) = signed
        .as_ref()
        .map_or_else(|| placeholder(&manifest, &cksum), |m| (m.sig, m.key));
    let record = IndexRecord::new(&manifest, cksum, sig, key, size);
    let signer = signed.map(|m| m.key);
    Ok(LocalPack {
        record,
        signer,
        source: file_url(&path),
        file: Some(path),
    })
}

/// Every pack the lock says came from an archive file, offered again at its locked version:
/// its record is rebuilt from the installed manifest, else from the cached archive.
pub(super) fn locked(home: &Home, lock: &Lock) -> anyhow::Result<BTreeMap<PackId, LocalPack>> {
    let mut out = BTreeMap::new();
    for pack in lock.packs.iter().filter(|p| p.source.is_some()) {
        let installed = home.pack_dir(&pack.id, &pack.version).join(MANIFEST_FILE);
        let manifest = match Manifest::load(&installed) {
            Ok(m) if m.id == pack.id && m.version == pack.version => m,
            _ => {
                let cached = home.cached_archive(&pack.cksum);
                let file = std::fs::File::open(&cached).with_context(|| {
                    format!(
                        "{}@{} was installed from `{}`, but neither its directory nor its cached archive is readable; install that archive again (`modularbase pack install PATH`) or remove the pack",
                        pack.id,
                        pack.version,
                        pack.source.as_deref().unwrap_or_default()
                    )
                })?;
                let expected = PackRef {
                    id: pack.id.clone(),
                    version: pack.version.clone(),
                };
                inspect_archive(
                    BufReader::new(file.take(MAX_ARCHIVE_BYTES)),
                    &ArchiveLimits::default(),
                    Some(&expected),
                )
                .with_context(|| format!("the cached archive `{}` is refused", cached.display()))?
                .manifest
            }
        };
        let (sig, key) = placeholder(&manifest, &pack.cksum);
        let record = IndexRecord::new(
            &manifest,
            pack.cksum,
            sig,
            pack.key.unwrap_or(key),
            pack.size,
        );
        out.insert(
            pack.id.clone(),
            LocalPack {
                record,
                signer: pack.key,
                source: pack.source.clone().unwrap_or_default(),
                file: None,
            },
        );
    }
    Ok(out)
}

/// The pack an archive named `ID-VERSION.mbpack` must hold; `None` for other names.
fn expected_by_name(path: &Path) -> Option<PackRef> {
    let name = path.file_name()?.to_str()?;
    let stem = name.strip_suffix(&format!(".{ARCHIVE_EXTENSION}"))?;
    let (id, version) = stem.split_once('-')?;
    Some(PackRef {
        id: id.parse().ok()?,
        version: version.parse().ok()?,
    })
}

/// The `.sig` beside `archive`, read bounded; `None` when there is none.
fn read_signature(archive: &Path) -> anyhow::Result<Option<PublishMetadata>> {
    let path = signature_path(archive);
    let shown = path.display();
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot open `{shown}`"))),
    };
    let mut bytes = Vec::new();
    file.take(MAX_SIGNATURE_BYTES + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read `{shown}`"))?;
    if bytes.len() as u64 > MAX_SIGNATURE_BYTES {
        bail!(
            "the signature file `{shown}` is over {MAX_SIGNATURE_BYTES} bytes; a signature is a few hundred; nothing was installed"
        );
    }
    let metadata = serde_json::from_slice(&bytes).with_context(|| {
        format!("`{shown}` is not a signature file (JSON with id, vers, cksum, sig and key, as `pack build` writes); nothing was installed")
    })?;
    Ok(Some(metadata))
}

/// Refuses a `.sig` that does not sign exactly this archive.
fn check_metadata(
    metadata: &PublishMetadata,
    manifest: &Manifest,
    cksum: &Sha256Digest,
    archive: &Path,
) -> anyhow::Result<()> {
    let sig = signature_path(archive);
    let shown = sig.display();
    if metadata.id != manifest.id || metadata.vers != manifest.version {
        bail!(
            "`{shown}` signs {}@{}, but the archive holds {}@{}; nothing was installed",
            metadata.id,
            metadata.vers,
            manifest.id,
            manifest.version
        );
    }
    if metadata.cksum != *cksum {
        bail!(
            "`{shown}` signs checksum {}, but the archive's is {cksum}: the archive is not the one that was signed; nothing was installed",
            metadata.cksum
        );
    }
    metadata
        .key
        .verify_pack(&manifest.id, &manifest.version, cksum, &metadata.sig)
        .with_context(|| format!("`{shown}` does not verify; nothing was installed"))?;
    Ok(())
}

/// A signature and key to fill the record's fields for a pack whose real signer (or its
/// absence) is held beside the record; never verified, never pinned, never locked.
fn placeholder(manifest: &Manifest, cksum: &Sha256Digest) -> (PackSignature, PublicKey) {
    let key = SigningKey::from_seed([0; 32]);
    (
        key.sign_pack(&manifest.id, &manifest.version, cksum),
        key.public_key(),
    )
}

/// `file:///abs/path` for an absolute path.
fn file_url(path: &Path) -> String {
    let text = path.to_string_lossy();
    if text.starts_with('/') {
        format!("file://{text}")
    } else {
        format!("file:///{}", text.replace('\\', "/"))
    }
}

/// Refuses a local archive whose id and version the registry publishes with other bytes: a
/// version names one archive, everywhere. Offline, an index the cache lacks is not asked.
pub(super) fn check_published<S: IndexSource>(
    index: &S,
    pack: &LocalPack,
    offline: bool,
) -> anyhow::Result<()> {
    let local = &pack.record;
    let published = match index.records(&local.id) {
        Ok(records) => records,
        Err(_) if offline => return Ok(()),
        Err(e) => {
            return Err(e.context(format!(
                "cannot check whether the registry publishes {}@{} (pass --offline to install `{}` without asking it)",
                local.id, local.vers, pack.source
            )));
        }
    };
    if let Some(other) = published
        .iter()
        .find(|r| r.vers == local.vers && r.cksum != local.cksum)
    {
        bail!(
            "`{}` holds {}@{} with SHA-256 {}, but the registry publishes {}@{} with SHA-256 {}: it is not the published archive, and a version names one archive only; nothing was installed\nhelp: build it under a new version, or install the published one with `modularbase pack install {}@={}`",
            pack.source,
            local.id,
            local.vers,
            local.cksum,
            other.id,
            other.vers,
            other.cksum,
            local.id,
            local.vers
        );
    }
    Ok(())
}
