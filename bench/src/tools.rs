//! Running the standard tools a benchmark compares against: checking they are installed,
//! running them to success, and flushing the disk between timed runs.

use std::process::{Command, Stdio};

use anyhow::{Context, Result, ensure};

/// Fails with a clear message unless every `(tool, hint)` is on the `PATH`; `hint` says
/// how to install it.
pub fn require(tools: &[(&str, &str)]) -> Result<()> {
    for (tool, hint) in tools {
        let found = Command::new("which")
            .arg(tool)
            .stdout(Stdio::null())
            .status();
        ensure!(
            found.is_ok_and(|s| s.success()),
            "`{tool}` is not on the PATH: {hint}"
        );
    }
    Ok(())
}

/// Runs `command`, failing unless it succeeds; returns its standard output.
pub fn run(command: &mut Command) -> Result<Vec<u8>> {
    let output = command
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("spawn {command:?}"))?;
    ensure!(
        output.status.success(),
        "{command:?} failed: {}",
        output.status
    );
    Ok(output.stdout)
}

/// Flushes dirty pages (dropping nothing) so that one run's writeback, and ext4's journal
/// commit inside an `fsync`, are not charged to the next run.
pub fn settle() -> Result<()> {
    run(&mut Command::new("sync")).map(drop)
}

/// The `modularbase` binary a benchmark runs: `given` (`--modularbase PATH`), else the one
/// cargo built beside the benchmark; refused when it is not there.
pub fn modularbase_binary(given: Option<&std::path::Path>) -> Result<std::path::PathBuf> {
    let binary = match given {
        Some(path) => path.to_owned(),
        None => std::env::current_exe()
            .context("locate this benchmark")?
            .with_file_name("modularbase"),
    };
    ensure!(
        binary.is_file(),
        "`{}` is missing: run `cargo build --release -p modularbase` first, or pass --modularbase",
        binary.display()
    );
    Ok(binary)
}
