//! The README's `examples/hello_pack` is a real pack: it builds, and `run` uses it on the
//! example `tiny_base` 1.0.0 without falling back.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{modularbase, succeeded, text};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples")
}

/// A copy of `examples/hello_pack` (a build writes `target/` into the pack directory).
fn hello_pack(dir: &Path) -> PathBuf {
    let copy = dir.join("hello_pack");
    std::fs::create_dir_all(&copy).unwrap();
    for entry in std::fs::read_dir(examples().join("hello_pack")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
        }
    }
    copy
}

#[test]
fn hello_pack_builds_and_answers_on_the_example_base() {
    let dir = tempfile::tempdir().unwrap();
    let pack = hello_pack(dir.path());
    let built = modularbase(&pack, &["pack", "build"]);
    succeeded(&built);
    assert!(pack.join("target/hello_pack-0.1.0.mbpack").is_file());

    let base = examples().join("packs/tiny_base-1.0.0");
    let out = modularbase(
        dir.path(),
        &[
            "run",
            "def fib(n):",
            "--base",
            base.to_str().unwrap(),
            "--pack",
            pack.to_str().unwrap(),
            "--pack",
            "hello_pack",
            "--max-tokens",
            "4",
            "--temperature",
            "0",
            "--debug",
            "--device",
            "cpu",
        ],
    );
    succeeded(&out);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("pack: hello_pack"), "{stderr}");
    assert!(!stderr.contains("warning"), "{stderr}");
    assert!(stderr.contains("experts after block 2:"), "{stderr}");
}
