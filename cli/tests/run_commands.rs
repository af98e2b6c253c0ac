//! `base init`, `run` and `monitor` through the real binary, over real pack directories.

#![allow(clippy::unwrap_used)]

mod common;

use common::{modularbase, refused, succeeded, text};

use std::path::{Path, PathBuf};

use modularbase_pack::{ExpertFormat, Manifest};
use modularbase_runtime::{PackConfig, PackWeights, write_pack_dir};

/// A base made by `base init` and two packs for it, in a temporary directory.
fn world() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let out = modularbase(
        dir.path(),
        &[
            "base",
            "init",
            "--id",
            "tiny_base",
            "--version",
            "1.0.0",
            "--out",
            "tiny_base",
            "--hidden",
            "64",
            "--layers",
            "2",
            "--heads",
            "4",
            "--seed",
            "3",
        ],
    );
    succeeded(&out);
    for id in ["python_code", "general_chat"] {
        let manifest = Manifest::from_toml_str(
            &format!("[pack]\nid = \"{id}\"\nversion = \"1.0.0\"\nname = \"{id}\"\nkind = \"domain\"\ndomain = \"test\"\nbase = \"tiny_base\"\nbase_compatibility = [\"1.0\"]\nreadme = \"README.md\"\n"),
            Path::new("pack.toml"),
        )
        .unwrap();
        let config = PackConfig {
            hidden: 64,
            width: 32,
            experts: 4,
            top_k: 2,
            expert_ffn: 64,
            insertion_layer: 1,
            expert_format: ExpertFormat::Q8_0,
        };
        write_pack_dir(
            &dir.path().join(id),
            &manifest,
            &PackWeights::random(config, 1).unwrap(),
        )
        .unwrap();
    }
    let root = dir.path().to_owned();
    (dir, root)
}

const SET: [&str; 6] = [
    "--base",
    "tiny_base",
    "--pack",
    "./python_code",
    "--pack",
    "./general_chat",
];

#[test]
fn base_init_writes_a_base_pack_and_never_overwrites_one() {
    let (_dir, root) = world();
    let manifest = Manifest::load(&root.join("tiny_base/pack.toml")).unwrap();
    assert_eq!(manifest.kind, modularbase_pack::PackKind::Base);
    assert_eq!(manifest.model.unwrap().hidden, Some(64));
    assert!(
        std::fs::read_to_string(root.join("tiny_base/README.md"))
            .unwrap()
            .contains("seed 3")
    );
    let before = std::fs::read(root.join("tiny_base/weights.gguf")).unwrap();
    let again = modularbase(
        &root,
        &[
            "base",
            "init",
            "--id",
            "tiny_base",
            "--version",
            "1.0.0",
            "--out",
            "tiny_base",
        ],
    );
    refused(&again, "already holds a pack");
    assert_eq!(
        std::fs::read(root.join("tiny_base/weights.gguf")).unwrap(),
        before
    );
}

#[test]
fn run_answers_and_debug_shows_route_experts_and_cache() {
    let (_dir, root) = world();
    let mut args = vec![
        "run",
        "def fib(n):",
        "--pack",
        "python_code",
        "--temperature",
        "0",
        "--max-tokens",
        "6",
        "--debug",
        "--monitor",
        "--device",
        "cpu",
    ];
    args.extend(SET);
    let out = modularbase(&root, &args);
    succeeded(&out);
    let stderr = text(&out.stderr);
    for expected in [
        "route: forced `python_code`",
        "pack: python_code",
        "experts after block 1: e0:",
        "cache: miss `python_code` (loaded)",
        "tokens at",
        "tiny_base",
        "Resident",
        "Loaded",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in\n{stderr}"
        );
    }
    // The same seed and settings give the same answer.
    let again = modularbase(&root, &args);
    assert_eq!(out.stdout, again.stdout);
}

#[test]
fn one_home_two_base_families_run_names_the_pack_made_for_another_base_and_falls_back() {
    let (_dir, root) = world();
    let manifest = Manifest::from_toml_str(
        "[pack]\nid = \"other_code\"\nversion = \"1.0.0\"\nname = \"other\"\nkind = \"domain\"\ndomain = \"test\"\nbase = \"other_base\"\nbase_compatibility = [\"1.0\"]\nreadme = \"README.md\"\n",
        Path::new("pack.toml"),
    )
    .unwrap();
    let narrow = PackConfig {
        hidden: 32,
        width: 32,
        experts: 2,
        top_k: 1,
        expert_ffn: 32,
        insertion_layer: 0,
        expert_format: ExpertFormat::Q8_0,
    };
    write_pack_dir(
        &root.join("other_code"),
        &manifest,
        &PackWeights::random(narrow, 4).unwrap(),
    )
    .unwrap();
    let mut args = vec!["run", "def fib(n):", "--max-tokens", "3", "--device", "cpu"];
    args.extend(SET);
    args.extend(["--pack", "./other_code"]);
    let routed = modularbase(&root, &args);
    succeeded(&routed);
    let stderr = text(&routed.stderr);
    assert!(
        stderr.contains(
            "warning: pack `other_code` is not routed to: it is made for base other_base, not tiny_base"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("shape mismatch"), "{stderr}");

    args.extend(["--pack", "other_code", "--allow-fallback", "--debug"]);
    let forced = modularbase(&root, &args);
    succeeded(&forced);
    let stderr = text(&forced.stderr);
    assert!(
        stderr.contains(
            "warning: pack `other_code` was not used: it supports base other_base 1.0 but tiny_base"
        ),
        "{stderr}"
    );
    assert!(stderr.contains("pack: general_chat"), "{stderr}");
}

#[test]
fn a_corrupt_forced_pack_is_an_error_unless_fallback_is_allowed() {
    let (_dir, root) = world();
    std::fs::write(root.join("python_code/weights.gguf"), b"GGUF?").unwrap();
    let mut args = vec![
        "run",
        "x",
        "--pack",
        "python_code",
        "--max-tokens",
        "2",
        "--debug",
        "--device",
        "cpu",
    ];
    args.extend(SET);
    let out = modularbase(&root, &args);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("error: pack `python_code` cannot be used: its weights are unreadable:")
            && stderr.contains("hint: pass `--allow-fallback`"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing is answered");

    args.push("--allow-fallback");
    let out = modularbase(&root, &args);
    succeeded(&out);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: pack `python_code` was not used: its weights are unreadable"),
        "{stderr}"
    );
    assert!(stderr.contains("pack: general_chat"), "{stderr}");
}

#[test]
fn refusals_exit_1_with_what_to_do() {
    let (_dir, root) = world();
    if !modularbase_runtime::cuda_compiled() {
        let out = modularbase(
            &root,
            &["run", "x", "--device", "cuda:0", "--base", "tiny_base"],
        );
        assert_eq!(out.status.code(), Some(1));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("rebuild with `cargo build --release --features cuda`"),
            "{stderr}"
        );
        assert_eq!(
            stderr.lines().count(),
            1,
            "one clear line, no backtrace: {stderr}"
        );
    }
    let cases: [(&[&str], &str); 4] = [
        (
            &["run", "x", "--budget", "1KiB", "--base", "tiny_base"],
            "smaller than the resident base and router",
        ),
        (
            &["run", "x"],
            "no base to run: install one (`modularbase pack install tiny_base`) or pass `--base DIR`",
        ),
        (
            &["run", "x", "--base", "tiny_base", "--pack", "./missing"],
            "`--pack ./missing`: no pack directory there",
        ),
        (
            &["run", "x", "--base", "tiny_base", "--pack", "Not-A-Pack"],
            "neither a pack directory (write it with a `/`, as in `./Not-A-Pack`) nor a pack id",
        ),
    ];
    for (args, expected) in cases {
        let out = modularbase(&root, args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    let bad_budget = modularbase(&root, &["run", "x", "--budget", "lots"]);
    assert_eq!(bad_budget.status.code(), Some(2));
}

#[test]
fn monitor_shows_every_component_against_the_budget() {
    let (_dir, root) = world();
    let mut args = vec!["monitor", "--budget", "64MiB", "--device", "cpu"];
    args.extend(SET);
    let out = modularbase(&root, &args);
    succeeded(&out);
    let stdout = text(&out.stdout);
    assert!(stdout.contains("budget 64.0 MiB"), "{stdout}");
    for (id, state) in [
        ("tiny_base", "Resident"),
        ("python_code", "Installed"),
        ("general_chat", "Installed"),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_else(|| panic!("{id} missing:\n{stdout}"));
        assert!(line.contains(state), "{line}");
    }
}

#[test]
fn pack_init_scaffolds_a_pack_the_base_runs() {
    let (_dir, root) = world();
    let out = modularbase(
        &root,
        &[
            "pack",
            "init",
            "--domain",
            "medical",
            "--name",
            "Medical QA Pack",
            "--base",
            "tiny_base@1.0.0",
            "--hidden",
            "64",
            "--layers",
            "2",
        ],
    );
    succeeded(&out);
    assert!(
        text(&out.stdout).starts_with("Created pack medical_qa_pack 0.1.0"),
        "{}",
        text(&out.stdout)
    );
    let manifest = Manifest::load(&root.join("medical_qa_pack/pack.toml")).unwrap();
    assert_eq!(
        (
            manifest.domain.as_deref(),
            manifest.base_compatibility[0].to_string().as_str()
        ),
        (Some("medical"), "1.0")
    );
    let weights = PackWeights::read(&root.join("medical_qa_pack/weights.gguf")).unwrap();
    assert_eq!(
        (weights.config.hidden, weights.config.insertion_layer),
        (64, 1)
    );
    assert!(
        modularbase(&root, &["pack", "build", "--path", "medical_qa_pack"])
            .status
            .success()
    );
    let run = modularbase(
        &root,
        &[
            "run",
            "x",
            "--base",
            "tiny_base",
            "--pack",
            "./medical_qa_pack",
            "--pack",
            "medical_qa_pack",
            "--max-tokens",
            "2",
            "--debug",
            "--device",
            "cpu",
        ],
    );
    succeeded(&run);
    assert!(
        text(&run.stderr).contains("pack: medical_qa_pack"),
        "{}",
        text(&run.stderr)
    );
    let again = modularbase(
        &root,
        &[
            "pack",
            "init",
            "--domain",
            "medical",
            "--name",
            "Medical QA Pack",
            "--base",
            "tiny_base@1.0.0",
            "--hidden",
            "64",
            "--layers",
            "2",
        ],
    );
    refused(&again, "already holds a pack");
}

#[test]
fn completions_are_printed_for_each_shell() {
    let (_dir, root) = world();
    for shell in ["bash", "zsh", "fish"] {
        let out = modularbase(&root, &["completions", shell]);
        assert!(out.status.success(), "{shell}");
        assert!(
            text(&out.stdout).contains("modularbase") && text(&out.stdout).contains("install"),
            "{shell}"
        );
    }
}
