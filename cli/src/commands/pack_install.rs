//! `modularbase pack install ID[@REQ]…` and `modularbase pack list`.

use std::collections::BTreeMap;

use anyhow::Context;
use modularbase_pack::PackId;
use serde::{Deserialize, Serialize};

use super::pack_resolve::parse_request;
use crate::cli::{InstallArgs, ListArgs};
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

/// Resolves what was asked for before plus the new requests, verifies and installs.
pub(crate) fn install(args: &InstallArgs, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let mut requests = read_requests(&home)?;
    for text in &args.packs {
        let (id, req) = parse_request(text)?;
        requests.packs.insert(id, req.to_string());
    }
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
    let client = RegistryClient::from_home(&home, args.registry.as_deref())?;
    let index = HttpIndex::new(
        &home,
        RegistryClient::from_home(&home, args.registry.as_deref())?,
        args.offline,
    )?;
    let resolution =
        crate::resolve::resolve(&index, &list, &super::pack_resolve::locked_versions(&home)?)?;
    let before = home.lock()?;
    if args.dry_run {
        for record in resolution.packs.values() {
            let was = before
                .packs
                .iter()
                .find(|p| p.id == record.id)
                .map(|p| p.version.to_string());
            let change = match was {
                None => "add".to_owned(),
                Some(v) if v == record.vers.to_string() => "keep".to_owned(),
                Some(v) => format!("change from {v}"),
            };
            printer.output(format!("{:<24} {:<12} {change}", record.id, record.vers));
        }
        return Ok(());
    }
    if args.locked {
        let wanted: Vec<(String, String)> = resolution
            .packs
            .values()
            .map(|r| (r.id.to_string(), r.vers.to_string()))
            .collect();
        let locked: Vec<(String, String)> = before
            .packs
            .iter()
            .map(|p| (p.id.to_string(), p.version.to_string()))
            .collect();
        if wanted != locked {
            let plan: Vec<String> = wanted.iter().map(|(id, v)| format!("{id} {v}")).collect();
            anyhow::bail!(
                "--locked: the lock would change (to {}); run without --locked to update it",
                plan.join(", ")
            );
        }
    }
    home.write_requests(&toml::to_string(&requests).context("cannot serialise the requests")?)?;
    let lock = crate::ops::install(&home, &client, &resolution, args.offline)?;
    for pack in &lock.packs {
        let fresh = !before
            .packs
            .iter()
            .any(|p| p.id == pack.id && p.version == pack.version);
        if fresh {
            printer.line(format!(
                "Installed {} {} ({}, {})",
                pack.id,
                pack.version,
                pack.kind,
                human_bytes(pack.size)
            ));
        }
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
