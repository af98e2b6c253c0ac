//! `modularbase login`: store a registry token (read from stdin or `--token`).

use std::io::BufRead;

use anyhow::{Context, bail};

use crate::cli::LoginArgs;
use crate::home::{Home, RegistryCredential, normalise_url};
use crate::printer::Printer;

/// Saves the token for the registry (mode 0600) and makes it the default when there is none.
pub(crate) fn run(args: &LoginArgs, printer: &Printer) -> anyhow::Result<()> {
    login(&Home::locate()?, args, printer)
}

/// [`run`] in a given home (the demo's temporary one).
pub(crate) fn login(home: &Home, args: &LoginArgs, printer: &Printer) -> anyhow::Result<()> {
    let (url, _) = home.registry(args.registry.as_deref())?;
    let url = normalise_url(&url)?;
    let token = match &args.token {
        Some(token) => token.clone(),
        None => {
            printer.note("paste the API token and press Enter:");
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the token from stdin")?;
            line
        }
    };
    let token = token.trim().to_owned();
    if token.is_empty() || token.contains(char::is_whitespace) {
        bail!(
            "that is not an API token (empty or with spaces); the registry's admin gives you one with `modularbase registry user add`"
        );
    }
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
    printer.line(format!(
        "Logged in to {url} (token saved in {})",
        home.root().join("credentials.toml").display()
    ));
    Ok(())
}
