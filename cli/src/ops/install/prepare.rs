//! Stage 2: everything the plan needs fetched, verified and unpacked into staging, with
//! the home unchanged. Archives are downloaded in parallel into temporary files of the
//! archive cache and kept only once their checksum is the lock's (or the index's, for a
//! version not locked yet) and their size the one announced. A local archive, verified
//! already, is copied into the same cache by checksum instead, then staged the same way.

use std::collections::BTreeMap;
use std::io::{BufWriter, Read};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use modularbase_pack::gguf::{GgufHeader, GgufLimits};
use modularbase_pack::{
    ArchiveLimits, HashingWriter, IndexRecord, MANIFEST_FILE, Manifest, PackId, PackRef, PublicKey,
    WEIGHTS_FILE, WeightsShape, sha256_file, unpack_archive,
};

use super::local::LocalPack;
use super::plan::Plan;
use super::signer::{check_owner_keys, check_signer};
use super::verify::{Checked, check_record_matches, check_shapes};
use crate::client::RegistryClient;
use crate::home::{Home, Lock, LockedPack, StagedPack, TrustedKeys};
use crate::printer::Printer;

/// A verified, staged change, ready for [`super::apply`].
#[derive(Debug)]
pub struct Prepared {
    /// The plan it carries out.
    pub plan: Plan,
    /// The packs to move into place.
    pub staged: Vec<StagedPack>,
    /// The lock to commit.
    pub lock: Lock,
    /// The trusted keys to commit.
    pub trusted: TrustedKeys,
    /// The staging directory (removed when dropped).
    pub staging: Option<tempfile::TempDir>,
}

/// Fetches, verifies and stages what `plan` needs; `offline` uses the archive cache alone.
pub fn prepare(
    home: &Home,
    client: Option<&RegistryClient>,
    plan: Plan,
    offline: bool,
    printer: &Printer,
) -> anyhow::Result<Prepared> {
    let mut trusted = home.trusted_keys()?;
    for record in plan.resolution.packs.values() {
        let signer = signer_of(&plan, record);
        match (plan.owner_keys.get(&record.id), signer) {
            (Some(owners), signer) => {
                // Only what is installed now must be signed by a current owner's key; a
                // pack kept as installed stays.
                let installing = plan
                    .changes
                    .iter()
                    .any(|c| c.id == record.id && c.kind.needs_archive());
                let key = signer.as_ref().filter(|_| installing);
                check_owner_keys(&mut trusted, &record.id, &record.vers, key, owners, printer)?;
            }
            (None, Some(key)) => check_signer(&trusted, &record.id, &record.vers, &key)?,
            (None, None) => {}
        }
    }
    let needed: Vec<&IndexRecord> = plan
        .changes
        .iter()
        .filter(|c| c.kind.needs_archive())
        .filter_map(|c| plan.resolution.packs.get(&c.id))
        .collect();
    let staging = if needed.is_empty() {
        None
    } else {
        Some(home.staging_dir()?)
    };
    let mut staged = Vec::new();
    let mut packs = Vec::new();
    let mut checked: Vec<(PackRef, Option<PackId>, WeightsShape)> = Vec::new();
    if let Some(dir) = &staging {
        let target = Target {
            home,
            client,
            offline,
            staging: dir.path(),
            registry: plan.registry.as_deref(),
            locals: &plan.locals,
        };
        for (pack, entry, shape) in stage_all(&target, &needed, printer)? {
            checked.push((
                PackRef {
                    id: pack.id.clone(),
                    version: pack.version.clone(),
                },
                entry.base.clone(),
                shape,
            ));
            staged.push(pack);
            packs.push(entry);
        }
    }
    for change in plan.changes.iter().filter(|c| !c.kind.needs_archive()) {
        let Some(kept) = plan
            .before
            .get(&change.id)
            .filter(|_| plan.resolution.packs.contains_key(&change.id))
        else {
            continue;
        };
        let dir = home.pack_dir(&kept.id, &kept.version);
        let (manifest, shape) = read_installed(&dir).with_context(|| {
            format!(
                "the installed files of {}@{} (`{}`) are refused",
                kept.id,
                kept.version,
                dir.display()
            )
        })?;
        checked.push((
            PackRef {
                id: kept.id.clone(),
                version: kept.version.clone(),
            },
            manifest.base.clone(),
            shape,
        ));
        packs.push(kept.clone());
    }
    let set: Vec<Checked<'_>> = checked
        .iter()
        .map(|(pack, base, shape)| Checked {
            id: &pack.id,
            version: &pack.version,
            base: base.as_ref(),
            shape,
        })
        .collect();
    check_shapes(&set)?;
    for record in plan.resolution.packs.values() {
        if let Some(key) =
            signer_of(&plan, record).filter(|_| !plan.owner_keys.contains_key(&record.id))
        {
            trusted.keys.entry(record.id.clone()).or_insert(key);
        }
    }
    packs.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Prepared {
        plan,
        staged,
        lock: Lock { packs },
        trusted,
        staging,
    })
}

/// The key that signed `record`'s pack: the index's, or for a local archive the `.sig`'s
/// (`None` when it is unsigned).
fn signer_of(plan: &Plan, record: &IndexRecord) -> Option<PublicKey> {
    match plan.locals.get(&record.id) {
        Some(local) => local.signer,
        None => Some(record.key),
    }
}

fn pack_ref(record: &IndexRecord) -> PackRef {
    PackRef {
        id: record.id.clone(),
        version: record.vers.clone(),
    }
}

/// Unpacks a verified archive into `dir`, checks it against its record, and writes its
/// marker last; returns its lock entry and weights shape.
fn stage(
    home: &Home,
    record: &IndexRecord,
    archive: &Path,
    dir: &Path,
    from: Origin<'_>,
) -> anyhow::Result<(LockedPack, WeightsShape)> {
    let file = std::fs::File::open(archive)
        .with_context(|| format!("cannot open `{}`", archive.display()))?;
    let contents = unpack_archive(
        std::io::BufReader::new(file),
        dir,
        &ArchiveLimits::default(),
        &pack_ref(record),
    )
    .with_context(|| format!("cannot install {}@{}", record.id, record.vers))?;
    check_record_matches(record, &contents.manifest)?;
    let files = home.seal(dir)?;
    let manifest = contents.manifest;
    Ok((
        LockedPack {
            id: manifest.id,
            version: manifest.version,
            kind: manifest.kind,
            base: manifest.base,
            dependencies: manifest.dependencies,
            cksum: record.cksum,
            key: from.local.map_or(Some(record.key), |l| l.signer),
            size: record.size,
            files: Some(files),
            registry: match from.local {
                Some(_) => None,
                None => from.registry.map(str::to_owned),
            },
            source: from.local.map(|l| l.source.clone()),
        },
        contents.weights,
    ))
}

/// The manifest and checked weights shape of an installed pack.
fn read_installed(dir: &Path) -> anyhow::Result<(Manifest, WeightsShape)> {
    let manifest = Manifest::load(&dir.join(MANIFEST_FILE))?;
    let header = GgufHeader::open(&dir.join(WEIGHTS_FILE), &GgufLimits::default())?;
    let shape = WeightsShape::check_pack(&manifest, &header)?;
    Ok((manifest, shape))
}

/// Where and how the packs of one install are fetched and staged.
struct Target<'a> {
    home: &'a Home,
    client: Option<&'a RegistryClient>,
    offline: bool,
    staging: &'a Path,
    registry: Option<&'a str>,
    locals: &'a BTreeMap<PackId, LocalPack>,
}

/// Where one pack came from, as its lock entry records it.
#[derive(Clone, Copy)]
struct Origin<'a> {
    registry: Option<&'a str>,
    local: Option<&'a LocalPack>,
}

/// Every pack of `records` fetched, verified and staged, each on its own thread (a pack is
/// unpacked as soon as its download is checked, beside the others' downloads); in the
/// records' order.
fn stage_all(
    target: &Target<'_>,
    records: &[&IndexRecord],
    printer: &Printer,
) -> anyhow::Result<Vec<(StagedPack, LockedPack, WeightsShape)>> {
    let total: u64 = records.iter().map(|r| r.size).sum();
    let progress = printer.progress_bar(
        total,
        "  downloading {bar:30} {bytes}/{total_bytes} {bytes_per_sec}",
    );
    let done: Vec<anyhow::Result<_>> = std::thread::scope(|scope| {
        let progress = &progress;
        let workers: Vec<_> = records
            .iter()
            .map(|record| {
                scope.spawn(move || {
                    let local = target.locals.get(&record.id);
                    let archive = match (local, target.client) {
                        (Some(local), _) => cache_local(target.home, record, local)?,
                        (None, Some(client)) => {
                            fetch_verified(target.home, client, record, target.offline, progress)?
                        }
                        (None, None) => anyhow::bail!(
                            "{}@{} comes from a registry, but none is configured",
                            record.id,
                            record.vers
                        ),
                    };
                    let dir = target
                        .staging
                        .join(format!("{}-{}", record.id, record.vers));
                    let from = Origin {
                        registry: target.registry,
                        local,
                    };
                    let (entry, shape) = stage(target.home, record, &archive, &dir, from)?;
                    let pack = StagedPack {
                        dir,
                        id: record.id.clone(),
                        version: record.vers.clone(),
                    };
                    Ok((pack, entry, shape))
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
    done.into_iter().collect()
}

/// The cached archive of `record`: its signature verified first, then downloaded unless
/// the cache holds it whole, its checksum and size verified.
fn fetch_verified(
    home: &Home,
    client: &RegistryClient,
    record: &IndexRecord,
    offline: bool,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<PathBuf> {
    let what = format!("{}@{}", record.id, record.vers);
    record
        .key
        .verify_pack(&record.id, &record.vers, &record.cksum, &record.sig)
        .with_context(|| {
            format!("{what} is not signed by the key the index names; nothing was installed")
        })?;
    let path = home.cached_archive(&record.cksum);
    let cached = path.exists()
        && sha256_file(&path)
            .is_ok_and(|(digest, size)| digest == record.cksum && size == record.size);
    if !cached {
        if offline {
            bail!("{what} is not in the archive cache; run once without --offline");
        }
        let tmp = home.download_file()?;
        // Hashed as it is written: the download is read once, not again from disk.
        let mut out = HashingWriter::new(BufWriter::new(tmp.as_file()));
        client.download(&record.id, &record.vers, record.size, &mut out, progress)?;
        let (buffered, digest, _) = out.finish();
        buffered
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)
            .and_then(|file| file.sync_all())
            .with_context(|| format!("cannot write the archive of {what}"))?;
        if digest != record.cksum {
            bail!(
                "the archive of {what} has SHA-256 {digest} but the index says {}; it was corrupted or tampered with, nothing was installed",
                record.cksum
            );
        }
        tmp.persist(&path)
            .with_context(|| format!("cannot store the archive of {what} in the cache"))?;
    }
    Ok(path)
}

/// The cached archive of a local pack: the file given on the command line copied into the
/// archive cache by checksum (hashed again as it is copied), or for a pack locked before,
/// the copy already there.
fn cache_local(home: &Home, record: &IndexRecord, local: &LocalPack) -> anyhow::Result<PathBuf> {
    let what = format!("{}@{}", record.id, record.vers);
    let path = home.cached_archive(&record.cksum);
    let cached = path.exists()
        && sha256_file(&path)
            .is_ok_and(|(digest, size)| digest == record.cksum && size == record.size);
    if cached {
        return Ok(path);
    }
    let Some(file) = &local.file else {
        bail!(
            "{what} was installed from `{}` and its archive is no longer in the cache; install it again with `modularbase pack install PATH`",
            local.source
        );
    };
    let tmp = home.download_file()?;
    let mut out = HashingWriter::new(BufWriter::new(tmp.as_file()));
    let input =
        std::fs::File::open(file).with_context(|| format!("cannot open `{}`", file.display()))?;
    std::io::copy(&mut input.take(record.size + 1), &mut out)
        .with_context(|| format!("cannot copy `{}` into the archive cache", file.display()))?;
    let (buffered, digest, size) = out.finish();
    buffered
        .into_inner()
        .map_err(std::io::IntoInnerError::into_error)
        .and_then(|file| file.sync_all())
        .with_context(|| format!("cannot write the archive of {what}"))?;
    if digest != record.cksum || size != record.size {
        bail!(
            "`{}` changed after it was verified (SHA-256 {digest}, {size} bytes; verified {}, {} bytes); nothing was installed",
            file.display(),
            record.cksum,
            record.size
        );
    }
    tmp.persist(&path)
        .with_context(|| format!("cannot store the archive of {what} in the cache"))?;
    Ok(path)
}
