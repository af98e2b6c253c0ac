//! `modularbase pack publish`.

use crate::cli::PublishArgs;
use crate::home::Home;
use crate::printer::{Printer, human_bytes};

/// Builds, signs and uploads the pack, then says where it can be seen.
pub(crate) fn run(args: &PublishArgs, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let published = crate::ops::publish(
        &home,
        &args.path,
        args.registry.as_deref(),
        &args.key,
        args.dry_run,
        printer,
    )?;
    let m = &published.metadata;
    printer.step(format!(
        "archive {} (sha256 {}), signed with key {}",
        published.built.path.display(),
        m.cksum,
        m.key.fingerprint()
    ));
    let size = human_bytes(published.built.size);
    match &published.response {
        None => printer.line(format!(
            "Dry run: would publish {} {} ({size}, sha256 {}, key {}) to {}",
            m.id,
            m.vers,
            m.cksum,
            m.key.fingerprint(),
            published.registry
        )),
        Some(response) => {
            for warning in &response.warnings {
                printer.warn(warning);
            }
            printer.line(format!(
                "Published {} {} ({size}) to {}",
                m.id, m.vers, published.registry
            ));
            printer.line(format!(
                "  see {}/api/v1/packs/{}",
                published.registry, m.id
            ));
        }
    }
    Ok(())
}
