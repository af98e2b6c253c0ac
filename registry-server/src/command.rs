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
