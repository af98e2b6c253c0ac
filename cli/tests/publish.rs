//! `pack build` signing, `pack inspect` signature checks and `pack publish` through the real
//! binary against a real registry on 127.0.0.1.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{in_home, refused, succeeded, text};
use modularbase_tests::{Pack, TestRegistry};

/// A registry with user `ada`, and a home logged in as ada with a registered key.
fn publisher() -> (TestRegistry, tempfile::TempDir, PathBuf) {
    let registry = TestRegistry::start();
    let token = text(&registry.admin(&["user", "add", "ada"]).stdout)
        .trim()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    for (args, stdin) in [
        (
            vec!["login", "--registry", registry.url.as_str()],
            format!("{token}\n"),
        ),
        (vec!["key", "generate"], String::new()),
        (vec!["key", "register"], String::new()),
    ] {
        let out = in_home(dir.path(), &home, &args, &stdin);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    }
    (registry, dir, home)
}

fn write(dir: &Path, pack: &Pack) -> PathBuf {
    let path = dir.join(&pack.id);
    pack.write_to(&path).unwrap();
    path
}

#[test]
fn publish_uploads_a_signed_pack_graph_the_index_then_lists() {
    let (registry, dir, home) = publisher();
    let base = write(dir.path(), &Pack::base("tiny_base", "1.0.0"));
    let domain = write(dir.path(), &Pack::domain("reasoning", "1.1.0"));
    for path in [&base, &domain] {
        let out = in_home(
            dir.path(),
            &home,
            &["pack", "publish", "--path", path.to_str().unwrap()],
            "",
        );
        succeeded(&out);
        assert!(
            text(&out.stdout).contains(&format!("to {}", registry.url)),
            "{}",
            text(&out.stdout)
        );
    }
    let records = registry.index("reasoning");
    assert_eq!(records.len(), 1);
    let record = &records[0];
    record
        .key
        .verify_pack(&record.id, &record.vers, &record.cksum, &record.sig)
        .unwrap();
    let public = std::fs::read_to_string(home.join("keys/default.pub")).unwrap();
    assert_eq!(record.key.to_string(), public.trim());

    let again = in_home(
        dir.path(),
        &home,
        &["pack", "publish", "--path", domain.to_str().unwrap()],
        "",
    );
    assert_eq!(again.status.code(), Some(1));
    assert!(
        text(&again.stderr).contains("409 Conflict): `reasoning@1.1.0` already exists"),
        "{}",
        text(&again.stderr)
    );
}

#[test]
fn a_dry_run_signs_but_uploads_nothing() {
    let (registry, dir, home) = publisher();
    let base = write(dir.path(), &Pack::base("tiny_base", "1.0.0"));
    let out = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "publish",
            "--dry-run",
            "--path",
            base.to_str().unwrap(),
        ],
        "",
    );
    succeeded(&out);
    assert!(
        text(&out.stdout).starts_with("Dry run: would publish tiny_base 1.0.0"),
        "{}",
        text(&out.stdout)
    );
    assert!(base.join("target/tiny_base-1.0.0.mbpack.sig").exists());
    assert!(registry.index("tiny_base").is_empty());
}

#[test]
fn publishing_without_a_key_or_a_login_says_what_to_do() {
    let registry = TestRegistry::start();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let base = write(dir.path(), &Pack::base("tiny_base", "1.0.0"));
    let path = base.to_str().unwrap();
    let out = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "publish",
            "--path",
            path,
            "--registry",
            &registry.url,
        ],
        "",
    );
    refused(
        &out,
        "run `modularbase key generate` and `modularbase key register`",
    );
    assert!(
        in_home(dir.path(), &home, &["key", "generate"], "")
            .status
            .success()
    );
    let out = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "publish",
            "--path",
            path,
            "--registry",
            &registry.url,
        ],
        "",
    );
    refused(&out, "not logged in to");
    assert!(
        !base.join("target").exists(),
        "nothing built before the checks pass"
    );
}

#[test]
fn inspect_checks_the_signature_beside_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    assert!(
        in_home(dir.path(), &home, &["key", "generate"], "")
            .status
            .success()
    );
    let base = write(dir.path(), &Pack::base("tiny_base", "1.0.0"));
    let out = in_home(
        dir.path(),
        &home,
        &["pack", "build", "--path", base.to_str().unwrap()],
        "",
    );
    succeeded(&out);
    assert!(
        text(&out.stdout).contains("signed  "),
        "{}",
        text(&out.stdout)
    );
    let archive = base.join("target/tiny_base-1.0.0.mbpack");
    let inspect = |home: &Path| {
        in_home(
            dir.path(),
            home,
            &["pack", "inspect", archive.to_str().unwrap()],
            "",
        )
    };
    let fingerprint = modularbase_pack::SigningKey::read(&home.join("keys/default.key"))
        .unwrap()
        .public_key()
        .fingerprint();
    assert!(
        text(&inspect(&home).stdout).contains(&format!("signature     valid (key {fingerprint})"))
    );

    // Another pack's signature does not pass for this archive.
    let other_dir = dir.path().join("other");
    let other = Pack::base("tiny_base", "1.0.0")
        .description("other bytes")
        .weights(modularbase_tests::synthetic_weights("base", b"other bytes"));
    other.write_to(&other_dir).unwrap();
    assert!(
        in_home(
            dir.path(),
            &home,
            &["pack", "build", "--path", other_dir.to_str().unwrap()],
            ""
        )
        .status
        .success()
    );
    std::fs::copy(
        other_dir.join("target/tiny_base-1.0.0.mbpack.sig"),
        base.join("target/tiny_base-1.0.0.mbpack.sig"),
    )
    .unwrap();
    let out = inspect(&home);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("signature of")
            && text(&out.stderr).contains("is invalid: it signs checksum"),
        "{}",
        text(&out.stderr)
    );

    std::fs::remove_file(base.join("target/tiny_base-1.0.0.mbpack.sig")).unwrap();
    assert!(text(&inspect(&home).stdout).contains("signature     none"));
}
