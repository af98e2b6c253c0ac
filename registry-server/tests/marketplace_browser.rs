//! The marketplace in a real headless Chromium (Debian's `chromium`; `.ci/run` installs
//! it): the home page, a search as the search form submits it, and the pack page the first
//! result links to, asserted on the DOM the browser rendered. Screenshots of each are left in
//! `target/test-artifacts/` (the README's come from there).
//!
//! This test fails, rather than skips, when Chromium is missing.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use modularbase_tests::{Chromium, Pack, Page, artifacts_dir, seeded_marketplace};

#[test]
fn home_search_and_pack_page_render_in_chromium() {
    let chromium = Chromium::find();
    let (registry, _ada, _bob) =
        seeded_marketplace(Path::new(env!("CARGO_BIN_EXE_modularbase-registry")));
    let artifacts = artifacts_dir();

    // Home: both lists and the search form.
    let home_url = format!("{}/", registry.url);
    let home = Page::from_dom(chromium.dump_dom(&home_url));
    assert_eq!(home.title(), "Pack marketplace — ModularBase");
    assert_eq!(
        home.texts("#most-downloaded li.pack a.id")[..2],
        ["python_code", "reasoning"]
    );
    assert_eq!(
        home.attrs("section.hero form.search", "action"),
        ["/search"]
    );
    chromium.screenshot(&home_url, &artifacts.join("marketplace-home.png"));

    // A search: the form is a GET of /search?q=…, so loading that URL is submitting it.
    let search_url = format!("{}/search?q=code", registry.url);
    let results = Page::from_dom(chromium.dump_dom(&search_url));
    assert_eq!(results.title(), "Search results for “code” — ModularBase");
    assert_eq!(results.texts("main li.pack a.id"), ["python_code"]);
    assert_eq!(results.attrs("header input[name=q]", "value"), ["code"]);
    chromium.screenshot(&search_url, &artifacts.join("marketplace-search.png"));

    // The pack page, by the link the result carries.
    let href = results.attrs("main li.pack a.id", "href");
    assert_eq!(href, ["/packs/python_code"]);
    let pack_url = format!("{}{}", registry.url, href[0]);
    let pack = Page::from_dom(chromium.dump_dom(&pack_url));
    assert_eq!(pack.title(), "python_code 1.0.0 — ModularBase");
    assert_eq!(
        pack.text("div.install code"),
        "modularbase pack install python_code@1.0.0"
    );
    assert_eq!(pack.text(".model-card .markdown h1"), "Python Code Pack");
    assert_eq!(
        pack.texts(".model-card .markdown td"),
        ["humaneval-mini", "41%"]
    );
    assert_eq!(pack.texts("section.versions tbody tr").len(), 2);
    pack.assert_inert("pack page in chromium");
    chromium.screenshot(&pack_url, &artifacts.join("marketplace-pack.png"));
}

/// Scripts that would rename the page if they ran: the title Chromium reports must stay.
#[test]
fn no_script_from_a_model_card_runs_in_chromium() {
    let chromium = Chromium::find();
    let registry = modularbase_tests::TestRegistry::start_standalone(Path::new(env!(
        "CARGO_BIN_EXE_modularbase-registry"
    )));
    let mallory = registry.user("mallory");
    let card = "# Harmless\n\n\
        <script>document.title = 'pwned'</script>\n\n\
        <img src=\"/nope\" onerror=\"document.title = 'pwned'\">\n\n\
        <svg onload=\"document.title = 'pwned'\"></svg>\n\n\
        <iframe srcdoc=\"<script>parent.document.title = 'pwned'</script>\"></iframe>\n";
    mallory.publish_ok(&Pack::base("hostile", "1.0.0").readme(Some(card)));
    let page = Page::from_dom(chromium.dump_dom(&format!("{}/packs/hostile", registry.url)));
    assert_eq!(page.title(), "hostile 1.0.0 — ModularBase");
    assert_eq!(page.text(".model-card .markdown h1"), "Harmless");
    page.assert_inert("hostile card in chromium");
}
