//! The demo's registry: the real server (`modularbase_registry::start`) on 127.0.0.1 in
//! this process, with one user and its token. Ctrl-C is caught from the start, so the demo
//! stops cleanly at its next step (the temporary home removed) or ends its serving.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;

use anyhow::{Context, bail};
use modularbase_registry::{RegistryConfig, RunningServer};
use tokio::task::JoinHandle;

/// A registry serving from this process.
#[derive(Debug)]
pub(crate) struct DemoRegistry {
    runtime: tokio::runtime::Runtime,
    server: RunningServer,
    interrupt: JoinHandle<std::io::Result<()>>,
    /// Its URL, `http://127.0.0.1:PORT`.
    pub(crate) url: String,
    /// The token of its one user (every scope).
    pub(crate) token: String,
}

impl DemoRegistry {
    /// Serves a new registry keeping its data in `data`, on `127.0.0.1:port` (0: a free
    /// port), with user `login`.
    pub(crate) fn start(data: &Path, port: u16, login: &str) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data)
            .with_context(|| format!("cannot create `{}`", data.display()))?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the registry's async runtime")?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let server = runtime
            .block_on(modularbase_registry::start(RegistryConfig::new(
                addr,
                data.to_owned(),
            )))
            .context("cannot start the demo registry")?;
        let token = runtime
            .block_on(modularbase_registry::create_user(data, login))
            .context("cannot create the demo registry's user")?;
        let interrupt = runtime.spawn(tokio::signal::ctrl_c());
        let url = server.public_url.clone();
        Ok(Self {
            runtime,
            server,
            interrupt,
            url,
            token,
        })
    }

    /// Fails once Ctrl-C was pressed, so the demo stops at its next step.
    pub(crate) fn check_interrupt(&self) -> anyhow::Result<()> {
        if self.interrupt.is_finished() {
            bail!("interrupted");
        }
        Ok(())
    }

    /// Serves until Ctrl-C.
    pub(crate) fn serve_until_interrupted(&mut self) -> anyhow::Result<()> {
        self.runtime
            .block_on(&mut self.interrupt)
            .context("the Ctrl-C watch stopped")?
            .context("cannot listen for Ctrl-C")
    }

    /// Lets requests in flight finish and closes the database.
    pub(crate) fn shutdown(self) -> anyhow::Result<()> {
        self.interrupt.abort();
        self.runtime
            .block_on(self.server.shutdown())
            .context("the demo registry did not stop cleanly")
    }
}
