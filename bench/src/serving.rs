//! Driving an OpenAI-compatible inference server for the `serve` benchmark: a child server
//! process started and stopped by the benchmark ([`ServerProcess`], ours or llama.cpp's),
//! and a blocking client that sends completions, whole or streamed, and checks each answer
//! (status 200, `usage.completion_tokens` consistent with `max_tokens` and
//! `finish_reason`).

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use serde_json::{Value, json};

/// How long a server may take to print its address (SmolLM2's base loads in seconds).
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// How long one request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(900);
/// Lines of a server's stderr kept for an error message.
const KEPT_LINES: usize = 40;

/// A server running as a child process, stopped (SIGTERM, then SIGKILL after 10 s) when
/// dropped.
pub struct ServerProcess {
    /// What it is, for messages.
    pub name: String,
    /// `http://HOST:PORT`, as it printed.
    pub url: String,
    child: Child,
    stdin: Option<ChildStdin>,
    log: Arc<Mutex<VecDeque<String>>>,
}

impl ServerProcess {
    /// Spawns `command` (stdin piped and held open, stderr read) and waits until it prints
    /// `listening on http://ADDR` on stderr.
    pub fn start(name: &str, mut command: Command) -> Result<Self> {
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("spawn {name}: {command:?}"))?;
        let stdin = child.stdin.take();
        let stderr = child.stderr.take().context("the child's stderr")?;
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (tx, rx) = mpsc::channel();
        let kept = Arc::clone(&log);
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if !sent && let Some(rest) = line.split("listening on ").nth(1) {
                    let url = rest.split_whitespace().next().unwrap_or("").to_owned();
                    sent = tx.send(url).is_ok();
                }
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                kept.push_back(line);
                if kept.len() > KEPT_LINES {
                    kept.pop_front();
                }
            }
        });
        let mut server = Self {
            name: name.to_owned(),
            url: String::new(),
            child,
            stdin,
            log,
        };
        let started = Instant::now();
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(url) => {
                    server.url = url.trim_end_matches('/').to_owned();
                    return Ok(server);
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Some(status) = server.child.try_wait()? {
                        bail!(
                            "{name} exited ({status}) before listening:\n{}",
                            server.log()
                        );
                    }
                    ensure!(
                        started.elapsed() < START_TIMEOUT,
                        "{name} printed no address in {START_TIMEOUT:?}:\n{}",
                        server.log()
                    );
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    // stderr closed: the process is exiting.
                    std::thread::sleep(Duration::from_millis(200));
                    bail!("{name} closed stderr before listening:\n{}", server.log());
                }
            }
        }
    }

    /// The last lines it wrote on stderr.
    pub fn log(&self) -> String {
        let kept = self.log.lock().unwrap_or_else(|e| e.into_inner());
        kept.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Fails (with its last log lines) if it has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!("{} exited ({status}):\n{}", self.name, self.log());
        }
        Ok(())
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        drop(self.stdin.take());
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One completion request.
#[derive(Debug, Clone)]
pub struct Completion {
    /// `model`: a pack id (forced), the base id (routed), or anything for llama.cpp.
    pub model: String,
    /// `prompt`.
    pub prompt: String,
    /// `max_tokens`.
    pub max_tokens: usize,
    /// `temperature`.
    pub temperature: f64,
    /// `seed`.
    pub seed: u64,
    /// More fields for the body (llama.cpp's `ignore_eos`, `cache_prompt`).
    pub extra: Value,
}

impl Completion {
    /// The JSON body, streamed or not.
    fn body(&self, stream: bool) -> Value {
        let mut body = json!({
            "model": self.model,
            "prompt": self.prompt,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "seed": self.seed,
            "stream": stream,
        });
        if let (Some(body), Some(extra)) = (body.as_object_mut(), self.extra.as_object()) {
            body.extend(extra.clone());
        }
        body
    }
}

/// What a whole (unstreamed) answer said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// `usage.prompt_tokens`.
    pub prompt_tokens: u64,
    /// `usage.completion_tokens`.
    pub completion_tokens: u64,
    /// Whether `finish_reason` was `length` (max_tokens reached).
    pub length: bool,
}

/// A blocking HTTP client for one server (no proxy: everything is on 127.0.0.1).
#[derive(Clone)]
pub struct Client {
    http: reqwest::blocking::Client,
    url: String,
}

impl Client {
    /// A client for `url` (`http://HOST:PORT`).
    pub fn new(url: &str) -> Result<Self> {
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("build the HTTP client")?;
        Ok(Self {
            http,
            url: url.to_owned(),
        })
    }

    /// POSTs `body` to `path`; the status and the response.
    fn post(&self, path: &str, body: &Value) -> Result<reqwest::blocking::Response> {
        let url = format!("{}{path}", self.url);
        self.http
            .post(&url)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(body)?)
            .send()
            .with_context(|| format!("POST {url}"))
    }

    /// POSTs `body` to `path` and reads a JSON answer, failing unless it is 200.
    pub fn post_json(&self, path: &str, body: &Value) -> Result<Value> {
        let response = self.post(path, body)?;
        let status = response.status();
        let bytes = response.bytes().context("read the answer")?;
        ensure!(
            status.as_u16() == 200,
            "POST {path} answered {status}: {}",
            String::from_utf8_lossy(&bytes)
        );
        serde_json::from_slice(&bytes).with_context(|| format!("POST {path}: not JSON"))
    }

    /// Sends `request` to `/v1/completions` unstreamed and checks the answer: status 200,
    /// `usage.completion_tokens` between 1 and `max_tokens`, exactly `max_tokens` when
    /// `finish_reason` is `length`, and (`pack` given) `modularbase.pack` is that pack.
    pub fn complete(&self, request: &Completion, pack: Option<&str>) -> Result<Answer> {
        let answer = self.post_json("/v1/completions", &request.body(false))?;
        let usage = &answer["usage"];
        let count = |key: &str| {
            usage[key]
                .as_u64()
                .with_context(|| format!("no usage.{key} in {answer}"))
        };
        let completion_tokens = count("completion_tokens")?;
        let prompt_tokens = count("prompt_tokens")?;
        let finish = answer["choices"][0]["finish_reason"].as_str().unwrap_or("");
        let length = finish == "length";
        let max = request.max_tokens as u64;
        ensure!(
            (1..=max).contains(&completion_tokens) && (!length || completion_tokens == max),
            "{}: {completion_tokens} completion tokens (finish_reason {finish:?}) for max_tokens {max}",
            request.model
        );
        if let Some(pack) = pack {
            let used = answer["modularbase"]["pack"].as_str();
            ensure!(
                used == Some(pack),
                "asked for pack {pack}, answered by {used:?}: {answer}"
            );
        }
        Ok(Answer {
            prompt_tokens,
            completion_tokens,
            length,
        })
    }

    /// Sends `request` streamed to `/v1/completions`: the milliseconds until the first
    /// event carrying text, after checking the status is 200 and reading the stream to
    /// its `[DONE]`.
    pub fn first_token_ms(&self, request: &Completion) -> Result<f64> {
        let start = Instant::now();
        let response = self.post("/v1/completions", &request.body(true))?;
        let status = response.status();
        ensure!(
            status.as_u16() == 200,
            "streamed POST /v1/completions answered {status}"
        );
        let mut first = None;
        let mut done = false;
        let mut reader = BufReader::new(response);
        let mut line = String::new();
        loop {
            line.clear();
            if reader.read_line(&mut line).context("read the stream")? == 0 {
                break;
            }
            let Some(data) = line.trim_end().strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                done = true;
                break;
            }
            let event: Value = serde_json::from_str(data)
                .with_context(|| format!("an event that is not JSON: {data}"))?;
            ensure!(event.get("error").is_none(), "the stream failed: {event}");
            let text = event["choices"][0]["text"].as_str().unwrap_or("");
            if first.is_none() && !text.is_empty() {
                first = Some(start.elapsed());
            }
        }
        // Drain anything after [DONE].
        let _ = reader.read_to_end(&mut Vec::new());
        ensure!(done, "the stream ended without [DONE]");
        let first = first.context("the stream carried no text")?;
        Ok(first.as_secs_f64() * 1e3)
    }
}
