//! `modularbase base init`: a new, randomly initialised base pack directory.

use anyhow::Context;
use modularbase_runtime::{human_bytes, write_base_dir};

use crate::cli::BaseInitArgs;
use crate::printer::Printer;

/// Writes `pack.toml` (kind = base), the model card and `weights.gguf`.
pub(crate) fn run(args: &BaseInitArgs, printer: &Printer) -> anyhow::Result<()> {
    let config = args.shape.config();
    let manifest = write_base_dir(&args.out, &args.id, &args.version, &config, args.seed)
        .with_context(|| format!("cannot create the base in `{}`", args.out.display()))?;
    let size = std::fs::metadata(args.out.join(modularbase_pack::WEIGHTS_FILE))
        .map(|m| m.len())
        .unwrap_or(0);
    printer.line(format!(
        "Created base {} {} in {} ({} blocks, hidden {}, {} heads, weights {})",
        manifest.id,
        manifest.version,
        args.out.display(),
        config.layers,
        config.hidden,
        config.heads,
        human_bytes(size)
    ));
    Ok(())
}
