//! Changing the installed set in three stages, as cargo and uv do:
//!
//! 1. [`plan`]: resolve what was asked for and diff it against the lock — add, keep,
//!    upgrade, downgrade, repair, remove, each with its reason. `--dry-run`, `--locked`
//!    and the final report all read this one plan. Nothing is written.
//! 2. [`prepare`]: download what the plan needs (bounded in time and bytes), verify each
//!    archive's checksum against the lock, its signature and pinned key, unpack it into a
//!    staging directory inside the home, check its manifest against the index record and
//!    its weights against the base, and write its marker. The home is unchanged.
//! 3. [`apply`]: one [`HomeTransaction`] moves the staged packs into place and commits
//!    requests, lock and trusted keys together.
//!
//! Local archives (`pack install ./ID-VERSION.mbpack`) are verified by [`local`] before
//! anything else, then resolved through an [`overlay`] over the registry's index and staged
//! exactly as downloads are.
//!
//! The caller holds the home's exclusive lock throughout ([`Home::exclusive`]).

mod local;
mod overlay;
mod plan;
mod prepare;
mod signer;
mod verify;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::bail;
use modularbase_pack::{PackId, PublicKey};
use semver::VersionReq;

use local::LocalPack;

pub use plan::{Change, ChangeKind, Plan, plan};
pub use prepare::{Prepared, prepare};

use super::HttpIndex;
use crate::client::{NetFlags, RegistryClient};
use crate::home::{Home, HomeTransaction, Lock};
use crate::printer::{Printer, human_bytes};

/// Where packs come from: `--registry` (else the environment, the lock's registry, the
/// configured default) and the network bounds given on the command line.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// `--registry URL`.
    pub registry: Option<String>,
    /// `--timeout`, `--retries`.
    pub net: NetFlags,
    /// `--root FILE`: the registry root to trust instead of the pinned one.
    pub root: Option<std::path::PathBuf>,
}

/// What a change did (or, for a dry run, would do).
#[derive(Debug)]
pub struct Outcome {
    /// The plan's changes, by pack id.
    pub changes: Vec<Change>,
    /// The new lock; `None` for a dry run.
    pub lock: Option<Lock>,
}

impl Outcome {
    /// The report in sentences: "Installed …", "Removed …", and where the lock is.
    pub fn summary(&self, home: &Home) -> Vec<String> {
        let Some(lock) = &self.lock else {
            return self
                .changes
                .iter()
                .map(|c| {
                    let kind = c.kind.to_string();
                    format!("{:<24} {:<12} {kind:<22} {}", c.id, c.version, c.reason)
                })
                .collect();
        };
        let mut lines = Vec::new();
        for change in &self.changes {
            let Some(pack) = lock.get(&change.id) else {
                lines.push(format!("Removed {} {}", change.id, change.version));
                continue;
            };
            let (verb, was) = match &change.kind {
                ChangeKind::Keep => continue,
                ChangeKind::Repair => ("Repaired", String::new()),
                ChangeKind::Upgrade(from) | ChangeKind::Downgrade(from) => {
                    ("Installed", format!("; was {from}"))
                }
                ChangeKind::Add | ChangeKind::Remove => ("Installed", String::new()),
            };
            let from = match (&pack.source, &pack.key) {
                (Some(source), None) => format!(", unsigned, from {source}"),
                (Some(source), Some(_)) => format!(", from {source}"),
                (None, _) => String::new(),
            };
            lines.push(format!(
                "{verb} {} {} ({}, {}{from}{was})",
                pack.id,
                pack.version,
                pack.kind,
                human_bytes(pack.size)
            ));
        }
        lines.push(format!(
            "{} packs in {}",
            lock.packs.len(),
            home.lock_path().display()
        ));
        lines
    }
}

/// Plans, prepares and applies a change of the installed set under the home's exclusive
/// lock; with `dry_run`, stops after the plan.
pub fn install(
    home: &Home,
    source: &Source,
    options: &InstallOptions,
    dry_run: bool,
    printer: &Printer,
) -> anyhow::Result<Outcome> {
    // Archives given on the command line are verified before the home is even locked.
    let mut given: BTreeMap<PackId, LocalPack> = BTreeMap::new();
    for path in &options.local {
        let pack = local::open(path, options.allow_unsigned)?;
        if let Some(other) = given.insert(pack.record.id.clone(), pack) {
            bail!(
                "two archives of `{}` were given (one is `{}`); install one version of a pack at a time",
                other.record.id,
                other.source
            );
        }
    }
    let _guard = home.exclusive(printer)?;
    let before = home.lock()?;
    let remembered = before.registry().map(str::to_owned);
    let mut locals = local::locked(home, &before)?;
    let client = RegistryClient::open(
        home,
        source.registry.as_deref(),
        remembered.as_deref(),
        source.net,
        printer,
    );
    let (index, missing) = match client {
        Ok(client) => (
            Some(HttpIndex::with_root(
                home,
                client,
                options.offline,
                source.root.as_deref(),
            )?),
            String::new(),
        ),
        // Local packs may need no registry at all; a pack that does says so when asked for.
        Err(e) if !given.is_empty() || !locals.is_empty() => (None, format!("{e:#}")),
        Err(e) => return Err(e),
    };
    if let Some(index) = &index {
        for pack in given.values() {
            local::check_published(index, pack, options.offline)?;
        }
    }
    locals.extend(given);
    let url = index.as_ref().map(|i| i.client().url.clone());
    let overlay = overlay::Overlay {
        registry: index.as_ref(),
        missing: &missing,
        locals: &locals,
    };
    let plan = plan(home, &overlay, url.as_deref(), options, locals.clone())?;
    printer.step(format!(
        "resolved {} packs from {}",
        plan.resolution.packs.len(),
        url.as_deref().unwrap_or("local archives")
    ));
    for record in plan.resolution.packs.values() {
        let signer = match plan.locals.get(&record.id) {
            Some(LocalPack {
                signer: Some(key),
                source,
                ..
            }) => format!("key {}, from {source}", key.fingerprint()),
            Some(LocalPack { source, .. }) => format!("unsigned, from {source}"),
            None => format!("key {}", record.key.fingerprint()),
        };
        printer.step(format!(
            "{} {} (sha256 {}, {signer})",
            record.id, record.vers, record.cksum
        ));
    }
    if dry_run {
        return Ok(Outcome {
            changes: plan.changes,
            lock: None,
        });
    }
    let client = index.as_ref().map(HttpIndex::client);
    let prepared = prepare(home, client, plan, options.offline, printer)?;
    let changes = prepared.plan.changes.clone();
    let lock = apply(home, prepared)?;
    Ok(Outcome {
        changes,
        lock: Some(lock),
    })
}

/// What to change: requests added or dropped, and which locked versions may move.
#[derive(Debug, Clone, Default)]
pub struct InstallOptions {
    /// Requests added (or replaced) in `modularbase.toml`.
    pub add: Vec<(PackId, VersionReq)>,
    /// Requests dropped.
    pub drop: Vec<PackId>,
    /// Locked versions allowed to change.
    pub unlock: Unlock,
    /// Refuse any change of the lock.
    pub locked: bool,
    /// The caches only.
    pub offline: bool,
    /// Archive files to install (`pack install ./ID-VERSION.mbpack`), each asked for at
    /// its version.
    pub local: Vec<PathBuf>,
    /// Accept a local archive without a `.sig` beside it (installed as unsigned).
    pub allow_unsigned: bool,
}

/// Which locked versions a resolution may change.
#[derive(Debug, Clone, Default)]
pub enum Unlock {
    /// None: packs move only when the requests force them (`pack install`).
    #[default]
    Nothing,
    /// Every pack (`pack update`).
    All,
    /// These packs (`pack update ID…`).
    Only(Vec<PackId>),
}

/// Commits a prepared change; returns the new lock.
pub fn apply(home: &Home, prepared: Prepared) -> anyhow::Result<Lock> {
    let Prepared {
        plan,
        staged,
        lock,
        trusted,
        staging,
    } = prepared;
    HomeTransaction::new(home, staged, plan.requests, lock.clone(), trusted).commit()?;
    drop(staging);
    Ok(lock)
}

/// Accepts the key the index now names for `id` (after a publisher changed keys).
pub fn trust_key(home: &Home, id: &PackId, key: PublicKey) -> anyhow::Result<Option<PublicKey>> {
    let mut trusted = home.trusted_keys()?;
    let previous = trusted.keys.insert(id.clone(), key);
    HomeTransaction::new(home, Vec::new(), home.requests()?, home.lock()?, trusted).commit()?;
    Ok(previous)
}
