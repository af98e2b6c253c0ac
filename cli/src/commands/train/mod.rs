//! `base train`, `pack train`, `pack align` and `router train`: run the runtime's training
//! with a progress bar, write the result into the pack directory, and record held-out
//! figures in its model card.

use std::path::Path;

use anyhow::{Context, bail};
use candle_core::Device;
use modularbase_pack::{Manifest, PackKind, WEIGHTS_FILE};
use modularbase_runtime::train::{Corpus, StepReport, TrainOptions, TrainSummary};
use modularbase_runtime::{
    BaseModel, BitsPerByte, EVAL_WINDOW, PackModule, PackWeights, bits_per_byte, pick_device,
};

use crate::cli::TrainFlags;
use crate::printer::Printer;

mod base;
mod pack;
mod router;

pub(crate) use base::base;
pub(crate) use pack::{align, pack};
pub(crate) use router::router;

/// Snippets a pack's routing key is averaged over.
const KEY_SNIPPETS: usize = 200;

/// The runtime's options for `flags`, checkpointing into `dir/.checkpoint`.
pub(super) fn train_options(flags: &TrainFlags, dir: &Path) -> TrainOptions {
    TrainOptions {
        steps: flags.steps,
        batch: flags.batch,
        seq: flags.seq,
        lr: flags.lr,
        seed: flags.seed,
        checkpoint_every: flags.checkpoint_every,
        checkpoint_dir: Some(dir.join(".checkpoint")),
        dense_base: false,
        prefix_cache: None,
    }
}

/// The device `flags` names.
fn device(flags: &TrainFlags, printer: &Printer) -> anyhow::Result<Device> {
    let picked = pick_device(&flags.device)?;
    if let Some(note) = picked.note {
        printer.note(note);
    }
    Ok(picked.device)
}

/// A progress bar for `steps` (hidden with `--quiet`) and the callback that advances it.
fn progress(
    printer: &Printer,
    steps: usize,
    what: &str,
) -> (indicatif::ProgressBar, impl FnMut(&StepReport)) {
    let bar = printer.progress_bar(
        steps as u64,
        "{prefix:>10} [{bar:30}] {pos}/{len} steps  {msg}  {elapsed_precise} (eta {eta})",
    );
    bar.set_prefix(what.to_owned());
    let handle = bar.clone();
    let step = move |report: &StepReport| {
        handle.set_position(report.step as u64);
        handle.set_message(format!("loss {:.3}", report.loss));
    };
    (bar, step)
}

/// Ends the progress bar and says when the run continued an interrupted one.
fn finish(bar: &indicatif::ProgressBar, summary: &TrainSummary, printer: &Printer) {
    bar.finish_and_clear();
    if summary.resumed_at > 0 {
        printer.line(format!(
            "Resumed from the checkpoint at step {}",
            summary.resumed_at
        ));
    }
    let peak = summary.peak_rss.map_or_else(String::new, |b| {
        format!(", peak memory {}", modularbase_runtime::human_bytes(b))
    });
    printer.line(format!(
        "Loss {:.3} → {:.3} at {:.2} s/step{peak}",
        summary.first_loss, summary.last_loss, summary.seconds_per_step
    ));
}

/// The longest snippet (in bytes) routing keys and router training use: about a prompt,
/// within the base's context (BOS included).
fn snippet_limit(model: &BaseModel) -> usize {
    128.min(model.config().context - 1)
}

/// The held-out bytes a model card is scored on: the first `flags.eval_bytes`.
fn held_out<'c>(corpus: &'c Corpus, flags: &crate::cli::TrainFlags) -> &'c [u8] {
    &corpus.held_out[..corpus.held_out.len().min(flags.eval_bytes)]
}

fn bpb(
    model: &mut BaseModel,
    pack: Option<&PackModule>,
    text: &[u8],
) -> anyhow::Result<BitsPerByte> {
    let plug = pack.map(|p| p as &dyn modularbase_runtime::HiddenPlug);
    let window = EVAL_WINDOW.min(model.config().context);
    Ok(bits_per_byte(model, plug, text, window)?)
}

/// The stored pack weights of the pack directory `dir`.
fn read_pack_weights(dir: &Path) -> anyhow::Result<PackWeights> {
    PackWeights::read(&dir.join(WEIGHTS_FILE))
        .with_context(|| format!("cannot read the pack weights in `{}`", dir.display()))
}

fn check_domain(manifest: &Manifest, dir: &Path) -> anyhow::Result<()> {
    if manifest.kind != PackKind::Domain {
        bail!(
            "`{}` holds a {} pack; only domain packs are trained this way",
            dir.display(),
            manifest.kind
        );
    }
    Ok(())
}
