//! The command-line grammar (clap derive); doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use modularbase_pack::PackId;

mod run;
mod train;
pub use run::Bytes;
pub(crate) use run::{MonitorArgs, PackSetArgs, RunArgs};
pub(crate) use train::{
    BaseTrainArgs, EvalArgs, InitArgs, PackAlignArgs, PackShapeArgs, PackTrainArgs,
    RouterTrainArgs, TrainFlags,
};

/// Build, share and run small modular language models: a frozen base core plus domain
/// packs, published and installed the way cargo handles crates.
#[derive(Debug, Parser)]
#[command(name = "modularbase", version, propagate_version = true)]
pub struct Cli {
    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Show each step (resolution, downloads, verification).
    #[arg(short, long, global = true)]
    pub verbose: bool,
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
    /// Create and train base cores.
    #[command(subcommand)]
    Base(BaseCommand),
    /// Train the router that sends prompts to packs.
    #[command(subcommand)]
    Router(RouterCommand),
    /// Bits per byte on held-out text: the base alone, with given packs, and routed.
    ///
    /// Example: modularbase eval --data python_code=held_out/python.txt --route
    Eval(EvalArgs),
    /// Answer a prompt with the base and the best-matching pack.
    ///
    /// The prompt is routed to a pack (by the router pack, or by matching pack keys), the
    /// pack is loaded under the memory budget (falling back along its chain if it cannot
    /// be), and the answer is generated.
    ///
    /// Example: modularbase run "def fib(n):" --base ./tiny_base --pack ./python_code --debug
    Run(RunArgs),
    /// Check an API token with the registry and store it (read from stdin, or `--token`).
    ///
    /// Example: modularbase registry user add ada | modularbase login --registry http://127.0.0.1:7878
    Login(LoginArgs),
    /// Read or change the home's settings (`config.toml`).
    ///
    /// Example: modularbase config set registry http://127.0.0.1:7878
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Manage your Ed25519 signing keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print a shell completion script.
    ///
    /// Example: modularbase completions bash > /etc/bash_completion.d/modularbase
    Completions(CompletionsArgs),
    /// Show the memory dashboard: base, router and packs against the budget.
    ///
    /// Example: modularbase monitor --base ./tiny_base --pack ./python_code --budget 1GiB
    Monitor(MonitorArgs),
    /// Tour everything on this machine, no network needed: publish, install, run, fall back.
    ///
    /// A registry runs in this process with a temporary home; the example packs are
    /// published, `python_code@1.0.0` resolved and installed, prompts routed through the
    /// cache under a small budget, one pack broken on purpose to show the fallback, the
    /// memory monitor shown; then the marketplace is served until Ctrl-C.
    ///
    /// Example: modularbase demo --exit
    Demo(DemoArgs),
}

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
#[derive(Debug, Args, Clone, Copy)]
pub struct NetArgs {
    /// Seconds to wait for an answer or any read of a download (default 30).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Retries of a request after a connection error, 5xx or 429 (default 3).
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
}

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The example pack directories to publish (default: `examples/packs` in the current
    /// directory, else the one in the source tree this binary was built from).
    #[arg(long, value_name = "DIR")]
    pub examples: Option<PathBuf>,
    /// Port of the demo registry on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Stop after the scripted part instead of serving the marketplace until Ctrl-C.
    #[arg(long)]
    pub exit: bool,
    /// Also import, publish, install and chat with a real model fetched by
    /// `scripts/fetch-model.sh` (for now: smollm2-135m).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
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

/// `modularbase key …`.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a key pair in the home's `keys/` (private key mode 0600) and print the public key.
    ///
    /// Example: modularbase key generate
    Generate(KeyNameArgs),
    /// List your keys with their fingerprints.
    List,
    /// Upload a public key to the registry for the logged-in user (needed to publish).
    ///
    /// Example: modularbase key register --registry http://127.0.0.1:7878
    Register(KeyRegisterArgs),
    /// Accept the key a pack's newest version is now signed with (after its publisher
    /// changed keys); installs refuse a changed key until then.
    ///
    /// Example: modularbase key trust python_code
    Trust(KeyTrustArgs),
}

/// Arguments of `key trust`.
#[derive(Debug, Args)]
pub struct KeyTrustArgs {
    /// The pack whose key to trust.
    pub id: PackId,
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
}

/// Which key.
#[derive(Debug, Args)]
pub struct KeyNameArgs {
    /// The key's name in `keys/`.
    #[arg(long, default_value = "default")]
    pub name: String,
}

/// Arguments of `key register`.
#[derive(Debug, Args)]
pub struct KeyRegisterArgs {
    #[command(flatten)]
    pub key: KeyNameArgs,
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
}

/// `modularbase base …`.
#[derive(Debug, Subcommand)]
pub enum BaseCommand {
    /// Write a new, randomly initialised base pack directory (pack.toml, README, weights.gguf).
    ///
    /// Example: modularbase base init --id tiny_base --version 1.0.0 --out ./tiny_base
    #[command(disable_version_flag = true)]
    Init(BaseInitArgs),
    /// Train a base core on general text (every tensor trained; resumes from its checkpoint).
    ///
    /// Example: modularbase base train --corpus ./corpus/general --out ./tiny_base --steps 1500
    #[command(disable_version_flag = true)]
    Train(BaseTrainArgs),
    /// Wrap a llama-family GGUF (SmolLM2, Llama, …) as a base pack: pack.toml, a model card
    /// from its `general.*` keys and shape, and weights.gguf with its tensor bytes unchanged.
    ///
    /// Example: modularbase base import SmolLM2-135M-Instruct.Q4_1.gguf --id smollm2_135m --version 1.0.0
    #[command(disable_version_flag = true)]
    Import(BaseImportArgs),
}

/// Arguments of `base import`.
#[derive(Debug, Args)]
pub struct BaseImportArgs {
    /// The GGUF file (`scripts/fetch-model.sh smollm2-135m` prints where it put SmolLM2).
    pub file: PathBuf,
    /// The base family id.
    #[arg(long)]
    pub id: PackId,
    /// Its version.
    #[arg(long = "version", id = "pack_version", value_name = "VERSION")]
    pub version: semver::Version,
    /// The directory to create (default: `./ID`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Requantize every matrix (q8_0 or q4_0) instead of keeping the file's tensor bytes.
    #[arg(long, value_name = "TYPE", value_parser = ["q8_0", "q4_0"])]
    pub quantize: Option<String>,
}

/// `modularbase router …`.
#[derive(Debug, Subcommand)]
pub enum RouterCommand {
    /// Train the router's projection so prompts land near their domain's packs.
    ///
    /// Example: modularbase router train --base ./tiny_base --data python_code=corpus/python --data reasoning=corpus/reasoning
    #[command(disable_version_flag = true)]
    Train(RouterTrainArgs),
}

/// The shape of a base core (`base init`, `base train`).
#[derive(Debug, Args)]
pub struct BaseShapeArgs {
    /// Width of the hidden stream.
    #[arg(long, default_value_t = 128)]
    pub hidden: usize,
    /// Transformer blocks.
    #[arg(long, default_value_t = 4)]
    pub layers: usize,
    /// Attention heads.
    #[arg(long, default_value_t = 4)]
    pub heads: usize,
    /// Key/value heads (default: as many as heads).
    #[arg(long)]
    pub kv_heads: Option<usize>,
    /// Feed-forward width (default: about 8/3 of hidden).
    #[arg(long)]
    pub ffn: Option<usize>,
    /// Longest context in tokens.
    #[arg(long, default_value_t = 512)]
    pub context: usize,
}

impl BaseShapeArgs {
    /// The base shape these flags describe.
    pub(crate) fn config(&self) -> modularbase_runtime::BaseConfig {
        modularbase_runtime::BaseConfig {
            hidden: self.hidden,
            layers: self.layers,
            heads: self.heads,
            kv_heads: self.kv_heads.unwrap_or(self.heads),
            ffn: self.ffn.unwrap_or(self.hidden * 8 / 3 / 32 * 32 + 32),
            context: self.context,
            ..modularbase_runtime::BaseConfig::default()
        }
    }
}

/// Arguments of `base init`.
#[derive(Debug, Args)]
pub struct BaseInitArgs {
    /// The base family id.
    #[arg(long)]
    pub id: PackId,
    /// Its version.
    #[arg(long = "version", id = "pack_version", value_name = "VERSION")]
    pub version: semver::Version,
    /// The directory to create.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub shape: BaseShapeArgs,
    /// Seed of the random initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    pub shell: clap_complete::Shell,
}

/// `modularbase pack …`.
#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Scaffold a new domain pack: pack.toml, a model card and weights shaped for its base.
    ///
    /// Example: modularbase pack init --domain medical --name "Medical QA Pack"
    Init(InitArgs),
    /// Train a pack's adapters, gate and experts on domain text, the base frozen; writes its
    /// routing key and its evaluation into the model card.
    ///
    /// Example: modularbase pack train --base ./tiny_base --data ./corpus/python --path ./python_code
    Train(PackTrainArgs),
    /// Align a pack to an upgraded base: base and experts frozen, only the input adapter
    /// trained on a small mixed set; adds the base to its compatibility and bumps its version.
    ///
    /// Example: modularbase pack align --base ./tiny_base-1.1.0 --mix ./corpus/mix --path ./reasoning
    Align(PackAlignArgs),
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
    /// Build, sign and upload the pack to the registry.
    ///
    /// Needs a signing key registered to you (`key generate`, `key register`) and a login.
    ///
    /// Example: modularbase pack publish --path packs/python_code --dry-run
    Publish(PublishArgs),
    /// Search the registry by id, name, description and domain.
    ///
    /// Example: modularbase pack search code --kind domain
    Search(SearchArgs),
    /// Show a pack's metadata, owners and versions.
    ///
    /// Example: modularbase pack info python_code
    Info(InfoArgs),
    /// Yank a version (it stays downloadable and its number stays taken), or `--undo`.
    ///
    /// Example: modularbase pack yank python_code@1.0.0
    Yank(YankArgs),
    /// List, add or remove a pack's owners.
    ///
    /// Example: modularbase pack owner add python_code bob
    Owner(OwnerArgs),
    /// Show which versions an install would choose (PubGrub over the registry's index), or
    /// why no set of packs fits. Changes nothing.
    ///
    /// Example: modularbase pack resolve python_code@1.0.0
    Resolve(ResolveArgs),
    /// Resolve, download, verify (checksum, signature, pinned key) and install packs, then
    /// write the lock.
    ///
    /// Example: modularbase pack install python_code@1.0.0
    Install(InstallArgs),
    /// List the installed packs (from the lock).
    List(ListArgs),
    /// Stop asking for packs; what nothing needs any more is uninstalled.
    ///
    /// Example: modularbase pack remove medical
    Remove(RemoveArgs),
    /// Move installed packs (the named ones, or all) to the newest versions that fit.
    ///
    /// Example: modularbase pack update reasoning
    Update(UpdateArgs),
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
    /// Packs as `ID` or `ID@REQ`, added to what was asked for before.
    #[arg(required = true)]
    pub packs: Vec<String>,
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

/// Arguments of `pack build`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The pack directory, holding `pack.toml` and `weights.gguf`.
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// Sign with this key from the home's `keys/` (default: `default`, when it exists).
    #[arg(long)]
    pub key: Option<String>,
}

/// Arguments of `pack inspect`.
#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The `.mbpack` archive to read.
    pub archive: PathBuf,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_grammar_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn sizes_parse_in_binary_and_decimal_units() {
        for (text, bytes) in [
            ("4GiB", 4u64 << 30),
            ("512MiB", 512 << 20),
            ("100KB", 100_000),
            ("1.5GiB", 3 << 29),
            ("42", 42),
        ] {
            assert_eq!(text.parse::<Bytes>(), Ok(Bytes(bytes)), "{text}");
        }
        assert!("lots".parse::<Bytes>().is_err());
        assert!(
            "4 parsecs"
                .parse::<Bytes>()
                .unwrap_err()
                .contains("not a size unit")
        );
    }
}
