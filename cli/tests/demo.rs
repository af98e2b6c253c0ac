//! `modularbase demo --exit` end to end: the example packs published to the demo's own
//! registry, installed, run, broken and monitored, then the temporary home removed.

#![allow(clippy::unwrap_used)]

mod common;

use common::{refused, text};

use std::fs::File;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Long enough for a debug build on a busy CI machine; the release build needs seconds.
const TIMEOUT: Duration = Duration::from_secs(300);

/// The example packs of this source tree.
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/packs");

/// Runs `modularbase demo ARGS`, killing it (by its pid) if it outlives [`TIMEOUT`]. Its
/// output goes to files, so a full pipe can never stall it.
fn demo(args: &[&str]) -> Output {
    demo_with(args, &[])
}

/// [`demo`] with more environment variables.
fn demo_with(args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_modularbase"))
        .arg("demo")
        .args(args)
        .current_dir(dir.path())
        .env("MODULARBASE_HOME", dir.path().join(".home"))
        // The user's registry settings must not leak into the demo's own registry.
        .env("MODULARBASE_REGISTRY", "http://127.0.0.1:9")
        .env("MODULARBASE_TOKEN", "mbr_0_not-a-token")
        .env("NO_COLOR", "1")
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap())
        .spawn()
        .expect("the modularbase binary runs");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > TIMEOUT {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!(
                "`modularbase demo` ran over {TIMEOUT:?}; its output:\n{}\n{}",
                std::fs::read_to_string(&out_path).unwrap_or_default(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    }
}

/// Where `needle` starts in `haystack`, or a failure that shows both.
fn position(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("expected {needle:?} in:\n{haystack}"))
}

#[test]
fn the_demo_runs_end_to_end_and_leaves_nothing_behind() {
    let out = demo(&["--exit", "--examples", EXAMPLES]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    // The resolver's choice, explained.
    let explained = &stdout[position(&stdout, "the resolver chose:")..];
    position(
        explained,
        "reasoning 1.1.0      ← python_code 1.0.0 needs reasoning >=1.1 (rules out 1.0.0)",
    );
    // The base is the one python_code was aligned with; the other version is ruled out.
    let base = explained
        .lines()
        .find(|l| l.trim_start().starts_with("tiny_base 1."))
        .unwrap_or_else(|| panic!("no base line in:\n{explained}"));
    assert!(
        base.contains("← python_code 1.0.0 runs on tiny_base 1.") && base.contains("(rules out 1."),
        "{base}"
    );
    position(&stdout, "Installed rust_code 1.0.0");
    // A miss, then a hit; an eviction; a fallback with its cause.
    let miss = position(&stdout, "cache     miss `");
    let hit = position(&stdout, "cache     hit `");
    assert!(miss < hit, "{stdout}");
    position(&stdout, "cache     evicted `");
    position(
        &stdout,
        "fallback  `python_code` could not be used: its weights are unreadable",
    );
    position(
        &stdout,
        "answered  by `reasoning`, instead of `python_code`",
    );
    // The monitor's table and counters.
    position(&stdout, "component            kind    state");
    position(&stdout, "tiny_base            base    Resident");
    position(&stdout, "evictions");
    // The marketplace URL, last.
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("  marketplace: "))
        .unwrap_or_else(|| panic!("no marketplace line in:\n{stdout}"));
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{url}"
    );
    // The temporary home is gone.
    let home = stdout
        .lines()
        .find_map(|l| l.strip_prefix("  home      "))
        .unwrap_or_else(|| panic!("no home line in:\n{stdout}"));
    assert!(!Path::new(home).exists(), "`{home}` was left behind");
}

#[test]
fn the_demo_says_where_it_looked_for_missing_examples() {
    let out = demo(&["--exit", "--examples", "no/such/dir"]);
    refused(&out, "`--examples no/such/dir`: no such directory");
}

#[test]
fn the_demo_chats_with_a_fetched_real_model() {
    let model = modularbase_tests::llamacpp::smollm2();
    let models = model.parent().and_then(Path::parent).unwrap();
    let out = demo_with(
        &["--exit", "--examples", EXAMPLES, "--model", "smollm2-135m"],
        &[("MODULARBASE_MODELS", models)],
    );
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let real = &stdout[position(&stdout, "━━ 11. A real model: smollm2-135m")..];
    position(
        real,
        "as smollm2_135m 1.0.0 (byte-level BPE, `smollm` splitting (49152 tokens))",
    );
    position(real, "published smollm2_135m 1.0.0");
    // The packs trained over it, published and installed with the base they need.
    position(real, "published python_code 0.1.0");
    position(real, "published smollm2_router 1.0.0");
    let install = &real[position(real, "installing python_code@0.1.0")..];
    position(install, "Installed smollm2_135m 1.0.0");
    position(install, "Installed python_code 0.1.0");
    position(install, "Installed rust_code 0.1.0");
    // Text of each domain routed over the model's hidden states to its pack (the first
    // loaded from disk), general English to no pack.
    for (domain, pack) in [
        ("[Python code]", "python_code"),
        ("[Rust code]", "rust_code"),
        ("[reasoning]", "reasoning"),
    ] {
        let answer = &real[position(real, domain)..];
        let answer = &answer[..position(answer, "  output ")];
        position(answer, &format!("→ `{pack}`"));
        position(answer, &format!("answered  by `{pack}`"));
    }
    let first = &real[position(real, "[Python code]")..];
    position(first, "miss `python_code`: not in memory, loaded from disk");
    let general = &real[position(real, "[general English]")..];
    position(general, "answered  by the base alone");
    // Greedy answers of the real model through its chat template.
    position(real, "def square");
    position(real, "━━ 12. The marketplace");
}

#[test]
fn a_model_that_was_never_fetched_is_a_hint_before_the_demo_starts() {
    let empty = tempfile::tempdir().unwrap();
    let out = demo_with(
        &["--exit", "--examples", EXAMPLES, "--model", "smollm2-135m"],
        &[("MODULARBASE_MODELS", empty.path())],
    );
    refused(&out, "model `smollm2-135m` has not been fetched");
    refused(&out, "help: run `scripts/fetch-model.sh smollm2-135m`");
    assert!(!text(&out.stdout).contains("1. A registry"), "nothing ran");
    let out = demo_with(&["--exit", "--examples", EXAMPLES, "--model", "gpt5"], &[]);
    refused(&out, "unknown model `gpt5`; known models: smollm2-135m");
}
