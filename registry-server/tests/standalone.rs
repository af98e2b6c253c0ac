//! The standalone `modularbase-registry` binary that deployments run: its help names every
//! command, and a token printed by its `user add` works against its own `serve`.

#![allow(clippy::unwrap_used)]

use std::process::{Command, Output};

use modularbase_pack::SigningKey;
use modularbase_tests::TestRegistry;

fn registry_bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modularbase-registry"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn help_lists_every_command() {
    let out = registry_bin(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for command in ["serve", "user", "token", "gc", "keys"] {
        assert!(
            help.lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "`{command}` missing from:\n{help}"
        );
    }
}

#[test]
fn a_token_from_user_add_works_against_serve() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_text = data.to_str().unwrap();
    let out = registry_bin(&["user", "add", "ada", "--data", data_text]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("mbr_"), "{token}");

    let mut serve = Command::new(env!("CARGO_BIN_EXE_modularbase-registry"));
    serve
        .args(["serve", "--addr", "127.0.0.1:0", "--data"])
        .arg(&data);
    let server = TestRegistry::spawn(serve, data.clone());
    let client = server.client();
    let health: serde_json::Value = client
        .get(format!("{}/health", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health, serde_json::json!({ "status": "ok" }));

    let key = SigningKey::generate().public_key();
    let response = client
        .post(format!("{}/api/v1/keys", server.url))
        .header("Authorization", &token)
        .json(&serde_json::json!({ "key": key.to_string() }))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let registered: serde_json::Value = response.json().unwrap();
    assert_eq!(registered["fingerprint"], key.fingerprint());
}
