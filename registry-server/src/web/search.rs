//! `/search?q=&kind=&domain=&base=&sort=&page=&per_page=`: results with filters and
//! pagination. The parameters are the API search's, validated by the same code; an invalid
//! one is a 400 page that names it. Control characters, which the API refuses, are removed
//! here with a notice saying so, so a pasted stray byte still searches.

use axum::extract::{Query, State};
use axum::response::Html;
use maud::{Markup, html};

use super::{PageError, Valid, format, layout};
use crate::app::AppState;
use crate::catalog::{DEFAULT_PER_PAGE, SearchParams};
use crate::db::{Facets, SearchQuery, SearchSort};

/// `GET /search`.
pub(crate) async fn page(
    State(state): State<AppState>,
    Valid(Query(mut params)): Valid<Query<SearchParams>>,
) -> Result<Html<String>, PageError> {
    let stripped = params.strip_control_characters();
    let query = params.validate()?;
    let found = crate::catalog::find(&state, &query).await?;
    let facets = state.db.facets().await?;
    let total = found.meta.total;
    let pages = total.div_ceil(u64::from(query.per_page)).max(1);
    let title = if query.text.is_empty() {
        "All packs".to_owned()
    } else {
        format!("Search results for “{}”", query.text)
    };
    let body = html! {
        h1 { (title) }
        @if stripped {
            p.warning.stripped role="status" {
                "Control characters were removed from the search; these are the results for the text that remained."
            }
        }
        (filters(&query, &facets))
        p.count {
            (format::count(total)) @if total == 1 { " pack matches" } @else { " packs match" }
        }
        @if found.packs.is_empty() {
            p.empty { "No pack on this page matches. Try fewer words or other filters." }
        } @else {
            (layout::pack_list(&found.packs))
        }
        @if pages > 1 {
            nav.pagination aria-label="Pages" {
                @if query.page > 1 {
                    a rel="prev" href=(link(&query, query.page - 1)) { "← Previous" }
                }
                span.current { "Page " (query.page) " of " (pages) }
                @if u64::from(query.page) < pages {
                    a rel="next" href=(link(&query, query.page + 1)) { "Next →" }
                }
            }
        }
    };
    Ok(layout::page(&title, Some(&query.text), body))
}

/// The filter form: the text and a choice per filter, submitted as a plain GET.
fn filters(query: &SearchQuery, facets: &Facets) -> Markup {
    let kinds = ["base", "router", "domain"].map(str::to_owned);
    html! {
        form.filters action="/search" method="get" aria-label="Filters" {
            input type="hidden" name="q" value=(query.text);
            (select("kind", "Kind", &kinds, query.kind.as_deref()))
            (select("domain", "Domain", &facets.domains, query.domain.as_deref()))
            (select("base", "Base family", &facets.bases, query.base.as_deref()))
            label {
                "Order"
                select name="sort" {
                    @for (value, text) in [("downloads", "Most downloaded"), ("recent", "Recently updated"), ("name", "Name")] {
                        option value=(value) selected[sort_name(query.sort) == value] { (text) }
                    }
                }
            }
            button type="submit" { "Apply" }
        }
    }
}

/// A `<select>` with an "any" choice, the `choices`, and the current value even when no
/// pack has it any more.
fn select(name: &str, label: &str, choices: &[String], current: Option<&str>) -> Markup {
    let missing = current.filter(|c| !choices.iter().any(|choice| choice == c));
    html! {
        label {
            (label)
            select name=(name) {
                option value="" selected[current.is_none()] { "Any" }
                @for choice in choices.iter().map(String::as_str).chain(missing) {
                    option value=(choice) selected[current == Some(choice)] { (choice) }
                }
            }
        }
    }
}

fn sort_name(sort: SearchSort) -> &'static str {
    match sort {
        SearchSort::Downloads => "downloads",
        SearchSort::Recent => "recent",
        SearchSort::Name => "name",
    }
}

/// The address of `page` of the same search, with only the parameters that differ from
/// their defaults.
fn link(query: &SearchQuery, page: u32) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if !query.text.is_empty() {
        pairs.push(("q", query.text.clone()));
    }
    for (name, value) in [
        ("kind", &query.kind),
        ("domain", &query.domain),
        ("base", &query.base),
    ] {
        if let Some(value) = value {
            pairs.push((name, value.clone()));
        }
    }
    if query.sort != SearchSort::Downloads {
        pairs.push(("sort", sort_name(query.sort).to_owned()));
    }
    if query.per_page != DEFAULT_PER_PAGE {
        pairs.push(("per_page", query.per_page.to_string()));
    }
    pairs.push(("page", page.to_string()));
    format::search_url(&pairs)
}
