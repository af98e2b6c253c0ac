//! `modularbase pack search | info | yank | owner`: thin views on the registry's API.

use anyhow::Context;

use crate::cli::{InfoArgs, OwnerAction, OwnerArgs, SearchArgs, YankArgs};
use crate::client::RegistryClient;
use crate::home::Home;
use crate::printer::{Printer, human_bytes};

fn client(registry: Option<&str>, printer: &Printer) -> anyhow::Result<RegistryClient> {
    RegistryClient::from_home(&Home::locate()?, registry, printer)
}

fn json_line<T: serde::Serialize>(value: &T, printer: &Printer) -> anyhow::Result<()> {
    printer.output(serde_json::to_string(value).context("cannot serialise the answer")?);
    Ok(())
}

/// `pack search QUERY`: a table of matches, or `--json`.
pub(crate) fn search(args: &SearchArgs, printer: &Printer) -> anyhow::Result<()> {
    let client = client(args.registry.as_deref(), printer)?;
    let mut query = vec![
        ("q", args.query.clone()),
        ("page", args.page.to_string()),
        ("per_page", args.per_page.to_string()),
    ];
    query.extend(args.kind.clone().map(|k| ("kind", k)));
    query.extend(args.domain.clone().map(|d| ("domain", d)));
    query.extend(args.sort.clone().map(|s| ("sort", s)));
    let found = client.search(&query)?;
    if args.json {
        return json_line(&found, printer);
    }
    for hit in &found.packs {
        let version = hit
            .max_version
            .as_ref()
            .map_or_else(|| "(yanked)".to_owned(), ToString::to_string);
        let about = hit.description.as_deref().unwrap_or(&hit.name);
        printer.output(format!(
            "{:<24} {:<12} {:<7} {:>8} ↓  {about}",
            hit.id, version, hit.kind, hit.downloads
        ));
    }
    printer.note(format!(
        "{} of {} matches",
        found.packs.len(),
        found.meta.total
    ));
    Ok(())
}

/// `pack info ID`: metadata, owners and versions.
pub(crate) fn info(args: &InfoArgs, printer: &Printer) -> anyhow::Result<()> {
    let client = client(args.registry.as_deref(), printer)?;
    let details = client.details(&args.id)?;
    if args.json {
        return json_line(&details, printer);
    }
    printer.output(format!(
        "{} ({}) — {}",
        details.id, details.kind, details.name
    ));
    for (label, value) in [
        ("domain", &details.domain),
        ("license", &details.license),
        ("description", &details.description),
    ] {
        if let Some(value) = value {
            printer.output(format!("  {label:<12} {value}"));
        }
    }
    printer.output(format!("  {:<12} {}", "owners", details.owners.join(", ")));
    printer.output(format!("  {:<12} {}", "downloads", details.downloads));
    for v in &details.versions {
        let yanked = if v.yanked { "  (yanked)" } else { "" };
        printer.output(format!(
            "  {:<12} {:>10}  key {}  {}{yanked}",
            v.vers,
            human_bytes(v.size),
            v.key_fingerprint,
            v.published_at
        ));
    }
    Ok(())
}

/// `pack yank ID@VERSION [--undo]`.
pub(crate) fn yank(args: &YankArgs, printer: &Printer) -> anyhow::Result<()> {
    let (id, version) = args
        .pack
        .split_once('@')
        .context("name the version to yank as ID@VERSION, for example `python_code@1.0.0`")?;
    let id: modularbase_pack::PackId = id
        .parse()
        .with_context(|| format!("`{}` does not name a pack", args.pack))?;
    let version: semver::Version = version
        .parse()
        .with_context(|| format!("`{version}` in `{}` is not a version", args.pack))?;
    let client = client(args.registry.as_deref(), printer)?;
    client.yank(&id, &version, args.undo)?;
    printer.line(format!(
        "{} {id}@{version}",
        if args.undo { "Unyanked" } else { "Yanked" }
    ));
    Ok(())
}

/// `pack owner list|add|remove ID [LOGIN…]`.
pub(crate) fn owner(args: &OwnerArgs, printer: &Printer) -> anyhow::Result<()> {
    let client = client(args.registry.as_deref(), printer)?;
    match args.action {
        OwnerAction::List => {
            let owners = client.owners(&args.id)?;
            for user in owners.users {
                printer.output(user.login);
            }
        }
        OwnerAction::Add => {
            client.change_owners(&args.id, true, &args.logins)?;
            printer.line(format!(
                "Added {} as owner(s) of {}",
                args.logins.join(", "),
                args.id
            ));
        }
        OwnerAction::Remove => {
            client.change_owners(&args.id, false, &args.logins)?;
            printer.line(format!(
                "Removed {} from the owners of {}",
                args.logins.join(", "),
                args.id
            ));
        }
    }
    Ok(())
}
