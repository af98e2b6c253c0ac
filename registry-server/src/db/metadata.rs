//! The signed metadata's tables (`metadata_roots`, `metadata_current`) and the bulk reads a
//! snapshot is computed from: every pack's index lines and its owners' active keys.

use std::collections::BTreeMap;

use modularbase_pack::PublicKey;

use super::Db;

/// A signed snapshot and timestamp to store together, each replacing the current one only
/// if its version is higher, and perhaps a new root to add with them.
#[derive(Debug, Default)]
pub(crate) struct MetadataWrite {
    /// `(version, bytes)` of a new `N.root.json`.
    pub(crate) root: Option<(u64, Vec<u8>)>,
    /// `(version, bytes)` of a new `snapshot.json`.
    pub(crate) snapshot: Option<(u64, Vec<u8>)>,
    /// `(version, bytes)` of a new `timestamp.json`.
    pub(crate) timestamp: Option<(u64, Vec<u8>)>,
}

/// Why a [`MetadataWrite`] was not stored.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MetadataWriteError {
    /// Another process stored the same or a newer version first.
    #[error(
        "another writer stored {what} version {version} or newer first; the next refresh starts from it"
    )]
    Raced {
        /// `N.root.json`, `snapshot.json` or `timestamp.json`.
        what: &'static str,
        /// The version this write tried to store.
        version: u64,
    },
    /// The database refused.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

fn to_i64(version: u64) -> i64 {
    i64::try_from(version).unwrap_or(i64::MAX)
}

impl Db {
    /// The newest root's version and bytes.
    pub(crate) async fn newest_root(&self) -> sqlx::Result<Option<(u64, Vec<u8>)>> {
        let row: Option<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT version, document FROM metadata_roots ORDER BY version DESC LIMIT 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(v, d)| (u64::try_from(v).unwrap_or(0), d)))
    }

    /// The bytes of root version `version`.
    pub(crate) async fn root(&self, version: u64) -> sqlx::Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT document FROM metadata_roots WHERE version = ?")
            .bind(to_i64(version))
            .fetch_optional(&self.pool)
            .await
    }

    /// The current document of `role` (`snapshot` or `timestamp`).
    pub(crate) async fn current_metadata(&self, role: &str) -> sqlx::Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT document FROM metadata_current WHERE role = ?")
            .bind(role)
            .fetch_optional(&self.pool)
            .await
    }

    /// Stores `write` in one transaction, or nothing when another writer got there first.
    pub(crate) async fn store_metadata(
        &self,
        write: &MetadataWrite,
    ) -> Result<(), MetadataWriteError> {
        let mut tx = self.pool.begin().await?;
        if let Some((version, bytes)) = &write.root {
            let stored = sqlx::query(
                "INSERT INTO metadata_roots (version, document) VALUES (?, ?)
                 ON CONFLICT (version) DO NOTHING",
            )
            .bind(to_i64(*version))
            .bind(bytes)
            .execute(&mut *tx)
            .await?;
            if stored.rows_affected() != 1 {
                return Err(MetadataWriteError::Raced {
                    what: "N.root.json",
                    version: *version,
                });
            }
        }
        for (role, what, document) in [
            ("snapshot", "snapshot.json", &write.snapshot),
            ("timestamp", "timestamp.json", &write.timestamp),
        ] {
            let Some((version, bytes)) = document else {
                continue;
            };
            let stored = sqlx::query(
                "INSERT INTO metadata_current (role, version, document) VALUES (?, ?, ?)
                 ON CONFLICT (role) DO UPDATE SET version = excluded.version,
                     document = excluded.document,
                     updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')
                 WHERE excluded.version > metadata_current.version",
            )
            .bind(role)
            .bind(to_i64(*version))
            .bind(bytes)
            .execute(&mut *tx)
            .await?;
            if stored.rows_affected() != 1 {
                return Err(MetadataWriteError::Raced {
                    what,
                    version: *version,
                });
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every pack's index lines `(record, yanked)`, in the order its index file lists them.
    pub(crate) async fn all_index_rows(
        &self,
    ) -> sqlx::Result<BTreeMap<String, Vec<(String, bool)>>> {
        let rows: Vec<(String, String, String, bool)> = sqlx::query_as(
            "SELECT p.name, v.num, v.record, v.yanked FROM versions v JOIN packs p ON p.id = v.pack_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut by_pack: BTreeMap<String, Vec<(String, String, bool)>> = BTreeMap::new();
        for (name, num, record, yanked) in rows {
            by_pack.entry(name).or_default().push((num, record, yanked));
        }
        Ok(by_pack
            .into_iter()
            .map(|(name, rows)| (name, super::packs::in_semver_order(rows)))
            .collect())
    }

    /// For every pack, the keys registered to its current owners and not revoked, in the
    /// order of their text (so an unchanged set always lists the same way).
    pub(crate) async fn all_owner_keys(&self) -> sqlx::Result<BTreeMap<String, Vec<PublicKey>>> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT p.name, k.public_key FROM packs p
             JOIN owners o ON o.pack_id = p.id
             JOIN keys k ON k.user_id = o.user_id
             WHERE k.revoked_at IS NULL
             ORDER BY p.name, k.public_key",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut keys: BTreeMap<String, Vec<PublicKey>> = BTreeMap::new();
        for (name, key) in rows {
            // Keys are validated on registration; a row that no longer parses is left out.
            if let Ok(key) = key.parse() {
                keys.entry(name).or_default().push(key);
            }
        }
        Ok(keys)
    }
}
