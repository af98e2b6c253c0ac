//! `modularbase completions bash|zsh|fish`: shell completion scripts.

use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

/// Writes the completion script for the shell to stdout.
pub(crate) fn run(args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut Cli::command(), "modularbase", &mut out);
    out.flush().context("cannot write the completion script")
}
