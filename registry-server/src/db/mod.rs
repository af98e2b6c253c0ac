//! The registry database: one SQLite file in WAL mode, migrated at open.
//!
//! Queries are plain SQL checked by the tests; each submodule owns one group of tables.

mod keys;
mod marketplace;
mod metadata;
mod packs;
mod users;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub(crate) use marketplace::Facets;
pub(crate) use metadata::MetadataWrite;
pub(crate) use packs::{NewVersion, PackRow, PublishOutcome, SearchQuery, SearchSort};

/// File name of the database inside the data directory.
const DB_FILE: &str = "registry.sqlite3";

/// A handle on the registry database (cheap to clone).
#[derive(Debug, Clone)]
pub(crate) struct Db {
    pool: SqlitePool,
    /// Download counters: commits that do not wait for the disk (see `flush_downloads`).
    counters: SqlitePool,
    /// Downloads counted since the last flush, by version id.
    pending_downloads: Arc<Mutex<HashMap<i64, u64>>>,
}

impl Db {
    /// Opens (creating) the database under `data_dir` and applies pending migrations.
    ///
    /// `synchronous = FULL`: a commit is on disk when it returns, so an acknowledged publish
    /// survives a crash of the process or the machine.
    pub(crate) async fn open(data_dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(data_dir)?;
        let options = SqliteConnectOptions::new()
            .filename(data_dir.join(DB_FILE))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options.clone())
            .await?;
        sqlx::migrate!("../migrations/sqlite").run(&pool).await?;
        // In WAL mode NORMAL still survives a process crash; only a power loss may drop the
        // newest counts, and the next FULL commit (a publish) syncs them too.
        let counters = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.synchronous(SqliteSynchronous::Normal))
            .await?;
        Ok(Self {
            pool,
            counters,
            pending_downloads: Arc::default(),
        })
    }

    /// Checks the database answers.
    pub(crate) async fn ping(&self) -> sqlx::Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Closes every connection (checkpointing the WAL).
    pub(crate) async fn close(&self) {
        if let Err(e) = self.flush_downloads().await {
            tracing::warn!("download counts not saved at shutdown: {e}");
        }
        self.counters.close().await;
        self.pool.close().await;
    }
}

/// Whether `err` is a UNIQUE constraint violation (a lost race or a duplicate).
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}
