//! `base import`: a real llama-family GGUF (SmolLM2-135M from PyPI) becomes a base pack that
//! runs and chats; files it cannot run are refused with what is wrong, and nothing is written.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use candle_core::Device;
use candle_core::quantized::gguf_file::{self, Content, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use common::{modularbase, refused, succeeded, text};
use modularbase_pack::{MANIFEST_FILE, WEIGHTS_FILE, sha256_file};
use modularbase_tests::llamacpp::{repo_root, smollm2};

fn import(dir: &Path, file: &Path, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "base",
        "import",
        file.to_str().unwrap(),
        "--id",
        "smollm2_135m",
        "--version",
        "1.0.0",
    ];
    args.extend_from_slice(extra);
    modularbase(dir, &args)
}

#[test]
fn smollm2_imports_with_its_bytes_unchanged_and_answers() {
    let dir = tempfile::tempdir().unwrap();
    let model = smollm2();
    succeeded(&import(dir.path(), &model, &[]));
    let base = dir.path().join("smollm2_135m");
    let manifest = std::fs::read_to_string(base.join(MANIFEST_FILE)).unwrap();
    for line in [
        "kind = \"base\"",
        "license = \"Apache-2.0\"",
        "hidden = 576",
        "layers = 30",
        "heads = 9",
        "kv_heads = 3",
        "vocab = 49152",
    ] {
        assert!(manifest.contains(line), "{line} missing from:\n{manifest}");
    }
    let card = std::fs::read_to_string(base.join("README.md")).unwrap();
    for part in [
        "`general.organization` | HuggingFaceTB",
        "`general.license` | apache-2.0",
        "| blocks | 30 |",
        "byte-level BPE, `smollm` splitting (49152 tokens)",
        "210 × Q4_1",
        "| tied embeddings | yes |",
    ] {
        assert!(card.contains(part), "{part} missing from the card:\n{card}");
    }
    assert_eq!(
        sha256_file(&base.join(WEIGHTS_FILE)).unwrap(),
        sha256_file(&model).unwrap(),
        "the tensor bytes are kept as they are"
    );

    let base_arg = base.to_str().unwrap();
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--base",
            base_arg,
            "--device",
            "cpu",
            "--temperature",
            "0",
        ];
        args.extend_from_slice(extra);
        modularbase(dir.path(), &args)
    };
    let out = run(&["--max-tokens", "3", "The capital of France is"]);
    succeeded(&out);
    assert_eq!(text(&out.stdout), " Paris.\n\n");
    let out = run(&["--chat", "--max-tokens", "32", "What is 2+2?"]);
    succeeded(&out);
    // The template's system turn and ChatML markers are not echoed; the answer stops at
    // `<|im_end|>`, before 32 tokens.
    assert_eq!(
        text(&out.stdout),
        "The answer to this classic math problem is 4.\n"
    );
}

#[test]
fn importing_with_quantize_q8_0_requantizes_every_matrix() {
    let dir = tempfile::tempdir().unwrap();
    succeeded(&import(
        dir.path(),
        &smollm2(),
        &["--quantize", "q8_0", "--out", "q8"],
    ));
    let path = dir.path().join("q8").join(WEIGHTS_FILE);
    let content = Content::read(&mut std::fs::File::open(&path).unwrap()).unwrap();
    let matrices: Vec<GgmlDType> = content
        .tensor_infos
        .values()
        .filter(|t| t.shape.rank() == 2)
        .map(|t| t.ggml_dtype)
        .collect();
    assert_eq!(matrices.len(), 211);
    assert!(matrices.iter().all(|d| *d == GgmlDType::Q8_0));
    let card = std::fs::read_to_string(dir.path().join("q8/README.md")).unwrap();
    assert!(card.contains("matrices requantized to Q8_0"), "{card}");
    let out = modularbase(
        dir.path(),
        &[
            "run",
            "--base",
            "q8",
            "--device",
            "cpu",
            "--temperature",
            "0",
            "--max-tokens",
            "2",
            "The capital of France is",
        ],
    );
    succeeded(&out);
    assert_eq!(text(&out.stdout), " Paris.\n");
}

/// A copy of the trained example base with its metadata and tensors changed by `edit`.
fn hostile(
    dir: &Path,
    name: &str,
    edit: impl FnOnce(&mut Content, &mut Vec<(String, QTensor)>),
) -> PathBuf {
    let source = repo_root()
        .join("examples/packs/tiny_base-1.0.0")
        .join(WEIGHTS_FILE);
    let mut file = std::fs::File::open(&source).unwrap();
    let mut content = Content::read(&mut file).unwrap();
    let mut names: Vec<String> = content.tensor_infos.keys().cloned().collect();
    names.sort();
    let mut tensors: Vec<(String, QTensor)> = names
        .into_iter()
        .map(|n| {
            let t = content.tensor(&mut file, &n, &Device::Cpu).unwrap();
            (n, t)
        })
        .collect();
    edit(&mut content, &mut tensors);
    let path = dir.join(name);
    let mut out = std::fs::File::create(&path).unwrap();
    let metadata: Vec<(&str, &Value)> = content
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v))
        .collect();
    let tensors: Vec<(&str, &QTensor)> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    gguf_file::write(&mut out, &metadata, &tensors).unwrap();
    path
}

/// Asserts `file` is refused with `expected` and that nothing was written beside it.
fn refused_and_nothing_written(dir: &Path, file: &Path, expected: &str) {
    refused(&import(dir, file, &["--out", "out/base"]), expected);
    let out = dir.join("out");
    let left: Vec<_> = std::fs::read_dir(&out)
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.is_empty(),
        "left behind in {}: {left:?}",
        out.display()
    );
}

#[test]
fn a_gguf_of_another_architecture_is_refused_with_what_is_supported() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile(dir.path(), "gpt2.gguf", |c, _| {
        c.metadata
            .insert("general.architecture".into(), Value::String("gpt2".into()));
    });
    refused_and_nothing_written(
        dir.path(),
        &file,
        "`general.architecture` is `gpt2`; supported: `llama`",
    );
}

#[test]
fn a_missing_shape_key_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile(dir.path(), "no_blocks.gguf", |c, _| {
        c.metadata.remove("llama.block_count");
    });
    refused_and_nothing_written(
        dir.path(),
        &file,
        "metadata key `llama.block_count` is missing",
    );
}

#[test]
fn a_vocabulary_of_the_wrong_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile(dir.path(), "short_vocab.gguf", |c, _| {
        let tokens = (0..100)
            .map(|i| Value::String(format!("<0x{i:02X}>")))
            .collect();
        c.metadata
            .insert("tokenizer.ggml.tokens".into(), Value::Array(tokens));
    });
    refused_and_nothing_written(
        dir.path(),
        &file,
        "metadata key `tokenizer.ggml.tokens` is 100 tokens; `token_embd.weight` has 258 rows",
    );
}

#[test]
fn a_tensor_of_an_unsupported_type_is_refused_with_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile(dir.path(), "q8_1.gguf", |_, tensors| {
        let (_, t) = tensors
            .iter_mut()
            .find(|(n, _)| n == "blk.0.attn_q.weight")
            .unwrap();
        let f = t.dequantize(&Device::Cpu).unwrap();
        *t = QTensor::quantize(&f, GgmlDType::Q8_1).unwrap();
    });
    refused_and_nothing_written(
        dir.path(),
        &file,
        "tensor `blk.0.attn_q.weight` is stored as Q8_1, expected F32 or F16 or BF16 or Q4_0",
    );
}

#[test]
fn a_truncated_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let source = repo_root()
        .join("examples/packs/tiny_base-1.0.0")
        .join(WEIGHTS_FILE);
    let bytes = std::fs::read(source).unwrap();
    let file = dir.path().join("cut.gguf");
    std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
    refused_and_nothing_written(dir.path(), &file, "is not a usable base");
}

#[test]
fn an_existing_directory_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("out/base")).unwrap();
    std::fs::write(dir.path().join("out/base/keep.txt"), "mine").unwrap();
    let source = repo_root()
        .join("examples/packs/tiny_base-1.0.0")
        .join(WEIGHTS_FILE);
    refused(
        &import(dir.path(), &source, &["--out", "out/base"]),
        "already exists; choose a new directory",
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/base/keep.txt")).unwrap(),
        "mine"
    );
}

/// Regression: with `RUST_BACKTRACE=1`, candle's error pasted a whole backtrace into the
/// message of a refused file.
#[test]
fn a_file_that_is_not_gguf_is_refused_without_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.gguf");
    std::fs::write(&file, "not a gguf at all").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_modularbase"))
        .args([
            "base",
            "import",
            "notes.gguf",
            "--id",
            "notes",
            "--version",
            "1.0.0",
        ])
        .current_dir(dir.path())
        .env("MODULARBASE_HOME", dir.path().join(".home"))
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    refused(
        &out,
        "is not a usable base: it is not a GGUF file (it does not start with `GGUF`)",
    );
    let stderr = text(&out.stderr);
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    assert!(!dir.path().join("notes").exists());
}

#[test]
fn a_sentencepiece_vocabulary_other_than_ours_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile(dir.path(), "spm.gguf", |c, _| {
        if let Some(Value::Array(tokens)) = c.metadata.get_mut("tokenizer.ggml.tokens") {
            tokens[40] = Value::String("▁the".into());
        }
    });
    refused_and_nothing_written(
        dir.path(),
        &file,
        "SentencePiece (`llama`) vocabularies other than ModularBase's byte vocabulary are not supported yet",
    );
}

#[test]
fn an_unknown_tokenizer_model_is_refused_with_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile(dir.path(), "bert.gguf", |c, _| {
        c.metadata
            .insert("tokenizer.ggml.model".into(), Value::String("bert".into()));
    });
    refused_and_nothing_written(
        dir.path(),
        &file,
        "`tokenizer.ggml.model` is `bert`; supported: `gpt2` (byte-level BPE)",
    );
}

#[test]
fn a_bpe_vocabulary_split_in_an_unknown_way_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = hostile(dir.path(), "pre.gguf", |c, _| {
        c.metadata
            .insert("tokenizer.ggml.model".into(), Value::String("gpt2".into()));
        c.metadata.insert(
            "tokenizer.ggml.pre".into(),
            Value::String("deepseek-coder".into()),
        );
    });
    refused_and_nothing_written(
        dir.path(),
        &file,
        "`tokenizer.ggml.pre` is `deepseek-coder`, whose splitting is not supported; supported: smollm",
    );
}

/// `base import` killed (SIGKILL) at 100 moments spread over its run: the target directory
/// is either absent or a whole base (manifest, card, weights byte-identical to the source).
#[test]
fn a_killed_import_never_leaves_a_half_written_base() {
    let dir = tempfile::tempdir().unwrap();
    let source = repo_root()
        .join("examples/packs/tiny_base-1.0.0")
        .join(WEIGHTS_FILE);
    let expected = sha256_file(&source).unwrap();
    let started = std::time::Instant::now();
    succeeded(&import(dir.path(), &source, &["--out", "timed"]));
    let run = started.elapsed().as_micros().max(1_000) as u64;
    let (mut whole, mut absent) = (0, 0);
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..100 {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let delay = (x >> 33) % (run * 3 / 2);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_modularbase"))
            .args(["base", "import", source.to_str().unwrap()])
            .args(["--id", "tiny_base", "--version", "1.0.0", "--out", "killed"])
            .current_dir(dir.path())
            .env("MODULARBASE_HOME", dir.path().join(".home"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(delay));
        let _ = child.kill();
        child.wait().unwrap();
        let out = dir.path().join("killed");
        if out.exists() {
            for file in [MANIFEST_FILE, "README.md"] {
                assert!(out.join(file).is_file(), "`{file}` missing after a kill");
            }
            assert_eq!(sha256_file(&out.join(WEIGHTS_FILE)).unwrap(), expected);
            std::fs::remove_dir_all(&out).unwrap();
            whole += 1;
        } else {
            absent += 1;
        }
    }
    assert!(
        whole > 0 && absent > 0,
        "kills all landed on one side: {whole} whole, {absent} absent"
    );
}
