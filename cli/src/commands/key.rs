//! `modularbase key generate | list | register`: the user's Ed25519 signing keys.

use anyhow::{Context, bail};
use modularbase_pack::{KeyInfo, PublicKey, RegisterKeyRequest, SigningKey};
use reqwest::Method;

use crate::client::RegistryClient;

use crate::cli::{KeyCommand, KeyNameArgs, KeyRegisterArgs, KeyTrustArgs};
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
    }
}

fn check_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("`{name}` is not a key name; use letters, digits, `-` and `_`");
    }
    Ok(())
}

/// A new key pair: `keys/NAME.key` (0600, never overwritten) and `keys/NAME.pub`; the
/// public key alone on stdout.
pub(crate) fn generate(home: &Home, args: &KeyNameArgs, printer: &Printer) -> anyhow::Result<()> {
    check_name(&args.name)?;
    let dir = home.keys_dir();
    home.ensure_dir(&dir)?;
    let key = SigningKey::generate();
    key.write_new(&dir.join(format!("{}.key", args.name)))?;
    key.public_key()
        .write(&dir.join(format!("{}.pub", args.name)))?;
    printer.note(format!(
        "generated key `{}` ({}) in {}",
        args.name,
        key.public_key().fingerprint(),
        dir.display()
    ));
    printer.output(key.public_key().to_string());
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
        let path = dir.join(format!("{name}.pub"));
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        let key: PublicKey = text
            .trim()
            .parse()
            .with_context(|| format!("`{}` is not a public key", path.display()))?;
        printer.output(format!("{name:<16} {}  {key}", key.fingerprint()));
    }
    Ok(())
}

/// Uploads the public key to the registry for the logged-in user.
pub(crate) fn register(
    home: &Home,
    args: &KeyRegisterArgs,
    printer: &Printer,
) -> anyhow::Result<()> {
    check_name(&args.key.name)?;
    let client = RegistryClient::from_home(home, args.registry.as_deref())?;
    let request = client.request(Method::POST, "/api/v1/keys", true)?;
    let path = home.keys_dir().join(format!("{}.pub", args.key.name));
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no key `{}` (`{}`): run `modularbase key generate` first",
            args.key.name,
            path.display()
        )
    })?;
    let key: PublicKey = text
        .trim()
        .parse()
        .with_context(|| format!("`{}` is not a public key", path.display()))?;
    let info: KeyInfo = client.send(request.json(&RegisterKeyRequest { key }), "the key")?;
    printer.line(format!(
        "Registered key `{}` ({}) at {}",
        args.key.name, info.fingerprint, client.url
    ));
    Ok(())
}

/// Pins the key of the pack's newest version in the index.
fn trust(home: &Home, args: &KeyTrustArgs, printer: &Printer) -> anyhow::Result<()> {
    let index = crate::ops::HttpIndex::new(
        home,
        RegistryClient::from_home(home, args.registry.as_deref())?,
        false,
    )?;
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
