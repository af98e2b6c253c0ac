//! `modularbase login`: check a registry token and store it (read from stdin or `--token`).

use std::io::BufRead;

use anyhow::Context;

use crate::cli::LoginArgs;
use crate::home::Home;
use crate::printer::Printer;

/// Checks the token with the registry, saves it (mode 0600) and makes the registry the
/// default when there is none.
pub(crate) fn run(args: &LoginArgs, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
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
    let (url, who) = crate::ops::login(&home, args.registry.as_deref(), &token, printer)?;
    printer.line(format!(
        "Logged in to {url} as {} (token saved in {})",
        who.login,
        home.credentials_path().display()
    ));
    Ok(())
}
