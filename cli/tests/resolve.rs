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
fn resolve_prints_the_plan_and_revalidates_the_cached_index() {
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

    // The second run revalidates with If-None-Match and gets 304s.
    let again = in_home(dir.path(), &home, &args, "");
    assert_eq!(again.stdout, out.stdout);
    let metrics = registry.get("/metrics").text().unwrap();
    assert!(
        metrics.contains("route=\"/index/{id}\",status=\"304\""),
        "{metrics}"
    );
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
