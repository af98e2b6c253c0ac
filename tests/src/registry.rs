//! A real registry process on 127.0.0.1 with a temporary data directory, and publishers.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use modularbase_pack::{PublishMetadata, Sha256Digest, SigningKey, encode_publish_header};
use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder, Response};

use crate::{Pack, modularbase_bin};

/// How long a registry may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A stopped registry: exit status, log lines, data directory and its owner.
pub type Stopped = (
    std::process::ExitStatus,
    Vec<String>,
    PathBuf,
    Option<tempfile::TempDir>,
);

/// A `modularbase registry serve` process, killed when dropped.
#[derive(Debug)]
pub struct TestRegistry {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The data directory.
    pub data: PathBuf,
    child: Child,
    dir: Option<tempfile::TempDir>,
    /// Server log lines before the listening line.
    early: Vec<String>,
    /// Server log lines after the listening line.
    log: mpsc::Receiver<String>,
    /// Runs the registry's administration commands.
    admin: Admin,
}

/// The binary that administers a test registry.
#[derive(Debug, Clone)]
enum Admin {
    /// `modularbase registry …`, found when first needed.
    Cli,
    /// The standalone `modularbase-registry …` (the same commands).
    Standalone(PathBuf),
}

impl Admin {
    fn command(&self) -> Command {
        match self {
            Self::Cli => {
                let mut command = Command::new(modularbase_bin());
                command.arg("registry");
                command
            }
            Self::Standalone(bin) => Command::new(bin),
        }
    }
}

impl TestRegistry {
    /// Starts a registry on an ephemeral port with a fresh data directory.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a registry with extra `serve` arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut registry = Self::start_on(dir.path().join("data"), extra);
        registry.dir = Some(dir);
        registry
    }

    /// Starts a registry on an existing data directory (for restart tests).
    pub fn start_on(data: PathBuf, extra: &[&str]) -> Self {
        let mut command = Command::new(modularbase_bin());
        command
            .args(["registry", "serve", "--addr", "127.0.0.1:0", "--data"])
            .arg(&data)
            .args(extra);
        Self::spawn(command, data)
    }

    /// Starts a registry with the standalone `modularbase-registry` binary at `bin` (from
    /// `env!("CARGO_BIN_EXE_modularbase-registry")`), which also runs [`TestRegistry::admin`]:
    /// for the registry crate's own tests, which must not need the CLI built.
    pub fn start_standalone(bin: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let mut command = Command::new(bin);
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--data"])
            .arg(&data);
        let mut registry = Self::spawn_with(command, data, Admin::Standalone(bin.to_owned()));
        registry.dir = Some(dir);
        registry
    }

    /// [`TestRegistry::start_standalone`] with extra `serve` arguments.
    pub fn start_standalone_with(bin: &Path, extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut registry = Self::start_standalone_on(bin, dir.path().join("data"), extra);
        registry.dir = Some(dir);
        registry
    }

    /// [`TestRegistry::start_standalone`] on an existing data directory, with extra `serve`
    /// arguments (for restart and recovery tests).
    pub fn start_standalone_on(bin: &Path, data: PathBuf, extra: &[&str]) -> Self {
        let mut command = Command::new(bin);
        command
            .args(["serve", "--addr", "127.0.0.1:0", "--data"])
            .arg(&data)
            .args(extra);
        Self::spawn_with(command, data, Admin::Standalone(bin.to_owned()))
    }

    /// Spawns a prepared `serve` command (to test its flags and environment) and waits for
    /// its `listening on URL` line; `data` is the data directory it serves, for `admin`.
    pub fn spawn(command: Command, data: PathBuf) -> Self {
        Self::spawn_with(command, data, Admin::Cli)
    }

    fn spawn_with(mut command: Command, data: PathBuf, admin: Admin) -> Self {
        let mut child = command
            .env("NO_COLOR", "1")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Drain stderr for the process's whole life so logging never blocks the server.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        let url = loop {
            match rx.recv_timeout(START_TIMEOUT) {
                Ok(line) => {
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        break rest.split_whitespace().next().unwrap().to_owned();
                    }
                    seen.push(line);
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!("the registry did not start:\n{}", seen.join("\n"));
                }
            }
        };
        Self {
            url,
            data,
            child,
            dir: None,
            early: seen,
            log: rx,
            admin,
        }
    }

    /// A fresh registry with `tiny_base` 1.0.0 published by `ada`.
    pub fn with_base() -> (Self, Publisher) {
        let registry = Self::start();
        let ada = registry.user("ada");
        ada.publish_ok(&Pack::base("tiny_base", "1.0.0"));
        (registry, ada)
    }

    /// The sparse-index records of `id`, parsed (empty when the pack is unknown).
    pub fn index(&self, id: &str) -> Vec<modularbase_pack::IndexRecord> {
        let response = self.get(&format!("/index/{id}"));
        if response.status() == 404 {
            return Vec::new();
        }
        assert_eq!(response.status(), 200, "GET /index/{id}");
        modularbase_pack::parse_index_lines(&id.parse().unwrap(), &response.text().unwrap())
            .unwrap()
    }

    /// The process id (for signals).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`: no chance to flush or clean anything. Returns the data directory's
    /// owner so a restart can reuse it.
    pub fn kill9(mut self) -> (PathBuf, Option<tempfile::TempDir>) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        (self.data.clone(), self.dir.take())
    }

    /// SIGTERM, then waits for a clean exit; returns the exit status, the whole log (from
    /// start) and the data.
    pub fn terminate(self) -> Stopped {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.terminate_waiting()
    }

    /// Waits for a process already told to stop (by a signal sent elsewhere) to exit.
    pub fn terminate_waiting(mut self) -> Stopped {
        let exit = self.child.wait().unwrap();
        let mut log = std::mem::take(&mut self.early);
        log.extend(self.log.try_iter());
        (exit, log, self.data.clone(), self.dir.take())
    }

    /// An HTTP client.
    pub fn client(&self) -> Client {
        Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap()
    }

    /// `GET url+path`.
    pub fn get(&self, path: &str) -> Response {
        self.client()
            .get(format!("{}{path}", self.url))
            .send()
            .unwrap()
    }

    /// Runs `modularbase registry ARGS --data DATA` (or the standalone binary's `ARGS`) and
    /// returns its output.
    pub fn admin(&self, args: &[&str]) -> std::process::Output {
        self.admin
            .command()
            .args(args)
            .arg("--data")
            .arg(&self.data)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    }

    /// Creates `login` with an all-scopes token and a registered signing key.
    pub fn user(&self, login: &str) -> Publisher {
        let out = self.admin(&["user", "add", login]);
        assert!(
            out.status.success(),
            "user add: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let publisher = Publisher {
            url: self.url.clone(),
            login: login.to_owned(),
            token,
            key: SigningKey::generate(),
            client: self.client(),
        };
        publisher.register_key();
        publisher
    }

    /// A publisher for `login` with another token (for scope tests).
    pub fn token(&self, login: &str, scopes: &[&str]) -> String {
        let mut args = vec!["token", "create", "--user", login];
        for scope in scopes {
            args.extend(["--scope", scope]);
        }
        let out = self.admin(&args);
        assert!(
            out.status.success(),
            "token create: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user with an API token and a registered Ed25519 key.
#[derive(Debug, Clone)]
pub struct Publisher {
    /// Registry URL.
    pub url: String,
    /// Their login.
    pub login: String,
    /// Their API token.
    pub token: String,
    /// Their signing key (registered).
    pub key: SigningKey,
    client: Client,
}

/// A publish request about to be sent; tests may tamper with any part.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The metadata block.
    pub metadata: PublishMetadata,
    /// The archive bytes.
    pub archive: Vec<u8>,
}

impl Upload {
    /// The publish body (cargo's layout).
    pub fn body(&self) -> Vec<u8> {
        let mut body =
            encode_publish_header(&self.metadata, u32::try_from(self.archive.len()).unwrap());
        body.extend_from_slice(&self.archive);
        body
    }
}

impl Publisher {
    /// The same user and key with another token.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            token: token.to_owned(),
            ..self.clone()
        }
    }

    /// The same user and token with another (perhaps unregistered) key.
    pub fn with_key(&self, key: SigningKey) -> Self {
        Self {
            key,
            ..self.clone()
        }
    }

    /// The same user, token and key against another server URL (after a restart).
    pub fn clone_for(&self, url: &str) -> Self {
        Self {
            url: url.to_owned(),
            ..self.clone()
        }
    }

    /// Sends a publish body; `None` when the connection failed (server gone).
    pub fn try_send(&self, body: Vec<u8>) -> Option<u16> {
        self.request(Method::PUT, "/api/v1/packs/new")
            .body(body)
            .send()
            .ok()
            .map(|r| r.status().as_u16())
    }

    /// A request to `url+path` carrying the token.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.url))
            .header("Authorization", &self.token)
    }

    fn register_key(&self) {
        let response = self
            .request(Method::POST, "/api/v1/keys")
            .json(&serde_json::json!({ "key": self.key.public_key().to_string() }))
            .send()
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "key register: {}",
            response.text().unwrap_or_default()
        );
    }

    /// The signed upload of `pack`.
    pub fn prepare(&self, pack: &Pack) -> Upload {
        self.prepare_archive(pack, pack.archive())
    }

    /// The signed upload of `pack` with its archive built without checks (for packs the
    /// registry must refuse).
    pub fn prepare_unchecked(&self, pack: &Pack) -> Upload {
        self.prepare_archive(pack, pack.unchecked_archive())
    }

    fn prepare_archive(&self, pack: &Pack, archive: Vec<u8>) -> Upload {
        let cksum = Sha256Digest::of(&archive);
        let id = pack.id.parse().unwrap();
        let vers: semver::Version = pack.version.parse().unwrap();
        let sig = self.key.sign_pack(&id, &vers, &cksum);
        Upload {
            metadata: PublishMetadata {
                id,
                vers,
                cksum,
                sig,
                key: self.key.public_key(),
            },
            archive,
        }
    }

    /// Sends a publish body as is.
    pub fn send(&self, body: Vec<u8>) -> Response {
        self.request(Method::PUT, "/api/v1/packs/new")
            .body(body)
            .send()
            .unwrap()
    }

    /// Publishes `pack`, returning the response whatever it is.
    pub fn publish(&self, pack: &Pack) -> Response {
        self.send(self.prepare(pack).body())
    }

    /// Publishes `pack` and fails the test unless it was accepted.
    pub fn publish_ok(&self, pack: &Pack) {
        let response = self.publish(pack);
        let status = response.status();
        assert_eq!(
            status,
            200,
            "publish {}@{}: {}",
            pack.id,
            pack.version,
            response.text().unwrap_or_default()
        );
    }
}

/// Where a test registry keeps an archive with `cksum` (for tampering tests).
pub fn blob_path(data: &Path, cksum: &Sha256Digest) -> PathBuf {
    let hex = cksum.to_hex();
    data.join("blobs/sha256")
        .join(&hex[..2])
        .join(&hex[2..4])
        .join(hex)
}

/// The status and the error detail of a refused request; fails the test unless the body is
/// the registry's `{"errors":[{"detail":…}]}` envelope with exactly one error.
pub fn refusal(response: Response) -> (u16, String) {
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    let envelope: modularbase_pack::ErrorEnvelope = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("not an error envelope ({e}): {text}"));
    assert_eq!(envelope.errors.len(), 1, "{text}");
    (status, envelope.errors[0].detail.clone())
}
