//! `modularbase pack build`.

use crate::cli::BuildArgs;
use crate::printer::{Printer, human_bytes};

/// Builds the archive and reports where it is and its checksum.
pub(crate) fn run(args: &BuildArgs, printer: &Printer) -> anyhow::Result<()> {
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
    Ok(())
}
