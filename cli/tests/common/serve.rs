//! A real `modularbase serve` for tests: the binary on a free port of 127.0.0.1 over the
//! example packs, with a temporary home of its own, its address read from its stderr, and
//! the process killed (by its pid) when the test is done with it.

// Each test binary compiles this module and uses part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, Response};
use serde_json::{Value, json};

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The repository's `examples/packs/`.
pub(crate) fn example_packs() -> PathBuf {
    modularbase_tests::llamacpp::repo_root().join("examples/packs")
}

/// The example base and its five packs (four domains and the router), as `serve` takes them.
pub(crate) fn example_set() -> Vec<String> {
    let packs = example_packs();
    let mut set = vec![
        "--base".to_owned(),
        packs.join("tiny_base-1.0.0").display().to_string(),
    ];
    for pack in [
        "python_code-1.0.0",
        "rust_code-1.0.0",
        "reasoning-1.1.0",
        "general_chat-1.0.0",
        "router-1.0.0",
    ] {
        set.push("--pack".to_owned());
        set.push(packs.join(pack).display().to_string());
    }
    set
}

/// A running server.
pub(crate) struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Everything it wrote on stderr so far.
    stderr: Arc<Mutex<String>>,
    http: Client,
    _home: tempfile::TempDir,
}

impl Server {
    /// Serves the example set with `extra` flags (`--parallel 1`, `--keep-alive 1s`).
    pub(crate) fn start(extra: &[&str]) -> Self {
        let mut args = example_set();
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        Self::with_args(&args)
    }

    /// `modularbase serve ARGS --addr 127.0.0.1:0 --device cpu` (and `--budget 64MiB` unless
    /// ARGS give one); waits until
    /// it listens and fails the test with its stderr if it does not within a minute.
    pub(crate) fn with_args(args: &[String]) -> Self {
        let home = tempfile::tempdir().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_modularbase"))
            .arg("serve")
            .args(args)
            .args(["--addr", "127.0.0.1:0", "--device", "cpu"])
            .args(
                Some(["--budget", "64MiB"])
                    .filter(|_| !args.iter().any(|a| a == "--budget"))
                    .into_iter()
                    .flatten(),
            )
            .current_dir(home.path())
            .env("MODULARBASE_HOME", home.path().join(".home"))
            .env_remove("MODULARBASE_SERVER")
            .env_remove("MODULARBASE_REGISTRY")
            .env_remove("MODULARBASE_TOKEN")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the modularbase binary runs");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let log = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                log.lock().unwrap().push_str(&format!("{line}\n"));
                if let Some(rest) = line.split("listening on http://").nth(1) {
                    let addr = rest.split_whitespace().next().unwrap_or_default();
                    let _ = tx.send(addr.to_owned());
                }
            }
        });
        let addr = match rx.recv_timeout(START_TIMEOUT) {
            Ok(addr) => addr,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "`modularbase serve` did not say where it listens within {START_TIMEOUT:?}:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        let http = Client::builder()
            .timeout(Duration::from_secs(120))
            .build()
            .unwrap();
        Self {
            child,
            url: format!("http://{addr}"),
            addr,
            stderr,
            http,
            _home: home,
        }
    }

    /// Its process id.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What it wrote on stderr so far.
    pub(crate) fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// `GET path`.
    pub(crate) fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.url))
            .send()
            .unwrap_or_else(|e| panic!("GET {path}: {e}\n{}", self.stderr()))
    }

    /// `POST path` with `body` as JSON.
    pub(crate) fn post(&self, path: &str, body: &Value) -> Response {
        self.post_raw(path, body.to_string())
    }

    /// `POST path` with `body` as it is, typed as JSON.
    pub(crate) fn post_raw(&self, path: &str, body: String) -> Response {
        self.send_post(path, body, false)
    }

    /// `POST path` with `body` on a connection closed after the answer: a server that
    /// refuses a body unread closes the connection, and a pooled client could otherwise
    /// send the next request on it and fail.
    pub(crate) fn post_raw_closing(&self, path: &str, body: String) -> Response {
        self.send_post(path, body, true)
    }

    fn send_post(&self, path: &str, body: String, close: bool) -> Response {
        let mut request = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json");
        if close {
            request = request.header("connection", "close");
        }
        request
            .body(body)
            .send()
            .unwrap_or_else(|e| panic!("POST {path}: {e}\n{}", self.stderr()))
    }

    /// `GET path` as JSON, asserting 200.
    pub(crate) fn get_json(&self, path: &str) -> Value {
        let response = self.get(path);
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().unwrap()
    }

    /// An unstreamed chat completion that must succeed; returns its body.
    pub(crate) fn chat_ok(&self, body: &Value) -> Value {
        let response = self.post("/v1/chat/completions", body);
        let status = response.status();
        let text = response.text().unwrap();
        assert_eq!(status, 200, "{body} answered {text}");
        serde_json::from_str(&text).unwrap()
    }

    /// `/metrics`, as text.
    pub(crate) fn metrics(&self) -> String {
        self.get("/metrics").text().unwrap()
    }

    /// The value of the metric line starting with `series` (`name{labels}`), if there is one.
    pub(crate) fn metric(&self, series: &str) -> Option<f64> {
        metric(&self.metrics(), series)
    }

    /// `/api/ps`'s entry for `id`, if it is in memory.
    pub(crate) fn ps_entry(&self, id: &str) -> Option<Value> {
        self.get_json("/api/ps")["models"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["id"] == id)
            .cloned()
    }

    /// Polls `condition` until it holds; fails the test with `what` after `deadline`.
    pub(crate) fn wait_for(
        &self,
        what: &str,
        deadline: Duration,
        mut condition: impl FnMut() -> bool,
    ) {
        let start = Instant::now();
        while !condition() {
            assert!(
                start.elapsed() < deadline,
                "{what}: not so after {deadline:?}; the server said:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the process to exit, up to `deadline`.
    pub(crate) fn wait_exit(&mut self, deadline: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < deadline,
                "the server did not exit within {deadline:?}:\n{}",
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `modularbase ARGS` in `cwd` with a home there (give the server with `--server`).
    pub(crate) fn cli(&self, cwd: &Path, args: &[&str], stdin: &str) -> std::process::Output {
        super::in_home(cwd, &cwd.join(".home"), args, stdin)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // `Child::kill` signals this child's pid, nothing else.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of the metric line of `text` that starts with `series`.
pub(crate) fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(series))
        .and_then(|rest| rest.trim().parse().ok())
}

/// A chat request body: one user message, a seed, a temperature and a length.
pub(crate) fn chat_body(model: &str, content: &str, seed: u64, max_tokens: usize) -> Value {
    json!({
        "model": model,
        "messages": [{"role": "user", "content": content}],
        "seed": seed,
        "temperature": 0.8,
        "max_tokens": max_tokens,
    })
}

/// A streamed answer being read, one server-sent event at a time.
pub(crate) struct EventStream {
    reader: BufReader<Response>,
}

/// What a whole stream said.
#[derive(Debug, Default)]
pub(crate) struct StreamEnd {
    /// The text of every chunk, joined.
    pub text: String,
    /// The last `finish_reason` seen.
    pub finish: Option<String>,
    /// Whether `data: [DONE]` ended it.
    pub done: bool,
    /// How many `data:` events came.
    pub events: usize,
}

impl EventStream {
    /// Reads `response` (200, `text/event-stream`) as events.
    pub(crate) fn new(response: Response) -> Self {
        assert_eq!(response.status(), 200, "a stream");
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(kind.starts_with("text/event-stream"), "content type {kind}");
        Self {
            reader: BufReader::new(response),
        }
    }

    /// The next `data:` payload; `None` at the end of the body.
    pub(crate) fn next_data(&mut self) -> Option<String> {
        let mut line = String::new();
        loop {
            line.clear();
            let n = self.reader.read_line(&mut line).ok()?;
            if n == 0 {
                return None;
            }
            if let Some(data) = line.trim_end().strip_prefix("data:") {
                return Some(data.trim().to_owned());
            }
        }
    }

    /// Reads to the end, gathering text (chat deltas or completion text).
    pub(crate) fn finish(mut self) -> StreamEnd {
        let mut end = StreamEnd::default();
        while let Some(data) = self.next_data() {
            end.events += 1;
            if data == "[DONE]" {
                end.done = true;
                // Nothing may follow; read what is left to see the body close.
                let mut rest = String::new();
                let _ = self.reader.read_to_string(&mut rest);
                assert!(rest.trim().is_empty(), "after [DONE]: {rest}");
                break;
            }
            let chunk: Value = serde_json::from_str(&data)
                .unwrap_or_else(|e| panic!("a chunk that is not JSON ({e}): {data}"));
            assert!(
                chunk.get("error").is_none(),
                "an error in the stream: {data}"
            );
            for choice in chunk["choices"].as_array().into_iter().flatten() {
                if let Some(piece) = choice["delta"]["content"].as_str() {
                    end.text.push_str(piece);
                }
                if let Some(piece) = choice["text"].as_str() {
                    end.text.push_str(piece);
                }
                if let Some(finish) = choice["finish_reason"].as_str() {
                    end.finish = Some(finish.to_owned());
                }
            }
        }
        end
    }
}
