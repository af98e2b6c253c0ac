//! `/packs/{id}` and `/packs/{id}/{vers}`: a pack at one version. The model card, the
//! install line, dependencies and base compatibility with links, downloads, size, owners,
//! the signing key's fingerprint, and every version with its date and yanked mark.
//!
//! Without a version the page shows the newest release that is not yanked (else the newest
//! pre-release that is not, else the newest version), as resolution would prefer it.

use axum::extract::{Path, State};
use axum::response::Html;
use maud::{Markup, PreEscaped, html};
use modularbase_pack::{IndexRecord, PackDetails, VersionSummary};

use super::{PageError, Valid, format, layout, markdown};
use crate::app::AppState;
use crate::db::PackRow;
use crate::error::AppError;

/// `GET /packs/{id}`.
pub(crate) async fn latest(
    State(state): State<AppState>,
    Valid(Path(id)): Valid<Path<String>>,
) -> Result<Html<String>, PageError> {
    let (row, details) = crate::catalog::pack_details(&state, &id).await?;
    let versions = &details.versions;
    let shown = versions
        .iter()
        .find(|v| !v.yanked && v.vers.pre.is_empty())
        .or_else(|| versions.iter().find(|v| !v.yanked))
        .or_else(|| versions.first())
        .ok_or_else(|| PageError::not_found(format!("`{id}` has no version")))?;
    render(&state, &row, &details, shown).await
}

/// `GET /packs/{id}/{vers}`.
pub(crate) async fn version(
    State(state): State<AppState>,
    Valid(Path((id, vers))): Valid<Path<(String, String)>>,
) -> Result<Html<String>, PageError> {
    let vers = crate::catalog::version(&vers)?;
    let (row, details) = crate::catalog::pack_details(&state, &id).await?;
    let shown = details
        .versions
        .iter()
        .find(|v| v.vers == vers)
        .ok_or_else(|| PageError::not_found(format!("`{id}@{vers}` is not published here")))?;
    render(&state, &row, &details, shown).await
}

async fn render(
    state: &AppState,
    row: &PackRow,
    details: &PackDetails,
    shown: &VersionSummary,
) -> Result<Html<String>, PageError> {
    let id = &details.id;
    let vers = &shown.vers;
    let card = state
        .db
        .version_card(row.id, vers)
        .await?
        .ok_or_else(|| PageError::not_found(format!("`{id}@{vers}` is not published here")))?;
    let record: IndexRecord = serde_json::from_str(&card.record).map_err(AppError::internal)?;
    // Versions published before cards were kept per version: the pack's card is the
    // newest version's.
    let newest = details.versions.iter().map(|v| &v.vers).max();
    let readme = match card.readme {
        Some(readme) => Some(readme),
        None if newest == Some(vers) => state.db.pack_readme(row.id).await?,
        None => None,
    };
    let body = html! {
        section.pack-header {
            h1 {
                (id) " " span.version { (vers) }
                @if shown.yanked { " " span.badge.yanked { "yanked" } }
            }
            p.title {
                (details.name) " "
                span class={ "kind kind-" (details.kind) } { (details.kind) }
            }
            @if let Some(description) = &details.description {
                p.description { (description) }
            }
            @if shown.yanked {
                p.warning {
                    "This version is yanked: installs no longer choose it, but it stays downloadable."
                }
            }
            div.install {
                span.label { "Install" }
                pre { code { "modularbase pack install " (id) "@" (vers) } }
            }
        }
        div.pack-body {
            article.model-card {
                h2 { "Model card" }
                @if let Some(readme) = &readme {
                    div.markdown { (PreEscaped(markdown::render(readme))) }
                } @else {
                    p.empty { "This version has no model card." }
                }
            }
            aside.facts {
                (facts(details, shown))
                (requirements(&record))
            }
        }
        (versions(details, shown))
    };
    Ok(layout::page(&format!("{id} {vers}"), Some(""), body))
}

/// Counts, size, dates, owners and the signing key.
fn facts(details: &PackDetails, shown: &VersionSummary) -> Markup {
    html! {
        dl {
            dt { "Kind" } dd { (details.kind) }
            @if let Some(domain) = &details.domain {
                dt { "Domain" }
                dd { a href=(format::search_url(&[("domain", domain.clone())])) { (domain) } }
            }
            @if let Some(license) = &details.license {
                dt { "License" } dd { (license) }
            }
            dt { "Downloads" }
            dd.downloads {
                (format::count(details.downloads)) " in all, "
                (format::count(shown.downloads)) " of " (shown.vers)
            }
            dt { "Size" } dd.size { (format::bytes(shown.size)) }
            dt { "Published" }
            dd { time datetime=(shown.published_at) { (format::date(&shown.published_at)) } }
            dt { "Owners" }
            dd.owners {
                @for (i, owner) in details.owners.iter().enumerate() {
                    @if i > 0 { ", " }
                    a href={ "/users/" (owner) } { (owner) }
                }
            }
            dt { "Signing key" }
            dd { code.fingerprint { (shown.key_fingerprint) } }
            dt { "SHA-256" }
            dd { code.cksum { (shown.cksum) } }
        }
    }
}

/// Base compatibility, dependencies, conflicts and fallbacks, each linking its pack.
fn requirements(record: &IndexRecord) -> Markup {
    html! {
        section.base {
            h3 { "Base compatibility" }
            @if let Some(base) = &record.base {
                p {
                    a href={ "/packs/" (base) } { (base) } " "
                    @for (i, compat) in record.base_compat.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (compat) }
                    }
                }
            } @else {
                p.empty { "Needs no base." }
            }
        }
        section.dependencies {
            h3 { "Dependencies" }
            @if record.deps.is_empty() {
                p.empty { "None." }
            } @else {
                ul {
                    @for dep in &record.deps {
                        li { a href={ "/packs/" (dep.id) } { (dep.id) } " " code { (dep.req) } }
                    }
                }
            }
        }
        @if !record.conflicts.is_empty() {
            section.conflicts {
                h3 { "Conflicts" }
                ul {
                    @for conflict in &record.conflicts {
                        li { a href={ "/packs/" (conflict.id) } { (conflict.id) } " " code { (conflict.req) } }
                    }
                }
            }
        }
        @if !record.fallback.is_empty() {
            section.fallback {
                h3 { "Falls back to" }
                ol {
                    @for pack in &record.fallback {
                        li { a href={ "/packs/" (pack) } { (pack) } }
                    }
                }
            }
        }
    }
}

/// Every version, newest first, the shown one marked.
fn versions(details: &PackDetails, shown: &VersionSummary) -> Markup {
    html! {
        section.versions {
            h2 { "Versions" }
            table {
                thead { tr { th { "Version" } th { "Published" } th { "Downloads" } th { "Size" } th { "Status" } } }
                tbody {
                    @for v in &details.versions {
                        tr.current[v.vers == shown.vers] .yanked[v.yanked] {
                            td { a href={ "/packs/" (details.id) "/" (v.vers) } { (v.vers) } }
                            td { time datetime=(v.published_at) { (format::date(&v.published_at)) } }
                            td { (format::count(v.downloads)) }
                            td { (format::bytes(v.size)) }
                            td { @if v.yanked { span.badge.yanked { "yanked" } } }
                        }
                    }
                }
            }
        }
    }
}
