//! `pack search | info | yank | owner` through the real binary against a real registry.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{in_home, refused, succeeded, text};
use modularbase_pack::{PackDetails, SearchResponse};
use modularbase_tests::{Pack, TestRegistry};

/// A registry with ada's `tiny_base` and `reasoning`, and a home logged in as ada.
fn world() -> (TestRegistry, tempfile::TempDir, PathBuf) {
    let (registry, ada) = TestRegistry::with_base();
    ada.publish_ok(&Pack::domain("reasoning", "1.0.0").description("Step by step reasoning"));
    ada.publish_ok(&Pack::domain("reasoning", "1.1.0").description("Step by step reasoning"));
    registry.admin(&["user", "add", "bob"]);
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = in_home(
        dir.path(),
        &home,
        &["login", "--registry", &registry.url, "--token", &ada.token],
        "",
    );
    succeeded(&out);
    (registry, dir, home)
}

fn run(dir: &Path, home: &Path, args: &[&str]) -> String {
    let out = in_home(dir, home, args, "");
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn search_lists_matches_and_json_is_the_registry_answer() {
    let (_registry, dir, home) = world();
    let table = run(dir.path(), &home, &["pack", "search", "step by step"]);
    assert!(
        table.starts_with("reasoning")
            && table.contains("1.1.0")
            && table.contains("Step by step reasoning"),
        "{table}"
    );
    let json: SearchResponse = serde_json::from_str(&run(
        dir.path(),
        &home,
        &["pack", "search", "--kind", "base", "--json"],
    ))
    .unwrap();
    assert_eq!(json.meta.total, 1);
    assert_eq!(json.packs[0].id.as_str(), "tiny_base");
    let out = in_home(
        dir.path(),
        &home,
        &["pack", "search", "--sort", "sideways"],
        "",
    );
    refused(&out, "`sort` must be downloads, recent or name");
}

#[test]
fn info_shows_versions_and_owners() {
    let (_registry, dir, home) = world();
    let info = run(dir.path(), &home, &["pack", "info", "reasoning"]);
    assert!(
        info.starts_with("reasoning (domain) — reasoning pack"),
        "{info}"
    );
    assert!(
        info.contains("owners       ada") && info.contains("1.1.0") && info.contains("1.0.0"),
        "{info}"
    );
    let json: PackDetails = serde_json::from_str(&run(
        dir.path(),
        &home,
        &["pack", "info", "reasoning", "--json"],
    ))
    .unwrap();
    assert_eq!(json.versions.len(), 2);
    let out = in_home(dir.path(), &home, &["pack", "info", "nothing_here"], "");
    refused(&out, "(404 Not Found): no pack named `nothing_here`");
}

#[test]
fn yank_and_undo_change_the_index() {
    let (registry, dir, home) = world();
    assert_eq!(
        run(dir.path(), &home, &["pack", "yank", "reasoning@1.0.0"]).trim(),
        "Yanked reasoning@1.0.0"
    );
    assert!(registry.index("reasoning")[0].yanked);
    assert!(run(dir.path(), &home, &["pack", "info", "reasoning"]).contains("(yanked)"));
    run(
        dir.path(),
        &home,
        &["pack", "yank", "reasoning@1.0.0", "--undo"],
    );
    assert!(!registry.index("reasoning")[0].yanked);
    let out = in_home(dir.path(), &home, &["pack", "yank", "reasoning"], "");
    refused(&out, "as ID@VERSION");
}

#[test]
fn owners_are_listed_added_and_removed() {
    let (_registry, dir, home) = world();
    assert_eq!(
        run(dir.path(), &home, &["pack", "owner", "list", "reasoning"]).trim(),
        "ada"
    );
    run(
        dir.path(),
        &home,
        &["pack", "owner", "add", "reasoning", "bob"],
    );
    assert_eq!(
        run(dir.path(), &home, &["pack", "owner", "list", "reasoning"]).trim(),
        "ada\nbob"
    );
    run(
        dir.path(),
        &home,
        &["pack", "owner", "remove", "reasoning", "bob"],
    );
    let out = in_home(
        dir.path(),
        &home,
        &["pack", "owner", "remove", "reasoning", "ada"],
        "",
    );
    refused(&out, "must keep at least one owner");
    let out = in_home(
        dir.path(),
        &home,
        &["pack", "owner", "add", "reasoning", "nobody"],
        "",
    );
    assert!(
        text(&out.stderr).contains("no user `nobody`"),
        "{}",
        text(&out.stderr)
    );
}
