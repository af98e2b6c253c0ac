//! `modularbase registry …` and `modularbase-registry …`: one grammar, two binaries.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::auth::Scope;
use crate::config::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT, DEFAULT_KEEP_ALIVE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_IP, DEFAULT_MAX_PUBLISH_BYTES,
    DEFAULT_REQUEST_TIMEOUT, RegistryConfig,
};

/// Run and administer a self-hosted registry.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Serve the registry (sparse index, API, downloads) until Ctrl-C or SIGTERM.
    ///
    /// Example: modularbase registry serve --addr 127.0.0.1:7878 --data ./registry-data
    Serve(ServeArgs),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Remove archives no version references (left by interrupted publishes).
    ///
    /// Example: modularbase registry gc --data ./registry-data
    Gc(GcArgs),
    /// Manage the keys that sign the index's metadata (root.json, snapshot.json, timestamp.json).
    #[command(subcommand)]
    Keys(KeysCommand),
}

/// The data directory every registry command works on.
#[derive(Debug, Args)]
pub struct DataArg {
    /// The registry's data directory (database and archives).
    #[arg(
        long,
        env = "MODULARBASE_REGISTRY_DATA",
        default_value = "./registry-data"
    )]
    pub data: PathBuf,
}

/// Arguments of `registry serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(
        long,
        env = "MODULARBASE_REGISTRY_ADDR",
        default_value = "127.0.0.1:7878"
    )]
    pub addr: SocketAddr,
    #[command(flatten)]
    data: DataArg,
    /// The URL clients reach this server at, used in download links (default: http://ADDR).
    #[arg(long, env = "MODULARBASE_REGISTRY_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest publish body in bytes; larger uploads get 413.
    #[arg(long, default_value_t = DEFAULT_MAX_PUBLISH_BYTES)]
    pub max_publish_bytes: u64,
    /// Seconds a client has to send a request's line and headers; then the connection is
    /// closed (slow clients cannot hold connections open).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = DEFAULT_HEADER_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub header_timeout: u64,
    /// Seconds a publish may go without sending body bytes; then it gets 408 and its
    /// partial upload is removed.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = DEFAULT_BODY_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub body_timeout: u64,
    /// Seconds any request but a publish may take in all; then it gets 503.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = DEFAULT_REQUEST_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub request_timeout: u64,
    /// Seconds an idle keep-alive connection waits for its next request.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = DEFAULT_KEEP_ALIVE_TIMEOUT.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub keep_alive_timeout: u64,
    /// Most open connections; further ones are answered 503 and closed.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub max_connections: usize,
    /// Most open connections from one client IP address; further ones get 503.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS_PER_IP)]
    pub max_connections_per_ip: usize,
    /// How long each signed snapshot.json is valid (1s to 366d, e.g. `1d`, `12h`); it is
    /// re-signed when half of it is left.
    #[arg(long, value_name = "DURATION", default_value = "1d", value_parser = parse_online_expiry)]
    pub snapshot_expiry: Duration,
    /// How long each signed timestamp.json is valid (1s to 366d, e.g. `1h`, `10m`); it is
    /// re-signed when half of it is left.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_online_expiry)]
    pub timestamp_expiry: Duration,
}

/// `registry keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create the root keys (files you keep offline), the online snapshot and timestamp
    /// keys (in the data directory) and root version 1, signed by every root key.
    ///
    /// Example: modularbase registry keys init --root-keys 3 --threshold 2 --out ./registry-root-keys --data ./registry-data
    Init(KeysInitArgs),
    /// Write the next root version: renew it, replace the root keys (`--new-root-keys`) or
    /// the online keys (`--online`); signed by the current root's threshold of `--key` files
    /// and by its own.
    ///
    /// Example: modularbase registry keys rotate --key ./registry-root-keys/root-1.key --key ./registry-root-keys/root-2.key --data ./registry-data
    Rotate(KeysRotateArgs),
}

/// Arguments of `registry keys init`.
#[derive(Debug, Args)]
pub struct KeysInitArgs {
    /// How many root keys to generate.
    #[arg(long, default_value_t = 1)]
    pub root_keys: u32,
    /// How many root keys must sign each new root.
    #[arg(long, default_value_t = 1)]
    pub threshold: u32,
    /// Where to write the root keys (`root-1.key`, …, mode 0600); keep them offline.
    #[arg(long, value_name = "DIR", default_value = "./registry-root-keys")]
    pub out: PathBuf,
    /// How long root version 1 is valid (1d to 3660d, e.g. `365d`).
    #[arg(long, value_name = "DURATION", default_value = "365d", value_parser = parse_root_expiry)]
    pub expires: Duration,
    #[command(flatten)]
    data: DataArg,
}

/// Arguments of `registry keys rotate`.
#[derive(Debug, Args)]
pub struct KeysRotateArgs {
    /// A root key file of the current root (repeat; at least its threshold of them).
    #[arg(long = "key", value_name = "FILE", required = true)]
    pub keys: Vec<PathBuf>,
    /// Replace the root keys by this many new ones (written to `--out`).
    #[arg(long, value_name = "N")]
    pub new_root_keys: Option<u32>,
    /// How many root keys must sign each later root (default: as now).
    #[arg(long, value_name = "T")]
    pub threshold: Option<u32>,
    /// Where to write new root keys (`root-vN-1.key`, …, mode 0600).
    #[arg(long, value_name = "DIR", default_value = "./registry-root-keys")]
    pub out: PathBuf,
    /// Replace the online snapshot and timestamp keys too.
    #[arg(long)]
    pub online: bool,
    /// How long the new root is valid (1d to 3660d).
    #[arg(long, value_name = "DURATION", default_value = "365d", value_parser = parse_root_expiry)]
    pub expires: Duration,
    #[command(flatten)]
    data: DataArg,
}

/// `registry user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print their first token (all scopes) alone on stdout.
    ///
    /// Example: TOKEN=$(modularbase registry user add ada --data ./registry-data)
    Add {
        /// The login.
        name: String,
        #[command(flatten)]
        data: DataArg,
    },
}

/// `registry token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token for a user and print it alone on stdout (it is never shown again).
    ///
    /// Example: modularbase registry token create --user ada --scope yank --data ./registry-data
    Create {
        /// Whose token.
        #[arg(long)]
        user: String,
        /// A label to recognise it by.
        #[arg(long, default_value = "cli")]
        name: String,
        /// What it may do: publish-new, publish-update, yank, owners or keys (repeat; default: every scope).
        #[arg(long = "scope", value_parser = parse_scope)]
        scopes: Vec<Scope>,
        #[command(flatten)]
        data: DataArg,
    },
    /// Revoke a token by its id (as `token list` shows it) or by the token itself.
    Revoke {
        /// The token id.
        id: String,
        #[command(flatten)]
        data: DataArg,
    },
    /// List a user's tokens (ids, scopes, dates; never secrets).
    List {
        /// Whose tokens.
        #[arg(long)]
        user: String,
        #[command(flatten)]
        data: DataArg,
    },
}

/// Arguments of `registry gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    #[command(flatten)]
    data: DataArg,
    /// Keep unreferenced files younger than this many seconds (protects publishes in flight).
    #[arg(long, default_value_t = 3600)]
    pub grace_seconds: u64,
}

fn parse_scope(text: &str) -> Result<Scope, String> {
    text.parse()
}

const DAY: Duration = Duration::from_secs(24 * 3600);

/// `text` as a humantime duration within `least..=most` (`range` says which, in words).
fn parse_duration_within(
    text: &str,
    least: Duration,
    most: Duration,
    range: &str,
) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration like `1h` or `30d`: {e}"))?;
    if duration < least || duration > most {
        return Err(format!("`{text}` is out of range: use {range}"));
    }
    Ok(duration)
}

fn parse_online_expiry(text: &str) -> Result<Duration, String> {
    parse_duration_within(text, Duration::from_secs(1), DAY * 366, "1s to 366d")
}

fn parse_root_expiry(text: &str) -> Result<Duration, String> {
    parse_duration_within(text, DAY, DAY * 3660, "1d to 3660d (about ten years)")
}

/// Runs a registry command on its own tokio runtime.
pub fn run_command(command: RegistryCommand) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run_async(command))
}

fn stdout_line(line: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

fn stdout_lines(lines: &[String]) -> anyhow::Result<()> {
    for line in lines {
        stdout_line(line)?;
    }
    Ok(())
}

async fn run_async(command: RegistryCommand) -> anyhow::Result<()> {
    match command {
        RegistryCommand::Serve(args) => {
            init_logging();
            let mut config = RegistryConfig::new(args.addr, args.data.data);
            config.public_url = args.public_url;
            config.max_publish_bytes = args.max_publish_bytes;
            config.header_timeout = Duration::from_secs(args.header_timeout);
            config.body_timeout = Duration::from_secs(args.body_timeout);
            config.request_timeout = Duration::from_secs(args.request_timeout);
            config.keep_alive_timeout = Duration::from_secs(args.keep_alive_timeout);
            config.max_connections = args.max_connections;
            config.max_connections_per_ip = args.max_connections_per_ip;
            config.snapshot_expiry = args.snapshot_expiry;
            config.timestamp_expiry = args.timestamp_expiry;
            crate::server::serve(config).await
        }
        RegistryCommand::User(UserCommand::Add { name, data }) => {
            stdout_line(&crate::admin::create_user(&data.data, &name).await?)
        }
        RegistryCommand::Token(TokenCommand::Create {
            user,
            name,
            scopes,
            data,
        }) => {
            let scopes = if scopes.is_empty() {
                Scope::ALL.to_vec()
            } else {
                scopes
            };
            stdout_line(&crate::admin::create_token(&data.data, &user, &name, &scopes).await?)
        }
        RegistryCommand::Token(TokenCommand::Revoke { id, data }) => {
            crate::admin::revoke_token(&data.data, &id).await
        }
        RegistryCommand::Token(TokenCommand::List { user, data }) => {
            for t in crate::admin::list_tokens(&data.data, &user).await? {
                let scopes: Vec<&str> = t.scopes.iter().map(|s| s.as_str()).collect();
                let state = match (&t.revoked_at, &t.last_used_at) {
                    (Some(at), _) => format!("revoked {at}"),
                    (None, Some(at)) => format!("last used {at}"),
                    (None, None) => "never used".to_owned(),
                };
                stdout_line(&format!(
                    "{}  {:<12} {:<40} created {}  {state}",
                    t.id,
                    t.name,
                    scopes.join(","),
                    t.created_at
                ))?;
            }
            Ok(())
        }
        RegistryCommand::Gc(args) => {
            let report =
                crate::admin::gc(&args.data.data, Duration::from_secs(args.grace_seconds)).await?;
            stdout_line(&format!(
                "removed {} unreferenced archive(s) ({} bytes) and {} stale upload(s)",
                report.blobs_removed, report.bytes_freed, report.uploads_removed
            ))
        }
        RegistryCommand::Keys(KeysCommand::Init(args)) => {
            let options = crate::metadata::InitOptions {
                root_keys: args.root_keys,
                threshold: args.threshold,
                out: args.out,
                expires: args.expires,
            };
            let lines = crate::metadata::init_keys(&args.data.data, &options).await?;
            stdout_lines(&lines)
        }
        RegistryCommand::Keys(KeysCommand::Rotate(args)) => {
            let options = crate::metadata::RotateOptions {
                keys: args.keys,
                new_root_keys: args.new_root_keys,
                threshold: args.threshold,
                out: args.out,
                online: args.online,
                expires: args.expires,
            };
            let lines = crate::metadata::rotate_keys(&args.data.data, &options).await?;
            stdout_lines(&lines)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
