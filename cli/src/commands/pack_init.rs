//! `modularbase pack init`: a new domain pack directory with randomly initialised weights
//! shaped for its base.

use anyhow::{Context, bail};
use modularbase_pack::gguf::{GgufHeader, GgufLimits};
use modularbase_pack::{BaseCompat, BaseShape, Manifest, PackId, PackKind, WEIGHTS_FILE};
use modularbase_runtime::{PackWeights, README_FILE, write_pack_dir};

use crate::cli::InitArgs;
use crate::home::Home;
use crate::printer::Printer;

/// `Medical QA Pack` → `medical_qa_pack`.
fn id_from_name(name: &str) -> String {
    let mut id: String = name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    while id.contains("__") {
        id = id.replace("__", "_");
    }
    id.trim_matches('_').chars().take(64).collect()
}

/// The base's id, version, hidden width and block count: from `--base ID@VERSION` in the
/// installed set, or the installed base.
fn base_shape(
    home: &Home,
    base: Option<&str>,
) -> anyhow::Result<(PackId, semver::Version, usize, usize)> {
    let lock = home.lock()?;
    let locked = lock.packs.iter().filter(|p| p.kind == PackKind::Base);
    let chosen = match base {
        Some(text) => {
            let (id, version) = text
                .split_once('@')
                .context("name the base as ID@VERSION, for example `tiny_base@1.0.0`")?;
            locked
                .into_iter()
                .find(|p| p.id.as_str() == id && p.version.to_string() == version)
        }
        None => locked.into_iter().next(),
    };
    let Some(base) = chosen else {
        bail!(
            "no installed base to shape the pack for: install one (`modularbase pack install tiny_base`) or give its shape with `--hidden` and `--layers` and name it with `--base ID@VERSION`"
        );
    };
    // The header says the shape: no tensor needs reading.
    let path = home.pack_dir(&base.id, &base.version).join(WEIGHTS_FILE);
    let header = GgufHeader::open(&path, &GgufLimits::default())
        .with_context(|| format!("cannot read the installed base `{}`", path.display()))?;
    let shape = BaseShape::from_header(&header)
        .with_context(|| format!("the installed base `{}` is refused", path.display()))?;
    Ok((
        base.id.clone(),
        base.version.clone(),
        shape.hidden,
        shape.layers,
    ))
}

/// Writes `pack.toml`, the model card and `weights.gguf`.
pub(crate) fn run(args: &InitArgs, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let (base_id, base_version, hidden, layers) = match (args.hidden, args.layers, &args.base) {
        (Some(hidden), Some(layers), Some(base)) => {
            let (id, version) = base
                .split_once('@')
                .context("name the base as ID@VERSION")?;
            (
                id.parse()?,
                version.parse().context("the base version is not semver")?,
                hidden,
                layers,
            )
        }
        _ => {
            let _guard = home.shared(printer)?;
            base_shape(&home, args.base.as_deref())?
        }
    };
    let id = args
        .id
        .clone()
        .map_or_else(|| id_from_name(&args.name), |id| id.to_string());
    let compat = BaseCompat {
        major: base_version.major,
        minor: base_version.minor,
    };
    let text = format!(
        "[pack]\nid = \"{id}\"\nversion = \"0.1.0\"\nname = {name:?}\nkind = \"domain\"\ndomain = \"{domain}\"\ndescription = {description:?}\nlicense = \"MIT\"\nbase = \"{base_id}\"\nbase_compatibility = [\"{compat}\"]\nfallback = [\"general_chat\"]\nreadme = \"{README_FILE}\"\n",
        name = args.name,
        domain = args.domain,
        description = format!("{} knowledge for {base_id}", args.name),
    );
    let path = args.path.clone().unwrap_or_else(|| id.clone().into());
    let manifest = Manifest::from_toml_str(&text, &path.join("pack.toml"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let config = args.shape.shape(hidden, layers)?;
    let weights = PackWeights::random(config, args.seed)?;
    write_pack_dir(&path, &manifest, &weights)
        .with_context(|| format!("cannot create the pack in `{}`", path.display()))?;
    printer.line(format!(
        "Created pack {} 0.1.0 in {} for base {base_id} {compat} ({} experts, top-{}, after block {})",
        manifest.id,
        path.display(),
        config.experts,
        config.top_k,
        config.insertion_layer
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_from_names() {
        assert_eq!(id_from_name("Medical QA Pack"), "medical_qa_pack");
        assert_eq!(id_from_name("  C++ & Rust!! "), "c_rust");
    }
}
