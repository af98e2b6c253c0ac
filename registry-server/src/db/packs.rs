//! Packs, their owners and versions: publish, index, yank, download counts and search.

use std::collections::HashSet;

use modularbase_pack::{IndexRecord, Manifest};
use semver::Version;

use super::Db;

/// A pack's summary row.
#[derive(Debug, Clone)]
pub(crate) struct PackRow {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) title: String,
    pub(crate) kind: String,
    pub(crate) domain: Option<String>,
    pub(crate) description: Option<String>,
    pub(crate) license: Option<String>,
    pub(crate) downloads: i64,
    pub(crate) updated_at: String,
}

type PackTuple = (
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    i64,
    String,
);

/// The columns every `PackTuple` query selects.
macro_rules! pack_columns {
    () => {
        "id, name, title, kind, domain, description, license, downloads, updated_at"
    };
}

/// The search filter: text over id/title/description/domain, then kind, domain, base.
macro_rules! search_filter {
    () => {
        "(?1 = '' OR name LIKE ?2 ESCAPE '\\' OR title LIKE ?2 ESCAPE '\\'
          OR IFNULL(description, '') LIKE ?2 ESCAPE '\\' OR IFNULL(domain, '') LIKE ?2 ESCAPE '\\')
         AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR domain = ?4) AND (?5 IS NULL OR base = ?5)"
    };
}

macro_rules! search_select {
    ($order:literal) => {
        concat!(
            "SELECT ",
            pack_columns!(),
            " FROM packs WHERE ",
            search_filter!(),
            " ORDER BY ",
            $order,
            " LIMIT ?6 OFFSET ?7"
        )
    };
}

fn pack_row(t: PackTuple) -> PackRow {
    let (id, name, title, kind, domain, description, license, downloads, updated_at) = t;
    PackRow {
        id,
        name,
        title,
        kind,
        domain,
        description,
        license,
        downloads,
        updated_at,
    }
}

/// One published version.
#[derive(Debug, Clone)]
pub(crate) struct VersionRow {
    pub(crate) num: Version,
    pub(crate) yanked: bool,
    pub(crate) cksum: String,
    pub(crate) size: i64,
    pub(crate) downloads: i64,
    pub(crate) created_at: String,
    pub(crate) key_fingerprint: String,
}

/// num, yanked, cksum, size, downloads, created_at, key fingerprint.
type VersionTuple = (String, bool, String, i64, i64, String, String);

/// Everything a publish writes.
pub(crate) struct NewVersion<'a> {
    pub(crate) manifest: &'a Manifest,
    pub(crate) record: &'a IndexRecord,
    pub(crate) readme: Option<&'a str>,
    pub(crate) key_id: i64,
    pub(crate) publisher_id: i64,
    /// A base's hidden width and block count.
    pub(crate) base_shape: Option<(i64, i64)>,
}

/// How a publish transaction ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PublishOutcome {
    Published,
    /// Someone published this exact version first.
    VersionExists,
    /// The pack exists (perhaps created a moment ago) and the publisher does not own it.
    NotOwner,
}

/// A search request, validated.
#[derive(Debug)]
pub(crate) struct SearchQuery {
    pub(crate) text: String,
    pub(crate) kind: Option<String>,
    pub(crate) domain: Option<String>,
    pub(crate) base: Option<String>,
    pub(crate) sort: SearchSort,
    pub(crate) page: u32,
    pub(crate) per_page: u32,
}

/// Result order of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SearchSort {
    Downloads,
    Recent,
    Name,
}

impl Db {
    /// The pack called `name`.
    pub(crate) async fn pack(&self, name: &str) -> sqlx::Result<Option<PackRow>> {
        let sql = concat!("SELECT ", pack_columns!(), " FROM packs WHERE name = ?");
        let row: Option<PackTuple> = sqlx::query_as(sql)
            .bind(name)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(pack_row))
    }

    /// Whether `user_id` owns `pack_id`.
    pub(crate) async fn is_owner(&self, pack_id: i64, user_id: i64) -> sqlx::Result<bool> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM owners WHERE pack_id = ? AND user_id = ?")
                .bind(pack_id)
                .bind(user_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// The hidden width and block count of each version of a base that has them recorded.
    pub(crate) async fn base_shapes(
        &self,
        pack_id: i64,
    ) -> sqlx::Result<Vec<(Version, usize, usize)>> {
        let rows: Vec<(String, i64, i64)> = sqlx::query_as(
            "SELECT num, base_hidden, base_layers FROM versions
             WHERE pack_id = ? AND base_hidden IS NOT NULL AND base_layers IS NOT NULL",
        )
        .bind(pack_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(num, hidden, layers)| {
                Some((
                    num.parse().ok()?,
                    usize::try_from(hidden).ok()?,
                    usize::try_from(layers).ok()?,
                ))
            })
            .collect())
    }

    /// Every version of the pack, oldest first (semver order).
    pub(crate) async fn versions(&self, pack_id: i64) -> sqlx::Result<Vec<VersionRow>> {
        let rows: Vec<VersionTuple> = sqlx::query_as(
            "SELECT v.num, v.yanked, v.cksum, v.size, v.downloads, v.created_at, k.fingerprint
             FROM versions v JOIN keys k ON k.id = v.key_id WHERE v.pack_id = ?",
        )
        .bind(pack_id)
        .fetch_all(&self.pool)
        .await?;
        let mut versions: Vec<VersionRow> = rows
            .into_iter()
            .filter_map(
                |(num, yanked, cksum, size, downloads, created_at, key_fingerprint)| {
                    Some(VersionRow {
                        num: num.parse().ok()?,
                        yanked,
                        cksum,
                        size,
                        downloads,
                        created_at,
                        key_fingerprint,
                    })
                },
            )
            .collect();
        versions.sort_by(|a, b| a.num.cmp(&b.num));
        Ok(versions)
    }

    /// Writes a new version in one transaction, creating the pack (owned by the publisher)
    /// if it is new. Concurrent publishes of the same version: exactly one wins.
    pub(crate) async fn publish(&self, new: NewVersion<'_>) -> sqlx::Result<PublishOutcome> {
        let m = new.manifest;
        // IMMEDIATE takes the write lock up front, so the ownership check and the insert
        // see the same state.
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let existing: Option<i64> = sqlx::query_scalar("SELECT id FROM packs WHERE name = ?")
            .bind(m.id.as_str())
            .fetch_optional(&mut *tx)
            .await?;
        let pack_id = match existing {
            Some(id) => {
                let owner: Option<i64> =
                    sqlx::query_scalar("SELECT 1 FROM owners WHERE pack_id = ? AND user_id = ?")
                        .bind(id)
                        .bind(new.publisher_id)
                        .fetch_optional(&mut *tx)
                        .await?;
                if owner.is_none() {
                    return Ok(PublishOutcome::NotOwner);
                }
                id
            }
            None => {
                let id = sqlx::query("INSERT INTO packs (name, title, kind) VALUES (?, ?, ?)")
                    .bind(m.id.as_str())
                    .bind(&m.name)
                    .bind(m.kind.as_str())
                    .execute(&mut *tx)
                    .await?
                    .last_insert_rowid();
                sqlx::query("INSERT INTO owners (pack_id, user_id) VALUES (?, ?)")
                    .bind(id)
                    .bind(new.publisher_id)
                    .execute(&mut *tx)
                    .await?;
                id
            }
        };
        let inserted = sqlx::query(
            "INSERT INTO versions (pack_id, num, record, cksum, size, key_id, publisher_id, readme, base_hidden, base_layers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(pack_id)
        .bind(m.version.to_string())
        .bind(new.record.to_line())
        .bind(new.record.cksum.to_hex())
        .bind(i64::try_from(new.record.size).unwrap_or(i64::MAX))
        .bind(new.key_id)
        .bind(new.publisher_id)
        .bind(new.readme)
        .bind(new.base_shape.map(|s| s.0))
        .bind(new.base_shape.map(|s| s.1))
        .execute(&mut *tx)
        .await;
        match inserted {
            Ok(_) => {}
            Err(e) if super::is_unique_violation(&e) => return Ok(PublishOutcome::VersionExists),
            Err(e) => return Err(e),
        }
        // The pack's page shows its newest version's metadata.
        let nums: Vec<String> = sqlx::query_scalar("SELECT num FROM versions WHERE pack_id = ?")
            .bind(pack_id)
            .fetch_all(&mut *tx)
            .await?;
        let newest = nums.iter().filter_map(|n| n.parse::<Version>().ok()).max();
        let metadata_from_this = newest.is_none_or(|newest| newest <= m.version);
        sqlx::query(
            "UPDATE packs SET updated_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now'),
               title = CASE WHEN ?2 THEN ?3 ELSE title END, kind = CASE WHEN ?2 THEN ?4 ELSE kind END,
               domain = CASE WHEN ?2 THEN ?5 ELSE domain END, description = CASE WHEN ?2 THEN ?6 ELSE description END,
               license = CASE WHEN ?2 THEN ?7 ELSE license END, base = CASE WHEN ?2 THEN ?8 ELSE base END,
               readme = CASE WHEN ?2 THEN ?9 ELSE readme END
             WHERE id = ?1",
        )
        .bind(pack_id)
        .bind(metadata_from_this)
        .bind(&m.name)
        .bind(m.kind.as_str())
        .bind(&m.domain)
        .bind(&m.description)
        .bind(&m.license)
        .bind(m.base.as_ref().map(|b| b.as_str()))
        .bind(new.readme)
        .bind(new.base_shape.map(|s| s.0))
        .bind(new.base_shape.map(|s| s.1))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(PublishOutcome::Published)
    }

    /// Sets a version's yanked flag; false if the version does not exist.
    pub(crate) async fn set_yanked(
        &self,
        pack_id: i64,
        num: &Version,
        yanked: bool,
    ) -> sqlx::Result<bool> {
        let done = sqlx::query("UPDATE versions SET yanked = ? WHERE pack_id = ? AND num = ?")
            .bind(yanked)
            .bind(pack_id)
            .bind(num.to_string())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// The version id, archive checksum and size of `name@num`.
    pub(crate) async fn archive_of(
        &self,
        name: &str,
        num: &Version,
    ) -> sqlx::Result<Option<(i64, String, i64)>> {
        sqlx::query_as(
            "SELECT v.id, v.cksum, v.size FROM versions v JOIN packs p ON p.id = v.pack_id WHERE p.name = ? AND v.num = ?",
        )
        .bind(name)
        .bind(num.to_string())
        .fetch_optional(&self.pool)
        .await
    }

    /// Counts one download of version `version_id` in memory; [`Db::flush_downloads`]
    /// writes the counts (periodically, before counts are read, and at shutdown).
    pub(crate) fn count_download(&self, version_id: i64) {
        let mut pending = self
            .pending_downloads
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *pending.entry(version_id).or_default() += 1;
    }

    /// Writes the downloads counted since the last flush in one transaction.
    ///
    /// Runs on the counter connection, which commits without waiting for the disk: a crash
    /// may lose the last second of counts, never a publish.
    pub(crate) async fn flush_downloads(&self) -> sqlx::Result<()> {
        let pending: Vec<(i64, u64)> = {
            let mut map = self
                .pending_downloads
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            map.drain().collect()
        };
        if pending.is_empty() {
            return Ok(());
        }
        let mut tx = self.counters.begin_with("BEGIN IMMEDIATE").await?;
        for (version_id, count) in &pending {
            let count = i64::try_from(*count).unwrap_or(i64::MAX);
            sqlx::query("UPDATE versions SET downloads = downloads + ? WHERE id = ?")
                .bind(count)
                .bind(version_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("UPDATE packs SET downloads = downloads + ? WHERE id = (SELECT pack_id FROM versions WHERE id = ?)")
                .bind(count)
                .bind(version_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }

    /// The sparse-index rows of pack `name` (record, yanked), oldest first, in one query.
    pub(crate) async fn index_rows(&self, name: &str) -> sqlx::Result<Vec<(String, bool)>> {
        let rows: Vec<(String, String, bool)> = sqlx::query_as(
            "SELECT v.num, v.record, v.yanked FROM versions v JOIN packs p ON p.id = v.pack_id WHERE p.name = ?",
        )
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        Ok(in_semver_order(rows))
    }

    /// Logins of the pack's owners, alphabetically.
    pub(crate) async fn owners(&self, pack_id: i64) -> sqlx::Result<Vec<String>> {
        sqlx::query_scalar("SELECT u.login FROM owners o JOIN users u ON u.id = o.user_id WHERE o.pack_id = ? ORDER BY u.login")
            .bind(pack_id)
            .fetch_all(&self.pool)
            .await
    }

    /// Makes `user_id` an owner (no-op if already one).
    pub(crate) async fn add_owner(&self, pack_id: i64, user_id: i64) -> sqlx::Result<()> {
        sqlx::query("INSERT OR IGNORE INTO owners (pack_id, user_id) VALUES (?, ?)")
            .bind(pack_id)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map(|_| ())
    }

    /// Removes owners by user id, refusing (returning false) to remove the last one.
    pub(crate) async fn remove_owners(&self, pack_id: i64, user_ids: &[i64]) -> sqlx::Result<bool> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        for user_id in user_ids {
            sqlx::query("DELETE FROM owners WHERE pack_id = ? AND user_id = ?")
                .bind(pack_id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM owners WHERE pack_id = ?")
            .bind(pack_id)
            .fetch_one(&mut *tx)
            .await?;
        if left == 0 {
            return Ok(false);
        }
        tx.commit().await?;
        Ok(true)
    }

    /// One page of packs matching `q`, and the total number of matches.
    pub(crate) async fn search(&self, q: &SearchQuery) -> sqlx::Result<(Vec<PackRow>, i64)> {
        let select = match q.sort {
            SearchSort::Downloads => search_select!("downloads DESC, name"),
            // `updated_at` has one-second resolution; the newest version row breaks ties
            // so packs published within the same second still come newest first.
            SearchSort::Recent => search_select!(
                "updated_at DESC, (SELECT MAX(v.id) FROM versions v WHERE v.pack_id = packs.id) DESC, name"
            ),
            SearchSort::Name => search_select!("name"),
        };
        let escaped = q
            .text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = format!("%{escaped}%");
        let offset = i64::from(q.page.saturating_sub(1)) * i64::from(q.per_page);
        let rows: Vec<PackTuple> = sqlx::query_as(select)
            .bind(&q.text)
            .bind(&pattern)
            .bind(&q.kind)
            .bind(&q.domain)
            .bind(&q.base)
            .bind(i64::from(q.per_page))
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        let total: i64 = sqlx::query_scalar(concat!(
            "SELECT COUNT(*) FROM packs WHERE ",
            search_filter!()
        ))
        .bind(&q.text)
        .bind(&pattern)
        .bind(&q.kind)
        .bind(&q.domain)
        .bind(&q.base)
        .fetch_one(&self.pool)
        .await?;
        Ok((rows.into_iter().map(pack_row).collect(), total))
    }

    /// Checksums of every published version (the blobs `gc` must keep).
    pub(crate) async fn referenced_cksums(&self) -> sqlx::Result<HashSet<String>> {
        let sums: Vec<String> = sqlx::query_scalar("SELECT DISTINCT cksum FROM versions")
            .fetch_all(&self.pool)
            .await?;
        Ok(sums.into_iter().collect())
    }
}

/// One pack's `(num, record, yanked)` rows as its index file lists them: oldest first in
/// semver order, rows whose number does not parse left out. The index route and the
/// snapshot (`crate::metadata`) both order through here, so they describe the same bytes.
pub(super) fn in_semver_order(rows: Vec<(String, String, bool)>) -> Vec<(String, bool)> {
    let mut rows: Vec<(Version, String, bool)> = rows
        .into_iter()
        .filter_map(|(num, record, yanked)| Some((num.parse().ok()?, record, yanked)))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows.into_iter()
        .map(|(_, record, yanked)| (record, yanked))
        .collect()
}
