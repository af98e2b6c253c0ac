//! `modularbase-registry`: the registry as a small standalone binary for deployments; the
//! same commands as `modularbase registry`.

use std::process::ExitCode;

use clap::Parser;
use modularbase_registry::{RegistryCommand, run_command};

/// The ModularBase registry server and its administration.
#[derive(Debug, Parser)]
#[command(name = "modularbase-registry", version)]
struct Args {
    #[command(subcommand)]
    command: RegistryCommand,
}

fn main() -> ExitCode {
    match run_command(Args::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            use std::io::Write;
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
