//! `modularbase key generate | list | register | trust | revoke`: the user's Ed25519 signing
//! keys and the keys this home trusts.

use anyhow::Context;

use crate::cli::{KeyCommand, KeyNameArgs, KeyRegisterArgs, KeyRevokeArgs, KeyTrustArgs};
use crate::client::RegistryClient;
use crate::home::Home;
use crate::printer::Printer;

/// Runs one `key` subcommand.
pub(crate) fn run(command: &KeyCommand, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    match command {
        KeyCommand::Generate(args) => generate(&home, args, printer),
        KeyCommand::List => list(&home, printer),
        KeyCommand::Register(args) => register(&home, args, printer),
        KeyCommand::Trust(args) => trust(&home, args, printer),
        KeyCommand::Revoke(args) => revoke(&home, args, printer),
    }
}

/// A new key pair: `keys/NAME.key` (0600, never overwritten) and `keys/NAME.pub`; the
/// public key alone on stdout.
fn generate(home: &Home, args: &KeyNameArgs, printer: &Printer) -> anyhow::Result<()> {
    let key = crate::ops::generate_key(home, &args.name)?;
    printer.note(format!(
        "generated key `{}` ({}) in {}",
        args.name,
        key.fingerprint(),
        home.keys_dir().display()
    ));
    printer.output(key.to_string());
    Ok(())
}

/// Every key in `keys/` with its fingerprint.
fn list(home: &Home, printer: &Printer) -> anyhow::Result<()> {
    let dir = home.keys_dir();
    let mut names: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter_map(|n| n.strip_suffix(".pub").map(str::to_owned))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", dir.display())),
    };
    names.sort();
    if names.is_empty() {
        printer.note("no keys yet: `modularbase key generate` makes one");
    }
    for name in names {
        let key = crate::ops::public_key(home, &name)?;
        printer.output(format!("{name:<16} {}  {key}", key.fingerprint()));
    }
    Ok(())
}

/// Uploads the public key to the registry for the logged-in user.
fn register(home: &Home, args: &KeyRegisterArgs, printer: &Printer) -> anyhow::Result<()> {
    let (url, info) =
        crate::ops::register_key(home, &args.key.name, args.registry.as_deref(), printer)?;
    printer.line(format!(
        "Registered key `{}` ({}) at {url}",
        args.key.name, info.fingerprint
    ));
    Ok(())
}

/// Pins the key of the pack's newest version in the index.
fn trust(home: &Home, args: &KeyTrustArgs, printer: &Printer) -> anyhow::Result<()> {
    let index = crate::ops::HttpIndex::new(
        home,
        RegistryClient::from_home(home, args.registry.as_deref(), printer)?,
        false,
    )?;
    let _guard = home.exclusive(printer)?;
    if let Some(owners) = index.signed_owner_keys(&args.id)? {
        let keys: Vec<String> = owners.iter().map(|k| k.fingerprint()).collect();
        printer.line(format!(
            "Nothing to trust: {} signs the keys of `{}`'s current owners ({}), and installs accept a version signed by any of them",
            index.client().url,
            args.id,
            if keys.is_empty() { "none".to_owned() } else { keys.join(", ") }
        ));
        return Ok(());
    }
    let records = crate::resolve::IndexSource::records(&index, &args.id)?;
    let newest = records
        .iter()
        .max_by(|a, b| a.vers.cmp(&b.vers))
        .with_context(|| format!("`{}` is not published there", args.id))?;
    let previous = crate::ops::trust_key(home, &args.id, newest.key)?;
    match previous {
        Some(old) if old != newest.key => printer.line(format!(
            "Now trusting key {} for `{}` (was {})",
            newest.key.fingerprint(),
            args.id,
            old.fingerprint()
        )),
        _ => printer.line(format!(
            "Trusting key {} for `{}`",
            newest.key.fingerprint(),
            args.id
        )),
    }
    Ok(())
}

/// Revokes one of the user's keys at the registry.
fn revoke(home: &Home, args: &KeyRevokeArgs, printer: &Printer) -> anyhow::Result<()> {
    let fingerprint = match &args.fingerprint {
        Some(fingerprint) => fingerprint.trim().to_owned(),
        None => crate::ops::public_key(home, &args.key.name)?.fingerprint(),
    };
    let client = RegistryClient::from_home(home, args.registry.as_deref(), printer)?;
    client.revoke_key(&fingerprint)?;
    printer.line(format!(
        "Revoked key {fingerprint} at {}: it can no longer publish, and new installs of versions it signed are refused",
        client.url
    ));
    Ok(())
}
