//! `pack resolve` through the real binary over a real registry's sparse index.

#![allow(clippy::unwrap_used)]

mod common;

use common::{in_home, refused, succeeded, text};
use modularbase_tests::{Pack, TestRegistry};

/// The DESIGN's graph on a real registry.
fn graph() -> TestRegistry {
    let (registry, ada) = TestRegistry::with_base();
    ada.publish_ok(&Pack::base("tiny_base", "1.1.0"));
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        ada.publish_ok(&Pack::domain("reasoning", version));
    }
    ada.publish_ok(
        &Pack::domain("python_code", "1.0.0")
            .dep("reasoning", ">=1.1")
            .base_compat("tiny_base", &["1.0", "1.1", "1.2"]),
    );
    ada.publish_ok(&Pack::domain("medical", "1.0.0").dep("reasoning", "<1.1"));
    registry
}

#[test]
fn resolve_prints_the_plan_and_reuses_the_cached_index_the_snapshot_vouches_for() {
    let registry = graph();
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let args = [
        "pack",
        "resolve",
        "python_code@1.0.0",
        "--registry",
        registry.url.as_str(),
    ];
    let out = in_home(dir.path(), &home, &args, "");
    succeeded(&out);
    let plan: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    // python_code supports base 1.0–1.2 but reasoning only 1.0: the base both accept wins.
    assert_eq!(
        plan,
        ["python_code 1.0.0", "reasoning 1.2.0", "tiny_base 1.0.0"]
    );
    assert!(
        text(&out.stdout)
            .lines()
            .next()
            .unwrap()
            .ends_with("requested")
    );

    // The second run reads the signed timestamp, finds the snapshot unchanged, and uses
    // the cached index files whose hashes it lists: no index file is asked for again.
    let fetched = || index_requests(&registry.get("/metrics").text().unwrap());
    let before = fetched();
    assert_eq!(before, 3, "one request per index file on the first run");
    let again = in_home(dir.path(), &home, &args, "");
    assert_eq!(again.stdout, out.stdout);
    assert_eq!(fetched(), before, "no index file fetched on the second run");
}

/// Index files the registry served (200; the probe for the next root, `2.root.json`, is
/// answered 404 on the same route).
fn index_requests(metrics: &str) -> u64 {
    metrics
        .lines()
        .filter(|l| l.contains("http_requests_total{") && l.contains("route=\"/index/{id}\""))
        .filter(|l| l.contains("status=\"200\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn resolve_explains_why_nothing_fits_and_exits_1() {
    let registry = graph();
    let dir = tempfile::tempdir().unwrap();
    let out = in_home(
        dir.path(),
        &dir.path().join("home"),
        &[
            "pack",
            "resolve",
            "python_code",
            "medical",
            "--registry",
            &registry.url,
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no set of packs satisfies the request"),
        "{stderr}"
    );
    assert!(
        stderr.contains("python_code 1.0.0 needs reasoning >=1.1.0")
            && stderr.contains("medical 1.0.0 needs reasoning <1.1.0"),
        "{stderr}"
    );
    let missing = in_home(
        dir.path(),
        &dir.path().join("home"),
        &[
            "pack",
            "resolve",
            "nothing_here",
            "--registry",
            &registry.url,
        ],
        "",
    );
    refused(
        &missing,
        "no installable version of nothing_here is published",
    );
}
