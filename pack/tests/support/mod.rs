//! Helpers shared by the pack crate's integration tests: pack directories, and (from the
//! shared test crate, where `pack install ./FILE` uses them too) valid manifests and
//! hand-made tar streams that can hold anything a hostile publisher might write.

#![allow(
    dead_code,
    unused_imports,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used
)]

use std::path::{Path, PathBuf};

pub use modularbase_tests::archives::{RawEntry, archive, valid_entries, valid_manifest, weights};

/// Writes a complete pack directory for the valid manifest into `dir`.
pub fn write_pack_dir(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("pack.toml"), valid_manifest()).unwrap();
    std::fs::write(dir.join("weights.gguf"), weights(b"weights")).unwrap();
    std::fs::write(dir.join("README.md"), "# Python Code Pack\n").unwrap();
    dir.to_owned()
}

/// Every path under `root`, relative, sorted (to prove nothing was written).
pub fn tree(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            out.push(path.strip_prefix(root).unwrap().display().to_string());
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            }
        }
    }
    out.sort();
    out
}
