//! Publishing the example packs, each from a copy in the demo's scratch directory so the
//! source tree is left as it was (a build writes `target/` beside the pack).

use std::path::{Path, PathBuf};

use anyhow::Context;
use modularbase_pack::{MANIFEST_FILE, WEIGHTS_FILE};

use super::examples::ExamplePack;
use crate::home::Home;
use crate::printer::{Printer, human_bytes};

/// Publishes `packs` in order to `registry` as `pack publish` does (build, sign with the
/// home's `default` key, upload), each from a copy under `staging`.
pub(crate) fn publish_examples(
    home: &Home,
    registry: &str,
    packs: &[ExamplePack],
    staging: &Path,
    printer: &Printer,
) -> anyhow::Result<()> {
    for pack in packs {
        let copy = stage(pack, staging)?;
        let published =
            crate::ops::publish(home, &copy, Some(registry), "default", false, printer)?;
        let m = &pack.manifest;
        let cksum = published.metadata.cksum.to_string();
        printer.line(format!(
            "  published {} {} ({}, {}, sha256 {}…)",
            m.id,
            m.version,
            m.kind,
            human_bytes(published.built.size),
            cksum.get(..12).unwrap_or(&cksum)
        ));
        for warning in published.response.iter().flat_map(|r| &r.warnings) {
            printer.warn(warning);
        }
    }
    Ok(())
}

/// Copies the files an archive of `pack` holds (manifest, weights, model card) to
/// `staging/NAME`.
fn stage(pack: &ExamplePack, staging: &Path) -> anyhow::Result<PathBuf> {
    let name = pack
        .dir
        .file_name()
        .with_context(|| format!("`{}` names no directory", pack.dir.display()))?;
    let copy = staging.join(name);
    let files = [MANIFEST_FILE, WEIGHTS_FILE]
        .into_iter()
        .chain(pack.manifest.readme.as_deref());
    for file in files {
        let (from, to) = (pack.dir.join(file), copy.join(file));
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::copy(&from, &to)
            .with_context(|| format!("cannot copy `{}` to `{}`", from.display(), to.display()))?;
    }
    Ok(copy)
}
