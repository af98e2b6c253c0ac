//! Opening a runtime over the home's installed set, or over given directories.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use modularbase_pack::PackKind;
use modularbase_runtime::{Runtime, pick_device};

use crate::home::{FilesCheck, Home, LockedPack};
use crate::printer::Printer;

/// The installed set: the directory of the locked base and those of every other locked pack,
/// each verified first (every file re-read against the digest the lock records). A base
/// that fails is refused with the cause and the fix; another pack that fails is left out,
/// with a warning: the runtime then treats it as missing (not routed to; a prompt for it
/// falls back to `general_chat`, else the base alone). A pack whose lock entry records no
/// digest (an earlier version's lock) is used, with a warning.
pub(crate) fn installed_set(
    home: &Home,
    printer: &Printer,
) -> anyhow::Result<(PathBuf, Vec<PathBuf>)> {
    let lock = home.lock()?;
    let Some(base) = lock.packs.iter().find(|p| p.kind == PackKind::Base) else {
        bail!(
            "no base to run: install one (`modularbase pack install tiny_base`) or pass `--base DIR` (a directory made by `modularbase base init`)"
        );
    };
    let check = home.verify_files(base);
    if check == FilesCheck::Unverifiable {
        printer.warn(unverifiable(base));
    } else if let Some(problem) = check.problem() {
        bail!(
            "the installed base {} {} fails verification: {problem}\nhelp: {}",
            base.id,
            base.version,
            home.repair_hint()?
        );
    }
    let mut dirs = Vec::new();
    for pack in lock.packs.iter().filter(|p| p.kind != PackKind::Base) {
        let check = home.verify_files(pack);
        if check == FilesCheck::Unverifiable {
            printer.warn(unverifiable(pack));
        }
        match check.problem().filter(|_| check != FilesCheck::Unverifiable) {
            None => dirs.push(home.pack_dir(&pack.id, &pack.version)),
            Some(problem) => printer.warn(format!(
                "pack `{}` {} was left out: it fails verification ({problem}); it is not routed to, and a prompt for it falls back as for a missing pack (to `general_chat` when installed, else the base alone); `modularbase pack verify` lists what differs and how to reinstall",
                pack.id, pack.version
            )),
        }
    }
    Ok((home.pack_dir(&base.id, &base.version), dirs))
}

/// The warning for a pack whose lock entry predates the digest of its files: used, unchecked.
fn unverifiable(pack: &LockedPack) -> String {
    format!(
        "pack `{}` {} is used unverified: the lock records no digest of its files (installed by an earlier modularbase); `modularbase pack verify` says how to reinstall it",
        pack.id, pack.version
    )
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
