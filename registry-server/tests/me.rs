//! `GET /api/v1/me` against a running registry: a valid token answers with its user and
//! scopes; a missing, malformed, unknown, tampered or revoked one is refused with 401 and
//! the error envelope, as on every authenticated route.

#![allow(clippy::unwrap_used)]

use std::path::Path;

use modularbase_pack::{WhoAmI, paths};
use modularbase_tests::{TestRegistry, refusal};
use reqwest::blocking::Response;

fn registry() -> TestRegistry {
    TestRegistry::start_standalone(Path::new(env!("CARGO_BIN_EXE_modularbase-registry")))
}

/// `GET /api/v1/me` with `authorization` as the `Authorization` header, if any.
fn me(registry: &TestRegistry, authorization: Option<&str>) -> Response {
    let mut request =
        registry
            .client()
            .get(format!("{}{}", registry.url, paths::fill(paths::ME, &[])));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().unwrap()
}

fn who(response: Response) -> WhoAmI {
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json",
        "{response:?}"
    );
    response.json().unwrap()
}

#[test]
fn a_valid_token_answers_with_its_user_and_scopes() {
    let registry = registry();
    let ada = registry.user("ada");
    let _bob = registry.user("bob");
    let all = ["publish-new", "publish-update", "yank", "owners", "keys"];
    assert_eq!(
        who(me(&registry, Some(&ada.token))),
        WhoAmI {
            login: "ada".to_owned(),
            scopes: all.map(str::to_owned).to_vec(),
        }
    );
    // `Bearer ` is optional, as on every authenticated route.
    assert_eq!(
        who(me(&registry, Some(&format!("Bearer {}", ada.token)))).login,
        "ada"
    );

    // A narrower token of another user: its own scopes, whatever order they were given in.
    let narrow = registry.token("bob", &["owners", "yank"]);
    assert_eq!(
        who(me(&registry, Some(&narrow))),
        WhoAmI {
            login: "bob".to_owned(),
            scopes: vec!["yank".to_owned(), "owners".to_owned()],
        }
    );
}

#[test]
fn no_token_is_refused_with_401() {
    let registry = registry();
    let _ada = registry.user("ada");
    let (status, detail) = refusal(me(&registry, None));
    assert_eq!(status, 401);
    assert!(detail.contains("needs an API token"), "{detail}");
    assert!(detail.contains("modularbase login"), "{detail}");
}

#[test]
fn a_bogus_token_is_refused_with_401() {
    let registry = registry();
    let ada = registry.user("ada");
    // The right id with another secret.
    let (prefix, _secret) = ada.token.rsplit_once('_').unwrap();
    let tampered = format!("{prefix}_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
    for bogus in [
        "hello",
        "",
        "Bearer ",
        "mbr_000000000000_c2VjcmV0",
        "mbr__",
        tampered.as_str(),
    ] {
        let (status, detail) = refusal(me(&registry, Some(bogus)));
        assert_eq!(status, 401, "`{bogus}`");
        assert!(detail.contains("invalid or revoked"), "`{bogus}`: {detail}");
    }

    // A revoked token, valid a moment before.
    assert_eq!(who(me(&registry, Some(&ada.token))).login, "ada");
    let out = registry.admin(&["token", "revoke", &ada.token]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, detail) = refusal(me(&registry, Some(&ada.token)));
    assert_eq!(status, 401);
    assert!(detail.contains("invalid or revoked"), "{detail}");
}
