//! Talking to a running `modularbase serve`: whether one listens, what it holds
//! (`/api/ps`), unloading a pack (`/api/stop`), and streamed answers read from its
//! server-sent events as they arrive.

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, bail};
use modularbase_serve::status::PsResponse;
use serde_json::{Value, json};

/// How long the probe waits for a server to accept.
const PROBE_TIMEOUT: Duration = Duration::from_millis(300);
/// How long a control call (`ps`, `stop`, models) may take.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);
/// The longest line of a stream read (one chunk of JSON).
const MAX_EVENT_LINE: u64 = 1 << 20;

/// A server at one address.
pub(crate) struct ServeClient {
    url: String,
    http: reqwest::blocking::Client,
}

/// The server's refusal of a prompt that leaves no room in the context.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(crate) struct ContextFull(pub String);

/// What a streamed answer said besides its text.
#[derive(Debug, Default)]
pub(crate) struct StreamedAnswer {
    /// The whole text.
    pub text: String,
    /// The pack that answered (`None`: the base alone).
    pub pack: Option<String>,
    /// Each pack that could not be used, with the cause.
    pub substitutions: Vec<(String, String)>,
    /// `stop` or `length`.
    pub finish: Option<String>,
    /// Tokens generated.
    pub tokens: Option<u64>,
}

impl ServeClient {
    /// A client for the server at `addr` (`HOST:PORT` or `http://HOST:PORT`).
    pub(crate) fn new(addr: &str) -> anyhow::Result<Self> {
        let url = if addr.starts_with("http://") || addr.starts_with("https://") {
            addr.trim_end_matches('/').to_owned()
        } else {
            format!("http://{addr}")
        };
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(CONTROL_TIMEOUT)
            .timeout(None)
            .build()
            .context("cannot build the HTTP client")?;
        Ok(Self { url, http })
    }

    /// The server at `addr` when one accepts connections there now, else `None`.
    pub(crate) fn probe(addr: &str) -> Option<Self> {
        let host = addr.trim_start_matches("http://").trim_end_matches('/');
        let socket: SocketAddr = host.to_socket_addrs().ok()?.next()?;
        TcpStream::connect_timeout(&socket, PROBE_TIMEOUT).ok()?;
        Self::new(addr).ok()
    }

    /// Its address, for messages.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    fn not_running(&self, e: reqwest::Error) -> anyhow::Error {
        anyhow::anyhow!(
            "no `modularbase serve` answers at {}: {e}; start one with `modularbase serve`, or pass --server HOST:PORT",
            self.url
        )
    }

    /// `GET /api/ps`.
    pub(crate) fn ps(&self) -> anyhow::Result<PsResponse> {
        let response = self
            .http
            .get(format!("{}/api/ps", self.url))
            .timeout(CONTROL_TIMEOUT)
            .send()
            .map_err(|e| self.not_running(e))?;
        let body = read_json(response)?;
        serde_json::from_value(body).context("the server's /api/ps is not what this CLI reads")
    }

    /// `POST /api/stop`: whether the pack was loaded.
    pub(crate) fn stop(&self, pack: &str) -> anyhow::Result<bool> {
        let response = self
            .http
            .post(format!("{}/api/stop", self.url))
            .timeout(CONTROL_TIMEOUT)
            .json(&json!({ "model": pack }))
            .send()
            .map_err(|e| self.not_running(e))?;
        let body = read_json(response)?;
        Ok(body["was_loaded"].as_bool().unwrap_or(false))
    }

    /// The base's id: the model with no parent in `GET /v1/models`.
    pub(crate) fn base_model(&self) -> anyhow::Result<String> {
        let response = self
            .http
            .get(format!("{}/v1/models", self.url))
            .timeout(CONTROL_TIMEOUT)
            .send()
            .map_err(|e| self.not_running(e))?;
        let body = read_json(response)?;
        body["data"]
            .as_array()
            .and_then(|models| models.iter().find(|m| m["parent"].is_null()))
            .and_then(|m| m["id"].as_str())
            .map(str::to_owned)
            .with_context(|| format!("the server at {} lists no base model", self.url))
    }

    /// Streams an answer from `/v1/chat/completions` (`chat`) or `/v1/completions`, handing
    /// each piece of text to `on_text` as it arrives.
    pub(crate) fn stream(
        &self,
        chat: bool,
        mut body: Value,
        on_text: &mut dyn FnMut(&str),
    ) -> anyhow::Result<StreamedAnswer> {
        body["stream"] = json!(true);
        body["stream_options"] = json!({ "include_usage": true });
        let path = if chat {
            "/v1/chat/completions"
        } else {
            "/v1/completions"
        };
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .map_err(|e| self.not_running(e))?;
        if !response.status().is_success() {
            read_json(response)?;
            bail!("the server refused the request");
        }
        let mut answer = StreamedAnswer::default();
        let mut reader = BufReader::new(response);
        loop {
            let mut line = String::new();
            let read = (&mut reader)
                .take(MAX_EVENT_LINE)
                .read_line(&mut line)
                .with_context(|| format!("the stream from {} broke off", self.url))?;
            if read == 0 {
                bail!("the stream from {} ended before `[DONE]`", self.url);
            }
            let Some(data) = line.trim_end().strip_prefix("data: ") else {
                continue;
            };
            if data == "[DONE]" {
                return Ok(answer);
            }
            let chunk: Value = serde_json::from_str(data)
                .with_context(|| format!("the server sent an event that is not JSON: {data}"))?;
            if let Some(message) = chunk["error"]["message"].as_str() {
                bail!("the server failed mid-answer: {message}");
            }
            let choice = &chunk["choices"][0];
            let piece = choice["delta"]["content"]
                .as_str()
                .or_else(|| choice["text"].as_str())
                .unwrap_or("");
            if !piece.is_empty() {
                answer.text.push_str(piece);
                on_text(piece);
            }
            if let Some(finish) = choice["finish_reason"].as_str() {
                answer.finish = Some(finish.to_owned());
            }
            if let Some(tokens) = chunk["usage"]["completion_tokens"].as_u64() {
                answer.tokens = Some(tokens);
            }
            let by = &chunk["modularbase"];
            if by.is_object() {
                answer.pack = by["pack"].as_str().map(str::to_owned);
                answer.substitutions = by["substitutions"]
                    .as_array()
                    .map(|subs| {
                        subs.iter()
                            .map(|s| {
                                (
                                    s["wanted"].as_str().unwrap_or("?").to_owned(),
                                    s["cause"].as_str().unwrap_or("?").to_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
            }
        }
    }
}

/// The JSON body of a response; an error envelope becomes the error it describes.
fn read_json(response: reqwest::blocking::Response) -> anyhow::Result<Value> {
    let status = response.status();
    let mut text = String::new();
    response
        .take(MAX_EVENT_LINE)
        .read_to_string(&mut text)
        .context("cannot read the server's answer")?;
    let body: Value = serde_json::from_str(&text)
        .with_context(|| format!("the server answered {status} with something that is not JSON"))?;
    if let Some(message) = body["error"]["message"].as_str() {
        if body["error"]["code"] == "context_length_exceeded" {
            return Err(ContextFull(message.to_owned()).into());
        }
        bail!("the server refused ({status}): {message}");
    }
    if !status.is_success() {
        bail!("the server answered {status}");
    }
    Ok(body)
}
