//! A crashed or offline `pack install`: kill -9 at 100 random moments of installs,
//! upgrades and downgrades, installs from the caches with the registry gone, and `--locked`.

#![allow(clippy::unwrap_used)]

mod common;

use common::{
    assert_clean_and_verified, assert_locked_packs_verify, graph, in_home, install, refused,
    succeeded, text,
};
use modularbase_tests::{Pack, TestRegistry, synthetic_weights};

/// A 3-pack graph with weights of a few MB each: tiny_base, reasoning 1.0.0–1.2.0, and
/// python_code needing reasoning >=1.1.
fn heavy_graph() -> TestRegistry {
    let (registry, ada) = TestRegistry::with_base();
    let noise = |seed: u64, len: usize| -> Vec<u8> {
        let mut state = seed | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                // F16 values from a tame range, never NaN or infinite.
                (state % 0x7b) as u8
            })
            .collect()
    };
    for (n, version) in ["1.0.0", "1.1.0", "1.2.0"].into_iter().enumerate() {
        ada.publish_ok(
            &Pack::domain("reasoning", version)
                .weights(synthetic_weights("domain", &noise(n as u64 + 7, 3 << 20))),
        );
    }
    ada.publish_ok(
        &Pack::domain("python_code", "1.0.0")
            .dep("reasoning", ">=1.1")
            .weights(synthetic_weights("domain", &noise(99, 3 << 20))),
    );
    registry
}

#[test]
fn kill_9_at_100_random_moments_leaves_the_old_state_or_the_new_one() {
    let registry = heavy_graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    // Fresh installs, upgrades and downgrades of the graph, one of them killed each round.
    let operations: [&[&str]; 3] = [&["python_code"], &["reasoning@1.2.0"], &["reasoning@1.1.0"]];
    let started = std::time::Instant::now();
    succeeded(&install(dir.path(), &home, &registry, operations[0]));
    let typical = started.elapsed().as_millis() as u64;
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut interrupted = 0;
    for round in 0..100 {
        if next() % 4 == 0 {
            std::fs::remove_dir_all(&home).unwrap(); // a fresh install this round
        }
        let op = operations[(next() % 3) as usize];
        let mut args = vec!["pack", "install", "--registry", registry.url.as_str()];
        args.extend_from_slice(op);
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_modularbase"))
            .args(&args)
            .env("MODULARBASE_HOME", &home)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(
            next() % (typical * 3 / 2 + 1),
        ));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert_locked_packs_verify(&home);
        interrupted += usize::from(has_leftovers(&home));
        // The next command completes or removes what was left, and succeeds.
        let out = install(dir.path(), &home, &registry, &["python_code"]);
        assert!(
            out.status.success(),
            "round {round} ({op:?}): {}",
            text(&out.stderr)
        );
        assert_clean_and_verified(&home);
        assert!(home.join("packs/python_code/1.0.0/pack.toml").is_file());
    }
    // The kills fell inside the installs' work, not only before or after it.
    assert!(
        interrupted >= 10,
        "only {interrupted} of 100 kills left anything to recover"
    );
}

/// Whether a killed run left staging, temporary or journal files behind.
fn has_leftovers(home: &std::path::Path) -> bool {
    [home.to_owned(), home.join("cache/archives")]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .any(|name| {
            [".staging-", ".download-", ".tmp", ".trash", ".transaction"]
                .iter()
                .any(|p| name.starts_with(p))
        })
}

#[test]
fn offline_installs_from_the_caches_and_locked_refuses_changes() {
    let (registry, ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    assert!(
        install(dir.path(), &home, &registry, &["python_code"])
            .status
            .success()
    );

    // With the registry gone, the home reinstalls from its caches.
    std::fs::remove_dir_all(home.join("packs")).unwrap();
    let url = ada.url.clone();
    let (_status, _log, _data, _dir) = registry.terminate();
    let offline = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "install",
            "--offline",
            "--registry",
            &url,
            "python_code",
        ],
        "",
    );
    succeeded(&offline);
    assert!(home.join("packs/reasoning/1.2.0/pack.toml").is_file());
    let missing = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "install",
            "--offline",
            "--registry",
            &url,
            "medical",
        ],
        "",
    );
    refused(&missing, "not in the offline index cache");
}

#[test]
fn locked_refuses_to_change_the_lock() {
    let (registry, ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    assert!(
        install(dir.path(), &home, &registry, &["reasoning@1.1.0"])
            .status
            .success()
    );
    let lock = std::fs::read(home.join("modularbase.lock")).unwrap();
    ada.publish_ok(&Pack::domain("medical", "1.0.0"));
    let out = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "install",
            "--locked",
            "--registry",
            &registry.url,
            "medical",
        ],
        "",
    );
    refused(&out, "--locked: the lock would change");
    assert_eq!(std::fs::read(home.join("modularbase.lock")).unwrap(), lock);
    let same = in_home(
        dir.path(),
        &home,
        &[
            "pack",
            "install",
            "--locked",
            "--registry",
            &registry.url,
            "reasoning@1.1.0",
        ],
        "",
    );
    succeeded(&same);
}
