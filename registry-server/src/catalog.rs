//! Finding packs, their versions and details: what the JSON API (`crate::routes`) and the
//! marketplace pages (`crate::web`) both call, below both, as crates.io is laid out.

use modularbase_pack::{
    PackDetails, PackId, PackKind, SearchHit, SearchMeta, SearchResponse, VersionSummary,
};
use semver::Version;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::db::{PackRow, SearchQuery, SearchSort};
use crate::error::{AppError, AppResult};

/// Longest search text accepted.
const MAX_QUERY: usize = 200;
/// Largest page.
const MAX_PER_PAGE: u32 = 100;
/// Matches per page when `per_page` is not given.
pub(crate) const DEFAULT_PER_PAGE: u32 = 20;

/// The query string of a search, shared by `GET /api/v1/packs` and the `/search` page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct SearchParams {
    /// Text matched literally (`%` and `_` are no wildcards) against id, title, description
    /// and domain (at most 200 characters, no control characters).
    q: Option<String>,
    /// Only packs of this kind: `base`, `router` or `domain`.
    kind: Option<String>,
    /// Only packs with this domain label.
    domain: Option<String>,
    /// Only packs for this base family.
    base: Option<String>,
    /// Result order: `downloads` (default), `recent` or `name`.
    sort: Option<String>,
    /// Page number, from 1 (at most 10000).
    page: Option<u32>,
    /// Matches per page, 1 to 100 (default 20).
    per_page: Option<u32>,
}

impl SearchParams {
    /// Removes control characters (NUL, line breaks, escapes: `char::is_control`) from every
    /// text parameter, which is how the `/search` page treats them; the API refuses them
    /// instead ([`Self::validate`]). Whether any was removed.
    pub(crate) fn strip_control_characters(&mut self) -> bool {
        let mut stripped = false;
        let texts = [
            &mut self.q,
            &mut self.kind,
            &mut self.domain,
            &mut self.base,
            &mut self.sort,
        ];
        for text in texts.into_iter().flatten() {
            if text.chars().any(char::is_control) {
                text.retain(|c| !c.is_control());
                stripped = true;
            }
        }
        stripped
    }

    /// Validates every parameter, refusing with a sentence that names it. Search text with
    /// a control character is refused: SQLite's `LIKE` stops at a NUL, so `q=%00` would
    /// match every pack. (`LIKE`'s own wildcards in the text are escaped by the query.)
    pub(crate) fn validate(self) -> AppResult<SearchQuery> {
        let text = self.q.unwrap_or_default();
        // Before trimming: a line break or NEL at either end is refused like any other.
        if let Some(c) = text.chars().find(|c| c.is_control()) {
            return Err(AppError::bad_request(format!(
                "`q` contains the control character U+{:04X}; search text must be printable",
                u32::from(c)
            )));
        }
        let text = text.trim().to_owned();
        if text.chars().count() > MAX_QUERY {
            return Err(AppError::bad_request(format!(
                "`q` is longer than {MAX_QUERY} characters"
            )));
        }
        // An empty parameter is an absent one (what a form sends for "any").
        let kind = self.kind.filter(|k| !k.is_empty());
        if let Some(kind) = &kind {
            kind.parse::<PackKind>().map_err(|_| {
                AppError::bad_request(format!(
                    "`kind` must be base, router or domain, not `{kind}`"
                ))
            })?;
        }
        let sort = match self.sort.as_deref().filter(|s| !s.is_empty()) {
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
        let per_page = self.per_page.unwrap_or(DEFAULT_PER_PAGE);
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
            kind,
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

fn row_id(row: &PackRow) -> AppResult<PackId> {
    row.name.parse().map_err(AppError::internal)
}

/// One page of packs matching `query`, with the newest non-yanked version of each.
pub(crate) async fn find(state: &AppState, query: &SearchQuery) -> AppResult<SearchResponse> {
    state.db.flush_downloads().await?;
    let (rows, total) = state.db.search(query).await?;
    let mut packs = Vec::with_capacity(rows.len());
    for row in rows {
        packs.push(hit(state, row).await?);
    }
    Ok(SearchResponse {
        packs,
        meta: SearchMeta {
            total: u64::try_from(total).unwrap_or(0),
        },
    })
}

/// A pack as a search result, with its newest version that is not yanked.
pub(crate) async fn hit(state: &AppState, row: PackRow) -> AppResult<SearchHit> {
    let versions = state.db.versions(row.id).await?;
    Ok(SearchHit {
        id: row_id(&row)?,
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
    })
}

/// Pack `id` (404 when it is not published) with its owners and every version, newest
/// first; also its row, for callers that show more.
pub(crate) async fn pack_details(state: &AppState, id: &str) -> AppResult<(PackRow, PackDetails)> {
    state.db.flush_downloads().await?;
    let row = published_pack(state, id).await?;
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
    let details = PackDetails {
        id: row_id(&row)?,
        kind: kind(&row)?,
        owners: state.db.owners(row.id).await?,
        name: row.title.clone(),
        domain: row.domain.clone(),
        description: row.description.clone(),
        license: row.license.clone(),
        downloads: u64::try_from(row.downloads).unwrap_or(0),
        versions,
    };
    Ok((row, details))
}

/// The pack called `id` (400 for an invalid id, 404 when none is published).
pub(crate) async fn published_pack(state: &AppState, id: &str) -> AppResult<PackRow> {
    let id = pack_id(id)?;
    state
        .db
        .pack(id.as_str())
        .await?
        .ok_or_else(|| AppError::not_found(format!("no pack named `{id}` is published here")))
}

/// Parses a pack id from a URL, refusing with 400.
pub(crate) fn pack_id(text: &str) -> AppResult<PackId> {
    text.parse()
        .map_err(|e| AppError::bad_request(format!("{e}")))
}

/// Parses a version from a URL, refusing with 400.
pub(crate) fn version(text: &str) -> AppResult<Version> {
    text.parse()
        .map_err(|e| AppError::bad_request(format!("`{text}` is not a semver version: {e}")))
}
