//! The page shell every marketplace page shares, and the pack list that home, search and
//! user pages show.

use axum::response::Html;
use maud::{DOCTYPE, Markup, html};
use modularbase_pack::SearchHit;

use super::format;

/// A complete page: `<title>` is `TITLE — ModularBase`; the header's search box shows
/// `query`, or is left out (`None`) where the page has its own.
pub(crate) fn page(title: &str, query: Option<&str>, body: Markup) -> Html<String> {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " — ModularBase" }
                link rel="stylesheet" href="/static/style.css";
            }
            body {
                header.top {
                    a.brand href="/" { "ModularBase" }
                    @if let Some(query) = query {
                        (search_box(query))
                    }
                    nav {
                        a href="/search?sort=recent" { "Browse" }
                        a href="/api/openapi.json" { "API" }
                    }
                }
                main { (body) }
                footer {
                    "ModularBase registry · packs are signed with Ed25519 and verified on install · "
                    a href="/api/openapi.json" { "OpenAPI" }
                }
            }
        }
    };
    Html(page.into_string())
}

/// The search form: a plain `GET /search`, so it works without scripts.
pub(crate) fn search_box(query: &str) -> Markup {
    html! {
        form.search action="/search" method="get" role="search" {
            input type="search" name="q" value=(query) maxlength="200"
                placeholder="Search packs by id, title, domain or description"
                aria-label="Search packs";
            button type="submit" { "Search" }
        }
    }
}

/// A list of packs, each with its newest version, kind, description and counts.
pub(crate) fn pack_list(packs: &[SearchHit]) -> Markup {
    html! {
        ul.packs {
            @for pack in packs {
                li.pack {
                    div.headline {
                        a.id href={ "/packs/" (pack.id) } { (pack.id) }
                        @if let Some(version) = &pack.max_version {
                            span.version { (version) }
                        }
                        span class={ "kind kind-" (pack.kind) } { (pack.kind) }
                    }
                    div.title { (pack.name) }
                    @if let Some(description) = &pack.description {
                        p.description { (description) }
                    }
                    p.meta {
                        @if let Some(domain) = &pack.domain {
                            span.domain { (domain) } " · "
                        }
                        span.downloads {
                            (format::count(pack.downloads))
                            @if pack.downloads == 1 { " download" } @else { " downloads" }
                        }
                        " · updated " (format::date(&pack.updated_at))
                    }
                }
            }
        }
    }
}
