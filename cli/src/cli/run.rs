//! The grammar of the commands that run models: `run`, `monitor`, and the pack set and
//! memory budget they share.

use std::path::PathBuf;

use clap::Args;

/// The base and packs a command runs over.
#[derive(Debug, Args)]
pub struct PackSetArgs {
    /// The base pack directory (default: the installed set from the lock).
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// A pack directory to use, written as a path (`./python_code`; repeatable), or the bare
    /// id of a pack to force instead of routing (`python_code`).
    #[arg(long = "pack", value_name = "DIR|ID")]
    pub packs: Vec<String>,
    /// Memory budget for base, router and loaded packs (e.g. 4GiB, 512MiB).
    #[arg(long, default_value = "4GiB")]
    pub budget: Bytes,
    /// Where to run: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// Arguments of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The prompt; without one on a terminal (or with `--interactive`), an interactive chat.
    pub prompt: Option<String>,
    /// Chat interactively: each line you type is a turn (`/exit`, `/pack ID`, `/debug`).
    #[arg(short, long)]
    pub interactive: bool,
    /// The `modularbase serve` to answer through when one is listening there (only when
    /// the installed set is used: no `--base`, no `--pack ./DIR`).
    #[arg(long, env = "MODULARBASE_SERVER", default_value = "127.0.0.1:11435")]
    pub server: String,
    /// Load the model in this process even when a server is listening.
    #[arg(long)]
    pub local: bool,
    #[command(flatten)]
    pub set: PackSetArgs,
    /// Most tokens to generate.
    #[arg(long, default_value_t = 64)]
    pub max_tokens: usize,
    /// Sampling temperature; 0 always picks the most likely token.
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Nucleus sampling: the probability mass to sample from.
    #[arg(long, default_value_t = 0.95)]
    pub top_p: f64,
    /// Seed of the sampler.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Show routing scores, the chosen pack, expert usage, cache events and fallbacks.
    #[arg(long)]
    pub debug: bool,
    /// Show the memory dashboard after answering.
    #[arg(long)]
    pub monitor: bool,
    /// Wrap the prompt as one user turn in the base's chat template (ChatML for SmolLM2)
    /// and stop at its end of turn; bases without a template take the prompt as it is.
    #[arg(long)]
    pub chat: bool,
    /// When the pack forced with `--pack ID` cannot be used (its weights fail their checks,
    /// it does not fit the base, …), answer with its fallback chain and a warning instead of
    /// failing.
    #[arg(long)]
    pub allow_fallback: bool,
}

/// Arguments of `monitor`.
#[derive(Debug, Args)]
pub struct MonitorArgs {
    #[command(flatten)]
    pub set: PackSetArgs,
}

/// A byte count given as `4GiB`, `512MiB`, `100KB` or plain bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bytes(pub u64);

impl std::str::FromStr for Bytes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let split = text
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let number: f64 = number
            .parse()
            .map_err(|_| format!("`{s}` is not a size such as 4GiB or 512MiB"))?;
        let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1.0,
            "k" | "kb" => 1e3,
            "m" | "mb" => 1e6,
            "g" | "gb" => 1e9,
            "kib" => 1024.0,
            "mib" => 1024.0 * 1024.0,
            "gib" => 1024.0 * 1024.0 * 1024.0,
            "tib" => 1024.0f64.powi(4),
            other => {
                return Err(format!(
                    "`{other}` is not a size unit; use B, KiB, MiB, GiB, KB, MB or GB"
                ));
            }
        };
        Ok(Self((number * scale).round() as u64))
    }
}
