//! `modularbase base import FILE.gguf`: a llama-family GGUF as a base pack directory.

use std::path::PathBuf;

use anyhow::Context;
use candle_core::quantized::GgmlDType;
use modularbase_runtime::{ImportOptions, human_bytes, import_base};

use crate::cli::BaseImportArgs;
use crate::printer::Printer;

/// Checks the file as the runtime reads it, then writes the pack directory.
pub(crate) fn run(args: &BaseImportArgs, printer: &Printer) -> anyhow::Result<()> {
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(args.id.as_str()));
    let quantize = match args.quantize.as_deref() {
        Some("q8_0") => Some(GgmlDType::Q8_0),
        Some("q4_0") => Some(GgmlDType::Q4_0),
        _ => None,
    };
    let options = ImportOptions {
        id: args.id.clone(),
        version: args.version.clone(),
        quantize,
    };
    let imported = import_base(&args.file, &out, &options)
        .with_context(|| format!("cannot import `{}` as a base", args.file.display()))?;
    let c = &imported.weights.config;
    printer.line(format!(
        "Imported {} as base {} {} in {} ({} blocks, hidden {}, {} heads / {} key-value, {}; weights {})",
        imported.manifest.name,
        imported.manifest.id,
        imported.manifest.version,
        out.display(),
        c.layers,
        c.hidden,
        c.heads,
        c.kv_heads,
        imported.weights.vocab.description(),
        human_bytes(imported.weights_bytes)
    ));
    printer.line(format!(
        "Run it: modularbase run --base {} --chat \"Hello! Who are you?\"",
        out.display()
    ));
    Ok(())
}
