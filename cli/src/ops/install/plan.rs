//! Stage 1: what the change will be, decided before anything is downloaded or written.

use std::collections::BTreeMap;
use std::fmt;

use anyhow::bail;
use modularbase_pack::{IndexRecord, PackId, PublicKey};
use semver::{Version, VersionReq};

use super::local::LocalPack;
use super::{InstallOptions, Unlock};
use crate::home::{Home, Lock, Requests};
use crate::printer::human_bytes;
use crate::resolve::{IndexSource, Resolution, resolve};

/// The largest archive a registry accepts (its default publish limit); an index announcing
/// more is refused before any byte is fetched.
pub(super) const MAX_ARCHIVE_BYTES: u64 = modularbase_registry::DEFAULT_MAX_PUBLISH_BYTES;

/// The decided change of the installed set.
#[derive(Debug)]
pub struct Plan {
    /// The registry it resolves against; `None` when only local archives are involved.
    pub registry: Option<String>,
    /// The packs that come from archive files, by id (given now or locked before).
    pub locals: BTreeMap<PackId, LocalPack>,
    /// What will have been asked for.
    pub requests: Requests,
    /// The chosen record of every pack.
    pub resolution: Resolution,
    /// One entry per pack, installed now or after, sorted by id.
    pub changes: Vec<Change>,
    /// The lock before.
    pub before: Lock,
    /// The keys of each chosen pack's current owners, as the registry's signed metadata
    /// lists them (packs from a registry without metadata have none here).
    pub owner_keys: BTreeMap<PackId, Vec<PublicKey>>,
}

/// What happens to one pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The pack.
    pub id: PackId,
    /// The version it will have (the one removed, for [`ChangeKind::Remove`]).
    pub version: Version,
    /// What happens.
    pub kind: ChangeKind,
    /// Why it is in the set: "requested", "needed by python_code 1.0.0", "no longer needed".
    pub reason: String,
}

/// The kinds of change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// Newly installed.
    Add,
    /// Already installed and whole.
    Keep,
    /// Locked, but its directory is missing, not whole or fails verification (or its
    /// cached archive does): installed again.
    Repair,
    /// From an older version.
    Upgrade(Version),
    /// From a newer version.
    Downgrade(Version),
    /// No longer needed.
    Remove,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Add => f.write_str("add"),
            Self::Keep => f.write_str("keep"),
            Self::Repair => f.write_str("repair"),
            Self::Upgrade(from) => write!(f, "upgrade from {from}"),
            Self::Downgrade(from) => write!(f, "downgrade from {from}"),
            Self::Remove => f.write_str("remove"),
        }
    }
}

impl ChangeKind {
    /// Whether the archive must be fetched and unpacked.
    pub fn needs_archive(&self) -> bool {
        matches!(
            self,
            Self::Add | Self::Repair | Self::Upgrade(_) | Self::Downgrade(_)
        )
    }

    /// Whether the lock changes.
    pub fn changes_lock(&self) -> bool {
        !matches!(self, Self::Keep | Self::Repair)
    }
}

impl Plan {
    /// Whether applying the plan would change the lock.
    pub fn changes_lock(&self) -> bool {
        self.changes.iter().any(|c| c.kind.changes_lock())
    }
}

/// Resolves the home's requests with `options` against `index` and diffs the result with the
/// lock. `locals` are the packs from archive files: each one given on this command line is
/// asked for at exactly its version. Refuses, before anything is fetched: an index size over
/// the registry's limit, a record whose checksum differs from the lock's for the same
/// version, and with `--locked` any change of the lock.
pub fn plan<S: IndexSource>(
    home: &Home,
    index: &S,
    registry: Option<&str>,
    options: &InstallOptions,
    locals: BTreeMap<PackId, LocalPack>,
) -> anyhow::Result<Plan> {
    let mut requests = home.requests()?;
    for (id, req) in &options.add {
        requests.packs.insert(id.clone(), req.clone());
    }
    let given: Vec<&LocalPack> = locals.values().filter(|l| l.file.is_some()).collect();
    for pack in &given {
        let exact = VersionReq::parse(&format!("={}", pack.record.vers))?;
        requests.packs.insert(pack.record.id.clone(), exact);
    }
    for id in &options.drop {
        if requests.packs.remove(id).is_none() {
            bail!(
                "`{id}` was not asked for (only packs named in `pack install` can be removed; `pack list` shows what is installed)"
            );
        }
    }
    let before = home.lock()?;
    let mut locked = before.versions();
    match &options.unlock {
        Unlock::Nothing => {}
        Unlock::All => locked.clear(),
        Unlock::Only(ids) => ids.iter().for_each(|id| {
            locked.remove(id);
        }),
    }
    for pack in &given {
        locked.remove(&pack.record.id);
    }
    let list: Vec<_> = requests
        .packs
        .iter()
        .map(|(id, req)| (id.clone(), req.clone()))
        .collect();
    let resolution = resolve(index, &list, &locked)?;
    for record in resolution.packs.values() {
        check_record(home, &before, record)?;
    }
    let changes = diff(home, &before, &requests, &resolution);
    let mut owner_keys = BTreeMap::new();
    for id in resolution.packs.keys() {
        if let Some(keys) = index.owner_keys(id)? {
            owner_keys.insert(id.clone(), keys);
        }
    }
    let plan = Plan {
        registry: registry.map(str::to_owned),
        locals,
        requests,
        resolution,
        changes,
        before,
        owner_keys,
    };
    if options.locked && plan.changes_lock() {
        let to: Vec<String> = plan
            .resolution
            .packs
            .values()
            .map(|r| format!("{} {}", r.id, r.vers))
            .collect();
        bail!(
            "--locked: the lock would change (to {}); run without --locked to update it",
            to.join(", ")
        );
    }
    Ok(plan)
}

/// A record is bounded in size, and a version the lock holds keeps the lock's checksum.
fn check_record(home: &Home, before: &Lock, record: &IndexRecord) -> anyhow::Result<()> {
    if record.size > MAX_ARCHIVE_BYTES {
        bail!(
            "the index announces {} bytes for {}@{}, more than the {} a registry accepts; refused",
            record.size,
            record.id,
            record.vers,
            human_bytes(MAX_ARCHIVE_BYTES)
        );
    }
    if let Some(locked) = before
        .get(&record.id)
        .filter(|l| l.version == record.vers && l.cksum != record.cksum)
    {
        bail!(
            "the checksum of {}@{} differs from the lock's:\n  lock     {}\n  registry {}\nVersions never change, so either the registry serves other bytes than it did or `{}` was edited. Nothing was installed. If you trust the registry's bytes, delete the `[[pack]]` entry of `{}` from the lock and install again.",
            record.id,
            record.vers,
            locked.cksum,
            record.cksum,
            home.lock_path().display(),
            record.id
        );
    }
    Ok(())
}

/// What happens to each pack, sorted by id.
fn diff(home: &Home, before: &Lock, requests: &Requests, resolution: &Resolution) -> Vec<Change> {
    let mut changes: Vec<Change> = resolution
        .packs
        .values()
        .map(|record| {
            let kind = match before.get(&record.id) {
                None => ChangeKind::Add,
                Some(old) if old.version == record.vers => {
                    // Whole (sizes, cheap) and verified (every byte re-read): a file
                    // changed in place at its size, or a corrupted cached archive, is
                    // installed again too.
                    if home.is_intact(old) && home.verify_pack(old).is_ok() {
                        ChangeKind::Keep
                    } else {
                        ChangeKind::Repair
                    }
                }
                Some(old) if old.version < record.vers => ChangeKind::Upgrade(old.version.clone()),
                Some(old) => ChangeKind::Downgrade(old.version.clone()),
            };
            Change {
                id: record.id.clone(),
                version: record.vers.clone(),
                kind,
                reason: reason(&record.id, requests, resolution),
            }
        })
        .collect();
    changes.extend(
        before
            .packs
            .iter()
            .filter(|p| !resolution.packs.contains_key(&p.id))
            .map(|p| Change {
                id: p.id.clone(),
                version: p.version.clone(),
                kind: ChangeKind::Remove,
                reason: "no longer needed".to_owned(),
            }),
    );
    changes.sort_by(|a, b| a.id.cmp(&b.id));
    changes
}

/// "requested", or the first chosen pack that needs `id`.
fn reason(id: &PackId, requests: &Requests, resolution: &Resolution) -> String {
    if requests.packs.contains_key(id) {
        return "requested".to_owned();
    }
    resolution
        .packs
        .values()
        .find(|r| r.deps.iter().any(|d| d.id == *id) || r.base.as_ref() == Some(id))
        .map_or_else(
            || "needed".to_owned(),
            |r| format!("needed by {} {}", r.id, r.vers),
        )
}
