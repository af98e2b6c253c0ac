//! `pack train` and `pack align`.

use std::path::Path;

use anyhow::{Context, bail};
use modularbase_pack::{BaseCompat, ExpertFormat, MANIFEST_FILE, Manifest, WEIGHTS_FILE};
use modularbase_runtime::train::{
    Corpus, TrainOptions, align_pack, clear_checkpoint, pack_key, train_pack,
};
use modularbase_runtime::{BaseConfig, PackConfig, PackModule, PackWeights, Router};

use super::train_options;
use crate::cli::{PackAlignArgs, PackShapeArgs, PackTrainArgs};
use crate::ops::{change, open_base, read_manifest, write_card_section};
use crate::printer::Printer;

use super::{
    KEY_SNIPPETS, bpb, check_domain, device, finish, held_out, progress, read_pack_weights,
    snippet_limit,
};

/// The pack's shape: from its weights when it has some (`pack init` writes them), else
/// `args` for `base`, with the manifest's expert format when it names one.
fn pack_shape(
    dir: &Path,
    manifest: &Manifest,
    base: &BaseConfig,
    args: &PackShapeArgs,
) -> anyhow::Result<PackConfig> {
    if dir.join(WEIGHTS_FILE).exists() {
        return Ok(read_pack_weights(dir)?.config);
    }
    let mut shape = args.shape(base.hidden, base.layers)?;
    if let Some(format) = manifest.model.as_ref().and_then(|m| m.expert_format) {
        shape.expert_format = format;
        shape.validate()?;
    }
    Ok(shape)
}

/// `pack train`.
pub(crate) fn pack(args: &PackTrainArgs, printer: &Printer) -> anyhow::Result<()> {
    let device = device(&args.train, printer)?;
    let manifest = read_manifest(&args.path)?;
    check_domain(&manifest, &args.path)?;
    let (base_manifest, base_weights, mut model) = open_base(&args.base, &device)?;
    let config = pack_shape(&args.path, &manifest, &base_weights.config, &args.shape)?;
    if !manifest.supports_base(&base_manifest.version) {
        printer.warn(format!(
            "{} does not list base {} {} in its base_compatibility",
            manifest.id, base_manifest.id, base_manifest.version
        ));
    }
    let corpus = Corpus::read(&args.data)?;
    let options = TrainOptions {
        prefix_cache: args.prefix_cache.clone(),
        ..train_options(&args.train, &args.path)
    };
    printer.line(format!(
        "Training pack {} {} on {} bytes ({} held out) over base {} {}, {} steps",
        manifest.id,
        manifest.version,
        corpus.train.len(),
        corpus.held_out.len(),
        base_manifest.id,
        base_manifest.version,
        options.steps
    ));
    let (bar, mut step) = progress(printer, options.steps, manifest.id.as_str());
    let (mut tensors, summary) = train_pack(
        &base_weights,
        &config,
        &corpus,
        &options,
        &device,
        &mut step,
    )?;
    finish(&bar, &summary, printer);
    let router = match &args.router {
        Some(dir) => Router::read(&dir.join(WEIGHTS_FILE), &device)
            .with_context(|| format!("cannot read the router in `{}`", dir.display()))?,
        None => Router::identity(),
    };
    let longest = snippet_limit(&model);
    let snippets = Corpus::snippets(
        &corpus.train,
        KEY_SNIPPETS,
        32.min(longest),
        longest,
        options.seed,
    );
    tensors.push((
        "pack.key".to_owned(),
        pack_key(&mut model, &router, &snippets)?,
    ));
    let weights_path = args.path.join(WEIGHTS_FILE);
    PackWeights::from_f32(config, tensors.clone())?.write(&weights_path, manifest.id.as_str())?;
    // The same trained pack with each expert format, so the card shows what quantizing costs.
    let alone = bpb(&mut model, None, held_out(&corpus, &args.train))?;
    let mut rows = format!("| base alone | {:.3} | |\n", alone.value());
    let mut stored = alone;
    for format in [ExpertFormat::F16, ExpertFormat::Q8_0, ExpertFormat::Q4_0] {
        let variant = PackWeights::from_f32(
            PackConfig {
                expert_format: format,
                ..config
            },
            tensors.clone(),
        )?;
        let score = bpb(
            &mut model,
            Some(&PackModule::new(variant, &device)?),
            held_out(&corpus, &args.train),
        )?;
        let mark = if format == config.expert_format {
            stored = score;
            " (stored)"
        } else {
            ""
        };
        rows.push_str(&format!(
            "| + {}, {format:?} experts{mark} | {:.3} | {} |\n",
            manifest.id,
            score.value(),
            change(alone.value(), score.value())
        ));
    }
    let with_pack = stored;
    let unit = if model.vocab().is_bytes() {
        "bytes"
    } else {
        "tokens"
    };
    let section = format!(
        "## Evaluation\n\nHeld-out bits per byte on this pack's domain text ({} bytes never trained on), over base {} {}:\n\n| model | bits per byte | vs base |\n|---|---|---|\n{rows}\nTrained with `modularbase pack train`: {} steps (batch {} × {} {unit}, seed {}), loss {:.3} → {:.3}.\n",
        alone.bytes,
        base_manifest.id,
        base_manifest.version,
        options.steps,
        options.batch,
        options.seq,
        options.seed,
        summary.first_loss,
        summary.last_loss
    );
    write_card_section(&args.path, &manifest, "evaluation", &section)?;
    clear_checkpoint(&options)?;
    printer.line(format!(
        "Wrote {}: held-out {:.3} bits/byte with the pack, {:.3} without ({})",
        weights_path.display(),
        with_pack.value(),
        alone.value(),
        change(alone.value(), with_pack.value())
    ));
    Ok(())
}

/// `pack align`.
pub(crate) fn align(args: &PackAlignArgs, printer: &Printer) -> anyhow::Result<()> {
    let device = device(&args.train, printer)?;
    let mut manifest = read_manifest(&args.path)?;
    check_domain(&manifest, &args.path)?;
    let pack = read_pack_weights(&args.path)?;
    let (base_manifest, base_weights, mut model) = open_base(&args.base, &device)?;
    if manifest.base.as_ref() != Some(&base_manifest.id) {
        bail!(
            "{} plugs into the base family {}, not {}",
            manifest.id,
            manifest
                .base
                .as_ref()
                .map_or("(none)".to_owned(), ToString::to_string),
            base_manifest.id
        );
    }
    let mix = Corpus::read(&args.mix)?;
    let text = held_out(&mix, &args.train);
    let before = bpb(
        &mut model,
        Some(&PackModule::new(read_pack_weights(&args.path)?, &device)?),
        text,
    )?;
    let options = train_options(&args.train, &args.path);
    printer.line(format!(
        "Aligning {} {} to base {} {}: only the input adapter trains, {} steps on {} mixed bytes",
        manifest.id,
        manifest.version,
        base_manifest.id,
        base_manifest.version,
        options.steps,
        mix.train.len()
    ));
    let (bar, mut step) = progress(printer, options.steps, manifest.id.as_str());
    let (aligned, summary) = align_pack(&base_weights, pack, &mix, &options, &device, &mut step)?;
    finish(&bar, &summary, printer);
    aligned.write(&args.path.join(WEIGHTS_FILE), manifest.id.as_str())?;
    let after = bpb(
        &mut model,
        Some(&PackModule::new(read_pack_weights(&args.path)?, &device)?),
        text,
    )?;
    let alone = bpb(&mut model, None, text)?;
    let compat = BaseCompat {
        major: base_manifest.version.major,
        minor: base_manifest.version.minor,
    };
    let old_version = manifest.version.clone();
    if !manifest.base_compatibility.contains(&compat) {
        manifest.base_compatibility.push(compat);
    }
    manifest.version = semver::Version::new(old_version.major, old_version.minor + 1, 0);
    std::fs::write(args.path.join(MANIFEST_FILE), manifest.to_toml_string())
        .with_context(|| format!("cannot write the manifest in `{}`", args.path.display()))?;
    let section = format!(
        "## Alignment\n\n{} {} was aligned to base {} {} with `modularbase pack align` (base and experts frozen, only the input adapter trained: {} steps, loss {:.3} → {:.3}). Held-out bits per byte on the mixed set ({} bytes):\n\n| model | bits per byte |\n|---|---|\n| base {} alone | {:.3} |\n| + pack before alignment | {:.3} |\n| + pack after alignment | {:.3} |\n",
        manifest.id,
        old_version,
        base_manifest.id,
        base_manifest.version,
        options.steps,
        summary.first_loss,
        summary.last_loss,
        alone.bytes,
        base_manifest.version,
        alone.value(),
        before.value(),
        after.value()
    );
    write_card_section(&args.path, &manifest, "alignment", &section)?;
    clear_checkpoint(&options)?;
    printer.line(format!(
        "Aligned {} {} → {} (now for base {}): {:.3} → {:.3} bits/byte on the mixed set (base alone {:.3})",
        manifest.id,
        old_version,
        manifest.version,
        manifest
            .base_compatibility
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        before.value(),
        after.value(),
        alone.value()
    ));
    Ok(())
}
