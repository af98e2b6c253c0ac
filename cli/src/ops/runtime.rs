//! Opening a runtime over the home's installed set, or over given directories.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use modularbase_pack::PackKind;
use modularbase_runtime::{Runtime, pick_device};

use crate::home::Home;
use crate::printer::Printer;

/// The installed set: the directory of the locked base and those of every other locked pack.
pub(crate) fn installed_set(home: &Home) -> anyhow::Result<(PathBuf, Vec<PathBuf>)> {
    let lock = home.lock()?;
    let Some(base) = lock.packs.iter().find(|p| p.kind == PackKind::Base) else {
        bail!(
            "no base to run: install one (`modularbase pack install tiny_base`) or pass `--base DIR` (a directory made by `modularbase base init`)"
        );
    };
    let dirs = lock
        .packs
        .iter()
        .filter(|p| p.kind != PackKind::Base)
        .map(|p| home.pack_dir(&p.id, &p.version))
        .collect();
    Ok((home.pack_dir(&base.id, &base.version), dirs))
}

/// Opens the base in `base` with the packs in `dirs` under `budget` bytes on `device`
/// (`cpu`, `cuda`, `cuda:N` or `auto`).
pub(crate) fn open_dirs(
    base: &Path,
    dirs: &[PathBuf],
    budget: u64,
    device: &str,
    printer: &Printer,
) -> anyhow::Result<Runtime> {
    let picked = pick_device(device)?;
    if let Some(note) = picked.note {
        printer.note(note);
    }
    let runtime = Runtime::open(base, dirs, budget, &picked.device).with_context(|| {
        format!(
            "cannot open the base in `{}` with its packs",
            base.display()
        )
    })?;
    for warning in runtime.warnings() {
        printer.warn(warning);
    }
    Ok(runtime)
}
