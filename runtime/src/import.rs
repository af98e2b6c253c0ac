//! Importing a llama-family GGUF as a base pack directory: the file is checked as the
//! runtime will read it (shape, every tensor, vocabulary, chat template) before anything is
//! written; its tensor bytes are kept as they are unless a requantization is asked for.

use std::path::{Path, PathBuf};

use candle_core::quantized::GgmlDType;
use modularbase_pack::{HashingReader, MANIFEST_FILE, Manifest, PackId, WEIGHTS_FILE};
use semver::Version;

use crate::base::{BaseWeights, GeneralInfo, read_base_gguf_with_provenance, write_base_gguf};
use crate::error::{Result, RuntimeError};
use crate::scaffold::{README_FILE, base_manifest, base_shape_table};

/// What to import, and as what.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The base family id.
    pub id: PackId,
    /// Its version.
    pub version: Version,
    /// Store every matrix as this type (`Q8_0` or `Q4_0`) instead of keeping the bytes.
    pub quantize: Option<GgmlDType>,
}

/// What an import wrote.
#[derive(Debug)]
pub struct ImportedBase {
    /// The manifest written.
    pub manifest: Manifest,
    /// The base's weights as the runtime reads them.
    pub weights: BaseWeights,
    /// Bytes of `weights.gguf`.
    pub weights_bytes: u64,
    /// SHA-256 of the source file.
    pub source_sha256: String,
}

/// Imports `source` into a new base pack directory `out` (which must not exist): through a
/// staging directory beside it, renamed into place at the end, so a refusal or a crash
/// leaves no `out` behind.
pub fn import_base(source: &Path, out: &Path, options: &ImportOptions) -> Result<ImportedBase> {
    if let Some(dtype) = options.quantize
        && !matches!(dtype, GgmlDType::Q8_0 | GgmlDType::Q4_0)
    {
        return Err(RuntimeError::Config(format!(
            "cannot quantize a base to {dtype:?}; choose q8_0 or q4_0"
        )));
    }
    if out.exists() {
        return Err(RuntimeError::Config(format!(
            "`{}` already exists; choose a new directory",
            out.display()
        )));
    }
    let (weights, general) = read_base_gguf_with_provenance(source)?;
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(io("create", parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".base-import-")
        .tempdir_in(parent)
        .map_err(io("create a staging directory in", parent))?;
    let dir = staging.path();
    let mut manifest = base_manifest(&options.id, &options.version, &weights.config);
    manifest.name =
        general_value(&general, "general.name").unwrap_or_else(|| format!("{} base", options.id));
    manifest.description = Some(format!(
        "{}: a llama-family base, {} blocks, hidden {}, {}",
        manifest.name,
        weights.config.layers,
        weights.config.hidden,
        weights.vocab.description()
    ));
    manifest.license = general_value(&general, "general.license").map(|l| spdx(&l));
    let target = dir.join(WEIGHTS_FILE);
    let (weights, source_sha256) = match options.quantize {
        None => {
            let sha256 = copy_hashing(source, &target)?;
            (weights, sha256)
        }
        Some(dtype) => {
            let weights = weights.requantized(dtype)?;
            let info = GeneralInfo {
                name: manifest.name.clone(),
                version: Some(options.version.to_string()),
                license: manifest.license.clone(),
                description: manifest.description.clone(),
            };
            write_base_gguf(&target, &weights, info)?;
            (weights, sha256_file(source)?)
        }
    };
    let weights_bytes = std::fs::metadata(&target)
        .map_err(io("read", &target))?
        .len();
    let card = model_card(
        &manifest,
        &weights,
        &general,
        source,
        &source_sha256,
        options,
    );
    write(&dir.join(README_FILE), &card)?;
    write(&dir.join(MANIFEST_FILE), &manifest.to_toml_string())?;
    let staged: PathBuf = staging.keep();
    std::fs::rename(&staged, out).map_err(|source| {
        let _ = std::fs::remove_dir_all(&staged);
        RuntimeError::Io {
            action: "move the imported base to",
            path: out.to_owned(),
            source,
        }
    })?;
    Ok(ImportedBase {
        manifest,
        weights,
        weights_bytes,
        source_sha256,
    })
}

fn general_value(general: &[(String, String)], key: &str) -> Option<String> {
    general
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// An SPDX identifier for the licence names GGUF files carry (`apache-2.0` → `Apache-2.0`).
fn spdx(license: &str) -> String {
    match license.to_ascii_lowercase().as_str() {
        "apache-2.0" => "Apache-2.0".to_owned(),
        "mit" => "MIT".to_owned(),
        "bsd-3-clause" => "BSD-3-Clause".to_owned(),
        "cc-by-4.0" => "CC-BY-4.0".to_owned(),
        _ => license.to_owned(),
    }
}

/// The model card: provenance from `general.*`, the shape, the vocabulary, the tensor types.
fn model_card(
    manifest: &Manifest,
    weights: &BaseWeights,
    general: &[(String, String)],
    source: &Path,
    sha256: &str,
    options: &ImportOptions,
) -> String {
    let mut card = format!(
        "# {} {}\n\n{}\n\nImported with `modularbase base import` from `{}` (SHA-256 `{sha256}`){}.\n\n## Provenance\n\n| key | value |\n|---|---|\n",
        manifest.id,
        manifest.version,
        manifest.description.as_deref().unwrap_or(""),
        source
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        match options.quantize {
            Some(d) => format!(", matrices requantized to {d:?}"),
            None => ", tensor bytes unchanged".to_owned(),
        }
    );
    for (key, value) in general {
        let value: String = value.chars().take(200).collect();
        card.push_str(&format!("| `{key}` | {} |\n", value.replace('|', "\\|")));
    }
    card.push_str("\n## Shape\n\n");
    card.push_str(
        &base_shape_table(&weights.config).replace("bytes + BOS/EOS", weights.vocab.description()),
    );
    let mut types: Vec<(String, usize)> = Vec::new();
    for (_, t) in &weights.tensors {
        let name = format!("{:?}", t.dtype());
        match types.iter_mut().find(|(n, _)| *n == name) {
            Some((_, count)) => *count += 1,
            None => types.push((name, 1)),
        }
    }
    let types: Vec<String> = types.iter().map(|(n, c)| format!("{c} × {n}")).collect();
    card.push_str(&format!(
        "| tensors | {} |\n| tied embeddings | {} |\n| rope base | {} |\n| chat template | {} |\n",
        types.join(", "),
        if weights.config.tied_embeddings {
            "yes"
        } else {
            "no"
        },
        weights.config.rope_theta,
        if weights.vocab.chat_template().is_some() {
            "from the GGUF (`run --chat`)"
        } else {
            "none"
        }
    ));
    card
}

fn sha256_file(path: &Path) -> Result<String> {
    let (digest, _) = modularbase_pack::sha256_file(path).map_err(io("read", path))?;
    Ok(digest.to_hex())
}

/// Copies `source` to `target` in one pass that also hashes it; returns the SHA-256.
fn copy_hashing(source: &Path, target: &Path) -> Result<String> {
    let mut reader = HashingReader::new(std::fs::File::open(source).map_err(io("open", source))?);
    let mut out = std::fs::File::create(target).map_err(io("create", target))?;
    std::io::copy(&mut reader, &mut out).map_err(io("copy", source))?;
    out.sync_all().map_err(io("write", target))?;
    Ok(reader.finish().0.to_hex())
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(io("write", path))
}

fn io<'p>(action: &'static str, path: &'p Path) -> impl Fn(std::io::Error) -> RuntimeError + 'p {
    move |source| RuntimeError::Io {
        action,
        path: path.to_owned(),
        source,
    }
}
