//! A forwarding HTTP/1.1 proxy on 127.0.0.1 in front of a registry, logging every request
//! it answers. Each GET is passed upstream with its headers (hop-by-hop ones aside) and the
//! answer passed back whole, status and headers included, on kept-alive connections on
//! both sides; paths a predicate marks as refused are answered 404 by the proxy itself.
//! Two proxies built from this code, one refusing some paths and one refusing none, put
//! the same hop in front of both sides of a comparison.
//!
//! Its threads (one per client connection) live as long as the process.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result};
use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// The longest request head read, in bytes.
const MAX_HEAD: u64 = 64 << 10;
/// A client connection silent this long is closed.
const IDLE: Duration = Duration::from_secs(30);
/// Headers that belong to one connection, never forwarded (RFC 9110, 7.6.1), and the
/// framing the proxy sets itself.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
];

/// Which request paths the proxy answers 404 itself.
pub type Refuse = fn(&str) -> bool;

/// One request the proxy answered: its path and the status it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    /// The request target, query included.
    pub path: String,
    /// The status sent back.
    pub status: u16,
}

/// A running proxy.
pub struct ForwardProxy {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    shared: Arc<Shared>,
}

/// What every connection shares.
struct Shared {
    client: Client,
    upstream: String,
    refuse: Refuse,
    log: Mutex<Vec<Logged>>,
}

/// A request head and body.
struct Request {
    method: String,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
    close: bool,
}

impl ForwardProxy {
    /// Listens on an ephemeral port of 127.0.0.1 and forwards to `upstream`, answering 404
    /// for every path `refuse` is true of.
    pub fn start(upstream: &str, refuse: Refuse) -> Result<Self> {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("bind the proxy's socket")?;
        let url = format!(
            "http://{}",
            listener.local_addr().context("the proxy's address")?
        );
        let client = Client::builder()
            .timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .context("build the proxy's HTTP client")?;
        let shared = Arc::new(Shared {
            client,
            upstream: upstream.trim_end_matches('/').to_owned(),
            refuse,
            log: Mutex::default(),
        });
        let accepting = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let shared = accepting.clone();
                std::thread::spawn(move || shared.serve(stream));
            }
        });
        Ok(Self { url, shared })
    }

    /// The requests answered since the last call, in order; the log is emptied.
    pub fn take_log(&self) -> Vec<Logged> {
        std::mem::take(
            &mut *self
                .shared
                .log
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

impl Shared {
    /// Answers the requests of one client connection until it closes or falls silent.
    fn serve(&self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(IDLE));
        let Ok(mut writer) = stream.try_clone() else {
            return;
        };
        let mut reader = BufReader::new(stream);
        while let Some(request) = read_request(&mut reader) {
            let (status, headers, body) = if (self.refuse)(&request.path) {
                (404, HeaderMap::new(), b"refused by the proxy".to_vec())
            } else {
                self.forward(&request)
            };
            self.log
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Logged {
                    path: request.path.clone(),
                    status,
                });
            let head_only = request.method == "HEAD";
            if respond(&mut writer, status, &headers, &body, head_only).is_err() || request.close {
                return;
            }
        }
    }

    /// Asks the registry; a failure becomes a 502.
    fn forward(&self, request: &Request) -> (u16, HeaderMap, Vec<u8>) {
        let Ok(method) = reqwest::Method::from_bytes(request.method.as_bytes()) else {
            return (405, HeaderMap::new(), b"unknown method".to_vec());
        };
        let answer = self
            .client
            .request(method, format!("{}{}", self.upstream, request.path))
            .headers(request.headers.clone())
            .body(request.body.clone())
            .send();
        let Ok(answer) = answer else {
            return (
                502,
                HeaderMap::new(),
                b"the registry did not answer".to_vec(),
            );
        };
        let status = answer.status().as_u16();
        let headers = end_to_end(answer.headers());
        match answer.bytes() {
            Ok(body) => (status, headers, body.to_vec()),
            Err(_) => (
                502,
                HeaderMap::new(),
                b"the registry's answer broke off".to_vec(),
            ),
        }
    }
}

/// `headers` without the hop-by-hop ones.
fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let mut kept = headers.clone();
    for name in HOP_BY_HOP {
        kept.remove(name);
    }
    kept
}

/// Reads one request (head, then a `Content-Length` body); `None` at the end of the
/// connection or on anything this proxy does not read (chunked bodies, bad heads).
fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = reader.by_ref().take(MAX_HEAD);
    let mut line = String::new();
    head.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let http10 = parts.next() == Some("HTTP/1.0");
    let mut headers = HeaderMap::new();
    let mut close = http10;
    let mut length = 0usize;
    loop {
        line.clear();
        head.read_line(&mut line).ok().filter(|n| *n > 0)?;
        let text = line.trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            break;
        }
        let (name, value) = text.split_once(':')?;
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        match name.as_str() {
            "content-length" => length = value.parse().ok()?,
            "transfer-encoding" => return None,
            "connection" => close = value.eq_ignore_ascii_case("close"),
            _ => {}
        }
        if !HOP_BY_HOP.contains(&name.as_str()) {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).ok()?,
                HeaderValue::from_str(value).ok()?,
            );
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
        close,
    })
}

/// Writes one response in a single write (head and body), framed by `Content-Length`.
fn respond(
    stream: &mut TcpStream,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    head_only: bool,
) -> std::io::Result<()> {
    let reason = reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Unknown");
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
    let no_body = head_only || status == 304 || status == 204 || status < 200;
    if status != 304 && status != 204 && status >= 200 {
        out.extend_from_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if !no_body {
        out.extend_from_slice(body);
    }
    stream.write_all(&out)?;
    stream.flush()
}
