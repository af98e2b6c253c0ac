//! The command-line grammar (clap derive); doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Build, share and run small modular language models: a frozen base core plus domain
/// packs, published and installed the way cargo handles crates.
#[derive(Debug, Parser)]
#[command(name = "modularbase", version, propagate_version = true)]
pub struct Cli {
    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Author packs: build and inspect archives.
    #[command(subcommand)]
    Pack(PackCommand),
    /// Self-host a registry: serve it, manage users and tokens, collect garbage.
    #[command(subcommand)]
    Registry(modularbase_registry::RegistryCommand),
}

/// `modularbase pack …`.
#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Build `target/ID-VERSION.mbpack` from a pack directory.
    ///
    /// The archive is deterministic: building the same directory twice gives the same
    /// bytes and the same checksum.
    ///
    /// Example: modularbase pack build --path packs/python_code
    Build(BuildArgs),
    /// Show what an archive holds (manifest, files, sizes, checksum) without installing it.
    ///
    /// Every check an install makes on the archive is made here too.
    ///
    /// Example: modularbase pack inspect target/python_code-1.0.0.mbpack
    Inspect(InspectArgs),
}

/// Arguments of `pack build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The pack directory, holding `pack.toml` and `weights.gguf`.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
}

/// Arguments of `pack inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The `.mbpack` archive to read.
    pub archive: PathBuf,
}
