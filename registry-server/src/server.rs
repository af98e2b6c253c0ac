//! Binding, serving and shutting down gracefully (in-flight requests finish).

use std::net::SocketAddr;

use axum::serve::ListenerExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::app::AppState;
use crate::config::RegistryConfig;

/// A registry serving in the background of the current tokio runtime.
#[derive(Debug)]
pub struct RunningServer {
    /// The bound address (the real port when the config asked for port 0).
    pub addr: SocketAddr,
    /// The URL clients use.
    pub public_url: String,
    state: AppState,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    flusher: JoinHandle<()>,
}

/// How often counted downloads are written to the database.
const DOWNLOAD_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);

async fn flush_downloads_periodically(state: AppState) {
    let mut tick = tokio::time::interval(DOWNLOAD_FLUSH_INTERVAL);
    loop {
        tick.tick().await;
        if let Err(e) = state.db.flush_downloads().await {
            tracing::warn!("could not save download counts: {e}");
        }
    }
}

/// Opens the data directory, binds, and serves in a background task.
pub async fn start(config: RegistryConfig) -> anyhow::Result<RunningServer> {
    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.addr))?;
    let addr = listener.local_addr()?;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let state = AppState::open(&config.data_dir, &public_url, config.max_publish_bytes)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open the registry data in `{}`: {e}",
                config.data_dir.display()
            )
        })?;
    let app = crate::routes::router(state.clone());
    let flusher = tokio::spawn(flush_downloads_periodically(state.clone()));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        // Responses go out as headers then body; without TCP_NODELAY a small body waits for
        // the client's delayed ACK (~40 ms).
        let listener = listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!("could not set TCP_NODELAY: {e}");
            }
        });
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(RunningServer {
        addr,
        public_url,
        state,
        stop,
        task,
        flusher,
    })
}

impl RunningServer {
    /// Stops accepting connections, lets in-flight requests finish, closes the database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await??;
        self.flusher.abort();
        self.state.db.close().await;
        Ok(())
    }
}

/// Serves until SIGINT or SIGTERM, then shuts down gracefully.
pub async fn serve(config: RegistryConfig) -> anyhow::Result<()> {
    let data_dir = config.data_dir.clone();
    let public_url = config.public_url.clone();
    let server = start(config).await?;
    // The line tests and scripts wait for. Its URL is the bound socket (the real port when
    // port 0 was asked for), even behind a proxy whose public URL only the links use.
    let public = public_url.map_or_else(String::new, |url| format!("public URL `{url}`, "));
    eprintln_flush(&format!(
        "modularbase registry listening on http://{} ({public}data in `{}`)",
        server.addr,
        data_dir.display()
    ));
    shutdown_signal().await;
    tracing::info!("shutting down: finishing in-flight requests");
    server.shutdown().await
}

fn eprintln_flush(line: &str) {
    use std::io::Write;
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "{line}");
    let _ = err.flush();
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
