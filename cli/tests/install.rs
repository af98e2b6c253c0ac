//! `pack install`, `pack list` and `key trust` through the real binary against a real
//! registry: resolution, verification before unpacking, the lock, trust on first use.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{graph, in_home, install, refused, succeeded, text};
use modularbase_pack::{SigningKey, sha256_file};
use modularbase_tests::{Answer, Pack, Proxy, blob_path};

/// Every file under `root`, relative, sorted.
fn tree(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone())
            }
            out.push(path.strip_prefix(root).unwrap().to_owned());
        }
    }
    out.sort();
    out
}

#[test]
fn install_resolves_verifies_unpacks_and_locks() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = install(dir.path(), &home, &registry, &["python_code@1.0.0"]);
    succeeded(&out);
    let stdout = text(&out.stdout);
    for line in [
        "Installed python_code 1.0.0 (domain",
        "Installed reasoning 1.2.0",
        "Installed tiny_base 1.0.0 (base",
    ] {
        assert!(stdout.contains(line), "{line} missing in {stdout}");
    }
    for (id, version) in [
        ("python_code", "1.0.0"),
        ("reasoning", "1.2.0"),
        ("tiny_base", "1.0.0"),
    ] {
        let installed = home.join("packs").join(id).join(version);
        assert!(
            installed.join("pack.toml").is_file() && installed.join("weights.gguf").is_file(),
            "{id}"
        );
    }
    let lock = std::fs::read_to_string(home.join("modularbase.lock")).unwrap();
    assert_eq!(lock.matches("[[pack]]").count(), 3, "{lock}");
    let record = &registry.index("reasoning")[2];
    let cached = home
        .join("cache/archives")
        .join(format!("{}.mbpack", record.cksum));
    assert_eq!(sha256_file(&cached).unwrap().0, record.cksum);
    assert!(
        std::fs::read_to_string(home.join("modularbase.toml"))
            .unwrap()
            .contains("python_code = \"=1.0.0\"")
    );

    let list = text(&in_home(dir.path(), &home, &["pack", "list"], "").stdout);
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(list.lines().all(|l| l.ends_with("installed")), "{list}");
}

#[test]
fn a_dry_run_prints_the_plan_and_changes_nothing() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "install",
            "--dry-run",
            "--registry",
            &registry.url,
            "python_code",
        ],
        "",
    );
    succeeded(&out);
    let plan = text(&out.stdout);
    for (id, reason) in [
        ("python_code", "add                    requested"),
        (
            "reasoning",
            "add                    needed by python_code 1.0.0",
        ),
        (
            "tiny_base",
            "add                    needed by python_code 1.0.0",
        ),
    ] {
        assert!(
            plan.lines()
                .any(|l| l.starts_with(id) && l.ends_with(reason)),
            "{plan}"
        );
    }
    assert!(!home.join("modularbase.lock").exists() && !home.join("packs").exists());
    let nothing = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "install",
            "--dry-run",
            "--registry",
            &registry.url,
            "python_code@9",
        ],
        "",
    );
    refused(&nothing, "no set of packs satisfies the request");
}

#[test]
fn a_tampered_archive_is_refused_and_the_home_is_unchanged() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    assert!(
        install(dir.path(), &home, &registry, &["tiny_base"])
            .status
            .success()
    );
    let before = tree(&home);
    let lock_before = std::fs::read(home.join("modularbase.lock")).unwrap();
    let record = registry.index("reasoning")[2].clone();
    let blob = blob_path(&registry.data, &record.cksum);
    let mut bytes = std::fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&blob, bytes).unwrap();

    let out = install(dir.path(), &home, &registry, &["python_code"]);
    refused(
        &out,
        "was corrupted or tampered with, nothing was installed",
    );
    assert_eq!(
        std::fs::read(home.join("modularbase.lock")).unwrap(),
        lock_before,
        "the lock is untouched"
    );
    let after: Vec<PathBuf> = tree(&home)
        .into_iter()
        .filter(|p| !p.starts_with("cache"))
        .collect();
    let before: Vec<PathBuf> = before
        .into_iter()
        .filter(|p| !p.starts_with("cache"))
        .collect();
    assert_eq!(
        after, before,
        "no pack was unpacked, no request was written"
    );
}

#[test]
fn a_changed_signing_key_is_refused_until_trusted_on_a_registry_without_metadata() {
    let (registry, ada) = graph();
    // A registry that signs no index metadata (as a proxy that hides it shows): keys are
    // pinned per pack on first use.
    let unsigned = Proxy::start(&registry.url);
    for name in [
        "root.json",
        "2.root.json",
        "timestamp.json",
        "snapshot.json",
    ] {
        unsigned.answer(&format!("/index/{name}"), Answer::Status(404));
    }
    let url = unsigned.url.as_str();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let install = |pack: &str| {
        in_home(
            dir.path(),
            &home,
            &["pack", "install", pack, "--registry", url],
            "",
        )
    };
    succeeded(&install("reasoning@1.1.0"));
    assert!(!home.join("trust").exists());

    // The publisher switches to a new key and publishes 1.3.0 with it.
    let rotated = ada.with_key(SigningKey::generate());
    let response = rotated
        .request(reqwest::Method::POST, "/api/v1/keys")
        .json(&serde_json::json!({ "key": rotated.key.public_key().to_string() }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    rotated.publish_ok(&Pack::domain("reasoning", "1.3.0"));

    let out = install("reasoning@1.3.0");
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("but this home trusts key")
            && stderr.contains("modularbase key trust reasoning"),
        "{stderr}"
    );
    assert!(!home.join("packs/reasoning/1.3.0").exists());

    let trust = in_home(
        dir.path(),
        &home,
        &["key", "trust", "reasoning", "--registry", url],
        "",
    );
    succeeded(&trust);
    assert!(text(&trust.stdout).contains(&rotated.key.public_key().fingerprint()));
    succeeded(&install("reasoning@1.3.0"));
    assert!(home.join("packs/reasoning/1.3.0/pack.toml").is_file());
}

#[test]
fn run_uses_the_installed_set_by_default() {
    let scratch = tempfile::tempdir().unwrap();
    let registry = common::runnable_registry(scratch.path());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    assert!(
        install(dir.path(), &home, &registry, &["python_code"])
            .status
            .success()
    );
    let out = in_home(
        dir.path(),
        &home,
        &[
            "run",
            "def f():",
            "--pack",
            "python_code",
            "--max-tokens",
            "3",
            "--debug",
            "--device",
            "cpu",
            "--monitor",
        ],
        "",
    );
    succeeded(&out);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("pack: python_code")
            && stderr.contains("tiny_base")
            && stderr.contains("Resident"),
        "{stderr}"
    );
}

#[test]
fn remove_uninstalls_what_nothing_needs_and_update_moves_to_the_newest() {
    let (registry, ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    assert!(
        install(dir.path(), &home, &registry, &["reasoning@>=1.0, <1.2"])
            .status
            .success()
    );
    assert!(home.join("packs/reasoning/1.1.0").is_dir());
    ada.publish_ok(&Pack::domain("medical", "1.0.0"));
    assert!(
        install(dir.path(), &home, &registry, &["medical"])
            .status
            .success()
    );
    assert!(
        home.join("packs/reasoning/1.1.0").is_dir(),
        "installing medical keeps reasoning where it was"
    );

    let out = in_home(
        dir.path(),
        &home,
        &["pack", "remove", "medical", "--registry", &registry.url],
        "",
    );
    succeeded(&out);
    assert!(
        text(&out.stdout).contains("Removed medical 1.0.0"),
        "{}",
        text(&out.stdout)
    );
    assert!(!home.join("packs/medical").join("1.0.0").exists());
    assert!(
        !std::fs::read_to_string(home.join("modularbase.lock"))
            .unwrap()
            .contains("medical")
    );
    let unknown = in_home(
        dir.path(),
        &home,
        &["pack", "remove", "medical", "--registry", &registry.url],
        "",
    );
    assert_eq!(unknown.status.code(), Some(1));

    // Widen the request by hand-free means: install asks for any reasoning, update moves it.
    assert!(
        install(dir.path(), &home, &registry, &["reasoning"])
            .status
            .success()
    );
    assert!(
        home.join("packs/reasoning/1.1.0").is_dir(),
        "install does not upgrade a locked pack"
    );
    let plan = in_home(
        dir.path(),
        &home,
        &["pack", "update", "--dry-run", "--registry", &registry.url],
        "",
    );
    assert!(
        text(&plan.stdout).contains("reasoning                1.2.0        upgrade from 1.1.0"),
        "{}",
        text(&plan.stdout)
    );
    let out = in_home(
        dir.path(),
        &home,
        &["pack", "update", "reasoning", "--registry", &registry.url],
        "",
    );
    succeeded(&out);
    assert!(
        home.join("packs/reasoning/1.2.0").is_dir() && !home.join("packs/reasoning/1.1.0").exists()
    );
}

#[test]
fn install_json_reports_the_lock_for_scripts() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "install",
            "--json",
            "--registry",
            &registry.url,
            "reasoning",
        ],
        "",
    );
    succeeded(&out);
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = entries.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["reasoning", "tiny_base"]);
    assert_eq!(entries[0]["version"], "1.2.0");
}

#[test]
fn verbose_shows_the_steps_and_quiet_hides_the_chatter() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = in_home(
        dir.path(),
        &home,
        &[
            "-v",
            "pack",
            "install",
            "--registry",
            &registry.url,
            "tiny_base",
        ],
        "",
    );
    succeeded(&out);
    assert!(
        text(&out.stderr).contains("resolved 1 packs from")
            && text(&out.stderr).contains("tiny_base 1.0.0 (sha256"),
        "{}",
        text(&out.stderr)
    );
    let quiet = in_home(
        dir.path(),
        &home,
        &[
            "-q",
            "pack",
            "install",
            "--registry",
            &registry.url,
            "reasoning",
        ],
        "",
    );
    succeeded(&quiet);
    assert!(
        quiet.stdout.is_empty() && quiet.stderr.is_empty(),
        "{} {}",
        text(&quiet.stdout),
        text(&quiet.stderr)
    );
}
