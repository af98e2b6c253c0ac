//! The state every handler shares, and how it is opened from a data directory.

use std::sync::Arc;

use crate::db::Db;
use crate::metadata::{Lifetimes, Metadata};
use crate::metrics::Metrics;
use crate::storage::BlobStore;

/// Shared state of a running registry (cheap to clone).
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) db: Db,
    pub(crate) blobs: BlobStore,
    pub(crate) metrics: Arc<Metrics>,
    /// The signed metadata served beside the index.
    pub(crate) metadata: Arc<Metadata>,
    pub(crate) public_url: Arc<str>,
    pub(crate) max_publish_bytes: u64,
    /// Longest wait for the next bytes of a publish body.
    pub(crate) body_timeout: std::time::Duration,
    /// Longest time any other request may take to produce its response.
    pub(crate) request_timeout: std::time::Duration,
}

impl AppState {
    /// Opens the database and blob store under `data_dir`, with metadata signed for the
    /// default lifetimes.
    pub(crate) async fn open(
        data_dir: &std::path::Path,
        public_url: &str,
        max_publish_bytes: u64,
    ) -> anyhow::Result<Self> {
        let db = Db::open(data_dir).await?;
        Ok(Self {
            metadata: Arc::new(Metadata::new(db.clone(), data_dir, Lifetimes::default())),
            db,
            blobs: BlobStore::open(data_dir)?,
            metrics: Arc::new(Metrics::new()),
            public_url: Arc::from(public_url.trim_end_matches('/')),
            max_publish_bytes,
            body_timeout: crate::config::DEFAULT_BODY_TIMEOUT,
            request_timeout: crate::config::DEFAULT_REQUEST_TIMEOUT,
        })
    }
}
