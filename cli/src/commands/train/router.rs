//! `router train`.

use anyhow::Context;
use modularbase_pack::{MANIFEST_FILE, Manifest, WEIGHTS_FILE};
use modularbase_runtime::train::{Corpus, key_of_pooled, pooled_snippets, train_router};
use modularbase_runtime::{README_FILE, calibrate_threshold};

use super::train_options;
use crate::cli::RouterTrainArgs;
use crate::ops::{open_base, read_manifest, write_card_section};
use crate::printer::Printer;

use super::{device, finish, progress, snippet_limit};

/// The class general text (`--general`) is learnt as; its key is the router's own.
const GENERAL_CLASS: &str = "general text";

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
    // General text is one more class to learn; its key stays in the router, not a pack's.
    let general = match &args.general {
        Some(path) => Some(Corpus::read(std::slice::from_ref(path))?),
        None => None,
    };
    if let Some(general) = &general {
        train_sets.push((
            GENERAL_CLASS.to_owned(),
            Corpus::snippets(&general.train, args.snippets, shortest, longest, seed),
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
    let mut pooled = Vec::with_capacity(train_sets.len());
    for (id, snippets) in &train_sets {
        pooled.push((id.clone(), pooled_snippets(&mut model, snippets)?));
    }
    let (bar, mut step) = progress(printer, options.steps, "router");
    let (mut router, summary) = train_router(&pooled, &options, model.device(), &mut step)?;
    finish(&bar, &summary, printer);
    let mut keys = Vec::new();
    for (id, snippets) in &pooled {
        if general.is_some() && id == GENERAL_CLASS {
            let key = key_of_pooled(&router, snippets)?;
            router = router.with_general_key(&key)?;
            continue;
        }
        let pack: modularbase_pack::PackId = id
            .parse()
            .with_context(|| format!("`--data {id}=…` must name a pack id"))?;
        keys.push((pack, key_of_pooled(&router, snippets)?));
    }
    let mut rows = String::new();
    let (mut right, mut total) = (0, 0);
    // The best pack and its score; none when the general key beats every pack.
    let mut best_of = |snippet: &[u8]| -> anyhow::Result<Option<(String, f32)>> {
        let tokens = model.vocab().encode(&String::from_utf8_lossy(snippet))?;
        let best = router.contender(&model.pooled_hidden(&tokens)?, &keys)?;
        Ok(best.map(|s| (s.id.to_string(), s.score)))
    };
    let mut domain_scores = Vec::new();
    for (id, snippets) in &test_sets {
        let mut hits = 0;
        for snippet in snippets {
            let best = best_of(snippet)?;
            let own = best.as_ref().is_some_and(|(b, _)| b == id);
            hits += usize::from(own);
            domain_scores.push((own, best.map_or(f32::NEG_INFINITY, |(_, s)| s)));
        }
        rows.push_str(&format!("| {id} | {hits}/{} |\n", snippets.len()));
        right += hits;
        total += snippets.len();
    }
    let accuracy = right as f64 / total.max(1) as f64 * 100.0;
    let mut calibration = String::new();
    if let Some(general) = &general {
        let mut general_scores = Vec::new();
        for snippet in Corpus::snippets(&general.held_out, 100, shortest, longest, seed + 2) {
            general_scores.push(best_of(&snippet)?.map_or(f32::NEG_INFINITY, |(_, s)| s));
        }
        let (threshold, below, kept) = calibrate_threshold(&domain_scores, &general_scores);
        router = router.with_threshold(threshold);
        let line = format!(
            "threshold {threshold:.3}: {:.1}% of general held-out snippets get no pack, {:.1}% of domain snippets still reach their own",
            below * 100.0,
            kept * 100.0
        );
        printer.line(format!("Calibrated the confidence {line}"));
        calibration = format!("\nConfidence {line}.\n");
    }
    std::fs::create_dir_all(&args.path)
        .with_context(|| format!("cannot create `{}`", args.path.display()))?;
    router.write(&args.path.join(WEIGHTS_FILE), manifest.id.as_str())?;
    std::fs::write(args.path.join(MANIFEST_FILE), manifest.to_toml_string())?;
    let section = format!(
        "## Evaluation\n\nHeld-out snippets (24–128 bytes, never trained on) routed to the right domain, keys computed as `pack train` computes them: **{accuracy:.1}%** ({right}/{total}).\n\n| domain | routed right |\n|---|---|\n{rows}\nTrained with `modularbase router train`: {} steps, loss {:.3} → {:.3}.\n",
        options.steps, summary.first_loss, summary.last_loss
    ) + &calibration;
    write_card_section(&args.path, &manifest, "evaluation", &section)?;
    printer.line(format!(
        "Wrote router {} to {}: {accuracy:.1}% of held-out snippets routed right",
        manifest.id,
        args.path.display()
    ));
    Ok(())
}
