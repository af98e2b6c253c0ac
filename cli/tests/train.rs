//! The training commands end to end on tiny shapes: `base train` (and resuming it after a
//! kill), `router train`, `pack train`, `pack align` and `eval`, with their refusals.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{modularbase, refused, succeeded, text};

/// Shape flags for a base that trains in seconds.
const TINY: &[&str] = &[
    "--hidden",
    "64",
    "--layers",
    "2",
    "--heads",
    "4",
    "--kv-heads",
    "2",
    "--ffn",
    "128",
    "--context",
    "128",
];
/// `router train` over `base10` on the code and sums corpora, 40 snippets and steps, then
/// `extra`.
fn router_train(dir: &Path, extra: &[&str]) -> std::process::Output {
    let base = [
        "router",
        "train",
        "--base",
        "base10",
        "--data",
        "code=code.txt",
        "--data",
        "sums=sums.txt",
        "--snippets",
        "40",
        "--steps",
        "40",
    ];
    run(dir, &base, &[extra])
}

/// A short run on small windows.
const SHORT: &[&str] = &["--seq", "64", "--batch", "4", "--lr", "5e-3"];

fn write_corpora(dir: &Path) {
    let prose: String = (0..300)
        .map(|i| format!("the cat sat on the mat number {i}. "))
        .collect();
    let code: String = (0..200)
        .map(|i| format!("def f{i}(x):\n    return x * {i} + 1\n\n"))
        .collect();
    let sums: String = (0..300)
        .map(|i| format!("Q: {i} + 2 = ?\nA: {}\n", i + 2))
        .collect();
    for (name, body) in [("prose.txt", prose), ("code.txt", code), ("sums.txt", sums)] {
        std::fs::write(dir.join(name), body).unwrap();
    }
}

fn run(dir: &Path, args: &[&str], extra: &[&[&str]]) -> std::process::Output {
    let mut all: Vec<&str> = args.to_vec();
    for part in extra {
        all.extend_from_slice(part);
    }
    modularbase(dir, &all)
}

fn domain_pack(dir: &Path, id: &str) {
    std::fs::create_dir_all(dir.join(id)).unwrap();
    std::fs::write(
        dir.join(id).join("pack.toml"),
        format!(
            "[pack]\nid = \"{id}\"\nversion = \"1.0.0\"\nname = \"{id}\"\nkind = \"domain\"\ndomain = \"{id}\"\nbase = \"tiny_base\"\nbase_compatibility = [\"1.0\"]\nreadme = \"README.md\"\n"
        ),
    )
    .unwrap();
}

#[test]
fn train_route_align_and_evaluate_a_tiny_model() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_corpora(dir);

    let out = run(
        dir,
        &[
            "base",
            "train",
            "--corpus",
            "prose.txt",
            "--out",
            "base10",
            "--steps",
            "30",
        ],
        &[TINY, SHORT],
    );
    succeeded(&out);
    let said = text(&out.stdout);
    assert!(
        said.contains("Wrote base tiny_base 1.0.0 to base10"),
        "{said}"
    );
    for file in ["pack.toml", "weights.gguf", "README.md"] {
        assert!(dir.join("base10").join(file).exists(), "{file} missing");
    }
    assert!(
        !dir.join("base10/.checkpoint").exists(),
        "the checkpoint outlived the run"
    );
    let card = std::fs::read_to_string(dir.join("base10/README.md")).unwrap();
    assert!(card.contains("held-out bits per byte"), "{card}");

    let out = router_train(dir, &["--path", "router"]);
    succeeded(&out);
    assert!(text(&out.stdout).contains("of held-out snippets routed right"));

    // With general text, the threshold is calibrated so that it gets no pack.
    let out = router_train(
        dir,
        &[
            "--path",
            "router_calibrated",
            "--id",
            "router_calibrated",
            "--general",
            "prose.txt",
        ],
    );
    succeeded(&out);
    let said = text(&out.stdout);
    assert!(
        said.contains("Calibrated the confidence threshold "),
        "{said}"
    );
    assert!(
        said.contains("% of general held-out snippets get no pack"),
        "{said}"
    );
    let card = std::fs::read_to_string(dir.join("router_calibrated/README.md")).unwrap();
    assert!(card.contains("Confidence threshold "), "{card}");
    // General text is learnt as a class of its own whose key the router keeps.
    let header = modularbase_pack::gguf::GgufHeader::open(
        &dir.join("router_calibrated/weights.gguf"),
        &Default::default(),
    )
    .unwrap();
    let key = header
        .tensor(modularbase_pack::weights::ROUTER_GENERAL_KEY)
        .unwrap();
    assert_eq!(key.shape(), [64]);
    let plain = modularbase_pack::gguf::GgufHeader::open(
        &dir.join("router/weights.gguf"),
        &Default::default(),
    )
    .unwrap();
    assert!(
        plain
            .tensor(modularbase_pack::weights::ROUTER_GENERAL_KEY)
            .is_none()
    );
    let router = std::fs::read_to_string(dir.join("router/pack.toml")).unwrap();
    assert!(
        router.contains("kind = \"router\"") && router.contains("\"1.0\""),
        "{router}"
    );

    for (id, data) in [("code", "code.txt"), ("sums", "sums.txt")] {
        domain_pack(dir, id);
        let out = run(
            dir,
            &[
                "pack",
                "train",
                "--base",
                "base10",
                "--router",
                "router",
                "--path",
                id,
                "--data",
                data,
                "--steps",
                "30",
                "--prefix-cache",
                "prefix-cache",
            ],
            &[SHORT],
        );
        succeeded(&out);
        assert!(
            text(&out.stdout).contains(" s/step, peak memory "),
            "{}",
            text(&out.stdout)
        );
        let card = std::fs::read_to_string(dir.join(id).join("README.md")).unwrap();
        for row in [
            "| base alone |",
            "F16 experts",
            "Q8_0 experts (stored)",
            "Q4_0 experts",
        ] {
            assert!(card.contains(row), "{row} missing from:\n{card}");
        }
    }

    // Both trainings cached the frozen blocks' outputs of the windows they took.
    let cached = std::fs::read_dir(dir.join("prefix-cache"))
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "safetensors"))
        .count();
    assert!(cached > 0, "the prefix cache holds {cached} windows");

    // Evaluation: the code pack beats the base alone on code; routing picks it.
    let out = run(
        dir,
        &[
            "eval",
            "--base",
            "base10",
            "--json",
            "--window",
            "100",
            "--route",
            "--route-over",
            "router",
            "--route-over",
            "code",
            "--route-over",
            "sums",
            "--pack",
            "./code",
            "--data",
            "code=code.txt",
        ],
        &[],
    );
    succeeded(&out);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let figure = |model: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["model"] == model)
            .unwrap()["bits_per_byte"]
            .as_f64()
            .unwrap()
    };
    assert!(figure("+ code 1.0.0") < figure("base alone"), "{rows}");
    let routed = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["model"] == "routed")
        .unwrap();
    assert!(
        routed["routing_accuracy"].as_f64().unwrap() > 0.9,
        "{routed}"
    );

    // An upgraded base, and the sums pack aligned to it.
    let out = run(
        dir,
        &[
            "base",
            "train",
            "--corpus",
            "prose.txt",
            "--out",
            "base11",
            "--from",
            "base10",
            "--version",
            "1.1.0",
            "--steps",
            "5",
        ],
        &[TINY, SHORT],
    );
    succeeded(&out);
    let before = std::fs::read(dir.join("sums/weights.gguf")).unwrap();
    let out = run(
        dir,
        &[
            "pack",
            "align",
            "--base",
            "base11",
            "--mix",
            "sums.txt",
            "--mix",
            "prose.txt",
            "--path",
            "sums",
            "--steps",
            "5",
        ],
        &[SHORT],
    );
    succeeded(&out);
    assert!(
        text(&out.stdout).contains("Aligned sums 1.0.0 → 1.1.0"),
        "{}",
        text(&out.stdout)
    );
    let manifest = std::fs::read_to_string(dir.join("sums/pack.toml")).unwrap();
    assert!(manifest.contains("version = \"1.1.0\""), "{manifest}");
    assert!(
        manifest.contains("base_compatibility = [\"1.0\", \"1.1\"]"),
        "{manifest}"
    );
    assert_ne!(
        before,
        std::fs::read(dir.join("sums/weights.gguf")).unwrap()
    );
    let card = std::fs::read_to_string(dir.join("sums/README.md")).unwrap();
    assert!(
        card.contains("## Alignment") && card.contains("## Evaluation"),
        "{card}"
    );
}

#[test]
fn an_interrupted_base_training_resumes_from_its_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_corpora(dir);
    // The same command twice: killed once it has checkpointed, then run to the end.
    let train: &[&str] = &[
        "base",
        "train",
        "--corpus",
        "prose.txt",
        "--out",
        "base",
        "--steps",
        "400",
        "--checkpoint-every",
        "2",
    ];
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_modularbase"))
        .args(train)
        .args(TINY)
        .args(SHORT)
        .current_dir(dir)
        .env("MODULARBASE_HOME", dir.join(".home"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = dir.join("base/.checkpoint/checkpoint.json");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !state.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(state.exists(), "no checkpoint appeared");
    assert!(
        !dir.join("base/weights.gguf").exists(),
        "a killed run left weights behind"
    );

    let out = run(dir, train, &[TINY, SHORT]);
    succeeded(&out);
    assert!(
        text(&out.stdout).contains("Resumed from the checkpoint at step"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn training_refuses_what_it_cannot_use() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    write_corpora(dir);
    std::fs::write(dir.join("empty.txt"), "").unwrap();
    let out = modularbase(dir, &["eval", "--base", "nowhere", "--data", "empty.txt"]);
    refused(&out, "`empty.txt` has no text to score");
    let out = run(
        dir,
        &[
            "pack", "train", "--base", "nowhere", "--data", "code.txt", "--path", "nopack",
        ],
        &[],
    );
    refused(
        &out,
        "holds no pack.toml; create the pack first with `modularbase pack init`",
    );
    let out = run(
        dir,
        &["base", "train", "--corpus", "missing.txt", "--out", "b"],
        &[TINY],
    );
    refused(&out, "missing.txt");
    assert!(!dir.join("b/weights.gguf").exists());
    let out = run(
        dir,
        &[
            "base",
            "train",
            "--corpus",
            "prose.txt",
            "--out",
            "b",
            "--seq",
            "4096",
        ],
        &[TINY],
    );
    refused(&out, "do not fit a context of 128");
    let out = modularbase(
        dir,
        &["router", "train", "--base", "b", "--data", "code.txt"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("should be PACK_ID=PATH"),
        "{}",
        text(&out.stderr)
    );
}
