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

/// Reports the peak resident memory of the one child it runs (the OS's figure).
const PEAK_RSS_SCRIPT: &str = "import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
sys.stderr.write('\\npeak-rss-kib %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code if code >= 0 else 128 - code)";

/// Runs `command` (program, arguments, environment and directory) under a `python3` parent
/// that reports the child's peak resident set size; returns its output (the report removed
/// from stderr) and the peak in bytes.
pub fn run_measuring_peak_rss(command: &Command) -> (Output, u64) {
    let mut parent = Command::new("python3");
    parent
        .arg("-c")
        .arg(PEAK_RSS_SCRIPT)
        .arg(command.get_program())
        .args(command.get_args());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => parent.env(key, value),
            None => parent.env_remove(key),
        };
    }
    if let Some(dir) = command.get_current_dir() {
        parent.current_dir(dir);
    }
    let mut output = parent.output().expect("python3 runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    let (rest, report) = stderr
        .rsplit_once("\npeak-rss-kib ")
        .expect("the peak report");
    let kib: u64 = report.trim().parse().expect("a number of KiB");
    output.stderr = rest.as_bytes().to_vec();
    (output, kib * 1024)
}
