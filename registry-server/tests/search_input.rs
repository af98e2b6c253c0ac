//! Search text is matched literally, on the API and on the marketplace's `/search` page:
//! `LIKE`'s wildcards (`%`, `_`) and its escape character in it match only themselves, and a
//! control character is refused with 400 on the API (SQLite's `LIKE` stops at a NUL, so
//! `q=%00` used to match every pack) and removed, with a notice, on the page (which used to
//! write the raw NUL into its HTML).

#![allow(clippy::unwrap_used)]

use std::path::Path;

use modularbase_pack::SearchResponse;
use modularbase_tests::{Pack, Page, TestRegistry, refusal};

/// A registry with four packs: `tiny_base` (the base the others need), `python_code`,
/// `reasoning` (whose description has `pythonXcode`, which `python_code` and `python%code`
/// would match as wildcards) and `scores` (whose description has a literal `%`).
fn registry() -> TestRegistry {
    let registry =
        TestRegistry::start_standalone(Path::new(env!("CARGO_BIN_EXE_modularbase-registry")));
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0").name("Tiny Base"));
    ada.publish_ok(
        &Pack::domain("python_code", "1.0.0")
            .name("Python Code Pack")
            .description("Python completion"),
    );
    ada.publish_ok(
        &Pack::domain("reasoning", "1.0.0")
            .name("Reasoning")
            .description("Step by step logic, no pythonXcode"),
    );
    ada.publish_ok(
        &Pack::domain("scores", "1.0.0")
            .name("Scores")
            .description("Passes 100% of its tests"),
    );
    registry
}

/// The ids `GET /api/v1/packs?{query}` finds, by name.
fn found(registry: &TestRegistry, query: &str) -> Vec<String> {
    let response = registry.get(&format!("/api/v1/packs?sort=name&{query}"));
    assert_eq!(response.status(), 200, "{query}");
    let found: SearchResponse = response.json().unwrap();
    assert_eq!(found.meta.total, found.packs.len() as u64, "{query}");
    found.packs.into_iter().map(|p| p.id.to_string()).collect()
}

/// The ids the `/search?{query}` page lists.
fn listed(registry: &TestRegistry, query: &str) -> Vec<String> {
    let page = Page::get(registry, &format!("/search?sort=name&{query}"));
    assert_eq!(page.status, 200, "{query}");
    page.texts("li.pack a.id")
}

#[test]
fn a_nul_in_the_search_text_matches_every_pack() {
    let registry = registry();
    assert_eq!(
        found(&registry, "q="),
        ["python_code", "reasoning", "scores", "tiny_base"]
    );

    // The API refuses control characters, wherever they are in the text.
    for q in [
        "%00",
        "python%00",
        "py%00thon",
        "%01",
        "a%0Ab",
        "%1B%5B31m",
        "%7F",
        "%C2%85",
        "%0A",
        "python%09",
    ] {
        let response = registry.get(&format!("/api/v1/packs?q={q}"));
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{q}"
        );
        let (status, detail) = refusal(response);
        assert_eq!(status, 400, "{q}: {detail}");
        assert!(
            detail.contains("`q` contains the control character U+"),
            "{q}: {detail}"
        );
        assert!(!detail.contains('\0'), "{q}: {detail}");
    }

    // The page removes them, says so, and searches for what is left.
    let response = registry.get("/search?q=python%00");
    assert_eq!(response.status(), 200);
    let html = response.text().unwrap();
    assert!(!html.contains('\0'), "a raw NUL in the page");
    let page = Page::from_dom(html);
    assert!(
        page.text("p.stripped")
            .contains("Control characters were removed from the search"),
        "{}",
        page.text("body")
    );
    assert_eq!(page.texts("li.pack a.id"), ["python_code", "reasoning"]);
    assert_eq!(
        page.attrs("form.filters input[name=q]", "value"),
        ["python"]
    );
    // A NUL alone leaves an empty search (every pack), with the notice.
    let page = Page::get(&registry, "/search?q=%00&sort=name");
    assert_eq!(page.status, 200);
    assert_eq!(page.count("p.stripped"), 1);
    assert_eq!(
        page.texts("li.pack a.id"),
        ["python_code", "reasoning", "scores", "tiny_base"]
    );
    // Other parameters too: never echoed raw, not even in a 400 page.
    for query in ["sort=%00", "kind=%00domain", "domain=a%00"] {
        let response = registry.get(&format!("/search?{query}"));
        let html = response.text().unwrap();
        assert!(!html.contains('\0'), "a raw NUL in the page for {query}");
    }
    // Without one, no notice.
    let page = Page::get(&registry, "/search?q=python");
    assert_eq!(page.count("p.stripped"), 0);
}

#[test]
fn a_percent_in_the_search_text_matches_only_a_literal_percent() {
    let registry = registry();
    // `%25` is `%`: only the pack whose text has one.
    assert_eq!(found(&registry, "q=%25"), ["scores"]);
    assert_eq!(listed(&registry, "q=%25"), ["scores"]);
    assert_eq!(found(&registry, "q=100%25"), ["scores"]);
    assert!(found(&registry, "q=%25%25").is_empty());
    assert!(found(&registry, "q=python%25code").is_empty());
    assert!(listed(&registry, "q=python%25code").is_empty());
}

#[test]
fn an_underscore_in_the_search_text_matches_only_a_literal_underscore() {
    let registry = registry();
    // `python_code` finds the pack of that id, not `pythonXcode`.
    assert_eq!(found(&registry, "q=python_code"), ["python_code"]);
    assert_eq!(listed(&registry, "q=python_code"), ["python_code"]);
    assert_eq!(found(&registry, "q=_"), ["python_code", "tiny_base"]);
    assert!(found(&registry, "q=___").is_empty());
    assert_eq!(found(&registry, "q=pythonXcode"), ["reasoning"]);
}

#[test]
fn a_backslash_in_the_search_text_matches_only_a_literal_backslash() {
    let registry = registry();
    // `\` is `LIKE`'s escape character here: escaped itself, it escapes nothing.
    for q in ["%5C", "%5C%25", "%5C_", "python%5C_code", "%5C%5C"] {
        assert!(found(&registry, &format!("q={q}")).is_empty(), "{q}");
    }
}
