//! `GET /api/v1/packs` (search) and `GET /api/v1/packs/{id}` (details).

use axum::Json;
use axum::extract::{Path, State};
use modularbase_pack::{
    PackDetails, PackKind, SearchHit, SearchMeta, SearchResponse, VersionSummary,
};
use serde::Deserialize;

use super::ApiQuery;
use crate::app::AppState;
use crate::db::{PackRow, SearchQuery, SearchSort};
use crate::error::{AppError, AppResult};

/// Longest search text accepted.
const MAX_QUERY: usize = 200;
/// Largest page.
const MAX_PER_PAGE: u32 = 100;

/// The query string of a search.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchParams {
    q: Option<String>,
    kind: Option<String>,
    domain: Option<String>,
    base: Option<String>,
    sort: Option<String>,
    page: Option<u32>,
    per_page: Option<u32>,
}

impl SearchParams {
    /// Validates every parameter, refusing with a sentence that names it.
    pub(crate) fn validate(self) -> AppResult<SearchQuery> {
        let text = self.q.unwrap_or_default().trim().to_owned();
        if text.chars().count() > MAX_QUERY {
            return Err(AppError::bad_request(format!(
                "`q` is longer than {MAX_QUERY} characters"
            )));
        }
        if let Some(kind) = &self.kind {
            kind.parse::<PackKind>().map_err(|_| {
                AppError::bad_request(format!(
                    "`kind` must be base, router or domain, not `{kind}`"
                ))
            })?;
        }
        let sort = match self.sort.as_deref() {
            None | Some("downloads") => SearchSort::Downloads,
            Some("recent") => SearchSort::Recent,
            Some("name") => SearchSort::Name,
            Some(other) => {
                return Err(AppError::bad_request(format!(
                    "`sort` must be downloads, recent or name, not `{other}`"
                )));
            }
        };
        let page = self.page.unwrap_or(1);
        let per_page = self.per_page.unwrap_or(20);
        if page == 0 || page > 10_000 {
            return Err(AppError::bad_request("`page` must be between 1 and 10000"));
        }
        if per_page == 0 || per_page > MAX_PER_PAGE {
            return Err(AppError::bad_request(format!(
                "`per_page` must be between 1 and {MAX_PER_PAGE}"
            )));
        }
        let label = |name: &str, value: Option<String>| -> AppResult<Option<String>> {
            match value.filter(|v| !v.is_empty()) {
                Some(v)
                    if v.len() > 64
                        || !v
                            .chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') =>
                {
                    Err(AppError::bad_request(format!(
                        "`{name}` must be a short label of letters, digits, `_` or `-`"
                    )))
                }
                other => Ok(other),
            }
        };
        Ok(SearchQuery {
            text,
            kind: self.kind.filter(|k| !k.is_empty()),
            domain: label("domain", self.domain)?,
            base: label("base", self.base)?,
            sort,
            page,
            per_page,
        })
    }
}

fn kind(row: &PackRow) -> AppResult<PackKind> {
    row.kind.parse().map_err(|_| {
        AppError::internal(format!(
            "pack `{}` has kind `{}` in the database",
            row.name, row.kind
        ))
    })
}

fn pack_id(row: &PackRow) -> AppResult<modularbase_pack::PackId> {
    row.name.parse().map_err(AppError::internal)
}

/// `GET /api/v1/packs?q=&kind=&domain=&base=&sort=&page=&per_page=`.
pub(crate) async fn search(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<SearchParams>,
) -> AppResult<Json<SearchResponse>> {
    let query = params.validate()?;
    state.db.flush_downloads().await?;
    let (rows, total) = state.db.search(&query).await?;
    let mut packs = Vec::with_capacity(rows.len());
    for row in rows {
        let versions = state.db.versions(row.id).await?;
        packs.push(SearchHit {
            id: pack_id(&row)?,
            kind: kind(&row)?,
            max_version: versions
                .iter()
                .filter(|v| !v.yanked)
                .map(|v| v.num.clone())
                .max(),
            name: row.title,
            domain: row.domain,
            description: row.description,
            downloads: u64::try_from(row.downloads).unwrap_or(0),
            updated_at: row.updated_at,
        });
    }
    Ok(Json(SearchResponse {
        packs,
        meta: SearchMeta {
            total: u64::try_from(total).unwrap_or(0),
        },
    }))
}

/// `GET /api/v1/packs/{id}`: metadata, owners and every version, newest first.
pub(crate) async fn details(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> AppResult<Json<PackDetails>> {
    let id = super::pack_id(&id)?;
    state.db.flush_downloads().await?;
    let row =
        state.db.pack(id.as_str()).await?.ok_or_else(|| {
            AppError::not_found(format!("no pack named `{id}` is published here"))
        })?;
    let mut versions = Vec::new();
    for v in state.db.versions(row.id).await?.into_iter().rev() {
        versions.push(VersionSummary {
            vers: v.num,
            yanked: v.yanked,
            size: u64::try_from(v.size).unwrap_or(0),
            cksum: v.cksum.parse().map_err(AppError::internal)?,
            downloads: u64::try_from(v.downloads).unwrap_or(0),
            published_at: v.created_at,
            key_fingerprint: v.key_fingerprint,
        });
    }
    Ok(Json(PackDetails {
        id,
        kind: kind(&row)?,
        owners: state.db.owners(row.id).await?,
        name: row.title,
        domain: row.domain,
        description: row.description,
        license: row.license,
        downloads: u64::try_from(row.downloads).unwrap_or(0),
        versions,
    }))
}
