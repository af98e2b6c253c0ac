//! The sparse index is fetched concurrently: a proxy on 127.0.0.1, in front of a real
//! registry, holds every `/index/` answer for 300 ms and counts how many are in flight.
//!
//! ```text
//! hub 1.0.0 ──> dep_00 … dep_09 (each on tiny_base 1.0)
//! ```

#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{in_home, refused, succeeded, text};
use modularbase_tests::{Pack, TestRegistry};

/// How long the proxy holds each index answer.
const DELAY: Duration = Duration::from_millis(300);
/// How many index files the CLI may fetch at once.
const MAX_IN_FLIGHT: usize = 8;

/// An HTTP/1.1 proxy on 127.0.0.1 that delays `/index/` requests.
struct SlowProxy {
    url: String,
    forwarder: Arc<Forwarder>,
}

/// What every connection of the proxy shares.
struct Forwarder {
    client: reqwest::blocking::Client,
    upstream: String,
    /// A path answered with 500 instead of being forwarded.
    broken: Option<String>,
    in_flight: AtomicUsize,
    most_in_flight: AtomicUsize,
}

impl SlowProxy {
    /// Forwards to `upstream`, one thread per connection; `broken` (a path) gets a 500.
    fn start(upstream: &str, broken: Option<&str>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let forwarder = Arc::new(Forwarder {
            client: reqwest::blocking::Client::new(),
            upstream: upstream.to_owned(),
            broken: broken.map(str::to_owned),
            in_flight: AtomicUsize::new(0),
            most_in_flight: AtomicUsize::new(0),
        });
        let url = format!("http://{}", listener.local_addr().unwrap());
        let accepting = forwarder.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let forwarder = accepting.clone();
                std::thread::spawn(move || forwarder.handle(stream));
            }
        });
        Self { url, forwarder }
    }

    /// The most `/index/` requests that were in flight at the same time.
    fn most_in_flight(&self) -> usize {
        self.forwarder.most_in_flight.load(Ordering::SeqCst)
    }
}

impl Forwarder {
    /// Answers one request (and closes the connection), holding `/index/` ones for [`DELAY`].
    fn handle(&self, stream: TcpStream) {
        let path = request_path(&stream);
        let slow = path.starts_with("/index/");
        if slow {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.most_in_flight.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(DELAY);
        }
        if self.broken.as_deref() == Some(path.as_str()) {
            respond(stream, 500, None, b"broken");
        } else {
            // No If-None-Match is forwarded: every test starts from an empty home.
            let answer = self
                .client
                .get(format!("{}{path}", self.upstream))
                .send()
                .unwrap();
            let status = answer.status().as_u16();
            let etag = answer
                .headers()
                .get("etag")
                .map(|v| v.to_str().unwrap().to_owned());
            respond(stream, status, etag, &answer.bytes().unwrap());
        }
        if slow {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Reads a request head (a GET: no body follows) and returns its path.
fn request_path(stream: &TcpStream) -> String {
    let mut lines = BufReader::new(stream).lines().map_while(Result::ok);
    let path = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_default();
    lines.find(String::is_empty);
    path
}

/// Writes one response and closes the connection.
fn respond(mut stream: TcpStream, status: u16, etag: Option<String>, body: &[u8]) {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(etag) = etag {
        head.push_str(&format!("etag: {etag}\r\n"));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
}

/// `hub` needing ten packs, each needing the base.
fn hub() -> TestRegistry {
    let (registry, ada) = TestRegistry::with_base();
    let mut hub = Pack::domain("hub", "1.0.0");
    for i in 0..10 {
        let id = format!("dep_{i:02}");
        ada.publish_ok(&Pack::domain(&id, "1.0.0"));
        hub = hub.dep(&id, "^1");
    }
    ada.publish_ok(&hub);
    registry
}

#[test]
fn the_index_files_a_pack_names_are_fetched_concurrently_and_bounded() {
    let registry = hub();
    let proxy = SlowProxy::start(&registry.url, None);
    let dir = tempfile::tempdir().unwrap();
    let out = in_home(
        dir.path(),
        &dir.path().join("home"),
        &["pack", "resolve", "hub", "--registry", &proxy.url],
        "",
    );
    succeeded(&out);
    assert_eq!(
        text(&out.stdout).lines().count(),
        12,
        "{}",
        text(&out.stdout)
    );
    // hub alone, then its ten dependencies and the base together, at most eight at a time.
    let most = proxy.most_in_flight();
    assert!(
        (2..=MAX_IN_FLIGHT).contains(&most),
        "{most} index requests in flight at once"
    );
}

#[test]
fn a_failed_concurrent_fetch_names_its_pack() {
    let registry = hub();
    let proxy = SlowProxy::start(&registry.url, Some("/index/dep_07"));
    let dir = tempfile::tempdir().unwrap();
    let out = in_home(
        dir.path(),
        &dir.path().join("home"),
        &[
            "pack",
            "resolve",
            "hub",
            "--registry",
            &proxy.url,
            "--retries",
            "1",
        ],
        "",
    );
    refused(
        &out,
        "answered 500 Internal Server Error for the index of `dep_07`",
    );
    refused(
        &out,
        "spurious network error (500 Internal Server Error from",
    );
}
