//! The sparse index is fetched concurrently: a proxy on 127.0.0.1, in front of a real
//! registry, holds every `/index/` answer for 300 ms and counts how many are in flight.
//!
//! ```text
//! hub 1.0.0 ──> dep_00 … dep_09 (each on tiny_base 1.0)
//! ```

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{in_home, refused, succeeded, text};
use modularbase_tests::{Answer, Pack, Proxy, TestRegistry};

/// How long the proxy holds each index answer.
const DELAY: Duration = Duration::from_millis(300);
/// How many index files the CLI may fetch at once.
const MAX_IN_FLIGHT: usize = 8;

/// A proxy in front of `registry` holding every `/index/` answer for [`DELAY`].
fn slow_proxy(registry: &TestRegistry) -> Proxy {
    let proxy = Proxy::start(&registry.url);
    proxy.hold("/index/", DELAY);
    proxy
}

/// `hub` needing ten packs, each needing the base.
fn hub() -> TestRegistry {
    let (registry, ada) = TestRegistry::with_base();
    let mut hub = Pack::domain("hub", "1.0.0");
    for i in 0..10 {
        let id = format!("dep_{i:02}");
        ada.publish_ok(&Pack::domain(&id, "1.0.0"));
        hub = hub.dep(&id, "^1");
    }
    ada.publish_ok(&hub);
    registry
}

#[test]
fn the_index_files_a_pack_names_are_fetched_concurrently_and_bounded() {
    let registry = hub();
    let proxy = slow_proxy(&registry);
    let dir = tempfile::tempdir().unwrap();
    let out = in_home(
        dir.path(),
        &dir.path().join("home"),
        &["pack", "resolve", "hub", "--registry", &proxy.url],
        "",
    );
    succeeded(&out);
    assert_eq!(
        text(&out.stdout).lines().count(),
        12,
        "{}",
        text(&out.stdout)
    );
    // hub alone, then its ten dependencies and the base together, at most eight at a time.
    let most = proxy.most_in_flight();
    assert!(
        (2..=MAX_IN_FLIGHT).contains(&most),
        "{most} index requests in flight at once"
    );
}

#[test]
fn a_failed_concurrent_fetch_names_its_pack() {
    let registry = hub();
    let proxy = slow_proxy(&registry);
    proxy.answer("/index/dep_07", Answer::Status(500));
    let dir = tempfile::tempdir().unwrap();
    let out = in_home(
        dir.path(),
        &dir.path().join("home"),
        &[
            "pack",
            "resolve",
            "hub",
            "--registry",
            &proxy.url,
            "--retries",
            "1",
        ],
        "",
    );
    refused(
        &out,
        "answered 500 Internal Server Error for the index of `dep_07`",
    );
    refused(
        &out,
        "spurious network error (500 Internal Server Error from",
    );
}
