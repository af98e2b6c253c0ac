//! `login` and `key generate|list|register` through the real binary, against a real
//! registry on 127.0.0.1, in a temporary home.

#![allow(clippy::unwrap_used)]

mod common;

use common::{refused, succeeded};

use std::path::Path;
use std::process::Output;

use common::text;
use modularbase_pack::{KeyList, PublicKey};
use modularbase_tests::TestRegistry;

fn in_home(home: &Path, args: &[&str], stdin: &str) -> Output {
    common::in_home(home, home, args, stdin)
}

fn token_for(registry: &TestRegistry, login: &str) -> String {
    let out = registry.admin(&["user", "add", login]);
    succeeded(&out);
    text(&out.stdout).trim().to_owned()
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn login_reads_the_token_from_stdin_checks_it_and_stores_it_privately() {
    let registry = TestRegistry::start();
    let token = token_for(&registry, "ada");
    let home = tempfile::tempdir().unwrap();
    let out = in_home(
        home.path(),
        &["login", "--registry", &format!("{}/", registry.url)],
        &format!("{token}\n"),
    );
    succeeded(&out);
    assert!(
        text(&out.stdout).starts_with(&format!("Logged in to {} as ada ", registry.url)),
        "{}",
        text(&out.stdout)
    );
    let credentials = std::fs::read_to_string(home.path().join("credentials.toml")).unwrap();
    assert!(
        credentials.contains(&format!("[registries.\"{}\"]", registry.url))
            && credentials.contains(&format!("token = \"{token}\"")),
        "{credentials}"
    );
    #[cfg(unix)]
    assert_eq!(mode(&home.path().join("credentials.toml")), 0o600);
    let config = std::fs::read_to_string(home.path().join("config.toml")).unwrap();
    assert_eq!(
        config.trim(),
        format!("default_registry = \"{}\"", registry.url)
    );

    // A second login replaces the token and keeps the default.
    let bob = token_for(&registry, "bob");
    let again = in_home(home.path(), &["login", "--token", &bob], "");
    succeeded(&again);
    assert!(
        text(&again.stdout).contains(" as bob "),
        "{}",
        text(&again.stdout)
    );
    assert!(
        std::fs::read_to_string(home.path().join("credentials.toml"))
            .unwrap()
            .contains(&bob)
    );
}

#[test]
fn login_checks_the_token_with_the_registry_before_saving_it() {
    let registry = TestRegistry::start();
    let home = tempfile::tempdir().unwrap();
    let out = in_home(
        home.path(),
        &[
            "login",
            "--registry",
            &registry.url,
            "--token",
            "mbr_made_up_token",
        ],
        "",
    );
    refused(&out, "the token was not saved");
    refused(&out, "refused the token (401 Unauthorized)");
    assert!(!home.path().join("credentials.toml").exists());
    assert!(!home.path().join("config.toml").exists());

    // A registry that is not there: the token is not saved either, and the error says why.
    let gone = registry.url.clone();
    drop(registry);
    let out = in_home(
        home.path(),
        &["login", "--registry", &gone, "--token", "mbr_x_y"],
        "",
    );
    refused(&out, "cannot reach the registry at");
    assert!(!home.path().join("credentials.toml").exists());
}

#[test]
fn login_refuses_what_is_not_a_token_or_a_url() {
    let home = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str, &str); 3] = [
        (
            &["login", "--registry", "http://127.0.0.1:7878"],
            "\n",
            "that is not an API token",
        ),
        (
            &["login", "--registry", "ftp://example"],
            "mbr_x_y\n",
            "is not a registry URL",
        ),
        (&["login"], "mbr_x_y\n", "no registry given"),
    ];
    for (args, stdin, expected) in cases {
        let out = in_home(home.path(), args, stdin);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(
            text(&out.stderr).contains(expected),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
    assert!(
        !home.path().join("credentials.toml").exists(),
        "nothing saved after a refusal"
    );
}

#[test]
fn key_generate_writes_a_private_key_once_and_prints_the_public_key() {
    let home = tempfile::tempdir().unwrap();
    let out = in_home(home.path(), &["key", "generate"], "");
    succeeded(&out);
    let public: PublicKey = text(&out.stdout).trim().parse().unwrap();
    let keys = home.path().join("keys");
    #[cfg(unix)]
    assert_eq!(mode(&keys.join("default.key")), 0o600);
    assert_eq!(
        std::fs::read_to_string(keys.join("default.pub"))
            .unwrap()
            .trim(),
        public.to_string()
    );

    let private = std::fs::read(keys.join("default.key")).unwrap();
    let again = in_home(home.path(), &["key", "generate"], "");
    refused(&again, "already exists");
    assert_eq!(
        std::fs::read(keys.join("default.key")).unwrap(),
        private,
        "the key must be untouched"
    );

    assert!(
        in_home(home.path(), &["key", "generate", "--name", "ci"], "")
            .status
            .success()
    );
    let list = text(&in_home(home.path(), &["key", "list"], "").stdout);
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert!(
        lines[1].starts_with("default") && lines[1].contains(&public.fingerprint()),
        "{list}"
    );
}

#[test]
fn key_register_uploads_the_key_for_the_logged_in_user() {
    let registry = TestRegistry::start();
    let token = token_for(&registry, "ada");
    let home = tempfile::tempdir().unwrap();
    let unregistered = in_home(
        home.path(),
        &["key", "register", "--registry", &registry.url],
        "",
    );
    refused(&unregistered, "not logged in to");

    assert!(
        in_home(
            home.path(),
            &["login", "--registry", &registry.url],
            &format!("{token}\n")
        )
        .status
        .success()
    );
    let public = text(&in_home(home.path(), &["key", "generate"], "").stdout)
        .trim()
        .to_owned();
    let out = in_home(home.path(), &["key", "register"], "");
    succeeded(&out);
    assert!(
        text(&out.stdout).starts_with("Registered key `default`"),
        "{}",
        text(&out.stdout)
    );
    let keys: KeyList = registry.get("/api/v1/users/ada/keys").json().unwrap();
    assert_eq!(keys.keys.len(), 1);
    assert_eq!(keys.keys[0].key.to_string(), public);

    // Another user cannot claim the same key: the registry's refusal is shown.
    let bob = token_for(&registry, "bob");
    let out = in_home(home.path(), &["login", "--token", &bob], "");
    assert!(out.status.success());
    let out = in_home(home.path(), &["key", "register"], "");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("refused the key (409 Conflict): key")
            && text(&out.stderr).contains("registered to another user"),
        "{}",
        text(&out.stderr)
    );
}
