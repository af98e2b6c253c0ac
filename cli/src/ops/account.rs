//! The user's identity at a registry: logging in (the token checked before it is saved)
//! and the Ed25519 keys that sign what they publish.

use anyhow::{Context, bail};
use modularbase_pack::{KeyInfo, PublicKey, RegisterKeyRequest, SigningKey, WhoAmI};

use crate::client::RegistryClient;
use crate::home::{Home, RegistryCredential};
use crate::printer::Printer;

/// Checks `token` against the registry (`whoami`), then saves it (0600) and makes the
/// registry the default when there is none. Returns the registry URL and who the token is.
pub fn login(
    home: &Home,
    registry: Option<&str>,
    token: &str,
    printer: &Printer,
) -> anyhow::Result<(String, WhoAmI)> {
    let token = token.trim().to_owned();
    if token.is_empty() || token.contains(char::is_whitespace) {
        bail!(
            "that is not an API token (empty or with spaces); the registry's admin gives you one with `modularbase registry user add`"
        );
    }
    let client = RegistryClient::from_home(home, registry, printer)?.with_token(token.clone());
    let url = client.url.clone();
    let who = client
        .whoami()
        .with_context(|| format!("the token was not saved: it could not be checked with {url}"))?;
    let _guard = home.exclusive(printer)?;
    let mut credentials = home.credentials()?;
    credentials
        .registries
        .insert(url.clone(), RegistryCredential { token });
    home.save_credentials(&credentials)?;
    let mut config = home.config()?;
    if config.default_registry.is_none() {
        config.default_registry = Some(url.clone());
        home.save_config(&config)?;
    }
    Ok((url, who))
}

/// Refuses key names that are not safe file names.
fn check_key_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("`{name}` is not a key name; use letters, digits, `-` and `_`");
    }
    Ok(())
}

/// A new key pair `name` in the home's `keys/` (private key 0600, never overwritten).
pub fn generate_key(home: &Home, name: &str) -> anyhow::Result<PublicKey> {
    check_key_name(name)?;
    let dir = home.keys_dir();
    home.ensure_dir(&dir)?;
    let key = SigningKey::generate();
    key.write_new(&home.private_key_path(name))?;
    key.public_key().write(&home.public_key_path(name))?;
    Ok(key.public_key())
}

/// The public key `name` from the home's `keys/`.
pub fn public_key(home: &Home, name: &str) -> anyhow::Result<PublicKey> {
    let path = home.public_key_path(name);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no key `{name}` (`{}`): run `modularbase key generate` first",
            path.display()
        )
    })?;
    text.trim()
        .parse()
        .with_context(|| format!("`{}` is not a public key", path.display()))
}

/// Uploads the public key `name` for the logged-in user; returns the registry's record.
pub fn register_key(
    home: &Home,
    name: &str,
    registry: Option<&str>,
    printer: &Printer,
) -> anyhow::Result<(String, KeyInfo)> {
    check_key_name(name)?;
    let client = RegistryClient::from_home(home, registry, printer)?;
    if !client.logged_in() {
        let url = &client.url;
        bail!("not logged in to {url}: run `modularbase login --registry {url}` first");
    }
    let key = public_key(home, name)?;
    let info = client.register_key(&RegisterKeyRequest { key })?;
    Ok((client.url, info))
}
