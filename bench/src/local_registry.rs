//! Our registry started in-process on 127.0.0.1, on the same multi-threaded tokio runtime
//! as `registry serve` and without a tracing subscriber, so it logs nothing.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::{Context, Result};
use modularbase_registry::{RegistryConfig, RunningServer};
use tokio::runtime::Runtime;

/// A running registry on an ephemeral port; stop it with [`LocalRegistry::shutdown`].
pub struct LocalRegistry {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    data: PathBuf,
    runtime: Runtime,
    server: RunningServer,
}

impl LocalRegistry {
    /// Starts a registry keeping its database and blobs in `data`.
    pub fn start(data: PathBuf) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("build the tokio runtime")?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let server = runtime
            .block_on(modularbase_registry::start(RegistryConfig::new(
                addr,
                data.clone(),
            )))
            .context("start the registry")?;
        Ok(Self {
            url: server.public_url.clone(),
            data,
            runtime,
            server,
        })
    }

    /// Creates the user `login` and returns its all-scopes token.
    pub fn user(&self, login: &str) -> Result<String> {
        self.runtime
            .block_on(modularbase_registry::create_user(&self.data, login))
            .with_context(|| format!("create the user `{login}`"))
    }

    /// Stops the server and waits for it to close its database.
    pub fn shutdown(self) -> Result<()> {
        self.runtime
            .block_on(self.server.shutdown())
            .context("shut the registry down")
    }
}
