//! `pack verify` through the real binary: every installed pack's files against the digest
//! the lock records and its cached archive against its checksum, each difference named;
//! `run` leaving out a pack that fails and refusing a base that does; `pack install`
//! repairing what failed.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{graph, in_home, install, refused, succeeded, text};
use modularbase_tests::TestRegistry;

/// `pack verify` in `home`.
fn verify(dir: &Path, home: &Path) -> std::process::Output {
    in_home(dir, home, &["pack", "verify"], "")
}

/// The line `pack verify` printed for `id`.
fn line_of(out: &std::process::Output, id: &str) -> String {
    let stdout = text(&out.stdout);
    stdout
        .lines()
        .find(|l| l.split_whitespace().next() == Some(id))
        .unwrap_or_else(|| panic!("no line for {id} in:\n{stdout}"))
        .to_owned()
}

/// Flips the last byte of `path`, keeping its size.
fn flip_last_byte(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(path, bytes).unwrap();
}

fn pack_dir(home: &Path, id: &str, version: &str) -> PathBuf {
    home.join("packs").join(id).join(version)
}

/// The one cached archive of `id` at `version`.
fn cached_archive(registry: &TestRegistry, home: &Path, id: &str, version: &str) -> PathBuf {
    let record = registry
        .index(id)
        .into_iter()
        .find(|r| r.vers.to_string() == version)
        .unwrap();
    home.join("cache/archives")
        .join(format!("{}.mbpack", record.cksum))
}

#[test]
fn verify_names_each_changed_file_and_archive_and_install_repairs_them() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    succeeded(&install(
        dir.path(),
        &home,
        &registry,
        &["python_code@1.0.0"],
    ));

    let out = verify(dir.path(), &home);
    succeeded(&out);
    for id in ["python_code", "reasoning", "tiny_base"] {
        assert!(line_of(&out, id).ends_with(" ok"), "{}", text(&out.stdout));
    }

    // Same size, other bytes: the marker's sizes still match, the digests do not.
    flip_last_byte(&pack_dir(&home, "reasoning", "1.2.0").join("weights.gguf"));
    std::fs::remove_file(pack_dir(&home, "python_code", "1.0.0").join("pack.toml")).unwrap();
    std::fs::write(pack_dir(&home, "tiny_base", "1.0.0").join("extra.txt"), "x").unwrap();
    let out = verify(dir.path(), &home);
    refused(&out, "3 of 3 installed packs failed verification");
    let stderr = text(&out.stderr);
    for name in ["python_code 1.0.0", "reasoning 1.2.0", "tiny_base 1.0.0"] {
        assert!(stderr.contains(name), "{name} not named in:\n{stderr}");
    }
    assert!(
        stderr.contains("help: run `modularbase pack install 'python_code@=1.0.0'`"),
        "{stderr}"
    );
    let reasoning = line_of(&out, "reasoning");
    assert!(
        reasoning.contains("FAILED: `weights.gguf` modified"),
        "{reasoning}"
    );
    let python = line_of(&out, "python_code");
    assert!(python.contains("`pack.toml` missing"), "{python}");
    let base = line_of(&out, "tiny_base");
    assert!(base.contains("`extra.txt` added"), "{base}");

    // `pack list` only checks sizes: it misses the flipped byte, `pack verify` does not.
    let list = text(&in_home(dir.path(), &home, &["pack", "list"], "").stdout);
    assert!(
        list.lines()
            .any(|l| l.starts_with("reasoning") && l.ends_with("installed")),
        "{list}"
    );

    let repaired = install(dir.path(), &home, &registry, &["python_code@=1.0.0"]);
    succeeded(&repaired);
    let stdout = text(&repaired.stdout);
    for line in [
        "Repaired python_code 1.0.0",
        "Repaired reasoning 1.2.0",
        "Repaired tiny_base 1.0.0",
    ] {
        assert!(stdout.contains(line), "{line} missing in:\n{stdout}");
    }
    succeeded(&verify(dir.path(), &home));
    common::assert_clean_and_verified(&home);

    // A corrupted cached archive is named; the files are fine; install fetches it again.
    let archive = cached_archive(&registry, &home, "reasoning", "1.2.0");
    flip_last_byte(&archive);
    let out = verify(dir.path(), &home);
    refused(
        &out,
        "1 of 3 installed packs failed verification: reasoning 1.2.0",
    );
    let reasoning = line_of(&out, "reasoning");
    assert!(
        reasoning.contains(&format!(
            "FAILED: the cached archive `{}` has SHA-256",
            archive.display()
        )),
        "{reasoning}"
    );
    succeeded(&install(
        dir.path(),
        &home,
        &registry,
        &["python_code@=1.0.0"],
    ));
    succeeded(&verify(dir.path(), &home));

    // An archive missing from the cache is said, and is no failure.
    std::fs::remove_file(&archive).unwrap();
    let out = verify(dir.path(), &home);
    succeeded(&out);
    assert!(
        line_of(&out, "reasoning").ends_with("ok (archive not in the cache)"),
        "{}",
        text(&out.stdout)
    );

    let json = in_home(dir.path(), &home, &["pack", "verify", "--json"], "");
    succeeded(&json);
    let rows: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let reasoning = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == "reasoning")
        .unwrap();
    assert_eq!(reasoning["ok"], true);
    assert_eq!(reasoning["archive"], "not-cached");
}

#[test]
fn a_marker_written_before_per_file_digests_still_reads() {
    let (registry, _ada) = TestRegistry::with_base();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    succeeded(&install(dir.path(), &home, &registry, &["tiny_base"]));
    let base = pack_dir(&home, "tiny_base", "1.0.0");
    let marker = std::fs::read_to_string(base.join(".installed")).unwrap();
    let mut lines = marker.lines();
    let mut old = format!("{}\n", lines.next().unwrap());
    for line in lines {
        // `SIZE SHA256 PATH` → `SIZE PATH`, as earlier versions wrote it.
        let mut fields = line.splitn(3, ' ');
        let (size, digest, path) = (fields.next(), fields.next(), fields.next());
        assert_eq!(digest.map(str::len), Some(64), "{line}");
        old.push_str(&format!("{} {}\n", size.unwrap(), path.unwrap()));
    }
    std::fs::write(base.join(".installed"), old).unwrap();

    let list = text(&in_home(dir.path(), &home, &["pack", "list"], "").stdout);
    assert!(list.trim_end().ends_with("installed"), "{list}");
    succeeded(&verify(dir.path(), &home));

    flip_last_byte(&base.join("weights.gguf"));
    let out = verify(dir.path(), &home);
    refused(&out, "failed verification: tiny_base 1.0.0");
    assert!(
        line_of(&out, "tiny_base").contains("its marker predates per-file digests"),
        "{}",
        text(&out.stdout)
    );
}

fn run(dir: &Path, home: &Path) -> std::process::Output {
    in_home(
        dir,
        home,
        &[
            "run",
            "def f():",
            "--local",
            "--max-tokens",
            "3",
            "--device",
            "cpu",
        ],
        "",
    )
}

#[test]
fn run_leaves_out_a_pack_that_fails_eval_refuses_it_and_both_refuse_a_base_that_fails() {
    let dir = tempfile::tempdir().unwrap();
    let registry = common::runnable_registry(dir.path());
    let home = dir.path().join("home");
    succeeded(&install(dir.path(), &home, &registry, &["python_code"]));

    flip_last_byte(&pack_dir(&home, "python_code", "1.0.0").join("weights.gguf"));
    let out = run(dir.path(), &home);
    succeeded(&out);
    assert!(!text(&out.stdout).trim().is_empty(), "no answer");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "warning: pack `python_code` 1.0.0 was left out: it fails verification (`weights.gguf` modified); it is not routed to, and a prompt for it falls back as for a missing pack"
        ),
        "{stderr}"
    );

    // `eval` refuses to score a tampered pack it is asked for.
    std::fs::write(
        dir.path().join("code.txt"),
        "def f():\n    return 1\n".repeat(40),
    )
    .unwrap();
    let eval = |extra: &[&str]| {
        let mut args = vec!["eval", "--data", "code.txt", "--window", "32"];
        args.extend_from_slice(extra);
        in_home(dir.path(), &home, &args, "")
    };
    refused(
        &eval(&["--pack", "python_code"]),
        "`--pack python_code`: the installed python_code 1.0.0 fails verification: `weights.gguf` modified",
    );

    flip_last_byte(&pack_dir(&home, "tiny_base", "1.0.0").join("weights.gguf"));
    let out = run(dir.path(), &home);
    refused(
        &out,
        "the installed base tiny_base 1.0.0 fails verification: `weights.gguf` modified",
    );
    refused(
        &eval(&[]),
        "the installed base tiny_base 1.0.0 fails verification: `weights.gguf` modified",
    );
    refused(&out, "help: run `modularbase pack install 'python_code@*'`");

    let repaired = install(dir.path(), &home, &registry, &["python_code@*"]);
    succeeded(&repaired);
    let stdout = text(&repaired.stdout);
    assert!(
        stdout.contains("Repaired python_code 1.0.0")
            && stdout.contains("Repaired tiny_base 1.0.0"),
        "{stdout}"
    );
    succeeded(&verify(dir.path(), &home));
    let out = run(dir.path(), &home);
    succeeded(&out);
    assert!(
        !text(&out.stderr).contains("warning"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_lock_without_file_digests_runs_unverified_until_reinstalled() {
    let dir = tempfile::tempdir().unwrap();
    let registry = common::runnable_registry(dir.path());
    let home = dir.path().join("home");
    succeeded(&install(dir.path(), &home, &registry, &["python_code"]));
    // As an earlier modularbase wrote it: no `files` digest in any entry.
    let lock_path = home.join("modularbase.lock");
    let lock = std::fs::read_to_string(&lock_path).unwrap();
    let old: String = lock
        .lines()
        .filter(|l| !l.starts_with("files = "))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&lock_path, old).unwrap();

    let out = run(dir.path(), &home);
    succeeded(&out);
    let stderr = text(&out.stderr);
    for id in ["python_code", "tiny_base"] {
        assert!(
            stderr.contains(&format!("warning: pack `{id}` 1.0.0 is used unverified")),
            "{stderr}"
        );
    }
    let out = verify(dir.path(), &home);
    refused(&out, "2 of 2 installed packs failed verification");
    assert!(
        line_of(&out, "tiny_base").contains("FAILED: not verifiable"),
        "{}",
        text(&out.stdout)
    );

    succeeded(&install(dir.path(), &home, &registry, &["python_code@*"]));
    succeeded(&verify(dir.path(), &home));
}
