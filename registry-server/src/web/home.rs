//! `/`: the search box, the catalogue's totals, the most downloaded and the recently
//! updated packs.

use axum::extract::State;
use axum::response::Html;
use maud::html;

use super::{PageError, format, layout};
use crate::app::AppState;
use crate::db::{SearchQuery, SearchSort};

/// How many packs each list on the home page shows.
const LIST_LEN: u32 = 8;

/// The first `LIST_LEN` packs in `sort` order.
fn top(sort: SearchSort) -> SearchQuery {
    SearchQuery {
        text: String::new(),
        kind: None,
        domain: None,
        base: None,
        sort,
        page: 1,
        per_page: LIST_LEN,
    }
}

/// `GET /`.
pub(crate) async fn page(State(state): State<AppState>) -> Result<Html<String>, PageError> {
    let popular = crate::catalog::find(&state, &top(SearchSort::Downloads)).await?;
    let recent = crate::catalog::find(&state, &top(SearchSort::Recent)).await?;
    let totals = state.db.totals().await?;
    let stat = |n: i64, label: &str| {
        html! {
            div.stat {
                span.number { (format::count(u64::try_from(n).unwrap_or(0))) }
                span.label { (label) }
            }
        }
    };
    let body = html! {
        section.hero {
            h1 { "Model packs for ModularBase" }
            p.lead {
                "Signed domain packs, routers and base cores, resolved and installed with "
                code { "modularbase pack install" } "."
            }
            (layout::search_box(""))
        }
        section.stats aria-label="Registry totals" {
            (stat(totals.packs, "packs"))
            (stat(totals.versions, "versions"))
            (stat(totals.downloads, "downloads"))
            (stat(totals.publishers, "publishers"))
        }
        @if totals.packs == 0 {
            p.empty { "No pack is published here yet: " code { "modularbase pack publish" } " is the first step." }
        } @else {
            div.columns {
                section #most-downloaded {
                    h2 { a href="/search?sort=downloads" { "Most downloaded" } }
                    (layout::pack_list(&popular.packs))
                }
                section #recently-updated {
                    h2 { a href="/search?sort=recent" { "Recently updated" } }
                    (layout::pack_list(&recent.packs))
                }
            }
        }
    };
    Ok(layout::page("Pack marketplace", None, body))
}
