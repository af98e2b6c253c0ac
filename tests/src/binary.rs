//! Finding and running the real `modularbase` binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `modularbase` binary that `cargo test --workspace` built beside this test binary.
///
/// Cargo builds it before running any test because the `modularbase` package has
/// integration tests of its own; when running only this package, build it first with
/// `cargo build -p modularbase`.
pub fn modularbase_bin() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    // target/<profile>/deps/<test binary> → target/<profile>/modularbase
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .map(Path::to_owned)
        .unwrap_or_default();
    let bin = profile_dir.join(format!("modularbase{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "`{}` is missing: run `cargo build -p modularbase` (or `cargo test --workspace`)",
        bin.display()
    );
    bin
}

/// Runs the real `modularbase` binary with `args` in `cwd`, with `MODULARBASE_HOME`
/// pointing at `home` and colour off.
pub fn modularbase(cwd: &Path, home: &Path, args: &[&str]) -> std::io::Result<Output> {
    Command::new(modularbase_bin())
        .args(args)
        .current_dir(cwd)
        .env("MODULARBASE_HOME", home)
        .env("NO_COLOR", "1")
        .output()
}
