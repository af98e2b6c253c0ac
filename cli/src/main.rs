//! `modularbase`: build, publish, install and run modular language-model packs.

use std::process::ExitCode;

use clap::Parser;
use modularbase::{Cli, Printer};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let printer = Printer::new(cli.quiet, cli.verbose);
    match modularbase::run(cli, &printer) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            printer.error(&err);
            ExitCode::FAILURE
        }
    }
}
