//! The grammar of the training and evaluation commands.

use std::path::PathBuf;

use clap::Args;
use modularbase_pack::{DomainShape, ExpertFormat, PackId};

/// Arguments of `pack init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// The pack's domain label (for example `medical`).
    #[arg(long)]
    pub domain: String,
    /// The pack's title.
    #[arg(long)]
    pub name: String,
    /// Its id (default: made from the name).
    #[arg(long)]
    pub id: Option<PackId>,
    /// The base as ID@VERSION (default: the installed base).
    #[arg(long)]
    pub base: Option<String>,
    /// The directory to create (default: the id).
    #[arg(long)]
    pub path: Option<PathBuf>,
    /// The base's hidden width, when the base is not installed (with `--layers` and `--base`).
    #[arg(long)]
    pub hidden: Option<usize>,
    /// The base's block count, when the base is not installed.
    #[arg(long)]
    pub layers: Option<usize>,
    /// The pack's shape.
    #[command(flatten)]
    pub shape: PackShapeArgs,
    /// Seed of the random initialisation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
}

/// The shape of a new pack (shared by `pack init` and by `pack train` on a pack without
/// weights yet): sizes that fit any base, the insertion block chosen for the base.
#[derive(Debug, Args)]
pub struct PackShapeArgs {
    /// The base block after which the pack adds to the hidden stream (default: the middle
    /// block, layers / 2: deep enough that the hidden state says what the text is about,
    /// with half of the base after it to use what the pack adds).
    #[arg(long, value_name = "BLOCK")]
    pub insert_after: Option<usize>,
    /// Width of the adapters and experts (a multiple of 32 for quantized experts).
    #[arg(long, default_value_t = 64)]
    pub width: usize,
    /// Number of experts (1 to 256).
    #[arg(long, default_value_t = 8)]
    pub experts: usize,
    /// Experts active per token.
    #[arg(long, default_value_t = 2)]
    pub top_k: usize,
    /// Hidden width inside each expert (a multiple of 32 for quantized experts).
    #[arg(long, default_value_t = 128)]
    pub expert_ffn: usize,
    /// How experts are stored: q8_0, q4_0 or f16.
    #[arg(long, default_value = "q8_0", value_parser = parse_expert_format)]
    pub expert_format: ExpertFormat,
}

fn parse_expert_format(text: &str) -> Result<ExpertFormat, String> {
    ExpertFormat::from_name(text).ok_or_else(|| format!("`{text}` is not q8_0, q4_0 or f16"))
}

impl PackShapeArgs {
    /// The pack's shape for a base of width `hidden` with `layers` blocks, checked.
    pub fn shape(&self, hidden: usize, layers: usize) -> anyhow::Result<DomainShape> {
        let insertion_layer = self.insert_after.unwrap_or(layers / 2);
        if insertion_layer >= layers {
            anyhow::bail!(
                "`--insert-after {insertion_layer}`: the base has {layers} blocks (0 to {})",
                layers.saturating_sub(1)
            );
        }
        let shape = DomainShape {
            hidden,
            width: self.width,
            experts: self.experts,
            top_k: self.top_k,
            expert_ffn: self.expert_ffn,
            insertion_layer,
            expert_format: self.expert_format,
        };
        shape.validate()?;
        Ok(shape)
    }
}

/// How long and how a training run goes (shared by every `train` and `align`).
#[derive(Debug, Args)]
pub struct TrainFlags {
    /// Optimizer steps.
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    /// Windows per step.
    #[arg(long, default_value_t = 16)]
    pub batch: usize,
    /// Bytes per window.
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    /// Peak learning rate (AdamW, warm-up then cosine decay).
    #[arg(long, default_value_t = 3e-3)]
    pub lr: f64,
    /// Seed of initial weights and data order.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Save a checkpoint every this many steps; an interrupted run resumes from it.
    #[arg(long, default_value_t = 50)]
    pub checkpoint_every: usize,
    /// Held-out bytes scored for the model card's figures (each window is a forward pass
    /// per variant; on a real base fewer bytes make the card quicker).
    #[arg(long, default_value_t = 128 * 1024)]
    pub eval_bytes: usize,
    /// Where to train: cpu, cuda, cuda:N or auto.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Arguments of `base train`.
#[derive(Debug, Args)]
pub struct BaseTrainArgs {
    /// Text files or directories of them (general text).
    #[arg(long, required = true, num_args = 1..)]
    pub corpus: Vec<PathBuf>,
    /// The base pack directory to write (its checkpoint lives in OUT/.checkpoint).
    #[arg(long)]
    pub out: PathBuf,
    /// Continue training this base directory (a base upgrade) instead of starting random.
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// The base family id.
    #[arg(long, default_value = "tiny_base")]
    pub id: PackId,
    /// The version to write.
    #[arg(
        long = "version",
        id = "base_version",
        value_name = "VERSION",
        default_value = "1.0.0"
    )]
    pub version: semver::Version,
    #[command(flatten)]
    pub shape: crate::cli::BaseShapeArgs,
    #[command(flatten)]
    pub train: TrainFlags,
}

/// Arguments of `pack train`.
#[derive(Debug, Args)]
pub struct PackTrainArgs {
    /// The base pack directory the pack plugs into (kept frozen).
    #[arg(long)]
    pub base: PathBuf,
    /// Domain text files or directories of them.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// The pack directory (made by `modularbase pack init`).
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    /// The router pack directory whose space the pack's key is computed in (default: the
    /// base's hidden space, which routers without a projection use).
    #[arg(long)]
    pub router: Option<PathBuf>,
    /// The pack's shape, when its directory has no weights yet.
    #[command(flatten)]
    pub shape: PackShapeArgs,
    /// Cache the frozen blocks' outputs before the pack in this directory, so that later
    /// epochs, later runs and other packs trained on the same text over the same base read
    /// them instead of computing them (about 300 KB per window of SmolLM2).
    #[arg(long, value_name = "DIR")]
    pub prefix_cache: Option<PathBuf>,
    #[command(flatten)]
    pub train: TrainFlags,
}

/// Arguments of `pack align`.
#[derive(Debug, Args)]
pub struct PackAlignArgs {
    /// The new base pack directory to align to.
    #[arg(long)]
    pub base: PathBuf,
    /// A small mixed set of text files or directories.
    #[arg(long, required = true, num_args = 1..)]
    pub mix: Vec<PathBuf>,
    /// The pack directory to align (its version is bumped, the base added to its compatibility).
    #[arg(long, default_value = ".")]
    pub path: PathBuf,
    #[command(flatten)]
    pub train: TrainFlags,
}

/// Arguments of `router train`.
#[derive(Debug, Args)]
pub struct RouterTrainArgs {
    /// The base pack directory (kept frozen).
    #[arg(long)]
    pub base: PathBuf,
    /// Training text per domain, as PACK_ID=PATH (repeatable; at least two domains).
    #[arg(long, required = true, num_args = 1.., value_parser = parse_labelled)]
    pub data: Vec<(String, PathBuf)>,
    /// The router pack directory to write (created with a manifest when it has none).
    #[arg(long, default_value = "router")]
    pub path: PathBuf,
    /// The router's id, when creating it.
    #[arg(long, default_value = "router")]
    pub id: PackId,
    /// The router's version, when creating it.
    #[arg(
        long = "version",
        id = "router_version",
        value_name = "VERSION",
        default_value = "1.0.0"
    )]
    pub version: semver::Version,
    /// Snippets per domain to learn from.
    #[arg(long, default_value_t = 300)]
    pub snippets: usize,
    /// General text no pack should take: the router learns it as one more class, keeps its
    /// key (a prompt closer to it than to every pack gets no pack), and the confidence
    /// threshold is set on its held-out snippets and the domains', so that general prompts
    /// get the base alone (or `general_chat`) while each domain's still reach its pack.
    #[arg(long, value_name = "PATH")]
    pub general: Option<PathBuf>,
    #[command(flatten)]
    pub train: TrainFlags,
}

/// Arguments of `eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Held-out text as PATH or PACK_ID=PATH (the pack that text belongs to, for routing
    /// accuracy); repeatable.
    #[arg(long, required = true, num_args = 1.., value_parser = parse_maybe_labelled)]
    pub data: Vec<(Option<String>, PathBuf)>,
    /// The base pack directory (default: the installed base).
    #[arg(long)]
    pub base: Option<PathBuf>,
    /// A pack to score with: its directory (`./python_code`) or an installed id; repeatable.
    #[arg(long = "pack", value_name = "DIR|ID")]
    pub packs: Vec<String>,
    /// Also score with routing over the installed packs (or the `--route-over` packs).
    #[arg(long)]
    pub route: bool,
    /// Pack directories to route over instead of the installed set (with `--base`).
    #[arg(long = "route-over", value_name = "DIR")]
    pub route_over: Vec<PathBuf>,
    /// Bytes scored per window.
    #[arg(long, default_value_t = modularbase_runtime::EVAL_WINDOW)]
    pub window: usize,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

fn parse_labelled(text: &str) -> Result<(String, PathBuf), String> {
    match parse_maybe_labelled(text)? {
        (Some(label), path) => Ok((label, path)),
        (None, _) => Err(format!(
            "`{text}` should be PACK_ID=PATH, as in python_code=corpus/python"
        )),
    }
}

fn parse_maybe_labelled(text: &str) -> Result<(Option<String>, PathBuf), String> {
    match text.split_once('=') {
        Some((label, path)) => {
            label
                .parse::<PackId>()
                .map_err(|e| format!("`{label}` in `{text}` is not a pack id: {e}"))?;
            Ok((Some(label.to_owned()), PathBuf::from(path)))
        }
        None => Ok((None, PathBuf::from(text))),
    }
}
