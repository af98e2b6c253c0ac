//! What the CLI's integration tests share: running the real binary.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use modularbase_tests::{Pack, Publisher, TestRegistry};
use std::process::{Command, Output, Stdio};

/// Runs the `modularbase` binary cargo built for these tests, in `cwd`, colour off, with
/// an empty home of its own (`cwd/.home`) so the user's keys and logins never leak in.
pub(crate) fn modularbase(cwd: &Path, args: &[&str]) -> Output {
    in_home(cwd, &cwd.join(".home"), args, "")
}

/// Runs the binary in `cwd` with `home` as MODULARBASE_HOME, feeding `stdin`, without the
/// registry variables of the surrounding shell.
pub(crate) fn in_home(cwd: &Path, home: &Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_modularbase"))
        .args(args)
        .current_dir(cwd)
        .env("MODULARBASE_HOME", home)
        .env_remove("MODULARBASE_REGISTRY")
        .env_remove("MODULARBASE_TOKEN")
        .env("NO_COLOR", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the modularbase binary runs");
    if let Some(mut input) = child.stdin.take() {
        // A command that never reads stdin may exit first: a broken pipe is fine.
        let _ = input.write_all(stdin.as_bytes());
    }
    child
        .wait_with_output()
        .expect("the modularbase binary finishes")
}

/// Output bytes as text.
pub(crate) fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The DESIGN's graph on a real registry; returns its publisher too.
pub(crate) fn graph() -> (TestRegistry, Publisher) {
    let (registry, ada) = TestRegistry::with_base();
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        ada.publish_ok(&Pack::domain("reasoning", version));
    }
    ada.publish_ok(&Pack::domain("python_code", "1.0.0").dep("reasoning", ">=1.1"));
    (registry, ada)
}

pub(crate) fn install(
    dir: &Path,
    home: &Path,
    registry: &TestRegistry,
    packs: &[&str],
) -> std::process::Output {
    let mut args = vec!["pack", "install", "--registry", registry.url.as_str()];
    args.extend_from_slice(packs);
    in_home(dir, home, &args, "")
}

/// Asserts the command succeeded, showing its stderr if not.
pub(crate) fn succeeded(out: &Output) {
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// Asserts the command exited 1 with `expected` in its stderr.
pub(crate) fn refused(out: &Output, expected: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
}
