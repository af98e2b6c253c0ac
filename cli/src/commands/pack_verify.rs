//! `modularbase pack verify`: every locked pack's files and cached archive against the lock.

use anyhow::{Context, bail};
use serde_json::json;

use crate::cli::VerifyArgs;
use crate::home::{ArchiveCheck, Home};
use crate::printer::Printer;

/// Verifies each locked pack, prints one line (or JSON object) per pack, and fails naming
/// the packs that differ and the command that reinstalls them.
pub(crate) fn run(args: &VerifyArgs, printer: &Printer) -> anyhow::Result<()> {
    let home = Home::locate()?;
    let _guard = home.shared(printer)?;
    let lock = home.lock()?;
    if lock.packs.is_empty() && !args.json {
        printer.line(format!(
            "nothing is installed (`{}` locks no pack)",
            home.lock_path().display()
        ));
        return Ok(());
    }
    let mut failed = Vec::new();
    let mut rows = Vec::new();
    for pack in &lock.packs {
        let check = home.verify_pack(pack);
        let problems = check.problems();
        if args.json {
            rows.push(json!({
                "id": pack.id.as_str(),
                "version": pack.version.to_string(),
                "ok": check.is_ok(),
                "problems": problems,
                "archive": archive_state(&check.archive),
            }));
        } else {
            let state = if problems.is_empty() {
                match check.archive {
                    ArchiveCheck::NotCached => "ok (archive not in the cache)".to_owned(),
                    _ => "ok".to_owned(),
                }
            } else {
                format!("FAILED: {}", problems.join("; "))
            };
            printer.output(format!("{:<24} {:<12} {state}", pack.id, pack.version));
        }
        if !check.is_ok() {
            failed.push(format!("{} {}", pack.id, pack.version));
        }
    }
    if args.json {
        printer.output(serde_json::to_string(&rows).context("cannot serialise the checks")?);
    }
    if !failed.is_empty() {
        bail!(
            "{} of {} installed packs failed verification: {}\nhelp: {}",
            failed.len(),
            lock.packs.len(),
            failed.join(", "),
            home.repair_hint()?
        );
    }
    Ok(())
}

/// The archive's state in one word, for `--json`.
fn archive_state(archive: &ArchiveCheck) -> &'static str {
    match archive {
        ArchiveCheck::Ok => "ok",
        ArchiveCheck::NotCached => "not-cached",
        ArchiveCheck::Differs { .. } => "differs",
        ArchiveCheck::Unreadable { .. } => "unreadable",
    }
}
