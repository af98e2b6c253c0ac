//! The home as one transaction: each way an install was seen to go wrong (issue 15), as a
//! regression test through the real binary against a real registry on 127.0.0.1.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{assert_clean_and_verified, graph, in_home, install, refused, succeeded, text};
use modularbase_tests::{FakeRegistry, Pack, Routes, TestRegistry};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn requests_written_first_a_refused_install_leaves_no_request_behind() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    succeeded(&install(dir.path(), &home, &registry, &["reasoning@1.1.0"]));
    let requests = read(&home.join("modularbase.toml"));
    let lock = read(&home.join("modularbase.lock"));

    let refused_install = install(dir.path(), &home, &registry, &["python_code@9"]);
    refused(&refused_install, "no set of packs satisfies the request");
    assert_eq!(read(&home.join("modularbase.toml")), requests);
    assert_eq!(read(&home.join("modularbase.lock")), lock);

    // The next install is not haunted by the refused request.
    let next = install(dir.path(), &home, &registry, &["tiny_base"]);
    succeeded(&next);
    let requests = read(&home.join("modularbase.toml"));
    assert!(!requests.contains("python_code"), "{requests}");
    assert!(requests.contains("reasoning") && requests.contains("tiny_base"));
    assert_clean_and_verified(&home);
}

#[test]
fn no_lock_on_the_home_a_second_process_waits_for_the_lock() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let lock_file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(home.join(".home.lock"))
        .unwrap();
    lock_file.lock().unwrap();
    std::io::Write::write_all(&mut &lock_file, std::process::id().to_string().as_bytes()).unwrap();

    let mut child = Command::new(env!("CARGO_BIN_EXE_modularbase"))
        .args(["pack", "install", "--registry", &registry.url, "tiny_base"])
        .env("MODULARBASE_HOME", &home)
        .env_remove("MODULARBASE_REGISTRY")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Its stderr, line by line, read beside it.
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let (lines, said) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(stderr) {
            let _ = lines.send(line.unwrap_or_default());
        }
    });
    let expected = format!(
        "waiting for the lock on {} held by PID {}",
        home.display(),
        std::process::id()
    );
    let first = said.recv_timeout(Duration::from_secs(60)).unwrap();
    assert!(first.contains(&expected), "{first}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(child.try_wait().unwrap().is_none(), "it waits");
    assert!(
        !home.join("modularbase.lock").exists(),
        "nothing is written while another process holds the home"
    );
    drop(lock_file);
    assert!(
        child.wait().unwrap().success(),
        "{:?}",
        said.try_iter().collect::<Vec<_>>()
    );
    assert!(home.join("packs/tiny_base/1.0.0/pack.toml").is_file());
}

#[test]
fn no_lock_on_the_home_concurrent_installs_lose_nothing() {
    let (registry, ada) = TestRegistry::with_base();
    let ids = ["alpha", "beta", "gamma", "delta"];
    for id in ids {
        ada.publish_ok(&Pack::domain(id, "1.0.0"));
    }
    let dir = tempfile::tempdir().unwrap();
    for (trial, parallel) in [2usize, 4, 2, 4, 4].into_iter().enumerate() {
        let home = dir.path().join(format!("home{trial}"));
        let children: Vec<_> = ids[..parallel]
            .iter()
            .map(|id| {
                Command::new(env!("CARGO_BIN_EXE_modularbase"))
                    .args(["pack", "install", "--registry", &registry.url, id])
                    .env("MODULARBASE_HOME", &home)
                    .env_remove("MODULARBASE_REGISTRY")
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            succeeded(&child.wait_with_output().unwrap());
        }
        let requests = read(&home.join("modularbase.toml"));
        let lock = assert_clean_and_verified(&home);
        let locked: Vec<&str> = lock["pack"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        for id in &ids[..parallel] {
            assert!(
                requests.contains(id),
                "trial {trial}: {id} lost from the requests\n{requests}"
            );
            assert!(
                locked.contains(id),
                "trial {trial}: {id} lost from the lock: {locked:?}"
            );
        }
        assert!(locked.contains(&"tiny_base"));
    }
}

#[test]
fn kill_9_debris_is_removed_and_a_half_removed_pack_is_reinstalled() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    succeeded(&install(dir.path(), &home, &registry, &["python_code"]));
    // What a killed run used to leave, and what it would be trusted as.
    std::fs::remove_file(home.join("packs/reasoning/1.2.0/pack.toml")).unwrap();
    std::fs::create_dir_all(home.join("packs/tiny_base/1.0.0")).unwrap();
    std::fs::remove_dir_all(home.join("packs/tiny_base/1.0.0")).unwrap();
    std::fs::create_dir_all(home.join("packs/tiny_base/1.0.0")).unwrap();
    let debris = [
        "packs/reasoning/1.0.0",
        "packs/python_code/.mbpack-unpack-x1",
        ".staging-x2/python_code-1.0.0",
        ".trash/retired-x3/pack",
    ];
    for d in debris {
        std::fs::create_dir_all(home.join(d)).unwrap();
    }
    std::fs::write(home.join("cache/archives/.tmpAbC"), vec![0u8; 1 << 20]).unwrap();
    std::fs::write(home.join("cache/archives/.download-x4"), b"partial").unwrap();
    std::fs::write(home.join(".tmpLock"), b"half a lock").unwrap();

    let listed = text(&in_home(dir.path(), &home, &["pack", "list"], "").stdout);
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("reasoning") && l.ends_with("damaged")),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .any(|l| l.starts_with("tiny_base") && l.ends_with("damaged")),
        "{listed}"
    );

    let again = install(dir.path(), &home, &registry, &["python_code"]);
    succeeded(&again);
    let report = text(&again.stdout);
    assert!(report.contains("Repaired reasoning 1.2.0"), "{report}");
    assert!(report.contains("Repaired tiny_base 1.0.0"), "{report}");
    for d in debris {
        assert!(!home.join(d).exists(), "{d} is left");
    }
    assert_clean_and_verified(&home);
    assert!(home.join("packs/reasoning/1.2.0/pack.toml").is_file());
}

#[test]
fn lock_checksums_are_the_truth_other_bytes_for_a_locked_version_are_refused() {
    let (first, ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    succeeded(&install(dir.path(), &home, &first, &["python_code"]));
    let lock = read(&home.join("modularbase.lock"));

    // A second registry with the same publisher and key serves other bytes for 1.0.0.
    let second = TestRegistry::start();
    let ada2 = second.user("ada").with_key(ada.key.clone());
    let response = ada2
        .request(reqwest::Method::POST, "/api/v1/keys")
        .json(&serde_json::json!({ "key": ada.key.public_key().to_string() }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    ada2.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        ada2.publish_ok(&Pack::domain("reasoning", version));
    }
    ada2.publish_ok(
        &Pack::domain("python_code", "1.0.0")
            .dep("reasoning", ">=1.1")
            .description("re-published with other bytes"),
    );
    let old = &first.index("python_code")[0].cksum;
    let new = &second.index("python_code")[0].cksum;
    assert_ne!(old, new);
    for flags in [&["--locked"][..], &[][..]] {
        let mut args = vec!["pack", "install", "--registry", &second.url];
        args.extend_from_slice(flags);
        args.push("python_code");
        let out = in_home(dir.path(), &home, &args, "");
        refused(
            &out,
            "the checksum of python_code@1.0.0 differs from the lock's",
        );
        refused(&out, &format!("lock     {old}"));
        refused(&out, &format!("registry {new}"));
        assert_eq!(
            read(&home.join("modularbase.lock")),
            lock,
            "the lock is never rewritten"
        );
    }
    assert_clean_and_verified(&home);
}

#[test]
fn lock_checksums_are_the_truth_a_hand_edited_checksum_is_not_repaired_offline() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    succeeded(&install(dir.path(), &home, &registry, &["python_code"]));
    let real = registry.index("reasoning")[2].cksum.to_string();
    let edited = read(&home.join("modularbase.lock")).replace(&real, &"0".repeat(64));
    std::fs::write(home.join("modularbase.lock"), &edited).unwrap();
    let out = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "install",
            "--locked",
            "--offline",
            "--registry",
            &registry.url,
            "python_code",
        ],
        "",
    );
    refused(
        &out,
        "the checksum of reasoning@1.2.0 differs from the lock's",
    );
    assert_eq!(read(&home.join("modularbase.lock")), edited);
}

/// A change made to every index record of a pack.
type Alter = fn(&mut modularbase_pack::IndexRecord);

#[test]
fn index_fields_override_the_signed_manifest_a_disagreeing_record_is_refused() {
    let (registry, _ada) = graph();
    let ids = ["python_code", "reasoning", "tiny_base"];
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&str, &str, Alter, &str); 2] = [
        (
            "reasoning",
            "reasoning@1.2.0",
            |r| {
                r.kind = modularbase_pack::PackKind::Base;
                r.base = None;
                r.base_compat.clear();
            },
            "the index record of reasoning@1.2.0 says kind Base but its signed archive's manifest says Domain",
        ),
        (
            "python_code",
            "python_code",
            |r| r.deps.clear(),
            "the index record of python_code@1.0.0 says deps []",
        ),
    ];
    for (n, (id, request, alter, expected)) in cases.into_iter().enumerate() {
        let mut routes = Routes::copy_of(&registry, &ids);
        let lines: Vec<String> = registry
            .index(id)
            .into_iter()
            .map(|mut r| {
                alter(&mut r);
                r.to_line()
            })
            .collect();
        routes.index.insert(id.to_owned(), lines.join("\n"));
        let fake = FakeRegistry::start(routes);
        let home = dir.path().join(format!("home{n}"));
        let out = in_home(
            dir.path(),
            &home,
            &["pack", "install", "--registry", &fake.url, request],
            "",
        );
        refused(&out, expected);
        assert!(!home.join("modularbase.lock").exists());
        assert!(!home.join("packs").exists());
    }
}

#[test]
fn one_home_two_base_families_are_refused_by_the_resolver() {
    let (registry, ada) = graph();
    ada.publish_ok(&Pack::base("other_base", "1.0.0"));
    ada.publish_ok(&Pack::domain("other_code", "1.0.0").base_compat("other_base", &["1.0"]));
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    succeeded(&install(dir.path(), &home, &registry, &["python_code"]));
    let lock = read(&home.join("modularbase.lock"));
    let out = install(dir.path(), &home, &registry, &["other_code"]);
    refused(&out, "no set of packs satisfies the request");
    let stderr = text(&out.stderr);
    for expected in [
        "runs on base family other_base",
        "runs on base family tiny_base",
        "A home holds packs for one base family only",
    ] {
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in:\n{stderr}"
        );
    }
    assert_eq!(read(&home.join("modularbase.lock")), lock);
}

#[test]
fn the_lock_and_config_remember_where_packs_come_from() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let set = in_home(
        dir.path(),
        &home,
        &["config", "set", "registry", &format!("{}/", registry.url)],
        "",
    );
    succeeded(&set);
    assert_eq!(
        text(&set.stdout).trim(),
        format!("Set registry = {}", registry.url)
    );
    let get = in_home(dir.path(), &home, &["config", "get", "registry"], "");
    assert_eq!(text(&get.stdout).trim(), registry.url);

    // No token and no --registry: installs read the configured registry.
    succeeded(&in_home(
        dir.path(),
        &home,
        &["pack", "install", "python_code"],
        "",
    ));
    let lock = read(&home.join("modularbase.lock"));
    assert_eq!(
        lock.matches(&format!("registry = \"{}\"", registry.url))
            .count(),
        3,
        "{lock}"
    );

    // With the setting gone, `pack update` and `--locked` use the lock's registry.
    succeeded(&in_home(
        dir.path(),
        &home,
        &["config", "unset", "registry"],
        "",
    ));
    assert!(
        text(&in_home(dir.path(), &home, &["config", "get", "registry"], "").stdout).is_empty()
    );
    succeeded(&in_home(dir.path(), &home, &["pack", "update"], ""));
    succeeded(&in_home(
        dir.path(),
        &home,
        &["pack", "install", "--locked", "python_code"],
        "",
    ));
    let unknown = in_home(dir.path(), &home, &["config", "set", "colour", "red"], "");
    refused(
        &unknown,
        "`colour` is not a setting; the settings are registry, net.timeout",
    );
    let zero = in_home(
        dir.path(),
        &home,
        &["config", "set", "net.timeout", "0"],
        "",
    );
    refused(&zero, "`0` is not a valid value for `net.timeout`");
}

#[test]
fn an_oversized_lock_is_refused_before_it_is_read_and_left_as_it_is() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let huge = format!("# {}\n", "x".repeat(17 << 20));
    std::fs::write(home.join("modularbase.lock"), &huge).unwrap();
    let out = install(dir.path(), &home, &registry, &["tiny_base"]);
    refused(&out, "modularbase.lock` is larger than 16777216 bytes");
    assert_eq!(read(&home.join("modularbase.lock")), huge);
    assert!(!home.join("packs").exists() && !home.join("modularbase.toml").exists());
}
