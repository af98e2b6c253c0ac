//! Running and administering a real registry: `registry user|token|gc` on its data
//! directory, `serve`'s environment and public URL, `/health`, `/metrics`, and a clean exit
//! on SIGTERM.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use modularbase_pack::{IndexConfig, Sha256Digest};
use modularbase_tests::{Pack, TestRegistry, blob_path, modularbase_bin, refusal};
use reqwest::blocking::Response;

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8(out.stderr.clone()).unwrap()
}

/// `GET /api/v1/keys` with `token`: 200 when the token is accepted.
fn list_keys_with(registry: &TestRegistry, token: &str) -> Response {
    registry
        .client()
        .get(format!("{}/api/v1/keys", registry.url))
        .header("Authorization", token)
        .send()
        .unwrap()
}

fn metrics(registry: &TestRegistry) -> String {
    let response = registry.get("/metrics");
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    response.text().unwrap()
}

/// The value of the sample `series` (name and labels exactly as exposed); 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |value| value.parse().unwrap())
}

// ---- users and tokens ----

#[test]
fn user_add_prints_only_the_token() {
    let registry = TestRegistry::start();
    let out = registry.admin(&["user", "add", "ada"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let token = text.strip_suffix('\n').unwrap();
    assert!(!token.contains(char::is_whitespace), "{text:?}");
    assert!(token.starts_with("mbr_"), "{token}");
    let response = list_keys_with(&registry, token);
    assert_eq!(response.status(), 200, "the printed token must work as is");
}

#[test]
fn adding_an_existing_user_fails_with_exit_code_1() {
    let registry = TestRegistry::start();
    assert!(registry.admin(&["user", "add", "ada"]).status.success());
    let out = registry.admin(&["user", "add", "ada"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "", "no token for a refused user");
    let error = stderr(&out);
    assert!(error.contains("user `ada` already exists"), "{error}");
    assert!(
        error.contains("modularbase registry token create --user ada"),
        "{error}"
    );
}

#[test]
fn user_add_refuses_an_invalid_login() {
    let registry = TestRegistry::start();
    let out = registry.admin(&["user", "add", "Ada Lovelace"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout(&out), "");
    assert!(
        stderr(&out).contains("`Ada Lovelace` is not a valid login"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn token_list_shows_ids_and_scopes_but_never_secrets() {
    let registry = TestRegistry::start();
    let first = stdout(&registry.admin(&["user", "add", "ada"]));
    let yank = registry.token("ada", &["yank"]);
    let out = registry.admin(&["token", "list", "--user", "ada"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let listing = stdout(&out);
    assert_eq!(listing.lines().count(), 2, "{listing}");
    for token in [first.trim(), yank.as_str()] {
        let (id, secret) = token.strip_prefix("mbr_").unwrap().split_once('_').unwrap();
        assert!(!listing.contains(secret), "a secret leaked:\n{listing}");
        let line = listing.lines().find(|l| l.starts_with(id)).unwrap();
        if token == yank {
            assert!(line.contains(" yank "), "{line}");
            assert!(!line.contains("publish"), "{line}");
        } else {
            assert!(
                line.contains("publish-new,publish-update,yank,owners,keys"),
                "{line}"
            );
        }
    }
}

#[test]
fn a_revoked_token_is_refused_with_401() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    let extra = registry.token("ada", &["yank"]);
    assert_eq!(list_keys_with(&registry, &extra).status(), 200);
    let id = extra.split('_').nth(1).unwrap();

    let out = registry.admin(&["token", "revoke", id]);
    assert!(out.status.success(), "{}", stderr(&out));
    let (status, detail) = refusal(list_keys_with(&registry, &extra));
    assert_eq!(status, 401);
    assert!(detail.contains("invalid or revoked"), "{detail}");
    let listing = stdout(&registry.admin(&["token", "list", "--user", "ada"]));
    let line = listing.lines().find(|l| l.starts_with(id)).unwrap();
    assert!(line.contains("revoked"), "{line}");
    assert_eq!(
        list_keys_with(&registry, &ada.token).status(),
        200,
        "other tokens keep working"
    );

    let again = registry.admin(&["token", "revoke", id]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains(&format!("no active token with id `{id}`")),
        "{}",
        stderr(&again)
    );
}

// ---- garbage collection ----

#[test]
fn gc_removes_stray_blobs_and_stale_uploads_and_keeps_published_archives() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    let record = registry.index("tiny_base").remove(0);
    let stray_digest: Sha256Digest = format!("abcd{}", "e".repeat(60)).parse().unwrap();
    let stray = blob_path(&registry.data, &stray_digest);
    assert!(stray.starts_with(registry.data.join("blobs/sha256/ab/cd")));
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, b"orphan bytes").unwrap();
    let stale = registry.data.join("tmp/upload-stale");
    std::fs::write(&stale, b"half an upload").unwrap();

    let out = registry.admin(&["gc", "--grace-seconds", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "removed 1 unreferenced archive(s) (12 bytes) and 1 stale upload(s)\n"
    );
    assert!(!stray.exists());
    assert!(!stale.exists());
    assert!(blob_path(&registry.data, &record.cksum).is_file());
    let download = registry.get("/api/v1/packs/tiny_base/1.0.0/download");
    assert_eq!(download.status(), 200);
    assert_eq!(Sha256Digest::of(&download.bytes().unwrap()), record.cksum);
}

// ---- serve ----

#[test]
fn serve_reads_its_address_and_data_directory_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-env");
    let mut command = Command::new(modularbase_bin());
    command
        .args(["registry", "serve"])
        .current_dir(dir.path())
        .env("MODULARBASE_REGISTRY_ADDR", "127.0.0.1:0")
        .env("MODULARBASE_REGISTRY_DATA", &data)
        .env_remove("MODULARBASE_REGISTRY_PUBLIC_URL");
    let registry = TestRegistry::spawn(command, data.clone());
    let port = registry.url.strip_prefix("http://127.0.0.1:").unwrap();
    assert_ne!(
        port, "7878",
        "the address came from the default, not the environment"
    );
    assert!(data.join("registry.sqlite3").is_file());
    assert!(!dir.path().join("registry-data").exists());
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    assert_eq!(registry.get("/index/tiny_base").status(), 200);
}

#[test]
fn admin_commands_read_the_data_directory_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("from-env");
    let out = Command::new(modularbase_bin())
        .args(["registry", "user", "add", "ada"])
        .current_dir(dir.path())
        .env("MODULARBASE_REGISTRY_DATA", &data)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(data.join("registry.sqlite3").is_file());
    assert!(!dir.path().join("registry-data").exists());
}

#[test]
fn public_url_changes_the_links_in_config_json() {
    let registry = TestRegistry::start_with(&["--public-url", "https://packs.example.org"]);
    assert!(
        registry.url.starts_with("http://127.0.0.1:"),
        "the log names the bound socket: {}",
        registry.url
    );
    let config: IndexConfig = registry.get("/index/config.json").json().unwrap();
    assert_eq!(
        config.dl,
        "https://packs.example.org/api/v1/packs/{id}/{vers}/download"
    );
    assert_eq!(config.api, "https://packs.example.org");
}

#[test]
fn sigterm_stops_an_idle_server_with_exit_code_0() {
    let registry = TestRegistry::start();
    assert_eq!(registry.get("/health").status(), 200);
    let (status, log, _data, _dir) = registry.terminate();
    assert_eq!(status.code(), Some(0), "{}", log.join("\n"));
}

// ---- operations ----

#[test]
fn health_says_ok() {
    let registry = TestRegistry::start();
    let response = registry.get("/health");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<serde_json::Value>().unwrap(),
        serde_json::json!({ "status": "ok" })
    );
}

#[test]
fn metrics_count_requests_by_method_route_template_and_status() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    for path in [
        "/index/tiny_base",
        "/index/tiny_base",
        "/index/nothing_here",
    ] {
        registry.get(path).bytes().unwrap();
    }
    let text = metrics(&registry);
    let requests = |status: u16| {
        sample(
            &text,
            &format!(
                "modularbase_registry_http_requests_total{{method=\"GET\",route=\"/index/{{id}}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(requests(200), 2.0, "{text}");
    assert_eq!(requests(404), 1.0, "{text}");
    assert_eq!(
        sample(
            &text,
            "modularbase_registry_http_requests_total{method=\"PUT\",route=\"/api/v1/packs/new\",status=\"200\"}"
        ),
        1.0
    );
    assert!(
        !text.contains("/index/tiny_base"),
        "labels must be route templates"
    );
}

#[test]
fn metrics_count_publishes_downloads_and_bytes_served() {
    let registry = TestRegistry::start();
    let ada = registry.user("ada");
    let before = metrics(&registry);
    assert_eq!(sample(&before, "modularbase_registry_publishes_total"), 0.0);
    assert_eq!(sample(&before, "modularbase_registry_downloads_total"), 0.0);

    ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
    ada.publish_ok(&Pack::base("tiny_base", "1.1.0"));
    let mut served = 0;
    for vers in ["1.0.0", "1.0.0", "1.1.0"] {
        let response = registry.get(&format!("/api/v1/packs/tiny_base/{vers}/download"));
        served += response.bytes().unwrap().len();
    }
    let after = metrics(&registry);
    assert_eq!(sample(&after, "modularbase_registry_publishes_total"), 2.0);
    assert_eq!(sample(&after, "modularbase_registry_downloads_total"), 3.0);
    assert_eq!(
        sample(&after, "modularbase_registry_bytes_served_total"),
        served as f64
    );
}

#[test]
fn metrics_expose_a_latency_histogram_per_route() {
    let registry = TestRegistry::start();
    for _ in 0..3 {
        assert_eq!(registry.get("/health").status(), 200);
    }
    let text = metrics(&registry);
    let name = "modularbase_registry_http_request_duration_seconds";
    assert!(text.contains(&format!("# TYPE {name} histogram")), "{text}");
    let route = "route=\"/health\"";
    assert_eq!(sample(&text, &format!("{name}_count{{{route}}}")), 3.0);
    assert_eq!(
        sample(&text, &format!("{name}_bucket{{le=\"+Inf\",{route}}}")),
        3.0
    );
    assert!(sample(&text, &format!("{name}_sum{{{route}}}")) > 0.0);
    let buckets = text
        .lines()
        .filter(|l| l.starts_with(&format!("{name}_bucket{{")) && l.contains(route))
        .count();
    assert!(buckets > 2, "{text}");
}
