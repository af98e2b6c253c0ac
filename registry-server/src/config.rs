//! Server configuration: where to listen, where the data lives, how big a publish may be.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Default largest publish body: 2 GiB.
pub const DEFAULT_MAX_PUBLISH_BYTES: u64 = 2 << 30;

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
}

impl RegistryConfig {
    /// A configuration with the default publish limit.
    pub fn new(addr: SocketAddr, data_dir: PathBuf) -> Self {
        Self {
            addr,
            data_dir,
            public_url: None,
            max_publish_bytes: DEFAULT_MAX_PUBLISH_BYTES,
        }
    }
}
