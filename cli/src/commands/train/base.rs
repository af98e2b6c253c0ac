//! `base train`.

use anyhow::Context;
use modularbase_pack::{MANIFEST_FILE, WEIGHTS_FILE};
use modularbase_runtime::train::{Corpus, clear_checkpoint, train_base};
use modularbase_runtime::{
    BaseModel, README_FILE, base_manifest, base_shape_table, read_base_gguf, write_base_gguf,
};

use super::train_options;
use crate::cli::BaseTrainArgs;
use crate::ops::write_card_section;
use crate::printer::Printer;

use super::{bpb, device, finish, held_out, progress};

/// `base train`.
pub(crate) fn base(args: &BaseTrainArgs, printer: &Printer) -> anyhow::Result<()> {
    let device = device(&args.train, printer)?;
    let config = args.shape.config();
    let corpus = Corpus::read(&args.corpus)?;
    let start = match &args.from {
        Some(dir) => Some(read_base_gguf(&dir.join(WEIGHTS_FILE)).with_context(|| {
            format!(
                "cannot read the base to continue from in `{}`",
                dir.display()
            )
        })?),
        None => None,
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create `{}`", args.out.display()))?;
    let options = train_options(&args.train, &args.out);
    printer.line(format!(
        "Training base {} {} on {} bytes ({} held out), {} steps of {}×{} bytes",
        args.id,
        args.version,
        corpus.train.len(),
        corpus.held_out.len(),
        options.steps,
        options.batch,
        options.seq
    ));
    let (bar, mut step) = progress(printer, options.steps, "base");
    let (weights, summary) = train_base(
        &corpus,
        &config,
        start.as_ref(),
        &options,
        &device,
        &mut step,
    )?;
    finish(&bar, &summary, printer);
    let weights_path = args.out.join(WEIGHTS_FILE);
    let manifest = base_manifest(&args.id, &args.version, &config);
    write_base_gguf(&weights_path, &weights, &manifest)?;
    std::fs::write(args.out.join(MANIFEST_FILE), manifest.to_toml_string())
        .with_context(|| format!("cannot write the manifest in `{}`", args.out.display()))?;
    let mut model = BaseModel::new(read_base_gguf(&weights_path)?, &device)?;
    let score = bpb(&mut model, None, held_out(&corpus, &args.train))?;
    let from = args.from.as_ref().map_or(String::new(), |d| {
        format!(", continued from `{}`", d.display())
    });
    let card = format!(
        "# {} {}\n\nA byte-level llama-architecture base core for ModularBase, trained with `modularbase base train`{from}.\n\n{}",
        args.id,
        args.version,
        base_shape_table(&config)
    );
    std::fs::write(args.out.join(README_FILE), card)?;
    let section = format!(
        "## Evaluation\n\n| | |\n|---|---|\n| training text | {} bytes |\n| steps | {} (batch {} × {} bytes, seed {}) |\n| training loss | {:.3} → {:.3} nats/byte |\n| held-out bits per byte | {:.3} ({} bytes) |\n",
        corpus.train.len(),
        options.steps,
        options.batch,
        options.seq,
        options.seed,
        summary.first_loss,
        summary.last_loss,
        score.value(),
        score.bytes
    );
    write_card_section(&args.out, &manifest, "evaluation", &section)?;
    clear_checkpoint(&options)?;
    printer.line(format!(
        "Wrote base {} {} to {}: loss {:.3} → {:.3}, held-out {:.3} bits/byte",
        args.id,
        args.version,
        args.out.display(),
        summary.first_loss,
        summary.last_loss,
        score.value()
    ));
    Ok(())
}
