//! `modularbase serve` through its API, as clients see it: the official `openai` client,
//! the model list, error envelopes, who answered, keep-alive, `ps`/`stop`, `run` through a
//! server, and the monitor page in a real browser. Each test runs its own server over the
//! example packs (`examples/packs/`).

#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;
use std::time::Duration;

use common::serve::{EventStream, Server, chat_body, example_packs, example_set};
use modularbase_tests::{Chromium, Page};
use serde_json::{Value, json};

/// Output bytes as text.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_openai_client_parses_every_answer_strictly_and_streams_what_it_answers_whole() {
    let server = Server::start(&[]);
    let python = modularbase_tests::llamacpp::python();
    let script = modularbase_tests::llamacpp::repo_root().join("tests/openai/client_check.py");
    let out = Command::new(&python)
        .arg(&script)
        .args([
            server.url.as_str(),
            "python_code",
            "--seed",
            "7",
            "--max-tokens",
            "12",
        ])
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{}` (make the venv with `scripts/llamacpp-venv.sh`): {e}",
                python.display()
            )
        });
    assert!(
        out.status.success(),
        "client_check.py failed (the venv and its `openai` come from `scripts/llamacpp-venv.sh`):\n{}\nserver:\n{}",
        text(&out.stderr),
        server.stderr()
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let chat = got["chat"].as_str().unwrap();
    assert!(!chat.is_empty(), "{got}");
    assert_eq!(got["chat_stream"], chat, "streamed chat == unstreamed chat");
    assert_eq!(got["chat_finish"], "length");
    assert_eq!(got["chat_usage"]["completion_tokens"], 12);
    let completion = got["completion"].as_str().unwrap();
    assert!(!completion.is_empty(), "{got}");
    assert_eq!(
        got["completion_stream"], completion,
        "streamed == unstreamed"
    );
    assert_eq!(got["not_found"]["status"], 404);
    assert_eq!(got["not_found"]["code"], "model_not_found");
    assert_eq!(got["bad_request"]["status"], 400);
    assert_eq!(got["bad_request"]["param"], "temperature");
    assert_eq!(got["pack"], "python_code");
}

#[test]
fn models_list_the_base_and_each_pack_over_it() {
    let server = Server::start(&[]);
    let list = server.get_json("/v1/models");
    assert_eq!(list["object"], "list");
    let parents: Vec<(String, Value)> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["object"], "model", "{m}");
            (m["id"].as_str().unwrap().to_owned(), m["parent"].clone())
        })
        .collect();
    let mut expected = vec![("tiny_base".to_owned(), Value::Null)];
    for pack in ["general_chat", "python_code", "reasoning", "rust_code"] {
        expected.push((pack.to_owned(), json!("tiny_base")));
    }
    assert_eq!(
        parents, expected,
        "the base first (no parent), the router not listed"
    );
}

/// Status, then the `error` object of an envelope, checking its shape.
fn envelope(response: reqwest::blocking::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = response.text().unwrap();
    assert!(kind.starts_with("application/json"), "{kind}: {body}");
    let value: Value = serde_json::from_str(&body).unwrap();
    let error = value["error"].clone();
    for key in ["message", "type", "param", "code"] {
        assert!(error.get(key).is_some(), "no `{key}` in {body}");
    }
    assert!(!error["message"].as_str().unwrap().is_empty(), "{body}");
    (status, error)
}

#[test]
fn refusals_are_openai_error_envelopes_naming_the_culprit() {
    let server = Server::start(&[]);
    // A body over the 2 MiB the server reads: refused before it is parsed, in the envelope.
    let huge = format!(
        r#"{{"model": "tiny_base", "prompt": "{}"}}"#,
        "x".repeat(3 << 20)
    );
    let (status, error) = envelope(server.post_raw_closing("/v1/completions", huge));
    assert_eq!(status, 413);
    assert_eq!(error["code"], "request_too_large", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("2097152 bytes"),
        "{error}"
    );
    let (status, error) = envelope(server.post(
        "/v1/chat/completions",
        &chat_body("no_such_pack", "hi", 1, 4),
    ));
    assert_eq!(status, 404);
    assert_eq!(error["code"], "model_not_found");
    assert_eq!(error["param"], "model");
    assert!(
        error["message"].as_str().unwrap().contains("python_code"),
        "the message lists the models here: {error}"
    );

    let mut hot = chat_body("python_code", "hi", 1, 4);
    hot["temperature"] = json!(5);
    let (status, error) = envelope(server.post("/v1/chat/completions", &hot));
    assert_eq!(status, 400);
    assert_eq!(error["param"], "temperature");
    assert!(error["message"].as_str().unwrap().contains("temperature"));

    for path in ["/v1/chat/completions", "/v1/completions"] {
        let (status, error) = envelope(server.post_raw(path, "{\"model\": ".to_owned()));
        assert_eq!(status, 400, "{path}");
        assert_eq!(error["type"], "invalid_request_error", "{path}");
    }

    let (status, error) = envelope(server.get("/v2/nothing"));
    assert_eq!(status, 404);
    assert_eq!(error["code"], "not_found");
}

#[test]
fn the_answer_names_its_pack_in_body_and_header() {
    let server = Server::start(&[]);
    let response = server.post(
        "/v1/chat/completions",
        &chat_body("python_code", "def f", 1, 4),
    );
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-modularbase-pack"], "python_code");
    assert!(
        response
            .headers()
            .get("x-modularbase-substitution")
            .is_none()
    );
    let body: Value = response.json().unwrap();
    assert_eq!(body["modularbase"]["pack"], "python_code");
    assert_eq!(body["modularbase"]["substitutions"], json!([]));

    let response = server.post(
        "/v1/completions",
        &json!({"model": "tiny_base+rust_code", "prompt": "fn main", "max_tokens": 4, "seed": 1}),
    );
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-modularbase-pack"], "rust_code");
    let body: Value = response.json().unwrap();
    assert_eq!(body["modularbase"]["pack"], "rust_code");
}

#[test]
fn a_forced_pack_with_corrupt_weights_is_substituted_and_the_cause_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("python_code-1.0.0");
    std::fs::create_dir(&copy).unwrap();
    for entry in std::fs::read_dir(example_packs().join("python_code-1.0.0")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), copy.join(entry.file_name())).unwrap();
    }
    std::fs::write(copy.join("weights.gguf"), b"GGUF?").unwrap();
    let original = example_packs()
        .join("python_code-1.0.0")
        .display()
        .to_string();
    let args: Vec<String> = example_set()
        .into_iter()
        .map(|a| {
            if a == original {
                copy.display().to_string()
            } else {
                a
            }
        })
        .collect();
    assert!(args.contains(&copy.display().to_string()));
    let server = Server::with_args(&args);

    let response = server.post(
        "/v1/chat/completions",
        &chat_body("python_code", "def f", 1, 4),
    );
    assert_eq!(response.status(), 200);
    let header = response.headers()["x-modularbase-substitution"]
        .to_str()
        .unwrap()
        .to_owned();
    let used = response.headers()["x-modularbase-pack"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(used, "python_code");
    assert!(
        header.starts_with("python_code -> ") && header.contains("weights are unreadable"),
        "{header}"
    );
    let body: Value = response.json().unwrap();
    let by = &body["modularbase"];
    assert_eq!(by["wanted"], "python_code");
    assert_eq!(by["pack"], used.as_str());
    assert_eq!(by["substitutions"][0]["wanted"], "python_code");
    let cause = by["substitutions"][0]["cause"].as_str().unwrap();
    assert!(cause.contains("weights are unreadable"), "{cause}");

    // Streamed, the last chunk carries the same account.
    let mut stream = chat_body("python_code", "def f", 1, 4);
    stream["stream"] = json!(true);
    let response = server.post("/v1/chat/completions", &stream);
    assert!(
        response
            .headers()
            .get("x-modularbase-substitution")
            .is_some()
    );
    let mut events = EventStream::new(response);
    let mut last = Value::Null;
    while let Some(data) = events.next_data() {
        if data == "[DONE]" {
            break;
        }
        last = serde_json::from_str(&data).unwrap();
    }
    assert_eq!(
        last["modularbase"]["substitutions"][0]["wanted"],
        "python_code"
    );
}

#[test]
fn keep_alive_unloads_an_idle_pack_pins_with_a_negative_value_and_unloads_at_once_with_zero() {
    let server = Server::start(&["--keep-alive", "1s"]);
    server.chat_ok(&chat_body("python_code", "def f", 1, 2));
    let entry = server
        .ps_entry("python_code")
        .expect("loaded after its request");
    assert_eq!(entry["state"], "loaded", "{entry}");
    assert!(entry["expires_at"].is_string(), "{entry}");
    let base = server.ps_entry("tiny_base").unwrap();
    assert_eq!(base["state"], "resident");
    assert!(base["expires_at"].is_null());

    server.wait_for(
        "python_code unloaded after its 1 s keep-alive",
        Duration::from_secs(10),
        || server.ps_entry("python_code").is_none(),
    );
    let expiry = r#"modularbase_cache_events_total{pack="python_code",event="expiry"}"#;
    assert_eq!(server.metric(expiry), Some(1.0), "{}", server.metrics());

    // Pinned: still there after another pack's default keep-alive ran out.
    let mut pin = chat_body("reasoning", "why", 1, 2);
    pin["keep_alive"] = json!(-1);
    server.chat_ok(&pin);
    let entry = server.ps_entry("reasoning").unwrap();
    assert_eq!(entry["state"], "pinned", "{entry}");
    assert!(entry["expires_at"].is_null(), "{entry}");
    server.chat_ok(&chat_body("python_code", "def f", 1, 2));
    server.wait_for(
        "python_code unloaded again",
        Duration::from_secs(10),
        || server.ps_entry("python_code").is_none(),
    );
    assert_eq!(server.ps_entry("reasoning").unwrap()["state"], "pinned");

    // Zero: gone as soon as the answer is.
    let mut once = chat_body("rust_code", "fn", 1, 2);
    once["keep_alive"] = json!(0);
    server.chat_ok(&once);
    assert_eq!(server.ps_entry("rust_code"), None);
    let expiry = r#"modularbase_cache_events_total{pack="rust_code",event="expiry"}"#;
    assert_eq!(server.metric(expiry), Some(1.0), "{}", server.metrics());
}

#[test]
fn ps_prints_what_is_loaded_and_stop_unloads_it() {
    let server = Server::start(&[]);
    let cwd = tempfile::tempdir().unwrap();
    let ps = || {
        let out = server.cli(cwd.path(), &["ps", "--server", server.addr.as_str()], "");
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let row = |table: &str, id: &str| {
        table
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id))
            .map(str::to_owned)
    };
    server.chat_ok(&chat_body("python_code", "def f", 1, 2));
    let table = ps();
    assert!(table.starts_with("ID "), "a header row:\n{table}");
    let base = row(&table, "tiny_base").unwrap_or_else(|| panic!("no base in:\n{table}"));
    assert!(base.contains("resident"), "{base}");
    let pack = row(&table, "python_code").unwrap_or_else(|| panic!("no pack in:\n{table}"));
    assert!(pack.contains("loaded") && pack.contains("in "), "{pack}");

    let json_out = server.cli(
        cwd.path(),
        &["ps", "--server", server.addr.as_str(), "--json"],
        "",
    );
    let listed: Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert!(
        listed["models"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["id"] == "python_code")
    );

    let stop = || {
        let out = server.cli(
            cwd.path(),
            &["stop", "python_code", "--server", server.addr.as_str()],
            "",
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let said = stop();
    assert!(said.contains("Unloaded `python_code`"), "{said}");
    let table = ps();
    assert_eq!(row(&table, "python_code"), None, "{table}");
    assert!(row(&table, "tiny_base").is_some(), "{table}");

    let said = stop();
    assert!(said.contains("was not loaded"), "{said}");
}

/// How many requests the server's monitor has seen finish.
fn recent(server: &Server) -> Vec<Value> {
    server.get_json("/api/monitor")["recent"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn run_answers_through_a_listening_server_or_in_process_when_told() {
    let server = Server::start(&[]);
    let cwd = tempfile::tempdir().unwrap();
    let addr = server.addr.as_str();
    let args = ["run", "def f", "--server", addr, "-v", "--max-tokens", "8"];
    let out = server.cli(cwd.path(), &args, "");
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("answering through the server at {}", server.url)),
        "{stderr}"
    );
    assert!(!text(&out.stdout).trim().is_empty(), "an answer");
    assert_eq!(recent(&server).len(), 1, "the server answered it");

    let packs = example_packs();
    let base = packs.join("tiny_base-1.0.0").display().to_string();
    let pack = packs.join("python_code-1.0.0").display().to_string();
    let args = [
        "run",
        "def f",
        "--server",
        addr,
        "-v",
        "--max-tokens",
        "8",
        "--local",
        "--base",
        base.as_str(),
        "--pack",
        pack.as_str(),
        "--device",
        "cpu",
    ];
    let out = server.cli(cwd.path(), &args, "");
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("answering through the server"), "{stderr}");
    assert!(!text(&out.stdout).trim().is_empty(), "an answer");
    assert_eq!(recent(&server).len(), 1, "the server was not asked");
}

#[test]
fn run_interactive_through_a_server_switches_pack_and_debug_names_who_answered() {
    let server = Server::start(&[]);
    let cwd = tempfile::tempdir().unwrap();
    let args = [
        "run",
        "--interactive",
        "--server",
        server.addr.as_str(),
        "--max-tokens",
        "6",
        "--seed",
        "5",
    ];
    let stdin = "/pack python_code\nhello\n/debug\nagain\n/exit\n";
    let out = server.cli(cwd.path(), &args, stdin);
    let stderr = text(&out.stderr);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains(">>> "), "{stderr}");
    assert_eq!(
        stderr.matches("answered by `python_code`").count(),
        1,
        "only the turn after /debug says who answered:\n{stderr}"
    );

    // The first answer is what the server gives that conversation.
    let first = server.chat_ok(&json!({
        "model": "tiny_base+python_code",
        "messages": [{"role": "user", "content": "hello"}],
        "max_tokens": 6, "temperature": 0.8, "top_p": 0.95, "seed": 5,
    }));
    let first = first["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        stdout.starts_with(&format!("{first}\n")) && stdout.len() > first.len() + 1,
        "two answers, the first {first:?}:\n{stdout:?}"
    );
    let asked: Vec<Value> = recent(&server);
    assert_eq!(asked.len(), 3, "two turns and the check");
    for request in &asked {
        assert_eq!(request["pack"], "python_code", "{request}");
    }
}

#[test]
fn monitor_page_in_a_browser_shows_the_base_resident_and_a_used_pack_loaded() {
    let server = Server::start(&[]);
    let chromium = Chromium::find();
    let url = format!("{}/", server.url);
    let page = Page::from_dom(chromium.dump_dom_after(&url, 3000));
    let state = |page: &Page, id: &str| {
        page.attrs(&format!("#components tr[data-id=\"{id}\"]"), "data-state")
    };
    assert_eq!(state(&page, "tiny_base"), ["resident"], "{}", page.html);
    assert_eq!(state(&page, "python_code"), ["installed"], "{}", page.html);

    server.chat_ok(&chat_body("python_code", "def f", 1, 2));
    let page = Page::from_dom(chromium.dump_dom_after(&url, 3000));
    assert_eq!(state(&page, "python_code"), ["loaded"], "{}", page.html);
    assert_eq!(state(&page, "tiny_base"), ["resident"]);
}

#[test]
fn api_monitor_lists_recent_requests_with_their_pack() {
    let server = Server::start(&[]);
    server.chat_ok(&chat_body("python_code", "def f", 1, 3));
    let answer = server.chat_ok(&chat_body("rust_code", "fn main", 1, 3));
    let monitor = server.get_json("/api/monitor");
    let recent = monitor["recent"].as_array().unwrap();
    assert_eq!(recent.len(), 2, "{monitor}");
    assert_eq!(recent[0]["id"], answer["id"], "newest first");
    assert_eq!(recent[0]["pack"], "rust_code");
    assert_eq!(recent[0]["model"], "rust_code");
    assert_eq!(recent[0]["tokens"], 3);
    assert_eq!(recent[0]["finish_reason"], "length");
    assert_eq!(recent[1]["pack"], "python_code");
    assert_eq!(monitor["cache"]["misses"], 2, "{monitor}");
    assert_eq!(monitor["running"], 0);
    let components = monitor["components"].as_array().unwrap();
    let state = |id: &str| {
        components
            .iter()
            .find(|c| c["id"] == id)
            .map(|c| c["state"].clone())
    };
    assert_eq!(state("tiny_base"), Some(json!("resident")));
    assert_eq!(state("rust_code"), Some(json!("loaded")));
    assert_eq!(state("general_chat"), Some(json!("installed")));
}

#[test]
fn ps_and_stop_without_a_server_say_none_answers_and_how_to_start_one() {
    let cwd = tempfile::tempdir().unwrap();
    // A port nothing listens on: bind one, then let it go.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    for args in [
        vec!["ps", "--server", addr.as_str()],
        vec!["stop", "python_code", "--server", addr.as_str()],
    ] {
        let out = common::in_home(cwd.path(), &cwd.path().join(".home"), &args, "");
        assert!(!out.status.success(), "{args:?}");
        let err = common::text(&out.stderr);
        assert!(err.contains("no `modularbase serve` answers at"), "{err}");
        assert!(err.contains("start one with `modularbase serve`"), "{err}");
        assert!(common::text(&out.stdout).is_empty(), "{args:?}");
    }
    assert!(!cwd.path().join(".home").exists(), "nothing was written");
}
