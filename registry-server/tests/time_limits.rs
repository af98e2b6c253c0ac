//! Time and connection limits of a real registry process on 127.0.0.1: half-sent request
//! heads are cut off at the header timeout while the server keeps answering, a stalled
//! publish gets 408 and leaves no temporary file, connections over the limits get 503 with
//! the JSON error envelope, and start-up removes temporary uploads left by a dead process.

#![allow(clippy::unwrap_used)]

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use modularbase_pack::ErrorEnvelope;
use modularbase_tests::{Pack, TestRegistry};

fn bin() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_modularbase-registry"))
}

/// `host:port` of a registry URL.
fn addr(registry: &TestRegistry) -> String {
    registry
        .url
        .strip_prefix("http://")
        .unwrap()
        .trim_end_matches('/')
        .to_owned()
}

/// A raw HTTP/1.1 answer: status, lower-cased headers, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The one error detail of the JSON error envelope; fails unless the answer is one.
    fn detail(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "{:?}",
            self.headers
        );
        let envelope: ErrorEnvelope = serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not an error envelope ({e}): {}", self.body));
        assert_eq!(envelope.errors.len(), 1, "{}", self.body);
        envelope.errors[0].detail.clone()
    }
}

/// Reads one response (head, then `content-length` bytes, or to the end) from `tcp`.
fn read_answer(tcp: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(at) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        let n = tcp.read(&mut chunk).unwrap();
        assert!(
            n > 0,
            "connection closed before a response: {:?}",
            String::from_utf8_lossy(&bytes)
        );
        bytes.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(bytes[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = bytes[head_end + 4..].to_vec();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| v.parse::<usize>().unwrap());
    match length {
        Some(length) => {
            while body.len() < length {
                let n = tcp.read(&mut chunk).unwrap();
                assert!(n > 0, "body cut short");
                body.extend_from_slice(&chunk[..n]);
            }
        }
        None => {
            tcp.read_to_end(&mut body).unwrap();
        }
    }
    Answer {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

/// `GET path` on a fresh connection, raw.
fn raw_get(addr: &str, path: &str) -> Answer {
    let mut tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        tcp,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    read_answer(&mut tcp)
}

/// Whether the server has closed `tcp` (EOF or reset) before `deadline`.
fn closed_by(tcp: &mut TcpStream, deadline: Instant) -> bool {
    let mut sink = [0u8; 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        tcp.set_read_timeout(Some(left)).unwrap();
        match tcp.read(&mut sink) {
            Ok(0) => return true,
            // A response before closing (hyper may answer 408) is still a close.
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn temp_uploads(data: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(data.join("tmp")) else {
        return Vec::new();
    };
    entries
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("upload-"))
        })
        .collect()
}

#[test]
fn slowloris_half_open_connections_are_closed_within_the_header_timeout() {
    // 500 connections from one address: above the default per-address limit on purpose, the
    // header timeout is what must deal with them here. (The fd soft limit must allow ~520.)
    let registry = TestRegistry::start_standalone_with(
        bin(),
        &["--header-timeout", "2", "--max-connections-per-ip", "1000"],
    );
    let addr = addr(&registry);
    let client = registry.client();
    let health = format!("{}/health", registry.url);
    assert_eq!(client.get(&health).send().unwrap().status(), 200);

    let mut half_open: Vec<(Instant, TcpStream)> = (0..500)
        .map(|_| {
            let mut tcp = TcpStream::connect(&addr).unwrap();
            tcp.write_all(b"GET /hea").unwrap();
            (Instant::now(), tcp)
        })
        .collect();

    // While they hang, the server answers at once.
    for _ in 0..5 {
        let started = Instant::now();
        let response = client.get(&health).send().unwrap();
        let took = started.elapsed();
        assert_eq!(response.status(), 200);
        assert!(
            took < Duration::from_millis(100),
            "/health took {took:?} with 500 half-open connections"
        );
    }
    // (On a loaded machine opening 500 may outlast the timeout; most must still be open.)
    let mut still_open = 0;
    for (_, tcp) in &mut half_open {
        tcp.set_nonblocking(true).unwrap();
        if matches!(tcp.read(&mut [0u8; 16]), Err(e) if e.kind() == ErrorKind::WouldBlock) {
            still_open += 1;
        }
        tcp.set_nonblocking(false).unwrap();
    }
    assert!(
        still_open >= 250,
        "only {still_open} of the 500 were open during the /health checks"
    );

    // Every one is closed by the server within the timeout plus a margin, and not before
    // the timeout (the first, read first, is closed when measured).
    for (i, (opened, tcp)) in half_open.iter_mut().enumerate() {
        assert!(
            closed_by(tcp, *opened + Duration::from_secs(10)),
            "connection {i} still open {:?} after it sent half a request line",
            opened.elapsed()
        );
        if i == 0 {
            let closed = opened.elapsed();
            assert!(
                closed >= Duration::from_millis(1500),
                "closed after {closed:?}, before the 2 s header timeout"
            );
        }
    }
    // And the server is still fine.
    assert_eq!(raw_get(&addr, "/health").status, 200);
}

#[test]
fn a_stalled_upload_gets_408_within_the_body_timeout_and_leaves_no_temp_file() {
    let registry = TestRegistry::start_standalone_with(bin(), &["--body-timeout", "2"]);
    let ada = registry.user("ada");
    let upload = ada.prepare(&Pack::base("tiny_base", "1.0.0"));
    let body = upload.body();
    // The whole metadata block and half the archive: the archive is being written to disk.
    let sent = body.len() - upload.archive.len() / 2;
    assert!(sent < body.len());
    let addr = addr(&registry);
    let mut tcp = TcpStream::connect(&addr).unwrap();
    write!(
        tcp,
        "PUT /api/v1/packs/new HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        ada.token,
        body.len()
    )
    .unwrap();
    tcp.write_all(&body[..sent]).unwrap();
    tcp.flush().unwrap();
    let stalled = Instant::now();

    // The upload is in flight: its temporary file exists.
    let seen = loop {
        if !temp_uploads(&registry.data).is_empty() {
            break true;
        }
        if stalled.elapsed() > Duration::from_millis(1500) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(
        seen,
        "no tmp/upload-* appeared while the body was half sent"
    );

    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let answer = read_answer(&mut tcp);
    let waited = stalled.elapsed();
    assert_eq!(answer.status, 408, "{}", answer.body);
    let detail = answer.detail();
    assert!(detail.contains("stalled"), "{detail}");
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(6),
        "408 after {waited:?} with a 2 s body timeout"
    );
    assert_eq!(temp_uploads(&registry.data), Vec::<PathBuf>::new());

    // Nothing was published; the same upload sent whole still goes through.
    assert!(registry.index("tiny_base").is_empty());
    assert_eq!(ada.send(body).status(), 200);
}

/// Opens `limit` idle connections, then checks the next one gets 503 with the envelope
/// (its detail containing `expect`) and that closing one frees a place.
fn check_connection_limit(registry: &TestRegistry, limit: usize, expect: &str) {
    let addr = addr(registry);
    let mut open: Vec<TcpStream> = (0..limit)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    // The server has accepted them all once one more request is answered... or refused.
    let answer = raw_get(&addr, "/health");
    assert_eq!(answer.status, 503, "{}", answer.body);
    let detail = answer.detail();
    assert!(detail.contains(expect), "{detail}");
    assert!(detail.contains(&limit.to_string()), "{detail}");

    open.pop();
    let freed = Instant::now();
    loop {
        let answer = raw_get(&addr, "/health");
        if answer.status == 200 {
            break;
        }
        assert!(
            freed.elapsed() < Duration::from_secs(3),
            "a closed connection did not free its place: {} {}",
            answer.status,
            answer.body
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn connections_beyond_the_per_ip_limit_get_503_with_the_envelope() {
    let registry = TestRegistry::start_standalone_with(bin(), &["--max-connections-per-ip", "3"]);
    check_connection_limit(&registry, 3, "127.0.0.1 has 3 connections open");
}

#[test]
fn connections_beyond_the_total_limit_get_503_with_the_envelope() {
    let registry = TestRegistry::start_standalone_with(
        bin(),
        &["--max-connections", "4", "--max-connections-per-ip", "100"],
    );
    check_connection_limit(&registry, 4, "the registry has 4 connections open");
}

#[test]
fn start_up_removes_stale_temporary_uploads_and_keeps_fresh_ones() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tmp = data.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let write = |name: &str, modified: Option<SystemTime>| {
        let path = tmp.join(name);
        let file = std::fs::File::create(&path).unwrap();
        if let Some(at) = modified {
            file.set_modified(at).unwrap();
        }
        path
    };
    let stale = write("upload-stale", Some(hour_ago));
    let fresh = write("upload-fresh", None);
    let other = write("not-an-upload", Some(hour_ago));

    let registry = TestRegistry::start_standalone_on(bin(), data.clone(), &["--body-timeout", "2"]);
    assert!(!stale.exists(), "an hour-old upload survived start-up");
    assert!(fresh.exists(), "an upload written just now was removed");
    assert!(
        other.exists(),
        "start-up removed a file that is not an upload"
    );
    assert_eq!(registry.get("/health").status(), 200);
}

#[test]
fn a_keep_alive_connection_idles_up_to_the_keep_alive_timeout_not_the_header_timeout() {
    let registry = TestRegistry::start_standalone_with(
        bin(),
        &["--header-timeout", "1", "--keep-alive-timeout", "3"],
    );
    let addr = addr(&registry);
    let mut tcp = TcpStream::connect(&addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let get = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    tcp.write_all(get.as_bytes()).unwrap();
    assert_eq!(read_answer(&mut tcp).status, 200);
    // Idle longer than the header timeout: the connection still serves the next request.
    std::thread::sleep(Duration::from_millis(1800));
    tcp.write_all(get.as_bytes()).unwrap();
    assert_eq!(read_answer(&mut tcp).status, 200);
    // Then, idle, it is closed at the keep-alive timeout.
    let answered = Instant::now();
    assert!(closed_by(&mut tcp, answered + Duration::from_secs(8)));
    let idled = answered.elapsed();
    assert!(
        idled >= Duration::from_millis(2500) && idled < Duration::from_secs(6),
        "closed after {idled:?} idle with a 3 s keep-alive timeout"
    );
}

#[test]
fn sigterm_lets_an_in_flight_publish_finish_and_does_not_wait_for_idle_connections() {
    let registry = TestRegistry::start_standalone_with(bin(), &[]);
    let ada = registry.user("ada");
    let body = ada.prepare(&Pack::base("tiny_base", "1.0.0")).body();
    let addr = addr(&registry);
    // An idle keep-alive connection that has been answered once.
    let mut idle = TcpStream::connect(&addr).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(idle, "GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    assert_eq!(read_answer(&mut idle).status, 200);

    let mut publish = TcpStream::connect(&addr).unwrap();
    publish
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        publish,
        "PUT /api/v1/packs/new HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {}\r\nContent-Length: {}\r\n\r\n",
        ada.token,
        body.len()
    )
    .unwrap();
    publish.write_all(&body[..body.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(200));

    let pid = registry.pid().to_string();
    let stopping = Instant::now();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(200));
    // The idle connection is closed at once; the publish goes on.
    assert!(closed_by(
        &mut idle,
        Instant::now() + Duration::from_secs(2)
    ));
    publish.write_all(&body[body.len() / 2..]).unwrap();
    let answer = read_answer(&mut publish);
    assert_eq!(answer.status, 200, "{}", answer.body);
    let (status, _log, _data, _dir) = registry.terminate_waiting();
    assert!(status.success(), "{status:?}");
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "stopping took {:?}",
        stopping.elapsed()
    );
}
