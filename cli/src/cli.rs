//! The command-line grammar (clap derive); doc comments are the help text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use modularbase_pack::PackId;

mod registry;
mod run;
mod serve;
mod train;
pub use registry::ConfigCommand;
pub(crate) use registry::{
    InfoArgs, InstallArgs, ListArgs, LoginArgs, NetArgs, OwnerAction, OwnerArgs, PublishArgs,
    RemoveArgs, ResolveArgs, SearchArgs, UpdateArgs, YankArgs,
};
pub use run::Bytes;
pub(crate) use run::{MonitorArgs, PackSetArgs, RunArgs};
pub(crate) use serve::{PsArgs, ServeArgs, StopArgs};
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
    /// Serve the installed packs (or `--base/--pack`) over HTTP, OpenAI- and Ollama-style.
    ///
    /// The base and router stay resident, packs load on demand under the budget and stay
    /// for the keep-alive; `/v1/chat/completions`, `/v1/completions` and `/v1/models` speak
    /// OpenAI's API (streamed as server-sent events), `/api/ps` lists what is loaded,
    /// `/metrics` is Prometheus, and `/` is a live monitor page. Ctrl-C (or SIGTERM) lets
    /// the requests in flight finish.
    ///
    /// Example: modularbase serve --budget 2GiB --keep-alive 10m
    Serve(ServeArgs),
    /// List what a running `modularbase serve` holds in memory.
    ///
    /// Example: modularbase ps
    Ps(PsArgs),
    /// Unload a pack from a running `modularbase serve` (once its requests finish).
    ///
    /// Example: modularbase stop python_code
    Stop(StopArgs),
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
    /// Revoke one of your keys at the registry: it can no longer publish, and installs of
    /// versions it signed are refused from then on (versions stay published).
    ///
    /// Example: modularbase key revoke --name old-laptop
    Revoke(KeyRevokeArgs),
}

/// Arguments of `key revoke`.
#[derive(Debug, Args)]
pub struct KeyRevokeArgs {
    #[command(flatten)]
    pub key: KeyNameArgs,
    /// The fingerprint of the key to revoke, when its files are not in this home
    /// (`key list` and the marketplace show fingerprints).
    #[arg(long, conflicts_with = "name")]
    pub fingerprint: Option<String>,
    /// The registry URL (default: MODULARBASE_REGISTRY, then the configured default).
    #[arg(long)]
    pub registry: Option<String>,
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
    /// Resolve, download, verify (checksum, signature, owners' or pinned key) and install
    /// packs, then write the lock. Local archives are verified the same way against the
    /// `.sig` beside them; their dependencies come from the registry.
    ///
    /// Example: modularbase pack install python_code@1.0.0 ./my_pack-0.1.0.mbpack
    Install(InstallArgs),
    /// List the installed packs (from the lock).
    List(ListArgs),
    /// Re-check every installed pack against the lock: its unpacked files against the
    /// digest recorded at install (naming each file modified, missing or added) and its
    /// cached archive against its checksum. Exits non-zero when any differs.
    ///
    /// Example: modularbase pack verify
    Verify(VerifyArgs),
    /// Stop asking for packs; what nothing needs any more is uninstalled.
    ///
    /// Example: modularbase pack remove medical
    Remove(RemoveArgs),
    /// Move installed packs (the named ones, or all) to the newest versions that fit.
    ///
    /// Example: modularbase pack update reasoning
    Update(UpdateArgs),
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

/// Arguments of `pack verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Print one JSON object per pack (`id`, `version`, `ok`, `problems`, `archive`) as a
    /// JSON array instead of lines.
    #[arg(long)]
    pub json: bool,
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
