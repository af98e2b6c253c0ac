//! Test support for ModularBase's end-to-end tests: build pack directories and archives on
//! disk in one line, and run the real `modularbase` binary in a temporary home.
//!
//! Later issues add a real registry on 127.0.0.1 and a one-line-per-pack graph publisher.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A pack directory under construction: `PackDir::new(dir, "python_code", "1.0.0").write()`.
#[derive(Debug, Clone)]
pub struct PackDir {
    root: PathBuf,
    manifest: String,
    weights: Vec<u8>,
    readme: Option<String>,
}

impl PackDir {
    /// A minimal domain pack `id@version` for base `tiny_base` 1.0, in `parent/id`.
    pub fn domain(parent: &Path, id: &str, version: &str) -> Self {
        let manifest = format!(
            "[pack]\nid = \"{id}\"\nversion = \"{version}\"\nname = \"{id} pack\"\nkind = \"domain\"\n\
             domain = \"test\"\nbase = \"tiny_base\"\nbase_compatibility = [\"1.0\"]\nreadme = \"README.md\"\n"
        );
        Self {
            root: parent.join(id),
            manifest,
            weights: b"GGUF\x03\0\0\0 test weights".to_vec(),
            readme: Some(format!("# {id}\n")),
        }
    }

    /// Replaces the weights bytes.
    pub fn weights(mut self, bytes: Vec<u8>) -> Self {
        self.weights = bytes;
        self
    }

    /// Writes the directory and returns its path.
    pub fn write(self) -> std::io::Result<PathBuf> {
        std::fs::create_dir_all(&self.root)?;
        std::fs::write(self.root.join("pack.toml"), &self.manifest)?;
        std::fs::write(self.root.join("weights.gguf"), &self.weights)?;
        if let Some(readme) = &self.readme {
            std::fs::write(self.root.join("README.md"), readme)?;
        }
        Ok(self.root)
    }
}

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
