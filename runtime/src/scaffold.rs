//! Writing pack directories (`pack.toml`, model card, `weights.gguf`) for new bases and
//! packs: what `modularbase base init` produces, and what `pack init` will.

use std::path::Path;

use modularbase_pack::{MANIFEST_FILE, Manifest, ModelShape, PackId, PackKind, WEIGHTS_FILE};
use semver::Version;

use crate::base::{BaseWeights, write_base_gguf};
use crate::config::BaseConfig;
use crate::error::{Result, RuntimeError};
use crate::pack_module::PackWeights;

/// File name of the model card scaffolds write.
pub const README_FILE: &str = "README.md";

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| RuntimeError::Io {
        action: "write",
        path: path.to_owned(),
        source,
    })
}

fn create_dir(dir: &Path) -> Result<()> {
    if dir.join(MANIFEST_FILE).exists() {
        return Err(RuntimeError::Config(format!(
            "`{}` already holds a pack; choose another directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|source| RuntimeError::Io {
        action: "create",
        path: dir.to_owned(),
        source,
    })
}

/// The manifest of a base pack with `config`'s shape.
pub fn base_manifest(id: &PackId, version: &Version, config: &BaseConfig) -> Manifest {
    let u = |n: usize| Some(u32::try_from(n).unwrap_or(u32::MAX));
    Manifest {
        id: id.clone(),
        version: version.clone(),
        name: format!("{id} base core"),
        kind: PackKind::Base,
        domain: None,
        description: Some(format!(
            "A llama-style base core: {} blocks, hidden {}, {} heads ({} key/value), byte-level tokenizer",
            config.layers, config.hidden, config.heads, config.kv_heads
        )),
        license: Some("MIT".to_owned()),
        base: None,
        base_compatibility: Vec::new(),
        fallback: Vec::new(),
        readme: Some(README_FILE.to_owned()),
        dependencies: Default::default(),
        conflicts: Default::default(),
        model: Some(ModelShape {
            hidden: u(config.hidden),
            layers: u(config.layers),
            heads: u(config.heads),
            kv_heads: u(config.kv_heads),
            vocab: u(config.vocab),
            context: u(config.context),
            ..ModelShape::default()
        }),
    }
}

/// The model card's table of a base's shape (Markdown).
pub fn base_shape_table(config: &BaseConfig) -> String {
    format!(
        "| | |\n|---|---|\n| blocks | {} |\n| hidden | {} |\n| heads | {} ({} key/value) |\n| feed-forward | {} |\n| context | {} tokens |\n| tokenizer | bytes + BOS/EOS ({} tokens) |\n",
        config.layers,
        config.hidden,
        config.heads,
        config.kv_heads,
        config.ffn,
        config.context,
        config.vocab
    )
}

/// Writes a new, randomly initialised base pack into `dir` (which must not hold a pack).
pub fn write_base_dir(
    dir: &Path,
    id: &PackId,
    version: &Version,
    config: &BaseConfig,
    seed: u64,
) -> Result<Manifest> {
    config.validate()?;
    create_dir(dir)?;
    let manifest = base_manifest(id, version, config);
    let weights = BaseWeights::random(config, seed)?;
    write_base_gguf(&dir.join(WEIGHTS_FILE), &weights, &manifest)?;
    let card = format!(
        "# {id} {version}\n\nA llama-architecture base core for ModularBase, randomly initialised (seed {seed}); train it with `modularbase base train`.\n\n{}",
        base_shape_table(config)
    );
    write_file(&dir.join(README_FILE), &card)?;
    write_file(&dir.join(MANIFEST_FILE), &manifest.to_toml_string())?;
    Ok(manifest)
}

/// Writes a pack directory from a manifest and its weights (a model card is generated when
/// the manifest names one).
pub fn write_pack_dir(dir: &Path, manifest: &Manifest, weights: &PackWeights) -> Result<()> {
    create_dir(dir)?;
    weights.write(&dir.join(WEIGHTS_FILE), manifest.id.as_str())?;
    if let Some(readme) = &manifest.readme {
        let c = &weights.config;
        let card = format!(
            "# {}\n\n{}\n\n{} experts ({} active per token, {:?}), width {}, plugged in after base block {}.\n",
            manifest.name,
            manifest.description.as_deref().unwrap_or(""),
            c.experts,
            c.top_k,
            c.expert_format,
            c.width,
            c.insertion_layer
        );
        write_file(&dir.join(readme), &card)?;
    }
    write_file(&dir.join(MANIFEST_FILE), &manifest.to_toml_string())
}
