//! Our byte-level bases in llama.cpp: a trained example base, written by our GGUF writer,
//! tokenizes in llama.cpp as ours does and greedy-decodes to what
//! `modularbase run --temperature 0` prints.

#![allow(clippy::unwrap_used, clippy::print_stderr)]

mod common;

use common::{modularbase, succeeded, text};

use modularbase_pack::{MANIFEST_FILE, Manifest, WEIGHTS_FILE};
use modularbase_runtime::{ByteTokenizer, read_base_gguf, write_base_gguf};
use modularbase_tests::llamacpp::{ids, reference, repo_root};
use serde_json::json;

const PROMPTS: &[&str] = &[
    "def fibonacci(n):",
    "The answer is",
    "fn main() {\n    let x = ",
];
const STEPS: usize = 32;

#[test]
fn a_trained_byte_base_runs_in_llama_cpp_as_it_runs_here() {
    let dir = tempfile::tempdir().unwrap();
    let example = repo_root().join("examples/packs/tiny_base-1.0.0");
    let base = dir.path().join("tiny_base");
    std::fs::create_dir(&base).unwrap();
    for file in [MANIFEST_FILE, "README.md"] {
        std::fs::copy(example.join(file), base.join(file)).unwrap();
    }
    let manifest_path = base.join(MANIFEST_FILE);
    let manifest = Manifest::from_toml_str(
        &std::fs::read_to_string(&manifest_path).unwrap(),
        &manifest_path,
    )
    .unwrap();
    let weights = read_base_gguf(&example.join(WEIGHTS_FILE)).unwrap();
    let gguf = base.join(WEIGHTS_FILE);
    write_base_gguf(&gguf, &weights, &manifest).unwrap();

    let texts = [
        "hello world",
        "  two spaces",
        "tab\there",
        "héllo wörld",
        "日本",
        "a\nb",
    ];
    let request = json!({
        "tokenize": texts,
        "generate": PROMPTS.iter().map(|p| json!({"prompt": p, "max_tokens": STEPS})).collect::<Vec<_>>(),
    });
    let answer = reference(&gguf, 1, &request);
    for (text, row) in texts.iter().zip(answer["tokenize"].as_array().unwrap()) {
        let ours: Vec<u32> = ByteTokenizer.encode(text)[1..].to_vec();
        assert_eq!(ids(&row["ids"]), ours, "llama.cpp's ids of {text:?}");
        assert_eq!(row["detok"], *text, "llama.cpp's round trip of {text:?}");
    }
    for (prompt, row) in PROMPTS.iter().zip(answer["generate"].as_array().unwrap()) {
        assert_eq!(
            ids(&row["prompt_ids"]),
            ByteTokenizer.encode(prompt),
            "prompt ids of {prompt:?}"
        );
        let out = modularbase(
            dir.path(),
            &[
                "run",
                "--base",
                base.to_str().unwrap(),
                "--temperature",
                "0",
                "--max-tokens",
                &STEPS.to_string(),
                "--device",
                "cpu",
                prompt,
            ],
        );
        succeeded(&out);
        let ours = text(&out.stdout);
        let ours = ours.strip_suffix('\n').unwrap_or(&ours);
        eprintln!("{prompt:?} → {ours:?}");
        assert_eq!(
            ours,
            row["text"].as_str().unwrap(),
            "greedy output of {prompt:?}"
        );
    }
}
