//! A registry that misbehaves on purpose, on 127.0.0.1: it serves the index files it is
//! given (copied from a real registry, perhaps altered) and answers each download as told —
//! the archive, a stall after the headers, silence, an endless stream, a status — so tests
//! can show that an install is bounded in time and bytes whatever a registry does.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::TestRegistry;

/// How a download is answered.
#[derive(Debug, Clone)]
pub enum Download {
    /// 200 with these bytes.
    Bytes(Vec<u8>),
    /// 200 without a length, 10 bytes, then nothing, the connection held open.
    Stall,
    /// Reads the request and never answers.
    Silent,
    /// 200 without a length and bytes forever.
    Endless,
    /// This status, empty body.
    Status(u16),
}

/// What the fake registry serves.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    /// Index file bodies by pack id.
    pub index: HashMap<String, String>,
    /// Download answers by `ID/VERSION`.
    pub downloads: HashMap<String, Download>,
    /// Requests of the index files in `index` answered 503 before the first real answer.
    pub index_failures: usize,
    /// Index requests redirected (302) to this origin instead.
    pub redirect_index_to: Option<String>,
    /// Index requests never answered.
    pub silent_index: bool,
}

impl Routes {
    /// The index files and archives of `ids`, as `registry` serves them.
    pub fn copy_of(registry: &TestRegistry, ids: &[&str]) -> Self {
        let mut routes = Self::default();
        for id in ids {
            let records = registry.index(id);
            let lines: Vec<String> = records.iter().map(|r| r.to_line()).collect();
            routes
                .index
                .insert((*id).to_owned(), lines.join("\n") + "\n");
            for record in records {
                let bytes = registry
                    .get(&format!(
                        "/api/v1/packs/{}/{}/download",
                        record.id, record.vers
                    ))
                    .bytes()
                    .unwrap()
                    .to_vec();
                routes.downloads.insert(
                    format!("{}/{}", record.id, record.vers),
                    Download::Bytes(bytes),
                );
            }
        }
        routes
    }
}

/// The fake registry, stopped when dropped.
#[derive(Debug)]
pub struct FakeRegistry {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Download requests received.
    pub downloads: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl FakeRegistry {
    /// Starts serving `routes` on an ephemeral port.
    pub fn start(routes: Routes) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let downloads = Arc::new(AtomicUsize::new(0));
        let failures = Arc::new(AtomicUsize::new(routes.index_failures));
        let routes = Arc::new(routes);
        let accept = {
            let (stop, downloads) = (stop.clone(), downloads.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (routes, stop) = (routes.clone(), stop.clone());
                            let (downloads, failures) = (downloads.clone(), failures.clone());
                            std::thread::spawn(move || {
                                let _ = serve(stream, &routes, &stop, &downloads, &failures);
                            });
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Self {
            url,
            downloads,
            stop,
            accept: Some(accept),
        }
    }
}

impl Drop for FakeRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// Waits until the registry stops.
fn hold(stop: &AtomicBool) {
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn respond(stream: &mut TcpStream, status: u16, headers: &str, body: &[u8]) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n",
        body.len()
    )?;
    stream.write_all(body)
}

fn serve(
    mut stream: TcpStream,
    routes: &Routes,
    stop: &AtomicBool,
    downloads: &AtomicUsize,
    failures: &AtomicUsize,
) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line.split(' ').nth(1).unwrap_or("/").to_owned();
    if let Some(id) = path.strip_prefix("/index/") {
        if routes.silent_index {
            hold(stop);
            return Ok(());
        }
        // Only the index files it holds fail: the client's probes for signed metadata
        // (answered 404, so it reads this registry as one without) go out in parallel
        // and would otherwise take the failures in a varying order.
        if routes.index.contains_key(id)
            && failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return respond(&mut stream, 503, "", b"busy");
        }
        if let Some(origin) = &routes.redirect_index_to {
            return respond(
                &mut stream,
                302,
                &format!("Location: {origin}{path}\r\n"),
                b"",
            );
        }
        return match routes.index.get(id) {
            Some(body) => respond(&mut stream, 200, "", body.as_bytes()),
            None => respond(&mut stream, 404, "", b"{}"),
        };
    }
    let key = path
        .strip_prefix("/api/v1/packs/")
        .and_then(|rest| rest.strip_suffix("/download"));
    let Some(answer) = key.and_then(|k| routes.downloads.get(k)) else {
        return respond(&mut stream, 404, "", b"{}");
    };
    downloads.fetch_add(1, Ordering::SeqCst);
    match answer {
        Download::Bytes(bytes) => respond(&mut stream, 200, "", bytes),
        Download::Status(code) => respond(&mut stream, *code, "", b""),
        Download::Silent => {
            hold(stop);
            Ok(())
        }
        Download::Stall => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            stream.write_all(&[0u8; 10])?;
            stream.flush()?;
            hold(stop);
            Ok(())
        }
        Download::Endless => {
            stream.write_all(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            let chunk = vec![0x5au8; 64 << 10];
            while !stop.load(Ordering::Relaxed) {
                stream.write_all(&chunk)?;
            }
            Ok(())
        }
    }
}
