//! The standalone `modularbase-registry` binary that deployments run: its help names every
//! command, and a token printed by its `user add` works against its own `serve`.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use modularbase_pack::SigningKey;

/// How long the server may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(30);

fn registry_bin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_modularbase-registry"))
        .args(args)
        .output()
        .unwrap()
}

/// A `modularbase-registry serve` process, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts on an ephemeral port and waits for the `listening on URL` line on stderr.
    fn start(data: &Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_modularbase-registry"))
            .args(["serve", "--addr", "127.0.0.1:0", "--data"])
            .arg(data)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Keep draining stderr so the server never blocks on logging.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = Self {
            child,
            url: String::new(),
        };
        while server.url.is_empty() {
            let line = rx
                .recv_timeout(START_TIMEOUT)
                .unwrap_or_else(|_| panic!("modularbase-registry did not start"));
            if let Some(rest) = line.split("listening on ").nth(1) {
                server.url = rest.split_whitespace().next().unwrap().to_owned();
            }
        }
        std::thread::spawn(move || rx.into_iter().for_each(drop));
        server
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn help_lists_every_command() {
    let out = registry_bin(&["--help"]);
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for command in ["serve", "user", "token", "gc"] {
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

    let server = Server::start(&data);
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
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
