//! `modularbase pack install ID[@REQ]…` and `modularbase pack list`.

use std::collections::BTreeMap;

use anyhow::Context;
use modularbase_pack::PackId;
use serde::{Deserialize, Serialize};

use super::pack_resolve::parse_request;
use crate::cli::{InstallArgs, ListArgs, RemoveArgs, UpdateArgs};
use crate::client::RegistryClient;
use crate::home::Home;
use crate::ops::HttpIndex;
use crate::printer::{Printer, human_bytes};

/// `modularbase.toml`: what the user asked for, pack id → requirement.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Requests {
    #[serde(default)]
    packs: BTreeMap<PackId, String>,
}

fn read_requests(home: &Home) -> anyhow::Result<Requests> {
    let path = home.root().join("modularbase.toml");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            toml::from_str(&text).with_context(|| format!("`{}` is not valid", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Requests::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    }
}

/// How a change of the installed set is carried out.
struct Apply<'a> {
    registry: Option<&'a str>,
    dry_run: bool,
    locked: bool,
    offline: bool,
    /// Packs whose locked version may change (`pack update`); `None`: every pack.
    unlock: Option<Vec<PackId>>,
    /// Report the new lock as JSON.
    json: bool,
}

/// Resolves what was asked for before plus the new requests, verifies and installs.
pub(crate) fn install(args: &InstallArgs, printer: &Printer) -> anyhow::Result<()> {
    install_into(&Home::locate()?, args, printer)
}

/// [`install`] into a given home (the demo's temporary one).
pub(crate) fn install_into(
    home: &Home,
    args: &InstallArgs,
    printer: &Printer,
) -> anyhow::Result<()> {
    let mut requests = read_requests(home)?;
    for text in &args.packs {
        let (id, req) = parse_request(text)?;
        requests.packs.insert(id, req.to_string());
    }
    let how = Apply {
        registry: args.registry.as_deref(),
        dry_run: args.dry_run,
        locked: args.locked,
        offline: args.offline,
        unlock: Some(Vec::new()),
        json: args.json,
    };
    apply(home, &requests, &how, printer)
}

/// Drops packs from what was asked for, re-resolves, and deletes what nothing needs now.
pub(crate) fn remove(args: &RemoveArgs, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let mut requests = read_requests(&home)?;
    for id in &args.packs {
        if requests.packs.remove(id).is_none() {
            anyhow::bail!(
                "`{id}` was not asked for (only packs named in `pack install` can be removed; `pack list` shows what is installed)"
            );
        }
    }
    let how = Apply {
        registry: args.registry.as_deref(),
        dry_run: false,
        locked: false,
        offline: args.offline,
        unlock: Some(Vec::new()),
        json: false,
    };
    apply(&home, &requests, &how, printer)
}

/// Re-resolves letting the named packs (or all) move to their newest fitting versions.
pub(crate) fn update(args: &UpdateArgs, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let requests = read_requests(&home)?;
    let unlock = if args.packs.is_empty() {
        None
    } else {
        Some(args.packs.clone())
    };
    let how = Apply {
        registry: args.registry.as_deref(),
        dry_run: args.dry_run,
        locked: false,
        offline: false,
        unlock,
        json: false,
    };
    apply(&home, &requests, &how, printer)
}

fn apply(
    home: &Home,
    requests: &Requests,
    how: &Apply<'_>,
    printer: &Printer,
) -> anyhow::Result<()> {
    let list = requests
        .packs
        .iter()
        .map(|(id, req)| {
            Ok((
                id.clone(),
                req.parse()
                    .with_context(|| format!("`{req}` for `{id}` in modularbase.toml"))?,
            ))
        })
        .collect::<anyhow::Result<Vec<(PackId, semver::VersionReq)>>>()?;
    let client = RegistryClient::from_home(home, how.registry)?;
    let index = HttpIndex::new(
        home,
        RegistryClient::from_home(home, how.registry)?,
        how.offline,
    )?;
    let mut locked = super::pack_resolve::locked_versions(home)?;
    match &how.unlock {
        None => locked.clear(),
        Some(ids) => ids.iter().for_each(|id| {
            locked.remove(id);
        }),
    }
    let resolution = crate::resolve::resolve(&index, &list, &locked)?;
    printer.step(format!(
        "resolved {} packs from {}",
        resolution.packs.len(),
        client.url
    ));
    for record in resolution.packs.values() {
        printer.step(format!(
            "{} {} (sha256 {}, key {})",
            record.id,
            record.vers,
            record.cksum,
            record.key.fingerprint()
        ));
    }
    let before = home.lock()?;
    let was = |id: &PackId| {
        before
            .packs
            .iter()
            .find(|p| p.id == *id)
            .map(|p| p.version.clone())
    };
    if how.dry_run {
        for record in resolution.packs.values() {
            let change = match was(&record.id) {
                None => "add".to_owned(),
                Some(v) if v == record.vers => "keep".to_owned(),
                Some(v) => format!("change from {v}"),
            };
            printer.output(format!("{:<24} {:<12} {change}", record.id, record.vers));
        }
        for gone in before
            .packs
            .iter()
            .filter(|p| !resolution.packs.contains_key(&p.id))
        {
            printer.output(format!("{:<24} {:<12} remove", gone.id, gone.version));
        }
        return Ok(());
    }
    let changed = before.packs.len() != resolution.packs.len()
        || before.packs.iter().any(|p| {
            resolution
                .packs
                .get(&p.id)
                .is_none_or(|r| r.vers != p.version)
        });
    if how.locked && changed {
        let plan: Vec<String> = resolution
            .packs
            .values()
            .map(|r| format!("{} {}", r.id, r.vers))
            .collect();
        anyhow::bail!(
            "--locked: the lock would change (to {}); run without --locked to update it",
            plan.join(", ")
        );
    }
    home.write_requests(&toml::to_string(requests).context("cannot serialise the requests")?)?;
    let lock = crate::ops::install(home, &client, &resolution, how.offline)?;
    if how.json {
        printer.output(serde_json::to_string(&lock.packs).context("cannot serialise the lock")?);
        return Ok(());
    }
    for pack in &lock.packs {
        if was(&pack.id).as_ref() != Some(&pack.version) {
            printer.line(format!(
                "Installed {} {} ({}, {})",
                pack.id,
                pack.version,
                pack.kind,
                human_bytes(pack.size)
            ));
        }
    }
    // Packs the new lock no longer holds are deleted only now that the lock is replaced.
    for gone in before.packs.iter().filter(|p| {
        !lock
            .packs
            .iter()
            .any(|l| l.id == p.id && l.version == p.version)
    }) {
        let dir = home.pack_dir(&gone.id, &gone.version);
        if dir.is_dir() {
            std::fs::remove_dir_all(&dir)
                .with_context(|| format!("cannot remove `{}`", dir.display()))?;
        }
        printer.line(format!("Removed {} {}", gone.id, gone.version));
    }
    printer.line(format!(
        "{} packs in {}",
        lock.packs.len(),
        home.root().join("modularbase.lock").display()
    ));
    Ok(())
}

/// The installed set, from the lock.
pub(crate) fn list(args: &ListArgs, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let lock = home.lock()?;
    if args.json {
        printer.output(serde_json::to_string(&lock.packs).context("cannot serialise the list")?);
        return Ok(());
    }
    for pack in &lock.packs {
        let state = if home.pack_dir(&pack.id, &pack.version).is_dir() {
            "installed"
        } else {
            "missing"
        };
        printer.output(format!(
            "{:<24} {:<12} {:<7} {:>10}  {state}",
            pack.id,
            pack.version,
            pack.kind,
            human_bytes(pack.size)
        ));
    }
    Ok(())
}
