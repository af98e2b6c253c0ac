//! `base train`, `pack train`, `pack align` and `router train`: run the runtime's training
//! with a progress bar, write the result into the pack directory, and record held-out
//! figures in its model card.

use std::path::Path;

use anyhow::{Context, bail};
use candle_core::Device;
use modularbase_pack::{BaseCompat, ExpertFormat, MANIFEST_FILE, Manifest, PackKind, WEIGHTS_FILE};
use modularbase_runtime::train::{
    Corpus, StepReport, TrainSummary, align_pack, clear_checkpoint, pack_key, train_base,
    train_pack, train_router,
};
use modularbase_runtime::{
    BaseConfig, BaseModel, BitsPerByte, EVAL_WINDOW, PackConfig, PackModule, PackWeights,
    README_FILE, Router, base_manifest, bits_per_byte, pick_device, read_base_gguf,
    write_base_gguf,
};

use crate::cli::{BaseTrainArgs, PackAlignArgs, PackTrainArgs, RouterTrainArgs, TrainFlags};
use crate::ops::{change, open_base, read_manifest, train_options, write_card_section};
use crate::printer::Printer;

/// Held-out bytes scored for a model card (bounded so evaluation stays quick).
const CARD_EVAL_BYTES: usize = 128 * 1024;
/// Snippets a pack's routing key is averaged over.
const KEY_SNIPPETS: usize = 200;

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
    let bar = if printer.is_quiet() {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(steps as u64)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix:>10} [{bar:30}] {pos}/{len} steps  {msg}  {elapsed_precise} (eta {eta})",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("=> "),
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
}

/// The longest snippet (in bytes) routing keys and router training use: about a prompt,
/// within the base's context (BOS included).
fn snippet_limit(model: &BaseModel) -> usize {
    128.min(model.config().context - 1)
}

fn held_out(corpus: &Corpus) -> &[u8] {
    &corpus.held_out[..corpus.held_out.len().min(CARD_EVAL_BYTES)]
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

/// `base train`.
pub(crate) fn base(args: &BaseTrainArgs, printer: &Printer) -> anyhow::Result<()> {
    let device = device(&args.train, printer)?;
    let config = BaseConfig {
        hidden: args.hidden,
        layers: args.layers,
        heads: args.heads,
        kv_heads: args.kv_heads,
        ffn: args.ffn,
        context: args.context,
        ..BaseConfig::default()
    };
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
    write_base_gguf(&weights_path, &weights, args.id.as_str())?;
    let manifest = base_manifest(&args.id, &args.version, &config);
    std::fs::write(args.out.join(MANIFEST_FILE), manifest.to_toml_string())
        .with_context(|| format!("cannot write the manifest in `{}`", args.out.display()))?;
    let mut model = BaseModel::new(read_base_gguf(&weights_path)?, &device)?;
    let score = bpb(&mut model, None, held_out(&corpus))?;
    let card = format!(
        "# {id} {version}\n\nA byte-level llama-architecture base core for ModularBase, trained with `modularbase base train`{from}.\n\n| | |\n|---|---|\n| blocks | {} |\n| hidden | {} |\n| heads | {} ({} key/value) |\n| feed-forward | {} |\n| context | {} tokens |\n| tokenizer | bytes + BOS/EOS |\n",
        config.layers,
        config.hidden,
        config.heads,
        config.kv_heads,
        config.ffn,
        config.context,
        id = args.id,
        version = args.version,
        from = args.from.as_ref().map_or(String::new(), |d| format!(
            ", continued from `{}`",
            d.display()
        )),
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

/// The stored pack weights of the pack directory `dir`.
fn read_pack_weights(dir: &Path) -> anyhow::Result<PackWeights> {
    PackWeights::read(&dir.join(WEIGHTS_FILE))
        .with_context(|| format!("cannot read the pack weights in `{}`", dir.display()))
}

/// The pack's shape: from its weights when it has some (`pack init` writes them), else the
/// default shape for `base` with the manifest's expert format.
fn pack_shape(dir: &Path, manifest: &Manifest, base: &BaseConfig) -> anyhow::Result<PackConfig> {
    if dir.join(WEIGHTS_FILE).exists() {
        return Ok(read_pack_weights(dir)?.config);
    }
    let format = manifest
        .model
        .as_ref()
        .and_then(|m| m.expert_format)
        .unwrap_or(ExpertFormat::Q8_0);
    Ok(PackConfig {
        expert_format: format,
        ..PackConfig::for_base(base.hidden, base.layers / 2)
    })
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

/// `pack train`.
pub(crate) fn pack(args: &PackTrainArgs, printer: &Printer) -> anyhow::Result<()> {
    let device = device(&args.train, printer)?;
    let manifest = read_manifest(&args.path)?;
    check_domain(&manifest, &args.path)?;
    let (base_manifest, base_weights, mut model) = open_base(&args.base, &device)?;
    let config = pack_shape(&args.path, &manifest, &base_weights.config)?;
    if !manifest.supports_base(&base_manifest.version) {
        printer.warn(format!(
            "{} does not list base {} {} in its base_compatibility",
            manifest.id, base_manifest.id, base_manifest.version
        ));
    }
    let corpus = Corpus::read(&args.data)?;
    let options = train_options(&args.train, &args.path);
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
    let alone = bpb(&mut model, None, held_out(&corpus))?;
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
            held_out(&corpus),
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
    let section = format!(
        "## Evaluation\n\nHeld-out bits per byte on this pack's domain text ({} bytes never trained on), over base {} {}:\n\n| model | bits per byte | vs base |\n|---|---|---|\n{rows}\nTrained with `modularbase pack train`: {} steps (batch {} × {} bytes, seed {}), loss {:.3} → {:.3}.\n",
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
    let text = held_out(&mix);
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

/// The manifest of a new router pack for the base `base`.
fn router_manifest(args: &RouterTrainArgs, base: &Manifest) -> anyhow::Result<Manifest> {
    let text = format!(
        "[pack]\nid = \"{id}\"\nversion = \"{version}\"\nname = \"Router for {base_id}\"\nkind = \"router\"\ndescription = \"Sends each prompt to the pack whose key it is closest to\"\nlicense = \"MIT\"\nbase = \"{base_id}\"\nbase_compatibility = [\"{major}.{minor}\"]\nreadme = \"{README_FILE}\"\n",
        id = args.id,
        version = args.version,
        base_id = base.id,
        major = base.version.major,
        minor = base.version.minor,
    );
    Ok(Manifest::from_toml_str(
        &text,
        &args.path.join(MANIFEST_FILE),
    )?)
}

/// `router train`.
pub(crate) fn router(args: &RouterTrainArgs, printer: &Printer) -> anyhow::Result<()> {
    let device = device(&args.train, printer)?;
    let (base_manifest, _, mut model) = open_base(&args.base, &device)?;
    let seed = args.train.seed;
    let longest = snippet_limit(&model);
    let shortest = 24.min(longest);
    let mut train_sets = Vec::new();
    let mut test_sets = Vec::new();
    for (id, path) in &args.data {
        let corpus = Corpus::read(std::slice::from_ref(path))?;
        train_sets.push((
            id.clone(),
            Corpus::snippets(&corpus.train, args.snippets, shortest, longest, seed),
        ));
        test_sets.push((
            id.clone(),
            Corpus::snippets(&corpus.held_out, 100, shortest, longest, seed + 1),
        ));
    }
    let manifest = match read_manifest(&args.path) {
        Ok(existing) => existing,
        Err(_) => router_manifest(args, &base_manifest)?,
    };
    let options = modularbase_runtime::train::TrainOptions {
        checkpoint_dir: None,
        ..train_options(&args.train, &args.path)
    };
    printer.line(format!(
        "Training router {} over {} domains ({} snippets each) on base {} {}",
        manifest.id,
        args.data.len(),
        args.snippets,
        base_manifest.id,
        base_manifest.version
    ));
    let (bar, mut step) = progress(printer, options.steps, "router");
    let (router, summary) = train_router(&mut model, &train_sets, &options, &mut step)?;
    finish(&bar, &summary, printer);
    let mut keys = Vec::new();
    for (id, snippets) in &train_sets {
        keys.push((id.clone(), pack_key(&mut model, &router, snippets)?));
    }
    let mut rows = String::new();
    let (mut right, mut total) = (0, 0);
    for (id, snippets) in &test_sets {
        let mut hits = 0;
        for snippet in snippets {
            let tokens =
                modularbase_runtime::ByteTokenizer.encode(&String::from_utf8_lossy(snippet));
            let (scores, _) = router.route(&model.pooled_hidden(&tokens)?, &keys)?;
            hits += usize::from(scores.first().is_some_and(|s| &s.id == id));
        }
        rows.push_str(&format!("| {id} | {hits}/{} |\n", snippets.len()));
        right += hits;
        total += snippets.len();
    }
    let accuracy = right as f64 / total.max(1) as f64 * 100.0;
    std::fs::create_dir_all(&args.path)
        .with_context(|| format!("cannot create `{}`", args.path.display()))?;
    router.write(&args.path.join(WEIGHTS_FILE), manifest.id.as_str())?;
    std::fs::write(args.path.join(MANIFEST_FILE), manifest.to_toml_string())?;
    let section = format!(
        "## Evaluation\n\nHeld-out snippets (24–128 bytes, never trained on) routed to the right domain, keys computed as `pack train` computes them: **{accuracy:.1}%** ({right}/{total}).\n\n| domain | routed right |\n|---|---|\n{rows}\nTrained with `modularbase router train`: {} steps, loss {:.3} → {:.3}.\n",
        options.steps, summary.first_loss, summary.last_loss
    );
    write_card_section(&args.path, &manifest, "evaluation", &section)?;
    printer.line(format!(
        "Wrote router {} to {}: {accuracy:.1}% of held-out snippets routed right",
        manifest.id,
        args.path.display()
    ));
    Ok(())
}
