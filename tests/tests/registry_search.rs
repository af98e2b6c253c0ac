//! Searching a real registry: what the text matches, the filters, the three orders, paging,
//! yanked versions, and a 400 that names the parameter for every invalid query.
//!
//! Every test searches this catalogue, published in this order by `ada`:
//!
//! ```text
//! id            kind    title             domain     description
//! tiny_base     base    Tiny Base         -          A small llama core
//! python_code   domain  Python Code Pack  code       Python completion and explanation
//! medical_qa    domain  Bedside Helper    medicine   Clinical questions answered
//! reasoning     domain  Reasoning         reasoning  Step by step logic
//! topic_router  router  Topic Router      -          Picks a domain pack per prompt
//! ```

#![allow(clippy::unwrap_used)]

use modularbase_pack::SearchResponse;
use modularbase_tests::{Pack, Publisher, TestRegistry, refusal};
use reqwest::Method;

const ALL: [&str; 5] = [
    "medical_qa",
    "python_code",
    "reasoning",
    "tiny_base",
    "topic_router",
];

fn catalogue() -> (TestRegistry, Publisher) {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    ada.publish_ok(
        &Pack::base("tiny_base", "1.0.0")
            .name("Tiny Base")
            .description("A small llama core"),
    );
    ada.publish_ok(
        &Pack::domain("python_code", "1.0.0")
            .name("Python Code Pack")
            .domain_label("code")
            .description("Python completion and explanation"),
    );
    ada.publish_ok(
        &Pack::domain("medical_qa", "1.0.0")
            .name("Bedside Helper")
            .domain_label("medicine")
            .description("Clinical questions answered"),
    );
    ada.publish_ok(
        &Pack::domain("reasoning", "1.0.0")
            .name("Reasoning")
            .description("Step by step logic"),
    );
    ada.publish_ok(
        &Pack::router("topic_router", "1.0.0")
            .name("Topic Router")
            .description("Picks a domain pack per prompt"),
    );
    (registry, ada)
}

/// `GET /api/v1/packs?QUERY`, which must succeed.
fn search(registry: &TestRegistry, query: &str) -> SearchResponse {
    let response = registry.get(&format!("/api/v1/packs?{query}"));
    assert_eq!(response.status(), 200, "{query}");
    response.json().unwrap()
}

/// The ids found by `query`, in the order the registry gave them.
fn ids(registry: &TestRegistry, query: &str) -> Vec<String> {
    search(registry, query)
        .packs
        .into_iter()
        .map(|p| p.id.to_string())
        .collect()
}

fn download(registry: &TestRegistry, id: &str, times: usize) {
    for _ in 0..times {
        let response = registry.get(&format!("/api/v1/packs/{id}/1.0.0/download"));
        assert_eq!(response.status(), 200);
        response.bytes().unwrap();
    }
}

#[test]
fn text_matches_the_id_title_description_and_domain() {
    let (registry, _ada) = catalogue();
    let by = |q: &str| ids(&registry, &format!("q={q}&sort=name"));
    assert_eq!(by("python_c"), ["python_code"], "id");
    assert_eq!(by("bedside"), ["medical_qa"], "title, any case");
    assert_eq!(by("step%20by%20step"), ["reasoning"], "description");
    assert_eq!(by("medicine"), ["medical_qa"], "domain");
    assert_eq!(by("nothing%20like%20this"), Vec::<String>::new());
    assert_eq!(by(""), ALL, "an empty text matches everything");
}

#[test]
fn hits_carry_the_packs_summary() {
    let (registry, _ada) = catalogue();
    let found = search(&registry, "q=python_code");
    assert_eq!(found.meta.total, 1);
    let hit = &found.packs[0];
    assert_eq!(hit.name, "Python Code Pack");
    assert_eq!(hit.kind.to_string(), "domain");
    assert_eq!(hit.domain.as_deref(), Some("code"));
    assert_eq!(
        hit.description.as_deref(),
        Some("Python completion and explanation")
    );
    assert_eq!(hit.max_version.as_ref().unwrap().to_string(), "1.0.0");
    assert_eq!(hit.downloads, 0);
}

#[test]
fn kind_and_domain_filter_the_results() {
    let (registry, _ada) = catalogue();
    assert_eq!(
        ids(&registry, "kind=domain&sort=name"),
        ["medical_qa", "python_code", "reasoning"]
    );
    assert_eq!(ids(&registry, "kind=router"), ["topic_router"]);
    assert_eq!(ids(&registry, "kind=base"), ["tiny_base"]);
    assert_eq!(ids(&registry, "domain=code"), ["python_code"]);
    assert_eq!(
        ids(&registry, "domain=code&q=bedside"),
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&registry, "kind=domain&domain=medicine"),
        ["medical_qa"]
    );
}

#[test]
fn sort_by_downloads_puts_the_most_downloaded_first() {
    let (registry, _ada) = catalogue();
    download(&registry, "reasoning", 2);
    download(&registry, "topic_router", 1);
    let expected = [
        "reasoning",
        "topic_router",
        "medical_qa",
        "python_code",
        "tiny_base",
    ];
    assert_eq!(ids(&registry, "sort=downloads"), expected);
    assert_eq!(ids(&registry, ""), expected, "downloads is the default");
    let found = search(&registry, "q=reasoning");
    assert_eq!(found.packs[0].downloads, 2);
}

#[test]
fn sort_by_recent_puts_the_latest_publish_first() {
    let (registry, ada) = catalogue();
    // Everything was published within a second or two: the order must still be exact.
    assert_eq!(
        ids(&registry, "sort=recent"),
        [
            "topic_router",
            "reasoning",
            "medical_qa",
            "python_code",
            "tiny_base"
        ]
    );
    ada.publish_ok(&Pack::domain("python_code", "1.1.0").domain_label("code"));
    assert_eq!(
        ids(&registry, "sort=recent&per_page=2"),
        ["python_code", "topic_router"]
    );
}

#[test]
fn sort_by_name_is_alphabetical_whatever_the_downloads() {
    let (registry, _ada) = catalogue();
    download(&registry, "topic_router", 3);
    assert_eq!(ids(&registry, "sort=name"), ALL);
}

#[test]
fn pages_split_the_results_and_the_total_counts_them_all() {
    let (registry, _ada) = catalogue();
    let page = search(&registry, "sort=name&per_page=2&page=2");
    let found: Vec<String> = page.packs.iter().map(|p| p.id.to_string()).collect();
    assert_eq!(found, ["reasoning", "tiny_base"]);
    assert_eq!(page.meta.total, 5);
    assert_eq!(
        ids(&registry, "sort=name&per_page=2&page=3"),
        ["topic_router"]
    );
    let beyond = search(&registry, "sort=name&per_page=2&page=4");
    assert!(beyond.packs.is_empty());
    assert_eq!(beyond.meta.total, 5);
    assert_eq!(search(&registry, "kind=domain&per_page=1").meta.total, 3);
}

#[test]
fn max_version_skips_yanked_versions() {
    let (registry, ada) = catalogue();
    ada.publish_ok(&Pack::domain("python_code", "1.1.0").domain_label("code"));
    let max = |registry: &TestRegistry| {
        search(registry, "q=python_code").packs[0]
            .max_version
            .as_ref()
            .map(ToString::to_string)
    };
    assert_eq!(max(&registry).as_deref(), Some("1.1.0"));
    let yank = |vers: &str| {
        let path = format!("/api/v1/packs/python_code/{vers}/yank");
        let response = ada.request(Method::DELETE, &path).send().unwrap();
        assert_eq!(response.status(), 200);
    };
    yank("1.1.0");
    assert_eq!(max(&registry).as_deref(), Some("1.0.0"));
    yank("1.0.0");
    assert_eq!(max(&registry), None);
}

#[test]
fn invalid_parameters_are_refused_with_400_naming_them() {
    let (registry, _ada) = catalogue();
    let long = "x".repeat(201);
    let cases = [
        (
            "kind=virus".to_owned(),
            "`kind` must be base, router or domain, not `virus`",
        ),
        (
            "sort=x".to_owned(),
            "`sort` must be downloads, recent or name, not `x`",
        ),
        (
            "per_page=0".to_owned(),
            "`per_page` must be between 1 and 100",
        ),
        (
            "per_page=101".to_owned(),
            "`per_page` must be between 1 and 100",
        ),
        ("page=0".to_owned(), "`page` must be between 1 and 10000"),
        ("page=two".to_owned(), "page: invalid digit"),
        ("foo=1".to_owned(), "unknown field `foo`"),
        ("domain=a%20b".to_owned(), "`domain` must be a short label"),
        (format!("q={long}"), "`q` is longer than 200 characters"),
    ];
    for (query, expected) in cases {
        let (status, detail) = refusal(registry.get(&format!("/api/v1/packs?{query}")));
        assert_eq!(status, 400, "{query}");
        assert!(detail.contains(expected), "{query}: {detail}");
    }
    // The limits themselves are accepted.
    let at_limit = format!("q={}&per_page=100&page=10000", "x".repeat(200));
    assert!(search(&registry, &at_limit).packs.is_empty());
}

#[test]
fn like_wildcards_in_the_text_are_literal() {
    let (registry, _ada) = catalogue();
    let total = |q: &str| search(&registry, &format!("q={q}")).meta.total;
    assert_eq!(total("%25"), 0, "`%` must not match everything");
    assert_eq!(total("python%25code"), 0);
    assert_eq!(total("%5C"), 0, "a backslash is just a character");
    // `_` matches only a real underscore: every id but `reasoning` has one.
    assert_eq!(
        ids(&registry, "q=_&sort=name"),
        ["medical_qa", "python_code", "tiny_base", "topic_router"]
    );
    assert_eq!(total("python_cod_"), 0);
}
