//! A man in the middle on 127.0.0.1: an HTTP/1.1 server that forwards every GET to a real
//! registry (status, body, `ETag` and `If-None-Match` as they are), unless the test has told
//! it, at any moment, to answer a path itself ([`Answer`]): other bytes, another status, an
//! endless body or a huge announced one. It can also hold requests under a prefix for a
//! while and count how many are held at once (for the concurrent index fetch).
//!
//! ```no_run
//! use modularbase_tests::{Answer, Proxy, TestRegistry};
//!
//! let registry = TestRegistry::start();
//! let proxy = Proxy::start(&registry.url);
//! let old = proxy.upstream("/index/timestamp.json");
//! // … the registry moves on …
//! proxy.answer("/index/timestamp.json", Answer::Bytes(old));
//! ```

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Bytes written at a time for generated bodies.
const CHUNK: usize = 64 << 10;
/// An endless body stops here anyway (1 GiB), so a client that reads it all still ends.
const ENDLESS_CAP: u64 = 1 << 30;
/// How long [`Proxy::body_bytes_sent`] waits for a generated body's writer to stop.
const WRITER_WAIT: Duration = Duration::from_secs(20);

/// What the proxy answers for a path instead of forwarding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200 with these bytes.
    Bytes(Vec<u8>),
    /// This status, with a short body.
    Status(u16),
    /// 200 without `Content-Length`, then bytes until the client hangs up (1 GiB at most).
    Endless,
    /// 200 announcing this `Content-Length`, then bytes until the client hangs up.
    Declared(u64),
}

/// The proxy; its threads live as long as the test process.
#[derive(Debug)]
pub struct Proxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Shared>,
}

/// What every connection shares.
#[derive(Debug)]
struct Shared {
    client: reqwest::blocking::Client,
    upstream: String,
    answers: Mutex<HashMap<String, Answer>>,
    /// Requests whose path starts with this are held this long before they are answered.
    hold: Mutex<Option<(String, Duration)>>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
    /// Every path asked for, in order.
    requests: Mutex<Vec<String>>,
    /// Bytes of generated bodies written per path, once their writer stopped.
    sent: Mutex<HashMap<String, u64>>,
}

impl Proxy {
    /// Listens on an ephemeral port and forwards to `upstream`, one thread per connection.
    pub fn start(upstream: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let shared = Arc::new(Shared {
            client: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(60))
                .build()
                .unwrap(),
            upstream: upstream.trim_end_matches('/').to_owned(),
            answers: Mutex::default(),
            hold: Mutex::default(),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
            requests: Mutex::default(),
            sent: Mutex::default(),
        });
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let shared = accepting.clone();
                std::thread::spawn(move || shared.handle(stream));
            }
        });
        Self { url, shared }
    }

    /// From now on, answers `path` (e.g. `/index/timestamp.json`) with `answer`.
    pub fn answer(&self, path: &str, answer: Answer) {
        self.shared
            .answers
            .lock()
            .unwrap()
            .insert(path.to_owned(), answer);
    }

    /// From now on, forwards `path` again.
    pub fn forward(&self, path: &str) {
        self.shared.answers.lock().unwrap().remove(path);
    }

    /// From now on, forwards every path again.
    pub fn forward_all(&self) {
        self.shared.answers.lock().unwrap().clear();
    }

    /// Holds every request whose path starts with `prefix` for `delay` before answering it,
    /// counting how many are held at once ([`Proxy::most_in_flight`]).
    pub fn hold(&self, prefix: &str, delay: Duration) {
        *self.shared.hold.lock().unwrap() = Some((prefix.to_owned(), delay));
    }

    /// The most held requests that were in flight at the same time.
    pub fn most_in_flight(&self) -> usize {
        self.shared.most_in_flight.load(Ordering::SeqCst)
    }

    /// How many times `path` was asked for.
    pub fn requests(&self, path: &str) -> usize {
        let requests = self.shared.requests.lock().unwrap();
        requests.iter().filter(|p| *p == path).count()
    }

    /// Every path asked for so far, in order.
    pub fn requested(&self) -> Vec<String> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// The body bytes the proxy wrote for a generated answer ([`Answer::Endless`],
    /// [`Answer::Declared`]) at `path`, once the writer stopped (the client hung up or
    /// everything was sent); fails the test if it never stops.
    pub fn body_bytes_sent(&self, path: &str) -> u64 {
        let start = Instant::now();
        loop {
            if let Some(sent) = self.shared.sent.lock().unwrap().get(path) {
                return *sent;
            }
            assert!(
                start.elapsed() < WRITER_WAIT,
                "the proxy is still writing {path} after {WRITER_WAIT:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// `GET upstream+path` straight from the registry (to capture a document now and replay
    /// it later); fails the test unless it answers 200.
    pub fn upstream(&self, path: &str) -> Vec<u8> {
        let response = self
            .shared
            .client
            .get(format!("{}{path}", self.shared.upstream))
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path} from the registry");
        response.bytes().unwrap().to_vec()
    }
}

/// A request head: the method, the path and the `If-None-Match` header.
struct Request {
    method: String,
    path: String,
    if_none_match: Option<String>,
}

impl Shared {
    /// Answers one request and closes the connection.
    fn handle(&self, stream: TcpStream) {
        let Some(request) = read_head(&stream) else {
            return;
        };
        self.requests.lock().unwrap().push(request.path.clone());
        let held = self
            .hold
            .lock()
            .unwrap()
            .clone()
            .filter(|(prefix, _)| request.path.starts_with(prefix.as_str()));
        if let Some((_, delay)) = &held {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(*delay);
        }
        let answer = self.answers.lock().unwrap().get(&request.path).cloned();
        match answer {
            _ if request.method != "GET" => respond(stream, 405, &[], b"GET only"),
            Some(Answer::Bytes(body)) => respond(stream, 200, &[], &body),
            Some(Answer::Status(status)) => respond(stream, status, &[], b"from the proxy"),
            Some(Answer::Endless) => {
                let sent = generate(stream, None, ENDLESS_CAP);
                self.sent.lock().unwrap().insert(request.path.clone(), sent);
            }
            Some(Answer::Declared(length)) => {
                let sent = generate(stream, Some(length), length);
                self.sent.lock().unwrap().insert(request.path.clone(), sent);
            }
            None => self.forward(stream, &request),
        }
        if held.is_some() {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }

    /// Asks the registry and passes its status, `ETag`, `Content-Type` and body back.
    fn forward(&self, stream: TcpStream, request: &Request) {
        let mut upstream = self
            .client
            .get(format!("{}{}", self.upstream, request.path));
        if let Some(tag) = &request.if_none_match {
            upstream = upstream.header("if-none-match", tag);
        }
        let Ok(answer) = upstream.send() else {
            respond(stream, 502, &[], b"the registry did not answer the proxy");
            return;
        };
        let status = answer.status().as_u16();
        let headers: Vec<(&str, String)> = ["etag", "content-type"]
            .into_iter()
            .filter_map(|name| {
                let value = answer.headers().get(name)?.to_str().ok()?;
                Some((name, value.to_owned()))
            })
            .collect();
        match answer.bytes() {
            Ok(body) => respond(stream, status, &headers, &body),
            Err(_) => respond(stream, 502, &[], b"the registry's answer broke off"),
        }
    }
}

/// Reads a request head (a GET: no body follows); `None` when the client sent none.
fn read_head(stream: &TcpStream) -> Option<Request> {
    let mut lines = BufReader::new(stream).lines().map_while(Result::ok);
    let first = lines.next()?;
    let mut parts = first.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut if_none_match = None;
    for line in lines {
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.trim().eq_ignore_ascii_case("if-none-match")
        {
            if_none_match = Some(value.trim().to_owned());
        }
    }
    Some(Request {
        method,
        path,
        if_none_match,
    })
}

fn status_line(status: u16) -> String {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    format!("HTTP/1.1 {status} {reason}\r\n")
}

/// Writes one response and closes the connection.
fn respond(mut stream: TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head = status_line(status);
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n",
        body.len()
    ));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}

/// Writes a 200 announcing `declared` bytes (none: read until close), then up to `cap`
/// bytes of `{` until the client hangs up; returns how many body bytes were written.
fn generate(mut stream: TcpStream, declared: Option<u64>, cap: u64) -> u64 {
    let mut head = status_line(200);
    if let Some(length) = declared {
        head.push_str(&format!("content-length: {length}\r\n"));
    }
    head.push_str("content-type: application/json\r\nconnection: close\r\n\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return 0;
    }
    let chunk = vec![b'{'; CHUNK];
    let mut sent = 0u64;
    while sent < cap {
        let n = usize::try_from((cap - sent).min(CHUNK as u64)).unwrap();
        if stream.write_all(&chunk[..n]).is_err() {
            break;
        }
        sent += n as u64;
    }
    sent
}
