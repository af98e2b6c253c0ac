//! The marketplace's pages over HTTP, against a real registry seeded with the catalogue of
//! `modularbase_tests::seeded_marketplace`: status, title, content and headers of every page,
//! the 400 page for every invalid parameter, and the 404 page.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use modularbase_pack::PackDetails;
use modularbase_tests::{Pack, Page, Publisher, TestRegistry, refusal, seeded_marketplace};

fn marketplace() -> (TestRegistry, Publisher, Publisher) {
    seeded_marketplace(Path::new(env!("CARGO_BIN_EXE_modularbase-registry")))
}

fn page(registry: &TestRegistry, path: &str) -> Page {
    let page = Page::get(registry, path);
    assert_eq!(
        page.header("content-type"),
        "text/html; charset=utf-8",
        "{path}"
    );
    page
}

/// The ids of the packs a page lists, in order.
fn listed(page: &Page, within: &str) -> Vec<String> {
    page.texts(&format!("{within} li.pack a.id"))
}

#[test]
fn home_shows_the_search_box_totals_and_both_lists() {
    let (registry, _ada, _bob) = marketplace();
    let home = page(&registry, "/");
    assert_eq!(home.status, 200);
    assert_eq!(home.title(), "Pack marketplace — ModularBase");
    assert_eq!(home.attrs("form.search", "action"), ["/search"]);
    assert_eq!(home.attrs("form.search", "method"), ["get"]);
    assert_eq!(home.count("form.search input[name=q]"), 1);
    let stats: Vec<String> = home.texts("section.stats .stat");
    assert_eq!(
        stats,
        ["5 packs", "7 versions", "4 downloads", "2 publishers"]
    );
    let popular = listed(&home, "#most-downloaded");
    assert_eq!(popular[..2], ["python_code", "reasoning"]);
    assert_eq!(popular.len(), 5);
    assert_eq!(listed(&home, "#recently-updated")[0], "topic_router");
    // Each entry shows the newest version that is not yanked and the counts.
    let python = &home.texts("#most-downloaded li.pack")[0];
    assert!(python.contains("python_code 1.0.0 domain"), "{python}");
    assert!(python.contains("Python Code Pack"), "{python}");
    assert!(python.contains("3 downloads"), "{python}");
}

#[test]
fn every_response_carries_the_security_headers() {
    let (registry, _ada, _bob) = marketplace();
    for path in [
        "/",
        "/search?q=code",
        "/packs/python_code",
        "/packs/python_code/1.0.0",
        "/users/ada",
        "/no/such/page",
        "/static/style.css",
        "/api/v1/packs",
        "/api/openapi.json",
    ] {
        let page = Page::get(&registry, path);
        let csp = page.header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'none'",
            "object-src 'none'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "style-src 'self'",
        ] {
            assert!(csp.contains(directive), "{path}: `{directive}` in `{csp}`");
        }
        assert_eq!(page.header("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(page.header("x-frame-options"), "DENY", "{path}");
        assert_eq!(page.header("referrer-policy"), "no-referrer", "{path}");
    }
}

#[test]
fn the_stylesheet_is_served_as_css() {
    let (registry, _ada, _bob) = marketplace();
    let css = Page::get(&registry, "/static/style.css");
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), "text/css; charset=utf-8");
    assert!(css.html.contains("li.pack"));
}

#[test]
fn search_matches_text_and_filters() {
    let (registry, _ada, _bob) = marketplace();
    let found = page(&registry, "/search?q=python");
    assert_eq!(found.status, 200);
    assert_eq!(found.title(), "Search results for “python” — ModularBase");
    assert_eq!(found.text("main h1"), "Search results for “python”");
    assert_eq!(found.text("p.count"), "1 pack matches");
    assert_eq!(listed(&found, "main"), ["python_code"]);
    // The header's search box and the filter form both carry the text.
    assert_eq!(found.attrs("input[name=q]", "value"), ["python", "python"]);

    let cases = [
        ("kind=router", vec!["topic_router"]),
        ("kind=base", vec!["tiny_base"]),
        ("domain=medicine", vec!["medical_qa"]),
        (
            "base=tiny_base&sort=name",
            vec!["medical_qa", "python_code", "reasoning", "topic_router"],
        ),
        ("kind=domain&domain=code", vec!["python_code"]),
        // What the filter form sends for "any".
        (
            "q=&kind=&domain=&base=&sort=name",
            vec![
                "medical_qa",
                "python_code",
                "reasoning",
                "tiny_base",
                "topic_router",
            ],
        ),
    ];
    for (query, expected) in cases {
        let found = page(&registry, &format!("/search?{query}"));
        assert_eq!(found.status, 200, "{query}");
        assert_eq!(listed(&found, "main"), expected, "{query}");
    }

    // The filters offer what the catalogue has, the current choice selected.
    let filtered = page(&registry, "/search?domain=medicine&sort=recent");
    assert_eq!(
        filtered.texts("select[name=domain] option"),
        ["Any", "code", "medicine", "reasoning"]
    );
    assert_eq!(
        filtered.texts("select[name=domain] option[selected]"),
        ["medicine"]
    );
    assert_eq!(
        filtered.texts("select[name=sort] option[selected]"),
        ["Recently updated"]
    );
    assert_eq!(
        filtered.texts("select[name=base] option"),
        ["Any", "tiny_base"]
    );
    assert_eq!(
        filtered.texts("select[name=kind] option"),
        ["Any", "base", "router", "domain"]
    );

    let nothing = page(&registry, "/search?q=no+such+thing");
    assert_eq!(nothing.text("p.count"), "0 packs match");
    assert!(nothing.text("p.empty").starts_with("No pack"));
}

#[test]
fn search_pages_link_to_each_other_keeping_the_filters() {
    let (registry, _ada, _bob) = marketplace();
    let first = page(&registry, "/search?sort=name&per_page=2");
    assert_eq!(listed(&first, "main"), ["medical_qa", "python_code"]);
    assert_eq!(first.text("nav.pagination .current"), "Page 1 of 3");
    assert!(first.attrs("nav.pagination a[rel=prev]", "href").is_empty());
    let next = first.attrs("nav.pagination a[rel=next]", "href");
    assert_eq!(next, ["/search?sort=name&per_page=2&page=2"]);

    let second = page(&registry, &next[0]);
    assert_eq!(listed(&second, "main"), ["reasoning", "tiny_base"]);
    assert_eq!(second.text("nav.pagination .current"), "Page 2 of 3");
    assert_eq!(
        second.attrs("nav.pagination a[rel=prev]", "href"),
        ["/search?sort=name&per_page=2&page=1"]
    );

    let last = page(
        &registry,
        &second.attrs("nav.pagination a[rel=next]", "href")[0],
    );
    assert_eq!(listed(&last, "main"), ["topic_router"]);
    assert!(last.attrs("nav.pagination a[rel=next]", "href").is_empty());

    // Text and filters are carried, encoded.
    let filtered = page(&registry, "/search?q=a+b%26c&kind=domain&per_page=1");
    assert_eq!(filtered.text("p.count"), "0 packs match");
    let filtered = page(&registry, "/search?q=e&kind=domain&per_page=1");
    assert_eq!(
        filtered.attrs("nav.pagination a[rel=next]", "href"),
        ["/search?q=e&kind=domain&per_page=1&page=2"]
    );
}

#[test]
fn invalid_search_parameters_are_a_400_page_naming_them() {
    let (registry, _ada, _bob) = marketplace();
    let long = "x".repeat(201);
    let cases = [
        ("page=0".to_owned(), "`page` must be between 1 and 10000"),
        ("page=two".to_owned(), "page: invalid digit"),
        ("page=-1".to_owned(), "page: invalid digit"),
        (
            "kind=virus".to_owned(),
            "`kind` must be base, router or domain",
        ),
        (
            "sort=best".to_owned(),
            "`sort` must be downloads, recent or name",
        ),
        (
            "per_page=1000".to_owned(),
            "`per_page` must be between 1 and 100",
        ),
        ("domain=a%20b".to_owned(), "`domain` must be a short label"),
        ("base=%3Cx%3E".to_owned(), "`base` must be a short label"),
        (format!("q={long}"), "`q` is longer than 200 characters"),
        ("colour=red".to_owned(), "unknown field `colour`"),
    ];
    for (query, expected) in cases {
        let refused = page(&registry, &format!("/search?{query}"));
        assert_eq!(refused.status, 400, "{query}");
        assert_eq!(refused.title(), "Bad request — ModularBase", "{query}");
        let message = refused.text("p.message");
        assert!(message.contains(expected), "{query}: {message}");
    }
}

#[test]
fn the_pack_page_shows_card_install_line_requirements_and_facts() {
    let (registry, ada, _bob) = marketplace();
    let api: PackDetails = registry.get("/api/v1/packs/python_code").json().unwrap();
    for path in ["/packs/python_code", "/packs/python_code/1.0.0"] {
        let pack = page(&registry, path);
        assert_eq!(pack.status, 200, "{path}");
        assert_eq!(pack.title(), "python_code 1.0.0 — ModularBase", "{path}");
        assert_eq!(pack.text("section.pack-header h1"), "python_code 1.0.0");
        assert_eq!(
            pack.text("section.pack-header .title"),
            "Python Code Pack domain"
        );
        assert_eq!(
            pack.text("div.install code"),
            "modularbase pack install python_code@1.0.0"
        );
        assert_eq!(pack.count("section.pack-header .badge.yanked"), 0);

        // The model card, rendered from Markdown.
        assert_eq!(pack.text(".model-card .markdown h1"), "Python Code Pack");
        assert_eq!(pack.text(".model-card .markdown strong"), "Python");
        assert_eq!(
            pack.texts(".model-card .markdown td"),
            ["humaneval-mini", "41%"]
        );
        assert_eq!(
            pack.attrs(".model-card .markdown a", "href"),
            ["https://example.org/modularbase"]
        );
        assert_eq!(
            pack.attrs(".model-card .markdown a", "rel"),
            ["nofollow noopener noreferrer"]
        );

        // Requirements link their packs.
        assert_eq!(pack.attrs("section.base a", "href"), ["/packs/tiny_base"]);
        assert_eq!(pack.texts("section.base code"), ["1.0", "1.1"]);
        assert_eq!(
            pack.attrs("section.dependencies a", "href"),
            ["/packs/reasoning"]
        );
        assert_eq!(pack.text("section.dependencies li"), "reasoning >=1.1");

        // Facts.
        let newest = &api.versions[0];
        assert_eq!(pack.text("dd.downloads"), "3 in all, 3 of 1.0.0");
        if newest.size < 1024 {
            assert_eq!(pack.text("dd.size"), format!("{} B", newest.size));
        }
        assert_eq!(
            pack.attrs("dd.owners a", "href"),
            ["/users/ada", "/users/bob"]
        );
        assert_eq!(
            pack.text("code.fingerprint"),
            ada.key.public_key().fingerprint()
        );
        assert_eq!(pack.text("code.cksum"), newest.cksum.to_string());
        assert!(
            pack.texts("aside.facts dd")
                .contains(&"Apache-2.0".to_owned())
        );

        // Every version, newest first, with dates and the yanked mark.
        let rows = pack.texts("section.versions tbody tr");
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows[0].starts_with("1.0.0 "), "{rows:?}");
        assert!(
            rows[1].starts_with("0.9.0 ") && rows[1].ends_with("yanked"),
            "{rows:?}"
        );
        assert_eq!(
            pack.attrs("section.versions tbody a", "href"),
            ["/packs/python_code/1.0.0", "/packs/python_code/0.9.0"]
        );
        let published = pack.texts("section.versions tbody time");
        assert_eq!(published[0], newest.published_at[..10]);
        assert_eq!(pack.count("section.versions tr.current"), 1);
    }
}

#[test]
fn every_version_has_its_own_page_card_and_marks() {
    let (registry, ada, _bob) = marketplace();
    let old = page(&registry, "/packs/python_code/0.9.0");
    assert_eq!(old.status, 200);
    assert_eq!(old.title(), "python_code 0.9.0 — ModularBase");
    assert_eq!(
        old.text("section.pack-header h1"),
        "python_code 0.9.0 yanked"
    );
    assert!(old.text("p.warning").starts_with("This version is yanked"));
    assert_eq!(
        old.text("div.install code"),
        "modularbase pack install python_code@0.9.0"
    );
    assert_eq!(old.text(".model-card .markdown h1"), "Early preview");
    assert!(
        old.texts("section.versions tr.current")[0].starts_with("0.9.0"),
        "the shown version is marked"
    );

    // A base's page: no base of its own; a pack without a card says so.
    let base = page(&registry, "/packs/tiny_base");
    assert_eq!(base.title(), "tiny_base 1.1.0 — ModularBase");
    assert_eq!(base.text("section.base p"), "Needs no base.");
    assert_eq!(base.text("section.dependencies p"), "None.");
    assert_eq!(base.text(".model-card .markdown h1"), "tiny_base");

    // A pre-release is not what the pack page shows first, though its own page exists.
    ada.publish_ok(
        &Pack::domain("python_code", "2.0.0-beta.1")
            .domain_label("code")
            .base_compat("tiny_base", &["1.0", "1.1"])
            .readme(None),
    );
    let pack = page(&registry, "/packs/python_code");
    assert_eq!(pack.title(), "python_code 1.0.0 — ModularBase");
    let beta = page(&registry, "/packs/python_code/2.0.0-beta.1");
    assert_eq!(beta.title(), "python_code 2.0.0-beta.1 — ModularBase");
    assert_eq!(
        beta.text(".model-card p.empty"),
        "This version has no model card."
    );
    assert_eq!(
        beta.attrs("section.versions tbody a", "href")[0],
        "/packs/python_code/2.0.0-beta.1"
    );
}

#[test]
fn the_user_page_lists_their_packs_and_keys() {
    let (registry, _ada, bob) = marketplace();
    let user = page(&registry, "/users/bob");
    assert_eq!(user.status, 200);
    assert_eq!(user.title(), "bob — ModularBase");
    assert_eq!(user.text("h1"), "bob");
    assert_eq!(listed(&user, "#packs"), ["medical_qa", "python_code"]);
    assert_eq!(
        user.texts("#keys code.fingerprint"),
        [bob.key.public_key().fingerprint()]
    );
    assert_eq!(
        user.texts("#keys code.key"),
        [bob.key.public_key().to_string()]
    );
    assert!(user.texts("#keys tbody tr")[0].ends_with("active"));

    let nobody = registry.user("carol");
    let empty = page(&registry, &format!("/users/{}", nobody.login));
    assert_eq!(empty.text("#packs p.empty"), "carol owns no pack.");
}

#[test]
fn what_does_not_exist_is_a_404_page_and_what_cannot_exist_a_400() {
    let (registry, _ada, _bob) = marketplace();
    for (path, message) in [
        ("/nothing/here", "There is no page at this address."),
        (
            "/packs/nothing_here",
            "no pack named `nothing_here` is published here",
        ),
        (
            "/packs/python_code/9.9.9",
            "`python_code@9.9.9` is not published here",
        ),
        ("/users/nobody", "No user `nobody` exists on this registry."),
        (
            "/packs/python_code/1.0.0/extra",
            "There is no page at this address.",
        ),
    ] {
        let missing = page(&registry, path);
        assert_eq!(missing.status, 404, "{path}");
        assert_eq!(missing.title(), "Not found — ModularBase", "{path}");
        assert_eq!(missing.text("p.message"), message, "{path}");
        assert_eq!(missing.attrs("section.error a", "href"), ["/"], "{path}");
    }
    for path in ["/packs/Not-An-Id", "/packs/python_code/not.a.version"] {
        let invalid = page(&registry, path);
        assert_eq!(invalid.status, 400, "{path}");
        assert_eq!(invalid.title(), "Bad request — ModularBase", "{path}");
    }
    let wrong_method = registry
        .client()
        .post(format!("{}/search", registry.url))
        .send()
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert!(
        wrong_method
            .text()
            .unwrap()
            .contains("<title>Method Not Allowed")
    );
    // The machine-facing paths keep their JSON envelope.
    let (status, detail) = refusal(registry.get("/api/v1/nothing"));
    assert_eq!(status, 404);
    assert!(detail.starts_with("no such endpoint"), "{detail}");
}
