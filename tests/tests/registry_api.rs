//! The registry's read and yank API against a real server: the sparse index with its ETags,
//! downloads and their counts, yank and unyank, pack details, and the envelope of an
//! unknown endpoint. Publish refusals live in `registry_publish.rs`.

#![allow(clippy::unwrap_used)]

use modularbase_pack::{IndexConfig, PackDetails, parse_index_lines};
use modularbase_tests::{Pack, Publisher, TestRegistry, refusal};
use reqwest::Method;
use reqwest::blocking::Response;

fn details(registry: &TestRegistry, id: &str) -> PackDetails {
    let response = registry.get(&format!("/api/v1/packs/{id}"));
    assert_eq!(response.status(), 200);
    response.json().unwrap()
}

fn download(registry: &TestRegistry, id: &str, vers: &str) -> Response {
    registry.get(&format!("/api/v1/packs/{id}/{vers}/download"))
}

fn yank(publisher: &Publisher, id: &str, vers: &str) -> Response {
    publisher
        .request(Method::DELETE, &format!("/api/v1/packs/{id}/{vers}/yank"))
        .send()
        .unwrap()
}

fn unyank(publisher: &Publisher, id: &str, vers: &str) -> Response {
    publisher
        .request(Method::PUT, &format!("/api/v1/packs/{id}/{vers}/unyank"))
        .send()
        .unwrap()
}

// ---- the sparse index ----

#[test]
fn index_config_points_downloads_and_the_api_at_the_server() {
    let registry = TestRegistry::start();
    let response = registry.get("/index/config.json");
    assert_eq!(response.status(), 200);
    let config: IndexConfig = response.json().unwrap();
    assert_eq!(
        config.dl,
        format!("{}/api/v1/packs/{{id}}/{{vers}}/download", registry.url)
    );
    assert_eq!(config.api, registry.url);
}

#[test]
fn index_lists_one_line_per_version_in_semver_order() {
    let (registry, ada) = TestRegistry::with_base();
    // Published out of order: neither insertion nor text order is semver order.
    for vers in ["1.2.0", "1.10.0", "1.10.0-rc.1", "1.9.0"] {
        ada.publish_ok(&Pack::base("tiny_base", vers));
    }
    let text = registry.get("/index/tiny_base").text().unwrap();
    assert_eq!(text.lines().count(), 5, "{text}");
    let versions: Vec<String> = parse_index_lines(&"tiny_base".parse().unwrap(), &text)
        .unwrap()
        .iter()
        .map(|r| r.vers.to_string())
        .collect();
    assert_eq!(
        versions,
        ["1.0.0", "1.2.0", "1.9.0", "1.10.0-rc.1", "1.10.0"]
    );
}

#[test]
fn index_answers_its_own_etag_with_304_and_no_body() {
    let (registry, _ada) = TestRegistry::with_base();
    let first = registry.get("/index/tiny_base");
    let etag = first.headers()["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let again = registry
        .client()
        .get(format!("{}/index/tiny_base", registry.url))
        .header("If-None-Match", &etag)
        .send()
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"], etag.as_str());
    assert!(again.bytes().unwrap().is_empty());
}

#[test]
fn index_etag_changes_when_a_version_is_yanked() {
    let (registry, ada) = TestRegistry::with_base();
    let before = registry.get("/index/tiny_base").headers()["etag"].clone();
    assert_eq!(yank(&ada, "tiny_base", "1.0.0").status(), 200);
    let after = registry
        .client()
        .get(format!("{}/index/tiny_base", registry.url))
        .header("If-None-Match", before.clone())
        .send()
        .unwrap();
    assert_eq!(after.status(), 200, "a stale ETag must get the new index");
    assert_ne!(after.headers()["etag"], before);
    let records = parse_index_lines(&"tiny_base".parse().unwrap(), &after.text().unwrap()).unwrap();
    assert!(records[0].yanked);
}

#[test]
fn index_of_an_unknown_pack_is_404() {
    let registry = TestRegistry::start();
    let (status, detail) = refusal(registry.get("/index/nothing_here"));
    assert_eq!(status, 404);
    assert_eq!(detail, "no pack named `nothing_here` is published here");
}

#[test]
fn index_refuses_an_invalid_id_with_400() {
    let registry = TestRegistry::start();
    let (status, detail) = refusal(registry.get("/index/Bad-Id"));
    assert_eq!(status, 400);
    assert!(
        detail.contains("`Bad-Id` is not a valid pack id"),
        "{detail}"
    );
}

// ---- downloads ----

#[test]
fn download_serves_the_exact_archive_as_an_attachment() {
    let (registry, ada) = TestRegistry::with_base();
    let upload = ada.prepare(&Pack::domain("reasoning", "1.1.0"));
    assert_eq!(ada.send(upload.body()).status(), 200);
    let response = download(&registry, "reasoning", "1.1.0");
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(
        headers["content-length"],
        upload.archive.len().to_string().as_str()
    );
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename=\"reasoning-1.1.0.mbpack\""
    );
    assert_eq!(
        response.bytes().unwrap().as_ref(),
        upload.archive.as_slice()
    );
}

#[test]
fn downloads_are_counted_per_version_and_in_total() {
    let (registry, ada) = TestRegistry::with_base();
    ada.publish_ok(&Pack::base("tiny_base", "1.1.0"));
    let before = details(&registry, "tiny_base");
    assert_eq!(before.downloads, 0);
    assert!(before.versions.iter().all(|v| v.downloads == 0));

    for vers in ["1.0.0", "1.0.0", "1.1.0"] {
        let response = download(&registry, "tiny_base", vers);
        assert_eq!(response.status(), 200);
        response.bytes().unwrap();
    }
    let after = details(&registry, "tiny_base");
    assert_eq!(after.downloads, 3);
    let per_version: Vec<(String, u64)> = after
        .versions
        .iter()
        .map(|v| (v.vers.to_string(), v.downloads))
        .collect();
    assert_eq!(
        per_version,
        [("1.1.0".to_owned(), 1), ("1.0.0".to_owned(), 2)]
    );
}

#[test]
fn download_of_an_unknown_version_or_pack_is_404() {
    let (registry, _ada) = TestRegistry::with_base();
    let (status, detail) = refusal(download(&registry, "tiny_base", "9.9.9"));
    assert_eq!(status, 404);
    assert_eq!(detail, "`tiny_base@9.9.9` is not published here");
    let (status, _) = refusal(download(&registry, "nothing_here", "1.0.0"));
    assert_eq!(status, 404);
    assert_eq!(details(&registry, "tiny_base").downloads, 0);
}

#[test]
fn download_refuses_a_non_semver_version_with_400() {
    let (registry, _ada) = TestRegistry::with_base();
    let (status, detail) = refusal(download(&registry, "tiny_base", "latest"));
    assert_eq!(status, 400);
    assert!(
        detail.starts_with("`latest` is not a semver version"),
        "{detail}"
    );
}

// ---- yank and unyank ----

#[test]
fn the_owner_yanks_and_unyanks_and_the_index_follows() {
    let (registry, ada) = TestRegistry::with_base();
    let response = yank(&ada, "tiny_base", "1.0.0");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().unwrap(),
        serde_json::json!({ "ok": true })
    );
    assert!(registry.index("tiny_base")[0].yanked);
    assert!(details(&registry, "tiny_base").versions[0].yanked);

    assert_eq!(unyank(&ada, "tiny_base", "1.0.0").status(), 200);
    assert!(!registry.index("tiny_base")[0].yanked);
}

#[test]
fn a_yanked_version_is_still_downloadable() {
    let (registry, ada) = TestRegistry::with_base();
    let record = registry.index("tiny_base").remove(0);
    assert_eq!(yank(&ada, "tiny_base", "1.0.0").status(), 200);
    let response = download(&registry, "tiny_base", "1.0.0");
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().unwrap();
    assert_eq!(bytes.len() as u64, record.size);
    assert_eq!(modularbase_pack::Sha256Digest::of(&bytes), record.cksum);
}

#[test]
fn yank_by_someone_who_does_not_own_the_pack_is_403() {
    let (registry, _ada) = TestRegistry::with_base();
    let bob = registry.user("bob");
    let (status, detail) = refusal(yank(&bob, "tiny_base", "1.0.0"));
    assert_eq!(status, 403);
    assert_eq!(detail, "`bob` is not an owner of `tiny_base`");
    let (status, _) = refusal(unyank(&bob, "tiny_base", "1.0.0"));
    assert_eq!(status, 403);
    assert!(!registry.index("tiny_base")[0].yanked);
}

#[test]
fn yank_with_a_token_lacking_the_yank_scope_is_403() {
    let (registry, ada) = TestRegistry::with_base();
    let publisher_only = ada.with_token(&registry.token("ada", &["publish-new", "owners"]));
    let (status, detail) = refusal(yank(&publisher_only, "tiny_base", "1.0.0"));
    assert_eq!(status, 403);
    assert!(detail.contains("lacks the `yank` scope"), "{detail}");
    assert!(
        detail.contains("token create --user ada --scope yank"),
        "{detail}"
    );
    assert!(!registry.index("tiny_base")[0].yanked);
}

#[test]
fn yank_of_an_unknown_version_is_404() {
    let (_registry, ada) = TestRegistry::with_base();
    let (status, detail) = refusal(yank(&ada, "tiny_base", "9.9.9"));
    assert_eq!(status, 404);
    assert_eq!(detail, "`tiny_base@9.9.9` is not published here");
    let (status, _) = refusal(unyank(&ada, "tiny_base", "9.9.9"));
    assert_eq!(status, 404);
    let (status, _) = refusal(yank(&ada, "nothing_here", "1.0.0"));
    assert_eq!(status, 404);
}

// ---- details ----

#[test]
fn details_list_versions_newest_first_with_checksum_size_and_signer() {
    let (registry, ada) = TestRegistry::with_base();
    let upload = ada.prepare(&Pack::base("tiny_base", "1.1.0"));
    assert_eq!(ada.send(upload.body()).status(), 200);
    let pack = details(&registry, "tiny_base");
    assert_eq!(pack.id.as_str(), "tiny_base");
    assert_eq!(pack.kind.to_string(), "base");
    assert_eq!(pack.owners, ["ada"]);
    let versions: Vec<String> = pack.versions.iter().map(|v| v.vers.to_string()).collect();
    assert_eq!(versions, ["1.1.0", "1.0.0"]);
    let newest = &pack.versions[0];
    assert_eq!(newest.cksum, upload.metadata.cksum);
    assert_eq!(newest.size, upload.archive.len() as u64);
    assert!(!newest.yanked);
    for version in &pack.versions {
        assert_eq!(version.key_fingerprint, ada.key.public_key().fingerprint());
    }
}

#[test]
fn details_describe_the_pack_by_its_newest_version() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    let base = |vers: &str, title: &str, license: &str| {
        Pack::base("tiny_base", vers)
            .name(title)
            .description(&format!("{title} description"))
            .license(license)
    };
    ada.publish_ok(&base("1.0.0", "First", "MIT"));
    ada.publish_ok(&base("2.0.0", "Newest", "Apache-2.0"));
    // A backport published last must not take over the pack's page.
    ada.publish_ok(&base("1.5.0", "Backport", "GPL-3.0-only"));
    let pack = details(&registry, "tiny_base");
    assert_eq!(pack.name, "Newest");
    assert_eq!(pack.description.as_deref(), Some("Newest description"));
    assert_eq!(pack.license.as_deref(), Some("Apache-2.0"));
}

#[test]
fn details_of_an_unknown_pack_is_404() {
    let registry = TestRegistry::start();
    let (status, detail) = refusal(registry.get("/api/v1/packs/nothing_here"));
    assert_eq!(status, 404);
    assert_eq!(detail, "no pack named `nothing_here` is published here");
}

// ---- everything else ----

#[test]
fn an_unknown_endpoint_is_a_404_envelope() {
    let registry = TestRegistry::start();
    for path in [
        "/api/v2/packs",
        "/api/v1/packs/tiny_base/1.0.0/frobnicate",
        // `/` and other paths outside the API are marketplace pages (an HTML 404).
        "/api/v1",
    ] {
        let (status, detail) = refusal(registry.get(path));
        assert_eq!(status, 404, "{path}");
        assert!(detail.starts_with("no such endpoint"), "{path}: {detail}");
    }
}

#[test]
fn a_wrong_method_on_a_known_endpoint_is_a_405_envelope() {
    let registry = TestRegistry::start();
    let response = registry
        .client()
        .post(format!("{}/index/config.json", registry.url))
        .send()
        .unwrap();
    assert_eq!(response.headers()["allow"], "GET,HEAD");
    let (status, detail) = refusal(response);
    assert_eq!(status, 405);
    assert!(
        detail.contains("`POST /index/config.json` is not supported"),
        "{detail}"
    );
}

#[test]
fn a_head_request_is_not_counted_as_a_download() {
    let (registry, _ada) = TestRegistry::with_base();
    let url = format!("{}/api/v1/packs/tiny_base/1.0.0/download", registry.url);
    let head = registry.client().head(&url).send().unwrap();
    assert_eq!(head.status(), 200);
    assert!(head.headers().contains_key("content-length"));
    assert_eq!(details(&registry, "tiny_base").downloads, 0);
    assert_eq!(download(&registry, "tiny_base", "1.0.0").status(), 200);
    assert_eq!(details(&registry, "tiny_base").downloads, 1);
}
