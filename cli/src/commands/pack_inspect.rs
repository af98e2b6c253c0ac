//! `modularbase pack inspect FILE.mbpack`.

use crate::cli::InspectArgs;
use crate::ops::SignatureStatus;
use crate::printer::{Printer, human_bytes};

/// Verifies the archive's structure and prints what it holds.
pub(crate) fn run(args: &InspectArgs, printer: &Printer) -> anyhow::Result<()> {
    let (contents, cksum, size) = crate::ops::inspect_pack(&args.archive)?;
    let m = &contents.manifest;
    printer.line(format!("{} {} ({}) — {}", m.id, m.version, m.kind, m.name));
    if let Some(base) = &m.base {
        let compat: Vec<String> = m
            .base_compatibility
            .iter()
            .map(ToString::to_string)
            .collect();
        printer.line(format!("  base          {base} {}", compat.join(", ")));
    }
    for (id, req) in &m.dependencies {
        printer.line(format!("  depends on    {id} {req}"));
    }
    for (id, req) in &m.conflicts {
        printer.line(format!("  conflicts     {id} {req}"));
    }
    if !m.fallback.is_empty() {
        let chain: Vec<&str> = m.fallback.iter().map(|f| f.as_str()).collect();
        printer.line(format!("  fallback      {}", chain.join(" → ")));
    }
    printer.line("  files");
    for file in &contents.files {
        printer.line(format!(
            "    {:<14} {:>10}",
            file.name,
            human_bytes(file.size)
        ));
    }
    printer.line(format!("  archive size  {}", human_bytes(size)));
    printer.line(format!("  sha256        {cksum}"));
    match crate::ops::check_signature(&args.archive, &contents, &cksum) {
        SignatureStatus::Valid(fingerprint) => {
            printer.line(format!("  signature     valid (key {fingerprint})"))
        }
        SignatureStatus::Missing => {
            printer.line("  signature     none (no .sig file beside the archive)")
        }
        SignatureStatus::Invalid(why) => anyhow::bail!(
            "the signature of `{}` is invalid: {why}",
            args.archive.display()
        ),
    }
    Ok(())
}
