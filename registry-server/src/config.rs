//! Server configuration: where to listen, where the data lives, how big a publish may be,
//! and the time and connection limits that keep slow or hostile clients from holding it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Default largest publish body: 2 GiB.
pub const DEFAULT_MAX_PUBLISH_BYTES: u64 = 2 << 30;

/// Default time a client has to send a request's line and headers.
pub(crate) const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default longest wait for the next bytes of a publish body.
pub(crate) const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default deadline of a whole request on every route but publish.
pub(crate) const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time an idle keep-alive connection waits for its next request.
pub(crate) const DEFAULT_KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(60);
/// Default most open connections.
pub(crate) const DEFAULT_MAX_CONNECTIONS: usize = 4096;
/// Default most open connections from one client IP address.
pub(crate) const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 256;

/// What a registry server needs to start.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Address to bind (port 0 picks a free one).
    pub addr: SocketAddr,
    /// The data directory (database, blobs, temporary uploads).
    pub data_dir: PathBuf,
    /// The URL clients reach the server at; defaults to `http://ADDR` of the bound socket.
    pub public_url: Option<String>,
    /// Largest accepted publish body in bytes; larger ones get 413.
    pub max_publish_bytes: u64,
    /// How long a client may take to send a request's line and headers, from the moment
    /// the server waits for them; the connection is closed when it runs out.
    pub header_timeout: Duration,
    /// Longest wait for the next bytes of a publish body (408, the upload is dropped).
    pub body_timeout: Duration,
    /// Deadline of a whole request on every route but publish (503).
    pub request_timeout: Duration,
    /// How long a keep-alive connection that has answered a request may wait, idle, for its
    /// next one (once its first byte arrives, the header timeout applies).
    pub keep_alive_timeout: Duration,
    /// Most open connections; beyond it a connection is answered 503 and closed.
    pub max_connections: usize,
    /// Most open connections from one client IP address; beyond it, 503 and closed.
    pub max_connections_per_ip: usize,
    /// How long each signed `snapshot.json` is valid (re-signed at half of it).
    pub snapshot_expiry: Duration,
    /// How long each signed `timestamp.json` is valid (re-signed at half of it).
    pub timestamp_expiry: Duration,
}

impl RegistryConfig {
    /// A configuration with the default publish, time and connection limits.
    pub fn new(addr: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            addr,
            data_dir,
            public_url: None,
            max_publish_bytes: DEFAULT_MAX_PUBLISH_BYTES,
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            keep_alive_timeout: DEFAULT_KEEP_ALIVE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_connections_per_ip: DEFAULT_MAX_CONNECTIONS_PER_IP,
            snapshot_expiry: crate::metadata::DEFAULT_SNAPSHOT_EXPIRY,
            timestamp_expiry: crate::metadata::DEFAULT_TIMESTAMP_EXPIRY,
        }
    }
}
