//! The example packs the demo publishes: where they are, what they are, and an order in
//! which a registry accepts them (a base before the packs aligned with it, a dependency
//! before the packs that need it).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use modularbase_pack::{MANIFEST_FILE, Manifest, PackId, PackKind};
use semver::Version;

/// One example pack directory and its manifest.
#[derive(Debug)]
pub(crate) struct ExamplePack {
    /// The source directory (`pack.toml`, `weights.gguf`, model card).
    pub(crate) dir: PathBuf,
    /// Its manifest.
    pub(crate) manifest: Manifest,
}

/// `--examples DIR`, else `examples/packs` in the current directory, else the one in the
/// source tree this binary was built from.
pub(crate) fn locate_examples(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = flag {
        if !dir.is_dir() {
            bail!("`--examples {}`: no such directory", dir.display());
        }
        return Ok(dir.to_owned());
    }
    let here = Path::new("examples/packs");
    if here.is_dir() {
        return Ok(here.to_owned());
    }
    let source = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/packs"));
    if source.is_dir() {
        return Ok(source.to_owned());
    }
    bail!(
        "cannot find the example packs: there is no `examples/packs` here nor at `{}`\nhelp: run the demo in a clone of the repository, or pass `--examples DIR`",
        source.display()
    )
}

/// The example packs trained over `model`: `examples/NAME` beside the example packs'
/// directory `examples` (none when it is not there).
pub(crate) fn model_packs(
    examples: &Path,
    model: &crate::ops::models::KnownModel,
) -> anyhow::Result<Vec<ExamplePack>> {
    let base = (model.base_id.parse()?, model.version.parse()?);
    match examples.parent().map(|p| p.join(model.packs)) {
        Some(dir) if dir.is_dir() => read_examples_over(&dir, &[base]),
        _ => Ok(Vec::new()),
    }
}

/// The pack directories (those holding a `pack.toml`) in `dir`, in publishing order.
pub(crate) fn read_examples(dir: &Path) -> anyhow::Result<Vec<ExamplePack>> {
    read_examples_over(dir, &[])
}

/// [`read_examples`] for a registry that already holds `published`.
fn read_examples_over(
    dir: &Path,
    published: &[(PackId, Version)],
) -> anyhow::Result<Vec<ExamplePack>> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read `{}`", dir.display()))?;
    let mut packs = Vec::new();
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot read `{}`", dir.display()))?
            .path();
        let manifest_path = path.join(MANIFEST_FILE);
        if !manifest_path.is_file() {
            continue;
        }
        let manifest = Manifest::load(&manifest_path)
            .with_context(|| format!("cannot read the example pack in `{}`", path.display()))?;
        packs.push(ExamplePack {
            dir: path,
            manifest,
        });
    }
    if packs.is_empty() {
        bail!(
            "`{}` holds no pack directories (each with a `{MANIFEST_FILE}`)",
            dir.display()
        );
    }
    publish_order(packs, published)
}

/// Orders `packs` so that each comes after a base it supports and after versions of its
/// dependencies that fit (in `published` or before it); bases first, then by id and version.
fn publish_order(
    mut waiting: Vec<ExamplePack>,
    published: &[(PackId, Version)],
) -> anyhow::Result<Vec<ExamplePack>> {
    waiting.sort_by(|a, b| {
        let key = |p: &ExamplePack| {
            (
                p.manifest.kind != PackKind::Base,
                p.manifest.id.clone(),
                p.manifest.version.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut ordered: Vec<ExamplePack> = Vec::with_capacity(waiting.len());
    let mut have = published.to_vec();
    while !waiting.is_empty() {
        let Some(next) = waiting.iter().position(|p| publishable(&p.manifest, &have)) else {
            let stuck: Vec<String> = waiting
                .iter()
                .map(|p| format!("{} {}", p.manifest.id, p.manifest.version))
                .collect();
            bail!(
                "the example packs {} need a base or a dependency that no example provides",
                stuck.join(", ")
            );
        };
        let pack = waiting.remove(next);
        have.push((pack.manifest.id.clone(), pack.manifest.version.clone()));
        ordered.push(pack);
    }
    Ok(ordered)
}

/// Whether a registry holding `published` accepts `manifest`: its base and dependencies
/// are there in versions that fit.
fn publishable(manifest: &Manifest, published: &[(PackId, Version)]) -> bool {
    let has_base = manifest.base.as_ref().is_none_or(|base| {
        published
            .iter()
            .any(|(id, version)| id == base && manifest.supports_base(version))
    });
    let has_deps = manifest.dependencies.iter().all(|(dep, req)| {
        published
            .iter()
            .any(|(id, version)| id == dep && req.matches(version))
    });
    has_base && has_deps
}
