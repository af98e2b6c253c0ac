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
//! The caller holds the home's exclusive lock throughout ([`Home::exclusive`]).

mod plan;
mod prepare;
mod verify;

use modularbase_pack::{PackId, PublicKey};
use semver::VersionReq;

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
            lines.push(format!(
                "{verb} {} {} ({}, {}{was})",
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
    let _guard = home.exclusive(printer)?;
    let remembered = home.lock()?.registry().map(str::to_owned);
    let client = RegistryClient::open(
        home,
        source.registry.as_deref(),
        remembered.as_deref(),
        source.net,
        printer,
    )?;
    let index = HttpIndex::new(home, client, options.offline)?;
    let url = index.client().url.clone();
    let plan = plan(home, &index, &url, options)?;
    printer.step(format!(
        "resolved {} packs from {url}",
        plan.resolution.packs.len()
    ));
    for record in plan.resolution.packs.values() {
        printer.step(format!(
            "{} {} (sha256 {}, key {})",
            record.id,
            record.vers,
            record.cksum,
            record.key.fingerprint()
        ));
    }
    if dry_run {
        return Ok(Outcome {
            changes: plan.changes,
            lock: None,
        });
    }
    let prepared = prepare(home, index.client(), plan, options.offline, printer)?;
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
