//! Opening a runtime over a base and packs given on the command line.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use modularbase_pack::PackKind;
use modularbase_runtime::{Runtime, pick_device};

use crate::cli::PackSetArgs;
use crate::home::Home;
use crate::printer::Printer;

/// Opens the runtime for `set`; returns it and the pack id `--pack` forces, if any.
///
/// A `--pack` value that is a path (it contains `/`) adds the pack in that directory; a
/// bare id forces that pack instead of routing.
pub fn open_runtime(
    set: &PackSetArgs,
    printer: &Printer,
) -> anyhow::Result<(Runtime, Option<modularbase_pack::PackId>)> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let base = match &set.base {
        Some(base) => base.clone(),
        None => {
            let (base, installed) = installed_set(&Home::locate()?)?;
            dirs.extend(installed);
            base
        }
    };
    let mut forced = None;
    for value in &set.packs {
        let path = PathBuf::from(value);
        if value.contains(std::path::MAIN_SEPARATOR) || value.contains('/') {
            if !path.is_dir() {
                bail!("`--pack {value}`: no pack directory there");
            }
            dirs.push(path);
        } else if let Ok(id) = value.parse::<modularbase_pack::PackId>() {
            if forced.replace(id).is_some() {
                bail!("`--pack` forces one pack; `{value}` is the second id given");
            }
        } else {
            bail!(
                "`--pack {value}` is neither a pack directory (write it with a `/`, as in `./{value}`) nor a pack id"
            );
        }
    }
    let runtime = open_dirs(&base, &dirs, set.budget.0, &set.device, printer)?;
    if let Some(id) = forced.as_ref().filter(|id| !runtime.has_pack(id)) {
        let installed: Vec<String> = runtime
            .pack_ids()
            .iter()
            .map(|p| format!("`{p}`"))
            .collect();
        bail!(
            "`--pack {id}`: no pack `{id}` is installed (installed: {}); install it with `modularbase pack install {id}` or give its directory as `--pack ./DIR`",
            if installed.is_empty() {
                "none".to_owned()
            } else {
                installed.join(", ")
            }
        );
    }
    Ok((runtime, forced))
}

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
