//! Starting and stopping the server: the engine thread, the listener, and a graceful
//! shutdown on SIGINT or SIGTERM — requests in flight finish, requests arriving meanwhile
//! get 503, then the process exits.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use modularbase_runtime::{KeepAlive, Runtime};
use tokio::net::TcpListener;

use crate::engine::{Engine, Limits};
use crate::metrics::ServeMetrics;
use crate::models::Models;
use crate::routes::{AppState, router};

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where to listen (`127.0.0.1:11435`; port 0 picks a free one).
    pub addr: SocketAddr,
    /// Slots and queue.
    pub limits: Limits,
    /// How long a pack stays loaded after its last request, unless the request says.
    pub keep_alive: KeepAlive,
}

/// The default address: Ollama's port plus one.
pub const DEFAULT_ADDR: &str = "127.0.0.1:11435";

/// How often a draining server looks whether its last request has finished.
const DRAIN_POLL: Duration = Duration::from_millis(50);

/// Serves `runtime` until SIGINT or SIGTERM; `listening` is called with the bound address
/// once requests are accepted.
pub fn serve(
    options: &ServeOptions,
    runtime: Runtime,
    listening: impl FnOnce(SocketAddr, &Models),
) -> anyhow::Result<()> {
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("modularbase-http")
        .build()?;
    tokio.block_on(async {
        let listener = TcpListener::bind(options.addr).await.map_err(|e| {
            anyhow::anyhow!(
                "cannot listen on {}: {e}; is another server running there? pass --addr HOST:PORT",
                options.addr
            )
        })?;
        let (server, addr, models) = start(listener, options, runtime)?;
        listening(addr, &models);
        server.run(shutdown_signal()).await
    })
}

/// A server that is open and bound, not yet serving.
pub struct Server {
    listener: TcpListener,
    state: AppState,
}

/// Hands `runtime` to the engine thread and prepares the routes over `listener`.
pub fn start(
    listener: TcpListener,
    options: &ServeOptions,
    mut runtime: Runtime,
) -> anyhow::Result<(Server, SocketAddr, Models)> {
    let metrics = Arc::new(ServeMetrics::new());
    runtime.set_default_keep_alive(options.keep_alive);
    let models = Models::of(&runtime);
    let engine = Engine::start(runtime, options.limits, metrics.clone())?;
    let addr = listener.local_addr()?;
    let state = AppState {
        engine,
        models: Arc::new(models.clone()),
        metrics,
    };
    Ok((Server { listener, state }, addr, models))
}

impl Server {
    /// Serves until `stop` resolves, then drains: no new requests (503), those in flight
    /// finish, and the connections close.
    pub async fn run(self, stop: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let engine = self.state.engine.clone();
        let drained = async move {
            stop.await;
            tracing::info!("shutting down: finishing the requests in flight");
            engine.close();
            while !engine.is_idle() {
                tokio::time::sleep(DRAIN_POLL).await;
            }
        };
        axum::serve(self.listener, router(self.state))
            .with_graceful_shutdown(drained)
            .await?;
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(e) => {
                    tracing::warn!("cannot watch for SIGTERM: {e}");
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
