//! The grammar of `serve`, `ps` and `stop`: the local inference server and its control.

use clap::Args;
use modularbase_runtime::KeepAlive;

use super::PackSetArgs;

/// Arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub set: PackSetArgs,
    /// Where to listen (port 0 picks a free one, printed at start).
    #[arg(long, default_value = modularbase_serve::DEFAULT_ADDR)]
    pub addr: std::net::SocketAddr,
    /// How long a pack stays loaded after its last request (`5m`, `1h`; `0` unloads at
    /// once, a negative value such as `-1` pins it); a request's `keep_alive` overrides it.
    #[arg(long, default_value = "5m", value_parser = parse_keep_alive, allow_hyphen_values = true)]
    pub keep_alive: KeepAlive,
    /// Requests generating at once: each is one row of every forward pass.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: u16,
    /// Requests that may wait for a slot; more are refused with 503.
    #[arg(long, default_value_t = 64)]
    pub max_queue: usize,
}

/// Arguments of `ps`.
#[derive(Debug, Args)]
pub struct PsArgs {
    /// The server to ask.
    #[arg(long, env = "MODULARBASE_SERVER", default_value = modularbase_serve::DEFAULT_ADDR)]
    pub server: String,
    /// Print the server's JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `stop`.
#[derive(Debug, Args)]
pub struct StopArgs {
    /// The pack to unload.
    pub pack: String,
    /// The server to ask.
    #[arg(long, env = "MODULARBASE_SERVER", default_value = modularbase_serve::DEFAULT_ADDR)]
    pub server: String,
}

/// A keep-alive as `serve --keep-alive` and Ollama's `keep_alive` take it.
fn parse_keep_alive(text: &str) -> Result<KeepAlive, String> {
    let value = serde_json::Value::String(text.to_owned());
    match modularbase_serve::openai::parse_keep_alive(&value) {
        Ok(Some(keep)) => Ok(keep),
        Ok(None) => Ok(KeepAlive::default()),
        Err(e) => Err(e.message().to_owned()),
    }
}
