//! `modularbase pack build`.

use anyhow::Context;

use crate::cli::BuildArgs;
use crate::home::Home;
use crate::printer::{Printer, human_bytes};

/// Builds the archive, signs it when a key is there, and reports where it is and its checksum.
pub(crate) fn run(args: &BuildArgs, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let key = match &args.key {
        Some(name) => Some(crate::ops::signing_key(&home, name)?.with_context(|| {
            format!(
                "there is no key `{name}` in `{}`",
                home.keys_dir().display()
            )
        })?),
        None => crate::ops::signing_key(&home, "default")?,
    };
    let built = crate::ops::build_pack(&args.path)?;
    let unpacked: u64 = built.contents.unpacked_bytes();
    printer.line(format!(
        "Packed {} {} ({} files, {} → {})",
        built.contents.manifest.id,
        built.contents.manifest.version,
        built.contents.files.len(),
        human_bytes(unpacked),
        human_bytes(built.size),
    ));
    printer.line(format!("  archive {}", built.path.display()));
    printer.line(format!("  sha256  {}", built.cksum));
    if let Some(key) = key {
        let metadata = crate::ops::sign_archive(&built, &key)?;
        printer.line(format!(
            "  signed  {} (key {})",
            crate::ops::signature_path(&built.path).display(),
            metadata.key.fingerprint()
        ));
    }
    Ok(())
}
