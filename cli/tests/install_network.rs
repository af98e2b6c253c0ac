//! An install against registries that stall, fall silent, stream forever, lie about sizes,
//! fail for a while or redirect elsewhere: each ends, within the configured timeout, with
//! a clear error and nothing left behind — or, for passing failures, retries and succeeds.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{graph, text};
use modularbase_tests::{Download, FakeRegistry, Routes};

/// Longest any of these installs may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(60);
/// The timeout every install here runs with (`--timeout 2`), ten times over: an install
/// that outlasts it was not ended by its timeout (the default is 30 s).
const BOUND: Duration = Duration::from_secs(20);

/// `pack install ARGS` against `url` with a 2-second timeout and no retries unless given.
fn install_from(home: &Path, url: &str, extra: &[&str]) -> (Output, Duration) {
    let mut args = vec!["pack", "install", "--registry", url, "--timeout", "2"];
    if !extra.contains(&"--retries") {
        args.extend(["--retries", "0"]);
    }
    args.extend_from_slice(extra);
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_modularbase"))
        .args(&args)
        .env("MODULARBASE_HOME", home)
        .env_remove("MODULARBASE_REGISTRY")
        .env_remove("MODULARBASE_HTTP_TIMEOUT")
        .env_remove("MODULARBASE_NET_RETRY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > HANG {
            child.kill().unwrap();
            panic!("`pack install` hung for {HANG:?} against {url}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    (child.wait_with_output().unwrap(), started.elapsed())
}

/// Nothing temporary is left and nothing was installed.
fn assert_untouched(home: &Path) {
    assert!(!home.join("modularbase.lock").exists(), "nothing is locked");
    assert!(
        !home.join("modularbase.toml").exists(),
        "nothing is requested"
    );
    assert!(!home.join("packs").exists(), "nothing is unpacked");
    let leftovers: Vec<String> = std::fs::read_dir(home.join("cache/archives"))
        .into_iter()
        .flatten()
        .chain(std::fs::read_dir(home).into_iter().flatten())
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n.starts_with(".download-") || n.starts_with(".staging-") || n.starts_with(".tmp")
        })
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

fn refused_with(out: &Output, expected: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in:\n{stderr}"
    );
}

/// The graph's index and archives, with python_code's download answered by `answer`.
fn fake(answer: Download) -> (FakeRegistry, modularbase_tests::TestRegistry) {
    let (registry, _ada) = graph();
    let mut routes = Routes::copy_of(&registry, &["python_code", "reasoning", "tiny_base"]);
    routes.downloads.insert("python_code/1.0.0".into(), answer);
    (FakeRegistry::start(routes), registry)
}

#[test]
fn no_time_bounds_a_registry_that_stalls_after_the_headers_is_dropped() {
    let (fake, _real) = fake(Download::Stall);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (out, took) = install_from(&home, &fake.url, &["python_code"]);
    assert!(took < BOUND, "{took:?}");
    refused_with(&out, "stalled after 10 of");
    refused_with(&out, "timeout 2 s");
    assert_untouched(&home);
}

#[test]
fn no_time_bounds_a_silent_download_ends_with_the_timeout() {
    let (fake, _real) = fake(Download::Silent);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (out, took) = install_from(&home, &fake.url, &["python_code"]);
    assert!(took < BOUND, "{took:?}");
    refused_with(
        &out,
        "did not answer the archive of python_code@1.0.0 within 2 s",
    );
    assert_untouched(&home);
}

#[test]
fn no_time_bounds_a_silent_index_ends_with_the_timeout() {
    let (registry, _ada) = graph();
    let mut routes = Routes::copy_of(&registry, &["tiny_base"]);
    routes.silent_index = true;
    let fake = FakeRegistry::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (out, took) = install_from(&home, &fake.url, &["tiny_base"]);
    assert!(took < BOUND, "{took:?}");
    // The first index read is the probe for the registry's signed root.
    refused_with(&out, "did not answer `root.json` within 2 s");
    assert_untouched(&home);
}

#[test]
fn no_size_bounds_an_endless_stream_is_cut_at_the_index_size() {
    let (fake, real) = fake(Download::Endless);
    let size = real.index("python_code")[0].size;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (out, _) = install_from(&home, &fake.url, &["python_code"]);
    refused_with(
        &out,
        &format!(
            "sent more than the {size} bytes its index announces for the archive of python_code@1.0.0"
        ),
    );
    assert_untouched(&home);
}

#[test]
fn no_size_bounds_index_sizes_are_enforced_both_ways() {
    let (registry, _ada) = graph();
    let ids = ["python_code", "reasoning", "tiny_base"];
    for (size, expected) in [
        (100u64, "but its index announces 100"),
        (u64::MAX, "more than the 2.0 GiB a registry accepts"),
    ] {
        let mut routes = Routes::copy_of(&registry, &ids);
        let mut record = registry.index("python_code")[0].clone();
        record.size = size;
        routes
            .index
            .insert("python_code".into(), record.to_line() + "\n");
        let fake = FakeRegistry::start(routes);
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let (out, _) = install_from(&home, &fake.url, &["python_code"]);
        refused_with(&out, expected);
        assert_untouched(&home);
        assert!(
            !text(&out.stderr).contains("16777216.0 TiB"),
            "{}",
            text(&out.stderr)
        );
    }
}

#[test]
fn passing_failures_are_retried_with_backoff_and_said() {
    let (registry, _ada) = graph();
    let mut routes = Routes::copy_of(&registry, &["tiny_base"]);
    routes.index_failures = 2;
    let fake = FakeRegistry::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (out, _) = install_from(&home, &fake.url, &["--retries", "3", "tiny_base"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for attempt in ["(1/3)", "(2/3)"] {
        assert!(
            stderr.contains(&format!(
                "spurious network error (503 Service Unavailable from {}), retrying {attempt}",
                fake.url
            )),
            "{stderr}"
        );
    }
    assert!(!stderr.contains("(3/3)"), "{stderr}");
    assert!(home.join("packs/tiny_base/1.0.0/pack.toml").is_file());

    // With no retries left the failure is the registry's status.
    let mut routes = Routes::copy_of(&registry, &["tiny_base"]);
    routes.index_failures = 5;
    let fake = FakeRegistry::start(routes);
    let other = dir.path().join("other");
    let (out, _) = install_from(&other, &fake.url, &["--retries", "1", "tiny_base"]);
    refused_with(
        &out,
        "answered 503 Service Unavailable for the index of `tiny_base`",
    );
    assert_untouched(&other);
}

#[test]
fn redirects_to_another_origin_are_refused() {
    let (registry, _ada) = graph();
    let elsewhere = FakeRegistry::start(Routes::copy_of(&registry, &["tiny_base"]));
    let mut routes = Routes::copy_of(&registry, &["tiny_base"]);
    routes.redirect_index_to = Some(elsewhere.url.clone());
    let fake = FakeRegistry::start(routes);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let (out, _) = install_from(&home, &fake.url, &["tiny_base"]);
    refused_with(&out, "redirected to another origin");
    assert_untouched(&home);
}

#[test]
fn a_timeout_that_is_not_a_number_is_refused_before_any_request() {
    let (registry, _ada) = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = Command::new(env!("CARGO_BIN_EXE_modularbase"))
        .args(["pack", "install", "--registry", &registry.url, "tiny_base"])
        .env("MODULARBASE_HOME", &home)
        .env("MODULARBASE_HTTP_TIMEOUT", "soon")
        .output()
        .unwrap();
    refused_with(
        &out,
        "MODULARBASE_HTTP_TIMEOUT=`soon` is not a whole number of seconds or tries",
    );
    assert_untouched(&home);
}
