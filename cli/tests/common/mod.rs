//! What the CLI's integration tests share: running the real binary.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

use modularbase_tests::{Pack, Publisher, TestRegistry};

pub(crate) mod serve;
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
        .env_remove("MODULARBASE_SERVER")
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

/// A registry with a base and a domain pack the runtime can load (random weights).
pub(crate) fn runnable_registry(scratch: &Path) -> TestRegistry {
    use modularbase_pack::ExpertFormat;
    use modularbase_runtime::{BaseConfig, BaseWeights, PackConfig, PackWeights, write_base_gguf};

    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    let config = BaseConfig {
        hidden: 64,
        layers: 2,
        heads: 4,
        kv_heads: 2,
        ffn: 96,
        context: 128,
        ..BaseConfig::default()
    };
    let base_file = scratch.join("base.gguf");
    write_base_gguf(
        &base_file,
        &BaseWeights::random(&config, 1).unwrap(),
        "tiny_base",
    )
    .unwrap();
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0").weights(std::fs::read(&base_file).unwrap()));
    let shape = PackConfig {
        hidden: 64,
        width: 32,
        experts: 4,
        top_k: 2,
        expert_ffn: 64,
        insertion_layer: 1,
        expert_format: ExpertFormat::Q8_0,
    };
    let pack_file = scratch.join("pack.gguf");
    PackWeights::random(shape, 2)
        .unwrap()
        .write(&pack_file, "python_code")
        .unwrap();
    ada.publish_ok(
        &Pack::domain("python_code", "1.0.0").weights(std::fs::read(&pack_file).unwrap()),
    );
    registry
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

/// What a killed install may leave before the next command: a lock that parses (or none),
/// every pack it locks whole, its files matching the lock's digest and its marker naming
/// it. Returns the lock.
pub(crate) fn assert_locked_packs_verify(home: &Path) -> toml::Value {
    let text = std::fs::read_to_string(home.join("modularbase.lock")).unwrap_or_default();
    let lock: toml::Value =
        toml::from_str(&text).unwrap_or_else(|e| panic!("a torn lock: {e}\n{text}"));
    for pack in lock
        .get("pack")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let (id, version) = (
            pack["id"].as_str().unwrap(),
            pack["version"].as_str().unwrap(),
        );
        let files = pack["files"].as_str().unwrap();
        let dir = home.join("packs").join(id).join(version);
        let skip = |p: &Path| p == Path::new(".installed");
        let digest = modularbase_pack::tree_digest(&dir, &skip)
            .unwrap_or_else(|e| panic!("{id}@{version} is locked but unreadable: {e}"));
        assert_eq!(digest.to_string(), files, "{id}@{version}'s files changed");
        let marker = std::fs::read_to_string(dir.join(".installed")).unwrap();
        assert_eq!(
            marker.lines().next(),
            Some(files),
            "{id}@{version}'s marker"
        );
    }
    lock
}

/// The home after a command that changed it: no staging directory, temporary file, retired
/// pack or pending journal; no version directory the lock does not hold; and every locked
/// pack's files matching the digest the lock records. Returns the lock.
pub(crate) fn assert_clean_and_verified(home: &Path) -> toml::Value {
    let names = |dir: &Path| -> Vec<String> {
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect()
    };
    for name in names(home)
        .into_iter()
        .chain(names(&home.join("cache/archives")))
    {
        assert!(
            ![".staging-", ".download-", ".tmp", ".trash", ".transaction"]
                .iter()
                .any(|p| name.starts_with(p)),
            "left in {}: {name}",
            home.display()
        );
    }
    let lock = assert_locked_packs_verify(home);
    let locked = lock
        .get("pack")
        .and_then(|p| p.as_array())
        .cloned()
        .unwrap_or_default();
    for id in names(&home.join("packs")) {
        for version in names(&home.join("packs").join(&id)) {
            assert!(
                locked
                    .iter()
                    .any(|p| p["id"].as_str() == Some(&id)
                        && p["version"].as_str() == Some(&version)),
                "packs/{id}/{version} is not in the lock"
            );
        }
    }
    lock
}
