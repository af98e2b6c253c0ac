//! `modularbase pack install | remove | update | list`: thin layers over
//! [`crate::ops::install`], which plans, prepares and applies each change.

use std::path::PathBuf;

use anyhow::Context;
use modularbase_pack::ARCHIVE_EXTENSION;

use super::pack_resolve::parse_request;
use crate::cli::{InstallArgs, ListArgs, NetArgs, RemoveArgs, UpdateArgs};
use crate::client::NetFlags;
use crate::home::Home;
use crate::ops::{InstallOptions, Outcome, Source, Unlock};
use crate::printer::{Printer, human_bytes};

/// Resolves what was asked for before plus the new requests (packs and archive files),
/// verifies and installs.
pub(crate) fn install(args: &InstallArgs, printer: &Printer) -> anyhow::Result<()> {
    let (files, packs): (Vec<&String>, Vec<&String>) =
        args.packs.iter().partition(|text| is_archive_arg(text));
    let options = InstallOptions {
        add: packs
            .iter()
            .map(|text| parse_request(text))
            .collect::<anyhow::Result<_>>()?,
        local: files.iter().map(PathBuf::from).collect(),
        allow_unsigned: args.allow_unsigned,
        locked: args.locked,
        offline: args.offline,
        ..InstallOptions::default()
    };
    change(
        &source(args.registry.as_deref(), &args.net),
        &options,
        args.dry_run,
        args.json,
        printer,
    )
}

/// Drops packs from what was asked for, re-resolves, and deletes what nothing needs now.
pub(crate) fn remove(args: &RemoveArgs, printer: &Printer) -> anyhow::Result<()> {
    let options = InstallOptions {
        drop: args.packs.clone(),
        offline: args.offline,
        ..InstallOptions::default()
    };
    change(
        &source(args.registry.as_deref(), &args.net),
        &options,
        false,
        false,
        printer,
    )
}

/// Re-resolves letting the named packs (or all) move to their newest fitting versions.
pub(crate) fn update(args: &UpdateArgs, printer: &Printer) -> anyhow::Result<()> {
    let options = InstallOptions {
        unlock: if args.packs.is_empty() {
            Unlock::All
        } else {
            Unlock::Only(args.packs.clone())
        },
        ..InstallOptions::default()
    };
    change(
        &source(args.registry.as_deref(), &args.net),
        &options,
        args.dry_run,
        false,
        printer,
    )
}

/// Whether an argument of `pack install` names an archive file rather than a pack: it
/// holds a path separator or ends in `.mbpack` (pack ids hold neither).
fn is_archive_arg(text: &str) -> bool {
    text.contains('/')
        || text.contains(std::path::MAIN_SEPARATOR)
        || text.ends_with(&format!(".{ARCHIVE_EXTENSION}"))
}

fn source(registry: Option<&str>, net: &NetArgs) -> Source {
    Source {
        registry: registry.map(str::to_owned),
        net: NetFlags {
            timeout: net.timeout,
            retries: net.retries,
        },
        root: net.root.clone(),
    }
}

fn change(
    source: &Source,
    options: &InstallOptions,
    dry_run: bool,
    json: bool,
    printer: &Printer,
) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let outcome = crate::ops::install(&home, source, options, dry_run, printer)?;
    report(&home, &outcome, json, printer)
}

/// Prints what a change did: the plan for a dry run, the lock as JSON, or sentences.
fn report(home: &Home, outcome: &Outcome, json: bool, printer: &Printer) -> anyhow::Result<()> {
    match (&outcome.lock, json) {
        (Some(lock), true) => {
            printer
                .output(serde_json::to_string(&lock.packs).context("cannot serialise the lock")?);
        }
        (None, _) => outcome
            .summary(home)
            .into_iter()
            .for_each(|l| printer.output(l)),
        (Some(_), false) => outcome
            .summary(home)
            .into_iter()
            .for_each(|l| printer.line(l)),
    }
    Ok(())
}

/// The installed set, from the lock; a pack whose directory is not whole says so.
pub(crate) fn list(args: &ListArgs, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let _guard = home.shared(printer)?;
    let lock = home.lock()?;
    if args.json {
        printer.output(serde_json::to_string(&lock.packs).context("cannot serialise the list")?);
        return Ok(());
    }
    for pack in &lock.packs {
        let state = if home.is_intact(pack) {
            "installed"
        } else if home.pack_dir(&pack.id, &pack.version).is_dir() {
            "damaged"
        } else {
            "missing"
        };
        let from = match (&pack.source, &pack.key) {
            (Some(source), None) => format!("  {source} (unsigned)"),
            (Some(source), Some(_)) => format!("  {source}"),
            (None, _) => String::new(),
        };
        printer.output(format!(
            "{:<24} {:<12} {:<7} {:>10}  {state}{from}",
            pack.id,
            pack.version,
            pack.kind,
            human_bytes(pack.size)
        ));
    }
    Ok(())
}
