//! The grammar of the commands that talk to a registry and change the installed set:
//! `login`, `config`, `pack install | remove | update | list | resolve | search | info |
//! yank | owner | publish`, and the network bounds they share.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use modularbase_pack::PackId;

/// `modularbase config …`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Set KEY to VALUE: `registry`, `net.timeout`, `net.connect-timeout`, `net.retries`,
    /// `net.cross-origin-redirects`.
    ///
    /// Example: modularbase config set net.timeout 60
    Set {
        /// The setting.
        key: String,
        /// Its new value.
        value: String,
    },
    /// Print the value of KEY (nothing when unset).
    Get {
        /// The setting.
        key: String,
    },
    /// Unset KEY.
    Unset {
        /// The setting.
        key: String,
    },
    /// Print every setting that is set.
    List,
}

/// How long and how often to try the registry (else MODULARBASE_HTTP_TIMEOUT,
/// MODULARBASE_NET_RETRY, then `[net]` in config.toml).
#[derive(Debug, Args, Clone)]
pub struct NetArgs {
    /// Seconds to wait for an answer or any read of a download (default 30).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Retries of a request after a connection error, 5xx or 429 (default 3).
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// The registry's signed root to trust (a `root.json` from its operator) instead of
    /// pinning the one it serves on first use.
    #[arg(long, value_name = "FILE", env = "MODULARBASE_REGISTRY_ROOT")]
    pub root: Option<std::path::PathBuf>,
}

/// Arguments of `login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
    /// The token (default: read one line from stdin, so it stays out of shell history).
    #[arg(long)]
    pub token: Option<String>,
}

/// Arguments of `pack remove`.
#[derive(Debug, Args)]
pub struct RemoveArgs {
    /// The packs to stop asking for.
    #[arg(required = true)]
    pub packs: Vec<PackId>,
    /// Use the cached index only; no network.
    #[arg(long)]
    pub offline: bool,
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
    /// Network bounds.
    #[command(flatten)]
    pub net: NetArgs,
}

/// Arguments of `pack update`.
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The packs allowed to change (default: all).
    pub packs: Vec<PackId>,
    /// Print the plan; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
    /// Network bounds.
    #[command(flatten)]
    pub net: NetArgs,
}

/// Arguments of `pack install`.
#[derive(Debug, Args)]
pub struct InstallArgs {
    /// Packs as `ID` or `ID@REQ`, added to what was asked for before, or archive files
    /// (`./ID-VERSION.mbpack`: a path with a `/` or ending in `.mbpack`), verified like a
    /// download against the `.sig` beside them and installed at their version.
    #[arg(required = true)]
    pub packs: Vec<String>,
    /// Accept a local archive that has no `.sig` beside it; it is installed and locked as
    /// unsigned.
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Resolve and print the plan (add, keep, change); download and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse to change the lock (for reproducible installs, as in CI).
    #[arg(long)]
    pub locked: bool,
    /// Use the cached index and archives only; no network.
    #[arg(long)]
    pub offline: bool,
    /// Print the resulting lock entries as JSON instead of sentences.
    #[arg(long)]
    pub json: bool,
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
    /// Network bounds.
    #[command(flatten)]
    pub net: NetArgs,
}

/// Arguments of `pack list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print the lock's entries as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `pack resolve`.
#[derive(Debug, Args)]
pub struct ResolveArgs {
    /// Packs as `ID` or `ID@REQ` (`python_code@1.0.0` is exactly 1.0.0, `@>=1.1` a range).
    #[arg(required = true)]
    pub packs: Vec<String>,
    /// Print the chosen index records as JSON.
    #[arg(long)]
    pub json: bool,
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
    /// Network bounds.
    #[command(flatten)]
    pub net: NetArgs,
}

/// Arguments of `pack search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Text to look for.
    #[arg(default_value = "")]
    pub query: String,
    /// Only this kind: base, router or domain.
    #[arg(long)]
    pub kind: Option<String>,
    /// Only this domain label.
    #[arg(long)]
    pub domain: Option<String>,
    /// Order: downloads (default), recent or name.
    #[arg(long)]
    pub sort: Option<String>,
    /// Page number, from 1.
    #[arg(long, default_value_t = 1)]
    pub page: u32,
    /// Matches per page (at most 100).
    #[arg(long, default_value_t = 20)]
    pub per_page: u32,
    /// Print the registry's JSON answer.
    #[arg(long)]
    pub json: bool,
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
}

/// Arguments of `pack info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// The pack id.
    pub id: PackId,
    /// Print the registry's JSON answer.
    #[arg(long)]
    pub json: bool,
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
}

/// Arguments of `pack yank`.
#[derive(Debug, Args)]
pub struct YankArgs {
    /// `ID@VERSION`.
    pub pack: String,
    /// Unyank instead.
    #[arg(long)]
    pub undo: bool,
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
}

/// What `pack owner` does.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OwnerAction {
    /// Print the owners.
    List,
    /// Add the given logins.
    Add,
    /// Remove the given logins.
    Remove,
}

/// Arguments of `pack owner`.
#[derive(Debug, Args)]
pub struct OwnerArgs {
    /// list, add or remove.
    pub action: OwnerAction,
    /// The pack id.
    pub id: PackId,
    /// Logins to add or remove.
    pub logins: Vec<String>,
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
}

/// Arguments of `pack publish`.
#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The pack directory, holding `pack.toml` and `weights.gguf`.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
    /// The signing key in the home's `keys/`.
    #[arg(long, default_value = "default")]
    pub key: String,
    /// Build and sign, show what would be uploaded, upload nothing.
    #[arg(long)]
    pub dry_run: bool,
}
