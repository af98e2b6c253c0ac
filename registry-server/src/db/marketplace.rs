//! Read-only queries behind the marketplace pages: the catalogue's totals, the choices its
//! search filters offer, a user's packs, and one version's index record and model card.

use semver::Version;

use super::{Db, PackRow};

/// Most choices one search filter lists.
const MAX_FACETS: i64 = 200;

/// Totals shown on the home page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Totals {
    pub(crate) packs: i64,
    pub(crate) versions: i64,
    pub(crate) downloads: i64,
    pub(crate) publishers: i64,
}

/// The values the search page's domain and base filters offer, alphabetically.
#[derive(Debug, Clone, Default)]
pub(crate) struct Facets {
    pub(crate) domains: Vec<String>,
    pub(crate) bases: Vec<String>,
}

/// What a version's page shows beyond its summary: its sparse-index record (JSON) and the
/// model card it shipped.
#[derive(Debug, Clone)]
pub(crate) struct VersionCard {
    pub(crate) record: String,
    pub(crate) readme: Option<String>,
}

impl Db {
    /// Packs, versions, downloads and publishers (users owning a pack) in the registry.
    pub(crate) async fn totals(&self) -> sqlx::Result<Totals> {
        let (packs, versions, downloads, publishers) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM packs), (SELECT COUNT(*) FROM versions),
                    (SELECT IFNULL(SUM(downloads), 0) FROM packs),
                    (SELECT COUNT(DISTINCT user_id) FROM owners)",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Totals {
            packs,
            versions,
            downloads,
            publishers,
        })
    }

    /// Every domain label and base family some pack names.
    pub(crate) async fn facets(&self) -> sqlx::Result<Facets> {
        Ok(Facets {
            domains: sqlx::query_scalar(
                "SELECT DISTINCT domain FROM packs WHERE domain IS NOT NULL ORDER BY domain LIMIT ?",
            )
            .bind(MAX_FACETS)
            .fetch_all(&self.pool)
            .await?,
            bases: sqlx::query_scalar(
                "SELECT DISTINCT base FROM packs WHERE base IS NOT NULL ORDER BY base LIMIT ?",
            )
            .bind(MAX_FACETS)
            .fetch_all(&self.pool)
            .await?,
        })
    }

    /// The packs `login` owns, by id.
    pub(crate) async fn packs_owned_by(&self, login: &str) -> sqlx::Result<Vec<PackRow>> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT p.name FROM packs p JOIN owners o ON o.pack_id = p.id JOIN users u ON u.id = o.user_id
             WHERE u.login = ? ORDER BY p.name",
        )
        .bind(login)
        .fetch_all(&self.pool)
        .await?;
        let mut packs = Vec::with_capacity(names.len());
        for name in names {
            packs.extend(self.pack(&name).await?);
        }
        Ok(packs)
    }

    /// The model card of the pack's newest version.
    pub(crate) async fn pack_readme(&self, pack_id: i64) -> sqlx::Result<Option<String>> {
        sqlx::query_scalar("SELECT readme FROM packs WHERE id = ?")
            .bind(pack_id)
            .fetch_one(&self.pool)
            .await
    }

    /// The record and model card of version `num` of the pack.
    pub(crate) async fn version_card(
        &self,
        pack_id: i64,
        num: &Version,
    ) -> sqlx::Result<Option<VersionCard>> {
        let row: Option<(String, Option<String>)> =
            sqlx::query_as("SELECT record, readme FROM versions WHERE pack_id = ? AND num = ?")
                .bind(pack_id)
                .bind(num.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(record, readme)| VersionCard { record, readme }))
    }
}
