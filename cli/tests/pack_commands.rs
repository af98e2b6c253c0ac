//! The real `modularbase` binary on real pack directories and archives.

#![allow(clippy::unwrap_used)]

mod common;

use common::{modularbase, succeeded, text};

use std::fs;
use std::path::Path;

use modularbase_tests::test_shape;

const MANIFEST: &str = r#"[pack]
id = "python_code"
version = "1.0.0"
name = "Python Code Pack"
kind = "domain"
domain = "code"
base = "tiny_base"
base_compatibility = ["1.0", "1.1"]
fallback = ["general_chat"]
readme = "README.md"

[dependencies]
reasoning = ">=1.1"
"#;

fn pack_dir(root: &Path) -> std::path::PathBuf {
    let dir = root.join("python_code");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("pack.toml"), MANIFEST).unwrap();
    let weights = modularbase_pack::weights::sample_weights(&test_shape("domain"), b"weights");
    fs::write(dir.join("weights.gguf"), weights).unwrap();
    fs::write(dir.join("README.md"), "# Python Code Pack\n").unwrap();
    dir
}

#[test]
fn build_writes_a_deterministic_archive_that_inspect_reads() {
    let root = tempfile::tempdir().unwrap();
    let dir = pack_dir(root.path());
    let out = modularbase(&dir, &["pack", "build"]);
    succeeded(&out);
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("Packed python_code 1.0.0 (3 files,"),
        "{stdout}"
    );
    let archive = dir.join("target/python_code-1.0.0.mbpack");
    let first = fs::read(&archive).unwrap();
    let sha_line = stdout
        .lines()
        .find(|l| l.contains("sha256"))
        .unwrap()
        .to_owned();

    let again = modularbase(root.path(), &["pack", "build", "--path", "python_code"]);
    assert!(again.status.success());
    assert_eq!(
        fs::read(&archive).unwrap(),
        first,
        "rebuild must give identical bytes"
    );
    assert!(text(&again.stdout).contains(&sha_line));
    assert_eq!(
        fs::read_dir(dir.join("target")).unwrap().count(),
        1,
        "no temporary files left"
    );

    let inspect = modularbase(root.path(), &["pack", "inspect", archive.to_str().unwrap()]);
    succeeded(&inspect);
    let shown = text(&inspect.stdout);
    for expected in [
        "python_code 1.0.0 (domain) — Python Code Pack",
        "base          tiny_base 1.0, 1.1",
        "depends on    reasoning >=1.1",
        "fallback      general_chat",
        "weights.gguf",
        sha_line.split_whitespace().last().unwrap(),
    ] {
        assert!(shown.contains(expected), "missing {expected:?} in\n{shown}");
    }
}

#[test]
fn build_refuses_an_invalid_manifest_and_writes_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = pack_dir(root.path());
    fs::write(
        dir.join("pack.toml"),
        MANIFEST.replace("\"1.0.0\"", "\"1.0\""),
    )
    .unwrap();
    let out = modularbase(&dir, &["pack", "build"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with("error: cannot build the pack in `.`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("at line 3, column 11: `pack.version`: `1.0` is not a semver version"),
        "{stderr}"
    );
    assert_eq!(
        fs::read_dir(dir.join("target")).unwrap().count(),
        0,
        "no partial archive"
    );
}

#[test]
fn inspect_refuses_a_hostile_archive_with_the_reason() {
    let root = tempfile::tempdir().unwrap();
    let dir = pack_dir(root.path());
    assert!(modularbase(&dir, &["pack", "build"]).status.success());
    let archive = dir.join("target/python_code-1.0.0.mbpack");
    let mut bytes = fs::read(&archive).unwrap();
    bytes.extend_from_slice(b"appended payload");
    fs::write(&archive, bytes).unwrap();
    let out = modularbase(root.path(), &["pack", "inspect", archive.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr)
            .contains("the archive has unexpected data after the end of the compressed stream"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn usage_errors_exit_2_and_help_shows_examples() {
    let root = tempfile::tempdir().unwrap();
    let out = modularbase(root.path(), &["pack", "frobnicate"]);
    assert_eq!(out.status.code(), Some(2));
    let help = modularbase(root.path(), &["pack", "build", "--help"]);
    assert!(
        text(&help.stdout).contains("Example: modularbase pack build --path packs/python_code")
    );
}

#[test]
fn build_stores_experts_as_the_manifest_asks_and_leaves_the_source_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let examples =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/packs/python_code-1.0.0");
    let dir = tmp.path().join("python_code");
    fs::create_dir_all(&dir).unwrap();
    for file in ["pack.toml", "README.md", "weights.gguf"] {
        fs::copy(examples.join(file), dir.join(file)).unwrap();
    }
    let mut manifest = fs::read_to_string(dir.join("pack.toml")).unwrap();
    manifest.push_str("\n[model]\nexpert_format = \"q4_0\"\n");
    fs::write(dir.join("pack.toml"), manifest).unwrap();
    let source = fs::read(dir.join("weights.gguf")).unwrap();

    let out = modularbase(tmp.path(), &["pack", "build", "--path", "python_code"]);
    succeeded(&out);
    assert_eq!(
        fs::read(dir.join("weights.gguf")).unwrap(),
        source,
        "the source weights changed"
    );
    let archive = fs::File::open(dir.join("target/python_code-1.0.0.mbpack")).unwrap();
    let unpacked = tmp.path().join("unpacked");
    let expected = modularbase_pack::PackRef {
        id: "python_code".parse().unwrap(),
        version: semver::Version::new(1, 0, 0),
    };
    modularbase_pack::unpack_archive(
        archive,
        &unpacked,
        &modularbase_pack::ArchiveLimits::default(),
        &expected,
    )
    .unwrap();
    let stored = modularbase_runtime::PackWeights::read(&unpacked.join("weights.gguf")).unwrap();
    assert_eq!(
        stored.config.expert_format,
        modularbase_pack::ExpertFormat::Q4_0
    );
    let original = modularbase_runtime::PackWeights::read(&dir.join("weights.gguf")).unwrap();
    assert_eq!(
        original.config.expert_format,
        modularbase_pack::ExpertFormat::Q8_0
    );
    assert!(
        stored.expert_bytes() * 10 < original.expert_bytes() * 6,
        "Q4_0 experts are not smaller"
    );
}
