//! What the training commands share: reading pack directories, and
//! the evaluation section of model cards.

use std::path::{Path, PathBuf};

use anyhow::Context;
use candle_core::Device;
use modularbase_pack::{MANIFEST_FILE, Manifest};
use modularbase_runtime::{BaseModel, BaseWeights, README_FILE, read_base_gguf};

/// The manifest of the pack directory `dir`.
pub(crate) fn read_manifest(dir: &Path) -> anyhow::Result<Manifest> {
    let path = dir.join(MANIFEST_FILE);
    if !path.exists() {
        anyhow::bail!(
            "`{}` holds no pack.toml; create the pack first with `modularbase pack init`",
            dir.display()
        );
    }
    Ok(Manifest::load(&path)?)
}

/// A base directory's manifest, stored weights and a model built from them, its matrices
/// kept dense on the CPU (training and the evaluations beside it are batch work).
pub(crate) fn open_base(
    dir: &Path,
    device: &Device,
) -> anyhow::Result<(Manifest, BaseWeights, BaseModel)> {
    let manifest = read_manifest(dir)?;
    if manifest.kind != modularbase_pack::PackKind::Base {
        anyhow::bail!(
            "`{}` holds a {} pack, not a base",
            dir.display(),
            manifest.kind
        );
    }
    let path = dir.join(modularbase_pack::WEIGHTS_FILE);
    let weights = read_base_gguf(&path)?;
    let mut model = BaseModel::new(read_base_gguf(&path)?, device)?;
    if device.is_cpu() {
        model.keep_matrices_dense()?;
    }
    Ok((manifest, weights, model))
}

/// Writes `body` as the model card's section `key` (replacing that section's previous
/// text, leaving other sections alone) in the readme of the pack in `dir`; the card is
/// created when missing.
pub(crate) fn write_card_section(
    dir: &Path,
    manifest: &Manifest,
    key: &str,
    body: &str,
) -> anyhow::Result<PathBuf> {
    let path = dir.join(manifest.readme.as_deref().unwrap_or(README_FILE));
    let card = std::fs::read_to_string(&path).unwrap_or_else(|_| format!("# {}\n", manifest.name));
    let (begin, end) = (
        format!("<!-- modularbase:{key} -->"),
        format!("<!-- /modularbase:{key} -->"),
    );
    let kept = match (card.find(&begin), card.find(&end)) {
        (Some(start), Some(stop)) if stop > start => {
            format!(
                "{}{}",
                &card[..start],
                card[stop + end.len()..].trim_start()
            )
        }
        _ => card,
    };
    let updated = format!(
        "{}\n\n{begin}\n{}\n{end}\n",
        kept.trim_end(),
        body.trim_end()
    );
    std::fs::write(&path, updated).with_context(|| format!("cannot write `{}`", path.display()))?;
    Ok(path)
}

/// `12.3% lower` / `4.0% higher` for `new` against `old`.
pub(crate) fn change(old: f64, new: f64) -> String {
    if old <= 0.0 {
        return "n/a".into();
    }
    let pct = (old - new) / old * 100.0;
    if pct >= 0.0 {
        format!("{pct:.1}% lower")
    } else {
        format!("{:.1}% higher", -pct)
    }
}
