//! A crashed or offline `pack install`: kill -9 at random moments, installs from the
//! caches with the registry gone, and `--locked`.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{graph, in_home, install, refused, succeeded, text};
use modularbase_tests::Pack;

/// What a crashed install may leave: the lock either absent or whole, every locked pack
/// fully present, every visible pack directory complete.
fn assert_consistent(home: &Path) {
    if let Ok(text) = std::fs::read_to_string(home.join("modularbase.lock")) {
        let lock: toml::Value =
            toml::from_str(&text).unwrap_or_else(|e| panic!("a torn lock: {e}\n{text}"));
        for pack in lock
            .get("pack")
            .and_then(|p| p.as_array())
            .into_iter()
            .flatten()
        {
            let dir = home
                .join("packs")
                .join(pack["id"].as_str().unwrap())
                .join(pack["version"].as_str().unwrap());
            assert!(
                dir.join("pack.toml").is_file() && dir.join("weights.gguf").is_file(),
                "locked but not whole: {}",
                dir.display()
            );
        }
    }
    let Ok(ids) = std::fs::read_dir(home.join("packs")) else {
        return;
    };
    for id in ids {
        for version in std::fs::read_dir(id.unwrap().path()).unwrap() {
            let path = version.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with('.') {
                continue; // a staging directory, never at an installed path
            }
            let manifest = modularbase_pack::Manifest::load(&path.join("pack.toml"));
            assert!(
                manifest.is_ok() && path.join("weights.gguf").is_file(),
                "half installed: {}",
                path.display()
            );
        }
    }
}

#[test]
fn kill_9_at_random_moments_never_leaves_a_half_install() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for round in 0..20 {
        let home = dir.path().join(format!("home{round}"));
        if round % 2 == 1 {
            // Half the rounds crash an upgrade over an existing install.
            assert!(
                install(dir.path(), &home, &registry, &["reasoning@1.1.0"])
                    .status
                    .success()
            );
        }
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_modularbase"))
            .args([
                "pack",
                "install",
                "--registry",
                &registry.url,
                "python_code",
            ])
            .env("MODULARBASE_HOME", &home)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(std::time::Duration::from_millis(seed % 120));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        assert_consistent(&home);
        // The home recovers: the same install completes over whatever was left.
        let out = install(dir.path(), &home, &registry, &["python_code"]);
        assert!(out.status.success(), "round {round}: {}", text(&out.stderr));
        assert_consistent(&home);
        assert!(home.join("packs/python_code/1.0.0/pack.toml").is_file());
    }
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
