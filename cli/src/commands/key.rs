//! `modularbase key generate | list | register`: the user's Ed25519 signing keys.

use anyhow::{Context, bail};
use modularbase_pack::{ErrorEnvelope, KeyInfo, PublicKey, RegisterKeyRequest, SigningKey};

use crate::cli::{KeyCommand, KeyNameArgs, KeyRegisterArgs};
use crate::home::Home;
use crate::printer::Printer;

/// Runs one `key` subcommand.
pub(crate) fn run(command: &KeyCommand, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    match command {
        KeyCommand::Generate(args) => generate(&home, args, printer),
        KeyCommand::List => list(&home, printer),
        KeyCommand::Register(args) => register(&home, args, printer),
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
fn generate(home: &Home, args: &KeyNameArgs, printer: &Printer) -> anyhow::Result<()> {
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
fn register(home: &Home, args: &KeyRegisterArgs, printer: &Printer) -> anyhow::Result<()> {
    check_name(&args.key.name)?;
    let (url, token) = home.registry(args.registry.as_deref())?;
    let token = token.with_context(|| {
        format!("not logged in to {url}: run `modularbase login --registry {url}` first")
    })?;
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
    let response = reqwest::blocking::Client::new()
        .post(format!("{url}/api/v1/keys"))
        .header("Authorization", token)
        .json(&RegisterKeyRequest { key })
        .send()
        .with_context(|| format!("cannot reach the registry at {url}"))?;
    let status = response.status();
    let body = response
        .text()
        .with_context(|| format!("cannot read the answer of {url}"))?;
    if !status.is_success() {
        let detail = serde_json::from_str::<ErrorEnvelope>(&body)
            .ok()
            .and_then(|e| e.errors.into_iter().next())
            .map_or(body, |e| e.detail);
        bail!("the registry at {url} refused the key ({status}): {detail}");
    }
    let info: KeyInfo =
        serde_json::from_str(&body).with_context(|| format!("unexpected answer from {url}"))?;
    printer.line(format!(
        "Registered key `{}` ({}) at {url}",
        args.key.name, info.fingerprint
    ));
    Ok(())
}
