//! `modularbase config set | get | unset | list`: the home's `config.toml`.

use crate::cli::ConfigCommand;
use crate::home::{CONFIG_KEYS, Home};
use crate::printer::Printer;

/// Runs one `config` subcommand.
pub(crate) fn run(command: &ConfigCommand, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    match command {
        ConfigCommand::Get { key } => {
            if let Some(value) = home.config()?.get(key)? {
                printer.output(value);
            }
        }
        ConfigCommand::List => {
            let config = home.config()?;
            for key in CONFIG_KEYS {
                if let Some(value) = config.get(key)? {
                    printer.output(format!("{key} = {value}"));
                }
            }
        }
        ConfigCommand::Set { key, value } => {
            let _guard = home.exclusive(printer)?;
            let mut config = home.config()?;
            config.set(key, Some(value))?;
            home.save_config(&config)?;
            let shown = config.get(key)?.unwrap_or_default();
            printer.line(format!("Set {key} = {shown}"));
        }
        ConfigCommand::Unset { key } => {
            let _guard = home.exclusive(printer)?;
            let mut config = home.config()?;
            config.set(key, None)?;
            home.save_config(&config)?;
            printer.line(format!("Unset {key}"));
        }
    }
    Ok(())
}
