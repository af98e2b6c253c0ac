//! Where the client's trust in a registry's signed metadata comes from: a root given with
//! `--root FILE` instead of the one pinned on first use, and `--offline`, which uses the
//! metadata verified last and says how old it is.

#![allow(clippy::unwrap_used)]

mod common;

use common::{in_home, refused, succeeded, text};
use modularbase_tests::{Pack, TestRegistry};

#[test]
fn a_root_given_with_root_file_is_trusted_and_another_registrys_root_is_refused() {
    let (registry, ada) = TestRegistry::with_base();
    ada.publish_ok(&Pack::domain("reasoning", "1.0.0"));
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root.json");
    std::fs::write(&root, registry.get("/index/root.json").bytes().unwrap()).unwrap();
    let root_arg = root.to_str().unwrap();
    let url = registry.url.as_str();

    // The root of another registry: its keys signed nothing this registry serves.
    let other = TestRegistry::start();
    let foreign = dir.path().join("foreign-root.json");
    std::fs::write(&foreign, other.get("/index/root.json").bytes().unwrap()).unwrap();
    let home = dir.path().join("home");
    let args = ["pack", "resolve", "reasoning", "--registry", url, "--root"];
    let out = in_home(
        dir.path(),
        &home,
        &[&args[..], &[foreign.to_str().unwrap()]].concat(),
        "",
    );
    refused(
        &out,
        "`timestamp.json` has 0 valid signature(s) by timestamp keys",
    );
    assert!(
        !home.join("trust").exists(),
        "nothing is pinned after a refusal"
    );

    // The registry's own root, given: trusted without a first-use note, and stored.
    let out = in_home(dir.path(), &home, &[&args[..], &[root_arg]].concat(), "");
    succeeded(&out);
    assert!(
        text(&out.stdout).starts_with("reasoning"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        !text(&out.stderr).contains("pinned the signing root"),
        "{}",
        text(&out.stderr)
    );
    let pinned = std::fs::read_dir(home.join("trust"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        std::fs::read(pinned.join("root.json")).unwrap(),
        std::fs::read(&root).unwrap()
    );

    // Without a root given, a fresh home pins the served one and says so.
    let fresh = dir.path().join("fresh");
    let out = in_home(
        dir.path(),
        &fresh,
        &["pack", "resolve", "reasoning", "--registry", url],
        "",
    );
    succeeded(&out);
    assert!(
        text(&out.stderr).contains(&format!(
            "pinned the signing root of {url} (version 1, 1 root key(s))"
        )),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn offline_uses_the_metadata_verified_last_and_says_how_old_it_is() {
    let (registry, ada) = TestRegistry::with_base();
    ada.publish_ok(&Pack::domain("reasoning", "1.0.0"));
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let url = registry.url.as_str();
    succeeded(&in_home(
        dir.path(),
        &home,
        &["pack", "install", "reasoning", "--registry", url],
        "",
    ));
    let out = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "install",
            "reasoning",
            "--offline",
            "--registry",
            url,
        ],
        "",
    );
    succeeded(&out);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "offline: using the index metadata of {url} verified "
        )) && stderr.contains(" ago (snapshot version "),
        "{stderr}"
    );
}

#[test]
fn parallel_processes_checking_one_registry_while_it_publishes_all_succeed_and_store_whole_metadata()
 {
    use modularbase_pack::tuf::TrustedMetadata;

    let (registry, ada) = TestRegistry::with_base();
    ada.publish_ok(&Pack::domain("reasoning", "1.0.0"));
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let bin = env!("CARGO_BIN_EXE_modularbase");
    let resolve = || {
        std::process::Command::new(bin)
            .args([
                "pack",
                "resolve",
                "reasoning",
                "--registry",
                registry.url.as_str(),
            ])
            .env("MODULARBASE_HOME", &home)
            .env_remove("MODULARBASE_REGISTRY")
            .env_remove("MODULARBASE_TOKEN")
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Eight processes at once, twice, while new versions (and so new snapshots and
    // timestamps) are published in between.
    for round in 0..2 {
        let children: Vec<_> = (0..8).map(|_| resolve()).collect();
        ada.publish_ok(&Pack::domain("reasoning", &format!("1.{}.0", round + 1)));
        for child in children {
            let out = child.wait_with_output().unwrap();
            succeeded(&out);
        }
    }
    // What is stored is whole: the pinned root verifies itself and the stored timestamp
    // and snapshot verify under it; no temporary file is left beside them.
    let trust = std::fs::read_dir(home.join("trust"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let read = |name: &str| std::fs::read(trust.join(name)).unwrap();
    let mut trusted = TrustedMetadata::from_root(&read("root.json")).unwrap();
    trusted.load_timestamp(&read("timestamp.json")).unwrap();
    trusted.load_snapshot(&read("snapshot.json")).unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&trust)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["root.json", "snapshot.json", "timestamp.json"]);
    // A later resolve sees the newest version: nothing older was left as the floor.
    let out = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "resolve",
            "reasoning",
            "--registry",
            registry.url.as_str(),
        ],
        "",
    );
    succeeded(&out);
    let first: Vec<String> = text(&out.stdout)
        .split_whitespace()
        .take(2)
        .map(str::to_owned)
        .collect();
    assert_eq!(first, ["reasoning", "1.2.0"], "{}", text(&out.stdout));
}
