//! Binding, serving and shutting down gracefully (in-flight requests finish), under time
//! and connection limits:
//!
//! - a request's line and headers must arrive within the header timeout, and a keep-alive
//!   connection idles at most the keep-alive timeout (hyper's timer, [`connection`]);
//! - connections are limited in total and per client IP; one over a limit is answered 503
//!   with the JSON error envelope and closed;
//! - a publish body may stall at most the body timeout (the publish handler);
//! - every other request has the request timeout to produce its response (`crate::deadline`,
//!   a layer of the router).
//!
//! `axum::serve` has none of the first two (it gives hyper no timer), so the accept loop is
//! our own, on hyper's HTTP/1 connection builder (HTTP/1 only, as `axum::serve` with axum's
//! default features was).

mod connection;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use anyhow::Context;

use crate::app::AppState;
use crate::config::RegistryConfig;
use crate::metadata::{Lifetimes, Metadata};
use connection::{Activity, ConnectionLimits, ConnectionTimer, Tracked};

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
    refresher: JoinHandle<()>,
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
    let mut state = AppState::open(&config.data_dir, &public_url, config.max_publish_bytes)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot open the registry data in `{}`: {e}",
                config.data_dir.display()
            )
        })?;
    state.body_timeout = config.body_timeout;
    remove_stale_uploads(&state, config.body_timeout);
    state.request_timeout = config.request_timeout;
    state.metadata = Arc::new(Metadata::new(
        state.db.clone(),
        &config.data_dir,
        Lifetimes {
            snapshot: config.snapshot_expiry,
            timestamp: config.timestamp_expiry,
        },
    ));
    crate::metadata::ensure_root(&state.metadata)
        .await
        .context("cannot create the registry's first root")?;
    state
        .metadata
        .refresh()
        .await
        .context("cannot sign the registry's metadata")?;
    state
        .metadata
        .warn_if_root_expires_soon(std::time::SystemTime::now())
        .await;
    let app = crate::router::router(state.clone());
    let flusher = tokio::spawn(flush_downloads_periodically(state.clone()));
    let refresher = tokio::spawn(crate::metadata::refresher(Arc::clone(&state.metadata)));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(accept_loop(listener, app, config, stopped));
    Ok(RunningServer {
        addr,
        public_url,
        state,
        stop,
        task,
        flusher,
        refresher,
    })
}

/// How much older than the body timeout a temporary upload must be for start-up to remove it.
const STALE_UPLOAD_FACTOR: u32 = 2;
/// The least age at which start-up removes a temporary upload.
const STALE_UPLOAD_MIN_AGE: Duration = Duration::from_secs(60);

/// Start-up recovery: removes `tmp/upload-*` files last written more than twice the body
/// timeout (and at least a minute) ago. A live upload writes at least once per body timeout
/// or is dropped with its file, so such a file is left by a publish that died with an
/// earlier process. Blobs no version references still wait for `registry gc`.
fn remove_stale_uploads(state: &AppState, body_timeout: Duration) {
    let age = (body_timeout * STALE_UPLOAD_FACTOR).max(STALE_UPLOAD_MIN_AGE);
    let stale = match state.blobs.stale_uploads(age) {
        Ok(stale) => stale,
        Err(e) => {
            tracing::warn!("could not look for stale temporary uploads: {e}");
            return;
        }
    };
    let mut removed = 0usize;
    for path in stale {
        let is_upload = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("upload-"));
        if !is_upload {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!("could not remove `{}`: {e}", path.display()),
        }
    }
    if removed > 0 {
        tracing::info!("removed {removed} temporary upload(s) left by interrupted publishes");
    }
}

/// Accepts connections until `stopped`, then lets the open ones finish their requests.
async fn accept_loop(
    listener: TcpListener,
    app: Router,
    config: RegistryConfig,
    mut stopped: oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let limits = ConnectionLimits::new(config.max_connections, config.max_connections_per_ip);
    let graceful = GracefulShutdown::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors, mostly: wait for some to close.
                    tracing::warn!("could not accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stopped => break,
        };
        // Responses go out as headers then body; without TCP_NODELAY a small body waits for
        // the client's delayed ACK (~40 ms).
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("could not set TCP_NODELAY: {e}");
        }
        let admitted = match limits.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(detail) => {
                tracing::debug!("refused a connection from {peer}: {detail}");
                tokio::spawn(connection::refuse(tcp, detail));
                continue;
            }
        };
        let activity = Arc::new(Activity::default());
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(ConnectionTimer::new(
            Arc::clone(&activity),
            config.header_timeout,
            config.keep_alive_timeout,
        ))
        .header_read_timeout(config.header_timeout)
        .keep_alive(true);
        let io = TokioIo::new(Tracked::new(tcp, activity));
        let connection =
            graceful.watch(http.serve_connection(io, TowerToHyperService::new(app.clone())));
        tokio::spawn(async move {
            // A timed-out or reset connection ends here; hyper has closed it.
            if let Err(e) = connection.await {
                tracing::debug!("connection from {peer} ended: {e}");
            }
            drop(admitted);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

impl RunningServer {
    /// Stops accepting connections, lets in-flight requests finish, closes the database.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await??;
        self.flusher.abort();
        self.refresher.abort();
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
