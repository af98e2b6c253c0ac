//! `--base DIR` and `--pack ID|./DIR` of `run` and `monitor`: the runtime they open.

use std::path::PathBuf;

use anyhow::bail;

use crate::cli::PackSetArgs;
use crate::home::Home;
use crate::ops::runtime::{installed_set, open_dirs};
use crate::printer::Printer;
use modularbase_runtime::Runtime;

/// Opens the runtime for `set`; returns it and the pack id `--pack` forces, if any.
///
/// A `--pack` value that is a path (it contains `/`) adds the pack in that directory; a
/// bare id forces that pack instead of routing.
pub(crate) fn open_runtime(
    set: &PackSetArgs,
    printer: &Printer,
) -> anyhow::Result<(Runtime, Option<modularbase_pack::PackId>)> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    let base = match &set.base {
        Some(base) => base.clone(),
        None => {
            let home = Home::locate()?;
            let _guard = home.shared(printer)?;
            let (base, installed) = installed_set(&home, printer)?;
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
